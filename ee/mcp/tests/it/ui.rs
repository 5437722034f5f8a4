//! The admin web UI over HTTP: sign-in, sessions, CSRF, throttling, the admin-only pages, tenant
//! isolation, and the IdP doctor. (The whole journey in a real browser is `cargo xtask browser`.)

use actix_web::http::Method;
use alga_core::identity::{self, hash_password};
use alga_core::schema::users;
use diesel::prelude::*;
use serde_json::json;

use crate::support::{Answer, Env, Key, Provider, keyed_agent};

const ADMIN: &str = "admin@tenant-a.test";
const TECH: &str = "technician@tenant-a.test";
const PASSWORD: &str = "correct horse battery staple";
const GENERIC: &str = "Sign-in failed.";

fn text(a: &Answer) -> &str {
    a.body.as_str().unwrap_or_default()
}

/// The value of the first `name="…" value="…"` input of a page.
fn input(page: &str, name: &str) -> String {
    let start = page.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} in {page}"));
    let rest = &page[start + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// `name=value` of a `Set-Cookie` header, and the whole header.
fn set_cookie(a: &Answer, name: &str) -> Option<(String, String)> {
    a.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| (v.split(';').next().unwrap().to_owned(), v.to_owned()))
}

async fn set_password(env: &Env, email: &'static str) {
    let hash = hash_password(PASSWORD).unwrap();
    env.ctx
        .db
        .run(move |conn| {
            diesel::update(users::table.filter(users::email.eq(email)))
                .set(users::password_hash.eq(Some(hash)))
                .execute(conn)
                .map_err(alga_core::ApiError::from)
        })
        .await
        .unwrap();
}

fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish().into_bytes()
}

