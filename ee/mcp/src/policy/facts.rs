//! What a policy decision is made on, as plain data: who calls, what the call says, and the
//! current attributes of the record it acts on. The loaders (`policy::load`) produce these from
//! the database inside the call's transaction; the engine (`policy::engine`) turns them into a
//! Cedar request and entities typed by the schema it generates from the catalog and from
//! [`RecordKind::attributes`], so a fact and its type are declared once, here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The principal types of the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PrincipalKind {
    Agent,
    User,
}

/// Who calls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrincipalFacts {
    pub kind: PrincipalKind,
    pub id: String,
    /// The agent's name or the user's display name.
    pub name: String,
    /// Names of the roles it holds.
    pub roles: Vec<String>,
    /// Ids of the teams it serves: a user's team memberships; an agent's teams (set by an admin).
    pub teams: Vec<String>,
    /// Free attributes an admin set on an agent (`{"region": "emea"}`); empty for users.
    pub attributes: BTreeMap<String, String>,
}

/// The PSA record types whose current attributes a decision can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecordKind {
    Ticket,
    Client,
    Asset,
    TimeEntry,
    KbArticle,
}

/// The type of one attribute of a record, as the schema declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactType {
    String,
    /// May be absent (`resource has team`).
    OptionalString,
    Long,
    Bool,
    /// A set of names (tags).
    Names,
    /// The record's client, a `Client` entity with its own attributes.
    Client,
}

impl RecordKind {
    pub const ALL: [RecordKind; 5] =
        [RecordKind::Ticket, RecordKind::Client, RecordKind::Asset, RecordKind::TimeEntry, RecordKind::KbArticle];

    /// Its entity type name in the schema.
    pub fn type_name(self) -> &'static str {
        match self {
            RecordKind::Ticket => "Ticket",
            RecordKind::Client => "Client",
            RecordKind::Asset => "Asset",
            RecordKind::TimeEntry => "TimeEntry",
            RecordKind::KbArticle => "KbArticle",
        }
    }

    /// The record type a catalog resource's first path id names (`tickets` → ticket), if it is
    /// one whose attributes are read.
    pub fn of_path_prefix(path: &str) -> Option<RecordKind> {
        let rest = path.strip_prefix("/api/v1/")?;
        let first = rest.split('/').next()?;
        let has_id = rest.split('/').nth(1).is_some_and(|s| s.starts_with('{'));
        if !has_id {
            return None;
        }
        match first {
            "tickets" => Some(RecordKind::Ticket),
            "clients" => Some(RecordKind::Client),
            "assets" => Some(RecordKind::Asset),
            "time-entries" => Some(RecordKind::TimeEntry),
            "kb-articles" => Some(RecordKind::KbArticle),
            _ => None,
        }
    }

    /// Every attribute a record of this kind carries, with its type. Names are the API's own
    /// field names, so a policy reads like the record it guards.
    pub fn attributes(self) -> &'static [(&'static str, FactType)] {
        use FactType::*;
        match self {
            RecordKind::Ticket => &[
                ("number", String),
                ("title", String),
                ("status", String),
                ("is_closed", Bool),
                ("priority", String),
                ("board", String),
                ("client", Client),
                ("team_id", OptionalString),
                ("category_id", OptionalString),
                ("assigned_to", OptionalString),
                ("source", String),
                ("tags", Names),
                ("created_by_agent", OptionalString),
            ],
            RecordKind::Client => &[("name", String), ("is_inactive", Bool), ("tags", Names)],
            RecordKind::Asset => &[
                ("asset_type", String),
                ("name", String),
                ("status", String),
                ("client", Client),
                ("serial_number", OptionalString),
                ("warranty_end_date", OptionalString),
                ("tags", Names),
            ],
            RecordKind::TimeEntry => &[
                ("user_id", String),
                ("work_item_type", String),
                ("work_item_id", String),
                ("duration_minutes", Long),
                ("billable", Bool),
            ],
            RecordKind::KbArticle => {
                &[("title", String), ("status", String), ("category", OptionalString), ("tags", Names)]
            }
        }
    }
}

/// One attribute's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fact {
    String(String),
    Absent,
    Long(i64),
    Bool(bool),
    Names(Vec<String>),
    Client(Box<RecordFacts>),
}

