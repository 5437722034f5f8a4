//! Assets (configuration items): the devices an MSP looks after for its clients, and the tickets
//! they are linked to.
//!
//! Assets carry tags from the tenant's vocabulary (`crate::tags`), like clients.

use alga_core::schema::{assets, statuses, ticket_assets, tickets};
use alga_core::{Action, ApiError, DbConn, Resource};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::model::{
    Data, IdPath, NoContent, Page, PageRequest, bounded_text, data, like_pattern, lower, nullable, optional_text,
    required_text, utc,
};
use crate::refs;
use crate::tags::{self, Taggable};

const TAGS: &[&str] = &["Assets"];
const EXAMPLE_CREATE: &str = r#"{"asset_type":"laptop","name":"ACME-LT-014","client_id":"<client id>","location_id":"<location id>","serial_number":"5CG1234XYZ","purchase_date":"2024-03-01","warranty_end_date":"2027-02-28","tags":["vip"],"attributes":{"model":"HP EliteBook 840 G10","os":"Windows 11 Pro","ram_gb":16}}"#;

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new("assets.list", Method::Get, "/api/v1/assets", Access::needs(Resource::Asset, Action::Read))
                .doc(
                    "List assets",
                    "Devices and equipment (configuration items) of the tenant's clients, by name. Filter by \
                     client, location, type (laptop, server, printer, firewall or switch as `network`…), status, \
                     warranty ending before a date (out of warranty), serial number, a tag they carry \
                     (`tag=vip`), or text in the name, serial number and notes.",
                )
                .tags(TAGS),
            list,
        ),
        op(
            Meta::new("assets.create", Method::Post, "/api/v1/assets", Access::needs(Resource::Asset, Action::Create))
                .doc(
                    "Create an asset",
                    "Records a device (workstation, laptop, server, network equipment, printer, phone…) of a client, \
                     optionally at one of the client's locations, with serial number, purchase and warranty dates, \
                     existing tags and custom `attributes` (a JSON object).",
                )
                .tags(TAGS)
                .example(EXAMPLE_CREATE),
            create,
        ),
        op(
            Meta::new("assets.get", Method::Get, "/api/v1/assets/{id}", Access::needs(Resource::Asset, Action::Read))
                .doc(
                    "Get an asset",
                    "One device or piece of equipment by id, with its warranty, tags and custom attributes.",
                )
                .tags(TAGS),
            get,
        ),
        op(
            Meta::new(
                "assets.update",
                Method::Put,
                "/api/v1/assets/{id}",
                Access::needs(Resource::Asset, Action::Update),
            )
            .doc(
                "Update an asset",
                "Changes the given fields of a device, such as its status (in repair, retired), location, \
                 warranty date or tags (labels such as `vip`); omitted fields keep their value, `null` clears \
                 an optional one. `attributes` and `tags` replace the whole object or set (`[]` removes every \
                 tag).",
            )
            .tags(TAGS)
            .example(r#"{"status":"in_repair","notes":"Sent to HP for a new keyboard."}"#),
            update,
        ),
        op(
            Meta::new(
                "assets.delete",
                Method::Delete,
                "/api/v1/assets/{id}",
                Access::needs(Resource::Asset, Action::Delete),
            )
            .doc(
                "Delete an asset",
                "Deletes a device record, its tags and its links to tickets (the tickets stay). To keep its \
                 history, set its status to `retired` instead.",
            )
            .tags(TAGS),
            delete,
        ),
        op(
            Meta::new(
                "assets.tickets.list",
                Method::Get,
                "/api/v1/assets/{id}/tickets",
                Access::needs(Resource::Ticket, Action::Read),
            )
            .doc(
                "List an asset's tickets",
                "The tickets linked to a device, newest first: its service history. Filter by open or closed.",
            )
            .tags(TAGS),
            list_tickets,
        ),
        op(
            Meta::new(
                "tickets.assets.list",
                Method::Get,
                "/api/v1/tickets/{id}/assets",
                Access::needs(Resource::Asset, Action::Read),
            )
            .doc("List a ticket's assets", "The devices a ticket is about, by name.")
            .tags(&["Tickets"]),
            list_for_ticket,
        ),
        op(
            Meta::new(
                "tickets.assets.set",
                Method::Put,
                "/api/v1/tickets/{id}/assets",
                Access::needs(Resource::Ticket, Action::Update),
            )
            .doc(
                "Link assets to a ticket",
                "Sets which devices a ticket is about: `asset_ids` replaces the ticket's linked assets (an empty \
                 list unlinks all). Every asset must belong to the ticket's client.",
            )
            .tags(&["Tickets"])
            .example(r#"{"asset_ids":["<asset id>"]}"#),
            set_for_ticket,
        ),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssetType {
    Workstation,
    Laptop,
    Server,
    /// Firewalls, switches, routers, access points.
    Network,
    Printer,
    /// Phones and tablets.
    Mobile,
    /// Monitors, docks, UPSs and other peripherals.
    Peripheral,
    Other,
}

impl AssetType {
    fn as_str(self) -> &'static str {
        match self {
            AssetType::Workstation => "workstation",
            AssetType::Laptop => "laptop",
            AssetType::Server => "server",
            AssetType::Network => "network",
            AssetType::Printer => "printer",
            AssetType::Mobile => "mobile",
            AssetType::Peripheral => "peripheral",
            AssetType::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssetStatus {
    Active,
    InStorage,
    InRepair,
    Retired,
    Disposed,
}

impl AssetStatus {
    fn as_str(self) -> &'static str {
        match self {
            AssetStatus::Active => "active",
            AssetStatus::InStorage => "in_storage",
            AssetStatus::InRepair => "in_repair",
            AssetStatus::Retired => "retired",
            AssetStatus::Disposed => "disposed",
        }
    }
}

/// The largest `attributes` object, as JSON text.
const MAX_ATTRIBUTES_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = assets)]
struct Row {
    id: String,
    client_id: String,
    location_id: Option<String>,
    asset_type: String,
    name: String,
    serial_number: Option<String>,
    status: String,
    purchase_date: Option<NaiveDate>,
    warranty_end_date: Option<NaiveDate>,
    notes: String,
    attributes: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Asset {
    pub id: String,
    pub client_id: String,
    /// One of the client's locations.
    pub location_id: Option<String>,
    /// workstation, laptop, server, network, printer, mobile, peripheral or other.
    pub asset_type: String,
    pub name: String,
    pub serial_number: Option<String>,
    /// active, in_storage, in_repair, retired or disposed.
    pub status: String,
    pub purchase_date: Option<NaiveDate>,
    pub warranty_end_date: Option<NaiveDate>,
    pub notes: String,
    /// Custom fields (model, operating system, IP address…).
    pub attributes: Map<String, Value>,
    /// The names of the tags it carries, sorted.
    pub tags: Vec<String>,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

impl From<Row> for Asset {
    fn from(r: Row) -> Asset {
        Asset {
            id: r.id,
            client_id: r.client_id,
            location_id: r.location_id,
            asset_type: r.asset_type,
            name: r.name,
            serial_number: r.serial_number,
            status: r.status,
            purchase_date: r.purchase_date,
            warranty_end_date: r.warranty_end_date,
            notes: r.notes,
            // Written only by this module, always an object.
            attributes: serde_json::from_str(&r.attributes).unwrap_or_default(),
            tags: Vec::new(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListAssets {
    client_id: Option<String>,
    location_id: Option<String>,
    asset_type: Option<AssetType>,
    status: Option<AssetStatus>,
    /// Only assets whose warranty ends before this date (YYYY-MM-DD): pass today for the ones out
    /// of warranty. Assets without a warranty date are left out.
    warranty_before: Option<NaiveDate>,
    /// Only assets with exactly this serial number (case-insensitive).
    serial_number: Option<String>,
    /// Only assets carrying this tag (its name, any case).
    tag: Option<String>,
    /// Text to find in the name, serial number or notes (case-insensitive).
    search: Option<String>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateAsset {
    asset_type: AssetType,
    /// A name or asset tag, e.g. `ACME-LT-014`.
    name: String,
    client_id: String,
    /// One of the client's locations.
    location_id: Option<String>,
    serial_number: Option<String>,
    /// Default: active.
    status: Option<AssetStatus>,
    purchase_date: Option<NaiveDate>,
    warranty_end_date: Option<NaiveDate>,
    #[serde(default)]
    notes: String,
    /// Custom fields as a JSON object, at most 8 KiB.
    attributes: Option<Map<String, Value>>,
    /// Names of existing tags to put on it.
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateAsset {
    asset_type: Option<AssetType>,
    name: Option<String>,
    /// Moving to another client needs a `location_id` of that client (or `null`) when it has one.
    client_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    location_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    serial_number: Option<Option<String>>,
    status: Option<AssetStatus>,
    #[serde(default, deserialize_with = "nullable")]
    purchase_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    warranty_end_date: Option<Option<NaiveDate>>,
    notes: Option<String>,
    /// Replaces the whole object.
    attributes: Option<Map<String, Value>>,
    /// Replaces its tags with these existing tags (names); omitted keeps them.
    tags: Option<Vec<String>>,
}

fn attributes_text(attributes: &Map<String, Value>) -> Result<String, ApiError> {
    let text = serde_json::to_string(attributes).map_err(|e| ApiError::internal(&e))?;
    if text.len() > MAX_ATTRIBUTES_BYTES {
        return Err(ApiError::validation(
            "attributes",
            format!("must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON"),
        ));
    }
    Ok(text)
}

fn check_dates(purchase: Option<NaiveDate>, warranty: Option<NaiveDate>) -> Result<(), ApiError> {
    match (purchase, warranty) {
        (Some(p), Some(w)) if w < p => {
            Err(ApiError::validation("warranty_end_date", "must not be before purchase_date"))
        }
        _ => Ok(()),
    }
}

fn load_row(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Row, ApiError> {
    assets::table
        .filter(assets::tenant_id.eq(tenant).and(assets::id.eq(id)))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No asset with this id."))
}

/// Assets of a page with their tags (one query).
fn with_tags(conn: &mut DbConn, tenant: &str, rows: Vec<Row>) -> Result<Vec<Asset>, ApiError> {
    tags::attach(conn, tenant, Taggable::Asset, rows, |r| &r.id, |r, tags| Asset { tags, ..Asset::from(r) })
}

async fn list(ctx: Ctx, _: (), q: ListAssets, _: ()) -> Result<Page<Asset>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let tag = tags::filter_id(conn, &tenant, q.tag.as_deref())?;
        let filtered = || {
            let mut query = assets::table.filter(assets::tenant_id.eq(&tenant)).into_boxed();
            if let Some(tag) = &tag {
                query = query.filter(assets::id.eq_any(tags::carrying!(&tenant, Taggable::Asset, tag)));
            }
            if let Some(v) = &q.client_id {
                query = query.filter(assets::client_id.eq(v));
            }
            if let Some(v) = &q.location_id {
                query = query.filter(assets::location_id.eq(v));
            }
            if let Some(v) = q.asset_type {
                query = query.filter(assets::asset_type.eq(v.as_str()));
            }
            if let Some(v) = q.status {
                query = query.filter(assets::status.eq(v.as_str()));
            }
            if let Some(before) = q.warranty_before {
                query = query.filter(assets::warranty_end_date.lt(before));
            }
            if let Some(serial) = q.serial_number.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                query = query.filter(lower(assets::serial_number.assume_not_null()).eq(serial.to_lowercase()));
            }
            if let Some(text) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                let pattern = like_pattern(text);
                query = query.filter(
                    lower(assets::name)
                        .like(pattern.clone())
                        .escape('\\')
                        .or(lower(assets::serial_number.assume_not_null()).like(pattern.clone()).escape('\\'))
                        .or(lower(assets::notes).like(pattern).escape('\\')),
                );
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((assets::name, assets::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(Row::as_select())
            .load(conn)?;
        Ok(page.page(with_tags(conn, &tenant, rows)?, total))
    })
    .await
}

async fn create(ctx: Ctx, _: (), _: (), b: CreateAsset) -> Result<Data<Asset>, ApiError> {
    check_dates(b.purchase_date, b.warranty_end_date)?;
    let now = alga_core::identity::now();
    let attributes = b.attributes.unwrap_or_default();
    let attributes_json = attributes_text(&attributes)?;
    let mut asset = Asset {
        id: alga_core::identity::new_id(),
        client_id: b.client_id,
        location_id: b.location_id,
        asset_type: b.asset_type.as_str().to_owned(),
        name: required_text("name", &b.name, 200)?,
        serial_number: optional_text("serial_number", b.serial_number.as_deref(), 100)?,
        status: b.status.unwrap_or(AssetStatus::Active).as_str().to_owned(),
        purchase_date: b.purchase_date,
        warranty_end_date: b.warranty_end_date,
        notes: bounded_text("notes", &b.notes, 10_000)?,
        attributes,
        tags: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        refs::client(conn, &tenant, "client_id", &asset.client_id)?;
        if let Some(location) = &asset.location_id {
            refs::location_of_client(conn, &tenant, "location_id", location, &asset.client_id)?;
        }
        diesel::insert_into(assets::table)
            .values((
                assets::tenant_id.eq(&tenant),
                assets::id.eq(&asset.id),
                assets::client_id.eq(&asset.client_id),
                assets::location_id.eq(&asset.location_id),
                assets::asset_type.eq(&asset.asset_type),
                assets::name.eq(&asset.name),
                assets::serial_number.eq(&asset.serial_number),
                assets::status.eq(&asset.status),
                assets::purchase_date.eq(asset.purchase_date),
                assets::warranty_end_date.eq(asset.warranty_end_date),
                assets::notes.eq(&asset.notes),
                assets::attributes.eq(&attributes_json),
                assets::created_at.eq(asset.created_at),
                assets::updated_at.eq(asset.updated_at),
            ))
            .execute(conn)?;
        asset.tags = tags::set(conn, &tenant, Taggable::Asset, &asset.id, &b.tags)?;
        Ok(data(asset))
    })
    .await
}

async fn get(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Asset>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let mut asset = Asset::from(load_row(conn, &tenant, &p.id)?);
        asset.tags = tags::of_one(conn, &tenant, Taggable::Asset, &asset.id)?;
        Ok(data(asset))
    })
    .await
}

async fn update(ctx: Ctx, p: IdPath, _: (), b: UpdateAsset) -> Result<Data<Asset>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    if let Some(attributes) = &b.attributes {
        attributes_text(attributes)?;
    }
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, assets, &tenant, &p.id);
        let mut a = Asset::from(load_row(conn, &tenant, &p.id)?);
        if let Some(t) = b.asset_type {
            a.asset_type = t.as_str().to_owned();
        }
        if let Some(name) = &b.name {
            a.name = required_text("name", name, 200)?;
        }
        let client_changed = b.client_id.as_ref().is_some_and(|c| *c != a.client_id);
        if let Some(client) = &b.client_id
            && client_changed
        {
            refs::client(conn, &tenant, "client_id", client)?;
            asset_may_move_to(conn, &tenant, &a.id, client)?;
            a.client_id = client.clone();
        }
        if let Some(location) = &b.location_id {
            a.location_id = location.clone();
        }
        if let Some(location) = &a.location_id
            && (client_changed || b.location_id.is_some())
        {
            refs::location_of_client(conn, &tenant, "location_id", location, &a.client_id)?;
        }
        if let Some(serial) = &b.serial_number {
            a.serial_number = optional_text("serial_number", serial.as_deref(), 100)?;
        }
        if let Some(status) = b.status {
            a.status = status.as_str().to_owned();
        }
        if let Some(date) = b.purchase_date {
            a.purchase_date = date;
        }
        if let Some(date) = b.warranty_end_date {
            a.warranty_end_date = date;
        }
        check_dates(a.purchase_date, a.warranty_end_date)?;
        if let Some(text) = &b.notes {
            a.notes = bounded_text("notes", text, 10_000)?;
        }
        if let Some(attributes) = b.attributes {
            a.attributes = attributes;
        }
        let attributes = attributes_text(&a.attributes)?;
        a.updated_at = alga_core::identity::now();
        diesel::update(assets::table.filter(assets::tenant_id.eq(&tenant).and(assets::id.eq(&a.id))))
            .set((
                assets::client_id.eq(&a.client_id),
                assets::location_id.eq(&a.location_id),
                assets::asset_type.eq(&a.asset_type),
                assets::name.eq(&a.name),
                assets::serial_number.eq(&a.serial_number),
                assets::status.eq(&a.status),
                assets::purchase_date.eq(a.purchase_date),
                assets::warranty_end_date.eq(a.warranty_end_date),
                assets::notes.eq(&a.notes),
                assets::attributes.eq(&attributes),
                assets::updated_at.eq(a.updated_at),
            ))
            .execute(conn)?;
        a.tags = match &b.tags {
            Some(names) => tags::set(conn, &tenant, Taggable::Asset, &a.id, names)?,
            None => tags::of_one(conn, &tenant, Taggable::Asset, &a.id)?,
        };
        Ok(data(a))
    })
    .await
}

async fn delete(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        // Its ticket links go with it (ON DELETE CASCADE).
        let deleted = diesel::delete(assets::table.filter(assets::tenant_id.eq(&tenant).and(assets::id.eq(&p.id))))
            .execute(conn)?;
        if deleted == 0 {
            return Err(ApiError::not_found("No asset with this id."));
        }
        tags::remove_all(conn, &tenant, Taggable::Asset, &p.id)?;
        Ok(NoContent {})
    })
    .await
}

