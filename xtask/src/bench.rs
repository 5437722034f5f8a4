//! `cargo xtask bench`: measurements that print figures (never assertions).
//!
//! Registry search quality and speed (`alga-api`'s `registry_bench` example); JWT verifications
//! and audit rows per second (`alga-ee-mcp`'s `governance_bench` example); then, on a release
//! build of the enterprise server with `wrk` beside it on this machine, a ticket read made
//! directly over REST and the same read as a governed MCP `tools/call` (agent JWT, agent API key),
//! with requests/s, p50, p99, the server's peak memory and the governed/direct ratio, on SQLite and
//! on a throwaway PostgreSQL; a ticket update made directly and as a governed `tools/call`, in
//! alternating rounds; and the time from start to ready and the idle memory on SQLite.

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

pub fn run(policies_only: bool) -> Result<()> {
    prereq::ensure_build_tools()?;
    prereq::ensure_debian_tool("wrk", "wrk")?;
    if policies_only {
        return policies_only_run();
    }
    eprintln!("\n==> registry search");
    run::status(&mut run::cargo(["run", "--release", "--locked", "-p", "alga-api", "--example", "registry_bench"]))?;
    let pg = TempPostgres::start()?;
    eprintln!("\n==> JWT verification and audit writes");
    let mut example =
        run::cargo(["run", "--release", "--locked", "-p", "alga-ee-mcp", "--example", "governance_bench"]);
    run::status(example.env("ALGA_TEST_DATABASE_URL", pg.url()))?;
    run::status(&mut run::cargo(["build", "--release", "--locked", "-p", "alga-server", "--features", "enterprise"]))?;
    let binary = tools::root().join("target/release/alga-server");
    eprintln!("\n==> start-up and idle memory (SQLite)");
    let startup = startup(&binary)?;
    let (mut rows, mut costs) = (Vec::new(), Vec::new());
    let sqlite_dir = tempdir("alga-bench-sqlite")?;
    let sqlite_url = format!("sqlite://{}/bench.db", sqlite_dir.display());
    let (measured, cost) = measure(&binary, "SQLite", &sqlite_url)?;
    rows.extend(measured);
    costs.extend(cost);
    let _ = std::fs::remove_dir_all(&sqlite_dir);
    let (measured, cost) = measure(&binary, "PostgreSQL", &pg.url())?;
    rows.extend(measured);
    costs.extend(cost);
    drop(pg);

    println!("\n| database | request | requests/s | p50 | p99 | server peak RSS | vs direct |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        // Governed writes compare with the direct write, governed reads with the direct read.
        let baseline = if r.request == GOVERNED_WRITE { DIRECT_WRITE } else { DIRECT };
        let direct = rows.iter().find(|d| d.database == r.database && d.request == baseline).map_or(0.0, |d| d.rps);
        let ratio =
            if r.request.starts_with("MCP") && direct > 0.0 { format!("{:.2}", r.rps / direct) } else { String::new() };
        println!(
            "| {} | {} | {:.0} | {} | {} | {:.1} MB | {ratio} |",
            r.database, r.request, r.rps, r.p50, r.p99, r.peak_mb
        );
    }
    println!(
        "\n{CONNECTIONS} connections, {SECONDS} s per run, wrk with 2 threads on the same machine ({} cores).",
        cores()
    );
    print_policy_costs(&costs);
    println!("\n{startup}");
    Ok(())
}

/// Only the governed read and write under 0, 20 and 200 policies, on SQLite and PostgreSQL.
fn policies_only_run() -> Result<()> {
    run::status(&mut run::cargo(["build", "--release", "--locked", "-p", "alga-server", "--features", "enterprise"]))?;
    let binary = tools::root().join("target/release/alga-server");
    let pg = TempPostgres::start()?;
    let sqlite_dir = tempdir("alga-bench-sqlite")?;
    let sqlite_url = format!("sqlite://{}/bench.db", sqlite_dir.display());
    let mut costs = Vec::new();
    for (database, url) in [("SQLite", sqlite_url.as_str()), ("PostgreSQL", pg.url().as_str())] {
        let dir = tempdir("alga-bench-server")?;
        let fixture = Fixture::start(&binary, url, &dir)?;
        costs.extend(policy_costs(&fixture, database)?);
        drop(fixture);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&sqlite_dir);
    drop(pg);
    print_policy_costs(&costs);
    Ok(())
}

