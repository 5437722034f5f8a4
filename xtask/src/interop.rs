//! Interoperability with software we did not write: the official MCP Python SDKs (1.x, and 2.x in
//! its `auto` and `legacy` modes) and the official TypeScript SDK drive the real
//! `alga-mcp-connector` over stdio against the real server with demo data
//! (`tests/interop/python_stdio.py`, `tests/interop/ts_stdio.mjs`).

use std::process::Command;

use anyhow::{Context, Result};

use crate::server::Server;
use crate::{run, tools};

/// The official TypeScript SDK (runs on the machine's Node 20).
const TS_SDK: &str = "1.32.2";

/// (virtualenv, SDK version, connect mode) for each client run.
const CLIENTS: [(&str, &str, &str); 3] =
    [("python-mcp1", "1.30.0", "auto"), ("python-mcp2", "2.3.0", "auto"), ("python-mcp2", "2.3.0", "legacy")];

pub fn run() -> Result<()> {
    run::status(&mut run::cargo(["build", "--locked", "-p", "alga-server", "-p", "alga-connector"]))?;
    let root = tools::root();
    let binary = root.join("target/debug/alga-server");
    let connector = root.join("target/debug/alga-mcp-connector");
    let dir = std::env::temp_dir().join(format!("alga-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}/interop.db", dir.display());
    let result = (|| -> Result<()> {
        let server = Server::start(&binary, &url, &dir)?;
        let admin = server.admin_key()?;
        let readonly = readonly_key(&binary, &url)?;
        for (venv, version, mode) in CLIENTS {
            let python = tools::python_env(venv, "mcp", version)?;
            run::status(
                Command::new(python)
                    .arg(root.join("tests/interop/python_stdio.py"))
                    .arg(&connector)
                    .env("ALGA_INSTANCE_URL", format!("http://{}", server.addr))
                    .env("ALGA_API_TOKEN", &admin)
                    .env("ALGA_READONLY_TOKEN", &readonly)
                    .env("ALGA_MCP_MODE", mode),
            )
            .with_context(|| format!("the MCP Python SDK {version} ({mode}) failed against the connector"))?;
        }
        let node_modules = tools::node_package("@modelcontextprotocol/sdk", TS_SDK)?;
        run::status(
            Command::new("node")
                .arg(root.join("tests/interop/ts_stdio.mjs"))
                .arg(&connector)
                .env("ALGA_NODE_MODULES", node_modules)
                .env("ALGA_INSTANCE_URL", format!("http://{}", server.addr))
                .env("ALGA_API_TOKEN", &admin)
                .env("ALGA_READONLY_TOKEN", &readonly),
        )
        .context("the MCP TypeScript SDK failed against the connector")?;
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A Read-only user's API key, made with the server's own CLI.
fn readonly_key(binary: &std::path::Path, url: &str) -> Result<String> {
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
