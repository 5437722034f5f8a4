//! The enterprise edition's command-line flags (each also an `ALGA_*` environment variable).

use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Origins allowed to call /api/mcp from a browser (comma-separated, e.g.
    /// https://app.example.com). Requests with any other Origin header get 403. Default: the
    /// public URL's origin.
    #[arg(long, env = "ALGA_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Accept http:// identity-provider URLs on loopback hosts (development and tests only).
    #[arg(long, env = "ALGA_ALLOW_INSECURE_IDP_URLS")]
    pub allow_insecure_idp_urls: bool,

    /// Tool calls per second each agent or API key may sustain on /api/mcp.
    #[arg(long, env = "ALGA_MCP_CALLS_PER_SECOND", default_value_t = 10.0)]
    pub mcp_calls_per_second: f64,

    /// Tool calls each agent or API key may make in a burst.
    #[arg(long, env = "ALGA_MCP_CALL_BURST", default_value_t = 20.0)]
    pub mcp_call_burst: f64,

    /// Writing calls (call_api_endpoint to any operation that is not a GET) per second, per agent or key;
    /// bursts of twice this.
    #[arg(long, env = "ALGA_MCP_WRITES_PER_SECOND", default_value_t = 2.0)]
    pub mcp_writes_per_second: f64,

    /// Seconds between sweeps that delete expired and revoked API keys and expired admin sessions.
    #[arg(long, env = "ALGA_KEY_SWEEP_INTERVAL", default_value_t = 3600)]
    pub key_sweep_interval: u64,

    /// Reverse proxies (IP addresses, comma-separated) whose X-Forwarded-For names the client:
    /// admin sign-in throttling then counts failures per client, not per proxy.
    #[arg(long, env = "ALGA_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// The AES-256 key sealing approval request states (32 bytes: 64 hex digits or unpadded
    /// base64url), the same on every replica. Default: one generated once and stored in the
    /// database.
    #[arg(long, env = "ALGA_APPROVAL_STATE_KEY", hide_env_values = true)]
    pub approval_state_key: Option<crate::approval::seal::SealKey>,

    /// Seconds a 2026-07-28 client's retry of a call waiting for approval is held open for the
    /// decision before it is told to retry again (official clients retry about ten times, fast).
    #[arg(long, env = "ALGA_APPROVAL_WAIT", default_value_t = 25)]
    pub approval_wait: u64,

    /// Let users' API keys approve and deny calls through the admin API (with the permission to
    /// decide approvals). Off by default: a person decides in a signed-in session, because a key
    /// may be held by a program, such as the connector an agent runs.
    #[arg(long, env = "ALGA_APPROVALS_BY_API_KEY")]
    pub approvals_by_api_key: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allowed_origins: Vec::new(),
            allow_insecure_idp_urls: false,
            mcp_calls_per_second: 10.0,
            mcp_call_burst: 20.0,
            mcp_writes_per_second: 2.0,
            key_sweep_interval: 3600,
            trusted_proxies: Vec::new(),
            approval_state_key: None,
            approval_wait: 25,
            approvals_by_api_key: false,
        }
    }
}

impl Settings {
    pub fn key_sweep_every(&self) -> Duration {
        Duration::from_secs(self.key_sweep_interval.max(1))
    }
}
