//! The remote MCP endpoint: `POST /api/mcp` and `POST /t/{tenant_slug}/api/mcp`, Streamable HTTP
//! without sessions (JSON responses only), and the governed tool provider behind it: the three
//! meta-tools with the caller's identity, rate limits, and one audit row per tool call written
//! before the answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use alga_agent_tooling::tools::{Answer, Verdict};
use alga_api::catalog::WriteGuard;
use alga_api::registry::registry;
use alga_api::tools::{self, Caller, MetaTools, Planned};
use alga_core::RouteTable;
use alga_core::context::RequestId;
use alga_core::identity::{Actor, new_id, now};
use alga_core::schema::tenants;
use alga_core::{ApiError, AppContext};
use alga_mcp::{
    CallError, ClientFacts, Implementation, Outcome, ServerInfo, Tool, ToolOutput, ToolProvider, Transport,
};
use diesel::prelude::*;
use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use crate::Governance;
use crate::approval::gate::{self, Asking, Waited};
use crate::approval::store::{self as approvals, ApprovalError, NewApproval, Requester};
use crate::audit::{self, Decision, Record, Written};
use crate::auth::{self, Identity, Refusal, Scope};
use crate::policy::{
    self,
    call::{Decided, PolicyCall},
};

/// Request bodies over this size are refused with 413.
pub const MAX_BODY: usize = 1024 * 1024;

/// Who calls, as the governed provider sees it.
#[derive(Debug)]
pub struct GovernedCaller {
    tools: Caller,
    identity: Identity,
    gov: Arc<Governance>,
    request_id: Option<String>,
    /// Set when the answer must not be given with this identity: it came from the cache and its
    /// grants have changed, or the message needs grants read fresh. The request is then handled
    /// again with a fresh identity.
    stale: AtomicBool,
}

impl GovernedCaller {
    /// Asks for the message to be handled again with grants read fresh.
    fn redo(&self) -> CallError {
        self.stale.store(true, Ordering::Relaxed);
        CallError::Unavailable("The caller's grants changed during the call; try again.".to_owned())
    }
}

/// The meta-tools, rate-limited and audited.
#[derive(Debug)]
pub struct Governed;

/// What a call targets, for the audit: the operation that runs (or, for a call refused before
/// one could run, the entry it named).
struct Target {
    operation_id: Option<String>,
    http_method: Option<String>,
    http_path: Option<String>,
}

impl Target {
    fn of(name: &str, arguments: &Map<String, Value>, planned: Option<&Planned>) -> Target {
        if let Some(Planned::Run(run)) = planned {
            let meta = run.meta();
            return Target {
                operation_id: Some(meta.id.to_owned()),
                http_method: Some(meta.method.as_str().to_owned()),
                http_path: Some(run.path.chars().take(2000).collect()),
            };
        }
        let none = Target { operation_id: None, http_method: None, http_path: None };
        if name != alga_agent_tooling::tools::CALL_API_ENDPOINT {
            return none;
        }
        let Some(id) = arguments.get("entryId").and_then(Value::as_str) else { return none };
        match registry().ok().as_ref().and_then(|r| r.get(id)) {
            Some(entry) => Target {
                operation_id: Some(entry.id.clone()),
                http_method: Some(entry.method.clone()),
                http_path: Some(entry.path.clone()),
            },
            None => Target { operation_id: Some(id.chars().take(200).collect()), ..none },
        }
    }
}

/// How a call ended, for the audit: the decision and its reason, from the typed answer.
fn classify(answer: &Answer) -> (Decision, Option<String>) {
    match answer.verdict {
        Verdict::Allowed => (Decision::Allow, None),
        Verdict::Denied => (Decision::Deny, Some("forbidden".to_owned())),
        Verdict::Failed => {
            (Decision::Error, answer.output.structured.get("error").and_then(Value::as_str).map(audit::summary))
        }
    }
}

/// Runs inside each write transaction of a governed call: decides with the grants committed now,
/// and writes the call's audit row in the same transaction, so the change and its row commit
/// together or not at all.
#[derive(Debug)]
struct AuditGuard {
    principal: Arc<alga_core::Principal>,
    via_token: bool,
    needed: Option<alga_core::Permission>,
    /// The grant epoch the caller's identity was read at (cached or for this call): a write
    /// whose tenant's grants or bindings moved since is decided again on a fresh identity.
    epoch: Option<i64>,
    /// Set when `authorize` found the epoch moved: the call is then handled again.
    stale: AtomicBool,
    /// What the tenant's policies decide on, after the role check.
    policy_call: PolicyCall,
    /// The policy decision made in the write's transaction (the last one, if it ran twice), and
    /// the approval it consumed there when the policies asked for one.
    decided: std::sync::Mutex<Option<(Decided, Option<String>)>>,
    /// Set when the policies want an approval the call does not have: nothing was written.
    needs_approval: AtomicBool,
    /// The row, but for what only the write tells: filled in and inserted by `record`.
    row: Record,
    status: u16,
    started: Instant,
    committed: AtomicBool,
}

