//! Configuration: command-line options, each also an environment variable, all listed by
//! `server --help`. Parsed once in `main` and passed down through constructors; nothing
//! reads the environment anywhere else, so tests build any configuration they need.

use secrecy::ExposeSecret as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod database;
mod events;
mod http;
mod identity;
mod images;
mod notify;
mod storage;

pub use database::DatabaseConfig;
pub use events::{EndpointConfig, EventsConfig};
pub use http::{HttpConfig, LogFormat, parse_origin, public_origin};
pub use identity::IdentityConfig;
pub use images::ImagesConfig;
pub use notify::{NotifierKind, NotifyConfig};
pub use storage::{StorageConfig, StorageKind};

/// Seconds as a `time::Duration`, saturating: every `*_SECS` setting the domain takes.
pub(crate) fn seconds(n: u64) -> time::Duration {
    time::Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX))
}

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
    /// Run the image sweeper once (expire pending uploads, apply retention, remove the
    /// objects records name and staged leftovers), then exit.
    Sweep,
    /// Manage the object store.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Manage accounts from the command line.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Manage the tokens other services call in with (role SERVER).
    #[command(subcommand, name = "service-token")]
    ServiceToken(ServiceTokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Install the retention rules as the S3 bucket's lifecycle rules (chat 7 days, scan 30
    /// days, staged uploads 1 day). Replaces the bucket's lifecycle configuration.
    ApplyLifecycle,
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Grant ROLE (ADMIN, STAFF, USER, SERVER) to the account with this verified e-mail.
    Grant { email: String, role: String },
}

#[derive(Debug, Subcommand)]
pub enum ServiceTokenCommand {
    /// Print a new token for service NAME and the SERVICE_TOKENS entry (its SHA-256) to
    /// configure. The token is shown once and stored nowhere.
    New { name: String },
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
    /// Directory for the embedded defaults: the SQLite file and the local object store.
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// `dev` (default) or `production`.
    #[arg(
        long,
        env = "APP_ENV",
        value_enum,
        default_value = "dev",
        global = true
    )]
    pub app_env: AppEnv,

    /// How long account summaries and ready images' metadata may be answered from memory.
    /// Changes made through another replica reach this one within it; changes made here
    /// take effect at once. 0 turns the cache off.
    #[arg(long, env = "READ_CACHE_SECS", default_value_t = 30, global = true)]
    pub read_cache_secs: u64,

    /// Reports one account may file in 24 hours.
    #[arg(long, env = "REPORTS_PER_DAY", default_value_t = 20, global = true)]
    pub reports_per_day: u64,

    #[command(flatten)]
    pub http: HttpConfig,

    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub identity: IdentityConfig,

    #[command(flatten)]
    pub storage: StorageConfig,

    #[command(flatten)]
    pub images: ImagesConfig,

    #[command(flatten)]
    pub notify: NotifyConfig,

    #[command(flatten)]
    pub events: EventsConfig,
}

