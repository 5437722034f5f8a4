//! Building an HTTP request for a registry entry from a tool call's loose arguments.
//!
//! As the original, path values are looked up in `path`, then
//! `pathParams`, then `parameters.path`, then `parameters`, then the top-level arguments; query
//! values likewise from `query`; undeclared query keys pass through; the body is the first of
//! `body`, `data`, `payload`, `parameters.body`, and only methods other than GET and DELETE send
//! one; an unresolved path parameter is an error. Better than the original: every path value is
//! percent-encoded (dots included), so no argument can make the path leave its template; headers
//! cannot carry line breaks or credentials; and the arguments are checked against the entry's
//! schemas first, with errors that name the field, the expected type and an example.

use serde_json::{Map, Value};

use crate::registry::RegistryEntry;

/// A request ready to dispatch: no base URL, no credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltRequest {
    pub method: String,
    /// The path with every parameter substituted and encoded.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub is_mutation: bool,
}

impl BuiltRequest {
    /// The query as a URL query string (without `?`).
    pub fn query_string(&self) -> String {
        self.query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
    }
}

/// Why a call's arguments cannot be used; written for the agent to repair its call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    /// The argument at fault (`path.id`, `query.limit`, `body.title`, …), if one.
    pub field: Option<String>,
    pub message: String,
}

impl RequestError {
    fn at(field: impl Into<String>, message: impl Into<String>) -> RequestError {
        RequestError { field: Some(field.into()), message: message.into() }
    }
}

/// Keys of the arguments that are containers, not parameter values.
const RESERVED: [&str; 10] =
    ["body", "data", "payload", "path", "pathParams", "query", "headers", "parameters", "entryId", "method"];

/// Headers a tool call may never set: the caller's identity is not an argument.
const FORBIDDEN_HEADERS: [&str; 6] = ["authorization", "x-api-key", "cookie", "host", "content-length", "x-tenant-id"];

