//! Ticket categories: what a ticket is about ("Hardware", "Hardware › Printer"), two levels deep.

use alga_core::schema::{ticket_categories, tickets};
use alga_core::{Action, ApiError, DbConn, Resource};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::model::{
    Data, IdPath, NoContent, Page, PageRequest, data, like_pattern, lower, nullable, required_text, utc,
};

const TAGS: &[&str] = &["Tickets"];

pub fn operations() -> Vec<Operation> {
    let access = |action| Access::needs(Resource::TicketCategory, action);
    Vec::from([
        op(
            Meta::new("ticket_categories.list", Method::Get, "/api/v1/ticket-categories", access(Action::Read))
                .doc(
                    "List ticket categories",
                    "Ticket categories and subcategories (such as Hardware › Printer), by name. Filter by parent \
                     (`parent_id`), top-level only, or a part of the name.",
                )
                .tags(TAGS),
            list,
        ),
        op(
            Meta::new("ticket_categories.create", Method::Post, "/api/v1/ticket-categories", access(Action::Create))
                .doc(
                    "Create a ticket category or subcategory",
                    "Adds a ticket category, or a subcategory with `parent_id` (such as Printer under Hardware; two \
                     levels only: the parent must be a top-level category). Names are unique within the tenant.",
                )
                .tags(TAGS)
                .example(r#"{"name":"Printer","parent_id":"<Hardware category id>"}"#),
            create,
        ),
        op(
            Meta::new("ticket_categories.get", Method::Get, "/api/v1/ticket-categories/{id}", access(Action::Read))
                .doc("Get a ticket category", "One ticket category or subcategory by id.")
                .tags(TAGS),
            get,
        ),
        op(
            Meta::new(
                "ticket_categories.update",
                Method::Put,
                "/api/v1/ticket-categories/{id}",
                access(Action::Update),
            )
            .doc(
                "Update a ticket category",
                "Renames a ticket category or moves it under another top-level category (`parent_id`; `null` \
                     makes it top-level).",
            )
            .tags(TAGS)
            .example(r#"{"name":"Printers and scanners"}"#),
            update,
        ),
        op(
            Meta::new(
                "ticket_categories.delete",
                Method::Delete,
                "/api/v1/ticket-categories/{id}",
                access(Action::Delete),
            )
            .doc(
                "Delete a ticket category",
                "Deletes a ticket category; one with subcategories or tickets answers 409.",
            )
            .tags(TAGS),
            delete,
        ),
    ])
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = ticket_categories)]
pub struct Category {
    pub id: String,
    pub name: String,
    /// The top-level category this one is a subcategory of.
    pub parent_id: Option<String>,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListCategories {
    /// Only the subcategories of this category.
    parent_id: Option<String>,
    /// Only top-level categories (`true`) or only subcategories (`false`).
    top_level: Option<bool>,
    /// Only categories whose name contains this text (case-insensitive).
    name: Option<String>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateCategory {
    /// Unique within the tenant.
    name: String,
    /// A top-level category, to make this a subcategory of it.
    parent_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateCategory {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    parent_id: Option<Option<String>>,
}

fn duplicate(name: &str) -> String {
    format!("A ticket category named `{name}` already exists.")
}

fn load(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Category, ApiError> {
    ticket_categories::table
        .filter(ticket_categories::tenant_id.eq(tenant).and(ticket_categories::id.eq(id)))
        .select(Category::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No ticket category with this id."))
}

fn children(conn: &mut DbConn, tenant: &str, id: &str) -> Result<i64, ApiError> {
    Ok(ticket_categories::table
        .filter(ticket_categories::tenant_id.eq(tenant).and(ticket_categories::parent_id.eq(id)))
        .count()
        .get_result(conn)?)
}

/// A parent must be a top-level category of the tenant: categories are two levels deep.
fn check_parent(conn: &mut DbConn, tenant: &str, parent: &str) -> Result<(), ApiError> {
    let grandparent: Option<Option<String>> = ticket_categories::table
        .filter(ticket_categories::tenant_id.eq(tenant).and(ticket_categories::id.eq(parent)))
        .select(ticket_categories::parent_id)
        .first(conn)
        .optional()?;
    match grandparent {
        None => Err(ApiError::validation("parent_id", "no ticket category with this id")),
        Some(Some(_)) => Err(ApiError::validation(
            "parent_id",
            "this category is itself a subcategory; categories are two levels deep",
        )),
        Some(None) => Ok(()),
    }
}

async fn list(ctx: Ctx, _: (), q: ListCategories, _: ()) -> Result<Page<Category>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let filtered = || {
            let mut query = ticket_categories::table.filter(ticket_categories::tenant_id.eq(&tenant)).into_boxed();
            if let Some(parent) = &q.parent_id {
                query = query.filter(ticket_categories::parent_id.eq(parent));
            }
            match q.top_level {
                Some(true) => query = query.filter(ticket_categories::parent_id.is_null()),
                Some(false) => query = query.filter(ticket_categories::parent_id.is_not_null()),
                None => {}
            }
            if let Some(name) = q.name.as_deref().filter(|n| !n.trim().is_empty()) {
                query = query.filter(lower(ticket_categories::name).like(like_pattern(name.trim())).escape('\\'));
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((ticket_categories::name, ticket_categories::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(Category::as_select())
            .load(conn)?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create(ctx: Ctx, _: (), _: (), b: CreateCategory) -> Result<Data<Category>, ApiError> {
    let now = alga_core::identity::now();
    let category = Category {
        id: alga_core::identity::new_id(),
        name: required_text("name", &b.name, 200)?,
        parent_id: b.parent_id,
        created_at: now,
        updated_at: now,
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        if let Some(parent) = &category.parent_id {
            // Lock the parent so that it cannot become a subcategory meanwhile.
            alga_core::lock_row!(conn, ticket_categories, &tenant, parent);
            check_parent(conn, &tenant, parent)?;
        }
        diesel::insert_into(ticket_categories::table)
            .values((
                ticket_categories::tenant_id.eq(&tenant),
                ticket_categories::id.eq(&category.id),
                ticket_categories::name.eq(&category.name),
                ticket_categories::parent_id.eq(&category.parent_id),
                ticket_categories::created_at.eq(category.created_at),
                ticket_categories::updated_at.eq(category.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || duplicate(&category.name)))?;
        Ok(data(category))
    })
    .await
}

async fn get(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Category>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load(conn, &tenant, &p.id).map(data)).await
}

async fn update(ctx: Ctx, p: IdPath, _: (), b: UpdateCategory) -> Result<Data<Category>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        // This row and the new parent's, in id order: X→Y and Y→X at once must not deadlock.
        let mut locked = vec![p.id.as_str()];
        if let Some(Some(parent)) = &b.parent_id {
            locked.push(parent.as_str());
        }
        locked.sort_unstable();
        locked.dedup();
        for id in locked {
            alga_core::lock_row!(conn, ticket_categories, &tenant, id);
        }
        let mut c = load(conn, &tenant, &p.id)?;
        if let Some(name) = &b.name {
            c.name = required_text("name", name, 200)?;
        }
        if let Some(parent) = &b.parent_id {
            if let Some(parent) = parent
                && Some(parent) != c.parent_id.as_ref()
            {
                if parent == &c.id {
                    return Err(ApiError::validation("parent_id", "a category cannot be its own parent"));
                }
                check_parent(conn, &tenant, parent)?;
                let below = children(conn, &tenant, &c.id)?;
                if below > 0 {
                    return Err(ApiError::validation(
                        "parent_id",
                        format!("this category has {below} subcategories; categories are two levels deep"),
                    ));
                }
            }
            c.parent_id = parent.clone();
        }
        c.updated_at = alga_core::identity::now();
        diesel::update(
            ticket_categories::table
                .filter(ticket_categories::tenant_id.eq(&tenant).and(ticket_categories::id.eq(&c.id))),
        )
        .set((
            ticket_categories::name.eq(&c.name),
            ticket_categories::parent_id.eq(&c.parent_id),
            ticket_categories::updated_at.eq(c.updated_at),
        ))
        .execute(conn)
        .map_err(|e| ApiError::from_unique(e, || duplicate(&c.name)))?;
        Ok(data(c))
    })
    .await
}

async fn delete(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, ticket_categories, &tenant, &p.id);
        load(conn, &tenant, &p.id)?;
        let below = children(conn, &tenant, &p.id)?;
        if below > 0 {
            return Err(ApiError::conflict(format!(
                "This category has {below} subcategories; delete or move them first."
            )));
        }
        let used: i64 = tickets::table
            .filter(tickets::tenant_id.eq(&tenant).and(tickets::category_id.eq(&p.id)))
            .count()
            .get_result(conn)?;
        if used > 0 {
            return Err(ApiError::conflict(format!("{used} tickets are in this category; recategorize them first.")));
        }
        diesel::delete(
            ticket_categories::table
                .filter(ticket_categories::tenant_id.eq(&tenant).and(ticket_categories::id.eq(&p.id))),
        )
        .execute(conn)
        // A ticket or subcategory added meanwhile (committed after the counts) makes it a 409 too.
        .map_err(|e| {
            ApiError::from_in_use(e, || "Tickets or subcategories use this category; move them first.".to_owned())
        })?;
        Ok(NoContent {})
    })
    .await
}
