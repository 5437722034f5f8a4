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
