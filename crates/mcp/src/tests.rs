#![allow(clippy::unwrap_used)]

use serde_json::{Map, Value, json};

use super::*;

struct Echo;

/// What `initialized` was told: (client name, URL elicitation).
static INITIALIZED: std::sync::Mutex<Vec<(String, bool)>> = std::sync::Mutex::new(Vec::new());

impl ToolProvider for Echo {
    type Caller = &'static str;

    fn initialized(&self, _caller: &&'static str, client: &Implementation, url_elicitation: bool) {
        INITIALIZED.lock().unwrap().push((client.name.clone(), url_elicitation));
    }

    fn tools(&self, caller: &&'static str) -> Vec<Tool> {
        let Value::Object(schema) = json!({"type": "object"}) else { unreachable!() };
        vec![Tool::new("echo", format!("echo for {caller}"), schema)]
    }

    async fn call(
        &self,
        _caller: &&'static str,
        client: &ClientFacts,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<ToolOutput, CallError> {
        match name {
            "echo" => Ok(ToolOutput {
                structured: json!({ "arguments": arguments, "version": client.protocol_version, "client": client.client_name }),
                is_error: false,
            }),
            "fails" => Ok(ToolOutput { structured: json!({ "error": "nope" }), is_error: true }),
            "unaudited" => Err(CallError::Unavailable("The call could not be recorded.".into())),
            _ => Err(CallError::UnknownTool),
        }
    }
}

fn info() -> ServerInfo {
    ServerInfo { name: "alga-test".into(), version: "1.0".into(), instructions: "test".into() }
}

async fn send(message: Value, transport: &Transport) -> Outcome {
    handle(&Echo, &"alice", &info(), message.to_string().as_bytes(), transport).await
}

async fn legacy(message: Value) -> (u16, Value) {
    match send(message, &Transport::default()).await {
        Outcome::Reply { status, body } => (status, body),
        Outcome::Accepted => (202, Value::Null),
    }
}

fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "probe", "version": "9"},
    })
}

fn http(method: &str, name: Option<&str>) -> Transport {
    Transport {
        http: true,
        protocol_version: Some("2026-07-28".into()),
        method: Some(method.into()),
        name: name.map(str::to_owned),
    }
}

async fn modern(message: Value, transport: &Transport) -> (u16, Value) {
    match send(message, transport).await {
        Outcome::Reply { status, body } => (status, body),
        Outcome::Accepted => (202, Value::Null),
    }
}

#[tokio::test]
async fn json_rpc_rules() {
    let out = handle(&Echo, &"a", &info(), b"{not json", &Transport::default()).await;
    let Outcome::Reply { status, body } = out else { panic!() };
    assert_eq!(
        (status, body["error"]["code"].as_i64(), body["id"].is_null()),
        (400, Some(i64::from(PARSE_ERROR.0)), true)
    );
    let (status, body) = legacy(json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}])).await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(i64::from(INVALID_REQUEST.0))),
        "batches are refused"
    );
    let (_, body) = legacy(json!({"id": 1, "method": "ping"})).await;
    assert_eq!(body["error"]["code"], INVALID_REQUEST.0, "jsonrpc 2.0 is required");
    assert_eq!(body["id"], 1, "the id is echoed when readable");
    let (_, body) = legacy(json!({"jsonrpc": "2.0", "id": null, "method": "ping"})).await;
    assert_eq!((body["error"]["code"].as_i64(), body["id"].is_null()), (Some(i64::from(INVALID_REQUEST.0)), true));
    let (_, body) = legacy(json!({"jsonrpc": "2.0", "id": 1.5, "method": "ping"})).await;
    assert_eq!(body["error"]["code"], INVALID_REQUEST.0);
    let (_, body) = legacy(json!({"jsonrpc": "2.0", "id": "abc", "method": "ping"})).await;
    assert_eq!((body["id"].as_str(), &body["result"]), (Some("abc"), &json!({})));
    for note in ["notifications/initialized", "notifications/cancelled", "notifications/whatever"] {
        assert_eq!(
            send(json!({"jsonrpc": "2.0", "method": note}), &Transport::default()).await,
            Outcome::Accepted,
            "{note}"
        );
    }
    let response = json!({"jsonrpc": "2.0", "id": 7, "result": {}});
    assert_eq!(send(response, &Transport::default()).await, Outcome::Accepted, "a client's response needs no answer");
    let (status, body) = legacy(json!({"jsonrpc": "2.0", "id": 2, "method": "resources/list"})).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (200, Some(i64::from(METHOD_NOT_FOUND.0))));
    let (_, body) = legacy(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": []})).await;
    assert_eq!(body["error"]["code"], INVALID_PARAMS.0);
}

