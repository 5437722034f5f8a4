//! Decisions on the caller's grants as committed now, inside the write transaction making the
//! change. The principal a request carries may come from a cache (an API key's grants are cached
//! until a change to roles drops them, and another process may have made that change), so a
//! decision that depends on the record (someone else's comment, a published article) or that
//! hands out rights is taken here, on the grants read in the same transaction.

use alga_core::rbac::{BuiltInRole, Holder, Permission, PermissionSet};
use alga_core::schema::{role_permissions, roles, user_roles};
use alga_core::{ApiError, DbConn};
use diesel::prelude::*;

use crate::catalog::Ctx;

/// The caller as the grants committed now say (read in the caller's transaction: another process
/// may have changed them since the credential was cached), read once per check.
#[derive(Debug)]
pub struct CallerNow {
    holder: Holder,
    granted: PermissionSet,
    /// Whether one of the caller's roles is the built-in Admin.
    pub admin: bool,
}

impl CallerNow {
    pub fn read(conn: &mut DbConn, ctx: &Ctx) -> Result<CallerNow, ApiError> {
        let (granted, admin) = match ctx.principal.user_id() {
            Some(me) => standing(conn, ctx.tenant(), me)?,
            // An agent's grants were read afresh by its governed transport; it never holds a
            // privileged permission anyway.
            None => (ctx.principal.permissions, false),
        };
        Ok(CallerNow { holder: ctx.principal.holder(), granted, admin })
    }

    pub fn holds(&self, p: Permission) -> bool {
        alga_core::rbac::authorize(self.holder, self.granted, p).is_ok()
    }
}

/// Whether the caller holds `p` by the grants committed now.
pub fn holds_now(conn: &mut DbConn, ctx: &Ctx, p: Permission) -> Result<bool, ApiError> {
    Ok(CallerNow::read(conn, ctx)?.holds(p))
}

/// The union of the permissions of these roles of the tenant; an unknown id is a 400.
pub fn permissions_of_roles(conn: &mut DbConn, tenant: &str, role_ids: &[String]) -> Result<PermissionSet, ApiError> {
    let known: i64 =
        roles::table.filter(roles::tenant_id.eq(tenant).and(roles::id.eq_any(role_ids))).count().get_result(conn)?;
    let mut distinct = role_ids.to_vec();
    distinct.sort();
    distinct.dedup();
    if usize::try_from(known).unwrap_or(0) != distinct.len() {
        return Err(ApiError::validation("role_ids", "names a role that does not exist in this tenant"));
    }
    let pairs: Vec<(String, String)> = role_permissions::table
        .filter(role_permissions::tenant_id.eq(tenant).and(role_permissions::role_id.eq_any(role_ids)))
        .select((role_permissions::resource, role_permissions::action))
        .load(conn)?;
    Ok(pairs.iter().filter_map(|(r, a)| Permission::parse(r, a)).collect())
}

/// The permissions a user holds through their roles, and whether one of them is the built-in Admin.
pub fn standing(conn: &mut DbConn, tenant: &str, user: &str) -> Result<(PermissionSet, bool), ApiError> {
    let roles: Vec<(String, String, bool)> = user_roles::table
        .inner_join(roles::table.on(roles::tenant_id.eq(user_roles::tenant_id).and(roles::id.eq(user_roles::role_id))))
        .filter(user_roles::tenant_id.eq(tenant).and(user_roles::user_id.eq(user)))
        .select((roles::id, roles::name, roles::built_in))
        .load(conn)?;
    let admin = roles.iter().any(|(_, name, built_in)| *built_in && name == BuiltInRole::Admin.name());
    let ids: Vec<String> = roles.into_iter().map(|(id, _, _)| id).collect();
    Ok((permissions_of_roles(conn, tenant, &ids)?, admin))
}
