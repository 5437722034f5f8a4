//! Faults under load, against the real enterprise server (debug build), each while agents keep
//! calling `/api/mcp`:
//!
//! - SIGTERM: in-flight calls finish, the process exits 0;
//! - PostgreSQL stopped and started again: calls get a 503 JSON answer within a bounded time,
//!   and the server recovers by itself;
//! - SQLite held by another writer: bounded waits and clear 503s, reads keep working, no
//!   corruption.
//!
//! After each, the audit holds exactly one row per acknowledged tool call (a JSON-RPC result,
//! success or tool error).
//!
//! - Grants changing under writes, then SIGKILL (SQLite and PostgreSQL): agents of two tenants
//!   create comments (each with a unique nonce) and read at full speed while an administrator
//!   edits their status and roles; the server is killed and started again. Every comment made
//!   has exactly one audit row allowing its creation, none is made twice, and every acknowledged
//!   call has its row.
//!
//! `cargo xtask soak` runs the same for longer.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use crate::interop::{admin_call, technician_role};
use crate::pg::TempPostgres;
use crate::server::Server;
use crate::{http, run, tools};

/// Callers in parallel.
const CALLERS: usize = 8;
/// The slowest answer allowed while the database is away (the server waits 2 s for it).
const BOUNDED: Duration = Duration::from_secs(10);

/// How long each phase lasts: short in CI, longer for a soak.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub steady: Duration,
    pub outage: Duration,
}

pub const CI: Pace = Pace { steady: Duration::from_millis(1500), outage: Duration::from_secs(4) };
pub const SOAK: Pace = Pace { steady: Duration::from_secs(60), outage: Duration::from_secs(30) };

pub fn run(pace: Pace) -> Result<()> {
    run::status(&mut run::cargo(["build", "--locked", "-p", "alga-server", "--features", "enterprise"]))?;
    let binary = tools::root().join("target/debug/alga-server");
    let dir = std::env::temp_dir().join(format!("alga-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = (|| -> Result<()> {
        sigterm(&binary, &dir, pace).context("SIGTERM under load")?;
        postgres_outage(&binary, &dir, pace).context("PostgreSQL stopped under load")?;
        sqlite_writer(&binary, &dir, pace).context("SQLite held by another writer")?;
        grants_churn_then_sigkill(&binary, &dir, &sqlite_url(&dir, "churn.db"), "SQLite", pace)
            .context("grants changing under writes, then SIGKILL (SQLite)")?;
        let pg = TempPostgres::start()?;
        grants_churn_then_sigkill(&binary, &dir, &pg.url(), "PostgreSQL", pace)
            .context("grants changing under writes, then SIGKILL (PostgreSQL)")
    })();
    if result.is_err() {
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        eprintln!("the server's last log lines:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The test servers' flags (rate limits out of the way), and a short wait for the database.
fn flags() -> Vec<&'static str> {
    crate::server::TEST_FLAGS.into_iter().chain(["--database-timeout", "2", "--shutdown-timeout", "20"]).collect()
}

/// An agent with the Technician role and an API key: the key.
fn agent_key(server: &Server, admin: &str) -> Result<String> {
    Ok(agent_with_key(server, admin)?.1)
}

/// An agent with the Technician role and an API key: (its id, the key).
fn agent_with_key(server: &Server, admin: &str) -> Result<(String, String)> {
    let body = json!({ "name": "Fault agent", "role_ids": [technician_role(server, admin)?] });
    let agent = admin_call(server, admin, "POST", "/api/v1/mcp/agents", Some(body))?;
    let id = agent["data"]["id"].as_str().context("no agent id")?;
    let expires = json!({ "expires_at": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339() });
    let key = admin_call(server, admin, "POST", &format!("/api/v1/mcp/agents/{id}/keys"), Some(expires))?;
    Ok((id.to_owned(), key["data"]["key"].as_str().context("no key")?.to_owned()))
}

fn audited(addr: SocketAddr, admin: &str) -> Result<i64> {
    let (status, body) = http::request(addr, "GET", "/api/v1/mcp/audit?page_size=1", &[("x-api-key", admin)], None)?;
    ensure!(status == 200, "audit: {status} {body}");
    serde_json::from_str::<Value>(&body)?["total"].as_i64().context("no total")
}

/// What the callers saw.
#[derive(Debug, Default)]
struct Seen {
    /// Answers with a JSON-RPC result: the call is acknowledged (and must be audited).
    acknowledged: u64,
    /// Other answers, by status, with the slowest.
    refused: std::collections::BTreeMap<u16, u64>,
    slowest_refusal: Duration,
    /// Answers that were not the JSON envelope or a JSON-RPC error.
    malformed: Vec<String>,
    /// Connections refused or cut (the server stopping).
    unreachable: u64,
    /// When the last refusal and the first acknowledgment after it came.
    last_refusal: Option<Instant>,
    recovered_at: Option<Instant>,
}

/// Callers making `tools/call`s until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(addr: SocketAddr, key: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let threads = (0..CALLERS)
            .map(|n| {
                let (stop, seen, key) = (stop.clone(), seen.clone(), key.to_owned());
                std::thread::spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let entry = if i.is_multiple_of(4) { "clients.list" } else { "tickets.list" };
                        let body = json!({ "jsonrpc": "2.0", "id": format!("{n}-{i}"), "method": "tools/call",
                            "params": { "name": "call_api_endpoint", "arguments": { "entryId": entry, "query": { "limit": 2 } } } });
                        let started = Instant::now();
                        let answer = http::request(addr, "POST", "/api/mcp", &[("x-api-key", &key)], Some(&body.to_string()));
                        let took = started.elapsed();
                        let Ok(mut seen) = seen.lock() else { return };
                        match answer {
                            Ok((200, text)) if serde_json::from_str::<Value>(&text).is_ok_and(|v| v.get("result").is_some()) => {
                                seen.acknowledged += 1;
                                if seen.last_refusal.is_some() && seen.recovered_at.is_none() {
                                    seen.recovered_at = Some(Instant::now());
                                }
                            }
                            Ok((status, text)) => {
                                *seen.refused.entry(status).or_default() += 1;
                                seen.slowest_refusal = seen.slowest_refusal.max(took);
                                seen.last_refusal = Some(Instant::now());
                                seen.recovered_at = None;
                                let json: Option<Value> = serde_json::from_str(&text).ok();
                                let enveloped = json.as_ref().is_some_and(|v| v["error"].is_object());
                                if !enveloped && seen.malformed.len() < 5 {
                                    seen.malformed.push(format!("{status} {}", text.chars().take(200).collect::<String>()));
                                }
                            }
                            Err(_) => {
                                seen.unreachable += 1;
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                    }
                })
            })
            .collect();
        Load { stop, seen, threads }
    }

    fn finish(self) -> Result<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        Arc::try_unwrap(self.seen).ok().and_then(|m| m.into_inner().ok()).context("the callers' tally is lost")
    }

    fn acknowledged(&self) -> u64 {
        self.seen.lock().map(|s| s.acknowledged).unwrap_or_default()
    }
}

