//! The edition seam. Everything the server obtains from an edition (its migration sets, its HTTP
//! routes, its background tasks) comes through [`McpGovernance`]. This crate ships the community
//! implementation, [`Community`], which answers every governance route with the 404
//! `enterprise_feature` envelope (an HTML page under `/admin`); the enterprise implementation lives in `ee/mcp` and only the
//! server binary, under its `enterprise` feature, links it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use actix_web::{HttpResponse, web};
use tokio_util::sync::CancellationToken;

use crate::context::AppContext;
use crate::error::ApiError;
use crate::migrations::{self, MigrationSet};
use crate::routes::RouteTable;

/// Which edition a binary is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edition {
    Community,
    Enterprise,
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Edition::Community => "community",
            Edition::Enterprise => "enterprise",
        })
    }
}

/// A background task's body: given its stop token, the future to run.
pub type TaskBody = Box<dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A long-running task owned by an edition. It must return soon after its stop token is cancelled.
pub struct BackgroundTask {
    pub name: &'static str,
    pub run: TaskBody,
}

impl fmt::Debug for BackgroundTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundTask").field("name", &self.name).finish_non_exhaustive()
    }
}

/// What an edition contributes to the server.
pub trait McpGovernance: Send + Sync + 'static {
    fn edition(&self) -> Edition;

    /// The migration sets this edition applies, merged in version order as one run.
    fn migration_sets(&self) -> Vec<&'static MigrationSet>;

    /// The edition's routes. The server puts them first in its [`RouteTable`], so that
    /// governance paths under `/api/v1/mcp/` win over any `/api/v1` pattern.
    fn routes(&self) -> RouteTable;

    /// Shared state the edition's handlers read, registered once per HTTP worker.
    fn app_data(&self, _cfg: &mut web::ServiceConfig) {}

    /// Tasks to run beside the HTTP server; they are stopped in reverse order at shutdown.
    fn background_tasks(&self, ctx: &AppContext) -> Vec<BackgroundTask>;

    /// Adds the edition's own metrics to the process's registry (once, at start).
    fn register_metrics(&self, _metrics: &crate::metrics::Metrics) {}

    /// Who else than users may hold a role, for refusing its deletion by name.
    fn role_holders(&self) -> crate::context::RoleHolders {
        |_, _, _| Ok(Vec::new())
    }

    /// The operations the edition's policies hide from a principal's listings of operations.
    fn hidden_operations(&self) -> crate::context::HiddenOperations {
        |_, _| Ok(None)
    }

    /// Deletes the edition's records of a tenant that its cascade cannot reach in a safe order
    /// (called first when the tenant is deleted, in the same transaction).
    fn delete_tenant_records(&self, _conn: &mut crate::DbConn, _tenant_id: &str) -> Result<(), crate::ApiError> {
        Ok(())
    }

    /// Removes the audit rows older than `before`, the one way rows leave the append-only audit;
    /// refuses a date within the last `retention_days`. Records the prune; says how many rows went.
    fn prune_audit(
        &self,
        _conn: &mut crate::DbConn,
        _before: chrono::NaiveDateTime,
        _retention_days: u32,
        _by: &str,
    ) -> Result<u64, crate::ApiError> {
        Err(crate::ApiError::enterprise_feature())
    }
}

/// The paths that belong to governance, as actix route patterns: the MCP endpoints, the admin
/// API, the protected-resource metadata and the whole admin UI (`/admin`, `/admin/`,
/// `/admin/login`, `/admin/mcp`, …).
pub const GOVERNANCE_PATHS: [&str; 8] = [
    "/api/mcp",
    "/t/{tenant}/api/mcp",
    "/api/v1/mcp",
    "/api/v1/mcp/{tail:.*}",
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/{tail:.*}",
    "/admin",
    "/admin/{tail:.*}",
];

/// The community edition: community migrations only, and a 404 stub on every governance path.
#[derive(Debug, Default, Clone, Copy)]
pub struct Community;

impl McpGovernance for Community {
    fn edition(&self) -> Edition {
        Edition::Community
    }

    fn migration_sets(&self) -> Vec<&'static MigrationSet> {
        vec![&migrations::COMMUNITY]
    }

    fn routes(&self) -> RouteTable {
        let mut table = RouteTable::new();
        for path in GOVERNANCE_PATHS {
            if path.starts_with("/admin") {
                table.any(path, enterprise_feature_page);
            } else {
                table.any(path, enterprise_feature);
            }
        }
        table
    }

    fn background_tasks(&self, _ctx: &AppContext) -> Vec<BackgroundTask> {
        Vec::new()
    }
}

async fn enterprise_feature() -> ApiError {
    ApiError::enterprise_feature()
}

/// The admin UI's 404, for people in a browser.
async fn enterprise_feature_page() -> HttpResponse {
    HttpResponse::NotFound().content_type("text/html; charset=utf-8").body(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>MCP server: Enterprise feature</title></head>\
         <body><main><h1>The MCP server is an Enterprise feature.</h1>\
         <p>This is the community edition of Alga. The admin UI, identity providers, agents and the audit trail \
         come with the enterprise edition (<code>--features enterprise</code>).</p></main></body></html>\n",
    )
}
