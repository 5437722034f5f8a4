//! How a caller's policies show an operation in listings and search. Decided elsewhere (the
//! enterprise policy engine); here only so that listing and search can honour it without knowing
//! policies.

use serde::{Deserialize, Serialize};

/// Whether an operation is listed and found for a principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// No policy can refuse it.
    Open,
    /// Some policy may refuse some calls, depending on their arguments or record.
    Conditional,
    /// A forbid without conditions refuses every call: neither listed nor found.
    Hidden,
}

/// The note a search result of a [`Visibility::Conditional`] operation carries.
pub const CONDITIONAL_NOTE: &str =
    "Policies may refuse some calls to this operation, depending on their arguments or record.";
