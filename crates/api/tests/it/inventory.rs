//! Client locations and assets, with their ticket links.

use serde_json::{Value, json};

use crate::support::Fixture;

fn names(list: &Value) -> Vec<&str> {
    list["data"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn locations_belong_to_their_client_and_one_is_primary() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let other = f.call(a, "POST", "/api/v1/clients", Some(json!({"name": "Globex"}))).await.expect(201).id();
    let base = format!("/api/v1/clients/{}/locations", s.client);
    let head = f
        .call(
            a,
            "POST",
            &base,
            Some(json!({"name": " Head office ", "city": "Springfield", "country": "US", "is_primary": true})),
        )
        .await
        .expect(201);
    assert_eq!(head.data()["name"], "Head office");
    assert_eq!(head.data()["is_primary"], true);
    let head = head.id();
    let branch = f
        .call(a, "POST", &base, Some(json!({"name": "Branch", "address_line1": "2 Side St", "is_primary": true})))
        .await
        .expect(201)
        .id();
    // The new primary took over: at most one primary per client.
    let list = f.call(&f.a.readonly, "GET", &base, None).await.expect(200);
    assert_eq!(names(&list.body), ["Branch", "Head office"], "the primary first");
    assert_eq!(list.data()[1]["is_primary"], false);
    f.call(a, "PUT", &format!("{base}/{head}"), Some(json!({"is_primary": true, "city": null}))).await.expect(200);
    let got = f.call(&f.a.tech, "GET", &format!("{base}/{branch}"), None).await.expect(200);
    assert_eq!(got.data()["is_primary"], false);
    let got = f.call(&f.a.tech, "GET", &format!("{base}/{head}"), None).await.expect(200);
    assert_eq!((got.data()["city"].clone(), got.data()["country"].clone()), (Value::Null, json!("US")));

    // Names are unique per client, not per tenant; bad input changes nothing.
    f.call(a, "POST", &base, Some(json!({"name": "Branch"}))).await.expect(409);
    f.call(a, "POST", &format!("/api/v1/clients/{other}/locations"), Some(json!({"name": "Branch"}))).await.expect(201);
    let answer = f.call(a, "POST", &base, Some(json!({"name": "  "}))).await.expect(400);
    assert_eq!(answer.code(), "validation_error");
    f.call(a, "POST", &base, Some(json!({"name": "X", "phone": "1".repeat(51)}))).await.expect(400);
    assert_eq!(f.call(a, "GET", &base, None).await.expect(200).body["pagination"]["total"], 2);

    // Another client's location, or another tenant's client, is a 404.
    f.call(a, "GET", &format!("/api/v1/clients/{other}/locations/{head}"), None).await.expect(404);
    f.call(&f.b.admin, "GET", &format!("{base}/{head}"), None).await.expect(404);
    f.call(&f.b.admin, "GET", &base, None).await.expect(404);

    // Technicians and the read-only role read locations only.
    f.call(&f.a.tech, "POST", &base, Some(json!({"name": "T"}))).await.expect(403);
    f.call(&f.a.readonly, "DELETE", &format!("{base}/{branch}"), None).await.expect(403);

    f.call(a, "DELETE", &format!("{base}/{branch}"), None).await.expect(204);
    f.call(a, "GET", &format!("{base}/{branch}"), None).await.expect(404);
}
