//! The catalog as a whole: declarations, routing, and the OpenAPI document.

use std::collections::HashSet;

use alga_api::catalog::{Access, Method};

#[test]
fn operation_ids_and_routes_are_unique() {
    let catalog = alga_api::catalog();
    let mut ids = HashSet::new();
    let mut routes = HashSet::new();
    for op in catalog.operations() {
        assert!(ids.insert(op.meta.id), "duplicate id {}", op.meta.id);
        assert!(routes.insert((op.meta.method, op.meta.path)), "duplicate route {} {}", op.meta.method, op.meta.path);
        assert!(op.meta.path.starts_with("/api/v1/"), "{}", op.meta.path);
        assert!(!op.meta.summary.is_empty() && !op.meta.description.is_empty(), "{} is undocumented", op.meta.id);
        assert!(!op.meta.tags.is_empty(), "{} has no tag", op.meta.id);
        assert_eq!(op.request_schema.is_some(), op.meta.method.has_body(), "{}: body iff POST/PUT", op.meta.id);
    }
}

/// Meta operations describe the API or the caller; search checks each result type's read
/// permission itself. Every other operation names exactly one permission.
#[test]
fn every_business_operation_needs_exactly_one_permission() {
    for op in alga_api::catalog().operations() {
        if op.meta.id.starts_with("meta.") || op.meta.id == "search.query" {
            assert!(!matches!(op.meta.access, Access::Permission(_)), "{}", op.meta.id);
            continue;
        }
        assert!(matches!(op.meta.access, Access::Permission(_)), "{} needs a permission", op.meta.id);
    }
}

#[test]
fn every_operation_is_in_the_openapi_document_with_its_permission() {
    let catalog = alga_api::catalog();
    let doc = alga_api::openapi::document(&catalog, "http://alga.test");
    let mut documented = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = Method::parse(method).unwrap();
            let op = catalog.get(operation["operationId"].as_str().unwrap()).unwrap();
            assert_eq!((op.meta.method, op.meta.path), (method, path.as_str()));
            match op.meta.access {
                Access::Permission(p) => {
                    assert_eq!(operation["x-permission"]["resource"], p.resource.as_str());
                    assert_eq!(operation["x-permission"]["action"], p.action.as_str());
                }
                Access::Authenticated | Access::Public => assert!(operation["x-permission"].is_null()),
            }
            documented += 1;
        }
    }
    assert_eq!(documented, catalog.operations().len());
}

#[test]
fn schemas_have_no_refs() {
    for op in alga_api::catalog().operations() {
        for schema in [&op.request_schema, &op.response_schema].into_iter().flatten() {
            assert!(!schema.to_string().contains("$ref"), "{} has a $ref", op.meta.id);
        }
    }
}

#[test]
fn routing_matches_templates_and_decodes_values() {
    let catalog = alga_api::catalog();
    let (op, params) = catalog.route(Method::Get, "/api/v1/clients/abc%2Fdef").unwrap();
    assert_eq!(op.meta.id, "clients.get");
    assert_eq!(params, [("id".to_owned(), "abc/def".to_owned())]);
    assert!(catalog.route(Method::Get, "/api/v1/clients//").is_none());
    assert!(catalog.route(Method::Post, "/api/v1/clients/x").is_none());
    assert!(catalog.route(Method::Get, "/api/v1/nope").is_none());
}
