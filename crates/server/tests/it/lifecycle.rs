use std::time::Duration;

use std::net::TcpStream;

use alga_core::Backend;
use alga_core::testing::TestDb;
use diesel::connection::SimpleConnection;

use crate::support::{Server, request};

/// `alga-server` with no database flag, in an empty folder: the default SQLite file and its
/// folder appear, the migrations run, and the server answers.
#[test]
fn the_first_start_in_an_empty_folder_creates_the_sqlite_database() {
    let folder = tempfile::tempdir().unwrap();
    let server = Server::start_with(&[], Some(folder.path()));
    assert!(folder.path().join("data/alga.db").exists());
    assert_eq!(server.get("/readyz").status, 200);
    assert!(server.log().contains("applied migration"), "{}", server.log());
}

/// SIGTERM while a request is in flight: the listener closes, the request completes, exit 0.
///
/// The request is held inside its handler by a lock on the migration table, which readiness
/// reads. Only PostgreSQL can make a reader wait like that (SQLite's WAL readers never wait), so
/// this runs in the PostgreSQL pass of `cargo xtask ci`; the shutdown path does not depend on the
/// database.
#[test]
fn sigterm_lets_in_flight_requests_finish_and_exits_zero() {
    let mut server = Server::start();
    let db = server.db.as_ref().unwrap();
    if db.backend() != Backend::Postgres {
        return;
    }
    let mut blocker = db.conn();
    blocker.batch_execute("BEGIN; LOCK TABLE __diesel_schema_migrations IN ACCESS EXCLUSIVE MODE;").unwrap();
    let addr = server.addr;
    let in_flight = std::thread::spawn(move || request(addr, "GET", "/readyz", &[], None));
    std::thread::sleep(Duration::from_millis(700));
    assert!(!in_flight.is_finished(), "the request is held by the lock");

    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(700));
    assert!(TcpStream::connect(addr).is_err(), "no new connections after SIGTERM");
    assert!(!in_flight.is_finished());

    blocker.batch_execute("COMMIT;").unwrap();
    let res = in_flight.join().unwrap();
    assert_eq!(res.status, 200, "{}", res.text());
    let status = server.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(server.log().contains("SIGTERM"), "{}", server.log());
    assert!(server.log().contains("stopped"), "{}", server.log());
}

#[test]
fn ctrl_c_stops_the_server_with_exit_zero() {
    let mut server = Server::start();
    assert_eq!(server.get("/healthz").status, 200);
    server.signal("INT");
    assert_eq!(server.wait(Duration::from_secs(20)).code(), Some(0), "{}", server.log());
}

/// Two servers starting at once on one database migrate it exactly once between them.
#[test]
fn servers_starting_together_migrate_once() {
    let db = TestDb::new();
    let url = db.url().expose().to_owned();
    let starts: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Server::start_with(&["--database-url", &url], None))
        })
        .collect();
    let servers: Vec<Server> = starts.into_iter().map(|s| s.join().unwrap()).collect();
    let applied: usize = servers.iter().map(|s| s.log().matches("applied migration").count()).sum();
    let out = crate::support::run(&["migrate", "--status", "--database-url", &url]);
    let known = crate::support::stdout(&out).matches("[applied]").count();
    assert_eq!(applied, known, "every migration applied once across both servers");
    for server in &servers {
        assert_eq!(server.get("/readyz").status, 200);
    }
}
