//! The real connector over stdio against the real server (demo data), in both protocol eras.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CONNECTOR: &str = env!("CARGO_BIN_EXE_alga-mcp-connector");

/// `alga-server`, built by the same `cargo test --workspace` run (`cargo xtask ci`).
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|deps| deps.parent()).unwrap().join("alga-server");
    assert!(
        bin.exists(),
        "{} is missing: run the workspace's tests (cargo xtask ci) so that it is built",
        bin.display()
    );
    bin
}

struct Server {
    child: Child,
    url: String,
    key: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let address = dir.path().join("address");
        let stdout = dir.path().join("stdout");
        let child = Command::new(server_binary())
            .args(["serve", "--bind", "127.0.0.1:0", "--demo", "--workers", "1"])
            .arg("--database-url")
            .arg(format!("sqlite://{}/alga.db", dir.path().display()))
            .arg("--address-file")
            .arg(&address)
            .env("RUST_LOG", "warn")
            // An enterprise server governs the connector's calls: keep its rate limits out of
            // these tests' way (variables, which a community server ignores).
            .env("ALGA_MCP_CALLS_PER_SECOND", "100000")
            .env("ALGA_MCP_CALL_BURST", "100000")
            .env("ALGA_MCP_WRITES_PER_SECOND", "100000")
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let url = loop {
            if let Ok(a) = std::fs::read_to_string(&address)
                && !a.trim().is_empty()
            {
                break format!("http://{}", a.trim());
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the server did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = std::fs::read_to_string(&stdout).unwrap();
        let key = out.lines().find_map(|l| l.trim().strip_prefix("admin API key:")).unwrap().trim().to_owned();
        Server { child, url, key, _dir: dir }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Connector {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next_id: u64,
}

impl Connector {
    fn start(url: &str, key: &str) -> Connector {
        let mut child = Command::new(CONNECTOR)
            .env_clear()
            .env("ALGA_INSTANCE_URL", url)
            .env("ALGA_API_TOKEN", key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Connector { stdin: child.stdin.take(), child, lines, next_id: 0 }
    }

    fn send(&mut self, message: &Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}));
        let line = self.lines.recv_timeout(Duration::from_secs(30)).expect("an answer");
        let answer: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout carries only JSON-RPC ({e}): {line}"));
        assert_eq!(answer["id"], self.next_id);
        answer
    }

    fn tool(&mut self, name: &str, arguments: Value) -> (bool, Value) {
        let answer = self.request("tools/call", json!({"name": name, "arguments": arguments}));
        (answer["result"]["isError"].as_bool().unwrap(), answer["result"]["structuredContent"].clone())
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn modern_meta() -> Value {
    json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }})
}

