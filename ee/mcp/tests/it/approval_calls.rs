//! Approvals on the call path (issue 16): a call an `@approval("required")` policy matches runs
//! only by consuming an approved approval of exactly that call, in the transaction that runs it;
//! until then the caller is told in its protocol era's form (2026-07-28 `InputRequiredResult`
//! with a sealed `requestState`; 2025-11-25 with URL elicitation -32042; else a tool error).
//! On SQLite or, with ALGA_TEST_DATABASE_URL, PostgreSQL.

use serde_json::{Value, json};

use crate::policy_calls::{exec, first_ticket, tenant_id, text};
use crate::support::{Answer, Env, keyed_agent};

/// Title changes of tickets by agents need a person's approval; tickets tagged `frozen` are
/// never changed.
const POLICIES: &str = r#"@id("titles-need-approval")
@approval("required")
@expires("1h")
permit (principal is Alga::Agent, action == Alga::Action::"tickets.update", resource is Alga::Ticket)
when { context.body has title };

@id("frozen")
@reason("Frozen tickets stay as they are.")
forbid (principal, action, resource is Alga::Ticket) when { resource.tags.contains("frozen") };
"#;

struct Setup {
    env: Env,
    agent_key: String,
    ticket: String,
}

async fn setup() -> Setup {
    let env = Env::with(alga_ee_mcp::Settings {
        mcp_call_burst: 100.0,
        mcp_writes_per_second: 100.0,
        approval_wait: 1,
        approvals_by_api_key: true,
        ..alga_ee_mcp::Settings::default()
    })
    .await;
    let role = env
        .api(
            &env.a.admin_key,
            "POST",
            "/api/v1/roles",
            Some(json!({ "name": "Editor", "permissions": ["ticket:read", "ticket:update"] })),
        )
        .await
        .expect(201);
    let role = role.data()["id"].as_str().unwrap().to_owned();
    let (_, agent_key) = keyed_agent(&env, &env.a, "bot", &[&role]).await;
    let current = env.api(&env.a.admin_key, "GET", "/api/v1/mcp/policies", None).await.expect(200);
    let version = current.data()["version"].clone();
    env.api(
        &env.a.admin_key,
        "PUT",
        "/api/v1/mcp/policies",
        Some(json!({ "source": POLICIES, "mode": "enforce", "expected_version": version })),
    )
    .await
    .expect(200);
    let ticket = first_ticket(&env).await;
    Setup { env, agent_key, ticket }
}

fn retitle(ticket: &str, title: &str) -> Value {
    json!({ "entryId": "tickets.update", "path": { "id": ticket }, "body": { "title": title } })
}

async fn title_of(s: &Setup) -> String {
    let t = s.env.api(&s.env.a.admin_key, "GET", &format!("/api/v1/tickets/{}", s.ticket), None).await.expect(200);
    t.data()["title"].as_str().unwrap().to_owned()
}

async fn approval(s: &Setup, id: &str) -> Value {
    s.env.api(&s.env.a.admin_key, "GET", &format!("/api/v1/mcp/approvals/{id}"), None).await.expect(200).data().clone()
}

async fn approve(s: &Setup, id: &str) {
    s.env.api(&s.env.a.admin_key, "POST", &format!("/api/v1/mcp/approvals/{id}/approve"), None).await.expect(200);
}

/// The newest audit row of the tenant's tool calls.
async fn last_audit(s: &Setup) -> Value {
    let rows = s.env.api(&s.env.a.admin_key, "GET", "/api/v1/mcp/audit?page_size=1", None).await.expect(200);
    rows.data()[0].clone()
}

