//! The /api/v1 API through the real binary: what only HTTP and the CLI can show.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use alga_core::testing::TestDb;
use serde_json::{Value, json};

use crate::support::{Server, enterprise, parse_response, run, stderr, stdout};

/// The admin API key printed by the first start.
fn bootstrap_key(server: &Server) -> String {
    let out = std::fs::read_to_string(server.stdout_path()).unwrap();
    out.lines()
        .find_map(|l| l.trim().strip_prefix("admin API key:"))
        .map(|k| k.trim().to_owned())
        .unwrap_or_else(|| panic!("no admin key printed:\n{out}"))
}

fn json_post(server: &Server, key: &str, path: &str, body: &Value) -> crate::support::Response {
    let body = body.to_string();
    server.request("POST", path, &[("x-api-key", key), ("content-type", "application/json")], Some(body.as_bytes()))
}

#[test]
fn the_first_start_prints_its_secrets_once() {
    let db = TestDb::new();
    let url = db.url().expose().to_owned();
    let first = Server::start_with(&["--database-url", &url], None);
    let key = bootstrap_key(&first);
    let out = std::fs::read_to_string(first.stdout_path()).unwrap();
    assert!(out.contains("one-time password:"), "{out}");
    assert!(!first.log().contains(&key), "secrets never reach the log");
    let me = first.request("GET", "/api/v1/me", &[("Authorization", &format!("Bearer {key}"))], None);
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["data"]["user"]["email"], "admin@localhost");
    assert_eq!(me.json()["data"]["roles"][0]["name"], "Admin");
    drop(first);
    let second = Server::start_with(&["--database-url", &url], None);
    let out = std::fs::read_to_string(second.stdout_path()).unwrap();
    assert!(!out.contains("API key") && !out.contains("password"), "later starts print no secret: {out}");
}

#[test]
fn keys_come_from_headers_only_and_errors_are_json() {
    let server = Server::start();
    let key = bootstrap_key(&server);
    assert_eq!(server.request("GET", "/api/v1/me", &[("x-api-key", &key)], None).status, 200);
    let none = server.get("/api/v1/tickets");
    assert_eq!((none.status, none.json()["error"]["code"].as_str()), (401, Some("unauthorized")));
    assert_eq!(server.get(&format!("/api/v1/tickets?api_key={key}")).status, 401, "never from the query string");
    assert_eq!(server.request("GET", "/api/v1/me", &[("x-api-key", "alga_nope")], None).status, 401);
    assert_eq!(server.request("GET", "/api/v1/me", &[("Authorization", &format!("Basic {key}"))], None).status, 401);

    let text =
        server.request("POST", "/api/v1/clients", &[("x-api-key", &key), ("content-type", "text/plain")], Some(b"hi"));
    assert_eq!((text.status, text.json()["error"]["code"].as_str()), (415, Some("unsupported_media_type")));
    let huge = format!("{{\"name\":\"{}\"}}", "a".repeat(1_100_000));
    let big = server.request(
        "POST",
        "/api/v1/clients",
        &[("x-api-key", &key), ("content-type", "application/json")],
        Some(huge.as_bytes()),
    );
    assert_eq!((big.status, big.json()["error"]["code"].as_str()), (413, Some("payload_too_large")));
    let bad = server.request(
        "POST",
        "/api/v1/clients",
        &[("x-api-key", &key), ("content-type", "application/json")],
        Some(b"{\"name\":"),
    );
    assert_eq!((bad.status, bad.json()["error"]["code"].as_str()), (400, Some("validation_error")));
    let wrong_method = server.request("PATCH", "/api/v1/clients", &[("x-api-key", &key)], None);
    assert_eq!((wrong_method.status, wrong_method.json()["error"]["code"].as_str()), (405, Some("method_not_allowed")));
    assert!(wrong_method.header("x-request-id").is_some());

    let created = json_post(&server, &key, "/api/v1/clients", &json!({"name": "Acme"}));
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("content-type"), Some("application/json"));
    let dup = json_post(&server, &key, "/api/v1/clients", &json!({"name": "Acme"}));
    assert_eq!(dup.status, 409);
    let delete = server.request(
        "DELETE",
        &format!("/api/v1/clients/{}", created.json()["data"]["id"].as_str().unwrap()),
        &[("x-api-key", &key)],
        None,
    );
    assert_eq!((delete.status, delete.body.len()), (204, 0));
}

