//! Human approval gates (issue 16): the approval store, the argument digest approvals are bound
//! to, and the sealed `requestState` of the 2026-07-28 protocol. The policy annotations that ask
//! for approval and the protocol answers per era build on these.

pub mod api;
pub mod digest;
pub mod gate;
pub mod seal;
pub mod store;
