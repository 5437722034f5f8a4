//! The enterprise edition's [`McpGovernance`]: its migration set merged after the community one,
//! trusted identity providers, agents, JWT verification, the remote MCP endpoint, the audit
//! trail, the admin API and the admin web UI.
//!
//! Architecture invariant: only `crates/server`, under its `enterprise` feature, depends on this
//! crate; nothing under `crates/` does.

pub mod admin;
pub mod agents;
pub mod approval;
pub mod audit;
pub mod auth;
pub mod changes;
pub mod egress;
pub mod endpoint;
pub mod idp;
pub mod jwks;
pub mod jwt;
pub mod limits;
pub mod metadata;
pub mod policy;
pub mod schema;
pub mod session;
pub mod settings;
pub mod sweeper;
pub mod ui;

use std::sync::Arc;

use actix_web::web;
use alga_core::governance::{BackgroundTask, Edition, McpGovernance};
use alga_core::metrics::Metrics;
use alga_core::migrations::{self, MigrationSet};
use alga_core::{AppContext, RouteTable};
use include_dir::{Dir, include_dir};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

pub use settings::Settings;

static ENTERPRISE_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations-ee");

/// The enterprise migrations, applied after (and merged with) the community ones.
pub static ENTERPRISE: MigrationSet = MigrationSet::new("migrations-ee", &ENTERPRISE_DIR);

/// What every governance request shares: settings, the JWKS cache, rate limits, the client for
/// identity providers.
#[derive(Debug)]
pub struct Governance {
    pub settings: Settings,
    pub http: egress::IdpClient,
    pub jwks: jwks::Jwks,
    pub limits: limits::Limits,
    /// The client each credential last named in `initialize`: stateless legacy clients say who
    /// they are, and whether they take URL elicitations, only there; the audit wants the name on
    /// every call, and approvals the capability.
    pub clients: moka::sync::Cache<String, KnownClient>,
    /// The key sealing approval request states: configured, else read (or made) once.
    pub state_key: std::sync::OnceLock<approval::seal::SealKey>,
    /// The one audit writer of this process (group commit), started on the first tool call.
    pub audit: audit::AuditWriter,
    /// Agents as authentication last read them, each with the grant epoch read before it.
    pub agents: auth::AgentCache,
    /// Failed admin sign-ins, per account and per address.
    pub sign_ins: session::Throttle,
    /// Audited tool calls by tool and decision (the other metrics live with their subjects).
    pub tool_calls: Family<ToolCallLabels, Counter>,
    /// The policy replays this server runs at once.
    pub replays: policy::replay::Replays,
    /// The 2026-07-28 retries held while a person decides, by caller.
    pub holds: approval::gate::Holds,
    /// Approvals waiting for a decision, in every tenant (set by the approval sweeper).
    pub approvals_pending: prometheus_client::metrics::gauge::Gauge,
}

/// What a legacy client said of itself in `initialize`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownClient {
    pub name: String,
    pub version: Option<String>,
    pub url_elicitation: bool,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolCallLabels {
    pub tool: String,
    pub decision: &'static str,
}

impl Governance {
    pub fn new(settings: Settings) -> Governance {
        let http = egress::IdpClient::new(settings.allow_insecure_idp_urls);
        let limits = limits::Limits {
            calls: limits::Buckets::new(settings.mcp_calls_per_second, settings.mcp_call_burst),
            writes: limits::Buckets::new(settings.mcp_writes_per_second, settings.mcp_writes_per_second * 2.0),
        };
        let clients = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_idle(std::time::Duration::from_secs(24 * 3600))
            .build();
        Governance {
            jwks: jwks::Jwks::new(http.clone()),
            http,
            limits,
            settings,
            clients,
            state_key: std::sync::OnceLock::new(),
            audit: audit::AuditWriter::default(),
            agents: auth::AgentCache::default(),
            sign_ins: session::Throttle::default(),
            tool_calls: Family::default(),
            replays: policy::replay::Replays::default(),
            approvals_pending: prometheus_client::metrics::gauge::Gauge::default(),
            holds: approval::gate::Holds::default(),
        }
    }
}

