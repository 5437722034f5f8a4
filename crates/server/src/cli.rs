//! The command line. Every flag can also come from the environment variable named in `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "alga-server",
    version,
    about = "Alga PSA server: the /api/v1 REST API, agent tooling and MCP governance.",
    long_about = "Alga PSA server: the /api/v1 REST API, agent tooling and MCP governance.\n\n\
                  With no subcommand it runs `serve`. Every flag can also be set through the \
                  environment variable shown beside it.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database to use: sqlite://PATH (the file and its folder are created on first start),
    /// or postgres://USER:PASSWORD@HOST:PORT/DB.
    #[arg(long, env = "ALGA_DATABASE_URL", default_value = "sqlite://./data/alga.db", global = true)]
    pub database_url: String,

    /// Log line format: `text` for people, `json` for log pipelines. Filter with RUST_LOG
    /// (for example RUST_LOG=info,alga_core=debug).
    #[arg(long, env = "ALGA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve HTTP until SIGTERM or Ctrl-C (the default).
    Serve(ServeArgs),
    /// Apply pending migrations, show their status, or revert the newest ones.
    Migrate(MigrateArgs),
    /// Print the version and the edition (community or enterprise).
    Version,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// The audit of tool calls (enterprise edition).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Fill a tenant with realistic sample data; does nothing if it already has clients or tickets.
    DemoData {
        /// The tenant's slug.
        #[arg(long, default_value = "default")]
        tenant: String,
    },
    /// Print the OpenAPI 3.1 document of the /api/v1 API.
    Openapi,
    /// Print every HTTP route this edition serves, one `METHOD /path` a line in the order they are
    /// matched (`*` for a route answering every method).
    Routes,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Remove the audit rows older than a date: the one way rows leave the append-only audit.
    /// Rows younger than the retention period are never removed; each prune is recorded.
    Prune {
        /// Remove rows created before this moment (RFC 3339, or a date: 2025-01-31).
        #[arg(long)]
        before: String,
        /// Days of audit that always stay.
        #[arg(long, env = "ALGA_AUDIT_RETENTION_DAYS", default_value_t = 365)]
        retention_days: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with its built-in roles and a first admin; prints the admin's API key once.
    Create {
        /// Short unique name: lowercase letters, digits and dashes.
        slug: String,
        /// Display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
    },
    /// Delete a tenant and everything it holds; its audit of tool calls and changes outlives it.
    Delete {
        /// The tenant's slug.
        slug: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user in a tenant.
    Create {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        /// Display name (default: the part of the email before @).
        #[arg(long)]
        name: Option<String>,
        /// A role by name (Admin, Technician, Read-only, or a custom one); repeat for several.
        #[arg(long, required = true)]
        role: Vec<String>,
        /// Read a password (at least 12 characters) from standard input; without it the user has
        /// no password and works through API keys only.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password: asked twice without echo on a terminal, or read as one line from
    /// standard input. It is one-time: it signs in to the admin UI only to choose a new one. The
    /// user's admin UI sessions end; their API keys keep working.
    SetPassword {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for a user; prints it once.
    Create {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The owner's email.
        #[arg(long)]
        user: String,
        /// Lifetime such as 30d, 12h or 90m (default: no expiry).
        #[arg(long)]
        expires_in: Option<String>,
        /// What the key is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Revoke an API key by id. Running servers refuse it within 30 s (they cache user keys that
    /// long); an agent's key is refused on its next use.
    Revoke {
        /// The key's id.
        id: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "ALGA_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// The URL clients use to reach this server, e.g. https://psa.example.com behind a TLS proxy.
    /// MCP metadata and token audiences derive from it. Default: http://<bind address>.
    #[arg(long, env = "ALGA_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// HTTP worker threads. Default: one per CPU core.
    #[arg(long, env = "ALGA_WORKERS")]
    pub workers: Option<usize>,

    /// Most database connections held open at once.
    #[arg(long, env = "ALGA_DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: usize,

    /// Seconds to wait for a database connection (and for a new one to open) before answering 503.
    #[arg(long, env = "ALGA_DATABASE_TIMEOUT", default_value_t = 5)]
    pub database_timeout: u64,

    /// Seconds a request's body may take to arrive in full; a slower one answers 408.
    #[arg(long, env = "ALGA_BODY_TIMEOUT", default_value_t = 30)]
    pub body_timeout: u64,

    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "ALGA_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout: u64,

    /// Fill tenant `default` with realistic sample data (only if it has none yet).
    #[arg(long, env = "ALGA_DEMO")]
    pub demo: bool,

    /// Write the bound address to this file once listening (for scripts and tests that bind port 0).
    #[arg(long, env = "ALGA_ADDRESS_FILE")]
    pub address_file: Option<PathBuf>,

    /// Serve GET /metrics (Prometheus text format) on this separate address, e.g. 127.0.0.1:9100.
    #[arg(long, env = "ALGA_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Serve GET /metrics on the main address too, to requests with `Authorization: Bearer
    /// <this token>`. Without this flag or --metrics-bind, /metrics is not served.
    #[arg(long, env = "ALGA_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    #[cfg(feature = "enterprise")]
    #[command(flatten)]
    pub enterprise: alga_ee_mcp::Settings,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Show applied and pending migrations per set instead of applying them.
    #[arg(long, conflicts_with = "revert")]
    pub status: bool,

    /// Revert the newest N applied migrations of this edition, newest first.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub revert: Option<u32>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_serve_with_its_flags() {
        let cli = Cli::try_parse_from(["alga-server", "--bind", "127.0.0.1:9"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.bind.port(), 9);
    }

    #[test]
    fn global_flags_work_after_a_subcommand() {
        let cli =
            Cli::try_parse_from(["alga-server", "migrate", "--status", "--database-url", "sqlite://x.db"]).unwrap();
        assert_eq!(cli.global.database_url, "sqlite://x.db");
        assert!(matches!(cli.command, Some(Command::Migrate(MigrateArgs { status: true, revert: None }))));
    }

    #[test]
    fn revert_needs_a_positive_count() {
        assert!(Cli::try_parse_from(["alga-server", "migrate", "--revert", "0"]).is_err());
        assert!(Cli::try_parse_from(["alga-server", "migrate", "--revert", "2", "--status"]).is_err());
    }
}
