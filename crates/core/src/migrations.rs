//! Embedded migration sets, merged and run once.
//!
//! Each edition ships a set of diesel-style migration folders (`{YYYY-MM-DD-HHMMSS}_{name}/`)
//! compiled into the binary, so a shipped binary migrates with no source tree beside it. A folder
//! holds `up.sql` and `down.sql`, or `up.postgres.sql` + `up.sqlite.sql` (and the same for `down`)
//! where the dialects must differ. The community binary runs the community set; the enterprise
//! binary runs both sets merged in version order, as one run.
//!
//! Bookkeeping is diesel's `__diesel_schema_migrations`, which records versions only: a migration
//! moved between sets under the same version is therefore never applied twice, and versions
//! applied by another edition are ignored by `run_pending` (but refused by `revert`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use diesel::Connection;
use diesel::connection::BoxableConnection;
use diesel::migration::{Migration, MigrationMetadata, MigrationName, MigrationVersion};
use diesel::pg::{Pg, PgConnection};
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::{QueryableByName, RunQueryDsl};
use diesel_migrations::MigrationHarness;
use include_dir::{Dir, include_dir};

use crate::db::{Backend, DbConn};

static COMMUNITY_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations-ce");

/// The community migrations, applied by every edition.
pub static COMMUNITY: MigrationSet = MigrationSet::new("migrations-ce", &COMMUNITY_DIR);

/// A folder of migrations embedded in the binary.
#[derive(Debug)]
pub struct MigrationSet {
    folder: &'static str,
    dir: &'static Dir<'static>,
}

impl MigrationSet {
    /// `folder` names the set in messages (the repository folder it was embedded from).
    pub const fn new(folder: &'static str, dir: &'static Dir<'static>) -> Self {
        MigrationSet { folder, dir }
    }

    pub fn folder(&self) -> &'static str {
        self.folder
    }

    /// Every SQL file of the set as `(path within the set, text)`, for checks over the SQL itself.
    pub fn sql_files(&self) -> Vec<(String, &'static str)> {
        self.dir
            .dirs()
            .flat_map(|migration| migration.files())
            .filter(|f| f.path().extension().is_some_and(|e| e == "sql"))
            .map(|f| (f.path().display().to_string(), f.contents_utf8().unwrap_or_default()))
            .collect()
    }

    /// Parses and validates every migration of the set, sorted by version.
    pub fn load(&self) -> Result<Vec<SqlMigration>, MigrationError> {
        let mut out = Vec::new();
        for entry in self.dir.entries() {
            let name = entry.path().to_string_lossy().into_owned();
            let malformed =
                |problem: String| MigrationError::Malformed { location: format!("{}/{name}", self.folder), problem };
            let Some(dir) = entry.as_dir() else {
                if name.eq_ignore_ascii_case("README.md") || name == ".keep" {
                    continue;
                }
                return Err(malformed("only migration folders belong here".into()));
            };
            let version = parse_version(&name).map_err(malformed)?;
            let mut files = BTreeMap::new();
            for file in dir.files() {
                let file_name = file.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if !KNOWN_FILES.contains(&file_name.as_str()) {
                    return Err(malformed(format!(
                        "unexpected file `{file_name}`; expected {}",
                        KNOWN_FILES.join(", ")
                    )));
                }
                let sql = file.contents_utf8().ok_or_else(|| malformed(format!("{file_name} is not UTF-8")))?;
                files.insert(file_name, sql);
            }
            let pick = |step: &str| -> Result<BackendSql, MigrationError> {
                let generic = files.get(&format!("{step}.sql")).copied();
                let postgres = files.get(&format!("{step}.postgres.sql")).copied().or(generic);
                let sqlite = files.get(&format!("{step}.sqlite.sql")).copied().or(generic);
                match (postgres, sqlite) {
                    (Some(postgres), Some(sqlite)) => Ok(BackendSql { postgres, sqlite }),
                    _ => Err(malformed(format!("needs {step}.sql, or both {step}.postgres.sql and {step}.sqlite.sql"))),
                }
            };
            out.push(SqlMigration {
                location: format!("{}/{name}", self.folder),
                name: MigrationLabel { version, folder_name: name.clone() },
                up: pick("up")?,
                down: pick("down")?,
            });
        }
        out.sort_by(|a, b| a.name.version.cmp(&b.name.version));
        Ok(out)
    }
}

const KNOWN_FILES: [&str; 6] =
    ["up.sql", "down.sql", "up.postgres.sql", "up.sqlite.sql", "down.postgres.sql", "down.sqlite.sql"];

