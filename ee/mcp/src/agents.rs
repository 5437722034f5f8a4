//! Agents: identities of their own, with roles, bound to an IdP subject and/or holding API keys.
//! The admin API `/api/v1/mcp/agents`, their keys, the assignable roles, and how an agent becomes
//! a [`Principal`] on each request (read fresh from the database, so a deactivation, retirement,
//! role change or key revocation takes effect on the very next call).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use actix_web::{HttpResponse, web};
use alga_api::model::{IdPath, utc, utc_opt};
use alga_core::RouteTable;
use alga_core::admin_audit::{self, json_of};
use alga_core::db::write_transaction;
use alga_core::identity::{self, Actor, Principal, RoleRef, generate_api_key, key_hash, key_prefix, new_id, now};
use alga_core::schema::roles;
use alga_core::{ApiError, AppContext, DbConn};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::admin::Admin;
use crate::schema::{agent_api_keys, agent_idp_providers, agent_roles, agent_teams, agents, mcp_audit, tenant_slugs};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agents)]
struct AgentRow {
    id: String,
    name: String,
    description: String,
    idp_id: Option<String>,
    subject: Option<String>,
    active: bool,
    created_by: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    retired_at: Option<NaiveDateTime>,
    attributes: String,
}

#[derive(Debug, Serialize)]
pub struct AgentView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub idp_id: Option<String>,
    pub idp_issuer: Option<String>,
    pub subject: Option<String>,
    /// `active`, `inactive` or `retired`.
    pub status: &'static str,
    pub active: bool,
    pub roles: Vec<RoleRef>,
    /// The teams it serves (policies read them as `principal.teams`).
    pub team_ids: Vec<String>,
    /// Free attributes policies read (`principal.getTag("region")`).
    pub attributes: BTreeMap<String, String>,
    pub created_by: Option<String>,
    #[serde(serialize_with = "utc")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    pub updated_at: NaiveDateTime,
    #[serde(serialize_with = "utc_opt")]
    pub retired_at: Option<NaiveDateTime>,
    /// The newest audited tool call.
    #[serde(serialize_with = "utc_opt")]
    pub last_activity_at: Option<NaiveDateTime>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The IdP whose tokens name this agent, with `subject`; omit both for an agent that only
    /// uses API keys.
    pub idp_id: Option<String>,
    pub subject: Option<String>,
    #[serde(default)]
    pub role_ids: Vec<String>,
    #[serde(default)]
    pub team_ids: Vec<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    pub name: Option<String>,
    pub description: Option<String>,
    pub role_ids: Option<Vec<String>>,
    pub active: Option<bool>,
    /// Replaces its teams when given.
    pub team_ids: Option<Vec<String>>,
    /// Replaces its attributes when given.
    pub attributes: Option<BTreeMap<String, String>>,
}

/// A new binding of an agent: the identity provider whose tokens name it, and the subject they
/// carry.
#[derive(Debug, Clone)]
pub struct Binding {
    pub idp_id: String,
    pub subject: String,
}

/// The admin API's `PATCH` body: what [`UpdateAgent`] changes, and a new binding (`idp_id` and
/// `subject` go together, as at creation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchAgent {
    name: Option<String>,
    description: Option<String>,
    role_ids: Option<Vec<String>>,
    active: Option<bool>,
    team_ids: Option<Vec<String>>,
    attributes: Option<BTreeMap<String, String>>,
    idp_id: Option<String>,
    subject: Option<String>,
}

impl PatchAgent {
    fn split(self) -> Result<(UpdateAgent, Option<Binding>), ApiError> {
        let binding = match (self.idp_id, self.subject) {
            (Some(idp_id), Some(subject)) => Some(Binding { idp_id, subject }),
            (None, None) => None,
            _ => return Err(ApiError::validation("subject", "idp_id and subject go together: give both or neither")),
        };
        let update = UpdateAgent {
            name: self.name,
            description: self.description,
            role_ids: self.role_ids,
            active: self.active,
            team_ids: self.team_ids,
            attributes: self.attributes,
        };
        Ok((update, binding))
    }
}

#[derive(Debug, Deserialize)]
struct ListAgents {
    include_retired: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    #[serde(default)]
    pub description: String,
    /// Required, at most one year ahead.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct KeyPath {
    id: String,
    key_id: String,
}

#[derive(Debug, Serialize, Queryable, Selectable)]
#[diesel(table_name = agent_api_keys)]
pub struct KeyView {
    pub id: String,
    pub prefix: String,
    pub description: String,
    #[serde(serialize_with = "utc")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc_opt")]
    pub last_used_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "utc_opt")]
    pub expires_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "utc_opt")]
    pub revoked_at: Option<NaiveDateTime>,
}

