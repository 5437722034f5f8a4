//! One connection type over PostgreSQL and SQLite, chosen from the URL scheme, and an async pool.
//!
//! Diesel is synchronous: every query runs on tokio's blocking pool through [`Db::run`], so no
//! request handler ever blocks an actix worker or holds a connection across network I/O.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool::Runtime;
use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_sync::SyncWrapper;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

/// The database connection: PostgreSQL in production, SQLite embedded by default.
///
/// Queries written once against [`MultiBackend`] run on either; code that must differ per
/// backend matches on the variant.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Postgresql(_) => Backend::Postgres,
            DbConn::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Runs one diesel expression on the concrete connection inside a [`DbConn`], once per backend.
///
/// Hot paths use it: through the multi-backend layer diesel renders a query's SQL on every
/// execution just to find its prepared statement, while on a concrete connection a query with a
/// static type is found by that type alone.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Postgresql($c) => $body,
        }
    };
}

/// Before a read-modify-write in a write transaction: locks the row of `$table` with this tenant
/// and id until the transaction ends, on PostgreSQL, so that two concurrent partial updates of
/// one record apply one after the other instead of the second writing back what it read before
/// the first committed (a lost update). `FOR NO KEY UPDATE`, the lock an `UPDATE` takes anyway:
/// rows that refer to this one can still be inserted meanwhile (their foreign-key check takes a
/// key-share lock, which `FOR UPDATE` would block and, against a trigger's lock taken in the
/// other order, deadlock). SQLite needs nothing: a write transaction holds the database's only
/// write lock from its first statement.
#[macro_export]
macro_rules! lock_row {
    ($conn:expr, $table:ident, $tenant:expr, $id:expr) => {
        if let $crate::db::DbConn::Postgresql(c) = &mut *$conn {
            use diesel::prelude::*;
            $table::table
                .filter($table::tenant_id.eq($tenant).and($table::id.eq($id)))
                .select($table::id)
                .for_no_key_update()
                .load::<String>(c)?;
        }
    };
}

impl fmt::Debug for DbConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbConn({:?})", self.backend())
    }
}

/// Which database engine a URL or connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        })
    }
}

/// The URL forms we accept, quoted in every refusal.
pub const ACCEPTED_URL_FORMS: &str =
    "postgres://USER:PASSWORD@HOST:PORT/DB, postgresql://… or sqlite://PATH (e.g. sqlite://./data/alga.db)";

/// A parsed, validated database URL. Its `Display` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
}

impl DatabaseUrl {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The driver-facing string, with the password. Never log it: log `self` instead.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The SQLite file path, for `sqlite://` URLs.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match self.backend {
            Backend::Sqlite => self.raw.strip_prefix("sqlite://").map(PathBuf::from),
            Backend::Postgres => None,
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = DbError;

