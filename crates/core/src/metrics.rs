//! Prometheus metrics: one registry per process, the community metrics (HTTP requests by route
//! and status, their latency, the database pool), and room for the edition's own
//! ([`Metrics::register`]). Rendered in the Prometheus text format by [`Metrics::render`].

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

use crate::db::Db;

/// A request, by its route pattern (never its raw path: ids would explode the series).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub state: &'static str,
}

/// Latency buckets from 0.25 ms to about 4 s.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Latencies,
    pool: Family<PoolLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Latencies::new_with_constructor(latency_histogram);
        let pool = Family::<PoolLabels, Gauge>::default();
        let mut registry = Registry::with_prefix("alga");
        registry.register("http_requests", "HTTP requests answered, by route pattern and status", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer an HTTP request", latency.clone());
        registry.register(
            "db_pool_connections",
            "Database connections: open (in_use + idle), the pool's maximum, and callers waiting for one",
            pool.clone(),
        );
        Metrics { registry: Mutex::new(registry), requests, latency, pool }
    }
}

impl Metrics {
    /// Counts an answered request and its latency.
    pub fn observe_request(&self, method: &str, route: Option<&str>, status: u16, seconds: f64) {
        let route = route.unwrap_or("unmatched").to_owned();
        let method = method.to_owned();
        self.latency.get_or_create(&RouteLabels { method: method.clone(), route: route.clone() }).observe(seconds);
        self.requests.get_or_create(&RequestLabels { method, route, status }).inc();
    }

    /// Adds an edition's metric (named without the `alga_` prefix, which is added).
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        if let Ok(mut registry) = self.registry.lock() {
            registry.register(name, help, metric);
        }
    }

    /// Every metric in the Prometheus text format, with the pool's state as of now.
    pub fn render(&self, db: &Db) -> String {
        let status = db.pool_status();
        let in_use = status.size.saturating_sub(status.available);
        for (state, value) in
            [("in_use", in_use), ("idle", status.available), ("max", status.max_size), ("waiting", status.waiting)]
        {
            self.pool.get_or_create(&PoolLabels { state }).set(i64::try_from(value).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock()
            && let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry)
        {
            tracing::warn!(error = %e, "metrics could not be rendered");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_pattern_and_status() {
        let m = Metrics::default();
        m.observe_request("GET", Some("/api/v1/tickets/{id}"), 200, 0.001);
        m.observe_request("GET", Some("/api/v1/tickets/{id}"), 200, 0.002);
        m.observe_request("POST", None, 404, 0.0001);
        let labels = RequestLabels { method: "GET".into(), route: "/api/v1/tickets/{id}".into(), status: 200 };
        assert_eq!(m.requests.get_or_create(&labels).get(), 2);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &m.registry.lock().unwrap()).unwrap();
        assert!(
            out.contains(r#"alga_http_requests_total{method="GET",route="/api/v1/tickets/{id}",status="200"} 2"#),
            "{out}"
        );
        assert!(out.contains(r#"alga_http_requests_total{method="POST",route="unmatched",status="404"} 1"#), "{out}");
        assert!(
            out.contains(r#"alga_http_request_duration_seconds_count{method="GET",route="/api/v1/tickets/{id}"} 2"#)
        );
    }
}