/// The server is built from one route table, which `alga-server routes` lists. The test compares
/// the whole table with what is served: every declared route is routed (never the "no route" 404
/// nor a path's 405), every other method on a declared path answers 405, and paths outside the
/// table answer the "no route" 404. The table holds every catalog operation, health and metrics,
/// and the edition's routes: the enterprise ones, or the community stub on every governance path.
#[test]
fn the_routes_are_exactly_the_catalog() {
    let listed = run(&["routes"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let table: Vec<(String, String)> = stdout(&listed)
        .lines()
        .map(|l| l.split_once(' ').map(|(m, p)| (m.to_owned(), p.to_owned())).unwrap_or_else(|| panic!("{l}")))
        .collect();
    let declared = |method: &str, path: &str| table.iter().any(|(m, p)| p == path && (m == method || m == "*"));
    let unique: std::collections::BTreeSet<_> = table.iter().collect();
    assert_eq!(unique.len(), table.len(), "a route is declared twice: {table:?}");
    let catalog = alga_api::catalog();
    for op in catalog.operations() {
        assert!(
            declared(op.meta.method.as_str(), op.meta.path),
            "{} {} is not in the table",
            op.meta.method,
            op.meta.path
        );
    }
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert!(declared("GET", path), "{path}");
    }
    if enterprise() {
        for (method, path) in [
            ("POST", "/api/mcp"),
            ("POST", "/t/{tenant}/api/mcp"),
            ("GET", "/.well-known/oauth-protected-resource/api/mcp"),
            ("GET", "/api/v1/mcp/agents"),
            ("GET", "/admin/login"),
        ] {
            assert!(declared(method, path), "{method} {path}");
        }
    } else {
        for path in alga_core::governance::GOVERNANCE_PATHS {
            assert!(table.contains(&("*".to_owned(), path.to_owned())), "{path}");
        }
    }

    // With a metrics token, /metrics is routed on the main listener (without one it is the 404).
    let db = TestDb::new();
    let server = Server::start_with(&["--database-url", db.url().expose(), "--metrics-token", "routes-test"], None);
    let key = bootstrap_key(&server);
    let mut paths: Vec<&str> = Vec::new();
    for (_, path) in &table {
        if !paths.contains(&path.as_str()) {
            paths.push(path);
        }
    }
    for path in paths {
        let concrete = concrete(path);
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let res = server.request(
                method,
                &concrete,
                &[("x-api-key", &key), ("content-type", "application/json")],
                Some(b"{}"),
            );
            let no_route = res.status == 404 && res.text().contains("No route");
            let not_allowed =
                res.status == 405 && res.json()["error"]["message"] == "This method is not allowed on this path.";
            if declared(method, path) {
                assert!(!no_route && !not_allowed, "{method} {concrete} is not routed: {} {}", res.status, res.text());
            } else {
                assert!(not_allowed, "{method} {concrete} is not declared: {} {}", res.status, res.text());
            }
        }
    }
    for path in ["/api/v1/invoices", "/api/v1/tickets/x/y", "/api/v2/tickets", "/api/v1/tickets/", "/nope"] {
        let res = server.request("GET", path, &[("x-api-key", &key)], None);
        assert!(res.status == 404 && res.text().contains("No route"), "{path}: {} {}", res.status, res.text());
    }
    let doc = server.get("/api/v1/openapi.json").json();
    let documented: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, catalog.operations().len());
    assert_eq!(doc["servers"][0]["url"], format!("http://{}", server.addr));
}

