//! Tags on records of any taggable type: the one place that reads and writes `taggings`.
//!
//! A tenant has one tag vocabulary (`tags`, managed by `resources::tags`); a record carries tags
//! through `taggings (tenant_id, entity_type, entity_id, tag_id)`. A taggable resource uses this
//! module for everything about its tags:
//!
//! - its answers carry `tags: [names]`, sorted case-insensitively: [`of_one`] for one record,
//!   [`attach`] for a page of records (one query);
//! - its create and update take `tags: [names]` (omitted keeps) and call [`set`] in their write
//!   transaction, which replaces the record's set (unknown names are a 400 naming them; names
//!   are matched case-insensitively and duplicates folded); setting tags is part of changing the
//!   record, so it needs the record's own permission, never `tag:*`;
//! - its list takes `tag` and filters with [`filter_id`] then [`carrying!`] as a subquery;
//! - its delete locks the record (`lock_row!`), deletes it, then calls [`remove_all`] in the same
//!   transaction (taggings name no record by foreign key, since one table serves every type; in
//!   this order a concurrent [`set`] either commits first or finds no record);
//! - [`set`] takes at most [`MAX_PER_RECORD`] names.
//!
//! Adding a taggable type: a variant of [`Taggable`] and its name in the `taggings_entity_type`
//! check of the migration.

use std::collections::{BTreeMap, HashMap};

use alga_core::schema::{taggings, tags};
use alga_core::{ApiError, DbConn};
use diesel::prelude::*;

/// The longest tag name, in characters.
pub const MAX_NAME: usize = 50;

/// The record types that carry tags, as stored in `taggings.entity_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taggable {
    Ticket,
    Client,
    Asset,
    KbArticle,
}

impl Taggable {
    pub fn as_str(self) -> &'static str {
        match self {
            Taggable::Ticket => "ticket",
            Taggable::Client => "client",
            Taggable::Asset => "asset",
            Taggable::KbArticle => "kb_article",
        }
    }
}

/// A tag name as stored: trimmed, 1 to [`MAX_NAME`] characters.
pub fn clean_name(field: &str, name: &str) -> Result<String, ApiError> {
    crate::model::required_text(field, name, MAX_NAME)
}

/// The most tags a request may name for one record.
pub const MAX_PER_RECORD: usize = 100;

/// What names are unique by: the name lowercased (Unicode-aware, so the same on both databases).
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Replaces the tags of one record with the named tags of the tenant, and returns their names
/// as [`of_one`] would. Names match case-insensitively; repeated names count once; unknown names
/// are refused together, by name, and change nothing.
pub fn set(
    conn: &mut DbConn,
    tenant: &str,
    kind: Taggable,
    id: &str,
    names: &[String],
) -> Result<Vec<String>, ApiError> {
    if names.len() > MAX_PER_RECORD {
        return Err(ApiError::validation("tags", format!("at most {MAX_PER_RECORD} tags, not {}", names.len())));
    }
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    for name in names {
        let name = clean_name("tags", name)?;
        wanted.entry(name_key(&name)).or_insert(name);
    }
    let keys: Vec<&String> = wanted.keys().collect();
    let found: Vec<(String, String, String)> = tags::table
        .filter(tags::tenant_id.eq(tenant).and(tags::name_key.eq_any(&keys)))
        .select((tags::id, tags::name, tags::name_key))
        .load(conn)?;
    let unknown: Vec<&str> =
        wanted.iter().filter(|(k, _)| !found.iter().any(|(_, _, f)| f == *k)).map(|(_, n)| n.as_str()).collect();
    if !unknown.is_empty() {
        let listed = unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        return Err(ApiError::validation(
            "tags",
            format!("no tag named {listed}; create it first (POST /api/v1/tags)"),
        )
        .with_details(serde_json::json!({
            "fields": [{"field": "tags", "message": format!("no tag named {listed}")}],
            "unknown_tags": unknown,
        })));
    }
    remove_all(conn, tenant, kind, id)?;
    for (tag, name, _) in &found {
        diesel::insert_into(taggings::table)
            .values((
                taggings::tenant_id.eq(tenant),
                taggings::entity_type.eq(kind.as_str()),
                taggings::entity_id.eq(id),
                taggings::tag_id.eq(tag),
            ))
            .execute(conn)
            .map_err(|e| match e {
                // The tag was deleted since it was read (PostgreSQL, concurrently): as if unknown.
                diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::ForeignKeyViolation, _) => {
                    ApiError::validation("tags", format!("no tag named `{name}`; create it first (POST /api/v1/tags)"))
                }
                other => ApiError::from(other),
            })?;
    }
    let mut names: Vec<(String, String)> = found.into_iter().map(|(_, name, key)| (key, name)).collect();
    names.sort();
    Ok(names.into_iter().map(|(_, name)| name).collect())
}

