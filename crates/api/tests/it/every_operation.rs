//! Every operation of the catalog, three ways: its happy path as the tenant's Admin, 403 for a
//! caller without the permission, and 404 for another tenant's Admin on any object id. The table
//! must name every operation, so a new operation cannot go untested.

use std::collections::BTreeSet;

use alga_api::catalog::Access;
use serde_json::{Value, json};

use crate::support::Fixture;

struct Row {
    id: &'static str,
    method: &'static str,
    path: String,
    body: Option<Value>,
}

fn row(id: &'static str, method: &'static str, path: impl Into<String>, body: Option<Value>) -> Row {
    Row { id, method, path: path.into(), body }
}

#[tokio::test]
async fn every_operation_happy_forbidden_and_foreign() {
    let f = Fixture::new().await;
    let a = &f.a.admin;
    let s = f.setup(a).await;
    let ticket = f.ticket(a, &s, "Main ticket").await;
    let comment = f
        .call(a, "POST", &format!("/api/v1/tickets/{ticket}/comments"), Some(json!({"body": "c"})))
        .await
        .expect(201)
        .id();
    let project = f
        .call(a, "POST", "/api/v1/projects", Some(json!({"name": "Main", "client_id": s.client})))
        .await
        .expect(201)
        .id();
    let task = f
        .call(a, "POST", &format!("/api/v1/projects/{project}/tasks"), Some(json!({"title": "t"})))
        .await
        .expect(201)
        .id();
    let entry_body = json!({"work_item_type": "ticket", "work_item_id": ticket, "started_at": "2026-11-24T09:00:00Z", "duration_minutes": 30});
    let entry = f.call(a, "POST", "/api/v1/time-entries", Some(entry_body.clone())).await.expect(201).id();
    let role = f
        .call(a, "POST", "/api/v1/roles", Some(json!({"name": "Custom", "permissions": ["ticket:read"]})))
        .await
        .expect(201)
        .id();
    let user = f
        .call(
            a,
            "POST",
            "/api/v1/users",
            Some(json!({"email": "u@x.example", "display_name": "U", "role_ids": [role]})),
        )
        .await
        .expect(201)
        .id();
    let key = f.call(a, "POST", "/api/v1/api-keys", Some(json!({"user_id": user}))).await.expect(201).id();
    // Objects the delete operations may remove.
    let spare_client = f.call(a, "POST", "/api/v1/clients", Some(json!({"name": "Spare"}))).await.expect(201).id();
    let spare_contact =
        f.call(a, "POST", "/api/v1/contacts", Some(json!({"full_name": "Spare"}))).await.expect(201).id();
    let spare_board = f.call(a, "POST", "/api/v1/boards", Some(json!({"name": "Spare"}))).await.expect(201).id();
    let spare_status = f
        .call(a, "POST", "/api/v1/statuses", Some(json!({"board_id": s.board, "name": "Spare", "position": 99})))
        .await
        .expect(201)
        .id();
    let spare_priority = f.call(a, "POST", "/api/v1/priorities", Some(json!({"name": "Spare"}))).await.expect(201).id();
    let spare_ticket = f.ticket(a, &s, "Spare").await;
    let spare_project = f
        .call(a, "POST", "/api/v1/projects", Some(json!({"name": "Spare", "client_id": s.client})))
        .await
        .expect(201)
        .id();
    let spare_task = f
        .call(a, "POST", &format!("/api/v1/projects/{project}/tasks"), Some(json!({"title": "spare"})))
        .await
        .expect(201)
        .id();
    let spare_user = f
        .call(a, "POST", "/api/v1/users", Some(json!({"email": "s@x.example", "display_name": "S", "role_ids": []})))
        .await
        .expect(201)
        .id();
    let spare_role =
        f.call(a, "POST", "/api/v1/roles", Some(json!({"name": "Spare", "permissions": []}))).await.expect(201).id();
    let location = f
        .call(a, "POST", &format!("/api/v1/clients/{}/locations", s.client), Some(json!({"name": "Head office"})))
        .await
        .expect(201)
        .id();
    let spare_location = f
        .call(a, "POST", &format!("/api/v1/clients/{}/locations", s.client), Some(json!({"name": "Spare"})))
        .await
        .expect(201)
        .id();
    let asset = f
        .call(
            a,
            "POST",
            "/api/v1/assets",
            Some(json!({"asset_type": "laptop", "name": "LT-1", "client_id": s.client, "location_id": location})),
        )
        .await
        .expect(201)
        .id();
    let spare_asset = f
        .call(
            a,
            "POST",
            "/api/v1/assets",
            Some(json!({"asset_type": "printer", "name": "PR-1", "client_id": s.client})),
        )
        .await
        .expect(201)
        .id();
    let article = f
        .call(a, "POST", "/api/v1/kb-articles", Some(json!({"title": "Reset the VPN", "body": "Steps"})))
        .await
        .expect(201)
        .id();
    let spare_article =
        f.call(a, "POST", "/api/v1/kb-articles", Some(json!({"title": "Spare"}))).await.expect(201).id();
    let tag = f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "vip"}))).await.expect(201).id();
    let spare_tag = f.call(a, "POST", "/api/v1/tags", Some(json!({"name": "spare"}))).await.expect(201).id();
    let team = f.call(a, "POST", "/api/v1/teams", Some(json!({"name": "Network"}))).await.expect(201).id();
    let spare_team = f.call(a, "POST", "/api/v1/teams", Some(json!({"name": "Spare"}))).await.expect(201).id();
    let category =
        f.call(a, "POST", "/api/v1/ticket-categories", Some(json!({"name": "Hardware"}))).await.expect(201).id();
    let spare_category =
        f.call(a, "POST", "/api/v1/ticket-categories", Some(json!({"name": "Spare"}))).await.expect(201).id();
    let readonly = f
        .call(a, "GET", "/api/v1/roles", None)
        .await
        .expect(200)
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Read-only")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let rows = vec![
        row("meta.openapi", "GET", "/api/v1/openapi.json", None),
        row("meta.me", "GET", "/api/v1/me", None),
        row("meta.mcp_registry", "GET", "/api/v1/meta/mcp-registry", None),
        row("search.query", "GET", "/api/v1/search?query=main", None),
        row("clients.list", "GET", "/api/v1/clients", None),
        row("clients.create", "POST", "/api/v1/clients", Some(json!({"name": "New"}))),
        row("clients.get", "GET", format!("/api/v1/clients/{}", s.client), None),
        row("clients.update", "PUT", format!("/api/v1/clients/{}", s.client), Some(json!({"notes": "n"}))),
        row("clients.delete", "DELETE", format!("/api/v1/clients/{spare_client}"), None),
        row("clients.locations.list", "GET", format!("/api/v1/clients/{}/locations", s.client), None),
        row(
            "clients.locations.create",
            "POST",
            format!("/api/v1/clients/{}/locations", s.client),
            Some(json!({"name": "Branch"})),
        ),
        row("clients.locations.get", "GET", format!("/api/v1/clients/{}/locations/{location}", s.client), None),
        row(
            "clients.locations.update",
            "PUT",
            format!("/api/v1/clients/{}/locations/{location}", s.client),
            Some(json!({"city": "Springfield"})),
        ),
        row(
            "clients.locations.delete",
            "DELETE",
            format!("/api/v1/clients/{}/locations/{spare_location}", s.client),
            None,
        ),
        row("contacts.list", "GET", "/api/v1/contacts", None),
        row("contacts.create", "POST", "/api/v1/contacts", Some(json!({"full_name": "New"}))),
        row("contacts.get", "GET", format!("/api/v1/contacts/{}", s.contact), None),
        row("contacts.update", "PUT", format!("/api/v1/contacts/{}", s.contact), Some(json!({"phone": "1"}))),
        row("contacts.delete", "DELETE", format!("/api/v1/contacts/{spare_contact}"), None),
        row("boards.list", "GET", "/api/v1/boards", None),
        row("boards.create", "POST", "/api/v1/boards", Some(json!({"name": "New"}))),
        row("boards.get", "GET", format!("/api/v1/boards/{}", s.board), None),
        row("boards.update", "PUT", format!("/api/v1/boards/{}", s.board), Some(json!({"description": "d"}))),
        row("boards.delete", "DELETE", format!("/api/v1/boards/{spare_board}"), None),
        row("statuses.list", "GET", "/api/v1/statuses", None),
        row("statuses.create", "POST", "/api/v1/statuses", Some(json!({"board_id": s.board, "name": "Waiting"}))),
        row("statuses.get", "GET", format!("/api/v1/statuses/{}", s.open), None),
        row("statuses.update", "PUT", format!("/api/v1/statuses/{}", s.open), Some(json!({"position": 2}))),
        row("statuses.delete", "DELETE", format!("/api/v1/statuses/{spare_status}"), None),
        row("priorities.list", "GET", "/api/v1/priorities", None),
        row("priorities.create", "POST", "/api/v1/priorities", Some(json!({"name": "New"}))),
        row("priorities.get", "GET", format!("/api/v1/priorities/{}", s.priority), None),
        row("priorities.update", "PUT", format!("/api/v1/priorities/{}", s.priority), Some(json!({"position": 2}))),
        row("priorities.delete", "DELETE", format!("/api/v1/priorities/{spare_priority}"), None),
        row("tickets.list", "GET", "/api/v1/tickets", None),
        row(
            "tickets.create",
            "POST",
            "/api/v1/tickets",
            Some(json!({"title": "New", "board_id": s.board, "client_id": s.client, "priority_id": s.priority})),
        ),
        row("tickets.get", "GET", format!("/api/v1/tickets/{ticket}"), None),
        row("tickets.update", "PUT", format!("/api/v1/tickets/{ticket}"), Some(json!({"title": "Renamed"}))),
        row("tickets.delete", "DELETE", format!("/api/v1/tickets/{spare_ticket}"), None),
        row("tickets.comments.list", "GET", format!("/api/v1/tickets/{ticket}/comments"), None),
        row(
            "tickets.comments.create",
            "POST",
            format!("/api/v1/tickets/{ticket}/comments"),
            Some(json!({"body": "b"})),
        ),
        row(
            "tickets.comments.update",
            "PUT",
            format!("/api/v1/tickets/{ticket}/comments/{comment}"),
            Some(json!({"body": "edited"})),
        ),
        row("tickets.comments.delete", "DELETE", format!("/api/v1/tickets/{ticket}/comments/{comment}"), None),
        row("tags.list", "GET", "/api/v1/tags", None),
        row("tags.create", "POST", "/api/v1/tags", Some(json!({"name": "New"}))),
        row("tags.get", "GET", format!("/api/v1/tags/{tag}"), None),
        row("tags.update", "PUT", format!("/api/v1/tags/{tag}"), Some(json!({"color": "#123456"}))),
        row("tags.delete", "DELETE", format!("/api/v1/tags/{spare_tag}"), None),
        row("teams.list", "GET", "/api/v1/teams", None),
        row("teams.create", "POST", "/api/v1/teams", Some(json!({"name": "New"}))),
        row("teams.get", "GET", format!("/api/v1/teams/{team}"), None),
        row("teams.update", "PUT", format!("/api/v1/teams/{team}"), Some(json!({"description": "d"}))),
        row("teams.delete", "DELETE", format!("/api/v1/teams/{spare_team}"), None),
        row("teams.members.set", "PUT", format!("/api/v1/teams/{team}/members"), Some(json!({"user_ids": [user]}))),
        row("ticket_categories.list", "GET", "/api/v1/ticket-categories", None),
        row("ticket_categories.create", "POST", "/api/v1/ticket-categories", Some(json!({"name": "New"}))),
        row("ticket_categories.get", "GET", format!("/api/v1/ticket-categories/{category}"), None),
        row(
            "ticket_categories.update",
            "PUT",
            format!("/api/v1/ticket-categories/{category}"),
            Some(json!({"name": "Devices"})),
        ),
        row("ticket_categories.delete", "DELETE", format!("/api/v1/ticket-categories/{spare_category}"), None),
        row("projects.list", "GET", "/api/v1/projects", None),
        row("projects.create", "POST", "/api/v1/projects", Some(json!({"name": "New", "client_id": s.client}))),
        row("projects.get", "GET", format!("/api/v1/projects/{project}"), None),
        row("projects.update", "PUT", format!("/api/v1/projects/{project}"), Some(json!({"status": "active"}))),
        row("projects.delete", "DELETE", format!("/api/v1/projects/{spare_project}"), None),
        row("projects.tasks.list", "GET", format!("/api/v1/projects/{project}/tasks"), None),
        row(
            "projects.tasks.create",
            "POST",
            format!("/api/v1/projects/{project}/tasks"),
            Some(json!({"title": "New"})),
        ),
        row("projects.tasks.get", "GET", format!("/api/v1/projects/{project}/tasks/{task}"), None),
        row(
            "projects.tasks.update",
            "PUT",
            format!("/api/v1/projects/{project}/tasks/{task}"),
            Some(json!({"status": "done"})),
        ),
        row("projects.tasks.delete", "DELETE", format!("/api/v1/projects/{project}/tasks/{spare_task}"), None),
        row("time_entries.list", "GET", "/api/v1/time-entries", None),
        row("time_entries.create", "POST", "/api/v1/time-entries", Some(entry_body)),
        row("time_entries.get", "GET", format!("/api/v1/time-entries/{entry}"), None),
        row("time_entries.update", "PUT", format!("/api/v1/time-entries/{entry}"), Some(json!({"notes": "n"}))),
        row("time_entries.delete", "DELETE", format!("/api/v1/time-entries/{entry}"), None),
        row("assets.list", "GET", "/api/v1/assets", None),
        row(
            "assets.create",
            "POST",
            "/api/v1/assets",
            Some(json!({"asset_type": "server", "name": "SRV-1", "client_id": s.client})),
        ),
        row("assets.get", "GET", format!("/api/v1/assets/{asset}"), None),
        row("assets.update", "PUT", format!("/api/v1/assets/{asset}"), Some(json!({"status": "in_repair"}))),
        row("assets.delete", "DELETE", format!("/api/v1/assets/{spare_asset}"), None),
        row(
            "tickets.assets.set",
            "PUT",
            format!("/api/v1/tickets/{ticket}/assets"),
            Some(json!({"asset_ids": [asset]})),
        ),
        row("tickets.assets.list", "GET", format!("/api/v1/tickets/{ticket}/assets"), None),
        row("assets.tickets.list", "GET", format!("/api/v1/assets/{asset}/tickets"), None),
        row("kb_articles.list", "GET", "/api/v1/kb-articles", None),
        row("kb_articles.create", "POST", "/api/v1/kb-articles", Some(json!({"title": "New"}))),
        row("kb_articles.get", "GET", format!("/api/v1/kb-articles/{article}"), None),
        row("kb_articles.update", "PUT", format!("/api/v1/kb-articles/{article}"), Some(json!({"body": "More"}))),
        row("kb_articles.delete", "DELETE", format!("/api/v1/kb-articles/{spare_article}"), None),
        row(
            "kb_articles.status.set",
            "PUT",
            format!("/api/v1/kb-articles/{article}/status"),
            Some(json!({"status": "published"})),
        ),
        row("users.list", "GET", "/api/v1/users", None),
        row(
            "users.create",
            "POST",
            "/api/v1/users",
            Some(json!({"email": "new@x.example", "display_name": "N", "role_ids": []})),
        ),
        row("users.get", "GET", format!("/api/v1/users/{user}"), None),
        row("users.update", "PUT", format!("/api/v1/users/{user}"), Some(json!({"display_name": "V"}))),
        row("users.delete", "DELETE", format!("/api/v1/users/{spare_user}"), None),
        row("users.roles.set", "PUT", format!("/api/v1/users/{user}/roles"), Some(json!({"role_ids": [readonly]}))),
        row("roles.list", "GET", "/api/v1/roles", None),
        row("roles.create", "POST", "/api/v1/roles", Some(json!({"name": "New", "permissions": ["client:read"]}))),
        row("roles.get", "GET", format!("/api/v1/roles/{role}"), None),
        row("roles.update", "PUT", format!("/api/v1/roles/{role}"), Some(json!({"description": "d"}))),
        row("roles.delete", "DELETE", format!("/api/v1/roles/{spare_role}"), None),
        row("permissions.list", "GET", "/api/v1/permissions", None),
        row("api_keys.list", "GET", "/api/v1/api-keys", None),
        row("api_keys.create", "POST", "/api/v1/api-keys", Some(json!({"description": "d"}))),
        row("api_keys.delete", "DELETE", format!("/api/v1/api-keys/{key}"), None),
    ];

    let catalog = alga_api::catalog();
    let declared: BTreeSet<&str> = catalog.operations().iter().map(|op| op.meta.id).collect();
    let tested: BTreeSet<&str> = rows.iter().map(|r| r.id).collect();
    assert_eq!(declared, tested, "every declared operation has exactly one row here");

    // A user without roles: every permission-guarded operation answers 403, before anything else.
    let nobody_user = f
        .call(
            a,
            "POST",
            "/api/v1/users",
            Some(json!({"email": "nobody@x.example", "display_name": "Nobody", "role_ids": []})),
        )
        .await
        .expect(201)
        .id();
    let nobody_key = f.call(a, "POST", "/api/v1/api-keys", Some(json!({"user_id": nobody_user}))).await.expect(201);
    let nobody = f.ctx.auth.authenticate(nobody_key.data()["key"].as_str().unwrap()).await.unwrap();
    for r in &rows {
        let op = catalog.get(r.id).unwrap();
        let answer = f.call(&nobody, r.method, &r.path, r.body.clone()).await;
        match op.meta.access {
            Access::Permission(p) => {
                assert_eq!(answer.status, 403, "{}: {}", r.id, answer.body);
                assert_eq!(
                    answer.body["error"]["message"],
                    format!("Permission denied: cannot {} {}", p.action, p.resource)
                );
            }
            Access::Authenticated | Access::Public => assert_eq!(answer.status, 200, "{}: {}", r.id, answer.body),
        }
    }

    // Another tenant's Admin: every id of tenant A is a 404, exactly like a missing id.
    for r in rows.iter().filter(|r| catalog.get(r.id).unwrap().meta.path.contains('{')) {
        let answer = f.call(&f.b.admin, r.method, &r.path, r.body.clone()).await;
        assert_eq!(answer.status, 404, "{} as tenant B: {}", r.id, answer.body);
        let missing = f
            .call(
                &f.b.admin,
                r.method,
                &r.path.replace(&ticket, "00000000-0000-7000-8000-000000000000"),
                r.body.clone(),
            )
            .await;
        assert_eq!(missing.body["error"]["code"], answer.body["error"]["code"]);
    }

    // Bad input changes nothing and names what is wrong: an unknown body field, an invalid page size.
    for r in &rows {
        let op = catalog.get(r.id).unwrap();
        if let Some(Value::Object(body)) = &r.body {
            let mut body = body.clone();
            body.insert("unexpected_field".to_owned(), json!(1));
            let answer = f.call(a, r.method, &r.path, Some(Value::Object(body))).await;
            assert_eq!(answer.status, 400, "{}: {}", r.id, answer.body);
            assert!(
                answer.body["error"]["message"].as_str().unwrap().contains("unexpected_field"),
                "{}: {}",
                r.id,
                answer.body
            );
        }
        if op.query_params.iter().any(|p| p.name == "limit") {
            let sep = if r.path.contains('?') { '&' } else { '?' };
            let answer = f.call(a, r.method, &format!("{}{sep}limit=0", r.path), None).await;
            assert_eq!((answer.status, answer.code()), (400, "validation_error"), "{}: {}", r.id, answer.body);
        }
    }

    // The happy path, in table order, as tenant A's Admin.
    for r in &rows {
        let expected = catalog.get(r.id).unwrap().meta.status;
        let answer = f.call(a, r.method, &r.path, r.body.clone()).await;
        assert_eq!(answer.status, expected, "{}: {}", r.id, answer.body);
    }
}
