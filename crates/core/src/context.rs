//! What request handlers and background tasks share: built once at start, cloned per worker.

use url::Url;

use crate::db::Db;

#[derive(Clone, Debug)]
pub struct AppContext {
    pub db: Db,
    /// The URL clients reach this server at (behind a proxy, the proxy's). MCP metadata and token
    /// audiences derive from it.
    pub public_url: Url,
}
