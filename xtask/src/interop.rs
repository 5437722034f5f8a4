//! Interoperability with software we did not write, against the real enterprise server with demo
//! data:
//!
//! - over stdio: the official MCP Python SDKs (1.x, and 2.x in its `auto` and `legacy` modes) and
//!   the official TypeScript SDK drive the real `alga-mcp-connector` (`tests/interop/python_stdio.py`,
//!   `tests/interop/ts_client.mjs`);
//! - the connector's npm package, made by `cargo xtask dist`'s own code (`dist::npm_package`),
//!   installed from its tarball into an empty prefix with npm: the Python SDK runs it with `npx`
//!   (as Claude Code does) and with absolute paths and no `PATH` (as Claude Desktop does); the
//!   launcher passes exit codes and signals through, writes nothing to stdout, and on another
//!   platform says how to build from source (`tests/interop/fake_platform.cjs`);
//! - over HTTP: a real OpenID provider (npm `oidc-provider`, `tests/interop/oidc_provider.mjs`)
//!   issues client-credentials tokens for `/api/mcp`; the Python SDK 1.x (bearer header) and 2.x
//!   (`auto` with a bearer, and its own OAuth client-credentials flow from our metadata), the
//!   TypeScript SDK and the MCP Inspector CLI call the endpoint as an agent bound to that client,
//!   and the official conformance suite runs through a proxy adding that agent's token
//!   (`tests/interop/conformance-baseline.yml` lists the scenarios that need its own fixtures);
//! - policies: an administrator saves an enforced policy set through `/api/v1/mcp/policies`, and
//!   the Python SDKs 1.x and 2.x, as a governed agent, get a forbidden ticket update back as a tool
//!   error naming the policy while an allowed one goes through;
//! - approvals: an enforced approval policy met in every protocol era by the official Python SDKs
//!   (`tests/interop/python_approvals.py`) and TypeScript SDKs (`tests/interop/ts_approvals.mjs`),
//!   including tampered, replayed and altered retries and a server killed between a call and its
//!   retry.
//!
//! `--only PART` runs one part (`stdio`, `npm`, `remote`, `policies`, `approvals`) while working
//! on it; CI runs them all.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::server::Server;
use crate::{run, tools};

/// The official TypeScript SDK (runs on the machine's Node 20).
const TS_SDK: &str = "1.32.2";
/// The TypeScript SDK 2.x client package, whose `ClientCredentialsProvider` runs its own OAuth flow.
const TS_CLIENT_2: &str = "2.4.0";
const OIDC_PROVIDER: &str = "9.13.3";
const INSPECTOR: &str = "2.12.0";
const CONFORMANCE: &str = "0.1.16";

/// (virtualenv, SDK version, connect mode) for each stdio client run.
const STDIO_CLIENTS: [(&str, &str, &str); 3] =
    [("python-mcp1", "1.30.0", "auto"), ("python-mcp2", "2.3.0", "auto"), ("python-mcp2", "2.3.0", "legacy")];

/// (virtualenv, SDK version, mode) for each HTTP client run.
const HTTP_CLIENTS: [(&str, &str, &str); 3] =
    [("python-mcp1", "1.30.0", "bearer"), ("python-mcp2", "2.3.0", "bearer"), ("python-mcp2", "2.3.0", "oauth")];

pub const AGENT_CLIENT: &str = "alga-interop-agent";
/// The one scope the OpenID provider lets its clients request (`tests/interop/oidc_provider.mjs`).
pub const AGENT_SCOPE: &str = "mcp:tools";
pub const AGENT_SECRET: &str = "alga-interop-agent-secret-0123456789abcdef";

/// A part of the suite, for `cargo xtask interop --only PART`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    Stdio,
    Npm,
    Remote,
    Policies,
    Approvals,
}

/// The policy the policies part saves, the word its titles may not contain, and its source.
const POLICY_ID: &str = "no-confidential-titles";
const POLICY_WORD: &str = "confidential";
const POLICY_SOURCE: &str = r#"@id("no-confidential-titles")
@reason("Agents do not put confidential matters in ticket titles.")
forbid (principal is Alga::Agent, action == Alga::Action::"tickets.update", resource)
when { context.body has title && context.body.title like "*confidential*" };
"#;

