//! Replay: what a draft policy set would have decided on the calls of the last days. Each audited
//! tool call that ran an operation is decided again by the draft and compared with what the
//! policies decided then; the calls whose decision would change are reported per operation and
//! caller, with examples.
//!
//! A row that stored its evaluation input (`policy_input`) is replayed on exactly that input
//! ("exact"). An older row is rebuilt from its stored arguments, the caller's facts today and the
//! record's attributes today ("approximate"); when the record is gone, forbids that read its
//! attributes fail closed, and the example says so.

use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpResponse, web};
use alga_agent_tooling::RegistryEntry;
use alga_api::model::utc;
use alga_core::identity::{Actor, Principal, RoleRef};
use alga_core::{ApiError, AppContext, DbConn, RouteTable};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::engine::{self, Compiled};
use super::facts::{CallFacts, DecisionInput, PrincipalFacts, PrincipalKind, RecordFacts, RecordKind};
use super::load;
use crate::admin::Admin;
use crate::schema::{agent_roles, agents, mcp_audit, role_names};

/// The longest look back.
pub const MAX_DAYS: u32 = 90;
/// The most rows one replay reads, newest first.
pub const MAX_ROWS: usize = 50_000;
/// Examples kept per operation, caller and direction.
const EXAMPLES: usize = 3;
/// Rows whose keys and sizes are read at once (a few dozen bytes each).
const CHUNK: usize = 1000;
/// The most rows whose columns are read at once, and the most bytes of `arguments` and
/// `policy_input` they may hold (agents choose those, up to about 1 MB a call): a batch stops
/// before the row that would cross it, but always has at least one row.
const BATCH_ROWS: usize = 100;
const BATCH_BYTES: i64 = 4_000_000;
/// Replays running at once on one server: each reads and decides up to [`MAX_ROWS`] rows.
const CONCURRENT_REPLAYS: usize = 2;

/// The server's places for replays ([`CONCURRENT_REPLAYS`]), kept in its shared state
/// (`Governance::replays`), not in a static: servers in one process (tests) do not share them.
#[derive(Debug)]
pub struct Replays(tokio::sync::Semaphore);

impl Default for Replays {
    fn default() -> Replays {
        Replays(tokio::sync::Semaphore::new(CONCURRENT_REPLAYS))
    }
}
/// Characters of a call's arguments shown in an example.
const ARGUMENTS_SHOWN: usize = 300;

/// How a row's evaluation input was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// The input stored with the call.
    Exact,
    /// Rebuilt from the stored arguments, the caller's facts today and the record today.
    Approximate,
}

/// Which way a decision changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    AllowToDeny,
    DenyToAllow,
}

/// One call whose decision would change.
#[derive(Clone, Debug, Serialize)]
pub struct Example {
    pub audit_id: String,
    #[serde(serialize_with = "utc")]
    pub created_at: NaiveDateTime,
    pub direction: Direction,
    pub input: Input,
    /// The call's arguments (redacted), shortened.
    pub arguments: String,
    /// Allow → deny: the draft's denying policies; deny → allow: the policies that denied then.
    pub policy_ids: Vec<String>,
    /// Evaluation errors of the draft (each denies).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Deny → allow: the evaluation errors that denied then (as the row recorded them), when
    /// the call was refused by an error rather than (or besides) a matching forbid.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors_then: Vec<String>,
    /// What an approximate replay could not know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The changes for one operation and one caller.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub operation_id: String,
    /// `agent` or `user`.
    pub caller_kind: String,
    pub caller_id: String,
    pub caller_name: Option<String>,
    pub allow_to_deny: usize,
    pub deny_to_allow: usize,
    /// Up to three per direction, newest first.
    pub examples: Vec<Example>,
}

/// What a replay found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub days: u32,
    /// Rows decided again.
    pub rows_examined: usize,
    pub exact: usize,
    pub approximate: usize,
    /// Rows whose decision would change.
    pub changed: usize,
    /// Rows naming an operation the catalog no longer has (not decided again).
    pub unknown_operations: usize,
    /// More rows matched than were read (the newest `limit` were).
    pub truncated: bool,
    /// Per operation and caller, those with at least one change.
    pub changes: Vec<Change>,
}

/// Whether a stored input holds a redacted value (`alga_core::redact::REDACTED` as a JSON string).
fn stored_redacted(text: &str) -> bool {
    text.contains(&format!("\"{}\"", alga_core::redact::REDACTED))
}