/// `2026-11-24-000001_tenants` → `20261124000001`, as diesel derives it.
fn parse_version(folder_name: &str) -> Result<String, String> {
    let (stamp, label) =
        folder_name.split_once('_').ok_or_else(|| "a migration folder is named YYYY-MM-DD-HHMMSS_name".to_owned())?;
    let version: String = stamp.chars().filter(|c| *c != '-').collect();
    if version.len() != 14 || !version.chars().all(|c| c.is_ascii_digit()) || label.is_empty() {
        return Err("a migration folder is named YYYY-MM-DD-HHMMSS_name".into());
    }
    Ok(version)
}

#[derive(Debug, Clone, Copy)]
struct BackendSql {
    postgres: &'static str,
    sqlite: &'static str,
}

impl BackendSql {
    fn for_backend(self, backend: Backend) -> &'static str {
        match backend {
            Backend::Postgres => self.postgres,
            Backend::Sqlite => self.sqlite,
        }
    }
}

#[derive(Debug, Clone)]
struct MigrationLabel {
    version: String,
    folder_name: String,
}

impl fmt::Display for MigrationLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.folder_name)
    }
}

impl MigrationName for MigrationLabel {
    fn version(&self) -> MigrationVersion<'_> {
        MigrationVersion::from(self.version.as_str())
    }
}

/// One migration: its SQL for each backend, in both directions.
#[derive(Debug, Clone)]
pub struct SqlMigration {
    /// `set-folder/migration-folder`, for messages.
    location: String,
    name: MigrationLabel,
    up: BackendSql,
    down: BackendSql,
}

impl SqlMigration {
    pub fn version(&self) -> &str {
        &self.name.version
    }

    pub fn location(&self) -> &str {
        &self.location
    }
}

struct InTransaction;

impl MigrationMetadata for InTransaction {
    fn run_in_transaction(&self) -> bool {
        true
    }
}

impl Migration<Pg> for SqlMigration {
    fn run(&self, conn: &mut dyn BoxableConnection<Pg>) -> diesel::migration::Result<()> {
        Ok(conn.batch_execute(self.up.for_backend(Backend::Postgres))?)
    }

    fn revert(&self, conn: &mut dyn BoxableConnection<Pg>) -> diesel::migration::Result<()> {
        Ok(conn.batch_execute(self.down.for_backend(Backend::Postgres))?)
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        &InTransaction
    }

    fn name(&self) -> &dyn MigrationName {
        &self.name
    }
}

impl Migration<Sqlite> for SqlMigration {
    fn run(&self, conn: &mut dyn BoxableConnection<Sqlite>) -> diesel::migration::Result<()> {
        Ok(conn.batch_execute(self.up.for_backend(Backend::Sqlite))?)
    }

    fn revert(&self, conn: &mut dyn BoxableConnection<Sqlite>) -> diesel::migration::Result<()> {
        Ok(conn.batch_execute(self.down.for_backend(Backend::Sqlite))?)
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        &InTransaction
    }

    fn name(&self) -> &dyn MigrationName {
        &self.name
    }
}

/// Why migrating failed. Every message names the folder involved.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("{location}: {problem}")]
    Malformed { location: String, problem: String },
    #[error("migration version {version} is in both {first} and {second}; versions must be unique across sets")]
    DuplicateVersion { version: String, first: String, second: String },
    #[error(
        "cannot revert version {version}: it is not one of this edition's migrations ({sets}); \
         it was applied by another edition, so revert it with that edition's binary"
    )]
    UnknownVersion { version: String, sets: String },
    #[error("cannot revert {requested} migrations: only {applied} of this edition's are applied")]
    NotThatMany { requested: usize, applied: usize },
    #[error("migration {location} failed: {cause}")]
    Failed { location: String, cause: String },
    #[error("cannot read or lock the migration table: {0}")]
    Bookkeeping(String),
}

/// What one set looks like in a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetStatus {
    pub folder: &'static str,
    /// `(folder name, applied)` in version order.
    pub migrations: Vec<(String, bool)>,
}

/// Applied and pending migrations per set, plus versions this edition does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub sets: Vec<SetStatus>,
    pub foreign_applied: Vec<String>,
}

impl MigrationStatus {
    pub fn pending(&self) -> usize {
        self.sets.iter().flat_map(|s| &s.migrations).filter(|(_, applied)| !applied).count()
    }
}

impl fmt::Display for MigrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for set in &self.sets {
            let applied = set.migrations.iter().filter(|(_, a)| *a).count();
            writeln!(f, "{}: {applied} applied, {} pending", set.folder, set.migrations.len() - applied)?;
            for (name, is_applied) in &set.migrations {
                writeln!(f, "  [{}] {name}", if *is_applied { "applied" } else { "pending" })?;
            }
        }
        if !self.foreign_applied.is_empty() {
            writeln!(f, "applied by another edition (left alone): {}", self.foreign_applied.join(", "))?;
        }
        Ok(())
    }
}

