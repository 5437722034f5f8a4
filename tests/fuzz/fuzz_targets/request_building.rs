//! Arguments for `call_api_endpoint`, as JSON, built into a request for every registry entry: a
//! request either fails with a clear error or stays on its operation's path template.
#![no_main]

use alga_agent_tooling::request::build_request;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(args)) = serde_json::from_slice::<Value>(data) else { return };
    let Ok(registry) = alga_api::registry::registry() else { return };
    for entry in registry.entries() {
        let Ok(built) = build_request(entry, &args) else { continue };
        let template: Vec<&str> = entry.path.split('/').collect();
        let path = built.path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').collect();
        assert_eq!(template.len(), segments.len(), "{} left its template: {path}", entry.id);
        for (t, s) in template.iter().zip(&segments) {
            if !t.starts_with('{') {
                assert_eq!(t, s, "{} left its template: {path}", entry.id);
            } else {
                assert!(!s.is_empty() && *s != ".." && *s != ".", "{}: {path}", entry.id);
            }
        }
    }
});
