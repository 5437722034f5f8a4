//! Replaying a draft policy set on the audit (on SQLite or, with ALGA_TEST_DATABASE_URL,
//! PostgreSQL): exactly the calls whose decision would change, both ways, exact and approximate
//! inputs told apart, and other tenants' calls never counted.

use alga_core::identity::now;
use alga_ee_mcp::audit::{Record, insert_rows};
use alga_ee_mcp::policy::engine::{compile, templates};
use alga_ee_mcp::policy::facts::{CallFacts, DecisionInput, Fact, PrincipalFacts, PrincipalKind, RecordKind};
use alga_ee_mcp::policy::load::record_facts;
use alga_ee_mcp::policy::replay::replay;
use serde_json::{Map, Value, json};

use crate::support::{Env, keyed_agent};

/// A `call_api_endpoint` row of `tenant` made `minutes_ago`, allowed by roles.
pub(crate) fn row(
    tenant: &str,
    id: &str,
    agent: Option<&str>,
    user: Option<&str>,
    op: &str,
    arguments: &Value,
    minutes_ago: i64,
) -> Record {
    Record {
        tenant_id: tenant.to_owned(),
        id: id.to_owned(),
        caller_kind: if agent.is_some() { "agent" } else { "user" }.to_owned(),
        agent_id: agent.map(str::to_owned),
        user_id: user.map(str::to_owned),
        api_key_id: None,
        idp_issuer: None,
        idp_subject: None,
        client_name: Some("test-client".to_owned()),
        client_version: None,
        protocol_version: "2025-06-18".to_owned(),
        method: "tools/call".to_owned(),
        tool: Some("call_api_endpoint".to_owned()),
        operation_id: Some(op.to_owned()),
        http_method: None,
        http_path: None,
        arguments: alga_ee_mcp::audit::redact(arguments).to_string(),
        decision: "allow".to_owned(),
        reason: None,
        status_code: Some(200),
        result_summary: None,
        duration_ms: 1,
        request_id: None,
        created_at: now() - chrono::Duration::minutes(minutes_ago),
        policy_decision: None,
        policy_ids: None,
        policy_version: None,
        policy_mode: None,
        policy_input: None,
        policy_errors: None,
        approval_id: None,
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[actix_web::test]
async fn a_replay_reports_exactly_the_changed_calls_of_the_tenant() {
    let env = Env::start().await;
    let a = &env.a;
    let me = env.api(&a.admin_key, "GET", "/api/v1/me", None).await.expect(200);
    let tenant = me.data()["tenant"]["id"].as_str().unwrap().to_owned();
    let user = me.data()["user"]["id"].as_str().unwrap().to_owned();
    let other = env.api(&env.b.admin_key, "GET", "/api/v1/me", None).await.expect(200);
    let other_tenant = other.data()["tenant"]["id"].as_str().unwrap().to_owned();
    let (agent, _) = keyed_agent(&env, a, "replayed", &[&a.technician_role]).await;
    alga_api::demo::seed(&env.ctx, "tenant-a").await.unwrap();
    let tickets = env.api(&a.admin_key, "GET", "/api/v1/tickets?limit=1", None).await.expect(200);
    let ticket = tickets.data()[0]["id"].as_str().unwrap().to_owned();

    let (t, tk) = (tenant.clone(), ticket.clone());
    let record = env.ctx.db.run(move |conn| record_facts(conn, &t, RecordKind::Ticket, &tk, false)).await.unwrap();
    let principal = PrincipalFacts {
        kind: PrincipalKind::Agent,
        id: agent.clone(),
        name: "replayed".to_owned(),
        roles: vec!["Technician".to_owned()],
        teams: Vec::new(),
        attributes: Default::default(),
    };
    let input = |op: &str, path: Value, body: Option<Value>, record| {
        serde_json::to_string(&DecisionInput {
            principal: principal.clone(),
            call: CallFacts {
                operation_id: op.to_owned(),
                path: object(path),
                query: Map::new(),
                now: chrono::Utc::now(),
                client_name: None,
                // As the call path derived it: a create's minutes are its duration.
                derived: body
                    .as_ref()
                    .and_then(|b| b.get("duration_minutes"))
                    .and_then(Value::as_i64)
                    .filter(|_| op == "time_entries.create")
                    .map(|m| std::collections::BTreeMap::from([("minutes".to_owned(), Fact::Long(m))]))
                    .unwrap_or_default(),
                body,
                record,
            },
        })
        .unwrap()
    };
    let ag = Some(agent.as_str());
    let update_args = json!({ "entryId": "tickets.update", "path": { "id": ticket }, "body": { "title": "x" } });
    let mut rows = Vec::new();
    // Exact, allowed then, denied by the draft (not a ticket of the agent's teams).
    let mut r = row(&tenant, "exact-update", ag, None, "tickets.update", &update_args, 5);
    r.policy_input = Some(input("tickets.update", json!({ "id": ticket }), Some(json!({ "title": "x" })), record));
    rows.push(r);
    // Exact, allowed then and now (one hour).
    let entry = json!({
        "work_item_type": "ticket", "work_item_id": ticket, "started_at": "2026-11-24T09:00:00Z", "duration_minutes": 60
    });
    let mut r = row(&tenant, "exact-entry", ag, None, "time_entries.create", &json!({ "body": entry }), 6);
    r.policy_input = Some(input("time_entries.create", json!({}), Some(entry), None));
    rows.push(r);
    // Exact, denied by the policies then, allowed by the draft.
    let mut r = row(&tenant, "exact-list", ag, None, "tickets.list", &json!({ "entryId": "tickets.list" }), 7);
    r.decision = "deny".to_owned();
    r.policy_decision = Some("deny".to_owned());
    r.policy_ids = Some(json!(["no-ticket-lists"]).to_string());
    r.policy_input = Some(input("tickets.list", json!({}), None, None));
    rows.push(r);
    // Approximate: the ticket today; and a ticket that is gone.
    rows.push(row(&tenant, "approx-get", ag, None, "tickets.get", &json!({ "path": { "id": ticket } }), 8));
    rows.push(row(&tenant, "approx-gone", ag, None, "tickets.get", &json!({ "id": "no-such-ticket" }), 9));
    // Approximate: ten hours, denied by the draft.
    let long = json!({
        "work_item_type": "ticket", "work_item_id": ticket, "started_at": "2026-11-24T09:00:00Z", "duration_minutes": 600
    });
    rows.push(row(&tenant, "approx-long", ag, None, "time_entries.create", &json!({ "body": long }), 10));
    // Approximate, by a user: the draft restricts agents only.
    rows.push(row(&tenant, "approx-user", None, Some(&user), "tickets.update", &update_args, 11));
    // Not the policies' to change: a role refusal, a rate limit, an unknown tool.
    let mut r = row(&tenant, "rbac", ag, None, "tickets.delete", &json!({ "path": { "id": ticket } }), 12);
    (r.decision, r.reason) = ("deny".to_owned(), Some("forbidden".to_owned()));
    rows.push(r);
    let mut r = row(&tenant, "limited", ag, None, "tickets.update", &update_args, 13);
    (r.decision, r.reason) = ("deny".to_owned(), Some("rate_limited".to_owned()));
    rows.push(r);
    let mut r = row(&tenant, "unknown", ag, None, "tickets.update", &update_args, 14);
    (r.decision, r.operation_id) = ("error".to_owned(), None);
    rows.push(r);
    // Older than the period, and another tenant's.
    rows.push(row(&tenant, "old", ag, None, "tickets.update", &update_args, 60 * 24 * 40));
    rows.push(row(&other_tenant, "foreign", Some("b-agent"), None, "tickets.update", &update_args, 5));
    env.ctx.db.run(move |conn| insert_rows(conn, &rows)).await.unwrap();

    let source: String = templates()
        .iter()
        .filter(|t| ["tickets-of-own-teams", "time-entry-at-most-8-hours", "no-agent-deletes"].contains(&t.id))
        .map(|t| t.source)
        .collect();
    let res = env
        .api(&a.admin_key, "POST", "/api/v1/mcp/policies/replay", Some(json!({ "source": source, "days": 30 })))
        .await
        .expect(200);
    let report = res.data();
    assert_eq!(report["rows_examined"], 7, "{report:#}");
    assert_eq!((report["exact"].as_u64(), report["approximate"].as_u64()), (Some(3), Some(4)), "{report:#}");
    assert_eq!(report["changed"], 5, "{report:#}");
    assert_eq!(report["truncated"], false);
    let changes = report["changes"].as_array().unwrap();
    let find =
        |op: &str| changes.iter().find(|c| c["operation_id"] == op).unwrap_or_else(|| panic!("{op}: {report:#}"));
    assert_eq!(changes.len(), 4, "{report:#}");
    assert!(changes.iter().all(|c| c["caller_id"] == agent.as_str() && c["caller_kind"] == "agent"));

    let update = find("tickets.update");
    assert_eq!((update["allow_to_deny"].as_u64(), update["deny_to_allow"].as_u64()), (Some(1), Some(0)));
    assert_eq!(update["examples"][0]["audit_id"], "exact-update");
    assert_eq!(update["examples"][0]["input"], "exact");
    assert_eq!(update["examples"][0]["policy_ids"], json!(["tickets-of-own-teams"]));

    let list = find("tickets.list");
    assert_eq!((list["allow_to_deny"].as_u64(), list["deny_to_allow"].as_u64()), (Some(0), Some(1)));
    assert_eq!(list["examples"][0]["direction"], "deny_to_allow");
    assert_eq!(list["examples"][0]["policy_ids"], json!(["no-ticket-lists"]), "what denied then");

    let get = find("tickets.get");
    assert_eq!(get["allow_to_deny"], 2);
    let examples = get["examples"].as_array().unwrap();
    let ids: Vec<&str> = examples.iter().map(|e| e["audit_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["approx-get", "approx-gone"], "newest first");
    assert!(examples.iter().all(|e| e["input"] == "approximate"));
    assert!(examples[0].get("note").is_none(), "{report:#}");
    assert!(examples[1]["note"].as_str().unwrap().contains("no longer exists"), "{report:#}");

    let entry = find("time_entries.create");
    assert_eq!(entry["allow_to_deny"], 1);
    assert_eq!(entry["examples"][0]["audit_id"], "approx-long");
    assert_eq!(entry["examples"][0]["policy_ids"], json!(["time-entry-at-most-8-hours"]));

    // The newest rows first, and the cut said.
    let draft = compile(&source).unwrap();
    let t = tenant.clone();
    let cut = env.ctx.db.run(move |conn| replay(conn, &t, &draft, 30, 2)).await.unwrap();
    assert_eq!((cut.rows_examined, cut.exact, cut.truncated), (2, 2, true));

    // The other tenant's admin sees only its own row.
    let res = env
        .api(&env.b.admin_key, "POST", "/api/v1/mcp/policies/replay", Some(json!({ "source": source })))
        .await
        .expect(200);
    assert_eq!(res.data()["rows_examined"], 1, "{:#}", res.data());
    assert_eq!(res.data()["changes"][0]["caller_id"], "b-agent");

    // Bad input: clear errors; and administrators only.
    let res = env
        .api(
            &a.admin_key,
            "POST",
            "/api/v1/mcp/policies/replay",
            Some(json!({ "source": "permit(principal, action, resource);" })),
        )
        .await
        .expect(400);
    let message = res.body["error"]["details"]["diagnostics"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("write `forbid`"), "{:#}", res.body);
    let body = env
        .api(
            &a.admin_key,
            "POST",
            "/api/v1/mcp/policies/replay",
            Some(json!({ "source": "forbid(principal, action, resource", "days": 30 })),
        )
        .await
        .expect(400);
    assert!(body.body["error"]["details"]["diagnostics"][0]["line"].as_u64().is_some(), "{:#}", body.body);
    env.api(&a.admin_key, "POST", "/api/v1/mcp/policies/replay", Some(json!({ "source": "", "days": 91 })))
        .await
        .expect(400);
    env.api(&a.tech_key, "POST", "/api/v1/mcp/policies/replay", Some(json!({ "source": "" }))).await.expect(403);
}

#[actix_web::test]
async fn a_replay_reads_large_rows_in_bounded_batches_newest_first() {
    let env = Env::start().await;
    let a = &env.a;
    let me = env.api(&a.admin_key, "GET", "/api/v1/me", None).await.expect(200);
    let tenant = me.data()["tenant"]["id"].as_str().unwrap().to_owned();
    let (agent, _) = keyed_agent(&env, a, "batched", &[&a.technician_role]).await;
    // 260 rows of 60 KB each: batches end at 100 rows and at 4 MB (about 66 of these rows).
    let pad = "x".repeat(60_000);
    let rows: Vec<_> = (0..260)
        .map(|n| {
            let args = json!({ "path": { "id": format!("t-{n:03}") }, "pad": pad });
            // Ids run against age, so that key order is not newest-first order.
            row(&tenant, &format!("row-{:03}", 259 - n), Some(&agent), None, "tickets.delete", &args, n + 1)
        })
        .collect();
    env.ctx.db.run(move |conn| insert_rows(conn, &rows)).await.unwrap();
    let source = templates().iter().find(|t| t.id == "no-agent-deletes").unwrap().source;
    let draft = compile(source).unwrap();

    let (t, d) = (tenant.clone(), draft.clone());
    let all = env.ctx.db.run(move |conn| replay(conn, &t, &d, 30, 50_000)).await.unwrap();
    assert_eq!((all.rows_examined, all.changed, all.truncated), (260, 260, false));
    assert_eq!(all.changes.len(), 1);
    let ids: Vec<&str> = all.changes[0].examples.iter().map(|e| e.audit_id.as_str()).collect();
    assert_eq!(ids, ["row-259", "row-258", "row-257"], "newest first across batches");
    assert_eq!(all.changes[0].allow_to_deny, 260);

    let cut = env.ctx.db.run(move |conn| replay(conn, &tenant, &draft, 30, 150)).await.unwrap();
    assert_eq!((cut.rows_examined, cut.truncated), (150, true));
    env.stop().await;
}
