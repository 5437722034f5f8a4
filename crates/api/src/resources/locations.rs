//! Client locations: the sites (offices, branches, server rooms) of a client.

use alga_core::schema::client_locations;
use alga_core::{Action, ApiError, DbConn, Resource};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::model::{
    Data, IdPath, NoContent, Page, PageRequest, bounded_text, data, nullable, optional_text, required_text, utc,
};

const TAGS: &[&str] = &["Clients"];
const EXAMPLE_CREATE: &str = r#"{"name":"Head office","address_line1":"1 Main Street","city":"Springfield","region":"IL","postal_code":"62701","country":"US","phone":"+1 555 0100","is_primary":true}"#;

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new(
                "clients.locations.list",
                Method::Get,
                "/api/v1/clients/{id}/locations",
                Access::needs(Resource::ClientLocation, Action::Read),
            )
            .doc(
                "List a client's locations",
                "The sites of a client (offices, branches, warehouses, server rooms) with their addresses, the \
                 primary site first, then by name.",
            )
            .tags(TAGS),
            list,
        ),
        op(
            Meta::new(
                "clients.locations.create",
                Method::Post,
                "/api/v1/clients/{id}/locations",
                Access::needs(Resource::ClientLocation, Action::Create),
            )
            .doc(
                "Add a location to a client",
                "Adds a site (office, branch) with its address to a client. Names are unique per client; \
                 `is_primary` makes it the client's main site (the previous one stops being primary).",
            )
            .tags(TAGS)
            .example(EXAMPLE_CREATE),
            create,
        ),
        op(
            Meta::new(
                "clients.locations.get",
                Method::Get,
                "/api/v1/clients/{id}/locations/{location_id}",
                Access::needs(Resource::ClientLocation, Action::Read),
            )
            .doc("Get a client location", "One site of a client, with its address.")
            .tags(TAGS),
            get,
        ),
        op(
            Meta::new(
                "clients.locations.update",
                Method::Put,
                "/api/v1/clients/{id}/locations/{location_id}",
                Access::needs(Resource::ClientLocation, Action::Update),
            )
            .doc(
                "Update a client location",
                "Changes the given fields of a site (address, phone, primary flag); omitted fields keep their \
                 value, `null` clears an optional one.",
            )
            .tags(TAGS)
            .example(r#"{"phone":"+1 555 0199","is_primary":true}"#),
            update,
        ),
        op(
            Meta::new(
                "clients.locations.delete",
                Method::Delete,
                "/api/v1/clients/{id}/locations/{location_id}",
                Access::needs(Resource::ClientLocation, Action::Delete),
            )
            .doc(
                "Delete a client location",
                "Deletes a site of a client; a site that assets are at answers 409 (move them first).",
            )
            .tags(TAGS),
            delete,
        ),
    ])
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = client_locations)]
pub struct Location {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    /// State, province or county.
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub notes: String,
    /// The client's main site; at most one per client.
    pub is_primary: bool,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LocationPath {
    /// The client's id.
    id: String,
    /// The location's id.
    location_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListLocations {
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateLocation {
    /// Unique among the client's locations, e.g. `Head office`.
    name: String,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    phone: Option<String>,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    is_primary: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateLocation {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    address_line1: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    address_line2: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    city: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    region: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    postal_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    country: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    phone: Option<Option<String>>,
    notes: Option<String>,
    is_primary: Option<bool>,
}

/// The optional text fields of a location with their bounds, in one place for create and update.
const ADDRESS_LIMIT: usize = 200;

fn address(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    optional_text(field, value, if field == "phone" { 50 } else { ADDRESS_LIMIT })
}

fn duplicate(name: &str) -> String {
    format!("This client already has a location named `{name}`.")
}

/// The client must exist in the tenant: a missing or foreign client is a 404.
fn client_must_exist(conn: &mut DbConn, tenant: &str, client: &str) -> Result<(), ApiError> {
    crate::refs::client(conn, tenant, "id", client).map_err(|_| ApiError::not_found("No client with this id."))
}

fn load(conn: &mut DbConn, tenant: &str, client: &str, id: &str) -> Result<Location, ApiError> {
    client_must_exist(conn, tenant, client)?;
    client_locations::table
        .filter(
            client_locations::tenant_id
                .eq(tenant)
                .and(client_locations::client_id.eq(client))
                .and(client_locations::id.eq(id)),
        )
        .select(Location::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No such location for this client."))
}

/// Makes `id` the client's only primary location.
fn demote_others(conn: &mut DbConn, tenant: &str, client: &str, id: &str) -> Result<(), ApiError> {
    diesel::update(
        client_locations::table.filter(
            client_locations::tenant_id
                .eq(tenant)
                .and(client_locations::client_id.eq(client))
                .and(client_locations::is_primary.eq(true))
                .and(client_locations::id.ne(id)),
        ),
    )
    .set(client_locations::is_primary.eq(false))
    .execute(conn)?;
    Ok(())
}

async fn list(ctx: Ctx, p: IdPath, q: ListLocations, _: ()) -> Result<Page<Location>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        client_must_exist(conn, &tenant, &p.id)?;
        let filtered = || {
            client_locations::table
                .filter(client_locations::tenant_id.eq(&tenant).and(client_locations::client_id.eq(&p.id)))
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((client_locations::is_primary.desc(), client_locations::name, client_locations::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(Location::as_select())
            .load(conn)?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create(ctx: Ctx, p: IdPath, _: (), b: CreateLocation) -> Result<Data<Location>, ApiError> {
    let now = alga_core::identity::now();
    let location = Location {
        id: alga_core::identity::new_id(),
        client_id: p.id,
        name: required_text("name", &b.name, ADDRESS_LIMIT)?,
        address_line1: address("address_line1", b.address_line1.as_deref())?,
        address_line2: address("address_line2", b.address_line2.as_deref())?,
        city: address("city", b.city.as_deref())?,
        region: address("region", b.region.as_deref())?,
        postal_code: address("postal_code", b.postal_code.as_deref())?,
        country: address("country", b.country.as_deref())?,
        phone: address("phone", b.phone.as_deref())?,
        notes: bounded_text("notes", &b.notes, 10_000)?,
        is_primary: b.is_primary,
        created_at: now,
        updated_at: now,
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        client_must_exist(conn, &tenant, &location.client_id)?;
        if location.is_primary {
            demote_others(conn, &tenant, &location.client_id, &location.id)?;
        }
        diesel::insert_into(client_locations::table)
            .values((
                client_locations::tenant_id.eq(&tenant),
                client_locations::id.eq(&location.id),
                client_locations::client_id.eq(&location.client_id),
                client_locations::name.eq(&location.name),
                client_locations::address_line1.eq(&location.address_line1),
                client_locations::address_line2.eq(&location.address_line2),
                client_locations::city.eq(&location.city),
                client_locations::region.eq(&location.region),
                client_locations::postal_code.eq(&location.postal_code),
                client_locations::country.eq(&location.country),
                client_locations::phone.eq(&location.phone),
                client_locations::notes.eq(&location.notes),
                client_locations::is_primary.eq(location.is_primary),
                client_locations::created_at.eq(location.created_at),
                client_locations::updated_at.eq(location.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || duplicate(&location.name)))?;
        Ok(data(location))
    })
    .await
}

async fn get(ctx: Ctx, p: LocationPath, _: (), _: ()) -> Result<Data<Location>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load(conn, &tenant, &p.id, &p.location_id).map(data)).await
}

async fn update(ctx: Ctx, p: LocationPath, _: (), b: UpdateLocation) -> Result<Data<Location>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, client_locations, &tenant, &p.location_id);
        let mut l = load(conn, &tenant, &p.id, &p.location_id)?;
        if let Some(name) = &b.name {
            l.name = required_text("name", name, ADDRESS_LIMIT)?;
        }
        for (field, given, value) in [
            ("address_line1", &b.address_line1, &mut l.address_line1),
            ("address_line2", &b.address_line2, &mut l.address_line2),
            ("city", &b.city, &mut l.city),
            ("region", &b.region, &mut l.region),
            ("postal_code", &b.postal_code, &mut l.postal_code),
            ("country", &b.country, &mut l.country),
            ("phone", &b.phone, &mut l.phone),
        ] {
            if let Some(given) = given {
                *value = address(field, given.as_deref())?;
            }
        }
        if let Some(text) = &b.notes {
            l.notes = bounded_text("notes", text, 10_000)?;
        }
        if let Some(primary) = b.is_primary {
            if primary {
                demote_others(conn, &tenant, &l.client_id, &l.id)?;
            }
            l.is_primary = primary;
        }
        l.updated_at = alga_core::identity::now();
        diesel::update(
            client_locations::table.filter(client_locations::tenant_id.eq(&tenant).and(client_locations::id.eq(&l.id))),
        )
        .set((
            client_locations::name.eq(&l.name),
            client_locations::address_line1.eq(&l.address_line1),
            client_locations::address_line2.eq(&l.address_line2),
            client_locations::city.eq(&l.city),
            client_locations::region.eq(&l.region),
            client_locations::postal_code.eq(&l.postal_code),
            client_locations::country.eq(&l.country),
            client_locations::phone.eq(&l.phone),
            client_locations::notes.eq(&l.notes),
            client_locations::is_primary.eq(l.is_primary),
            client_locations::updated_at.eq(l.updated_at),
        ))
        .execute(conn)
        .map_err(|e| ApiError::from_unique(e, || duplicate(&l.name)))?;
        Ok(data(l))
    })
    .await
}

async fn delete(ctx: Ctx, p: LocationPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        load(conn, &tenant, &p.id, &p.location_id)?;
        diesel::delete(
            client_locations::table
                .filter(client_locations::tenant_id.eq(&tenant).and(client_locations::id.eq(&p.location_id))),
        )
        .execute(conn)
        .map_err(|e| {
            ApiError::from_in_use(e, || "Assets are at this location; move them to another location first.".to_owned())
        })?;
        Ok(NoContent {})
    })
    .await
}
