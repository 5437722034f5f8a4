//! End-to-end tests of the real `alga-server` binary, in the edition this test run was built with,
//! on SQLite or (with ALGA_TEST_DATABASE_URL) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod cli;
mod http;
mod lifecycle;
mod support;
