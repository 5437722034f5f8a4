//! The three meta-tools, dispatched in process through the operation catalog with the caller's
//! identity: the same validation and permission check a REST call gets, no loopback HTTP.
//!
//! A call is read once ([`plan`]): it names at most one operation, resolved from the entry, and a
//! governing transport decides limits and audit from that operation and the typed [`Answer`]
//! before and after running it ([`Run::execute`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use alga_agent_tooling::tools::{self as meta, Answer, Plan, definitions};
use alga_agent_tooling::{RegistryEntry, Visibility};
use alga_core::{AppContext, Principal};
use alga_mcp::{CallError, ClientFacts, Tool, ToolOutput, ToolProvider};
use serde_json::{Map, Value};

use crate::catalog::{Catalog, Meta, Operation, RawRequest, WriteGuard};
use crate::registry::{allows, registry};

/// How a caller's policies show each operation (by operation id) in listings and search.
pub type PolicyView = Arc<dyn Fn(&str) -> Visibility + Send + Sync>;

/// Who calls the tools: the server's context, the authenticated principal, and how its
/// policies show operations (`None`: no policies, every permitted operation is open).
#[derive(Clone)]
pub struct Caller {
    pub app: AppContext,
    pub principal: Arc<Principal>,
    pub policies: Option<PolicyView>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("app", &self.app)
            .field("principal", &self.principal)
            .field("policies", &self.policies.is_some())
            .finish()
    }
}

impl Caller {
    /// How its policies show this entry's operation.
    pub fn visibility(&self, entry: &RegistryEntry) -> Visibility {
        self.policies.as_ref().map_or(Visibility::Open, |view| view(&entry.id))
    }

    /// Whether the entry is listed and found for this caller: its roles permit it and no policy
    /// refuses it outright. (Calls are decided by the permission check and the policy decision.)
    pub fn lists(&self, entry: &RegistryEntry) -> bool {
        allows(&self.principal, entry) && self.visibility(entry) != Visibility::Hidden
    }
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
        let answer = match plan(caller, name, &arguments).ok_or(CallError::UnknownTool)? {
            Planned::Answer(answer) => answer,
            Planned::Run(run) => run.execute(caller, None).await,
        };
        Ok(answer.output)
    }
}

/// A meta-tool call read once: the one operation it runs, or its answer already.
#[derive(Debug)]
pub enum Planned {
    Run(Run),
    Answer(Answer),
}

/// One operation of the catalog, resolved from the entry the call named, with its request.
#[derive(Debug)]
pub struct Run {
    catalog: Arc<Catalog>,
    index: usize,
    request: RawRequest,
    /// The concrete path, parameters substituted and encoded.
    pub path: String,
}

impl Run {
    fn operation(&self) -> &Operation {
        &self.catalog.operations()[self.index]
    }

    /// The operation that will run: its id, method and path template.
    pub fn meta(&self) -> Meta {
        self.operation().meta
    }

    /// The call's arguments as the operation receives them: path parameters (decoded), query
    /// parameters (as text, the way a URL carries them) and the JSON body, if any.
    pub fn arguments(&self) -> Arguments {
        let path = self.request.path.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        let query = url::form_urlencoded::parse(self.request.query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        let body = self.request.body.as_deref().and_then(|b| serde_json::from_slice(b).ok());
        Arguments { path, query, body }
    }

    /// Whether it can change data.
    pub fn writes(&self) -> bool {
        self.operation().writes()
    }

    /// Runs it with the caller's identity, each of its writes under `guard`.
    pub async fn execute(self, caller: &Caller, guard: Option<Arc<dyn WriteGuard>>) -> Answer {
        let Run { catalog, index, request, .. } = self;
        let op = &catalog.operations()[index];
        match op.call_guarded(caller.app.clone(), Some(caller.principal.clone()), request, guard).await {
            Ok(reply) => {
                let data = reply.body.and_then(|b| serde_json::from_slice::<Value>(&b).ok()).unwrap_or(Value::Null);
                Answer::replied(reply.status, data)
            }
            Err(e) => Answer::replied(e.status().as_u16(), e.body()),
        }
    }
}

/// What a [`Run`] passes to its operation, as data (for the policy decision on the call).
#[derive(Debug, Clone, PartialEq)]
pub struct Arguments {
    pub path: Map<String, Value>,
    pub query: Map<String, Value>,
    pub body: Option<Value>,
}

/// Reads a call: `None` for a tool that does not exist.
pub fn plan(caller: &Caller, name: &str, arguments: &Map<String, Value>) -> Option<Planned> {
    let Ok(registry) = registry() else {
        return Some(Planned::Answer(Answer::failure("The API catalog is unavailable.")));
    };
    Some(match meta::plan(&registry, name, arguments, |e| allows(&caller.principal, e), |e| caller.visibility(e))? {
        Plan::Answer(answer) => Planned::Answer(answer),
        Plan::Run { entry, request } => {
            // The operation is the entry's own, found by id; the built path must fit its template.
            let catalog = crate::catalog();
            let found = catalog.operations().iter().position(|op| op.meta.id == entry.id);
            let params = found.and_then(|i| catalog.operations()[i].match_path(&request.path));
            match (found, params) {
                (Some(index), Some(path)) => Planned::Run(Run {
                    request: RawRequest {
                        path,
                        query: request.query_string(),
                        body: request.body.as_ref().map(|b| b.to_string().into_bytes()),
                    },
                    path: request.path,
                    catalog,
                    index,
                }),
                _ => Planned::Answer(Answer::failure(meta::not_callable(&entry.id))),
            }
        }
    })
}

/// The tags of the operations this caller may call, for the tool descriptions.
fn reachable_groups(caller: &Caller) -> Vec<String> {
    let Ok(registry) = registry() else { return Vec::new() };
    let groups: BTreeSet<&str> = registry
        .entries()
        .iter()
        .filter(|e| caller.lists(e))
        .flat_map(|e| e.tags.iter().map(String::as_str))
        .filter(|t| *t != "Meta")
        .collect();
    groups.into_iter().map(str::to_owned).collect()
}