/// A role an agent may be given.
#[derive(Debug, Serialize, Queryable)]
pub struct RoleInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub built_in: bool,
}

const MAX_KEY_LIFETIME_DAYS: i64 = 366;

fn roles_of(conn: &mut DbConn, tenant: &str, agent_ids: &[String]) -> Result<HashMap<String, Vec<RoleRef>>, ApiError> {
    let pairs: Vec<(String, String)> = agent_roles::table
        .filter(agent_roles::tenant_id.eq(tenant).and(agent_roles::agent_id.eq_any(agent_ids)))
        .select((agent_roles::agent_id, agent_roles::role_id))
        .load(conn)?;
    let names: HashMap<String, String> = roles::table
        .filter(roles::tenant_id.eq(tenant).and(roles::id.eq_any(pairs.iter().map(|(_, r)| r))))
        .select((roles::id, roles::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut out: HashMap<String, Vec<RoleRef>> = HashMap::new();
    for (agent, role) in pairs {
        let name = names.get(&role).cloned().unwrap_or_default();
        out.entry(agent).or_default().push(RoleRef { id: role, name });
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(out)
}

/// The teams each agent serves, by id.
pub(crate) fn teams_of(
    conn: &mut DbConn,
    tenant: &str,
    agent_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, ApiError> {
    let pairs: Vec<(String, String)> = agent_teams::table
        .filter(agent_teams::tenant_id.eq(tenant).and(agent_teams::agent_id.eq_any(agent_ids)))
        .order((agent_teams::agent_id, agent_teams::team_id))
        .select((agent_teams::agent_id, agent_teams::team_id))
        .load(conn)?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (agent, team) in pairs {
        out.entry(agent).or_default().push(team);
    }
    Ok(out)
}

/// An agent's stored attributes; a column that is not a JSON object of strings (written by plain
/// SQL) reads as none, logged.
pub(crate) fn attributes_of(agent_id: &str, stored: &str) -> BTreeMap<String, String> {
    serde_json::from_str(stored).unwrap_or_else(|e| {
        tracing::warn!(agent = %agent_id, error = %e, "agent attributes are not a JSON object of strings; read as none");
        BTreeMap::new()
    })
}

const MAX_ATTRIBUTES: usize = 20;
const MAX_ATTRIBUTE_KEY: usize = 64;
const MAX_ATTRIBUTE_VALUE: usize = 200;

/// Checks attributes (at most 20; keys 1–64 characters of `[A-Za-z0-9_.-]`, values at most 200
/// characters) and gives them as the JSON text stored.
fn checked_attributes(attributes: &BTreeMap<String, String>) -> Result<String, ApiError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(ApiError::validation("attributes", format!("at most {MAX_ATTRIBUTES} attributes")));
    }
    for (key, value) in attributes {
        let key_ok = (1..=MAX_ATTRIBUTE_KEY).contains(&key.chars().count())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !key_ok {
            return Err(ApiError::validation(
                "attributes",
                format!(
                    "attribute name `{key}`: 1 to {MAX_ATTRIBUTE_KEY} characters of letters, digits, `_`, `.` and `-`"
                ),
            ));
        }
        if value.chars().count() > MAX_ATTRIBUTE_VALUE {
            return Err(ApiError::validation(
                "attributes",
                format!("attribute `{key}`: a value of at most {MAX_ATTRIBUTE_VALUE} characters"),
            ));
        }
    }
    serde_json::to_string(attributes).map_err(|e| ApiError::internal(&e))
}

/// Replaces the teams an agent serves; 400 naming the first id that is not a team of the tenant
/// (another tenant's team included), before anything changes.
fn set_teams(conn: &mut DbConn, tenant: &str, agent: &str, team_ids: &[String]) -> Result<(), ApiError> {
    use alga_core::schema::teams;
    let mut unique: Vec<&String> = team_ids.iter().collect();
    unique.sort();
    unique.dedup();
    let found: Vec<String> =
        teams::table.filter(teams::tenant_id.eq(tenant).and(teams::id.eq_any(&unique))).select(teams::id).load(conn)?;
    if let Some(missing) = unique.iter().find(|t| !found.contains(t)) {
        return Err(ApiError::validation("team_ids", format!("no team `{missing}` in this tenant")));
    }
    diesel::delete(agent_teams::table.filter(agent_teams::tenant_id.eq(tenant).and(agent_teams::agent_id.eq(agent))))
        .execute(conn)?;
    for team in unique {
        diesel::insert_into(agent_teams::table)
            .values((agent_teams::tenant_id.eq(tenant), agent_teams::agent_id.eq(agent), agent_teams::team_id.eq(team)))
            .execute(conn)?;
    }
    Ok(())
}

fn views(conn: &mut DbConn, tenant: &str, rows: Vec<AgentRow>) -> Result<Vec<AgentView>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut roles = roles_of(conn, tenant, &ids)?;
    let mut teams = teams_of(conn, tenant, &ids)?;
    let issuers: HashMap<String, String> = agent_idp_providers::table
        .filter(agent_idp_providers::tenant_id.eq(tenant))
        .select((agent_idp_providers::id, agent_idp_providers::issuer))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut views = Vec::with_capacity(rows.len());
    for r in rows {
        let last_activity_at: Option<NaiveDateTime> = mcp_audit::table
            .filter(mcp_audit::tenant_id.eq(tenant).and(mcp_audit::agent_id.eq(&r.id)))
            .select(diesel::dsl::max(mcp_audit::created_at))
            .first(conn)?;
        let status = if r.retired_at.is_some() {
            "retired"
        } else if r.active {
            "active"
        } else {
            "inactive"
        };
        views.push(AgentView {
            idp_issuer: r.idp_id.as_ref().and_then(|i| issuers.get(i).cloned()),
            roles: roles.remove(&r.id).unwrap_or_default(),
            team_ids: teams.remove(&r.id).unwrap_or_default(),
            attributes: attributes_of(&r.id, &r.attributes),
            id: r.id,
            name: r.name,
            description: r.description,
            idp_id: r.idp_id,
            subject: r.subject,
            status,
            active: r.active,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            retired_at: r.retired_at,
            last_activity_at,
        });
    }
    Ok(views)
}

fn load_row(conn: &mut DbConn, tenant: &str, id: &str) -> Result<AgentRow, ApiError> {
    agents::table
        .filter(agents::tenant_id.eq(tenant).and(agents::id.eq(id)))
        .select(AgentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No agent with this id."))
}

fn view(conn: &mut DbConn, tenant: &str, id: &str) -> Result<AgentView, ApiError> {
    let row = load_row(conn, tenant, id)?;
    views(conn, tenant, vec![row])?.pop().ok_or_else(|| ApiError::not_found("No agent with this id."))
}

/// Checks that every role exists in the tenant (400 naming the first that does not), and that none
/// can act on identities (409 naming the role and its privileged permissions): an agent is never
/// given a role through which it could create, change or delete users or roles.
fn check_roles(conn: &mut DbConn, tenant: &str, role_ids: &[String]) -> Result<(), ApiError> {
    use alga_core::schema::role_permissions;
    let found: Vec<(String, String)> = roles::table
        .filter(roles::tenant_id.eq(tenant).and(roles::id.eq_any(role_ids)))
        .select((roles::id, roles::name))
        .load(conn)?;
    if let Some(missing) = role_ids.iter().find(|r| !found.iter().any(|(id, _)| id == *r)) {
        return Err(ApiError::validation("role_ids", format!("no role `{missing}` in this tenant")));
    }
    let grants: Vec<(String, String, String)> = role_permissions::table
        .filter(role_permissions::tenant_id.eq(tenant).and(role_permissions::role_id.eq_any(role_ids)))
        .select((role_permissions::role_id, role_permissions::resource, role_permissions::action))
        .order((role_permissions::role_id, role_permissions::resource, role_permissions::action))
        .load(conn)?;
    for (id, name) in &found {
        let privileged: Vec<String> = grants
            .iter()
            .filter(|(role, _, _)| role == id)
            .filter_map(|(_, r, a)| alga_core::Permission::parse(r, a))
            .filter(|p| p.privileged())
            .map(|p| p.to_string())
            .collect();
        if !privileged.is_empty() {
            return Err(ApiError::conflict(format!(
                "The role {name} cannot be given to an agent: it grants {}, which act on identities and are for people only.",
                privileged.join(", ")
            ))
            .with_details(json!({ "role_id": id, "permissions": privileged })));
        }
    }
    Ok(())
}

fn set_roles(conn: &mut DbConn, tenant: &str, agent: &str, role_ids: &[String]) -> Result<(), ApiError> {
    check_roles(conn, tenant, role_ids)?;
    diesel::delete(agent_roles::table.filter(agent_roles::tenant_id.eq(tenant).and(agent_roles::agent_id.eq(agent))))
        .execute(conn)?;
    let mut unique: Vec<&String> = role_ids.iter().collect();
    unique.sort();
    unique.dedup();
    for role in unique {
        diesel::insert_into(agent_roles::table)
            .values((agent_roles::tenant_id.eq(tenant), agent_roles::agent_id.eq(agent), agent_roles::role_id.eq(role)))
            .execute(conn)?;
    }
    Ok(())
}

fn text(field: &str, value: &str, max: usize, required: bool) -> Result<String, ApiError> {
    if required {
        alga_api::model::required_text(field, value, max)
    } else {
        Ok(alga_api::model::optional_text(field, Some(value), max)?.unwrap_or_default())
    }
}

async fn list(admin: Admin, ctx: web::Data<AppContext>, q: web::Query<ListAgents>) -> Result<HttpResponse, ApiError> {
    let data = list_agents(&ctx, admin.tenant(), q.include_retired.unwrap_or(false)).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

/// The tenant's agents by name, retired ones only when asked.
pub async fn list_agents(ctx: &AppContext, tenant: &str, include_retired: bool) -> Result<Vec<AgentView>, ApiError> {
    let tenant = tenant.to_owned();
    ctx.db
        .run(move |conn| {
            let mut query = agents::table.filter(agents::tenant_id.eq(&tenant)).into_boxed();
            if !include_retired {
                query = query.filter(agents::retired_at.is_null());
            }
            let rows = query.order((agents::name, agents::id)).select(AgentRow::as_select()).load(conn)?;
            views(conn, &tenant, rows)
        })
        .await
}

async fn get(admin: Admin, ctx: web::Data<AppContext>, path: web::Path<IdPath>) -> Result<HttpResponse, ApiError> {
    let data = get_agent(&ctx, admin.tenant(), &path.into_inner().id).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

/// One agent of the tenant, or 404.
pub async fn get_agent(ctx: &AppContext, tenant: &str, id: &str) -> Result<AgentView, ApiError> {
    let (tenant, id) = (tenant.to_owned(), id.to_owned());
    ctx.db.run(move |conn| view(conn, &tenant, &id)).await
}

async fn create(
    admin: Admin,
    ctx: web::Data<AppContext>,
    body: web::Json<CreateAgent>,
) -> Result<HttpResponse, ApiError> {
    let data = create_agent(&ctx, &admin.0, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(json!({ "data": data })))
}

/// Creates an agent with roles, bound to (IdP, subject) or to nothing (API keys only); 409
/// naming the agent that already holds the binding.
pub async fn create_agent(ctx: &AppContext, who: &Arc<Principal>, b: CreateAgent) -> Result<AgentView, ApiError> {
    let name = text("name", &b.name, 200, true)?;
    let description = text("description", &b.description, 2000, false)?;
    let subject = b.subject.as_deref().map(|s| text("subject", s, 512, true)).transpose()?;
    if b.idp_id.is_some() != subject.is_some() {
        return Err(ApiError::validation("subject", "idp_id and subject go together: give both or neither"));
    }
    let attributes = checked_attributes(&b.attributes)?;
    let (tenant, who) = (who.tenant_id.clone(), who.clone());
    let created_by = who.user_id().map(str::to_owned);
    let data = ctx
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                if let Some(idp) = &b.idp_id {
                    crate::idp::load(conn, &tenant, idp)
                        .map_err(|_| ApiError::validation("idp_id", "no identity provider with this id"))?;
                }
                if let (Some(idp), Some(subject)) = (&b.idp_id, &subject) {
                    holder_conflict(conn, &tenant, idp, subject, None)?;
                }
                let id = new_id();
                let at = now();
                diesel::insert_into(agents::table)
                    .values((
                        agents::tenant_id.eq(&tenant),
                        agents::id.eq(&id),
                        agents::name.eq(&name),
                        agents::description.eq(&description),
                        agents::idp_id.eq(&b.idp_id),
                        agents::subject.eq(&subject),
                        agents::active.eq(true),
                        agents::created_by.eq(&created_by),
                        agents::created_at.eq(at),
                        agents::updated_at.eq(at),
                        agents::attributes.eq(&attributes),
                    ))
                    .execute(conn)
                    .map_err(binding_taken)?;
                set_roles(conn, &tenant, &id, &b.role_ids)?;
                set_teams(conn, &tenant, &id, &b.team_ids)?;
                let created = view(conn, &tenant, &id)?;
                audited(conn, &who, "agent.create", "agent", &id, None, json_of(&created))?;
                Ok::<_, ApiError>(created)
            })
        })
        .await?;
    tracing::info!(agent = %data.id, "agent created");
    Ok(data)
}