impl Config {
    /// A configuration for tests and embedding: the defaults, rooted at `data_dir`,
    /// listening on a free loopback port.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Self {
        let mut cfg = Cli::parse_from(["server"]).config;
        cfg.data_dir = data_dir.into();
        cfg.http.bind_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        cfg.database.database_url = None;
        cfg.http.public_url = None;
        cfg.http.cors_origins = Vec::new();
        cfg
    }

    /// Whether the dev login is on.
    pub fn dev_login(&self) -> bool {
        self.identity
            .dev_login
            .unwrap_or(self.app_env == AppEnv::Dev)
    }

    /// DATABASE_URL, or the embedded SQLite file in DATA_DIR.
    pub fn database_url(&self) -> String {
        self.database.url(&self.data_dir)
    }

    /// The read caches' lifetimes.
    pub fn cache_policy(&self) -> domain::CachePolicy {
        domain::CachePolicy {
            session_ttl: seconds(self.identity.session_cache_secs),
            read_ttl: seconds(self.read_cache_secs),
            ..domain::CachePolicy::default()
        }
    }

    pub fn object_store_dir(&self) -> PathBuf {
        self.data_dir.join("objects")
    }

    pub fn log_format(&self) -> LogFormat {
        self.http.log_format.unwrap_or(match self.app_env {
            AppEnv::Production => LogFormat::Json,
            AppEnv::Dev => LogFormat::Text,
        })
    }

    /// Every reason this configuration is unsafe to run with; empty when it is fine.
    /// In `dev` only malformed values count; `production` also refuses what is merely risky.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        self.http_and_identity_problems(&mut problems);
        self.storage_problems(&mut problems);
        self.delivery_problems(&mut problems);
        self.image_problems(&mut problems);
        if self.app_env == AppEnv::Production {
            self.production_problems(&mut problems);
        }
        problems
    }

    /// The HTTP and identity settings.
    fn http_and_identity_problems(&self, problems: &mut Vec<String>) {
        if let Err(mut bad) = self.http.parsed_cors_origins() {
            problems.append(&mut bad);
        }
        if let Some(u) = &self.http.public_url
            && public_origin(u).is_none()
        {
            problems.push(format!(
                "PUBLIC_URL: {u:?} is not an http(s) URL (scheme://host[:port][/path])"
            ));
        }
        if let Err(mut bad) = self.identity.parsed_admin_emails() {
            problems.append(&mut bad);
        }
        if let Err(mut bad) = self.identity.parsed_service_tokens() {
            problems.append(&mut bad);
        }
        if self.identity.session_idle_ttl_secs == 0 || self.identity.session_absolute_ttl_secs == 0
        {
            problems.push(
                "SESSION_IDLE_TTL_SECS and SESSION_ABSOLUTE_TTL_SECS must be positive".to_owned(),
            );
        }
        if self.identity.login_rate_limit_per_minute == 0 {
            problems.push("LOGIN_RATE_LIMIT_PER_MINUTE must be positive".to_owned());
        }
        if self.notify.outbox_lease_secs == 0 {
            problems.push("OUTBOX_LEASE_SECS must be positive".to_owned());
        }
        if let Some(u) = &self.identity.login_success_redirect
            && public_origin(u).is_none()
            && !u.starts_with('/')
        {
            problems.push(format!(
                "LOGIN_SUCCESS_REDIRECT: {u:?} is not an http(s) URL or a path"
            ));
        }
    }

    /// The object store and CDN settings.
    fn storage_problems(&self, problems: &mut Vec<String>) {
        if let Some(k) = self
            .storage
            .storage_signing_key
            .as_ref()
            .map(|k| k.expose_secret())
            && (k.len() != 64 || !k.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            problems.push("STORAGE_SIGNING_KEY must be 64 hex digits (32 bytes)".to_owned());
        }
        if let Some(u) = &self.storage.cdn_base_url
            && public_origin(u).is_none()
        {
            problems.push(format!("CDN_BASE_URL: {u:?} is not an http(s) URL"));
        }
        if self.storage.kind == StorageKind::S3 {
            if self.storage.s3_bucket.as_deref().is_none_or(str::is_empty) {
                problems.push("STORAGE=s3 needs S3_BUCKET".to_owned());
            }
            if self.storage.cdn_base_url.is_none() {
                problems.push("STORAGE=s3 needs CDN_BASE_URL (the CloudFront or bucket URL images are served from)".to_owned());
            }
            if self.storage.s3_access_key_id.is_some()
                != self.storage.s3_secret_access_key.is_some()
            {
                problems.push("S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together".to_owned());
            }
        }
    }

    /// The notifier and the event endpoints.
    fn delivery_problems(&self, problems: &mut Vec<String>) {
        match self.notify.notifier {
            NotifierKind::Aligo
                if [
                    self.notify.aligo_key.as_ref().map(|k| k.expose_secret()),
                    self.notify.aligo_user_id.as_deref(),
                    self.notify.aligo_sender.as_deref(),
                ]
                .iter()
                .any(|v| v.is_none_or(str::is_empty)) =>
            {
                problems.push(
                    "NOTIFIER=aligo needs ALIGO_KEY, ALIGO_USER_ID and ALIGO_SENDER".to_owned(),
                );
            }
            NotifierKind::Webhook
                if self.notify.webhook_url.is_none() || self.notify.webhook_secret.is_none() =>
            {
                problems.push("NOTIFIER=webhook needs WEBHOOK_URL and WEBHOOK_SECRET".to_owned());
            }
            _ => {}
        }
        if let Err(bad) = self.events.endpoints() {
            problems.extend(bad);
        }
    }

    /// The image policy, the CloudFront key pair and the body limit.
    fn image_problems(&self, problems: &mut Vec<String>) {
        if let Err(e) = self.images.variants() {
            problems.push(format!("IMAGE_VARIANTS: {}", e.reason));
        }
        for name in self.images.unknown_private_channels() {
            problems.push(format!(
                "IMAGE_PRIVATE_CHANNELS: {name} is no channel (profile, post, chat, scan, my, report)"
            ));
        }
        if self.storage.cloudfront_key_pair_id.is_some()
            != self.storage.cloudfront_private_key.is_some()
        {
            problems
                .push("CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_PRIVATE_KEY go together".to_owned());
        }
        if self.images.image_max_bytes == 0
            || self.images.upload_url_ttl_secs == 0
            || self.images.pending_upload_ttl_secs == 0
        {
            problems.push(
                "IMAGE_MAX_BYTES, UPLOAD_URL_TTL_SECS and PENDING_UPLOAD_TTL_SECS must be positive"
                    .to_owned(),
            );
        }
        if self.http.json_body_limit == 0 {
            problems.push("JSON_BODY_LIMIT must be greater than 0".to_owned());
        }
    }

    /// What `production` refuses beyond malformed values.
    fn production_problems(&self, problems: &mut Vec<String>) {
        match &self.http.public_url {
            None => problems.push(
                "PUBLIC_URL must be set in production (the https URL clients use)".to_owned(),
            ),
            Some(u) if !u.starts_with("https://") => problems.push(format!(
                "PUBLIC_URL must be https in production (session cookies are Secure), got {u:?}"
            )),
            Some(_) => {}
        }
        if self.identity.dev_login == Some(true) {
            problems.push(
                "DEV_LOGIN must be off in production: it logs anyone in as any e-mail".to_owned(),
            );
        }
        if self
            .http
            .cors_origins
            .iter()
            .any(|o| o.trim().starts_with("http://"))
        {
            problems.push("CORS_ORIGINS must list only https origins in production".to_owned());
        }
        let outbound = self
            .events
            .endpoints()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (format!("EVENT_ENDPOINTS {}", e.name), e.endpoint.url))
            .chain(
                self.notify
                    .webhook_url
                    .clone()
                    .map(|u| ("WEBHOOK_URL".to_owned(), u)),
            );
        for (what, url) in outbound {
            if let Some(why) = unsafe_outbound(&url) {
                problems.push(format!("{what}: {why} in production"));
            }
        }
    }
}

/// A secret setting: never in `Debug`, logs or `Config::problems()`; read with
/// `expose_secret()` where it is used.
pub type Secret = secrecy::SecretString;

/// clap's parser for a [`Secret`].
///
/// # Errors
/// Never: every string is a secret.
pub fn secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::from(s))
}

/// Why a URL the service posts signed data to is unsafe in production: not https (the
/// signature does not hide the content), or a host on this machine or its link (loopback,
/// link-local such as the cloud metadata address, unspecified), where a mistyped or
/// hostile setting reaches what it should not.
fn unsafe_outbound(url: &str) -> Option<&'static str> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Some("the URL must be https");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let internal = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_link_local() || ip.is_unspecified()
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.is_unspecified() || ip.is_unicast_link_local()
        }
        Err(_) => host == "localhost" || host.ends_with(".localhost") || host.is_empty(),
    };
    internal.then_some("the host is loopback, link-local or unspecified")
}

#[cfg(test)]
mod tests;
