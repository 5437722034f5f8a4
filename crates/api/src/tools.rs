//! The three meta-tools, dispatched in process through the operation catalog with the caller's
//! identity: the same validation and permission check a REST call gets, no loopback HTTP.

use std::collections::BTreeSet;
use std::sync::Arc;

use alga_agent_tooling::request::build_request;
use alga_agent_tooling::search::search;
use alga_agent_tooling::tools::{
    CALL_API_ENDPOINT, SEARCH_API_REGISTRY, SEARCH_BUSINESS_DATA, definitions, failure_hint, not_callable,
    registry_search_result,
};
use alga_core::{AppContext, Principal};
use alga_mcp::{CallError, ClientFacts, Tool, ToolOutput, ToolProvider};
use serde_json::{Map, Value, json};

use crate::catalog::{Method, RawRequest};
use crate::registry::{allows, registry};

/// Who calls the tools: the server's context and the authenticated principal.
#[derive(Debug, Clone)]
pub struct Caller {
    pub app: AppContext,
    pub principal: Arc<Principal>,
}

/// The meta-tools over this server's catalog.
#[derive(Debug, Default, Clone, Copy)]
pub struct MetaTools;

impl ToolProvider for MetaTools {
    type Caller = Caller;

    fn tools(&self, caller: &Caller) -> Vec<Tool> {
        definitions(&reachable_groups(caller))
    }

    async fn call(
        &self,
        caller: &Caller,
        _client: &ClientFacts,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<ToolOutput, CallError> {
        Ok(match name {
            SEARCH_API_REGISTRY => search_api_registry(caller, &arguments),
            SEARCH_BUSINESS_DATA => search_business_data(caller, &arguments).await,
            CALL_API_ENDPOINT => call_api_endpoint(caller, &arguments).await,
            _ => return Err(CallError::UnknownTool),
        })
    }
}

/// The tags of the operations this caller may call, for the tool descriptions.
fn reachable_groups(caller: &Caller) -> Vec<String> {
    let Ok(registry) = registry() else { return Vec::new() };
    let groups: BTreeSet<&str> = registry
        .entries()
        .iter()
        .filter(|e| allows(&caller.principal, e))
        .flat_map(|e| e.tags.iter().map(String::as_str))
        .filter(|t| *t != "Meta")
        .collect();
    groups.into_iter().map(str::to_owned).collect()
}

fn failure(message: impl Into<String>) -> ToolOutput {
    ToolOutput { structured: json!({ "error": message.into() }), is_error: true }
}

fn search_api_registry(caller: &Caller, args: &Map<String, Value>) -> ToolOutput {
    let Some(query) = args.get("query").and_then(Value::as_str).map(str::trim).filter(|q| !q.is_empty()) else {
        return failure("search_api_registry requires a non-empty \"query\".");
    };
    let limit = args.get("limit").and_then(Value::as_u64).unwrap_or(5).clamp(1, 25) as usize;
    let Ok(registry) = registry() else { return failure("The API catalog is unavailable.") };
    let outcome = search(&registry, query, limit, |e| allows(&caller.principal, e));
    let out = registry_search_result(query, &outcome);
    ToolOutput { structured: out, is_error: false }
}

async fn search_business_data(caller: &Caller, args: &Map<String, Value>) -> ToolOutput {
    let Some(query) = args.get("query").and_then(Value::as_str).map(str::trim).filter(|q| !q.is_empty()) else {
        return failure("search_business_data requires a non-empty \"query\".");
    };
    let mut query_args = Map::new();
    query_args.insert("query".into(), json!(query));
    for key in ["types", "limit", "cursor", "sort"] {
        let value = match args.get(key) {
            None | Some(Value::Null) => continue,
            // The REST operation takes types as a comma-separated list.
            Some(Value::Array(items)) => json!(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
            Some(other) => other.clone(),
        };
        query_args.insert(key.into(), value);
    }
    let mut call = Map::new();
    call.insert("entryId".into(), json!("search.query"));
    call.insert("query".into(), Value::Object(query_args));
    call_api_endpoint(caller, &call).await
}

async fn call_api_endpoint(caller: &Caller, args: &Map<String, Value>) -> ToolOutput {
    let Some(entry_id) = args.get("entryId").and_then(Value::as_str).filter(|e| !e.is_empty()) else {
        return failure("call_api_endpoint requires \"entryId\" (use search_api_registry first).");
    };
    let Ok(registry) = registry() else { return failure("The API catalog is unavailable.") };
    // The same words whether the operation is missing or forbidden; a forbidden one also carries
    // the 403 a REST call would get, so that it is recorded as a denial.
    let entry = match registry.get(entry_id) {
        Some(entry) if allows(&caller.principal, entry) => entry,
        Some(_) => {
            return ToolOutput {
                structured: json!({ "error": not_callable(entry_id), "status": 403, "hint": failure_hint(403) }),
                is_error: true,
            };
        }
        None => return failure(not_callable(entry_id)),
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
    let catalog = crate::catalog();
    let route = Method::parse(&built.method).and_then(|m| catalog.route(m, &built.path));
    let Some((op, path)) = route else {
        return failure(format!("No operation answers {} {}.", built.method, built.path));
    };
    let raw =
        RawRequest { path, query: built.query_string(), body: built.body.as_ref().map(|b| b.to_string().into_bytes()) };
    match op.call(caller.app.clone(), Some(caller.principal.clone()), raw).await {
        Ok(reply) => {
            let data = reply.body.and_then(|b| serde_json::from_slice::<Value>(&b).ok()).unwrap_or(Value::Null);
            ToolOutput { structured: json!({ "status": reply.status, "ok": true, "data": data }), is_error: false }
        }
        Err(e) => {
            let hint = failure_hint(e.status().as_u16());
            ToolOutput {
                structured: json!({ "status": e.status().as_u16(), "ok": false, "data": e.body(), "hint": hint }),
                is_error: true,
            }
        }
    }
}