    fn from_str(s: &str) -> Result<Self, DbError> {
        let s = s.trim();
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(DbError::InvalidUrl(format!(
                "`{}` is not a database URL; accepted forms: {ACCEPTED_URL_FORMS}",
                redact(s)
            )));
        };
        let backend = match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Backend::Postgres,
            "sqlite" => Backend::Sqlite,
            other => {
                return Err(DbError::InvalidUrl(format!(
                    "unsupported database URL scheme `{other}://`; accepted forms: {ACCEPTED_URL_FORMS}"
                )));
            }
        };
        if rest.is_empty() {
            return Err(DbError::InvalidUrl(format!(
                "the database URL `{scheme}://` names no database; accepted forms: {ACCEPTED_URL_FORMS}"
            )));
        }
        let raw = match backend {
            // Normalise the scheme so that sqlite_path() can strip it.
            Backend::Sqlite => format!("sqlite://{rest}"),
            Backend::Postgres => s.to_owned(),
        };
        Ok(DatabaseUrl { raw, backend })
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.raw))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Replaces every password in a database URL with `***`: the userinfo's (everything before the
/// last `@` ahead of the first `/`, as libpq reads it) and any query parameter naming one
/// (`password`, `sslpassword`, also percent-encoded). Text that is not a URL (a keyword/value
/// string, which libpq lets spell `password = 'a b'`) is not shown at all when it names a password.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.to_ascii_lowercase().contains("pass") {
            "(a connection string holding a password, not shown)".to_owned()
        } else {
            url.to_owned()
        };
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let (path, query) = path.split_once('?').map_or((path, None), |(p, q)| (p, Some(q)));
    let mut out = format!("{scheme}://{authority}{path}");
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| {
                let name = pair.split_once('=').map_or(pair, |(n, _)| n);
                let decoded: String =
                    url::form_urlencoded::parse(name.as_bytes()).map(|(k, _)| k.into_owned()).collect();
                if decoded.to_ascii_lowercase().contains("pass") { format!("{name}=***") } else { pair.to_owned() }
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// Database failures. Callers map them to HTTP answers; the messages name the cause for operators.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    InvalidUrl(String),
    #[error("cannot create the folder {path} for the SQLite database: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: ConnectionError },
    #[error("cannot configure the SQLite connection: {0}")]
    Pragma(diesel::result::Error),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

impl DbError {
    /// Whether the failure is the database being out of reach (as opposed to a bad query).
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(
            self,
            DbError::Connect { .. }
                | DbError::Unavailable(_)
                | DbError::Query(Error::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _,
                ))
        )
    }

    /// Whether the database rolled the transaction back for crossing a concurrent one: a
    /// serialization failure, or a deadlock PostgreSQL broke by aborting this side (SQLSTATE
    /// 40P01, which diesel does not classify: it is known by PostgreSQL's message, "deadlock
    /// detected", as the server reports it with its default, untranslated messages).
    pub fn is_write_conflict(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => true,
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
                info.message().starts_with("deadlock detected")
            }
            _ => false,
        }
    }
}

/// How long a SQLite connection waits for a lock held by another connection.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Per-connection SQLite settings (WAL is set apart: it persists in the file).
/// No `mmap_size`: a connection unmaps the whole file whenever another one has committed, which
/// under a steady stream of audit rows costs more than the reads it saves.
/// `journal_size_limit`: a write-ahead log that starts over shrinks back to 64 MiB.
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA busy_timeout = 5000;",
    "PRAGMA synchronous = NORMAL;",
    "PRAGMA foreign_keys = ON;",
    "PRAGMA journal_size_limit = 67108864;",
];

/// Puts the file in WAL mode unless it already is. Switching needs an exclusive lock for which
/// SQLite does not apply busy_timeout, so two processes opening a new file at once retry here.
fn ensure_wal(conn: &mut SqliteConnection) -> Result<(), diesel::result::Error> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    let deadline = std::time::Instant::now() + SQLITE_BUSY_TIMEOUT;
    loop {
        let current = diesel::sql_query("PRAGMA journal_mode").get_result::<Mode>(conn)?;
        if current.journal_mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.batch_execute("PRAGMA journal_mode = WAL;") {
            Ok(()) => return Ok(()),
            Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("locked") => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Opens one connection, reporting the driver's own error (diesel's `MultiConnection::establish`
/// would swallow it).
pub fn establish(url: &DatabaseUrl) -> Result<DbConn, DbError> {
    match url.backend() {
        Backend::Postgres => PgConnection::establish(url.expose())
            .map(DbConn::Postgresql)
            .map_err(|source| DbError::Connect { url: url.to_string(), source }),
        Backend::Sqlite => {
            let path = url.sqlite_path().unwrap_or_default();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|source| DbError::CreateDir { path: dir.to_path_buf(), source })?;
            }
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                .map_err(|source| DbError::Connect { url: url.to_string(), source })?;
            for pragma in SQLITE_PRAGMAS {
                conn.batch_execute(pragma).map_err(DbError::Pragma)?;
            }
            ensure_wal(&mut conn).map_err(DbError::Pragma)?;
            Ok(DbConn::Sqlite(conn))
        }
    }
}

