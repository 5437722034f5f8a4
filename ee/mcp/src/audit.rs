//! The audit trail of MCP tool calls: one append-only row per `tools/call`, written before the
//! response leaves; reading it page by page, and exporting it as JSON Lines or CSV.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use alga_api::model::utc;
use alga_core::RouteTable;
use alga_core::db::write_transaction;
use alga_core::{ApiError, AppContext, DbConn};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::admin::Admin;
use crate::schema::mcp_audit;

pub use alga_core::redact::{REDACTED, redact};
pub const MAX_SUMMARY: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
    Error,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Error => "error",
        }
    }
}

/// One audited tool call.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = mcp_audit, treat_none_as_default_value = false)]
pub struct Record {
    #[serde(skip)]
    pub tenant_id: String,
    pub id: String,
    pub caller_kind: String,
    pub agent_id: Option<String>,
    pub user_id: Option<String>,
    pub api_key_id: Option<String>,
    pub idp_issuer: Option<String>,
    pub idp_subject: Option<String>,
    pub client_name: Option<String>,
    pub client_version: Option<String>,
    pub protocol_version: String,
    pub method: String,
    pub tool: Option<String>,
    pub operation_id: Option<String>,
    pub http_method: Option<String>,
    pub http_path: Option<String>,
    /// JSON text, secrets redacted.
    pub arguments: String,
    pub decision: String,
    pub reason: Option<String>,
    pub status_code: Option<i32>,
    pub result_summary: Option<String>,
    pub duration_ms: i64,
    pub request_id: Option<String>,
    #[serde(serialize_with = "utc")]
    pub created_at: NaiveDateTime,
    /// What the tenant's policies decided (`allow`/`deny`); absent when no policy set applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_decision: Option<String>,
    /// JSON array text of the deciding policy ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_ids: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<i64>,
    /// `enforce` or `shadow` (shadow: the call went by roles alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_mode: Option<String>,
    /// JSON text of the evaluation input (`policy::facts::DecisionInput`), secrets redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_input: Option<String>,
    /// JSON array text of the evaluation's errors (`policy id: message`), each denying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_errors: Option<String>,
    /// The approval this call consumed to run (`mcp_approvals.id`), or asked for or was told of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
}

/// A tool result as JSON text of at most [`MAX_SUMMARY`] characters, without serializing all of
/// a large result.
pub fn summary_of(value: &Value) -> String {
    /// Keeps the first bytes, then refuses more (which ends serialization early).
    struct Capped(Vec<u8>);
    impl std::io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            // Four bytes per character at most, and one more character to know there is more.
            let room = (4 * MAX_SUMMARY + 4).saturating_sub(self.0.len());
            if room == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            let taken = buf.len().min(room);
            self.0.extend_from_slice(&buf[..taken]);
            Ok(taken)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped(Vec::new());
    let _ = serde_json::to_writer(&mut out, value); // stops at the cap, by design
    let text = match std::str::from_utf8(&out.0) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&out.0[..e.valid_up_to()]).unwrap_or_default(),
    };
    summary(text)
}

/// At most [`MAX_SUMMARY`] characters.
pub fn summary(text: &str) -> String {
    if text.chars().count() <= MAX_SUMMARY {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_SUMMARY - 1).collect();
    cut.push('…');
    cut
}

/// Appends rows as they are (the audit writer's statement; tests seed an audit with it).
pub fn insert_rows(conn: &mut DbConn, records: &[Record]) -> Result<(), ApiError> {
    // One statement per row (diesel's multi-backend connection has no multi-row insert for
    // nullable columns); the cost that matters is the commit, and there is one.
    for record in records {
        alga_core::on_backend!(&mut *conn, |c| diesel::insert_into(mcp_audit::table).values(record).execute(c))?;
    }
    Ok(())
}

/// A tool call to record, made with grants read at `epoch` (for an agent).
#[derive(Debug)]
pub struct Entry {
    pub record: Record,
    pub epoch: Option<i64>,
}

/// What became of an [`Entry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Durable.
    Recorded,
    /// Not recorded: the agent's grants changed after they were read, so the call must be made
    /// again with fresh ones.
    Stale,
}

