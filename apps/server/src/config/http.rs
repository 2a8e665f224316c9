//! HTTP: where the service listens and is reached, what it accepts, how long it waits,
//! which origins and proxies it trusts.

use crate::config::Secret;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// The http settings.
#[derive(Debug, Clone, Args)]
pub struct HttpConfig {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "BIND_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind_addr: SocketAddr,

    /// The URL clients reach this service at (links, redirects, upload URLs).
    /// Default: http:// + BIND_ADDR.
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Comma-separated origins allowed to call the API from a browser, with credentials
    /// (`https://app.example.com,https://admin.example.com`). The service's own origin is
    /// always allowed.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,

    /// Largest JSON request body, in bytes.
    #[arg(long, env = "JSON_BODY_LIMIT", default_value_t = 64 * 1024, global = true)]
    pub json_body_limit: usize,

    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT.
    #[arg(
        long,
        env = "SHUTDOWN_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub shutdown_timeout_secs: u64,

    /// HTTP worker threads. Default: one per core.
    #[arg(long, env = "HTTP_WORKERS", global = true)]
    pub http_workers: Option<usize>,

    /// Seconds an idle connection is kept open, before its first request or between two.
    /// It must be longer than the idle
    /// timeout of every client and proxy in front (an AWS load balancer's 60 s, nginx's
    /// 60 s upstream keep-alive, reqwest's 90 s pool): otherwise the service closes a
    /// connection just as a request is sent on it, and that request gets no answer.
    #[arg(
        long,
        env = "HTTP_KEEP_ALIVE_SECS",
        default_value_t = 120,
        global = true
    )]
    pub http_keep_alive_secs: u64,

    /// Log format: `text` or `json`. Default: json in production, text otherwise.
    #[arg(long, env = "LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,

    /// How many proxies in front of the service append to `X-Forwarded-For` (a load
    /// balancer: 1; a CDN and a load balancer: 2). The client's address is the entry that
    /// many places from the right, which no client can forge; 0 (the default) uses the
    /// connection's peer and ignores the header.
    #[arg(long, env = "TRUSTED_PROXY_HOPS", default_value_t = 0, global = true)]
    pub trusted_proxy_hops: usize,

    /// Deprecated: `true` is `TRUSTED_PROXY_HOPS=1` when that is unset (it used to take
    /// the left-most entry, which the client chooses).
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub trust_forwarded_for: bool,

    /// When set, `/metrics` requires `Authorization: Bearer <this token>`.
    #[arg(value_parser = crate::config::secret, long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<Secret>,

    /// The demo page at `/`. Default: on in dev, off in production.
    #[arg(long, env = "DEMO_PAGE", action = clap::ArgAction::Set, global = true)]
    pub demo_page: Option<bool>,
}

impl HttpConfig {
    /// PUBLIC_URL without a trailing slash; derived from the bound address when unset.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        }
    }

    /// The proxies trusted to append to `X-Forwarded-For`.
    pub fn proxy_hops(&self) -> usize {
        if self.trusted_proxy_hops == 0 && self.trust_forwarded_for {
            1
        } else {
            self.trusted_proxy_hops
        }
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    /// The CORS origins, each checked to be `scheme://host[:port]`.
    ///
    /// # Errors
    /// Every malformed origin, named.
    pub fn parsed_cors_origins(&self) -> Result<Vec<String>, Vec<String>> {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for raw in self
            .cors_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
        {
            match parse_origin(raw) {
                Some(o) => ok.push(o),
                None => bad.push(format!(
                    "CORS_ORIGINS: {raw:?} is not an origin (scheme://host[:port], no path, no wildcard)"
                )),
            }
        }
        if bad.is_empty() { Ok(ok) } else { Err(bad) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The origin of an http(s) URL that may have a path (`https://h.example/api` →
/// `https://h.example`); `None` when it is not one.
pub fn public_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let authority = rest.split('/').next()?;
    parse_origin(&format!("{scheme}://{authority}"))
}

/// Normalises `scheme://host[:port]` (lower-cased, no trailing slash); `None` for anything else.
pub fn parse_origin(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('/');
    let (scheme, rest) = s.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https") {
        return None;
    }
    let valid_host = !rest.is_empty()
        && !rest.contains(['/', '?', '#', '*', '@', ' '])
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    valid_host.then(|| format!("{scheme}://{}", rest.to_ascii_lowercase()))
}
