//! The admin API of a tenant's policy set, `/api/v1/mcp/policies`: the current version, saving
//! a new one (validated, against the version the admin edited, with the admin audit), history
//! with line diffs, one version, the schema, the templates and validation without storing.
//!
//! Versions are never changed: every save inserts the next one, a mode switch and removing every
//! policy included, so the table is the history. The admin UI calls the same functions.

use std::fmt::Write;
use std::sync::Arc;

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, web};
use alga_api::model::{Page, PageRequest, utc_opt};
use alga_core::admin_audit::{self, Change, Who};
use alga_core::db::write_transaction;
use alga_core::identity::now;
use alga_core::{ApiError, AppContext, DbConn, Principal, RouteTable};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::admin::Admin;
use crate::policy::engine::{self, Diagnostic, PolicySummary};
use crate::policy::facts::Mode;
use crate::schema::policy_sets;

/// The largest policy source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 100_000;

/// The lines of context around each change in a history diff.
const DIFF_CONTEXT: usize = 2;

/// The largest table (changed old lines x changed new lines) a diff computes: 16 MB of `u32`.
/// Two 100 KB sources of short lines would need 2.5 GB; beyond this the changed section is shown
/// replaced as a whole.
const DIFF_MAX_CELLS: usize = 4_000_000;

/// The heading of a hunk too large to compare line by line.
pub const DIFF_REPLACED: &str = "too many changed lines to compare: the whole section is shown replaced";

pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Enforce => "enforce",
        Mode::Shadow => "shadow",
    }
}

/// A mode by its name; 400 otherwise.
pub fn mode_of(text: &str) -> Result<Mode, ApiError> {
    match text {
        "enforce" => Ok(Mode::Enforce),
        "shadow" => Ok(Mode::Shadow),
        _ => Err(ApiError::validation("mode", "must be enforce or shadow")),
    }
}

/// One stored version.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = policy_sets)]
struct Row {
    version: i64,
    source: String,
    mode: String,
    created_by: Option<String>,
    created_at: NaiveDateTime,
}

/// A version of the tenant's policy set (version 0, empty, when none was ever saved).
#[derive(Debug, Clone, Serialize)]
pub struct PolicySetView {
    pub version: i64,
    pub mode: Mode,
    pub source: String,
    /// Each policy's id and reason, in source order.
    pub policies: Vec<PolicySummary>,
    /// The user who saved it.
    pub created_by: Option<String>,
    #[serde(serialize_with = "utc_opt")]
    pub created_at: Option<NaiveDateTime>,
    /// Problems the stored source has against today's schema (the catalog changed since it was
    /// saved); absent when it compiles.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
}

impl PolicySetView {
    fn none() -> PolicySetView {
        PolicySetView {
            version: 0,
            mode: Mode::Enforce,
            source: String::new(),
            policies: Vec::new(),
            created_by: None,
            created_at: None,
            diagnostics: Vec::new(),
        }
    }

    fn of(row: Row) -> PolicySetView {
        let mode = mode_of(&row.mode).unwrap_or_else(|_| {
            // The column's check constraint allows only the two; fail closed to enforce.
            tracing::error!(version = row.version, mode = %row.mode, "policy set with an unknown mode");
            Mode::Enforce
        });
        let (policies, diagnostics) = match engine::summarize(&row.source) {
            Ok(policies) => (policies, Vec::new()),
            Err(diagnostics) => (Vec::new(), diagnostics),
        };
        PolicySetView {
            version: row.version,
            mode,
            source: row.source,
            policies,
            created_by: row.created_by,
            created_at: Some(row.created_at),
            diagnostics,
        }
    }

    /// What the admin audit records of a version.
    fn audited(&self) -> serde_json::Value {
        json!({ "version": self.version, "mode": self.mode, "source": self.source })
    }
}

/// One version in the history, with what changed from the one before.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub version: i64,
    pub mode: Mode,
    /// The mode of the version before, when it differs (a mode switch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_mode: Option<Mode>,
    pub created_by: Option<String>,
    #[serde(serialize_with = "utc_opt")]
    pub created_at: Option<NaiveDateTime>,
    /// How many policies the version holds (0 = roles alone).
    pub policies: usize,
    /// The source's change from the version before, unified-diff style (`+`, `-`, ` ` lines under
    /// `@@ -a,b +c,d @@` hunks); empty when the source did not change.
    pub diff: String,
}

