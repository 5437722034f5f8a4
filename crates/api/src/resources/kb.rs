//! The knowledge base: how-to and troubleshooting articles. Writing an article and publishing it
//! are separate operations with separate permissions: create and update only ever produce or edit
//! content (a new article is a draft), and publishing or archiving (`PUT …/status`) needs `kb_publication:update`,
//! as does editing the content of an article that is not a draft (it is live to readers).
//! Only published articles are found by `GET /api/v1/search`.
//!
//! Articles carry tags from the tenant's vocabulary (`crate::tags`), like clients; `category` is
//! free text until ticket categories can serve.

use alga_core::schema::kb_articles;
use alga_core::{Action, ApiError, DbConn, Permission, Resource};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::grants_now::holds_now;
use crate::model::{
    Data, IdPath, NoContent, Page, PageRequest, bounded_text, data, like_pattern, lower, nullable, optional_text,
    required_text, utc, utc_opt,
};
use crate::tags::{self, Taggable};

const TAGS: &[&str] = &["Knowledge base"];
const EXAMPLE_CREATE: &str = r#"{"title":"Reset a user's VPN connection","category":"Remote access","tags":["vpn"],"body":"1. Open FortiClient.\n2. Remove the saved connection.\n3. Re-import the profile from the portal."}"#;
const MAX_BODY: usize = 100_000;

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new(
                "kb_articles.list",
                Method::Get,
                "/api/v1/kb-articles",
                Access::needs(Resource::KbArticle, Action::Read),
            )
            .doc(
                "List knowledge-base articles",
                "How-to and troubleshooting articles (knowledge base, KB, documentation), most recently changed \
                 first. Filter by status (draft, published, archived), category, a tag they carry (`tag=vpn`), or \
                 text in the title and body.",
            )
            .tags(TAGS),
            list,
        ),
        op(
            Meta::new(
                "kb_articles.create",
                Method::Post,
                "/api/v1/kb-articles",
                Access::needs(Resource::KbArticle, Action::Create),
            )
            .doc(
                "Write a knowledge-base article",
                "Creates a how-to or troubleshooting article (Markdown body) as a draft, authored by the caller, \
                 optionally labelled with existing tags. Publishing is a separate step.",
            )
            .tags(TAGS)
            .example(EXAMPLE_CREATE),
            create,
        ),
        op(
            Meta::new(
                "kb_articles.get",
                Method::Get,
                "/api/v1/kb-articles/{id}",
                Access::needs(Resource::KbArticle, Action::Read),
            )
            .doc("Get a knowledge-base article", "One article by id, with its Markdown body, status and tags.")
            .tags(TAGS),
            get,
        ),
        op(
            Meta::new(
                "kb_articles.update",
                Method::Put,
                "/api/v1/kb-articles/{id}",
                Access::needs(Resource::KbArticle, Action::Update),
            )
            .doc(
                "Edit a knowledge-base article",
                "Changes the title, body, category or tags (labels such as `vpn`) of an article; omitted \
                 fields keep their value, `tags` replaces its tags (`[]` removes them). The status does not \
                 change here (`PUT …/status` does that). A draft is edited with `kb_article:update`; the \
                 content of a published or archived article (live to readers) also needs \
                 `kb_publication:update`.",
            )
            .tags(TAGS)
            .example(r#"{"body":"Updated steps for FortiClient 7.2."}"#),
            update,
        ),
        op(
            Meta::new(
                "kb_articles.delete",
                Method::Delete,
                "/api/v1/kb-articles/{id}",
                Access::needs(Resource::KbArticle, Action::Delete),
            )
            .doc(
                "Delete a knowledge-base article",
                "Deletes an article and its tags; archiving keeps it out of search instead.",
            )
            .tags(TAGS),
            delete,
        ),
        op(
            Meta::new(
                "kb_articles.status.set",
                Method::Put,
                "/api/v1/kb-articles/{id}/status",
                Access::needs(Resource::KbPublication, Action::Update),
            )
            .doc(
                "Publish or archive a knowledge-base article",
                "Sets an article's status: `published` makes it approved documentation found by search, \
                 `archived` withdraws an outdated one (still readable by id, no longer found), `draft` takes it \
                 back for rework. Needs the publishing permission, which writing articles does not give.",
            )
            .tags(TAGS)
            .example(r#"{"status":"published"}"#),
            set_status,
        ),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArticleStatus {
    Draft,
    Published,
    Archived,
}

impl ArticleStatus {
    fn as_str(self) -> &'static str {
        match self {
            ArticleStatus::Draft => "draft",
            ArticleStatus::Published => "published",
            ArticleStatus::Archived => "archived",
        }
    }
}

/// An article as the API shows it: its row and its tags.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Article {
    #[serde(flatten)]
    pub article: ArticleRow,
    /// The names of the tags it carries, sorted.
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = kb_articles)]
pub struct ArticleRow {
    pub id: String,
    pub title: String,
    /// Markdown. Untrusted user content.
    pub body: String,
    /// draft, published or archived.
    pub status: String,
    pub category: Option<String>,
    /// The user who wrote it, when a user did.
    pub author_user_id: Option<String>,
    /// The agent who wrote it, when an agent did.
    pub author_agent_id: Option<String>,
    #[serde(serialize_with = "utc_opt")]
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub published_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ListArticles {
    status: Option<ArticleStatus>,
    /// Only articles of this category (case-insensitive).
    category: Option<String>,
    /// Only articles carrying this tag (its name, any case).
    tag: Option<String>,
    /// Text to find in the title or body (case-insensitive).
    search: Option<String>,
    /// Page number, from 1.
    page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateArticle {
    title: String,
    /// Markdown, at most 100,000 characters.
    #[serde(default)]
    body: String,
    /// Free text such as `Remote access` or `Printing`.
    category: Option<String>,
    /// Names of existing tags to put on it.
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct UpdateArticle {
    title: Option<String>,
    body: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    category: Option<Option<String>>,
    /// Replaces its tags with these existing tags (names); omitted keeps them.
    tags: Option<Vec<String>>,
}

fn load_row(conn: &mut DbConn, tenant: &str, id: &str) -> Result<ArticleRow, ApiError> {
    kb_articles::table
        .filter(kb_articles::tenant_id.eq(tenant).and(kb_articles::id.eq(id)))
        .select(ArticleRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No knowledge-base article with this id."))
}

fn load(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Article, ApiError> {
    let article = load_row(conn, tenant, id)?;
    let tags = tags::of_one(conn, tenant, Taggable::KbArticle, id)?;
    Ok(Article { article, tags })
}

async fn list(ctx: Ctx, _: (), q: ListArticles, _: ()) -> Result<Page<Article>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| {
        let tag = tags::filter_id(conn, &tenant, q.tag.as_deref())?;
        let filtered = || {
            let mut query = kb_articles::table.filter(kb_articles::tenant_id.eq(&tenant)).into_boxed();
            if let Some(tag) = &tag {
                query = query.filter(kb_articles::id.eq_any(tags::carrying!(&tenant, Taggable::KbArticle, tag)));
            }
            if let Some(status) = q.status {
                query = query.filter(kb_articles::status.eq(status.as_str()));
            }
            if let Some(category) = q.category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                query = query.filter(lower(kb_articles::category.assume_not_null()).eq(category.to_lowercase()));
            }
            if let Some(text) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                let pattern = like_pattern(text);
                query = query.filter(
                    lower(kb_articles::title)
                        .like(pattern.clone())
                        .escape('\\')
                        .or(lower(kb_articles::body).like(pattern).escape('\\')),
                );
            }
            query
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((kb_articles::updated_at.desc(), kb_articles::id.desc()))
            .limit(page.limit())
            .offset(page.offset())
            .select(ArticleRow::as_select())
            .load(conn)?;
        let rows = tags::attach(
            conn,
            &tenant,
            Taggable::KbArticle,
            rows,
            |a| &a.id,
            |article, tags| Article { article, tags },
        )?;
        Ok(page.page(rows, total))
    })
    .await
}

async fn create(ctx: Ctx, _: (), _: (), b: CreateArticle) -> Result<Data<Article>, ApiError> {
    let now = alga_core::identity::now();
    let article = ArticleRow {
        id: alga_core::identity::new_id(),
        title: required_text("title", &b.title, 300)?,
        body: bounded_text("body", &b.body, MAX_BODY)?,
        status: ArticleStatus::Draft.as_str().to_owned(),
        category: optional_text("category", b.category.as_deref(), 100)?,
        author_user_id: ctx.principal.user_id().map(str::to_owned),
        author_agent_id: ctx.principal.agent_id().map(str::to_owned),
        published_at: None,
        created_at: now,
        updated_at: now,
    };
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        diesel::insert_into(kb_articles::table)
            .values((
                kb_articles::tenant_id.eq(&tenant),
                kb_articles::id.eq(&article.id),
                kb_articles::title.eq(&article.title),
                kb_articles::body.eq(&article.body),
                kb_articles::status.eq(&article.status),
                kb_articles::category.eq(&article.category),
                kb_articles::author_user_id.eq(&article.author_user_id),
                kb_articles::author_agent_id.eq(&article.author_agent_id),
                kb_articles::published_at.eq(article.published_at),
                kb_articles::created_at.eq(article.created_at),
                kb_articles::updated_at.eq(article.updated_at),
            ))
            .execute(conn)?;
        let tags = tags::set(conn, &tenant, Taggable::KbArticle, &article.id, &b.tags)?;
        Ok(data(Article { article, tags }))
    })
    .await
}

