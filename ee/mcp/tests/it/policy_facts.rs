//! The facts policies decide on are those the operation acts on: date-times read as the
//! operation reads them (a value the operation refuses is its 400 before any policy; that a value
//! the engine cannot type denies is shown by the engine's unit tests), the resulting length of a
//! time entry, tags by their normalized key, and the fields a body clears. On SQLite or, with
//! ALGA_TEST_DATABASE_URL, PostgreSQL.

use serde_json::{Value, json};

use super::policy_calls::{exec, first_ticket, result, store_set, technician, tenant_id, text, unlimited};
use crate::support::{Env, keyed_agent};

fn template(id: &str) -> &'static str {
    alga_ee_mcp::policy::engine::templates().into_iter().find(|t| t.id == id).map(|t| t.source).unwrap()
}

/// A 60-minute entry from 09:00 on the ticket, logged by an admin for the technician.
async fn an_hour_entry(env: &Env, ticket: &str, user: &str) -> String {
    let body = json!({
        "work_item_type": "ticket", "work_item_id": ticket, "user_id": user,
        "started_at": "2026-11-24T09:00:00Z", "duration_minutes": 60
    });
    let created = env.api(&env.a.admin_key, "POST", "/api/v1/time-entries", Some(body)).await.expect(201);
    created.data()["id"].as_str().unwrap().to_owned()
}

fn update_entry(id: &str, body: &Value) -> Value {
    json!({ "entryId": "time_entries.update", "path": { "id": id }, "body": body })
}

async fn entry_minutes(env: &Env, id: &str) -> String {
    text(env, format!("SELECT CAST(duration_minutes AS TEXT) AS value FROM time_entries WHERE id = '{id}'")).await
}

#[actix_web::test]
async fn policy_an_update_giving_only_the_end_is_decided_on_the_entrys_resulting_length() {
    let env = unlimited().await;
    let a = &env.a;
    let tenant = tenant_id(&env, a).await;
    let (_, key) = keyed_agent(&env, a, "timekeeper", &[&a.technician_role]).await;
    let ticket = first_ticket(&env).await;
    let user = technician(&env).await;
    let entry = an_hour_entry(&env, &ticket, &user).await;
    store_set(&env, &tenant, 1, "enforce", template("time-entry-at-most-8-hours")).await;

    // 09:00 (the entry's) to 18:00 (the body's): 9 hours, though the body names no duration.
    let long = env.call_api("/api/mcp", &key, update_entry(&entry, &json!({ "ended_at": "2026-11-24T18:00:00Z" })));
    let long = long.await.expect(200);
    assert_eq!(result(&long)["status"], 403, "{}", long.body);
    assert_eq!(entry_minutes(&env, &entry).await, "60", "nothing changed");
    // Written the relaxed way the operation also accepts.
    let relaxed = update_entry(&entry, &json!({ "ended_at": "2026-11-24 18:00:00Z" }));
    env.call_status(&key, relaxed, 403).await;
    // The start moved back alone keeps the duration: allowed.
    let moved = update_entry(&entry, &json!({ "started_at": "2026-11-24T01:00:00Z" }));
    env.call_status(&key, moved, 200).await;
    // Now from 01:00: an end at 09:30 makes 8.5 hours.
    let over = update_entry(&entry, &json!({ "ended_at": "2026-11-24T09:30:00Z" }));
    env.call_status(&key, over, 403).await;
    let fine = update_entry(&entry, &json!({ "ended_at": "2026-11-24T09:00:00Z" }));
    env.call_status(&key, fine, 200).await;
    assert_eq!(entry_minutes(&env, &entry).await, "480");
    env.stop().await;
}

#[actix_web::test]
async fn policy_a_date_time_written_as_the_operation_accepts_it_is_seen_by_the_policy() {
    let env = unlimited().await;
    let a = &env.a;
    let tenant = tenant_id(&env, a).await;
    let (_, key) = keyed_agent(&env, a, "timekeeper", &[&a.technician_role]).await;
    let ticket = first_ticket(&env).await;
    let user = technician(&env).await;
    let entry = an_hour_entry(&env, &ticket, &user).await;
    let no_late_ends = r#"@id("no-late-ends")
forbid (principal is Alga::Agent, action == Alga::Action::"time_entries.update", resource)
when { context.body has ended_at && context.body.ended_at > datetime("2026-11-24T17:00:00Z") };
"#;
    store_set(&env, &tenant, 1, "enforce", no_late_ends).await;

    // No 'T': the operation takes it, so the policy sees it.
    let late = env.call_api("/api/mcp", &key, update_entry(&entry, &json!({ "ended_at": "2026-11-24 18:00:00Z" })));
    let late = late.await.expect(200);
    assert_eq!(result(&late)["status"], 403, "{}", late.body);
    assert_eq!(entry_minutes(&env, &entry).await, "60");
    let early = env.call_api("/api/mcp", &key, update_entry(&entry, &json!({ "ended_at": "2026-11-24 11:00:00Z" })));
    let early = early.await.expect(200);
    assert_eq!(result(&early)["status"], 200, "{}", early.body);
    assert_eq!(entry_minutes(&env, &entry).await, "120");
    env.stop().await;
}

