//! The MCP engine: JSON-RPC 2.0 and the MCP lifecycle for both protocol eras, independent of
//! any transport.
//!
//! - Legacy era (2025-03-26, 2025-06-18, 2025-11-25): `initialize` negotiates the version (the
//!   client's when supported, else the newest legacy one); then `notifications/initialized`,
//!   `ping`, `tools/list`, `tools/call`, `notifications/cancelled`.
//! - Modern era (2026-07-28, stateless): `server/discover`; every request carries `_meta` with
//!   the protocol version and client capabilities; results carry `resultType`; `tools/list` adds
//!   `ttlMs` and `cacheScope: "private"`; errors -32020 (header mismatch), -32021 (missing client
//!   capability) and -32022 (unsupported version) with their `data`.
//!
//! A request is answered per JSON-RPC: batches refused (-32600), notifications never answered,
//! -32601 for unknown methods, -32602 for invalid params, -32700 for unparseable input, and the
//! request id echoed (`null` only when it cannot be read). Tools come from a [`ToolProvider`].
//!
//! The wire shapes (tool definitions, `initialize` and `tools/call` params and results, error
//! objects) are the official SDK's model types (`rmcp::model`); rmcp is used for nothing else
//! (no server, no transport), and only this crate names it: the rest of the workspace sees
//! [`Tool`], [`ToolAnnotations`] and [`JsonObject`] through these re-exports.

use std::future::Future;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ErrorCode, ErrorData, InitializeRequestParams, InitializeResult,
    ProtocolVersion, ServerCapabilities, ToolsCapability,
};
pub use rmcp::model::{Implementation, JsonObject, Tool, ToolAnnotations};
use serde::Serialize;
use serde_json::{Map, Value, json};

pub const LEGACY_VERSIONS: [&str; 3] = ["2025-03-26", "2025-06-18", "2025-11-25"];
pub const MODERN_VERSION: &str = "2026-07-28";
/// The one `initialize` era with URL-mode elicitation (and its error -32042).
pub const URL_ELICITATION_VERSION: &str = "2025-11-25";
/// Every version this engine speaks, oldest first.
pub const SUPPORTED_VERSIONS: [&str; 4] = ["2025-03-26", "2025-06-18", "2025-11-25", MODERN_VERSION];

pub const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

pub const PARSE_ERROR: ErrorCode = ErrorCode::PARSE_ERROR;
pub const INVALID_REQUEST: ErrorCode = ErrorCode::INVALID_REQUEST;
pub const METHOD_NOT_FOUND: ErrorCode = ErrorCode::METHOD_NOT_FOUND;
pub const INVALID_PARAMS: ErrorCode = ErrorCode::INVALID_PARAMS;
pub const INTERNAL_ERROR: ErrorCode = ErrorCode::INTERNAL_ERROR;
pub const HEADER_MISMATCH: ErrorCode = ErrorCode::HEADER_MISMATCH;
pub const MISSING_CLIENT_CAPABILITY: ErrorCode = ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY;
pub const UNSUPPORTED_VERSION: ErrorCode = ErrorCode::UNSUPPORTED_PROTOCOL_VERSION;

/// Who this server is.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
    /// Shown to the model: what this server is for.
    pub instructions: String,
}

/// What the transport knows besides the message. On stdio everything is `None` and `http` false.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// Header checks (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`) apply.
    pub http: bool,
    pub protocol_version: Option<String>,
    pub method: Option<String>,
    pub name: Option<String>,
}

/// The answer to one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A JSON-RPC response, with the HTTP status it calls for.
    Reply { status: u16, body: Value },
    /// An accepted notification (or client response): HTTP 202 with no body; nothing on stdio.
    Accepted,
}

/// The client facts a call carries, for the audit and the tools.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientFacts {
    pub protocol_version: String,
    pub client_name: Option<String>,
    pub client_version: Option<String>,
    /// 2026-07-28: the request's `_meta` declares URL-mode elicitation. (Earlier eras declare
    /// it in `initialize`, which a stateless server hears once: see
    /// [`ToolProvider::initialized`].)
    pub url_elicitation: bool,
    /// 2026-07-28: a retry's `requestState` and `inputResponses`, echoed from an
    /// `InputRequiredResult`.
    pub request_state: Option<String>,
    pub input_responses: Option<Value>,
}

/// A tool's answer: its structured result, and whether it is an error the model should see.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub structured: Value,
    pub is_error: bool,
}

