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