/// A path pattern with each `{name}` or `{name:regex}` segment filled in.
fn concrete(pattern: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in pattern.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    out.push_str("zz9");
                }
            }
            '}' => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn cli_manages_tenants_users_and_keys() {
    let db = TestDb::new();
    let url = db.url().expose().to_owned();
    assert!(run(&["migrate", "--database-url", &url]).status.success());
    let created = run(&["tenant", "create", "acme", "--name", "Acme MSP", "--database-url", &url]);
    assert!(created.status.success(), "{}", stderr(&created));
    let admin_key = stdout(&created).lines().find_map(|l| l.split("store it now): ").nth(1)).unwrap().trim().to_owned();
    assert!(admin_key.starts_with("alga_"));
    let again = run(&["tenant", "create", "acme", "--database-url", &url]);
    assert!(!again.status.success() && stderr(&again).contains("already exists"), "{}", stderr(&again));
    assert!(!run(&["tenant", "create", "Bad Slug", "--database-url", &url]).status.success());

    let mut user = crate::support::alga()
        .args([
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "sam@acme.example",
            "--role",
            "Technician",
            "--password-stdin",
            "--database-url",
            &url,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    user.stdin.take().unwrap().write_all(b"correct horse battery staple\n").unwrap();
    let user = user.wait_with_output().unwrap();
    assert!(user.status.success(), "{}", stderr(&user));
    let unknown_role = run(&[
        "user",
        "create",
        "--tenant",
        "acme",
        "--email",
        "x@acme.example",
        "--role",
        "Wizard",
        "--database-url",
        &url,
    ]);
    assert!(stderr(&unknown_role).contains("Wizard"), "{}", stderr(&unknown_role));

    let key_out = run(&[
        "api-key",
        "create",
        "--tenant",
        "acme",
        "--user",
        "sam@acme.example",
        "--expires-in",
        "30d",
        "--database-url",
        &url,
    ]);
    assert!(key_out.status.success(), "{}", stderr(&key_out));
    let text = stdout(&key_out);
    let key_id = text.split_whitespace().nth(2).unwrap().to_owned();
    let sam_key = text.lines().last().unwrap().trim().to_owned();

    let server = Server::start_with(&["--database-url", &url], None);
    let me = server.request("GET", "/api/v1/me", &[("x-api-key", &sam_key)], None).json();
    assert_eq!(me["data"]["tenant"]["slug"], "acme");
    assert_eq!(me["data"]["roles"][0]["name"], "Technician");
    let keys = server.request("GET", "/api/v1/api-keys", &[("x-api-key", &sam_key)], None).json();
    assert!(keys["data"][0]["expires_at"].is_string());
    assert_eq!(server.request("GET", "/api/v1/users", &[("x-api-key", &sam_key)], None).status, 403);
    assert_eq!(server.request("GET", "/api/v1/users", &[("x-api-key", &admin_key)], None).status, 200);

    let revoked = run(&["api-key", "revoke", &key_id, "--database-url", &url]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    // Another process revoked it: this server's cache may trust it for at most 30 s, so restart.
    drop(server);
    let server = Server::start_with(&["--database-url", &url], None);
    assert_eq!(server.request("GET", "/api/v1/me", &[("x-api-key", &sam_key)], None).status, 401);
}

#[test]
fn serve_demo_fills_the_default_tenant_once() {
    let db = TestDb::new();
    let url = db.url().expose().to_owned();
    let server = Server::start_with(&["--database-url", &url, "--demo"], None);
    let key = bootstrap_key(&server);
    let out = std::fs::read_to_string(server.stdout_path()).unwrap();
    assert!(out.contains("sample data added to tenant default"), "{out}");
    let tickets = server.request("GET", "/api/v1/tickets?limit=1", &[("x-api-key", &key)], None).json();
    assert!(tickets["pagination"]["total"].as_u64().unwrap() >= 50);
    drop(server);
    let again = run(&["demo-data", "--tenant", "default", "--database-url", &url]);
    assert!(stdout(&again).contains("no sample data added"), "{}", stdout(&again));
}

/// SIGTERM while a request's body is still arriving: the request completes, then exit 0.
#[test]
fn sigterm_lets_a_request_still_uploading_finish() {
    let mut server = Server::start();
    let key = bootstrap_key(&server);
    let body = br#"{"name": "Uploaded during shutdown"}"#;
    let mut stream = start_upload(&server, &key, body);
    std::thread::sleep(Duration::from_millis(300));
    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(700));
    assert!(TcpStream::connect(server.addr).is_err(), "no new connections after SIGTERM");
    stream.write_all(&body[10..]).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let res = parse_response(&raw);
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(server.wait(Duration::from_secs(20)).code(), Some(0), "{}", server.log());
}

/// Starts `POST /api/v1/clients` with `body` and sends only its first 10 bytes.
fn start_upload(server: &Server, key: &str, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /api/v1/clients HTTP/1.1\r\nHost: test\r\nx-api-key: {key}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..10]).unwrap();
    stream
}

