//! Policies on the call path: decided after the role check on every governed call, enforced or
//! shadowed, recorded in the audit; sets and records changed by plain SQL (another process)
//! apply to the next call. On SQLite or, with ALGA_TEST_DATABASE_URL, PostgreSQL.

use serde_json::{Value, json};

use crate::support::{Env, Tenant, keyed_agent};

/// Writes are not rate-limited in the way of these tests.
pub(super) async fn unlimited() -> Env {
    Env::with(alga_ee_mcp::Settings {
        mcp_call_burst: 100.0,
        mcp_writes_per_second: 100.0,
        ..alga_ee_mcp::Settings::default()
    })
    .await
}

pub(super) async fn exec(env: &Env, statement: String) {
    env.ctx
        .db
        .run(move |conn| {
            diesel::RunQueryDsl::execute(diesel::sql_query(statement), conn).map_err(alga_core::ApiError::from)
        })
        .await
        .unwrap();
}

pub(super) async fn text(env: &Env, statement: String) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    env.ctx
        .db
        .run(move |conn| {
            diesel::RunQueryDsl::get_result::<Row>(diesel::sql_query(statement), conn)
                .map_err(alga_core::ApiError::from)
        })
        .await
        .unwrap()
        .value
}

pub(super) async fn tenant_id(env: &Env, t: &Tenant) -> String {
    let me = env.api(&t.admin_key, "GET", "/api/v1/me", None).await.expect(200);
    me.data()["tenant"]["id"].as_str().unwrap().to_owned()
}

/// Stores a policy version as another process would: a plain insert.
pub(super) async fn store_set(env: &Env, tenant: &str, version: i64, mode: &str, source: &str) {
    let source = source.replace('\'', "''");
    exec(
        env,
        format!(
            "INSERT INTO policy_sets (tenant_id, version, source, mode, created_by, created_at) \
             VALUES ('{tenant}', {version}, '{source}', '{mode}', NULL, CURRENT_TIMESTAMP)"
        ),
    )
    .await;
}

async fn role_id(env: &Env, t: &Tenant, name: &str) -> String {
    let roles = env.api(&t.admin_key, "GET", "/api/v1/roles?limit=100", None).await.expect(200);
    let role = roles.data().as_array().unwrap().iter().find(|r| r["name"] == name).unwrap().clone();
    role["id"].as_str().unwrap().to_owned()
}

/// Demo data in tenant A; the id of one of its tickets.
pub(super) async fn first_ticket(env: &Env) -> String {
    alga_api::demo::seed(&env.ctx, "tenant-a").await.unwrap();
    let list = env.api(&env.a.admin_key, "GET", "/api/v1/tickets?limit=1", None).await.expect(200);
    list.data()[0]["id"].as_str().unwrap().to_owned()
}

pub(super) fn result(answer: &crate::support::Answer) -> &Value {
    &answer.body["result"]["structuredContent"]
}

pub(super) fn ids(row: &Value) -> Vec<String> {
    serde_json::from_str(row["policy_ids"].as_str().unwrap()).unwrap()
}

const NO_DELETES: &str = r#"@id("no-agent-deletes")
@reason("Agents do not delete records.")
forbid (principal is Alga::Agent, action in Alga::Action::"delete", resource);
"#;

