//! The login routes' per-client-address budget, and where the client's address comes from.
//!
//! The budget is `governor`'s keyed GCRA limiter (a burst of the per-minute limit, refilled
//! evenly over the minute) on a sharded map: a request costs one shard's lock, never a scan
//! of the table. Addresses whose budget is full again are forgotten every
//! [`FORGET_EVERY`] checks, shard by shard, so memory holds only the addresses seen within
//! about a minute. Each replica counts its own budget: it slows one address's password-less
//! login attempts (the limits that must hold across replicas are counted in the database).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::HttpRequest;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;

/// Forget addresses whose budget is full again once per this many checks.
const FORGET_EVERY: u64 = 4096;

/// Where the client's address comes from: the connection's peer, or, behind `hops` trusted
/// proxies that each append the address they saw to `X-Forwarded-For`, the entry `hops`
/// places from the right: the address the farthest trusted proxy saw. Entries to its left
/// are the client's own words and are never used.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr {
    hops: usize,
}

impl ClientAddr {
    pub fn new(hops: usize) -> Self {
        Self { hops }
    }

    /// The client's address; `None` only when the connection has no peer address.
    pub fn of(&self, req: &HttpRequest) -> Option<IpAddr> {
        if self.hops > 0 {
            let entries: Vec<&str> = req
                .headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .collect();
            // Fewer entries than proxies: the request skipped the outer ones, and the
            // left-most entry is what the first proxy it met saw.
            if let Some(entry) = entries.get(entries.len().saturating_sub(self.hops))
                && let Ok(ip) = entry.parse()
            {
                return Some(ip);
            }
        }
        req.peer_addr().map(|a| a.ip())
    }
}

/// Whose budget a request spends: an IPv4 address, or an IPv6 address's /64 (one
/// subscriber's network: a client rotating through its own 2^64 addresses is one client).
/// An IPv4-mapped IPv6 address counts as its IPv4 address.
fn budget_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(prefix))
            }
        },
    }
}

#[derive(Debug)]
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    addr: ClientAddr,
    checks: AtomicU64,
}

impl RateLimiter {
    /// A budget of `limit_per_minute` requests per client address (at least 1).
    pub fn new(limit_per_minute: u32, addr: ClientAddr) -> Self {
        let per_minute = NonZeroU32::new(limit_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute)),
            addr,
            checks: AtomicU64::new(0),
        }
    }

    /// The client's address (see [`ClientAddr`]): also what sessions record.
    pub fn client_addr(&self, req: &HttpRequest) -> Option<IpAddr> {
        self.addr.of(req)
    }

    /// Addresses tracked now.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }

    /// Counts one request from `req`'s client.
    ///
    /// # Errors
    /// 429 in the envelope once the client's budget is spent.
    pub fn check(&self, req: &HttpRequest) -> Result<(), ApiError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        let Some(ip) = self.client_addr(req) else {
            return Ok(());
        };
        self.limiter.check_key(&budget_key(ip)).map_err(|_| {
            tracing::warn!(client = %ip, "login rate limit reached");
            ApiError::too_many_requests()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn from(peer: &str, forwarded: &[&str]) -> HttpRequest {
        let mut req =
            TestRequest::default().peer_addr(format!("{peer}:1000").parse().expect("addr"));
        for f in forwarded {
            req = req.append_header(("x-forwarded-for", *f));
        }
        req.to_http_request()
    }

    #[test]
    fn an_ipv6_network_shares_one_budget() {
        let limiter = RateLimiter::new(2, ClientAddr::new(0));
        let (a, b, c) = (
            from("[2001:db8:1:2::1]", &[]),
            from("[2001:db8:1:2:ffff::9]", &[]),
            from("[2001:db8:1:3::1]", &[]),
        );
        assert!(limiter.check(&a).is_ok());
        assert!(limiter.check(&b).is_ok());
        assert_eq!(
            limiter.check(&a).map_err(|e| e.status().as_u16()),
            Err(429),
            "another address of the same /64 spends the same budget"
        );
        assert!(limiter.check(&c).is_ok(), "another /64 has its own");
    }

    #[test]
    fn the_budget_is_per_address() {
        let limiter = RateLimiter::new(2, ClientAddr::new(0));
        let (a, b) = (from("10.0.0.1", &[]), from("10.0.0.2", &[]));
        assert!(limiter.check(&a).is_ok());
        assert!(limiter.check(&a).is_ok());
        assert_eq!(limiter.check(&a).map_err(|e| e.status().as_u16()), Err(429));
        assert!(
            limiter.check(&b).is_ok(),
            "another address has its own budget"
        );
    }

    #[test]
    fn the_address_is_the_one_the_trusted_proxies_saw() {
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        // The client wrote 6.6.6.6 itself; the load balancer appended 203.0.113.9.
        let req = from("10.0.0.1", &["6.6.6.6, 203.0.113.9"]);
        assert_eq!(
            ClientAddr::new(0).of(&req),
            ip("10.0.0.1"),
            "untrusted: the peer"
        );
        assert_eq!(ClientAddr::new(1).of(&req), ip("203.0.113.9"));
        // Behind a CDN (which appended the client) and a load balancer (the CDN's edge).
        let req = from("10.0.0.1", &["6.6.6.6", "198.51.100.7, 192.0.2.1"]);
        assert_eq!(ClientAddr::new(2).of(&req), ip("198.51.100.7"));
        assert_eq!(
            ClientAddr::new(5).of(&req),
            ip("6.6.6.6"),
            "fewer entries than hops: the left-most"
        );
        let req = from("10.0.0.1", &["not-an-address"]);
        assert_eq!(
            ClientAddr::new(1).of(&req),
            ip("10.0.0.1"),
            "unreadable: the peer"
        );
        assert_eq!(
            ClientAddr::new(1).of(&from("10.0.0.1", &[])),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_flood_of_distinct_addresses_is_forgotten_as_budgets_refill() {
        // 60 000 a minute: a budget refills 1 ms after its one request.
        let limiter = RateLimiter::new(60_000, ClientAddr::new(0));
        for i in 0..FORGET_EVERY - 1 {
            let [_, _, a, b] = (i as u32).to_be_bytes();
            let req = from(&format!("10.1.{a}.{b}"), &[]);
            assert!(limiter.check(&req).is_ok());
        }
        assert_eq!(
            limiter.tracked(),
            usize::try_from(FORGET_EVERY - 1).unwrap_or(0)
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(limiter.check(&from("10.2.0.1", &[])).is_ok());
        assert!(
            limiter.tracked() <= 1,
            "{} addresses still tracked",
            limiter.tracked()
        );
    }
}