/// Writes the entries whose grant epoch is still current, in one transaction, and says for each
/// whether it was recorded. The epochs are read inside the write transaction, so a change to a
/// grant either committed before (the entry is stale) or will be ordered after this call.
pub fn record(conn: &mut DbConn, entries: &[Entry]) -> Result<Vec<Written>, ApiError> {
    use crate::schema::grant_epochs;
    write_transaction(conn, |conn| {
        let mut tenants: Vec<&str> =
            entries.iter().filter(|e| e.epoch.is_some()).map(|e| e.record.tenant_id.as_str()).collect();
        tenants.sort_unstable();
        tenants.dedup();
        // One lookup per tenant (a batch rarely holds more than one), each a cached statement.
        let mut current = std::collections::HashMap::new();
        for tenant in tenants {
            let epoch: Option<i64> = alga_core::on_backend!(&mut *conn, |c| grant_epochs::table
                .filter(grant_epochs::tenant_id.eq(tenant))
                .select(grant_epochs::epoch)
                .first(c)
                .optional())?;
            current.insert(tenant.to_owned(), epoch.unwrap_or(0));
        }
        let written: Vec<Written> = entries
            .iter()
            .map(|e| match e.epoch {
                Some(read) if current.get(&e.record.tenant_id).copied().unwrap_or(0) != read => Written::Stale,
                _ => Written::Recorded,
            })
            .collect();
        let rows: Vec<Record> = entries
            .iter()
            .zip(&written)
            .filter(|(_, w)| **w == Written::Recorded)
            .map(|(e, _)| e.record.clone())
            .collect();
        insert_rows(conn, &rows)?;
        Ok(written)
    })
}

/// Removes the audit rows (tool calls and admin changes) older than `before`: the one way rows
/// leave the audits (their triggers
/// refuse every other update and delete). Approvals that expired before `before` go with them:
/// none can be decided or used any more, and the audit rows that named them are gone. Refuses a
/// cutoff within the last `retention_days`, and records the prune, with how many rows it removed,
/// in `audit_prunes`.
pub fn prune(conn: &mut DbConn, before: NaiveDateTime, retention_days: u32, by: &str) -> Result<u64, ApiError> {
    use crate::schema::audit_prunes;
    let latest = alga_core::identity::now() - chrono::Duration::days(i64::from(retention_days));
    if before > latest {
        return Err(ApiError::validation(
            "before",
            format!(
                "rows younger than the retention period ({retention_days} days) stay: the latest cutoff now is {}",
                latest.format("%Y-%m-%d %H:%M:%S")
            ),
        ));
    }
    let id = alga_core::identity::new_id();
    write_transaction(conn, |conn| {
        diesel::insert_into(audit_prunes::table)
            .values((
                audit_prunes::id.eq(&id),
                audit_prunes::cutoff.eq(before),
                audit_prunes::open.eq(true),
                audit_prunes::removed.eq(0_i64),
                audit_prunes::pruned_by.eq(by),
                audit_prunes::pruned_at.eq(alga_core::identity::now()),
            ))
            .execute(conn)?;
        use alga_core::schema::admin_audit;
        let calls = diesel::delete(mcp_audit::table.filter(mcp_audit::created_at.lt(before))).execute(conn)?;
        let changes = diesel::delete(admin_audit::table.filter(admin_audit::created_at.lt(before))).execute(conn)?;
        use crate::schema::mcp_approvals;
        let approvals =
            diesel::delete(mcp_approvals::table.filter(mcp_approvals::expires_at.lt(before))).execute(conn)?;
        let removed = u64::try_from(calls + changes + approvals).unwrap_or(0);
        diesel::update(audit_prunes::table.filter(audit_prunes::id.eq(&id)))
            .set((audit_prunes::open.eq(false), audit_prunes::removed.eq(i64::try_from(removed).unwrap_or(i64::MAX))))
            .execute(conn)?;
        Ok(removed)
    })
}

/// Most records one commit carries.
const BATCH: usize = 500;

type Pending = (Entry, tokio::sync::oneshot::Sender<Option<Written>>);

/// Group commit: tool calls hand their record to one writer thread per process, which commits
/// whatever has queued up in one transaction on its own connection and then tells each caller; a
/// caller answers only after that. One commit per batch instead of per call removes write-lock
/// contention (SQLite) and most commit latency (PostgreSQL) without ever acknowledging an
/// unrecorded call. A plain thread, not a task: it outlives any HTTP worker's runtime, so calls
/// still in flight at shutdown get their rows.
#[derive(Debug, Default)]
pub struct AuditWriter {
    queue: std::sync::OnceLock<tokio::sync::mpsc::Sender<Pending>>,
    pub metrics: AuditMetrics,
}