#[actix_web::test]
async fn a_forbidden_delete_is_hidden_refused_by_name_changes_nothing_and_is_audited() {
    let env = Env::start().await;
    let tenant = tenant_id(&env, &env.a).await;
    let cleaner = json!({ "name": "Cleaner", "permissions": ["ticket:read", "ticket:delete"] });
    let role = env.api(&env.a.admin_key, "POST", "/api/v1/roles", Some(cleaner)).await.expect(201);
    let role = role.data()["id"].as_str().unwrap().to_owned();
    let (agent, key) = keyed_agent(&env, &env.a, "cleaner", &[&role]).await;
    let ticket = first_ticket(&env).await;
    let search = json!({ "name": "search_api_registry", "arguments": { "query": "delete a ticket", "limit": 25 } });
    let found = |answer: &crate::support::Answer| -> Vec<String> {
        result(answer)["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["entryId"].as_str().unwrap().to_owned())
            .collect()
    };
    let before = env.rpc("/api/mcp", &key, "tools/call", search.clone()).await.expect(200);
    assert!(found(&before).contains(&"tickets.delete".to_owned()), "{}", before.body);

    store_set(&env, &tenant, 1, "enforce", NO_DELETES).await;
    let after = env.rpc("/api/mcp", &key, "tools/call", search).await.expect(200);
    assert!(!found(&after).iter().any(|id| id.ends_with(".delete")), "hidden: {}", after.body);

    let call = json!({ "entryId": "tickets.delete", "path": { "id": ticket } });
    let refused = env.call_api("/api/mcp", &key, call).await.expect(200);
    assert_eq!(refused.body["result"]["isError"], true, "{}", refused.body);
    assert_eq!(result(&refused)["status"], 403);
    let said = refused.body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(said.contains("Refused by policy `no-agent-deletes`: Agents do not delete records."), "{said}");
    env.api(&env.a.admin_key, "GET", &format!("/api/v1/tickets/{ticket}"), None).await.expect(200);

    let rows = env.audit(&env.a, &format!("agent_id={agent}")).await;
    let row = &rows[0];
    assert_eq!((row["operation_id"].as_str(), row["decision"].as_str()), (Some("tickets.delete"), Some("deny")));
    assert_eq!((row["reason"].as_str(), row["status_code"].as_i64()), (Some("policy"), Some(403)));
    assert_eq!((row["policy_decision"].as_str(), row["policy_mode"].as_str()), (Some("deny"), Some("enforce")));
    assert_eq!((ids(row), row["policy_version"].as_i64()), (vec!["no-agent-deletes".to_owned()], Some(1)));
    let input: Value = serde_json::from_str(row["policy_input"].as_str().unwrap()).unwrap();
    assert_eq!(input["principal"]["id"], agent.as_str());
    assert_eq!(input["call"]["operation_id"], "tickets.delete");
    assert_eq!(input["call"]["record"]["id"], ticket.as_str(), "the ticket's attributes were read: {input}");
    // The search calls before the set: no policy columns.
    assert!(rows.last().unwrap().get("policy_decision").is_none(), "{}", rows.last().unwrap());
    env.stop().await;
}

#[actix_web::test]
async fn record_attributes_are_read_in_the_call_never_cached_and_a_new_version_applies_next_call() {
    let env = unlimited().await;
    let a = &env.a;
    let tenant = tenant_id(&env, a).await;
    let (agent, key) = keyed_agent(&env, a, "closer", &[&a.technician_role]).await;
    let ticket = first_ticket(&env).await;
    let vip = env.api(&a.admin_key, "POST", "/api/v1/clients", Some(json!({ "name": "Big Corp", "tags": ["vip"] })));
    let vip = vip.await.expect(201).data()["id"].as_str().unwrap().to_owned();
    let other = env.api(&a.admin_key, "GET", "/api/v1/tickets?limit=2", None).await.expect(200).data()[1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let plain = env.api(&a.admin_key, "POST", "/api/v1/clients", Some(json!({ "name": "Small Shop" })));
    let plain = plain.await.expect(201).data()["id"].as_str().unwrap().to_owned();
    for (t, client) in [(&ticket, &vip), (&other, &plain)] {
        // A ticket moves to another client only without the first client's devices linked.
        let unlink = Some(json!({ "asset_ids": [] }));
        env.api(&a.admin_key, "PUT", &format!("/api/v1/tickets/{t}/assets"), unlink).await.expect(200);
        let body = Some(json!({ "client_id": client, "contact_id": null }));
        env.api(&a.admin_key, "PUT", &format!("/api/v1/tickets/{t}"), body).await.expect(200);
    }
    let closed = |t: &str| {
        format!(
            "SELECT s.id AS value FROM statuses s JOIN tickets t ON t.tenant_id = s.tenant_id AND t.board_id = s.board_id \
             WHERE t.id = '{t}' AND s.is_closed = true ORDER BY s.position LIMIT 1"
        )
    };
    let close_vip = text(&env, closed(&ticket)).await;
    let close_other = text(&env, closed(&other)).await;
    store_set(
        &env,
        &tenant,
        1,
        "enforce",
        r#"@id("no-vip-close")
@reason("VIP tickets are closed by people.")
forbid (principal is Alga::Agent, action == Alga::Action::"tickets.update", resource is Alga::Ticket)
when { context.closes && resource.client.tags.contains("vip") };
"#,
    )
    .await;
    let close = |id: &str, status: &str| json!({ "entryId": "tickets.update", "path": { "id": id }, "body": { "status_id": status } });

    let refused = env.call_status(&key, close(&ticket, &close_vip), 403).await;
    let said = refused.body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(said.contains("Refused by policy `no-vip-close`: VIP tickets are closed by people."), "{said}");
    let still = env.api(&a.admin_key, "GET", &format!("/api/v1/tickets/{ticket}"), None).await.expect(200);
    assert_ne!(still.data()["status_id"], close_vip.as_str(), "the refused write changed nothing");

    // Another status change of the VIP ticket does not close it: allowed.
    let open = text(&env, closed(&ticket).replace("is_closed = true", "is_closed = false")).await;
    env.call_status(&key, close(&ticket, &open), 200).await;

    env.call_status(&key, close(&other, &close_other), 200).await;
    let row = &env.audit(a, &format!("agent_id={agent}")).await[0];
    assert_eq!((row["decision"].as_str(), row["policy_decision"].as_str()), (Some("allow"), Some("allow")));
    assert_eq!((ids(row), row["policy_version"].as_i64()), (Vec::<String>::new(), Some(1)));

    // The client's tag removed by another process: the very next call reads the record anew.
    exec(&env, format!("DELETE FROM taggings WHERE tenant_id = '{tenant}' AND entity_id = '{vip}'")).await;
    env.call_status(&key, close(&ticket, &close_vip), 200).await;

    // A new version (every ticket update refused) stored by plain SQL applies to the next call.
    store_set(
        &env,
        &tenant,
        2,
        "enforce",
        r#"@id("frozen")
forbid (principal, action == Alga::Action::"tickets.update", resource);
"#,
    )
    .await;
    env.call_status(&key, close(&other, &close_other), 403).await;
    let row = &env.audit(a, &format!("agent_id={agent}")).await[0];
    assert_eq!((ids(row), row["policy_version"].as_i64()), (vec!["frozen".to_owned()], Some(2)));
    // An empty newest version: roles alone, no policy columns.
    store_set(&env, &tenant, 3, "enforce", "").await;
    env.call_status(&key, close(&other, &close_other), 200).await;
    assert!(env.audit(a, &format!("agent_id={agent}")).await[0].get("policy_decision").is_none());
    env.stop().await;
}

const EIGHT_HOURS: &str = r#"@id("time-entry-at-most-8-hours")
@reason("A time entry by an agent lasts at most 8 hours.")
forbid (principal is Alga::Agent, action == Alga::Action::"time_entries.create", resource)
when { context.body has duration_minutes && context.body.duration_minutes > 480 };
"#;

/// The technician's user id, whose time the agents log.
pub(super) async fn technician(env: &Env) -> String {
    let me = env.api(&env.a.tech_key, "GET", "/api/v1/me", None).await.expect(200);
    me.data()["user"]["id"].as_str().unwrap().to_owned()
}

fn entry(ticket: &str, user: &str, minutes: i64) -> Value {
    json!({ "entryId": "time_entries.create", "body": {
        "work_item_type": "ticket", "work_item_id": ticket, "user_id": user, "started_at": "2026-11-24T09:00:00Z",
        "duration_minutes": minutes, "notes": "policy test"
    } })
}

#[actix_web::test]
async fn an_eight_hour_rule_refuses_long_entries_and_shadow_mode_only_records() {
    let env = Env::start().await;
    let a = &env.a;
    let tenant = tenant_id(&env, a).await;
    let (agent, key) = keyed_agent(&env, a, "timekeeper", &[&a.technician_role]).await;
    let ticket = first_ticket(&env).await;
    let user = technician(&env).await;
    let count =
        || text(&env, format!("SELECT CAST(COUNT(*) AS TEXT) AS value FROM time_entries WHERE tenant_id = '{tenant}'"));
    let before = count().await;

    store_set(&env, &tenant, 1, "enforce", EIGHT_HOURS).await;
    env.call_status(&key, entry(&ticket, &user, 600), 403).await;
    assert_eq!(count().await, before, "nothing logged");
    env.call_status(&key, entry(&ticket, &user, 60), 201).await;

    // Shadow: the call goes by roles alone; the row says what the policies would have decided.
    store_set(&env, &tenant, 2, "shadow", EIGHT_HOURS).await;
    env.call_status(&key, entry(&ticket, &user, 600), 201).await;
    let row = &env.audit(a, &format!("agent_id={agent}")).await[0];
    assert_eq!((row["decision"].as_str(), row["policy_decision"].as_str()), (Some("allow"), Some("deny")));
    assert_eq!((row["policy_mode"].as_str(), row["policy_version"].as_i64()), (Some("shadow"), Some(2)));
    assert_eq!(ids(row), vec!["time-entry-at-most-8-hours".to_owned()]);
    let input: Value = serde_json::from_str(row["policy_input"].as_str().unwrap()).unwrap();
    assert_eq!(input["call"]["body"]["duration_minutes"], 600);
    env.stop().await;
}

#[actix_web::test]
async fn a_policy_never_widens_roles() {
    let env = Env::start().await;
    let a = &env.a;
    let tenant = tenant_id(&env, a).await;
    let read_only = role_id(&env, a, "Read-only").await;
    let (agent, key) = keyed_agent(&env, a, "reader", &[&read_only]).await;
    let ticket = first_ticket(&env).await;
    store_set(&env, &tenant, 1, "enforce", EIGHT_HOURS).await;
    let write = json!({ "entryId": "tickets.update", "path": { "id": ticket }, "body": { "title": "renamed" } });
    env.call_status(&key, write, 403).await;
    let row = &env.audit(a, &format!("agent_id={agent}")).await[0];
    assert_eq!((row["decision"].as_str(), row["reason"].as_str()), (Some("deny"), Some("forbidden")));
    // Refused by roles before any policy was asked.
    assert!(row.get("policy_decision").is_none(), "{row}");
    env.stop().await;
}

/// A version forbidding every time entry is stored while agents log time: each committed entry's
/// row names the version it was decided on, and none commits after the forbidding version.
#[actix_web::test]
async fn writes_racing_a_new_version_are_each_decided_on_a_version_that_held_at_commit() {
    let env = unlimited().await;
    let a = &env.a;
    let tenant = tenant_id(&env, a).await;
    let (agent, key) = keyed_agent(&env, a, "racer", &[&a.technician_role]).await;
    let ticket = first_ticket(&env).await;
    let user = technician(&env).await;
    store_set(&env, &tenant, 1, "enforce", EIGHT_HOURS).await;
    let writers = (0..12).map(|_| env.call_api("/api/mcp", &key, entry(&ticket, &user, 30)));
    let forbid_all = r#"@id("no-time")
forbid (principal, action == Alga::Action::"time_entries.create", resource);
"#;
    let (answers, ()) = futures_util::future::join(futures_util::future::join_all(writers), async {
        store_set(&env, &tenant, 2, "enforce", forbid_all).await;
    })
    .await;
    for answer in &answers {
        assert!([201, 403].contains(&result(answer)["status"].as_i64().unwrap()), "{}", answer.body);
    }
    // After it, nothing passes.
    env.call_status(&key, entry(&ticket, &user, 30), 403).await;

    let rows = env.audit(a, &format!("agent_id={agent}&page_size=100")).await;
    for row in &rows {
        match row["decision"].as_str() {
            Some("allow") => assert_eq!(row["policy_version"].as_i64(), Some(1), "{row}"),
            Some("deny") => {
                assert_eq!((row["policy_version"].as_i64(), ids(row)), (Some(2), vec!["no-time".to_owned()]), "{row}")
            }
            other => panic!("{other:?}: {row}"),
        }
    }
    // Every entry committed with its allowed row, and no refused one left an entry.
    let allowed: Vec<&Value> = rows.iter().filter(|r| r["decision"] == "allow").collect();
    let logged = text(&env, format!("SELECT CAST(COUNT(*) AS TEXT) AS value FROM time_entries WHERE tenant_id = '{tenant}' AND notes = 'policy test'")).await;
    assert_eq!(logged, allowed.len().to_string());
    env.stop().await;
}