/// Body of `PUT /api/v1/mcp/policies`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavePolicies {
    pub source: String,
    /// Default: the current version's mode (enforce when there is none).
    pub mode: Option<Mode>,
    /// The version the change was made on (0 when none exists): a different current version
    /// means someone else saved meanwhile, and nothing is stored (409).
    pub expected_version: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateBody {
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClearQuery {
    /// Required, as for a save: a clear racing a colleague's save must not drop it unseen.
    expected_version: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    page: Option<u32>,
    limit: Option<u32>,
}

/// The 400 of a source that does not compile: every problem at its line and column.
pub fn invalid(diagnostics: &[Diagnostic]) -> ApiError {
    let count = diagnostics.len();
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_policies",
        format!("The policies are not valid ({count} problem{}).", if count == 1 { "" } else { "s" }),
    )
    .with_details(json!({ "diagnostics": diagnostics }))
}

/// 400 when a source is larger than [`MAX_SOURCE_BYTES`] or holds more than
/// [`engine::MAX_POLICIES`] policies (each is held once per operation it may apply to).
pub fn check_size(source: &str) -> Result<(), ApiError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(ApiError::validation("source", format!("must be at most {MAX_SOURCE_BYTES} bytes")));
    }
    let count = engine::policy_count(source);
    if count > engine::MAX_POLICIES {
        return Err(ApiError::validation(
            "source",
            format!("must hold at most {} policies (it holds {count})", engine::MAX_POLICIES),
        ));
    }
    Ok(())
}

/// The problems of a draft, without storing anything (empty when it is valid).
pub fn validate(source: &str) -> Result<Vec<Diagnostic>, ApiError> {
    check_size(source)?;
    Ok(engine::summarize(source).err().unwrap_or_default())
}

/// [`validate`] on the blocking pool, for request handlers.
pub async fn validate_off_async(source: String) -> Result<Vec<Diagnostic>, ApiError> {
    off_async(move || validate(&source)).await?
}

fn latest(conn: &mut DbConn, tenant: &str) -> Result<Option<Row>, ApiError> {
    Ok(policy_sets::table
        .filter(policy_sets::tenant_id.eq(tenant))
        .order(policy_sets::version.desc())
        .select(Row::as_select())
        .first(conn)
        .optional()?)
}

/// Runs CPU-bound work (compiling a 100 KB source, diffing) on the blocking pool: on an async
/// worker it would stall every other request that worker serves.
async fn off_async<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    web::block(work).await.map_err(|e| {
        tracing::error!(error = %e, "policy work on the blocking pool failed");
        ApiError::internal(&e)
    })
}

/// The tenant's current version (version 0, empty, when none was ever saved).
pub async fn current(ctx: &AppContext, tenant: &str) -> Result<PolicySetView, ApiError> {
    let tenant = tenant.to_owned();
    let row = ctx.db.run(move |conn| latest(conn, &tenant)).await?;
    off_async(move || row.map_or_else(PolicySetView::none, PolicySetView::of)).await
}

/// One version of the tenant's, or 404.
pub async fn version(ctx: &AppContext, tenant: &str, version: i64) -> Result<PolicySetView, ApiError> {
    let tenant = tenant.to_owned();
    let row = ctx
        .db
        .run(move |conn| {
            Ok::<_, ApiError>(
                policy_sets::table
                    .filter(policy_sets::tenant_id.eq(&tenant).and(policy_sets::version.eq(version)))
                    .select(Row::as_select())
                    .first(conn)
                    .optional()?,
            )
        })
        .await?;
    off_async(move || row.map(PolicySetView::of))
        .await?
        .ok_or_else(|| ApiError::not_found("No policy set version with this number."))
}

/// The tenant's versions, newest first, each with its diff from the version before.
pub async fn history(ctx: &AppContext, tenant: &str, page: PageRequest) -> Result<Page<HistoryEntry>, ApiError> {
    let tenant = tenant.to_owned();
    let (rows, total) = ctx
        .db
        .run(move |conn| {
            let total: i64 = policy_sets::table.filter(policy_sets::tenant_id.eq(&tenant)).count().get_result(conn)?;
            // One more than the page: the version before the page's oldest, to diff against.
            let rows = policy_sets::table
                .filter(policy_sets::tenant_id.eq(&tenant))
                .order(policy_sets::version.desc())
                .offset(page.offset())
                .limit(page.limit() + 1)
                .select(Row::as_select())
                .load(conn)?;
            Ok::<_, ApiError>((rows, total))
        })
        .await?;
    let shown = rows.len().min(usize::try_from(page.limit()).unwrap_or(usize::MAX));
    let entries = off_async(move || history_entries(&rows, shown)).await?;
    Ok(page.page(entries, total))
}

