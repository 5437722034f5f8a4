use std::collections::HashSet;

use serde_json::json;

use crate::support::Fixture;

#[tokio::test]
async fn search_finds_every_type_in_the_callers_tenant_only() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    let ticket = f.ticket(&f.a.admin, &s, "Printer offline in accounting").await;
    f.call(
        &f.a.admin,
        "PUT",
        &format!("/api/v1/tickets/{ticket}"),
        Some(json!({"description": "The HP laserjet on floor 2"})),
    )
    .await
    .expect(200);
    f.call(
        &f.a.tech,
        "POST",
        &format!("/api/v1/tickets/{ticket}/comments"),
        Some(json!({"body": "Replaced the laserjet toner"})),
    )
    .await
    .expect(201);
    f.call(&f.a.admin, "POST", "/api/v1/clients", Some(json!({"name": "Laserjet Leasing Ltd"}))).await.expect(201);
    let project = f
        .call(
            &f.a.admin,
            "POST",
            "/api/v1/projects",
            Some(json!({"name": "Laserjet fleet refresh", "client_id": s.client})),
        )
        .await
        .expect(201)
        .id();
    f.call(&f.a.admin, "POST", &format!("/api/v1/projects/{project}/tasks"), Some(json!({"title": "Order laserjets"})))
        .await
        .expect(201);
    f.call(
        &f.a.admin,
        "POST",
        "/api/v1/contacts",
        Some(json!({"full_name": "Lars Jetson", "job_title": "Laserjet wrangler"})),
    )
    .await
    .expect(201);
    let asset = f
        .call(
            &f.a.admin,
            "POST",
            "/api/v1/assets",
            Some(json!({"asset_type": "peripheral", "name": "Laserjet 4250 spare", "client_id": s.client, "serial_number": "CNB7X01"})),
        )
        .await
        .expect(201)
        .id();
    let article = f
        .call(
            &f.a.tech,
            "POST",
            "/api/v1/kb-articles",
            Some(json!({"title": "Laserjet paper jams", "body": "Open tray 2 and remove the sheet."})),
        )
        .await
        .expect(201)
        .id();
    f.call(&f.a.admin, "PUT", &format!("/api/v1/kb-articles/{article}/status"), Some(json!({"status": "published"})))
        .await
        .expect(200);
    // Drafts are not found.
    f.call(&f.a.tech, "POST", "/api/v1/kb-articles", Some(json!({"title": "Laserjet draft notes"}))).await.expect(201);
    // The same words in another tenant must never show up.
    let other = f.setup(&f.b.admin).await;
    f.ticket(&f.b.admin, &other, "Laserjet secret of tenant B").await;

    let found = f.call(&f.a.readonly, "GET", "/api/v1/search?query=laserjet", None).await.expect(200);
    let types: HashSet<&str> = found.data().as_array().unwrap().iter().map(|h| h["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        HashSet::from([
            "ticket",
            "ticket_comment",
            "client",
            "project",
            "project_task",
            "contact",
            "asset",
            "kb_article"
        ]),
        "{}",
        found.body
    );
    assert_eq!(found.body["total_count"], 8);
    assert!(!found.body.to_string().contains("tenant B"));
    let hit = found.data().as_array().unwrap().iter().find(|h| h["type"] == "ticket").unwrap();
    assert_eq!(hit["url"], format!("/api/v1/tickets/{ticket}"));
    assert!(hit["snippet"].as_str().unwrap().contains("**"), "{hit}");

    let by_number = f.call(&f.a.readonly, "GET", "/api/v1/search?query=T-000001&types=ticket", None).await.expect(200);
    assert_eq!(by_number.data()[0]["id"], ticket.as_str());
    let prefix = f.call(&f.a.readonly, "GET", "/api/v1/search?query=print", None).await.expect(200);
    assert_eq!(prefix.body["total_count"], 1, "words match as prefixes");
    let all_words = f.call(&f.a.readonly, "GET", "/api/v1/search?query=laserjet+toner", None).await.expect(200);
    assert_eq!(all_words.body["total_count"], 1, "every word must match: {}", all_words.body);
    let nothing = f.call(&f.a.readonly, "GET", "/api/v1/search?query=zebra", None).await.expect(200);
    assert_eq!(nothing.body["total_count"], 0);

    // Pages.
    let first =
        f.call(&f.a.readonly, "GET", "/api/v1/search?query=laserjet&limit=4&sort=recent", None).await.expect(200);
    assert_eq!(first.data().as_array().unwrap().len(), 4);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = f
        .call(&f.a.readonly, "GET", &format!("/api/v1/search?query=laserjet&limit=4&sort=recent&cursor={cursor}"), None)
        .await
        .expect(200);
    assert_eq!(second.data().as_array().unwrap().len(), 4);

    // Assets are found by serial number and by their client's name, also after a rename.
    let by_serial = f.call(&f.a.readonly, "GET", "/api/v1/search?query=cnb7x01", None).await.expect(200);
    assert_eq!(by_serial.data()[0]["url"], format!("/api/v1/assets/{asset}"));
    assert_eq!(by_serial.data()[0]["parent_id"], s.client.as_str());
    f.call(&f.a.admin, "PUT", &format!("/api/v1/clients/{}", s.client), Some(json!({"name": "Zenith Dental"})))
        .await
        .expect(200);
    let by_client =
        f.call(&f.a.readonly, "GET", "/api/v1/search?query=zenith+laserjet&types=asset", None).await.expect(200);
    assert_eq!(by_client.body["total_count"], 1, "{}", by_client.body);
    assert_eq!(by_client.data()[0]["subtitle"], "Zenith Dental");
    // An archived article is no longer found; published again, it is.
    f.call(&f.a.admin, "PUT", &format!("/api/v1/kb-articles/{article}/status"), Some(json!({"status": "archived"})))
        .await
        .expect(200);
    let kb = "/api/v1/search?query=laserjet&types=kb_article";
    assert_eq!(f.call(&f.a.readonly, "GET", kb, None).await.expect(200).body["total_count"], 0);
    f.call(&f.a.admin, "PUT", &format!("/api/v1/kb-articles/{article}/status"), Some(json!({"status": "published"})))
        .await
        .expect(200);
    // A published article is edited by whoever may publish (the Admin); the edit is found at once.
    f.call(&f.a.admin, "PUT", &format!("/api/v1/kb-articles/{article}"), Some(json!({"body": "Use the rear door."})))
        .await
        .expect(200);
    let edited = f.call(&f.a.readonly, "GET", "/api/v1/search?query=rear+door", None).await.expect(200);
    assert_eq!(edited.data()[0]["url"], format!("/api/v1/kb-articles/{article}"), "{}", edited.body);
    assert!(second.body["next_cursor"].is_null());

    // Changes are indexed at once; deletions disappear.
    f.call(&f.a.admin, "PUT", &format!("/api/v1/tickets/{ticket}"), Some(json!({"title": "Scanner jammed"})))
        .await
        .expect(200);
    let renamed = f.call(&f.a.readonly, "GET", "/api/v1/search?query=scanner", None).await.expect(200);
    assert_eq!(renamed.body["total_count"], 1);
    f.call(&f.a.admin, "DELETE", &format!("/api/v1/tickets/{ticket}"), None).await.expect(204);
    let gone = f.call(&f.a.readonly, "GET", "/api/v1/search?query=scanner", None).await.expect(200);
    assert_eq!(gone.body["total_count"], 0);
}

