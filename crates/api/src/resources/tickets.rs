//! Tickets and their comments.

use alga_core::schema::{
    boards, clients, priorities, statuses, ticket_categories, ticket_comments, ticket_sequences, tickets, time_entries,
};
use alga_core::{Action, ApiError, DbConn, Permission, Resource};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::grants_now::holds_now;
use crate::model::{
    Data, IdPath, NoContent, Page, PageRequest, data, like_pattern, lower, nullable, required_text, to_naive, utc,
    utc_opt,
};
use crate::refs;
use crate::tags::{self, Taggable};

// Example request bodies, shown in the OpenAPI document.
const EXAMPLE_TICKETS_CREATE: &str = r#"{"title":"Printer offline in accounting","board_id":"<board id>","client_id":"<client id>","priority_id":"<priority id>","description":"The HP on floor 2 shows offline since this morning."}"#;
const EXAMPLE_TICKETS_UPDATE: &str = r#"{"status_id":"<closed status id>","assigned_to":"<user id>"}"#;
const EXAMPLE_TICKETS_COMMENTS_CREATE: &str =
    r#"{"body":"Called the customer; replacing the toner fixed it.","is_internal":false}"#;
const EXAMPLE_TICKETS_COMMENTS_UPDATE: &str = r#"{"body":"Called the customer; a new toner cartridge fixed it."}"#;

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new("tickets.list", Method::Get, "/api/v1/tickets", Access::needs(Resource::Ticket, Action::Read))
                .doc(
                    "List tickets",
                    "Tickets, newest first by default. Filter by board, status, priority, client, contact, assignee, \
                 team, category (with its subcategories), tag, parent ticket, source, open/closed, creation time, \
                 or text in the number, title and description; sort by creation, update, priority, number or title.",
                )
                .tags(&["Tickets"]),
            list,
        ),
        op(
            Meta::new(
                "tickets.create",
                Method::Post,
                "/api/v1/tickets",
                Access::needs(Resource::Ticket, Action::Create),
            )
            .doc(
                "Create a ticket",
                "Opens a ticket on a board for a client. It gets the next ticket number of the tenant (T-000123). \
                 Without `status_id` it starts in the board's first status. Optionally route it to a team, give \
                 it a category, a parent ticket, tags and where it came from (`source`).",
            )
            .tags(&["Tickets"])
            .example(EXAMPLE_TICKETS_CREATE),
            create,
        ),
        op(
            Meta::new(
                "tickets.get",
                Method::Get,
                "/api/v1/tickets/{id}",
                Access::needs(Resource::Ticket, Action::Read),
            )
            .doc("Get a ticket", "One ticket by id, with the names of its board, status, priority and client.")
            .tags(&["Tickets"]),
            get,
        ),
        op(
            Meta::new(
                "tickets.update",
                Method::Put,
                "/api/v1/tickets/{id}",
                Access::needs(Resource::Ticket, Action::Update),
            )
            .doc(
                "Update a ticket",
                "Changes the given fields. To close or resolve a ticket, set `status_id` to a closed status of its \
                 board. Moving it to another board needs a status of that board. `tags` replaces its tags; \
                 `team_id`, `category_id` and `parent_ticket_id` route, categorize and link it.",
            )
            .tags(&["Tickets"])
            .example(EXAMPLE_TICKETS_UPDATE),
            update,
        ),
        op(
            Meta::new(
                "tickets.delete",
                Method::Delete,
                "/api/v1/tickets/{id}",
                Access::needs(Resource::Ticket, Action::Delete),
            )
            .doc("Delete a ticket", "Deletes a ticket and its comments; a ticket with time entries answers 409.")
            .tags(&["Tickets"]),
            delete,
        ),
        op(
            Meta::new(
                "tickets.comments.list",
                Method::Get,
                "/api/v1/tickets/{id}/comments",
                Access::needs(Resource::TicketComment, Action::Read),
            )
            .doc(
                "List a ticket's comments",
                "The notes and replies on a ticket, oldest first; `is_internal` marks notes customers do \
                 not see.",
            )
            .tags(&["Tickets"]),
            list_comments,
        ),
        op(
            Meta::new(
                "tickets.comments.create",
                Method::Post,
                "/api/v1/tickets/{id}/comments",
                Access::needs(Resource::TicketComment, Action::Create),
            )
            .doc(
                "Comment on a ticket",
                "Adds a note or reply to a ticket, written by the caller. Set `is_internal` for a note customers \
                 do not see.",
            )
            .tags(&["Tickets"])
            .example(EXAMPLE_TICKETS_COMMENTS_CREATE),
            create_comment,
        ),
        op(
            Meta::new(
                "tickets.comments.update",
                Method::Put,
                "/api/v1/tickets/{id}/comments/{comment_id}",
                Access::needs(Resource::TicketComment, Action::Update),
            )
            .doc(
                "Edit or fix a comment",
                "Changes the text of a comment (note or reply) on a ticket, to fix a typo or correct it, or whether \
                 it is internal. Callers edit their own comments; editing someone else's also needs \
                 `ticket_comment:delete` (Admins).",
            )
            .tags(&["Tickets"])
            .example(EXAMPLE_TICKETS_COMMENTS_UPDATE),
            update_comment,
        ),
        op(
            Meta::new(
                "tickets.comments.delete",
                Method::Delete,
                "/api/v1/tickets/{id}/comments/{comment_id}",
                Access::needs(Resource::TicketComment, Action::Delete),
            )
            .doc("Delete a comment", "Deletes one comment of a ticket.")
            .tags(&["Tickets"]),
            delete_comment,
        ),
    ])
}

