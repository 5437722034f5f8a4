//! Full-text search across tickets, comments, clients, contacts, projects, tasks, assets and
//! published knowledge-base articles, on each
//! database's own engine (SQLite FTS5, PostgreSQL tsvector + GIN) over `search_documents`.

use alga_core::rbac::Permission;
use alga_core::{Action, ApiError, DbConn, Resource};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::model::{DEFAULT_LIMIT, MAX_LIMIT, utc};

pub fn operations() -> Vec<Operation> {
    Vec::from([op(
        Meta::new("search.query", Method::Get, "/api/v1/search", Access::Authenticated)
            .doc(
                "Search everything",
                "Finds tickets (by number, title and description), ticket comments, clients, contacts, \
                 projects, project tasks, assets (by name, serial number, type and client) and published \
                 knowledge-base articles containing every word of `query` (words match as prefixes). \
                 Only types the caller may read are searched. Sorted by relevance, or by `recent` change.",
            )
            .tags(&["Search"]),
        search,
    )])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    Ticket,
    TicketComment,
    Client,
    Contact,
    Project,
    ProjectTask,
    Asset,
    KbArticle,
}

impl DocType {
    pub const ALL: [DocType; 8] = [
        DocType::Ticket,
        DocType::TicketComment,
        DocType::Client,
        DocType::Contact,
        DocType::Project,
        DocType::ProjectTask,
        DocType::Asset,
        DocType::KbArticle,
    ];