#[test]
fn an_agent_works_a_ticket_through_the_connector() {
    let server = Server::start();
    let mut mcp = Connector::start(&server.url, &server.key);

    let init = mcp.request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    mcp.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let tools = mcp.request("tools/list", json!({}));
    let names: Vec<&str> =
        tools["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["search_api_registry", "search_business_data", "call_api_endpoint"]);

    let (error, found) = mcp.tool("search_api_registry", json!({"query": "create a ticket"}));
    assert!(!error);
    assert_eq!(found["results"][0]["entryId"], "tickets.create");
    assert!(found["results"][0]["requestBodySchema"].is_object(), "the connector's rich result");

    let first_id = |mcp: &mut Connector, entry: &str, query: Value| -> String {
        let (error, answer) = mcp.tool("call_api_endpoint", json!({"entryId": entry, "query": query}));
        assert!(!error, "{entry}: {answer}");
        answer["data"]["data"][0]["id"].as_str().unwrap().to_owned()
    };
    let board = first_id(&mut mcp, "boards.list", json!({"limit": 1}));
    let client = first_id(&mut mcp, "clients.list", json!({"name": "acme"}));
    let priority = first_id(&mut mcp, "priorities.list", json!({}));
    let body = json!({"title": "Connector ticket", "board_id": board, "client_id": client, "priority_id": priority});
    let (error, created) = mcp.tool("call_api_endpoint", json!({"entryId": "tickets.create", "body": body}));
    assert!(!error, "{created}");
    assert_eq!(created["status"], 201);
    let id = created["data"]["data"]["id"].as_str().unwrap().to_owned();
    let (_, read) = mcp.tool("call_api_endpoint", json!({"entryId": "tickets.get", "path": {"id": id}}));
    assert_eq!(read["data"]["data"]["title"], "Connector ticket");
    let (error, records) = mcp.tool("search_business_data", json!({"query": "connector", "types": ["ticket"]}));
    assert!(!error && records["data"]["total_count"] == 1, "{records}");

    // The modern era on the same connection.
    let discover = mcp.request("server/discover", modern_meta());
    assert!(discover["result"]["supportedVersions"].as_array().unwrap().contains(&json!("2026-07-28")));
    let mut params = modern_meta();
    params["name"] = json!("search_api_registry");
    params["arguments"] = json!({"query": "log time on a ticket"});
    let modern = mcp.request("tools/call", params);
    assert_eq!(modern["result"]["resultType"], "complete");
    assert_eq!(modern["result"]["structuredContent"]["results"][0]["entryId"], "time_entries.create");

    // Against an enterprise server every call went through its governed endpoint: audited as the
    // key's user, naming the client through the connector, the write with its operation.
    let registry = http(&server.url, "GET", "/api/v1/meta/mcp-registry", &server.key, None);
    if registry["data"]["edition"] == "enterprise" {
        let audit = http(&server.url, "GET", "/api/v1/mcp/audit?page_size=200", &server.key, None);
        let rows = audit["data"].as_array().unwrap();
        assert_eq!(rows.len(), 8, "one row per tool call: {rows:#?}");
        assert!(rows.iter().all(|r| r["caller_kind"] == "user" && r["decision"] == "allow"), "{rows:#?}");
        assert!(rows.iter().any(|r| r["client_name"] == "t via alga-mcp-connector"), "{rows:#?}");
        assert!(rows.iter().any(|r| r["operation_id"] == "tickets.create" && r["status_code"] == 201), "{rows:#?}");
    }

    // End of input: the connector exits promptly and cleanly.
    drop(mcp.stdin.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = mcp.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the connector did not exit at EOF");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}

#[test]
fn errors_are_worded_for_the_operator_and_the_agent() {
    let server = Server::start();
    let missing = Command::new(CONNECTOR).env_clear().output().unwrap();
    assert!(!missing.status.success());
    let text = String::from_utf8_lossy(&missing.stderr);
    assert!(text.contains("ALGA_INSTANCE_URL") && text.contains("ALGA_API_TOKEN"), "{text}");
    assert!(missing.stdout.is_empty(), "nothing but JSON-RPC on stdout");

    let bad = Command::new(CONNECTOR)
        .env_clear()
        .env("ALGA_INSTANCE_URL", &server.url)
        .env("ALGA_API_TOKEN", "alga_wrong")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("HTTP 401"), "{}", String::from_utf8_lossy(&bad.stderr));
    let down = Command::new(CONNECTOR)
        .env_clear()
        .env("ALGA_INSTANCE_URL", "http://127.0.0.1:1")
        .env("ALGA_API_TOKEN", "t")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("Could not reach"),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );

    // A key revoked while the connector runs: the tool says the credential is the problem.
    let client =
        reqwest_free_post(&server.url, "/api/v1/api-keys", &server.key, &json!({"description": "short-lived"}));
    let key = client["data"]["key"].as_str().unwrap().to_owned();
    let key_id = client["data"]["id"].as_str().unwrap().to_owned();
    let mut mcp = Connector::start(&server.url, &key);
    let (error, _) = mcp.tool("call_api_endpoint", json!({"entryId": "tickets.list", "query": {"limit": 1}}));
    assert!(!error);
    let (error, invalid) = mcp.tool("call_api_endpoint", json!({"entryId": "tickets.get", "path": {}}));
    assert!(error && invalid["error"].as_str().unwrap().contains("Unresolved path parameters"), "{invalid}");
    delete(&server.url, &format!("/api/v1/api-keys/{key_id}"), &server.key);
    // The server process revoked it itself, so its cache forgets the key at once.
    let (error, answer) = mcp.tool("call_api_endpoint", json!({"entryId": "tickets.list"}));
    assert!(error);
    assert_eq!(answer["status"], 401);
    assert!(answer["hint"].as_str().unwrap().contains("invalid or expired"), "{answer}");
}

/// Minimal HTTP for test setup (the test does not need a client library).
fn http(url: &str, method: &str, path: &str, key: &str, body: Option<&Value>) -> Value {
    use std::io::Read;
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nx-api-key: {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let json = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(json).unwrap_or(Value::Null)
}

fn reqwest_free_post(url: &str, path: &str, key: &str, body: &Value) -> Value {
    http(url, "POST", path, key, Some(body))
}

fn delete(url: &str, path: &str, key: &str) {
    http(url, "DELETE", path, key, None);
}
