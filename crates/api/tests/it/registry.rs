//! The MCP registry derived from the catalog, its overlays, its endpoint and search quality.

use std::collections::BTreeSet;

use alga_agent_tooling::quality::{QualitySet, evaluate};
use alga_agent_tooling::registry::{Registry, RegistryError};
use serde_json::json;

use crate::support::Fixture;

#[test]
fn the_registry_builds_with_every_overlay() {
    let registry = alga_api::registry::registry().unwrap();
    let catalog = alga_api::catalog();
    let ids: Vec<&str> = registry.entries().iter().map(|e| e.id.as_str()).collect();
    let declared: Vec<&str> = catalog.operations().iter().map(|o| o.meta.id).collect();
    assert_eq!(ids, declared, "one entry per operation, in catalog order");
    let create = registry.get("tickets.create").unwrap();
    assert!(!create.playbooks.is_empty() && create.examples.len() >= 2, "curated overlay applied");
    assert_eq!(
        create.permission.as_ref().map(|p| (p.resource.as_str(), p.action.as_str())),
        Some(("ticket", "create"))
    );
    assert!(!create.read_only && registry.get("tickets.list").unwrap().read_only);
    assert!(registry.get("clients.delete").unwrap().approval_required, "deletes ask for approval by default");
    for entry in registry.entries() {
        let text = serde_json::to_string(entry).unwrap();
        assert!(!text.contains("$ref"), "{} has a $ref", entry.id);
    }
}

