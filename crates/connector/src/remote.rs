//! The meta-tools over a remote instance's REST API, with the user's own API key.

use alga_agent_tooling::registry::{Registry, RegistryEntry};
use alga_agent_tooling::request::BuiltRequest;
use alga_agent_tooling::tools::{Answer, Plan, SEARCH_ENTRY, definitions, plan};
use alga_mcp::{CallError, ClientFacts, Tool, ToolOutput, ToolProvider};
use serde_json::{Map, Value};

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
        // The registry holds only what the token may call; the server decides again on each call.
        let answer = match plan(&self.registry, name, &arguments, |_| true).ok_or(CallError::UnknownTool)? {
            Plan::Answer(answer) => answer,
            Plan::Run { entry, request } => self.send(entry, request).await,
        };
        Ok(answer.output)
    }
}

impl Remote {
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