/// The first `shown` of `rows` (newest first) with their diffs; the row after each is the
/// version before it.
fn history_entries(rows: &[Row], shown: usize) -> Vec<HistoryEntry> {
    (0..shown)
        .map(|i| {
            let row = &rows[i];
            let before = rows.get(i + 1);
            let mode = mode_of(&row.mode).unwrap_or(Mode::Enforce);
            let previous_mode = before.and_then(|b| mode_of(&b.mode).ok()).filter(|m| *m != mode);
            HistoryEntry {
                version: row.version,
                mode,
                previous_mode,
                created_by: row.created_by.clone(),
                created_at: Some(row.created_at),
                policies: engine::summarize(&row.source).map_or(0, |p| p.len()),
                diff: line_diff(before.map_or("", |b| b.source.as_str()), &row.source),
            }
        })
        .collect()
}

/// Saves the next version: validated, only on top of `expected_version`, with the admin audit in
/// the same transaction. Saving what is already current stores nothing and returns it.
pub async fn save(ctx: &AppContext, who: &Arc<Principal>, body: SavePolicies) -> Result<PolicySetView, ApiError> {
    check_size(&body.source)?;
    let (source, problems) = off_async(move || {
        let problems = engine::summarize(&body.source).err();
        (body.source, problems)
    })
    .await?;
    if let Some(diagnostics) = problems {
        return Err(invalid(&diagnostics));
    }
    store(ctx, who, source, body.mode, body.expected_version).await
}

/// Removes every policy (roles alone from now on): a new version with an empty source.
pub async fn clear(ctx: &AppContext, who: &Arc<Principal>, expected_version: i64) -> Result<PolicySetView, ApiError> {
    store(ctx, who, String::new(), None, expected_version).await
}

async fn store(
    ctx: &AppContext,
    who: &Arc<Principal>,
    source: String,
    mode: Option<Mode>,
    expected_version: i64,
) -> Result<PolicySetView, ApiError> {
    let who = who.clone();
    let saved = ctx
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let tenant = who.tenant_id.as_str();
                let before = latest(conn, tenant)?.map_or_else(PolicySetView::none, PolicySetView::of);
                if expected_version != before.version {
                    return Err(stale(expected_version, before.version));
                }
                let mode = mode.unwrap_or(before.mode);
                if before.version > 0 && before.source == source && before.mode == mode {
                    return Ok(before);
                }
                let row = Row {
                    version: before.version + 1,
                    source,
                    mode: mode_name(mode).to_owned(),
                    created_by: who.user_id().map(str::to_owned),
                    created_at: now(),
                };
                diesel::insert_into(policy_sets::table)
                    .values((
                        policy_sets::tenant_id.eq(tenant),
                        policy_sets::version.eq(row.version),
                        policy_sets::source.eq(&row.source),
                        policy_sets::mode.eq(&row.mode),
                        policy_sets::created_by.eq(&row.created_by),
                        policy_sets::created_at.eq(row.created_at),
                    ))
                    .execute(conn)
                    // Another save of the same version won the race (PostgreSQL reads committed).
                    .map_err(|e| ApiError::from_unique(e, || stale_message(before.version)))?;
                let after = PolicySetView::of(row);
                let change = Change {
                    action: if after.source.is_empty() { "policies.clear" } else { "policies.update" },
                    target_kind: "policy_set",
                    target_id: &after.version.to_string(),
                    before: (before.version > 0).then(|| before.audited()),
                    after: Some(after.audited()),
                };
                admin_audit::record(conn, tenant, Who::Principal(&who), change)?;
                Ok(after)
            })
        })
        .await?;
    tracing::info!(version = saved.version, mode = mode_name(saved.mode), "policy set saved");
    Ok(saved)
}

fn stale_message(current: i64) -> String {
    format!(
        "The policies changed meanwhile: the current version is {current}. Reload, reapply your change and save again."
    )
}

fn stale(expected: i64, current: i64) -> ApiError {
    ApiError::conflict(stale_message(current))
        .with_details(json!({ "expected_version": expected, "current_version": current }))
}

