//! Teams: named groups of the tenant's users ("Network", "Service Desk") that tickets are routed to.

use std::collections::HashMap;

use alga_core::schema::{team_members, teams, tickets, users};
use alga_core::{Action, ApiError, DbConn, Resource};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::model::{Data, IdPath, NoContent, Page, PageRequest, data, like_pattern, lower, required_text, utc};
use crate::refs;

const TAGS: &[&str] = &["Teams"];

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new("teams.list", Method::Get, "/api/v1/teams", Access::needs(Resource::Team, Action::Read))
                .doc(
                    "List teams",
                    "The tenant's teams (groups of technicians such as Network or Service Desk) with their members, \
                     by name. Filter by a part of the name or by a member.",
                )
                .tags(TAGS),
            list,
        ),
        op(
            Meta::new("teams.create", Method::Post, "/api/v1/teams", Access::needs(Resource::Team, Action::Create))
                .doc(
                    "Create a team",
                    "Adds a team (group of technicians) that tickets can be routed to, optionally with its members. \
                     Names are unique within the tenant.",
                )
                .tags(TAGS)
                .example(r#"{"name":"Network","description":"Switches, firewalls, Wi-Fi and VPN"}"#),
            create,
        ),
        op(
            Meta::new("teams.get", Method::Get, "/api/v1/teams/{id}", Access::needs(Resource::Team, Action::Read))
                .doc("Get a team", "One team by id, with who is on it (its members).")
                .tags(TAGS),
            get,
        ),
        op(
            Meta::new("teams.update", Method::Put, "/api/v1/teams/{id}", Access::needs(Resource::Team, Action::Update))
                .doc("Update a team", "Renames a team or changes its description; omitted fields keep their value.")
                .tags(TAGS)
                .example(r#"{"description":"Networking and security"}"#),
            update,
        ),
        op(
            Meta::new(
                "teams.delete",
                Method::Delete,
                "/api/v1/teams/{id}",
                Access::needs(Resource::Team, Action::Delete),
            )
            .doc("Delete a team", "Deletes a team and its memberships; a team that tickets are routed to answers 409.")
            .tags(TAGS),
            delete,
        ),
        op(
            Meta::new(
                "teams.members.set",
                Method::Put,
                "/api/v1/teams/{id}/members",
                Access::needs(Resource::Team, Action::Update),
            )
            .doc(
                "Set a team's members",
                "Replaces who is on a team with the given users (active users of the tenant); add or remove \
                 technicians by sending the whole new list. Answers the team with its members.",
            )
            .tags(TAGS)
            .example(r#"{"user_ids":["<user id>","<user id>"]}"#),
            set_members,
        ),
    ])
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Member {
    pub user_id: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Its members, by display name.
    pub members: Vec<Member>,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = teams)]