async fn post_form(env: &Env, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Answer {
    let headers = [("cookie", cookie), ("content-type", "application/x-www-form-urlencoded")];
    env.send("POST", path, &headers, Some(form(fields))).await
}

/// Signs in through the form; returns the answer and the cookies to send afterwards.
async fn sign_in(env: &Env, email: &str, password: &str) -> (Answer, String) {
    sign_in_from(env, None, email, password).await
}

/// [`sign_in`] from a client behind a trusted proxy (`X-Forwarded-For`).
async fn sign_in_from(env: &Env, client: Option<&str>, email: &str, password: &str) -> (Answer, String) {
    let forwarded: Vec<(&str, &str)> = client.map(|c| ("x-forwarded-for", c)).into_iter().collect();
    let page = env.send("GET", "/admin/login", &forwarded, None).await.expect(200);
    let (login_cookie, header) = set_cookie(&page, "alga_login_csrf").unwrap();
    assert!(header.contains("HttpOnly") && header.contains("SameSite=Strict"), "{header}");
    let csrf = input(text(&page), "csrf");
    let mut headers = vec![("cookie", login_cookie.as_str()), ("content-type", "application/x-www-form-urlencoded")];
    headers.extend(forwarded);
    let fields = form(&[("csrf", &csrf), ("email", email), ("password", password)]);
    let answer = env.send("POST", "/admin/login", &headers, Some(fields)).await;
    let session = set_cookie(&answer, "alga_admin").map(|(c, _)| c).unwrap_or_default();
    (answer, session)
}

async fn get(env: &Env, path: &str, cookie: &str) -> Answer {
    env.send("GET", path, &[("cookie", cookie)], None).await
}

#[tokio::test]
async fn admins_sign_in_and_every_change_needs_the_session_and_its_csrf_token() {
    let env = Env::start().await;
    set_password(&env, ADMIN).await;
    set_password(&env, TECH).await;

    // Without a session, pages send the browser to the sign-in form, remembering where it was.
    let away = get(&env, "/admin/mcp/agents", "").await.expect(303);
    assert_eq!(away.header("location"), "/admin/login?next=%2Fadmin%2Fmcp%2Fagents");

    // A sign-in form posted without its CSRF token is refused.
    let forged = post_form(&env, "/admin/login", "", &[("email", ADMIN), ("password", PASSWORD)]).await.expect(403);
    assert!(set_cookie(&forged, "alga_admin").is_none());

    // A wrong password and an unknown account get the same message and no session.
    let (wrong, none) = sign_in(&env, ADMIN, "not the password at all").await;
    let (unknown, _) = sign_in(&env, "nobody@tenant-a.test", PASSWORD).await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert!(text(&wrong).contains(GENERIC) && text(&unknown).contains(GENERIC));
    assert!(none.is_empty());

    // The right password: a session cookie, HttpOnly and SameSite=Strict (not Secure over http).
    let (ok, cookie) = sign_in(&env, ADMIN, PASSWORD).await;
    assert_eq!((ok.status, ok.header("location").as_str()), (303, "/admin/mcp"));
    let (_, header) = set_cookie(&ok, "alga_admin").unwrap();
    assert!(header.contains("HttpOnly") && header.contains("SameSite=Strict") && header.contains("Path=/"));
    assert!(!header.contains("Secure"), "{header}");
    let overview = get(&env, "/admin/mcp", &cookie).await.expect(200);
    assert!(text(&overview).contains("Getting started"));
    assert_eq!(overview.header("x-frame-options"), "DENY");
    let csrf = input(text(&overview), "csrf");

    // A form without the session's CSRF token changes nothing.
    let body = [("name", "Forged agent"), ("idp_id", ""), ("subject", "")];
    post_form(&env, "/admin/mcp/agents", &cookie, &body).await.expect(403);
    post_form(&env, "/admin/mcp/agents", &cookie, &[("csrf", "0".repeat(64).as_str()), body[0]]).await.expect(403);
    let agents = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/agents", None).await.expect(200);
    assert_eq!(agents.data().as_array().unwrap().len(), 0);

    // With it, the agent is created and the browser goes to its page.
    let technician = env.a.technician_role.clone();
    let created = post_form(
        &env,
        "/admin/mcp/agents",
        &cookie,
        &[("csrf", &csrf), ("name", "Form agent"), ("idp_id", ""), ("subject", ""), ("role_ids", &technician)],
    )
    .await
    .expect(303);
    let location = created.header("location");
    assert!(location.starts_with("/admin/mcp/agents/") && location.ends_with("?done=agent-added"), "{location}");
    let page = get(&env, &location, &cookie).await.expect(200);
    assert!(text(&page).contains("Agent: Form agent") && text(&page).contains("Agent added."));

    // Validation errors come back on the page, with the status the API gives.
    let invalid = post_form(&env, "/admin/mcp/agents", &cookie, &[("csrf", &csrf), ("name", " ")]).await.expect(400);
    assert!(text(&invalid).contains("role=\"alert\""));

    // The session works on the admin API too; there, a write needs x-csrf-token.
    let listed = env.send("GET", "/api/v1/mcp/agents", &[("cookie", &cookie)], None).await.expect(200);
    assert_eq!(listed.data().as_array().unwrap().len(), 1);
    let idp = json!({ "kind": "custom", "issuer": "https://127.0.0.1:1" }).to_string().into_bytes();
    let json_headers = [("cookie", cookie.as_str()), ("content-type", "application/json")];
    env.send("POST", "/api/v1/mcp/idp-providers", &json_headers, Some(idp.clone())).await.expect(403);
    let with_token = [json_headers[0], json_headers[1], ("x-csrf-token", csrf.as_str())];
    // Past the CSRF check, the request meets the provider rules: nothing listens there.
    let answer = env.send("POST", "/api/v1/mcp/idp-providers", &with_token, Some(idp)).await.expect(400);
    assert!(answer.body["error"]["message"].as_str().unwrap().contains("discovery"), "{}", answer.body);

    // Tenant isolation: tenant B's agent is not found through tenant A's session.
    let b_agent = env
        .api(&env.b.admin_key, "POST", "/api/v1/mcp/agents", Some(json!({ "name": "B agent" })))
        .await
        .expect(201)
        .data()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    get(&env, &format!("/admin/mcp/agents/{b_agent}"), &cookie).await.expect(404);
    post_form(&env, &format!("/admin/mcp/agents/{b_agent}/retire"), &cookie, &[("csrf", &csrf)]).await.expect(404);
    let b_view = env.api(&env.b.admin_key, "GET", &format!("/api/v1/mcp/agents/{b_agent}"), None).await.expect(200);
    assert_eq!(b_view.data()["status"], "active");

    // A user without the Admin role may sign in, but gets the 403 page and a 403 from the API.
    let (tech, tech_cookie) = sign_in(&env, TECH, PASSWORD).await;
    assert_eq!(tech.status, 303);
    let refused = get(&env, "/admin/mcp", &tech_cookie).await.expect(403);
    assert!(text(&refused).contains("Administrators only"));
    env.send("GET", "/api/v1/mcp/agents", &[("cookie", &tech_cookie)], None).await.expect(403);

    // A new password ends the user's sessions, whoever sets it.
    let (_, second) = sign_in(&env, ADMIN, PASSWORD).await;
    get(&env, "/admin/mcp", &second).await.expect(200);
    set_password(&env, ADMIN).await;
    get(&env, "/admin/mcp", &second).await.expect(303);
    let (_, cookie) = sign_in(&env, ADMIN, PASSWORD).await;
    let csrf = input(text(&get(&env, "/admin/mcp", &cookie).await.expect(200)), "csrf");

    // Signing out ends the session for good.
    post_form(&env, "/admin/logout", &cookie, &[("csrf", &csrf)]).await.expect(303);
    get(&env, "/admin/mcp", &cookie).await.expect(303);
    env.send("GET", "/api/v1/mcp/agents", &[("cookie", &cookie)], None).await.expect(401);
    env.stop().await;
}

#[tokio::test]
async fn five_failures_pause_signing_in_even_with_the_right_password() {
    let env = Env::start().await;
    set_password(&env, TECH).await;
    for _ in 0..5 {
        let (a, _) = sign_in(&env, TECH, "a wrong password, again").await;
        assert_eq!(a.status, 401);
    }
    let (paused, cookie) = sign_in(&env, TECH, PASSWORD).await;
    assert_eq!(paused.status, 401);
    assert!(text(&paused).contains(GENERIC) && cookie.is_empty());
    env.stop().await;
}

#[tokio::test]
async fn a_strangers_failures_pause_them_not_the_account_elsewhere() {
    let settings = alga_ee_mcp::Settings {
        allow_insecure_idp_urls: true,
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..alga_ee_mcp::Settings::default()
    };
    let env = Env::with(settings).await;
    set_password(&env, TECH).await;
    for _ in 0..6 {
        let (failed, _) = sign_in_from(&env, Some("203.0.113.7"), TECH, "a stranger's guess").await;
        assert_eq!(failed.status, 401);
    }
    let (stranger, cookie) = sign_in_from(&env, Some("203.0.113.7"), TECH, PASSWORD).await;
    assert!(stranger.status == 401 && cookie.is_empty(), "the stranger's address is paused");
    let (owner, cookie) = sign_in_from(&env, Some("198.51.100.20"), TECH, PASSWORD).await;
    assert_eq!(owner.status, 303, "the owner signs in from elsewhere: {}", text(&owner));
    assert!(!cookie.is_empty());
    env.stop().await;
}

#[tokio::test]
async fn the_doctor_says_why_a_token_is_refused_and_who_it_signs_in_as() {
    let env = Env::start().await;
    set_password(&env, ADMIN).await;
    let (key, public) = Key::new("k1");
    let provider = Provider::start(vec![public]).await;
    let idp = env.trust(&env.a, &provider).await;
    env.agent(&env.a, &idp, "doctor-client", &[&env.a.technician_role]).await;
    let (_, cookie) = sign_in(&env, ADMIN, PASSWORD).await;
    let page = get(&env, "/admin/mcp/doctor", &cookie).await.expect(200);
    let csrf = input(text(&page), "csrf");
    let diagnose = |token: String, endpoint: &'static str| {
        let (cookie, csrf) = (cookie.clone(), csrf.clone());
        let env = &env;
        async move {
            let answer = post_form(
                env,
                "/admin/mcp/doctor",
                &cookie,
                &[("csrf", &csrf), ("token", &token), ("endpoint", endpoint)],
            )
            .await
            .expect(200);
            text(&answer).to_owned()
        }
    };

    let good = key.sign(&env.claims(&provider.base, "doctor-client", &env.resource(None)));
    let accepted = diagnose(good.clone(), "instance").await;
    assert!(accepted.contains("Accepted on") && accepted.contains("agent doctor-client"), "{accepted}");
    assert!(!accepted.contains(&good), "the token is never shown back");

    // The same token on the tenant's endpoint (the one the Connect page recommends): accepted,
    // as the provider's registered audience counts there too.
    let on_tenant = diagnose(good, "tenant").await;
    assert!(on_tenant.contains("Accepted on") && on_tenant.contains("/t/tenant-a/api/mcp"), "{on_tenant}");
    // A token for another resource: wrong audience, with what the endpoint expects named.
    let other = key.sign(&env.claims(&provider.base, "doctor-client", "https://elsewhere.example/api"));
    let wrong_audience = diagnose(other, "tenant").await;
    assert!(wrong_audience.contains("wrong audience"), "{wrong_audience}");
    assert!(
        wrong_audience.contains(&format!(
            "this endpoint expects {} or {}",
            env.resource(None),
            env.resource(Some("tenant-a"))
        )),
        "{wrong_audience}"
    );

    let stranger = key.sign(&env.claims("https://elsewhere.example.com", "doctor-client", &env.resource(None)));
    assert!(diagnose(stranger, "instance").await.contains("No identity provider of this organization has issuer"));

    let unbound = key.sign(&env.claims(&provider.base, "someone-else", &env.resource(None)));
    assert!(diagnose(unbound, "instance").await.contains("No active agent is bound to sub = someone-else"));

    let mut expired = env.claims(&provider.base, "doctor-client", &env.resource(None));
    expired.set_expires_at(&(std::time::SystemTime::now() - std::time::Duration::from_secs(3600)));
    assert!(diagnose(key.sign(&expired), "instance").await.contains("the token has expired"));

    let (other, _) = Key::new("k1");
    let forged = other.sign(&env.claims(&provider.base, "doctor-client", &env.resource(None)));
    assert!(diagnose(forged, "instance").await.contains("bad signature"));

    assert!(diagnose("not a token".to_owned(), "instance").await.contains("not a well-formed JWT"));
    env.stop().await;
}

