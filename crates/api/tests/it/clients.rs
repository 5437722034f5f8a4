use serde_json::json;

use crate::support::Fixture;

#[tokio::test]
async fn clients_crud() {
    let f = Fixture::new().await;
    let created = f
        .call(&f.a.admin, "POST", "/api/v1/clients", Some(json!({"name": " Acme Corp ", "email": "it@acme.example"})))
        .await
        .expect(201);
    let id = created.id();
    assert_eq!(created.data()["name"], "Acme Corp", "trimmed");
    assert!(created.data()["created_at"].as_str().unwrap().ends_with('Z'), "RFC 3339 UTC");

    let got = f.call(&f.a.readonly, "GET", &format!("/api/v1/clients/{id}"), None).await.expect(200);
    assert_eq!(got.data()["email"], "it@acme.example");

    let updated = f
        .call(&f.a.admin, "PUT", &format!("/api/v1/clients/{id}"), Some(json!({"email": null, "is_inactive": true})))
        .await
        .expect(200);
    assert_eq!(updated.data()["email"], serde_json::Value::Null);
    assert_eq!(updated.data()["is_inactive"], true);
    assert_eq!(updated.data()["name"], "Acme Corp", "omitted fields keep their value");

    f.call(&f.a.admin, "POST", "/api/v1/clients", Some(json!({"name": "Globex"}))).await.expect(201);
    let list = f.call(&f.a.readonly, "GET", "/api/v1/clients?name=glo", None).await.expect(200);
    assert_eq!(list.body["pagination"]["total"], 1);
    assert_eq!(list.data()[0]["name"], "Globex");
    let inactive = f.call(&f.a.readonly, "GET", "/api/v1/clients?is_inactive=true", None).await.expect(200);
    assert_eq!(inactive.body["pagination"]["total"], 1);

    f.call(&f.a.admin, "DELETE", &format!("/api/v1/clients/{id}"), None).await.expect(204);
    f.call(&f.a.admin, "GET", &format!("/api/v1/clients/{id}"), None).await.expect(404);
}

#[tokio::test]
async fn clients_validation() {
    let f = Fixture::new().await;
    let missing = f.call(&f.a.admin, "POST", "/api/v1/clients", Some(json!({}))).await.expect(400);
    assert!(missing.body["error"]["message"].as_str().unwrap().contains("name"), "{}", missing.body);
    let unknown =
        f.call(&f.a.admin, "POST", "/api/v1/clients", Some(json!({"name": "X", "colour": "red"}))).await.expect(400);
    assert!(
        unknown.body["error"]["message"].as_str().unwrap().contains("colour"),
        "names the unknown field: {}",
        unknown.body
    );
    let blank = f.call(&f.a.admin, "POST", "/api/v1/clients", Some(json!({"name": "  "}))).await.expect(400);
    assert_eq!(blank.body["error"]["details"]["fields"][0]["field"], "name");
    let wrong_type = f.call(&f.a.admin, "POST", "/api/v1/clients", Some(json!({"name": 5}))).await.expect(400);
    assert_eq!(wrong_type.code(), "validation_error");
    f.call(&f.a.admin, "GET", "/api/v1/clients?limit=101", None).await.expect(400);
    f.call(&f.a.admin, "GET", "/api/v1/clients?is_inactive=maybe", None).await.expect(400);

    f.call(&f.a.admin, "POST", "/api/v1/clients", Some(json!({"name": "Acme"}))).await.expect(201);
    let dup = f.call(&f.a.admin, "POST", "/api/v1/clients", Some(json!({"name": "Acme"}))).await.expect(409);
    assert!(dup.body["error"]["message"].as_str().unwrap().contains("Acme"));
    // The same name in another tenant is fine.
    f.call(&f.b.admin, "POST", "/api/v1/clients", Some(json!({"name": "Acme"}))).await.expect(201);
}

#[tokio::test]
async fn clients_are_tenant_scoped_and_permission_checked() {
    let f = Fixture::new().await;
    let id = f.call(&f.a.admin, "POST", "/api/v1/clients", Some(json!({"name": "Acme"}))).await.expect(201).id();
    let path = format!("/api/v1/clients/{id}");
    for (method, body) in [("GET", None), ("PUT", Some(json!({"name": "Hijacked"}))), ("DELETE", None)] {
        let foreign = f.call(&f.b.admin, method, &path, body).await;
        assert_eq!(foreign.status, 404, "{method}: a foreign id looks like a missing one");
    }
    let listed = f.call(&f.b.admin, "GET", "/api/v1/clients", None).await.expect(200);
    assert_eq!(listed.body["pagination"]["total"], 0);

    let denied = f.call(&f.a.tech, "POST", "/api/v1/clients", Some(json!({"name": "New"}))).await.expect(403);
    assert_eq!(denied.body["error"]["message"], "Permission denied: cannot create client");
    f.call(&f.a.readonly, "PUT", &path, Some(json!({"name": "X"}))).await.expect(403);
    f.call(&f.a.tech, "DELETE", &path, None).await.expect(403);
    f.call(&f.a.admin, "GET", &path, None).await.expect(200);
}