/// Why a tool call produced no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No tool has this name: -32602.
    UnknownTool,
    /// The server cannot stand behind an answer (for example, the audit trail could not record
    /// the call): -32603 and, over HTTP, 503. The message is safe to show.
    Unavailable(String),
    /// Not a failure: a person must first act at a URL (an approval). 2025-11-25: the JSON-RPC
    /// error -32042 (`URLElicitationRequiredError`) with `data.elicitations`, each
    /// `{mode: "url", elicitationId, url, message}`. Only for clients that declared URL-mode
    /// elicitation; never in 2026-07-28 (use [`CallError::InputRequired`]).
    UrlElicitationRequired { message: String, elicitations: Vec<Value> },
    /// Not a failure: 2026-07-28's `InputRequiredResult` (`resultType: "input_required"`), with
    /// the input requests (by key; none for a state-only answer) and the `requestState` the
    /// client echoes on its retry.
    InputRequired { input_requests: Map<String, Value>, request_state: String },
}

/// The JSON-RPC code of [`CallError::UrlElicitationRequired`] (2025-11-25).
pub const URL_ELICITATION_REQUIRED: i32 = -32042;

/// The tools of a server, for one caller.
pub trait ToolProvider: Sync {
    type Caller: Sync;

    /// The tools this caller may see, in a deterministic order.
    fn tools(&self, caller: &Self::Caller) -> Vec<Tool>;

    /// Runs a tool.
    fn call(
        &self,
        caller: &Self::Caller,
        client: &ClientFacts,
        name: &str,
        arguments: Map<String, Value>,
    ) -> impl Future<Output = Result<ToolOutput, CallError>> + Send;

    /// Told the client's name and version when it initializes, and whether it declared URL-mode
    /// elicitation in a session that has it (2025-11-25), for whoever wants to remember them.
    fn initialized(&self, _caller: &Self::Caller, _client: &Implementation, _url_elicitation: bool) {}
}

enum Era {
    Legacy(String),
    Modern,
}

fn error(status: u16, id: &Value, code: ErrorCode, message: &str, data: Option<Value>) -> Outcome {
    let err = ErrorData::new(code, message.to_owned(), data);
    Outcome::Reply { status, body: json!({ "jsonrpc": "2.0", "id": id, "error": to_json(&err) }) }
}

/// A model type as JSON. Serializing these plain data types cannot fail (string keys, no
/// non-finite floats); `Null` would only stand in for a bug.
fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A tool result as JSON, its structured content moved rather than copied (it can be large).
fn call_result_json(mut result: CallToolResult) -> Value {
    let structured = result.structured_content.take();
    let mut value = to_json(&result);
    if let (Some(structured), Value::Object(map)) = (structured, &mut value) {
        map.insert("structuredContent".to_owned(), structured);
    }
    value
}

/// Typed request params; a mismatch is -32602 with serde's words for what is wrong.
fn params_as<T: serde::de::DeserializeOwned>(params: &Map<String, Value>) -> Result<T, (ErrorCode, String)> {
    serde_json::from_value(Value::Object(params.clone())).map_err(|e| (INVALID_PARAMS, format!("Invalid params: {e}")))
}

