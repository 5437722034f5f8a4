//! The meta-tools over a remote instance's REST API, with the user's own API key.

use alga_agent_tooling::registry::{Registry, RegistryEntry};
use alga_agent_tooling::request::BuiltRequest;
use alga_agent_tooling::tools::{Answer, Plan, SEARCH_ENTRY, definitions, plan};
use alga_mcp::{
    CallError, ClientFacts, Implementation, META_CAPABILITIES, META_CLIENT_INFO, META_VERSION, MODERN_VERSION, Tool,
    ToolOutput, ToolProvider,
};
use serde_json::{Map, Value, json};

use crate::config::Config;

pub struct Remote {
    pub config: Config,
    pub http: reqwest::Client,
    pub registry: Registry,
    /// The instance is the enterprise edition: tool calls go to its governed `/api/mcp`, where
    /// they are authorized, limited and audited as the key's user like any agent's. Against a
    /// community instance they call the REST API (which has no governance to go through).
    pub governed: bool,
    /// The local client, as it introduced itself, for the audit.
    pub client: std::sync::Mutex<Option<(String, String)>>,
    /// The local client declared URL-mode elicitation at `initialize` (2025-11-25): an approval
    /// the instance asks for is relayed to it as -32042.
    pub url_elicitation: std::sync::atomic::AtomicBool,
}

/// What the registry document says of the instance besides its entries.
pub struct Instance {
    pub registry: Registry,
    pub enterprise: bool,
}

