//! The policy admin API `/api/v1/mcp/policies`: versions, validation, stale saves, the admin
//! audit, tenant isolation and who may reach it (on SQLite or, with ALGA_TEST_DATABASE_URL,
//! PostgreSQL).

use serde_json::{Value, json};

use crate::support::{Env, keyed_agent};

const NO_DELETES: &str = "@id(\"no-agent-deletes\")\n@reason(\"Agents do not delete records.\")\nforbid (principal is Alga::Agent, action in Alga::Action::\"delete\", resource);\n";

/// Line 5, column 20: `resource.nonsense` is no attribute of a ticket.
const TYPED_ERROR: &str = "@id(\"typed\")\nforbid (\n  principal,\n  action == Alga::Action::\"tickets.update\",\n  resource) when { resource.nonsense == 1 };\n";

fn put(source: &str, mode: Option<&str>, expected: i64) -> Value {
    let mut body = json!({ "source": source, "expected_version": expected });
    if let Some(mode) = mode {
        body["mode"] = json!(mode);
    }
    body
}

async fn current(env: &Env, key: &str) -> Value {
    env.api(key, "GET", "/api/v1/mcp/policies", None).await.expect(200).data().clone()
}

/// The admin audit's policy changes of the key's tenant, newest first, with before/after as JSON.
async fn policy_changes(env: &Env, key: &str) -> Vec<(String, Value, Value)> {
    let rows = env.api(key, "GET", "/api/v1/mcp/admin-audit?target_kind=policy_set", None).await.expect(200);
    let parse = |v: &Value| match v {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    rows.data()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["action"].as_str().unwrap().to_owned(), parse(&r["before"]), parse(&r["after"])))
        .collect()
}

#[tokio::test]
async fn policy_versions_increment_with_history_diffs_and_the_admin_audit() {
    let env = Env::start().await;
    let key = env.a.admin_key.clone();
    let none = current(&env, &key).await;
    assert_eq!((none["version"].as_i64(), none["source"].as_str()), (Some(0), Some("")));
    assert_eq!(none["policies"], json!([]));

    let v1 = env.api(&key, "PUT", "/api/v1/mcp/policies", Some(put(NO_DELETES, None, 0))).await.expect(200);
    let v1 = v1.data();
    assert_eq!((v1["version"].as_i64(), v1["mode"].as_str()), (Some(1), Some("enforce")));
    assert_eq!(v1["policies"], json!([{ "id": "no-agent-deletes", "reason": "Agents do not delete records." }]));
    assert!(v1["created_by"].is_string() && v1["created_at"].is_string(), "{v1}");

    // A mode switch alone is a version; saving what is current is not.
    let v2 = env.api(&key, "PUT", "/api/v1/mcp/policies", Some(put(NO_DELETES, Some("shadow"), 1))).await.expect(200);
    assert_eq!((v2.data()["version"].as_i64(), v2.data()["mode"].as_str()), (Some(2), Some("shadow")));
    let same = env.api(&key, "PUT", "/api/v1/mcp/policies", Some(put(NO_DELETES, None, 2))).await.expect(200);
    assert_eq!(same.data()["version"].as_i64(), Some(2));

    // Removing every policy is a version with an empty source, in the same mode.
    let v3 = env.api(&key, "DELETE", "/api/v1/mcp/policies?expected_version=2", None).await.expect(200);
    assert_eq!((v3.data()["version"].as_i64(), v3.data()["source"].as_str()), (Some(3), Some("")));
    assert_eq!(v3.data()["mode"].as_str(), Some("shadow"));
    assert_eq!(current(&env, &key).await["version"].as_i64(), Some(3));

    let one = env.api(&key, "GET", "/api/v1/mcp/policies/versions/1", None).await.expect(200);
    assert_eq!((one.data()["source"].as_str(), one.data()["mode"].as_str()), (Some(NO_DELETES), Some("enforce")));
    env.api(&key, "GET", "/api/v1/mcp/policies/versions/4", None).await.expect(404);

    let history = env.api(&key, "GET", "/api/v1/mcp/policies/history?limit=2", None).await.expect(200);
    assert_eq!(history.body["pagination"]["total"].as_u64(), Some(3));
    let entries = history.data().as_array().unwrap();
    assert_eq!(entries.iter().map(|e| e["version"].as_i64().unwrap()).collect::<Vec<_>>(), vec![3, 2]);
    assert!(entries[0]["diff"].as_str().unwrap().starts_with("@@ -1,3 +1,0 @@\n-@id(\"no-agent-deletes\")"));
    assert_eq!(entries[1]["diff"].as_str(), Some(""), "a mode switch leaves the source as it was");
    assert_eq!((entries[1]["mode"].as_str(), entries[1]["previous_mode"].as_str()), (Some("shadow"), Some("enforce")));
    let older = env.api(&key, "GET", "/api/v1/mcp/policies/history?page=2&limit=2", None).await.expect(200);
    let first = &older.data()[0];
    assert_eq!(first["version"].as_i64(), Some(1));
    assert_eq!(first["diff"].as_str().unwrap().lines().filter(|l| l.starts_with('+')).count(), 3, "{first}");
    assert_eq!(first["policies"].as_u64(), Some(1));

    // Who, when, before and after of each change, newest first.
    let changes = policy_changes(&env, &key).await;
    assert_eq!(changes.len(), 3, "{changes:?}");
    let (action, before, after) = &changes[0];
    assert_eq!(action, "policies.clear");
    assert_eq!(before, &json!({ "version": 2, "mode": "shadow", "source": NO_DELETES }));
    assert_eq!(after, &json!({ "version": 3, "mode": "shadow", "source": "" }));
    assert_eq!(changes[2].0, "policies.update");
    assert_eq!(changes[2].1, Value::Null, "the first version has nothing before it");
    assert_eq!(changes[2].2["version"], json!(1));
    env.stop().await;
}

