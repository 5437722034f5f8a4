//! Token buckets per caller (agent or API key) for tool calls, and a tighter one for writes.
//! Buckets live in this process: with several replicas each enforces its own (docs/operations.md).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// One family of buckets with a rate (tokens per second) and a capacity.
#[derive(Debug)]
pub struct Buckets {
    rate: f64,
    burst: f64,
    state: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    pub fn new(rate: f64, burst: f64) -> Buckets {
        Buckets { rate: rate.max(0.001), burst: burst.max(1.0), state: Mutex::default() }
    }

    /// Takes a token for `key`, or says how long until one is available.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let Ok(mut state) = self.state.lock() else { return Ok(()) };
        if state.len() > 100_000 {
            // Forget buckets that have refilled: they carry no information.
            let (rate, burst) = (self.rate, self.burst);
            state.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let bucket = state.entry(key.to_owned()).or_insert(Bucket { tokens: self.burst, at: now });
        let refilled = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * self.rate).min(self.burst);
        bucket.at = now;
        if refilled >= 1.0 {
            bucket.tokens = refilled - 1.0;
            Ok(())
        } else {
            bucket.tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) / self.rate))
        }
    }
}

/// The limits the remote endpoint applies.
#[derive(Debug)]
pub struct Limits {
    pub calls: Buckets,
    pub writes: Buckets,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let b = Buckets::new(2.0, 3.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(b.take("a", t0).is_ok());
        }
        let wait = b.take("a", t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert!(b.take("b", t0).is_ok(), "keys are independent");
        assert!(b.take("a", t0 + Duration::from_millis(500)).is_ok(), "one token after 1/rate");
        assert!(b.take("a", t0 + Duration::from_millis(500)).is_err());
        assert!(b.take("a", t0 + Duration::from_secs(60)).is_ok(), "refills up to the burst");
    }
}