async fn get(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<Data<Article>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.db(move |conn| load(conn, &tenant, &p.id).map(data)).await
}

async fn update(ctx: Ctx, p: IdPath, _: (), b: UpdateArticle) -> Result<Data<Article>, ApiError> {
    let tenant = ctx.tenant().to_owned();
    let checker = ctx.clone();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, kb_articles, &tenant, &p.id);
        let mut a = load_row(conn, &tenant, &p.id)?;
        // Editing what readers see (a published or archived article's content) is publishing: it
        // needs `kb_publication:update`, held now, on the status read under the row lock.
        let edits_content = b.title.is_some() || b.body.is_some() || b.category.is_some();
        if edits_content
            && a.status != ArticleStatus::Draft.as_str()
            && !holds_now(conn, &checker, Permission::new(Resource::KbPublication, Action::Update))?
        {
            return Err(ApiError::forbidden(format!(
                "Permission denied: this article is {}; editing it needs kb_publication:update \
                 (or move it back to draft first)",
                a.status
            )));
        }
        if let Some(title) = &b.title {
            a.title = required_text("title", title, 300)?;
        }
        if let Some(text) = &b.body {
            a.body = bounded_text("body", text, MAX_BODY)?;
        }
        if let Some(category) = &b.category {
            a.category = optional_text("category", category.as_deref(), 100)?;
        }
        a.updated_at = alga_core::identity::now();
        diesel::update(kb_articles::table.filter(kb_articles::tenant_id.eq(&tenant).and(kb_articles::id.eq(&a.id))))
            .set((
                kb_articles::title.eq(&a.title),
                kb_articles::body.eq(&a.body),
                kb_articles::category.eq(&a.category),
                kb_articles::updated_at.eq(a.updated_at),
            ))
            .execute(conn)?;
        let tags = match &b.tags {
            Some(names) => tags::set(conn, &tenant, Taggable::KbArticle, &a.id, names)?,
            None => tags::of_one(conn, &tenant, Taggable::KbArticle, &a.id)?,
        };
        Ok(data(Article { article: a, tags }))
    })
    .await
}

