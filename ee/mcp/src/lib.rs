//! The enterprise edition's [`McpGovernance`]: its migration set merged after the community one,
//! and (as the governance work lands) trusted identity providers, agents, JWT verification, the
//! remote MCP endpoint, the audit trail and the admin API.
//!
//! Architecture invariant: only `crates/server`, under its `enterprise` feature, depends on this
//! crate; nothing under `crates/` does.

pub mod jwks;
pub mod jwt;

use actix_web::web;
use alga_core::AppContext;
use alga_core::governance::{BackgroundTask, Edition, McpGovernance};
use alga_core::migrations::{self, MigrationSet};
use include_dir::{Dir, include_dir};

static ENTERPRISE_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations-ee");

/// The enterprise migrations, applied after (and merged with) the community ones.
pub static ENTERPRISE: MigrationSet = MigrationSet::new("migrations-ee", &ENTERPRISE_DIR);

#[derive(Debug, Default)]
pub struct Enterprise;

impl McpGovernance for Enterprise {
    fn edition(&self) -> Edition {
        Edition::Enterprise
    }

    fn migration_sets(&self) -> Vec<&'static MigrationSet> {
        vec![&migrations::COMMUNITY, &ENTERPRISE]
    }

    fn configure(&self, _cfg: &mut web::ServiceConfig) {
        // The governance routes (admin API, /api/mcp, protected-resource metadata) are registered
        // here by the enterprise governance work; until then these paths answer the generic 404.
    }

    fn background_tasks(&self, _ctx: &AppContext) -> Vec<BackgroundTask> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alga_core::migrations::Migrator;

    #[test]
    fn the_sets_merge_without_duplicate_versions() {
        let merged = Migrator::new(&Enterprise.migration_sets()).unwrap();
        let ce = migrations::COMMUNITY.load().unwrap().len();
        let ee = ENTERPRISE.load().unwrap().len();
        assert_eq!(merged.migrations().len(), ce + ee);
    }

    /// Community migrations must work without the enterprise ones: they never name an enterprise
    /// table.
    #[test]
    fn community_migrations_never_reference_enterprise_tables() {
        let ee_tables: Vec<String> = ENTERPRISE.sql_files().iter().flat_map(|(_, sql)| created_tables(sql)).collect();
        assert!(ee_tables.contains(&"agent_idp_providers".to_owned()), "{ee_tables:?}");
        let community = migrations::COMMUNITY.sql_files();
        assert!(!community.is_empty());
        for (path, sql) in &community {
            // Comments may explain how the enterprise edition builds on a table; code may not.
            let sql: String =
                sql.lines().map(|l| l.split("--").next().unwrap_or_default().to_lowercase() + "\n").collect();
            for table in &ee_tables {
                let mentions = sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|word| word == table);
                assert!(!mentions, "migrations-ce/{path} references the enterprise table {table}");
            }
        }
    }

    fn created_tables(sql: &str) -> Vec<String> {
        let lower = sql.to_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        words
            .windows(3)
            .filter(|w| w[0] == "create" && w[1] == "table")
            .map(|w| w[2].trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).to_owned())
            .collect()
    }
}
