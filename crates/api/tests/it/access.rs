//! Users, roles, permissions and API keys.

use serde_json::json;

use crate::support::Fixture;

async fn role_id(f: &Fixture, name: &str) -> String {
    let roles = f.call(&f.a.admin, "GET", "/api/v1/roles", None).await.expect(200);
    roles.data().as_array().unwrap().iter().find(|r| r["name"] == name).unwrap()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn users_and_their_roles() {
    let f = Fixture::new().await;
    let tech = role_id(&f, "Technician").await;
    let created = f
        .call(
            &f.a.admin,
            "POST",
            "/api/v1/users",
            Some(json!({"email": "Sam@MSP.example", "display_name": "Sam", "role_ids": [tech]})),
        )
        .await
        .expect(201);
    assert_eq!(created.data()["email"], "sam@msp.example");
    assert_eq!(created.data()["roles"][0]["name"], "Technician");
    assert!(created.data().get("password_hash").is_none());
    let sam = created.id();
    f.call(
        &f.a.admin,
        "POST",
        "/api/v1/users",
        Some(json!({"email": "sam@msp.example", "display_name": "Dup", "role_ids": []})),
    )
    .await
    .expect(409);
    f.call(&f.a.admin, "POST", "/api/v1/users", Some(json!({"email": "x", "display_name": "X", "role_ids": []})))
        .await
        .expect(400);
    f.call(
        &f.a.admin,
        "POST",
        "/api/v1/users",
        Some(json!({"email": "p@x.example", "display_name": "P", "role_ids": [], "password": "short"})),
    )
    .await
    .expect(400);
    f.call(
        &f.a.admin,
        "POST",
        "/api/v1/users",
        Some(json!({"email": "r@x.example", "display_name": "R", "role_ids": ["nope"]})),
    )
    .await
    .expect(400);

    let found = f.call(&f.a.admin, "GET", "/api/v1/users?search=sam", None).await.expect(200);
    assert_eq!(found.body["pagination"]["total"], 1);
    let readonly = role_id(&f, "Read-only").await;
    let changed = f
        .call(&f.a.admin, "PUT", &format!("/api/v1/users/{sam}/roles"), Some(json!({"role_ids": [readonly]})))
        .await
        .expect(200);
    assert_eq!(changed.data()["roles"][0]["name"], "Read-only");
    f.call(
        &f.a.admin,
        "PUT",
        &format!("/api/v1/users/{}/roles", f.a.admin.user_id().unwrap()),
        Some(json!({"role_ids": []})),
    )
    .await
    .expect(409);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/users/{}", f.a.admin.user_id().unwrap()), None).await.expect(409);
    f.call(&f.b.admin, "GET", &format!("/api/v1/users/{sam}"), None).await.expect(404);
    f.call(&f.a.tech, "GET", "/api/v1/users", None).await.expect(403);

    // Unreferenced: deleted. Referenced: deactivated.
    let gone = f.call(&f.a.admin, "DELETE", &format!("/api/v1/users/{sam}"), None).await.expect(200);
    assert_eq!(gone.data()["outcome"], "deleted");
    let s = f.setup(&f.a.admin).await;
    f.ticket(&f.a.tech, &s, "by tech").await;
    let kept =
        f.call(&f.a.admin, "DELETE", &format!("/api/v1/users/{}", f.a.tech.user_id().unwrap()), None).await.expect(200);
    assert_eq!(kept.data()["outcome"], "deactivated");
    let tech_user =
        f.call(&f.a.admin, "GET", &format!("/api/v1/users/{}", f.a.tech.user_id().unwrap()), None).await.expect(200);
    assert_eq!(tech_user.data()["active"], false);
}

#[tokio::test]
async fn nobody_grants_what_they_do_not_hold() {
    let f = Fixture::new().await;
    // A "user manager" role: may manage users and roles, but holds no ticket permissions.
    let manager = f
        .call(&f.a.admin, "POST", "/api/v1/roles", Some(json!({"name": "User manager", "permissions": ["user:create", "user:read", "user:update", "role:create", "role:read"]})))
        .await
        .expect(201)
        .id();
    let user = f
        .call(
            &f.a.admin,
            "POST",
            "/api/v1/users",
            Some(json!({"email": "m@x.example", "display_name": "M", "role_ids": [manager]})),
        )
        .await
        .expect(201)
        .id();
    let key = f.call(&f.a.admin, "POST", "/api/v1/api-keys", Some(json!({"user_id": user}))).await.expect(201);
    let m = f.ctx.auth.authenticate(key.data()["key"].as_str().unwrap()).await.unwrap();
    let admin_role = role_id(&f, "Admin").await;
    let escalate = f
        .call(
            &m,
            "POST",
            "/api/v1/users",
            Some(json!({"email": "e@x.example", "display_name": "E", "role_ids": [admin_role]})),
        )
        .await;
    assert_eq!(
        escalate.expect(403).body["error"]["message"].as_str().unwrap().split(':').next(),
        Some("You cannot grant client")
    );
    f.call(&m, "POST", "/api/v1/roles", Some(json!({"name": "Sneaky", "permissions": ["ticket:delete"]})))
        .await
        .expect(403);
    f.call(&m, "POST", "/api/v1/roles", Some(json!({"name": "Fine", "permissions": ["user:read"]}))).await.expect(201);
}

#[tokio::test]
async fn roles() {
    let f = Fixture::new().await;
    let admin = role_id(&f, "Admin").await;
    f.call(&f.a.admin, "PUT", &format!("/api/v1/roles/{admin}"), Some(json!({"permissions": []}))).await.expect(409);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/roles/{admin}"), None).await.expect(409);
    f.call(&f.a.admin, "POST", "/api/v1/roles", Some(json!({"name": "X", "permissions": ["ticket:fly"]})))
        .await
        .expect(400);
    f.call(&f.a.admin, "POST", "/api/v1/roles", Some(json!({"name": "Admin", "permissions": []}))).await.expect(409);
    let custom = f
        .call(
            &f.a.admin,
            "POST",
            "/api/v1/roles",
            Some(json!({"name": "Dispatcher", "permissions": ["ticket:read", "ticket:update"]})),
        )
        .await
        .expect(201);
    assert_eq!(custom.data()["permissions"], json!(["ticket:read", "ticket:update"]));
    let id = custom.id();
    let edited = f
        .call(&f.a.admin, "PUT", &format!("/api/v1/roles/{id}"), Some(json!({"permissions": ["ticket:read"]})))
        .await
        .expect(200);
    assert_eq!(edited.data()["permissions"], json!(["ticket:read"]));
    f.call(
        &f.a.admin,
        "POST",
        "/api/v1/users",
        Some(json!({"email": "d@x.example", "display_name": "D", "role_ids": [id]})),
    )
    .await
    .expect(201);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/roles/{id}"), None).await.expect(409);
    f.call(&f.b.admin, "GET", &format!("/api/v1/roles/{id}"), None).await.expect(404);
    let all = f.call(&f.a.readonly, "GET", "/api/v1/permissions?limit=100", None).await;
    assert_eq!(all.status, 403, "Read-only does not read roles");
    let all = f.call(&f.a.admin, "GET", "/api/v1/permissions?limit=100", None).await.expect(200);
    assert_eq!(all.body["pagination"]["total"], alga_core::rbac::all_permissions().count());
}

#[tokio::test]
async fn api_keys_are_shown_once_listed_by_owner_and_revoked_at_once() {
    let f = Fixture::new().await;
    let issued =
        f.call(&f.a.tech, "POST", "/api/v1/api-keys", Some(json!({"description": "script"}))).await.expect(201);
    let plaintext = issued.data()["key"].as_str().unwrap().to_owned();
    assert!(plaintext.starts_with("alga_") && plaintext.len() == 69);
    assert_eq!(issued.data()["prefix"], &plaintext[..12]);
    let id = issued.id();
    let principal = f.ctx.auth.authenticate(&plaintext).await.unwrap();
    assert_eq!(principal.user_id().unwrap(), f.a.tech.user_id().unwrap());

    let mine = f.call(&f.a.tech, "GET", "/api/v1/api-keys", None).await.expect(200);
    assert!(mine.data().as_array().unwrap().iter().all(|k| k["user_id"] == f.a.tech.user_id().unwrap()));
    assert!(mine.data().as_array().unwrap().iter().all(|k| k.get("key").is_none()), "never shown again");
    let everyone = f.call(&f.a.admin, "GET", "/api/v1/api-keys", None).await.expect(200);
    assert!(everyone.body["pagination"]["total"].as_u64().unwrap() >= 4);

    // A technician cannot revoke the admin's key (it looks missing), nor issue keys for others.
    let admin_key = f
        .call(&f.a.admin, "GET", &format!("/api/v1/api-keys?user_id={}", f.a.admin.user_id().unwrap()), None)
        .await
        .expect(200);
    let admin_key_id = admin_key.data()[0]["id"].as_str().unwrap().to_owned();
    f.call(&f.a.tech, "DELETE", &format!("/api/v1/api-keys/{admin_key_id}"), None).await.expect(404);
    f.call(&f.a.tech, "POST", "/api/v1/api-keys", Some(json!({"user_id": f.a.admin.user_id().unwrap()})))
        .await
        .expect(403);
    f.call(&f.a.tech, "POST", "/api/v1/api-keys", Some(json!({"expires_at": "2020-01-01T00:00:00Z"})))
        .await
        .expect(400);
    f.call(&f.b.admin, "DELETE", &format!("/api/v1/api-keys/{id}"), None).await.expect(404);
    f.call(&f.a.readonly, "GET", "/api/v1/api-keys", None).await.expect(403);

    f.call(&f.a.tech, "DELETE", &format!("/api/v1/api-keys/{id}"), None).await.expect(204);
    let after = f.ctx.auth.authenticate(&plaintext).await.unwrap_err();
    assert_eq!(after.status().as_u16(), 401, "revocation takes effect at once, cache or not");
}

#[tokio::test]
async fn deactivation_and_role_changes_take_effect_on_the_next_request() {
    let f = Fixture::new().await;
    let tech_key = f.call(&f.a.tech, "POST", "/api/v1/api-keys", Some(json!({}))).await.expect(201);
    let key = tech_key.data()["key"].as_str().unwrap().to_owned();
    let tech = f.ctx.auth.authenticate(&key).await.unwrap();
    f.call(&tech, "GET", "/api/v1/tickets", None).await.expect(200);
    let readonly = role_id(&f, "Read-only").await;
    f.call(
        &f.a.admin,
        "PUT",
        &format!("/api/v1/users/{}/roles", tech.user_id().unwrap()),
        Some(json!({"role_ids": [readonly]})),
    )
    .await
    .expect(200);
    let demoted = f.ctx.auth.authenticate(&key).await.unwrap();
    f.call(&demoted, "POST", "/api/v1/tickets", Some(json!({}))).await.expect(403);
    f.call(&f.a.admin, "PUT", &format!("/api/v1/users/{}", tech.user_id().unwrap()), Some(json!({"active": false})))
        .await
        .expect(200);
    assert_eq!(f.ctx.auth.authenticate(&key).await.unwrap_err().status().as_u16(), 401);
}

/// Whether `user`'s password is one-time.
async fn one_time(f: &Fixture, user: &str) -> bool {
    use alga_core::schema::users;
    use diesel::prelude::*;
    let user = user.to_owned();
    f.ctx
        .db
        .run(move |conn| {
            users::table
                .filter(users::id.eq(&user))
                .select(users::password_change_required)
                .first::<bool>(conn)
                .map_err(alga_core::ApiError::from)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_password_set_for_someone_else_is_one_time_and_ones_own_is_not() {
    let f = Fixture::new().await;
    for (whose, expected) in [(&f.a.tech, true), (&f.a.admin, false)] {
        let user = whose.user_id().unwrap().to_owned();
        let body = json!({ "password": "chosen by the admin 01" });
        f.call(&f.a.admin, "PUT", &format!("/api/v1/users/{user}"), Some(body)).await.expect(200);
        assert_eq!(one_time(&f, &user).await, expected, "one-time unless the user chose it");
    }
    // A password given at creation was chosen by the creator: one-time too; none, nothing to change.
    for (email, password, expected) in
        [("new@a.test", Some("chosen by the admin 02"), true), ("nopw@a.test", None, false)]
    {
        let body = json!({ "email": email, "display_name": "New", "password": password, "role_ids": [] });
        let created = f.call(&f.a.admin, "POST", "/api/v1/users", Some(body)).await.expect(201);
        let user = created.body["data"]["id"].as_str().unwrap().to_owned();
        assert_eq!(one_time(&f, &user).await, expected, "{email}");
    }
}