/// Several sets merged into one version-ordered run.
#[derive(Debug)]
pub struct Migrator {
    sets: Vec<(&'static str, Vec<SqlMigration>)>,
    merged: Vec<SqlMigration>,
}

/// PostgreSQL advisory lock key held while migrating ("alga_mig" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x616c_6761_5f6d_6967;

impl Migrator {
    /// Loads and merges the sets; a version present in two folders is an error naming both.
    pub fn new(sets: &[&MigrationSet]) -> Result<Migrator, MigrationError> {
        let mut loaded = Vec::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut merged = Vec::new();
        for set in sets {
            let migrations = set.load()?;
            for m in &migrations {
                if let Some(first) = seen.insert(m.version().to_owned(), m.location.clone()) {
                    return Err(MigrationError::DuplicateVersion {
                        version: m.version().to_owned(),
                        first,
                        second: m.location.clone(),
                    });
                }
            }
            merged.extend(migrations.iter().cloned());
            loaded.push((set.folder(), migrations));
        }
        merged.sort_by(|a, b| a.version().cmp(b.version()));
        Ok(Migrator { sets: loaded, merged })
    }

    /// Every migration of every set, in version order.
    pub fn migrations(&self) -> &[SqlMigration] {
        &self.merged
    }

    /// Applies what is pending, in version order, and returns the folders applied.
    ///
    /// The run holds the database's migration lock (an advisory lock on PostgreSQL, a write
    /// transaction on SQLite), so servers starting together migrate once: the first applies, the
    /// others wait and then find nothing pending. Each migration commits on its own: after a
    /// failure the earlier ones stay applied.
    pub fn run_pending(&self, conn: &mut DbConn) -> Result<Vec<String>, MigrationError> {
        let applied = match conn {
            DbConn::Postgresql(pg) => with_advisory_lock(pg, |pg| self.apply_pending(pg)),
            DbConn::Sqlite(sqlite) => with_write_lock(sqlite, |sqlite| self.apply_pending(sqlite)),
        }?;
        // The schema is current: the permissions declared since this database was made join it
        // (they live in the community schema).
        if !self.sets.iter().any(|(folder, _)| *folder == COMMUNITY.folder()) {
            return Ok(applied);
        }
        crate::rbac::introduce_declared(conn).map_err(|e| MigrationError::Failed {
            location: "declared permissions".to_owned(),
            cause: e.message().to_owned(),
        })?;
        Ok(applied)
    }

    /// Reverts the newest `count` applied migrations, newest first.
    ///
    /// Refuses, before changing anything, when one of them belongs to another edition.
    pub fn revert(&self, conn: &mut DbConn, count: usize) -> Result<Vec<String>, MigrationError> {
        match conn {
            DbConn::Postgresql(pg) => with_advisory_lock(pg, |pg| self.revert_newest(pg, count)),
            DbConn::Sqlite(sqlite) => with_write_lock(sqlite, |sqlite| self.revert_newest(sqlite, count)),
        }
    }

    /// Applied and pending migrations per set.
    pub fn status(&self, conn: &mut DbConn) -> Result<MigrationStatus, MigrationError> {
        let applied = match conn {
            DbConn::Postgresql(pg) => applied_versions(pg)?,
            DbConn::Sqlite(sqlite) => applied_versions(sqlite)?,
        };
        let sets = self
            .sets
            .iter()
            .map(|(folder, migrations)| SetStatus {
                folder,
                migrations: migrations
                    .iter()
                    .map(|m| (m.name.folder_name.clone(), applied.contains(m.version())))
                    .collect(),
            })
            .collect();
        let known: BTreeSet<&str> = self.merged.iter().map(SqlMigration::version).collect();
        let foreign_applied = applied.iter().filter(|v| !known.contains(v.as_str())).cloned().collect();
        Ok(MigrationStatus { sets, foreign_applied })
    }

    fn apply_pending<C>(&self, conn: &mut C) -> Progress
    where
        C: Connection + MigrationHarness<C::Backend>,
        SqlMigration: Migration<C::Backend>,
    {
        let mut progress = Progress::default();
        let applied = match applied_versions(conn) {
            Ok(applied) => applied,
            Err(e) => return progress.failed(e),
        };
        for m in self.merged.iter().filter(|m| !applied.contains(m.version())) {
            if let Err(e) = conn.run_migration(m) {
                return progress.failed(MigrationError::Failed { location: m.location.clone(), cause: e.to_string() });
            }
            tracing::info!(migration = %m.location, "applied migration");
            progress.done.push(m.location.clone());
        }
        progress
    }

