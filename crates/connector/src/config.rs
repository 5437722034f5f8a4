//! Configuration from the environment, as the original connector takes it.

use std::time::Duration;

use url::Url;

#[derive(Debug, Clone)]
pub struct Config {
    /// The instance's base URL, without a trailing slash.
    pub instance: String,
    pub token: String,
    pub tenant: Option<String>,
    pub timeout: Duration,
    pub registry_path: String,
    pub search_path: String,
}

const DEFAULT_TIMEOUT_MS: u64 = 30_000;

impl Config {
    /// Reads `ALGA_INSTANCE_URL`, `ALGA_API_TOKEN` (both required; every missing one is named in
    /// one error), `ALGA_TENANT_ID`, `ALGA_REQUEST_TIMEOUT_MS`, `ALGA_REGISTRY_PATH` and
    /// `ALGA_SEARCH_PATH`.
    pub fn from(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let read = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let missing: Vec<&str> =
            ["ALGA_INSTANCE_URL", "ALGA_API_TOKEN"].into_iter().filter(|name| read(name).is_none()).collect();
        if !missing.is_empty() {
            return Err(format!("missing environment variables: {}", missing.join(", ")));
        }
        let raw = read("ALGA_INSTANCE_URL").unwrap_or_default();
        let url = Url::parse(&raw).map_err(|_| format!("ALGA_INSTANCE_URL is not a valid URL: \"{raw}\""))?;
        let loopback = match url.host() {
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        // The key travels with every request: only over TLS, unless it never leaves this machine.
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(format!(
                    "ALGA_INSTANCE_URL must use https (plain http only on this machine: localhost, 127.0.0.1, [::1]): \"{raw}\""
                ));
            }
            _ => return Err(format!("ALGA_INSTANCE_URL must be an https URL: \"{raw}\"")),
        }
        let timeout = read("ALGA_REQUEST_TIMEOUT_MS").and_then(|v| v.parse::<u64>().ok()).filter(|ms| *ms > 0);
        let path = |name: &str, default: &str| {
            let p = read(name).unwrap_or_else(|| default.to_owned());
            if p.starts_with('/') { p } else { format!("/{p}") }
        };
        Ok(Config {
            instance: url.as_str().trim_end_matches('/').to_owned(),
            token: read("ALGA_API_TOKEN").unwrap_or_default(),
            tenant: read("ALGA_TENANT_ID"),
            timeout: Duration::from_millis(timeout.unwrap_or(DEFAULT_TIMEOUT_MS)),
            registry_path: path("ALGA_REGISTRY_PATH", "/api/v1/meta/mcp-registry"),
            search_path: path("ALGA_SEARCH_PATH", "/api/v1/search"),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from(|k| map.get(k).cloned())
    }

    #[test]
    fn every_missing_variable_is_named_at_once() {
        assert_eq!(config(&[]).unwrap_err(), "missing environment variables: ALGA_INSTANCE_URL, ALGA_API_TOKEN");
        assert_eq!(
            config(&[("ALGA_INSTANCE_URL", "http://localhost:8080")]).unwrap_err(),
            "missing environment variables: ALGA_API_TOKEN"
        );
        assert!(
            config(&[("ALGA_INSTANCE_URL", "not a url"), ("ALGA_API_TOKEN", "t")])
                .unwrap_err()
                .contains("not a valid URL")
        );
    }

    #[test]
    fn the_key_travels_only_over_tls_or_loopback() {
        let with = |url: &str| config(&[("ALGA_INSTANCE_URL", url), ("ALGA_API_TOKEN", "t")]);
        for ok in ["https://psa.example.com", "http://localhost:8080", "http://127.0.0.1:1", "http://[::1]:2"] {
            assert!(with(ok).is_ok(), "{ok}");
        }
        for refused in ["http://psa.example.com", "http://10.0.0.1", "http://localhost.evil.com", "ftp://localhost"] {
            assert!(with(refused).unwrap_err().contains("https"), "{refused}");
        }
    }

    #[test]
    fn defaults_and_normalisation() {
        let c = config(&[
            ("ALGA_INSTANCE_URL", "https://psa.example.com/"),
            ("ALGA_API_TOKEN", " t "),
            ("ALGA_REQUEST_TIMEOUT_MS", "-5"),
        ])
        .unwrap();
        assert_eq!((c.instance.as_str(), c.token.as_str()), ("https://psa.example.com", "t"));
        assert_eq!(c.timeout, Duration::from_millis(30_000));
        assert_eq!((c.registry_path.as_str(), c.search_path.as_str()), ("/api/v1/meta/mcp-registry", "/api/v1/search"));
        let c = config(&[
            ("ALGA_INSTANCE_URL", "http://localhost:8080"),
            ("ALGA_API_TOKEN", "t"),
            ("ALGA_REQUEST_TIMEOUT_MS", "500"),
            ("ALGA_SEARCH_PATH", "api/v1/search"),
        ])
        .unwrap();
        assert_eq!((c.timeout, c.search_path.as_str()), (Duration::from_millis(500), "/api/v1/search"));
    }
}
