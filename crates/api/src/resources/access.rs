//! Users, roles, permissions and API keys.
//!
//! Two rules keep delegation safe: nobody grants a permission they do not hold themselves (through
//! a role they create, edit or assign), and nobody changes their own roles or deletes themselves.
//! Every change here drops the cached API-key grants, so it takes effect on the next request.

use std::collections::HashMap;

use alga_core::admin_audit::{self, json_of};
use alga_core::identity::{self, ApiKey, NewUser, RoleRef};
use alga_core::rbac::{BuiltInRole, Permission, PermissionSet, all_permissions};
use alga_core::schema::{api_keys, role_permissions, roles, user_roles, users};
use alga_core::{Action, ApiError, DbConn, Resource};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::grants_now::{CallerNow, holds_now, permissions_of_roles, standing};
use crate::model::{
    Data, IdPath, NoContent, Page, PageRequest, data, like_pattern, lower, required_text, to_naive, utc, utc_opt,
};

// Example request bodies, shown in the OpenAPI document.
const EXAMPLE_USERS_CREATE: &str =
    r#"{"email":"sam@msp.example","display_name":"Sam Tech","role_ids":["<Technician role id>"]}"#;
const EXAMPLE_USERS_UPDATE: &str = r#"{"active":false}"#;
const EXAMPLE_USERS_ROLES_SET: &str = r#"{"role_ids":["<role id>"]}"#;
const EXAMPLE_ROLES_CREATE: &str = r#"{"name":"Dispatcher","description":"Triage and assign tickets","permissions":["ticket:read","ticket:update","client:read"]}"#;
const EXAMPLE_ROLES_UPDATE: &str = r#"{"permissions":["ticket:read"]}"#;
const EXAMPLE_API_KEYS_CREATE: &str = r#"{"description":"Reporting script","expires_at":"2027-06-30T00:00:00Z"}"#;

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new("users.list", Method::Get, "/api/v1/users", Access::needs(Resource::User, Action::Read))
                .doc(
                    "List users",
                    "The tenant's users with their roles. Filter by text in the name or email, or by active.",
                )
                .tags(&["Users"]),
            list_users,
        ),
        op(
            Meta::new("users.create", Method::Post, "/api/v1/users", Access::needs(Resource::User, Action::Create))
                .doc(
                    "Create a user",
                    "Adds a user with roles. You can only give roles whose permissions you hold yourself.",
                )
                .tags(&["Users"])
                .example(EXAMPLE_USERS_CREATE),
            create_user,
        ),
        op(
            Meta::new("users.get", Method::Get, "/api/v1/users/{id}", Access::needs(Resource::User, Action::Read))
                .doc("Get a user", "One user by id, with roles.")
                .tags(&["Users"]),
            get_user,
        ),
        op(
            Meta::new("users.update", Method::Put, "/api/v1/users/{id}", Access::needs(Resource::User, Action::Update))
                .doc(
                    "Update a user",
                    "Changes name, email, password or whether the user is active. A deactivated user's API \
                 keys stop working at once. A new password ends the user's admin UI sessions; set for \
                 someone else, it is one-time (it signs in to the admin UI only to choose their own).",
                )
                .tags(&["Users"])
                .example(EXAMPLE_USERS_UPDATE),
            update_user,
        ),
        op(
            Meta::new(
                "users.delete",
                Method::Delete,
                "/api/v1/users/{id}",
                Access::needs(Resource::User, Action::Delete),
            )
            .doc(
                "Delete a user",
                "Deletes a user; a user that tickets, comments or time entries refer to is deactivated \
                 instead (`outcome` says which).",
            )
            .tags(&["Users"])
            .status(200),
            delete_user,
        ),
        op(
            Meta::new(
                "users.roles.set",
                Method::Put,
                "/api/v1/users/{id}/roles",
                Access::needs(Resource::User, Action::Update),
            )
            .doc(
                "Set a user's roles",
                "Replaces a user's roles. You can only give roles whose permissions you hold, and cannot \
                 change your own roles.",
            )
            .tags(&["Users"])
            .example(EXAMPLE_USERS_ROLES_SET),
            set_roles,
        ),
        op(
            Meta::new("roles.list", Method::Get, "/api/v1/roles", Access::needs(Resource::Role, Action::Read))
                .doc("List roles", "Built-in and custom roles with their permissions.")
                .tags(&["Roles"]),
            list_roles,
        ),
        op(
            Meta::new("roles.create", Method::Post, "/api/v1/roles", Access::needs(Resource::Role, Action::Create))
                .doc("Create a role", "Adds a custom role from `resource:action` permissions you hold yourself.")
                .tags(&["Roles"])
                .example(EXAMPLE_ROLES_CREATE),
            create_role,
        ),
        op(
            Meta::new("roles.get", Method::Get, "/api/v1/roles/{id}", Access::needs(Resource::Role, Action::Read))
                .doc("Get a role", "One role by id.")
                .tags(&["Roles"]),
            get_role,
        ),
        op(
            Meta::new("roles.update", Method::Put, "/api/v1/roles/{id}", Access::needs(Resource::Role, Action::Update))
                .doc(
                    "Update a role",
                    "Renames a custom role or replaces its permissions; built-in roles cannot be changed.",
                )
                .tags(&["Roles"])
                .example(EXAMPLE_ROLES_UPDATE),
            update_role,
        ),
        op(
            Meta::new(
                "roles.delete",
                Method::Delete,
                "/api/v1/roles/{id}",
                Access::needs(Resource::Role, Action::Delete),
            )
            .doc("Delete a role", "Deletes a custom role no user has; built-in roles cannot be deleted.")
            .tags(&["Roles"]),
            delete_role,
        ),
        op(
            Meta::new(
                "permissions.list",
                Method::Get,
                "/api/v1/permissions",
                Access::needs(Resource::Role, Action::Read),
            )
            .doc("List permissions", "Every (resource, action) permission roles are made of.")
            .tags(&["Roles"]),
            list_permissions,
        ),
        op(
            Meta::new("api_keys.list", Method::Get, "/api/v1/api-keys", Access::needs(Resource::ApiKey, Action::Read))
                .doc(
                    "List API keys",
                    "Your API keys; users who can manage users see everyone's (filter with `user_id`). Keys \
                 themselves are never shown again.",
                )
                .tags(&["API keys"]),
            list_keys,
        ),
        op(
            Meta::new(
                "api_keys.create",
                Method::Post,
                "/api/v1/api-keys",
                Access::needs(Resource::ApiKey, Action::Create),
            )
            .doc(
                "Create an API key",
                "Issues an API key for you (or, if you can manage users, for `user_id`). The key is in \
                 the answer once and never again.",
            )
            .tags(&["API keys"])
            .example(EXAMPLE_API_KEYS_CREATE),
            create_key,
        ),
        op(
            Meta::new(
                "api_keys.delete",
                Method::Delete,
                "/api/v1/api-keys/{id}",
                Access::needs(Resource::ApiKey, Action::Delete),
            )
            .doc("Revoke an API key", "Revokes a key at once: your own, or anyone's if you can manage users.")
            .tags(&["API keys"]),
            revoke_key,
        ),
    ])
}

