//! The admin API of approvals, `/api/v1/mcp/approvals`: list (by status, paginated), one, approve
//! and deny (with a reason). Deciding needs a person holding `mcp_approval:update` (the
//! [`Approver`] extractor, then the store on the grants committed now); the admin UI will call
//! the same functions.

use actix_web::{HttpResponse, web};
use alga_api::model::PageRequest;
use alga_core::identity::now;
use alga_core::{ApiError, AppContext, RouteTable};
use serde::Deserialize;
use serde_json::json;

use crate::admin::Approver;
use crate::approval::store::{self, Status};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    page: Option<u32>,
    limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    reason: Option<String>,
}

async fn list(who: Approver, ctx: web::Data<AppContext>, q: web::Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let status = match q.status.as_deref() {
        None => None,
        Some(text) => Some(Status::parse(text).ok_or_else(|| {
            ApiError::validation("status", "must be one of pending, approved, denied, expired, consumed")
        })?),
    };
    let page = PageRequest::new(q.page, q.limit)?;
    let tenant = who.0.tenant_id.clone();
    let (rows, total) = ctx.db.run(move |conn| store::list(conn, &tenant, status, page.offset(), page.limit())).await?;
    Ok(HttpResponse::Ok().json(page.page(rows, total)))
}

async fn get(who: Approver, ctx: web::Data<AppContext>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let tenant = who.0.tenant_id.clone();
    let id = id.into_inner();
    let approval = ctx.db.run(move |conn| store::get(conn, &tenant, &id)).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": approval })))
}

async fn decide(
    who: Approver,
    ctx: &AppContext,
    id: String,
    approve: bool,
    body: Option<web::Json<Decision>>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.and_then(|b| b.into_inner().reason);
    let approver = who.0.clone();
    let decided =
        ctx.db.run(move |conn| store::decide(conn, &approver, &id, approve, reason.as_deref(), now())).await?;
    tracing::info!(approval = %decided.id, status = decided.status.as_str(), "approval decided");
    Ok(HttpResponse::Ok().json(json!({ "data": decided })))
}

async fn approve(
    who: Approver,
    ctx: web::Data<AppContext>,
    id: web::Path<String>,
    body: Option<web::Json<Decision>>,
) -> Result<HttpResponse, ApiError> {
    decide(who, &ctx, id.into_inner(), true, body).await
}

async fn deny(
    who: Approver,
    ctx: web::Data<AppContext>,
    id: web::Path<String>,
    body: Option<web::Json<Decision>>,
) -> Result<HttpResponse, ApiError> {
    decide(who, &ctx, id.into_inner(), false, body).await
}

pub fn routes(table: &mut RouteTable) {
    table
        .get("/api/v1/mcp/approvals", list)
        .get("/api/v1/mcp/approvals/{id}", get)
        .post("/api/v1/mcp/approvals/{id}/approve", approve)
        .post("/api/v1/mcp/approvals/{id}/deny", deny);
}
