//! alga-ee-mcp's integration tests, on SQLite or (ALGA_TEST_DATABASE_URL) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approval_calls;
mod approvals;
mod editions;
mod governance;
mod integrity;
mod load;
mod policies;
mod policy_admin;
mod policy_calls;
mod policy_facts;
mod policy_store;
mod providers;
mod replay;
mod scenario;
mod support;
mod ui;