fn sqlite_url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

/// SIGTERM in the middle of the calls: every acknowledged call is audited; exit code 0.
fn sigterm(binary: &Path, dir: &Path, pace: Pace) -> Result<()> {
    let url = sqlite_url(dir, "sigterm.db");
    let mut server = Server::start_logging(binary, &url, dir, &flags())?;
    server.ready_after()?;
    let admin = server.admin_key()?;
    let key = agent_key(&server, &admin)?;
    let load = Load::start(server.addr, &key);
    std::thread::sleep(pace.steady);
    let status = server.terminate(Duration::from_secs(30))?;
    let seen = load.finish()?;
    ensure!(status.success(), "alga-server exited with {status} after SIGTERM");
    ensure!(seen.acknowledged > 0, "no call succeeded before SIGTERM: {seen:?}");
    ensure!(seen.malformed.is_empty(), "answers outside the JSON envelope: {:?}", seen.malformed);
    drop(server);
    let again = Server::start_logging(binary, &url, dir, &flags())?;
    again.ready_after()?;
    let rows = audited(again.addr, &admin)?;
    eprintln!("SIGTERM under load: {} calls acknowledged, {rows} audit rows, exit {status}", seen.acknowledged);
    ensure!(rows == i64::try_from(seen.acknowledged)?, "audit rows {rows} != acknowledged calls {}", seen.acknowledged);
    Ok(())
}

