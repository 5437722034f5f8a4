//! A tenant's policy set as calls see it: the newest stored version, compiled once per
//! (tenant, version) and shared by every call of this process. The version is read on each call
//! that needs it, so a version stored by another process (or by plain SQL) applies to the next
//! call; a compiled set is never stale because a version's source never changes (`policy_sets`
//! is append-only: its triggers refuse updates and deletes, but for its tenant's deletion).

use std::sync::{Arc, OnceLock};

use alga_core::{ApiError, DbConn};
use diesel::prelude::*;

use super::engine::{self, Compiled};
use super::facts::Mode;
use crate::schema::policy_sets;

/// The tenant's current policy set.
#[derive(Debug)]
pub struct Active {
    pub version: i64,
    pub mode: Mode,
    /// The compiled policies; `None` when the newest version's source is empty (roles alone) or
    /// does not compile.
    pub compiled: Option<Compiled>,
    /// Why the stored source no longer compiles (it compiled when it was saved: the schema the
    /// catalog gives policies changed since). Such a set decides nothing: enforced, every call it
    /// governs is refused; shadowed, calls go by roles and their rows record the failure.
    pub broken: Option<String>,
}

impl Active {
    /// The policies, when the set has any.
    pub fn policies(&self) -> Option<&Compiled> {
        self.compiled.as_ref()
    }

    /// Whether the set applies to calls: it has policies, or it has a source that does not compile.
    pub fn applies(&self) -> bool {
        self.compiled.is_some() || self.broken.is_some()
    }
}

/// What a caller is told when an enforced set does not compile (no internals: the administrator
/// sees the problem when saving again).
pub const BROKEN_SET: &str =
    "The organization's policies could not be applied, so the call is refused; an administrator must save them again.";

/// What the cache may hold in all, weighed by [`weight`]: policies held, one per set besides.
/// A held policy costs about 1.2 KB; a set at [`engine::MAX_POLICIES`] weighs 1,000 when its
/// policies are broad (the per-operation sets are shared) and up to about 100,000 (120 MB) when
/// crafted so that every operation gets a different list. So at most about 480 MB: four such
/// sets, or hundreds of ordinary ones.
const CACHE_WEIGHT: u64 = 400_000;

/// A cached set's weight: the policies it holds (see [`Compiled::held`]), and one for the entry.
fn weight(active: &Active) -> u32 {
    let held = active.compiled.as_ref().map_or(0, Compiled::held);
    u32::try_from(held.saturating_add(1)).unwrap_or(u32::MAX)
}

/// Compiled sets by (tenant, version). Bounded only to cap memory, by weight rather than count:
/// large sets cost thousands of times more than small ones. A version never changes.
fn cache() -> &'static moka::sync::Cache<(String, i64), Arc<Active>> {
    static CACHE: OnceLock<moka::sync::Cache<(String, i64), Arc<Active>>> = OnceLock::new();
    CACHE.get_or_init(|| {
        moka::sync::Cache::builder()
            .max_capacity(CACHE_WEIGHT)
            .weigher(|_: &(String, i64), active: &Arc<Active>| weight(active))
            .build()
    })
}

fn mode_of(text: &str) -> Result<Mode, ApiError> {
    match text {
        "enforce" => Ok(Mode::Enforce),
        "shadow" => Ok(Mode::Shadow),
        other => Err(ApiError::internal(&format!("policy set mode {other:?} is not enforce or shadow"))),
    }
}

/// The tenant's current policy set (its newest version), or `None` when it never stored one.
/// One indexed query when the version is already compiled; a set whose newest version is empty
/// comes back with `compiled: None`. A stored source that no longer compiles comes back with
/// `broken` set; the failure is logged once and cached like a compiled set (a version never
/// changes, so it is not compiled again on each call).
pub fn current(conn: &mut DbConn, tenant: &str) -> Result<Option<Arc<Active>>, ApiError> {
    let newest: Option<(i64, String)> = policy_sets::table
        .filter(policy_sets::tenant_id.eq(tenant))
        .order(policy_sets::version.desc())
        .select((policy_sets::version, policy_sets::mode))
        .first(conn)
        .optional()?;
    let Some((version, mode)) = newest else { return Ok(None) };
    let key = (tenant.to_owned(), version);
    if let Some(active) = cache().get(&key) {
        return Ok(Some(active));
    }
    let source: String = policy_sets::table
        .filter(policy_sets::tenant_id.eq(tenant).and(policy_sets::version.eq(version)))
        .select(policy_sets::source)
        .first(conn)?;
    let (compiled, broken) = if source.trim().is_empty() {
        (None, None)
    } else {
        match engine::compile(&source) {
            Ok(compiled) => (Some(compiled), None),
            Err(diagnostics) => {
                let problem = diagnostics
                    .first()
                    .map_or_else(|| "no diagnostic".to_owned(), |d| format!("{}:{} {}", d.line, d.column, d.message));
                tracing::error!(tenant, version, %problem, "the stored policy set does not compile");
                (None, Some(format!("policy set version {version} does not compile: {problem}")))
            }
        }
    };
    let active = Arc::new(Active { version, mode: mode_of(&mode)?, compiled, broken });
    cache().insert(key, active.clone());
    Ok(Some(active))
}
