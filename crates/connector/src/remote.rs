//! The meta-tools over a remote instance's REST API, with the user's own API key.

use alga_agent_tooling::registry::{Registry, RegistryEntry};
use alga_agent_tooling::request::build_request;
use alga_agent_tooling::search::search;
use alga_agent_tooling::tools::{
    CALL_API_ENDPOINT, SEARCH_API_REGISTRY, SEARCH_BUSINESS_DATA, definitions, failure_hint, not_callable,
    registry_search_result,
};
use alga_mcp::{CallError, ClientFacts, Tool, ToolOutput, ToolProvider};
use serde_json::{Map, Value, json};

use crate::config::Config;

pub struct Remote {
    pub config: Config,
    pub http: reqwest::Client,
    pub registry: Registry,
}

/// Fetches the registry of what the token may call; every failure says what to fix.
pub async fn fetch_registry(config: &Config, http: &reqwest::Client) -> Result<Registry, String> {
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
    Ok(Registry::from_entries(entries))
}

fn authorized(config: &Config, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let request = request.header("x-api-key", &config.token).timeout(config.timeout);
    match &config.tenant {
        Some(tenant) => request.header("x-tenant-id", tenant),
        None => request,
    }
}

fn failure(message: impl Into<String>) -> ToolOutput {
    ToolOutput { structured: json!({ "error": message.into() }), is_error: true }
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

    async fn call(
        &self,
        _caller: &(),
        _client: &ClientFacts,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<ToolOutput, CallError> {
        Ok(match name {
            SEARCH_API_REGISTRY => {
                let Some(query) =
                    arguments.get("query").and_then(Value::as_str).map(str::trim).filter(|q| !q.is_empty())
                else {
                    return Ok(failure("search_api_registry requires a non-empty \"query\"."));
                };
                let limit = arguments.get("limit").and_then(Value::as_u64).unwrap_or(5).clamp(1, 25) as usize;
                let outcome = search(&self.registry, query, limit, |_| true);
                ToolOutput { structured: registry_search_result(query, &outcome), is_error: false }
            }
            SEARCH_BUSINESS_DATA => self.search_business_data(&arguments).await,
            CALL_API_ENDPOINT => self.call_api_endpoint(&arguments).await,
            _ => return Err(CallError::UnknownTool),
        })
    }
}

impl Remote {
    async fn search_business_data(&self, args: &Map<String, Value>) -> ToolOutput {
        let Some(query) = args.get("query").and_then(Value::as_str).map(str::trim).filter(|q| !q.is_empty()) else {
            return failure("search_business_data requires a non-empty \"query\".");
        };
        let mut params: Vec<(String, String)> = vec![("query".into(), query.to_owned())];
        for key in ["types", "limit", "cursor", "sort"] {
            match args.get(key) {
                Some(Value::Array(items)) => {
                    params.push((key.into(), items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")));
                }
                Some(Value::String(s)) => params.push((key.into(), s.clone())),
                Some(Value::Number(n)) => params.push((key.into(), n.to_string())),
                _ => {}
            }
        }
        let base = format!("{}{}", self.config.instance, self.config.search_path);
        match url::Url::parse_with_params(&base, &params) {
            Ok(url) => self.send(self.http.get(url), None).await,
            Err(e) => failure(format!("Bad search URL {base}: {e}")),
        }
    }

    async fn call_api_endpoint(&self, args: &Map<String, Value>) -> ToolOutput {
        let Some(entry_id) = args.get("entryId").and_then(Value::as_str).filter(|e| !e.is_empty()) else {
            return failure("call_api_endpoint requires \"entryId\" (use search_api_registry first).");
        };
        let Some(entry) = self.registry.get(entry_id) else {
            return failure(not_callable(entry_id));
        };
        let built = match build_request(entry, args) {
            Ok(b) => b,
            Err(e) => {
                return ToolOutput {
                    structured: json!({ "error": e.message, "field": e.field, "entryId": entry.id }),
                    is_error: true,
                };
            }
        };
        let Ok(method) = reqwest::Method::from_bytes(built.method.as_bytes()) else {
            return failure(format!("\"{}\" is not an HTTP method.", built.method));
        };
        let mut url = format!("{}{}", self.config.instance, built.path);
        let query = built.query_string();
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let mut request = self.http.request(method, &url);
        for (name, value) in &built.headers {
            request = request.header(name, value);
        }
        self.send(request, built.body.as_ref()).await
    }

    /// Sends with the token (which no tool argument can replace) and shapes the answer.
    async fn send(&self, request: reqwest::RequestBuilder, body: Option<&Value>) -> ToolOutput {
        let mut request = authorized(&self.config, request).header("accept", "application/json");
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return failure(format!("Could not reach {}: {e}", self.config.instance)),
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let data = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
        let ok = (200..300).contains(&status);
        let mut out = json!({ "status": status, "ok": ok, "data": data });
        if !ok {
            out["hint"] = json!(failure_hint(status));
        }
        ToolOutput { structured: out, is_error: !ok }
    }
}
