//! Boards (ticket queues), their statuses, and ticket priorities.

use alga_core::schema::{boards, priorities, statuses, tickets};
use alga_core::{Action, ApiError, DbConn, Resource};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::model::{Data, IdPath, NoContent, Page, PageRequest, data, required_text, utc};
use crate::refs;

// Example request bodies, shown in the OpenAPI document.
const EXAMPLE_BOARDS_CREATE: &str = r#"{"name":"Service Desk","description":"Break/fix requests"}"#;
const EXAMPLE_BOARDS_UPDATE: &str = r#"{"description":"Everything reported by email"}"#;
const EXAMPLE_STATUSES_CREATE: &str =
    r#"{"board_id":"<board id>","name":"Waiting on customer","is_closed":false,"position":30}"#;
const EXAMPLE_STATUSES_UPDATE: &str = r#"{"is_closed":true}"#;
const EXAMPLE_PRIORITIES_CREATE: &str = r##"{"name":"Urgent","color":"#d32f2f","position":10}"##;
const EXAMPLE_PRIORITIES_UPDATE: &str = r#"{"position":5}"#;

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new("boards.list", Method::Get, "/api/v1/boards", Access::needs(Resource::Board, Action::Read))
                .doc("List boards", "Ticket boards (queues such as Service Desk or Projects), by name.")
                .tags(&["Boards"]),
            list_boards,
        ),
        op(
            Meta::new("boards.create", Method::Post, "/api/v1/boards", Access::needs(Resource::Board, Action::Create))
                .doc("Create a board", "Adds a ticket board; give it statuses next.")
                .tags(&["Boards"])
                .example(EXAMPLE_BOARDS_CREATE),
            create_board,
        ),
        op(
            Meta::new("boards.get", Method::Get, "/api/v1/boards/{id}", Access::needs(Resource::Board, Action::Read))
                .doc("Get a board", "One board by id.")
                .tags(&["Boards"]),
            get_board,
        ),
        op(
            Meta::new(
                "boards.update",
                Method::Put,
                "/api/v1/boards/{id}",
                Access::needs(Resource::Board, Action::Update),
            )
            .doc("Update a board", "Renames or re-describes a board.")
            .tags(&["Boards"])
            .example(EXAMPLE_BOARDS_UPDATE),
            update_board,
        ),
        op(
            Meta::new(
                "boards.delete",
                Method::Delete,
                "/api/v1/boards/{id}",
                Access::needs(Resource::Board, Action::Delete),
            )
            .doc(
                "Delete a board",
                "Deletes a board without tickets, with its statuses; a board with tickets answers 409.",
            )
            .tags(&["Boards"]),
            delete_board,
        ),
        op(
            Meta::new("statuses.list", Method::Get, "/api/v1/statuses", Access::needs(Resource::Status, Action::Read))
                .doc(
                    "List statuses",
                    "Ticket statuses, in board order. Each belongs to one board; `is_closed` marks the ones \
                 that close a ticket.",
                )
                .tags(&["Statuses"]),
            list_statuses,
        ),
        op(
            Meta::new(
                "statuses.create",
                Method::Post,
                "/api/v1/statuses",
                Access::needs(Resource::Status, Action::Create),
            )
            .doc("Create a status", "Adds a status to a board.")
            .tags(&["Statuses"])
            .example(EXAMPLE_STATUSES_CREATE),
            create_status,
        ),
        op(
            Meta::new(
                "statuses.get",
                Method::Get,
                "/api/v1/statuses/{id}",
                Access::needs(Resource::Status, Action::Read),
            )
            .doc("Get a status", "One status by id.")
            .tags(&["Statuses"]),
            get_status,
        ),
        op(
            Meta::new(
                "statuses.update",
                Method::Put,
                "/api/v1/statuses/{id}",
                Access::needs(Resource::Status, Action::Update),
            )
            .doc("Update a status", "Renames a status, moves it, or changes whether it closes tickets.")
            .tags(&["Statuses"])
            .example(EXAMPLE_STATUSES_UPDATE),
            update_status,
        ),
        op(
            Meta::new(
                "statuses.delete",
                Method::Delete,
                "/api/v1/statuses/{id}",
                Access::needs(Resource::Status, Action::Delete),
            )
            .doc("Delete a status", "Deletes a status no ticket is in; otherwise 409.")
            .tags(&["Statuses"]),
            delete_status,
        ),
        op(
            Meta::new(
                "priorities.list",
                Method::Get,
                "/api/v1/priorities",
                Access::needs(Resource::Priority, Action::Read),
            )
            .doc("List priorities", "Ticket priorities, in order (position).")
            .tags(&["Priorities"]),
            list_priorities,
        ),
        op(
            Meta::new(
                "priorities.create",
                Method::Post,
                "/api/v1/priorities",
                Access::needs(Resource::Priority, Action::Create),
            )
            .doc("Create a priority", "Adds a ticket priority.")
            .tags(&["Priorities"])
            .example(EXAMPLE_PRIORITIES_CREATE),
            create_priority,
        ),
        op(
            Meta::new(
                "priorities.get",
                Method::Get,
                "/api/v1/priorities/{id}",
                Access::needs(Resource::Priority, Action::Read),
            )
            .doc("Get a priority", "One priority by id.")
            .tags(&["Priorities"]),
            get_priority,
        ),
        op(
            Meta::new(
                "priorities.update",
                Method::Put,
                "/api/v1/priorities/{id}",
                Access::needs(Resource::Priority, Action::Update),
            )
            .doc("Update a priority", "Renames, recolours or reorders a priority.")
            .tags(&["Priorities"])
            .example(EXAMPLE_PRIORITIES_UPDATE),
            update_priority,
        ),
        op(
            Meta::new(
                "priorities.delete",
                Method::Delete,
                "/api/v1/priorities/{id}",
                Access::needs(Resource::Priority, Action::Delete),
            )
            .doc("Delete a priority", "Deletes a priority no ticket uses; otherwise 409.")
            .tags(&["Priorities"]),
            delete_priority,
        ),
    ])
}