/// A ticket as the API shows it: its row plus the names an agent or person needs to read it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Ticket {
    pub id: String,
    /// Per-tenant number such as T-000123.
    pub number: String,
    pub title: String,
    pub description: String,
    pub board_id: String,
    pub board_name: String,
    pub status_id: String,
    pub status_name: String,
    /// Whether the status closes the ticket.
    pub is_closed: bool,
    pub priority_id: String,
    pub priority_name: String,
    pub client_id: String,
    pub client_name: String,
    pub contact_id: Option<String>,
    /// The user working on it.
    pub assigned_to: Option<String>,
    /// The team it is routed to.
    pub team_id: Option<String>,
    /// Its ticket category or subcategory.
    pub category_id: Option<String>,
    /// The ticket this one is a child of.
    pub parent_ticket_id: Option<String>,
    /// Where it came from: `email`, `phone`, `portal`, `agent` or `api`.
    pub source: String,
    /// The names of the tags it carries, sorted.
    pub tags: Vec<String>,
    /// The user who created it (none when an agent did).
    pub created_by: Option<String>,
    /// The agent that created it (enterprise edition), if one did.
    pub created_by_agent: Option<String>,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
    #[serde(serialize_with = "utc_opt")]
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub closed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets)]
struct Row {
    id: String,
    number: String,
    title: String,
    description: String,
    board_id: String,
    status_id: String,
    priority_id: String,
    client_id: String,
    contact_id: Option<String>,
    assigned_to: Option<String>,
    created_by: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    closed_at: Option<NaiveDateTime>,
    category_id: Option<String>,
    parent_ticket_id: Option<String>,
    team_id: Option<String>,
    source: String,
    created_by_agent: Option<String>,
}

type Names = (String, String, bool, String, String);

fn view((r, (board_name, status_name, is_closed, priority_name, client_name)): (Row, Names)) -> Ticket {
    Ticket {
        id: r.id,
        number: r.number,
        title: r.title,
        description: r.description,
        board_id: r.board_id,
        board_name,
        status_id: r.status_id,
        status_name,
        is_closed,
        priority_id: r.priority_id,
        priority_name,
        client_id: r.client_id,
        client_name,
        contact_id: r.contact_id,
        assigned_to: r.assigned_to,
        team_id: r.team_id,
        category_id: r.category_id,
        parent_ticket_id: r.parent_ticket_id,
        source: r.source,
        tags: Vec::new(),
        created_by: r.created_by,
        created_by_agent: r.created_by_agent,
        created_at: r.created_at,
        updated_at: r.updated_at,
        closed_at: r.closed_at,
    }
}

/// Tickets joined with the tables that name their references, for one tenant.
macro_rules! joined {
    ($tenant:expr) => {
        tickets::table
            .inner_join(
                boards::table.on(boards::tenant_id.eq(tickets::tenant_id).and(boards::id.eq(tickets::board_id))),
            )
            .inner_join(
                statuses::table.on(statuses::tenant_id.eq(tickets::tenant_id).and(statuses::id.eq(tickets::status_id))),
            )
            .inner_join(
                priorities::table
                    .on(priorities::tenant_id.eq(tickets::tenant_id).and(priorities::id.eq(tickets::priority_id))),
            )
            .inner_join(
                clients::table.on(clients::tenant_id.eq(tickets::tenant_id).and(clients::id.eq(tickets::client_id))),
            )
            .filter(tickets::tenant_id.eq($tenant))
    };
}