pub fn build_request(entry: &RegistryEntry, args: &Map<String, Value>) -> Result<BuiltRequest, RequestError> {
    let empty = Map::new();
    let object = |v: Option<&Value>| -> Map<String, Value> {
        match v {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        }
    };
    let parameters = object(args.get("parameters"));
    let path_bag = match (args.get("path"), args.get("pathParams"), parameters.get("path")) {
        (Some(Value::Object(m)), _, _) | (_, Some(Value::Object(m)), _) | (_, _, Some(Value::Object(m))) => m.clone(),
        _ => Map::new(),
    };
    let query_bag = match (args.get("query"), parameters.get("query")) {
        (Some(Value::Object(m)), _) | (_, Some(Value::Object(m))) => m.clone(),
        _ => Map::new(),
    };
    let header_bag = match (args.get("headers"), parameters.get("headers")) {
        (Some(Value::Object(m)), _) | (_, Some(Value::Object(m))) => m.clone(),
        _ => Map::new(),
    };
    let direct: Map<String, Value> =
        args.iter().filter(|(k, _)| !RESERVED.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    let lookup = |bag: &Map<String, Value>, name: &str| -> Option<Value> {
        [bag, &parameters, &direct, &empty].into_iter().find_map(|m| m.get(name).filter(|v| !v.is_null()).cloned())
    };

    // Unlike the original, an entry is one operation: a `method` argument may only repeat the
    // entry's own, so that what is authorized, limited and audited is what runs.
    let method = entry.method.to_ascii_uppercase();
    match args.get("method") {
        Some(Value::Null) | None => {}
        Some(Value::String(m)) if m.eq_ignore_ascii_case(&method) => {}
        Some(other) => {
            return Err(RequestError::at(
                "method",
                format!(
                    "{} is always {method}; another method is another operation: find it with search_api_registry and \
                     call its entryId (and leave out \"method\"), got {other}",
                    entry.id
                ),
            ));
        }
    }

    // Path: every `{name}` substituted, each value checked and encoded.
    let mut path = entry.path.clone();
    let mut unresolved = Vec::new();
    for name in template_names(&entry.path) {
        let schema = entry.parameters.iter().find(|p| p.name == name && p.location == "path").map(|p| &p.schema);
        match lookup(&path_bag, &name) {
            Some(value) => {
                if let Some(schema) = schema {
                    check(&value, schema, &format!("path.{name}"), true)?;
                }
                let text = scalar_text(&value).ok_or_else(|| {
                    RequestError::at(
                        format!("path.{name}"),
                        format!("path.{name}: expected a string, e.g. \"{}\"", example_id()),
                    )
                })?;
                if text.is_empty() {
                    return Err(RequestError::at(format!("path.{name}"), format!("path.{name}: must not be empty")));
                }
                path = path.replacen(&format!("{{{name}}}"), &encode(&text), 1);
            }
            None => unresolved.push(name),
        }
    }
    if !unresolved.is_empty() {
        return Err(RequestError {
            field: unresolved.first().map(|n| format!("path.{n}")),
            message: format!("Unresolved path parameters for {}: {}", entry.id, unresolved.join(", ")),
        });
    }

    // Query: everything given in the query bag, plus declared parameters found elsewhere.
    let mut query_values: Vec<(String, Value)> = query_bag.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for p in entry.parameters.iter().filter(|p| p.location == "query") {
        if query_values.iter().any(|(k, _)| *k == p.name) {
            continue;
        }
        if let Some(v) = lookup(&Map::new(), &p.name) {
            query_values.push((p.name.clone(), v));
        }
    }
    let mut query = Vec::new();
    for (name, value) in query_values {
        if value.is_null() {
            continue;
        }
        if let Some(p) = entry.parameters.iter().find(|p| p.name == name && p.location == "query") {
            check(&value, &p.schema, &format!("query.{name}"), true)?;
        }
        let text = match &value {
            Value::Array(items) => items.iter().filter_map(scalar_text).collect::<Vec<_>>().join(","),
            other => scalar_text(other).unwrap_or_else(|| other.to_string()),
        };
        query.push((name, text));
    }
    for p in entry.parameters.iter().filter(|p| p.location == "query" && p.required) {
        if !query.iter().any(|(k, _)| *k == p.name) {
            return Err(RequestError::at(
                format!("query.{}", p.name),
                format!("query.{}: required; expected {}, e.g. {}", p.name, describe(&p.schema), example(&p.schema)),
            ));
        }
    }

    let mut headers = Vec::new();
    for (name, value) in &header_bag {
        if FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(RequestError::at(
                format!("headers.{name}"),
                format!("headers.{name}: credentials and routing headers cannot be set by a tool call"),
            ));
        }
        let text = scalar_text(value).unwrap_or_else(|| value.to_string());
        let bad_name = name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if bad_name || text.contains(['\r', '\n', '\0']) {
            return Err(RequestError::at(
                format!("headers.{name}"),
                format!("headers.{name}: header names are letters, digits and dashes; values are one line"),
            ));
        }
        headers.push((name.clone(), text));
    }

    let sends_body = method != "GET" && method != "DELETE";
    let body = ["body", "data", "payload"]
        .iter()
        .find_map(|k| args.get(*k).filter(|v| !v.is_null()))
        .or_else(|| parameters.get("body").filter(|v| !v.is_null()))
        .cloned();
    let body = if sends_body { body } else { None };
    if sends_body {
        match (&body, &entry.request_body_schema) {
            (Some(body), Some(schema)) => check(body, schema, "body", false)?,
            (None, Some(_)) => {
                return Err(RequestError::at(
                    "body",
                    format!("body: {} needs a JSON body, e.g. {}", entry.id, example_body(entry)),
                ));
            }
            _ => {}
        }
    }
    Ok(BuiltRequest { is_mutation: method != "GET" && method != "HEAD", method, path, query, headers, body })
}

/// `{name}`s of a path template, in order.
fn template_names(path: &str) -> Vec<String> {
    path.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned())).collect()
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Percent-encodes everything but letters, digits, `-`, `_` and `~`: dots too, so `..` stays a
/// value and never becomes a path step.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'~' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn example_id() -> &'static str {
    "0196b0c8-5f7e-7cc2-9a61-3f1f8a2b9c10"
}

// ---- a JSON Schema subset: what the catalog's schemas use ----

fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// What a schema accepts, in words.
fn describe(schema: &Value) -> String {
    if let Some(Value::Array(values)) = schema.get("enum") {
        let names: Vec<String> = values.iter().map(Value::to_string).collect();
        return format!("one of {}", names.join(", "));
    }
    if let Some(Value::Array(options)) = schema.get("anyOf").or_else(|| schema.get("oneOf")) {
        return options.iter().map(describe).collect::<Vec<_>>().join(" or ");
    }
    let format = schema.get("format").and_then(Value::as_str);
    let list: Vec<String> = types(schema)
        .into_iter()
        .map(|t| match (t, format) {
            ("string", Some("date-time")) => "an RFC 3339 timestamp".to_owned(),
            ("string", Some("date")) => "a date (YYYY-MM-DD)".to_owned(),
            ("string", _) => "a string".to_owned(),
            ("integer", _) => "an integer".to_owned(),
            ("number", _) => "a number".to_owned(),
            ("boolean", _) => "true or false".to_owned(),
            ("array", _) => "an array".to_owned(),
            ("object", _) => "an object".to_owned(),
            ("null", _) => "null".to_owned(),
            (other, _) => other.to_owned(),
        })
        .collect();
    if list.is_empty() { "any JSON value".to_owned() } else { list.join(" or ") }
}

