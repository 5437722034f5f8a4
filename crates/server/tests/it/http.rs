use serde_json::json;

use crate::support::{Server, enterprise};

#[test]
fn health_and_readiness_answer_with_request_ids() {
    let server = Server::start();
    let health = server.get("/healthz");
    assert_eq!((health.status, health.json()), (200, json!({"status": "ok"})));
    let ready = server.get("/readyz");
    assert_eq!((ready.status, ready.json()), (200, json!({"status": "ready"})));

    let generated = ready.header("x-request-id").expect("a generated request id");
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let echoed = server.request("GET", "/healthz", &[("x-request-id", "trace-42.a_b:c")], None);
    assert_eq!(echoed.header("x-request-id"), Some("trace-42.a_b:c"));
    let hostile = server.request("GET", "/healthz", &[("x-request-id", "a b<script>")], None);
    assert_ne!(hostile.header("x-request-id"), Some("a b<script>"), "unsafe ids are replaced");
    assert!(server.log().contains("trace-42.a_b:c"), "the request id is in the log:\n{}", server.log());
}

#[test]
fn oversized_request_heads_are_refused_with_431() {
    let server = Server::start();
    let big = "a".repeat(20 * 1024);
    let res = server.request("GET", "/healthz", &[("x-padding", big.as_str())], None);
    assert_eq!(res.status, 200, "room for a 16 KiB token and the rest");
    let huge = "a".repeat(40 * 1024);
    let res = server.request("GET", "/healthz", &[("x-padding", huge.as_str())], None);
    assert_eq!(res.status, 431);
    assert_eq!(res.json()["error"]["code"], "headers_too_large");
    assert!(res.header("x-request-id").is_some());
    let res = server.get(&format!("/api/v1/tickets?search={huge}"));
    assert_eq!(res.status, 431, "the target counts too");
}

#[test]
fn unknown_paths_answer_the_json_envelope() {
    let server = Server::start();
    let res = server.get("/nope");
    assert_eq!(res.status, 404);
    assert_eq!(res.json()["error"]["code"], "not_found");
    assert!(res.header("x-request-id").is_some());
    let res = server.request("POST", "/healthz", &[("content-type", "application/json")], Some(b"{}"));
    assert_eq!(res.status, 405);
    assert_eq!(res.json()["error"]["code"], "method_not_allowed");
}

const GOVERNANCE_PATHS: [&str; 12] = [
    "/api/mcp",
    "/t/acme/api/mcp",
    "/api/v1/mcp",
    "/api/v1/mcp/agents",
    "/api/v1/mcp/idp-providers/123",
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/api/mcp",
    "/.well-known/oauth-protected-resource/t/acme/api/mcp",
    "/admin",
    "/admin/",
    "/admin/login",
    "/admin/mcp",
];

#[test]
fn governance_paths_answer_the_edition_stub_only_in_the_community_build() {
    let server = Server::start();
    for path in GOVERNANCE_PATHS {
        for method in ["GET", "POST", "DELETE"] {
            let res = server.request(method, path, &[("content-type", "application/json")], Some(b"{}"));
            // Enterprise answers these itself (401 without a credential, 405, metadata, …).
            if !enterprise() {
                assert_eq!(res.status, 404, "{method} {path}");
            }
            let is_stub = if path.starts_with("/admin") {
                let html = res.header("content-type").unwrap_or_default().starts_with("text/html");
                html && res.text().contains("The MCP server is an Enterprise feature.")
            } else {
                res.json()
                    == json!({"error": {"code": "enterprise_feature", "message": "The MCP server is an Enterprise feature."}})
            };
            assert_eq!(is_stub, !enterprise(), "{method} {path}: {}", res.text());
        }
    }
}

/// A browser opening the admin UI of a community server, at any of its entry points, reads that
/// it is an enterprise feature; the enterprise server serves the UI there.
#[test]
fn the_community_admin_paths_answer_the_enterprise_notice() {
    let server = Server::start();
    for path in ["/admin", "/admin/", "/admin/login", "/admin/mcp"] {
        let res = server.get(path);
        let html = res.header("content-type").unwrap_or_default().starts_with("text/html");
        let notice = res.status == 404 && html && res.text().contains("The MCP server is an Enterprise feature.");
        assert_eq!(notice, !enterprise(), "{path}: {} {}", res.status, res.text());
        if enterprise() {
            assert!([200, 303].contains(&res.status), "{path}: {}", res.status);
        }
    }
}

#[test]
fn json_logs_carry_the_request_id() {
    let db = alga_core::testing::TestDb::new();
    let server = Server::start_with(&["--database-url", db.url().expose(), "--log-format", "json"], None);
    server.request("GET", "/healthz", &[("x-request-id", "json-log-check")], None);
    let log = server.log();
    let line = log.lines().find(|l| l.contains("json-log-check")).expect("a log line for the request");
    let value: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(value["span"]["request_id"], "json-log-check", "{line}");
    assert_eq!(value["fields"]["status"], 200, "{line}");
}

/// `/metrics`: not served by default; with --metrics-token only to its bearer; with
/// --metrics-bind on its own address without a token. It counts requests by route pattern.
#[test]
fn metrics_are_served_only_where_configured() {
    let server = Server::start();
    assert_eq!(server.get("/metrics").status, 404);

    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let db = alga_core::testing::TestDb::new();
    let url = db.url().expose().to_owned();
    let metrics_bind = free.to_string();
    let args = ["--database-url", &url, "--metrics-token", "scrape-token-0123", "--metrics-bind", &metrics_bind];
    let server = Server::start_with(&args, None);
    assert_eq!(server.get("/healthz").status, 200);
    assert_eq!(server.get("/api/v1/tickets/abc").status, 401);
    assert_eq!(server.get("/metrics").status, 401);
    assert_eq!(server.request("GET", "/metrics", &[("authorization", "Bearer wrong")], None).status, 401);
    let res = server.request("GET", "/metrics", &[("authorization", "Bearer scrape-token-0123")], None);
    assert_eq!(res.status, 200);
    assert!(res.header("content-type").unwrap_or_default().starts_with("text/plain; version=0.0.4"));
    let text = res.text();
    for line in [
        r#"alga_http_requests_total{method="GET",route="/healthz",status="200"} 1"#,
        r#"alga_http_requests_total{method="GET",route="/api/v1/tickets/{id}",status="401"} 1"#,
        r#"alga_db_pool_connections{state="max"} 16"#,
        "# TYPE alga_http_request_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    assert_eq!(
        text.contains("# TYPE alga_audit_backlog gauge") && text.contains("# TYPE alga_jwks_fetches counter"),
        enterprise(),
        "enterprise metrics come with the enterprise edition"
    );
    // The separate listener needs no token and serves nothing else.
    let separate = crate::support::request(free, "GET", "/metrics", &[], None);
    assert_eq!(separate.status, 200);
    assert!(separate.text().contains("alga_http_requests_total"));
    assert_eq!(crate::support::request(free, "GET", "/healthz", &[], None).status, 404);
    drop(db);
}