/// The audit columns a replay reads.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = mcp_audit)]
struct Row {
    id: String,
    created_at: NaiveDateTime,
    caller_kind: String,
    agent_id: Option<String>,
    user_id: Option<String>,
    operation_id: Option<String>,
    arguments: String,
    client_name: Option<String>,
    policy_decision: Option<String>,
    policy_ids: Option<String>,
    policy_input: Option<String>,
    policy_errors: Option<String>,
}

/// Facts read today, once per replay.
#[derive(Default)]
struct Today {
    principals: HashMap<(PrincipalKind, String), Option<PrincipalFacts>>,
    records: HashMap<(RecordKind, String), Option<RecordFacts>>,
}

/// Decides the tenant's audited calls of the last `days` days again with `draft` and reports the
/// calls whose decision would change. Reads at most `limit` rows (and never more than
/// [`MAX_ROWS`]), newest first. Only calls that ran an operation count: those the roles allowed
/// (decision `allow`) or the policies decided; role refusals, rate limits and unknown tools are
/// not the policies' to change.
pub fn replay(conn: &mut DbConn, tenant: &str, draft: &Compiled, days: u32, limit: usize) -> Result<Report, ApiError> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::validation("days", format!("must be 1 to {MAX_DAYS}")));
    }
    let limit = limit.clamp(1, MAX_ROWS);
    let since = alga_core::identity::now() - Duration::days(i64::from(days));
    let registry = alga_api::registry::registry().map_err(|e| ApiError::internal(&e))?;
    let mut report = Report { days, ..Report::default() };
    let mut changes: BTreeMap<(String, String, String), Change> = BTreeMap::new();
    let mut today = Today::default();
    let mut read = 0usize;
    let mut after: Option<(NaiveDateTime, String)> = None;
    // The row's stored text, in characters: what reading its columns costs.
    let size = diesel::dsl::sql::<diesel::sql_types::Integer>("length(arguments) + coalesce(length(policy_input), 0)");
    loop {
        let mut query = mcp_audit::table
            .filter(mcp_audit::tenant_id.eq(tenant))
            .filter(mcp_audit::method.eq("tools/call"))
            .filter(mcp_audit::operation_id.is_not_null())
            .filter(mcp_audit::created_at.ge(since))
            .filter(mcp_audit::decision.eq("allow").or(mcp_audit::policy_decision.is_not_null()))
            .into_boxed();
        if let Some((at, id)) = &after {
            query =
                query.filter(mcp_audit::created_at.lt(*at).or(mcp_audit::created_at.eq(*at).and(mcp_audit::id.lt(id))));
        }
        let want = (limit - read).min(CHUNK);
        // One more than wanted at the end tells whether the replay was cut short.
        let fetch = if read + want == limit { want + 1 } else { want };
        // Keys and sizes first: the columns agents fill are read in byte-bounded batches.
        let mut keys: Vec<(NaiveDateTime, String, i32)> = query
            .order((mcp_audit::created_at.desc(), mcp_audit::id.desc()))
            .limit(i64::try_from(fetch).unwrap_or(i64::MAX))
            .select((mcp_audit::created_at, mcp_audit::id, size.clone()))
            .load(conn)?;
        let full = keys.len() >= want;
        if keys.len() > want {
            report.truncated = true;
        }
        keys.truncate(want);
        for batch in batches(&keys) {
            let ids: Vec<&str> = batch.iter().map(|(_, id, _)| id.as_str()).collect();
            let mut rows: Vec<Row> = mcp_audit::table
                .filter(mcp_audit::tenant_id.eq(tenant).and(mcp_audit::id.eq_any(ids)))
                .select(Row::as_select())
                .load(conn)?;
            // Newest first, as the keys were read: examples are kept in this order.
            rows.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
            for row in &rows {
                replay_row(conn, tenant, draft, &registry, &mut today, row, &mut report, &mut changes)?;
            }
        }
        read += keys.len();
        match keys.last() {
            Some((at, id, _)) if full && read < limit => after = Some((*at, id.clone())),
            _ => break,
        }
    }
    report.changes = changes.into_values().collect();
    Ok(report)
}

