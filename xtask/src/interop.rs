//! Interoperability with software we did not write, against the real enterprise server with demo
//! data:
//!
//! - over stdio: the official MCP Python SDKs (1.x, and 2.x in its `auto` and `legacy` modes) and
//!   the official TypeScript SDK drive the real `alga-mcp-connector` (`tests/interop/python_stdio.py`,
//!   `tests/interop/ts_client.mjs`);
//! - over HTTP: a real OpenID provider (npm `oidc-provider`, `tests/interop/oidc_provider.mjs`)
//!   issues client-credentials tokens for `/api/mcp`; the Python SDK 1.x (bearer header) and 2.x
//!   (`auto` with a bearer, and its own OAuth client-credentials flow from our metadata), the
//!   TypeScript SDK and the MCP Inspector CLI call the endpoint as an agent bound to that client.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::server::Server;
use crate::{run, tools};

/// The official TypeScript SDK (runs on the machine's Node 20).
const TS_SDK: &str = "1.32.2";
const OIDC_PROVIDER: &str = "9.13.3";
const INSPECTOR: &str = "2.12.0";

/// (virtualenv, SDK version, connect mode) for each stdio client run.
const STDIO_CLIENTS: [(&str, &str, &str); 3] =
    [("python-mcp1", "1.30.0", "auto"), ("python-mcp2", "2.3.0", "auto"), ("python-mcp2", "2.3.0", "legacy")];

/// (virtualenv, SDK version, mode) for each HTTP client run.
const HTTP_CLIENTS: [(&str, &str, &str); 3] =
    [("python-mcp1", "1.30.0", "bearer"), ("python-mcp2", "2.3.0", "bearer"), ("python-mcp2", "2.3.0", "oauth")];

const AGENT_CLIENT: &str = "alga-interop-agent";
const AGENT_SECRET: &str = "alga-interop-agent-secret-0123456789abcdef";

pub fn run() -> Result<()> {
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
        let server = Server::start_with(&binary, &url, &dir, &["--allow-insecure-idp-urls"])?;
        let admin = server.admin_key()?;
        stdio(&server, &binary, &url, &connector, &admin)?;
        remote(&server, &admin)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn stdio(server: &Server, binary: &Path, url: &str, connector: &Path, admin: &str) -> Result<()> {
    let root = tools::root();
    let readonly = readonly_key(binary, url)?;
    for (venv, version, mode) in STDIO_CLIENTS {
        let python = tools::python_env(venv, "mcp", version)?;
        run::status(
            Command::new(python)
                .arg(root.join("tests/interop/python_stdio.py"))
                .arg(connector)
                .env("ALGA_INSTANCE_URL", format!("http://{}", server.addr))
                .env("ALGA_API_TOKEN", admin)
                .env("ALGA_READONLY_TOKEN", &readonly)
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
            .env("ALGA_READONLY_TOKEN", &readonly),
    )
    .context("the MCP TypeScript SDK failed against the connector")
}

/// The OpenID provider process, stopped on drop.
struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the provider; it also mints a client-credentials token for `resource`.
fn start_provider(resource: &str) -> Result<(Provider, String)> {
    let node = tools::node22()?;
    let modules = tools::node_package("oidc", "oidc-provider", OIDC_PROVIDER)?;
    let clients = json!([{ "client_id": AGENT_CLIENT, "client_secret": AGENT_SECRET }]).to_string();
    let mut child = Command::new(node)
        .arg(tools::root().join("tests/interop/oidc_provider.mjs"))
        .env("ALGA_OIDC_MODULES", modules)
        .env("ALGA_OIDC_CLIENTS", clients)
        .env("ALGA_TOKEN_RESOURCE", resource)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the OpenID provider")?;
    let stdout = child.stdout.take().context("no provider output")?;
    // It prints notices first; the ready line is the first JSON object.
    let mut seen = String::new();
    let mut ready = None;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Ok(value) = serde_json::from_str::<Value>(&line) {
            ready = Some((value, line));
            break;
        }
        seen.push_str(&line);
        seen.push('\n');
    }
    let (ready, line) = ready.with_context(|| format!("the OpenID provider did not start:\n{seen}"))?;
    let (Some(issuer), Some(token)) = (ready["issuer"].as_str(), ready["access_token"].as_str()) else {
        bail!("the OpenID provider gave no issuer or token: {line}");
    };
    Ok((Provider { child, issuer: issuer.to_owned() }, token.to_owned()))
}

fn remote(server: &Server, admin: &str) -> Result<()> {
    let root = tools::root();
    let endpoint = format!("http://{}/api/mcp", server.addr);
    let (provider, bearer) = start_provider(&endpoint)?;
    let call = |method: &str, path: &str, body: Option<Value>| -> Result<Value> {
        let body = body.map(|b| b.to_string());
        let (status, text) = crate::http::request(server.addr, method, path, &[("x-api-key", admin)], body.as_deref())?;
        if !(200..300).contains(&status) {
            bail!("{method} {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text)?)
    };
    let idp = call("POST", "/api/v1/mcp/idp-providers", Some(json!({ "kind": "custom", "issuer": provider.issuer })))?;
    let roles = call("GET", "/api/v1/mcp/roles", None)?;
    let technician = roles["data"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "Technician"))
        .and_then(|r| r["id"].as_str())
        .context("no Technician role")?
        .to_owned();
    let agent = json!({ "name": "Interop agent", "idp_id": idp["data"]["id"], "subject": AGENT_CLIENT, "role_ids": [technician] });
    call("POST", "/api/v1/mcp/agents", Some(agent))?;

    for (venv, version, mode) in HTTP_CLIENTS {
        let python = tools::python_env(venv, "mcp", version)?;
        run::status(
            Command::new(python)
                .arg(root.join("tests/interop/python_remote.py"))
                .args([&endpoint, mode])
                .env("ALGA_BEARER", &bearer)
                .env("ALGA_OAUTH_ISSUER", &provider.issuer)
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
    inspector(&endpoint, &bearer)
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

/// A Read-only user's API key, made with the server's own CLI.
fn readonly_key(binary: &Path, url: &str) -> Result<String> {
    let email = "readonly@interop.example";
    run::output(Command::new(binary).args([
        "user",
        "create",
        "--tenant",
        "default",
        "--email",
        email,
        "--role",
        "Read-only",
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
