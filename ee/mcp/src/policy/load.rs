//! The facts a policy decision reads, loaded from the database in the caller's transaction: who
//! calls ([`principal_facts`]) and the current attributes of the record a call acts on
//! ([`record_facts`]), exactly those [`RecordKind::attributes`] declares.

use std::collections::BTreeMap;

use alga_api::tags::{self, Taggable};
use alga_core::identity::{Actor, Principal};
use alga_core::schema::{
    assets, boards, clients, kb_articles, priorities, statuses, team_members, tickets, time_entries,
};
use alga_core::{ApiError, DbConn};
use diesel::prelude::*;

use super::facts::{Fact, PrincipalFacts, PrincipalKind, RecordFacts, RecordKind};
use crate::agents::attributes_of;
use crate::schema::{agent_teams, agents};

/// Who calls: its role names (from the principal), the teams it serves (a user's memberships, an
/// agent's teams) and an agent's attributes.
pub fn principal_facts(conn: &mut DbConn, principal: &Principal) -> Result<PrincipalFacts, ApiError> {
    let tenant = principal.tenant_id.as_str();
    let mut roles: Vec<String> = principal.roles.iter().map(|r| r.name.clone()).collect();
    roles.sort();
    roles.dedup();
    let (kind, id, name, teams, attributes) = match &principal.actor {
        Actor::User { id, display_name, .. } => {
            let teams: Vec<String> = team_members::table
                .filter(team_members::tenant_id.eq(tenant).and(team_members::user_id.eq(id)))
                .order(team_members::team_id)
                .select(team_members::team_id)
                .load(conn)?;
            (PrincipalKind::User, id, display_name, teams, BTreeMap::new())
        }
        Actor::Agent { id, name } => {
            let teams: Vec<String> = agent_teams::table
                .filter(agent_teams::tenant_id.eq(tenant).and(agent_teams::agent_id.eq(id)))
                .order(agent_teams::team_id)
                .select(agent_teams::team_id)
                .load(conn)?;
            let stored: Option<String> = agents::table
                .filter(agents::tenant_id.eq(tenant).and(agents::id.eq(id)))
                .select(agents::attributes)
                .first(conn)
                .optional()?;
            let attributes = stored.map(|s| attributes_of(id, &s)).unwrap_or_default();
            (PrincipalKind::Agent, id, name, teams, attributes)
        }
    };
    Ok(PrincipalFacts { kind, id: id.clone(), name: name.clone(), roles, teams, attributes })
}

/// The current attributes of a record of the tenant, or `None` when it has no such record (a
/// foreign tenant's id included). With `lock`, the record's row is locked first (PostgreSQL
/// `FOR NO KEY UPDATE`), so that a write deciding on these facts changes the record they describe.
pub fn record_facts(
    conn: &mut DbConn,
    tenant: &str,
    kind: RecordKind,
    id: &str,
    lock: bool,
) -> Result<Option<RecordFacts>, ApiError> {
    match kind {
        RecordKind::Ticket => {
            if lock {
                alga_core::lock_row!(conn, tickets, tenant, id);
            }
            ticket(conn, tenant, id)
        }
        RecordKind::Client => {
            if lock {
                alga_core::lock_row!(conn, clients, tenant, id);
            }
            client(conn, tenant, id)
        }
        RecordKind::Asset => {
            if lock {
                alga_core::lock_row!(conn, assets, tenant, id);
            }
            asset(conn, tenant, id)
        }
        RecordKind::TimeEntry => {
            if lock {
                alga_core::lock_row!(conn, time_entries, tenant, id);
            }
            time_entry(conn, tenant, id)
        }
        RecordKind::KbArticle => {
            if lock {
                alga_core::lock_row!(conn, kb_articles, tenant, id);
            }
            kb_article(conn, tenant, id)
        }
    }
}