/// The unique index's word on a binding taken meanwhile.
fn binding_taken(e: diesel::result::Error) -> ApiError {
    ApiError::from_unique(e, || "Another agent already holds this binding.".to_owned())
}

/// 409 naming the live agent (other than `except`) that already holds (IdP, subject).
fn holder_conflict(
    conn: &mut DbConn,
    tenant: &str,
    idp: &str,
    subject: &str,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let mut query = agents::table
        .filter(agents::tenant_id.eq(tenant).and(agents::idp_id.eq(idp)).and(agents::subject.eq(subject)))
        .filter(agents::retired_at.is_null())
        .select((agents::id, agents::name))
        .into_boxed();
    if let Some(except) = except {
        query = query.filter(agents::id.ne(except));
    }
    let holder: Option<(String, String)> = query.first(conn).optional()?;
    match holder {
        Some((id, name)) => Err(ApiError::conflict(format!(
            "The agent `{name}` already holds this identity provider and subject; retire it, or bind it elsewhere \
             (PATCH /api/v1/mcp/agents/{id} with idp_id and subject), first."
        ))
        .with_details(json!({ "agent_id": id, "agent_name": name }))),
        None => Ok(()),
    }
}

async fn update(
    admin: Admin,
    ctx: web::Data<AppContext>,
    path: web::Path<IdPath>,
    body: web::Json<PatchAgent>,
) -> Result<HttpResponse, ApiError> {
    let (update, binding) = body.into_inner().split()?;
    let data = change_agent(&ctx, &admin.0, &path.into_inner().id, update, binding).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

/// Changes an agent's name, description, roles or status (not a retired agent's).
pub async fn update_agent(
    ctx: &AppContext,
    who: &Arc<Principal>,
    id: &str,
    b: UpdateAgent,
) -> Result<AgentView, ApiError> {
    change_agent(ctx, who, id, b, None).await
}

/// [`update_agent`], and a new binding when one is given: checked as at creation (the provider
/// is the tenant's, the subject a non-empty text), 409 naming the live agent that holds it. One
/// transaction, one row of the admin audit with the binding before and after.
pub async fn change_agent(
    ctx: &AppContext,
    who: &Arc<Principal>,
    id: &str,
    b: UpdateAgent,
    binding: Option<Binding>,
) -> Result<AgentView, ApiError> {
    let name = b.name.as_deref().map(|n| text("name", n, 200, true)).transpose()?;
    let description = b.description.as_deref().map(|d| text("description", d, 2000, false)).transpose()?;
    let binding = match binding {
        Some(Binding { idp_id, subject }) => Some(Binding { subject: text("subject", &subject, 512, true)?, idp_id }),
        None => None,
    };
    let attributes = b.attributes.as_ref().map(checked_attributes).transpose()?;
    let (tenant, id, who) = (who.tenant_id.clone(), id.to_owned(), who.clone());
    ctx.db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                alga_core::lock_row!(conn, agents, &tenant, &id);
                let row = load_row(conn, &tenant, &id)?;
                if row.retired_at.is_some() {
                    return Err(ApiError::conflict("This agent is retired; it cannot change."));
                }
                let before = json_of(&view(conn, &tenant, &id)?);
                if let Some(Binding { idp_id, subject }) = &binding {
                    crate::idp::load(conn, &tenant, idp_id)
                        .map_err(|_| ApiError::validation("idp_id", "no identity provider with this id"))?;
                    holder_conflict(conn, &tenant, idp_id, subject, Some(&id))?;
                }
                // Only a live agent changes: a retirement committed since the check above (on
                // PostgreSQL, another transaction) leaves the row alone.
                let live = agents::table
                    .filter(agents::tenant_id.eq(&tenant).and(agents::id.eq(&id)).and(agents::retired_at.is_null()));
                let changed = diesel::update(live)
                    .set((
                        name.map(|n| agents::name.eq(n)),
                        description.map(|d| agents::description.eq(d)),
                        b.active.map(|a| agents::active.eq(a)),
                        binding.as_ref().map(|b| agents::idp_id.eq(&b.idp_id)),
                        binding.as_ref().map(|b| agents::subject.eq(&b.subject)),
                        attributes.as_ref().map(|a| agents::attributes.eq(a)),
                        agents::updated_at.eq(now()),
                    ))
                    .execute(conn)
                    .map_err(binding_taken)?;
                if changed == 0 {
                    return Err(ApiError::conflict("This agent is retired; it cannot change."));
                }
                if let Some(role_ids) = &b.role_ids {
                    set_roles(conn, &tenant, &id, role_ids)?;
                }
                if let Some(team_ids) = &b.team_ids {
                    set_teams(conn, &tenant, &id, team_ids)?;
                }
                let after = view(conn, &tenant, &id)?;
                audited(conn, &who, "agent.update", "agent", &id, before, json_of(&after))?;
                Ok::<_, ApiError>(after)
            })
        })
        .await
}