/// A legacy client's call (no URL elicitation): a tool error naming the approval; the identical
/// call runs once approved, consuming it; the next identical call asks again.
#[actix_web::test]
async fn without_url_elicitation_the_caller_is_told_to_retry_once_approved() {
    let s = setup().await;
    let before = title_of(&s).await;
    let asked = s.env.call_api("/api/mcp", &s.agent_key, retitle(&s.ticket, "Approved title")).await.expect(200);
    let result = &asked.body["result"];
    assert_eq!(result["isError"], true, "{}", asked.body);
    let approval_id = result["structuredContent"]["approval"]["id"].as_str().unwrap().to_owned();
    let url = result["structuredContent"]["approval"]["url"].as_str().unwrap();
    assert!(url.ends_with(&format!("/admin/approvals/{approval_id}")), "{url}");
    assert!(result["structuredContent"]["error"].as_str().unwrap().contains("identical call again"), "{result}");
    assert_eq!(title_of(&s).await, before, "nothing ran");
    let row = last_audit(&s).await;
    assert_eq!((row["decision"].as_str(), row["reason"].as_str()), (Some("deny"), Some("approval")), "{row}");
    assert_eq!(row["approval_id"], approval_id.as_str());
    assert_eq!(row["policy_decision"], "allow");
    assert_eq!(row["policy_ids"], r#"["titles-need-approval"]"#);
    // Asking again while pending finds the same approval.
    let again = s.env.call_api("/api/mcp", &s.agent_key, retitle(&s.ticket, "Approved title")).await.expect(200);
    assert_eq!(again.body["result"]["structuredContent"]["approval"]["id"], approval_id.as_str());
    // Other arguments are another call.
    let other = s.env.call_api("/api/mcp", &s.agent_key, retitle(&s.ticket, "Other title")).await.expect(200);
    assert_ne!(other.body["result"]["structuredContent"]["approval"]["id"], approval_id.as_str());

    approve(&s, &approval_id).await;
    s.env.call_status(&s.agent_key, retitle(&s.ticket, "Approved title"), 200).await;
    assert_eq!(title_of(&s).await, "Approved title");
    let row = last_audit(&s).await;
    assert_eq!((row["decision"].as_str(), row["approval_id"].as_str()), (Some("allow"), Some(approval_id.as_str())));
    let used = approval(&s, &approval_id).await;
    assert_eq!(used["status"], "consumed");
    assert_eq!(used["audit_id"], row["id"]);
    // Exactly once: the identical call asks anew.
    let third = s.env.call_api("/api/mcp", &s.agent_key, retitle(&s.ticket, "Approved title")).await.expect(200);
    let next = third.body["result"]["structuredContent"]["approval"]["id"].as_str().unwrap();
    assert_ne!(next, approval_id);
    // Calls no approval policy matches run as before.
    s.env.call_status(&s.agent_key, json!({ "entryId": "tickets.get", "path": { "id": s.ticket } }), 200).await;
    s.env.stop().await;
}

/// 2025-11-25 with URL elicitation declared: -32042 carrying the approval; approved, the
/// identical retry runs once; a third identical call asks again.
#[actix_web::test]
async fn a_2025_11_25_client_declaring_url_elicitation_gets_minus_32042() {
    let s = setup().await;
    let auth = format!("Bearer {}", s.agent_key);
    let send = |body: Value| {
        let auth = auth.clone();
        let env = &s.env;
        async move {
            let headers = [
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
                ("mcp-protocol-version", "2025-11-25"),
            ];
            env.send("POST", "/api/mcp", &headers, Some(body.to_string().into_bytes())).await
        }
    };
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": { "elicitation": { "url": {} } },
        "clientInfo": { "name": "legacy-client", "version": "1.0" } } });
    send(init).await.expect(200);
    let call = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "call_api_endpoint", "arguments": retitle(&s.ticket, "Elicited") } });
    let asked = send(call.clone()).await.expect(200);
    assert_eq!(asked.body["error"]["code"], -32042, "{}", asked.body);
    let elicitation = &asked.body["error"]["data"]["elicitations"][0];
    assert_eq!(elicitation["mode"], "url");
    let id = elicitation["elicitationId"].as_str().unwrap().to_owned();
    assert!(elicitation["url"].as_str().unwrap().ends_with(&id));
    assert_eq!(approval(&s, &id).await["status"], "pending");

    approve(&s, &id).await;
    let ran = send(call.clone()).await.expect(200);
    assert_eq!(ran.body["result"]["structuredContent"]["status"], 200, "{}", ran.body);
    assert_eq!(title_of(&s).await, "Elicited");
    let third = send(call).await.expect(200);
    assert_eq!(third.body["error"]["code"], -32042, "{}", third.body);
    assert_ne!(third.body["error"]["data"]["elicitations"][0]["elicitationId"], id.as_str());
    s.env.stop().await;
}