/// Holding `user:update` is what "can manage users" means: such callers manage others' keys too.
const MANAGE_USERS: Permission = Permission::new(Resource::User, Action::Update);

/// Nobody grants what they do not hold, by the grants committed now; and only an Admin hands out
/// the built-in Admin role.
fn no_escalation(conn: &mut DbConn, ctx: &Ctx, wanted: PermissionSet, role_ids: &[String]) -> Result<(), ApiError> {
    let caller = CallerNow::read(conn, ctx)?;
    if let Some(p) = wanted.iter().find(|p| !caller.holds(*p)) {
        return Err(ApiError::forbidden(format!("You cannot grant {p}: you do not hold it yourself.")));
    }
    let admin_role: Option<String> = roles::table
        .filter(roles::tenant_id.eq(ctx.tenant()).and(roles::built_in.eq(true)))
        .filter(roles::name.eq(BuiltInRole::Admin.name()))
        .select(roles::id)
        .first(conn)
        .optional()?;
    if admin_role.is_some_and(|admin| role_ids.contains(&admin)) && !caller.admin {
        return Err(ApiError::forbidden("Only an Admin may give the Admin role."));
    }
    Ok(())
}

// ---- users ----

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub active: bool,
    pub roles: Vec<RoleRef>,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

type UserRow = (String, String, String, bool, NaiveDateTime, NaiveDateTime);

