//! Policies beyond roles: a tenant's Cedar policy set, evaluated after the role check on every
//! governed tool call, and on listing and search.

pub mod api;
pub mod call;
pub mod engine;
pub mod facts;
pub mod load;
pub mod replay;
pub mod store;
