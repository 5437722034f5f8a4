//! The policy decision on one governed call, after the role check: the tenant's current set
//! ([`store::current`]), the facts of the caller, the call and the record it acts on, read on the
//! connection given (a write's own transaction, so the record's row is locked and its attributes
//! are those the write changes), and what the audit row records of it.

use std::collections::BTreeMap;
use std::sync::Arc;

use alga_api::tags::Taggable;
use alga_api::tools::{Arguments, PolicyView};
use alga_core::identity::Principal;
use alga_core::schema::{clients, statuses, tickets, time_entries};
use alga_core::{ApiError, DbConn};
use chrono::Utc;
use diesel::prelude::*;
use serde_json::{Map, Value};

use super::facts::{CallFacts, DecisionInput, Evaluation, Fact, Mode, RecordKind};
use super::load::{principal_facts, record_facts, tag_keys};
use super::store::{self, Active};
use crate::audit::{self, Record};

/// What is decided on: the operation and its arguments as the call gives them.
#[derive(Debug, Clone)]
pub struct PolicyCall {
    pub operation_id: String,
    /// The operation's path template (`/api/v1/tickets/{id}`).
    pub path_template: String,
    pub arguments: Arguments,
    pub client_name: Option<String>,
}

/// A governed call's policy decision: what the tenant's set (if one applies) decided, and on
/// what input. The input is recorded even when no set applies, so that a later replay of a new
/// set decides on exactly what the call was.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The set that decided; `None` when the tenant has none, or its newest version is empty.
    pub active: Option<Arc<Active>>,
    pub evaluation: Evaluation,
    pub input: DecisionInput,
}

/// The error code of a call refused by a policy.
pub const REFUSED_CODE: &str = "policy_refused";

impl Decided {
    /// Whether the call is refused: a forbid matched (or failed) and the set is enforced.
    pub fn refuses(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.mode == Mode::Enforce) && !self.evaluation.allowed
    }

    /// The approval the call needs before it runs: `@approval` policies matched, no forbid did,
    /// and the set is enforced (a shadow set only records it).
    pub fn approval_needed(&self) -> Option<&crate::policy::facts::ApprovalNeed> {
        let enforced = self.active.as_ref().is_some_and(|a| a.mode == Mode::Enforce);
        if enforced && self.evaluation.allowed { self.evaluation.approval.as_ref() } else { None }
    }

    /// The record the call acts on, by kind and id, as an approval shows it.
    pub fn record(&self) -> Option<(&'static str, &str)> {
        self.input.call.record.as_ref().map(|r| (r.kind.type_name(), r.id.as_str()))
    }

    /// Whether the set that applies does not compile (it then decides nothing).
    fn broken(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.broken.is_some())
    }

    /// What the caller is told: the refusing policies and their reasons.
    pub fn message(&self) -> String {
        let ids: Vec<String> = self.evaluation.policy_ids.iter().map(|id| format!("`{id}`")).collect();
        let label = if ids.len() == 1 { "policy" } else { "policies" };
        let mut text = format!("Refused by {label} {}", ids.join(", "));
        if self.evaluation.reasons.is_empty() {
            text.push('.');
        } else {
            text.push_str(": ");
            text.push_str(&self.evaluation.reasons.join(" "));
        }
        text
    }

    /// The refusal as the operation's error: 403, or 503 when the enforced set does not compile.
    pub fn refusal(&self) -> ApiError {
        if self.broken() {
            return ApiError::unavailable(store::BROKEN_SET);
        }
        ApiError::new(actix_web::http::StatusCode::FORBIDDEN, REFUSED_CODE, self.message())
    }

    /// Fills the audit row's policy columns: the input always; the decision when a set applied.
    pub fn fill(&self, row: &mut Record) {
        row.policy_input = serde_json::to_value(&self.input).ok().map(|v| audit::redact(&v).to_string());
        let Some(active) = &self.active else { return };
        // Allowed subject to approval: the deciding policies are those that asked for it (the row's
        // `approval_id` and reason say what became of it).
        let ids = match (&self.evaluation.approval, self.evaluation.allowed) {
            (Some(need), true) => &need.policy_ids,
            _ => &self.evaluation.policy_ids,
        };
        row.policy_decision = Some(if self.evaluation.allowed { "allow" } else { "deny" }.to_owned());
        row.policy_ids = serde_json::to_string(ids).ok();
        row.policy_version = Some(active.version);
        let mode = match active.mode {
            Mode::Enforce => "enforce",
            Mode::Shadow => "shadow",
        };
        row.policy_mode = Some(mode.to_owned());
        if !self.evaluation.errors.is_empty() {
            row.policy_errors = serde_json::to_string(&self.evaluation.errors).ok();
        }
    }
}

