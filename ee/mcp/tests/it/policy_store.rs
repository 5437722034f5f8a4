//! The policy store and the locks a decision takes: governed writes take their operation's ordering
//! locks before the policy's record lock (no deadlock with direct writes), stored sets are
//! append-only, a set that no longer compiles fails closed when enforced and lets calls through
//! by roles when shadowed, and every governed call's row records its evaluation input.

use alga_core::DbConn;
use alga_core::db::Backend;
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

use super::policy_calls::unlimited;
use crate::support::{Env, keyed_agent};

async fn tenant_id(env: &Env) -> String {
    let me = env.api(&env.a.admin_key, "GET", "/api/v1/me", None).await.expect(200);
    me.data()["tenant"]["id"].as_str().unwrap().to_owned()
}

fn run(conn: &mut DbConn, statement: &str) -> Result<(), diesel::result::Error> {
    alga_core::on_backend!(conn, |c| c.batch_execute(statement))
}

/// Stores a policy version as another process would: a plain insert.
fn store_set(env: &Env, tenant: &str, version: i64, mode: &str, source: &str) {
    let source = source.replace('\'', "''");
    run(
        &mut env.conn(),
        &format!(
            "INSERT INTO policy_sets (tenant_id, version, source, mode, created_by, created_at) \
             VALUES ('{tenant}', {version}, '{source}', '{mode}', NULL, CURRENT_TIMESTAMP)"
        ),
    )
    .unwrap();
}

/// Demo data in tenant A; the ids of two of its tickets.
async fn two_tickets(env: &Env) -> (String, String) {
    alga_api::demo::seed(&env.ctx, "tenant-a").await.unwrap();
    let list = env.api(&env.a.admin_key, "GET", "/api/v1/tickets?limit=2", None).await.expect(200);
    let id = |i: usize| list.data()[i]["id"].as_str().unwrap().to_owned();
    (id(0), id(1))
}

fn result(answer: &crate::support::Answer) -> &Value {
    &answer.body["result"]["structuredContent"]
}

const NO_DELETES: &str = r#"@id("no-agent-deletes")
forbid (principal is Alga::Agent, action in Alga::Action::"delete", resource);
"#;

