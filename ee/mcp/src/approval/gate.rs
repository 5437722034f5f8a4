//! The approval gate on the call path. A call the tenant's enforced policies want approved runs
//! only by consuming an approved approval of exactly that call, in the transaction that executes
//! it ([`store::consume_approved`]). Otherwise the approval is asked for, or the open one found
//! ([`store::request`]), and the caller is told in the form its protocol era understands
//! ([`Asking`]): 2026-07-28 an `InputRequiredResult` with a URL elicitation and a sealed
//! `requestState`, whose retry is held open while a person decides ([`wait`]); 2025-11-25 with
//! URL elicitation the error -32042; otherwise a tool error giving the URL and the approval id.

use std::time::{Duration, Instant};

use alga_core::identity::{Actor, now};
use alga_core::{AppContext, Principal};
use alga_mcp::{CallError, ClientFacts, MODERN_VERSION, ToolOutput};
use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use super::seal::{self, SealKey};
use super::store::{self, Approval, ApprovalError, Status};

/// The code of the refusal a call's transaction ends with when it needs an approval it lacks.
pub const REQUIRED_CODE: &str = "approval_required";

/// The JSON-RPC method a sealed state binds.
const METHOD: &str = "tools/call";

/// How long a 2026-07-28 client keeps being asked to retry, from when the approval was asked
/// for; then it is told the call is still pending and to call again later.
const RETRY_WINDOW: chrono::Duration = chrono::Duration::minutes(5);

/// How often a held retry reads the approval again.
const POLL: Duration = Duration::from_millis(250);

/// The longest a retry is held, whatever `--approval-wait` says.
const MAX_HOLD: Duration = Duration::from_secs(60);

/// Retries held at once per caller, and in all: each polls the database, so an agent repeating
/// its retry must not hold connections and tasks without bound. A retry over either limit is told
/// to retry later at once.
const HOLDS_PER_CALLER: usize = 2;
const HOLDS_IN_ALL: usize = 64;

/// The retries this process holds, by caller.
#[derive(Debug, Default)]
pub struct Holds(std::sync::Mutex<std::collections::HashMap<String, usize>>);

/// One held retry; released when dropped.
struct Hold<'a> {
    holds: &'a Holds,
    caller: String,
}

impl Holds {
    fn take(&self, caller: &str) -> Option<Hold<'_>> {
        let mut held = self.0.lock().ok()?;
        let in_all: usize = held.values().sum();
        let mine = held.get(caller).copied().unwrap_or(0);
        if in_all >= HOLDS_IN_ALL || mine >= HOLDS_PER_CALLER {
            return None;
        }
        held.insert(caller.to_owned(), mine + 1);
        Some(Hold { holds: self, caller: caller.to_owned() })
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        if let Ok(mut held) = self.holds.0.lock() {
            match held.get(&self.caller).copied() {
                Some(n) if n > 1 => {
                    held.insert(self.caller.clone(), n - 1);
                }
                _ => {
                    held.remove(&self.caller);
                }
            }
        }
    }
}

/// The approval's page in the admin UI (it needs a signed-in session: never pre-authenticated).
pub fn url(ctx: &AppContext, id: &str) -> String {
    format!("{}/admin/approvals/{id}", ctx.public_url.as_str().trim_end_matches('/'))
}

/// How the caller's protocol can be asked for an approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asking {
    /// 2026-07-28, URL-mode elicitation declared: `InputRequiredResult`.
    InputRequired,
    /// 2025-11-25, URL-mode elicitation declared at `initialize`: -32042.
    UrlElicitation,
    /// Anything else: a tool error naming the URL and the approval id.
    ToolResult,
}

impl Asking {
    /// `declared_at_initialize`: whether this credential's client declared URL elicitation when
    /// it initialized (the legacy eras say so only there).
    pub fn of(client: &ClientFacts, declared_at_initialize: bool) -> Asking {
        match client.protocol_version.as_str() {
            MODERN_VERSION if client.url_elicitation => Asking::InputRequired,
            alga_mcp::URL_ELICITATION_VERSION if declared_at_initialize => Asking::UrlElicitation,
            _ => Asking::ToolResult,
        }
    }
}

