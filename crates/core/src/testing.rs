//! Throwaway databases for tests, on SQLite by default or on PostgreSQL when
//! `ALGA_TEST_DATABASE_URL` names a server (`cargo xtask ci` starts one and sets it).
//!
//! Each [`TestDb`] is a database of its own (a temp file, or a fresh PostgreSQL database), so tests
//! run in parallel and leave nothing behind.

#![allow(clippy::expect_used)] // test support: a failed setup should stop the test loudly

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;

use crate::db::{Backend, DatabaseUrl, DbConn, establish};

/// The environment variable naming a PostgreSQL server for tests.
pub const TEST_DATABASE_ENV: &str = "ALGA_TEST_DATABASE_URL";

#[derive(Debug)]
pub struct TestDb {
    url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A database on the backend the test run selects.
    pub fn new() -> TestDb {
        match std::env::var(TEST_DATABASE_ENV) {
            Ok(server) if !server.trim().is_empty() => TestDb::postgres(&server),
            _ => TestDb::sqlite(),
        }
    }

    /// Always SQLite, for tests about SQLite itself.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/test.db", dir.path().display()).parse().expect("sqlite url");
        TestDb { url, _dir: Some(dir), postgres: None }
    }

    fn postgres(server: &str) -> TestDb {
        let mut admin_url = url::Url::parse(server).expect("ALGA_TEST_DATABASE_URL is a URL");
        let name = format!("alga_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::establish(admin_url.as_str()).expect("connect to the test PostgreSQL");
        admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
        let admin_str = admin_url.to_string();
        admin_url.set_path(&name);
        let url = admin_url.as_str().parse().expect("postgres url");
        TestDb { url, _dir: None, postgres: Some((admin_str, name)) }
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    pub fn conn(&self) -> DbConn {
        establish(&self.url).expect("connect to the test database")
    }
}

impl Default for TestDb {
    fn default() -> Self {
        TestDb::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres
            && let Ok(mut conn) = PgConnection::establish(admin)
        {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}
