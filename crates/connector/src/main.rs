//! `alga-mcp-connector`: a local MCP server on stdio for an Alga instance.
//!
//! It loads the registry of operations the API key may call, then answers MCP messages on stdin
//! (one JSON-RPC message per line, both protocol eras) and writes only JSON-RPC to stdout; logs
//! go to stderr. It exits at the end of stdin.

mod config;
mod remote;

use std::process::ExitCode;

use alga_mcp::{Outcome, ServerInfo, Transport, handle};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::config::Config;
use crate::remote::{Remote, fetch_registry};

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("[alga-mcp-connector] fatal: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("[alga-mcp-connector] fatal: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from(|name| std::env::var(name).ok()).map_err(anyhow::Error::msg)?;
    // A redirect would carry the key to wherever the server points: follow none.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let instance = fetch_registry(&config, &http).await.map_err(anyhow::Error::msg)?;
    let (registry, governed) = (instance.registry, instance.enterprise);
    let how = if governed { "tool calls governed and audited by the instance" } else { "calling its REST API" };
    eprintln!(
        "[alga-mcp-connector] {} operations available from {} ({how})",
        registry.entries().len(),
        config.instance
    );
    let remote = Remote {
        config,
        http,
        registry,
        governed,
        client: std::sync::Mutex::default(),
        url_elicitation: std::sync::atomic::AtomicBool::new(false),
    };
    let info = ServerInfo {
        name: "alga-psa".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        instructions: "Work in the Alga PSA: find operations with search_api_registry, call them with \
                       call_api_endpoint, and search records with search_business_data."
            .to_owned(),
    };
    let transport = Transport::default();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = tokio::io::stdout();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        if let Outcome::Reply { body, .. } = handle(&remote, &(), &info, line.as_bytes(), &transport).await {
            let mut text = serde_json::to_string(&body)?;
            text.push('\n');
            stdout.write_all(text.as_bytes()).await?;
            stdout.flush().await?;
        }
    }
    Ok(())
}