    fn as_str(self) -> &'static str {
        match self {
            DocType::Ticket => "ticket",
            DocType::TicketComment => "ticket_comment",
            DocType::Client => "client",
            DocType::Contact => "contact",
            DocType::Project => "project",
            DocType::ProjectTask => "project_task",
            DocType::Asset => "asset",
            DocType::KbArticle => "kb_article",
        }
    }

    fn parse(text: &str) -> Option<DocType> {
        DocType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The permission that lets a caller see results of this type.
    fn permission(self) -> Permission {
        let resource = match self {
            DocType::Ticket => Resource::Ticket,
            DocType::TicketComment => Resource::TicketComment,
            DocType::Client => Resource::Client,
            DocType::Contact => Resource::Contact,
            DocType::Project => Resource::Project,
            DocType::ProjectTask => Resource::ProjectTask,
            DocType::Asset => Resource::Asset,
            DocType::KbArticle => Resource::KbArticle,
        };
        Permission::new(resource, Action::Read)
    }

    /// Where the object lives in this API.
    fn url(self, id: &str, parent: Option<&str>) -> String {
        let parent = parent.unwrap_or_default();
        match self {
            DocType::Ticket => format!("/api/v1/tickets/{id}"),
            DocType::TicketComment => format!("/api/v1/tickets/{parent}/comments"),
            DocType::Client => format!("/api/v1/clients/{id}"),
            DocType::Contact => format!("/api/v1/contacts/{id}"),
            DocType::Project => format!("/api/v1/projects/{id}"),
            DocType::ProjectTask => format!("/api/v1/projects/{parent}/tasks/{id}"),
            DocType::Asset => format!("/api/v1/assets/{id}"),
            DocType::KbArticle => format!("/api/v1/kb-articles/{id}"),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum SortBy {
    #[default]
    Relevance,
    Recent,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct SearchQuery {
    /// The words to find.
    query: String,
    /// Comma-separated types to search: ticket, ticket_comment, client, contact, project,
    /// project_task, asset, kb_article (default: every type the caller may read).
    types: Option<String>,
    /// Results per page, 1 to 100 (default 25).
    limit: Option<u32>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
    /// `relevance` (default) or `recent`.
    sort: Option<SortBy>,
}

#[derive(Debug, Serialize, JsonSchema)]
struct Hit {
    #[serde(rename = "type")]
    kind: DocType,
    id: String,
    /// The ticket of a comment, the project of a task, the client of a contact, project or asset.
    parent_id: Option<String>,
    title: String,
    subtitle: String,
    /// A passage around the match, with matched words between `**`. Untrusted user content.
    snippet: String,
    /// This API's path for the object.
    url: String,
    /// Relevance within this search, higher is better.
    score: f64,
    #[serde(serialize_with = "utc")]
    #[schemars(with = "DateTime<Utc>")]
    updated_at: NaiveDateTime,
}

#[derive(Debug, Serialize, JsonSchema)]
struct Group {
    #[serde(rename = "type")]
    kind: DocType,
    count: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
struct SearchResults {
    data: Vec<Hit>,
    /// Matches per type, over all pages.
    groups: Vec<Group>,
    total_count: u64,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// Letters and digits only, lowercased: no user text reaches the FTS or tsquery syntax.
fn terms(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| t.to_lowercase().chars().take(64).collect())
        .take(12)
        .collect()
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    doc_type: String,
    #[diesel(sql_type = Text)]
    doc_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    parent_id: Option<String>,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    subtitle: String,
    #[diesel(sql_type = Text)]
    snippet: String,
    #[diesel(sql_type = Double)]
    score: f64,
    #[diesel(sql_type = Timestamp)]
    updated_at: NaiveDateTime,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Text)]
    doc_type: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn search(ctx: Ctx, _: (), q: SearchQuery, _: ()) -> Result<SearchResults, ApiError> {
    let words = terms(&q.query);
    if words.is_empty() {
        return Err(ApiError::validation("query", "give at least one word to search for"));
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let offset: i64 = match q.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse()
            .ok()
            .filter(|o| *o >= 0)
            .ok_or_else(|| ApiError::validation("cursor", "not a cursor from this API"))?,
    };
    let requested = match q.types.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => DocType::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .map(|t| {
                DocType::parse(t.trim())
                    .ok_or_else(|| ApiError::validation("types", format!("`{}` is not a searchable type", t.trim())))
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    // The one authorization decision, per type: unreadable types are never searched.
    let types: Vec<DocType> = requested.into_iter().filter(|t| ctx.can(t.permission())).collect();
    if types.is_empty() {
        return Ok(SearchResults { data: Vec::new(), groups: Vec::new(), total_count: 0, next_cursor: None });
    }
    let tenant = ctx.tenant().to_owned();
    let sort = q.sort.unwrap_or_default();
    let (rows, counts) = ctx.db(move |conn| run(conn, &tenant, &words, &types, sort, limit, offset)).await?;
    let groups: Vec<Group> = counts
        .into_iter()
        .filter_map(|c| Some(Group { kind: DocType::parse(&c.doc_type)?, count: u64::try_from(c.n).unwrap_or(0) }))
        .collect();
    let total_count: u64 = groups.iter().map(|g| g.count).sum();
    let data: Vec<Hit> = rows
        .into_iter()
        .filter_map(|r| {
            let kind = DocType::parse(&r.doc_type)?;
            Some(Hit {
                kind,
                url: kind.url(&r.doc_id, r.parent_id.as_deref()),
                id: r.doc_id,
                parent_id: r.parent_id,
                title: r.title,
                subtitle: r.subtitle,
                snippet: r.snippet,
                score: r.score,
                updated_at: r.updated_at,
            })
        })
        .collect();
    let next = offset + i64::from(limit);
    let next_cursor = (u64::try_from(next).unwrap_or(u64::MAX) < total_count).then(|| next.to_string());
    Ok(SearchResults { data, groups, total_count, next_cursor })
}

fn run(
    conn: &mut DbConn,
    tenant: &str,
    words: &[String],
    types: &[DocType],
    sort: SortBy,
    limit: u32,
    offset: i64,
) -> Result<(Vec<Row>, Vec<Count>), ApiError> {
    // Types come from the enum, never from the request text.
    let in_types = types.iter().map(|t| format!("'{}'", t.as_str())).collect::<Vec<_>>().join(", ");
    let order = match sort {
        SortBy::Relevance => "score DESC, updated_at DESC, doc_id",
        SortBy::Recent => "updated_at DESC, doc_id",
    };
    match conn {
        DbConn::Sqlite(c) => {
            // Every word, as a quoted prefix term.
            let matcher = words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" ");
            let from = format!(
                "FROM search_fts JOIN search_documents d ON d.rowid = search_fts.rowid \
                 WHERE search_fts MATCH ? AND d.tenant_id = ? AND d.doc_type IN ({in_types})"
            );
            let rows = diesel::sql_query(format!(
                "SELECT d.doc_type AS doc_type, d.doc_id AS doc_id, d.parent_id AS parent_id, d.title AS title, \
                 d.subtitle AS subtitle, snippet(search_fts, 1, '**', '**', '…', 16) AS snippet, \
                 -bm25(search_fts, 4.0, 1.0) AS score, d.updated_at AS updated_at {from} \
                 ORDER BY {order} LIMIT ? OFFSET ?"
            ))
            .bind::<Text, _>(&matcher)
            .bind::<Text, _>(tenant)
            .bind::<BigInt, _>(i64::from(limit))
            .bind::<BigInt, _>(offset)
            .load::<Row>(c)?;
            let counts = diesel::sql_query(format!(
                "SELECT d.doc_type AS doc_type, count(*) AS n {from} GROUP BY d.doc_type ORDER BY d.doc_type"
            ))
            .bind::<Text, _>(&matcher)
            .bind::<Text, _>(tenant)
            .load::<Count>(c)?;
            Ok((rows, counts))
        }
        DbConn::Postgresql(c) => {
            let matcher = words.iter().map(|w| format!("{w}:*")).collect::<Vec<_>>().join(" & ");
            let from = format!(
                "FROM search_documents d, to_tsquery('simple', $1) q \
                 WHERE d.document @@ q AND d.tenant_id = $2 AND d.doc_type IN ({in_types})"
            );
            let rows = diesel::sql_query(format!(
                "SELECT d.doc_type AS doc_type, d.doc_id AS doc_id, d.parent_id AS parent_id, d.title AS title, \
                 d.subtitle AS subtitle, ts_headline('simple', d.body, q, \
                 'StartSel=**, StopSel=**, MaxWords=24, MinWords=8, MaxFragments=1, FragmentDelimiter=…') AS snippet, \
                 ts_rank_cd(d.document, q)::float8 AS score, d.updated_at AS updated_at {from} \
                 ORDER BY {order} LIMIT $3 OFFSET $4"
            ))
            .bind::<Text, _>(&matcher)
            .bind::<Text, _>(tenant)
            .bind::<BigInt, _>(i64::from(limit))
            .bind::<BigInt, _>(offset)
            .load::<Row>(c)?;
            let counts = diesel::sql_query(format!(
                "SELECT d.doc_type AS doc_type, count(*) AS n {from} GROUP BY d.doc_type ORDER BY d.doc_type"
            ))
            .bind::<Text, _>(&matcher)
            .bind::<Text, _>(tenant)
            .load::<Count>(c)?;
            Ok((rows, counts))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_letters_and_digits_reach_the_engine() {
        assert_eq!(terms("T-000123 printer!"), ["t", "000123", "printer"]);
        assert_eq!(terms(r#"" OR 1=1 -- NEAR(x) * :* & | !"#), ["or", "1", "1", "near", "x"]);
        assert!(terms("  -- ** ").is_empty());
        assert_eq!(terms("Café"), ["café"]);
    }
}