/// The record a path template names by its first id (`/api/v1/tickets/{id}/…` → the ticket
/// whose id is the `id` argument), when its attributes are facts.
fn record_target(template: &str, arguments: &Arguments) -> Option<(RecordKind, String)> {
    let kind = RecordKind::of_path_prefix(template)?;
    let param = template.strip_prefix("/api/v1/")?.split('/').nth(1)?.strip_prefix('{')?.strip_suffix('}')?;
    let id = arguments.path.get(param).and_then(Value::as_str)?;
    Some((kind, id.to_owned()))
}

/// The derived facts of [`super::facts::derived`] for an operation and its arguments, read on
/// the call's connection (after the record's row is locked, on the call path). A fact the call
/// gives too little for, or gives in a form the operation would refuse, is left out: a policy
/// reading it then errors, and errors deny.
pub(crate) fn derive(
    conn: &mut DbConn,
    tenant: &str,
    operation_id: &str,
    path: &Map<String, Value>,
    body: Option<&Value>,
) -> Result<BTreeMap<String, Fact>, ApiError> {
    let mut derived = BTreeMap::new();
    let record_id = path.get("id").and_then(Value::as_str);
    for (name, _) in super::facts::derived(operation_id) {
        let fact = match *name {
            "closes" => Some(Fact::Bool(closes(conn, tenant, operation_id, body)?)),
            "client_tags" => client_tags(conn, tenant, record_id, body)?.map(Fact::Names),
            "minutes" => minutes(conn, tenant, operation_id, record_id, body)?.map(Fact::Long),
            _ => None,
        };
        if let Some(fact) = fact {
            derived.insert((*name).to_owned(), fact);
        }
    }
    Ok(derived)
}

/// Whether the call leaves the ticket in a closed status of the tenant: the body's `status_id`;
/// on a create without one, the status the operation starts it in (the board's first,
/// `tickets::initial_status`), which may be a closed one.
fn closes(conn: &mut DbConn, tenant: &str, operation_id: &str, body: Option<&Value>) -> Result<bool, ApiError> {
    let field = |name: &str| body.and_then(|b| b.get(name)).and_then(Value::as_str);
    if let Some(status) = field("status_id") {
        return Ok(statuses::table
            .filter(statuses::tenant_id.eq(tenant).and(statuses::id.eq(status)))
            .select(statuses::is_closed)
            .first::<bool>(conn)
            .optional()?
            .unwrap_or(false));
    }
    match (operation_id, field("board_id")) {
        ("tickets.create", Some(board)) => {
            Ok(alga_api::resources::tickets::initial_status(conn, tenant, board)?.is_some_and(|(_, closed)| closed))
        }
        _ => Ok(false),
    }
}

/// The tag keys of the client a ticket has after the call: the body's `client_id`, else the
/// ticket's (an update's). `None` when there is none, or it is not the tenant's client.
fn client_tags(
    conn: &mut DbConn,
    tenant: &str,
    ticket_id: Option<&str>,
    body: Option<&Value>,
) -> Result<Option<Vec<String>>, ApiError> {
    let client_id = match body.and_then(|b| b.get("client_id")) {
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Null) | None => match ticket_id {
            Some(ticket) => tickets::table
                .filter(tickets::tenant_id.eq(tenant).and(tickets::id.eq(ticket)))
                .select(tickets::client_id)
                .first::<String>(conn)
                .optional()?,
            None => None,
        },
        Some(_) => None,
    };
    let Some(client_id) = client_id else { return Ok(None) };
    let exists = clients::table
        .filter(clients::tenant_id.eq(tenant).and(clients::id.eq(&client_id)))
        .select(clients::id)
        .first::<String>(conn)
        .optional()?
        .is_some();
    if !exists {
        return Ok(None);
    }
    Ok(Some(tag_keys(conn, tenant, Taggable::Client, &client_id)?))
}

/// A body field the operation reads as `Option<T>`: absent or null is `Ok(None)`; a value the
/// operation would refuse is `Err(())`.
fn optional_field<T>(body: Option<&Value>, name: &str, read: impl Fn(&Value) -> Option<T>) -> Result<Option<T>, ()> {
    match body.and_then(|b| b.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => read(value).map(Some).ok_or(()),
    }
}