macro_rules! names {
    () => {
        (boards::name, statuses::name, statuses::is_closed, priorities::name, clients::name)
    };
}

pub fn load(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Ticket, ApiError> {
    let mut ticket = alga_core::on_backend!(conn, |c| joined!(tenant)
        .filter(tickets::id.eq(id))
        .select((Row::as_select(), names!()))
        .first::<(Row, Names)>(c)
        .optional())?
    .map(view)
    .ok_or_else(|| ApiError::not_found("No ticket with this id."))?;
    ticket.tags = tags::of_one(conn, tenant, Taggable::Ticket, id)?;
    Ok(ticket)
}

/// Where a ticket came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Source {
    Email,
    Phone,
    Portal,
    Agent,
    Api,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Email => "email",
            Source::Phone => "phone",
            Source::Portal => "portal",
            Source::Agent => "agent",
            Source::Api => "api",
        }
    }
}

/// The most ancestors a ticket may have (parent, grandparent, …): deeper is refused, which also
/// bounds the walk up the chain.
pub const MAX_PARENT_DEPTH: usize = 32;

/// On PostgreSQL, serialises the tenant's changes to parent links until the transaction ends, so
/// that two changes cannot each check the chain before the other commits (A→B and B→A both
/// passing would make a cycle). Taken before any row lock of the transaction (no deadlock with a
/// delete unlinking children). SQLite's write transactions are serialised already.
fn lock_parent_links(conn: &mut DbConn, tenant: &str) -> Result<(), ApiError> {
    if let DbConn::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(format!("{tenant}:ticket_parent"))
            .execute(pg)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Ancestor {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

/// The parent a ticket may have: a ticket of the tenant, not itself nor one of its descendants,
/// with at most [`MAX_PARENT_DEPTH`] ancestors. Holds the tenant's parent-link lock.
fn check_parent(conn: &mut DbConn, tenant: &str, ticket: Option<&str>, parent: &str) -> Result<(), ApiError> {
    lock_parent_links(conn, tenant)?;
    refs::ticket(conn, tenant, "parent_ticket_id", parent)?;
    // The parent and its ancestors, one more than allowed at most: one query, bounded.
    let sql = format!(
        "WITH RECURSIVE chain(id, parent_id, depth) AS ( \
           SELECT id, parent_ticket_id, 1 FROM tickets WHERE tenant_id = $1 AND id = $2 \
           UNION ALL \
           SELECT t.id, t.parent_ticket_id, chain.depth + 1 FROM tickets t \
             JOIN chain ON t.tenant_id = $1 AND t.id = chain.parent_id \
           WHERE chain.depth <= {MAX_PARENT_DEPTH} \
         ) SELECT id FROM chain"
    );
    let chain: Vec<Ancestor> = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(sql.replace('$', "?"))
            .bind::<diesel::sql_types::Text, _>(tenant)
            .bind::<diesel::sql_types::Text, _>(parent)
            .load(c)?,
        DbConn::Postgresql(c) => diesel::sql_query(sql)
            .bind::<diesel::sql_types::Text, _>(tenant)
            .bind::<diesel::sql_types::Text, _>(parent)
            .load(c)?,
    };
    if ticket.is_some_and(|ticket| chain.iter().any(|a| a.id == ticket)) {
        return Err(ApiError::validation(
            "parent_ticket_id",
            "a ticket cannot be its own parent, nor a child of one of its children",
        ));
    }
    if chain.len() > MAX_PARENT_DEPTH {
        return Err(ApiError::validation(
            "parent_ticket_id",
            format!("a ticket may have at most {MAX_PARENT_DEPTH} levels of parent tickets; this one would have more"),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum SortBy {
    CreatedAt,
    UpdatedAt,
    Number,
    Title,
    /// By the priority's rank: `desc` (the default) puts the most urgent first.
    Priority,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Order {
    Asc,
    Desc,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListTickets {
    board_id: Option<String>,
    status_id: Option<String>,
    priority_id: Option<String>,
    client_id: Option<String>,
    contact_id: Option<String>,
    /// Only tickets assigned to this user.
    assigned_to: Option<String>,
    /// Only tickets routed to this team.
    team_id: Option<String>,
    /// Only tickets in this category or one of its subcategories.
    category_id: Option<String>,
    /// Only tickets carrying this tag (its name, any case).
    tag: Option<String>,
    /// Only the child tickets of this ticket.
    parent_ticket_id: Option<String>,
    /// Only tickets that came from this source.
    source: Option<Source>,
    /// Only open (`true`) or closed (`false`) tickets.
    is_open: Option<bool>,
    /// Text to find in the number, title or description (case-insensitive).
    search: Option<String>,
    /// Created at or after this time (RFC 3339).
    created_from: Option<DateTime<Utc>>,
    /// Created before this time (RFC 3339).
    created_to: Option<DateTime<Utc>>,
    /// Sort field (default `created_at`).
    sort: Option<SortBy>,
    /// Sort direction (default `desc`).
    order: Option<Order>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

async fn list(ctx: Ctx, _: (), q: ListTickets, _: ()) -> Result<Page<Ticket>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    if let (Some(from), Some(to)) = (q.created_from, q.created_to)
        && from > to
    {
        return Err(ApiError::validation("created_to", "must not be before created_from"));
    }
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let tag = tags::filter_id(conn, &tenant, q.tag.as_deref())?;
        let filtered = || {
            let mut query = joined!(&tenant).into_boxed();
            if let Some(v) = &q.team_id {
                query = query.filter(tickets::team_id.eq(v));
            }
            if let Some(v) = &q.category_id {
                let subcategories = ticket_categories::table
                    .filter(ticket_categories::tenant_id.eq(&tenant).and(ticket_categories::parent_id.eq(v)))
                    .select(ticket_categories::id.nullable());
                query = query.filter(tickets::category_id.eq(v).or(tickets::category_id.eq_any(subcategories)));
            }
            if let Some(tag) = &tag {
                query = query.filter(tickets::id.eq_any(tags::carrying!(&tenant, Taggable::Ticket, tag)));
            }
            if let Some(v) = &q.parent_ticket_id {
                query = query.filter(tickets::parent_ticket_id.eq(v));
            }
            if let Some(v) = q.source {
                query = query.filter(tickets::source.eq(v.as_str()));
            }
            if let Some(v) = &q.board_id {
                query = query.filter(tickets::board_id.eq(v));
            }
            if let Some(v) = &q.status_id {
                query = query.filter(tickets::status_id.eq(v));
            }
            if let Some(v) = &q.priority_id {
                query = query.filter(tickets::priority_id.eq(v));
            }
            if let Some(v) = &q.client_id {
                query = query.filter(tickets::client_id.eq(v));
            }
            if let Some(v) = &q.contact_id {
                query = query.filter(tickets::contact_id.eq(v));
            }
            if let Some(v) = &q.assigned_to {
                query = query.filter(tickets::assigned_to.eq(v));
            }
            if let Some(open) = q.is_open {
                query = query.filter(statuses::is_closed.eq(!open));
            }
            if let Some(text) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                let pattern = like_pattern(text);
                query = query.filter(
                    lower(tickets::title)
                        .like(pattern.clone())
                        .escape('\\')
                        .or(lower(tickets::number).like(pattern.clone()).escape('\\'))
                        .or(lower(tickets::description).like(pattern).escape('\\')),
                );
            }
            if let Some(from) = q.created_from {
                query = query.filter(tickets::created_at.ge(to_naive(from)));
            }
            if let Some(to) = q.created_to {
                query = query.filter(tickets::created_at.lt(to_naive(to)));
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let query = filtered();
        let desc = !matches!(q.order, Some(Order::Asc));
        let query = match (q.sort.unwrap_or(SortBy::CreatedAt), desc) {
            (SortBy::CreatedAt, true) => query.order((tickets::created_at.desc(), tickets::id.desc())),
            (SortBy::CreatedAt, false) => query.order((tickets::created_at.asc(), tickets::id.asc())),
            (SortBy::UpdatedAt, true) => query.order((tickets::updated_at.desc(), tickets::id.desc())),
            (SortBy::UpdatedAt, false) => query.order((tickets::updated_at.asc(), tickets::id.asc())),
            (SortBy::Number, true) => query.order(tickets::number.desc()),
            (SortBy::Number, false) => query.order(tickets::number.asc()),
            (SortBy::Title, true) => query.order((tickets::title.desc(), tickets::id.desc())),
            (SortBy::Title, false) => query.order((tickets::title.asc(), tickets::id.asc())),
            (SortBy::Priority, true) => {
                query.order((priorities::position.asc(), tickets::created_at.desc(), tickets::id.desc()))
            }
            (SortBy::Priority, false) => {
                query.order((priorities::position.desc(), tickets::created_at.desc(), tickets::id.desc()))
            }
        };
        let rows = query
            .limit(page.limit())
            .offset(page.offset())
            .select((Row::as_select(), names!()))
            .load::<(Row, Names)>(conn)?;
        let rows = rows.into_iter().map(view).collect();
        let rows =
            tags::attach(conn, &tenant, Taggable::Ticket, rows, |t: &Ticket| &t.id, |t, tags| Ticket { tags, ..t })?;
        Ok(page.page(rows, total))
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateTicket {
    title: String,
    board_id: String,
    client_id: String,
    priority_id: String,
    /// A status of the board (default: the board's first status).
    status_id: Option<String>,
    /// A contact of the client.
    contact_id: Option<String>,
    /// The user to work on it.
    assigned_to: Option<String>,
    /// The team to route it to.
    team_id: Option<String>,
    /// A ticket category or subcategory.
    category_id: Option<String>,
    /// The ticket this one is a child of.
    parent_ticket_id: Option<String>,
    /// Where it came from (default: `agent` when an agent creates it, else `api`).
    source: Option<Source>,
    /// Names of existing tags to put on it.
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    description: String,
}

/// The status a ticket created on `board` without one starts in: the board's first by position
/// (its id, and whether it is closed). The policy facts (`context.closes`) use it too.
pub fn initial_status(conn: &mut DbConn, tenant: &str, board: &str) -> QueryResult<Option<(String, bool)>> {
    statuses::table
        .filter(statuses::tenant_id.eq(tenant).and(statuses::board_id.eq(board)))
        .order((statuses::position, statuses::name))
        .select((statuses::id, statuses::is_closed))
        .first(conn)
        .optional()
}

/// [`initial_status`], refusing a board that has none.
fn first_status(conn: &mut DbConn, tenant: &str, board: &str) -> Result<(String, bool), ApiError> {
    initial_status(conn, tenant, board)?
        .ok_or_else(|| ApiError::validation("board_id", "this board has no statuses yet; create one first"))
}

/// The tenant's next ticket number, taken atomically.
fn next_number(conn: &mut DbConn, tenant: &str) -> Result<String, ApiError> {
    let n: i64 = diesel::update(ticket_sequences::table.filter(ticket_sequences::tenant_id.eq(tenant)))
        .set(ticket_sequences::last_value.eq(ticket_sequences::last_value + 1))
        .returning(ticket_sequences::last_value)
        .get_result(conn)?;
    Ok(format!("T-{n:06}"))
}

async fn create(ctx: Ctx, _: (), _: (), b: CreateTicket) -> Result<Data<Ticket>, ApiError> {
    let title = required_text("title", &b.title, 300)?;
    let tenant = ctx.tenant().to_owned();
    let author = ctx.principal.user_id().map(str::to_owned);
    let agent = ctx.principal.agent_id().map(str::to_owned);
    let source = b.source.unwrap_or(if agent.is_some() { Source::Agent } else { Source::Api });
    ctx.write(move |conn| {
        refs::board(conn, &tenant, "board_id", &b.board_id)?;
        refs::client(conn, &tenant, "client_id", &b.client_id)?;
        refs::priority(conn, &tenant, "priority_id", &b.priority_id)?;
        let (status_id, closed) = match &b.status_id {
            Some(s) => (s.clone(), refs::status_on_board(conn, &tenant, "status_id", s, &b.board_id)?),
            None => first_status(conn, &tenant, &b.board_id)?,
        };
        if let Some(contact) = &b.contact_id {
            refs::contact(conn, &tenant, "contact_id", contact, Some(&b.client_id))?;
        }
        if let Some(user) = &b.assigned_to {
            refs::active_user(conn, &tenant, "assigned_to", user)?;
        }
        if let Some(team) = &b.team_id {
            refs::team(conn, &tenant, "team_id", team)?;
        }
        if let Some(category) = &b.category_id {
            refs::ticket_category(conn, &tenant, "category_id", category)?;
        }
        if let Some(parent) = &b.parent_ticket_id {
            check_parent(conn, &tenant, None, parent)?;
        }
        let id = alga_core::identity::new_id();
        let now = alga_core::identity::now();
        let number = next_number(conn, &tenant)?;
        diesel::insert_into(tickets::table)
            .values((
                tickets::tenant_id.eq(&tenant),
                tickets::id.eq(&id),
                tickets::number.eq(&number),
                tickets::title.eq(&title),
                tickets::description.eq(b.description.trim()),
                tickets::board_id.eq(&b.board_id),
                tickets::status_id.eq(&status_id),
                tickets::priority_id.eq(&b.priority_id),
                tickets::client_id.eq(&b.client_id),
                tickets::contact_id.eq(&b.contact_id),
                tickets::assigned_to.eq(&b.assigned_to),
                tickets::created_by.eq(&author),
                tickets::created_by_agent.eq(&agent),
                tickets::team_id.eq(&b.team_id),
                tickets::category_id.eq(&b.category_id),
                tickets::parent_ticket_id.eq(&b.parent_ticket_id),
                tickets::source.eq(source.as_str()),
                tickets::created_at.eq(now),
                tickets::updated_at.eq(now),
                tickets::closed_at.eq(closed.then_some(now)),
            ))
            .execute(conn)?;
        tags::set(conn, &tenant, Taggable::Ticket, &id, &b.tags)?;
        load(conn, &tenant, &id).map(data)
    })
    .await
}

async fn get(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Ticket>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load(conn, &tenant, &p.id).map(data)).await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateTicket {
    title: Option<String>,
    description: Option<String>,
    /// Moving boards requires a `status_id` of the new board.
    board_id: Option<String>,
    /// A status of the ticket's board; a closed status closes the ticket.
    status_id: Option<String>,
    priority_id: Option<String>,
    client_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    contact_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    assigned_to: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    team_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    category_id: Option<Option<String>>,
    /// Another ticket of the tenant, not this one nor one of its children.
    #[serde(default, deserialize_with = "nullable")]
    parent_ticket_id: Option<Option<String>>,
    source: Option<Source>,
    /// Replaces its tags with these existing tags (names); omitted keeps them.
    tags: Option<Vec<String>>,
}

async fn update(ctx: Ctx, p: IdPath, _: (), b: UpdateTicket) -> Result<Data<Ticket>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    // The parent-link lock before any row lock, in every transaction taking both (as delete), so
    // before a governing guard locks the ticket too.
    let relinks = b.parent_ticket_id.is_some();
    let ordering_tenant = tenant.clone();
    let ordering = move |conn: &mut DbConn| if relinks { lock_parent_links(conn, &ordering_tenant) } else { Ok(()) };
    ctx.write_ordered(ordering, move |conn| {
        alga_core::lock_row!(conn, tickets, &tenant, &p.id);
        let t = load(conn, &tenant, &p.id)?;
        let title = match &b.title {
            Some(title) => required_text("title", title, 300)?,
            None => t.title.clone(),
        };
        let description = b.description.as_deref().map_or(t.description.clone(), |d| d.trim().to_owned());
        let board_id = b.board_id.clone().unwrap_or(t.board_id.clone());
        if board_id != t.board_id {
            refs::board(conn, &tenant, "board_id", &board_id)?;
            if b.status_id.is_none() {
                return Err(ApiError::validation("status_id", "moving to another board needs a status of that board"));
            }
        }
        let status_id = b.status_id.clone().unwrap_or(t.status_id.clone());
        let closed = refs::status_on_board(conn, &tenant, "status_id", &status_id, &board_id)?;
        let priority_id = b.priority_id.clone().unwrap_or(t.priority_id.clone());
        if priority_id != t.priority_id {
            refs::priority(conn, &tenant, "priority_id", &priority_id)?;
        }
        let client_id = b.client_id.clone().unwrap_or(t.client_id.clone());
        if client_id != t.client_id {
            refs::client(conn, &tenant, "client_id", &client_id)?;
            crate::resources::assets::ticket_may_move_to(conn, &tenant, &t.id, &client_id)?;
        }
        let contact_id = b.contact_id.clone().unwrap_or(t.contact_id.clone());
        if let Some(contact) = &contact_id {
            refs::contact(conn, &tenant, "contact_id", contact, Some(&client_id))?;
        }
        let assigned_to = b.assigned_to.clone().unwrap_or(t.assigned_to.clone());
        if let Some(user) = &assigned_to
            && Some(user) != t.assigned_to.as_ref()
        {
            refs::active_user(conn, &tenant, "assigned_to", user)?;
        }
        let team_id = b.team_id.clone().unwrap_or(t.team_id.clone());
        if let Some(team) = &team_id
            && Some(team) != t.team_id.as_ref()
        {
            refs::team(conn, &tenant, "team_id", team)?;
        }
        let category_id = b.category_id.clone().unwrap_or(t.category_id.clone());
        if let Some(category) = &category_id
            && Some(category) != t.category_id.as_ref()
        {
            refs::ticket_category(conn, &tenant, "category_id", category)?;
        }
        let parent_ticket_id = b.parent_ticket_id.clone().unwrap_or(t.parent_ticket_id.clone());
        if let Some(parent) = &parent_ticket_id
            && Some(parent) != t.parent_ticket_id.as_ref()
        {
            check_parent(conn, &tenant, Some(&t.id), parent)?;
        }
        let source = b.source.map_or(t.source.clone(), |s| s.as_str().to_owned());
        if let Some(names) = &b.tags {
            tags::set(conn, &tenant, Taggable::Ticket, &t.id, names)?;
        }
        let now = alga_core::identity::now();
        let closed_at = match (closed, t.closed_at) {
            (true, Some(at)) => Some(at),
            (true, None) => Some(now),
            (false, _) => None,
        };
        diesel::update(tickets::table.filter(tickets::tenant_id.eq(&tenant).and(tickets::id.eq(&t.id))))
            .set((
                tickets::title.eq(&title),
                tickets::description.eq(&description),
                tickets::board_id.eq(&board_id),
                tickets::status_id.eq(&status_id),
                tickets::priority_id.eq(&priority_id),
                tickets::client_id.eq(&client_id),
                tickets::contact_id.eq(&contact_id),
                tickets::assigned_to.eq(&assigned_to),
                tickets::team_id.eq(&team_id),
                tickets::category_id.eq(&category_id),
                tickets::parent_ticket_id.eq(&parent_ticket_id),
                tickets::source.eq(&source),
                tickets::updated_at.eq(now),
                tickets::closed_at.eq(closed_at),
            ))
            .execute(conn)?;
        load(conn, &tenant, &t.id).map(data)
    })
    .await
}

async fn delete(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    // Children may be linked to it meanwhile: take the parent-link lock (before any row lock, a
    // governing guard's included, as update does) before unlinking them.
    let ordering_tenant = tenant.clone();
    ctx.write_ordered(
        move |conn| lock_parent_links(conn, &ordering_tenant),
        move |conn| {
            alga_core::lock_row!(conn, tickets, &tenant, &p.id);
            refs::ticket(conn, &tenant, "id", &p.id).map_err(|_| ApiError::not_found("No ticket with this id."))?;
            let logged: i64 = time_entries::table
                .filter(
                    time_entries::tenant_id
                        .eq(&tenant)
                        .and(time_entries::work_item_type.eq("ticket"))
                        .and(time_entries::work_item_id.eq(&p.id)),
                )
                .count()
                .get_result(conn)?;
            if logged > 0 {
                return Err(ApiError::conflict(format!(
                    "{logged} time entries are logged against this ticket; close it instead."
                )));
            }
            // Its child tickets stay, as top-level tickets.
            diesel::update(
                tickets::table.filter(tickets::tenant_id.eq(&tenant).and(tickets::parent_ticket_id.eq(&p.id))),
            )
            .set(tickets::parent_ticket_id.eq(None::<String>))
            .execute(conn)?;
            diesel::delete(tickets::table.filter(tickets::tenant_id.eq(&tenant).and(tickets::id.eq(&p.id))))
                .execute(conn)
                .map_err(|e| {
                    ApiError::from_in_use(e, || "Records still refer to this ticket; try again.".to_owned())
                })?;
            // After the row is gone (and locked before): a tagging racing this delete either committed
            // first, and is removed here, or finds no ticket to tag.
            tags::remove_all(conn, &tenant, Taggable::Ticket, &p.id)?;
            Ok(NoContent {})
        },
    )
    .await
}

// ---- comments ----

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = ticket_comments)]
pub struct Comment {
    pub id: String,
    pub ticket_id: String,
    /// The user who wrote it (none when an agent did).
    pub author_id: Option<String>,
    pub body: String,
    /// Internal notes are not shown to customers.
    pub is_internal: bool,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
    /// The agent that wrote it (enterprise edition), if one did.
    pub created_by_agent: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListComments {
    /// Only internal notes (`true`) or only public replies (`false`).
    is_internal: Option<bool>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateComment {
    body: String,
    #[serde(default)]
    is_internal: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CommentPath {
    /// The ticket's id.
    id: String,
    /// The comment's id.
    comment_id: String,
}

fn ticket_must_exist(conn: &mut DbConn, tenant: &str, id: &str) -> Result<(), ApiError> {
    refs::ticket(conn, tenant, "id", id).map_err(|_| ApiError::not_found("No ticket with this id."))
}

async fn list_comments(ctx: Ctx, p: IdPath, q: ListComments, _: ()) -> Result<Page<Comment>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        ticket_must_exist(conn, &tenant, &p.id)?;
        let filtered = || {
            let mut query = ticket_comments::table
                .filter(ticket_comments::tenant_id.eq(&tenant).and(ticket_comments::ticket_id.eq(&p.id)))
                .into_boxed();
            if let Some(internal) = q.is_internal {
                query = query.filter(ticket_comments::is_internal.eq(internal));
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((ticket_comments::created_at, ticket_comments::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(Comment::as_select())
            .load(conn)?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create_comment(ctx: Ctx, p: IdPath, _: (), b: CreateComment) -> Result<Data<Comment>, ApiError> {
    let now = alga_core::identity::now();
    let comment = Comment {
        id: alga_core::identity::new_id(),
        ticket_id: p.id,
        author_id: ctx.principal.user_id().map(str::to_owned),
        body: required_text("body", &b.body, 50_000)?,
        is_internal: b.is_internal,
        created_at: now,
        updated_at: now,
        created_by_agent: ctx.principal.agent_id().map(str::to_owned),
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        ticket_must_exist(conn, &tenant, &comment.ticket_id)?;
        diesel::insert_into(ticket_comments::table)
            .values((
                ticket_comments::tenant_id.eq(&tenant),
                ticket_comments::id.eq(&comment.id),
                ticket_comments::ticket_id.eq(&comment.ticket_id),
                ticket_comments::author_id.eq(&comment.author_id),
                ticket_comments::body.eq(&comment.body),
                ticket_comments::is_internal.eq(comment.is_internal),
                ticket_comments::created_at.eq(comment.created_at),
                ticket_comments::updated_at.eq(comment.updated_at),
                ticket_comments::created_by_agent.eq(&comment.created_by_agent),
            ))
            .execute(conn)?;
        diesel::update(tickets::table.filter(tickets::tenant_id.eq(&tenant).and(tickets::id.eq(&comment.ticket_id))))
            .set(tickets::updated_at.eq(now))
            .execute(conn)?;
        Ok(data(comment))
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateComment {
    body: Option<String>,
    is_internal: Option<bool>,
}

async fn update_comment(ctx: Ctx, p: CommentPath, _: (), b: UpdateComment) -> Result<Data<Comment>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    let user = ctx.principal.user_id().map(str::to_owned);
    let agent = ctx.principal.agent_id().map(str::to_owned);
    let checker = ctx.clone();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, ticket_comments, &tenant, &p.comment_id);
        let mut c = ticket_comments::table
            .filter(
                ticket_comments::tenant_id
                    .eq(&tenant)
                    .and(ticket_comments::ticket_id.eq(&p.id))
                    .and(ticket_comments::id.eq(&p.comment_id)),
            )
            .select(Comment::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::not_found("No such comment on this ticket."))?;
        let own = match (&user, &agent) {
            (Some(user), _) => c.author_id.as_ref() == Some(user),
            (None, Some(agent)) => c.created_by_agent.as_ref() == Some(agent),
            (None, None) => false,
        };
        // The operation needs `ticket_comment:update`; another's comment also needs the moderator's
        // `ticket_comment:delete`, held now (not as a cached credential says).
        if !own && !holds_now(conn, &checker, Permission::new(Resource::TicketComment, Action::Delete))? {
            return Err(ApiError::forbidden(
                "Permission denied: this comment was written by someone else; editing it needs ticket_comment:delete",
            ));
        }
        if let Some(body) = &b.body {
            c.body = required_text("body", body, 50_000)?;
        }
        if let Some(internal) = b.is_internal {
            c.is_internal = internal;
        }
        c.updated_at = alga_core::identity::now();
        diesel::update(
            ticket_comments::table.filter(ticket_comments::tenant_id.eq(&tenant).and(ticket_comments::id.eq(&c.id))),
        )
        .set((
            ticket_comments::body.eq(&c.body),
            ticket_comments::is_internal.eq(c.is_internal),
            ticket_comments::updated_at.eq(c.updated_at),
        ))
        .execute(conn)?;
        Ok(data(c))
    })
    .await
}

async fn delete_comment(ctx: Ctx, p: CommentPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        let deleted = diesel::delete(
            ticket_comments::table.filter(
                ticket_comments::tenant_id
                    .eq(&tenant)
                    .and(ticket_comments::ticket_id.eq(&p.id))
                    .and(ticket_comments::id.eq(&p.comment_id)),
            ),
        )
        .execute(conn)?;
        if deleted == 0 {
            return Err(ApiError::not_found("No such comment on this ticket."));
        }
        Ok(NoContent {})
    })
    .await
}