/// A unified-style line diff of two sources (longest common subsequence of lines), with
/// [`DIFF_CONTEXT`] lines of context; empty when they are equal.
pub fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Common prefix and suffix first: edits are usually small, and the table then stays small.
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    if ma.is_empty() && mb.is_empty() {
        return String::new();
    }
    if ma.len().saturating_mul(mb.len()) > DIFF_MAX_CELLS {
        // No table: every changed old line removed, then every new one added, in one hunk.
        let mut ops: Vec<(char, &str)> = a[..prefix].iter().map(|l| (' ', *l)).collect();
        ops.extend(ma.iter().map(|l| ('-', *l)));
        ops.extend(mb.iter().map(|l| ('+', *l)));
        ops.extend(a[a.len() - suffix..].iter().map(|l| (' ', *l)));
        return hunks(&ops, Some(DIFF_REPLACED));
    }
    // lcs[i][j]: the longest common subsequence of ma[i..] and mb[j..].
    let mut lcs = vec![vec![0u32; mb.len() + 1]; ma.len() + 1];
    for i in (0..ma.len()).rev() {
        for j in (0..mb.len()).rev() {
            lcs[i][j] = if ma[i] == mb[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    // Every line of both, in order: ' ' kept, '-' removed, '+' added.
    let mut ops: Vec<(char, &str)> = a[..prefix].iter().map(|l| (' ', *l)).collect();
    let (mut i, mut j) = (0, 0);
    while i < ma.len() || j < mb.len() {
        if i < ma.len() && j < mb.len() && ma[i] == mb[j] {
            ops.push((' ', ma[i]));
            i += 1;
            j += 1;
        } else if i < ma.len() && (j == mb.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removals before additions, as diffs are read.
            ops.push(('-', ma[i]));
            i += 1;
        } else {
            ops.push(('+', mb[j]));
            j += 1;
        }
    }
    ops.extend(a[a.len() - suffix..].iter().map(|l| (' ', *l)));
    hunks(&ops, None)
}

/// The changed lines of `ops` with their context, in hunks headed `@@ -start,count +start,count @@`
/// (and `heading` after, when given).
fn hunks(ops: &[(char, &str)], heading: Option<&str>) -> String {
    let changed: Vec<usize> = ops.iter().enumerate().filter(|(_, (k, _))| *k != ' ').map(|(n, _)| n).collect();
    let mut out = String::new();
    // Old and new lines before `counted`, carried from hunk to hunk: linear in the ops, however
    // many hunks there are.
    let (mut counted, mut old_before, mut new_before) = (0, 0, 0);
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(DIFF_CONTEXT);
        let mut end = changed[k];
        while k + 1 < changed.len() && changed[k + 1] <= end + 2 * DIFF_CONTEXT + 1 {
            k += 1;
            end = changed[k];
        }
        let end = (end + DIFF_CONTEXT + 1).min(ops.len());
        old_before += ops[counted..start].iter().filter(|(k, _)| *k != '+').count();
        new_before += ops[counted..start].iter().filter(|(k, _)| *k != '-').count();
        counted = start;
        let (old_start, new_start) = (old_before + 1, new_before + 1);
        let old_count = ops[start..end].iter().filter(|(k, _)| *k != '+').count();
        let new_count = ops[start..end].iter().filter(|(k, _)| *k != '-').count();
        let _ = match heading {
            Some(heading) => writeln!(out, "@@ -{old_start},{old_count} +{new_start},{new_count} @@ {heading}"),
            None => writeln!(out, "@@ -{old_start},{old_count} +{new_start},{new_count} @@"),
        };
        for (kind, line) in &ops[start..end] {
            out.push(*kind);
            out.push_str(line);
            out.push('\n');
        }
        k += 1;
    }
    out
}

async fn get_current(admin: Admin, ctx: web::Data<AppContext>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({ "data": current(&ctx, admin.tenant()).await? })))
}

async fn put(
    admin: Admin,
    ctx: web::Data<AppContext>,
    body: web::Json<SavePolicies>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({ "data": save(&ctx, &admin.0, body.into_inner()).await? })))
}

async fn delete(admin: Admin, ctx: web::Data<AppContext>, q: web::Query<ClearQuery>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({ "data": clear(&ctx, &admin.0, q.expected_version).await? })))
}

async fn get_history(
    admin: Admin,
    ctx: web::Data<AppContext>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    Ok(HttpResponse::Ok().json(history(&ctx, admin.tenant(), page).await?))
}

async fn get_version(admin: Admin, ctx: web::Data<AppContext>, path: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({ "data": version(&ctx, admin.tenant(), path.into_inner()).await? })))
}

async fn get_schema(_: Admin) -> Result<HttpResponse, ApiError> {
    let text = engine::schema_text().map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok().json(json!({ "data": { "schema": text } })))
}

async fn get_templates(_: Admin) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "data": engine::templates() }))
}