/// A 2026-07-28 request (stateless: `_meta` on every call) with the headers it must carry.
async fn modern(s: &Setup, arguments: Value, extra: Value) -> Answer {
    let mut params = json!({
        "name": "call_api_endpoint",
        "arguments": arguments,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": { "elicitation": { "url": {} } },
            "io.modelcontextprotocol/clientInfo": { "name": "modern-client", "version": "2.0" },
        },
    });
    if let (Some(p), Value::Object(extra)) = (params.as_object_mut(), extra) {
        p.extend(extra);
    }
    let body = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params });
    let auth = format!("Bearer {}", s.agent_key);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "call_api_endpoint"),
    ];
    s.env.send("POST", "/api/mcp", &headers, Some(body.to_string().into_bytes())).await.expect(200)
}

fn retry_with(state: &str) -> Value {
    json!({ "requestState": state, "inputResponses": { "approval": { "action": "accept" } } })
}

/// 2026-07-28: an `InputRequiredResult` with a URL elicitation and a sealed state; the retry is
/// held while pending (state only), runs once approved; the state is refused once used, altered,
/// or sent with other arguments; a denial is told with who and why.
#[actix_web::test]
async fn a_2026_07_28_client_is_asked_by_url_elicitation_and_its_retry_runs_once_approved() {
    let s = setup().await;
    let first = modern(&s, retitle(&s.ticket, "Modern"), json!({})).await;
    let result = &first.body["result"];
    assert_eq!(result["resultType"], "input_required", "{}", first.body);
    let request = &result["inputRequests"]["approval"];
    assert_eq!(request["method"], "elicitation/create");
    assert_eq!(request["params"]["mode"], "url");
    let url = request["params"]["url"].as_str().unwrap().to_owned();
    let id = url.rsplit('/').next().unwrap().to_owned();
    let state = result["requestState"].as_str().unwrap().to_owned();
    assert!(state.starts_with("v1.") && !state.contains(&id), "sealed: {state}");

    // Retried while pending: held, then told to retry with the same state (no new request).
    let pending = modern(&s, retitle(&s.ticket, "Modern"), retry_with(&state)).await;
    assert_eq!(pending.body["result"]["resultType"], "input_required", "{}", pending.body);
    assert_eq!(pending.body["result"]["requestState"], state.as_str());
    assert!(pending.body["result"].get("inputRequests").is_none(), "{}", pending.body);

    // The state with other arguments, or altered: refused, and nothing runs.
    let other = modern(&s, retitle(&s.ticket, "Hijacked"), retry_with(&state)).await;
    assert_eq!(other.body["result"]["isError"], true, "{}", other.body);
    assert!(other.body["result"]["structuredContent"]["error"].as_str().unwrap().contains("another call"));
    let mut altered = state.clone().into_bytes();
    let at = altered.len() - 5;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let tampered = modern(&s, retitle(&s.ticket, "Modern"), retry_with(&altered)).await;
    assert_eq!(tampered.body["result"]["isError"], true, "{}", tampered.body);
    assert_ne!(title_of(&s).await, "Hijacked");

    // A client that goes away while its retry is held: approved meanwhile, nothing runs for it.
    let body = json!({ "jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {
        "name": "call_api_endpoint", "arguments": retitle(&s.ticket, "Modern"),
        "requestState": state, "inputResponses": { "approval": { "action": "accept" } },
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": { "elicitation": { "url": {} } },
        } } });
    let gone = s
        .env
        .http
        .post(format!("{}/api/mcp", s.env.base))
        .header("authorization", format!("Bearer {}", s.agent_key))
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "call_api_endpoint")
        .timeout(std::time::Duration::from_millis(300))
        .body(body.to_string())
        .send();
    let (gone, ()) = futures_util::join!(gone, async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        approve(&s, &id).await;
    });
    assert!(gone.is_err(), "the client gave up");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(approval(&s, &id).await["status"], "approved", "nothing ran for the client that left");
    let asked = approval(&s, &id).await;
    assert_eq!((&asked["client_name"], &asked["client_version"]), (&json!("modern-client"), &json!("2.0")));
    assert_ne!(title_of(&s).await, "Modern");

    let ran = modern(&s, retitle(&s.ticket, "Modern"), retry_with(&state)).await;
    assert_eq!(ran.body["result"]["resultType"], "complete", "{}", ran.body);
    assert_eq!(ran.body["result"]["structuredContent"]["status"], 200, "{}", ran.body);
    assert_eq!(title_of(&s).await, "Modern");
    // Replayed after use: refused.
    let replayed = modern(&s, retitle(&s.ticket, "Modern"), retry_with(&state)).await;
    assert_eq!(replayed.body["result"]["isError"], true, "{}", replayed.body);
    assert!(replayed.body["result"]["structuredContent"]["error"].as_str().unwrap().contains("was used"));

    // Denied: the retry says who and why, and nothing runs.
    let asked = modern(&s, retitle(&s.ticket, "Denied title"), json!({})).await;
    let state = asked.body["result"]["requestState"].as_str().unwrap().to_owned();
    let url = asked.body["result"]["inputRequests"]["approval"]["params"]["url"].as_str().unwrap();
    let id = url.rsplit('/').next().unwrap();
    s.env
        .api(
            &s.env.a.admin_key,
            "POST",
            &format!("/api/v1/mcp/approvals/{id}/deny"),
            Some(json!({ "reason": "Not before the audit." })),
        )
        .await
        .expect(200);
    let denied = modern(&s, retitle(&s.ticket, "Denied title"), retry_with(&state)).await;
    let message = denied.body["result"]["structuredContent"]["error"].as_str().unwrap();
    assert!(message.contains("denied") && message.contains("Not before the audit."), "{message}");
    assert_ne!(title_of(&s).await, "Denied title");
    // And the identical call without state is told of the denial rather than asking again.
    let told = modern(&s, retitle(&s.ticket, "Denied title"), json!({})).await;
    assert!(told.body["result"]["structuredContent"]["error"].as_str().unwrap().contains("denied"), "{}", told.body);
    s.env.stop().await;
}