// ---- boards ----

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = boards)]
pub struct Board {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct PageQuery {
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateBoard {
    /// Unique within the tenant.
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateBoard {
    name: Option<String>,
    description: Option<String>,
}

fn load_board(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Board, ApiError> {
    boards::table
        .filter(boards::tenant_id.eq(tenant).and(boards::id.eq(id)))
        .select(Board::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No board with this id."))
}

async fn list_boards(ctx: Ctx, _: (), q: PageQuery, _: ()) -> Result<Page<Board>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let total: i64 = boards::table.filter(boards::tenant_id.eq(&tenant)).count().get_result(conn)?;
        let rows = boards::table
            .filter(boards::tenant_id.eq(&tenant))
            .order((boards::name, boards::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(Board::as_select())
            .load(conn)?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create_board(ctx: Ctx, _: (), _: (), b: CreateBoard) -> Result<Data<Board>, ApiError> {
    let now = alga_core::identity::now();
    let board = Board {
        id: alga_core::identity::new_id(),
        name: required_text("name", &b.name, 100)?,
        description: b.description.trim().to_owned(),
        created_at: now,
        updated_at: now,
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        diesel::insert_into(boards::table)
            .values((
                boards::tenant_id.eq(&tenant),
                boards::id.eq(&board.id),
                boards::name.eq(&board.name),
                boards::description.eq(&board.description),
                boards::created_at.eq(board.created_at),
                boards::updated_at.eq(board.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || format!("A board named `{}` already exists.", board.name)))?;
        Ok(data(board))
    })
    .await
}

async fn get_board(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Board>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load_board(conn, &tenant, &p.id).map(data)).await
}

async fn update_board(ctx: Ctx, p: IdPath, _: (), b: UpdateBoard) -> Result<Data<Board>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, boards, &tenant, &p.id);
        let mut board = load_board(conn, &tenant, &p.id)?;
        if let Some(name) = &b.name {
            board.name = required_text("name", name, 100)?;
        }
        if let Some(description) = &b.description {
            board.description = description.trim().to_owned();
        }
        board.updated_at = alga_core::identity::now();
        diesel::update(boards::table.filter(boards::tenant_id.eq(&tenant).and(boards::id.eq(&board.id))))
            .set((
                boards::name.eq(&board.name),
                boards::description.eq(&board.description),
                boards::updated_at.eq(board.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || format!("A board named `{}` already exists.", board.name)))?;
        Ok(data(board))
    })
    .await
}

async fn delete_board(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        load_board(conn, &tenant, &p.id)?;
        let used: i64 = tickets::table
            .filter(tickets::tenant_id.eq(&tenant).and(tickets::board_id.eq(&p.id)))
            .count()
            .get_result(conn)?;
        if used > 0 {
            return Err(ApiError::conflict(format!("{used} tickets are on this board; move them first.")));
        }
        diesel::delete(statuses::table.filter(statuses::tenant_id.eq(&tenant).and(statuses::board_id.eq(&p.id))))
            .execute(conn)?;
        diesel::delete(boards::table.filter(boards::tenant_id.eq(&tenant).and(boards::id.eq(&p.id)))).execute(conn)?;
        Ok(NoContent {})
    })
    .await
}

// ---- statuses ----

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = statuses)]
pub struct Status {
    pub id: String,
    pub board_id: String,
    pub name: String,
    /// Tickets in a closed status count as closed (resolved).
    pub is_closed: bool,
    /// Order within the board, ascending.
    pub position: i32,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListStatuses {
    /// Only the statuses of this board.
    board_id: Option<String>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateStatus {
    board_id: String,
    /// Unique within the board.
    name: String,
    #[serde(default)]
    is_closed: bool,
    #[serde(default)]
    position: i32,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateStatus {
    name: Option<String>,
    is_closed: Option<bool>,
    position: Option<i32>,
}

fn load_status(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Status, ApiError> {
    statuses::table
        .filter(statuses::tenant_id.eq(tenant).and(statuses::id.eq(id)))
        .select(Status::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No status with this id."))
}

async fn list_statuses(ctx: Ctx, _: (), q: ListStatuses, _: ()) -> Result<Page<Status>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let filtered = || {
            let mut query = statuses::table.filter(statuses::tenant_id.eq(&tenant)).into_boxed();
            if let Some(board) = &q.board_id {
                query = query.filter(statuses::board_id.eq(board));
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((statuses::board_id, statuses::position, statuses::name))
            .limit(page.limit())
            .offset(page.offset())
            .select(Status::as_select())
            .load(conn)?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create_status(ctx: Ctx, _: (), _: (), b: CreateStatus) -> Result<Data<Status>, ApiError> {
    let now = alga_core::identity::now();
    let status = Status {
        id: alga_core::identity::new_id(),
        board_id: b.board_id,
        name: required_text("name", &b.name, 100)?,
        is_closed: b.is_closed,
        position: b.position,
        created_at: now,
        updated_at: now,
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        refs::board(conn, &tenant, "board_id", &status.board_id)?;
        diesel::insert_into(statuses::table)
            .values((
                statuses::tenant_id.eq(&tenant),
                statuses::id.eq(&status.id),
                statuses::board_id.eq(&status.board_id),
                statuses::name.eq(&status.name),
                statuses::is_closed.eq(status.is_closed),
                statuses::position.eq(status.position),
                statuses::created_at.eq(status.created_at),
                statuses::updated_at.eq(status.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || format!("This board already has a status `{}`.", status.name)))?;
        Ok(data(status))
    })
    .await
}

async fn get_status(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Status>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load_status(conn, &tenant, &p.id).map(data)).await
}

async fn update_status(ctx: Ctx, p: IdPath, _: (), b: UpdateStatus) -> Result<Data<Status>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, statuses, &tenant, &p.id);
        let mut s = load_status(conn, &tenant, &p.id)?;
        if let Some(name) = &b.name {
            s.name = required_text("name", name, 100)?;
        }
        if let Some(closed) = b.is_closed {
            s.is_closed = closed;
        }
        if let Some(position) = b.position {
            s.position = position;
        }
        s.updated_at = alga_core::identity::now();
        diesel::update(statuses::table.filter(statuses::tenant_id.eq(&tenant).and(statuses::id.eq(&s.id))))
            .set((
                statuses::name.eq(&s.name),
                statuses::is_closed.eq(s.is_closed),
                statuses::position.eq(s.position),
                statuses::updated_at.eq(s.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || format!("This board already has a status `{}`.", s.name)))?;
        Ok(data(s))
    })
    .await
}

async fn delete_status(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        load_status(conn, &tenant, &p.id)?;
        diesel::delete(statuses::table.filter(statuses::tenant_id.eq(&tenant).and(statuses::id.eq(&p.id))))
            .execute(conn)
            .map_err(|e| ApiError::from_in_use(e, || "Tickets are in this status; move them first.".to_owned()))?;
        Ok(NoContent {})
    })
    .await
}

// ---- priorities ----

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = priorities)]
pub struct Priority {
    pub id: String,
    pub name: String,
    /// A CSS colour such as `#d32f2f`.
    pub color: String,
    /// Order, ascending: lower is more urgent by convention.
    pub position: i32,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreatePriority {
    /// Unique within the tenant.
    name: String,
    color: Option<String>,
    #[serde(default)]
    position: i32,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdatePriority {
    name: Option<String>,
    color: Option<String>,
    position: Option<i32>,
}

fn color(value: Option<&str>) -> Result<String, ApiError> {
    crate::model::hex_color("color", value.unwrap_or("#808080"))
}

fn load_priority(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Priority, ApiError> {
    priorities::table
        .filter(priorities::tenant_id.eq(tenant).and(priorities::id.eq(id)))
        .select(Priority::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No priority with this id."))
}

async fn list_priorities(ctx: Ctx, _: (), q: PageQuery, _: ()) -> Result<Page<Priority>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let total: i64 = priorities::table.filter(priorities::tenant_id.eq(&tenant)).count().get_result(conn)?;
        let rows = priorities::table
            .filter(priorities::tenant_id.eq(&tenant))
            .order((priorities::position, priorities::name))
            .limit(page.limit())
            .offset(page.offset())
            .select(Priority::as_select())
            .load(conn)?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create_priority(ctx: Ctx, _: (), _: (), b: CreatePriority) -> Result<Data<Priority>, ApiError> {
    let now = alga_core::identity::now();
    let priority = Priority {
        id: alga_core::identity::new_id(),
        name: required_text("name", &b.name, 100)?,
        color: color(b.color.as_deref())?,
        position: b.position,
        created_at: now,
        updated_at: now,
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        diesel::insert_into(priorities::table)
            .values((
                priorities::tenant_id.eq(&tenant),
                priorities::id.eq(&priority.id),
                priorities::name.eq(&priority.name),
                priorities::color.eq(&priority.color),
                priorities::position.eq(priority.position),
                priorities::created_at.eq(priority.created_at),
                priorities::updated_at.eq(priority.updated_at),
            ))
            .execute(conn)
            .map_err(|e| {
                ApiError::from_unique(e, || format!("A priority named `{}` already exists.", priority.name))
            })?;
        Ok(data(priority))
    })
    .await
}

async fn get_priority(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Priority>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load_priority(conn, &tenant, &p.id).map(data)).await
}

async fn update_priority(ctx: Ctx, p: IdPath, _: (), b: UpdatePriority) -> Result<Data<Priority>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, priorities, &tenant, &p.id);
        let mut pr = load_priority(conn, &tenant, &p.id)?;
        if let Some(name) = &b.name {
            pr.name = required_text("name", name, 100)?;
        }
        if b.color.is_some() {
            pr.color = color(b.color.as_deref())?;
        }
        if let Some(position) = b.position {
            pr.position = position;
        }
        pr.updated_at = alga_core::identity::now();
        diesel::update(priorities::table.filter(priorities::tenant_id.eq(&tenant).and(priorities::id.eq(&pr.id))))
            .set((
                priorities::name.eq(&pr.name),
                priorities::color.eq(&pr.color),
                priorities::position.eq(pr.position),
                priorities::updated_at.eq(pr.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || format!("A priority named `{}` already exists.", pr.name)))?;
        Ok(data(pr))
    })
    .await
}

async fn delete_priority(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        load_priority(conn, &tenant, &p.id)?;
        diesel::delete(priorities::table.filter(priorities::tenant_id.eq(&tenant).and(priorities::id.eq(&p.id))))
            .execute(conn)
            .map_err(|e| ApiError::from_in_use(e, || "Tickets use this priority; change them first.".to_owned()))?;
        Ok(NoContent {})
    })
    .await
}