impl AuditGuard {
    fn decided(&self) -> Option<Decided> {
        self.decided.lock().ok().and_then(|d| d.as_ref().map(|(decided, _)| decided.clone()))
    }

    fn approval_id(&self) -> Option<String> {
        self.decided.lock().ok().and_then(|d| d.as_ref().and_then(|(_, id)| id.clone()))
    }
}

/// Consumes the approved approval of exactly this call under policy-set `version`, in the
/// caller's transaction (the one that executes the call), linking it to the call's audit row.
fn consume_approval(
    conn: &mut alga_core::DbConn,
    principal: &alga_core::Principal,
    call: &PolicyCall,
    version: i64,
    audit_id: &str,
) -> Result<Option<String>, ApiError> {
    let requester = Requester::of(principal);
    let binding = approvals::Binding {
        tenant_id: &principal.tenant_id,
        principal_kind: requester.kind,
        principal_id: &requester.id,
        operation_id: &call.operation_id,
        arguments: &call.arguments,
        policy_version: version,
    };
    Ok(approvals::consume_approved(conn, binding, Some(audit_id), now())?.map(|a| a.id))
}

/// The refusal ending a transaction whose call needs an approval it does not have.
fn approval_required() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, gate::REQUIRED_CODE, "This call needs a person's approval first.")
}

impl WriteGuard for AuditGuard {
    fn authorize(&self, conn: &mut alga_core::DbConn) -> Result<(), ApiError> {
        // Storing a policy version moves the grant epoch; holding the epoch's row orders this
        // write against it: a version committed first is read below (or makes this identity
        // stale), and one committed later waits for this write (PostgreSQL; SQLite serializes).
        auth::hold_grant_epoch(conn, &self.principal.tenant_id)?;
        match auth::still_permitted(conn, &self.principal, self.via_token, self.needed, self.epoch)? {
            auth::Standing::Permitted => {}
            auth::Standing::Stale => {
                self.stale.store(true, Ordering::Relaxed);
                return Err(ApiError::forbidden(auth::GRANTS_CHANGED));
            }
        }
        let decided = policy::call::decide(conn, &self.principal, &self.policy_call, true)?;
        let refusal = decided.refuses().then(|| decided.refusal());
        let approval_version = match (&refusal, decided.approval_needed(), &decided.active) {
            (None, Some(_), Some(active)) => Some(active.version),
            _ => None,
        };
        if let Ok(mut slot) = self.decided.lock() {
            *slot = Some((decided, None));
        }
        if let Some(refusal) = refusal {
            return Err(refusal);
        }
        // Asked for by the policies (decided with the records as they are now, forbids first):
        // the call runs only by consuming its approval, here, with the write.
        if let Some(version) = approval_version {
            let consumed = consume_approval(conn, &self.principal, &self.policy_call, version, &self.row.id)?;
            let Some(id) = consumed else {
                self.needs_approval.store(true, Ordering::Relaxed);
                return Err(approval_required());
            };
            if let Ok(mut slot) = self.decided.lock()
                && let Some((_, consumed)) = slot.as_mut()
            {
                *consumed = Some(id);
            }
        }
        Ok(())
    }

    fn record(&self, conn: &mut alga_core::DbConn, output: &Value) -> Result<(), ApiError> {
        // A handler that writes twice is audited once, by its first committed write.
        if self.committed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let answer = json!({ "status": self.status, "ok": true, "data": output });
        let mut row = Record {
            decision: Decision::Allow.as_str().to_owned(),
            reason: None,
            status_code: Some(i32::from(self.status)),
            result_summary: Some(audit::summary_of(&audit::redact(&answer))),
            duration_ms: i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX),
            ..self.row.clone()
        };
        if let Some(decided) = self.decided() {
            decided.fill(&mut row);
        }
        row.approval_id = self.approval_id();
        audit::insert_rows(conn, std::slice::from_ref(&row))
    }

    fn committed(&self) {
        self.committed.store(true, Ordering::Relaxed);
    }
}

impl ToolProvider for Governed {
    type Caller = GovernedCaller;