/// An approval never overrides a forbid: the record changed after approval so that a forbid
/// matches, and the call is denied without using the approval. Concurrent identical calls after
/// approval: exactly one runs.
#[actix_web::test]
async fn an_approval_runs_one_call_and_never_overrides_a_forbid_decided_at_execution() {
    let s = setup().await;
    let asked = s.env.call_api("/api/mcp", &s.agent_key, retitle(&s.ticket, "Once")).await.expect(200);
    let id = asked.body["result"]["structuredContent"]["approval"]["id"].as_str().unwrap().to_owned();
    approve(&s, &id).await;
    // Another process tags the ticket `frozen` after the approval.
    let tenant = tenant_id(&s.env, &s.env.a).await;
    let tag = alga_core::identity::new_id();
    exec(
        &s.env,
        format!(
            "INSERT INTO tags (tenant_id, id, name, name_key, color, created_at, updated_at) VALUES ('{tenant}', '{tag}', 'frozen', 'frozen', NULL, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
    )
    .await;
    exec(
        &s.env,
        format!(
            "INSERT INTO taggings (tenant_id, entity_type, entity_id, tag_id) VALUES ('{tenant}', 'ticket', '{}', '{tag}')",
            s.ticket
        ),
    )
    .await;
    let refused = s.env.call_api("/api/mcp", &s.agent_key, retitle(&s.ticket, "Once")).await.expect(200);
    assert_eq!(refused.body["result"]["structuredContent"]["status"], 403, "{}", refused.body);
    assert!(refused.body.to_string().contains("frozen"), "{}", refused.body);
    assert_eq!(approval(&s, &id).await["status"], "approved", "not used by a refused call");
    exec(&s.env, format!("DELETE FROM taggings WHERE tag_id = '{tag}'")).await;

    let calls = (0..6).map(|_| s.env.call_api("/api/mcp", &s.agent_key, retitle(&s.ticket, "Once")));
    let answers = futures_util::future::join_all(calls).await;
    let ran = answers.iter().filter(|a| a.body["result"]["structuredContent"]["status"] == 200).count();
    assert_eq!(ran, 1, "{:?}", answers.iter().map(|a| a.body.to_string()).collect::<Vec<_>>());
    assert_eq!(approval(&s, &id).await["status"], "consumed");
    let count = text(
        &s.env,
        format!(
            "SELECT CAST(COUNT(*) AS TEXT) AS value FROM mcp_audit WHERE approval_id = '{id}' AND decision = 'allow'"
        ),
    )
    .await;
    assert_eq!(count, "1");
    s.env.stop().await;
}