#[tokio::test]
async fn activity_pages_and_exports_show_only_the_tenants_calls() {
    let env = Env::start().await;
    set_password(&env, ADMIN).await;
    let (key, public) = Key::new("k1");
    let provider = Provider::start(vec![public]).await;
    for t in [&env.a, &env.b] {
        let idp = env.trust(t, &provider).await;
        env.agent(t, &idp, "shared-client", &[&t.technician_role]).await;
    }
    for slug in ["tenant-a", "tenant-b"] {
        let token = key.sign(&env.claims(&provider.base, "shared-client", &env.resource(Some(slug))));
        let endpoint = format!("/t/{slug}/api/mcp");
        let args = json!({ "entryId": "tickets.list", "query": { "limit": 1 }, "password": "hunter2" });
        env.call_api(&endpoint, &token, args).await.expect(200);
    }
    let (_, cookie) = sign_in(&env, ADMIN, PASSWORD).await;
    let page = get(&env, "/admin/mcp/activity", &cookie).await.expect(200);
    assert!(text(&page).contains("1 calls"), "{}", text(&page));
    let a_rows = env.audit(&env.a, "").await;
    let id = a_rows[0]["id"].as_str().unwrap();
    let detail = get(&env, &format!("/admin/mcp/activity/{id}"), &cookie).await.expect(200);
    assert!(
        text(&detail).contains("tickets.list") && text(&detail).contains("***") && !text(&detail).contains("hunter2")
    );
    let b_id = env.audit(&env.b, "").await[0]["id"].as_str().unwrap().to_owned();
    get(&env, &format!("/admin/mcp/activity/{b_id}"), &cookie).await.expect(404);
    let csv = env.send("GET", "/api/v1/mcp/audit/export?format=csv", &[("cookie", &cookie)], None).await.expect(200);
    let lines: Vec<&str> = text(&csv).trim().split("\r\n").collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].contains(id) && !lines[1].contains(&b_id));
    let filtered = get(&env, "/admin/mcp/activity?decision=deny", &cookie).await.expect(200);
    assert!(text(&filtered).contains("0 calls"));
    env.stop().await;
}