/// Runs every part, or only `only`.
pub fn run(only: Option<Part>) -> Result<()> {
    let runs = |part: Part| only.is_none_or(|o| o == part);
    let build =
        ["build", "--locked", "-p", "alga-server", "-p", "alga-connector", "--features", "alga-server/enterprise"];
    run::status(&mut run::cargo(build))?;
    let root = tools::root();
    let binary = root.join("target/debug/alga-server");
    let connector = root.join("target/debug/alga-mcp-connector");
    let dir = std::env::temp_dir().join(format!("alga-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}/interop.db", dir.display());
    let result = (|| -> Result<()> {
        // The approvals part decides through the admin API with the administrator's key.
        let flags = [&crate::server::TEST_FLAGS[..], &["--approvals-by-api-key"]].concat();
        let mut server = Server::start(&binary, &url, &dir, &flags)?;
        let admin = server.admin_key()?;
        let readonly = user_key(&binary, &url, "readonly@interop.example", "Read-only")?;
        if runs(Part::Stdio) {
            stdio(&server, &connector, &admin, &readonly)?;
        }
        if runs(Part::Npm) {
            npm_connector(&server, &dir, &admin, &readonly)?;
        }
        if runs(Part::Remote) {
            remote(&server, &admin)?;
        }
        // Last: their policy sets are removed at their end, but a failure leaves one in place.
        if runs(Part::Policies) {
            policies(&server, &admin)?;
        }
        if runs(Part::Approvals) {
            let technician = user_key(&binary, &url, "technician@interop.example", "Technician")?;
            approvals(&mut server, &admin, &connector, &technician)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn stdio(server: &Server, connector: &Path, admin: &str, readonly: &str) -> Result<()> {
    let root = tools::root();
    for (venv, version, mode) in STDIO_CLIENTS {
        let python = tools::python_env(venv, "mcp", version)?;
        run::status(
            Command::new(python)
                .arg(root.join("tests/interop/python_stdio.py"))
                .arg(connector)
                .env("ALGA_INSTANCE_URL", format!("http://{}", server.addr))
                .env("ALGA_API_TOKEN", admin)
                .env("ALGA_READONLY_TOKEN", readonly)
                .env("ALGA_MCP_MODE", mode),
        )
        .with_context(|| format!("the MCP Python SDK {version} ({mode}) failed against the connector"))?;
    }
    let node_modules = tools::node_package("node", "@modelcontextprotocol/sdk", TS_SDK)?;
    run::status(
        Command::new("node")
            .arg(root.join("tests/interop/ts_client.mjs"))
            .arg("stdio")
            .arg(connector)
            .env("ALGA_NODE_MODULES", node_modules)
            .env("ALGA_INSTANCE_URL", format!("http://{}", server.addr))
            .env("ALGA_API_TOKEN", admin)
            .env("ALGA_READONLY_TOKEN", readonly),
    )
    .context("the MCP TypeScript SDK failed against the connector")
}

/// The connector's npm package, installed from its tarball into an empty prefix, serves the
/// official Python SDK through `npx` and through absolute paths, and its launcher is transparent.
fn npm_connector(server: &Server, dir: &Path, admin: &str, readonly: &str) -> Result<()> {
    let tarball = crate::dist::npm_package(&dir.join("npm-dist"))?;
    let prefix = dir.join("npm-prefix");
    std::fs::create_dir_all(&prefix)?;
    let path = tools::node22_path()?;
    run::status(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(&tarball)
            .env("PATH", &path),
    )?;
    let instance = format!("http://{}", server.addr);
    let sdk = |venv: &str, version: &str, command: &[&OsStr], path: &OsStr| -> Result<()> {
        let python = tools::python_env(venv, "mcp", version)?;
        run::status(
            Command::new(python)
                .arg(tools::root().join("tests/interop/python_stdio.py"))
                .args(command)
                .env("PATH", path)
                .env("ALGA_INSTANCE_URL", &instance)
                .env("ALGA_API_TOKEN", admin)
                .env("ALGA_READONLY_TOKEN", readonly)
                .env("ALGA_MCP_MODE", "auto"),
        )
        .with_context(|| format!("the MCP Python SDK {version} failed against the npm-packaged connector"))
    };
    // As Claude Code and a shell run it: npx finds it in the prefix, and --no forbids the registry.
    let npx: [&OsStr; 5] =
        ["npx".as_ref(), "--prefix".as_ref(), prefix.as_os_str(), "--no".as_ref(), "alga-mcp-connector".as_ref()];
    sdk("python-mcp2", "2.3.0", &npx, &path)?;
    // As Claude Desktop runs it: absolute paths, and a PATH where no program is found.
    let node = tools::node22()?;
    let launcher = prefix.join("node_modules/alga-mcp-connector/bin/alga-mcp-connector.js");
    let nowhere = dir.join("empty-path");
    std::fs::create_dir_all(&nowhere)?;
    sdk("python-mcp1", "1.30.0", &[node.as_os_str(), launcher.as_os_str()], nowhere.as_os_str())?;
    launcher_passes_through(&node, &launcher, &instance, admin)?;
    launcher_refuses_other_platforms(&node, &launcher)?;
    eprintln!("npm-packaged connector ({}): ok", tarball.display());
    Ok(())
}

/// The launcher ends as the connector ends: its exit code (with its message on stderr and nothing
/// on stdout), or the signal it was sent, which reaches the connector too.
fn launcher_passes_through(node: &Path, launcher: &Path, instance: &str, admin: &str) -> Result<()> {
    use std::os::unix::process::ExitStatusExt;

    let out = Command::new(node).arg(launcher).env_remove("ALGA_INSTANCE_URL").env_remove("ALGA_API_TOKEN").output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(1) || !out.stdout.is_empty() || !stderr.contains("missing environment variables") {
        bail!("without its settings the launcher ended with {} and printed {stderr:?}", out.status);
    }

    let mut child = Command::new(node)
        .arg(launcher)
        .env("ALGA_INSTANCE_URL", instance)
        .env("ALGA_API_TOKEN", admin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdin = child.stdin.take();
    let mut stderr = BufReader::new(child.stderr.take().context("no stderr")?).lines();
    // The connector says so once it has loaded the registry and reads MCP messages.
    loop {
        let line = stderr.next().context("the connector ended before it was ready")??;
        if line.contains("operations available") {
            break;
        }
    }
    let launcher_pid = child.id();
    let connector = children_of(launcher_pid)?;
    let [connector] = connector[..] else { bail!("the launcher runs {} processes, not one", connector.len()) };
    run::output(Command::new("kill").args(["-TERM", &launcher_pid.to_string()]))?;
    let status = child.wait()?;
    let still_running = Path::new(&format!("/proc/{connector}")).exists();
    drop(stdin);
    if status.signal() != Some(15) || still_running {
        bail!("after SIGTERM the launcher ended with {status} and its connector is running: {still_running}");
    }
    Ok(())
}

/// Ids of the processes whose parent is `pid`.
fn children_of(pid: u32) -> Result<Vec<u32>> {
    let (pid, mut children) = (pid.to_string(), Vec::new());
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let Some(id) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses: read after the last `)`.
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if parent == Some(pid.as_str()) {
            children.push(id);
        }
    }
    Ok(children)
}

/// On a platform the package has no binary for, the launcher exits 1 saying how to build the
/// connector from source, and writes nothing to stdout.
fn launcher_refuses_other_platforms(node: &Path, launcher: &Path) -> Result<()> {
    let preload = tools::root().join("tests/interop/fake_platform.cjs");
    for (platform, arch) in [("darwin", "arm64"), ("win32", "x64"), ("linux", "arm64")] {
        let out = Command::new(node)
            .arg("--require")
            .arg(&preload)
            .arg(launcher)
            .env("ALGA_FAKE_PLATFORM", platform)
            .env("ALGA_FAKE_ARCH", arch)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = [
            format!("no prebuilt binary for {platform}-{arch} (it has: {})", crate::dist::platform()),
            "cargo install --path crates/connector".to_owned(),
        ];
        if out.status.code() != Some(1) || !out.stdout.is_empty() || !expected.iter().all(|e| stderr.contains(e)) {
            bail!("on {platform}-{arch} the launcher ended with {} and printed {stderr:?}", out.status);
        }
    }
    Ok(())
}

/// A helper process (Node), stopped on drop.
pub struct Helper(Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `node script args` and returns it with the first JSON object it prints (its ready line;
/// notices before it are skipped).
fn start_helper(script: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(Helper, Value)> {
    let mut cmd = Command::new(tools::node22()?);
    cmd.arg(tools::root().join("tests/interop").join(script)).args(args).stdout(Stdio::piped()).stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().with_context(|| format!("cannot start {script}"))?;
    let stdout = child.stdout.take().context("no output")?;
    let helper = Helper(child);
    let mut seen = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Ok(value) = serde_json::from_str::<Value>(&line) {
            return Ok((helper, value));
        }
        seen.push_str(&line);
        seen.push('\n');
    }
    bail!("{script} did not start:\n{seen}")
}

/// The OpenID provider, with a client-credentials token it minted for `resource`: (process,
/// issuer, token).
pub fn start_provider(resource: &str) -> Result<(Helper, String, String)> {
    let modules = tools::node_package("oidc", "oidc-provider", OIDC_PROVIDER)?;
    let clients = json!([{ "client_id": AGENT_CLIENT, "client_secret": AGENT_SECRET }]).to_string();
    let modules = modules.display().to_string();
    let env =
        [("ALGA_OIDC_MODULES", modules.as_str()), ("ALGA_OIDC_CLIENTS", &clients), ("ALGA_TOKEN_RESOURCE", resource)];
    let (helper, ready) = start_helper("oidc_provider.mjs", &[], &env)?;
    let (Some(issuer), Some(token)) = (ready["issuer"].as_str(), ready["access_token"].as_str()) else {
        bail!("the OpenID provider gave no issuer or token: {ready}");
    };
    Ok((helper, issuer.to_owned(), token.to_owned()))
}

/// The official conformance suite, through a proxy that adds the agent's token; the baseline
/// lists the scenarios that need the suite's own fixtures.
fn conformance(server: &Server, bearer: &str) -> Result<()> {
    let modules = tools::node_package("conformance", "@modelcontextprotocol/conformance", CONFORMANCE)?;
    let origin = format!("http://{}", server.addr);
    let (_proxy, ready) = start_helper("auth_proxy.mjs", &[&origin], &[("ALGA_BEARER", bearer)])?;
    let proxy = ready["url"].as_str().context("the proxy printed no URL")?;
    let out = std::env::temp_dir().join(format!("alga-conformance-{}", std::process::id()));
    let result = run::status(
        Command::new(tools::node22()?)
            .arg(modules.join("@modelcontextprotocol/conformance/dist/index.js"))
            .args(["server", "--url", &format!("{proxy}/api/mcp"), "--expected-failures"])
            .arg(tools::root().join("tests/interop/conformance-baseline.yml"))
            .arg("-o")
            .arg(&out),
    )
    .context("the MCP conformance suite found failures beyond its baseline");
    let _ = std::fs::remove_dir_all(&out);
    result
}

/// An agent with the Technician role, bound to a client of a freshly started OpenID provider that
/// the server now trusts: (the provider, its issuer, a token for `/api/mcp`, the agent's id).
pub fn governed_agent(server: &Server, admin: &str) -> Result<(Helper, String, String, String)> {
    let endpoint = format!("http://{}/api/mcp", server.addr);
    let (provider, issuer, bearer) = start_provider(&endpoint)?;
    let idp = admin_call(
        server,
        admin,
        "POST",
        "/api/v1/mcp/idp-providers",
        // The scope its clients request, advertised to them, and required of their tokens.
        Some(json!({ "kind": "custom", "issuer": issuer, "scopes": [AGENT_SCOPE], "required_scopes": [AGENT_SCOPE] })),
    )?;
    let technician = technician_role(server, admin)?;
    let agent = json!({ "name": "Interop agent", "idp_id": idp["data"]["id"], "subject": AGENT_CLIENT, "role_ids": [technician] });
    let agent = admin_call(server, admin, "POST", "/api/v1/mcp/agents", Some(agent))?;
    let id = agent["data"]["id"].as_str().context("no agent id")?.to_owned();
    Ok((provider, issuer, bearer, id))
}

/// The id of the tenant's built-in Technician role.
pub fn technician_role(server: &Server, admin: &str) -> Result<String> {
    let roles = admin_call(server, admin, "GET", "/api/v1/mcp/roles", None)?;
    let id = roles["data"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "Technician"))
        .and_then(|r| r["id"].as_str());
    Ok(id.context("no Technician role")?.to_owned())
}

/// A JSON call to the admin API; an error status is an error.
pub fn admin_call(server: &Server, admin: &str, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
    let body = body.map(|b| b.to_string());
    let (status, text) = crate::http::request(server.addr, method, path, &[("x-api-key", admin)], body.as_deref())?;
    if !(200..300).contains(&status) {
        bail!("{method} {path}: {status} {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

fn remote(server: &Server, admin: &str) -> Result<()> {
    let root = tools::root();
    let endpoint = format!("http://{}/api/mcp", server.addr);
    let (_provider, issuer, bearer, _) = governed_agent(server, admin)?;

    for (venv, version, mode) in HTTP_CLIENTS {
        let python = tools::python_env(venv, "mcp", version)?;
        run::status(
            Command::new(python)
                .arg(root.join("tests/interop/python_remote.py"))
                .args([&endpoint, mode])
                .env("ALGA_BEARER", &bearer)
                .env("ALGA_OAUTH_ISSUER", &issuer)
                .env("ALGA_OAUTH_CLIENT_ID", AGENT_CLIENT)
                .env("ALGA_OAUTH_CLIENT_SECRET", AGENT_SECRET),
        )
        .with_context(|| format!("the MCP Python SDK {version} ({mode}) failed against /api/mcp"))?;
    }
    let node_modules = tools::node_package("node", "@modelcontextprotocol/sdk", TS_SDK)?;
    run::status(
        Command::new("node")
            .arg(root.join("tests/interop/ts_client.mjs"))
            .args(["http", &endpoint])
            .env("ALGA_NODE_MODULES", node_modules)
            .env("ALGA_BEARER", &bearer),
    )
    .context("the MCP TypeScript SDK failed against /api/mcp")?;
    let client_modules = tools::node_package("node-client2", "@modelcontextprotocol/client", TS_CLIENT_2)?;
    run::status(
        Command::new("node")
            .arg(root.join("tests/interop/ts_oauth.mjs"))
            .arg(&endpoint)
            .env("ALGA_NODE_MODULES", client_modules)
            .env("ALGA_OAUTH_ISSUER", &issuer)
            .env("ALGA_OAUTH_CLIENT_ID", AGENT_CLIENT)
            .env("ALGA_OAUTH_CLIENT_SECRET", AGENT_SECRET),
    )
    .context("the MCP TypeScript SDK 2.x client-credentials flow failed against /api/mcp")?;
    inspector(&endpoint, &bearer)?;
    conformance(server, &bearer)
}

/// An enforced policy set saved through the admin API decides the calls of the official Python SDKs
/// (1.x and 2.x) as a governed agent: the forbidden update is a tool error naming the policy, an
/// allowed one goes through. The set is removed afterwards.
fn policies(server: &Server, admin: &str) -> Result<()> {
    let endpoint = format!("http://{}/api/mcp", server.addr);
    let (_provider, _, bearer, _) = governed_agent(server, admin)?;
    let saved = save_policies(server, admin, POLICY_SOURCE)?;
    let ids: Vec<&str> = saved["data"]["policies"]
        .as_array()
        .map(|p| p.iter().filter_map(|p| p["id"].as_str()).collect())
        .unwrap_or_default();
    if ids != [POLICY_ID] || saved["data"]["mode"] != "enforce" {
        bail!("the saved policy set is not the one sent: {saved}");
    }
    for (venv, version) in [("python-mcp1", "1.30.0"), ("python-mcp2", "2.3.0")] {
        let python = tools::python_env(venv, "mcp", version)?;
        run::status(
            Command::new(python)
                .arg(tools::root().join("tests/interop/python_remote.py"))
                .args([&endpoint, "bearer", "policies"])
                .env("ALGA_BEARER", &bearer)
                .env("ALGA_POLICY_ID", POLICY_ID)
                .env("ALGA_POLICY_WORD", POLICY_WORD),
        )
        .with_context(|| format!("the MCP Python SDK {version} under an enforced policy set failed"))?;
    }
    remove_policies(server, admin, &saved)?;
    eprintln!("policies through the MCP Python SDKs: ok");
    Ok(())
}

/// Saves `source` as the tenant's enforced policy set, returning the saved set.
fn save_policies(server: &Server, admin: &str, source: &str) -> Result<Value> {
    let current = admin_call(server, admin, "GET", "/api/v1/mcp/policies", None)?;
    let expected = current["data"]["version"].as_i64().context("no current policy version")?;
    let body = json!({ "source": source, "mode": "enforce", "expected_version": expected });
    admin_call(server, admin, "PUT", "/api/v1/mcp/policies", Some(body))
}

/// Removes the set [`save_policies`] saved.
fn remove_policies(server: &Server, admin: &str, saved: &Value) -> Result<()> {
    let version = saved["data"]["version"].as_i64().context("no saved policy version")?;
    admin_call(server, admin, "DELETE", &format!("/api/v1/mcp/policies?expected_version={version}"), None)?;
    Ok(())
}

/// The approval policy the approvals part saves: a person approves ticket titles that say so,
/// whoever asks (agents, and users through the connector).
const APPROVAL_SOURCE: &str = r#"@id("titles-need-approval")
@approval("required")
permit (principal, action == Alga::Action::"tickets.update", resource)
when { context.body has title && context.body.title like "*approval needed*" };
"#;

/// An enforced approval policy met by the official SDKs as a governed agent, in every era:
/// Python 2.x and the TypeScript client 2.x in 2026-07-28 complete one call through their
/// URL-elicitation handler (approved, and denied), and the TypeScript client has a tampered state,
/// a retry with other arguments and a replayed retry refused; Python 1.x and 2.x, the TypeScript
/// SDK 1.x and client 2.x in 2025-11-25 get -32042, and the identical retry runs once approved;
/// the TypeScript client offering only 2025-06-18 gets a tool error, and the identical retry runs
/// once approved. The Python SDKs do the same through the connector (stdio), as a Technician user.
/// Last, the server is killed and started again between a 2026-07-28 call and its retry, and the
/// approved retry runs. The set is removed afterwards.
fn approvals(server: &mut Server, admin: &str, connector: &Path, technician: &str) -> Result<()> {
    let endpoint = format!("http://{}/api/mcp", server.addr);
    let (_provider, _, bearer, _) = governed_agent(server, admin)?;
    let saved = save_policies(server, admin, APPROVAL_SOURCE)?;
    let env = [
        ("ALGA_BEARER", bearer.as_str()),
        ("ALGA_ADMIN_URL", &format!("http://{}", server.addr)),
        ("ALGA_ADMIN_KEY", admin),
    ];
    let stdio = format!("stdio:{}", connector.display());
    for target in [&endpoint, &stdio] {
        for (venv, version, mode) in [
            ("python-mcp2", "2.3.0", "modern"),
            ("python-mcp2", "2.3.0", "legacy"),
            ("python-mcp1", "1.30.0", "legacy"),
        ] {
            let python = tools::python_env(venv, "mcp", version)?;
            run::status(
                Command::new(python)
                    .arg(tools::root().join("tests/interop/python_approvals.py"))
                    .args([target, mode])
                    .envs(env)
                    .env("ALGA_INSTANCE_URL", format!("http://{}", server.addr))
                    .env("ALGA_API_TOKEN", technician),
            )
            .with_context(|| format!("the MCP Python SDK {version} ({mode}) failed at an approval gate ({target})"))?;
        }
    }
    let typescript = |flavour: &str, mode: &str| -> Result<Command> {
        let modules = match flavour {
            "sdk1" => tools::node_package("node", "@modelcontextprotocol/sdk", TS_SDK)?,
            _ => tools::node_package("node-client2", "@modelcontextprotocol/client", TS_CLIENT_2)?,
        };
        let mut command = Command::new(tools::node22()?);
        command
            .arg(tools::root().join("tests/interop/ts_approvals.mjs"))
            .args([&endpoint, mode])
            .env("ALGA_CLIENT", flavour)
            .env("ALGA_NODE_MODULES", modules)
            .envs(env);
        Ok(command)
    };
    for (flavour, mode) in [("client2", "modern"), ("client2", "legacy"), ("sdk1", "legacy"), ("client2", "old")] {
        run::status(&mut typescript(flavour, mode)?)
            .with_context(|| format!("the MCP TypeScript {flavour} ({mode}) failed at an approval gate"))?;
    }
    across_a_restart(server, typescript("client2", "restart")?)?;
    remove_policies(server, admin, &saved)?;
    eprintln!("approvals through the MCP Python and TypeScript SDKs: ok");
    Ok(())
}

/// Runs the `restart` mode of `tests/interop/ts_approvals.mjs`: when its handler asks (a line
/// `{"restart": ID}`), the server is killed and started again, and the handler is told so.
fn across_a_restart(server: &mut Server, mut command: Command) -> Result<()> {
    use std::io::Write;

    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut helper = Helper(child);
    let mut restarts = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if serde_json::from_str::<Value>(&line).is_ok_and(|v| v["restart"].is_string()) {
            server.restart()?;
            restarts += 1;
            writeln!(stdin, "restarted")?;
        }
    }
    let status = helper.0.wait()?;
    if !status.success() || restarts != 1 {
        bail!("the approved retry across a restart failed ({status}, {restarts} restarts)");
    }
    Ok(())
}

/// The MCP Inspector's CLI (Node 22) lists the tools and calls one.
fn inspector(endpoint: &str, bearer: &str) -> Result<()> {
    let node = tools::node22()?;
    let modules = tools::node_package("inspector", "@modelcontextprotocol/inspector", INSPECTOR)?;
    let cli = modules.join("@modelcontextprotocol/inspector/clients/launcher/build/index.js");
    let home = std::env::temp_dir().join(format!("alga-inspector-{}", std::process::id()));
    std::fs::create_dir_all(&home)?;
    let auth = format!("Authorization: Bearer {bearer}");
    let inspect = |extra: &[&str]| -> Result<Value> {
        let mut cmd = Command::new(&node);
        cmd.arg(&cli)
            .args(["--cli", endpoint, "--transport", "http", "--header", &auth, "--stored-auth-only", "-q"])
            .args(extra)
            .env("HOME", &home)
            .env("PATH", node.parent().map(|p| p.display().to_string()).unwrap_or_default() + ":/usr/bin:/bin");
        let out = run::output(&mut cmd)?;
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("the Inspector printed no JSON: {}", String::from_utf8_lossy(&out.stdout)))
    };
    let tools = inspect(&["--method", "tools/list"])?;
    let names: Vec<&str> =
        tools["tools"].as_array().map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect()).unwrap_or_default();
    if names != ["search_api_registry", "search_business_data", "call_api_endpoint"] {
        bail!("the Inspector listed {names:?}");
    }
    let called =
        inspect(&["--method", "tools/call", "--tool-name", "call_api_endpoint", "--tool-arg", "entryId=tickets.list"])?;
    if called["isError"] == true || called["structuredContent"]["status"] != 200 {
        bail!("the Inspector's tools/call failed: {called}");
    }
    let _ = std::fs::remove_dir_all(&home);
    eprintln!("MCP Inspector {INSPECTOR} CLI over HTTP: ok");
    Ok(())
}

/// An API key of a new user with `role`, made with the server's own CLI.
fn user_key(binary: &Path, url: &str, email: &str, role: &str) -> Result<String> {
    run::output(Command::new(binary).args([
        "user",
        "create",
        "--tenant",
        "default",
        "--email",
        email,
        "--role",
        role,
        "--database-url",
        url,
    ]))?;
    let out = run::output(Command::new(binary).args([
        "api-key",
        "create",
        "--tenant",
        "default",
        "--user",
        email,
        "--database-url",
        url,
    ]))?;
    String::from_utf8_lossy(&out.stdout).lines().last().map(|l| l.trim().to_owned()).context("no key printed")
}