async fn post_validate(_: Admin, body: web::Json<ValidateBody>) -> Result<HttpResponse, ApiError> {
    let diagnostics = validate_off_async(body.into_inner().source).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": { "valid": diagnostics.is_empty(), "diagnostics": diagnostics } })))
}

pub fn routes(table: &mut RouteTable) {
    table
        .get("/api/v1/mcp/policies", get_current)
        .route(Method::PUT, "/api/v1/mcp/policies", put)
        .delete("/api/v1/mcp/policies", delete)
        .get("/api/v1/mcp/policies/history", get_history)
        .get("/api/v1/mcp/policies/versions/{version}", get_version)
        .get("/api/v1/mcp/policies/schema", get_schema)
        .get("/api/v1/mcp/policies/templates", get_templates)
        .post("/api/v1/mcp/policies/validate", post_validate);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sources_have_no_diff() {
        assert_eq!(line_diff("a\nb\n", "a\nb\n"), "");
        assert_eq!(line_diff("", ""), "");
    }

    #[test]
    fn a_first_version_is_all_added() {
        assert_eq!(line_diff("", "a\nb"), "@@ -1,0 +1,2 @@\n+a\n+b\n");
    }

    #[test]
    fn a_changed_line_shows_with_its_context_and_numbers() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(line_diff(old, new), "@@ -3,5 +3,5 @@\n 3\n 4\n-5\n+five\n 6\n 7\n");
    }

    #[test]
    fn distant_changes_are_separate_hunks() {
        let old: String = (1..=20).map(|n| format!("{n}\n")).collect();
        let new = old.replacen("2\n", "two\n", 1).replace("\n18\n", "\n\n18\n");
        let diff = line_diff(&old, &new);
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        assert!(diff.contains("-2\n+two\n"), "{diff}");
        assert!(diff.contains("@@ -16,4 +16,5 @@\n 16\n 17\n+\n 18\n 19\n"), "{diff}");
    }

    #[test]
    fn removals_and_insertions_in_the_middle() {
        let diff = line_diff("a\nb\nc\nd\n", "a\nc\nx\nd\n");
        assert_eq!(diff, "@@ -1,4 +1,4 @@\n a\n-b\n c\n+x\n d\n");
    }

    #[test]
    fn a_huge_diff_is_one_replacement_without_a_table() {
        // 25k x 25k lines would be a 2.5 GB table; capped, it is one labeled hunk, at once.
        let old = "//a\n".repeat(25_000);
        let new = "//b\n".repeat(25_000);
        let started = std::time::Instant::now();
        let diff = line_diff(&old, &new);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let header = format!("@@ -1,25000 +1,25000 @@ {DIFF_REPLACED}\n");
        assert!(diff.starts_with(&header), "{}", &diff[..200.min(diff.len())]);
        assert_eq!(diff.matches("@@ -").count(), 1);
        assert_eq!(diff.lines().filter(|l| *l == "-//a").count(), 25_000);
        assert_eq!(diff.lines().filter(|l| *l == "+//b").count(), 25_000);
    }

    #[test]
    fn a_huge_diff_keeps_its_common_prefix_and_suffix_as_context() {
        let old = format!("head\n{}tail\n", "//a\n".repeat(3_000));
        let new = format!("head\n{}tail\n", "//b\n".repeat(3_000));
        let diff = line_diff(&old, &new);
        assert!(diff.starts_with(&format!("@@ -1,3002 +1,3002 @@ {DIFF_REPLACED}\n head\n-//a\n")), "{}", &diff[..100]);
        assert!(diff.ends_with("+//b\n tail\n"));
    }

    #[test]
    fn many_hunks_keep_their_numbers() {
        // Every tenth line changed: hunk numbers are carried from one hunk to the next.
        let old: String = (1..=100).map(|n| format!("{n}\n")).collect();
        let new: String = (1..=100).map(|n| if n % 10 == 5 { format!("x{n}\n") } else { format!("{n}\n") }).collect();
        let diff = line_diff(&old, &new);
        assert_eq!(diff.matches("@@ -").count(), 10, "{diff}");
        assert!(diff.contains("@@ -93,5 +93,5 @@\n 93\n 94\n-95\n+x95\n 96\n 97\n"), "{diff}");
    }

    #[test]
    fn modes_round_trip_and_others_are_refused() {
        for mode in [Mode::Enforce, Mode::Shadow] {
            assert_eq!(mode_of(mode_name(mode)).unwrap(), mode);
        }
        assert!(mode_of("audit").is_err());
    }
}
