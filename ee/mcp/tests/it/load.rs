//! Many agents of two tenants calling at once: every call is audited exactly once, in its own
//! tenant, and no result crosses tenants.

use std::sync::Arc;

use alga_ee_mcp::Settings;
use serde_json::{Value, json};

use crate::support::{Env, Tenant};

/// Agents per tenant, and calls per agent (`ALGA_LOAD_CALLS` overrides, e.g. for a soak run).
const AGENTS: usize = 4;
const CONCURRENCY: usize = 16;

fn calls_per_agent() -> usize {
    std::env::var("ALGA_LOAD_CALLS").ok().and_then(|n| n.parse().ok()).unwrap_or(1000)
}

/// A client named after the tenant, and `AGENTS` agents with keys; returns the keys and agent ids.
async fn prepare(env: &Env, t: &Tenant, marker: &str) -> Vec<(String, String)> {
    let client = json!({ "name": format!("{marker} Holdings") });
    env.api(&t.admin_key, "POST", "/api/v1/clients", Some(client)).await.expect(201);
    let mut agents = Vec::new();
    for n in 0..AGENTS {
        let body = json!({ "name": format!("{marker} agent {n}"), "role_ids": [t.technician_role] });
        let agent = env.api(&t.admin_key, "POST", "/api/v1/mcp/agents", Some(body)).await.expect(201);
        let id = agent.data()["id"].as_str().unwrap().to_owned();
        let expires = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        let key = env
            .api(&t.admin_key, "POST", &format!("/api/v1/mcp/agents/{id}/keys"), Some(json!({ "expires_at": expires })))
            .await
            .expect(201);
        agents.push((key.data()["key"].as_str().unwrap().to_owned(), id));
    }
    agents
}

/// One agent's calls, `CONCURRENCY` at a time; every answer must be a success naming only the
/// agent's own tenant.
async fn run_agent(env: Arc<Env>, key: String, own: &'static str, other: &'static str, calls: usize) {
    let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::with_capacity(calls);
    for i in 0..calls {
        let (env, key, limit) = (env.clone(), key.clone(), limit.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.unwrap();
            let params = if i.is_multiple_of(10) {
                json!({ "name": "search_business_data", "arguments": { "query": "Holdings" } })
            } else {
                json!({ "name": "call_api_endpoint", "arguments": { "entryId": "clients.list" } })
            };
            let body = json!({ "jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params });
            let headers = [("x-api-key", key.as_str()), ("content-type", "application/json")];
            let answer = env.send("POST", "/api/mcp", &headers, Some(body.to_string().into_bytes())).await.expect(200);
            let result = &answer.body["result"];
            assert_eq!(result["isError"], false, "{}", answer.body);
            let text = result.to_string();
            assert!(text.contains(own), "the answer names its own tenant's client: {text}");
            assert!(!text.contains(other), "another tenant's data crossed over: {text}");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

async fn audited(env: &Env, t: &Tenant, query: &str) -> i64 {
    let page = env.api(&t.admin_key, "GET", &format!("/api/v1/mcp/audit?page_size=1&{query}"), None).await.expect(200);
    page.body["total"].as_i64().unwrap()
}

#[actix_web::test]
async fn eight_agents_in_two_tenants_call_concurrently_and_every_call_is_audited_in_its_tenant() {
    let settings = Settings {
        allow_insecure_idp_urls: true,
        mcp_calls_per_second: 1e9,
        mcp_call_burst: 1e9,
        mcp_writes_per_second: 1e9,
        ..Settings::default()
    };
    let env = Arc::new(Env::with(settings).await);
    let calls = calls_per_agent();
    let a_agents = prepare(&env, &env.a, "Aardvark").await;
    let b_agents = prepare(&env, &env.b, "Bumblebee").await;
    let mut runs = Vec::new();
    for (key, _) in &a_agents {
        runs.push(tokio::spawn(run_agent(env.clone(), key.clone(), "Aardvark", "Bumblebee", calls)));
    }
    for (key, _) in &b_agents {
        runs.push(tokio::spawn(run_agent(env.clone(), key.clone(), "Bumblebee", "Aardvark", calls)));
    }
    for run in runs {
        run.await.unwrap();
    }

    let per_tenant = i64::try_from(AGENTS * calls).unwrap();
    assert_eq!(audited(&env, &env.a, "").await, per_tenant, "one audit row per call");
    assert_eq!(audited(&env, &env.b, "").await, per_tenant);
    for ((_, a), (_, b)) in a_agents.iter().zip(&b_agents) {
        assert_eq!(audited(&env, &env.a, &format!("agent_id={a}")).await, i64::try_from(calls).unwrap());
        assert_eq!(audited(&env, &env.a, &format!("agent_id={b}")).await, 0, "no row crosses tenants");
        assert_eq!(audited(&env, &env.b, &format!("agent_id={a}")).await, 0);
    }
    assert_eq!(audited(&env, &env.a, "decision=allow").await, per_tenant);
    let rows: Value = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/audit?page_size=200", None).await.body;
    assert!(
        rows["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["result_summary"].as_str().is_some_and(|s| !s.contains("Bumblebee")))
    );
    Arc::into_inner(env).unwrap().stop().await;
}