/// PostgreSQL stops under load and comes back: bounded 503s meanwhile, recovery by itself, one
/// audit row per acknowledged call.
fn postgres_outage(binary: &Path, dir: &Path, pace: Pace) -> Result<()> {
    let pg = TempPostgres::start()?;
    let server = Server::start_logging(binary, &pg.url(), dir, &flags())?;
    server.ready_after()?;
    let admin = server.admin_key()?;
    let key = agent_key(&server, &admin)?;
    let load = Load::start(server.addr, &key);
    std::thread::sleep(pace.steady);
    let before = load.acknowledged();
    ensure!(before > 0, "no call succeeded before the outage");
    pg.stop_server()?;
    std::thread::sleep(pace.outage);
    let during = load.acknowledged() - before;
    let back = Instant::now();
    pg.start_server()?;
    while load.acknowledged() == before + during && back.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(pace.steady);
    let seen = load.finish()?;
    let recovery = seen.recovered_at.map(|at| at.saturating_duration_since(back));
    eprintln!(
        "PostgreSQL outage: {} acknowledged ({during} during the outage), refused {:?}, slowest refusal {:?}, first success {:?} after starting it again",
        seen.acknowledged, seen.refused, seen.slowest_refusal, recovery
    );
    ensure!(seen.malformed.is_empty(), "answers outside the JSON envelope: {:?}", seen.malformed);
    ensure!(seen.refused.keys().all(|s| *s == 503), "only 503s while the database is away: {:?}", seen.refused);
    ensure!(seen.refused.get(&503).is_some_and(|n| *n > 0), "the outage was not noticed");
    ensure!(seen.slowest_refusal < BOUNDED, "a refusal took {:?}", seen.slowest_refusal);
    match recovery {
        Some(r) if r < Duration::from_secs(15) => {}
        other => bail!("no recovery within 15 s of the restart: {other:?}"),
    }
    let rows = audited(server.addr, &admin)?;
    ensure!(rows == i64::try_from(seen.acknowledged)?, "audit rows {rows} != acknowledged calls {}", seen.acknowledged);
    Ok(())
}

/// Another process holds SQLite's write lock for a while: writers wait boundedly and get a clear
/// 503, readers keep working, and the file stays sound.
fn sqlite_writer(binary: &Path, dir: &Path, pace: Pace) -> Result<()> {
    let file = dir.join("held.db");
    let server = Server::start_logging(binary, &sqlite_url(dir, "held.db"), dir, &flags())?;
    server.ready_after()?;
    let admin = server.admin_key()?;
    let key = agent_key(&server, &admin)?;
    let load = Load::start(server.addr, &key);
    std::thread::sleep(pace.steady);
    let hold = format!(
        "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\nc.execute('BEGIN IMMEDIATE')\nprint('held', flush=True)\ntime.sleep({})\nc.execute('ROLLBACK')\n",
        // Longer than the server's busy timeout (5 s): some writers must give up.
        pace.outage.as_secs_f64() + 3.0
    );
    let mut holder = std::process::Command::new("python3")
        .args(["-c", &hold])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("cannot start python3 to hold the write lock")?;
    // Reads go on while the lock is held.
    std::thread::sleep(Duration::from_millis(500));
    let read_started = Instant::now();
    let (status, body) = http::request(server.addr, "GET", "/api/v1/tickets?limit=5", &[("x-api-key", &admin)], None)?;
    ensure!(status == 200, "a read while another process writes: {status} {body}");
    let read_took = read_started.elapsed();
    let held = holder.wait()?;
    ensure!(held.success(), "the lock holder failed");
    std::thread::sleep(pace.steady);
    let seen = load.finish()?;
    eprintln!(
        "SQLite write lock held {:.1} s: {} acknowledged, refused {:?}, slowest refusal {:?}, a read meanwhile took {read_took:?}",
        pace.outage.as_secs_f64() + 3.0,
        seen.acknowledged,
        seen.refused,
        seen.slowest_refusal
    );
    ensure!(seen.malformed.is_empty(), "answers outside the JSON envelope: {:?}", seen.malformed);
    ensure!(seen.refused.keys().all(|s| *s == 503), "only 503s while the lock is held: {:?}", seen.refused);
    ensure!(seen.slowest_refusal < BOUNDED, "a refusal took {:?}", seen.slowest_refusal);
    ensure!(seen.refused.get(&503).is_some_and(|n| *n > 0), "no writer gave up while the lock was held");
    ensure!(seen.recovered_at.is_some(), "calls did not succeed again after the lock");
    let rows = audited(server.addr, &admin)?;
    ensure!(rows == i64::try_from(seen.acknowledged)?, "audit rows {rows} != acknowledged calls {}", seen.acknowledged);
    drop(server);
    let check = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])",
        ])
        .arg(&file)
        .output()?;
    let verdict = String::from_utf8_lossy(&check.stdout).trim().to_owned();
    ensure!(verdict == "ok", "SQLite integrity check: {verdict}");
    Ok(())
}

