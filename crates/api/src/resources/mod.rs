//! The /api/v1 resources, each declaring its operations.

pub mod access;
pub mod assets;
pub mod boards;
pub mod clients;
pub mod contacts;
pub mod kb;
pub mod locations;
pub mod meta;
pub mod projects;
pub mod search;
pub mod tags;
pub mod teams;
pub mod ticket_categories;
pub mod tickets;
pub mod time_entries;