#[tokio::test]
async fn invalid_policies_are_refused_at_their_line_and_column_and_nothing_is_stored() {
    let env = Env::start().await;
    let key = env.a.admin_key.clone();
    let refused = env.api(&key, "PUT", "/api/v1/mcp/policies", Some(put(TYPED_ERROR, None, 0))).await.expect(400);
    assert_eq!(refused.body["error"]["code"], "invalid_policies", "{}", refused.body);
    let diagnostics = refused.body["error"]["details"]["diagnostics"].as_array().unwrap().clone();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!((diagnostics[0]["line"].as_u64(), diagnostics[0]["column"].as_u64()), (Some(5), Some(20)));
    assert_eq!(diagnostics[0]["policy_id"], "typed");
    assert!(diagnostics[0]["message"].as_str().unwrap().contains("nonsense"));

    // A permit cannot widen roles; a bad mode and a source too large are refused as well.
    let permit = put("permit (principal, action, resource);", None, 0);
    let refused = env.api(&key, "PUT", "/api/v1/mcp/policies", Some(permit)).await.expect(400);
    assert!(refused.body.to_string().contains("write `forbid`, or `@approval"), "{}", refused.body);
    env.api(&key, "PUT", "/api/v1/mcp/policies", Some(put(NO_DELETES, Some("audit"), 0))).await.expect(400);
    let huge = format!("// {}\n", "x".repeat(100_001));
    env.api(&key, "PUT", "/api/v1/mcp/policies", Some(put(&huge, None, 0))).await.expect(400);
    // 501 tiny policies fit in 100 KB but not in the policy limit, saved, checked or replayed.
    let many = "forbid (principal, action, resource) when { false };\n".repeat(501);
    let refused = env.api(&key, "PUT", "/api/v1/mcp/policies", Some(put(&many, None, 0))).await.expect(400);
    assert!(refused.body.to_string().contains("at most 500 policies"), "{}", refused.body);
    let body = json!({ "source": many });
    env.api(&key, "POST", "/api/v1/mcp/policies/validate", Some(body.clone())).await.expect(400);
    env.api(&key, "POST", "/api/v1/mcp/policies/replay", Some(body)).await.expect(400);
    assert_eq!(current(&env, &key).await["version"].as_i64(), Some(0));
    assert!(policy_changes(&env, &key).await.is_empty());

    // Validation alone stores nothing either way.
    let checked = env
        .api(&key, "POST", "/api/v1/mcp/policies/validate", Some(json!({ "source": TYPED_ERROR })))
        .await
        .expect(200);
    assert_eq!(checked.data()["valid"], false);
    assert_eq!(checked.data()["diagnostics"], json!(diagnostics));
    let fine = env.api(&key, "POST", "/api/v1/mcp/policies/validate", Some(json!({ "source": NO_DELETES }))).await;
    assert_eq!(fine.expect(200).data(), &json!({ "valid": true, "diagnostics": [] }));
    assert_eq!(current(&env, &key).await["version"].as_i64(), Some(0));

    // Every template compiles, and the schema names the record types policies read.
    let templates = env.api(&key, "GET", "/api/v1/mcp/policies/templates", None).await.expect(200);
    let templates = templates.data().as_array().unwrap().clone();
    assert!(templates.len() >= 4);
    for t in &templates {
        let source = t["source"].as_str().unwrap();
        let checked = env.api(&key, "POST", "/api/v1/mcp/policies/validate", Some(json!({ "source": source }))).await;
        assert_eq!(checked.expect(200).data()["valid"], true, "{t}");
    }
    let schema = env.api(&key, "GET", "/api/v1/mcp/policies/schema", None).await.expect(200);
    let schema = schema.data()["schema"].as_str().unwrap().to_owned();
    assert!(schema.contains("namespace Alga") && schema.contains("entity Ticket"), "{schema}");
    env.stop().await;
}