async fn retire(admin: Admin, ctx: web::Data<AppContext>, path: web::Path<IdPath>) -> Result<HttpResponse, ApiError> {
    let data = retire_agent(&ctx, &admin.0, &path.into_inner().id).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

/// Retires an agent: it stops working at once, its keys are revoked, its audit stays.
pub async fn retire_agent(ctx: &AppContext, who: &Arc<Principal>, id: &str) -> Result<AgentView, ApiError> {
    let (tenant, id, who) = (who.tenant_id.clone(), id.to_owned(), who.clone());
    ctx.db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let row = load_row(conn, &tenant, &id)?;
                if row.retired_at.is_none() {
                    let before = json_of(&view(conn, &tenant, &id)?);
                    let at = now();
                    diesel::update(agents::table.filter(agents::tenant_id.eq(&tenant).and(agents::id.eq(&id))))
                        .set((agents::active.eq(false), agents::retired_at.eq(at), agents::updated_at.eq(at)))
                        .execute(conn)?;
                    diesel::update(
                        agent_api_keys::table
                            .filter(agent_api_keys::tenant_id.eq(&tenant).and(agent_api_keys::agent_id.eq(&id)))
                            .filter(agent_api_keys::revoked_at.is_null()),
                    )
                    .set(agent_api_keys::revoked_at.eq(at))
                    .execute(conn)?;
                    let after = json_of(&view(conn, &tenant, &id)?);
                    audited(conn, &who, "agent.retire", "agent", &id, before, after)?;
                }
                view(conn, &tenant, &id)
            })
        })
        .await
}