#[tokio::test]
async fn retiring_revoking_and_deleting_from_the_pages() {
    let env = Env::start().await;
    set_password(&env, ADMIN).await;
    let (_, public) = Key::new("k1");
    let provider = Provider::start(vec![public]).await;
    let idp = env.trust(&env.a, &provider).await;
    let agent = env.agent(&env.a, &idp, "page-client", &[&env.a.technician_role]).await;
    let (_, cookie) = sign_in(&env, ADMIN, PASSWORD).await;
    let page = get(&env, &format!("/admin/mcp/agents/{agent}"), &cookie).await.expect(200);
    let csrf = input(text(&page), "csrf");

    // Deleting a provider with a bound agent is refused, naming the agent, and changes nothing.
    let refused =
        post_form(&env, &format!("/admin/mcp/idps/{idp}/delete"), &cookie, &[("csrf", &csrf)]).await.expect(409);
    assert!(text(&refused).contains("agent page-client"), "{}", text(&refused));

    // A key made on the page is shown once; revoking it stops it.
    let made = post_form(
        &env,
        &format!("/admin/mcp/agents/{agent}/keys"),
        &cookie,
        &[("csrf", &csrf), ("description", "page key"), ("expires_on", "2099-01-01")],
    )
    .await
    .expect(400);
    assert!(text(&made).contains("at most one year ahead"));
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%d").to_string();
    let made = post_form(
        &env,
        &format!("/admin/mcp/agents/{agent}/keys"),
        &cookie,
        &[("csrf", &csrf), ("description", "page key"), ("expires_on", &tomorrow)],
    )
    .await
    .expect(201);
    let plaintext = text(&made).split("value=\"alga_").nth(1).unwrap().split('"').next().unwrap();
    let plaintext = format!("alga_{plaintext}");
    let call = |key: String| {
        let env = &env;
        async move {
            let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }).to_string().into_bytes();
            env.send("POST", "/api/mcp", &[("x-api-key", &key), ("content-type", "application/json")], Some(body)).await
        }
    };
    call(plaintext.clone()).await.expect(200);
    let keys = env.api(&env.a.admin_key, "GET", &format!("/api/v1/mcp/agents/{agent}/keys"), None).await.expect(200);
    let key_id = keys.data()[0]["id"].as_str().unwrap().to_owned();
    let revoked =
        post_form(&env, &format!("/admin/mcp/agents/{agent}/keys/{key_id}/revoke"), &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(revoked.expect(303).header("location"), format!("/admin/mcp/agents/{agent}?done=key-revoked"));
    call(plaintext).await.expect(401);

    // Retiring asks first, saying the audit stays; then the agent is retired.
    let confirm = get(&env, &format!("/admin/mcp/agents/{agent}/retire"), &cookie).await.expect(200);
    assert!(text(&confirm).contains("Its activity stays in the audit."));
    post_form(&env, &format!("/admin/mcp/agents/{agent}/retire"), &cookie, &[("csrf", &csrf)]).await.expect(303);
    let view = env.api(&env.a.admin_key, "GET", &format!("/api/v1/mcp/agents/{agent}"), None).await.expect(200);
    assert_eq!(view.data()["status"], "retired");

    // With no live agent bound, the provider can go.
    post_form(&env, &format!("/admin/mcp/idps/{idp}/delete"), &cookie, &[("csrf", &csrf)]).await.expect(303);
    let idps = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/idp-providers", None).await.expect(200);
    assert_eq!(idps.data().as_array().unwrap().len(), 0);

    // An expired session no longer works, and the sweeper removes it.
    env.ctx
        .db
        .run(|conn| {
            diesel::sql_query("UPDATE admin_sessions SET expires_at = created_at")
                .execute(conn)
                .map_err(alga_core::ApiError::from)
        })
        .await
        .unwrap();
    get(&env, "/admin/mcp", &cookie).await.expect(303);
    assert_eq!(env.ctx.db.run(alga_ee_mcp::session::sweep).await.unwrap(), 1);
    env.stop().await;
}

#[tokio::test]
async fn the_changes_page_lists_the_admin_audit() {
    let env = Env::start().await;
    set_password(&env, ADMIN).await;
    set_password(&env, TECH).await;
    let body = serde_json::json!({ "name": "Changes agent", "role_ids": [env.a.technician_role] });
    env.api(&env.a.admin_key, "POST", "/api/v1/mcp/agents", Some(body)).await.expect(201);
    let (_, cookie) = sign_in(&env, ADMIN, PASSWORD).await;
    let page = get(&env, "/admin/mcp/changes", &cookie).await.expect(200);
    assert!(text(&page).contains("1 changes") && text(&page).contains("agent.create"), "{}", text(&page));
    assert!(text(&page).contains("Changes agent") && !text(&page).contains(PASSWORD));
    let export = get(&env, "/api/v1/mcp/admin-audit/export?format=csv", &cookie).await.expect(200);
    assert_eq!(text(&export).lines().count(), 2, "a header and the change");
    let (_, tech) = sign_in(&env, TECH, PASSWORD).await;
    get(&env, "/admin/mcp/changes", &tech).await.expect(403);
    env.stop().await;
}

/// Gives `email` a one-time password, as `alga-server user set-password` does.
async fn set_one_time_password(env: &Env, email: &'static str, password: &'static str) {
    env.ctx
        .db
        .run(move |conn| {
            let (tenant, id): (String, String) =
                users::table.filter(users::email.eq(email)).select((users::tenant_id, users::id)).first(conn)?;
            identity::set_password(conn, &tenant, &id, password, identity::PasswordChoice::OneTime)
        })
        .await
        .unwrap();
}

/// Rows of the admin audit, admin sessions, and password hashes with their one-time flag: what
/// a refused form must leave as it was.
async fn stored_state(env: &Env) -> (i64, i64, Vec<(String, Option<String>, bool)>) {
    env.ctx
        .db
        .run(|conn| {
            let audit: i64 = alga_core::schema::admin_audit::table.count().get_result(conn)?;
            let sessions: i64 = alga_ee_mcp::schema::admin_sessions::table.count().get_result(conn)?;
            let passwords = users::table
                .order(users::email)
                .select((users::email, users::password_hash, users::password_change_required))
                .load(conn)?;
            Ok::<_, alga_core::ApiError>((audit, sessions, passwords))
        })
        .await
        .unwrap()
}

