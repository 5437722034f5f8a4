//! The approval store: pending → approved | denied | expired, approved → consumed | expired.
//!
//! An approval is bound to (tenant, principal, operation, argument digest, policy-set version).
//! An identical retry finds the open one instead of asking again (a partial unique index keeps it
//! one even under concurrent retries); a decision is a human's, never the requester's, taken on
//! the grants committed now and recorded in the admin audit in its transaction; consumption is a
//! single conditional `UPDATE` in the executing write's transaction, so exactly one execution
//! of exactly that call uses an approval.

use alga_api::tools::Arguments;
use alga_core::admin_audit::{self, Change, Who};
use alga_core::db::write_transaction;
use alga_core::identity::Actor;
use alga_core::rbac::{Action, Holder, Permission, Resource};
use alga_core::schema::{roles, user_roles, users};
use alga_core::{ApiError, DbConn, Principal};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::digest;
use crate::schema::mcp_approvals;

/// The permission to decide approvals.
pub const DECIDE: Permission = Permission::new(Resource::McpApproval, Action::Update);

/// The longest decision reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Denied,
    Expired,
    Consumed,
}

impl Status {
    pub const ALL: [Status; 5] = [Status::Pending, Status::Approved, Status::Denied, Status::Expired, Status::Consumed];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Expired => "expired",
            Status::Consumed => "consumed",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Who asked: a user (by key) or an agent, with a name to show the approver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    pub kind: RequesterKind,
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequesterKind {
    User,
    Agent,
}

impl RequesterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequesterKind::User => "user",
            RequesterKind::Agent => "agent",
        }
    }
}

impl Requester {
    pub fn of(principal: &Principal) -> Requester {
        match &principal.actor {
            Actor::User { id, display_name, .. } => {
                Requester { kind: RequesterKind::User, id: id.clone(), name: display_name.clone() }
            }
            Actor::Agent { id, name } => Requester { kind: RequesterKind::Agent, id: id.clone(), name: name.clone() },
        }
    }
}

/// What an approval is bound to: the same call by the same principal under the same policies.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub tenant_id: &'a str,
    pub principal_kind: RequesterKind,
    pub principal_id: &'a str,
    pub operation_id: &'a str,
    /// The call's arguments as its operation receives them: the approval holds their digest
    /// ([`digest::of_call`]), computed here from the very value that runs.
    pub arguments: &'a Arguments,
    pub policy_version: i64,
}

impl Binding<'_> {
    fn digest(&self) -> String {
        digest::of_call(self.operation_id, self.arguments)
    }
}

/// A call asking for approval.
#[derive(Debug, Clone)]
pub struct NewApproval<'a> {
    pub tenant_id: &'a str,
    pub requester: &'a Requester,
    /// The MCP client that made the call, as it named itself: name and version.
    pub client: (Option<&'a str>, Option<&'a str>),
    pub operation_id: &'a str,
    /// The call's arguments; stored redacted, and bound by their digest.
    pub arguments: &'a Arguments,
    /// The record the call touches, by kind and id.
    pub record: Option<(&'a str, &'a str)>,
    pub policy_version: i64,
    /// The policies that asked for approval.
    pub policy_ids: &'a [String],
    /// Names of the roles an approver must hold, besides [`DECIDE`] (the strictest
    /// annotation's); bound to the roles' ids when the approval is asked for.
    pub approver_roles: &'a [String],
    pub expires_at: NaiveDateTime,
}

impl NewApproval<'_> {
    fn binding(&self) -> Binding<'_> {
        Binding {
            tenant_id: self.tenant_id,
            principal_kind: self.requester.kind,
            principal_id: &self.requester.id,
            operation_id: self.operation_id,
            arguments: self.arguments,
            policy_version: self.policy_version,
        }
    }
}

/// A role an approver must hold: bound by id when the approval is asked for (a role renamed
/// later, or another one given the name, changes nothing); its name as it was then, to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproverRole {
    pub id: String,
    pub name: String,
}