impl Governance {
    /// The key sealing approval request states: the configured one, else the one stored in the
    /// database (made by the first replica needing it), read once per process.
    pub async fn state_key(&self, ctx: &AppContext) -> Result<approval::seal::SealKey, alga_core::ApiError> {
        if let Some(key) = self.state_key.get() {
            return Ok(key.clone());
        }
        let configured = self.settings.approval_state_key.clone();
        let key = ctx.db.run(move |conn| approval::seal::state_key(conn, configured.as_ref())).await?;
        Ok(self.state_key.get_or_init(|| key).clone())
    }
}

#[derive(Debug, Clone)]
pub struct Enterprise {
    state: Arc<Governance>,
}

impl Default for Enterprise {
    fn default() -> Self {
        Enterprise::new(Settings::default())
    }
}

impl Enterprise {
    pub fn new(settings: Settings) -> Enterprise {
        Enterprise { state: Arc::new(Governance::new(settings)) }
    }
}

impl McpGovernance for Enterprise {
    fn edition(&self) -> Edition {
        Edition::Enterprise
    }

    fn migration_sets(&self) -> Vec<&'static MigrationSet> {
        vec![&migrations::COMMUNITY, &ENTERPRISE]
    }

    fn routes(&self) -> RouteTable {
        let mut table = RouteTable::new();
        let parts: [fn(&mut RouteTable); 10] = [
            idp::routes,
            approval::api::routes,
            policy::api::routes,
            policy::replay::routes,
            agents::routes,
            audit::routes,
            changes::routes,
            endpoint::routes,
            metadata::routes,
            ui::routes,
        ];
        for declare in parts {
            declare(&mut table);
        }
        table
    }

    fn app_data(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::from(self.state.clone()));
    }

    fn background_tasks(&self, ctx: &AppContext) -> Vec<BackgroundTask> {
        vec![
            sweeper::task(ctx, self.state.settings.key_sweep_every()),
            sweeper::approval_task(ctx, sweeper::APPROVAL_SWEEP, self.state.approvals_pending.clone()),
        ]
    }

    fn role_holders(&self) -> alga_core::context::RoleHolders {
        agents::holders_of_role
    }

    fn hidden_operations(&self) -> alga_core::context::HiddenOperations {
        policy::call::hidden_operations
    }

    fn delete_tenant_records(&self, conn: &mut alga_core::DbConn, tenant_id: &str) -> Result<(), alga_core::ApiError> {
        use diesel::prelude::*;
        // Agents' roles refer to roles, which the tenant's cascade may reach first.
        diesel::delete(schema::agent_roles::table.filter(schema::agent_roles::tenant_id.eq(tenant_id)))
            .execute(conn)?;
        diesel::delete(schema::agents::table.filter(schema::agents::tenant_id.eq(tenant_id))).execute(conn)?;
        Ok(())
    }

    fn prune_audit(
        &self,
        conn: &mut alga_core::DbConn,
        before: chrono::NaiveDateTime,
        retention_days: u32,
        by: &str,
    ) -> Result<u64, alga_core::ApiError> {
        audit::prune(conn, before, retention_days, by)
    }

    fn register_metrics(&self, metrics: &Metrics) {
        let g = &self.state;
        metrics.register("mcp_tool_calls", "MCP tool calls, by tool and audited decision", g.tool_calls.clone());
        metrics.register(
            "jwks_fetches",
            "Signing-key (JWKS) fetches from identity providers",
            g.jwks.stats.fetches.clone(),
        );
        metrics.register("jwks_fetch_failures", "JWKS fetches that failed", g.jwks.stats.failures.clone());
        let audit = &g.audit.metrics;
        metrics.register(
            "audit_commit_duration_seconds",
            "Time to write and commit one batch of audit rows",
            audit.commit_seconds.clone(),
        );
        metrics.register("audit_batch_rows", "Audit rows per commit", audit.batch_rows.clone());
        metrics.register("audit_backlog", "Tool calls waiting for their audit row", audit.backlog.clone());
        metrics.register(
            "mcp_approvals_pending",
            "Approvals waiting for a person's decision, in every tenant",
            g.approvals_pending.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alga_core::migrations::Migrator;

    #[test]
    fn the_sets_merge_without_duplicate_versions() {
        let merged = Migrator::new(&Enterprise::default().migration_sets()).unwrap();
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
