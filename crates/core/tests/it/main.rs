//! alga-core's integration tests: one binary, run on SQLite or, with ALGA_TEST_DATABASE_URL, on
//! PostgreSQL.

mod db;
mod migrations;
