//! The meta-tools through the MCP engine, in process, as each kind of caller.

use std::sync::Arc;

use alga_agent_tooling::Visibility;
use alga_agent_tooling::visibility::CONDITIONAL_NOTE;
use alga_api::tools::{Caller, MetaTools, PolicyView};
use alga_core::Principal;
use alga_mcp::{Outcome, ServerInfo, Transport, handle};
use serde_json::{Value, json};

use crate::support::Fixture;

struct Session {
    caller: Caller,
}

impl Session {
    fn new(f: &Fixture, who: &Arc<Principal>) -> Session {
        Session { caller: Caller { app: f.ctx.clone(), principal: who.clone(), policies: None } }
    }

    async fn rpc(&self, method: &str, params: Value) -> Value {
        let info = ServerInfo { name: "alga".into(), version: "test".into(), instructions: "PSA".into() };
        let message = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        match handle(&MetaTools, &self.caller, &info, message.to_string().as_bytes(), &Transport::default()).await {
            Outcome::Reply { body, .. } => body,
            Outcome::Accepted => Value::Null,
        }
    }

    async fn tool(&self, name: &str, arguments: Value) -> (bool, Value) {
        let body = self.rpc("tools/call", json!({"name": name, "arguments": arguments})).await;
        let result = &body["result"];
        (result["isError"].as_bool().unwrap_or(true), result["structuredContent"].clone())
    }
}

#[tokio::test]
async fn an_agent_finds_creates_and_reads_a_ticket() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    let tech = Session::new(&f, &f.a.tech);

    let tools = tech.rpc("tools/list", json!({})).await;
    let names: Vec<&str> =
        tools["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["search_api_registry", "search_business_data", "call_api_endpoint"]);
    let description = tools["result"]["tools"][0]["description"].as_str().unwrap();
    assert!(
        description.contains("Tickets") && !description.contains("Users"),
        "names what this caller can reach: {description}"
    );
    assert_eq!(tools["result"]["tools"][0]["annotations"]["readOnlyHint"], true);
    assert_eq!(tools["result"]["tools"][2]["annotations"]["destructiveHint"], false);

    let (error, found) = tech.tool("search_api_registry", json!({"query": "create a ticket"})).await;
    assert!(!error);
    assert_eq!(found["results"][0]["entryId"], "tickets.create", "{found}");
    assert!(found["results"][0]["requestBodySchema"].is_object() && found["results"][0]["examples"].is_array());

    let body =
        json!({"title": "Printer offline", "board_id": s.board, "client_id": s.client, "priority_id": s.priority});
    let (error, created) = tech.tool("call_api_endpoint", json!({"entryId": "tickets.create", "body": body})).await;
    assert!(!error, "{created}");
    assert_eq!(created["status"], 201);
    let id = created["data"]["data"]["id"].as_str().unwrap().to_owned();
    let (error, read) = tech.tool("call_api_endpoint", json!({"entryId": "tickets.get", "path": {"id": id}})).await;
    assert!(!error);
    assert_eq!(read["data"]["data"]["title"], "Printer offline");

    // search_business_data offers exactly the types GET /api/v1/search has.
    let offered = &tools["result"]["tools"][1]["inputSchema"]["properties"]["types"]["items"]["enum"];
    let searchable: Vec<Value> = alga_api::resources::search::DocType::ALL.iter().map(|t| json!(t)).collect();
    assert_eq!(offered, &Value::Array(searchable));

    let (error, records) = tech.tool("search_business_data", json!({"query": "printer", "types": ["ticket"]})).await;
    assert!(!error, "{records}");
    assert_eq!(records["data"]["total_count"], 1);
}