/// The admin UI's routes with this method, as the UI declares them into the route table.
fn ui_routes(method: &Method) -> Vec<String> {
    let mut table = alga_core::RouteTable::new();
    alga_ee_mcp::ui::routes(&mut table);
    table.entries().iter().filter(|r| r.method() == Some(method)).map(|r| r.path().to_owned()).collect()
}

#[tokio::test]
async fn a_one_time_password_opens_only_the_password_page_until_it_is_changed() {
    let env = Env::start().await;
    set_password(&env, ADMIN).await;
    let (_, elsewhere) = sign_in(&env, ADMIN, PASSWORD).await;
    get(&env, "/admin/mcp", &elsewhere).await.expect(200);

    // A reset (here as the CLI makes it) ends the user's sessions and is one-time.
    const ONE_TIME: &str = "a one-time password 0123";
    set_one_time_password(&env, ADMIN, ONE_TIME).await;
    assert_eq!(
        get(&env, "/admin/mcp", &elsewhere).await.expect(303).header("location"),
        "/admin/login?next=%2Fadmin%2Fmcp"
    );
    let (signed, cookie) = sign_in(&env, ADMIN, ONE_TIME).await;
    assert_eq!(signed.expect(303).header("location"), "/admin/password");

    // Every other page and every action of the UI sends the browser to the password page, and
    // changes nothing, even with the session's CSRF token.
    let page = get(&env, "/admin/password", &cookie).await.expect(200);
    assert!(text(&page).contains("You signed in with a one-time password"), "{}", text(&page));
    let csrf = input(text(&page), "csrf");
    let open =
        ["/admin", "/admin/", "/admin/assets/admin.css", "/admin/assets/admin.js", "/admin/login", "/admin/password"];
    for path in ui_routes(&Method::GET).into_iter().filter(|p| !open.contains(&p.as_str())) {
        let answer = get(&env, &path.replace("{id}", "x"), &cookie).await;
        assert_eq!((answer.status, answer.header("location").as_str()), (303, "/admin/password"), "GET {path}");
    }
    let before = stored_state(&env).await;
    let fields = [("csrf", csrf.as_str()), ("name", "Blocked agent"), ("kind", "google"), ("active", "false")];
    for path in ui_routes(&Method::POST)
        .into_iter()
        .filter(|p| !["/admin/login", "/admin/logout", "/admin/password"].contains(&p.as_str()))
    {
        let answer = post_form(&env, &path.replace("{id}", "x").replace("{key_id}", "y"), &cookie, &fields).await;
        assert_eq!((answer.status, answer.header("location").as_str()), (303, "/admin/password"), "POST {path}");
    }
    assert_eq!(stored_state(&env).await, before);
    // The session is no credential for the admin API either; the printed API key is, still.
    env.send("GET", "/api/v1/mcp/agents", &[("cookie", &cookie)], None).await.expect(403);
    env.api(&env.a.admin_key, "GET", "/api/v1/mcp/agents", None).await.expect(200);

    // Clear errors, and nothing changes.
    const MINE: &str = "my very own password 42";
    for (current, new, repeated, says) in [
        ("not the one-time password", MINE, MINE, "The current password is not right"),
        (ONE_TIME, MINE, "my very own password 43", "The two new passwords differ."),
        (ONE_TIME, "too short", "too short", "at least 12 characters"),
        (ONE_TIME, ONE_TIME, ONE_TIME, "must differ from the current one"),
    ] {
        let fields = [
            ("csrf", csrf.as_str()),
            ("current_password", current),
            ("new_password", new),
            ("repeat_password", repeated),
        ];
        let refused = post_form(&env, "/admin/password", &cookie, &fields).await.expect(400);
        assert!(text(&refused).contains(says), "{says}: {}", text(&refused));
    }
    assert_eq!(stored_state(&env).await, before);

    // The change: this browser continues in a new session; every other session has ended.
    let (_, second) = sign_in(&env, ADMIN, ONE_TIME).await;
    let fields =
        [("csrf", csrf.as_str()), ("current_password", ONE_TIME), ("new_password", MINE), ("repeat_password", MINE)];
    let changed = post_form(&env, "/admin/password", &cookie, &fields).await.expect(303);
    assert_eq!(changed.header("location"), "/admin/mcp?done=password-changed");
    let (renewed, _) = set_cookie(&changed, "alga_admin").unwrap();
    let overview = get(&env, "/admin/mcp?done=password-changed", &renewed).await.expect(200);
    assert!(text(&overview).contains("Password changed."));
    for ended in [&cookie, &second] {
        get(&env, "/admin/mcp", ended).await.expect(303);
    }
    let (_, _, passwords) = stored_state(&env).await;
    assert!(passwords.iter().any(|(email, _, required)| email == ADMIN && !required));
    let changes = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/admin-audit?action=user.password_change", None).await;
    let row = changes.expect(200).data()[0].clone();
    assert_eq!((row["action"].as_str(), row["via"].as_str()), (Some("user.password_change"), Some("session")), "{row}");
    assert!(!row.to_string().contains(MINE));

    // The one-time password is spent; the new one signs in straight to where it was going.
    let (spent, _) = sign_in(&env, ADMIN, ONE_TIME).await;
    spent.expect(401);
    let (again, third) = sign_in(&env, ADMIN, MINE).await;
    assert_eq!(again.expect(303).header("location"), "/admin/mcp");

    // Changing it again of one's own accord works the same, from the link on every page.
    let page = get(&env, "/admin/mcp", &third).await.expect(200);
    assert!(text(&page).contains("href=\"/admin/password\""));
    let csrf = input(text(&get(&env, "/admin/password", &third).await.expect(200)), "csrf");
    const NEXT: &str = "my next password 4242";
    let fields =
        [("csrf", csrf.as_str()), ("current_password", MINE), ("new_password", NEXT), ("repeat_password", NEXT)];
    let renewed_again = post_form(&env, "/admin/password", &third, &fields).await.expect(303);
    get(&env, "/admin/mcp", &renewed).await.expect(303);
    let (fourth, _) = set_cookie(&renewed_again, "alga_admin").unwrap();
    get(&env, "/admin/mcp", &fourth).await.expect(200);
    env.stop().await;
}