/// A role that may change tickets, clients, tags and statuses: only the template stands in the way.
async fn vip_role(env: &Env) -> String {
    let body = json!({ "name": "Account agent", "permissions": [
        "ticket:read", "ticket:create", "ticket:update", "client:read", "client:update", "tag:read", "tag:update",
        "status:read", "status:update"
    ] });
    let role = env.api(&env.a.admin_key, "POST", "/api/v1/roles", Some(body)).await.expect(201);
    role.data()["id"].as_str().unwrap().to_owned()
}

fn closed_status(ticket: &str) -> String {
    format!(
        "SELECT s.id AS value FROM statuses s JOIN tickets t ON t.tenant_id = s.tenant_id AND t.board_id = s.board_id \
         WHERE t.id = '{ticket}' AND s.is_closed = true ORDER BY s.position LIMIT 1"
    )
}

#[actix_web::test]
async fn policy_the_vip_template_holds_against_case_moves_retagging_and_tag_or_status_edits() {
    let env = unlimited().await;
    let a = &env.a;
    let tenant = tenant_id(&env, a).await;
    let role = vip_role(&env).await;
    let (_, key) = keyed_agent(&env, a, "account-agent", &[&role]).await;
    let ticket = first_ticket(&env).await;
    let other = env.api(&a.admin_key, "GET", "/api/v1/tickets?limit=2", None).await.expect(200).data()[1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The tag is spelt "VIP" now; its key stays "vip".
    exec(&env, format!("UPDATE tags SET name = 'VIP' WHERE tenant_id = '{tenant}' AND name_key = 'vip'")).await;
    let vip = env.api(&a.admin_key, "POST", "/api/v1/clients", Some(json!({ "name": "Big Corp", "tags": ["VIP"] })));
    let vip = vip.await.expect(201).data()["id"].as_str().unwrap().to_owned();
    let plain = env.api(&a.admin_key, "POST", "/api/v1/clients", Some(json!({ "name": "Small Shop" })));
    let plain = plain.await.expect(201).data()["id"].as_str().unwrap().to_owned();
    for (t, client) in [(&ticket, &vip), (&other, &plain)] {
        let unlink = Some(json!({ "asset_ids": [] }));
        env.api(&a.admin_key, "PUT", &format!("/api/v1/tickets/{t}/assets"), unlink).await.expect(200);
        let body = Some(json!({ "client_id": client, "contact_id": null }));
        env.api(&a.admin_key, "PUT", &format!("/api/v1/tickets/{t}"), body).await.expect(200);
    }
    let close_vip = text(&env, closed_status(&ticket)).await;
    let close_other = text(&env, closed_status(&other)).await;
    store_set(&env, &tenant, 1, "enforce", template("no-closing-vip-tickets")).await;
    let update = |entry: &str, id: &str, body: Value| json!({ "entryId": entry, "path": { "id": id }, "body": body });
    let refused_by = |answer: &crate::support::Answer, policy: &str| {
        assert_eq!(result(answer)["status"], 403, "{}", answer.body);
        let said = answer.body["result"]["content"][0]["text"].as_str().unwrap().to_owned();
        assert!(said.contains(&format!("`{policy}`")), "{said}");
    };

    // Closing the "VIP" client's ticket: refused whatever the tag's case.
    let close = env.call_api("/api/mcp", &key, update("tickets.update", &ticket, json!({ "status_id": close_vip })));
    refused_by(&close.await.expect(200), "no-closing-vip-tickets");
    // Moving it off the VIP client first: refused.
    let away = json!({ "client_id": plain, "contact_id": null });
    let away = env.call_api("/api/mcp", &key, update("tickets.update", &ticket, away)).await.expect(200);
    refused_by(&away, "no-moving-vip-tickets");
    // Moving another ticket onto the VIP client and closing it in one call: refused.
    let onto = json!({ "client_id": vip, "contact_id": null, "status_id": close_other });
    let onto = env.call_api("/api/mcp", &key, update("tickets.update", &other, onto)).await.expect(200);
    refused_by(&onto, "no-closing-vip-tickets");
    // Untagging the client: refused.
    let untag = env.call_api("/api/mcp", &key, update("clients.update", &vip, json!({ "tags": [] }))).await;
    refused_by(&untag.expect(200), "no-untagging-vip-clients");
    // Renaming the tag, or making the ticket's own status a closed one: refused.
    let tag =
        text(&env, format!("SELECT id AS value FROM tags WHERE tenant_id = '{tenant}' AND name_key = 'vip'")).await;
    let rename = env.call_api("/api/mcp", &key, update("tags.update", &tag, json!({ "name": "former" }))).await;
    refused_by(&rename.expect(200), "no-agent-tag-or-status-edits");
    let status =
        text(&env, format!("SELECT status_id AS value FROM tickets WHERE tenant_id = '{tenant}' AND id = '{ticket}'"))
            .await;
    let flip = update("statuses.update", &status, json!({ "is_closed": true }));
    refused_by(&env.call_api("/api/mcp", &key, flip).await.expect(200), "no-agent-tag-or-status-edits");

    let client_of = text(&env, format!("SELECT client_id AS value FROM tickets WHERE id = '{ticket}'")).await;
    assert_eq!(client_of, vip, "the ticket stayed with its client");
    let tags = env.api(&a.admin_key, "GET", &format!("/api/v1/clients/{vip}"), None).await.expect(200);
    assert_eq!(tags.data()["tags"], json!(["VIP"]), "the client kept its tag");

    // Creating a VIP client's ticket without a status, on a board whose first status (the one a
    // ticket starts in) is a closed one, as another process arranged: refused too.
    let board = text(&env, format!("SELECT board_id AS value FROM tickets WHERE id = '{other}'")).await;
    let priority = text(&env, format!("SELECT priority_id AS value FROM tickets WHERE id = '{other}'")).await;
    exec(&env, format!("UPDATE statuses SET position = -1 WHERE id = '{close_other}'")).await;
    let create = |client: &str| {
        let body = json!({ "title": "Printer jam", "board_id": board, "priority_id": priority, "client_id": client });
        json!({ "entryId": "tickets.create", "body": body })
    };
    let created_closed = env.call_api("/api/mcp", &key, create(&vip)).await.expect(200);
    refused_by(&created_closed, "no-closing-vip-tickets");
    env.call_status(&key, create(&plain), 201).await;
    let vip_tickets = env.api(&a.admin_key, "GET", &format!("/api/v1/tickets?client_id={vip}"), None).await.expect(200);
    assert_eq!(vip_tickets.data().as_array().map(Vec::len), Some(1), "nothing was created for the VIP client");

    // Other changes stay allowed: closing a plain client's ticket, retitling the VIP one.
    let plain_close = update("tickets.update", &other, json!({ "status_id": close_other }));
    env.call_status(&key, plain_close, 200).await;
    let retitle = update("tickets.update", &ticket, json!({ "title": "Still open" }));
    env.call_status(&key, retitle, 200).await;
    env.stop().await;
}

#[actix_web::test]
async fn policy_a_body_clearing_a_field_is_seen_as_cleared() {
    let env = unlimited().await;
    let a = &env.a;
    let tenant = tenant_id(&env, a).await;
    let (_, key) = keyed_agent(&env, a, "dispatcher", &[&a.technician_role]).await;
    let ticket = first_ticket(&env).await;
    let user = technician(&env).await;
    let assign = Some(json!({ "assigned_to": user }));
    env.api(&a.admin_key, "PUT", &format!("/api/v1/tickets/{ticket}"), assign).await.expect(200);
    let keep_assigned = r#"@id("no-unassigning")
@reason("Agents do not unassign tickets.")
forbid (principal is Alga::Agent, action == Alga::Action::"tickets.update", resource)
when { context.cleared.contains("assigned_to") };
"#;
    store_set(&env, &tenant, 1, "enforce", keep_assigned).await;
    let update = |body: Value| json!({ "entryId": "tickets.update", "path": { "id": ticket }, "body": body });

    env.call_status(&key, update(json!({ "assigned_to": null })), 403).await;
    let assigned = text(&env, format!("SELECT assigned_to AS value FROM tickets WHERE id = '{ticket}'")).await;
    assert_eq!(assigned, user, "still assigned");
    env.call_status(&key, update(json!({ "title": "Renamed" })), 200).await;
    env.call_status(&key, update(json!({ "assigned_to": user })), 200).await;
    env.stop().await;
}
