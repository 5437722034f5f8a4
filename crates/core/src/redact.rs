//! Secrets never reach an audit: values whose key names a secret are replaced, at any depth, in
//! tool arguments, tool results and the before/after of administrative changes alike.

use serde_json::{Map, Value};

pub const REDACTED: &str = "***";

/// Name segments that make a key's value secret wherever it appears (arguments and results, at any
/// depth): a key is split into lowercase segments at `_`, `-`, `.`, spaces and camelCase humps, and
/// is secret when any segment is one of these, unless its last segment says it only names or
/// describes the secret (`api_key_id`, `key_prefix`, `session_id`, `token_expires_at`).
const SECRET_SEGMENTS: [&str; 22] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "key",
    "apikey",
    "authorization",
    "auth",
    "credential",
    "credentials",
    "privatekey",
    "cookie",
    "session",
    "jwt",
    "bearer",
    "plaintext",
    "otp",
    "pwd",
    "pass",
    "pin",
    "signature",
];
/// Last segments that make a key a reference to a secret rather than the secret itself.
const READABLE_SUFFIXES: [&str; 12] =
    ["id", "ids", "prefix", "at", "expires", "expiry", "type", "kind", "name", "count", "uri", "url"];
/// A key's name segments, lowercase: `apiKey_ID` → `api`, `key`, `id`.
fn segments(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            out.extend((!current.is_empty()).then(|| std::mem::take(&mut current)));
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            out.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    out.extend((!current.is_empty()).then_some(current));
    out
}

fn is_secret(key: &str) -> bool {
    let parts = segments(key);
    let Some(last) = parts.last() else { return false };
    if READABLE_SUFFIXES.contains(&last.as_str()) {
        return false;
    }
    parts.iter().any(|p| SECRET_SEGMENTS.contains(&p.as_str()))
}

/// The value with every secret key's value replaced, at any depth (arguments and results alike),
/// also inside strings that hold JSON (models often send a body as a JSON string). A string that
/// looks like JSON but does not parse here (another parser may still read it) is replaced whole
/// when it names a secret key.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), if is_secret(k) { Value::String(REDACTED.to_owned()) } else { redact(v) }))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(text) if text.trim_start().starts_with(['{', '[']) => match serde_json::from_str::<Value>(text) {
            Ok(inner @ (Value::Object(_) | Value::Array(_))) => Value::String(redact(&inner).to_string()),
            _ if names_a_secret(text) => Value::String(REDACTED.to_owned()),
            _ => value.clone(),
        },
        other => other.clone(),
    }
}

/// Whether JSON-like text names a secret key: a quoted string (escapes skipped) followed by `:`.
fn names_a_secret(text: &str) -> bool {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut key = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => key.extend(chars.next()),
                c => key.push(c),
            }
        }
        let next = chars.clone().find(|c| !c.is_whitespace());
        if next == Some(':') && is_secret(&key) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let args = json!({
            "entryId": "users.create",
            "body": {"email": "a@b.c", "password": "hunter2", "nested": [{"client_secret": "s", "Api-Key": "k"}]},
            "query": {"access_token": "t", "limit": 5},
            "headers": {"Authorization": "Bearer x"}
        });
        let out = redact(&args);
        assert_eq!(out["body"]["password"], REDACTED);
        assert_eq!(out["body"]["nested"][0]["client_secret"], REDACTED);
        assert_eq!(out["body"]["nested"][0]["Api-Key"], REDACTED);
        assert_eq!(out["query"]["access_token"], REDACTED);
        assert_eq!(out["headers"]["Authorization"], REDACTED);
        assert_eq!((out["body"]["email"].as_str(), out["query"]["limit"].as_i64()), (Some("a@b.c"), Some(5)));
        assert_eq!(out["entryId"], "users.create");
    }

    #[test]
    fn secret_names_are_whole_segments_in_any_case() {
        for secret in [
            "api_key",
            "key",
            "KEY",
            "apiKey",
            "ApiKey",
            "x-api-key",
            "session_token",
            "sessionToken",
            "session",
            "cookie",
            "Set-Cookie",
            "jwt",
            "id_token",
            "bearer",
            "passphrase",
            "client_secret",
            "privateKey",
            "password_confirmation",
            "refresh.token",
            "plaintext",
            "pwd",
            "db_pass",
            "pin",
            "signature",
        ] {
            assert!(is_secret(secret), "{secret} is secret");
        }
        for readable in [
            "api_key_id",
            "key_prefix",
            "session_id",
            "token_expires_at",
            "prefix",
            "keyboard",
            "passenger",
            "pinned",
            "monkey",
            "turkey",
            "author",
            "id",
            "tokens_count",
            "description",
            "jwks_uri",
            "status",
        ] {
            assert!(!is_secret(readable), "{readable} is readable");
        }
    }

    #[test]
    fn json_held_in_strings_is_redacted_too() {
        let args = json!({ "body": "{\"email\": \"a@b.c\", \"password\": \"hunter2\"}" });
        let out = redact(&args).to_string();
        assert!(!out.contains("hunter2") && out.contains("a@b.c"), "{out}");
        // JSON this parser refuses (a number out of range, a trailing comma) naming a secret key
        // is replaced whole; without a secret key it is kept.
        for text in [r#"{"password": "hunter2", "n": 1e400}"#, r#"{"a": "\"", "api_key": "hunter2",}"#] {
            let out = redact(&json!({ "body": text })).to_string();
            assert!(!out.contains("hunter2"), "{out}");
        }
        let kept = json!({ "body": r#"{"note": "x", "n": 1e400}"# });
        assert_eq!(redact(&kept), kept);
    }
}
