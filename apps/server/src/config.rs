//! Configuration: command-line options, each also an environment variable, all listed by
//! `server --help`. Parsed once in `main` and passed down through constructors; nothing
//! reads the environment anywhere else, so tests build any configuration they need.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Accounts, image uploads and abuse reports over one HTTP API.
#[derive(Debug, Parser)]
#[command(name = "server", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Print the OpenAPI document, then exit.
    Openapi,
}

/// Where the service runs: `dev` is forgiving, `production` refuses unsafe settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AppEnv {
    Dev,
    Production,
}

/// Every setting of the service.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "BIND_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind_addr: SocketAddr,

    /// Directory for the embedded defaults: the SQLite file and the local object store.
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Database URL: `postgres://user:pass@host/db` or `sqlite://path?mode=rwc`.
    /// Default: a SQLite file in DATA_DIR.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Largest number of pooled database connections.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub database_max_connections: u32,

    /// Seconds a request waits for a database connection before answering 503.
    #[arg(
        long,
        env = "DATABASE_ACQUIRE_TIMEOUT_SECS",
        default_value_t = 3,
        global = true
    )]
    pub database_acquire_timeout_secs: u64,

    /// The URL clients reach this service at (links, redirects, upload URLs).
    /// Default: http:// + BIND_ADDR.
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// `dev` (default) or `production`.
    #[arg(
        long,
        env = "APP_ENV",
        value_enum,
        default_value = "dev",
        global = true
    )]
    pub app_env: AppEnv,

    /// Comma-separated origins allowed to call the API from a browser, with credentials
    /// (`https://app.example.com,https://admin.example.com`). The service's own origin is
    /// always allowed.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,

    /// Apply pending migrations at start-up. Turn off where migrations run separately
    /// (`server migrate`, a Kubernetes Job).
    #[arg(long, env = "MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub migrate_on_start: bool,

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

    /// Log format: `text` or `json`. Default: json in production, text otherwise.
    #[arg(long, env = "LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// A configuration for tests and embedding: the defaults, rooted at `data_dir`,
    /// listening on a free loopback port.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Self {
        let mut cfg = Cli::parse_from(["server"]).config;
        cfg.data_dir = data_dir.into();
        cfg.bind_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        cfg.database_url = None;
        cfg.public_url = None;
        cfg.cors_origins = Vec::new();
        cfg
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("service.db").display()
            )
        })
    }

    /// PUBLIC_URL without a trailing slash; derived from the bound address when unset.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        }
    }

    pub fn object_store_dir(&self) -> PathBuf {
        self.data_dir.join("objects")
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(match self.app_env {
            AppEnv::Production => LogFormat::Json,
            AppEnv::Dev => LogFormat::Text,
        })
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

    /// Every reason this configuration is unsafe to run with; empty when it is fine.
    /// In `dev` only malformed values count; `production` also refuses what is merely risky.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(mut bad) = self.parsed_cors_origins() {
            problems.append(&mut bad);
        }
        if let Some(u) = &self.public_url
            && public_origin(u).is_none()
        {
            problems.push(format!(
                "PUBLIC_URL: {u:?} is not an http(s) URL (scheme://host[:port][/path])"
            ));
        }
        if self.json_body_limit == 0 {
            problems.push("JSON_BODY_LIMIT must be greater than 0".to_owned());
        }
        if self.app_env == AppEnv::Production {
            match &self.public_url {
                None => problems.push(
                    "PUBLIC_URL must be set in production (the https URL clients use)".to_owned(),
                ),
                Some(u) if !u.starts_with("https://") => problems.push(format!(
                    "PUBLIC_URL must be https in production (session cookies are Secure), got {u:?}"
                )),
                Some(_) => {}
            }
            if self
                .cors_origins
                .iter()
                .any(|o| o.trim().starts_with("http://"))
            {
                problems.push("CORS_ORIGINS must list only https origins in production".to_owned());
            }
        }
        problems
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn prod() -> Config {
        let mut c = Config::for_tests("/tmp/x");
        c.app_env = AppEnv::Production;
        c.public_url = Some("https://api.example.com".into());
        c
    }

    #[test]
    fn defaults_are_the_embedded_ones() {
        let c = Cli::parse_from(["server"]).config;
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.app_env, AppEnv::Dev);
        assert!(c.migrate_on_start);
        assert!(c.database_url().starts_with("sqlite://./data/service.db"));
        assert_eq!(c.public_url(c.bind_addr), "http://127.0.0.1:8080");
        assert!(c.problems().is_empty());
    }

    #[test]
    fn production_refuses_unsafe_settings_and_names_each() {
        assert!(prod().problems().is_empty(), "{:?}", prod().problems());
        let mut c = prod();
        c.public_url = None;
        c.cors_origins = vec!["http://app.example.com".into(), "*".into()];
        let p = c.problems();
        assert!(
            p.iter().any(|m| m.contains("PUBLIC_URL must be set")),
            "{p:?}"
        );
        assert!(p.iter().any(|m| m.contains("\"*\"")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("only https")), "{p:?}");
        let mut c = prod();
        c.public_url = Some("http://api.example.com".into());
        assert!(c.problems().iter().any(|m| m.contains("must be https")));
    }

    #[test]
    fn origins_are_normalised_and_paths_refused() {
        assert_eq!(
            parse_origin("HTTPS://App.Example.com/").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            parse_origin("http://localhost:5173").as_deref(),
            Some("http://localhost:5173")
        );
        assert_eq!(parse_origin("https://a.example.com/path"), None);
        assert_eq!(parse_origin("https://*.example.com"), None);
        assert_eq!(parse_origin("ftp://a.example.com"), None);
        assert_eq!(parse_origin("a.example.com"), None);
        assert_eq!(
            public_origin("https://api.example.com/v1/").as_deref(),
            Some("https://api.example.com")
        );
        assert_eq!(public_origin("api.example.com"), None);
    }

    #[test]
    fn migrate_on_start_can_be_switched_off() {
        let c = Cli::parse_from(["server", "--migrate-on-start", "false"]).config;
        assert!(!c.migrate_on_start);
    }
}