/// A governed update relinking a ticket's parent and a direct one crossing it: the direct write
/// holds the tenant's parent-link lock and then locks the ticket's row (as `tickets.update` does).
/// The governed call must wait for the parent-link lock before its policy decision locks the
/// row; locked the other way round, PostgreSQL finds a deadlock and one of them fails.
#[actix_web::test]
async fn a_governed_relink_waits_for_the_parent_link_lock_before_locking_the_ticket() {
    let env = unlimited().await;
    if env.ctx.db.backend() != Backend::Postgres {
        env.stop().await;
        return; // SQLite serializes write transactions: no lock order to get wrong.
    }
    let tenant = tenant_id(&env).await;
    let (ticket, parent) = two_tickets(&env).await;
    let (_, key) = keyed_agent(&env, &env.a, "relinker", &[&env.a.technician_role]).await;
    store_set(&env, &tenant, 1, "enforce", NO_DELETES);

    let mut direct = env.conn();
    run(&mut direct, "BEGIN").unwrap();
    run(&mut direct, &format!("SELECT pg_advisory_xact_lock(hashtextextended('{tenant}:ticket_parent', 0))")).unwrap();
    let call = json!({ "entryId": "tickets.update", "path": { "id": ticket }, "body": { "parent_ticket_id": parent } });
    let (governed, crossed) = futures_util::future::join(env.call_api("/api/mcp", &key, call), async {
        // Once the governed write waits for the parent-link lock, the direct one locks the row.
        let mut probe = env.conn();
        let waiting = "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'";
        while alga_core::on_backend!(&mut probe, |c| diesel::RunQueryDsl::execute(diesel::sql_query(waiting), c))
            .unwrap()
            == 0
        {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let locked = run(&mut direct, &format!("SELECT id FROM tickets WHERE id = '{ticket}' FOR NO KEY UPDATE"))
            .and_then(|()| {
                run(&mut direct, &format!("UPDATE tickets SET title = 'Renamed directly' WHERE id = '{ticket}'"))
            });
        let committed = run(&mut direct, if locked.is_ok() { "COMMIT" } else { "ROLLBACK" });
        locked.and(committed)
    })
    .await;
    crossed.expect("the direct write locks the ticket without a deadlock");
    let governed = governed.expect(200);
    assert_eq!(result(&governed)["status"], 200, "{}", governed.body);
    let after = env.api(&env.a.admin_key, "GET", &format!("/api/v1/tickets/{ticket}"), None).await.expect(200);
    assert_eq!(
        (after.data()["parent_ticket_id"].as_str(), after.data()["title"].as_str()),
        (Some(parent.as_str()), Some("Renamed directly")),
        "both writes committed"
    );
    env.stop().await;
}

/// A governed update and a direct write crossing it the other way round: the direct one (another
/// process) locks the ticket's row and then changes an agent, which moves the grant epoch the
/// governed write holds a share of while it waits for that row. PostgreSQL breaks the deadlock by
/// aborting one side; an aborted governed write changed nothing and runs again, so the call
/// succeeds once, with one audit row, instead of failing.
#[actix_web::test]
async fn a_governed_write_aborted_by_a_deadlock_runs_again_and_commits_once() {
    let env = unlimited().await;
    if env.ctx.db.backend() != Backend::Postgres {
        env.stop().await;
        return; // SQLite serializes write transactions: nothing to cross.
    }
    let tenant = tenant_id(&env).await;
    let (ticket, _) = two_tickets(&env).await;
    let (agent, key) = keyed_agent(&env, &env.a, "crosser", &[&env.a.technician_role]).await;
    store_set(&env, &tenant, 1, "enforce", NO_DELETES);

    let mut direct = env.conn();
    run(&mut direct, "BEGIN").unwrap();
    run(&mut direct, &format!("UPDATE tickets SET title = 'Renamed directly' WHERE id = '{ticket}'")).unwrap();
    let call =
        json!({ "entryId": "tickets.update", "path": { "id": ticket }, "body": { "title": "Renamed by the agent" } });
    let (governed, crossed) = futures_util::future::join(env.call_api("/api/mcp", &key, call), async {
        // Once the governed write waits for the ticket's row, the direct one moves the epoch.
        let mut probe = env.conn();
        let waiting = "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() \
                       AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE '%FOR NO KEY UPDATE%'";
        while alga_core::on_backend!(&mut probe, |c| diesel::RunQueryDsl::execute(diesel::sql_query(waiting), c))
            .unwrap()
            == 0
        {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let moved =
            run(&mut direct, &format!("UPDATE agents SET attributes = '{{\"shift\":\"night\"}}' WHERE id = '{agent}'"));
        let ended = run(&mut direct, if moved.is_ok() { "COMMIT" } else { "ROLLBACK" });
        moved.and(ended).is_ok()
    })
    .await;
    let governed = governed.expect(200);
    assert_eq!(result(&governed)["status"], 200, "the governed write ran again: {}", governed.body);
    let after = env.api(&env.a.admin_key, "GET", &format!("/api/v1/tickets/{ticket}"), None).await.expect(200);
    assert_eq!(after.data()["title"], "Renamed by the agent", "the governed write committed last");
    let rows = env.audit(&env.a, &format!("agent_id={agent}")).await;
    assert_eq!(rows.len(), 1, "one call, one row: {rows:?}");
    assert_eq!((rows[0]["decision"].as_str(), rows[0]["status_code"].as_i64()), (Some("allow"), Some(200)));
    // Whichever side PostgreSQL aborted, the direct write's fate is all or nothing.
    let agent_row = env.api(&env.a.admin_key, "GET", &format!("/api/v1/mcp/agents/{agent}"), None).await.expect(200);
    assert_eq!(agent_row.data()["attributes"]["shift"].as_str() == Some("night"), crossed);
    env.stop().await;
}

/// Versions never change in place: another connection's UPDATE or DELETE of a stored version is
/// refused (the cache keyed by version stays true), while deleting the tenant still removes them.
#[actix_web::test]
async fn a_stored_version_cannot_be_changed_or_removed_but_goes_with_its_tenant() {
    let env = Env::start().await;
    let tenant = tenant_id(&env).await;
    store_set(&env, &tenant, 1, "enforce", NO_DELETES);
    let mut other = env.conn();
    let updated = run(&mut other, &format!("UPDATE policy_sets SET source = '' WHERE tenant_id = '{tenant}'"));
    assert!(updated.unwrap_err().to_string().contains("append-only"));
    let moded = run(&mut other, &format!("UPDATE policy_sets SET mode = 'shadow' WHERE tenant_id = '{tenant}'"));
    assert!(moded.is_err(), "the mode is part of the version");
    let deleted = run(&mut other, &format!("DELETE FROM policy_sets WHERE tenant_id = '{tenant}'"));
    assert!(deleted.unwrap_err().to_string().contains("append-only"));
    let versions = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/policies/history", None).await.expect(200);
    assert_eq!(versions.data().as_array().map(Vec::len), Some(1), "{}", versions.body);

    let b = {
        let me = env.api(&env.b.admin_key, "GET", "/api/v1/me", None).await.expect(200);
        me.data()["tenant"]["id"].as_str().unwrap().to_owned()
    };
    store_set(&env, &b, 1, "enforce", NO_DELETES);
    store_set(&env, &b, 2, "shadow", NO_DELETES);
    let edition = alga_ee_mcp::Enterprise::default();
    env.ctx.db.run(move |conn| alga_core::identity::delete_tenant(conn, "tenant-b", &edition)).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let left = alga_core::on_backend!(&mut other, |c| diesel::RunQueryDsl::get_result::<Count>(
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM policy_sets WHERE tenant_id = '{b}'")),
        c
    ))
    .unwrap();
    assert_eq!(left.n, 0, "the tenant's versions went with it");
    env.stop().await;
}

/// Names an operation the catalog does not have: it compiled (say) before an upgrade removed the
/// operation, and no longer does.
const NO_LONGER_COMPILES: &str = r#"@id("retired")
forbid (principal, action == Alga::Action::"tickets.retired_operation", resource);
"#;

/// A stored set that no longer compiles: enforced, calls are refused (503) and their rows say
/// why; shadowed, calls go by roles and their rows record the failure as a denying error.
#[actix_web::test]
async fn a_set_that_no_longer_compiles_fails_closed_when_enforced_and_is_recorded_when_shadowed() {
    let env = unlimited().await;
    let tenant = tenant_id(&env).await;
    let (ticket, _) = two_tickets(&env).await;
    let (agent, key) = keyed_agent(&env, &env.a, "reader", &[&env.a.technician_role]).await;
    let get = json!({ "entryId": "tickets.get", "path": { "id": ticket } });
    let update = json!({ "entryId": "tickets.update", "path": { "id": ticket }, "body": { "title": "Renamed" } });

    store_set(&env, &tenant, 1, "enforce", NO_LONGER_COMPILES);
    for call in [&get, &update] {
        env.call_status(&key, call.clone(), 503).await;
    }
    let rows = env.audit(&env.a, &format!("agent_id={agent}")).await;
    for row in &rows[..2] {
        assert_eq!((row["decision"].as_str(), row["policy_decision"].as_str()), (Some("deny"), Some("deny")), "{row}");
        assert_eq!((row["policy_mode"].as_str(), row["policy_version"].as_i64()), (Some("enforce"), Some(1)));
        let errors: Vec<String> = serde_json::from_str(row["policy_errors"].as_str().unwrap()).unwrap();
        assert!(errors[0].contains("version 1 does not compile"), "{errors:?}");
    }
    let after = env.api(&env.a.admin_key, "GET", &format!("/api/v1/tickets/{ticket}"), None).await.expect(200);
    assert_ne!(after.data()["title"], "Renamed", "the refused update changed nothing");

    store_set(&env, &tenant, 2, "shadow", NO_LONGER_COMPILES);
    env.call_status(&key, update, 200).await;
    let row = &env.audit(&env.a, &format!("agent_id={agent}")).await[0];
    assert_eq!((row["decision"].as_str(), row["policy_decision"].as_str()), (Some("allow"), Some("deny")), "{row}");
    assert_eq!((row["policy_mode"].as_str(), row["policy_version"].as_i64()), (Some("shadow"), Some(2)));
    assert!(row["policy_errors"].as_str().unwrap().contains("version 2 does not compile"), "{row}");
    env.stop().await;
}

/// Overflows on a long entry: an evaluation error, which denies.
const OVERFLOWS: &str = r#"@id("overflowing")
forbid (principal is Alga::Agent, action == Alga::Action::"time_entries.create", resource)
when { context.body has duration_minutes && context.body.duration_minutes * 100000000000000000 > 0 };
"#;

/// A call with no policy set records what it was decided on, so that a later replay is exact;
/// an evaluation error is recorded (which policy, what went wrong) and a replay reports it.
#[actix_web::test]
async fn every_governed_call_records_its_input_and_its_evaluation_errors() {
    let env = unlimited().await;
    let tenant = tenant_id(&env).await;
    let (ticket, _) = two_tickets(&env).await;
    let (agent, key) = keyed_agent(&env, &env.a, "logger", &[&env.a.technician_role]).await;
    let me = env.api(&env.a.tech_key, "GET", "/api/v1/me", None).await.expect(200);
    let user = me.data()["user"]["id"].as_str().unwrap().to_owned();
    let entry = json!({ "entryId": "time_entries.create", "body": {
        "work_item_type": "ticket", "work_item_id": ticket, "user_id": user, "started_at": "2026-11-24T09:00:00Z",
        "duration_minutes": 600, "notes": "no set yet"
    } });

    let get = json!({ "entryId": "tickets.get", "path": { "id": ticket } });
    env.call_api("/api/mcp", &key, get).await.expect(200);
    env.call_status(&key, entry.clone(), 201).await;
    let rows = env.audit(&env.a, &format!("agent_id={agent}")).await;
    for row in &rows {
        assert!(row.get("policy_decision").is_none(), "no set applied: {row}");
        let input: Value = serde_json::from_str(row["policy_input"].as_str().unwrap()).unwrap();
        assert_eq!(input["principal"]["id"], agent.as_str(), "{input}");
    }
    let read: Value = serde_json::from_str(rows[1]["policy_input"].as_str().unwrap()).unwrap();
    assert_eq!(read["call"]["record"]["id"], ticket.as_str(), "the ticket's attributes: {read}");
    let replay = json!({ "source": OVERFLOWS, "days": 1 });
    let report = env.api(&env.a.admin_key, "POST", "/api/v1/mcp/policies/replay", Some(replay)).await.expect(200);
    assert_eq!((report.data()["exact"].as_u64(), report.data()["approximate"].as_u64()), (Some(2), Some(0)));

    store_set(&env, &tenant, 1, "enforce", OVERFLOWS);
    env.call_status(&key, entry, 403).await;
    let row = &env.audit(&env.a, &format!("agent_id={agent}")).await[0];
    let errors: Vec<String> = serde_json::from_str(row["policy_errors"].as_str().unwrap()).unwrap();
    assert!(errors.len() == 1 && errors[0].starts_with("overflowing: "), "{errors:?}");

    // Deny → allow under a set without it: the example says which error denied then.
    let replay = json!({ "source": "", "days": 1 });
    let report = env.api(&env.a.admin_key, "POST", "/api/v1/mcp/policies/replay", Some(replay)).await.expect(200);
    let example = &report.data()["changes"][0]["examples"][0];
    assert_eq!(example["direction"], "deny_to_allow", "{}", report.body);
    assert_eq!(example["errors_then"], json!(errors), "{}", report.body);
    env.stop().await;
}

/// `GET /api/v1/meta/mcp-registry` lists the caller's operations as tools/list and search do:
/// one hidden by an enforced, unconditional forbid is not listed.
#[actix_web::test]
async fn the_rest_registry_hides_what_an_enforced_policy_hides() {
    let env = Env::start().await;
    let tenant = tenant_id(&env).await;
    let listed = |answer: &crate::support::Answer| -> Vec<String> {
        let entries = answer.data()["entries"].as_array().unwrap();
        entries.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
    };
    let before = env.api(&env.a.tech_key, "GET", "/api/v1/meta/mcp-registry", None).await.expect(200);
    assert!(listed(&before).contains(&"tickets.update".to_owned()), "{}", before.body);
    let users_do_not_edit_tickets = r#"@id("no-user-ticket-updates")
forbid (principal is Alga::User, action == Alga::Action::"tickets.update", resource);
"#;
    store_set(&env, &tenant, 1, "enforce", users_do_not_edit_tickets);
    let after = env.api(&env.a.tech_key, "GET", "/api/v1/meta/mcp-registry", None).await.expect(200);
    let after = listed(&after);
    assert!(!after.contains(&"tickets.update".to_owned()), "{after:?}");
    assert!(after.contains(&"tickets.get".to_owned()), "the rest stays listed: {after:?}");
    env.stop().await;
}