/// Handles one message.
pub async fn handle<P: ToolProvider>(
    provider: &P,
    caller: &P::Caller,
    info: &ServerInfo,
    raw: &[u8],
    transport: &Transport,
) -> Outcome {
    let message: Value = match serde_json::from_slice(raw) {
        Ok(v) => v,
        Err(e) => return error(400, &Value::Null, PARSE_ERROR, &format!("Parse error: {e}"), None),
    };
    let Value::Object(message) = message else {
        let what = if message.is_array() { "Batches are not supported" } else { "A message is a JSON object" };
        return error(400, &Value::Null, INVALID_REQUEST, what, None);
    };
    let id = message.get("id").cloned();
    let id_ok = matches!(&id, Some(Value::String(_))) || id.as_ref().and_then(Value::as_i64).is_some();
    let reply_id = if id_ok { id.clone().unwrap_or(Value::Null) } else { Value::Null };
    if message.get("jsonrpc") != Some(&json!("2.0")) {
        return error(400, &reply_id, INVALID_REQUEST, "jsonrpc must be \"2.0\"", None);
    }
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        // A response from the client (legacy elicitation and the like): nothing to do.
        return if message.contains_key("result") || message.contains_key("error") {
            Outcome::Accepted
        } else {
            error(400, &reply_id, INVALID_REQUEST, "A request needs a method", None)
        };
    };
    let params = match message.get("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => return error(400, &reply_id, INVALID_PARAMS, "params must be an object", None),
    };
    if id.is_none() {
        return Outcome::Accepted; // a notification: initialized, cancelled, … never answered
    }
    if !id_ok {
        return error(400, &Value::Null, INVALID_REQUEST, "id must be a string or an integer", None);
    }

    let meta = params.get("_meta").and_then(Value::as_object);
    let meta_version = meta.and_then(|m| m.get(META_VERSION)).and_then(Value::as_str);
    let era = match (method, meta_version) {
        ("initialize", _) => Era::Legacy(String::new()),
        (_, Some(v)) if v == MODERN_VERSION => Era::Modern,
        (_, Some(v)) => {
            return error(
                400,
                &reply_id,
                UNSUPPORTED_VERSION,
                &format!("Unsupported protocol version {v}"),
                Some(json!({ "supported": SUPPORTED_VERSIONS, "requested": v })),
            );
        }
        ("server/discover", None) => Era::Modern,
        (_, None) => match transport.protocol_version.as_deref() {
            None => Era::Legacy("2025-03-26".to_owned()),
            Some(v) if LEGACY_VERSIONS.contains(&v) => Era::Legacy(v.to_owned()),
            Some(v) => {
                return error(
                    400,
                    &reply_id,
                    INVALID_REQUEST,
                    &format!("Unsupported MCP-Protocol-Version {v}"),
                    Some(json!({ "supported": SUPPORTED_VERSIONS, "requested": v })),
                );
            }
        },
    };

    match era {
        Era::Legacy(version) => legacy(provider, caller, info, method, &params, &reply_id, version).await,
        Era::Modern => modern(provider, caller, info, method, &params, &reply_id, transport).await,
    }
}

fn ok(id: &Value, result: Value) -> Outcome {
    let mut body = json!({ "jsonrpc": "2.0", "id": id });
    body["result"] = result;
    Outcome::Reply { status: 200, body }
}

fn capabilities() -> ServerCapabilities {
    let mut capabilities = ServerCapabilities::default();
    let mut tools = ToolsCapability::default();
    tools.list_changed = Some(false);
    capabilities.tools = Some(tools);
    capabilities
}

/// A client's name as it gave it, made fit to store and show: at most 200 characters, without
/// control, format (direction, joiners, tags), separator or blank-looking filler characters,
/// which could hide text or make it read as another.
pub fn client_name(text: &str) -> String {
    shown(text, 200)
}

/// A client's version, as [`client_name`], at most 100 characters.
pub fn client_version(text: &str) -> String {
    shown(text, 100)
}

fn shown(text: &str, max: usize) -> String {
    let hidden = |c: &char| {
        c.is_control()
            || matches!(
                c,
                '\u{00AD}'
                    | '\u{034F}'
                    | '\u{061C}'
                    | '\u{115F}'
                    | '\u{1160}'
                    | '\u{17B4}'
                    | '\u{17B5}'
                    | '\u{180B}'..='\u{180F}'
                    | '\u{200B}'..='\u{200F}'
                    | '\u{2028}'..='\u{202E}'
                    | '\u{2060}'..='\u{206F}'
                    | '\u{2800}'
                    | '\u{3164}'
                    | '\u{FE00}'..='\u{FE0F}'
                    | '\u{FEFF}'
                    | '\u{FFA0}'
                    | '\u{FFF0}'..='\u{FFFB}'
                    | '\u{1D173}'..='\u{1D17A}'
                    | '\u{E0000}'..='\u{E007F}'
                    | '\u{E0100}'..='\u{E01EF}'
            )
    };
    text.chars().filter(|c| !hidden(c)).take(max).collect::<String>().trim().to_owned()
}

fn implementation(info: &ServerInfo) -> Implementation {
    Implementation::new(info.name.clone(), info.version.clone())
}

