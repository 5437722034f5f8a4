//! The HTTP adapter: one route per declared operation, all served by [`dispatch`].

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, web};
use alga_core::{ApiError, AppContext, Principal, RouteTable};

use crate::catalog::{Catalog, Method, Operation, RawRequest};

/// Every operation of `catalog` as a route of its path and method, in the catalog's order.
pub fn routes(catalog: &Arc<Catalog>) -> RouteTable {
    let mut table = RouteTable::new();
    for (index, op) in catalog.operations().iter().enumerate() {
        let method = match op.meta.method {
            Method::Get => actix_web::http::Method::GET,
            Method::Post => actix_web::http::Method::POST,
            Method::Put => actix_web::http::Method::PUT,
            Method::Delete => actix_web::http::Method::DELETE,
        };
        let catalog = catalog.clone();
        table.route(method, op.meta.path, move |req: HttpRequest, body: web::Bytes, ctx: web::Data<AppContext>| {
            dispatch(req, body, ctx, catalog.clone(), index)
        });
    }
    table
}

async fn dispatch(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<AppContext>,
    catalog: Arc<Catalog>,
    index: usize,
) -> Result<HttpResponse, ApiError> {
    let op: &Operation = &catalog.operations()[index];
    let principal = authenticate(req.headers(), &ctx).await?;
    if op.meta.method.has_body() && op.request_schema.is_some() && !body.is_empty() && !is_json(req.headers()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "The request body must be JSON (Content-Type: application/json).",
        ));
    }
    let raw = RawRequest {
        path: req.match_info().iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        query: req.query_string().to_owned(),
        body: op.meta.method.has_body().then(|| body.to_vec()),
    };
    let reply = op.call(ctx.get_ref().clone(), principal, raw).await?;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    Ok(match reply.body {
        // Reads carry an ETag of their body; a client holding it gets 304 and no body.
        Some(bytes) if op.meta.method == Method::Get => {
            let etag = etag_of(&bytes);
            if if_none_match(req.headers(), &etag) {
                HttpResponse::NotModified().insert_header((header::ETAG, etag)).finish()
            } else {
                HttpResponse::build(status)
                    .content_type("application/json")
                    .insert_header((header::ETAG, etag))
                    .body(bytes)
            }
        }
        Some(bytes) => HttpResponse::build(status).content_type("application/json").body(bytes),
        None => HttpResponse::build(status).finish(),
    })
}

/// A strong validator of a body: equal bodies, equal tags (SipHash with fixed keys).
fn etag_of(body: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}{:08x}\"", hasher.finish(), body.len())
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
    })
}

/// The API key from `x-api-key` or `Authorization: Bearer`, resolved; `None` when neither header
/// is present. Keys are never read from the query string.
pub async fn authenticate(headers: &HeaderMap, ctx: &AppContext) -> Result<Option<Arc<Principal>>, ApiError> {
    let presented = if let Some(v) = headers.get("x-api-key") {
        Some(v.to_str().map_err(|_| ApiError::unauthorized("The API key is invalid, expired or revoked."))?)
    } else if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().map_err(|_| ApiError::unauthorized("The Authorization header is malformed."))?;
        match v.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
            _ => return Err(ApiError::unauthorized("Use Authorization: Bearer <API key>, or the x-api-key header.")),
        }
    } else {
        None
    };
    match presented {
        Some(key) => ctx.auth.authenticate(key).await.map(Some),
        None => Ok(None),
    }
}