/// The principal as a sealed state names it.
pub fn principal_tag(principal: &Principal) -> String {
    match &principal.actor {
        Actor::Agent { id, .. } => format!("agent:{id}"),
        Actor::User { id, .. } => format!("user:{id}"),
    }
}

fn utc(at: chrono::NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The approval as the caller sees it.
fn described(approval: &Approval, url: &str) -> Value {
    json!({
        "id": approval.id,
        "status": approval.status,
        "url": url,
        "expires_at": utc(approval.expires_at),
    })
}

fn tool_error(message: &str, approval: &Approval, url: &str) -> ToolOutput {
    ToolOutput {
        structured: json!({ "error": message, "status": 403, "approval": described(approval, url) }),
        is_error: true,
    }
}

/// What the caller is told of its approval when the call does not run now: pending, in its
/// era's form (`state` seals the retry of a 2026-07-28 client); denied, by whom and why;
/// expired or already used, to call again.
pub fn told(
    asking: Asking,
    approval: &Approval,
    url: &str,
    decider: Option<&str>,
    state: impl FnOnce() -> Result<String, seal::SealError>,
) -> Result<ToolOutput, CallError> {
    let operation = &approval.operation_id;
    match approval.status {
        Status::Pending | Status::Approved => {
            let message = format!(
                "A person must approve this call ({operation}) before it runs: {url} (approval {}, until {}).",
                approval.id,
                utc(approval.expires_at)
            );
            match asking {
                Asking::InputRequired => {
                    let state = state().map_err(|e| {
                        tracing::error!(error = %e, "a request state could not be sealed");
                        CallError::Unavailable("The approval could not be asked for; try again.".to_owned())
                    })?;
                    let request = json!({
                        "method": "elicitation/create",
                        "params": { "mode": "url", "message": message, "url": url },
                    });
                    let mut input_requests = Map::new();
                    input_requests.insert("approval".to_owned(), request);
                    Err(CallError::InputRequired { input_requests, request_state: state })
                }
                Asking::UrlElicitation => Err(CallError::UrlElicitationRequired {
                    elicitations: vec![json!({
                        "mode": "url",
                        "elicitationId": approval.id,
                        "url": url,
                        "message": message,
                    })],
                    message,
                }),
                Asking::ToolResult => Ok(tool_error(
                    &format!("{message} Once it is approved, make the identical call again: it then runs, once."),
                    approval,
                    url,
                )),
            }
        }
        Status::Denied => {
            let who = decider.unwrap_or("an approver");
            let why = approval.decision_reason.as_deref().unwrap_or("no reason given");
            Ok(tool_error(&format!("{who} denied this call ({operation}): {why}"), approval, url))
        }
        Status::Expired => Ok(tool_error(
            &format!("The approval of this call ({operation}) expired undecided; make the call again to ask anew."),
            approval,
            url,
        )),
        Status::Consumed => Ok(tool_error(
            &format!(
                "This approval was used: it lets exactly one execution of the call ({operation}) run. Make the call again, without requestState, to ask anew."
            ),
            approval,
            url,
        )),
    }
}

/// The state a 2026-07-28 client echoes on its retry: the approval, this call, the approval's
/// expiry.
pub fn seal_for(
    key: &SealKey,
    approval: &Approval,
    principal: &Principal,
    tool: &str,
) -> Result<String, seal::SealError> {
    seal::seal(
        key,
        &seal::State {
            approval_id: approval.id.clone(),
            tenant_id: approval.tenant_id.clone(),
            principal: principal_tag(principal),
            method: METHOD.to_owned(),
            tool: tool.to_owned(),
            args_digest: approval.args_digest.clone(),
            expires_at: approval.expires_at,
        },
    )
}

/// What a held retry comes to.
#[derive(Debug)]
pub enum Waited {
    /// Approved: run the call, consuming the approval.
    Approved,
    /// Not approved: what the caller is told instead, and the approval it names (for the audit).
    Told(Result<ToolOutput, CallError>, Option<String>),
}

/// A 2026-07-28 retry carrying `state`: opened for exactly this call (`args_digest` of its
/// arguments), then held up to `hold` while the approval is pending. Approved when the retry
/// came: the call runs; approved while it was held: the client is told to retry at once.
/// Still pending: told to retry with the same state, until [`RETRY_WINDOW`] after the approval
/// was asked for, then that it is pending and to call again later. A state that does not open
/// for this call (tampered, expired, another call's) is refused, and nothing runs.
#[allow(clippy::too_many_arguments)]
pub async fn wait(
    ctx: &AppContext,
    holds: &Holds,
    key: &SealKey,
    principal: &Principal,
    tool: &str,
    args_digest: &str,
    state: &str,
    hold: Duration,
) -> Result<Waited, ApprovalError> {
    let tag = principal_tag(principal);
    let binding = seal::Binding { tenant_id: &principal.tenant_id, principal: &tag, method: METHOD, tool, args_digest };
    let opened = match seal::open(key, state, &binding, now()) {
        Ok(opened) => opened,
        Err(e) => {
            let refused = ToolOutput {
                structured: json!({
                    "error": format!("The requestState was refused: {e}. Make the call again without it to ask for approval."),
                    "status": 400,
                }),
                is_error: true,
            };
            return Ok(Waited::Told(Ok(refused), None));
        }
    };
    let until = Instant::now() + hold.min(MAX_HOLD);
    let caller = format!("{}:{tag}", principal.tenant_id);
    let mut held: Option<Hold<'_>> = None;
    let named = Some(opened.approval_id.clone());
    let retry = || {
        Waited::Told(
            Err(CallError::InputRequired { input_requests: Map::new(), request_state: state.to_owned() }),
            named.clone(),
        )
    };
    loop {
        let (tenant, id) = (principal.tenant_id.clone(), opened.approval_id.clone());
        let (approval, decider) = ctx
            .db
            .run(move |conn| {
                let approval = store::get(conn, &tenant, &id)?;
                let decider = store::decider_name(conn, &approval)?;
                Ok::<_, ApprovalError>((approval, decider))
            })
            .await?;
        let url = url(ctx, &approval.id);
        match approval.status {
            // Approved while this retry was held: the client is told to retry now rather than the
            // call run, since a client that went away meanwhile (the server cannot tell) must
            // have nothing run for it. Approved when the retry came: it runs.
            Status::Approved if !approval.expired_at(now()) && held.is_some() => return Ok(retry()),
            Status::Approved if !approval.expired_at(now()) => return Ok(Waited::Approved),
            Status::Pending if !approval.expired_at(now()) && now() < approval.created_at + RETRY_WINDOW => {
                if held.is_none() {
                    held = holds.take(&caller);
                }
                if held.is_some() && Instant::now() < until {
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                return Ok(retry());
            }
            Status::Pending if !approval.expired_at(now()) => {
                return Ok(Waited::Told(
                    Ok(tool_error(
                        &format!(
                            "This call ({}) is still waiting for a person's approval at {url} (approval {}, until {}). Make the identical call again later: once approved, it runs.",
                            approval.operation_id,
                            approval.id,
                            utc(approval.expires_at)
                        ),
                        &approval,
                        &url,
                    )),
                    named,
                ));
            }
            _ => {
                // Open ones come here only past their expiry.
                let shown = match approval.status {
                    Status::Pending | Status::Approved => Approval { status: Status::Expired, ..approval },
                    _ => approval,
                };
                let told =
                    told(Asking::ToolResult, &shown, &url, decider.as_deref(), || Err(seal::SealError::Malformed));
                return Ok(Waited::Told(told, named));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_held_two_per_caller_and_sixty_four_in_all() {
        let holds = Holds::default();
        let (a1, a2) = (holds.take("t:agent:a"), holds.take("t:agent:a"));
        assert!(a1.is_some() && a2.is_some());
        assert!(holds.take("t:agent:a").is_none(), "a third for the same caller waits its turn");
        drop(a1);
        assert!(holds.take("t:agent:a").is_some(), "a released hold frees a place");
        let others: Vec<_> = (0..HOLDS_IN_ALL).filter_map(|n| holds.take(&format!("t:agent:{n}"))).collect();
        assert_eq!(others.len(), HOLDS_IN_ALL - 1, "one place is still taken by agent a");
        assert!(holds.take("t:agent:z").is_none());
        drop(others);
        drop(a2);
        assert!(holds.0.lock().is_ok_and(|held| held.is_empty()), "every hold released");
    }
}
