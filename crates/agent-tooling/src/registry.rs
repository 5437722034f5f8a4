//! Registry entries: one per catalog operation, with the original system's fields plus
//! `permission` and `readOnly`, enriched by curated overlays.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::text::{EntryIndex, Vocabulary};

/// What the catalog says about one operation (built by `alga-api`).
#[derive(Debug, Clone, PartialEq)]
pub struct OperationSpec {
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub tags: Vec<String>,
    /// `None` for operations any authenticated caller may use.
    pub permission: Option<PermissionRef>,
    pub parameters: Vec<Parameter>,
    pub request_body_schema: Option<Value>,
    pub response_body_schema: Option<Value>,
    pub example_body: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionRef {
    pub resource: String,
    pub action: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    /// `path` or `query`.
    #[serde(rename = "in")]
    pub location: String,
    pub required: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub schema: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Example {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `{params, query, body}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// One operation as agents see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryEntry {
    pub id: String,
    pub method: String,
    pub path: String,
    pub display_name: String,
    pub summary: String,
    pub description: String,
    pub tags: Vec<String>,
    pub rbac_resource: Option<String>,
    /// Whether a human should approve the call first (metadata: DELETE by default, or curated).
    pub approval_required: bool,
    pub parameters: Vec<Parameter>,
    pub request_body_schema: Option<Value>,
    pub response_body_schema: Option<Value>,
    pub playbooks: Vec<String>,
    pub examples: Vec<Example>,
    pub permission: Option<PermissionRef>,
    /// GET: reads only.
    pub read_only: bool,
}

/// Curated additions to entries, kept in the repository (`docs/api-registry/*.json`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverlayFile {
    pub entries: Vec<Overlay>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Overlay {
    /// The operation id this overlay enriches.
    pub id: String,
    pub display_name: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub approval_required: Option<bool>,
    #[serde(default)]
    pub playbooks: Vec<String>,
    #[serde(default)]
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("overlay {file}: no operation has the id `{id}`")]
    UnmatchedOverlay { file: String, id: String },
    #[error("overlay {file} is not valid: {reason}")]
    BadOverlay { file: String, reason: String },
}

/// Every entry, with what search needs precomputed.
#[derive(Debug, Clone)]
pub struct Registry {
    entries: Vec<RegistryEntry>,
    pub(crate) index: Vec<EntryIndex>,
    pub(crate) vocabulary: Vocabulary,
}

impl Registry {
    /// Entries from the catalog's operations, in catalog order, with the overlays applied.
    /// `overlays` are `(file name, JSON text)`; an overlay naming no operation is an error.
    pub fn build(specs: Vec<OperationSpec>, overlays: &[(&str, &str)]) -> Result<Registry, RegistryError> {
        let mut entries: Vec<RegistryEntry> = specs.into_iter().map(entry_of).collect();
        for (file, text) in overlays {
            let parsed: OverlayFile = serde_json::from_str(text)
                .map_err(|e| RegistryError::BadOverlay { file: (*file).to_owned(), reason: e.to_string() })?;
            for overlay in parsed.entries {
                let entry = entries.iter_mut().find(|e| e.id == overlay.id).ok_or_else(|| {
                    RegistryError::UnmatchedOverlay { file: (*file).to_owned(), id: overlay.id.clone() }
                })?;
                apply(entry, overlay);
            }
        }
        Ok(Registry::from_entries(entries))
    }

    /// A registry of ready-made entries (tests, synthetic benchmarks).
    pub fn from_entries(entries: Vec<RegistryEntry>) -> Registry {
        let mut vocabulary = Vocabulary::default();
        let index = entries.iter().map(|e| EntryIndex::of(e, &mut vocabulary)).collect();
        Registry { entries, index, vocabulary }
    }

    pub fn entries(&self) -> &[RegistryEntry] {
        &self.entries
    }

    pub fn get(&self, id: &str) -> Option<&RegistryEntry> {
        self.entries.iter().find(|e| e.id == id)
    }
}

fn entry_of(spec: OperationSpec) -> RegistryEntry {
    let examples = spec
        .example_body
        .map(|body| Example {
            name: "Example request".to_owned(),
            description: None,
            request: Some(serde_json::json!({ "body": body })),
            notes: None,
        })
        .into_iter()
        .collect();
    RegistryEntry {
        display_name: spec.summary.clone(),
        read_only: spec.method == "GET",
        approval_required: spec.method == "DELETE",
        rbac_resource: spec.permission.as_ref().map(|p| p.resource.clone()),
        id: spec.id,
        method: spec.method,
        path: spec.path,
        summary: spec.summary,
        description: spec.description,
        tags: spec.tags,
        parameters: spec.parameters,
        request_body_schema: spec.request_body_schema,
        response_body_schema: spec.response_body_schema,
        playbooks: Vec::new(),
        examples,
        permission: spec.permission,
    }
}

fn apply(entry: &mut RegistryEntry, overlay: Overlay) {
    if let Some(v) = overlay.display_name {
        entry.display_name = v;
    }
    if let Some(v) = overlay.summary {
        entry.summary = v;
    }
    if let Some(v) = overlay.description {
        entry.description = v;
    }
    if let Some(v) = overlay.approval_required {
        entry.approval_required = v;
    }
    entry.playbooks.extend(overlay.playbooks);
    entry.examples.extend(overlay.examples);
}