// ---- ticket links ----

/// A ticket as an asset's service history shows it.
#[derive(Debug, Clone, Queryable, Serialize, JsonSchema)]
struct LinkedTicket {
    id: String,
    /// Per-tenant number such as T-000123.
    number: String,
    title: String,
    status_id: String,
    is_closed: bool,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    created_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListLinkedTickets {
    /// Only open (`true`) or closed (`false`) tickets.
    is_open: Option<bool>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListLinkedAssets {
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SetAssets {
    /// The ticket's assets from now on, at most 100; `[]` unlinks all.
    asset_ids: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
struct TicketAssets {
    ticket_id: String,
    asset_ids: Vec<String>,
}

const MAX_LINKS: usize = 100;

async fn list_tickets(ctx: Ctx, p: IdPath, q: ListLinkedTickets, _: ()) -> Result<Page<LinkedTicket>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        load_row(conn, &tenant, &p.id)?;
        let filtered = || {
            let mut query =
                ticket_assets::table
                    .inner_join(tickets::table.on(
                        tickets::tenant_id.eq(ticket_assets::tenant_id).and(tickets::id.eq(ticket_assets::ticket_id)),
                    ))
                    .inner_join(
                        statuses::table
                            .on(statuses::tenant_id.eq(tickets::tenant_id).and(statuses::id.eq(tickets::status_id))),
                    )
                    .filter(ticket_assets::tenant_id.eq(&tenant).and(ticket_assets::asset_id.eq(&p.id)))
                    .into_boxed();
            if let Some(open) = q.is_open {
                query = query.filter(statuses::is_closed.eq(!open));
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((tickets::created_at.desc(), tickets::id.desc()))
            .limit(page.limit())
            .offset(page.offset())
            .select((
                tickets::id,
                tickets::number,
                tickets::title,
                tickets::status_id,
                statuses::is_closed,
                tickets::created_at,
            ))
            .load::<LinkedTicket>(conn)?;
        Ok(page.page(rows, total))
    })
    .await
}

/// A ticket moving to `new_client` keeps no link to an asset of another client: a 409 naming the
/// linked assets of other clients. Call it with the ticket's row locked (as `set_for_ticket` does,
/// so no link is made meanwhile).
pub fn ticket_may_move_to(conn: &mut DbConn, tenant: &str, ticket: &str, new_client: &str) -> Result<(), ApiError> {
    let foreign: Vec<String> = ticket_assets::table
        .inner_join(
            assets::table
                .on(assets::tenant_id.eq(ticket_assets::tenant_id).and(assets::id.eq(ticket_assets::asset_id))),
        )
        .filter(ticket_assets::tenant_id.eq(tenant).and(ticket_assets::ticket_id.eq(ticket)))
        .filter(assets::client_id.ne(new_client))
        .order((assets::name, assets::id))
        .select(assets::name)
        .load(conn)?;
    if foreign.is_empty() {
        return Ok(());
    }
    Err(ApiError::conflict(format!(
        "This ticket is linked to assets of another client ({}); unlink them first (PUT /api/v1/tickets/{{id}}/assets).",
        quoted(&foreign)
    ))
    .with_details(serde_json::json!({ "linked_assets": foreign })))
}

/// An asset moving to `new_client` keeps no link to a ticket of another client: a 409 naming the
/// linked tickets of other clients. Call it with the asset's row locked.
fn asset_may_move_to(conn: &mut DbConn, tenant: &str, asset: &str, new_client: &str) -> Result<(), ApiError> {
    let foreign: Vec<String> = ticket_assets::table
        .inner_join(
            tickets::table
                .on(tickets::tenant_id.eq(ticket_assets::tenant_id).and(tickets::id.eq(ticket_assets::ticket_id))),
        )
        .filter(ticket_assets::tenant_id.eq(tenant).and(ticket_assets::asset_id.eq(asset)))
        .filter(tickets::client_id.ne(new_client))
        .order(tickets::number)
        .select(tickets::number)
        .load(conn)?;
    if foreign.is_empty() {
        return Ok(());
    }
    Err(ApiError::conflict(format!(
        "This asset is linked to tickets of another client ({}); unlink it from them first.",
        quoted(&foreign)
    ))
    .with_details(serde_json::json!({ "linked_tickets": foreign })))
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn ticket_client(conn: &mut DbConn, tenant: &str, ticket: &str) -> Result<String, ApiError> {
    tickets::table
        .filter(tickets::tenant_id.eq(tenant).and(tickets::id.eq(ticket)))
        .select(tickets::client_id)
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No ticket with this id."))
}

async fn list_for_ticket(ctx: Ctx, p: IdPath, q: ListLinkedAssets, _: ()) -> Result<Page<Asset>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        ticket_client(conn, &tenant, &p.id)?;
        let filtered = || {
            assets::table
                .inner_join(
                    ticket_assets::table
                        .on(ticket_assets::tenant_id.eq(assets::tenant_id).and(ticket_assets::asset_id.eq(assets::id))),
                )
                .filter(ticket_assets::tenant_id.eq(&tenant).and(ticket_assets::ticket_id.eq(&p.id)))
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((assets::name, assets::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(Row::as_select())
            .load(conn)?;
        Ok(page.page(with_tags(conn, &tenant, rows)?, total))
    })
    .await
}

async fn set_for_ticket(ctx: Ctx, p: IdPath, _: (), b: SetAssets) -> Result<Data<TicketAssets>, ApiError> {
    let mut ids = b.asset_ids;
    ids.sort();
    ids.dedup();
    if ids.len() > MAX_LINKS {
        return Err(ApiError::validation("asset_ids", format!("at most {MAX_LINKS} assets per ticket")));
    }
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, tickets, &tenant, &p.id);
        let client = ticket_client(conn, &tenant, &p.id)?;
        // The assets too (in id order), so that none moves to another client meanwhile.
        for id in &ids {
            alga_core::lock_row!(conn, assets, &tenant, id);
        }
        let owners: Vec<(String, String)> = assets::table
            .filter(assets::tenant_id.eq(&tenant).and(assets::id.eq_any(&ids)))
            .select((assets::id, assets::client_id))
            .load(conn)?;
        for id in &ids {
            match owners.iter().find(|(a, _)| a == id) {
                None => return Err(ApiError::validation("asset_ids", format!("no asset with id `{id}`"))),
                Some((_, owner)) if *owner != client => {
                    return Err(ApiError::validation(
                        "asset_ids",
                        format!("asset `{id}` belongs to another client than the ticket's"),
                    ));
                }
                Some(_) => {}
            }
        }
        diesel::delete(
            ticket_assets::table.filter(ticket_assets::tenant_id.eq(&tenant).and(ticket_assets::ticket_id.eq(&p.id))),
        )
        .execute(conn)?;
        let now = alga_core::identity::now();
        for id in &ids {
            diesel::insert_into(ticket_assets::table)
                .values((
                    ticket_assets::tenant_id.eq(&tenant),
                    ticket_assets::ticket_id.eq(&p.id),
                    ticket_assets::asset_id.eq(id),
                    ticket_assets::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        diesel::update(tickets::table.filter(tickets::tenant_id.eq(&tenant).and(tickets::id.eq(&p.id))))
            .set(tickets::updated_at.eq(now))
            .execute(conn)?;
        Ok(data(TicketAssets { ticket_id: p.id, asset_ids: ids }))
    })
    .await
}