/// `keys` cut into consecutive batches of at most [`BATCH_ROWS`] rows and [`BATCH_BYTES`] bytes
/// (a single larger row is a batch of its own).
fn batches<T>(keys: &[(T, String, i32)]) -> Vec<&[(T, String, i32)]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0i64);
    for (n, (_, _, size)) in keys.iter().enumerate() {
        let size = i64::from(*size).max(0);
        if n > start && (n - start >= BATCH_ROWS || bytes + size > BATCH_BYTES) {
            out.push(&keys[start..n]);
            (start, bytes) = (n, 0);
        }
        bytes += size;
    }
    if start < keys.len() {
        out.push(&keys[start..]);
    }
    out
}

/// A place among the [`CONCURRENT_REPLAYS`], held until dropped; 429 when none is free.
fn admit<'a>(replays: &'a Replays, tenant: &str) -> Result<tokio::sync::SemaphorePermit<'a>, ApiError> {
    replays.0.try_acquire().map_err(|_| {
        tracing::warn!(tenant, "replay refused: {CONCURRENT_REPLAYS} already running");
        ApiError::new(
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "{CONCURRENT_REPLAYS} policy replays are already running on this server; try again when one has finished."
            ),
        )
    })
}

/// Compiles `source` and replays it on the tenant's last `days` days: the draft's diagnostics
/// when it does not compile. At most [`CONCURRENT_REPLAYS`] run at once in the process (one
/// more is refused with 429); compiling runs on the blocking pool, not an async worker.
pub async fn run(
    ctx: &AppContext,
    replays: &Replays,
    tenant: &str,
    source: String,
    days: u32,
) -> Result<Result<Report, Vec<engine::Diagnostic>>, ApiError> {
    let _permit = admit(replays, tenant)?;
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::validation("days", format!("must be 1 to {MAX_DAYS}")));
    }
    super::api::check_size(&source)?;
    let compiled = web::block(move || engine::compile(&source)).await.map_err(|e| {
        tracing::error!(error = %e, "compiling a draft to replay failed on the blocking pool");
        ApiError::internal(&e)
    })?;
    let draft = match compiled {
        Ok(draft) => draft,
        Err(diagnostics) => return Ok(Err(diagnostics)),
    };
    let tenant = tenant.to_owned();
    let report = ctx.db.run(move |conn| replay(conn, &tenant, &draft, days, MAX_ROWS)).await?;
    Ok(Ok(report))
}

#[allow(clippy::too_many_arguments)]
fn replay_row(
    conn: &mut DbConn,
    tenant: &str,
    draft: &Compiled,
    registry: &alga_agent_tooling::Registry,
    today: &mut Today,
    row: &Row,
    report: &mut Report,
    changes: &mut BTreeMap<(String, String, String), Change>,
) -> Result<(), ApiError> {
    let Some(operation_id) = row.operation_id.as_deref() else { return Ok(()) };
    let Some(entry) = registry.get(operation_id) else {
        report.unknown_operations += 1;
        return Ok(());
    };
    let stored = row.policy_input.as_deref().and_then(|text| match serde_json::from_str::<DecisionInput>(text) {
        Ok(input) if input.call.operation_id == operation_id => Some(input),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(audit_id = %row.id, error = %e, "a stored policy input could not be read; replayed approximately");
            None
        }
    });
    let (input, kind, note) = match stored {
        // Secret-named fields were stored as `***`: a policy reading one decides on that, not on
        // what the call gave, so such a row is not replayed exactly.
        Some(input) if row.policy_input.as_deref().is_some_and(stored_redacted) => {
            (input, Input::Approximate, Some("fields with secret-like names were stored redacted (`***`)".to_owned()))
        }
        Some(input) => (input, Input::Exact, None),
        None => {
            let (input, note) = rebuilt(conn, tenant, entry, today, row)?;
            (input, Input::Approximate, note)
        }
    };
    report.rows_examined += 1;
    match kind {
        Input::Exact => report.exact += 1,
        Input::Approximate => report.approximate += 1,
    }
    let denied_then = row.policy_decision.as_deref() == Some("deny");
    let evaluation = draft.decide(&input.principal, &input.call);
    let direction = match (denied_then, evaluation.allowed) {
        (false, false) => Direction::AllowToDeny,
        (true, true) => Direction::DenyToAllow,
        _ => return Ok(()),
    };
    report.changed += 1;
    let caller_id = row.agent_id.clone().or_else(|| row.user_id.clone()).unwrap_or_default();
    let key = (operation_id.to_owned(), row.caller_kind.clone(), caller_id.clone());
    let change = changes.entry(key).or_insert_with(|| Change {
        operation_id: operation_id.to_owned(),
        caller_kind: row.caller_kind.clone(),
        caller_id,
        caller_name: Some(input.principal.name.clone()).filter(|n| !n.is_empty()),
        allow_to_deny: 0,
        deny_to_allow: 0,
        examples: Vec::new(),
    });
    let count = match direction {
        Direction::AllowToDeny => &mut change.allow_to_deny,
        Direction::DenyToAllow => &mut change.deny_to_allow,
    };
    *count += 1;
    if *count <= EXAMPLES {
        let then = |text: &Option<String>| -> Vec<String> {
            text.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
        };
        let (policy_ids, errors_then) = match direction {
            Direction::AllowToDeny => (evaluation.policy_ids, Vec::new()),
            Direction::DenyToAllow => (then(&row.policy_ids), then(&row.policy_errors)),
        };
        change.examples.push(Example {
            audit_id: row.id.clone(),
            created_at: row.created_at,
            direction,
            input: kind,
            arguments: shortened(&row.arguments),
            policy_ids,
            errors: evaluation.errors,
            errors_then,
            note,
        });
    }
    Ok(())
}

