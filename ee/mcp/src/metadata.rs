//! OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoints: which authorization
//! servers (trusted IdP issuers) may issue tokens for them.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use alga_core::RouteTable;
use alga_core::{ApiError, AppContext};
use diesel::prelude::*;
use serde_json::json;

use crate::auth::Scope;
use crate::idp::resource_url;
use crate::schema::agent_idp_providers;

const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// Where a scope's metadata lives.
pub fn metadata_url(ctx: &AppContext, scope: &Scope) -> String {
    let base = ctx.public_url.as_str().trim_end_matches('/');
    match scope {
        Scope::Instance => format!("{base}{WELL_KNOWN}/api/mcp"),
        Scope::Tenant { slug, .. } => format!("{base}{WELL_KNOWN}/t/{slug}/api/mcp"),
    }
}

/// What a scope's metadata and challenges advertise: its active providers' issuers and the
/// scopes clients should request for it.
#[derive(Debug)]
pub struct Advertised {
    pub issuers: Vec<String>,
    pub scopes: Vec<String>,
}

/// The instance-wide endpoint (`tenant` = `None`) is read by anyone: on an instance of several
/// tenants it advertises nothing (each tenant's own endpoint names its own).
pub fn advertised(conn: &mut alga_core::DbConn, tenant: Option<&str>) -> Result<Advertised, ApiError> {
    if tenant.is_none() && shared_by_tenants(conn)? {
        return Ok(Advertised { issuers: Vec::new(), scopes: Vec::new() });
    }
    let mut q = agent_idp_providers::table.filter(agent_idp_providers::active.eq(true)).into_boxed();
    if let Some(t) = tenant {
        q = q.filter(agent_idp_providers::tenant_id.eq(t.to_owned()));
    }
    let rows: Vec<(String, String)> = q
        .select((agent_idp_providers::issuer, agent_idp_providers::scopes))
        .order(agent_idp_providers::issuer)
        .load(conn)?;
    let mut issuers: Vec<String> = rows.iter().map(|(issuer, _)| issuer.clone()).collect();
    issuers.dedup();
    let mut scopes: Vec<String> = Vec::new();
    for scope in rows.iter().flat_map(|(_, scopes)| scopes.split_whitespace()) {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    Ok(Advertised { issuers, scopes })
}

async fn document(ctx: &AppContext, scope: Scope) -> Result<HttpResponse, ApiError> {
    let (resource, tenant) = match &scope {
        Scope::Instance => (resource_url(ctx, None), None),
        Scope::Tenant { id, slug } => (resource_url(ctx, Some(slug)), Some(id.clone())),
    };
    let advertised = ctx.db.run(move |conn| advertised(conn, tenant.as_deref())).await?;
    let mut body = json!({
        "resource": resource,
        "authorization_servers": advertised.issuers,
        "bearer_methods_supported": ["header"],
        "resource_name": "Alga PSA MCP server",
    });
    if !advertised.scopes.is_empty() {
        body["scopes_supported"] = json!(advertised.scopes);
    }
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(body))
}

/// Whether several tenants share this instance: then what the instance-wide endpoint and its
/// metadata say must not reveal any tenant's identity providers.
pub fn shared_by_tenants(conn: &mut alga_core::DbConn) -> Result<bool, ApiError> {
    let tenants: i64 = alga_core::schema::tenants::table.count().get_result(conn)?;
    Ok(tenants > 1)
}

async fn instance(ctx: web::Data<AppContext>) -> Result<HttpResponse, ApiError> {
    document(&ctx, Scope::Instance).await
}

async fn tenant(ctx: web::Data<AppContext>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let scope = crate::endpoint::tenant_scope(&ctx, path.into_inner()).await?;
    document(&ctx, scope).await
}

pub fn routes(table: &mut RouteTable) {
    table
        .get(WELL_KNOWN, instance)
        .get(format!("{WELL_KNOWN}/api/mcp"), instance)
        .get(format!("{WELL_KNOWN}/t/{{tenant}}/api/mcp"), tenant);
}