async fn legacy<P: ToolProvider>(
    provider: &P,
    caller: &P::Caller,
    info: &ServerInfo,
    method: &str,
    params: &Map<String, Value>,
    id: &Value,
    version: String,
) -> Outcome {
    match method {
        "initialize" => {
            let request: InitializeRequestParams = match params_as(params) {
                Ok(request) => request,
                Err((code, message)) => return error(200, id, code, &message, None),
            };
            let requested = request.protocol_version.to_string();
            let chosen = if LEGACY_VERSIONS.contains(&requested.as_str()) {
                request.protocol_version
            } else {
                ProtocolVersion::LATEST_WITH_INITIALIZE
            };
            // URL-mode elicitation exists from 2025-11-25 on; a session at an earlier version
            // cannot be asked with it, whatever its capabilities say.
            let declared = request.capabilities.elicitation.as_ref().is_some_and(|e| e.url.is_some());
            let url_elicitation = declared && chosen.to_string() == URL_ELICITATION_VERSION;
            let mut client = request.client_info;
            (client.name, client.version) = (client_name(&client.name), client_version(&client.version));
            provider.initialized(caller, &client, url_elicitation);
            let result = InitializeResult::new(capabilities())
                .with_protocol_version(chosen)
                .with_server_info(implementation(info))
                .with_instructions(info.instructions.clone());
            ok(id, to_json(&result))
        }
        "ping" => ok(id, json!({})),
        "tools/list" => ok(id, json!({ "tools": provider.tools(caller) })),
        "tools/call" => {
            let client = ClientFacts { protocol_version: version, ..ClientFacts::default() };
            match call_tool(provider, caller, &client, params).await {
                Ok(Called::Result(mut result)) => {
                    result.result_type = None; // a 2026-07-28 field, absent before it
                    ok(id, call_result_json(result))
                }
                Ok(Called::UrlElicitation { message, elicitations }) => error(
                    200,
                    id,
                    ErrorCode(URL_ELICITATION_REQUIRED),
                    &message,
                    Some(json!({ "elicitations": elicitations })),
                ),
                // A provider never asks this of an earlier era; should it, the call has no answer.
                Ok(Called::InputRequired(_)) => {
                    error(503, id, INTERNAL_ERROR, "The call needs input this protocol version cannot ask for.", None)
                }
                Err((code, message)) => error(unavailable_or(code, 200), id, code, &message, None),
            }
        }
        _ => error(200, id, METHOD_NOT_FOUND, &format!("Method not found: {method}"), None),
    }
}

#[allow(clippy::too_many_arguments)]
async fn modern<P: ToolProvider>(
    provider: &P,
    caller: &P::Caller,
    info: &ServerInfo,
    method: &str,
    params: &Map<String, Value>,
    id: &Value,
    transport: &Transport,
) -> Outcome {
    let meta = params.get("_meta").and_then(Value::as_object);
    if transport.http {
        let version = meta.and_then(|m| m.get(META_VERSION)).and_then(Value::as_str).unwrap_or(MODERN_VERSION);
        let mismatch = |header: &str, expected: &str| {
            error(
                400,
                id,
                HEADER_MISMATCH,
                &format!("The {header} header must equal the request's {expected}"),
                Some(json!({ "header": header })),
            )
        };
        if transport.protocol_version.as_deref() != Some(version) {
            return mismatch("MCP-Protocol-Version", "_meta protocol version");
        }
        if transport.method.as_deref() != Some(method) {
            return mismatch("Mcp-Method", "method");
        }
        if method == "tools/call" {
            let name = params.get("name").and_then(Value::as_str);
            if transport.name.as_deref().map(decode_header) != name.map(str::to_owned) {
                return mismatch("Mcp-Name", "tool name");
            }
        }
    }
    let server_info = to_json(&implementation(info));
    let complete = |mut result: Value| {
        result["resultType"] = json!("complete");
        result["_meta"] = json!({ META_SERVER_INFO: server_info });
        result
    };
    if method == "server/discover" {
        return ok(
            id,
            complete(json!({
                "supportedVersions": SUPPORTED_VERSIONS,
                "capabilities": to_json(&capabilities()),
                "instructions": info.instructions,
                "ttlMs": 3_600_000,
                "cacheScope": "public",
            })),
        );
    }
    let Some(meta) = meta else {
        return error(
            400,
            id,
            INVALID_PARAMS,
            "Missing _meta: protocolVersion and clientCapabilities are required",
            None,
        );
    };
    if !meta.get(META_CAPABILITIES).is_some_and(Value::is_object) {
        return error(400, id, INVALID_PARAMS, &format!("Missing _meta[\"{META_CAPABILITIES}\"]"), None);
    }
    let client_info = meta.get(META_CLIENT_INFO);
    let client = ClientFacts {
        protocol_version: MODERN_VERSION.to_owned(),
        // A name of hidden characters only names nothing.
        client_name: client_info
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .map(client_name)
            .filter(|n| !n.is_empty()),
        client_version: client_info
            .and_then(|c| c.get("version"))
            .and_then(Value::as_str)
            .map(client_version)
            .filter(|v| !v.is_empty()),
        url_elicitation: meta
            .get(META_CAPABILITIES)
            .and_then(|c| c.get("elicitation"))
            .and_then(|e| e.get("url"))
            .is_some_and(|u| !u.is_null()),
        request_state: params.get("requestState").and_then(Value::as_str).map(str::to_owned),
        input_responses: params.get("inputResponses").cloned(),
    };
    match method {
        "ping" => ok(id, complete(json!({}))),
        "tools/list" => ok(
            id,
            // The list depends on the caller's roles: private to it, and short-lived.
            complete(json!({ "tools": provider.tools(caller), "ttlMs": 60_000, "cacheScope": "private" })),
        ),
        "tools/call" => match call_tool(provider, caller, &client, params).await {
            Ok(Called::Result(result)) => ok(id, complete(call_result_json(result))),
            Ok(Called::InputRequired(mut result)) => {
                result["_meta"] = json!({ META_SERVER_INFO: server_info });
                ok(id, result)
            }
            // A provider never answers this era so; should it, the call has no answer.
            Ok(Called::UrlElicitation { .. }) => {
                error(503, id, INTERNAL_ERROR, "The call needs input this protocol version cannot ask for.", None)
            }
            Err((code, message)) => error(unavailable_or(code, 400), id, code, &message, None),
        },
        _ => error(404, id, METHOD_NOT_FOUND, &format!("Method not found: {method}"), None),
    }
}

