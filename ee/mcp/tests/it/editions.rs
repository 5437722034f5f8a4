//! The two editions on one database, with the real migration sets.

use alga_core::governance::McpGovernance;
use alga_core::migrations::{COMMUNITY, Migrator};
use alga_core::testing::TestDb;
use alga_core::{Community, DbConn};
use alga_ee_mcp::{ENTERPRISE, Enterprise};
use diesel::connection::SimpleConnection;

fn has_table(conn: &mut DbConn, table: &str) -> bool {
    conn.batch_execute(&format!("SELECT 1 FROM {table} WHERE 1 = 0")).is_ok()
}

#[test]
fn the_community_edition_never_creates_enterprise_tables() {
    let db = TestDb::new();
    let mut conn = db.conn();
    Migrator::new(&Community.migration_sets()).unwrap().run_pending(&mut conn).unwrap();
    assert!(has_table(&mut conn, "tenants"));
    assert!(!has_table(&mut conn, "agent_idp_providers"));
}

#[test]
fn the_community_edition_runs_on_an_enterprise_database_and_leaves_its_versions_alone() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let enterprise = Migrator::new(&Enterprise::default().migration_sets()).unwrap();
    let applied = enterprise.run_pending(&mut conn).unwrap();
    assert_eq!(applied.len(), enterprise.migrations().len());
    assert!(has_table(&mut conn, "agent_idp_providers"));

    let community = Migrator::new(&Community.migration_sets()).unwrap();
    assert!(community.run_pending(&mut conn).unwrap().is_empty());
    let status = community.status(&mut conn).unwrap();
    assert_eq!(status.pending(), 0);
    let ee_versions: Vec<String> = ENTERPRISE.load().unwrap().iter().map(|m| m.version().to_owned()).collect();
    assert_eq!(status.foreign_applied, ee_versions);
    assert_eq!(community.pending_count(&mut conn).unwrap(), 0, "the community server is ready on it");

    // Going back up to enterprise applies nothing new.
    assert!(enterprise.run_pending(&mut conn).unwrap().is_empty());
    assert_eq!(COMMUNITY.load().unwrap().len() + ee_versions.len(), enterprise.migrations().len());
}

#[test]
fn the_enterprise_set_round_trips() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let enterprise = Migrator::new(&Enterprise::default().migration_sets()).unwrap();
    let n = enterprise.run_pending(&mut conn).unwrap().len();
    assert_eq!(enterprise.revert(&mut conn, n).unwrap().len(), n);
    assert!(!has_table(&mut conn, "agent_idp_providers") && !has_table(&mut conn, "tenants"));
    assert_eq!(enterprise.run_pending(&mut conn).unwrap().len(), n);
}
