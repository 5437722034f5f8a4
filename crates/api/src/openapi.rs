//! The OpenAPI 3.1 document, generated from the catalog.

use serde_json::{Map, Value, json};

use crate::catalog::{Access, Catalog, Param};

/// The OpenAPI 3.1 document for `catalog`, served from `server_url`.
pub fn document(catalog: &Catalog, server_url: &str) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for op in catalog.operations() {
        let m = &op.meta;
        let mut parameters: Vec<Value> = op.path_params.iter().map(|p| parameter(p, "path")).collect();
        parameters.extend(op.query_params.iter().map(|p| parameter(p, "query")));
        let mut responses = Map::new();
        let success = match &op.response_schema {
            Some(schema) => json!({
                "description": m.summary,
                "content": { "application/json": { "schema": schema } },
            }),
            None => json!({ "description": m.summary }),
        };
        responses.insert(m.status.to_string(), success);
        let mut errors = vec!["400", "404", "409"];
        if m.access != Access::Public {
            errors.extend(["401", "403"]);
        }
        for code in errors {
            responses.insert(code.to_owned(), json!({ "$ref": format!("#/components/responses/Error{code}") }));
        }
        let mut operation = json!({
            "operationId": m.id,
            "summary": m.summary,
            "description": m.description,
            "tags": m.tags,
            "parameters": parameters,
            "responses": responses,
            "x-permission": match m.access {
                Access::Permission(p) => json!({ "resource": p.resource, "action": p.action }),
                Access::Authenticated | Access::Public => Value::Null,
            },
            "x-access": match m.access {
                Access::Public => "public",
                Access::Authenticated => "authenticated",
                Access::Permission(_) => "permission",
            },
        });
        if m.access == Access::Public {
            operation["security"] = json!([]);
        }
        if let Some(schema) = &op.request_schema {
            let mut media = json!({ "schema": schema });
            if let Some(example) = m.example.and_then(|e| serde_json::from_str::<Value>(e).ok()) {
                media["example"] = example;
            }
            operation["requestBody"] = json!({ "required": true, "content": { "application/json": media } });
        }
        let path = paths.entry(m.path.to_owned()).or_insert_with(|| json!({}));
        path[m.method.as_str().to_ascii_lowercase()] = operation;
    }
    let error_responses: Map<String, Value> = [
        ("400", "Invalid input; `details.fields` names each field at fault."),
        ("401", "Missing, unknown, expired or revoked API key."),
        ("403", "The caller's roles do not grant the operation's permission."),
        ("404", "No such object in the caller's tenant."),
        ("409", "Conflicts with existing data: a duplicate name, or the object is in use."),
    ]
    .into_iter()
    .map(|(code, description)| {
        (
            format!("Error{code}"),
            json!({
                "description": description,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
            }),
        )
    })
    .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Alga PSA API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Multi-tenant PSA: clients, contacts, tickets, projects, time entries, users, roles and API keys. \
                            Authenticate with `x-api-key: <key>` or `Authorization: Bearer <key>`. \
                            Each operation's `x-permission` names the one permission it needs.",
        },
        "servers": [{ "url": server_url }],
        "security": [{ "apiKey": [] }, { "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": { "type": "apiKey", "in": "header", "name": "x-api-key" },
                "bearer": { "type": "http", "scheme": "bearer" },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": { "type": "string" },
                                "message": { "type": "string" },
                                "details": {},
                            },
                        },
                    },
                },
            },
            "responses": error_responses,
        },
    })
}

fn parameter(p: &Param, location: &str) -> Value {
    json!({
        "name": p.name,
        "in": location,
        "required": location == "path" || p.required,
        "description": p.description,
        "schema": p.schema,
    })
}