#[tokio::test]
async fn every_ui_form_refuses_a_missing_or_wrong_csrf_token_and_changes_nothing() {
    let env = Env::start().await;
    set_password(&env, ADMIN).await;
    let (_, public) = Key::new("k1");
    let provider = Provider::start(vec![public]).await;
    let idp = env.trust(&env.a, &provider).await;
    let agent = env.agent(&env.a, &idp, "csrf-client", &[&env.a.technician_role]).await;
    let key =
        json!({ "description": "k", "expires_at": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339() });
    let made = env.api(&env.a.admin_key, "POST", &format!("/api/v1/mcp/agents/{agent}/keys"), Some(key)).await;
    let key_id = made.expect(201).data()["info"]["id"].as_str().unwrap().to_owned();

    // Signed in, with the sign-in form's cookie too: only the form's own token is missing.
    let (_, session) = sign_in(&env, ADMIN, PASSWORD).await;
    let (_, other) = sign_in(&env, ADMIN, PASSWORD).await;
    let others_token = input(text(&get(&env, "/admin/mcp", &other).await.expect(200)), "csrf");
    let login_page = env.send("GET", "/admin/login", &[], None).await.expect(200);
    let (login_cookie, _) = set_cookie(&login_page, "alga_login_csrf").unwrap();
    let cookie = format!("{session}; {login_cookie}");
    let technician = env.a.technician_role.clone();
    // Fields that would make each form succeed, with its token.
    let fields = [
        ("email", ADMIN),
        ("password", PASSWORD),
        ("current_password", PASSWORD),
        ("new_password", "a forged new password"),
        ("repeat_password", "a forged new password"),
        ("name", "Forged"),
        ("description", "forged"),
        ("role_ids", technician.as_str()),
        ("active", "false"),
        ("kind", "google"),
        ("audience", "https://forged.example"),
        ("expires_on", "2030-01-01"),
        ("token", "x"),
        ("source", "forbid (principal, action, resource);"),
        ("mode", "shadow"),
        ("expected_version", "0"),
        ("intent", "save"),
    ];
    let posts = ui_routes(&Method::POST);
    assert!(
        ["/admin/login", "/admin/logout", "/admin/password", "/admin/mcp/agents"]
            .iter()
            .all(|p| posts.iter().any(|q| q == p))
    );
    let before = stored_state(&env).await;
    let agents_before = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/agents", None).await.expect(200).body;
    let idps_before = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/idp-providers", None).await.expect(200).body;
    assert!(posts.iter().any(|p| p == "/admin/mcp/policies"));
    for route in &posts {
        let path =
            route.replace("{key_id}", &key_id).replace("{id}", if route.contains("/idps/") { &idp } else { &agent });
        for token in [None, Some("0".repeat(64)), Some(others_token.clone())] {
            let mut body: Vec<(&str, &str)> = fields.to_vec();
            if let Some(t) = &token {
                body.push(("csrf", t));
            }
            let answer = post_form(&env, &path, &cookie, &body).await;
            assert_eq!(answer.status, 403, "POST {path} with {token:?}: {}", text(&answer));
            assert!(text(&answer).contains("This form has expired"), "POST {path}");
            assert!(set_cookie(&answer, "alga_admin").is_none(), "POST {path}");
        }
    }
    assert_eq!(stored_state(&env).await, before);
    assert_eq!(env.api(&env.a.admin_key, "GET", "/api/v1/mcp/agents", None).await.expect(200).body, agents_before);
    assert_eq!(env.api(&env.a.admin_key, "GET", "/api/v1/mcp/idp-providers", None).await.expect(200).body, idps_before);
    let policies = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/policies", None).await.expect(200);
    assert_eq!(policies.data()["version"], 0);
    get(&env, "/admin/mcp", &session).await.expect(200);
    env.stop().await;
}

