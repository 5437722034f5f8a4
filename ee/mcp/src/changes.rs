//! The admin audit's read side: `GET /api/v1/mcp/admin-audit` (filtered, newest first, paged) and
//! `GET /api/v1/mcp/admin-audit/export` (JSON Lines or CSV, oldest first). Rows are written by the
//! code making each change (`alga_core::admin_audit`), in its transaction.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use alga_core::RouteTable;
use alga_core::admin_audit::Row;
use alga_core::schema::admin_audit;
use alga_core::{ApiError, AppContext};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin::Admin;

/// Which changes: every field narrows.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filter {
    pub action: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub user_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    pub format: Option<String>,
}

type Boxed<'a> = admin_audit::BoxedQuery<'a, alga_core::db::MultiBackend>;

fn filtered<'a>(tenant: &'a str, f: &'a Filter) -> impl Fn() -> Boxed<'a> + 'a {
    move || {
        let mut q = admin_audit::table.filter(admin_audit::tenant_id.eq(tenant)).into_boxed();
        if let Some(a) = &f.action {
            q = q.filter(admin_audit::action.eq(a));
        }
        if let Some(k) = &f.target_kind {
            q = q.filter(admin_audit::target_kind.eq(k));
        }
        if let Some(t) = &f.target_id {
            q = q.filter(admin_audit::target_id.eq(t));
        }
        if let Some(u) = &f.user_id {
            q = q.filter(admin_audit::user_id.eq(u));
        }
        if let Some(from) = f.from {
            q = q.filter(admin_audit::created_at.ge(from.naive_utc()));
        }
        if let Some(to) = f.to {
            q = q.filter(admin_audit::created_at.lt(to.naive_utc()));
        }
        q
    }
}

/// A row as the API shows it: before and after as JSON, times in RFC 3339.
fn shown(row: &Row) -> Value {
    let parse = |text: &Option<String>| text.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok());
    json!({
        "id": row.id,
        "created_at": row.created_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "actor_kind": row.actor_kind,
        "user_id": row.user_id,
        "agent_id": row.agent_id,
        "api_key_id": row.api_key_id,
        "via": row.via,
        "action": row.action,
        "target_kind": row.target_kind,
        "target_id": row.target_id,
        "before": parse(&row.before),
        "after": parse(&row.after),
    })
}

/// One page of the tenant's matching changes, newest first, and how many match in all.
pub async fn page_of(ctx: &AppContext, tenant: &str, f: Filter) -> Result<(Vec<Row>, i64), ApiError> {
    let page = f.page.unwrap_or(1);
    let size = f.page_size.unwrap_or(50);
    if page == 0 {
        return Err(ApiError::validation("page", "starts at 1"));
    }
    if !(1..=200).contains(&size) {
        return Err(ApiError::validation("page_size", "must be 1 to 200"));
    }
    let tenant = tenant.to_owned();
    ctx.db
        .run(move |conn| {
            let query = filtered(&tenant, &f);
            let total: i64 = query().count().get_result(conn)?;
            let rows: Vec<Row> = query()
                .order((admin_audit::created_at.desc(), admin_audit::id.desc()))
                .limit(i64::from(size))
                .offset(i64::from(page - 1) * i64::from(size))
                .select(Row::as_select())
                .load(conn)?;
            Ok::<_, ApiError>((rows, total))
        })
        .await
}

async fn list(admin: Admin, ctx: web::Data<AppContext>, q: web::Query<Filter>) -> Result<HttpResponse, ApiError> {
    let f = q.into_inner();
    let (page, size) = (f.page.unwrap_or(1), f.page_size.unwrap_or(50));
    let (rows, total) = page_of(&ctx, admin.tenant(), f).await?;
    let data: Vec<Value> = rows.iter().map(shown).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data, "page": page, "page_size": size, "total": total })))
}

const CSV_COLUMNS: [&str; 12] = [
    "id",
    "created_at",
    "actor_kind",
    "user_id",
    "agent_id",
    "api_key_id",
    "via",
    "action",
    "target_kind",
    "target_id",
    "before",
    "after",
];

/// Every matching change, oldest first (an admin audit is small: changes, not calls).
async fn export(admin: Admin, ctx: web::Data<AppContext>, q: web::Query<Filter>) -> Result<HttpResponse, ApiError> {
    let f = q.into_inner();
    let csv = match f.format.as_deref().unwrap_or("jsonl") {
        "jsonl" => false,
        "csv" => true,
        _ => return Err(ApiError::validation("format", "must be jsonl or csv")),
    };
    let tenant = admin.tenant().to_owned();
    let rows: Vec<Row> = ctx
        .db
        .run(move |conn| {
            let query = filtered(&tenant, &f);
            Ok::<_, ApiError>(
                query().order((admin_audit::created_at, admin_audit::id)).select(Row::as_select()).load(conn)?,
            )
        })
        .await?;
    let mut out = String::new();
    if csv {
        out.push_str(&(CSV_COLUMNS.join(",") + "\r\n"));
    }
    for row in &rows {
        let value = shown(row);
        if csv {
            let fields: Vec<String> = CSV_COLUMNS.iter().map(|c| crate::audit::csv_field(&value[*c])).collect();
            out.push_str(&(fields.join(",") + "\r\n"));
        } else {
            out.push_str(&value.to_string());
            out.push('\n');
        }
    }
    let (content_type, name) = if csv {
        ("text/csv; charset=utf-8", "admin-audit.csv")
    } else {
        ("application/x-ndjson", "admin-audit.jsonl")
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(out))
}

pub fn routes(table: &mut RouteTable) {
    table.get("/api/v1/mcp/admin-audit", list).get("/api/v1/mcp/admin-audit/export", export);
}