/// One tenant of the churn phase: its admin key, agents (id, key) and a ticket to comment on.
struct ChurnTenant {
    slug: String,
    admin: String,
    agents: Vec<(String, String)>,
    ticket: String,
}

fn churn_tenant(server: &Server, slug: &str, admin: &str) -> Result<ChurnTenant> {
    let mut agents = Vec::new();
    for _ in 0..2 {
        agents.push(agent_with_key(server, admin)?);
    }
    let (_, list) = http::request(server.addr, "GET", "/api/v1/tickets?limit=1", &[("x-api-key", admin)], None)?;
    let list: Value = serde_json::from_str(&list)?;
    let ticket = list["data"][0]["id"].as_str().context("the tenant has no ticket")?.to_owned();
    Ok(ChurnTenant { slug: slug.to_owned(), admin: admin.to_owned(), agents, ticket })
}

/// A second tenant with demo data, made with the server's own commands: its admin key.
fn second_tenant(binary: &Path, url: &str) -> Result<String> {
    let created =
        run::output(std::process::Command::new(binary).args(["tenant", "create", "second", "--database-url", url]))?;
    let text = String::from_utf8_lossy(&created.stdout).into_owned();
    let key = text
        .lines()
        .find_map(|l| l.split_once("(shown once, store it now):").map(|(_, k)| k.trim().to_owned()))
        .filter(|k| !k.is_empty())
        .context("tenant create printed no admin key")?;
    run::output(std::process::Command::new(binary).args(["demo-data", "--tenant", "second", "--database-url", url]))?;
    Ok(key)
}

/// What the churn phase's agents saw.
#[derive(Debug, Default)]
struct Churned {
    /// Answers whose tool result is not an error (writes and reads).
    acknowledged: u64,
    /// Nonces of comment creations acknowledged.
    written: Vec<String>,
}