/// A connection of a running server (the pool's, or a long-lived worker's beside a [`Db`]): like
/// [`establish`], but on SQLite it leaves checkpoints to the [`Db`]'s checkpointer, so that no
/// commit waits for a checkpoint's `fsync`.
pub fn establish_pooled(url: &DatabaseUrl) -> Result<DbConn, DbError> {
    let mut conn = establish(url)?;
    if let DbConn::Sqlite(c) = &mut conn {
        c.batch_execute("PRAGMA wal_autocheckpoint = 0;").map_err(DbError::Pragma)?;
    }
    Ok(conn)
}

/// How often the checkpointer moves committed pages from SQLite's write-ahead log into the file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Checkpoints a SQLite database on a thread of its own, for as long as the [`Db`] lives.
///
/// SQLite's default is for the commit that grows the log past 1,000 pages to checkpoint in line,
/// and that checkpoint's `fsync` can take tens of milliseconds here: every caller waiting on that
/// commit stalls with it. A passive checkpoint from another connection never blocks a writer.
#[derive(Debug)]
struct Checkpointer {
    /// Dropping it stops the thread.
    _stop: std::sync::mpsc::Sender<()>,
}

impl Checkpointer {
    fn start(url: &DatabaseUrl) -> Result<Checkpointer, DbError> {
        let mut conn = establish(url)?;
        conn.batch_execute(&format!("PRAGMA busy_timeout = {RESTART_WAIT_MS};")).map_err(DbError::Pragma)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".to_owned())
            .spawn(move || {
                // Ends when the last handle on the database is dropped (the sender with it).
                let mut log = 0;
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                    match checkpoint(&mut conn, log) {
                        Ok(now) => log = now,
                        Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed; retrying"),
                    }
                }
            })
            .map_err(|e| DbError::Unavailable(format!("cannot start the SQLite checkpointer: {e}")))?;
        Ok(Checkpointer { _stop: stop })
    }
}

/// A log this long (in 4 KiB frames, so 64 MiB) is started over at the next lull.
const RESTART_AT_FRAMES: i32 = 16_384;

/// One checkpoint; `previous` is the log length the last one saw, and the length now is returned.
///
/// A passive checkpoint copies what it can without blocking anyone. But the log only starts over
/// from its beginning when a commit finds no reader using it, which a steady stream of short reads
/// can put off forever (it reached 1.8 GB under a benchmark). So a long log that is fully copied
/// and has not grown since the last round (nothing was committed for half a second) is started
/// over by a restarting checkpoint: with nothing left to copy it only waits for the readers of the
/// moment, at most [`RESTART_WAIT_MS`]. Restarting under load instead held writers back for up to
/// 0.8 s (the sync of everything copied meanwhile), so a log keeps growing through sustained
/// load and is started over at its first pause.
fn checkpoint(conn: &mut DbConn, previous: i32) -> Result<i32, diesel::result::Error> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::Integer;
    #[derive(diesel::QueryableByName)]
    struct Checkpointed {
        #[diesel(sql_type = Integer)]
        log: i32,
        #[diesel(sql_type = Integer)]
        checkpointed: i32,
    }
    let passive = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result::<Checkpointed>(conn)?;
    let quiet = passive.log == previous && passive.checkpointed == passive.log;
    if passive.log >= RESTART_AT_FRAMES && quiet {
        let restarted = diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").get_result::<Checkpointed>(conn)?;
        return Ok(restarted.log);
    }
    Ok(passive.log)
}

/// How long a restarting checkpoint waits for readers before it gives up until the next round.
const RESTART_WAIT_MS: u32 = 50;

/// deadpool manager that establishes connections through [`establish_pooled`].
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