#[test]
fn an_overlay_for_no_operation_is_refused() {
    let err =
        Registry::build(alga_api::registry::specs(), &[("typo.json", r#"{"entries":[{"id":"tickets.craete"}]}"#)])
            .unwrap_err();
    assert_eq!(err, RegistryError::UnmatchedOverlay { file: "typo.json".into(), id: "tickets.craete".into() });
    let bad = Registry::build(
        alga_api::registry::specs(),
        &[("bad.json", r#"{"entries":[{"id":"tickets.create","colour":1}]}"#)],
    );
    assert!(matches!(bad, Err(RegistryError::BadOverlay { .. })));
}

/// NDCG@10 and MRR of the repository's query set over the real registry (`cargo xtask bench`
/// prints the same figures). The floors are the issue's targets (at least 120 queries, every
/// resource asked about, NDCG@10 ≥ 0.9, MRR ≥ 0.85).
#[test]
fn search_quality_meets_the_target() {
    let registry = alga_api::registry::registry().unwrap();
    let set: QualitySet = serde_json::from_str(alga_api::registry::quality_set().unwrap()).unwrap();
    assert!(set.cases.len() >= 120, "{} queries", set.cases.len());
    let ids: BTreeSet<&str> = registry.entries().iter().map(|e| e.id.as_str()).collect();
    for case in &set.cases {
        for id in &case.relevant {
            assert!(ids.contains(id.as_str()), "{}: unknown id {id}", case.query);
        }
    }
    // Every resource of the registry is asked about (its ids' first segment, e.g. `assets`).
    let resource = |id: &str| id.split('.').next().unwrap_or(id).to_owned();
    let asked: BTreeSet<String> = set.cases.iter().flat_map(|c| c.relevant.iter().map(|id| resource(id))).collect();
    let unasked: Vec<String> = ids.iter().map(|id| resource(id)).filter(|r| !asked.contains(r)).collect();
    assert!(unasked.is_empty(), "no query asks for {unasked:?}");
    let quality = evaluate(&registry, &set);
    let misses: Vec<_> = quality.ranks.iter().filter(|(_, r)| *r != Some(1)).collect();
    eprintln!("NDCG@10 {:.3}  MRR {:.3}  not first: {misses:?}", quality.ndcg_at_10, quality.mrr);
    assert!(quality.ndcg_at_10 >= 0.9, "NDCG@10 {:.3}; not first: {misses:?}", quality.ndcg_at_10);
    assert!(quality.mrr >= 0.85, "MRR {:.3}; not first: {misses:?}", quality.mrr);
}

#[tokio::test]
async fn the_registry_endpoint_shows_what_the_caller_may_call() {
    let f = Fixture::new().await;
    let total = alga_api::catalog().operations().len();
    let admin = f.call(&f.a.admin, "GET", "/api/v1/meta/mcp-registry", None).await.expect(200);
    assert_eq!(admin.data()["count"], total);
    assert_eq!(admin.data()["edition"], "community");
    let ro = f.call(&f.a.readonly, "GET", "/api/v1/meta/mcp-registry", None).await.expect(200);
    let entries = ro.data()["entries"].as_array().unwrap();
    assert_eq!(ro.data()["count"], entries.len());
    assert!(entries.len() < total);
    for e in entries {
        let action = &e["permission"]["action"];
        assert!(action.is_null() || action == "read", "Read-only sees {}", e["id"]);
    }
    assert!(entries.iter().any(|e| e["id"] == "tickets.list"));
    assert!(!entries.iter().any(|e| e["id"] == "tickets.create"));
    f.call(&f.a.readonly, "GET", "/api/v1/meta/mcp-registry?all=true", None).await.expect(403);
    let all = f.call(&f.a.admin, "GET", "/api/v1/meta/mcp-registry?all=true", None).await.expect(200);
    assert_eq!(all.data()["count"], json!(total));
}

/// Every example body the API documents passes the agent-side validation: examples and schemas
/// agree, so an agent copying an example gets past validation.
#[test]
fn every_documented_example_passes_validation() {
    use alga_agent_tooling::request::build_request;
    let registry = alga_api::registry::registry().unwrap();
    let mut checked = 0;
    for entry in registry.entries() {
        for example in &entry.examples {
            let Some(request) = &example.request else { continue };
            let mut args = request.as_object().cloned().unwrap_or_default();
            let mut path = serde_json::Map::new();
            for p in entry.parameters.iter().filter(|p| p.location == "path") {
                path.insert(p.name.clone(), json!("0196b0c8-5f7e-7cc2-9a61-3f1f8a2b9c10"));
            }
            args.insert("path".into(), serde_json::Value::Object(path));
            if let Err(e) = build_request(entry, &args) {
                panic!("{} example `{}` fails validation: {e}", entry.id, example.name);
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} examples checked");
}

/// A request built for an entry routes back to that entry's operation, whatever the path values.
#[test]
fn built_requests_route_to_their_own_operation() {
    let registry = alga_api::registry::registry().unwrap();
    let catalog = alga_api::catalog();
    for value in ["abc", "../../users", "a/b", "%2F", ".."] {
        for entry in registry.entries() {
            let Some(built) = built_with_path_value(entry, value) else { continue };
            let method = alga_api::catalog::Method::parse(&built.method).unwrap();
            let (op, params) = catalog
                .route(method, &built.path)
                .unwrap_or_else(|| panic!("{} {} routes nowhere", built.method, built.path));
            assert_eq!(op.meta.id, entry.id, "{value}: {}", built.path);
            assert!(params.iter().all(|(_, v)| v == value), "{value}: decoded back exactly: {params:?}");
        }
    }
}

/// Builds the request for `entry` with every path parameter set to `value`; `None` when the
/// operation also needs a body or a query value (routing is what these tests are about).
fn built_with_path_value(
    entry: &alga_agent_tooling::registry::RegistryEntry,
    value: &str,
) -> Option<alga_agent_tooling::request::BuiltRequest> {
    let path: serde_json::Map<String, serde_json::Value> =
        entry.parameters.iter().filter(|p| p.location == "path").map(|p| (p.name.clone(), json!(value))).collect();
    let mut args = serde_json::Map::new();
    args.insert("path".into(), serde_json::Value::Object(path));
    args.insert("method".into(), json!(entry.method));
    match alga_agent_tooling::request::build_request(entry, &args) {
        Ok(built) => Some(built),
        Err(e) if e.field.as_deref().is_some_and(|f| f == "body" || f.starts_with("query.")) => None,
        Err(e) => panic!("{}: {e}", entry.id),
    }
}

proptest::proptest! {
    /// Whatever characters a path argument holds, the built request routes back to its own
    /// operation, with the value decoded back exactly: no argument leaves the path template.
    #[test]
    fn no_path_argument_leaves_the_template(value in "(?s).{1,40}") {
        let registry = alga_api::registry::registry().unwrap();
        let catalog = alga_api::catalog();
        for entry in registry.entries().iter().filter(|e| e.path.contains('{')) {
            let Some(built) = built_with_path_value(entry, &value) else { continue };
            let method = alga_api::catalog::Method::parse(&built.method).unwrap();
            let routed = catalog.route(method, &built.path);
            proptest::prop_assert!(routed.is_some(), "{} {} routes nowhere", built.method, built.path);
            let (op, params) = routed.unwrap();
            proptest::prop_assert_eq!(op.meta.id, entry.id.as_str());
            proptest::prop_assert!(params.iter().all(|(_, v)| *v == value), "{:?} came back as {:?}", value, params);
        }
    }

    /// Search never panics, whatever the query, and answers the same query the same way.
    #[test]
    fn search_is_total_and_deterministic(query in "(?s).{0,200}", limit in 0usize..30) {
        let registry = alga_api::registry::registry().unwrap();
        let ranked = |q: &str| {
            alga_agent_tooling::search::search(&registry, q, limit, |_| true)
                .hits
                .iter()
                .map(|h| (h.entry.id.clone(), h.score.to_bits()))
                .collect::<Vec<_>>()
        };
        let first = ranked(&query);
        proptest::prop_assert!(first.len() <= limit);
        proptest::prop_assert_eq!(first, ranked(&query));
    }
}
