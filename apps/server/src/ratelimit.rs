//! A per-client-address request budget for the login routes: a fixed window per minute,
//! in memory (each replica counts its own; put a shared limiter in front for a global
//! bound).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

use crate::error::ApiError;

const WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked addresses, windows that have ended are dropped.
const COMPACT_AT: usize = 10_000;

#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    trust_forwarded_for: bool,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit_per_minute: u32, trust_forwarded_for: bool) -> Self {
        Self {
            limit: limit_per_minute,
            trust_forwarded_for,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// The client's address: the peer, or X-Forwarded-For's first entry when trusted.
    pub fn client_addr(&self, req: &HttpRequest) -> Option<IpAddr> {
        if self.trust_forwarded_for
            && let Some(ip) = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return Some(ip);
        }
        req.peer_addr().map(|a| a.ip())
    }

    /// Counts one request from `req`'s client.
    ///
    /// # Errors
    /// 429 in the envelope once the client's budget for this minute is spent.
    pub fn check(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let Some(ip) = self.client_addr(req) else {
            return Ok(());
        };
        let now = Instant::now();
        let mut windows = self.windows.lock().map_err(|_| ApiError::internal())?;
        if windows.len() > COMPACT_AT {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = windows.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > self.limit {
            tracing::warn!(client = %ip, "login rate limit reached");
            return Err(ApiError::too_many_requests());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_budget_is_per_address() {
        let limiter = RateLimiter::new(2, false);
        let a = TestRequest::default()
            .peer_addr("10.0.0.1:1000".parse().expect("addr"))
            .to_http_request();
        let b = TestRequest::default()
            .peer_addr("10.0.0.2:1000".parse().expect("addr"))
            .to_http_request();
        assert!(limiter.check(&a).is_ok());
        assert!(limiter.check(&a).is_ok());
        assert_eq!(limiter.check(&a).map_err(|e| e.status().as_u16()), Err(429));
        assert!(
            limiter.check(&b).is_ok(),
            "another address has its own budget"
        );
    }

    #[test]
    fn forwarded_for_is_used_only_when_trusted() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:1000".parse().expect("addr"))
            .insert_header(("x-forwarded-for", "203.0.113.9, 10.0.0.1"))
            .to_http_request();
        assert_eq!(
            RateLimiter::new(1, false).client_addr(&req),
            "10.0.0.1".parse().ok()
        );
        assert_eq!(
            RateLimiter::new(1, true).client_addr(&req),
            "203.0.113.9".parse().ok()
        );
    }
}