/// The most approvals one principal may have waiting at once; more is refused (429).
pub const MAX_PENDING_PER_PRINCIPAL: i64 = 20;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mcp_approvals)]
struct Row {
    tenant_id: String,
    id: String,
    status: String,
    principal_kind: String,
    principal_id: String,
    principal_name: String,
    operation_id: String,
    args_digest: String,
    arguments: String,
    record_kind: Option<String>,
    record_id: Option<String>,
    policy_version: i64,
    policy_ids: String,
    approver_roles: String,
    expires_at: NaiveDateTime,
    created_at: NaiveDateTime,
    decided_by: Option<String>,
    decided_at: Option<NaiveDateTime>,
    decision_reason: Option<String>,
    consumed_at: Option<NaiveDateTime>,
    audit_id: Option<String>,
    client_name: Option<String>,
    client_version: Option<String>,
}

/// One approval as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    #[serde(skip)]
    pub tenant_id: String,
    pub id: String,
    pub status: Status,
    pub principal_kind: RequesterKind,
    pub principal_id: String,
    pub principal_name: String,
    /// The MCP client that made the call, as it named itself.
    pub client_name: Option<String>,
    pub client_version: Option<String>,
    pub operation_id: String,
    pub args_digest: String,
    /// Secrets redacted.
    pub arguments: Value,
    pub record_kind: Option<String>,
    pub record_id: Option<String>,
    pub policy_version: i64,
    pub policy_ids: Vec<String>,
    pub approver_roles: Vec<ApproverRole>,
    #[serde(serialize_with = "alga_api::model::utc")]
    pub expires_at: NaiveDateTime,
    #[serde(serialize_with = "alga_api::model::utc")]
    pub created_at: NaiveDateTime,
    pub decided_by: Option<String>,
    #[serde(serialize_with = "alga_api::model::utc_opt")]
    pub decided_at: Option<NaiveDateTime>,
    pub decision_reason: Option<String>,
    #[serde(serialize_with = "alga_api::model::utc_opt")]
    pub consumed_at: Option<NaiveDateTime>,
    pub audit_id: Option<String>,
}

impl Approval {
    fn of(row: Row) -> Result<Approval, ApprovalError> {
        let corrupt = |what: &str| ApprovalError::Corrupt(format!("approval {}: {what}", row.id));
        let status = Status::parse(&row.status).ok_or_else(|| corrupt("unknown status"))?;
        let principal_kind = match row.principal_kind.as_str() {
            "user" => RequesterKind::User,
            "agent" => RequesterKind::Agent,
            _ => return Err(corrupt("unknown principal kind")),
        };
        Ok(Approval {
            status,
            principal_kind,
            arguments: serde_json::from_str(&row.arguments).map_err(|_| corrupt("arguments are not JSON"))?,
            policy_ids: serde_json::from_str(&row.policy_ids).map_err(|_| corrupt("policy ids are not a JSON list"))?,
            approver_roles: serde_json::from_str(&row.approver_roles)
                .map_err(|_| corrupt("approver roles are not a JSON list of roles"))?,
            tenant_id: row.tenant_id,
            id: row.id,
            principal_id: row.principal_id,
            principal_name: row.principal_name,
            client_name: row.client_name,
            client_version: row.client_version,
            operation_id: row.operation_id,
            args_digest: row.args_digest,
            record_kind: row.record_kind,
            record_id: row.record_id,
            policy_version: row.policy_version,
            expires_at: row.expires_at,
            created_at: row.created_at,
            decided_by: row.decided_by,
            decided_at: row.decided_at,
            decision_reason: row.decision_reason,
            consumed_at: row.consumed_at,
            audit_id: row.audit_id,
        })
    }

