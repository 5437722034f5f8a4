//! What request handlers and background tasks share: built once at start, cloned per worker.

use std::sync::Arc;

use url::Url;

use crate::db::Db;
use crate::governance::Edition;
use crate::identity::Authenticator;
use crate::metrics::Metrics;

/// Names of the edition's holders of a role other than users (the enterprise edition's agents), by
/// `(connection, tenant, role)`: a role they hold is not deleted from under them.
pub type RoleHolders = fn(&mut crate::DbConn, &str, &str) -> Result<Vec<String>, crate::ApiError>;

/// The operations (by id) an edition's policies hide from a principal in every listing of
/// operations (an unconditional forbid), read once per listing: `None` when none are hidden.
pub type HiddenOperations =
    fn(&mut crate::DbConn, &crate::Principal) -> Result<Option<OperationFilter>, crate::ApiError>;

/// Whether an operation (by id) is hidden.
pub type OperationFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

fn none_hidden(_: &mut crate::DbConn, _: &crate::Principal) -> Result<Option<OperationFilter>, crate::ApiError> {
    Ok(None)
}

fn no_other_holders(_: &mut crate::DbConn, _: &str, _: &str) -> Result<Vec<String>, crate::ApiError> {
    Ok(Vec::new())
}

#[derive(Clone, Debug)]
pub struct AppContext {
    pub db: Db,
    /// The URL clients reach this server at (behind a proxy, the proxy's). MCP metadata and token
    /// audiences derive from it.
    pub public_url: Url,
    pub auth: Arc<Authenticator>,
    /// The edition this server is (community unless the server says otherwise).
    pub edition: Edition,
    pub metrics: Arc<Metrics>,
    pub role_holders: RoleHolders,
    pub hidden_operations: HiddenOperations,
}

impl AppContext {
    pub fn new(db: Db, public_url: Url) -> AppContext {
        let auth = Arc::new(Authenticator::new(db.clone()));
        AppContext {
            db,
            public_url,
            auth,
            edition: Edition::Community,
            metrics: Arc::default(),
            role_holders: no_other_holders,
            hidden_operations: none_hidden,
        }
    }
}

/// The id of the request being served (from `x-request-id` or made up), kept in the request's
/// extensions by the server so that handlers can record it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);