#[tokio::test]
async fn search_never_returns_a_type_the_caller_may_not_read() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    f.ticket(&f.a.admin, &s, "Widget failure").await;
    f.call(&f.a.admin, "POST", "/api/v1/clients", Some(json!({"name": "Widget Works"}))).await.expect(201);
    let clients_only = f
        .call(
            &f.a.admin,
            "POST",
            "/api/v1/roles",
            Some(json!({"name": "Client reader", "permissions": ["client:read"]})),
        )
        .await
        .expect(201)
        .id();
    let user = f
        .call(
            &f.a.admin,
            "POST",
            "/api/v1/users",
            Some(json!({"email": "c@x.example", "display_name": "C", "role_ids": [clients_only]})),
        )
        .await
        .expect(201)
        .id();
    let key = f.call(&f.a.admin, "POST", "/api/v1/api-keys", Some(json!({"user_id": user}))).await.expect(201);
    let reader = f.ctx.auth.authenticate(key.data()["key"].as_str().unwrap()).await.unwrap();
    let found = f.call(&reader, "GET", "/api/v1/search?query=widget", None).await.expect(200);
    assert_eq!(found.body["total_count"], 1);
    assert_eq!(found.data()[0]["type"], "client");
    let asked = f.call(&reader, "GET", "/api/v1/search?query=widget&types=ticket", None).await.expect(200);
    assert_eq!(asked.body["total_count"], 0, "asking for it explicitly changes nothing");
    assert!(asked.body["groups"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn assets_and_articles_are_searched_only_by_those_who_read_them() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    let body = json!({"asset_type": "network", "name": "Quokka firewall", "client_id": s.client});
    f.call(&f.a.admin, "POST", "/api/v1/assets", Some(body)).await.expect(201);
    let article =
        f.call(&f.a.admin, "POST", "/api/v1/kb-articles", Some(json!({"title": "Quokka firewall reset"}))).await.id();
    let publish = json!({"status": "published"});
    f.call(&f.a.admin, "PUT", &format!("/api/v1/kb-articles/{article}/status"), Some(publish)).await.expect(200);
    let role = json!({"name": "Asset reader", "permissions": ["asset:read"]});
    let role = f.call(&f.a.admin, "POST", "/api/v1/roles", Some(role)).await.expect(201).id();
    let user = json!({"email": "assets@x.example", "display_name": "A", "role_ids": [role]});
    let user = f.call(&f.a.admin, "POST", "/api/v1/users", Some(user)).await.expect(201).id();
    let key = f.call(&f.a.admin, "POST", "/api/v1/api-keys", Some(json!({"user_id": user}))).await.expect(201);
    let reader = f.ctx.auth.authenticate(key.data()["key"].as_str().unwrap()).await.unwrap();
    let found = f.call(&reader, "GET", "/api/v1/search?query=quokka", None).await.expect(200);
    assert_eq!(found.body["total_count"], 1, "{}", found.body);
    assert_eq!(found.data()[0]["type"], "asset");
    let all = f.call(&f.a.readonly, "GET", "/api/v1/search?query=quokka", None).await.expect(200);
    assert_eq!(all.body["total_count"], 2, "{}", all.body);
    let other = f.call(&f.b.admin, "GET", "/api/v1/search?query=quokka", None).await.expect(200);
    assert_eq!(other.body["total_count"], 0);
}

#[tokio::test]
async fn search_validation() {
    let f = Fixture::new().await;
    f.call(&f.a.admin, "GET", "/api/v1/search?query=+--+", None).await.expect(400);
    f.call(&f.a.admin, "GET", "/api/v1/search", None).await.expect(400);
    f.call(&f.a.admin, "GET", "/api/v1/search?query=x&types=invoice", None).await.expect(400);
    f.call(&f.a.admin, "GET", "/api/v1/search?query=x&cursor=abc", None).await.expect(400);
    f.call(&f.a.admin, "GET", "/api/v1/search?query=x&limit=0", None).await.expect(400);
    // Syntax of either engine in the query is just text.
    for hostile in ["%22%20OR%20*", "NEAR(a%20b)", "a%20%26%20!b%3A*", "'%3B%20DROP%20TABLE%20tickets%3B--"] {
        f.call(&f.a.admin, "GET", &format!("/api/v1/search?query={hostile}"), None).await.expect(200);
    }
}

#[tokio::test]
async fn demo_data_is_realistic_and_added_once() {
    let f = Fixture::new().await;
    let first = alga_api::demo::seed(&f.ctx, "tenant-a").await.unwrap();
    assert!(!first.skipped);
    assert!(first.tickets >= 50 && first.comments >= first.tickets && first.time_entries > 0, "{first:?}");
    assert!(first.clients >= 5 && first.contacts >= 10 && first.projects >= 3 && first.tasks >= 10, "{first:?}");
    let again = alga_api::demo::seed(&f.ctx, "tenant-a").await.unwrap();
    assert!(again.skipped, "a second run adds nothing");
    let tickets = f.call(&f.a.readonly, "GET", "/api/v1/tickets?limit=1", None).await.expect(200);
    assert_eq!(tickets.body["pagination"]["total"], u64::try_from(first.tickets).unwrap());
    let open = f.call(&f.a.readonly, "GET", "/api/v1/tickets?is_open=false&limit=1", None).await.expect(200);
    assert!(open.body["pagination"]["total"].as_u64().unwrap() > 0, "some tickets are closed");
    let printers = f.call(&f.a.readonly, "GET", "/api/v1/search?query=printer", None).await.expect(200);
    assert!(printers.body["total_count"].as_u64().unwrap() >= 3);
    assert_eq!(f.call(&f.b.admin, "GET", "/api/v1/tickets", None).await.expect(200).body["pagination"]["total"], 0);

    // Sites, devices (some out of warranty, linked to the tickets about them) and a knowledge base.
    assert!(first.locations >= first.clients && first.assets >= 5 * first.clients, "{first:?}");
    assert!(first.linked_tickets >= 10, "{first:?}");
    assert!(first.kb_articles >= 20 && first.kb_published >= 15 && first.kb_published < first.kb_articles, "{first:?}");
    let total = |answer: crate::support::Answer| answer.expect(200).body["pagination"]["total"].as_u64().unwrap();
    let today = chrono::Utc::now().date_naive();
    let expired = f.call(&f.a.readonly, "GET", &format!("/api/v1/assets?warranty_before={today}&limit=1"), None).await;
    let expired = total(expired);
    assert!(expired > 0 && expired < u64::try_from(first.assets).unwrap(), "{expired}");
    let firewalls = f.call(&f.a.readonly, "GET", "/api/v1/search?query=fortigate&types=asset", None).await.expect(200);
    assert_eq!(firewalls.body["total_count"], u64::try_from(first.clients).unwrap());
    let vpn = f.call(&f.a.readonly, "GET", "/api/v1/search?query=vpn+reset&types=kb_article", None).await.expect(200);
    assert_eq!(vpn.data()[0]["title"], "Reset a user's VPN connection", "{}", vpn.body);
    let drafts = f.call(&f.a.readonly, "GET", "/api/v1/kb-articles?status=draft&limit=1", None).await;
    assert_eq!(total(drafts), u64::try_from(first.kb_articles - first.kb_published).unwrap());
    let tickets = f.call(&f.a.readonly, "GET", "/api/v1/assets?search=umbrella-fw-01&limit=1", None).await.expect(200);
    let firewall = tickets.data()[0]["id"].as_str().unwrap().to_owned();
    let history = f.call(&f.a.readonly, "GET", &format!("/api/v1/assets/{firewall}/tickets"), None).await;
    assert!(total(history) > 0, "the firewall's firmware ticket is linked to it");
    // Tags, teams and categories are used: one VIP client with its tickets, a Network team with
    // members and tickets, two-level categories.
    assert!(first.tags >= 3 && first.teams >= 2 && first.ticket_categories >= 8, "{first:?}");
    let vip = f.call(&f.a.readonly, "GET", "/api/v1/clients?tag=vip", None).await.expect(200);
    assert_eq!(vip.body["pagination"]["total"], 1);
    let vip_tickets = f.call(&f.a.readonly, "GET", "/api/v1/tickets?tag=vip&limit=1", None).await.expect(200);
    assert!(vip_tickets.body["pagination"]["total"].as_u64().unwrap() > 0);
    // The VIP client's devices are tagged, and the equipment fixed on site; articles by topic.
    let vip_assets = f.call(&f.a.readonly, "GET", "/api/v1/assets?tag=vip&limit=1", None).await;
    assert_eq!(total(vip_assets), u64::try_from(first.assets / first.clients).unwrap());
    let onsite = total(f.call(&f.a.readonly, "GET", "/api/v1/assets?tag=onsite&limit=1", None).await);
    assert!(onsite >= u64::try_from(first.clients).unwrap() && onsite < u64::try_from(first.assets).unwrap());
    let vpn = f.call(&f.a.readonly, "GET", "/api/v1/kb-articles?tag=vpn", None).await.expect(200);
    assert_eq!(vpn.data()[0]["title"], "Reset a user's VPN connection", "{}", vpn.body);
    assert!(total(f.call(&f.a.readonly, "GET", "/api/v1/kb-articles?tag=printing&limit=1", None).await) >= 3);
    let network = f.call(&f.a.readonly, "GET", "/api/v1/teams?name=network", None).await.expect(200);
    assert!(network.data()[0]["members"].as_array().unwrap().len() >= 2);
    let team = network.data()[0]["id"].as_str().unwrap();
    let routed = f.call(&f.a.readonly, "GET", &format!("/api/v1/tickets?team_id={team}&limit=1"), None).await;
    assert!(routed.expect(200).body["pagination"]["total"].as_u64().unwrap() > 0);
    let subs = f.call(&f.a.readonly, "GET", "/api/v1/ticket-categories?top_level=false", None).await.expect(200);
    assert!(subs.body["pagination"]["total"].as_u64().unwrap() >= 5);
    let children = f.call(&f.a.readonly, "GET", "/api/v1/tickets?source=phone&limit=1", None).await.expect(200);
    assert!(children.body["pagination"]["total"].as_u64().unwrap() > 0);
}
