//! The MCP registry: the catalog's operations as agent-tooling entries, enriched by the curated
//! overlays in `docs/api-registry/`. Built once per process.

use std::sync::{Arc, OnceLock};

use alga_agent_tooling::registry::{OperationSpec, Parameter, PermissionRef, Registry, RegistryError};
use include_dir::{Dir, include_dir};

use crate::catalog::{Access, Operation};

static CURATED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../docs/api-registry");

/// The file of `docs/api-registry/` that measures search rather than enriching entries.
pub const QUALITY_SET: &str = "search-quality.json";

/// The registry of every operation (filter it by the caller's permissions before showing it).
pub fn registry() -> Result<Arc<Registry>, RegistryError> {
    static REGISTRY: OnceLock<Result<Arc<Registry>, RegistryError>> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::build(specs(), &overlays()).map(Arc::new)).clone()
}

/// The curated overlay files, `(name, JSON text)`.
pub fn overlays() -> Vec<(&'static str, &'static str)> {
    CURATED
        .files()
        .filter_map(|f| Some((f.path().to_str()?, f.contents_utf8()?)))
        .filter(|(name, _)| name.ends_with(".json") && *name != QUALITY_SET)
        .collect()
}

/// The search-quality set, as JSON text.
pub fn quality_set() -> Option<&'static str> {
    CURATED.get_file(QUALITY_SET).and_then(|f| f.contents_utf8())
}

pub fn specs() -> Vec<OperationSpec> {
    crate::catalog().operations().iter().map(spec_of).collect()
}

fn spec_of(op: &Operation) -> OperationSpec {
    let params = |list: &[crate::catalog::Param], location: &str| -> Vec<Parameter> {
        list.iter()
            .map(|p| Parameter {
                name: p.name.clone(),
                location: location.to_owned(),
                required: location == "path" || p.required,
                description: p.description.clone(),
                schema: p.schema.clone(),
            })
            .collect()
    };
    let mut parameters = params(&op.path_params, "path");
    parameters.extend(params(&op.query_params, "query"));
    OperationSpec {
        id: op.meta.id.to_owned(),
        method: op.meta.method.as_str().to_owned(),
        path: op.meta.path.to_owned(),
        summary: op.meta.summary.to_owned(),
        description: op.meta.description.to_owned(),
        tags: op.meta.tags.iter().map(|t| (*t).to_owned()).collect(),
        permission: match op.meta.access {
            Access::Permission(p) => {
                Some(PermissionRef { resource: p.resource.to_string(), action: p.action.to_string() })
            }
            Access::Authenticated | Access::Public => None,
        },
        parameters,
        request_body_schema: op.request_schema.clone(),
        response_body_schema: op.response_schema.clone(),
        example_body: op.meta.example.and_then(|e| serde_json::from_str(e).ok()),
    }
}

/// Whether the caller may call the entry's operation: the same decision its call will get.
pub fn allows(principal: &alga_core::Principal, entry: &alga_agent_tooling::RegistryEntry) -> bool {
    match &entry.permission {
        None => true,
        Some(p) => alga_core::rbac::Permission::parse(&p.resource, &p.action).is_some_and(|p| principal.can(p)),
    }
}
