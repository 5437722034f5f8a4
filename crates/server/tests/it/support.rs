//! Starts the real `alga-server` binary (built by cargo with this test run's features) and talks
//! to it over plain HTTP/1.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

use alga_core::testing::TestDb;

pub const BIN: &str = env!("CARGO_BIN_EXE_alga-server");

pub fn enterprise() -> bool {
    cfg!(feature = "enterprise")
}

/// The binary, with a clean environment for its own variables.
pub fn alga() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("ALGA_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs the binary to completion.
pub fn run(args: &[&str]) -> Output {
    alga().args(args).output().expect("run alga-server")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A running server on a free port, killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    pub db: Option<TestDb>,
}

impl Server {
    /// A server on a fresh database of the selected backend.
    pub fn start() -> Server {
        let db = TestDb::new();
        let url = db.url().expose().to_owned();
        let mut server = Server::start_with(&["--database-url", &url], None);
        server.db = Some(db);
        server
    }

    /// A server with these extra arguments, run in `cwd` (default: a temp folder).
    pub fn start_with(args: &[&str], cwd: Option<&Path>) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let address_file = dir.path().join("address");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let mut cmd = alga();
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--workers", "2", "--shutdown-timeout", "20"])
            .arg("--address-file")
            .arg(&address_file)
            .args(args)
            .current_dir(cwd.unwrap_or(dir.path()))
            .env("RUST_LOG", "info")
            .stdout(std::fs::File::create(dir.path().join("stdout")).expect("stdout file"))
            .stderr(log);
        let mut child = cmd.spawn().expect("spawn alga-server");
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            if let Ok(text) = std::fs::read_to_string(&address_file)
                && let Ok(addr) = text.trim().parse()
            {
                break addr;
            }
            if let Some(status) = child.try_wait().expect("poll server") {
                let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
                panic!("alga-server exited early ({status}):\n{log}");
            }
            assert!(Instant::now() < deadline, "alga-server did not start within 60 s");
            std::thread::sleep(Duration::from_millis(25));
        };
        Server { child, addr, dir, db: None }
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], None)
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Response {
        request(self.addr, method, path, headers, body)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Where the server's standard output (its one-time secrets) goes.
    pub fn stdout_path(&self) -> std::path::PathBuf {
        self.dir.path().join("stdout")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (TERM, INT) with the system's `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{name} failed");
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll server") {
                return status;
            }
            assert!(Instant::now() < deadline, "alga-server did not exit within {limit:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`), read to the end.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    if let Some(body) = body {
        stream.write_all(body).expect("write body");
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> Response {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}