impl managed::Manager for Manager {
    type Type = SyncWrapper<DbConn>;
    type Error = DbError;

    async fn create(&self) -> Result<Self::Type, DbError> {
        let url = self.url.clone();
        SyncWrapper::new(Runtime::Tokio1, move || establish_pooled(&url)).await
    }

    async fn recycle(&self, conn: &mut Self::Type, _: &Metrics) -> RecycleResult<DbError> {
        if conn.is_mutex_poisoned() {
            return Err(RecycleError::message("a query panicked while holding this connection"));
        }
        Ok(())
    }
}

/// Pool sizing and time bounds.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    pub max_size: usize,
    /// How long a caller waits for a free connection, and for a new one to open.
    pub timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions { max_size: 16, timeout: Duration::from_secs(5) }
    }
}

/// The application's handle on the database: cheap to clone, safe to share.
#[derive(Clone)]
pub struct Db {
    pool: managed::Pool<Manager>,
    url: DatabaseUrl,
    _checkpointer: Option<Arc<Checkpointer>>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("url", &self.url).field("status", &self.pool.status()).finish()
    }
}

impl Db {
    /// Builds the pool and opens one connection, so that a wrong URL, password or host fails here
    /// with the driver's message rather than on the first request.
    pub async fn connect(url: DatabaseUrl, options: PoolOptions) -> Result<Db, DbError> {
        let pool = managed::Pool::builder(Manager { url: url.clone() })
            .max_size(options.max_size.max(1))
            .wait_timeout(Some(options.timeout))
            .create_timeout(Some(options.timeout))
            .recycle_timeout(Some(options.timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        drop(pool.get().await.map_err(pool_error)?);
        let checkpointer = match url.backend() {
            Backend::Sqlite => Some(Arc::new(Checkpointer::start(&url)?)),
            Backend::Postgres => None,
        };
        Ok(Db { pool, url, _checkpointer: checkpointer })
    }

    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    ///
    /// A connection whose link to the server broke during `f` is dropped from the pool instead of
    /// being handed to the next caller, so the pool heals by itself after a database restart.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let conn = self.pool.get().await.map_err(|e| E::from(pool_error(e)))?;
        let outcome = conn
            .interact(move |c| {
                let result = f(c);
                let broken = result.is_err() && !is_alive(c);
                (result, broken)
            })
            .await;
        match outcome {
            Ok((result, broken)) => {
                if broken {
                    tracing::warn!("dropping a database connection that lost its server");
                    drop(managed::Object::take(conn));
                }
                result
            }
            Err(e) => {
                drop(managed::Object::take(conn));
                Err(E::from(DbError::Unavailable(format!("the query task failed: {e}"))))
            }
        }
    }

    /// Answers whether the database responds to a trivial query within the pool's time bounds.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|c| if is_alive(c) { Ok(()) } else { Err(DbError::Unavailable("no answer to SELECT 1".into())) }).await
    }

    /// How many connections are open, idle and waited for, and the pool's maximum.
    pub fn pool_status(&self) -> managed::Status {
        self.pool.status()
    }

    /// Closes connections idle for longer than `max_idle`; returns how many were closed.
    pub fn close_idle(&self, max_idle: Duration) -> usize {
        let before = self.pool.status().size;
        self.pool.retain(|_, metrics| metrics.last_used() < max_idle);
        before.saturating_sub(self.pool.status().size)
    }

    /// Closes the pool: waiting callers fail and idle connections are dropped.
    pub fn close(&self) {
        self.pool.close();
    }
}

/// This process's SQLite writers, queued: each waits its turn here, woken the moment the one
/// before commits, instead of in SQLite's busy handler, which polls with sleeps of up to 100 ms
/// and so let 8 writers' slowest wait close to a second (p99 of a direct write 0.9 s). A writer
/// that waited the busy timeout goes on without its turn, so a writer in another process still
/// meets the same bounded wait and clear error as before.
static SQLITE_WRITERS: WriterQueue =
    WriterQueue { busy: std::sync::Mutex::new(false), freed: std::sync::Condvar::new() };