    /// Whether it can still be decided or consumed at `now`.
    pub fn expired_at(&self, now: NaiveDateTime) -> bool {
        self.expires_at <= now
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// No such approval in the caller's tenant (another tenant's is reported the same way).
    #[error("No approval with this id.")]
    NotFound,
    #[error("Only people decide approvals; an agent cannot.")]
    NotHuman,
    #[error("Nobody approves their own call.")]
    OwnCall,
    #[error("Permission denied: deciding approvals needs mcp_approval:update.")]
    NotPermitted,
    #[error("This approval needs an approver holding the role(s): {}.", .0.join(", "))]
    MissingRoles(Vec<String>),
    #[error("This approval was already {}.", .0.as_str())]
    AlreadyDecided(Status),
    #[error("This approval has expired.")]
    Expired,
    /// At consumption: the approval is not approved (still pending, denied, consumed …).
    #[error("This approval is {}, not approved.", .0.as_str())]
    NotApproved(Status),
    /// At consumption: the approval was given for another call.
    #[error("This approval was given for another call.")]
    OtherCall,
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// A policy names an approver role the tenant does not have: nobody could approve.
    #[error("The policy names the approver role {0:?}, which does not exist; an administrator must fix the policy.")]
    UnknownRole(String),
    #[error(
        "Too many approvals are waiting for this caller (at most {MAX_PENDING_PER_PRINCIPAL}); wait for decisions first."
    )]
    TooManyPending,
    #[error("a stored approval is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Pool(#[from] alga_core::db::DbError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<ApprovalError> for ApiError {
    fn from(e: ApprovalError) -> ApiError {
        let message = e.to_string();
        match e {
            ApprovalError::NotFound => ApiError::not_found(message),
            ApprovalError::NotHuman
            | ApprovalError::OwnCall
            | ApprovalError::NotPermitted
            | ApprovalError::MissingRoles(_) => ApiError::forbidden(message),
            ApprovalError::AlreadyDecided(_)
            | ApprovalError::Expired
            | ApprovalError::NotApproved(_)
            | ApprovalError::OtherCall => ApiError::conflict(message),
            ApprovalError::Invalid { field, message } => ApiError::validation(field, message),
            ApprovalError::UnknownRole(_) => ApiError::forbidden(message),
            ApprovalError::TooManyPending => {
                ApiError::new(actix_web::http::StatusCode::TOO_MANY_REQUESTS, "too_many_pending_approvals", message)
            }
            ApprovalError::Corrupt(cause) => ApiError::internal(&cause),
            ApprovalError::Database(e) => ApiError::from(e),
            ApprovalError::Pool(e) => ApiError::from(e),
            ApprovalError::Api(e) => e,
        }
    }
}

/// A new approval id: `apr_` and 128 random bits in hex (unguessable: it names a page to open).
pub fn new_id() -> Result<String, ApprovalError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ApprovalError::Api(ApiError::internal(&format!("no randomness: {e}"))))?;
    Ok(format!("apr_{}", hex::encode(bytes)))
}

/// What [`request`] did.
#[derive(Debug, Clone)]
pub struct Requested {
    pub approval: Approval,
    /// False when an open (pending or approved) approval of the identical call was found.
    pub created: bool,
}