/// Grants change under writes, then SIGKILL and a restart: side effects = audited creations, no
/// duplicates, audit rows ≥ acknowledged calls.
fn grants_churn_then_sigkill(binary: &Path, dir: &Path, url: &str, backend: &str, pace: Pace) -> Result<()> {
    let mut server = Server::start_logging(binary, url, dir, &flags())?;
    server.ready_after()?;
    let admin = server.admin_key()?;
    let second = second_tenant(binary, url)?;
    let tenants = [churn_tenant(&server, "default", &admin)?, churn_tenant(&server, "second", &second)?];
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Churned::default()));
    let mut threads = Vec::new();
    for tenant in &tenants {
        for (n, (_, key)) in tenant.agents.iter().enumerate() {
            let (stop, seen, key, ticket, slug) =
                (stop.clone(), seen.clone(), key.clone(), tenant.ticket.clone(), tenant.slug.clone());
            threads.push(std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let nonce = format!("nonce {slug} {n} {i}");
                    let arguments = if i.is_multiple_of(2) {
                        json!({ "entryId": "tickets.comments.create", "path": { "id": ticket }, "body": { "body": nonce } })
                    } else {
                        json!({ "entryId": "tickets.list", "query": { "limit": 2 } })
                    };
                    let body = json!({ "jsonrpc": "2.0", "id": i, "method": "tools/call",
                        "params": { "name": "call_api_endpoint", "arguments": arguments } });
                    let answer = http::request(addr, "POST", "/api/mcp", &[("x-api-key", &key)], Some(&body.to_string()));
                    let Ok((200, text)) = answer else {
                        if answer.is_err() {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        continue;
                    };
                    let ok = serde_json::from_str::<Value>(&text).is_ok_and(|v| v["result"]["isError"] == false);
                    let Ok(mut seen) = seen.lock() else { return };
                    if ok {
                        seen.acknowledged += 1;
                        if i.is_multiple_of(2) {
                            seen.written.push(nonce);
                        }
                    }
                }
            }));
        }
        // The administrator: deactivates, reactivates and changes the roles of the agents.
        let (stop, admin, agents) = (stop.clone(), tenant.admin.clone(), tenant.agents.clone());
        let roles = {
            let (_, text) = http::request(addr, "GET", "/api/v1/mcp/roles", &[("x-api-key", &admin)], None)?;
            let roles: Value = serde_json::from_str(&text)?;
            let id = |name: &str| -> Result<String> {
                let all = roles["data"].as_array().context("no roles")?;
                let role = all.iter().find(|r| r["name"] == name).context("no such role")?;
                Ok(role["id"].as_str().context("no role id")?.to_owned())
            };
            [id("Technician")?, id("Read-only")?]
        };
        threads.push(std::thread::spawn(move || {
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let (id, _) = &agents[round % agents.len()];
                let change = match round % 4 {
                    0 => json!({ "active": false }),
                    1 => json!({ "active": true }),
                    2 => json!({ "role_ids": [roles[1]] }),
                    _ => json!({ "role_ids": [roles[0]] }),
                };
                let path = format!("/api/v1/mcp/agents/{id}");
                if http::request(addr, "PATCH", &path, &[("x-api-key", &admin)], Some(&change.to_string())).is_err() {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }));
    }
    std::thread::sleep(pace.steady * 2);
    server.kill()?;
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let seen = Arc::try_unwrap(seen).ok().and_then(|m| m.into_inner().ok()).context("the callers' tally is lost")?;
    drop(server);
    let again = Server::start_logging(binary, url, dir, &flags())?;
    again.ready_after()?;

    let (mut made, mut audited_creations, mut rows, mut duplicates) = (0usize, 0usize, 0usize, 0usize);
    let mut all_made = std::collections::BTreeSet::new();
    for tenant in &tenants {
        // Side effects: the comments on the tenant's ticket, by nonce.
        let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for page in 1.. {
            let path = format!("/api/v1/tickets/{}/comments?limit=100&page={page}", tenant.ticket);
            let (status, text) = http::request(again.addr, "GET", &path, &[("x-api-key", &tenant.admin)], None)?;
            ensure!(status == 200, "comments: {status} {text}");
            let list: Value = serde_json::from_str(&text)?;
            let items = list["data"].as_array().context("no comments")?;
            for c in items {
                if let Some(body) = c["body"].as_str().filter(|b| b.starts_with("nonce ")) {
                    *counts.entry(body.to_owned()).or_default() += 1;
                }
            }
            if items.len() < 100 {
                break;
            }
        }
        // The audit: every row, and the allowed comment creations by nonce.
        let mut audited: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for page in 1.. {
            let path = format!("/api/v1/mcp/audit?page_size=200&page={page}");
            let (status, text) = http::request(again.addr, "GET", &path, &[("x-api-key", &tenant.admin)], None)?;
            ensure!(status == 200, "audit: {status} {text}");
            let list: Value = serde_json::from_str(&text)?;
            let items = list["data"].as_array().context("no audit rows")?;
            for row in items {
                rows += 1;
                if row["decision"] == "allow" && row["operation_id"] == "tickets.comments.create" {
                    let args: Value = serde_json::from_str(row["arguments"].as_str().unwrap_or("{}"))?;
                    let nonce = args["body"]["body"].as_str().unwrap_or_default().to_owned();
                    *audited.entry(nonce).or_default() += 1;
                }
            }
            if items.len() < 200 {
                break;
            }
        }
        made += counts.len();
        duplicates += counts.values().filter(|n| **n > 1).count();
        audited_creations += audited.values().sum::<usize>();
        ensure!(
            counts.keys().eq(audited.keys()) && audited.values().all(|n| *n == 1),
            "{}: side effects without their audit row, or rows without their side effect",
            tenant.slug
        );
        all_made.extend(counts.into_keys());
    }
    let unaudited_acks = seen.written.iter().filter(|n| !all_made.contains(*n)).count();
    eprintln!(
        "grants changing under writes, then SIGKILL ({backend}): {made} side effects (comments found), {audited_creations} audited allowed creations, {} acknowledged calls, {rows} audit rows, {duplicates} duplicates",
        seen.acknowledged
    );
    ensure!(duplicates == 0, "{duplicates} comments were made twice");
    ensure!(made == audited_creations, "side effects {made} != audited creations {audited_creations}");
    ensure!(unaudited_acks == 0, "{unaudited_acks} acknowledged creations left no comment");
    ensure!(rows as u64 >= seen.acknowledged, "audit rows {rows} < acknowledged calls {}", seen.acknowledged);
    ensure!(made > 0, "no write went through");
    Ok(())
}