fn print_policy_costs(costs: &[PolicyCost]) {
    println!(
        "\n| database | active policies | governed read/s | vs none | server CPU per read | vs none | governed write/s | vs none | server CPU per write | vs none |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let rps = |r: &(f64, f64)| r.0;
    let cpu = |r: &(f64, f64)| r.1;
    for r in costs {
        let Some(none) = costs.iter().find(|n| n.database == r.database && n.policies == 0) else { continue };
        let of = |v: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| median(v.iter().map(pick).collect());
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.0} µs | {:.2} | {:.0} | {:.2} | {:.0} µs | {:.2} |",
            r.database,
            r.policies,
            of(&r.reads, rps),
            paired(&r.reads, &none.reads, rps),
            of(&r.reads, cpu),
            paired(&r.reads, &none.reads, cpu),
            of(&r.writes, rps),
            paired(&r.writes, &none.writes, rps),
            of(&r.writes, cpu),
            paired(&r.writes, &none.writes, cpu),
        );
    }
    println!(
        "\nPolicies: forbids scoped to both calls' actions whose conditions (the ticket's client's tags, \
         its priority, the agent's teams) never match, so every one is evaluated; agent API key. Server CPU \
         per call: the server process's user and system time over the run, divided by the calls it answered. \
         Figures are medians of {POLICY_ROUNDS} alternating rounds; \"vs none\" is the median of each round's \
         ratio to the same round's figure with no policies."
    );
}

/// Time from spawn to the first 200 from `/readyz` on SQLite (a new database, which the server
/// creates, migrates and fills with demo data; then the same database again), and the resident
/// memory of the second server after a few idle seconds.
fn startup(binary: &Path) -> Result<String> {
    let dir = tempdir("alga-bench-startup")?;
    let url = format!("sqlite://{}/startup.db", dir.display());
    let first = Server::start(binary, &url, &dir, &[])?;
    let new_database = first.ready_after()?;
    drop(first);
    let again = Server::start(binary, &url, &dir, &[])?;
    let existing_database = again.ready_after()?;
    std::thread::sleep(std::time::Duration::from_secs(3));
    let idle_mb = again.resident_mb();
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(format!(
        "start to ready (SQLite): new database (migrations and demo data) {:.0} ms, existing database {:.0} ms; \
         resident memory after 3 s idle: {idle_mb:.1} MB",
        new_database.as_secs_f64() * 1000.0,
        existing_database.as_secs_f64() * 1000.0,
    ))
}

struct Row {
    database: &'static str,
    request: &'static str,
    rps: f64,
    p50: String,
    p99: String,
    peak_mb: f64,
}

const DIRECT: &str = "GET /api/v1/tickets/{id}";
const DIRECT_WRITE: &str = "PUT /api/v1/tickets/{id}";
const GOVERNED_WRITE: &str = "MCP tools/call → tickets.update (agent API key)";
/// Alternating rounds of the direct and the governed write; each reports its median.
const WRITE_ROUNDS: usize = 3;