/// How long a time entry lasts after a create or update, by the operation's own rule
/// (`time_entries::resulting_minutes`) over the entry's current start and minutes.
fn minutes(
    conn: &mut DbConn,
    tenant: &str,
    operation_id: &str,
    entry_id: Option<&str>,
    body: Option<&Value>,
) -> Result<Option<i64>, ApiError> {
    let datetime = |v: &Value| v.as_str().and_then(alga_api::model::parse_datetime);
    let given = (
        optional_field(body, "started_at", datetime),
        optional_field(body, "ended_at", datetime),
        optional_field(body, "duration_minutes", Value::as_i64),
    );
    let (Ok(started_at), Ok(ended_at), Ok(duration_minutes)) = given else { return Ok(None) };
    let current = match (operation_id, entry_id) {
        ("time_entries.update", Some(id)) => {
            let current: Option<(chrono::NaiveDateTime, i32)> = time_entries::table
                .filter(time_entries::tenant_id.eq(tenant).and(time_entries::id.eq(id)))
                .select((time_entries::started_at, time_entries::duration_minutes))
                .first(conn)
                .optional()?;
            let Some(current) = current else { return Ok(None) };
            Some(current)
        }
        ("time_entries.update", None) => return Ok(None),
        _ => None,
    };
    Ok(alga_api::resources::time_entries::resulting_minutes(current, started_at, ended_at, duration_minutes))
}

/// Decides `call` for `principal` under the tenant's current set, and reads the input it decides
/// on whether or not a set applies (none stored, or the newest is empty: `active` is `None` and
/// the call is allowed). `lock` locks the record's row first (inside a write's transaction,
/// after the operation's ordering locks). A record that does not exist (or is another tenant's)
/// is the operation's 404, as the operation itself would answer. A set that does not compile
/// denies with its failure as the evaluation's error.
pub fn decide(conn: &mut DbConn, principal: &Principal, call: &PolicyCall, lock: bool) -> Result<Decided, ApiError> {
    let tenant = principal.tenant_id.as_str();
    let active = store::current(conn, tenant)?.filter(|a| a.applies());
    let record = match record_target(&call.path_template, &call.arguments) {
        Some((kind, id)) => match record_facts(conn, tenant, kind, &id, lock)? {
            Some(record) => Some(record),
            None => return Err(ApiError::not_found(format!("No such {}.", kind.type_name().to_lowercase()))),
        },
        None => None,
    };
    let facts = CallFacts {
        operation_id: call.operation_id.clone(),
        path: call.arguments.path.clone(),
        query: call.arguments.query.clone(),
        body: call.arguments.body.clone(),
        now: Utc::now(),
        client_name: call.client_name.clone(),
        record,
        derived: derive(conn, tenant, &call.operation_id, &call.arguments.path, call.arguments.body.as_ref())?,
    };
    let who = principal_facts(conn, principal)?;
    let evaluation = match active.as_deref() {
        Some(Active { compiled: Some(compiled), .. }) => compiled.decide(&who, &facts),
        Some(Active { broken: Some(problem), .. }) => {
            Evaluation { allowed: false, errors: vec![problem.clone()], ..Evaluation::default() }
        }
        _ => Evaluation::allow(),
    };
    Ok(Decided { active, evaluation, input: DecisionInput { principal: who, call: facts } })
}

/// The operations the tenant's enforced policies hide from `principal` (as [`view`] decides for
/// tools/list and search), for the REST listing of the registry (`meta.mcp_registry`).
pub fn hidden_operations(
    conn: &mut DbConn,
    principal: &Principal,
) -> Result<Option<alga_core::context::OperationFilter>, ApiError> {
    let Some(view) = view(conn, principal)? else { return Ok(None) };
    let hidden: alga_core::context::OperationFilter =
        Arc::new(move |operation_id: &str| view(operation_id) == super::facts::Visibility::Hidden);
    Ok(Some(hidden))
}

/// How the tenant's enforced policies show operations to `principal` in listings and search;
/// `None` when no set is enforced (a shadow set hides nothing).
pub fn view(conn: &mut DbConn, principal: &Principal) -> Result<Option<PolicyView>, ApiError> {
    let Some(active) = store::current(conn, &principal.tenant_id)? else { return Ok(None) };
    if active.mode != Mode::Enforce || !active.applies() {
        return Ok(None);
    }
    // Enforced and broken: every call is refused, so nothing is listed as if it could run.
    if active.broken.is_some() {
        return Err(ApiError::unavailable(store::BROKEN_SET));
    }
    let who = principal_facts(conn, principal)?;
    let view: PolicyView = Arc::new(move |operation_id: &str| match active.policies() {
        Some(compiled) => compiled.visibility(&who, operation_id),
        None => super::facts::Visibility::Open,
    });
    Ok(Some(view))
}
