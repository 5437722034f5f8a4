//! `cargo xtask`: the project's build system.
//!
//! - `cargo xtask ci`: everything CI checks, stopping at the first failure.
//! - `cargo xtask docs`: only the check that the docs cite what exists.
//! - `cargo xtask migrate`: merge and run the migration sets (through `alga-server migrate`).
//! - `cargo xtask interop [--only PART]`: only the interoperability checks (or one part of them).
//! - `cargo xtask browser`: only the admin UI's browser checks.
//! - `cargo xtask dist`: release archives, the connector's npm package and `SHA256SUMS`.
//! - `cargo xtask faults` / `soak`: the fault checks under load, short or long.
//! - `cargo xtask fuzz --seconds N`: each fuzz target for N seconds.
//! - `cargo xtask pg`: a throwaway PostgreSQL for manual work.

#![allow(clippy::print_stdout)] // a command-line tool: stdout is its interface

mod bench;
mod browser;
mod ci;
mod dist;
mod docs;
mod faults;
mod fuzz;
mod http;
mod interop;
mod pg;
mod prereq;
mod run;
mod server;
mod tools;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Build, test and run tasks for the alga workspace")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Run every CI check: fmt, clippy (both editions), the edition guard, and the tests of both
    /// editions on SQLite and on a throwaway PostgreSQL.
    Ci,
    /// Check only that every file path, flag, environment variable and test name the Markdown
    /// files cite exists (a step of `ci`).
    Docs,
    /// Apply, inspect or revert migrations with the same code the server runs.
    Migrate {
        /// Database URL (sqlite://PATH or postgres://…).
        #[arg(long, env = "ALGA_DATABASE_URL", default_value = "sqlite://./data/alga.db")]
        database_url: String,
        /// Which sets to run: community (migrations-ce) or enterprise (both, merged).
        #[arg(long, value_enum, default_value_t = Edition::Enterprise)]
        edition: Edition,
        /// Show applied and pending migrations per set.
        #[arg(long, conflicts_with = "revert")]
        status: bool,
        /// Revert the newest N applied migrations.
        #[arg(long, value_name = "N")]
        revert: Option<u32>,
    },
    /// Measure: REST throughput and latency on a release build, on SQLite and PostgreSQL.
    Bench {
        /// Only the governed read and write under 0, 20 and 200 active policies.
        #[arg(long)]
        policies_only: bool,
    },
    /// Run only the interoperability checks (official MCP SDKs, the Inspector, a real OpenID
    /// provider, the connector's npm package, policies) against the enterprise server.
    Interop {
        /// Run only this part.
        #[arg(long, value_enum)]
        only: Option<interop::Part>,
    },
    /// Run only the fault checks: SIGTERM, PostgreSQL stopped and SQLite held, all under load.
    Faults,
    /// The fault checks with long phases (minutes instead of seconds).
    Soak,
    /// Fuzz each target in tests/fuzz (replaying saved regressions first) for this long.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Run only the admin UI's browser checks (headless Chromium, playwright-core) against the
    /// enterprise server and a real OpenID provider.
    Browser,
    /// Build release archives of the server (both editions) and the connector for this platform,
    /// the connector's npm package and SHA256SUMS into target/dist, and print that folder.
    Dist,
    /// Start a throwaway PostgreSQL on a free loopback port, print its URL, and remove it when
    /// you press Enter.
    Pg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Edition {
    Community,
    Enterprise,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Task::Ci => ci::run(),
        Task::Docs => docs::run(),
        Task::Bench { policies_only } => bench::run(policies_only),
        Task::Interop { only } => interop::run(only),
        Task::Browser => browser::run(),
        Task::Dist => dist::run(),
        Task::Faults => faults::run(faults::CI),
        Task::Fuzz { seconds } => fuzz::run(seconds),
        Task::Soak => faults::run(faults::SOAK),
        Task::Migrate { database_url, edition, status, revert } => {
            let mut cmd = run::cargo(["run", "--quiet", "--locked", "-p", "alga-server"]);
            if edition == Edition::Enterprise {
                cmd.args(["--features", "enterprise"]);
            }
            cmd.args(["--", "migrate", "--database-url", &database_url]);
            if status {
                cmd.arg("--status");
            }
            if let Some(n) = revert {
                cmd.args(["--revert", &n.to_string()]);
            }
            run::status(&mut cmd)
        }
        Task::Pg => {
            prereq::ensure_postgres_server()?;
            let pg = pg::TempPostgres::start()?;
            println!("{}", pg.url());
            eprintln!("PostgreSQL is running in {}. Press Enter to stop it and delete it.", pg.dir().display());
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            Ok(())
        }
    }
}