/// Asks for approval of a call, or finds the open one of the identical call (pending or
/// approved, unexpired): an identical retry never creates a second one. Open approvals of the
/// identical call that are past their expiry are marked expired first. A denial stands: until
/// the denied approval would have expired, the identical call finds it (and is told who denied it
/// and why) instead of asking again. A principal may have at most [`MAX_PENDING_PER_PRINCIPAL`]
/// approvals waiting. Approver roles are bound by id; a name the tenant has no role for is
/// refused (nobody could decide).
pub fn request(conn: &mut DbConn, new: &NewApproval<'_>, now: NaiveDateTime) -> Result<Requested, ApprovalError> {
    if new.operation_id.is_empty() {
        return Err(ApprovalError::Invalid { field: "operation_id", message: "an approval needs an operation".into() });
    }
    let binding = new.binding();
    let digest = binding.digest();
    write_transaction(conn, |conn| {
        diesel::update(bound(binding, &digest).filter(open_status()).filter(mcp_approvals::expires_at.le(now)))
            .set(mcp_approvals::status.eq(Status::Expired.as_str()))
            .execute(conn)?;
        if let Some(found) = open_of(conn, binding, &digest)? {
            return Ok(Requested { approval: found, created: false });
        }
        let denied = bound(binding, &digest)
            .filter(mcp_approvals::status.eq(Status::Denied.as_str()))
            .filter(mcp_approvals::expires_at.gt(now))
            .order((mcp_approvals::decided_at.desc(), mcp_approvals::id.desc()))
            .select(Row::as_select())
            .first(conn)
            .optional()?;
        if let Some(denied) = denied {
            return Ok(Requested { approval: Approval::of(denied)?, created: false });
        }
        // One principal's concurrent requests count its waiting approvals one after another
        // (PostgreSQL, until this transaction ends; SQLite's write transactions are serial).
        if let alga_core::DbConn::Postgresql(pg) = &mut *conn {
            let key = format!("mcp_approvals:{}:{}:{}", new.tenant_id, new.requester.kind.as_str(), new.requester.id);
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<diesel::sql_types::Text, _>(key)
                .execute(pg)?;
        }
        let waiting: i64 = mcp_approvals::table
            .filter(mcp_approvals::tenant_id.eq(new.tenant_id))
            .filter(mcp_approvals::principal_kind.eq(new.requester.kind.as_str()))
            .filter(mcp_approvals::principal_id.eq(&new.requester.id))
            .filter(mcp_approvals::status.eq(Status::Pending.as_str()))
            .filter(mcp_approvals::expires_at.gt(now))
            .count()
            .get_result(conn)?;
        if waiting >= MAX_PENDING_PER_PRINCIPAL {
            return Err(ApprovalError::TooManyPending);
        }
        let approver_roles = approver_roles(conn, new.tenant_id, new.approver_roles)?;
        let arguments = alga_core::redact::redact(&digest::as_json(new.arguments)).to_string();
        let policy_ids = serde_json::to_string(new.policy_ids).map_err(|e| ApiError::internal(&e))?;
        let approver_roles = serde_json::to_string(&approver_roles).map_err(|e| ApiError::internal(&e))?;
        let id = new_id()?;
        let values = (
            mcp_approvals::tenant_id.eq(new.tenant_id),
            mcp_approvals::id.eq(&id),
            mcp_approvals::status.eq(Status::Pending.as_str()),
            mcp_approvals::principal_kind.eq(new.requester.kind.as_str()),
            mcp_approvals::principal_id.eq(&new.requester.id),
            mcp_approvals::principal_name.eq(&new.requester.name),
            mcp_approvals::operation_id.eq(new.operation_id),
            mcp_approvals::args_digest.eq(&digest),
            mcp_approvals::arguments.eq(&arguments),
            mcp_approvals::record_kind.eq(new.record.map(|r| r.0)),
            mcp_approvals::record_id.eq(new.record.map(|r| r.1)),
            mcp_approvals::policy_version.eq(new.policy_version),
            mcp_approvals::policy_ids.eq(&policy_ids),
            mcp_approvals::approver_roles.eq(&approver_roles),
            (mcp_approvals::expires_at.eq(new.expires_at), mcp_approvals::created_at.eq(now)),
            (mcp_approvals::client_name.eq(new.client.0), mcp_approvals::client_version.eq(new.client.1)),
        );
        // A concurrent identical request that committed first wins (the open-approval unique
        // index); on PostgreSQL this waits for it, then inserts nothing and the read finds it.
        let inserted = alga_core::on_backend!(&mut *conn, |c| diesel::insert_into(mcp_approvals::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c))?;
        let approval = open_of(conn, binding, &digest)?
            .ok_or_else(|| ApprovalError::Corrupt("an approval just stored cannot be read back".into()))?;
        Ok(Requested { created: inserted == 1 && approval.id == id, approval })
    })
}

