use alga_core::migrations::{COMMUNITY, MigrationError, MigrationSet, Migrator};
use alga_core::testing::TestDb;
use alga_core::{Backend, DbConn};
use diesel::connection::SimpleConnection;
use include_dir::{Dir, include_dir};

static ALPHA_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../tests/fixtures/migrations/alpha");
static BETA_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../tests/fixtures/migrations/beta");
static CLASH_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../tests/fixtures/migrations/clash");
static MOVED_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../tests/fixtures/migrations/alpha-moved");
static BROKEN_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../tests/fixtures/migrations/broken");

static ALPHA: MigrationSet = MigrationSet::new("alpha", &ALPHA_DIR);
static BETA: MigrationSet = MigrationSet::new("beta", &BETA_DIR);
static CLASH: MigrationSet = MigrationSet::new("clash", &CLASH_DIR);
static MOVED: MigrationSet = MigrationSet::new("alpha-moved", &MOVED_DIR);
static BROKEN: MigrationSet = MigrationSet::new("broken", &BROKEN_DIR);

fn has_table(conn: &mut DbConn, table: &str) -> bool {
    conn.batch_execute(&format!("SELECT 1 FROM {table} WHERE 1 = 0")).is_ok()
}

fn short(applied: &[String]) -> Vec<&str> {
    applied.iter().map(|l| l.rsplit('/').next().unwrap_or_default()).collect()
}

#[test]
fn merged_sets_run_in_version_order_once() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let both = Migrator::new(&[&ALPHA, &BETA]).unwrap();
    let applied = both.run_pending(&mut conn).unwrap();
    assert_eq!(
        short(&applied),
        ["2020-01-01-000001_widgets", "2020-01-01-000002_gadgets", "2020-01-01-000003_dialect"],
        "interleaved by version, not by set"
    );
    assert!(has_table(&mut conn, "widgets") && has_table(&mut conn, "gadgets"));
    assert!(both.run_pending(&mut conn).unwrap().is_empty(), "a second run applies nothing");
    assert_eq!(both.status(&mut conn).unwrap().pending(), 0);
}

#[test]
fn a_version_in_two_sets_is_refused_naming_both_folders() {
    let err = Migrator::new(&[&ALPHA, &CLASH]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, MigrationError::DuplicateVersion { .. }), "{msg}");
    assert!(msg.contains("alpha/2020-01-01-000001_widgets"), "{msg}");
    assert!(msg.contains("clash/2020-01-01-000001_other_widgets"), "{msg}");
}

#[test]
fn a_migration_moved_between_sets_is_not_applied_again() {
    let db = TestDb::new();
    let mut conn = db.conn();
    Migrator::new(&[&ALPHA, &BETA]).unwrap().run_pending(&mut conn).unwrap();
    // gadgets now lives in another folder under another name, same version.
    let moved = Migrator::new(&[&MOVED]).unwrap();
    assert!(moved.run_pending(&mut conn).unwrap().is_empty());
    let status = moved.status(&mut conn).unwrap();
    assert_eq!(status.pending(), 0, "{status}");
}

#[test]
fn one_set_ignores_versions_applied_by_another_and_refuses_to_revert_them() {
    let db = TestDb::new();
    let mut conn = db.conn();
    Migrator::new(&[&ALPHA, &BETA]).unwrap().run_pending(&mut conn).unwrap();
    let alpha_only = Migrator::new(&[&ALPHA]).unwrap();
    assert!(alpha_only.run_pending(&mut conn).unwrap().is_empty());
    let status = alpha_only.status(&mut conn).unwrap();
    assert_eq!(status.foreign_applied, ["20200101000002"]);
    // The newest applied (000003) is alpha's; the next (000002) is beta's: refuse before reverting any.
    let err = alpha_only.revert(&mut conn, 2).unwrap_err();
    assert!(matches!(err, MigrationError::UnknownVersion { ref version, .. } if version == "20200101000002"), "{err}");
    assert!(has_table(&mut conn, "gadgets"));
    assert_eq!(alpha_only.status(&mut conn).unwrap().pending(), 0, "nothing was reverted");
}