/// A record's tags by their normalized key (`tags::name_key`: trimmed, lowercased), the way tags
/// are matched everywhere else, so a policy's `tags.contains("vip")` holds for "VIP" too.
pub(crate) fn tag_keys(conn: &mut DbConn, tenant: &str, kind: Taggable, id: &str) -> Result<Vec<String>, ApiError> {
    let mut keys: Vec<String> = tags::of_one(conn, tenant, kind, id)?.iter().map(|name| tags::name_key(name)).collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}

fn text(value: String) -> Fact {
    Fact::String(value)
}

fn optional(value: Option<String>) -> Fact {
    value.map_or(Fact::Absent, Fact::String)
}

fn facts(kind: RecordKind, id: &str, attributes: Vec<(&str, Fact)>) -> RecordFacts {
    RecordFacts {
        kind,
        id: id.to_owned(),
        attributes: attributes.into_iter().map(|(name, fact)| (name.to_owned(), fact)).collect(),
    }
}

/// The record's client with its own attributes; a record always has one (a foreign key), so a
/// missing client is an inconsistency, refused rather than decided on.
fn client_fact(conn: &mut DbConn, tenant: &str, client_id: &str) -> Result<Fact, ApiError> {
    match client(conn, tenant, client_id)? {
        Some(client) => Ok(Fact::Client(Box::new(client))),
        None => Err(ApiError::internal(&format_args!("client {client_id} of a record is missing"))),
    }
}

