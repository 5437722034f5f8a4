//! The /api/v1 resources, each declaring its operations.

pub mod clients;
pub mod meta;
