//! The only place that knows the `enterprise` feature: it picks the edition's McpGovernance.

use std::sync::Arc;

use alga_core::McpGovernance;

#[cfg(feature = "enterprise")]
pub fn governance() -> Arc<dyn McpGovernance> {
    Arc::new(alga_ee_mcp::Enterprise)
}

#[cfg(not(feature = "enterprise"))]
pub fn governance() -> Arc<dyn McpGovernance> {
    Arc::new(alga_core::Community)
}

/// This edition's migration sets, merged.
pub fn migrator() -> Result<alga_core::migrations::Migrator, alga_core::migrations::MigrationError> {
    alga_core::migrations::Migrator::new(&governance().migration_sets())
}
