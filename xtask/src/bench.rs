//! `cargo xtask bench`: measurements that print figures (never assertions).
//!
//! Registry search quality and speed (`alga-api`'s `registry_bench` example), then REST reads on a
//! release build, with `wrk` beside the server on this machine: requests/s, p50, p99 and the
//! server's peak memory, on SQLite and on a throwaway PostgreSQL.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::pg::TempPostgres;
use crate::server::Server;
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
    let (_, list) = crate::http::request(server.addr, "GET", "/api/v1/tickets?limit=1", &[("x-api-key", &key)], None)?;
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

fn tempdir(prefix: &str) -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos();
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