/// The tenant's roles of these names, by id; a name without a role is refused.
fn approver_roles(conn: &mut DbConn, tenant: &str, names: &[String]) -> Result<Vec<ApproverRole>, ApprovalError> {
    let found: Vec<(String, String)> = roles::table
        .filter(roles::tenant_id.eq(tenant).and(roles::name.eq_any(names)))
        .select((roles::id, roles::name))
        .load(conn)?;
    names
        .iter()
        .map(|name| match found.iter().find(|(_, n)| n == name) {
            Some((id, name)) => Ok(ApproverRole { id: id.clone(), name: name.clone() }),
            None => Err(ApprovalError::UnknownRole(name.clone())),
        })
        .collect()
}

type BoundQuery<'a> = diesel::dsl::Filter<
    mcp_approvals::table,
    diesel::dsl::And<
        diesel::dsl::And<
            diesel::dsl::And<
                diesel::dsl::And<
                    diesel::dsl::And<
                        diesel::dsl::Eq<mcp_approvals::tenant_id, &'a str>,
                        diesel::dsl::Eq<mcp_approvals::principal_kind, &'static str>,
                    >,
                    diesel::dsl::Eq<mcp_approvals::principal_id, &'a str>,
                >,
                diesel::dsl::Eq<mcp_approvals::operation_id, &'a str>,
            >,
            diesel::dsl::Eq<mcp_approvals::args_digest, &'a str>,
        >,
        diesel::dsl::Eq<mcp_approvals::policy_version, i64>,
    >,
>;

/// The approvals of exactly this call (`digest`: its arguments' [`Binding::digest`]).
fn bound<'a>(b: Binding<'a>, digest: &'a str) -> BoundQuery<'a> {
    mcp_approvals::table.filter(
        mcp_approvals::tenant_id
            .eq(b.tenant_id)
            .and(mcp_approvals::principal_kind.eq(b.principal_kind.as_str()))
            .and(mcp_approvals::principal_id.eq(b.principal_id))
            .and(mcp_approvals::operation_id.eq(b.operation_id))
            .and(mcp_approvals::args_digest.eq(digest))
            .and(mcp_approvals::policy_version.eq(b.policy_version)),
    )
}

fn open_status() -> diesel::dsl::EqAny<mcp_approvals::status, [&'static str; 2]> {
    mcp_approvals::status.eq_any([Status::Pending.as_str(), Status::Approved.as_str()])
}

fn open_of(conn: &mut DbConn, binding: Binding<'_>, digest: &str) -> Result<Option<Approval>, ApprovalError> {
    let row = bound(binding, digest).filter(open_status()).select(Row::as_select()).first(conn).optional()?;
    row.map(Approval::of).transpose()
}