/// The tag names of one record, sorted case-insensitively.
pub fn of_one(conn: &mut DbConn, tenant: &str, kind: Taggable, id: &str) -> Result<Vec<String>, ApiError> {
    // Not `of_many` with one id: its `IN (…)` has a variable number of binds, so it is prepared
    // anew on every call, and one record's read (a ticket's GET) is the hot path.
    let names = taggings::table
        .inner_join(tags::table.on(tags::tenant_id.eq(taggings::tenant_id).and(tags::id.eq(taggings::tag_id))))
        .filter(
            taggings::tenant_id.eq(tenant).and(taggings::entity_type.eq(kind.as_str())).and(taggings::entity_id.eq(id)),
        )
        .order((tags::name_key, tags::name))
        .select(tags::name)
        .load(conn)?;
    Ok(names)
}

/// The tag names of many records (a page of a list) in one query, by record id; records without
/// tags are absent.
fn of_many(
    conn: &mut DbConn,
    tenant: &str,
    kind: Taggable,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, ApiError> {
    let mut by_record: HashMap<String, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_record);
    }
    let rows: Vec<(String, String)> = taggings::table
        .inner_join(tags::table.on(tags::tenant_id.eq(taggings::tenant_id).and(tags::id.eq(taggings::tag_id))))
        .filter(
            taggings::tenant_id
                .eq(tenant)
                .and(taggings::entity_type.eq(kind.as_str()))
                .and(taggings::entity_id.eq_any(ids)),
        )
        .order((taggings::entity_id, tags::name_key, tags::name))
        .select((taggings::entity_id, tags::name))
        .load(conn)?;
    for (record, name) in rows {
        by_record.entry(record).or_default().push(name);
    }
    Ok(by_record)
}

/// A page of records with their tags, in one query: `make` builds each answer from its record
/// and its tag names; `id` names a record.
pub fn attach<R, T>(
    conn: &mut DbConn,
    tenant: &str,
    kind: Taggable,
    rows: Vec<R>,
    id: impl Fn(&R) -> &str,
    make: impl Fn(R, Vec<String>) -> T,
) -> Result<Vec<T>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|r| id(r).to_owned()).collect();
    let mut tagged = of_many(conn, tenant, kind, &ids)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let tags = tagged.remove(id(&r)).unwrap_or_default();
            make(r, tags)
        })
        .collect())
}

/// For a list's `tag` filter (a tag name, any case): `None` without a filter, else the id of the
/// tenant's tag of this name, or an id no tagging has when there is none (the list is then empty).
pub fn filter_id(conn: &mut DbConn, tenant: &str, name: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else { return Ok(None) };
    let id = tags::table
        .filter(tags::tenant_id.eq(tenant).and(tags::name_key.eq(name_key(name))))
        .select(tags::id)
        .first(conn)
        .optional()?;
    Ok(Some(id.unwrap_or_default()))
}

/// The ids of the records of one type carrying a tag, as a subquery for a list's filter (a macro,
/// since a boxed query of the two-backend connection cannot be a subquery):
/// `query.filter(clients::id.eq_any(tags::carrying!(&tenant, Taggable::Client, &tag_id)))`.
macro_rules! carrying {
    ($tenant:expr, $kind:expr, $tag_id:expr) => {
        alga_core::schema::taggings::table
            .filter(
                alga_core::schema::taggings::tenant_id
                    .eq($tenant)
                    .and(alga_core::schema::taggings::entity_type.eq($kind.as_str()))
                    .and(alga_core::schema::taggings::tag_id.eq($tag_id)),
            )
            .select(alga_core::schema::taggings::entity_id)
    };
}
pub(crate) use carrying;

/// Removes every tag of a record: call it in the transaction deleting the record, after the delete.
pub fn remove_all(conn: &mut DbConn, tenant: &str, kind: Taggable, id: &str) -> Result<(), ApiError> {
    diesel::delete(taggings::table.filter(
        taggings::tenant_id.eq(tenant).and(taggings::entity_type.eq(kind.as_str())).and(taggings::entity_id.eq(id)),
    ))
    .execute(conn)?;
    Ok(())
}

/// How many records carry a tag, by type (types carrying none are absent).
pub fn usage(conn: &mut DbConn, tenant: &str, tag_id: &str) -> Result<Vec<(String, i64)>, ApiError> {
    Ok(taggings::table
        .filter(taggings::tenant_id.eq(tenant).and(taggings::tag_id.eq(tag_id)))
        .group_by(taggings::entity_type)
        .order(taggings::entity_type)
        .select((taggings::entity_type, diesel::dsl::count_star()))
        .load(conn)?)
}
