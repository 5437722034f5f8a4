//! Issue 14's end-to-end scenario through the real MCP endpoint, as an agent with an API key and
//! the Technician role would work a ticket on the demo data: every operation is found through
//! `search_api_registry` (among its first three results, as an agent reading the results would
//! choose) and every record through the calls before it, never by a hard-coded id.

use serde_json::{Value, json};

use crate::support::{Env, keyed_agent};

fn structured(answer: &crate::support::Answer) -> &Value {
    &answer.body["result"]["structuredContent"]
}

/// The operation the registry search offers for `query`, asserting it is `expected` and among the
/// first three results.
async fn found(env: &Env, key: &str, query: &str, expected: &str) -> String {
    let search = json!({ "name": "search_api_registry", "arguments": { "query": query } });
    let answer = env.rpc("/api/mcp", key, "tools/call", search).await.expect(200);
    let ids: Vec<String> = structured(&answer)["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results for {query:?}: {}", answer.body))
        .iter()
        .filter_map(|r| r["entryId"].as_str().map(str::to_owned))
        .collect();
    let position = ids.iter().position(|id| id == expected);
    assert!(position.is_some_and(|p| p < 3), "{query:?} should offer {expected} among its first three: {ids:?}");
    ids[position.unwrap_or_default()].clone()
}

/// `call_api_endpoint` on the entry found; the REST answer's body (the tool result is no error).
async fn call(env: &Env, key: &str, entry: &str, arguments: Value) -> Value {
    let mut arguments = arguments;
    arguments["entryId"] = json!(entry);
    let answer = env.call_api("/api/mcp", key, arguments).await.expect(200);
    assert_ne!(answer.body["result"]["isError"], true, "{entry}: {}", answer.body);
    structured(&answer)["data"].clone()
}

#[actix_web::test]
async fn an_agent_triages_a_laptop_ticket_with_assets_knowledge_base_comments_and_tags() {
    let env = Env::start().await;
    alga_api::demo::seed(&env.ctx, "tenant-a").await.unwrap();
    let (agent, key) = keyed_agent(&env, &env.a, "Triage agent", &[&env.a.technician_role]).await;

    // 1. The ticket about a laptop.
    let list = found(&env, &key, "find tickets about a laptop", "tickets.list").await;
    let tickets = call(&env, &key, &list, json!({ "query": { "search": "laptop", "limit": 50 } })).await;
    let ticket = tickets["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "Laptop will not boot")
        .unwrap_or_else(|| panic!("no laptop ticket in {tickets}"))
        .clone();
    let ticket_id = ticket["id"].as_str().unwrap().to_owned();

    // 2. Its device, and the device's warranty.
    let linked = found(&env, &key, "which devices is this ticket about", "tickets.assets.list").await;
    let devices = call(&env, &key, &linked, json!({ "path": { "id": ticket_id } })).await;
    let device = devices["data"].as_array().unwrap().first().unwrap_or_else(|| panic!("no device: {devices}")).clone();
    assert_eq!(device["asset_type"], "laptop", "{device}");
    let get = found(&env, &key, "get the details and warranty of this device", "assets.get").await;
    let asset = call(&env, &key, &get, json!({ "path": { "id": device["id"] } })).await;
    let warranty = asset["data"]["warranty_end_date"].as_str().unwrap_or_else(|| panic!("no warranty in {asset}"));
    assert!(chrono::NaiveDate::parse_from_str(warranty, "%Y-%m-%d").is_ok(), "{warranty}");

    // 3. The knowledge-base article that solves it (the ticket's description names BitLocker).
    assert!(ticket["description"].as_str().unwrap().contains("BitLocker"));
    let kb = found(&env, &key, "find the knowledge base article for this problem", "kb_articles.list").await;
    let articles = call(&env, &key, &kb, json!({ "query": { "search": "BitLocker" } })).await;
    let article = &articles["data"][0];
    assert_eq!(
        (article["title"].as_str(), article["status"].as_str()),
        (Some("BitLocker recovery key lookup"), Some("published"))
    );

    // 4. A note on the ticket, then corrected.
    let add = found(&env, &key, "add a note to a ticket", "tickets.comments.create").await;
    let body = json!({ "body": "Recovery key read to the user per the KB article; laptop boots again." });
    let note = call(&env, &key, &add, json!({ "path": { "id": ticket_id }, "body": body })).await;
    let note_id = note["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(note["data"]["created_by_agent"], agent.as_str(), "the note names the agent that wrote it");
    let edit = found(&env, &key, "correct my comment on a ticket", "tickets.comments.update").await;
    let fixed = json!({ "body": "Recovery key read to the user per the KB article; laptop boots again after the BIOS rollback." });
    let path = json!({ "id": ticket_id, "comment_id": note_id });
    let edited = call(&env, &key, &edit, json!({ "path": path, "body": fixed })).await;
    assert!(edited["data"]["body"].as_str().unwrap().ends_with("after the BIOS rollback."), "{edited}");

    // 5. Tagged, keeping its tags.
    let tag = found(&env, &key, "tag a ticket", "tickets.update").await;
    let mut tags: Vec<Value> = ticket["tags"].as_array().unwrap().clone();
    tags.push(json!("onsite"));
    let tagged = call(&env, &key, &tag, json!({ "path": { "id": ticket_id }, "body": { "tags": tags } })).await;
    assert!(tagged["data"]["tags"].as_array().unwrap().contains(&json!("onsite")), "{tagged}");

    // What the agent did is what the tenant sees, and what its audit says.
    let seen = env.api(&env.a.admin_key, "GET", &format!("/api/v1/tickets/{ticket_id}/comments"), None).await;
    let comments = seen.expect(200);
    let mine: Vec<&Value> =
        comments.data().as_array().unwrap().iter().filter(|c| c["created_by_agent"] == agent.as_str()).collect();
    assert_eq!(mine.len(), 1);
    assert!(mine[0]["body"].as_str().unwrap().ends_with("after the BIOS rollback."));
    let rows = env.audit(&env.a, &format!("agent_id={agent}&page_size=100")).await;
    let operations: Vec<&str> = rows.iter().rev().filter_map(|r| r["operation_id"].as_str()).collect();
    assert_eq!(
        operations,
        [
            "tickets.list",
            "tickets.assets.list",
            "assets.get",
            "kb_articles.list",
            "tickets.comments.create",
            "tickets.comments.update",
            "tickets.update"
        ],
        "every call audited as the operation it ran, oldest first"
    );
    assert!(rows.iter().all(|r| r["decision"] == "allow"), "{rows:#?}");
    env.stop().await;
}
