//! The digest an approval is bound to: SHA-256 of the canonical JSON of the operation id and the
//! call's path, query and body arguments. Canonical: object keys sorted (by their UTF-8 bytes) at
//! every depth, no whitespace, strings and numbers as serde_json writes them; so the same call
//! sent with its keys in another order, or formatted differently, has the same digest, and any
//! changed value has another.

use alga_api::tools::Arguments;
use serde_json::Value;

/// The digest of a call as its operation receives it: what an approval is bound to. The store
/// computes it ([`super::store`]), from the same arguments it stores, so the two cannot differ.
pub fn of_call(operation_id: &str, arguments: &Arguments) -> String {
    let (path, query) = (Value::Object(arguments.path.clone()), Value::Object(arguments.query.clone()));
    args_digest(operation_id, &path, &query, arguments.body.as_ref())
}

/// The arguments as an approval shows them (before redaction): `{path, query, body}`.
pub fn as_json(arguments: &Arguments) -> Value {
    serde_json::json!({ "path": arguments.path, "query": arguments.query, "body": arguments.body })
}

/// The hex SHA-256 of the canonical form of `{"operation", "path", "query", "body"}`. An absent
/// body is `null`.
pub fn args_digest(operation_id: &str, path: &Value, query: &Value, body: Option<&Value>) -> String {
    let call = serde_json::json!({
        "operation": operation_id,
        "path": path,
        "query": query,
        "body": body.unwrap_or(&Value::Null),
    });
    hex::encode(openssl::sha::sha256(canonical(&call).as_bytes()))
}

/// `value` as canonical JSON text.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (n, (key, value)) in entries.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        // Scalars: serde_json's own compact text (strings escaped the one way it escapes them).
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn key_order_and_whitespace_do_not_change_the_digest() {
        let a = parsed(r#"{"title":"Printer","meta":{"b":1,"a":[1,{"y":2,"x":"é"}]},"assigned_to":null}"#);
        let b = parsed(
            "{ \"assigned_to\" : null,\n \"meta\": {\"a\": [1, {\"x\": \"\\u00e9\", \"y\": 2}], \"b\": 1},\"title\":\"Printer\" }",
        );
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(canonical(&a), r#"{"assigned_to":null,"meta":{"a":[1,{"x":"é","y":2}],"b":1},"title":"Printer"}"#);
        let path = json!({ "id": "t1" });
        assert_eq!(
            args_digest("tickets.update", &path, &json!({}), Some(&a)),
            args_digest("tickets.update", &path, &json!({}), Some(&b))
        );
        let digest = args_digest("tickets.update", &path, &json!({}), Some(&a));
        assert_eq!(digest.len(), 64);
        assert!(digest.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn any_changed_value_changes_the_digest() {
        let path = json!({ "id": "t1" });
        let query = json!({ "notify": true });
        let body = json!({ "title": "Printer", "hours": 8, "tags": ["a", "b"] });
        let base = args_digest("tickets.update", &path, &query, Some(&body));
        let variants = [
            args_digest("tickets.delete", &path, &query, Some(&body)),
            args_digest("tickets.update", &json!({ "id": "t2" }), &query, Some(&body)),
            args_digest("tickets.update", &path, &json!({ "notify": false }), Some(&body)),
            args_digest("tickets.update", &path, &json!({}), Some(&body)),
            args_digest(
                "tickets.update",
                &path,
                &query,
                Some(&json!({ "title": "Printer", "hours": 9, "tags": ["a", "b"] })),
            ),
            args_digest(
                "tickets.update",
                &path,
                &query,
                Some(&json!({ "title": "Printer", "hours": 8, "tags": ["b", "a"] })),
            ),
            args_digest(
                "tickets.update",
                &path,
                &query,
                Some(&json!({ "title": "Printer", "hours": "8", "tags": ["a", "b"] })),
            ),
            args_digest("tickets.update", &path, &query, Some(&json!({ "title": "Printer", "hours": 8 }))),
            args_digest("tickets.update", &path, &query, None),
        ];
        for (n, other) in variants.iter().enumerate() {
            assert_ne!(&base, other, "variant {n}");
        }
        // Moving a value between the parts is a different call too.
        assert_ne!(
            args_digest("x", &json!({ "id": "1" }), &json!({}), None),
            args_digest("x", &json!({}), &json!({ "id": "1" }), None)
        );
    }
}