struct WriterQueue {
    busy: std::sync::Mutex<bool>,
    freed: std::sync::Condvar,
}

/// A writer's turn; the next one's comes when it is dropped.
struct Turn(&'static WriterQueue);

impl WriterQueue {
    fn wait_turn(&'static self, limit: Duration) -> Option<Turn> {
        let Ok(busy) = self.busy.lock() else { return None };
        let (mut busy, waited) = match self.freed.wait_timeout_while(busy, limit, |busy| *busy) {
            Ok(found) => found,
            Err(_) => return None,
        };
        if waited.timed_out() && *busy {
            return None;
        }
        *busy = true;
        Some(Turn(self))
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.0.busy.lock() {
            *busy = false;
        }
        self.0.freed.notify_one();
    }
}

/// Runs `f` in a transaction meant to write.
///
/// On SQLite it begins with `BEGIN IMMEDIATE`, taking the write lock before the first read: a
/// deferred transaction that reads and then writes fails with SQLITE_BUSY_SNAPSHOT when another
/// connection commits in between, which no busy timeout can cure. On PostgreSQL, and inside an
/// enclosing transaction (a savepoint then), it is an ordinary transaction.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let mut _turn = None;
    let immediate = match conn {
        DbConn::Sqlite(inner) => {
            let outermost =
                matches!(AnsiTransactionManager::transaction_manager_status_mut(inner).transaction_depth(), Ok(None));
            if outermost {
                _turn = SQLITE_WRITERS.wait_turn(SQLITE_BUSY_TIMEOUT);
                AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            }
            outermost
        }
        DbConn::Postgresql(_) => false,
    };
    if !immediate {
        return conn.transaction(f);
    }
    match f(conn) {
        Ok(value) => match <DbConn as TransactionManager<DbConn>>::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = <DbConn as TransactionManager<DbConn>>::rollback_transaction(conn);
                Err(e.into())
            }
        },
        Err(e) => {
            if let Err(rollback) = <DbConn as TransactionManager<DbConn>>::rollback_transaction(conn) {
                tracing::warn!(error = %rollback, "could not roll back a failed write transaction");
            }
            Err(e)
        }
    }
}

fn is_alive(conn: &mut DbConn) -> bool {
    conn.batch_execute("SELECT 1").is_ok()
}

