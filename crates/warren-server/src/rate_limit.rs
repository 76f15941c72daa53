//! Per-key rate limiting: a token bucket for each API key.
//!
//! Each key may make `burst` requests at once and `rps` requests per second
//! sustained. A request over the limit gets `429 rate_limited` with a
//! `Retry-After` header (whole seconds until a request would be allowed).
//! Requests without a valid key are not counted (they fail at 401).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};
use warren_api_types::ErrorCode;

use crate::ApiError;

/// Limits applied to every API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second; 0 disables rate limiting.
    pub rps: u32,
    /// Requests allowed at once; 0 disables rate limiting.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            rps: 20,
            burst: 100,
        }
    }
}

impl RateLimit {
    /// No limit.
    pub const DISABLED: Self = Self { rps: 0, burst: 0 };

    fn enabled(self) -> bool {
        self.rps > 0 && self.burst > 0
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Take one token at `now`; `Err(wait)` when none is left.
    fn take(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let rps = f64::from(limit.rps);
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rps).min(f64::from(limit.burst));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rps))
        }
    }
}

/// The buckets of every key seen. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

impl RateLimiter {
    /// A limiter applying `limit` to each key.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Arc::default(),
        }
    }

    fn check_at(&self, key_id: &str, now: Instant) -> Result<(), Duration> {
        if !self.limit.enabled() {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(key_id.to_owned()).or_insert(Bucket {
            tokens: f64::from(self.limit.burst),
            at: now,
        });
        bucket.take(self.limit, now)
    }

    /// `None` when the key may make this request, else the 429 to answer.
    pub(crate) fn check(&self, key_id: &str) -> Option<Response> {
        let wait = self.check_at(key_id, Instant::now()).err()?;
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let secs = secs.max(1);
        let mut resp = ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "rate limit of {} requests/s (burst {}) exceeded for this API key; retry in {secs} s",
                self.limit.rps, self.limit.burst
            ),
        )
        .into_response();
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
        Some(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_sustained_rate() {
        let l = RateLimiter::new(RateLimit { rps: 2, burst: 3 });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check_at("k", t0).is_ok());
        }
        let wait = l.check_at("k", t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        // Half a second refills one token at 2/s, not more.
        let t1 = t0 + Duration::from_millis(500);
        assert!(l.check_at("k", t1).is_ok());
        assert!(l.check_at("k", t1).is_err());
        // A long pause refills to the burst, never beyond.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(l.check_at("k", t2).is_ok());
        }
        assert!(l.check_at("k", t2).is_err());
    }

    #[test]
    fn keys_have_their_own_buckets() {
        let l = RateLimiter::new(RateLimit { rps: 1, burst: 1 });
        let t0 = Instant::now();
        assert!(l.check_at("a", t0).is_ok());
        assert!(l.check_at("a", t0).is_err());
        assert!(l.check_at("b", t0).is_ok());
    }

    #[test]
    fn zero_disables() {
        for limit in [
            RateLimit::DISABLED,
            RateLimit { rps: 0, burst: 5 },
            RateLimit { rps: 5, burst: 0 },
        ] {
            let l = RateLimiter::new(limit);
            let t0 = Instant::now();
            for _ in 0..1000 {
                assert!(l.check_at("k", t0).is_ok());
            }
        }
    }

    #[test]
    fn over_the_limit_is_a_429_with_retry_after() {
        let l = RateLimiter::new(RateLimit { rps: 1, burst: 1 });
        assert!(l.check("k").is_none());
        let resp = l.check("k").expect("limited");
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()[RETRY_AFTER], "1");
    }
}