/// The tenant's teams an agent may serve, as (id, name) by name.
pub async fn tenant_teams(ctx: &AppContext, tenant: &str) -> Result<Vec<(String, String)>, ApiError> {
    use alga_core::schema::teams;
    let tenant = tenant.to_owned();
    ctx.db
        .run(move |conn| {
            Ok(teams::table
                .filter(teams::tenant_id.eq(&tenant))
                .order((teams::name, teams::id))
                .select((teams::id, teams::name))
                .load(conn)?)
        })
        .await
}

async fn roles_list(admin: Admin, ctx: web::Data<AppContext>) -> Result<HttpResponse, ApiError> {
    let data = assignable_roles(&ctx, admin.tenant()).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

/// The tenant's roles an agent may be given (none that acts on identities), by name.
pub async fn assignable_roles(ctx: &AppContext, tenant: &str) -> Result<Vec<RoleInfo>, ApiError> {
    use alga_core::schema::role_permissions;
    let tenant = tenant.to_owned();
    ctx.db
        .run(move |conn| {
            let all: Vec<RoleInfo> = roles::table
                .filter(roles::tenant_id.eq(&tenant))
                .order(roles::name)
                .select((roles::id, roles::name, roles::description, roles::built_in))
                .load(conn)?;
            let grants: Vec<(String, String, String)> = role_permissions::table
                .filter(role_permissions::tenant_id.eq(&tenant))
                .select((role_permissions::role_id, role_permissions::resource, role_permissions::action))
                .load(conn)?;
            let privileged = |role: &str| {
                grants
                    .iter()
                    .any(|(id, r, a)| id == role && alga_core::Permission::parse(r, a).is_some_and(|p| p.privileged()))
            };
            Ok::<_, ApiError>(all.into_iter().filter(|r| !privileged(&r.id)).collect())
        })
        .await
}

async fn create_key(
    admin: Admin,
    ctx: web::Data<AppContext>,
    path: web::Path<IdPath>,
    body: web::Json<CreateKey>,
) -> Result<HttpResponse, ApiError> {
    let (plaintext, key) = create_agent_key(&ctx, &admin.0, &path.into_inner().id, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(json!({ "data": { "key": plaintext, "info": key } })))
}

/// A new API key for an agent: its plaintext (to show once) and what is stored of it.
pub async fn create_agent_key(
    ctx: &AppContext,
    who: &Arc<Principal>,
    id: &str,
    b: CreateKey,
) -> Result<(String, KeyView), ApiError> {
    let Some(expires_at) = b.expires_at else {
        return Err(ApiError::validation("expires_at", "is required: agent keys expire within a year"));
    };
    let expires_at = expires_at.naive_utc();
    let at = now();
    if expires_at <= at {
        return Err(ApiError::validation("expires_at", "must be in the future"));
    }
    if expires_at > at + Duration::days(MAX_KEY_LIFETIME_DAYS) {
        return Err(ApiError::validation("expires_at", "must be at most one year ahead"));
    }
    let description = text("description", &b.description, 200, false)?;
    let plaintext = generate_api_key()?;
    let (tenant, id, who) = (who.tenant_id.clone(), id.to_owned(), who.clone());
    let hash = key_hash(&plaintext);
    let prefix = key_prefix(&plaintext);
    let key = ctx
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let row = load_row(conn, &tenant, &id)?;
                if row.retired_at.is_some() {
                    return Err(ApiError::conflict("This agent is retired; it cannot get keys."));
                }
                let key_id = new_id();
                diesel::insert_into(agent_api_keys::table)
                    .values((
                        agent_api_keys::tenant_id.eq(&tenant),
                        agent_api_keys::id.eq(&key_id),
                        agent_api_keys::key_hash.eq(&hash),
                        agent_api_keys::prefix.eq(&prefix),
                        agent_api_keys::agent_id.eq(&id),
                        agent_api_keys::description.eq(&description),
                        agent_api_keys::purpose.eq("agent"),
                        agent_api_keys::created_at.eq(at),
                        agent_api_keys::expires_at.eq(expires_at),
                    ))
                    .execute(conn)?;
                let key = load_key(conn, &tenant, &id, &key_id)?;
                audited(conn, &who, "agent_key.create", "api_key", &key_id, None, json_of(&key))?;
                Ok::<_, ApiError>(key)
            })
        })
        .await?;
    Ok((plaintext, key))
}