/// The governed read and write (agent API key) with this many active policies, per round:
/// requests per second, and the server's CPU time per call (µs).
struct PolicyCost {
    database: &'static str,
    policies: usize,
    reads: Vec<(f64, f64)>,
    writes: Vec<(f64, f64)>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The median over rounds of `pick(this round) / pick(the same round with no policies)`: the
/// rounds alternate, so pairing them cancels the drift between rounds.
fn paired(rounds: &[(f64, f64)], none: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64) -> f64 {
    median(rounds.iter().zip(none).filter(|(_, n)| pick(n) > 0.0).map(|(r, n)| pick(r) / pick(n)).collect())
}

/// Policy counts measured, in alternating rounds like the writes.
const POLICY_COUNTS: [usize; 3] = [0, 20, 200];

/// `count` forbids that apply to the bench's read and write (so none is skipped by its scope)
/// but whose conditions never hold for the bench's ticket and agent.
fn policies(count: usize) -> String {
    (0..count)
        .map(|i| {
            let condition = match i % 3 {
                0 => format!("resource.client.tags.contains(\"blocked-{i}\")"),
                1 => format!("principal.teams.contains(\"team-{i}\") && resource.priority == \"P{i}\""),
                _ => format!("resource.status == \"status-{i}\" || resource.tags.contains(\"frozen-{i}\")"),
            };
            format!(
                "@id(\"bench-{i}\")\nforbid (principal is Alga::Agent, action in [Alga::Action::\"tickets.get\", \
                 Alga::Action::\"tickets.update\"], resource is Alga::Ticket) when {{ {condition} }};\n"
            )
        })
        .collect()
}

/// Replaces the tenant's policy set with `count` bench policies in enforce mode.
fn set_policies(server: &Server, admin: &str, count: usize) -> Result<()> {
    let current = crate::interop::admin_call(server, admin, "GET", "/api/v1/mcp/policies", None)?;
    let version = current["data"]["version"].as_i64().context("no policy version")?;
    if count == 0 {
        crate::interop::admin_call(
            server,
            admin,
            "DELETE",
            &format!("/api/v1/mcp/policies?expected_version={version}"),
            None,
        )?;
    } else {
        let body = serde_json::json!({ "source": policies(count), "mode": "enforce", "expected_version": version });
        crate::interop::admin_call(server, admin, "PUT", "/api/v1/mcp/policies", Some(body))?;
    }
    Ok(())
}

/// A server with demo data, an agent with an API key, and the governed read and write it makes.
struct Fixture {
    server: Server,
    /// The administrator's key.
    key: String,
    id: String,
    jwt: String,
    agent_key: String,
    call: String,
    write: String,
    _provider: Box<dyn std::any::Any>,
}

impl Fixture {
    fn start(binary: &Path, url: &str, dir: &Path) -> Result<Fixture> {
        let server = Server::start(binary, url, dir, &crate::server::TEST_FLAGS)?;
        let key = server.admin_key()?;
        let (_, list) =
            crate::http::request(server.addr, "GET", "/api/v1/tickets?limit=1", &[("x-api-key", &key)], None)?;
        let id = list
            .split("\"id\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .context("no ticket in the demo data")?
            .to_owned();
        let (provider, _, jwt, agent) = crate::interop::governed_agent(&server, &key)?;
        // Agent keys live at most a year.
        let expires =
            (chrono::Utc::now() + chrono::Duration::days(360)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let issued = crate::interop::admin_call(
            &server,
            &key,
            "POST",
            &format!("/api/v1/mcp/agents/{agent}/keys"),
            Some(serde_json::json!({ "expires_at": expires })),
        )?;
        let agent_key = issued["data"]["key"].as_str().context("no agent key")?.to_owned();
        let call = serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "call_api_endpoint", "arguments": { "entryId": "tickets.get", "path": { "id": id } } }
        })
        .to_string();
        let write = serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "call_api_endpoint", "arguments": {
                "entryId": "tickets.update", "path": { "id": id }, "body": { "title": "Printer offline in accounting (governed bench)" } } }
        })
        .to_string();
        Ok(Fixture { server, key, id, jwt, agent_key, call, write, _provider: Box::new(provider) })
    }

    /// [`Fixture::governed`], with the server's CPU time per call in µs.
    fn governed_cpu(&self, credential: &str, call: &str) -> Result<(f64, f64)> {
        let before = self.server.cpu_seconds();
        let (rps, _, _) = self.governed(credential, call)?;
        let calls = rps * f64::from(SECONDS);
        let cpu = if calls > 0.0 { (self.server.cpu_seconds() - before) / calls * 1e6 } else { 0.0 };
        Ok((rps, cpu))
    }

    /// A governed call with this credential, checked once, then measured.
    fn governed(&self, credential: &str, call: &str) -> Result<(f64, String, String)> {
        let headers = [format!("Authorization: {credential}"), "Content-Type: application/json".to_owned()];
        let probe =
            crate::http::request(self.server.addr, "POST", "/api/mcp", &[("Authorization", credential)], Some(call))?;
        if probe.0 != 200 || probe.1.contains("\"isError\":true") {
            bail!("the governed call does not succeed: {} {}", probe.0, probe.1);
        }
        // Every answer is checked by the probe above; wrk counts HTTP statuses only.
        wrk(self.server.addr, "/api/mcp", &headers, Some(("POST", call)))
    }
}

/// Rounds of the policy-cost runs; each count keeps its median round.
const POLICY_ROUNDS: usize = 5;