#[test]
fn revert_all_then_up_again_round_trips() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let both = Migrator::new(&[&ALPHA, &BETA]).unwrap();
    both.run_pending(&mut conn).unwrap();
    let reverted = both.revert(&mut conn, 3).unwrap();
    assert_eq!(
        short(&reverted),
        ["2020-01-01-000003_dialect", "2020-01-01-000002_gadgets", "2020-01-01-000001_widgets"],
        "newest first"
    );
    assert!(!has_table(&mut conn, "widgets") && !has_table(&mut conn, "gadgets"));
    assert!(matches!(both.revert(&mut conn, 1), Err(MigrationError::NotThatMany { .. })));
    assert_eq!(both.run_pending(&mut conn).unwrap().len(), 3);
    assert!(has_table(&mut conn, "widgets"));
}

#[test]
fn per_backend_sql_is_chosen_by_the_connection() {
    let db = TestDb::new();
    let mut conn = db.conn();
    Migrator::new(&[&ALPHA]).unwrap().run_pending(&mut conn).unwrap();
    let (mine, theirs) = match db.backend() {
        Backend::Postgres => ("dialect_postgres", "dialect_sqlite"),
        Backend::Sqlite => ("dialect_sqlite", "dialect_postgres"),
    };
    assert!(has_table(&mut conn, mine));
    assert!(!has_table(&mut conn, theirs));
}

#[test]
fn a_failing_migration_names_its_folder_and_leaves_nothing_behind() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let err = Migrator::new(&[&ALPHA, &BROKEN]).unwrap().run_pending(&mut conn).unwrap_err();
    assert!(err.to_string().contains("broken/2020-01-01-000009_half_done"), "{err}");
    assert!(!has_table(&mut conn, "half_done"), "the failed migration's transaction rolled back");
    assert!(has_table(&mut conn, "widgets"), "earlier migrations stay applied");
    let status = Migrator::new(&[&ALPHA, &BROKEN]).unwrap().status(&mut conn).unwrap();
    assert_eq!(status.pending(), 1);
}

#[test]
fn concurrent_runs_migrate_exactly_once() {
    let db = TestDb::new();
    let url = db.url().clone();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut conn = alga_core::db::establish(&url).unwrap();
                Migrator::new(&[&ALPHA, &BETA]).unwrap().run_pending(&mut conn)
            })
        })
        .collect();
    let mut total = 0;
    for run in runs {
        total += run.join().unwrap().unwrap().len();
    }
    assert_eq!(total, 3, "each migration applied by exactly one of the runners");
}

#[test]
fn the_community_set_round_trips() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let ce = Migrator::new(&[&COMMUNITY]).unwrap();
    let n = ce.run_pending(&mut conn).unwrap().len();
    assert_eq!(n, ce.migrations().len());
    assert!(has_table(&mut conn, "tenants"));
    assert_eq!(ce.revert(&mut conn, n).unwrap().len(), n);
    assert!(!has_table(&mut conn, "tenants"));
    assert_eq!(ce.run_pending(&mut conn).unwrap().len(), n);
}