fn load_key(conn: &mut DbConn, tenant: &str, agent: &str, key: &str) -> Result<KeyView, ApiError> {
    agent_api_keys::table
        .filter(agent_api_keys::tenant_id.eq(tenant).and(agent_api_keys::agent_id.eq(agent)))
        .filter(agent_api_keys::id.eq(key))
        .select(KeyView::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No such key for this agent."))
}

async fn list_keys(
    admin: Admin,
    ctx: web::Data<AppContext>,
    path: web::Path<IdPath>,
) -> Result<HttpResponse, ApiError> {
    let data = agent_keys(&ctx, admin.tenant(), &path.into_inner().id).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

/// An agent's keys, newest first, revoked and expired ones included.
pub async fn agent_keys(ctx: &AppContext, tenant: &str, id: &str) -> Result<Vec<KeyView>, ApiError> {
    let (tenant, id) = (tenant.to_owned(), id.to_owned());
    ctx.db
        .run(move |conn| {
            load_row(conn, &tenant, &id)?;
            Ok::<_, ApiError>(
                agent_api_keys::table
                    .filter(agent_api_keys::tenant_id.eq(&tenant).and(agent_api_keys::agent_id.eq(&id)))
                    .order((agent_api_keys::created_at.desc(), agent_api_keys::id))
                    .select(KeyView::as_select())
                    .load(conn)?,
            )
        })
        .await
}

async fn revoke_key(
    admin: Admin,
    ctx: web::Data<AppContext>,
    path: web::Path<KeyPath>,
) -> Result<HttpResponse, ApiError> {
    let p = path.into_inner();
    revoke_agent_key(&ctx, &admin.0, &p.id, &p.key_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Revokes one of an agent's keys: it stops working on its next use.
pub async fn revoke_agent_key(ctx: &AppContext, who: &Arc<Principal>, agent: &str, key: &str) -> Result<(), ApiError> {
    let (tenant, agent, key, who) = (who.tenant_id.clone(), agent.to_owned(), key.to_owned(), who.clone());
    ctx.db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let before = json_of(&load_key(conn, &tenant, &agent, &key)?);
                identity::revoke_api_key(conn, Some(&tenant), &key)?;
                let after = json_of(&load_key(conn, &tenant, &agent, &key)?);
                audited(conn, &who, "agent_key.revoke", "api_key", &key, before, after)
            })
        })
        .await
}