fn pool_error(e: managed::PoolError<DbError>) -> DbError {
    match e {
        managed::PoolError::Backend(e) => e,
        managed::PoolError::Timeout(kind) => {
            DbError::Unavailable(format!("timed out waiting for a database connection ({kind:?})"))
        }
        managed::PoolError::Closed => DbError::Unavailable("the connection pool is closed".into()),
        other => DbError::Unavailable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_picks_the_backend() {
        for (url, backend) in [
            ("postgres://u:p@localhost/db", Backend::Postgres),
            ("postgresql://localhost/db", Backend::Postgres),
            ("sqlite://./data/alga.db", Backend::Sqlite),
            ("SQLITE:///tmp/x.db", Backend::Sqlite),
        ] {
            assert_eq!(url.parse::<DatabaseUrl>().map(|u| u.backend()).ok(), Some(backend), "{url}");
        }
    }

    #[test]
    fn other_schemes_are_refused_with_the_accepted_forms() {
        for url in ["mysql://x", "x.db", "sqlite://", "file:x.db"] {
            let err = url.parse::<DatabaseUrl>().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("postgres://") && err.contains("sqlite://"), "{url}: {err}");
        }
        let err = "mysql://x".parse::<DatabaseUrl>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("`mysql://`"), "{err}");
    }

    #[test]
    fn sqlite_writers_take_turns_and_never_wait_past_the_limit() {
        static QUEUE: WriterQueue =
            WriterQueue { busy: std::sync::Mutex::new(false), freed: std::sync::Condvar::new() };
        let first = QUEUE.wait_turn(Duration::from_secs(5)).expect("a free queue gives a turn at once");
        // While it is held, a writer with a short limit goes on without a turn.
        assert!(QUEUE.wait_turn(Duration::from_millis(1)).is_none());
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let turn = QUEUE.wait_turn(Duration::from_secs(60));
            tx.send(turn.is_some()).unwrap();
        });
        drop(first);
        assert!(rx.recv().unwrap(), "the next writer's turn comes when the first ends");
        waiter.join().unwrap();
        assert!(QUEUE.wait_turn(Duration::from_secs(5)).is_some(), "and the queue is free again");
    }

    #[test]
    fn display_hides_the_password() {
        let url: DatabaseUrl = "postgres://alice:s3cret@db:5432/alga?sslmode=require".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://alice:***@db:5432/alga?sslmode=require");
        assert!(url.expose().contains("s3cret"));
        let url: DatabaseUrl = "postgres://db/alga".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://db/alga");
        let url: DatabaseUrl = "postgres://alice@db/alga?sslmode=require&password=s3cret&PassWord=x".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://alice@db/alga?sslmode=require&password=***&PassWord=***");
        let url: DatabaseUrl = "postgresql://db/alga?sslpassword=s3cret".parse().unwrap();
        assert!(!url.to_string().contains("s3cret"), "{url}");
        for text in ["host=db password=s3cret user=alice", "host=db password = 's3 cret'"] {
            let err = text.parse::<DatabaseUrl>().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(!err.contains("s3cret") && !err.contains("s3 cret") && err.contains("not shown"), "{err}");
        }
        let url: DatabaseUrl = "postgres://u:pa?ss@db/x?%70assword=s3cret&sslmode=disable".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://u:***@db/x?%70assword=***&sslmode=disable");
    }

    #[test]
    fn sqlite_path_strips_the_scheme() {
        let url: DatabaseUrl = "sqlite://./data/alga.db".parse().unwrap();
        assert_eq!(url.sqlite_path(), Some(PathBuf::from("./data/alga.db")));
        let url: DatabaseUrl = "sqlite:///var/lib/alga.db".parse().unwrap();
        assert_eq!(url.sqlite_path(), Some(PathBuf::from("/var/lib/alga.db")));
    }

    #[test]
    fn sqlite_connections_get_their_pragmas_and_folder() {
        use diesel::RunQueryDsl;
        use diesel::sql_types::BigInt;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            v: i64,
        }
        let dir = tempfile::tempdir().unwrap();
        let url: DatabaseUrl = format!("sqlite://{}/nested/a.db", dir.path().display()).parse().unwrap();
        let DbConn::Sqlite(mut conn) = establish(&url).unwrap() else { panic!("not sqlite") };
        let get = |c: &mut SqliteConnection, pragma: &str| -> i64 {
            diesel::sql_query(format!("SELECT (SELECT * FROM pragma_{pragma}) AS v")).get_result::<Row>(c).unwrap().v
        };
        assert_eq!(get(&mut conn, "busy_timeout"), 5000);
        assert_eq!(get(&mut conn, "foreign_keys"), 1);
        assert_eq!(get(&mut conn, "synchronous"), 1, "NORMAL is 1");
        assert_eq!(get(&mut conn, "journal_size_limit"), 67_108_864);
        #[derive(diesel::QueryableByName)]
        struct Mode {
            #[diesel(sql_type = diesel::sql_types::Text)]
            journal_mode: String,
        }
        let mode = diesel::sql_query("PRAGMA journal_mode").get_result::<Mode>(&mut conn).unwrap();
        assert_eq!(mode.journal_mode, "wal");
        assert!(dir.path().join("nested/a.db").exists());
    }
}
