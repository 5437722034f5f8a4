//! The `/api/v1` operation catalog and its HTTP adapter.
//!
//! Architecture invariant: every `/api/v1` operation is declared once, in `resources/*`, as an
//! [`catalog::Operation`]; routes ([`http::routes`]), the OpenAPI document ([`openapi`]) and
//! in-process dispatch ([`catalog::Operation::call`]) are generated from those declarations.

pub mod catalog;
pub mod demo;
pub mod grants_now;
pub mod http;
pub mod model;
pub mod openapi;
pub mod refs;
pub mod registry;
pub mod resources;
pub mod tags;
pub mod tools;

use std::sync::{Arc, OnceLock};

pub use catalog::{Catalog, Operation};

/// The catalog of every operation, built once per process.
pub fn catalog() -> Arc<Catalog> {
    static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let mut operations = Vec::new();
            operations.extend(resources::meta::operations());
            operations.extend(resources::clients::operations());
            operations.extend(resources::locations::operations());
            operations.extend(resources::contacts::operations());
            operations.extend(resources::boards::operations());
            operations.extend(resources::tickets::operations());
            operations.extend(resources::projects::operations());
            operations.extend(resources::time_entries::operations());
            operations.extend(resources::assets::operations());
            operations.extend(resources::kb::operations());
            operations.extend(resources::tags::operations());
            operations.extend(resources::teams::operations());
            operations.extend(resources::ticket_categories::operations());
            operations.extend(resources::access::operations());
            operations.extend(resources::search::operations());
            Arc::new(Catalog::new(operations))
        })
        .clone()
}
