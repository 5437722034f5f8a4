use std::time::Duration;

use alga_core::testing::TestDb;
use alga_core::{Db, DbError, PoolOptions};

#[tokio::test]
async fn the_pool_runs_queries_off_the_async_threads() {
    let test = TestDb::new();
    let db = Db::connect(test.url().clone(), PoolOptions::default()).await.unwrap();
    db.ping().await.unwrap();
    let backend = db.run(|c| Ok::<_, DbError>(c.backend())).await.unwrap();
    assert_eq!(backend, test.backend());
}

#[tokio::test]
async fn an_unreachable_postgres_fails_at_connect_with_the_driver_message() {
    // Port 1 on loopback: nothing listens there.
    let url = "postgres://alga:secret@127.0.0.1:1/alga".parse().unwrap();
    let options = PoolOptions { max_size: 1, timeout: Duration::from_secs(5) };
    let err = Db::connect(url, options).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("Connection refused") || msg.contains("connection to server"), "{msg}");
    assert!(msg.contains("alga:***@127.0.0.1:1"), "names the URL without its password: {msg}");
    assert!(!msg.contains("secret"), "{msg}");
    assert!(err.is_unavailable());
}

/// A write transaction that reads, pauses, then writes, while another connection commits in
/// between: with a deferred BEGIN, SQLite fails it with SQLITE_BUSY_SNAPSHOT; `write_transaction`
/// takes the lock first, so both writers succeed, one after the other.
#[test]
fn write_transactions_survive_a_concurrent_commit() {
    use alga_core::db::write_transaction;
    use alga_core::migrations::{COMMUNITY, Migrator};
    use diesel::connection::SimpleConnection;

    let test = TestDb::new();
    let mut conn = test.conn();
    Migrator::new(&[&COMMUNITY]).unwrap().run_pending(&mut conn).unwrap();
    let url = test.url().clone();
    let slow = std::thread::spawn(move || {
        let mut conn = alga_core::db::establish(&url).unwrap();
        write_transaction(&mut conn, |conn| {
            conn.batch_execute("SELECT count(*) FROM tenants")?;
            std::thread::sleep(Duration::from_millis(400));
            conn.batch_execute(
                "INSERT INTO tenants (id, slug, name, created_at) VALUES ('1', 'one', 'One', CURRENT_TIMESTAMP)",
            )
        })
    });
    std::thread::sleep(Duration::from_millis(100));
    conn.batch_execute(
        "INSERT INTO tenants (id, slug, name, created_at) VALUES ('2', 'two', 'Two', CURRENT_TIMESTAMP)",
    )
    .unwrap();
    slow.join().unwrap().unwrap();
}

/// Pool connections never checkpoint in line (a commit would wait for the checkpoint's fsync);
/// the checkpointer thread moves their pages into the database file instead, while the `Db` lives.
#[tokio::test]
async fn sqlite_pool_commits_leave_checkpoints_to_the_checkpointer() {
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        wal_autocheckpoint: i64,
    }

    let test = TestDb::new();
    let Some(path) = test.url().sqlite_path() else { return }; // PostgreSQL checkpoints by itself
    let db = Db::connect(test.url().clone(), PoolOptions::default()).await.unwrap();
    let setting = db
        .run(|c| diesel::sql_query("PRAGMA wal_autocheckpoint").get_result::<Setting>(c).map_err(DbError::from))
        .await
        .unwrap();
    assert_eq!(setting.wal_autocheckpoint, 0, "pool connections do not checkpoint in line");

    // About 2 MB in the log; only a checkpoint copies it into the database file.
    db.run(|c| {
        c.batch_execute(
            "CREATE TABLE filler (v TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO filler SELECT printf('%.1000c', 'x') FROM n;",
        )
        .map_err(DbError::from)
    })
    .await
    .unwrap();
    let file_size = || std::fs::metadata(&path).unwrap().len();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while file_size() < 2_000_000 {
        assert!(std::time::Instant::now() < deadline, "no checkpoint within 10 s: {} bytes", file_size());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A long write-ahead log is started over at the first pause and shrinks back to 64 MiB. (The case
/// this guards against, readers that never all pause and so keep SQLite from starting the log over
/// by itself, is measured by `cargo xtask bench`, not reproduced here.)
#[tokio::test]
async fn a_long_sqlite_log_shrinks_back_after_a_pause() {
    use diesel::connection::SimpleConnection;

    let test = TestDb::new();
    let Some(path) = test.url().sqlite_path() else { return };
    let db = Db::connect(test.url().clone(), PoolOptions::default()).await.unwrap();
    // About 80 MB through the log: past the 64 MiB at which it is started over.
    db.run(|c| {
        c.batch_execute(
            "CREATE TABLE filler (v TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
             INSERT INTO filler SELECT printf('%.3900c', 'x') FROM n;",
        )
        .map_err(DbError::from)
    })
    .await
    .unwrap();
    let log = path.with_extension("db-wal");
    let log_size = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    assert!(log_size() > 70_000_000, "the log holds the rows: {} bytes", log_size());
    // A commit after the restart begins the log anew, and shrinks it to `journal_size_limit`.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        db.run(|c| c.batch_execute("INSERT INTO filler VALUES ('y')").map_err(DbError::from)).await.unwrap();
        if log_size() <= 64 * 1024 * 1024 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the log never started over: {} bytes", log_size());
    }
}