/// A value the schema accepts, as JSON text.
fn example(schema: &Value) -> String {
    if let Some(Value::Array(values)) = schema.get("enum")
        && let Some(first) = values.first()
    {
        return first.to_string();
    }
    if let Some(Value::Array(options)) = schema.get("anyOf").or_else(|| schema.get("oneOf"))
        && let Some(first) = options.iter().find(|o| !types(o).contains(&"null") || types(o).len() > 1)
    {
        return example(first);
    }
    let format = schema.get("format").and_then(Value::as_str);
    match (types(schema).into_iter().find(|t| *t != "null"), format) {
        (Some("string"), Some("date-time")) => "\"2026-11-24T09:00:00Z\"".to_owned(),
        (Some("string"), Some("date")) => "\"2026-11-24\"".to_owned(),
        (Some("string"), _) => "\"text\"".to_owned(),
        (Some("integer"), _) => "25".to_owned(),
        (Some("number"), _) => "1.5".to_owned(),
        (Some("boolean"), _) => "true".to_owned(),
        (Some("array"), _) => format!("[{}]", schema.get("items").map(example).unwrap_or_default()),
        (Some("object"), _) => "{}".to_owned(),
        _ => "null".to_owned(),
    }
}

fn example_body(entry: &RegistryEntry) -> String {
    entry
        .examples
        .iter()
        .find_map(|e| e.request.as_ref().and_then(|r| r.get("body")))
        .map(Value::to_string)
        .unwrap_or_else(|| "{}".to_owned())
}

