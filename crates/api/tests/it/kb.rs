//! The knowledge base: writing is not publishing.

use serde_json::json;

use crate::support::Fixture;

#[tokio::test]
async fn articles_are_written_as_drafts_and_published_by_whoever_may_publish() {
    let f = Fixture::new().await;
    let tech = &f.a.tech;
    let created = f
        .call(
            tech,
            "POST",
            "/api/v1/kb-articles",
            Some(json!({"title": " Reset a VPN profile ", "body": "1. Open FortiClient", "category": "Remote access"})),
        )
        .await
        .expect(201);
    assert_eq!(created.data()["status"], "draft");
    assert_eq!(created.data()["title"], "Reset a VPN profile");
    assert!(created.data()["author_user_id"].is_string() && created.data()["author_agent_id"].is_null());
    assert!(created.data()["published_at"].is_null());
    let id = created.id();
    let path = format!("/api/v1/kb-articles/{id}");

    // Status is not content: neither create nor update takes it.
    let answer = f.call(tech, "POST", "/api/v1/kb-articles", Some(json!({"title": "X", "status": "published"}))).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    f.call(tech, "PUT", &path, Some(json!({"status": "published"}))).await.expect(400);
    // A technician writes but may not publish or delete; the read-only role only reads.
    let denied = f.call(tech, "PUT", &format!("{path}/status"), Some(json!({"status": "published"}))).await.expect(403);
    assert_eq!(denied.body["error"]["message"], "Permission denied: cannot update kb_publication");
    f.call(tech, "DELETE", &path, None).await.expect(403);
    f.call(&f.a.readonly, "PUT", &path, Some(json!({"body": "x"}))).await.expect(403);
    f.call(&f.a.readonly, "GET", &path, None).await.expect(200);

    let edited = f.call(tech, "PUT", &path, Some(json!({"body": "2. Re-import", "category": null}))).await.expect(200);
    assert_eq!((edited.data()["status"].as_str(), edited.data()["category"].as_str()), (Some("draft"), None));
    assert_eq!(edited.data()["title"], "Reset a VPN profile", "omitted fields keep their value");

    let published =
        f.call(&f.a.admin, "PUT", &format!("{path}/status"), Some(json!({"status": "published"}))).await.expect(200);
    assert_eq!(published.data()["status"], "published");
    assert!(published.data()["published_at"].is_string());
    f.call(tech, "POST", "/api/v1/kb-articles", Some(json!({"title": "Printer offline", "body": "Power-cycle it."})))
        .await
        .expect(201);

    let count = |q: &str| {
        let q = q.to_owned();
        let f = &f;
        async move {
            f.call(&f.a.readonly, "GET", &format!("/api/v1/kb-articles?{q}"), None).await.expect(200).body["pagination"]
                ["total"]
                .as_u64()
                .unwrap()
        }
    };
    assert_eq!(count("").await, 2);
    assert_eq!(count("status=published").await, 1);
    assert_eq!(count("status=draft").await, 1);
    assert_eq!(count("search=re-import").await, 1);
    assert_eq!(count("search=printer").await, 1);
    f.call(&f.a.readonly, "GET", "/api/v1/kb-articles?status=live", None).await.expect(400);

    // Bounded input; another tenant sees nothing.
    let long = "x".repeat(100_001);
    f.call(tech, "POST", "/api/v1/kb-articles", Some(json!({"title": "Long", "body": long}))).await.expect(400);
    f.call(tech, "POST", "/api/v1/kb-articles", Some(json!({"title": ""}))).await.expect(400);
    assert_eq!(count("").await, 2);
    f.call(&f.b.admin, "GET", &path, None).await.expect(404);
    f.call(&f.b.admin, "PUT", &format!("{path}/status"), Some(json!({"status": "published"}))).await.expect(404);
    assert_eq!(f.call(&f.b.admin, "GET", "/api/v1/kb-articles", None).await.expect(200).body["pagination"]["total"], 0);

    let archived =
        f.call(&f.a.admin, "PUT", &format!("{path}/status"), Some(json!({"status": "archived"}))).await.expect(200);
    assert_eq!(archived.data()["status"], "archived");
    f.call(&f.a.admin, "DELETE", &path, None).await.expect(204);
    f.call(&f.a.admin, "GET", &path, None).await.expect(404);
}

#[tokio::test]
async fn articles_carry_tags_and_filter_by_them() {
    let f = Fixture::new().await;
    f.check_tags(
        "/api/v1/kb-articles",
        "kb_article",
        |title, tags| json!({"title": title, "body": "Steps.", "tags": tags}),
    )
    .await;
}

/// The content of a published or archived article is live to readers: editing it needs
/// `kb_publication:update`, held now (a credential's cached grants are not enough); a draft is
/// edited with `kb_article:update` alone.
#[tokio::test]
async fn only_whoever_may_publish_now_edits_a_published_article() {
    let f = Fixture::new().await;
    let tech = &f.a.tech;
    let writer = ["kb_article:read", "kb_article:update"];
    let (publisher, role) = f.user_with_role("publisher", &[&writer[..], &["kb_publication:update"]].concat()).await;
    let id = f
        .call(tech, "POST", "/api/v1/kb-articles", Some(json!({"title": "VPN", "body": "1. Open FortiClient"})))
        .await
        .expect(201)
        .id();
    let path = format!("/api/v1/kb-articles/{id}");
    f.call(tech, "PUT", &path, Some(json!({"body": "draft edit"}))).await.expect(200);
    f.call(&f.a.admin, "PUT", &format!("{path}/status"), Some(json!({"status": "published"}))).await.expect(200);

    let denied = f.call(tech, "PUT", &path, Some(json!({"title": "Hijacked"}))).await.expect(403);
    assert!(denied.body["error"]["message"].as_str().unwrap().contains("kb_publication:update"), "{}", denied.body);
    f.call(tech, "PUT", &path, Some(json!({"category": "Remote"}))).await.expect(403);
    f.call(&publisher, "PUT", &path, Some(json!({"body": "reviewed edit"}))).await.expect(200);

    // The publisher loses the grant; its credential, authenticated before, still says it holds it.
    f.call(&f.a.admin, "PUT", &format!("/api/v1/roles/{role}"), Some(json!({"permissions": writer}))).await.expect(200);
    f.call(&publisher, "PUT", &path, Some(json!({"body": "stale edit"}))).await.expect(403);
    let article = f.call(tech, "GET", &path, None).await.expect(200);
    assert_eq!((&article.data()["title"], &article.data()["body"]), (&json!("VPN"), &json!("reviewed edit")));

    f.call(&f.a.admin, "PUT", &format!("{path}/status"), Some(json!({"status": "archived"}))).await.expect(200);
    f.call(tech, "PUT", &path, Some(json!({"body": "archived edit"}))).await.expect(403);
    f.call(&f.a.admin, "PUT", &format!("{path}/status"), Some(json!({"status": "draft"}))).await.expect(200);
    f.call(tech, "PUT", &path, Some(json!({"body": "back to draft"}))).await.expect(200);
}