/// A database made before some permissions were declared (here: two pairs taken out of it, as it
/// would have looked then) gains them when migrated, granted to each tenant's built-in roles as
/// declared, once: a grant an administrator later removes stays removed.
#[test]
fn permissions_declared_later_reach_the_built_in_roles_of_existing_tenants() {
    use alga_core::rbac::{Action, BuiltInRole, Permission, Resource};
    let db = TestDb::new();
    let mut conn = db.conn();
    let ce = Migrator::new(&[&COMMUNITY]).unwrap();
    ce.run_pending(&mut conn).unwrap();
    let tenant = alga_core::identity::create_tenant(&mut conn, "older", "Older").unwrap();
    let grants = |conn: &mut DbConn, role: BuiltInRole, p: Permission| -> bool {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let sql = format!(
            "SELECT COUNT(*) AS n FROM role_permissions rp JOIN roles r ON r.tenant_id = rp.tenant_id AND r.id = rp.role_id \
             WHERE r.tenant_id = '{}' AND r.name = '{}' AND rp.resource = '{}' AND rp.action = '{}'",
            tenant.id,
            role.name(),
            p.resource,
            p.action
        );
        use diesel::RunQueryDsl;
        let counts: Vec<Count> = alga_core::on_backend!(conn, |c| diesel::sql_query(&sql).load(c)).unwrap();
        counts[0].n == 1
    };
    let ticket_create = Permission::new(Resource::Ticket, Action::Create);
    let priority_delete = Permission::new(Resource::Priority, Action::Delete);
    // Resources declared after the first tenants existed (locations, assets, the knowledge base,
    // tags, teams, ticket categories).
    let tag_read = Permission::new(Resource::Tag, Action::Read);
    let team_update = Permission::new(Resource::Team, Action::Update);
    let category_read = Permission::new(Resource::TicketCategory, Action::Read);
    let later = [
        ticket_create,
        priority_delete,
        Permission::new(Resource::ClientLocation, Action::Read),
        Permission::new(Resource::Asset, Action::Update),
        Permission::new(Resource::KbArticle, Action::Create),
        Permission::new(Resource::KbPublication, Action::Update),
        Permission::new(Resource::McpApproval, Action::Update),
        tag_read,
        team_update,
        category_read,
    ];
    for p in later {
        conn.batch_execute(&format!(
            "DELETE FROM role_permissions WHERE resource = '{0}' AND action = '{1}'; \
             DELETE FROM permissions WHERE resource = '{0}' AND action = '{1}';",
            p.resource, p.action
        ))
        .unwrap();
        assert!(!grants(&mut conn, BuiltInRole::Admin, p));
    }

    assert_eq!(ce.run_pending(&mut conn).unwrap().len(), 0, "no migration was pending");
    for role in BuiltInRole::ALL {
        for p in later {
            assert_eq!(grants(&mut conn, role, p), role.permissions().contains(p), "{} {p}", role.name());
        }
    }
    assert!(grants(&mut conn, BuiltInRole::Technician, ticket_create));
    assert!(grants(&mut conn, BuiltInRole::Technician, Permission::new(Resource::Asset, Action::Update)));
    assert!(grants(&mut conn, BuiltInRole::ReadOnly, Permission::new(Resource::ClientLocation, Action::Read)));
    assert!(!grants(&mut conn, BuiltInRole::Technician, Permission::new(Resource::KbPublication, Action::Update)));
    assert!(grants(&mut conn, BuiltInRole::Admin, Permission::new(Resource::KbPublication, Action::Update)));
    assert!(!grants(&mut conn, BuiltInRole::Technician, Permission::new(Resource::McpApproval, Action::Update)));
    assert!(grants(&mut conn, BuiltInRole::Admin, Permission::new(Resource::McpApproval, Action::Update)));
    assert!(grants(&mut conn, BuiltInRole::Technician, tag_read));
    assert!(grants(&mut conn, BuiltInRole::ReadOnly, category_read));
    assert!(!grants(&mut conn, BuiltInRole::Technician, team_update));
    assert!(grants(&mut conn, BuiltInRole::Admin, team_update));

    // Introduced once: an administrator's later removal holds across migrations.
    conn.batch_execute(&format!(
        "DELETE FROM role_permissions WHERE tenant_id = '{}' AND resource = 'ticket' AND action = 'create' \
         AND role_id IN (SELECT id FROM roles WHERE name = 'Technician')",
        tenant.id
    ))
    .unwrap();
    ce.run_pending(&mut conn).unwrap();
    assert!(!grants(&mut conn, BuiltInRole::Technician, ticket_create));
}
