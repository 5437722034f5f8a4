//! alga-api's integration tests: every operation through the catalog's dispatcher (the path MCP
//! uses too), on SQLite or, with ALGA_TEST_DATABASE_URL, PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod catalog;
mod clients;
mod every_operation;
mod inventory;
mod kb;
mod organize;
mod registry;
mod search;
mod support;
mod tickets;
mod tools;
mod work;