/// Checks `value` against `schema`; `lenient` accepts strings for numbers and booleans (query
/// and path values travel as text).
fn check(value: &Value, schema: &Value, at: &str, lenient: bool) -> Result<(), RequestError> {
    let fail = || {
        RequestError::at(
            at,
            format!("{at}: expected {}, e.g. {}; got {}", describe(schema), example(schema), short(value)),
        )
    };
    if let Some(Value::Array(options)) = schema.get("anyOf").or_else(|| schema.get("oneOf")) {
        return if options.iter().any(|o| check(value, o, at, lenient).is_ok()) { Ok(()) } else { Err(fail()) };
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        let text = scalar_text(value);
        let ok = allowed.iter().any(|a| a == value || (lenient && text.is_some() && scalar_text(a) == text));
        return if ok { Ok(()) } else { Err(fail()) };
    }
    let allowed = types(schema);
    if allowed.is_empty() {
        return Ok(()); // no type constraint
    }
    let fits = |t: &str| match (t, value) {
        ("null", Value::Null)
        | ("boolean", Value::Bool(_))
        | ("array", Value::Array(_))
        | ("object", Value::Object(_)) => true,
        ("string", Value::String(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        ("number", Value::Number(_)) => true,
        ("integer", Value::String(s)) if lenient => s.trim().parse::<i64>().is_ok(),
        ("number", Value::String(s)) if lenient => s.trim().parse::<f64>().is_ok(),
        ("boolean", Value::String(s)) if lenient => s == "true" || s == "false",
        ("string", Value::Number(_) | Value::Bool(_)) if lenient => true,
        _ => false,
    };
    if !allowed.iter().any(|t| fits(t)) {
        return Err(fail());
    }
    if let Some(Value::Number(min)) = schema.get("minimum")
        && let (Some(v), Some(min)) =
            (value.as_f64().or_else(|| value.as_str().and_then(|s| s.parse().ok())), min.as_f64())
        && v < min
    {
        return Err(RequestError::at(at, format!("{at}: must be at least {min}")));
    }
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for required in
                schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
            {
                if !fields.contains_key(required) {
                    let hint =
                        properties.and_then(|p| p.get(required)).map(example).unwrap_or_else(|| "a value".to_owned());
                    return Err(RequestError::at(
                        format!("{at}.{required}"),
                        format!("{at}.{required}: required, e.g. {hint}"),
                    ));
                }
            }
            for (name, v) in fields {
                match properties.and_then(|p| p.get(name)) {
                    Some(sub) => check(v, sub, &format!("{at}.{name}"), false)?,
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        let known: Vec<&String> = properties.map(|p| p.keys().collect()).unwrap_or_default();
                        let known: Vec<&str> = known.iter().map(|k| k.as_str()).collect();
                        return Err(RequestError::at(
                            format!("{at}.{name}"),
                            format!("{at}.{name}: unknown field; known fields: {}", known.join(", ")),
                        ));
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item, item_schema, &format!("{at}[{i}]"), false)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// What was given, without repeating text (it may be a secret, and errors reach the audit).
fn short(value: &Value) -> String {
    match value {
        Value::String(text) => format!("a string of {} characters", text.chars().count()),
        Value::Array(items) => format!("an array of {} items", items.len()),
        Value::Object(_) => "an object".to_owned(),
        scalar => scalar.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::registry::{Parameter, RegistryEntry};

    fn entry(id: &str, method: &str, path: &str, body: Option<Value>) -> RegistryEntry {
        let mut parameters: Vec<Parameter> = template_names(path)
            .into_iter()
            .map(|name| Parameter {
                name,
                location: "path".into(),
                required: true,
                description: String::new(),
                schema: json!({"type": "string"}),
            })
            .collect();
        parameters.push(Parameter {
            name: "limit".into(),
            location: "query".into(),
            required: false,
            description: String::new(),
            schema: json!({"type": ["integer", "null"], "minimum": 0}),
        });
        parameters.push(Parameter {
            name: "is_open".into(),
            location: "query".into(),
            required: false,
            description: String::new(),
            schema: json!({"type": ["boolean", "null"]}),
        });
        RegistryEntry {
            id: id.into(),
            method: method.into(),
            path: path.into(),
            display_name: id.into(),
            summary: String::new(),
            description: String::new(),
            tags: Vec::new(),
            rbac_resource: None,
            approval_required: false,
            parameters,
            request_body_schema: body,
            response_body_schema: None,
            playbooks: Vec::new(),
            examples: Vec::new(),
            permission: None,
            read_only: method == "GET",
        }
    }

    fn args(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn ticket_body() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["title", "board_id"],
            "properties": {
                "title": {"type": "string"},
                "board_id": {"type": "string"},
                "started_at": {"type": ["string", "null"], "format": "date-time"},
                "status": {"enum": ["todo", "done"]},
            }
        })
    }

    #[test]
    fn path_values_come_from_every_place_in_order() {
        let e = entry("tickets.get", "GET", "/api/v1/tickets/{id}", None);
        for a in [
            json!({"path": {"id": "a"}}),
            json!({"pathParams": {"id": "a"}}),
            json!({"parameters": {"path": {"id": "a"}}}),
            json!({"parameters": {"id": "a"}}),
            json!({"id": "a"}),
        ] {
            assert_eq!(build_request(&e, &args(a.clone())).unwrap().path, "/api/v1/tickets/a", "{a}");
        }
        let first = build_request(&e, &args(json!({"path": {"id": "one"}, "id": "two"}))).unwrap();
        assert_eq!(first.path, "/api/v1/tickets/one");
    }

    #[test]
    fn path_values_are_encoded_and_never_leave_the_template() {
        let e = entry("tickets.get", "GET", "/api/v1/tickets/{id}", None);
        for (value, path) in [
            ("a/b c", "/api/v1/tickets/a%2Fb%20c"),
            ("../x", "/api/v1/tickets/%2E%2E%2Fx"),
            ("..", "/api/v1/tickets/%2E%2E"),
            ("%2e%2e", "/api/v1/tickets/%252e%252e"),
            ("?all=1#x", "/api/v1/tickets/%3Fall%3D1%23x"),
        ] {
            let built = build_request(&e, &args(json!({"id": value}))).unwrap();
            assert_eq!(built.path, path, "{value}");
            assert!(built.path.starts_with("/api/v1/tickets/") && built.path.matches('/').count() == 4);
        }
        assert!(build_request(&e, &args(json!({"id": ""}))).is_err());
    }

    #[test]
    fn an_unresolved_path_parameter_is_named() {
        let e = entry("tickets.comments.delete", "DELETE", "/api/v1/tickets/{id}/comments/{comment_id}", None);
        let err = build_request(&e, &args(json!({"id": "t"}))).unwrap_err();
        assert_eq!(err.message, "Unresolved path parameters for tickets.comments.delete: comment_id");
        assert_eq!(err.field.as_deref(), Some("path.comment_id"));
    }

    #[test]
    fn query_values_are_text_and_undeclared_keys_pass_through() {
        let e = entry("tickets.list", "GET", "/api/v1/tickets", None);
        let built = build_request(
            &e,
            &args(json!({"query": {"limit": 5, "is_open": true, "search": "printer", "skip": null}, "body": {"x": 1}})),
        )
        .unwrap();
        let mut query = built.query.clone();
        query.sort();
        assert_eq!(
            query,
            [
                ("is_open".to_owned(), "true".to_owned()),
                ("limit".to_owned(), "5".to_owned()),
                ("search".to_owned(), "printer".to_owned())
            ]
        );
        assert_eq!(built.body, None, "GET sends no body");
        assert!(!built.is_mutation);
        assert!(built.query_string().split('&').any(|pair| pair == "search=printer"));
        let direct = build_request(&e, &args(json!({"limit": "10"}))).unwrap();
        assert_eq!(direct.query, [("limit".to_owned(), "10".to_owned())], "declared parameters found at the top level");
    }

    #[test]
    fn arguments_are_checked_with_repairable_messages() {
        let e = entry("tickets.list", "GET", "/api/v1/tickets", None);
        let err = build_request(&e, &args(json!({"query": {"limit": "many"}}))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("query.limit"));
        assert!(
            err.message.contains("an integer")
                && err.message.contains("e.g. 25")
                && err.message.contains("got a string of 4 characters")
                && !err.message.contains("many"),
            "{}",
            err.message
        );
        assert!(build_request(&e, &args(json!({"query": {"limit": -1}}))).is_err());
        assert!(
            build_request(&e, &args(json!({"query": {"is_open": "yes"}})))
                .unwrap_err()
                .message
                .contains("true or false")
        );

        let create = entry("tickets.create", "POST", "/api/v1/tickets", Some(ticket_body()));
        let missing = build_request(&create, &args(json!({"body": {"title": "x"}}))).unwrap_err();
        assert_eq!(missing.field.as_deref(), Some("body.board_id"));
        let unknown =
            build_request(&create, &args(json!({"body": {"title": "x", "board_id": "b", "colour": 1}}))).unwrap_err();
        assert!(unknown.message.contains("unknown field") && unknown.message.contains("title"), "{}", unknown.message);
        let wrong = build_request(&create, &args(json!({"body": {"title": 5, "board_id": "b"}}))).unwrap_err();
        assert_eq!(wrong.message, "body.title: expected a string, e.g. \"text\"; got 5");
        let time = build_request(&create, &args(json!({"body": {"title": "t", "board_id": "b", "started_at": 9}})))
            .unwrap_err();
        assert!(time.message.contains("RFC 3339"), "{}", time.message);
        let status = build_request(&create, &args(json!({"body": {"title": "t", "board_id": "b", "status": "doing"}})))
            .unwrap_err();
        assert!(status.message.contains("one of \"todo\", \"done\""), "{}", status.message);
        let none = build_request(&create, &args(json!({}))).unwrap_err();
        assert_eq!(none.field.as_deref(), Some("body"));
    }

    #[test]
    fn bodies_and_method_overrides() {
        let create = entry("tickets.create", "POST", "/api/v1/tickets", Some(ticket_body()));
        let built = build_request(&create, &args(json!({"data": {"title": "t", "board_id": "b"}}))).unwrap();
        assert_eq!(built.body, Some(json!({"title": "t", "board_id": "b"})));
        assert!(built.is_mutation);
        let same = build_request(&create, &args(json!({"method": "post", "body": {"title": "t", "board_id": "b"}})));
        assert_eq!(same.unwrap().method, "POST", "repeating the entry's own method is harmless");
        for other in [json!("delete"), json!("PUT"), json!("GET"), json!(1)] {
            let refused = build_request(&create, &args(json!({"method": other, "body": {"title": "t"}}))).unwrap_err();
            assert_eq!(refused.field.as_deref(), Some("method"), "{other}");
            assert!(refused.message.contains("search_api_registry"), "{}", refused.message);
        }
    }

    #[test]
    fn headers_cannot_inject_or_impersonate() {
        let e = entry("tickets.list", "GET", "/api/v1/tickets", None);
        assert!(build_request(&e, &args(json!({"headers": {"x-trace": "a\r\nx-api-key: stolen"}}))).is_err());
        for name in ["Authorization", "x-api-key", "Cookie", "Host"] {
            assert!(build_request(&e, &args(json!({"headers": {name: "x"}}))).is_err(), "{name}");
        }
        let ok = build_request(&e, &args(json!({"headers": {"x-trace": "abc"}}))).unwrap();
        assert_eq!(ok.headers, [("x-trace".to_owned(), "abc".to_owned())]);
    }
}