#[tokio::test]
async fn initialize_negotiates_the_version() {
    for (asked, answered) in [
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2024-11-05", "2025-11-25"),
        ("2026-07-28", "2025-11-25"),
        ("garbage", "2025-11-25"),
    ] {
        let (_, body) = legacy(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}})).await;
        assert_eq!(body["result"]["protocolVersion"], answered, "{asked}");
        assert_eq!(body["result"]["serverInfo"]["name"], "alga-test");
        assert!(body["result"]["capabilities"]["tools"].is_object());
        assert!(body["result"].get("resultType").is_none(), "legacy results carry no resultType");
    }
    let (_, body) =
        legacy(json!({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}))
            .await;
    assert_eq!(body["error"]["code"], INVALID_PARAMS.0, "capabilities and clientInfo are required");
    assert!(body["error"]["message"].as_str().unwrap().contains("capabilities"), "{body}");
}

/// URL-mode elicitation is usable only in a session at 2025-11-25, whatever a client declares.
#[tokio::test]
async fn url_elicitation_is_told_only_for_a_session_that_has_it() {
    for (version, name) in [("2025-06-18", "url-elicitation-0618"), ("2025-11-25", "url-elicitation-1125")] {
        let capabilities = json!({ "elicitation": { "url": {} } });
        let params = json!({"protocolVersion": version, "capabilities": capabilities, "clientInfo": {"name": name, "version": "1"}});
        legacy(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})).await;
    }
    let told: Vec<(String, bool)> =
        INITIALIZED.lock().unwrap().iter().filter(|(name, _)| name.starts_with("url-elicitation-")).cloned().collect();
    assert_eq!(told, [("url-elicitation-0618".to_owned(), false), ("url-elicitation-1125".to_owned(), true)]);
}

#[test]
fn client_names_are_bounded_and_shown_as_they_read() {
    assert_eq!(client_name("claude-code"), "claude-code");
    // A right-to-left override would make "edoc-edualc" read as "claude-code".
    assert_eq!(client_name("\u{202E}edoc-edualc"), "edoc-edualc");
    assert_eq!(client_name("a\u{200B}b\u{2066}c\nd\u{7}"), "abcd");
    assert_eq!(client_name(&"x".repeat(10_000)).len(), 200);
    assert_eq!(client_version(&"1".repeat(10_000)).len(), 100);
    assert_eq!(client_name("ünïcødé 名前"), "ünïcødé 名前");
    // Tags (hidden text a model reads), soft hyphens, fillers and variation selectors go too.
    assert_eq!(client_name("cl\u{E0041}\u{E0042}au\u{00AD}de\u{3164}\u{2800}\u{FE0F}\u{2028}"), "claude");
}

/// Names reach the provider fit to show, in both eras.
#[tokio::test]
async fn client_names_reach_the_provider_bounded() {
    let long = "n".repeat(5_000);
    let params = json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": format!("bounded-name-{long}"), "version": "1"}});
    legacy(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})).await;
    let told = INITIALIZED.lock().unwrap().iter().find(|(n, _)| n.starts_with("bounded-name-")).cloned();
    assert_eq!(told.unwrap().0.chars().count(), 200);
    let mut meta = modern_meta();
    meta["io.modelcontextprotocol/clientInfo"] = json!({ "name": format!("\u{202E}{long}"), "version": "2" });
    let params = json!({"name": "echo", "arguments": {}, "_meta": meta});
    let (_, body) = modern(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params}),
        &http("tools/call", Some("echo")),
    )
    .await;
    let named = body["result"]["structuredContent"]["client"].as_str().unwrap();
    assert_eq!((named.chars().count(), named.starts_with('n')), (200, true), "{body}");
}

#[tokio::test]
async fn legacy_tools() {
    let (_, body) = legacy(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})).await;
    assert_eq!(body["result"]["tools"][0]["description"], "echo for alice", "listed for this caller");
    let (_, body) = legacy(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"x": 1}}}),
    )
    .await;
    let result = &body["result"];
    assert_eq!(
        (result["isError"].as_bool(), &result["structuredContent"]["arguments"]),
        (Some(false), &json!({"x": 1}))
    );
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, result["structuredContent"], "the same JSON as text");
    assert_eq!(result["structuredContent"]["version"], "2025-03-26", "no header: the 2025-03-26 default");
    let (_, body) =
        legacy(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "fails"}})).await;
    assert_eq!(body["result"]["isError"], true);
    assert!(body["result"].get("resultType").is_none(), "legacy tool results carry no resultType");
    let (status, body) =
        legacy(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "unaudited"}})).await;
    assert_eq!((status, &body["error"]["code"]), (503, &json!(INTERNAL_ERROR.0)), "{body}");
    let (_, body) =
        legacy(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "nope"}})).await;
    assert_eq!(
        (body["error"]["code"].as_i64(), body["error"]["message"].as_str()),
        (Some(i64::from(INVALID_PARAMS.0)), Some("Unknown tool: nope"))
    );
    let (_, body) =
        legacy(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "echo", "arguments": 5}}))
            .await;
    assert_eq!(body["error"]["code"], INVALID_PARAMS.0);
    let old = Transport { protocol_version: Some("2024-01-01".into()), ..Transport::default() };
    let Outcome::Reply { status, .. } = send(json!({"jsonrpc": "2.0", "id": 6, "method": "tools/list"}), &old).await
    else {
        panic!()
    };
    assert_eq!(status, 400, "an unsupported MCP-Protocol-Version header");
}

