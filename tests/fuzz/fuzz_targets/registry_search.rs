//! Any query, as text, against the real registry: search never panics, is deterministic and
//! honours its limit.
#![no_main]

use alga_agent_tooling::search::search;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let Ok(registry) = alga_api::registry::registry() else { return };
    let limit = data.len() % 12;
    let first: Vec<String> =
        search(&registry, query, limit, |_| true).hits.iter().map(|h| h.entry.id.clone()).collect();
    let again: Vec<String> =
        search(&registry, query, limit, |_| true).hits.iter().map(|h| h.entry.id.clone()).collect();
    assert_eq!(first, again);
    assert!(first.len() <= limit);
});