fn user_columns() -> (users::id, users::email, users::display_name, users::active, users::created_at, users::updated_at)
{
    (users::id, users::email, users::display_name, users::active, users::created_at, users::updated_at)
}

/// Users with their roles, one query for the roles of all of them.
fn with_roles(conn: &mut DbConn, tenant: &str, rows: Vec<UserRow>) -> Result<Vec<User>, ApiError> {
    let ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let pairs: Vec<(String, String, String)> = user_roles::table
        .inner_join(roles::table.on(roles::tenant_id.eq(user_roles::tenant_id).and(roles::id.eq(user_roles::role_id))))
        .filter(user_roles::tenant_id.eq(tenant).and(user_roles::user_id.eq_any(ids)))
        .order(roles::name)
        .select((user_roles::user_id, roles::id, roles::name))
        .load(conn)?;
    let mut by_user: HashMap<String, Vec<RoleRef>> = HashMap::new();
    for (user, id, name) in pairs {
        by_user.entry(user).or_default().push(RoleRef { id, name });
    }
    Ok(rows
        .into_iter()
        .map(|(id, email, display_name, active, created_at, updated_at)| User {
            roles: by_user.remove(&id).unwrap_or_default(),
            id,
            email,
            display_name,
            active,
            created_at,
            updated_at,
        })
        .collect())
}

fn load_user(conn: &mut DbConn, tenant: &str, id: &str) -> Result<User, ApiError> {
    let row: UserRow = users::table
        .filter(users::tenant_id.eq(tenant).and(users::id.eq(id)))
        .select(user_columns())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No user with this id."))?;
    with_roles(conn, tenant, vec![row])?.pop().ok_or_else(|| ApiError::not_found("No user with this id."))
}

/// Records a change to who may do what, in the transaction making it (the admin audit).
fn audited(conn: &mut DbConn, ctx: &Ctx, change: admin_audit::Change<'_>) -> Result<(), ApiError> {
    admin_audit::record(conn, ctx.tenant(), admin_audit::Who::Principal(&ctx.principal), change)
}

fn change<'a>(
    action: &'a str,
    target_kind: &'a str,
    target_id: &'a str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> admin_audit::Change<'a> {
    admin_audit::Change { action, target_kind, target_id, before, after }
}