/// One approval of `tenant`; another tenant's is [`ApprovalError::NotFound`].
pub fn get(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Approval, ApprovalError> {
    let row = mcp_approvals::table
        .filter(mcp_approvals::tenant_id.eq(tenant).and(mcp_approvals::id.eq(id)))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or(ApprovalError::NotFound)?;
    Approval::of(row)
}

/// A page of `tenant`'s approvals, newest first, optionally of one status, with the total.
pub fn list(
    conn: &mut DbConn,
    tenant: &str,
    status: Option<Status>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Approval>, i64), ApprovalError> {
    let mut count = mcp_approvals::table.filter(mcp_approvals::tenant_id.eq(tenant)).count().into_boxed();
    let mut rows = mcp_approvals::table.filter(mcp_approvals::tenant_id.eq(tenant)).into_boxed();
    if let Some(status) = status {
        count = count.filter(mcp_approvals::status.eq(status.as_str()));
        rows = rows.filter(mcp_approvals::status.eq(status.as_str()));
    }
    let total: i64 = count.get_result(conn)?;
    let rows: Vec<Row> = rows
        .order((mcp_approvals::created_at.desc(), mcp_approvals::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(Row::as_select())
        .load(conn)?;
    Ok((rows.into_iter().map(Approval::of).collect::<Result<_, _>>()?, total))
}

/// Approves or denies a pending, unexpired approval of the approver's tenant. The approver is a
/// person (never an agent), not the requester, holding [`DECIDE`] and every approver role by the
/// grants committed now. Recorded in the admin audit in the same transaction.
pub fn decide(
    conn: &mut DbConn,
    approver: &Principal,
    id: &str,
    approve: bool,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> Result<Approval, ApprovalError> {
    let Some(user_id) = approver.user_id() else {
        return Err(ApprovalError::NotHuman);
    };
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if let Some(reason) = reason
        && reason.chars().count() > MAX_REASON_CHARS
    {
        return Err(ApprovalError::Invalid {
            field: "reason",
            message: format!("must be at most {MAX_REASON_CHARS} characters"),
        });
    }
    if !approve && reason.is_none() {
        return Err(ApprovalError::Invalid { field: "reason", message: "a denial says why".into() });
    }
    let tenant = approver.tenant_id.as_str();
    write_transaction(conn, |conn| {
        alga_core::lock_row!(conn, mcp_approvals, tenant, id);
        let before = get(conn, tenant, id)?;
        if before.principal_kind == RequesterKind::User && before.principal_id == user_id {
            return Err(ApprovalError::OwnCall);
        }
        // Decided on the approver as stored now: deactivated (keeping their roles), or no longer
        // holding the permission, they decide nothing, whatever a cached credential says.
        let active = users::table
            .filter(users::tenant_id.eq(tenant).and(users::id.eq(user_id)))
            .select(users::active)
            .first::<bool>(conn)
            .optional()?
            .unwrap_or(false);
        let (granted, _) = alga_api::grants_now::standing(conn, tenant, user_id)?;
        if !active || alga_core::rbac::authorize(Holder::User, granted, DECIDE).is_err() {
            return Err(ApprovalError::NotPermitted);
        }
        let held: Vec<String> = user_roles::table
            .filter(user_roles::tenant_id.eq(tenant).and(user_roles::user_id.eq(user_id)))
            .select(user_roles::role_id)
            .load(conn)?;
        let missing: Vec<String> =
            before.approver_roles.iter().filter(|r| !held.contains(&r.id)).map(|r| r.name.clone()).collect();
        if !missing.is_empty() {
            return Err(ApprovalError::MissingRoles(missing));
        }
        if before.status != Status::Pending {
            return Err(ApprovalError::AlreadyDecided(before.status));
        }
        if before.expired_at(now) {
            return Err(ApprovalError::Expired);
        }
        let status = if approve { Status::Approved } else { Status::Denied };
        let changed = diesel::update(
            mcp_approvals::table.filter(
                mcp_approvals::tenant_id
                    .eq(tenant)
                    .and(mcp_approvals::id.eq(id))
                    .and(mcp_approvals::status.eq(Status::Pending.as_str())),
            ),
        )
        .set((
            mcp_approvals::status.eq(status.as_str()),
            mcp_approvals::decided_by.eq(user_id),
            mcp_approvals::decided_at.eq(now),
            mcp_approvals::decision_reason.eq(reason),
        ))
        .execute(conn)?;
        if changed != 1 {
            // The row lock (PostgreSQL) and the write transaction (SQLite) make this unreachable.
            return Err(ApprovalError::Corrupt(format!("approval {id} changed while locked")));
        }
        let after = get(conn, tenant, id)?;
        let audited = |a: &Approval| {
            json!({
                "status": a.status,
                "principal": format!("{}:{}", a.principal_kind.as_str(), a.principal_id),
                "operation_id": a.operation_id,
                "args_digest": a.args_digest,
                "decision_reason": a.decision_reason,
            })
        };
        let change = Change {
            action: if approve { "approval.approve" } else { "approval.deny" },
            target_kind: "mcp_approval",
            target_id: id,
            before: Some(audited(&before)),
            after: Some(audited(&after)),
        };
        admin_audit::record(conn, tenant, Who::Principal(approver), change)?;
        Ok(after)
    })
}

/// Consumes an approved approval for the execution of exactly the call it was given for: one
/// `UPDATE … WHERE status = 'approved'` on its binding and expiry, so of concurrent consumers
/// exactly one wins. Call it in the executing write's transaction (so a failed write gives it
/// back), with the id of that call's audit row.
pub fn consume(
    conn: &mut DbConn,
    id: &str,
    binding: Binding<'_>,
    audit_id: Option<&str>,
    now: NaiveDateTime,
) -> Result<Approval, ApprovalError> {
    let digest = binding.digest();
    let won = diesel::update(
        bound(binding, &digest)
            .filter(mcp_approvals::id.eq(id))
            .filter(mcp_approvals::status.eq(Status::Approved.as_str()))
            .filter(mcp_approvals::expires_at.gt(now)),
    )
    .set((
        mcp_approvals::status.eq(Status::Consumed.as_str()),
        mcp_approvals::consumed_at.eq(now),
        mcp_approvals::audit_id.eq(audit_id),
    ))
    .execute(conn)?;
    let found = get(conn, binding.tenant_id, id)?;
    if won == 1 {
        return Ok(found);
    }
    let same_call = found.principal_kind == binding.principal_kind
        && found.principal_id == binding.principal_id
        && found.operation_id == binding.operation_id
        && found.args_digest == digest
        && found.policy_version == binding.policy_version;
    Err(if !same_call {
        ApprovalError::OtherCall
    } else if found.status == Status::Approved {
        ApprovalError::Expired
    } else {
        ApprovalError::NotApproved(found.status)
    })
}

/// Consumes the approved, unexpired approval of exactly this call, if it has one (at most one is
/// open per call): `None` when it has none, or a concurrent execution consumed it first. Call it
/// in the executing write's transaction, with that call's audit row id.
pub fn consume_approved(
    conn: &mut DbConn,
    binding: Binding<'_>,
    audit_id: Option<&str>,
    now: NaiveDateTime,
) -> Result<Option<Approval>, ApprovalError> {
    let digest = binding.digest();
    let id: Option<String> = bound(binding, &digest)
        .filter(mcp_approvals::status.eq(Status::Approved.as_str()))
        .filter(mcp_approvals::expires_at.gt(now))
        .select(mcp_approvals::id)
        .first(conn)
        .optional()?;
    let Some(id) = id else { return Ok(None) };
    match consume(conn, &id, binding, audit_id, now) {
        Ok(approval) => Ok(Some(approval)),
        Err(ApprovalError::NotApproved(_) | ApprovalError::Expired) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The display name of the person who decided an approval, for telling the requester.
pub fn decider_name(conn: &mut DbConn, approval: &Approval) -> Result<Option<String>, ApprovalError> {
    let Some(user) = &approval.decided_by else { return Ok(None) };
    Ok(users::table
        .filter(users::tenant_id.eq(&approval.tenant_id).and(users::id.eq(user)))
        .select(users::display_name)
        .first(conn)
        .optional()?)
}

/// Marks every open approval past its expiry as expired, in every tenant; returns how many.
pub fn expire_due(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, ApprovalError> {
    write_transaction(conn, |conn| {
        Ok(diesel::update(mcp_approvals::table.filter(open_status()).filter(mcp_approvals::expires_at.le(now)))
            .set(mcp_approvals::status.eq(Status::Expired.as_str()))
            .execute(conn)?)
    })
}

/// How many approvals wait for a decision (pending and unexpired), in every tenant.
pub fn pending_total(conn: &mut DbConn, now: NaiveDateTime) -> Result<i64, ApprovalError> {
    Ok(mcp_approvals::table
        .filter(mcp_approvals::status.eq(Status::Pending.as_str()))
        .filter(mcp_approvals::expires_at.gt(now))
        .count()
        .get_result(conn)?)
}

/// How many approvals of `tenant` wait for a decision (pending and unexpired).
pub fn pending_count(conn: &mut DbConn, tenant: &str, now: NaiveDateTime) -> Result<i64, ApprovalError> {
    Ok(mcp_approvals::table
        .filter(mcp_approvals::tenant_id.eq(tenant))
        .filter(mcp_approvals::status.eq(Status::Pending.as_str()))
        .filter(mcp_approvals::expires_at.gt(now))
        .count()
        .get_result(conn)?)
}