fn shortened(text: &str) -> String {
    if text.chars().count() <= ARGUMENTS_SHOWN {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(ARGUMENTS_SHOWN - 1).collect();
    cut.push('…');
    cut
}

/// The input of a row that did not store one: its arguments, the caller today, the record today.
fn rebuilt(
    conn: &mut DbConn,
    tenant: &str,
    entry: &RegistryEntry,
    today: &mut Today,
    row: &Row,
) -> Result<(DecisionInput, Option<String>), ApiError> {
    let arguments = match serde_json::from_str::<Value>(&row.arguments) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let (path, query, body) = call_arguments(entry, &arguments);
    let mut notes = Vec::new();
    let (kind, caller) = match (&row.agent_id, &row.user_id) {
        (Some(agent), _) => (PrincipalKind::Agent, agent.clone()),
        (None, Some(user)) => (PrincipalKind::User, user.clone()),
        (None, None) => (PrincipalKind::User, String::new()),
    };
    let principal = match today.principals.get(&(kind, caller.clone())) {
        Some(known) => known.clone(),
        None => {
            let facts = principal_today(conn, tenant, kind, &caller)?;
            today.principals.insert((kind, caller.clone()), facts.clone());
            facts
        }
    };
    let principal = principal.unwrap_or_else(|| {
        notes.push("the caller no longer exists: decided without its roles, teams and attributes".to_owned());
        PrincipalFacts {
            kind,
            id: caller,
            name: String::new(),
            roles: Vec::new(),
            teams: Vec::new(),
            attributes: BTreeMap::new(),
        }
    });
    let record_kind = RecordKind::of_path_prefix(&entry.path);
    let record = match (record_kind, path.get("id").and_then(Value::as_str)) {
        (Some(record_kind), Some(id)) => {
            let key = (record_kind, id.to_owned());
            let facts = match today.records.get(&key) {
                Some(known) => known.clone(),
                None => {
                    let facts = load::record_facts(conn, tenant, record_kind, id, false)?;
                    today.records.insert(key, facts.clone());
                    facts
                }
            };
            if facts.is_none() {
                notes.push(format!(
                    "the {} no longer exists: forbids reading its attributes fail closed",
                    record_kind.type_name()
                ));
            }
            facts
        }
        _ => None,
    };
    let derived = super::call::derive(conn, tenant, &entry.id, &path, body.as_ref())?;
    let call = CallFacts {
        operation_id: entry.id.clone(),
        path,
        query,
        body,
        derived,
        now: DateTime::<Utc>::from_naive_utc_and_offset(row.created_at, Utc),
        client_name: row.client_name.clone(),
        record,
    };
    let note = if notes.is_empty() { None } else { Some(notes.join("; ")) };
    Ok((DecisionInput { principal, call }, note))
}

/// The caller's facts as they are today, or `None` when it no longer exists.
fn principal_today(
    conn: &mut DbConn,
    tenant: &str,
    kind: PrincipalKind,
    id: &str,
) -> Result<Option<PrincipalFacts>, ApiError> {
    let principal = match kind {
        PrincipalKind::User => alga_core::identity::user_principal(conn, tenant, id, None)?.map(|(p, _)| p),
        PrincipalKind::Agent => {
            let name: Option<String> = agents::table
                .filter(agents::tenant_id.eq(tenant).and(agents::id.eq(id)))
                .select(agents::name)
                .first(conn)
                .optional()?;
            match name {
                None => None,
                Some(name) => {
                    let roles: Vec<(String, String)> = agent_roles::table
                        .inner_join(
                            role_names::table.on(role_names::tenant_id
                                .eq(agent_roles::tenant_id)
                                .and(role_names::id.eq(agent_roles::role_id))),
                        )
                        .filter(agent_roles::tenant_id.eq(tenant).and(agent_roles::agent_id.eq(id)))
                        .select((role_names::id, role_names::name))
                        .load(conn)?;
                    // Only the actor and role names are read from it: no permissions needed.
                    Some(Principal {
                        tenant_id: tenant.to_owned(),
                        tenant_slug: String::new(),
                        actor: Actor::Agent { id: id.to_owned(), name },
                        api_key_id: None,
                        roles: roles.into_iter().map(|(id, name)| RoleRef { id, name }).collect(),
                        permissions: Default::default(),
                    })
                }
            }
        }
    };
    principal.map(|p| load::principal_facts(conn, &p)).transpose()
}

/// The path, query and body of a `call_api_endpoint` call's loose arguments, looked up where the
/// request builder (`alga_agent_tooling::request`) finds them. Query values given as text for an
/// integer or boolean parameter are read as such, as the operation parsed them.
fn call_arguments(
    entry: &RegistryEntry,
    args: &Map<String, Value>,
) -> (Map<String, Value>, Map<String, Value>, Option<Value>) {
    const RESERVED: [&str; 10] =
        ["body", "data", "payload", "path", "pathParams", "query", "headers", "parameters", "entryId", "method"];
    let object = |v: Option<&Value>| match v {
        Some(Value::Object(m)) => Some(m.clone()),
        _ => None,
    };
    let parameters = object(args.get("parameters")).unwrap_or_default();
    let path_bag = object(args.get("path"))
        .or_else(|| object(args.get("pathParams")))
        .or_else(|| object(parameters.get("path")))
        .unwrap_or_default();
    let query_bag = object(args.get("query")).or_else(|| object(parameters.get("query"))).unwrap_or_default();
    let direct: Map<String, Value> =
        args.iter().filter(|(k, _)| !RESERVED.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    let lookup = |bag: &Map<String, Value>, name: &str| {
        [bag, &parameters, &direct].into_iter().find_map(|m| m.get(name).filter(|v| !v.is_null()).cloned())
    };
    let mut path = Map::new();
    for p in entry.parameters.iter().filter(|p| p.location == "path") {
        if let Some(v) = lookup(&path_bag, &p.name) {
            path.insert(p.name.clone(), v);
        }
    }
    let mut query: Map<String, Value> =
        query_bag.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
    for p in entry.parameters.iter().filter(|p| p.location == "query") {
        if !query.contains_key(&p.name)
            && let Some(v) = lookup(&Map::new(), &p.name)
        {
            query.insert(p.name.clone(), v);
        }
        if let Some(v) = query.get_mut(&p.name) {
            *v = typed(&p.schema, v.clone());
        }
    }
    let method = entry.method.to_ascii_uppercase();
    let body = if method == "GET" || method == "DELETE" {
        None
    } else {
        ["body", "data", "payload"]
            .iter()
            .find_map(|k| args.get(*k).filter(|v| !v.is_null()))
            .or_else(|| parameters.get("body").filter(|v| !v.is_null()))
            .cloned()
    };
    (path, query, body)
}

/// A query value given as text, read as its schema's integer or boolean.
fn typed(schema: &Value, value: Value) -> Value {
    let Value::String(text) = &value else { return value };
    // `"type": "integer"` or, for an optional one, `["integer", "null"]`.
    let declares = |name: &str| match schema.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(types)) => types.iter().any(|t| t == name),
        _ => false,
    };
    if declares("integer") {
        text.parse::<i64>().map(Value::from).unwrap_or(value)
    } else if declares("boolean") {
        text.parse::<bool>().map(Value::from).unwrap_or(value)
    } else {
        value
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    source: String,
    days: Option<u32>,
}

/// Looked back when a request names no period.
const DEFAULT_DAYS: u32 = 30;

/// `POST /api/v1/mcp/policies/replay` `{source, days}`: the draft compiled (400 with every
/// diagnostic when invalid), then replayed on the tenant's audit.
async fn replay_draft(
    admin: Admin,
    ctx: web::Data<AppContext>,
    gov: web::Data<crate::Governance>,
    body: web::Json<ReplayRequest>,
) -> Result<HttpResponse, ApiError> {
    let ReplayRequest { source, days } = body.into_inner();
    let days = days.unwrap_or(DEFAULT_DAYS);
    let report = run(&ctx, &gov.replays, admin.tenant(), source, days).await?.map_err(|diagnostics| {
        ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "validation_error",
            format!("source: the draft has {} problem(s); the first: {}", diagnostics.len(), first(&diagnostics)),
        )
        .with_details(json!({ "diagnostics": diagnostics }))
    })?;
    Ok(HttpResponse::Ok().json(json!({ "data": report })))
}