/// How the audit writer keeps up, exported as metrics.
#[derive(Debug, Clone)]
pub struct AuditMetrics {
    /// Time to write and commit one batch.
    pub commit_seconds: Histogram,
    pub batch_rows: Histogram,
    /// Tool calls waiting for their row.
    pub backlog: Gauge,
}

impl Default for AuditMetrics {
    fn default() -> Self {
        AuditMetrics {
            commit_seconds: alga_core::metrics::latency_histogram(),
            batch_rows: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            backlog: Gauge::default(),
        }
    }
}

impl AuditWriter {
    /// Records one tool call durably, unless its grants went stale; `Err` when it could not be
    /// written.
    pub async fn write(&self, db: &alga_core::Db, entry: Entry) -> Result<Written, ApiError> {
        let unavailable = || ApiError::unavailable("The audit trail cannot be written.");
        let queue = self.queue.get_or_init(|| start_writer(db.url().clone(), self.metrics.clone()));
        let (done, acked) = tokio::sync::oneshot::channel();
        self.metrics.backlog.inc();
        if queue.send((entry, done)).await.is_err() {
            self.metrics.backlog.dec();
            return Err(unavailable());
        }
        acked.await.ok().flatten().ok_or_else(unavailable)
    }
}

/// The writer's own connection. On SQLite its commits also sync the write-ahead log
/// (`synchronous = FULL`), so an acknowledged call's row survives a power cut, not only a crash of
/// this process; the other connections keep `NORMAL`.
fn writer_connection(url: &alga_core::DatabaseUrl) -> Result<DbConn, ApiError> {
    use diesel::connection::SimpleConnection;
    let mut conn = alga_core::db::establish_pooled(url)?;
    if url.backend() == alga_core::Backend::Sqlite {
        conn.batch_execute("PRAGMA synchronous = FULL;").map_err(ApiError::from)?;
    }
    Ok(conn)
}

fn start_writer(url: alga_core::DatabaseUrl, metrics: AuditMetrics) -> tokio::sync::mpsc::Sender<Pending> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Pending>(4 * BATCH);
    let spawned = std::thread::Builder::new().name("audit-writer".to_owned()).spawn(move || {
        let mut conn: Option<DbConn> = None;
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let (entries, acks): (Vec<Entry>, Vec<_>) = batch.into_iter().unzip();
            let started = std::time::Instant::now();
            let written = match conn.as_mut() {
                Some(c) => record(c, &entries),
                None => writer_connection(&url).and_then(|mut c| {
                    let result = record(&mut c, &entries);
                    conn = Some(c);
                    result
                }),
            };
            metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
            metrics.batch_rows.observe(acks.len() as f64);
            metrics.backlog.dec_by(i64::try_from(acks.len()).unwrap_or(i64::MAX));
            match written {
                Ok(written) => {
                    for (ack, w) in acks.into_iter().zip(written) {
                        let _ = ack.send(Some(w));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, rows = acks.len(), "audit rows could not be written");
                    conn = None; // reconnect for the next batch
                    for ack in acks {
                        let _ = ack.send(None);
                    }
                }
            }
        }
    });
    if let Err(e) = spawned {
        // The receiver is gone with the closure: every write will fail as unavailable.
        tracing::error!(error = %e, "the audit writer thread could not start");
    }
    tx
}

/// Which rows to read: every field narrows; `page` (from 1) and `page_size` (at most 200) page
/// the list, `format` chooses the export's.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filter {
    pub agent_id: Option<String>,
    pub user_id: Option<String>,
    pub decision: Option<String>,
    pub tool: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    pub format: Option<String>,
}

const MAX_PAGE_SIZE: u32 = 200;

type Boxed<'a> = mcp_audit::BoxedQuery<'a, alga_core::db::MultiBackend>;

fn check(f: &Filter) -> Result<(), ApiError> {
    match &f.decision {
        Some(d) if !["allow", "deny", "error"].contains(&d.as_str()) => {
            Err(ApiError::validation("decision", "must be allow, deny or error"))
        }
        _ => Ok(()),
    }
}

