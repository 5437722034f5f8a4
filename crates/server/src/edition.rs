//! The only place that knows the `enterprise` feature: it picks the edition's McpGovernance.

use std::sync::Arc;

use alga_core::McpGovernance;

use crate::cli::ServeArgs;

/// This edition with its default settings (enough for migrations and `version`).
#[cfg(feature = "enterprise")]
pub fn governance() -> Arc<dyn McpGovernance> {
    Arc::new(alga_ee_mcp::Enterprise::default())
}

#[cfg(not(feature = "enterprise"))]
pub fn governance() -> Arc<dyn McpGovernance> {
    Arc::new(alga_core::Community)
}

/// This edition configured for `serve`.
#[cfg(feature = "enterprise")]
pub fn serving(args: &ServeArgs) -> Arc<dyn McpGovernance> {
    Arc::new(alga_ee_mcp::Enterprise::new(args.enterprise.clone()))
}

#[cfg(not(feature = "enterprise"))]
pub fn serving(_args: &ServeArgs) -> Arc<dyn McpGovernance> {
    governance()
}

/// This edition's migration sets, merged.
pub fn migrator() -> Result<alga_core::migrations::Migrator, alga_core::migrations::MigrationError> {
    alga_core::migrations::Migrator::new(&governance().migration_sets())
}