    fn tools(&self, caller: &GovernedCaller) -> Vec<Tool> {
        // A listing is not audited, so nothing would check cached grants afterwards.
        if !caller.identity.fresh {
            caller.redo();
            return Vec::new();
        }
        MetaTools.tools(&caller.tools)
    }

    /// Remembers the client per credential, for the audit of later calls that do not name it.
    fn initialized(&self, caller: &GovernedCaller, client: &Implementation, url_elicitation: bool) {
        let known =
            crate::KnownClient { name: client.name.clone(), version: Some(client.version.clone()), url_elicitation };
        caller.gov.clients.insert(credential_key(&caller.tools.principal), known);
    }

    async fn call(
        &self,
        caller: &GovernedCaller,
        client: &ClientFacts,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<ToolOutput, CallError> {
        let started = Instant::now();
        // Read once: the operation that runs is the one limited, authorized and audited.
        let planned = tools::plan(&caller.tools, name, &arguments);
        let target = Target::of(name, &arguments, planned.as_ref());
        let writes = matches!(&planned, Some(Planned::Run(run)) if run.writes());
        let principal = &caller.tools.principal;
        let limiter_key = credential_key(principal);
        let known = caller.gov.clients.get(&limiter_key);
        let (client_name, client_version) = match (&client.client_name, &known) {
            (None, Some(known)) => (Some(known.name.clone()), known.version.clone()),
            _ => (client.client_name.clone(), client.client_version.clone()),
        };
        let asking = Asking::of(client, known.as_ref().is_some_and(|k| k.url_elicitation));
        let (agent_id, user_id) = match &principal.actor {
            Actor::Agent { id, .. } => (Some(id.clone()), None),
            Actor::User { id, .. } => (None, Some(id.clone())),
        };
        let mut row = Record {
            tenant_id: principal.tenant_id.clone(),
            id: new_id(),
            caller_kind: if agent_id.is_some() { "agent" } else { "user" }.to_owned(),
            agent_id,
            user_id,
            api_key_id: principal.api_key_id.clone(),
            idp_issuer: caller.identity.issuer.clone(),
            idp_subject: caller.identity.subject.clone(),
            client_name,
            client_version,
            protocol_version: client.protocol_version.clone(),
            method: "tools/call".to_owned(),
            tool: Some(name.chars().take(200).collect()),
            operation_id: target.operation_id,
            http_method: target.http_method,
            http_path: target.http_path,
            arguments: audit::redact(&Value::Object(arguments)).to_string(),
            decision: Decision::Error.as_str().to_owned(),
            reason: None,
            status_code: None,
            result_summary: None,
            duration_ms: 0,
            request_id: caller.request_id.clone(),
            created_at: now(),
            policy_decision: None,
            policy_ids: None,
            policy_version: None,
            policy_mode: None,
            policy_input: None,
            policy_errors: None,
            approval_id: None,
        };
        let now_instant = Instant::now();
        let limited = caller
            .gov
            .limits
            .calls
            .take(&limiter_key, now_instant)
            .err()
            .or_else(|| if writes { caller.gov.limits.writes.take(&limiter_key, now_instant).err() } else { None });
        let rate_limited = limited.is_some();
        let mut guard = None;
        // The policy decision on a read (a write's is made in its transaction, by its guard).
        let mut decided: Option<Decided> = None;
        let policy_call = |run: &tools::Run| {
            let meta = run.meta();
            PolicyCall {
                operation_id: meta.id.to_owned(),
                path_template: meta.path.to_owned(),
                arguments: run.arguments(),
                client_name: row.client_name.clone(),
            }
        };
        // A 2026-07-28 retry of a call waiting for approval is held while a person decides.
        let mut approval_id: Option<String> = None;
        let waited = match (&limited, &planned, &client.request_state) {
            (None, Some(Planned::Run(run)), Some(state)) => match self.wait(caller, name, run, state).await {
                Ok(Waited::Approved) => None,
                Ok(Waited::Told(told, id)) => {
                    approval_id = id;
                    Some(told.map(|output| Answer { output, status: Some(403), verdict: Verdict::Denied }))
                }
                Err(e) => {
                    let e = ApiError::from(e);
                    Some(Ok(Answer::replied(e.status().as_u16(), e.body())))
                }
            },
            _ => None,
        };
        let asked = waited.is_some();
        let result: Result<Answer, CallError> = match (limited, planned, waited) {
            (Some(wait), _, _) => {
                let secs = wait.as_secs_f64().max(0.001);
                Ok(Answer {
                    output: ToolOutput {
                        structured: json!({
                            "error": format!("Rate limit reached: retry in {secs:.1} s."),
                            "retry_after_seconds": (secs * 10.0).ceil() / 10.0,
                            "status": 429,
                        }),
                        is_error: true,
                    },
                    status: Some(429),
                    verdict: Verdict::Denied,
                })
            }
            (None, _, Some(told)) => told,
            (None, None, None) => Err(CallError::UnknownTool),
            (None, Some(Planned::Answer(answer)), None) => Ok(answer),
            (None, Some(Planned::Run(run)), None) if writes => {
                let meta = run.meta();
                let g = Arc::new(AuditGuard {
                    principal: principal.clone(),
                    via_token: caller.identity.issuer.is_some(),
                    needed: meta.access.permission(),
                    epoch: caller.identity.epoch,
                    stale: AtomicBool::new(false),
                    policy_call: policy_call(&run),
                    decided: std::sync::Mutex::new(None),
                    needs_approval: AtomicBool::new(false),
                    row: row.clone(),
                    status: meta.status,
                    started,
                    committed: AtomicBool::new(false),
                });
                guard = Some(g.clone());
                let answer = run.execute(&caller.tools, Some(g.clone())).await;
                match g.decided() {
                    // A handler that wrote once and then needed an approval for a second write
                    // (none does) answers as it ran, rather than ask to approve what committed.
                    Some(d) if g.needs_approval.load(Ordering::Relaxed) && !g.committed.load(Ordering::Relaxed) => {
                        let client = (g.row.client_name.clone(), g.row.client_version.clone());
                        let (told, id) = self.ask(caller, asking, name, &g.policy_call, &d, client).await;
                        approval_id = id;
                        told
                    }
                    _ => Ok(answer),
                }
            }
            (None, Some(Planned::Run(run)), None) => {
                let (who, call) = (principal.clone(), policy_call(&run));
                match caller.tools.app.db.run(move |conn| policy::call::decide(conn, &who, &call, false)).await {
                    Err(e) => Ok(Answer::replied(e.status().as_u16(), e.body())),
                    Ok(d) => {
                        let refusal = d.refuses().then(|| d.refusal());
                        // Approval policies are refused on reads when saved (an approval is consumed
                        // with the write it lets run): should one apply, the read fails closed.
                        let refusal = refusal.or_else(|| d.approval_needed().map(|_| approval_required()));
                        decided = Some(d);
                        match refusal {
                            Some(e) => Ok(Answer::replied(e.status().as_u16(), e.body())),
                            None => Ok(run.execute(&caller.tools, None).await),
                        }
                    }
                }
            }
        };
        if let Some(g) = &guard {
            decided = g.decided();
        }
        // The approval a write consumed counts only once it committed (a rolled-back write gave
        // it back).
        if let Some(g) = guard.as_ref().filter(|g| g.committed.load(Ordering::Relaxed)) {
            approval_id = approval_id.or_else(|| g.approval_id());
        }
        let refused_by_policy = decided.as_ref().is_some_and(Decided::refuses);
        // Asked for an approval, or told of one, instead of running.
        let awaiting_approval = asked
            || guard.as_ref().is_some_and(|g| g.needs_approval.load(Ordering::Relaxed))
            || matches!(&result, Err(CallError::InputRequired { .. } | CallError::UrlElicitationRequired { .. }));
        let (decision, reason) = match &result {
            Ok(_) if rate_limited => (Decision::Deny, Some("rate_limited".to_owned())),
            Ok(_) if refused_by_policy => (Decision::Deny, Some("policy".to_owned())),
            _ if awaiting_approval => (Decision::Deny, Some("approval".to_owned())),
            Ok(answer) => classify(answer),
            Err(_) => (Decision::Error, Some("unknown_tool".to_owned())),
        };
        if let Some(g) = &guard {
            if g.committed.load(Ordering::Relaxed) {
                // The row committed with the write: the call is acknowledged.
                self.count(caller, name, Decision::Allow);
                return result.map(|answer| answer.output);
            }
            // A refusal is only ever given on a fresh read: refused with cached grants (before the
            // write began, or by its transaction, which then rolled back), or with grants or a
            // binding that moved since the caller was authenticated, decide again afresh.
            // A policy's refusal was decided on grants found current: it stands.
            if decision == Decision::Deny
                && !refused_by_policy
                && !awaiting_approval
                && (!caller.identity.fresh || g.stale.load(Ordering::Relaxed))
            {
                return Err(caller.redo());
            }
        }
        row.decision = decision.as_str().to_owned();
        row.reason = reason;
        row.status_code = result.as_ref().ok().and_then(|a| a.status).map(i32::from);
        row.result_summary = Some(match &result {
            Ok(answer) => audit::summary_of(&audit::redact(&answer.output.structured)),
            Err(CallError::InputRequired { .. } | CallError::UrlElicitationRequired { .. }) => {
                "Waiting for a person's approval.".to_owned()
            }
            Err(_) => format!("Unknown tool: {}", name.chars().take(100).collect::<String>()),
        });
        row.approval_id = approval_id;
        row.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        if let Some(decided) = &decided {
            decided.fill(&mut row);
        }
        // A read made with cached grants counts only if they are still current (checked in the
        // audit transaction); a write decided in its own transaction, or never began one.
        let epoch = if guard.is_some() { None } else { caller.identity.epoch };
        match caller.gov.audit.write(&caller.tools.app.db, audit::Entry { record: row, epoch }).await {
            Ok(Written::Recorded) => {
                self.count(caller, name, decision);
                result.map(|answer| answer.output)
            }
            Ok(Written::Stale) => Err(caller.redo()),
            Err(e) => {
                tracing::error!(error = %e, "the audit row could not be written; the call is not acknowledged");
                Err(CallError::Unavailable(
                    "The call could not be recorded in the audit trail, so it is not acknowledged; try again."
                        .to_owned(),
                ))
            }
        }
    }
}

impl Governed {
    /// A call the policies want approved and that has no approved approval: asks for one (or
    /// finds the open one, or the denial that stands), and tells the caller as its era asks.
    async fn ask(
        &self,
        caller: &GovernedCaller,
        asking: Asking,
        tool: &str,
        call: &PolicyCall,
        decided: &Decided,
        client: (Option<String>, Option<String>),
    ) -> (Result<Answer, CallError>, Option<String>) {
        let (Some(need), Some(active)) = (decided.approval_needed(), &decided.active) else {
            return (Err(CallError::Unavailable("The call's approval could not be asked for.".to_owned())), None);
        };
        let principal = caller.tools.principal.clone();
        let (call, need, version) = (call.clone(), need.clone(), active.version);
        let record = decided.record().map(|(kind, id)| (kind, id.to_owned()));
        let who = principal.clone();
        let requested = caller
            .tools
            .app
            .db
            .run(move |conn| {
                let requester = Requester::of(&who);
                let new = NewApproval {
                    tenant_id: &who.tenant_id,
                    requester: &requester,
                    client: (client.0.as_deref(), client.1.as_deref()),
                    operation_id: &call.operation_id,
                    arguments: &call.arguments,
                    record: record.as_ref().map(|(kind, id)| (*kind, id.as_str())),
                    policy_version: version,
                    policy_ids: &need.policy_ids,
                    approver_roles: &need.approvers,
                    expires_at: now() + chrono::Duration::seconds(need.expires_in_seconds),
                };
                let approval = approvals::request(conn, &new, now())?.approval;
                let decider = approvals::decider_name(conn, &approval)?;
                Ok::<_, ApprovalError>((approval, decider))
            })
            .await;
        let (approval, decider) = match requested {
            Ok(found) => found,
            Err(e) => {
                let e = ApiError::from(e);
                return (Ok(Answer::replied(e.status().as_u16(), e.body())), None);
            }
        };
        let url = gate::url(&caller.tools.app, &approval.id);
        let key = match asking {
            Asking::InputRequired => Some(caller.gov.state_key(&caller.tools.app).await),
            _ => None,
        };
        let told = gate::told(asking, &approval, &url, decider.as_deref(), || match &key {
            Some(Ok(key)) => gate::seal_for(key, &approval, &principal, tool),
            _ => Err(crate::approval::seal::SealError::Crypto("no request-state key".to_owned())),
        });
        let answer = told.map(|output| Answer { output, status: Some(403), verdict: Verdict::Denied });
        (answer, Some(approval.id))
    }