fn client(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Option<RecordFacts>, ApiError> {
    let row: Option<(String, bool)> = clients::table
        .filter(clients::tenant_id.eq(tenant).and(clients::id.eq(id)))
        .select((clients::name, clients::is_inactive))
        .first(conn)
        .optional()?;
    let Some((name, is_inactive)) = row else { return Ok(None) };
    let tags = tag_keys(conn, tenant, Taggable::Client, id)?;
    Ok(Some(facts(
        RecordKind::Client,
        id,
        vec![("name", text(name)), ("is_inactive", Fact::Bool(is_inactive)), ("tags", Fact::Names(tags))],
    )))
}

/// A ticket's attributes with the names of its status, priority and board and its client's own
/// attributes: one statement (the facts are read on every governed call on a ticket).
type TicketRow = (
    (String, String, Option<String>, Option<String>, Option<String>, String, Option<String>),
    (String, bool, String, String),
    (String, String, bool),
);

fn ticket(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Option<RecordFacts>, ApiError> {
    let row: Option<TicketRow> = alga_core::on_backend!(conn, |c| tickets::table
        .inner_join(
            statuses::table.on(statuses::tenant_id.eq(tickets::tenant_id).and(statuses::id.eq(tickets::status_id)))
        )
        .inner_join(
            priorities::table
                .on(priorities::tenant_id.eq(tickets::tenant_id).and(priorities::id.eq(tickets::priority_id))),
        )
        .inner_join(boards::table.on(boards::tenant_id.eq(tickets::tenant_id).and(boards::id.eq(tickets::board_id))))
        .inner_join(
            clients::table.on(clients::tenant_id.eq(tickets::tenant_id).and(clients::id.eq(tickets::client_id)))
        )
        .filter(tickets::tenant_id.eq(tenant).and(tickets::id.eq(id)))
        .select((
            (
                tickets::number,
                tickets::title,
                tickets::team_id,
                tickets::category_id,
                tickets::assigned_to,
                tickets::source,
                tickets::created_by_agent,
            ),
            (statuses::name, statuses::is_closed, priorities::name, boards::name),
            (tickets::client_id, clients::name, clients::is_inactive),
        ))
        .first(c)
        .optional())?;
    let Some((
        (number, title, team_id, category_id, assigned_to, source, by_agent),
        (status, is_closed, priority, board),
        (client_id, client_name, client_inactive),
    )) = row
    else {
        return Ok(None);
    };
    let client_tags = tag_keys(conn, tenant, Taggable::Client, &client_id)?;
    let client = facts(
        RecordKind::Client,
        &client_id,
        vec![
            ("name", text(client_name)),
            ("is_inactive", Fact::Bool(client_inactive)),
            ("tags", Fact::Names(client_tags)),
        ],
    );
    let tags = tag_keys(conn, tenant, Taggable::Ticket, id)?;
    Ok(Some(facts(
        RecordKind::Ticket,
        id,
        vec![
            ("number", text(number)),
            ("title", text(title)),
            ("status", text(status)),
            ("is_closed", Fact::Bool(is_closed)),
            ("priority", text(priority)),
            ("board", text(board)),
            ("client", Fact::Client(Box::new(client))),
            ("team_id", optional(team_id)),
            ("category_id", optional(category_id)),
            ("assigned_to", optional(assigned_to)),
            ("source", text(source)),
            ("tags", Fact::Names(tags)),
            ("created_by_agent", optional(by_agent)),
        ],
    )))
}

type AssetRow = (String, String, String, String, Option<String>, Option<chrono::NaiveDate>);

fn asset(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Option<RecordFacts>, ApiError> {
    let row: Option<AssetRow> = assets::table
        .filter(assets::tenant_id.eq(tenant).and(assets::id.eq(id)))
        .select((
            assets::asset_type,
            assets::name,
            assets::status,
            assets::client_id,
            assets::serial_number,
            assets::warranty_end_date,
        ))
        .first(conn)
        .optional()?;
    let Some((asset_type, name, status, client_id, serial_number, warranty_end)) = row else { return Ok(None) };
    let client = client_fact(conn, tenant, &client_id)?;
    let tags = tag_keys(conn, tenant, Taggable::Asset, id)?;
    Ok(Some(facts(
        RecordKind::Asset,
        id,
        vec![
            ("asset_type", text(asset_type)),
            ("name", text(name)),
            ("status", text(status)),
            ("client", client),
            ("serial_number", optional(serial_number)),
            // As the API writes it: `YYYY-MM-DD`.
            ("warranty_end_date", optional(warranty_end.map(|d| d.format("%Y-%m-%d").to_string()))),
            ("tags", Fact::Names(tags)),
        ],
    )))
}

fn time_entry(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Option<RecordFacts>, ApiError> {
    let row: Option<(String, String, String, i32, bool)> = time_entries::table
        .filter(time_entries::tenant_id.eq(tenant).and(time_entries::id.eq(id)))
        .select((
            time_entries::user_id,
            time_entries::work_item_type,
            time_entries::work_item_id,
            time_entries::duration_minutes,
            time_entries::billable,
        ))
        .first(conn)
        .optional()?;
    let Some((user_id, work_item_type, work_item_id, duration, billable)) = row else { return Ok(None) };
    Ok(Some(facts(
        RecordKind::TimeEntry,
        id,
        vec![
            ("user_id", text(user_id)),
            ("work_item_type", text(work_item_type)),
            ("work_item_id", text(work_item_id)),
            ("duration_minutes", Fact::Long(i64::from(duration))),
            ("billable", Fact::Bool(billable)),
        ],
    )))
}

fn kb_article(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Option<RecordFacts>, ApiError> {
    let row: Option<(String, String, Option<String>)> = kb_articles::table
        .filter(kb_articles::tenant_id.eq(tenant).and(kb_articles::id.eq(id)))
        .select((kb_articles::title, kb_articles::status, kb_articles::category))
        .first(conn)
        .optional()?;
    let Some((title, status, category)) = row else { return Ok(None) };
    let tags = tag_keys(conn, tenant, Taggable::KbArticle, id)?;
    Ok(Some(facts(
        RecordKind::KbArticle,
        id,
        vec![
            ("title", text(title)),
            ("status", text(status)),
            ("category", optional(category)),
            ("tags", Fact::Names(tags)),
        ],
    )))
}
