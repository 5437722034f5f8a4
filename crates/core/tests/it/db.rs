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