fn filtered<'a>(tenant: &'a str, f: &'a Filter) -> impl Fn() -> Boxed<'a> + 'a {
    move || {
        let mut q = mcp_audit::table.filter(mcp_audit::tenant_id.eq(tenant)).into_boxed();
        if let Some(a) = &f.agent_id {
            q = q.filter(mcp_audit::agent_id.eq(a));
        }
        if let Some(u) = &f.user_id {
            q = q.filter(mcp_audit::user_id.eq(u));
        }
        if let Some(d) = &f.decision {
            q = q.filter(mcp_audit::decision.eq(d));
        }
        if let Some(t) = &f.tool {
            q = q.filter(mcp_audit::tool.eq(t));
        }
        if let Some(from) = f.from {
            q = q.filter(mcp_audit::created_at.ge(from.naive_utc()));
        }
        if let Some(to) = f.to {
            q = q.filter(mcp_audit::created_at.lt(to.naive_utc()));
        }
        q
    }
}

async fn list(admin: Admin, ctx: web::Data<AppContext>, q: web::Query<Filter>) -> Result<HttpResponse, ApiError> {
    let f = q.into_inner();
    let (page, size) = (f.page.unwrap_or(1), f.page_size.unwrap_or(50));
    let (rows, total) = page_of(&ctx, admin.tenant(), f).await?;
    Ok(HttpResponse::Ok().json(json!({
        "data": rows,
        "page": page,
        "page_size": size,
        "total": total,
    })))
}

/// One page of the tenant's matching rows, newest first, and how many match in all.
pub async fn page_of(ctx: &AppContext, tenant: &str, f: Filter) -> Result<(Vec<Record>, i64), ApiError> {
    let page = f.page.unwrap_or(1);
    let size = f.page_size.unwrap_or(50);
    if page == 0 {
        return Err(ApiError::validation("page", "starts at 1"));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::validation("page_size", format!("must be 1 to {MAX_PAGE_SIZE}")));
    }
    check(&f)?;
    let tenant = tenant.to_owned();
    ctx.db
        .run(move |conn| {
            let query = filtered(&tenant, &f);
            let total: i64 = query().count().get_result(conn)?;
            let rows: Vec<Record> = query()
                .order((mcp_audit::created_at.desc(), mcp_audit::id.desc()))
                .limit(i64::from(size))
                .offset(i64::from(page - 1) * i64::from(size))
                .select(Record::as_select())
                .load(conn)?;
            Ok::<_, ApiError>((rows, total))
        })
        .await
}

/// One row of the tenant's audit, or 404.
pub async fn one(ctx: &AppContext, tenant: &str, id: &str) -> Result<Record, ApiError> {
    let (tenant, id) = (tenant.to_owned(), id.to_owned());
    ctx.db
        .run(move |conn| {
            mcp_audit::table
                .filter(mcp_audit::tenant_id.eq(&tenant).and(mcp_audit::id.eq(&id)))
                .select(Record::as_select())
                .first(conn)
                .optional()?
                .ok_or_else(|| ApiError::not_found("No audited call with this id."))
        })
        .await
}

/// Rows per database read while exporting.
const EXPORT_CHUNK: i64 = 1000;
const CSV_COLUMNS: [&str; 31] = [
    "id",
    "created_at",
    "caller_kind",
    "agent_id",
    "user_id",
    "api_key_id",
    "idp_issuer",
    "idp_subject",
    "client_name",
    "client_version",
    "protocol_version",
    "method",
    "tool",
    "operation_id",
    "http_method",
    "http_path",
    "arguments",
    "decision",
    "reason",
    "status_code",
    "result_summary",
    "duration_ms",
    "request_id",
    "tenant_id",
    "policy_decision",
    "policy_ids",
    "policy_version",
    "policy_mode",
    "policy_input",
    "policy_errors",
    "approval_id",
];