/// HTTP 503 for a call the server could not stand behind, else `status`.
fn unavailable_or(code: ErrorCode, status: u16) -> u16 {
    if code == INTERNAL_ERROR { 503 } else { status }
}

/// What a `tools/call` produced, besides a failure.
enum Called {
    Result(CallToolResult),
    /// The `InputRequiredResult`, complete but for `_meta`.
    InputRequired(Value),
    UrlElicitation {
        message: String,
        elicitations: Vec<Value>,
    },
}

async fn call_tool<P: ToolProvider>(
    provider: &P,
    caller: &P::Caller,
    client: &ClientFacts,
    params: &Map<String, Value>,
) -> Result<Called, (ErrorCode, String)> {
    let request: CallToolRequestParams = params_as(params)?;
    let name = request.name.as_ref();
    let arguments = request.arguments.unwrap_or_default();
    let output = match provider.call(caller, client, name, arguments).await {
        Ok(output) => output,
        Err(CallError::UnknownTool) => return Err((INVALID_PARAMS, format!("Unknown tool: {name}"))),
        Err(CallError::Unavailable(message)) => return Err((INTERNAL_ERROR, message)),
        Err(CallError::UrlElicitationRequired { message, elicitations }) => {
            return Ok(Called::UrlElicitation { message, elicitations });
        }
        Err(CallError::InputRequired { input_requests, request_state }) => {
            let mut result = json!({ "resultType": "input_required", "requestState": request_state });
            if !input_requests.is_empty() {
                result["inputRequests"] = Value::Object(input_requests);
            }
            return Ok(Called::InputRequired(result));
        }
    };
    // The same JSON as text, for clients that read only `content`.
    Ok(Called::Result(if output.is_error {
        CallToolResult::structured_error(output.structured)
    } else {
        CallToolResult::structured(output.structured)
    }))
}

/// `=?base64?…?=` header values decoded (RFC 2047 style, as the 2026-07-28 transport allows);
/// padding optional, and the URL-safe alphabet accepted too.
fn decode_header(value: &str) -> String {
    use base64::Engine;
    use base64::alphabet::{STANDARD, URL_SAFE};
    use base64::engine::GeneralPurpose;
    use base64::engine::general_purpose::PAD_INDIFFERENT;
    const ENGINES: [GeneralPurpose; 2] =
        [GeneralPurpose::new(&STANDARD, PAD_INDIFFERENT), GeneralPurpose::new(&URL_SAFE, PAD_INDIFFERENT)];
    let Some(inner) = value.strip_prefix("=?base64?").and_then(|v| v.strip_suffix("?=")) else {
        return value.to_owned();
    };
    ENGINES
        .iter()
        .find_map(|engine| engine.decode(inner).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_else(|| value.to_owned())
}

#[cfg(test)]
mod tests;
