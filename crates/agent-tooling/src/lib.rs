//! Agent tooling: the MCP registry derived from the `/api/v1` operation catalog, ranked search
//! over it, and (with the meta-tools) request building.
//!
//! Architecture invariant: this crate is pure. It does no I/O and knows nothing of actix or
//! diesel; the catalog reaches it as [`registry::OperationSpec`] values.

pub mod quality;
pub mod registry;
pub mod request;
pub mod search;
mod text;
pub mod tools;
pub mod visibility;

pub use registry::{Registry, RegistryEntry};
pub use visibility::Visibility;
