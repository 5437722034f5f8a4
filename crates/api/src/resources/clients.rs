//! Clients: the companies the MSP works for.

use alga_core::schema::clients;
use alga_core::{Action, ApiError, Resource};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::model::{
    Data, IdPath, NoContent, Page, PageRequest, data, like_pattern, lower, nullable, optional_text, required_text, utc,
};
use crate::tags::{self, Taggable};

const TAGS: &[&str] = &["Clients"];

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new("clients.list", Method::Get, "/api/v1/clients", Access::needs(Resource::Client, Action::Read))
                .doc(
                    "List clients",
                    "Clients (customer companies) of the tenant, by name. Filter by a part of the name, by \
                              whether they are inactive, or by a tag they carry (`tag=vip`).",
                )
                .tags(TAGS),
            list,
        ),
        op(
            Meta::new(
                "clients.create",
                Method::Post,
                "/api/v1/clients",
                Access::needs(Resource::Client, Action::Create),
            )
            .doc("Create a client", "Adds a client (customer company). Names are unique within the tenant.")
            .tags(TAGS)
            .example(r#"{"name":"Acme Corp","email":"it@acme.example","phone":"+1 555 0100"}"#),
            create,
        ),
        op(
            Meta::new(
                "clients.get",
                Method::Get,
                "/api/v1/clients/{id}",
                Access::needs(Resource::Client, Action::Read),
            )
            .doc("Get a client", "One client by id.")
            .tags(TAGS),
            get,
        ),
        op(
            Meta::new(
                "clients.update",
                Method::Put,
                "/api/v1/clients/{id}",
                Access::needs(Resource::Client, Action::Update),
            )
            .doc(
                "Update a client",
                "Changes the given fields of a client; omitted fields keep their value, `null` clears \
                              an optional one.",
            )
            .tags(TAGS)
            .example(r#"{"is_inactive":true}"#),
            update,
        ),
        op(
            Meta::new(
                "clients.delete",
                Method::Delete,
                "/api/v1/clients/{id}",
                Access::needs(Resource::Client, Action::Delete),
            )
            .doc(
                "Delete a client",
                "Deletes a client that nothing refers to; a client with contacts, tickets, projects or \
                              assets answers 409 (its locations go with it; mark it inactive instead).",
            )
            .tags(TAGS),
            delete,
        ),
    ])
}

