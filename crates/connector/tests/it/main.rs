//! alga-mcp-connector end to end: the real binary against the real server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_pass_by_value)] // helpers take json! literals

mod connector;