struct Row {
    id: String,
    name: String,
    description: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListTeams {
    /// Only teams whose name contains this text (case-insensitive).
    name: Option<String>,
    /// Only teams this user is a member of.
    user_id: Option<String>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateTeam {
    /// Unique within the tenant.
    name: String,
    #[serde(default)]
    description: String,
    /// Its first members (active users of the tenant).
    #[serde(default)]
    user_ids: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateTeam {
    name: Option<String>,
    description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SetMembers {
    /// Every member of the team after the change (active users of the tenant).
    user_ids: Vec<String>,
}

fn duplicate(name: &str) -> String {
    format!("A team named `{name}` already exists.")
}

/// The members of many teams in one query, by team id.
fn members_of(conn: &mut DbConn, tenant: &str, ids: &[String]) -> Result<HashMap<String, Vec<Member>>, ApiError> {
    let rows: Vec<(String, String, String)> = team_members::table
        .inner_join(
            users::table.on(users::tenant_id.eq(team_members::tenant_id).and(users::id.eq(team_members::user_id))),
        )
        .filter(team_members::tenant_id.eq(tenant).and(team_members::team_id.eq_any(ids)))
        .order((team_members::team_id, users::display_name, users::id))
        .select((team_members::team_id, users::id, users::display_name))
        .load(conn)?;
    let mut by_team: HashMap<String, Vec<Member>> = HashMap::new();
    for (team, user_id, display_name) in rows {
        by_team.entry(team).or_default().push(Member { user_id, display_name });
    }
    Ok(by_team)
}

fn views(conn: &mut DbConn, tenant: &str, rows: Vec<Row>) -> Result<Vec<Team>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut members = members_of(conn, tenant, &ids)?;
    Ok(rows
        .into_iter()
        .map(|r| Team {
            members: members.remove(&r.id).unwrap_or_default(),
            id: r.id,
            name: r.name,
            description: r.description,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

fn load_row(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Row, ApiError> {
    teams::table
        .filter(teams::tenant_id.eq(tenant).and(teams::id.eq(id)))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No team with this id."))
}

fn load(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Team, ApiError> {
    let row = load_row(conn, tenant, id)?;
    views(conn, tenant, vec![row])?.pop().ok_or_else(|| ApiError::not_found("No team with this id."))
}

/// The most users a request may name as a team's members.
pub const MAX_MEMBERS: usize = 100;

/// Replaces the members of a team; every user must be an active user of the tenant.
fn replace_members(conn: &mut DbConn, tenant: &str, team: &str, user_ids: &[String]) -> Result<(), ApiError> {
    if user_ids.len() > MAX_MEMBERS {
        return Err(ApiError::validation("user_ids", format!("at most {MAX_MEMBERS} users, not {}", user_ids.len())));
    }
    let mut wanted: Vec<&String> = user_ids.iter().collect();
    wanted.sort();
    wanted.dedup();
    for user in &wanted {
        refs::active_user(conn, tenant, "user_ids", user)?;
    }
    diesel::delete(team_members::table.filter(team_members::tenant_id.eq(tenant).and(team_members::team_id.eq(team))))
        .execute(conn)?;
    for user in wanted {
        diesel::insert_into(team_members::table)
            .values((
                team_members::tenant_id.eq(tenant),
                team_members::team_id.eq(team),
                team_members::user_id.eq(user),
            ))
            .execute(conn)?;
    }
    Ok(())
}

async fn list(ctx: Ctx, _: (), q: ListTeams, _: ()) -> Result<Page<Team>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let filtered = || {
            let mut query = teams::table.filter(teams::tenant_id.eq(&tenant)).into_boxed();
            if let Some(name) = q.name.as_deref().filter(|n| !n.trim().is_empty()) {
                query = query.filter(lower(teams::name).like(like_pattern(name.trim())).escape('\\'));
            }
            if let Some(user) = &q.user_id {
                query = query.filter(
                    teams::id.eq_any(
                        team_members::table
                            .filter(team_members::tenant_id.eq(&tenant).and(team_members::user_id.eq(user)))
                            .select(team_members::team_id),
                    ),
                );
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((teams::name, teams::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(Row::as_select())
            .load(conn)?;
        Ok(page.page(views(conn, &tenant, rows)?, total))
    })
    .await
}

async fn create(ctx: Ctx, _: (), _: (), b: CreateTeam) -> Result<Data<Team>, ApiError> {
    let name = required_text("name", &b.name, 200)?;
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        let id = alga_core::identity::new_id();
        let now = alga_core::identity::now();
        diesel::insert_into(teams::table)
            .values((
                teams::tenant_id.eq(&tenant),
                teams::id.eq(&id),
                teams::name.eq(&name),
                teams::description.eq(b.description.trim()),
                teams::created_at.eq(now),
                teams::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || duplicate(&name)))?;
        replace_members(conn, &tenant, &id, &b.user_ids)?;
        load(conn, &tenant, &id).map(data)
    })
    .await
}

async fn get(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Team>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load(conn, &tenant, &p.id).map(data)).await
}

async fn update(ctx: Ctx, p: IdPath, _: (), b: UpdateTeam) -> Result<Data<Team>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, teams, &tenant, &p.id);
        let mut t = load_row(conn, &tenant, &p.id)?;
        if let Some(name) = &b.name {
            t.name = required_text("name", name, 200)?;
        }
        if let Some(description) = &b.description {
            t.description = description.trim().to_owned();
        }
        diesel::update(teams::table.filter(teams::tenant_id.eq(&tenant).and(teams::id.eq(&t.id))))
            .set((
                teams::name.eq(&t.name),
                teams::description.eq(&t.description),
                teams::updated_at.eq(alga_core::identity::now()),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || duplicate(&t.name)))?;
        load(conn, &tenant, &t.id).map(data)
    })
    .await
}

async fn set_members(ctx: Ctx, p: IdPath, _: (), b: SetMembers) -> Result<Data<Team>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, teams, &tenant, &p.id);
        load_row(conn, &tenant, &p.id)?;
        replace_members(conn, &tenant, &p.id, &b.user_ids)?;
        diesel::update(teams::table.filter(teams::tenant_id.eq(&tenant).and(teams::id.eq(&p.id))))
            .set(teams::updated_at.eq(alga_core::identity::now()))
            .execute(conn)?;
        load(conn, &tenant, &p.id).map(data)
    })
    .await
}

async fn delete(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, teams, &tenant, &p.id);
        load_row(conn, &tenant, &p.id)?;
        let routed: i64 = tickets::table
            .filter(tickets::tenant_id.eq(&tenant).and(tickets::team_id.eq(&p.id)))
            .count()
            .get_result(conn)?;
        if routed > 0 {
            return Err(ApiError::conflict(format!(
                "{routed} tickets are routed to this team; move them to another team first."
            )));
        }
        // A ticket routed to it meanwhile (committed after the count) makes the delete a 409 too.
        diesel::delete(teams::table.filter(teams::tenant_id.eq(&tenant).and(teams::id.eq(&p.id))))
            .execute(conn)
            .map_err(|e| {
                ApiError::from_in_use(e, || {
                    "Tickets are routed to this team; move them to another team first.".to_owned()
                })
            })?;
        Ok(NoContent {})
    })
    .await
}