#[tokio::test]
async fn permissions_and_validation_come_back_as_tool_errors() {
    let f = Fixture::new().await;
    let s = f.setup(&f.a.admin).await;
    let ro = Session::new(&f, &f.a.readonly);

    // Read-only neither finds nor may call create operations.
    let (_, found) = ro.tool("search_api_registry", json!({"query": "create a ticket"})).await;
    assert!(found["results"].as_array().unwrap().iter().all(|r| r["method"] == "GET"), "{found}");
    let body = json!({"title": "x", "board_id": s.board, "client_id": s.client, "priority_id": s.priority});
    let (error, denied) = ro.tool("call_api_endpoint", json!({"entryId": "tickets.create", "body": body})).await;
    assert!(error);
    assert!(denied["error"].as_str().unwrap().contains("your roles do not permit it"), "{denied}");

    // A technician may create tickets but not clients; a bad argument names the field.
    let tech = Session::new(&f, &f.a.tech);
    let (error, invalid) =
        tech.tool("call_api_endpoint", json!({"entryId": "tickets.create", "body": {"title": 5}})).await;
    assert!(error);
    assert_eq!(invalid["field"], "body.board_id", "{invalid}");
    let (error, bad_query) =
        tech.tool("call_api_endpoint", json!({"entryId": "tickets.list", "query": {"limit": "lots"}})).await;
    assert!(error && bad_query["error"].as_str().unwrap().contains("an integer"), "{bad_query}");
    let (error, missing) = tech
        .tool(
            "call_api_endpoint",
            json!({"entryId": "tickets.get", "path": {"id": "00000000-0000-7000-8000-000000000000"}}),
        )
        .await;
    assert!(error);
    assert_eq!((missing["status"].as_u64(), missing["ok"].as_bool()), (Some(404), Some(false)));
    let (error, _) = tech.tool("call_api_endpoint", json!({})).await;
    assert!(error);
    let (error, _) = tech.tool("search_api_registry", json!({"query": "  "})).await;
    assert!(error);

    // Another tenant's ticket is not found through the tools either.
    let other = f.setup(&f.b.admin).await;
    let foreign = f.ticket(&f.b.admin, &other, "B's").await;
    let (error, answer) =
        tech.tool("call_api_endpoint", json!({"entryId": "tickets.get", "path": {"id": foreign}})).await;
    assert!(error);
    assert_eq!(answer["status"], 404);
    let unknown = tech.rpc("tools/call", json!({"name": "drop_tables", "arguments": {}})).await;
    assert_eq!(unknown["error"]["code"], -32602);
}

fn entry_ids(found: &Value) -> Vec<&str> {
    found["results"].as_array().unwrap().iter().map(|r| r["entryId"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn policies_hide_or_mark_operations_in_search_but_do_not_filter_calls() {
    let f = Fixture::new().await;
    let view: PolicyView = Arc::new(|operation: &str| match operation {
        "tickets.delete" => Visibility::Hidden,
        "tickets.update" => Visibility::Conditional,
        _ => Visibility::Open,
    });
    let open = Session::new(&f, &f.a.admin);
    let governed =
        Session { caller: Caller { app: f.ctx.clone(), principal: f.a.admin.clone(), policies: Some(view) } };

    // Without policies the admin finds the delete; with a forbid that has no condition, not.
    let query = json!({"query": "delete a ticket", "limit": 25});
    let (_, found) = open.tool("search_api_registry", query.clone()).await;
    assert!(entry_ids(&found).contains(&"tickets.delete"), "{found}");
    let (error, found) = governed.tool("search_api_registry", query).await;
    assert!(!error);
    assert!(!entry_ids(&found).contains(&"tickets.delete"), "{found}");

    // A conditionally forbidden operation is found, with the note; an open one without it.
    let (_, found) = governed.tool("search_api_registry", json!({"query": "update a ticket", "limit": 25})).await;
    let results = found["results"].as_array().unwrap();
    let update = results.iter().find(|r| r["entryId"] == "tickets.update").expect("tickets.update is found");
    assert_eq!(update["policyNote"], CONDITIONAL_NOTE, "{found}");
    assert!(
        results.iter().filter(|r| r["entryId"] != "tickets.update").all(|r| r.get("policyNote").is_none()),
        "{found}"
    );

    // Calls are not filtered by the view: the hidden operation runs (404: no such ticket), since the
    // policy decision that refuses it (naming the policy) is made on the call itself.
    let (error, answer) = governed
        .tool(
            "call_api_endpoint",
            json!({"entryId": "tickets.delete", "path": {"id": "00000000-0000-7000-8000-000000000000"}}),
        )
        .await;
    assert!(error);
    assert_eq!(answer["status"], 404, "{answer}");
}

/// `tools/list` stays within 2,000 tokens (estimated as bytes / 4, as `cargo xtask bench` does)
/// for the caller who reaches the most (an Admin): three meta-tools, whatever the catalog's size.
#[tokio::test]
async fn tools_list_stays_within_two_thousand_tokens() {
    let f = Fixture::new().await;
    let admin = Session::new(&f, &f.a.admin);
    let tools = admin.rpc("tools/list", json!({})).await;
    let bytes = tools["result"].to_string().len();
    assert!(alga_api::catalog().operations().len() > 100, "the catalog this is measured on");
    assert!(bytes / 4 < 2_000, "tools/list is {bytes} bytes (~{} tokens)", bytes / 4);
}
