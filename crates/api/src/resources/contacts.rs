//! Contacts: the people at clients.

use alga_core::schema::{contacts, tickets};
use alga_core::{Action, ApiError, DbConn, Resource};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::model::{
    Data, IdPath, NoContent, Page, PageRequest, data, like_pattern, lower, nullable, optional_text, required_text, utc,
};
use crate::refs;

const TAGS: &[&str] = &["Contacts"];

// Example request bodies, shown in the OpenAPI document.
const EXAMPLE_CONTACTS_CREATE: &str =
    r#"{"full_name":"Dana Scully","email":"dana@acme.example","client_id":"<client id>"}"#;
const EXAMPLE_CONTACTS_UPDATE: &str = r#"{"phone":"+1 555 0101"}"#;

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new("contacts.list", Method::Get, "/api/v1/contacts", Access::needs(Resource::Contact, Action::Read))
                .doc(
                    "List contacts",
                    "Contacts (people at client companies), by name. Filter by client, or search names and emails.",
                )
                .tags(TAGS),
            list,
        ),
        op(
            Meta::new(
                "contacts.create",
                Method::Post,
                "/api/v1/contacts",
                Access::needs(Resource::Contact, Action::Create),
            )
            .doc("Create a contact", "Adds a person, usually at a client.")
            .tags(TAGS)
            .example(EXAMPLE_CONTACTS_CREATE),
            create,
        ),
        op(
            Meta::new(
                "contacts.get",
                Method::Get,
                "/api/v1/contacts/{id}",
                Access::needs(Resource::Contact, Action::Read),
            )
            .doc("Get a contact", "One contact by id.")
            .tags(TAGS),
            get,
        ),
        op(
            Meta::new(
                "contacts.update",
                Method::Put,
                "/api/v1/contacts/{id}",
                Access::needs(Resource::Contact, Action::Update),
            )
            .doc(
                "Update a contact",
                "Changes the given fields; omitted fields keep their value, `null` clears an optional one.",
            )
            .tags(TAGS)
            .example(EXAMPLE_CONTACTS_UPDATE),
            update,
        ),
        op(
            Meta::new(
                "contacts.delete",
                Method::Delete,
                "/api/v1/contacts/{id}",
                Access::needs(Resource::Contact, Action::Delete),
            )
            .doc("Delete a contact", "Deletes a contact no ticket refers to; otherwise 409 (mark it inactive instead).")
            .tags(TAGS),
            delete,
        ),
    ])
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = contacts)]
pub struct Contact {
    pub id: String,
    pub client_id: Option<String>,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_title: Option<String>,
    pub is_inactive: bool,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListContacts {
    /// Only contacts of this client.
    client_id: Option<String>,
    /// Text to find in names and email addresses (case-insensitive).
    search: Option<String>,
    /// Only inactive (`true`) or active (`false`) contacts.
    is_inactive: Option<bool>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateContact {
    full_name: String,
    /// The client this person works at.
    client_id: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    job_title: Option<String>,
    #[serde(default)]
    is_inactive: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateContact {
    full_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    client_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    job_title: Option<Option<String>>,
    is_inactive: Option<bool>,
}

fn load(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Contact, ApiError> {
    contacts::table
        .filter(contacts::tenant_id.eq(tenant).and(contacts::id.eq(id)))
        .select(Contact::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No contact with this id."))
}

async fn list(ctx: Ctx, _: (), q: ListContacts, _: ()) -> Result<Page<Contact>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let filtered = || {
            let mut query = contacts::table.filter(contacts::tenant_id.eq(&tenant)).into_boxed();
            if let Some(client) = &q.client_id {
                query = query.filter(contacts::client_id.eq(client));
            }
            if let Some(text) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                let pattern = like_pattern(text);
                query = query.filter(
                    lower(contacts::full_name).like(pattern.clone()).escape('\\').or(lower(
                        contacts::email.assume_not_null(),
                    )
                    .like(pattern)
                    .escape('\\')),
                );
            }
            if let Some(inactive) = q.is_inactive {
                query = query.filter(contacts::is_inactive.eq(inactive));
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((contacts::full_name, contacts::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(Contact::as_select())
            .load(conn)?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create(ctx: Ctx, _: (), _: (), b: CreateContact) -> Result<Data<Contact>, ApiError> {
    let now = alga_core::identity::now();
    let contact = Contact {
        id: alga_core::identity::new_id(),
        client_id: b.client_id,
        full_name: required_text("full_name", &b.full_name, 200)?,
        email: optional_text("email", b.email.as_deref(), 254)?,
        phone: optional_text("phone", b.phone.as_deref(), 50)?,
        job_title: optional_text("job_title", b.job_title.as_deref(), 200)?,
        is_inactive: b.is_inactive,
        created_at: now,
        updated_at: now,
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        if let Some(client) = &contact.client_id {
            refs::client(conn, &tenant, "client_id", client)?;
        }
        diesel::insert_into(contacts::table)
            .values((
                contacts::tenant_id.eq(&tenant),
                contacts::id.eq(&contact.id),
                contacts::client_id.eq(&contact.client_id),
                contacts::full_name.eq(&contact.full_name),
                contacts::email.eq(&contact.email),
                contacts::phone.eq(&contact.phone),
                contacts::job_title.eq(&contact.job_title),
                contacts::is_inactive.eq(contact.is_inactive),
                contacts::created_at.eq(contact.created_at),
                contacts::updated_at.eq(contact.updated_at),
            ))
            .execute(conn)?;
        Ok(data(contact))
    })
    .await
}

async fn get(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Contact>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load(conn, &tenant, &p.id).map(data)).await
}

async fn update(ctx: Ctx, p: IdPath, _: (), b: UpdateContact) -> Result<Data<Contact>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, contacts, &tenant, &p.id);
        let mut c = load(conn, &tenant, &p.id)?;
        if let Some(name) = &b.full_name {
            c.full_name = required_text("full_name", name, 200)?;
        }
        if let Some(client) = b.client_id {
            if let Some(client) = &client {
                refs::client(conn, &tenant, "client_id", client)?;
            }
            c.client_id = client;
        }
        if let Some(email) = &b.email {
            c.email = optional_text("email", email.as_deref(), 254)?;
        }
        if let Some(phone) = &b.phone {
            c.phone = optional_text("phone", phone.as_deref(), 50)?;
        }
        if let Some(title) = &b.job_title {
            c.job_title = optional_text("job_title", title.as_deref(), 200)?;
        }
        if let Some(inactive) = b.is_inactive {
            c.is_inactive = inactive;
        }
        c.updated_at = alga_core::identity::now();
        diesel::update(contacts::table.filter(contacts::tenant_id.eq(&tenant).and(contacts::id.eq(&c.id))))
            .set((
                contacts::client_id.eq(&c.client_id),
                contacts::full_name.eq(&c.full_name),
                contacts::email.eq(&c.email),
                contacts::phone.eq(&c.phone),
                contacts::job_title.eq(&c.job_title),
                contacts::is_inactive.eq(c.is_inactive),
                contacts::updated_at.eq(c.updated_at),
            ))
            .execute(conn)?;
        Ok(data(c))
    })
    .await
}

async fn delete(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        load(conn, &tenant, &p.id)?;
        let used: i64 = tickets::table
            .filter(tickets::tenant_id.eq(&tenant).and(tickets::contact_id.eq(&p.id)))
            .count()
            .get_result(conn)?;
        if used > 0 {
            return Err(ApiError::conflict(format!("{used} tickets refer to this contact; mark it inactive instead.")));
        }
        diesel::delete(contacts::table.filter(contacts::tenant_id.eq(&tenant).and(contacts::id.eq(&p.id))))
            .execute(conn)?;
        Ok(NoContent {})
    })
    .await
}