/// The names of the agents (retired ones too) holding a role.
pub fn holders_of_role(conn: &mut DbConn, tenant: &str, role: &str) -> Result<Vec<String>, ApiError> {
    Ok(agent_roles::table
        .inner_join(
            agents::table.on(agents::tenant_id.eq(agent_roles::tenant_id).and(agents::id.eq(agent_roles::agent_id))),
        )
        .filter(agent_roles::tenant_id.eq(tenant).and(agent_roles::role_id.eq(role)))
        .order(agents::name)
        .select(agents::name)
        .load(conn)?)
}

/// Records a change in the admin audit, in the transaction making it.
pub(crate) fn audited(
    conn: &mut DbConn,
    who: &Principal,
    action: &str,
    target_kind: &str,
    target_id: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), ApiError> {
    let change = admin_audit::Change { action, target_kind, target_id, before, after };
    admin_audit::record(conn, &who.tenant_id, admin_audit::Who::Principal(who), change)
}

/// An agent as authentication reads it, with its tenant's slug.
#[derive(Debug, Clone, Queryable)]
pub struct LiveAgent {
    pub tenant_id: String,
    pub id: String,
    pub name: String,
    pub active: bool,
    pub retired_at: Option<NaiveDateTime>,
    pub tenant_slug: String,
}