pub(crate) fn csv_field(value: &Value) -> String {
    let text = match value {
        Value::Null => return String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // Quote always; a leading formula character is defused for spreadsheets.
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text };
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn csv_line(record: &Record) -> String {
    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
    value["tenant_id"] = Value::String(record.tenant_id.clone());
    let fields: Vec<String> = CSV_COLUMNS.iter().map(|c| csv_field(&value[*c])).collect();
    fields.join(",") + "\r\n"
}

/// Streams every matching row, oldest first, in chunks read by keyset (no offset scans).
async fn export(admin: Admin, ctx: web::Data<AppContext>, q: web::Query<Filter>) -> Result<HttpResponse, ApiError> {
    let f = q.into_inner();
    let csv = match f.format.as_deref().unwrap_or("jsonl") {
        "jsonl" => false,
        "csv" => true,
        _ => return Err(ApiError::validation("format", "must be jsonl or csv")),
    };
    check(&f)?;
    let tenant = admin.tenant().to_owned();
    let db = ctx.db.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, ApiError>>(4);
    tokio::spawn(async move {
        if csv {
            let header = CSV_COLUMNS.join(",") + "\r\n";
            if tx.send(Ok(web::Bytes::from(header))).await.is_err() {
                return;
            }
        }
        let mut after: Option<(NaiveDateTime, String)> = None;
        loop {
            let (t, filter, cursor) = (tenant.clone(), f.clone(), after.clone());
            let chunk = db
                .run(move |conn| {
                    let query = filtered(&t, &filter);
                    let mut q = query();
                    if let Some((at, id)) = &cursor {
                        q = q.filter(
                            mcp_audit::created_at.gt(*at).or(mcp_audit::created_at.eq(*at).and(mcp_audit::id.gt(id))),
                        );
                    }
                    Ok::<_, ApiError>(
                        q.order((mcp_audit::created_at, mcp_audit::id))
                            .limit(EXPORT_CHUNK)
                            .select(Record::as_select())
                            .load::<Record>(conn)?,
                    )
                })
                .await;
            let rows = match chunk {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "audit export stopped");
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let mut out = String::new();
            for r in &rows {
                if csv {
                    out.push_str(&csv_line(r));
                } else {
                    out.push_str(&serde_json::to_string(r).unwrap_or_default());
                    out.push('\n');
                }
            }
            if !out.is_empty() && tx.send(Ok(web::Bytes::from(out))).await.is_err() {
                return;
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == EXPORT_CHUNK => after = Some((last.created_at, last.id.clone())),
                _ => return,
            }
        }
    });
    let stream = tokio_stream(rx);
    let (content_type, name) =
        if csv { ("text/csv; charset=utf-8", "mcp-audit.csv") } else { ("application/x-ndjson", "mcp-audit.jsonl") };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream))
}

/// A receiver as a byte stream for actix.
fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<web::Bytes, ApiError>>,
) -> impl futures_core::Stream<Item = Result<web::Bytes, ApiError>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

pub fn routes(table: &mut RouteTable) {
    table.get("/api/v1/mcp/audit", list).get("/api/v1/mcp/audit/export", export);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_syncs_its_sqlite_commits() {
        #[derive(diesel::QueryableByName)]
        struct Pragma {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            synchronous: i32,
        }
        let db = alga_core::testing::TestDb::sqlite();
        let mut conn = writer_connection(db.url()).unwrap();
        let full = diesel::sql_query("PRAGMA synchronous").get_result::<Pragma>(&mut conn).unwrap();
        assert_eq!(full.synchronous, 2, "FULL");
    }

    #[test]
    fn results_are_redacted_like_arguments() {
        let created = json!({"status": 201, "ok": true, "data": {"data": {
            "id": "k1", "prefix": "alga_abcd", "key": "alga_abcdefghijklmnop", "user_id": "u1"
        }}});
        let out = summary_of(&redact(&created));
        assert!(!out.contains("alga_abcdefghijklmnop"), "{out}");
        assert!(out.contains("alga_abcd") && out.contains("\"key\":\"***\""), "{out}");
    }

    #[test]
    fn summaries_are_bounded_and_csv_is_quoted() {
        assert_eq!(summary(&"é".repeat(5000)).chars().count(), MAX_SUMMARY);
        assert_eq!(summary("short"), "short");
        let big = json!({ "items": vec!["é".repeat(100); 500] });
        let cut = summary_of(&big);
        assert_eq!(cut.chars().count(), MAX_SUMMARY);
        assert!(big.to_string().starts_with(cut.trim_end_matches('…')));
        assert_eq!(summary_of(&json!({ "a": 1 })), r#"{"a":1}"#);
        assert_eq!(csv_field(&json!("a \"b\", c")), "\"a \"\"b\"\", c\"");
        assert_eq!(csv_field(&json!("=cmd()")), "\"'=cmd()\"");
        assert_eq!(csv_field(&Value::Null), "");
        assert_eq!(csv_field(&json!(403)), "\"403\"");
    }
}
