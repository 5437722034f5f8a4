//! `cargo xtask bench`: measurements that print figures (never assertions).
//!
//! Registry search quality and speed (`alga-api`'s `registry_bench` example), then REST reads on a
//! release build, with `wrk` beside the server on this machine: requests/s, p50, p99 and the
//! server's peak memory, on SQLite and on a throwaway PostgreSQL.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::pg::TempPostgres;
use crate::{prereq, run, tools};

/// Connections and duration of each wrk run.
const CONNECTIONS: u32 = 8;
const SECONDS: u32 = 10;

pub fn run() -> Result<()> {
    prereq::ensure_build_tools()?;
    prereq::ensure_debian_tool("wrk", "wrk")?;
    eprintln!("\n==> registry search");
    run::status(&mut run::cargo(["run", "--release", "--locked", "-p", "alga-api", "--example", "registry_bench"]))?;
    run::status(&mut run::cargo(["build", "--release", "--locked", "-p", "alga-server"]))?;
    let binary = tools::root().join("target/release/alga-server");
    let mut rows = Vec::new();
    let sqlite_dir = tempdir("alga-bench-sqlite")?;
    let sqlite_url = format!("sqlite://{}/bench.db", sqlite_dir.display());
    rows.extend(measure(&binary, "SQLite", &sqlite_url)?);
    let _ = std::fs::remove_dir_all(&sqlite_dir);
    let pg = TempPostgres::start()?;
    rows.extend(measure(&binary, "PostgreSQL", &pg.url())?);
    drop(pg);

    println!("\n| database | request | requests/s | p50 | p99 | server peak RSS |");
    println!("|---|---|---:|---:|---:|---:|");
    for r in &rows {
        println!("| {} | {} | {:.0} | {} | {} | {:.1} MB |", r.database, r.request, r.rps, r.p50, r.p99, r.peak_mb);
    }
    println!(
        "\n{CONNECTIONS} connections, {SECONDS} s per run, wrk with 2 threads on the same machine ({} cores).",
        cores()
    );
    Ok(())
}

struct Row {
    database: &'static str,
    request: &'static str,
    rps: f64,
    p50: String,
    p99: String,
    peak_mb: f64,
}

fn measure(binary: &Path, database: &'static str, url: &str) -> Result<Vec<Row>> {
    let dir = tempdir("alga-bench-server")?;
    let server = Server::start(binary, url, &dir)?;
    let key = server.admin_key()?;
    let list = get(server.addr, "/api/v1/tickets?limit=1", &key)?;
    let id = list
        .split("\"id\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no ticket in the demo data")?
        .to_owned();
    let mut rows = Vec::new();
    for (request, path) in [
        ("GET /api/v1/tickets/{id}", format!("/api/v1/tickets/{id}")),
        ("GET /api/v1/tickets?limit=25", "/api/v1/tickets?limit=25".to_owned()),
    ] {
        let (rps, p50, p99) = wrk(server.addr, &path, &key)?;
        rows.push(Row { database, request, rps, p50, p99, peak_mb: server.peak_mb() });
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rows)
}

fn wrk(addr: SocketAddr, path: &str, key: &str) -> Result<(f64, String, String)> {
    let out = run::output(
        Command::new("wrk")
            .args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{SECONDS}s"), "--latency"])
            .args(["-H", &format!("x-api-key: {key}")])
            .arg(format!("http://{addr}{path}")),
    )?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if text.contains("Non-2xx") {
        bail!("wrk saw error responses:\n{text}");
    }
    let field = |prefix: &str| -> Option<String> {
        text.lines().find_map(|l| l.trim().strip_prefix(prefix)).map(|v| v.trim().to_owned())
    };
    let rps = field("Requests/sec:").and_then(|v| v.parse().ok()).context("no Requests/sec in wrk output")?;
    Ok((rps, field("50%").unwrap_or_default(), field("99%").unwrap_or_default()))
}

struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: PathBuf,
}

impl Server {
    fn start(binary: &Path, url: &str, dir: &Path) -> Result<Server> {
        let address = dir.join("address");
        let stdout = dir.join("stdout");
        let child = Command::new(binary)
            .args(["serve", "--bind", "127.0.0.1:0", "--demo", "--database-url", url])
            .arg("--address-file")
            .arg(&address)
            .env("RUST_LOG", "warn")
            .stdout(std::fs::File::create(&stdout)?)
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start alga-server")?;
        let started = Instant::now();
        let addr = loop {
            if let Some(addr) = std::fs::read_to_string(&address).ok().and_then(|a| a.trim().parse().ok()) {
                break addr;
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("alga-server did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ok(Server { child, addr, stdout })
    }

    fn admin_key(&self) -> Result<String> {
        let out = std::fs::read_to_string(&self.stdout)?;
        out.lines()
            .find_map(|l| l.trim().strip_prefix("admin API key:"))
            .map(|k| k.trim().to_owned())
            .context("the server printed no admin key")
    }

    /// Peak resident memory so far (VmHWM), in MB.
    fn peak_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        kb / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP GET, read to the end.
fn get(addr: SocketAddr, path: &str, key: &str) -> Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nx-api-key: {key}\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

fn tempdir(prefix: &str) -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos();
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