    /// A 2026-07-28 retry carrying a `requestState`: held while the approval it names is pending.
    async fn wait(
        &self,
        caller: &GovernedCaller,
        tool: &str,
        run: &tools::Run,
        state: &str,
    ) -> Result<Waited, ApprovalError> {
        let key = caller.gov.state_key(&caller.tools.app).await?;
        let digest = crate::approval::digest::of_call(run.meta().id, &run.arguments());
        let hold = std::time::Duration::from_secs(caller.gov.settings.approval_wait);
        let holds = &caller.gov.holds;
        gate::wait(&caller.tools.app, holds, &key, &caller.tools.principal, tool, &digest, state, hold).await
    }

    fn count(&self, caller: &GovernedCaller, name: &str, decision: Decision) {
        let tool = if alga_agent_tooling::tools::NAMES.contains(&name) { name } else { "unknown" };
        let labels = crate::ToolCallLabels { tool: tool.to_owned(), decision: decision.as_str() };
        caller.gov.tool_calls.get_or_create(&labels).inc();
    }
}

/// One caller's credential: the API key, else the agent (a JWT), within its tenant.
fn credential_key(principal: &alga_core::Principal) -> String {
    format!("{}:{}", principal.tenant_id, principal.api_key_id.as_deref().or(principal.agent_id()).unwrap_or_default())
}

/// The `WWW-Authenticate` challenge pointing at this endpoint's protected-resource metadata.
/// The challenge of a refusal on `scope`'s endpoint: the metadata, the scopes a client should
/// request (as the metadata lists them), and the error when there is one.
async fn challenge(ctx: &AppContext, scope: &Scope, error: Option<(&str, &str)>) -> String {
    let tenant = scope_tenant(scope);
    let scopes = match ctx.db.run(move |conn| crate::metadata::advertised(conn, tenant.as_deref())).await {
        Ok(advertised) => advertised.scopes.join(" "),
        Err(e) => {
            tracing::warn!(error = %e, "the scopes to advertise could not be read");
            String::new()
        }
    };
    bearer_challenge(&crate::metadata::metadata_url(ctx, scope), &scopes, error)
}

fn scope_tenant(scope: &Scope) -> Option<String> {
    match scope {
        Scope::Instance => None,
        Scope::Tenant { id, .. } => Some(id.clone()),
    }
}

/// A `Bearer` challenge naming the metadata, the scopes to request, and the error code and
/// description when there is one.
fn bearer_challenge(metadata: &str, scopes: &str, error: Option<(&str, &str)>) -> String {
    // Only visible ASCII may stand in a quoted header value; token text (`iss`, `kid`) is the
    // caller's and can hold anything.
    let quoted = |text: &str| -> String {
        text.chars()
            .map(|c| if c == '"' || c == '\\' || !(' '..='~').contains(&c) { '\'' } else { c })
            .take(300)
            .collect()
    };
    let mut challenge = format!("Bearer resource_metadata=\"{metadata}\"");
    if !scopes.is_empty() {
        challenge.push_str(&format!(", scope=\"{}\"", quoted(scopes)));
    }
    if let Some((code, description)) = error {
        challenge.push_str(&format!(", error=\"{code}\", error_description=\"{}\"", quoted(description)));
    }
    challenge
}

async fn refused(
    ctx: &AppContext,
    gov: &Governance,
    scope: &Scope,
    refusal: Refusal,
    req: &HttpRequest,
    request_id: Option<String>,
) -> HttpResponse {
    match refusal {
        Refusal::Missing => {
            let e = ApiError::unauthorized("A bearer token or API key is required.");
            HttpResponse::build(StatusCode::UNAUTHORIZED)
                .insert_header((header::WWW_AUTHENTICATE, challenge(ctx, scope, None).await))
                .json(e.body())
        }
        Refusal::Invalid(why) => {
            tracing::debug!(reason = %why, "MCP credential refused");
            let e = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", format!("Invalid token: {why}."));
            HttpResponse::build(StatusCode::UNAUTHORIZED)
                .insert_header((header::WWW_AUTHENTICATE, challenge(ctx, scope, Some(("invalid_token", &why))).await))
                .json(e.body())
        }
        Refusal::InsufficientScope { why, scope: needed } => {
            tracing::debug!(reason = %why, "MCP token lacks a required scope");
            let e = ApiError::new(StatusCode::FORBIDDEN, "insufficient_scope", format!("Insufficient scope: {why}."));
            let metadata = crate::metadata::metadata_url(ctx, scope);
            HttpResponse::build(StatusCode::FORBIDDEN)
                .insert_header((
                    header::WWW_AUTHENTICATE,
                    bearer_challenge(&metadata, &needed, Some(("insufficient_scope", &why))),
                ))
                .json(e.body())
        }
        Refusal::Forbidden(why) | Refusal::Unbound(why) => {
            tracing::debug!(reason = %why, "MCP caller forbidden");
            ApiError::forbidden(why).error_response()
        }
        Refusal::Ended(key) => {
            // A key this server issued, used after it ended: audited in its tenant before the
            // refusal is given (and, if that cannot be recorded, not given as a plain 401).
            let row = Record {
                tenant_id: key.tenant_id,
                id: new_id(),
                caller_kind: "agent".to_owned(),
                agent_id: Some(key.agent_id),
                user_id: None,
                api_key_id: Some(key.key_id),
                idp_issuer: None,
                idp_subject: None,
                client_name: None,
                client_version: None,
                protocol_version: header_text(req.headers(), "mcp-protocol-version")
                    .map(|v| v.chars().take(40).collect())
                    .unwrap_or_default(),
                method: header_text(req.headers(), "mcp-method")
                    .map(|v| v.chars().take(100).collect())
                    .unwrap_or_else(|| "authentication".to_owned()),
                tool: header_text(req.headers(), "mcp-name").map(|v| v.chars().take(200).collect()),
                operation_id: None,
                http_method: None,
                http_path: None,
                arguments: "{}".to_owned(),
                decision: Decision::Deny.as_str().to_owned(),
                reason: Some("credential_ended".to_owned()),
                status_code: Some(401),
                result_summary: Some(
                    "The API key is revoked or expired, or its agent deactivated or retired.".to_owned(),
                ),
                duration_ms: 0,
                request_id,
                created_at: now(),
                policy_decision: None,
                policy_ids: None,
                policy_version: None,
                policy_mode: None,
                policy_input: None,
                policy_errors: None,
                approval_id: None,
            };
            // Audited at the rate calls are allowed; a flood of refusals with a leaked, ended key
            // is refused without a row each (the first ones say it all).
            let limiter = format!("ended:{}:{}", row.tenant_id, row.api_key_id.as_deref().unwrap_or_default());
            let within = gov.limits.calls.take(&limiter, Instant::now()).is_ok();
            if within && let Err(e) = gov.audit.write(&ctx.db, audit::Entry { record: row, epoch: None }).await {
                tracing::error!(error = %e, "the refusal of an ended key could not be audited");
                return e.error_response();
            }
            let why = "the API key is invalid, expired or revoked";
            let e = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", format!("Invalid token: {why}."));
            HttpResponse::build(StatusCode::UNAUTHORIZED)
                .insert_header((header::WWW_AUTHENTICATE, challenge(ctx, scope, Some(("invalid_token", why))).await))
                .json(e.body())
        }
        Refusal::Failed(e) => e.error_response(),
    }
}

/// The Origin, when a browser sent one, must be allowed (DNS-rebinding protection).
fn origin_allowed(ctx: &AppContext, gov: &Governance, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    let origin = origin.trim_end_matches('/');
    if gov.settings.allowed_origins.is_empty() {
        return ctx.public_url.origin().ascii_serialization() == origin;
    }
    gov.settings.allowed_origins.iter().any(|o| o.trim_end_matches('/') == origin)
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn read_body(mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("The request body could not be read."))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is larger than 1 MiB.",
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn server_info(ctx: &AppContext) -> ServerInfo {
    ServerInfo {
        name: "alga-psa".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        instructions: format!(
            "Alga PSA ({} edition): tickets, clients, contacts, projects and time entries. Use search_api_registry \
             to find an operation, then call_api_endpoint to run it; search_business_data finds records by text.",
            ctx.edition
        ),
    }
}

async fn serve(
    req: HttpRequest,
    payload: web::Payload,
    ctx: &AppContext,
    gov: Arc<Governance>,
    scope: Scope,
) -> HttpResponse {
    if !origin_allowed(ctx, &gov, req.headers()) {
        return HttpResponse::Forbidden()
            .json(ApiError::forbidden("This Origin may not call the MCP endpoint.").body());
    }
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    // Authentication comes before the body is read.
    let mut identity = match auth::authenticate(ctx, &gov, req.headers(), &scope, false).await {
        Ok(identity) => identity,
        Err(refusal) => return refused(ctx, &gov, &scope, refusal, &req, request_id).await,
    };
    let is_json = header_text(req.headers(), "content-type")
        .and_then(|v| v.split(';').next().map(|t| t.trim().eq_ignore_ascii_case("application/json")))
        .unwrap_or(false);
    if !is_json {
        let e = ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the JSON-RPC message as Content-Type: application/json.",
        );
        return e.error_response();
    }
    let body = match read_body(payload).await {
        Ok(body) => body,
        Err(e) => return e.error_response(),
    };
    let transport = Transport {
        http: true,
        protocol_version: header_text(req.headers(), "mcp-protocol-version"),
        method: header_text(req.headers(), "mcp-method"),
        name: header_text(req.headers(), "mcp-name"),
    };
    // An identity whose grants changed since it was read (a cached one, or one read for this call
    // before a write began) is replaced by a fresh one and the message handled again; fresh grants
    // can only go stale again if they change once more meanwhile.
    let lists = lists_operations(&body);
    for _ in 0..REDO_LIMIT {
        let policies = if lists {
            let principal = identity.principal.clone();
            match ctx.db.run(move |conn| policy::call::view(conn, &principal)).await {
                Ok(view) => view,
                Err(e) => return e.error_response(),
            }
        } else {
            None
        };
        let caller = GovernedCaller {
            tools: Caller { app: ctx.clone(), principal: identity.principal.clone(), policies },
            identity,
            gov: gov.clone(),
            request_id: request_id.clone(),
            stale: AtomicBool::new(false),
        };
        let outcome = alga_mcp::handle(&Governed, &caller, &server_info(ctx), &body, &transport).await;
        if !caller.stale.load(Ordering::Relaxed) {
            return match outcome {
                Outcome::Reply { status, body } => {
                    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                        .insert_header((header::CACHE_CONTROL, "no-store"))
                        .json(body)
                }
                Outcome::Accepted => HttpResponse::Accepted().finish(),
            };
        }
        identity = match auth::authenticate(ctx, &gov, req.headers(), &scope, true).await {
            Ok(identity) => identity,
            Err(refusal) => return refused(ctx, &gov, &scope, refusal, &req, request_id).await,
        };
    }
    ApiError::unavailable("The caller's grants kept changing during the call; try again.").error_response()
}

/// Whether the message lists or searches operations (`tools/list`, `search_api_registry`), which
/// the caller's enforced policies filter: only then is their view read.
fn lists_operations(body: &[u8]) -> bool {
    let lists = |m: &Value| match m.get("method").and_then(Value::as_str) {
        Some("tools/list") => true,
        Some("tools/call") => {
            m.pointer("/params/name").and_then(Value::as_str) == Some(alga_agent_tooling::tools::SEARCH_API_REGISTRY)
        }
        _ => false,
    };
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(batch)) => batch.iter().any(lists),
        Ok(message) => lists(&message),
        Err(_) => false,
    }
}

