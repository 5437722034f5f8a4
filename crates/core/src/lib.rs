//! The community core: database access over PostgreSQL and SQLite, embedded migrations, the JSON
//! error envelope, and the edition seam ([`governance::McpGovernance`]).
//!
//! Architecture invariant: this crate depends on no other crate of ours.

pub mod admin_audit;
pub mod context;
pub mod db;
pub mod error;
pub mod governance;
pub mod identity;
pub mod metrics;
pub mod migrations;
pub mod rbac;
pub mod redact;
pub mod routes;
pub mod schema;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use context::AppContext;
pub use db::{Backend, DatabaseUrl, Db, DbConn, DbError, PoolOptions};
pub use error::ApiError;
pub use governance::{BackgroundTask, Community, Edition, McpGovernance};
pub use identity::Principal;
pub use rbac::{Action, Permission, Resource};
pub use routes::RouteTable;