/// The columns of [`LiveAgent`], for queries that join `agents` with `tenant_slugs`.
pub type LiveAgentColumns =
    (agents::tenant_id, agents::id, agents::name, agents::active, agents::retired_at, tenant_slugs::slug);
pub const LIVE_AGENT: LiveAgentColumns =
    (agents::tenant_id, agents::id, agents::name, agents::active, agents::retired_at, tenant_slugs::slug);

/// `$agents` (a query that joins `agents`) left-joined with the agent's roles and their grants:
/// one row per grant, so that authentication reads an agent and its permissions in one round trip.
macro_rules! with_grants {
    ($agents:expr) => {
        $agents
            .left_join(
                agent_roles::table
                    .on(agent_roles::tenant_id.eq(agents::tenant_id).and(agent_roles::agent_id.eq(agents::id))),
            )
            .left_join(
                role_names::table
                    .on(role_names::tenant_id.eq(agent_roles::tenant_id).and(role_names::id.eq(agent_roles::role_id))),
            )
            .left_join(role_grants::table.on(
                role_grants::tenant_id.eq(agent_roles::tenant_id).and(role_grants::role_id.eq(agent_roles::role_id)),
            ))
            .order((role_names::name, role_names::id))
    };
}
pub(crate) use with_grants;

/// The columns [`with_grants`] adds, read as [`Grant`].
macro_rules! grant_columns {
    () => {
        (
            role_names::id.nullable(),
            role_names::name.nullable(),
            role_grants::resource.nullable(),
            role_grants::action.nullable(),
        )
    };
}
pub(crate) use grant_columns;

/// One row of [`grant_columns`]: role id and name (none without roles), resource and action
/// (none for a role that grants nothing).
pub type Grant = (Option<String>, Option<String>, Option<String>, Option<String>);

/// An agent and its grants as read through [`with_grants`], as a principal; `None` when it is
/// inactive or retired.
pub fn principal_of(
    row: LiveAgent,
    grants: impl IntoIterator<Item = Grant>,
    api_key_id: Option<String>,
) -> Option<Principal> {
    if !row.active || row.retired_at.is_some() {
        return None;
    }
    let mut roles: Vec<RoleRef> = Vec::new();
    let mut permissions = alga_core::rbac::PermissionSet::default();
    for (id, name, resource, action) in grants {
        if let (Some(id), Some(name)) = (id, name)
            && roles.last().is_none_or(|r| r.id != id)
        {
            roles.push(RoleRef { id, name });
        }
        if let (Some(resource), Some(action)) = (resource, action)
            && let Some(p) = alga_core::Permission::parse(&resource, &action)
        {
            permissions.insert(p);
        }
    }
    Some(Principal {
        tenant_id: row.tenant_id,
        tenant_slug: row.tenant_slug,
        actor: Actor::Agent { id: row.id, name: row.name },
        api_key_id,
        roles,
        permissions,
    })
}

pub fn routes(table: &mut RouteTable) {
    table
        .get("/api/v1/mcp/agents", list)
        .post("/api/v1/mcp/agents", create)
        .get("/api/v1/mcp/agents/{id}", get)
        .patch("/api/v1/mcp/agents/{id}", update)
        .delete("/api/v1/mcp/agents/{id}", retire)
        .get("/api/v1/mcp/agents/{id}/keys", list_keys)
        .post("/api/v1/mcp/agents/{id}/keys", create_key)
        .delete("/api/v1/mcp/agents/{id}/keys/{key_id}", revoke_key)
        .get("/api/v1/mcp/roles", roles_list);
}
