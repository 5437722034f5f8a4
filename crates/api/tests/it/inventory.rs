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

/// How many assets the read-only user of tenant A lists with these query parameters.
async fn total(f: &Fixture, query: &str) -> u64 {
    let list = f.call(&f.a.readonly, "GET", &format!("/api/v1/assets?{query}"), None).await.expect(200);
    list.body["pagination"]["total"].as_u64().unwrap()
}

#[tokio::test]
async fn assets_are_filtered_validated_and_kept_to_their_client() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let other = f.call(a, "POST", "/api/v1/clients", Some(json!({"name": "Globex"}))).await.expect(201).id();
    let office = f
        .call(a, "POST", &format!("/api/v1/clients/{}/locations", s.client), Some(json!({"name": "Office"})))
        .await
        .expect(201)
        .id();
    let elsewhere = f
        .call(a, "POST", &format!("/api/v1/clients/{other}/locations"), Some(json!({"name": "Depot"})))
        .await
        .expect(201)
        .id();
    let laptop = f
        .call(
            &f.a.tech,
            "POST",
            "/api/v1/assets",
            Some(json!({
                "asset_type": "laptop", "name": "ACME-LT-01", "client_id": s.client, "location_id": office,
                "serial_number": "5CG123", "purchase_date": "2022-01-10", "warranty_end_date": "2025-01-09",
                "attributes": {"model": "EliteBook 840", "ram_gb": 16}
            })),
        )
        .await
        .expect(201);
    assert_eq!(laptop.data()["status"], "active");
    assert_eq!(laptop.data()["attributes"]["ram_gb"], 16);
    let laptop = laptop.id();
    let firewall = f
        .call(
            a,
            "POST",
            "/api/v1/assets",
            Some(json!({"asset_type": "network", "name": "ACME-FW", "client_id": s.client, "warranty_end_date": "2030-06-30", "notes": "FortiGate 60F"})),
        )
        .await
        .expect(201)
        .id();
    f.call(
        a,
        "POST",
        "/api/v1/assets",
        Some(json!({"asset_type": "printer", "name": "GLOBEX-PR", "client_id": other})),
    )
    .await
    .expect(201);

    assert_eq!(total(&f, "").await, 3);
    assert_eq!(total(&f, "warranty_before=2026-01-01").await, 1, "out of warranty; no date means not listed");
    assert_eq!(total(&f, "asset_type=network").await, 1);
    assert_eq!(total(&f, "serial_number=5cg123").await, 1);
    assert_eq!(total(&f, "search=fortigate").await, 1);
    assert_eq!(total(&f, "status=retired").await, 0);
    assert_eq!(total(&f, &format!("client_id={other}")).await, 1);
    assert_eq!(total(&f, &format!("location_id={office}")).await, 1);
    f.call(a, "GET", "/api/v1/assets?asset_type=toaster", None).await.expect(400);

    // Bad input is refused and changes nothing.
    for bad in [
        json!({"asset_type": "laptop", "name": "X", "client_id": s.client, "location_id": elsewhere}),
        json!({"asset_type": "laptop", "name": "X", "client_id": "nope"}),
        json!({"asset_type": "laptop", "name": " ", "client_id": s.client}),
        json!({"asset_type": "laptop", "name": "X", "client_id": s.client, "purchase_date": "2025-01-01", "warranty_end_date": "2024-01-01"}),
        json!({"asset_type": "laptop", "name": "X", "client_id": s.client, "attributes": {"big": "x".repeat(9000)}}),
        json!({"asset_type": "laptop", "name": "X", "client_id": s.client, "attributes": [1, 2]}),
    ] {
        let answer = f.call(a, "POST", "/api/v1/assets", Some(bad.clone())).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
    }
    assert_eq!(total(&f, "").await, 3);

    // Moving to another client needs a location of that client.
    let path = format!("/api/v1/assets/{laptop}");
    f.call(a, "PUT", &path, Some(json!({"client_id": other}))).await.expect(400);
    let moved = f.call(a, "PUT", &path, Some(json!({"client_id": other, "location_id": elsewhere}))).await.expect(200);
    assert_eq!(moved.data()["serial_number"], "5CG123", "omitted fields keep their value");
    let back = f
        .call(a, "PUT", &path, Some(json!({"client_id": s.client, "location_id": null, "status": "in_repair"})))
        .await
        .expect(200);
    assert_eq!((back.data()["location_id"].clone(), back.data()["status"].clone()), (Value::Null, json!("in_repair")));
    assert_eq!(back.data()["attributes"]["model"], "EliteBook 840");

    // A location with assets cannot be deleted.
    f.call(a, "PUT", &path, Some(json!({"location_id": office}))).await.expect(200);
    f.call(a, "DELETE", &format!("/api/v1/clients/{}/locations/{office}", s.client), None).await.expect(409);

    // Another tenant sees none of it; technicians cannot delete, the read-only role only reads.
    f.call(&f.b.admin, "GET", &path, None).await.expect(404);
    assert_eq!(f.call(&f.b.admin, "GET", "/api/v1/assets", None).await.expect(200).body["pagination"]["total"], 0);
    f.call(&f.a.tech, "PUT", &path, Some(json!({"notes": "n"}))).await.expect(200);
    f.call(&f.a.tech, "DELETE", &path, None).await.expect(403);
    f.call(&f.a.readonly, "PUT", &path, Some(json!({"notes": "n"}))).await.expect(403);

    // Ticket links: the ticket's client's assets only; replaced as a whole; listed both ways.
    let ticket = f.ticket(a, &s, "Laptop will not boot").await;
    let links = format!("/api/v1/tickets/{ticket}/assets");
    let globex_printer = f.call(a, "GET", "/api/v1/assets?search=globex", None).await.expect(200).data()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    f.call(&f.a.tech, "PUT", &links, Some(json!({"asset_ids": [laptop, globex_printer]}))).await.expect(400);
    f.call(&f.a.tech, "PUT", &links, Some(json!({"asset_ids": ["missing"]}))).await.expect(400);
    f.call(&f.a.readonly, "PUT", &links, Some(json!({"asset_ids": [laptop]}))).await.expect(403);
    let set =
        f.call(&f.a.tech, "PUT", &links, Some(json!({"asset_ids": [laptop, firewall, laptop]}))).await.expect(200);
    assert_eq!(set.data()["asset_ids"].as_array().unwrap().len(), 2);
    let linked = f.call(&f.a.readonly, "GET", &links, None).await.expect(200);
    assert_eq!(names(&linked.body), ["ACME-FW", "ACME-LT-01"]);
    let history = f.call(&f.a.readonly, "GET", &format!("/api/v1/assets/{laptop}/tickets"), None).await.expect(200);
    assert_eq!(history.data()[0]["id"], ticket.as_str());
    assert_eq!(history.data()[0]["is_closed"], false);
    let closed =
        f.call(&f.a.readonly, "GET", &format!("/api/v1/assets/{laptop}/tickets?is_open=false"), None).await.expect(200);
    assert_eq!(closed.body["pagination"]["total"], 0);
    f.call(&f.b.admin, "PUT", &links, Some(json!({"asset_ids": []}))).await.expect(404);

    // Deleting an asset removes its links, not the ticket; a client with assets stays.
    f.call(a, "DELETE", &format!("/api/v1/assets/{firewall}"), None).await.expect(204);
    assert_eq!(names(&f.call(a, "GET", &links, None).await.expect(200).body), ["ACME-LT-01"]);
    let in_use = f.call(a, "DELETE", &format!("/api/v1/clients/{other}"), None).await.expect(409);
    assert!(in_use.body["error"]["message"].as_str().unwrap().contains("assets"));
    f.call(a, "PUT", &links, Some(json!({"asset_ids": []}))).await.expect(200);
    assert_eq!(f.call(a, "GET", &links, None).await.expect(200).body["pagination"]["total"], 0);
}