/// Fetches the registry of what the token may call, and the instance's edition; every failure
/// says what to fix.
pub async fn fetch_registry(config: &Config, http: &reqwest::Client) -> Result<Instance, String> {
    let url = format!("{}{}", config.instance, config.registry_path);
    let response = authorized(config, http.get(&url))
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("Could not reach the Alga registry at {url}: {e}. Check ALGA_INSTANCE_URL and that the server is running."))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| format!("Reading the registry from {url} failed: {e}"))?;
    if status == 401 {
        return Err(format!(
            "Failed to load the API registry from {url}: HTTP 401: ALGA_API_TOKEN is invalid, expired or revoked."
        ));
    }
    if !(200..300).contains(&status) {
        return Err(format!(
            "Failed to load the API registry from {url}: HTTP {status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    let body: Value = serde_json::from_str(&text).map_err(|_| format!("The registry at {url} is not JSON."))?;
    let entries = body
        .pointer("/data/entries")
        .or_else(|| body.get("entries"))
        .or(if body.is_array() { Some(&body) } else { None })
        .cloned()
        .ok_or_else(|| format!("The registry at {url} did not contain an \"entries\" array."))?;
    let entries: Vec<RegistryEntry> =
        serde_json::from_value(entries).map_err(|e| format!("The registry at {url} has malformed entries: {e}"))?;
    let enterprise = body.pointer("/data/edition").and_then(Value::as_str) == Some("enterprise");
    Ok(Instance { registry: Registry::from_entries(entries), enterprise })
}

fn authorized(config: &Config, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let request = request.header("x-api-key", &config.token).timeout(config.timeout);
    match &config.tenant {
        Some(tenant) => request.header("x-tenant-id", tenant),
        None => request,
    }
}

impl ToolProvider for Remote {
    type Caller = ();

    fn tools(&self, _caller: &()) -> Vec<Tool> {
        // The registry holds only what the token may call: its tags are the reachable groups.
        let mut groups: Vec<String> =
            self.registry.entries().iter().flat_map(|e| e.tags.iter().cloned()).filter(|t| t != "Meta").collect();
        groups.sort();
        groups.dedup();
        definitions(&groups)
    }

    fn initialized(&self, _caller: &(), client: &Implementation, url_elicitation: bool) {
        if let Ok(mut known) = self.client.lock() {
            *known = Some((client.name.clone(), client.version.clone()));
        }
        self.url_elicitation.store(url_elicitation, std::sync::atomic::Ordering::Relaxed);
    }

    async fn call(
        &self,
        _caller: &(),
        client: &ClientFacts,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<ToolOutput, CallError> {
        if self.governed {
            return self.relay(client, name, arguments).await;
        }
        // The registry holds only what the token may call; the server decides again on each call
        // (policies apply only to governed, enterprise calls, which are relayed above).
        let open = |_: &alga_agent_tooling::RegistryEntry| alga_agent_tooling::Visibility::Open;
        let answer = match plan(&self.registry, name, &arguments, |_| true, open).ok_or(CallError::UnknownTool)? {
            Plan::Answer(answer) => answer,
            Plan::Run { entry, request } => self.send(entry, request).await,
        };
        Ok(answer.output)
    }
}

/// What the instance's audit adds to the local client's name.
const VIA: &str = " via alga-mcp-connector";

/// How the local client can be asked for an approval the instance's policies want.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Asking {
    /// 2026-07-28 with URL elicitation: the instance's `InputRequiredResult` is relayed, and so
    /// is the client's retry (its `requestState` and `inputResponses`).
    InputRequired,
    /// 2025-11-25, URL elicitation declared at `initialize`: the instance's pending approval
    /// becomes -32042; the identical retry runs once it is approved.
    UrlElicitation,
    /// Otherwise the instance's tool error, naming the approval, is relayed as it is.
    ToolResult,
}

impl Remote {
    fn asking(&self, client: &ClientFacts) -> Asking {
        match client.protocol_version.as_str() {
            MODERN_VERSION if client.url_elicitation => Asking::InputRequired,
            // Over stdio only `initialize` names the era: the flag says the session has URL
            // elicitation (2025-11-25) and the client declared it.
            MODERN_VERSION => Asking::ToolResult,
            _ if self.url_elicitation.load(std::sync::atomic::Ordering::Relaxed) => Asking::UrlElicitation,
            _ => Asking::ToolResult,
        }
    }

    /// One `tools/call` relayed to the instance's `/api/mcp` (the stateless 2026-07-28 era, which
    /// names the client on each request), answered as the instance answered it; an approval it
    /// asks for reaches the local client in the form the client's era understands.
    async fn relay(
        &self,
        client: &ClientFacts,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<ToolOutput, CallError> {
        let remembered = self.client.lock().ok().and_then(|c| c.clone());
        let (client_name, client_version) = match (&client.client_name, remembered) {
            (Some(name), _) => (name.clone(), client.client_version.clone().unwrap_or_default()),
            (None, Some((name, version))) => (name, version),
            (None, None) => ("unknown client".to_owned(), String::new()),
        };
        // Room for the suffix within the instance's 200 characters, so it is never cut off.
        let client_name: String = client_name.chars().take(200 - VIA.chars().count()).collect();
        let client_info = json!({ "name": format!("{client_name}{VIA}"), "version": client_version });
        let asking = self.asking(client);
        let capabilities = match asking {
            Asking::InputRequired => json!({ "elicitation": { "url": {} } }),
            _ => json!({}),
        };
        let mut meta = Map::new();
        meta.insert(META_VERSION.to_owned(), json!(MODERN_VERSION));
        meta.insert(META_CAPABILITIES.to_owned(), capabilities);
        meta.insert(META_CLIENT_INFO.to_owned(), client_info);
        let mut params = json!({ "name": name, "arguments": arguments, "_meta": meta });
        if asking == Asking::InputRequired {
            // A retry: the instance opens and checks the state it sealed.
            if let Some(state) = &client.request_state {
                params["requestState"] = json!(state);
            }
            if let Some(responses) = &client.input_responses {
                params["inputResponses"] = responses.clone();
            }
        }
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params });
        let url = format!("{}/api/mcp", self.config.instance);
        let request = authorized(&self.config, self.http.post(&url))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("mcp-protocol-version", MODERN_VERSION)
            .header("mcp-method", "tools/call")
            .header("mcp-name", name)
            .body(body.to_string());
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Ok(Answer::failure(format!("Could not reach {}: {e}", self.config.instance)).output),
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if let Some(result) = answer.get("result") {
            if let Some(asked) = asked(asking, result) {
                return Err(asked);
            }
            // The structured result, else the text the instance gave.
            let text = || result.pointer("/content/0/text").and_then(Value::as_str).map(|t| json!({ "error": t }));
            return Ok(ToolOutput {
                structured: result.get("structuredContent").cloned().or_else(text).unwrap_or(Value::Null),
                is_error: result.get("isError").and_then(Value::as_bool).unwrap_or(false),
            });
        }
        let message = answer.pointer("/error/message").and_then(Value::as_str).unwrap_or_default();
        match answer.pointer("/error/code").and_then(Value::as_i64) {
            Some(-32602) if message.starts_with("Unknown tool") => Err(CallError::UnknownTool),
            // Refused before a call could be made (credential, rate, the instance unavailable):
            // the agent sees the instance's words and status.
            _ => Ok(Answer::replied(status, answer).output),
        }
    }

    /// Sends the built request with the token (which no tool argument can replace).
    async fn send(&self, entry: &RegistryEntry, built: BuiltRequest) -> Answer {
        let Ok(method) = reqwest::Method::from_bytes(built.method.as_bytes()) else {
            return Answer::failure(format!("\"{}\" is not an HTTP method.", built.method));
        };
        let path = if entry.id == SEARCH_ENTRY { &self.config.search_path } else { &built.path };
        let mut url = format!("{}{}", self.config.instance, path);
        let query = built.query_string();
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let mut request =
            authorized(&self.config, self.http.request(method, &url)).header("accept", "application/json");
        for (name, value) in &built.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &built.body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Answer::failure(format!("Could not reach {}: {e}", self.config.instance)),
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let data = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
        Answer::replied(status, data)
    }
}

/// The instance's answer as the local client is asked for an approval: its `InputRequiredResult`
/// relayed (2026-07-28), or its pending approval as -32042 (2025-11-25). `None`: relay the result.
fn asked(asking: Asking, result: &Value) -> Option<CallError> {
    match asking {
        Asking::InputRequired if result.get("resultType").and_then(Value::as_str) == Some("input_required") => {
            Some(CallError::InputRequired {
                input_requests: result.get("inputRequests").and_then(Value::as_object).cloned().unwrap_or_default(),
                request_state: result.get("requestState").and_then(Value::as_str).unwrap_or_default().to_owned(),
            })
        }
        Asking::UrlElicitation => {
            let structured = result.get("structuredContent")?;
            let approval = structured.get("approval")?;
            let (Some(id), Some(url)) = (approval["id"].as_str(), approval["url"].as_str()) else { return None };
            if approval["status"] != "pending" {
                return None;
            }
            let message = structured["error"].as_str().unwrap_or("A person must approve this call.").to_owned();
            let elicitation = json!({ "mode": "url", "elicitationId": id, "url": url, "message": message });
            Some(CallError::UrlElicitationRequired { message, elicitations: vec![elicitation] })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn pending_tool_error(status: &str) -> Value {
        json!({
            "isError": true,
            "structuredContent": {
                "error": "A person must approve this call.",
                "status": 403,
                "approval": { "id": "apr_1", "status": status, "url": "https://alga.example/admin/approvals/apr_1" },
            },
        })
    }

    #[test]
    fn an_instance_asking_for_approval_reaches_the_local_client_in_its_era() {
        let input_required = json!({
            "resultType": "input_required",
            "inputRequests": { "approval": { "method": "elicitation/create", "params": { "mode": "url" } } },
            "requestState": "v1.sealed",
        });
        let Some(CallError::InputRequired { input_requests, request_state }) =
            asked(Asking::InputRequired, &input_required)
        else {
            panic!("a 2026-07-28 client gets the InputRequiredResult");
        };
        assert_eq!((input_requests.len(), request_state.as_str()), (1, "v1.sealed"));

        let Some(CallError::UrlElicitationRequired { elicitations, .. }) =
            asked(Asking::UrlElicitation, &pending_tool_error("pending"))
        else {
            panic!("a 2025-11-25 client with URL elicitation gets -32042 for a pending approval");
        };
        assert_eq!(elicitations[0]["elicitationId"], "apr_1");
        assert_eq!(elicitations[0]["url"], "https://alga.example/admin/approvals/apr_1");

        // A denial, and any client that cannot be asked, get the instance's tool error as it is.
        assert!(asked(Asking::UrlElicitation, &pending_tool_error("denied")).is_none());
        assert!(asked(Asking::ToolResult, &pending_tool_error("pending")).is_none());
        assert!(asked(Asking::ToolResult, &input_required).is_none());
        // Record data under `data` cannot pose as an approval.
        let record = json!({ "structuredContent": { "status": 200, "data": { "approval": { "id": "x", "status": "pending", "url": "u" } } } });
        assert!(asked(Asking::UrlElicitation, &record).is_none());
    }
}
