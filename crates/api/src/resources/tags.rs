//! Tags: the tenant's vocabulary of labels ("vip", "onsite", …) that tickets, clients and other
//! records carry (see `crate::tags` for how records carry them).

use alga_core::schema::tags;
use alga_core::{Action, ApiError, Resource};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::model::{Data, IdPath, NoContent, Page, PageRequest, data, hex_color, like_pattern, nullable, utc};
use crate::tags::{clean_name, name_key};

const TAGS: &[&str] = &["Tags"];

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new("tags.list", Method::Get, "/api/v1/tags", Access::needs(Resource::Tag, Action::Read))
                .doc(
                    "List tags",
                    "The tenant's tags (labels such as `vip` or `onsite` that tickets, clients, assets and knowledge-base articles carry), by name. \
                     Filter by a part of the name.",
                )
                .tags(TAGS),
            list,
        ),
        op(
            Meta::new("tags.create", Method::Post, "/api/v1/tags", Access::needs(Resource::Tag, Action::Create))
                .doc(
                    "Create a tag",
                    "Adds a tag (label) to the tenant's vocabulary, so that tickets, clients, assets and knowledge-base articles can carry it. Names \
                     are 1 to 50 characters, unique regardless of case.",
                )
                .tags(TAGS)
                .example(r##"{"name":"vip","color":"#d32f2f"}"##),
            create,
        ),
        op(
            Meta::new("tags.get", Method::Get, "/api/v1/tags/{id}", Access::needs(Resource::Tag, Action::Read))
                .doc("Get a tag", "One tag (label) by id.")
                .tags(TAGS),
            get,
        ),
        op(
            Meta::new("tags.update", Method::Put, "/api/v1/tags/{id}", Access::needs(Resource::Tag, Action::Update))
                .doc(
                    "Rename a tag",
                    "Renames a tag (label) or changes its colour; every record carrying it shows the new name.",
                )
                .tags(TAGS)
                .example(r#"{"name":"VIP customer"}"#),
            update,
        ),
        op(
            Meta::new("tags.delete", Method::Delete, "/api/v1/tags/{id}", Access::needs(Resource::Tag, Action::Delete))
                .doc(
                    "Delete a tag",
                    "Removes a tag (label) from the vocabulary; a tag that records still carry answers 409 saying \
                     how many.",
                )
                .tags(TAGS),
            delete,
        ),
    ])
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = tags)]
pub struct Tag {
    pub id: String,
    pub name: String,
    /// A hex colour such as `#d32f2f`, for display.
    pub color: Option<String>,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListTags {
    /// Only tags whose name contains this text (case-insensitive).
    name: Option<String>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateTag {
    /// 1 to 50 characters, unique within the tenant regardless of case.
    name: String,
    /// A hex colour such as `#d32f2f`.
    color: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateTag {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    color: Option<Option<String>>,
}

fn duplicate(name: &str) -> String {
    format!("A tag named `{name}` already exists (names are compared regardless of case).")
}

fn optional_color(value: Option<&str>) -> Result<Option<String>, ApiError> {
    value.map(str::trim).filter(|c| !c.is_empty()).map(|c| hex_color("color", c)).transpose()
}

fn load(conn: &mut alga_core::DbConn, tenant: &str, id: &str) -> Result<Tag, ApiError> {
    tags::table
        .filter(tags::tenant_id.eq(tenant).and(tags::id.eq(id)))
        .select(Tag::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No tag with this id."))
}

async fn list(ctx: Ctx, _: (), q: ListTags, _: ()) -> Result<Page<Tag>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let filtered = || {
            let mut query = tags::table.filter(tags::tenant_id.eq(&tenant)).into_boxed();
            if let Some(name) = q.name.as_deref().filter(|n| !n.trim().is_empty()) {
                // `name_key` is the lowercased name, so this is case-insensitive on both databases.
                query = query.filter(tags::name_key.like(like_pattern(name.trim())).escape('\\'));
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((tags::name_key, tags::id))
            .limit(page.limit())
            .offset(page.offset())
            .select(Tag::as_select())
            .load(conn)?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create(ctx: Ctx, _: (), _: (), b: CreateTag) -> Result<Data<Tag>, ApiError> {
    let now = alga_core::identity::now();
    let tag = Tag {
        id: alga_core::identity::new_id(),
        name: clean_name("name", &b.name)?,
        color: optional_color(b.color.as_deref())?,
        created_at: now,
        updated_at: now,
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        diesel::insert_into(tags::table)
            .values((
                tags::tenant_id.eq(&tenant),
                tags::id.eq(&tag.id),
                tags::name.eq(&tag.name),
                tags::name_key.eq(name_key(&tag.name)),
                tags::color.eq(&tag.color),
                tags::created_at.eq(tag.created_at),
                tags::updated_at.eq(tag.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || duplicate(&tag.name)))?;
        Ok(data(tag))
    })
    .await
}

async fn get(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Tag>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load(conn, &tenant, &p.id).map(data)).await
}

async fn update(ctx: Ctx, p: IdPath, _: (), b: UpdateTag) -> Result<Data<Tag>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, tags, &tenant, &p.id);
        let mut t = load(conn, &tenant, &p.id)?;
        if let Some(name) = &b.name {
            t.name = clean_name("name", name)?;
        }
        if let Some(color) = &b.color {
            t.color = optional_color(color.as_deref())?;
        }
        t.updated_at = alga_core::identity::now();
        diesel::update(tags::table.filter(tags::tenant_id.eq(&tenant).and(tags::id.eq(&t.id))))
            .set((
                tags::name.eq(&t.name),
                tags::name_key.eq(name_key(&t.name)),
                tags::color.eq(&t.color),
                tags::updated_at.eq(t.updated_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || duplicate(&t.name)))?;
        Ok(data(t))
    })
    .await
}

async fn delete(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, tags, &tenant, &p.id);
        let tag = load(conn, &tenant, &p.id)?;
        let usage = crate::tags::usage(conn, &tenant, &tag.id)?;
        let total: i64 = usage.iter().map(|(_, n)| n).sum();
        if total > 0 {
            let by_type = usage.iter().map(|(kind, n)| format!("{n} {kind}")).collect::<Vec<_>>().join(", ");
            return Err(ApiError::conflict(format!(
                "{total} records carry the tag `{}` ({by_type}); remove it from them first.",
                tag.name
            ))
            .with_details(serde_json::json!({ "in_use": total })));
        }
        diesel::delete(tags::table.filter(tags::tenant_id.eq(&tenant).and(tags::id.eq(&tag.id))))
            .execute(conn)
            .map_err(|e| {
                ApiError::from_in_use(e, || format!("Records carry the tag `{}`; remove it from them first.", tag.name))
            })?;
        Ok(NoContent {})
    })
    .await
}