#[tokio::test]
async fn assets_carry_tags_and_filter_by_them() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    f.check_tags(
        "/api/v1/assets",
        "asset",
        |name, tags| json!({"asset_type": "laptop", "name": name, "client_id": s.client, "tags": tags}),
    )
    .await;
}

/// A ticket and its linked assets keep one client: moving either to another client while they are
/// linked is a 409 naming the links, and changes nothing.
#[tokio::test]
async fn ticket_asset_links_never_cross_clients() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let other = f.call(a, "POST", "/api/v1/clients", Some(json!({"name": "Globex"}))).await.expect(201).id();
    let asset = f
        .call(
            a,
            "POST",
            "/api/v1/assets",
            Some(json!({"asset_type": "laptop", "name": "ACME-LT-07", "client_id": s.client})),
        )
        .await
        .expect(201)
        .id();
    let ticket = f.ticket(a, &s, "Laptop slow").await;
    let number =
        f.call(a, "GET", &format!("/api/v1/tickets/{ticket}"), None).await.expect(200).data()["number"].clone();
    let links = format!("/api/v1/tickets/{ticket}/assets");
    f.call(a, "PUT", &links, Some(json!({"asset_ids": [asset]}))).await.expect(200);

    let moved = f.call(a, "PUT", &format!("/api/v1/assets/{asset}"), Some(json!({"client_id": other}))).await;
    let moved = moved.expect(409);
    assert!(moved.body["error"]["message"].as_str().unwrap().contains(number.as_str().unwrap()), "{}", moved.body);
    let moved = f.call(a, "PUT", &format!("/api/v1/tickets/{ticket}"), Some(json!({"client_id": other}))).await;
    let moved = moved.expect(409);
    assert!(moved.body["error"]["message"].as_str().unwrap().contains("ACME-LT-07"), "{}", moved.body);
    let asset_now = f.call(a, "GET", &format!("/api/v1/assets/{asset}"), None).await.expect(200);
    let ticket_now = f.call(a, "GET", &format!("/api/v1/tickets/{ticket}"), None).await.expect(200);
    assert_eq!((&asset_now.data()["client_id"], &ticket_now.data()["client_id"]), (&json!(s.client), &json!(s.client)));

    // Unlinked, each may move.
    f.call(a, "PUT", &links, Some(json!({"asset_ids": []}))).await.expect(200);
    f.call(a, "PUT", &format!("/api/v1/assets/{asset}"), Some(json!({"client_id": other}))).await.expect(200);
    f.call(a, "PUT", &format!("/api/v1/tickets/{ticket}"), Some(json!({"client_id": other}))).await.expect(200);
}