#[tokio::test]
async fn modern_era() {
    let (status, body) = modern(
        json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": modern_meta()}}),
        &http("server/discover", None),
    )
    .await;
    assert_eq!(status, 200);
    let r = &body["result"];
    assert_eq!(r["supportedVersions"], json!(SUPPORTED_VERSIONS));
    assert_eq!(
        (r["resultType"].as_str(), r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"].as_str()),
        (Some("complete"), Some("alga-test"))
    );
    let (_, body) = modern(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": modern_meta()}}),
        &http("tools/list", None),
    )
    .await;
    let r = &body["result"];
    assert_eq!((r["resultType"].as_str(), r["cacheScope"].as_str()), (Some("complete"), Some("private")));
    assert!(r["ttlMs"].as_u64().is_some() && r["tools"].is_array());
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "echo", "arguments": {}, "_meta": modern_meta()}});
    let (_, body) = modern(call.clone(), &http("tools/call", Some("echo"))).await;
    assert_eq!(body["result"]["structuredContent"]["client"], "probe", "client facts from _meta");
    assert_eq!(body["result"]["resultType"], "complete");
    let (_, body) = modern(call.clone(), &http("tools/call", Some("=?base64?ZWNobw==?="))).await;
    assert_eq!(body["result"]["isError"], false, "base64-encoded Mcp-Name is decoded");
    // On stdio there are no headers to check.
    let (_, body) = modern(call, &Transport::default()).await;
    assert_eq!(body["result"]["isError"], false);
    let (status, body) = modern(
        json!({"jsonrpc": "2.0", "id": 4, "method": "resources/list", "params": {"_meta": modern_meta()}}),
        &http("resources/list", None),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_i64()), (404, Some(i64::from(METHOD_NOT_FOUND.0))));
    let (_, body) = modern(
        json!({"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"_meta": modern_meta()}}),
        &http("ping", None),
    )
    .await;
    assert_eq!(body["result"]["resultType"], "complete");
}

#[tokio::test]
async fn modern_errors_carry_their_codes_and_data() {
    let mut meta = modern_meta();
    meta["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let (status, body) = modern(
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}),
        &http("tools/list", None),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(i64::from(UNSUPPORTED_VERSION.0))));
    assert_eq!(body["error"]["data"]["supported"], json!(SUPPORTED_VERSIONS));
    assert_eq!(body["error"]["data"]["requested"], "2099-01-01");

    let mut no_caps = modern_meta();
    no_caps.as_object_mut().unwrap().remove("io.modelcontextprotocol/clientCapabilities");
    let (status, body) = modern(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": no_caps}}),
        &http("tools/list", None),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(i64::from(INVALID_PARAMS.0))));

    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": modern_meta()}});
    for transport in [
        Transport { protocol_version: None, ..http("tools/list", None) },
        Transport { protocol_version: Some("2025-11-25".into()), ..http("tools/list", None) },
        http("ping", None),
        Transport { method: None, ..http("tools/list", None) },
    ] {
        let (status, body) = modern(list.clone(), &transport).await;
        assert_eq!(
            (status, body["error"]["code"].as_i64()),
            (400, Some(i64::from(HEADER_MISMATCH.0))),
            "{transport:?}"
        );
    }
    let call =
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "echo", "_meta": modern_meta()}});
    for name in [None, Some("fails"), Some("ECHO")] {
        let (status, body) = modern(call.clone(), &http("tools/call", name)).await;
        assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(i64::from(HEADER_MISMATCH.0))), "{name:?}");
    }
    let (status, body) = modern(
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "nope", "_meta": modern_meta()}}),
        &http("tools/call", Some("nope")),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(i64::from(INVALID_PARAMS.0))));
}

#[test]
fn base64_header_values() {
    assert_eq!(decode_header("=?base64?dG9vbHMvY2FsbA==?="), "tools/call");
    assert_eq!(decode_header("plain"), "plain");
    assert_eq!(decode_header("=?base64?!!!?="), "=?base64?!!!?=");
}