/// Acting on another user's account (password, email, active flag, roles, keys, deletion) needs
/// every permission that user holds, and only an Admin may act on an Admin: nobody gains, through
/// someone else's account, what they do not hold. Read in the transaction that makes the change.
fn may_manage(conn: &mut DbConn, ctx: &Ctx, target: &str) -> Result<(), ApiError> {
    let (held, target_admin) = standing(conn, ctx.tenant(), target)?;
    let caller = CallerNow::read(conn, ctx)?;
    if target_admin && !caller.admin {
        return Err(ApiError::forbidden("Only an Admin may change an Admin's account."));
    }
    match held.iter().find(|p| !caller.holds(*p)) {
        Some(p) => Err(ApiError::forbidden(format!(
            "You cannot change this user's account: they hold {p}, which you do not hold yourself."
        ))),
        None => Ok(()),
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListUsers {
    /// Text to find in the name or email (case-insensitive).
    search: Option<String>,
    active: Option<bool>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

async fn list_users(ctx: Ctx, _: (), q: ListUsers, _: ()) -> Result<Page<User>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let filtered = || {
            let mut query = users::table.filter(users::tenant_id.eq(&tenant)).into_boxed();
            if let Some(text) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                let pattern = like_pattern(text);
                query = query.filter(
                    lower(users::display_name)
                        .like(pattern.clone())
                        .escape('\\')
                        .or(users::email.like(pattern).escape('\\')),
                );
            }
            if let Some(active) = q.active {
                query = query.filter(users::active.eq(active));
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows: Vec<UserRow> = filtered()
            .order((users::display_name, users::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(user_columns())
            .load(conn)?;
        Ok(page.page(with_roles(conn, &tenant, rows)?, total))
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    /// Unique within the tenant (compared in lowercase).
    email: String,
    display_name: String,
    role_ids: Vec<String>,
    /// At least 12 characters; without one the user works through API keys only.
    password: Option<String>,
}

async fn create_user(ctx: Ctx, _: (), _: (), b: CreateUser) -> Result<Data<User>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    let checker = ctx.clone();
    let user = ctx
        .write(move |conn| {
            let wanted = permissions_of_roles(conn, &tenant, &b.role_ids)?;
            no_escalation(conn, &checker, wanted, &b.role_ids)?;
            let id = identity::create_user(
                conn,
                &NewUser {
                    tenant_id: &tenant,
                    email: &b.email,
                    display_name: &b.display_name,
                    password: b.password.as_deref(),
                    role_ids: &b.role_ids,
                },
            )?;
            let user = load_user(conn, &tenant, &id)?;
            let mut after = json_of(&user);
            if let Some(after) = after.as_mut().filter(|_| b.password.is_some()) {
                after["password"] = serde_json::json!("(set)");
            }
            audited(conn, &checker, change("user.create", "user", &id, None, after))?;
            Ok(user)
        })
        .await?;
    Ok(data(user))
}

async fn get_user(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<User>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load_user(conn, &tenant, &p.id).map(data)).await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateUser {
    email: Option<String>,
    display_name: Option<String>,
    active: Option<bool>,
    /// A new password, at least 12 characters. Set for someone else, it is one-time: it signs in
    /// to the admin UI only to choose their own.
    password: Option<String>,
}

async fn update_user(ctx: Ctx, p: IdPath, _: (), b: UpdateUser) -> Result<Data<User>, ApiError> {
    if b.active == Some(false) && ctx.principal.user_id() == Some(p.id.as_str()) {
        return Err(ApiError::conflict("You cannot deactivate yourself."));
    }
    let tenant = ctx.tenant().to_owned();
    let checker = ctx.clone();
    let user = ctx
        .write(move |conn| {
            alga_core::lock_row!(conn, users, &tenant, &p.id);
            let mut u = load_user(conn, &tenant, &p.id)?;
            may_manage(conn, &checker, &p.id)?;
            let before = json_of(&u);
            if let Some(email) = &b.email {
                u.email = identity::normalize_email(email)?;
            }
            if let Some(name) = &b.display_name {
                u.display_name = required_text("display_name", name, 200)?;
            }
            if let Some(active) = b.active {
                u.active = active;
            }
            u.updated_at = identity::now();
            diesel::update(users::table.filter(users::tenant_id.eq(&tenant).and(users::id.eq(&u.id))))
                .set((
                    users::email.eq(&u.email),
                    users::display_name.eq(&u.display_name),
                    users::active.eq(u.active),
                    users::updated_at.eq(u.updated_at),
                ))
                .execute(conn)
                .map_err(|e| ApiError::from_unique(e, || format!("A user with email `{}` already exists.", u.email)))?;
            if let Some(password) = &b.password {
                // A password set for someone else is theirs to replace at their next sign-in.
                let choice = if checker.principal.user_id() == Some(u.id.as_str()) {
                    identity::PasswordChoice::Own
                } else {
                    identity::PasswordChoice::OneTime
                };
                identity::set_password(conn, &tenant, &u.id, password, choice)?;
            }
            let mut after = json_of(&u);
            if let Some(after) = after.as_mut().filter(|_| b.password.is_some()) {
                after["password"] = serde_json::json!("(changed)");
            }
            audited(conn, &checker, change("user.update", "user", &u.id, before, after))?;
            Ok(u)
        })
        .await?;
    ctx.app.auth.invalidate_all();
    Ok(data(user))
}

#[derive(Debug, Serialize, JsonSchema)]
struct Removed {
    id: String,
    /// `deleted`, or `deactivated` when other records refer to the user.
    outcome: String,
}

async fn delete_user(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Removed>, ApiError> {
    if ctx.principal.user_id() == Some(p.id.as_str()) {
        return Err(ApiError::conflict("You cannot delete yourself."));
    }
    let tenant = ctx.tenant().to_owned();
    let checker = ctx.clone();
    let removed = ctx
        .write(move |conn| {
            let before = json_of(&load_user(conn, &tenant, &p.id)?);
            may_manage(conn, &checker, &p.id)?;
            let target = users::table.filter(users::tenant_id.eq(&tenant).and(users::id.eq(&p.id)));
            // A savepoint, so that a refused delete leaves the connection usable on PostgreSQL.
            let deleted = conn.transaction(|conn| diesel::delete(target).execute(conn));
            let outcome = match deleted {
                Ok(_) => "deleted",
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                    _,
                )) => {
                    diesel::update(target)
                        .set((users::active.eq(false), users::updated_at.eq(identity::now())))
                        .execute(conn)?;
                    "deactivated"
                }
                Err(e) => return Err(e.into()),
            };
            let after = if outcome == "deleted" { None } else { json_of(&load_user(conn, &tenant, &p.id)?) };
            audited(conn, &checker, change("user.delete", "user", &p.id, before, after))?;
            Ok(Removed { id: p.id, outcome: outcome.to_owned() })
        })
        .await?;
    ctx.app.auth.invalidate_all();
    Ok(data(removed))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SetRoles {
    role_ids: Vec<String>,
}

async fn set_roles(ctx: Ctx, p: IdPath, _: (), b: SetRoles) -> Result<Data<User>, ApiError> {
    if ctx.principal.user_id() == Some(p.id.as_str()) {
        return Err(ApiError::conflict("You cannot change your own roles."));
    }
    let tenant = ctx.tenant().to_owned();
    let checker = ctx.clone();
    let user = ctx
        .write(move |conn| {
            alga_core::lock_row!(conn, users, &tenant, &p.id);
            let before = json_of(&load_user(conn, &tenant, &p.id)?);
            may_manage(conn, &checker, &p.id)?;
            let wanted = permissions_of_roles(conn, &tenant, &b.role_ids)?;
            no_escalation(conn, &checker, wanted, &b.role_ids)?;
            identity::set_user_roles(conn, &tenant, &p.id, &b.role_ids)?;
            let user = load_user(conn, &tenant, &p.id)?;
            audited(conn, &checker, change("user.roles.set", "user", &p.id, before, json_of(&user)))?;
            Ok(user)
        })
        .await?;
    ctx.app.auth.invalidate_all();
    Ok(data(user))
}

// ---- roles ----

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Built-in roles come with every tenant and cannot be changed or deleted.
    pub built_in: bool,
    /// As `resource:action`.
    pub permissions: Vec<String>,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

type RoleRow = (String, String, String, bool, NaiveDateTime, NaiveDateTime);

fn role_columns() -> (roles::id, roles::name, roles::description, roles::built_in, roles::created_at, roles::updated_at)
{
    (roles::id, roles::name, roles::description, roles::built_in, roles::created_at, roles::updated_at)
}

fn with_permissions(conn: &mut DbConn, tenant: &str, rows: Vec<RoleRow>) -> Result<Vec<Role>, ApiError> {
    let ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let pairs: Vec<(String, String, String)> = role_permissions::table
        .filter(role_permissions::tenant_id.eq(tenant).and(role_permissions::role_id.eq_any(ids)))
        .select((role_permissions::role_id, role_permissions::resource, role_permissions::action))
        .load(conn)?;
    let mut by_role: HashMap<String, PermissionSet> = HashMap::new();
    for (role, r, a) in pairs {
        if let Some(p) = Permission::parse(&r, &a) {
            by_role.entry(role).or_default().insert(p);
        }
    }
    Ok(rows
        .into_iter()
        .map(|(id, name, description, built_in, created_at, updated_at)| Role {
            permissions: by_role.remove(&id).unwrap_or_default().iter().map(|p| p.to_string()).collect(),
            id,
            name,
            description,
            built_in,
            created_at,
            updated_at,
        })
        .collect())
}

fn load_role(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Role, ApiError> {
    let row: RoleRow = roles::table
        .filter(roles::tenant_id.eq(tenant).and(roles::id.eq(id)))
        .select(role_columns())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No role with this id."))?;
    with_permissions(conn, tenant, vec![row])?.pop().ok_or_else(|| ApiError::not_found("No role with this id."))
}

/// `["ticket:read", …]` into a set; an unknown entry is a 400 naming it.
fn parse_permissions(list: &[String]) -> Result<PermissionSet, ApiError> {
    list.iter()
        .map(|text| {
            text.split_once(':').and_then(|(r, a)| Permission::parse(r.trim(), a.trim())).ok_or_else(|| {
                ApiError::validation(
                    "permissions",
                    format!("`{text}` is not a permission; use resource:action, e.g. ticket:read"),
                )
            })
        })
        .collect()
}

#[derive(Debug, Deserialize, JsonSchema)]
struct PageQuery {
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

async fn list_roles(ctx: Ctx, _: (), q: PageQuery, _: ()) -> Result<Page<Role>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let total: i64 = roles::table.filter(roles::tenant_id.eq(&tenant)).count().get_result(conn)?;
        let rows: Vec<RoleRow> = roles::table
            .filter(roles::tenant_id.eq(&tenant))
            .order((roles::built_in.desc(), roles::name))
            .limit(page.limit())
            .offset(page.offset())
            .select(role_columns())
            .load(conn)?;
        Ok(page.page(with_permissions(conn, &tenant, rows)?, total))
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateRole {
    /// Unique within the tenant.
    name: String,
    #[serde(default)]
    description: String,
    /// As `resource:action`, e.g. `ticket:read`.
    permissions: Vec<String>,
}

async fn create_role(ctx: Ctx, _: (), _: (), b: CreateRole) -> Result<Data<Role>, ApiError> {
    let name = required_text("name", &b.name, 100)?;
    let permissions = parse_permissions(&b.permissions)?;
    let tenant = ctx.tenant().to_owned();
    let checker = ctx.clone();
    ctx.write(move |conn| {
        no_escalation(conn, &checker, permissions, &[])?;
        let id = identity::insert_role(conn, &tenant, &name, b.description.trim(), false, permissions)?;
        let role = load_role(conn, &tenant, &id)?;
        audited(conn, &checker, change("role.create", "role", &id, None, json_of(&role)))?;
        Ok(data(role))
    })
    .await
}

async fn get_role(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Role>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load_role(conn, &tenant, &p.id).map(data)).await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateRole {
    name: Option<String>,
    description: Option<String>,
    /// Replaces the role's permissions.
    permissions: Option<Vec<String>>,
}

async fn update_role(ctx: Ctx, p: IdPath, _: (), b: UpdateRole) -> Result<Data<Role>, ApiError> {
    let permissions = b.permissions.as_deref().map(parse_permissions).transpose()?;
    let tenant = ctx.tenant().to_owned();
    let checker = ctx.clone();
    let role = ctx
        .write(move |conn| {
            if let Some(wanted) = permissions {
                no_escalation(conn, &checker, wanted, &[])?;
            }
            alga_core::lock_row!(conn, roles, &tenant, &p.id);
            let mut role = load_role(conn, &tenant, &p.id)?;
            if role.built_in {
                return Err(ApiError::conflict("Built-in roles cannot be changed; create a custom role instead."));
            }
            let before = json_of(&role);
            if let Some(name) = &b.name {
                role.name = required_text("name", name, 100)?;
            }
            if let Some(description) = &b.description {
                role.description = description.trim().to_owned();
            }
            diesel::update(roles::table.filter(roles::tenant_id.eq(&tenant).and(roles::id.eq(&role.id))))
                .set((
                    roles::name.eq(&role.name),
                    roles::description.eq(&role.description),
                    roles::updated_at.eq(identity::now()),
                ))
                .execute(conn)
                .map_err(|e| ApiError::from_unique(e, || format!("A role named `{}` already exists.", role.name)))?;
            if let Some(permissions) = permissions {
                identity::set_role_permissions(conn, &tenant, &role.id, permissions)?;
            }
            let role = load_role(conn, &tenant, &role.id)?;
            audited(conn, &checker, change("role.update", "role", &role.id, before, json_of(&role)))?;
            Ok(role)
        })
        .await?;
    ctx.app.auth.invalidate_all();
    Ok(data(role))
}

async fn delete_role(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    let checker = ctx.clone();
    let other_holders = ctx.app.role_holders;
    ctx.write(move |conn| {
        let role = load_role(conn, &tenant, &p.id)?;
        if role.built_in {
            return Err(ApiError::conflict("Built-in roles cannot be deleted."));
        }
        let holders: i64 = user_roles::table
            .filter(user_roles::tenant_id.eq(&tenant).and(user_roles::role_id.eq(&p.id)))
            .count()
            .get_result(conn)?;
        if holders > 0 {
            return Err(ApiError::conflict(format!("{holders} users have this role; take it away from them first.")));
        }
        let agents = other_holders(conn, &tenant, &p.id)?;
        if !agents.is_empty() {
            return Err(ApiError::conflict(format!(
                "Agents hold this role: {}; take it away from them first.",
                agents.join(", ")
            ))
            .with_details(serde_json::json!({ "agents": agents })));
        }
        // Agents (enterprise edition) may hold it too: their rows refuse the delete.
        diesel::delete(roles::table.filter(roles::tenant_id.eq(&tenant).and(roles::id.eq(&p.id))))
            .execute(conn)
            .map_err(|e| {
                ApiError::from_in_use(e, || {
                    "Agents hold this role; take it away from them first (Agents in the admin UI, or PATCH /api/v1/mcp/agents/{id})."
                        .to_owned()
                })
            })?;
        audited(conn, &checker, change("role.delete", "role", &p.id, json_of(&role), None))?;
        Ok(NoContent {})
    })
    .await
}

#[derive(Debug, Serialize, JsonSchema)]
struct PermissionEntry {
    resource: String,
    action: String,
    /// `resource:action`, as roles list it.
    name: String,
}

async fn list_permissions(_ctx: Ctx, _: (), q: PageQuery, _: ()) -> Result<Page<PermissionEntry>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let all: Vec<PermissionEntry> = all_permissions()
        .map(|p| PermissionEntry {
            resource: p.resource.to_string(),
            action: p.action.to_string(),
            name: p.to_string(),
        })
        .collect();
    let total = i64::try_from(all.len()).unwrap_or(0);
    let start = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let rows = all.into_iter().skip(start).take(page.limit as usize).collect();
    Ok(page.page(rows, total))
}

// ---- API keys ----

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KeyView {
    pub id: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub user_id: Option<String>,
    pub description: String,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc_opt")]
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub last_used_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "utc_opt")]
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub expires_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "utc_opt")]
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub revoked_at: Option<NaiveDateTime>,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        KeyView {
            id: k.id,
            prefix: k.prefix,
            user_id: k.user_id,
            description: k.description,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListKeys {
    /// Whose keys (only for callers who can manage users; others always see their own).
    user_id: Option<String>,
    /// Include revoked keys (default false).
    include_revoked: Option<bool>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

async fn list_keys(ctx: Ctx, _: (), q: ListKeys, _: ()) -> Result<Page<KeyView>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    let owner = if ctx.can(MANAGE_USERS) { q.user_id.clone() } else { Some(ctx.principal.require_user()?.to_owned()) };
    ctx.db(move |conn| {
        let filtered = || {
            // Users' keys only: agents' keys are managed with their agent (enterprise edition).
            let mut query = api_keys::table
                .filter(api_keys::tenant_id.eq(&tenant).and(api_keys::user_id.is_not_null()))
                .into_boxed();
            if let Some(owner) = &owner {
                query = query.filter(api_keys::user_id.eq(owner));
            }
            if !q.include_revoked.unwrap_or(false) {
                query = query.filter(api_keys::revoked_at.is_null());
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows: Vec<ApiKey> = filtered()
            .order((api_keys::created_at.desc(), api_keys::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(ApiKey::as_select())
            .load(conn)?;
        Ok(page.page(rows.into_iter().map(KeyView::from).collect(), total))
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    #[serde(default)]
    description: String,
    /// When the key stops working (RFC 3339); default: never.
    expires_at: Option<DateTime<Utc>>,
    /// Issue the key for another user (needs user:update).
    user_id: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
struct IssuedKey {
    #[serde(flatten)]
    info: KeyView,
    /// The key itself. It is shown only in this answer: store it now.
    key: String,
}

async fn create_key(ctx: Ctx, _: (), _: (), b: CreateKey) -> Result<Data<IssuedKey>, ApiError> {
    let me = ctx.principal.require_user()?;
    let owner = match &b.user_id {
        Some(other) if other != me => {
            // Checked again on the grants committed now, in the transaction below.
            if !ctx.can(MANAGE_USERS) {
                return Err(ApiError::forbidden("Permission denied: cannot update user"));
            }
            other.clone()
        }
        _ => me.to_owned(),
    };
    let expires_at = b.expires_at.map(to_naive);
    if expires_at.is_some_and(|at| at <= identity::now()) {
        return Err(ApiError::validation("expires_at", "must be in the future"));
    }
    let description = b.description.trim().to_owned();
    if description.chars().count() > 200 {
        return Err(ApiError::validation("description", "must be at most 200 characters"));
    }
    let tenant = ctx.tenant().to_owned();
    let checker = ctx.clone();
    let for_other = owner != me;
    ctx.write(move |conn| {
        crate::refs::active_user(conn, &tenant, "user_id", &owner)?;
        if for_other {
            if !holds_now(conn, &checker, MANAGE_USERS)? {
                return Err(ApiError::forbidden("Permission denied: cannot update user"));
            }
            may_manage(conn, &checker, &owner)?;
        }
        let issued = identity::create_api_key(conn, &tenant, &owner, &description, expires_at)?;
        let info = KeyView::from(issued.key);
        audited(conn, &checker, change("api_key.create", "api_key", &info.id, None, json_of(&info)))?;
        Ok(data(IssuedKey { info, key: issued.plaintext }))
    })
    .await
}

async fn revoke_key(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    let manage = ctx.can(MANAGE_USERS);
    let me = ctx.principal.user_id().map(str::to_owned);
    let checker = ctx.clone();
    ctx.write(move |conn| {
        let owner: Option<Option<String>> = api_keys::table
            .filter(api_keys::tenant_id.eq(&tenant).and(api_keys::id.eq(&p.id)))
            .select(api_keys::user_id)
            .first(conn)
            .optional()?;
        // Someone else's key looks exactly like a missing one to a caller who cannot manage it.
        match owner {
            // Agents' keys (no user owner) are revoked with their agent, not here.
            Some(Some(owner)) if Some(&owner) == me.as_ref() => {}
            Some(Some(owner)) if manage && holds_now(conn, &checker, MANAGE_USERS)? => {
                may_manage(conn, &checker, &owner)?;
            }
            _ => return Err(ApiError::not_found("No API key with this id.")),
        }
        identity::revoke_api_key(conn, Some(&tenant), &p.id)?;
        let key = api_keys::table
            .filter(api_keys::tenant_id.eq(&tenant).and(api_keys::id.eq(&p.id)))
            .select(ApiKey::as_select())
            .first(conn)?;
        audited(conn, &checker, change("api_key.revoke", "api_key", &p.id, None, json_of(&KeyView::from(key))))?;
        Ok(NoContent {})
    })
    .await?;
    ctx.app.auth.invalidate_all();
    Ok(NoContent {})
}
