//! `alga-server`: the PSA server binary. See `--help`.

mod admin;
mod cli;
mod edition;
mod http;
mod migrate;
mod serve;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, LogFormat};

/// A request allocates and frees many small values (JSON, Cedar entities); mimalloc spends about
/// half of glibc's time on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = cli.global.log_format;
    init_tracing(log_format);
    let result = match cli.command {
        None => run_serve(&cli.global, cli.serve),
        Some(Command::Serve(args)) => run_serve(&cli.global, args),
        Some(Command::Migrate(args)) => migrate::run(&cli.global, &args),
        Some(Command::Version) => version(),
        Some(Command::Tenant(command)) => admin::tenant(&cli.global, &command),
        Some(Command::User(command)) => admin::user(&cli.global, &command),
        Some(Command::ApiKey(command)) => admin::api_key(&cli.global, &command),
        Some(Command::Audit(command)) => admin::audit(&cli.global, &command),
        Some(Command::DemoData { tenant }) => {
            actix_web::rt::System::new().block_on(admin::demo_data(&cli.global, &tenant))
        }
        Some(Command::Openapi) => openapi(&cli.serve),
        Some(Command::Routes) => routes(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Log pipelines get a JSON record; people get one plain line.
            match log_format {
                LogFormat::Json => tracing::error!(error = format!("{e:#}"), "alga-server failed"),
                LogFormat::Text => eprintln!("alga-server: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn run_serve(global: &cli::GlobalArgs, args: cli::ServeArgs) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(serve::serve(global, args))
}

fn version() -> anyhow::Result<()> {
    let edition = edition::governance().edition();
    writeln!(std::io::stdout(), "alga-server {} ({edition})", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

fn openapi(serve: &cli::ServeArgs) -> anyhow::Result<()> {
    let server = serve.public_url.clone().unwrap_or_else(|| format!("http://{}", serve.bind));
    let document = alga_api::openapi::document(&alga_api::catalog(), server.trim_end_matches('/'));
    writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&document)?)?;
    Ok(())
}

fn routes() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for route in http::routes(edition::governance().as_ref()).entries() {
        writeln!(out, "{route}")?;
    }
    Ok(())
}

/// Logs go to stderr (stdout carries command output), filtered by RUST_LOG (default `info`).
fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
    }
}