#[tokio::test]
async fn the_policies_page_checks_inserts_templates_saves_and_shows_history() {
    let env = Env::start().await;
    set_password(&env, ADMIN).await;
    let (_, cookie) = sign_in(&env, ADMIN, PASSWORD).await;
    let page = get(&env, "/admin/mcp/policies", &cookie).await.expect(200);
    let html = text(&page);
    assert!(html.contains("No policies yet: roles alone decide.") && html.contains("namespace Alga"), "{html}");
    assert!(html.contains("href=\"/admin/mcp/policies\" aria-current=\"page\""));
    let csrf = input(html, "csrf");

    // Checking an invalid draft lists each problem at its line and column and marks the line.
    let bad = "@id(\"typed\")\nforbid (\n  principal,\n  action == Alga::Action::\"tickets.update\",\n  resource) when { resource.nonsense == 1 };\n";
    let draft = |source: &str, intent: &str| -> Vec<(&'static str, String)> {
        vec![
            ("csrf", csrf.clone()),
            ("source", source.to_owned()),
            ("mode", "enforce".to_owned()),
            ("expected_version", "0".to_owned()),
            ("intent", intent.to_owned()),
        ]
    };
    let checked = post_policies(&env, &cookie, &draft(bad, "validate")).await.expect(400);
    let html = text(&checked);
    assert!(html.contains("line 5:20") && html.contains("nonsense"), "{html}");
    assert!(html.contains("<span class=\"bad\">5</span>"), "{html}");
    assert!(!html.contains("<span class=\"bad\">4</span>"));
    assert!(html.contains("resource.nonsense"), "the draft stays in the editor");
    let saved = post_policies(&env, &cookie, &draft(bad, "save")).await.expect(400);
    assert!(text(&saved).contains("line 5:20"));
    assert_eq!(env.api(&env.a.admin_key, "GET", "/api/v1/mcp/policies", None).await.expect(200).data()["version"], 0);

    // A template goes into the editor, unsaved.
    let inserted = post_policies(&env, &cookie, &draft("", "template:no-agent-deletes")).await.expect(200);
    let html = text(&inserted);
    assert!(html.contains("inserted, not saved yet"), "{html}");
    let textarea = &html[html.find("<textarea id=\"source\"").unwrap()..];
    let source = textarea[textarea.find(">\n").unwrap() + 2..textarea.find("</textarea>").unwrap()]
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    assert!(source.contains("@id(\"no-agent-deletes\")"), "{source}");
    assert_eq!(env.api(&env.a.admin_key, "GET", "/api/v1/mcp/policies", None).await.expect(200).data()["version"], 0);

    // Saving it (CRLF line ends as browsers send them) stores version 1; the page shows it.
    let crlf = source.replace('\n', "\r\n");
    let mut fields = draft("", "save");
    fields[1].1 = crlf;
    fields[2].1 = "shadow".to_owned();
    let done = post_policies(&env, &cookie, &fields).await.expect(303);
    assert_eq!(done.header("location"), "/admin/mcp/policies?done=policies-saved");
    let now = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/policies", None).await.expect(200);
    assert_eq!((now.data()["version"].as_i64(), now.data()["mode"].as_str()), (Some(1), Some("shadow")));
    assert_eq!(now.data()["source"].as_str(), Some(source.as_str()));
    let page = get(&env, "/admin/mcp/policies?done=policies-saved", &cookie).await.expect(200);
    let html = text(&page);
    assert!(html.contains("Policies saved as a new version") && html.contains("no-agent-deletes"), "{html}");
    assert!(html.contains("Save as version 2") && html.contains("class=\"add\">+@id"), "{html}");

    // The same form again was made on version 0: refused, nothing stored, the draft kept.
    let stale = post_policies(&env, &cookie, &fields).await.expect(409);
    assert!(text(&stale).contains("changed meanwhile"));
    // Without the session's token nothing changes.
    let forged: Vec<(&'static str, String)> = draft(NO_DELETES_FORM, "save").into_iter().skip(1).collect();
    post_policies(&env, &cookie, &forged).await.expect(403);
    let clear = [("csrf", csrf.as_str()), ("expected_version", "1")];
    let cleared = post_form(&env, "/admin/mcp/policies/clear", &cookie, &clear).await.expect(303);
    assert_eq!(cleared.header("location"), "/admin/mcp/policies?done=policies-cleared");
    let now = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/policies", None).await.expect(200);
    assert_eq!((now.data()["version"].as_i64(), now.data()["source"].as_str()), (Some(2), Some("")));
    env.stop().await;
}

#[tokio::test]
async fn the_policies_page_replays_a_draft_on_the_audit() {
    let env = Env::start().await;
    let a = &env.a;
    set_password(&env, ADMIN).await;
    let (_, cookie) = sign_in(&env, ADMIN, PASSWORD).await;
    let csrf = input(text(&get(&env, "/admin/mcp/policies", &cookie).await.expect(200)), "csrf");
    let me = env.api(&a.admin_key, "GET", "/api/v1/me", None).await.expect(200);
    let tenant = me.data()["tenant"]["id"].as_str().unwrap().to_owned();
    let (agent, key) = keyed_agent(&env, a, "Lister", &[&a.technician_role]).await;
    // Under a set (in shadow mode) a call stores its evaluation input: replayed exactly.
    let shadow = json!({ "source": NO_DELETES_FORM, "mode": "shadow", "expected_version": 0 });
    env.api(&a.admin_key, "PUT", "/api/v1/mcp/policies", Some(shadow)).await.expect(200);
    let listed = env.call_api("/api/mcp", &key, json!({ "entryId": "tickets.list" })).await.expect(200);
    assert_ne!(listed.body["result"]["isError"], true, "{}", listed.body);
    // An older call stored without its input: rebuilt, replayed approximately.
    let args = json!({ "entryId": "tickets.list" });
    let older = crate::replay::row(&tenant, "approx-list", Some(&agent), None, "tickets.list", &args, 60);
    env.ctx.db.run(move |conn| alga_ee_mcp::audit::insert_rows(conn, &[older])).await.unwrap();

    let replay = |source: &str, days: &str| -> Vec<(&'static str, String)> {
        vec![
            ("csrf", csrf.clone()),
            ("source", source.to_owned()),
            ("mode", "enforce".to_owned()),
            ("expected_version", "1".to_owned()),
            ("intent", "replay".to_owned()),
            ("days", days.to_owned()),
        ]
    };
    let no_lists = "@id(\"no-agent-lists\")\nforbid (principal is Alga::Agent, action == Alga::Action::\"tickets.list\", resource);";
    let replayed = post_policies(&env, &cookie, &replay(no_lists, "7")).await.expect(200);
    let html = text(&replayed);
    assert!(html.contains("Replay over the last 7 days"), "{html}");
    assert!(html.contains("2 calls decided again: 1 exact") && html.contains("1 approximate"), "{html}");
    let row = &html[html.find("<td><code>tickets.list</code></td>").unwrap_or_else(|| panic!("{html}"))..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("Lister") && row.contains("<td>2</td><td>0</td>"), "{row}");
    assert!(row.contains(">exact<") && row.contains(">approximate<") && row.contains("approx-list"), "{row}");
    assert!(row.contains("allow → deny") && row.contains("<code>no-agent-lists</code>"), "{row}");
    assert!(html.contains("no-agent-lists&quot;)"), "the draft stays in the editor");
    assert!(html.contains("name=\"days\" value=\"7\""), "the period stays in the form");

    // The set in force decides the same: nothing changes.
    let same = post_policies(&env, &cookie, &replay(NO_DELETES_FORM, "7")).await.expect(200);
    assert!(text(&same).contains("No decision would change."), "{}", text(&same));

    // A bad period or draft is shown in place and nothing is replayed; nothing is ever stored.
    for days in ["0", "91", "a week", ""] {
        let refused = post_policies(&env, &cookie, &replay(no_lists, days)).await.expect(400);
        let html = text(&refused);
        assert!(html.contains("days: must be a whole number from 1 to 90"), "{days:?}: {html}");
        assert!(!html.contains("Replay over the last"), "{days:?}");
    }
    let invalid = post_policies(&env, &cookie, &replay("forbid (principal, action, resource", "7")).await.expect(400);
    let html = text(&invalid);
    assert!(html.contains("nothing was saved") && !html.contains("Replay over the last"), "{html}");
    let now = env.api(&a.admin_key, "GET", "/api/v1/mcp/policies", None).await.expect(200);
    assert_eq!(now.data()["version"], 1);
    env.stop().await;
}

const NO_DELETES_FORM: &str = "forbid (principal is Alga::Agent, action in Alga::Action::\"delete\", resource);";

async fn post_policies(env: &Env, cookie: &str, fields: &[(&'static str, String)]) -> Answer {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_form(env, "/admin/mcp/policies", cookie, &fields).await
}

/// The approvals page: the navigation counts what waits, the page shows the call (secrets as
/// `***`), the forms decide with the session's CSRF token; people without the permission see
/// nothing of it.
#[tokio::test]
async fn the_approvals_page_counts_shows_and_decides_waiting_calls() {
    use alga_ee_mcp::approval::store::{self, NewApproval, Requester, RequesterKind};
    let env = Env::start().await;
    set_password(&env, ADMIN).await;
    set_password(&env, TECH).await;
    let me = env.api(&env.a.admin_key, "GET", "/api/v1/me", None).await.expect(200);
    let tenant = me.data()["tenant"]["id"].as_str().unwrap().to_owned();
    let ask = |ticket: &'static str| {
        let tenant = tenant.clone();
        env.ctx.db.run(move |conn| {
            let requester = Requester { kind: RequesterKind::Agent, id: "agent-1".into(), name: "Dispatch bot".into() };
            let arguments = alga_api::tools::Arguments {
                path: json!({ "id": ticket }).as_object().unwrap().clone(),
                query: serde_json::Map::new(),
                body: Some(json!({ "reason": "duplicate", "api_key": "alga_do_not_show" })),
            };
            let new = NewApproval {
                tenant_id: &tenant,
                requester: &requester,
                client: (Some("claude-code"), Some("2.1.0")),
                operation_id: "tickets.delete",
                arguments: &arguments,
                record: Some(("Ticket", ticket)),
                policy_version: 1,
                policy_ids: &["ticket-deletes-need-approval".to_owned()],
                approver_roles: &[],
                expires_at: identity::now() + chrono::Duration::hours(1),
            };
            store::request(conn, &new, identity::now()).map(|r| r.approval.id)
        })
    };
    let first = ask("t-1").await.unwrap();
    let second = ask("t-2").await.unwrap();

    let (_, cookie) = sign_in(&env, ADMIN, PASSWORD).await;
    let list = get(&env, "/admin/approvals", &cookie).await.expect(200);
    assert!(text(&list).contains("aria-label=\"2 pending\""), "{}", text(&list));
    assert!(text(&list).contains("2 waiting") && text(&list).contains("Dispatch bot"), "{}", text(&list));
    let page = get(&env, &format!("/admin/approvals/{first}"), &cookie).await.expect(200);
    assert!(text(&page).contains("tickets.delete") && text(&page).contains("duplicate"));
    assert!(text(&page).contains("claude-code 2.1.0"), "the client that made the call: {}", text(&page));
    assert!(text(&page).contains("no longer exists"), "the record as it is now (none by that id): {}", text(&page));
    assert!(text(&page).contains("***") && !text(&page).contains("alga_do_not_show"), "{}", text(&page));
    let csrf = input(text(&page), "csrf");
    let approved = post_form(&env, &format!("/admin/approvals/{first}/approve"), &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(approved.status, 303, "{}", text(&approved));
    // A denial needs its reason; then it is told.
    let bare = post_form(&env, &format!("/admin/approvals/{second}/deny"), &cookie, &[("csrf", &csrf)]).await;
    assert!(text(&bare).contains("a denial says why"), "{}", text(&bare));
    let denied = post_form(
        &env,
        &format!("/admin/approvals/{second}/deny"),
        &cookie,
        &[("csrf", &csrf), ("reason", "Keep it.")],
    )
    .await;
    assert_eq!(denied.status, 303);
    for (id, status) in [(&first, "approved"), (&second, "denied")] {
        let one = env.api(&env.a.admin_key, "GET", &format!("/api/v1/mcp/approvals/{id}"), None).await.expect(200);
        assert_eq!(one.data()["status"], status);
    }
    let list = get(&env, "/admin/approvals", &cookie).await.expect(200);
    assert!(!text(&list).contains("pending\""), "no count once nothing waits: {}", text(&list));

    // A technician (no permission to decide) sees neither page; another tenant's admin gets 404.
    let (_, tech) = sign_in(&env, TECH, PASSWORD).await;
    get(&env, "/admin/approvals", &tech).await.expect(403);
    get(&env, &format!("/admin/approvals/{first}"), &tech).await.expect(403);
    env.stop().await;
}