async fn delete(ctx: Ctx, p: IdPath, _: (), _: ()) -> Result<NoContent, ApiError> {
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        let deleted = diesel::delete(
            kb_articles::table.filter(kb_articles::tenant_id.eq(&tenant).and(kb_articles::id.eq(&p.id))),
        )
        .execute(conn)?;
        if deleted == 0 {
            return Err(ApiError::not_found("No knowledge-base article with this id."));
        }
        tags::remove_all(conn, &tenant, Taggable::KbArticle, &p.id)?;
        Ok(NoContent {})
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SetStatus {
    status: ArticleStatus,
}

/// Moves an article to a status; publishing stamps `published_at`.
async fn set_status(ctx: Ctx, p: IdPath, _: (), b: SetStatus) -> Result<Data<Article>, ApiError> {
    let status = b.status;
    let id = p.id;
    let tenant = ctx.tenant().to_owned();
    ctx.write(move |conn| {
        alga_core::lock_row!(conn, kb_articles, &tenant, &id);
        let mut a = load_row(conn, &tenant, &id)?;
        let now = alga_core::identity::now();
        a.status = status.as_str().to_owned();
        if status == ArticleStatus::Published {
            a.published_at = Some(now);
        }
        a.updated_at = now;
        diesel::update(kb_articles::table.filter(kb_articles::tenant_id.eq(&tenant).and(kb_articles::id.eq(&a.id))))
            .set((
                kb_articles::status.eq(&a.status),
                kb_articles::published_at.eq(a.published_at),
                kb_articles::updated_at.eq(a.updated_at),
            ))
            .execute(conn)?;
        let tags = tags::of_one(conn, &tenant, Taggable::KbArticle, &a.id)?;
        Ok(data(Article { article: a, tags }))
    })
    .await
}
