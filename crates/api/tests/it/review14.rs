//! Review of issue 14: races on PostgreSQL (run with ALGA_TEST_DATABASE_URL).

use serde_json::json;

use crate::support::Fixture;

/// Two updates at once, A's parent := B and B's parent := A: at most one may succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn review14_parent_tickets_never_form_a_cycle_under_concurrency() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let mut cycles = 0;
    for i in 0..40 {
        let x = f.ticket(a, &s, &format!("x{i}")).await;
        let y = f.ticket(a, &s, &format!("y{i}")).await;
        let (px, py) = (format!("/api/v1/tickets/{x}"), format!("/api/v1/tickets/{y}"));
        let (r1, r2) = tokio::join!(
            f.call(a, "PUT", &px, Some(json!({"parent_ticket_id": y}))),
            f.call(a, "PUT", &py, Some(json!({"parent_ticket_id": x}))),
        );
        if r1.status == 200 && r2.status == 200 {
            cycles += 1;
        }
    }
    assert_eq!(cycles, 0, "pairs of tickets that became each other's parent");
}

/// A ticket deleted while its tags are set leaves no tagging behind (else the tag can never be
/// deleted: it is "carried" by a record that no longer exists).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn review14_a_deleted_ticket_leaves_no_tagging_behind() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let tag = f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "race"}))).await.expect(201).id();
    f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "old"}))).await.expect(201);
    for i in 0..100 {
        let t = f.ticket(a, &s, &format!("t{i}")).await;
        f.call(a, "PUT", &format!("/api/v1/tickets/{t}"), Some(json!({"tags": ["old"]}))).await.expect(200);
        let pt = format!("/api/v1/tickets/{t}");
        let _ = tokio::join!(f.call(a, "PUT", &pt, Some(json!({"tags": ["race"]}))), f.call(a, "DELETE", &pt, None),);
    }
    // Take the tag off every ticket that still exists: then nothing carries it.
    let carried = f.call(a, "GET", "/api/v1/tickets?tag=race&limit=100", None).await.expect(200);
    for t in carried.data().as_array().unwrap() {
        let path = format!("/api/v1/tickets/{}", t["id"].as_str().unwrap());
        f.call(a, "PUT", &path, Some(json!({"tags": []}))).await.expect(200);
    }
    f.call(a, "DELETE", &format!("/api/v1/tags/{tag}"), None).await.expect(204);
}