/// The same governed read and write under 0, 20 and 200 active policies, in alternating rounds.
fn policy_costs(f: &Fixture, database: &'static str) -> Result<Vec<PolicyCost>> {
    let agent = format!("Bearer {}", f.agent_key);
    // Per count: the read and write rounds, each (requests/s, server CPU µs per call).
    type Rounds = Vec<(f64, f64)>;
    let mut runs: Vec<(usize, Rounds, Rounds)> = POLICY_COUNTS.iter().map(|&c| (c, Vec::new(), Vec::new())).collect();
    for _ in 0..POLICY_ROUNDS {
        for (count, reads, writes) in &mut runs {
            set_policies(&f.server, &f.key, *count)?;
            reads.push(f.governed_cpu(&agent, &f.call)?);
            writes.push(f.governed_cpu(&agent, &f.write)?);
        }
    }
    set_policies(&f.server, &f.key, 0)?;
    let mut costs = Vec::new();
    for (policies, reads, writes) in runs {
        let shown = |v: &Rounds| v.iter().map(|(r, c)| format!("{r:.0}/s {c:.0} µs")).collect::<Vec<_>>().join(", ");
        eprintln!("{database}, {policies} policies: reads {}; writes {}", shown(&reads), shown(&writes));
        costs.push(PolicyCost { database, policies, reads, writes });
    }
    Ok(costs)
}

fn measure(binary: &Path, database: &'static str, url: &str) -> Result<(Vec<Row>, Vec<PolicyCost>)> {
    let dir = tempdir("alga-bench-server")?;
    let f = Fixture::start(binary, url, &dir)?;
    let (server, key, id) = (&f.server, &f.key, &f.id);
    let mut rows = Vec::new();
    for (request, path) in [
        (DIRECT, format!("/api/v1/tickets/{id}")),
        ("GET /api/v1/tickets?limit=25", "/api/v1/tickets?limit=25".to_owned()),
    ] {
        let (rps, p50, p99) = wrk(server.addr, &path, &[format!("x-api-key: {key}")], None)?;
        rows.push(Row { database, request, rps, p50, p99, peak_mb: server.peak_mb() });
    }
    let update = r#"{"title":"Printer offline in accounting (bench)"}"#;
    // The same read through the governed endpoint: authentication, RBAC, dispatch and audit row.
    for (request, credential) in [
        ("MCP tools/call → ticket (agent JWT)", format!("Bearer {}", f.jwt)),
        ("MCP tools/call → ticket (agent API key)", format!("Bearer {}", f.agent_key)),
    ] {
        let (rps, p50, p99) = f.governed(&credential, &f.call)?;
        rows.push(Row { database, request, rps, p50, p99, peak_mb: server.peak_mb() });
    }
    // A write: the ticket's title, directly (its own transaction) and governed (the same
    // transaction also reads the caller's current grants and inserts the audit row). Each
    // database's write speed drifts as its log and tables grow, so the two alternate, and each
    // keeps its median round.
    let headers = [format!("x-api-key: {key}"), "Content-Type: application/json".to_owned()];
    let (mut direct, mut audited) = (Vec::new(), Vec::new());
    for _ in 0..WRITE_ROUNDS {
        direct.push(wrk(server.addr, &format!("/api/v1/tickets/{id}"), &headers, Some(("PUT", update)))?);
        audited.push(f.governed(&format!("Bearer {}", f.agent_key), &f.write)?);
    }
    for (request, mut runs) in [(DIRECT_WRITE, direct), (GOVERNED_WRITE, audited)] {
        eprintln!(
            "{database} {request}: {}",
            runs.iter().map(|r| format!("{:.0}/s", r.0)).collect::<Vec<_>>().join(", ")
        );
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (rps, p50, p99) = runs.swap_remove(runs.len() / 2);
        rows.push(Row { database, request, rps, p50, p99, peak_mb: server.peak_mb() });
    }
    let costs = policy_costs(&f, database)?;
    drop(f);
    let _ = std::fs::remove_dir_all(&dir);
    Ok((rows, costs))
}

/// wrk against `path` with these headers; with a method and body, every request sends them.
fn wrk(addr: SocketAddr, path: &str, headers: &[String], body: Option<(&str, &str)>) -> Result<(f64, String, String)> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{SECONDS}s"), "--latency"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let script = tempdir("alga-bench-wrk")?.join("post.lua");
    if let Some((method, body)) = body {
        let quoted = body.replace('\\', "\\\\").replace('\'', "\\'");
        std::fs::write(&script, format!("wrk.method = \"{method}\"\nwrk.body = '{quoted}'\n"))?;
        cmd.arg("-s").arg(&script);
    }
    let out = run::output(cmd.arg(format!("http://{addr}{path}")))?;
    if let Some(dir) = script.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
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