fn first(diagnostics: &[engine::Diagnostic]) -> String {
    diagnostics.first().map_or_else(String::new, |d| format!("line {}, column {}: {}", d.line, d.column, d.message))
}

pub fn routes(table: &mut RouteTable) {
    table.post("/api/v1/mcp/policies/replay", replay_draft);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> RegistryEntry {
        alga_api::registry::registry().unwrap().get(id).unwrap().clone()
    }

    #[test]
    fn arguments_are_found_where_the_request_builder_finds_them() {
        let update = entry("tickets.update");
        let args = json!({ "entryId": "tickets.update", "path": { "id": "t1" }, "body": { "title": "x" } });
        let (path, query, body) = call_arguments(&update, args.as_object().unwrap());
        assert_eq!(Value::Object(path), json!({ "id": "t1" }));
        assert!(query.is_empty());
        assert_eq!(body, Some(json!({ "title": "x" })));

        let args = json!({ "entryId": "tickets.update", "id": "t2", "data": { "title": "y" } });
        let (path, _, body) = call_arguments(&update, args.as_object().unwrap());
        assert_eq!(Value::Object(path), json!({ "id": "t2" }));
        assert_eq!(body, Some(json!({ "title": "y" })));

        let list = entry("tickets.list");
        let args = json!({ "entryId": "tickets.list", "query": { "limit": "5" }, "body": { "ignored": true } });
        let (_, query, body) = call_arguments(&list, args.as_object().unwrap());
        assert_eq!(query.get("limit"), Some(&json!(5)), "text read as the integer the schema declares");
        assert_eq!(body, None, "a GET sends no body");
    }

    #[test]
    fn batches_are_bounded_by_rows_and_bytes() {
        let keys =
            |sizes: &[i32]| -> Vec<((), String, i32)> { sizes.iter().map(|s| ((), String::new(), *s)).collect() };
        let lens = |keys: &[((), String, i32)]| batches(keys).iter().map(|b| b.len()).collect::<Vec<_>>();
        assert_eq!(lens(&keys(&[10; 250])), vec![100, 100, 50]);
        assert_eq!(lens(&keys(&[1_500_000; 5])), vec![2, 2, 1]);
        // A row larger than a batch is read alone, never skipped.
        assert_eq!(lens(&keys(&[10, 9_000_000, 10])), vec![1, 1, 1]);
        assert!(batches::<()>(&[]).is_empty());
    }

    #[test]
    fn a_third_replay_at_once_is_refused_until_one_ends() {
        let replays = Replays::default();
        let first = admit(&replays, "t").unwrap();
        let second = admit(&replays, "t").unwrap();
        let refused = admit(&replays, "t").err().unwrap();
        assert_eq!(refused.status(), actix_web::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.message().contains("already running"), "{}", refused.message());
        drop(first);
        let third = admit(&replays, "t").unwrap();
        // Another server's places are its own.
        let elsewhere = Replays::default();
        drop((admit(&elsewhere, "t").unwrap(), admit(&elsewhere, "t").unwrap()));
        drop((second, third));
    }

    #[test]
    fn shortened_arguments_stay_bounded() {
        assert_eq!(shortened("abc"), "abc");
        let long = "é".repeat(1000);
        assert_eq!(shortened(&long).chars().count(), ARGUMENTS_SHOWN);
    }
}