#[test]
fn a_body_that_trickles_in_answers_408_and_changes_nothing() {
    let server = Server::start_with(&["--body-timeout", "1"], None);
    let key = bootstrap_key(&server);
    let before = server.request("GET", "/api/v1/clients", &[("x-api-key", &key)], None).json();
    let mut stream = start_upload(&server, &key, br#"{"name": "Never finished"}"#);
    let started = std::time::Instant::now();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let res = parse_response(&raw);
    assert_eq!(res.status, 408, "{}", res.text());
    assert_eq!(res.json()["error"]["code"], "request_timeout");
    assert!(started.elapsed() < Duration::from_secs(10), "answered at the deadline: {:?}", started.elapsed());
    let after = server.request("GET", "/api/v1/clients", &[("x-api-key", &key)], None).json();
    assert_eq!(before["pagination"]["total"], after["pagination"]["total"], "nothing was created");
}

#[test]
fn reads_carry_an_etag_and_answer_304_when_unchanged() {
    let server = Server::start();
    let key = bootstrap_key(&server);
    let first = server.request("GET", "/api/v1/meta/mcp-registry", &[("x-api-key", &key)], None);
    assert_eq!(first.status, 200);
    let etag = first.header("etag").expect("an ETag").to_owned();
    let again =
        server.request("GET", "/api/v1/meta/mcp-registry", &[("x-api-key", &key), ("if-none-match", &etag)], None);
    assert_eq!((again.status, again.body.len()), (304, 0));
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    json_post(&server, &key, "/api/v1/clients", &json!({"name": "Changes the list"}));
    let list = server.request("GET", "/api/v1/clients", &[("x-api-key", &key), ("if-none-match", &etag)], None);
    assert_eq!(list.status, 200, "another body, another tag");
}

/// Hostile bodies and ids: each gets a clear 4xx in the JSON envelope, and nothing changes.
#[test]
fn hostile_input_gets_a_clear_4xx_and_changes_nothing() {
    let server = Server::start();
    let key = bootstrap_key(&server);
    let headers = [("x-api-key", key.as_str()), ("content-type", "application/json")];
    let post = |body: &[u8]| server.request("POST", "/api/v1/clients", &headers, Some(body));
    let count = || {
        let res = server.request("GET", "/api/v1/clients?limit=100", &[("x-api-key", &key)], None);
        res.json()["data"].as_array().unwrap().len()
    };
    let before = count();

    let deep = format!("{{\"name\":{}\"x\"{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let invalid_utf8 = b"{\"name\":\"\xff\xfe\"}".to_vec();
    let huge_array = format!("{{\"name\":\"Arrays\",\"notes\":[{}0]}}", "0,".repeat(200_000));
    let nul = b"{\"name\":\"a\\u0000b\", \"x\": }".to_vec();
    for (what, body) in [
        ("deeply nested JSON", deep.into_bytes()),
        ("invalid UTF-8", invalid_utf8),
        ("a huge array", huge_array.into_bytes()),
        ("broken JSON", nul),
        ("a NUL character, which PostgreSQL text cannot hold", br#"{"name":"a\u0000b"}"#.to_vec()),
    ] {
        let res = post(&body);
        assert!((400..500).contains(&res.status), "{what}: {} {}", res.status, res.text());
        assert!(res.json()["error"]["message"].is_string(), "{what}: {}", res.text());
    }

    // Ids that try to leave their path, or to smuggle a header: not found, never elsewhere.
    for id in ["..%2F..%2Fusers", "%2e%2e", "x%0d%0aX-Injected:%201", "x%00y", &"9".repeat(5000)] {
        let res = server.request("GET", &format!("/api/v1/clients/{id}"), &[("x-api-key", &key)], None);
        assert!([400, 404].contains(&res.status), "{id}: {} {}", res.status, res.text());
        assert!(res.header("x-injected").is_none());
    }
    assert_eq!(count(), before, "nothing was created");
}

/// `email`'s password hash and whether it is one-time.
fn stored_password(db: &TestDb, email: &str) -> (String, bool) {
    use alga_core::schema::users;
    use diesel::prelude::*;
    let (hash, required): (Option<String>, bool) = users::table
        .filter(users::email.eq(email))
        .select((users::password_hash, users::password_change_required))
        .first(&mut db.conn())
        .unwrap();
    (hash.unwrap(), required)
}

/// `alga-server user set-password`, the password arriving on standard input.
fn set_password(url: &str, tenant: &str, email: &str, stdin: &[u8]) -> std::process::Output {
    let mut child = crate::support::alga()
        .args(["user", "set-password", "--tenant", tenant, "--email", email, "--database-url", url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn first_admins_get_one_time_passwords_and_set_password_resets_one() {
    use alga_core::identity::verify_password;
    let db = TestDb::new();
    let url = db.url().expose().to_owned();
    // The first start's printed password is one-time.
    let first = Server::start_with(&["--database-url", &url], None);
    let out = std::fs::read_to_string(first.stdout_path()).unwrap();
    let printed = out.lines().find_map(|l| l.trim().strip_prefix("one-time password:")).unwrap().trim().to_owned();
    let (hash, required) = stored_password(&db, "admin@localhost");
    assert!(verify_password(&printed, &hash) && required, "{out}");
    drop(first);

    // So is the one `tenant create` prints for its administrator.
    let created = run(&["tenant", "create", "acme", "--database-url", &url]);
    assert!(created.status.success(), "{}", stderr(&created));
    let text = stdout(&created);
    let password = text.lines().find_map(|l| l.split("to choose a new one): ").nth(1)).unwrap().trim().to_owned();
    let (hash, required) = stored_password(&db, "admin@acme.localhost");
    assert!(verify_password(&password, &hash) && required, "{text}");

    // A reset reads one line of standard input, is one-time again, and is audited.
    let reset = set_password(&url, "acme", "Admin@Acme.localhost", b"a password chosen by ops\nignored\n");
    assert!(reset.status.success(), "{}", stderr(&reset));
    assert!(stdout(&reset).contains("one-time password for Admin@Acme.localhost"), "{}", stdout(&reset));
    let (hash, required) = stored_password(&db, "admin@acme.localhost");
    assert!(verify_password("a password chosen by ops", &hash) && required);
    let audited: Vec<(String, String, Option<String>)> = {
        use alga_core::schema::admin_audit;
        use diesel::prelude::*;
        admin_audit::table
            .filter(admin_audit::action.eq("user.password_reset"))
            .select((admin_audit::via, admin_audit::target_kind, admin_audit::after))
            .load(&mut db.conn())
            .unwrap()
    };
    assert_eq!(audited.len(), 1);
    assert_eq!((audited[0].0.as_str(), audited[0].1.as_str()), ("cli", "user"));
    assert!(!audited[0].2.as_deref().unwrap().contains("chosen by ops"), "{audited:?}");

    // Refusals change nothing and say why.
    let short = set_password(&url, "acme", "admin@acme.localhost", b"short\n");
    assert!(!short.status.success() && stderr(&short).contains("at least 12 characters"), "{}", stderr(&short));
    let nobody = set_password(&url, "acme", "nobody@acme.localhost", b"a long enough password\n");
    assert!(!nobody.status.success() && stderr(&nobody).contains("No user"), "{}", stderr(&nobody));
    let elsewhere = set_password(&url, "default", "admin@acme.localhost", b"a long enough password\n");
    assert!(!elsewhere.status.success(), "the email is looked up in the named tenant only");
    assert_eq!(stored_password(&db, "admin@acme.localhost").0, hash);
}