    fn revert_newest<C>(&self, conn: &mut C, count: usize) -> Progress
    where
        C: Connection + MigrationHarness<C::Backend>,
        SqlMigration: Migration<C::Backend>,
    {
        let progress = Progress::default();
        let applied = match applied_versions(conn) {
            Ok(applied) => applied,
            Err(e) => return progress.failed(e),
        };
        let newest: Vec<&String> = applied.iter().rev().take(count).collect();
        if newest.len() < count {
            return progress.failed(MigrationError::NotThatMany { requested: count, applied: applied.len() });
        }
        let mut plan = Vec::new();
        for version in newest {
            match self.merged.iter().find(|m| m.version() == version) {
                Some(m) => plan.push(m),
                None => {
                    let sets = self.set_names();
                    return progress.failed(MigrationError::UnknownVersion { version: version.clone(), sets });
                }
            }
        }
        let mut progress = progress;
        for m in plan {
            if let Err(e) = conn.revert_migration(m) {
                return progress.failed(MigrationError::Failed { location: m.location.clone(), cause: e.to_string() });
            }
            tracing::info!(migration = %m.location, "reverted migration");
            progress.done.push(m.location.clone());
        }
        progress
    }

    /// How many of this edition's migrations the database lacks. Read-only: unlike diesel's
    /// harness it never creates the bookkeeping table, so it is safe on a hot path (readiness).
    pub fn pending_count(&self, conn: &mut DbConn) -> Result<usize, MigrationError> {
        #[derive(QueryableByName)]
        struct Applied {
            #[diesel(sql_type = diesel::sql_types::Text)]
            version: String,
        }
        let applied: BTreeSet<String> = diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Applied>(conn)
            .map_err(|e| MigrationError::Bookkeeping(e.to_string()))?
            .into_iter()
            .map(|a| a.version)
            .collect();
        Ok(self.merged.iter().filter(|m| !applied.contains(m.version())).count())
    }

    fn set_names(&self) -> String {
        self.sets.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(" + ")
    }
}

/// What a locked run did before it finished or failed; partial progress is committed.
#[derive(Default)]
struct Progress {
    done: Vec<String>,
    failure: Option<MigrationError>,
}

impl Progress {
    fn failed(mut self, e: MigrationError) -> Progress {
        self.failure = Some(e);
        self
    }

    fn into_result(self) -> Result<Vec<String>, MigrationError> {
        match self.failure {
            Some(e) => Err(e),
            None => Ok(self.done),
        }
    }
}

fn applied_versions<C>(conn: &mut C) -> Result<BTreeSet<String>, MigrationError>
where
    C: Connection + MigrationHarness<C::Backend>,
{
    let versions = conn.applied_migrations().map_err(|e| MigrationError::Bookkeeping(e.to_string()))?;
    Ok(versions.iter().map(ToString::to_string).collect())
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    #[allow(dead_code)]
    locked: bool,
}

/// Runs `f` holding a session-level advisory lock, released even when `f` fails.
fn with_advisory_lock(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> Progress,
) -> Result<Vec<String>, MigrationError> {
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY}) IS NOT NULL AS locked"))
        .get_result::<Locked>(conn)
        .map_err(|e| MigrationError::Bookkeeping(e.to_string()))?;
    let progress = f(conn);
    let unlocked = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY}) AS locked"))
        .get_result::<Locked>(conn);
    if let Err(e) = unlocked {
        tracing::warn!(error = %e, "could not release the migration lock; it ends with the connection");
    }
    progress.into_result()
}

/// Runs `f` inside `BEGIN IMMEDIATE`: the write lock is taken up front, so a second runner waits
/// (busy_timeout) instead of failing on a lock upgrade. Each migration is a savepoint within it.
fn with_write_lock(
    conn: &mut SqliteConnection,
    f: impl FnOnce(&mut SqliteConnection) -> Progress,
) -> Result<Vec<String>, MigrationError> {
    conn.immediate_transaction(|conn| Ok::<_, diesel::result::Error>(f(conn)))
        .map_err(|e| MigrationError::Bookkeeping(e.to_string()))?
        .into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_diesel() {
        assert_eq!(parse_version("2026-11-24-000001_tenants").as_deref(), Ok("20261124000001"));
        assert!(parse_version("2026-11-24_x").is_err());
        assert!(parse_version("20261124000001").is_err());
        assert!(parse_version("2026-11-24-00000a_x").is_err());
    }

    #[test]
    fn the_community_set_is_well_formed() {
        let migrations = COMMUNITY.load().unwrap();
        assert!(!migrations.is_empty());
        assert!(migrations.windows(2).all(|w| w[0].version() < w[1].version()));
    }
}