#[tokio::test]
async fn a_stale_expected_version_is_refused_and_nothing_is_stored() {
    let env = Env::start().await;
    let key = env.a.admin_key.clone();
    env.api(&key, "PUT", "/api/v1/mcp/policies", Some(put(NO_DELETES, None, 0))).await.expect(200);
    // Someone else's edit was made on version 0, before version 1 was saved.
    let stale = env.api(&key, "PUT", "/api/v1/mcp/policies", Some(put("", Some("shadow"), 0))).await.expect(409);
    assert_eq!(stale.body["error"]["details"], json!({ "expected_version": 0, "current_version": 1 }));
    env.api(&key, "PUT", "/api/v1/mcp/policies", Some(put(NO_DELETES, None, 5))).await.expect(409);
    env.api(&key, "DELETE", "/api/v1/mcp/policies?expected_version=0", None).await.expect(409);
    // A clear names the version it clears, as a save does: without one it is refused.
    env.api(&key, "DELETE", "/api/v1/mcp/policies", None).await.expect(400);
    let now = current(&env, &key).await;
    assert_eq!(
        (now["version"].as_i64(), now["mode"].as_str(), now["source"].as_str()),
        (Some(1), Some("enforce"), Some(NO_DELETES))
    );
    assert_eq!(policy_changes(&env, &key).await.len(), 1);
    env.stop().await;
}

#[tokio::test]
async fn tenants_see_only_their_own_policies_and_only_admins_reach_them() {
    let env = Env::start().await;
    env.api(&env.a.admin_key, "PUT", "/api/v1/mcp/policies", Some(put(NO_DELETES, None, 0))).await.expect(200);

    // Tenant B has no version, cannot read A's, and its own versions start at 1.
    let b = current(&env, &env.b.admin_key).await;
    assert_eq!((b["version"].as_i64(), b["source"].as_str()), (Some(0), Some("")));
    env.api(&env.b.admin_key, "GET", "/api/v1/mcp/policies/versions/1", None).await.expect(404);
    let history = env.api(&env.b.admin_key, "GET", "/api/v1/mcp/policies/history", None).await.expect(200);
    assert_eq!(history.data(), &json!([]));
    let b1 = env.api(&env.b.admin_key, "PUT", "/api/v1/mcp/policies", Some(put("", Some("shadow"), 0))).await;
    assert_eq!(b1.expect(200).data()["version"].as_i64(), Some(1));
    assert_eq!(current(&env, &env.a.admin_key).await["source"].as_str(), Some(NO_DELETES));
    assert!(policy_changes(&env, &env.b.admin_key).await.iter().all(|(_, _, after)| after["source"] == ""));

    // A technician and an agent are refused every route, reads included.
    let (_, agent_key) = keyed_agent(&env, &env.a, "policy reader", &[&env.a.technician_role]).await;
    let routes = [
        ("GET", "/api/v1/mcp/policies", None),
        ("PUT", "/api/v1/mcp/policies", Some(put("", None, 1))),
        ("DELETE", "/api/v1/mcp/policies?expected_version=1", None),
        ("GET", "/api/v1/mcp/policies/history", None),
        ("GET", "/api/v1/mcp/policies/versions/1", None),
        ("GET", "/api/v1/mcp/policies/schema", None),
        ("GET", "/api/v1/mcp/policies/templates", None),
        ("POST", "/api/v1/mcp/policies/validate", Some(json!({ "source": "" }))),
    ];
    for (method, path, body) in &routes {
        let tech = env.api(&env.a.tech_key, method, path, body.clone()).await;
        assert_eq!(tech.status, 403, "{method} {path}: {}", tech.body);
        let agent = env.api(&agent_key, method, path, body.clone()).await;
        assert!(matches!(agent.status, 401 | 403), "{method} {path}: {} {}", agent.status, agent.body);
    }
    assert_eq!(current(&env, &env.a.admin_key).await["version"].as_i64(), Some(1));

    // Agents cannot find the policy routes in the API they are given either.
    assert!(alga_api::catalog().operations().iter().all(|op| !op.meta.path.contains("policies")));
    env.stop().await;
}