/// How many times one message is handled at most, the first time included.
const REDO_LIMIT: usize = 3;

async fn instance(
    req: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<AppContext>,
    gov: web::Data<Governance>,
) -> HttpResponse {
    serve(req, payload, &ctx, gov.into_inner(), Scope::Instance).await
}

async fn tenant(
    req: HttpRequest,
    payload: web::Payload,
    path: web::Path<String>,
    ctx: web::Data<AppContext>,
    gov: web::Data<Governance>,
) -> HttpResponse {
    match tenant_scope(&ctx, path.into_inner()).await {
        Ok(scope) => serve(req, payload, &ctx, gov.into_inner(), scope).await,
        Err(e) => e.error_response(),
    }
}

/// The scope of `/t/{slug}/…`; 404 for an unknown tenant.
pub async fn tenant_scope(ctx: &AppContext, slug: String) -> Result<Scope, ApiError> {
    if !alga_core::identity::valid_slug(&slug) {
        return Err(ApiError::not_found("No such tenant."));
    }
    ctx.db
        .run(move |conn| {
            let id: Option<String> =
                tenants::table.filter(tenants::slug.eq(&slug)).select(tenants::id).first(conn).optional()?;
            id.map(|id| Scope::Tenant { id, slug }).ok_or_else(|| ApiError::not_found("No such tenant."))
        })
        .await
}

/// GET and DELETE: this endpoint keeps no sessions and opens no server-sent event streams.
async fn not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST"))
        .json(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Use POST.").body())
}

pub fn routes(table: &mut RouteTable) {
    table.post("/api/mcp", instance).post("/t/{tenant}/api/mcp", tenant);
    for path in ["/api/mcp", "/t/{tenant}/api/mcp"] {
        table.get(path, not_allowed).delete(path, not_allowed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_challenge_is_a_valid_header_whatever_the_token_said() {
        for why in ["unknown issuer \"evil\"\r\nX-Injected: 1", "kid \u{7f}\u{0}é中", "a\\b\"c"] {
            let value = bearer_challenge(
                "https://alga.example/.well-known/oauth-protected-resource/api/mcp",
                why,
                Some(("invalid_token", why)),
            );
            assert!(actix_web::http::header::HeaderValue::from_str(&value).is_ok(), "{value:?}");
            assert!(!value.contains('\n') && !value.contains('\r'), "{value:?}");
        }
    }
}