/// A client as the API shows it: its row and its tags.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Client {
    #[serde(flatten)]
    pub client: ClientRow,
    /// The names of the tags it carries, sorted.
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub notes: String,
    pub is_inactive: bool,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListClients {
    /// Only clients whose name contains this text (case-insensitive).
    name: Option<String>,
    /// Only inactive (`true`) or active (`false`) clients.
    is_inactive: Option<bool>,
    /// Only clients carrying this tag (its name, any case).
    tag: Option<String>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateClient {
    /// Unique within the tenant.
    name: String,
    email: Option<String>,
    phone: Option<String>,
    website: Option<String>,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    is_inactive: bool,
    /// Names of existing tags to put on it.
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateClient {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    website: Option<Option<String>>,
    notes: Option<String>,
    is_inactive: Option<bool>,
    /// Replaces its tags with these existing tags (names); omitted keeps them.
    tags: Option<Vec<String>>,
}

fn duplicate(name: &str) -> String {
    format!("A client named `{name}` already exists.")
}

fn load_row(conn: &mut alga_core::DbConn, tenant: &str, id: &str) -> Result<ClientRow, ApiError> {
    clients::table
        .filter(clients::tenant_id.eq(tenant).and(clients::id.eq(id)))
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No client with this id."))
}

pub fn load(conn: &mut alga_core::DbConn, tenant: &str, id: &str) -> Result<Client, ApiError> {
    let client = load_row(conn, tenant, id)?;
    let tags = tags::of_one(conn, tenant, Taggable::Client, id)?;
    Ok(Client { client, tags })
}

async fn list(ctx: Ctx, _: (), q: ListClients, _: ()) -> Result<Page<Client>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let tag = tags::filter_id(conn, &tenant, q.tag.as_deref())?;
        let filtered = || {
            let mut query = clients::table.filter(clients::tenant_id.eq(&tenant)).into_boxed();
            if let Some(tag) = &tag {
                query = query.filter(clients::id.eq_any(tags::carrying!(&tenant, Taggable::Client, tag)));
            }
            if let Some(name) = q.name.as_deref().filter(|n| !n.trim().is_empty()) {
                query = query.filter(lower(clients::name).like(like_pattern(name.trim())).escape('\\'));
            }
            if let Some(inactive) = q.is_inactive {
                query = query.filter(clients::is_inactive.eq(inactive));
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((clients::name, clients::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(ClientRow::as_select())
            .load(conn)?;
        let rows =
            tags::attach(conn, &tenant, Taggable::Client, rows, |c| &c.id, |client, tags| Client { client, tags })?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create(ctx: Ctx, _: (), _: (), b: CreateClient) -> Result<Data<Client>, ApiError> {
    let now = alga_core::identity::now();
    let client = ClientRow {
        id: alga_core::identity::new_id(),
        name: required_text("name", &b.name, 200)?,
        email: optional_text("email", b.email.as_deref(), 254)?,
        phone: optional_text("phone", b.phone.as_deref(), 50)?,
        website: optional_text("website", b.website.as_deref(), 500)?,
        notes: b.notes.trim().to_owned(),
        is_inactive: b.is_inactive,
        created_at: now,
        updated_at: now,
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        diesel::insert_into(clients::table)
            .values((
                clients::tenant_id.eq(&tenant),
                clients::id.eq(&client.id),
                clients::name.eq(&client.name),
                clients::email.eq(&client.email),
                clients::phone.eq(&client.phone),
                clients::website.eq(&client.website),
                clients::notes.eq(&client.notes),
                clients::is_inactive.eq(client.is_inactive),
                clients::created_at.eq(client.created_at),
                clients::updated_at.eq(client.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || duplicate(&client.name)))?;
        let tags = tags::set(conn, &tenant, Taggable::Client, &client.id, &b.tags)?;
        Ok(data(Client { client, tags }))
    })
    .await
}

async fn get(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Client>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load(conn, &tenant, &p.id).map(data)).await
}

async fn update(ctx: Ctx, p: IdPath, _: (), b: UpdateClient) -> Result<Data<Client>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, clients, &tenant, &p.id);
        let mut c = load_row(conn, &tenant, &p.id)?;
        if let Some(name) = &b.name {
            c.name = required_text("name", name, 200)?;
        }
        if let Some(email) = &b.email {
            c.email = optional_text("email", email.as_deref(), 254)?;
        }
        if let Some(phone) = &b.phone {
            c.phone = optional_text("phone", phone.as_deref(), 50)?;
        }
        if let Some(website) = &b.website {
            c.website = optional_text("website", website.as_deref(), 500)?;
        }
        if let Some(notes) = &b.notes {
            c.notes = notes.trim().to_owned();
        }
        if let Some(inactive) = b.is_inactive {
            c.is_inactive = inactive;
        }
        c.updated_at = alga_core::identity::now();
        diesel::update(clients::table.filter(clients::tenant_id.eq(&tenant).and(clients::id.eq(&c.id))))
            .set((
                clients::name.eq(&c.name),
                clients::email.eq(&c.email),
                clients::phone.eq(&c.phone),
                clients::website.eq(&c.website),
                clients::notes.eq(&c.notes),
                clients::is_inactive.eq(c.is_inactive),
                clients::updated_at.eq(c.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || duplicate(&c.name)))?;
        let tags = match &b.tags {
            Some(names) => tags::set(conn, &tenant, Taggable::Client, &c.id, names)?,
            None => tags::of_one(conn, &tenant, Taggable::Client, &c.id)?,
        };
        Ok(data(Client { client: c, tags }))
    })
    .await
}

async fn delete(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        // Locked, then deleted, then untagged: a tagging racing this delete either committed first
        // (and is removed here) or finds no client to tag.
        alga_core::lock_row!(conn, clients, &tenant, &p.id);
        let deleted = diesel::delete(clients::table.filter(clients::tenant_id.eq(&tenant).and(clients::id.eq(&p.id))))
            .execute(conn)
            .map_err(|e| {
                ApiError::from_in_use(e, || {
                    "This client still has contacts, tickets, projects or assets; mark it inactive instead.".to_owned()
                })
            })?;
        if deleted == 0 {
            return Err(ApiError::not_found("No client with this id."));
        }
        tags::remove_all(conn, &tenant, Taggable::Client, &p.id)?;
        Ok(NoContent {})
    })
    .await
}
