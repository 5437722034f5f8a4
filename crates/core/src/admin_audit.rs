//! The admin audit: one append-only row per change to who may do what (users, roles, API keys,
//! agents, identity providers), written by the code making the change, in its transaction, so
//! that the change and its row commit together or not at all. Triggers refuse updates and deletes
//! (the enterprise `audit prune` is the one way rows leave).

use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::identity::{Actor, Principal, new_id, now};
use crate::schema::admin_audit;
use crate::{ApiError, DbConn};

/// One change, as its code describes it.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// What was done, `kind.verb`: `user.update`, `agent.create`, `api_key.revoke`, …
    pub action: &'a str,
    /// What it was done to: `user`, `role`, `api_key`, `agent`, `idp`.
    pub target_kind: &'a str,
    pub target_id: &'a str,
    /// The target before and after (absent when it did not exist); secrets are redacted here.
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// One recorded change.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = admin_audit)]
pub struct Row {
    #[serde(skip)]
    pub tenant_id: String,
    pub id: String,
    pub actor_kind: String,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub api_key_id: Option<String>,
    pub via: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub created_at: chrono::NaiveDateTime,
}

/// Who made a change: a principal of the API, or the command line.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    Principal(&'a Principal),
    Cli,
}

/// Records `change` in `tenant`, on the connection (and so in the transaction) making it; a
/// change that changed nothing (the same before and after) is not a change, and leaves no row.
pub fn record(conn: &mut DbConn, tenant: &str, who: Who<'_>, change: Change<'_>) -> Result<(), ApiError> {
    if change.before.is_some() && change.before == change.after {
        return Ok(());
    }
    let (actor_kind, user_id, agent_id, api_key_id, via) = match who {
        Who::Cli => ("system", None, None, None, "cli"),
        Who::Principal(p) => {
            let via = if p.api_key_id.is_some() { "api_key" } else { "session" };
            match &p.actor {
                Actor::User { id, .. } => ("user", Some(id.clone()), None, p.api_key_id.clone(), via),
                Actor::Agent { id, .. } => ("agent", None, Some(id.clone()), p.api_key_id.clone(), via),
            }
        }
    };
    let text = |v: Option<Value>| v.map(|v| crate::redact::redact(&v).to_string());
    let row = Row {
        tenant_id: tenant.to_owned(),
        id: new_id(),
        actor_kind: actor_kind.to_owned(),
        user_id,
        agent_id,
        api_key_id,
        via: via.to_owned(),
        action: change.action.to_owned(),
        target_kind: change.target_kind.to_owned(),
        target_id: change.target_id.to_owned(),
        before: text(change.before),
        after: text(change.after),
        created_at: now(),
    };
    diesel::insert_into(admin_audit::table).values(&row).execute(conn)?;
    Ok(())
}

/// A value as JSON for a before/after (a view type of the API).
pub fn json_of<T: Serialize>(value: &T) -> Option<Value> {
    serde_json::to_value(value).ok()
}