/// A record's current attributes, read in the call's transaction; every attribute of
/// [`RecordKind::attributes`] is present (`Fact::Absent` for an optional one that is not set).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordFacts {
    pub kind: RecordKind,
    pub id: String,
    pub attributes: BTreeMap<String, Fact>,
}

/// One call as a policy sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallFacts {
    /// The catalog operation that runs (`tickets.update`).
    pub operation_id: String,
    /// The call's validated arguments as the operation parsed them.
    pub path: Map<String, Value>,
    pub query: Map<String, Value>,
    pub body: Option<Value>,
    pub now: DateTime<Utc>,
    /// The MCP client's name (`clientInfo.name`), if it gave one.
    pub client_name: Option<String>,
    /// The record the operation acts on, for operations on an existing ticket, client, asset,
    /// time entry or KB article.
    pub record: Option<RecordFacts>,
    /// Facts derived from the call and the database ([`derived`]), by name; each is a context
    /// attribute (`context.closes`).
    #[serde(default)]
    pub derived: BTreeMap<String, Fact>,
}

/// The facts an operation's calls carry besides their arguments, derived in the call's
/// transaction, with their types. Declared once here; the schema and the request both take them
/// from this.
/// - `closes` (tickets): whether the call leaves the ticket in a closed status (the one it sets,
///   or on a create without one, the board's first status the ticket starts in).
/// - `client_tags` (tickets): the tag keys (`tags::name_key`) of the client the ticket has after
///   the call: the body's `client_id`, else the ticket's.
/// - `minutes` (time entries): how long the entry lasts after the call, from the body over the
///   entry's current start and duration, by the rule the operation applies (before its range
///   check). Absent when the call gives too little or contradicts itself; reading it then errors.
pub fn derived(operation_id: &str) -> &'static [(&'static str, FactType)] {
    match operation_id {
        "tickets.update" | "tickets.create" => &[("closes", FactType::Bool), ("client_tags", FactType::Names)],
        "time_entries.update" | "time_entries.create" => &[("minutes", FactType::Long)],
        _ => &[],
    }
}

/// What the evaluation input of a call is, as stored in its audit row (`mcp_audit.policy_input`,
/// secrets redacted) so that a replay decides on exactly what the call was decided on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionInput {
    pub principal: PrincipalFacts,
    pub call: CallFacts,
}

/// How a policy set applies: `enforce` refuses what it forbids; `shadow` lets calls through by
/// roles alone and records what it would have decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Enforce,
    Shadow,
}

/// What the policies decided on one call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// `false` when a `forbid` matched (or could not be evaluated: policies fail closed).
    pub allowed: bool,
    /// The ids of the policies that decided: the matching forbids when denied.
    pub policy_ids: Vec<String>,
    /// Their `@reason("…")` annotations, in the same order where given.
    pub reasons: Vec<String>,
    /// Evaluation errors, by policy id (each also denies).
    pub errors: Vec<String>,
    /// When allowed: the approval a person must give first, if `@approval` policies matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalNeed>,
}

impl Evaluation {
    /// Allowed, by no policy.
    pub fn allow() -> Evaluation {
        Evaluation { allowed: true, ..Evaluation::default() }
    }
}

/// The approval a call needs: what the matching `@approval("required")` policies ask, the
/// strictest of them (every role any names; the shortest expiry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalNeed {
    pub policy_ids: Vec<String>,
    /// Names of the roles an approver must hold (besides the permission to decide approvals).
    pub approvers: Vec<String>,
    /// How long the approval, once asked for, may wait and then be used.
    pub expires_in_seconds: i64,
}

/// Whether an operation is listed and found for a principal (defined beside listing and search).
pub use alga_agent_tooling::Visibility;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_path_id_names_the_record() {
        assert_eq!(RecordKind::of_path_prefix("/api/v1/tickets/{id}"), Some(RecordKind::Ticket));
        assert_eq!(RecordKind::of_path_prefix("/api/v1/tickets/{id}/comments/{comment_id}"), Some(RecordKind::Ticket));
        assert_eq!(RecordKind::of_path_prefix("/api/v1/tickets"), None);
        assert_eq!(RecordKind::of_path_prefix("/api/v1/teams/{id}"), None);
        assert_eq!(RecordKind::of_path_prefix("/api/v1/time-entries/{id}"), Some(RecordKind::TimeEntry));
    }
}
