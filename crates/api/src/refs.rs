//! Checks that ids named in a request body exist in the caller's tenant. A missing reference is
//! a 400 naming the field (the request is wrong), unlike a missing path id (404).

use alga_core::schema::{
    boards, client_locations, clients, contacts, priorities, project_tasks, projects, statuses, teams,
    ticket_categories, tickets, users,
};
use alga_core::{ApiError, DbConn};
use diesel::prelude::*;

macro_rules! ensure_exists {
    ($(#[$doc:meta])* $name:ident, $table:ident, $what:literal) => {
        $(#[$doc])*
        pub fn $name(conn: &mut DbConn, tenant: &str, field: &str, id: &str) -> Result<(), ApiError> {
            let found: i64 =
                $table::table.filter($table::tenant_id.eq(tenant).and($table::id.eq(id))).count().get_result(conn)?;
            if found == 0 {
                return Err(ApiError::validation(field, concat!("no ", $what, " with this id")));
            }
            Ok(())
        }
    };
}

/// As `ensure_exists!`, and on PostgreSQL the row is key-share locked until the transaction ends:
/// it cannot be deleted before the reference to it is written (a delete racing the reference waits,
/// then finds it in use). Call it in a write transaction only.
macro_rules! ensure_exists_until_written {
    ($(#[$doc:meta])* $name:ident, $table:ident, $what:literal) => {
        $(#[$doc])*
        pub fn $name(conn: &mut DbConn, tenant: &str, field: &str, id: &str) -> Result<(), ApiError> {
            let filter = $table::tenant_id.eq(tenant).and($table::id.eq(id));
            let found: Option<String> = match conn {
                DbConn::Postgresql(c) => {
                    $table::table.filter(filter).select($table::id).for_key_share().first(c).optional()?
                }
                DbConn::Sqlite(c) => $table::table.filter(filter).select($table::id).first(c).optional()?,
            };
            if found.is_none() {
                return Err(ApiError::validation(field, concat!("no ", $what, " with this id")));
            }
            Ok(())
        }
    };
}

ensure_exists!(client, clients, "client");
ensure_exists!(board, boards, "board");
ensure_exists!(priority, priorities, "priority");
ensure_exists!(ticket, tickets, "ticket");
ensure_exists!(project, projects, "project");
ensure_exists!(project_task, project_tasks, "project task");
ensure_exists_until_written!(team, teams, "team");
ensure_exists_until_written!(ticket_category, ticket_categories, "ticket category");

/// An active user of the tenant.
pub fn active_user(conn: &mut DbConn, tenant: &str, field: &str, id: &str) -> Result<(), ApiError> {
    let active: Option<bool> = users::table
        .filter(users::tenant_id.eq(tenant).and(users::id.eq(id)))
        .select(users::active)
        .first(conn)
        .optional()?;
    match active {
        Some(true) => Ok(()),
        Some(false) => Err(ApiError::validation(field, "this user is deactivated")),
        None => Err(ApiError::validation(field, "no user with this id")),
    }
}

/// A contact of the tenant; when `client` is given, the contact must not belong to another client.
pub fn contact(conn: &mut DbConn, tenant: &str, field: &str, id: &str, client: Option<&str>) -> Result<(), ApiError> {
    let owner: Option<Option<String>> = contacts::table
        .filter(contacts::tenant_id.eq(tenant).and(contacts::id.eq(id)))
        .select(contacts::client_id)
        .first(conn)
        .optional()?;
    match (owner, client) {
        (None, _) => Err(ApiError::validation(field, "no contact with this id")),
        (Some(Some(owner)), Some(client)) if owner != client => {
            Err(ApiError::validation(field, "this contact belongs to another client"))
        }
        _ => Ok(()),
    }
}

/// A status of the given board; returns whether it is a closed status.
pub fn status_on_board(conn: &mut DbConn, tenant: &str, field: &str, id: &str, board: &str) -> Result<bool, ApiError> {
    let found: Option<(String, bool)> = statuses::table
        .filter(statuses::tenant_id.eq(tenant).and(statuses::id.eq(id)))
        .select((statuses::board_id, statuses::is_closed))
        .first(conn)
        .optional()?;
    match found {
        None => Err(ApiError::validation(field, "no status with this id")),
        Some((on, _)) if on != board => Err(ApiError::validation(field, "this status belongs to another board")),
        Some((_, closed)) => Ok(closed),
    }
}

/// A location of the given client (a location of another client is refused).
pub fn location_of_client(
    conn: &mut DbConn,
    tenant: &str,
    field: &str,
    id: &str,
    client: &str,
) -> Result<(), ApiError> {
    let owner: Option<String> = client_locations::table
        .filter(client_locations::tenant_id.eq(tenant).and(client_locations::id.eq(id)))
        .select(client_locations::client_id)
        .first(conn)
        .optional()?;
    match owner {
        None => Err(ApiError::validation(field, "no location with this id")),
        Some(owner) if owner != client => Err(ApiError::validation(field, "this location belongs to another client")),
        Some(_) => Ok(()),
    }
}
