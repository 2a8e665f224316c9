//! Configuration: command-line options, each also an environment variable, all listed by
//! `server --help`. Parsed once in `main` and passed down through constructors; nothing
//! reads the environment anywhere else, so tests build any configuration they need.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use domain::{Email, RegistrationId};
use identity_oidc::{ClaimMapping, OidcConfig};

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

    /// The built-in `dev` login (any e-mail, no provider). Default: on in dev, off in
    /// production, where turning it on refuses to start.
    #[arg(long, env = "DEV_LOGIN", action = clap::ArgAction::Set, global = true)]
    pub dev_login: Option<bool>,

    /// Comma-separated registration ids of OpenID Connect providers (`google,kakao`). Each
    /// is configured by OIDC_<ID>_ISSUER_URL, OIDC_<ID>_CLIENT_ID, OIDC_<ID>_CLIENT_SECRET
    /// and optionally OIDC_<ID>_SCOPES, OIDC_<ID>_CLAIMS, OIDC_<ID>_ALGORITHMS,
    /// OIDC_<ID>_TOKEN_AUTH (`basic`, the default, or `post`). See docs/accounts.md.
    #[arg(long, env = "OIDC_PROVIDERS", value_delimiter = ',', global = true)]
    pub oidc_providers: Vec<String>,

    /// The providers named by OIDC_PROVIDERS, read from the environment by
    /// [`Config::load_oidc`] (tests set them directly).
    #[arg(skip)]
    pub oidc: Vec<OidcConfig>,

    /// Comma-separated e-mails granted ADMIN at login when their provider verified them.
    #[arg(long, env = "ADMIN_EMAILS", value_delimiter = ',', global = true)]
    pub admin_emails: Vec<String>,

    /// Comma-separated `name:sha256hex` of the tokens other services call in with (role
    /// SERVER). `server service-token new NAME` makes one.
    #[arg(
        long,
        env = "SERVICE_TOKENS",
        value_delimiter = ',',
        hide_env_values = true,
        global = true
    )]
    pub service_tokens: Vec<String>,

    /// A session unused for this many seconds expires.
    #[arg(long, env = "SESSION_IDLE_TTL_SECS", default_value_t = 7 * 24 * 3600, global = true)]
    pub session_idle_ttl_secs: u64,

    /// A session expires this many seconds after login, however active.
    #[arg(long, env = "SESSION_ABSOLUTE_TTL_SECS", default_value_t = 30 * 24 * 3600, global = true)]
    pub session_absolute_ttl_secs: u64,

    /// How long a resolved session may be answered from memory. A logout, revocation or
    /// role change made through another replica (or `server accounts grant`) reaches this
    /// one within it; changes made here take effect at once. 0 turns the cache off.
    #[arg(long, env = "SESSION_CACHE_SECS", default_value_t = 2, global = true)]
    pub session_cache_secs: u64,

    /// How long account summaries and ready images' metadata may be answered from memory.
    /// Changes made through another replica reach this one within it; changes made here
    /// take effect at once. 0 turns the cache off.
    #[arg(long, env = "READ_CACHE_SECS", default_value_t = 30, global = true)]
    pub read_cache_secs: u64,

    /// Login, callback and registration requests allowed per client address per minute.
    #[arg(
        long,
        env = "LOGIN_RATE_LIMIT_PER_MINUTE",
        default_value_t = 60,
        global = true
    )]
    pub login_rate_limit_per_minute: u32,

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

    /// After a successful login, redirect the browser here instead of answering JSON.
    #[arg(long, env = "LOGIN_SUCCESS_REDIRECT", global = true)]
    pub login_success_redirect: Option<String>,

    /// Where image bytes live: `local` (DATA_DIR/objects, served by the service) or `s3`.
    #[arg(
        long,
        env = "STORAGE",
        value_enum,
        default_value = "local",
        global = true
    )]
    pub storage: StorageKind,

    /// Public base URL of stored images. Default for local storage: PUBLIC_URL + `/cdn`.
    #[arg(long, env = "CDN_BASE_URL", global = true)]
    pub cdn_base_url: Option<String>,

    /// Local storage: the 64-hex-digit key signing upload URLs. Default: generated once
    /// into DATA_DIR/storage-signing.key (replicas sharing a directory share it).
    #[arg(
        long,
        env = "STORAGE_SIGNING_KEY",
        hide_env_values = true,
        global = true
    )]
    pub storage_signing_key: Option<String>,

    /// Largest image accepted, in bytes.
    #[arg(long, env = "IMAGE_MAX_BYTES", default_value_t = 10 * 1024 * 1024, global = true)]
    pub image_max_bytes: u64,

    /// Largest width × height accepted (decompression bombs are refused).
    #[arg(
        long,
        env = "IMAGE_MAX_PIXELS",
        default_value_t = 50_000_000,
        global = true
    )]
    pub image_max_pixels: u64,

    /// Seconds a presigned upload URL works.
    #[arg(
        long,
        env = "UPLOAD_URL_TTL_SECS",
        default_value_t = 300,
        global = true
    )]
    pub upload_url_ttl_secs: u64,

    /// Seconds a pending upload waits for its bytes before it expires.
    #[arg(
        long,
        env = "PENDING_UPLOAD_TTL_SECS",
        default_value_t = 900,
        global = true
    )]
    pub pending_upload_ttl_secs: u64,

    /// Seconds between sweeper runs; 0 turns the in-process sweeper off.
    #[arg(long, env = "SWEEP_INTERVAL_SECS", default_value_t = 60, global = true)]
    pub sweep_interval_secs: u64,

    /// A staged object whose record no longer waits for it is removed once older than this
    /// many seconds. Objects no record names are never removed.
    #[arg(long, env = "ORPHAN_GRACE_SECS", default_value_t = 3600, global = true)]
    pub orphan_grace_secs: u64,

    /// Uploads one account may have waiting for their bytes at once (429
    /// `UPLOAD_LIMIT_EXCEEDED` beyond); 0 lifts the limit.
    #[arg(long, env = "UPLOAD_MAX_PENDING", default_value_t = 20, global = true)]
    pub upload_max_pending: u64,

    /// Uploads one account may be issued in an hour (429 `UPLOAD_LIMIT_EXCEEDED` beyond);
    /// 0 lifts the limit.
    #[arg(
        long,
        env = "UPLOAD_URLS_PER_HOUR",
        default_value_t = 300,
        global = true
    )]
    pub upload_urls_per_hour: u64,

    /// Bytes of ready images one account may keep (`QUOTA_EXCEEDED` beyond); 0 lifts the
    /// limit. Default 2 GiB.
    #[arg(long, env = "UPLOAD_QUOTA_BYTES", default_value_t = 2 << 30, global = true)]
    pub upload_quota_bytes: u64,

    /// Seconds any one call to the object store or CDN may take before it counts as
    /// unavailable (409 `CAN_NOT_ACCESS_S3`).
    #[arg(long, env = "STORAGE_TIMEOUT_SECS", default_value_t = 5, global = true)]
    pub storage_timeout_secs: u64,

    /// S3: the bucket.
    #[arg(long, env = "S3_BUCKET", global = true)]
    pub s3_bucket: Option<String>,

    /// S3: the region.
    #[arg(long, env = "S3_REGION", default_value = "us-east-1", global = true)]
    pub s3_region: String,

    /// S3: an S3-compatible endpoint (`https://minio.example.com`); unset for AWS.
    #[arg(long, env = "S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,

    /// S3: path-style addressing (most S3-compatible stores).
    #[arg(long, env = "S3_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub s3_path_style: bool,

    /// S3 and CloudFront: a static access key; unset uses the default chain (environment,
    /// instance or task role, web identity).
    #[arg(long, env = "S3_ACCESS_KEY_ID", global = true)]
    pub s3_access_key_id: Option<String>,

    /// S3 and CloudFront: the static secret key.
    #[arg(
        long,
        env = "S3_SECRET_ACCESS_KEY",
        hide_env_values = true,
        global = true
    )]
    pub s3_secret_access_key: Option<String>,

    /// CloudFront: the distribution whose paths are invalidated on delete and replace.
    /// Unset: no invalidations (a CDN without caching, or none).
    #[arg(long, env = "CLOUDFRONT_DISTRIBUTION_ID", global = true)]
    pub cloudfront_distribution_id: Option<String>,

    /// CloudFront: an endpoint override (emulators only).
    #[arg(long, env = "CLOUDFRONT_ENDPOINT", global = true)]
    pub cloudfront_endpoint: Option<String>,

    /// How reporters are told about their reports: `log` (default), `aligo` (SMS) or
    /// `webhook`.
    #[arg(
        long,
        env = "NOTIFIER",
        value_enum,
        default_value = "log",
        global = true
    )]
    pub notifier: NotifierKind,

    /// Aligo: the API endpoint.
    #[arg(
        long,
        env = "ALIGO_ENDPOINT",
        default_value = "https://apis.aligo.in/send/",
        global = true
    )]
    pub aligo_endpoint: String,

    /// Aligo: the API key.
    #[arg(long, env = "ALIGO_KEY", hide_env_values = true, global = true)]
    pub aligo_key: Option<String>,

    /// Aligo: the account id.
    #[arg(long, env = "ALIGO_USER_ID", global = true)]
    pub aligo_user_id: Option<String>,

    /// Aligo: the registered sender number.
    #[arg(long, env = "ALIGO_SENDER", global = true)]
    pub aligo_sender: Option<String>,

    /// Aligo: test mode (accepted and answered, nothing sent).
    #[arg(long, env = "ALIGO_TEST_MODE", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub aligo_test_mode: bool,

    /// Webhook: where notices are POSTed.
    #[arg(long, env = "WEBHOOK_URL", global = true)]
    pub webhook_url: Option<String>,

    /// Webhook: the HMAC-SHA256 key signing each body (`X-Signature`).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true, global = true)]
    pub webhook_secret: Option<String>,

    /// Seconds one delivery may take.
    #[arg(long, env = "NOTIFY_TIMEOUT_SECS", default_value_t = 5, global = true)]
    pub notify_timeout_secs: u64,

    /// Deliveries tried before a notice is marked failed (with backoff in between).
    #[arg(long, env = "NOTIFY_MAX_ATTEMPTS", default_value_t = 6, global = true)]
    pub notify_max_attempts: u32,

    /// Seconds between notification worker passes; 0 turns the in-process worker off.
    #[arg(long, env = "NOTIFY_INTERVAL_SECS", default_value_t = 2, global = true)]
    pub notify_interval_secs: u64,

    /// Seconds a worker holds the outbox jobs it claimed (notices, CDN invalidations): a
    /// replica that dies holding some leaves them to another after this. Keep it longer
    /// than a batch takes (20 notices × NOTIFY_TIMEOUT_SECS).
    #[arg(long, env = "OUTBOX_LEASE_SECS", default_value_t = 300, global = true)]
    pub outbox_lease_secs: u64,

    /// When set, `/metrics` requires `Authorization: Bearer <this token>`.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<String>,

    /// The demo page at `/`. Default: on in dev, off in production.
    #[arg(long, env = "DEMO_PAGE", action = clap::ArgAction::Set, global = true)]
    pub demo_page: Option<bool>,

    /// Reports one account may file in 24 hours.
    #[arg(long, env = "REPORTS_PER_DAY", default_value_t = 20, global = true)]
    pub reports_per_day: u64,
}

/// Which notifier adapter to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotifierKind {
    Log,
    Aligo,
    Webhook,
}

/// Which object-store adapter set to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageKind {
    Local,
    S3,
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

    /// Whether the dev login is on.
    pub fn dev_login(&self) -> bool {
        self.dev_login.unwrap_or(self.app_env == AppEnv::Dev)
    }

    /// Reads each provider named by OIDC_PROVIDERS from `env` (the process environment in
    /// `main`) into `self.oidc`.
    ///
    /// # Errors
    /// Every missing or malformed setting, named.
    pub fn load_oidc(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut out = Vec::new();
        for raw in self
            .oidc_providers
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
        {
            let id = match RegistrationId::parse(raw) {
                Ok(id) if id.as_str() != "dev" => id,
                Ok(_) => {
                    problems.push(
                        "OIDC_PROVIDERS: `dev` is the built-in dev login, not an OIDC provider"
                            .to_owned(),
                    );
                    continue;
                }
                Err(e) => {
                    problems.push(format!("OIDC_PROVIDERS: {raw:?} {}", e.reason));
                    continue;
                }
            };
            let prefix = format!("OIDC_{}_", raw.to_ascii_uppercase().replace('-', "_"));
            let var = |name: &str| env(&format!("{prefix}{name}")).filter(|v| !v.trim().is_empty());
            let (Some(issuer), Some(client_id)) = (var("ISSUER_URL"), var("CLIENT_ID")) else {
                problems.push(format!(
                    "{prefix}ISSUER_URL and {prefix}CLIENT_ID must be set for provider {id}"
                ));
                continue;
            };
            let mut c = OidcConfig::new(id, issuer.trim(), client_id.trim(), var("CLIENT_SECRET"));
            if let Some(scopes) = var("SCOPES") {
                c.scopes = scopes
                    .split([',', ' '])
                    .filter(|s| !s.is_empty() && *s != "openid")
                    .map(str::to_owned)
                    .collect();
            }
            if let Some(claims) = var("CLAIMS") {
                match ClaimMapping::parse(&claims) {
                    Ok(m) => c.claims = m,
                    Err(e) => problems.push(format!("{prefix}CLAIMS: {e}")),
                }
            }
            match var("TOKEN_AUTH").as_deref().map(str::trim) {
                None | Some("basic") => {}
                Some("post") => c.secret_in_body = true,
                Some(other) => problems.push(format!(
                    "{prefix}TOKEN_AUTH: {other:?} is not basic or post"
                )),
            }
            if let Some(algs) = var("ALGORITHMS") {
                c.allowed_algs = algs.split(',').map(|a| a.trim().to_owned()).collect();
            }
            out.push(c);
        }
        self.oidc = out;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// ADMIN_EMAILS, parsed.
    ///
    /// # Errors
    /// Every malformed address.
    pub fn parsed_admin_emails(&self) -> Result<Vec<Email>, Vec<String>> {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for e in self
            .admin_emails
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
        {
            match Email::parse(e) {
                Ok(e) => ok.push(e),
                Err(_) => bad.push(format!("ADMIN_EMAILS: {e:?} is not an e-mail address")),
            }
        }
        if bad.is_empty() { Ok(ok) } else { Err(bad) }
    }

    /// SERVICE_TOKENS as (sha256 hex, name) pairs.
    ///
    /// # Errors
    /// Every malformed entry (the hash is not printed back).
    pub fn parsed_service_tokens(&self) -> Result<Vec<(String, String)>, Vec<String>> {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for entry in self
            .service_tokens
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
        {
            match entry.split_once(':') {
                Some((name, hash))
                    if !name.trim().is_empty()
                        && hash.trim().len() == 64
                        && hash.trim().bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    ok.push((hash.trim().to_ascii_lowercase(), name.trim().to_owned()));
                }
                _ => bad.push(format!(
                    "SERVICE_TOKENS: an entry for {:?} is not name:<64 hex digits of SHA-256>",
                    entry.split(':').next().unwrap_or_default()
                )),
            }
        }
        if bad.is_empty() { Ok(ok) } else { Err(bad) }
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

    /// The image policy these settings describe.
    pub fn cache_policy(&self) -> domain::CachePolicy {
        let secs = |s: u64| time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX));
        domain::CachePolicy {
            session_ttl: secs(self.session_cache_secs),
            read_ttl: secs(self.read_cache_secs),
            ..domain::CachePolicy::default()
        }
    }

    pub fn image_policy(&self) -> domain::services::ImagePolicy {
        let secs = |n: u64| time::Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX));
        domain::services::ImagePolicy {
            max_size: self.image_max_bytes,
            presign_ttl: Duration::from_secs(self.upload_url_ttl_secs),
            pending_ttl: secs(self.pending_upload_ttl_secs),
            max_pixels: self.image_max_pixels,
            orphan_grace: secs(self.orphan_grace_secs),
            limits: domain::UploadLimits {
                pending: (self.upload_max_pending > 0).then_some(self.upload_max_pending),
                per_hour: (self.upload_urls_per_hour > 0).then_some(self.upload_urls_per_hour),
                stored_bytes: (self.upload_quota_bytes > 0).then_some(self.upload_quota_bytes),
            },
            ..domain::services::ImagePolicy::default()
        }
    }

    /// The S3 settings, when STORAGE=s3.
    pub fn s3(&self) -> Option<storage_s3::S3Config> {
        (self.storage == StorageKind::S3).then(|| storage_s3::S3Config {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            bucket: self.s3_bucket.clone().unwrap_or_default(),
            path_style: self.s3_path_style,
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.clone(),
            timeout: Duration::from_secs(self.storage_timeout_secs.max(1)),
        })
    }

    pub fn object_store_dir(&self) -> PathBuf {
        self.data_dir.join("objects")
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
        if let Err(mut bad) = self.parsed_admin_emails() {
            problems.append(&mut bad);
        }
        if let Err(mut bad) = self.parsed_service_tokens() {
            problems.append(&mut bad);
        }
        if self.session_idle_ttl_secs == 0 || self.session_absolute_ttl_secs == 0 {
            problems.push(
                "SESSION_IDLE_TTL_SECS and SESSION_ABSOLUTE_TTL_SECS must be positive".to_owned(),
            );
        }
        if self.login_rate_limit_per_minute == 0 {
            problems.push("LOGIN_RATE_LIMIT_PER_MINUTE must be positive".to_owned());
        }
        if self.outbox_lease_secs == 0 {
            problems.push("OUTBOX_LEASE_SECS must be positive".to_owned());
        }
        if let Some(u) = &self.login_success_redirect
            && public_origin(u).is_none()
            && !u.starts_with('/')
        {
            problems.push(format!(
                "LOGIN_SUCCESS_REDIRECT: {u:?} is not an http(s) URL or a path"
            ));
        }
        if let Some(k) = &self.storage_signing_key
            && (k.len() != 64 || !k.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            problems.push("STORAGE_SIGNING_KEY must be 64 hex digits (32 bytes)".to_owned());
        }
        if let Some(u) = &self.cdn_base_url
            && public_origin(u).is_none()
        {
            problems.push(format!("CDN_BASE_URL: {u:?} is not an http(s) URL"));
        }
        if self.storage == StorageKind::S3 {
            if self.s3_bucket.as_deref().is_none_or(str::is_empty) {
                problems.push("STORAGE=s3 needs S3_BUCKET".to_owned());
            }
            if self.cdn_base_url.is_none() {
                problems.push("STORAGE=s3 needs CDN_BASE_URL (the CloudFront or bucket URL images are served from)".to_owned());
            }
            if self.s3_access_key_id.is_some() != self.s3_secret_access_key.is_some() {
                problems.push("S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together".to_owned());
            }
        }
        match self.notifier {
            NotifierKind::Aligo
                if [&self.aligo_key, &self.aligo_user_id, &self.aligo_sender]
                    .iter()
                    .any(|v| v.as_deref().is_none_or(str::is_empty)) =>
            {
                problems.push(
                    "NOTIFIER=aligo needs ALIGO_KEY, ALIGO_USER_ID and ALIGO_SENDER".to_owned(),
                );
            }
            NotifierKind::Webhook
                if self.webhook_url.is_none() || self.webhook_secret.is_none() =>
            {
                problems.push("NOTIFIER=webhook needs WEBHOOK_URL and WEBHOOK_SECRET".to_owned());
            }
            _ => {}
        }
        if self.image_max_bytes == 0
            || self.upload_url_ttl_secs == 0
            || self.pending_upload_ttl_secs == 0
        {
            problems.push(
                "IMAGE_MAX_BYTES, UPLOAD_URL_TTL_SECS and PENDING_UPLOAD_TTL_SECS must be positive"
                    .to_owned(),
            );
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
            if self.dev_login == Some(true) {
                problems.push(
                    "DEV_LOGIN must be off in production: it logs anyone in as any e-mail"
                        .to_owned(),
                );
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
    fn dev_login_is_on_in_dev_and_refused_in_production() {
        assert!(Config::for_tests("/tmp/x").dev_login());
        assert!(!prod().dev_login());
        let mut c = prod();
        c.dev_login = Some(true);
        assert!(c.problems().iter().any(|p| p.contains("DEV_LOGIN")));
    }

    #[test]
    fn oidc_providers_are_read_from_prefixed_variables() {
        let mut c = Config::for_tests("/tmp/x");
        c.oidc_providers = vec!["google".into(), "kakao".into()];
        let env = |k: &str| -> Option<String> {
            match k {
                "OIDC_GOOGLE_ISSUER_URL" => Some("https://accounts.google.com".into()),
                "OIDC_GOOGLE_CLIENT_ID" => Some("gid".into()),
                "OIDC_GOOGLE_CLIENT_SECRET" => Some("gsecret".into()),
                "OIDC_KAKAO_ISSUER_URL" => Some("https://kauth.kakao.com".into()),
                "OIDC_KAKAO_CLIENT_ID" => Some("kid".into()),
                "OIDC_KAKAO_SCOPES" => Some("openid profile_nickname account_email".into()),
                "OIDC_KAKAO_CLAIMS" => Some("name=nickname".into()),
                "OIDC_KAKAO_TOKEN_AUTH" => Some("post".into()),
                _ => None,
            }
        };
        c.load_oidc(env).expect("both load");
        assert_eq!(c.oidc.len(), 2);
        assert_eq!(c.oidc[0].client_secret.as_deref(), Some("gsecret"));
        assert_eq!(c.oidc[1].scopes, vec!["profile_nickname", "account_email"]);
        assert_eq!(c.oidc[1].claims.name.as_deref(), Some("nickname"));
        assert!(c.oidc[1].secret_in_body && !c.oidc[0].secret_in_body);

        c.oidc_providers = vec!["github".into(), "dev".into()];
        let problems = c.load_oidc(|_| None).expect_err("missing settings");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("OIDC_GITHUB_ISSUER_URL")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("built-in dev login")),
            "{problems:?}"
        );
    }

    #[test]
    fn service_tokens_and_admin_emails_are_checked() {
        let mut c = Config::for_tests("/tmp/x");
        c.service_tokens = vec![format!("chat:{}", "a".repeat(64)), "bad:123".into()];
        c.admin_emails = vec!["boss@example.com".into(), "nope".into()];
        let p = c.problems();
        assert!(
            p.iter()
                .any(|m| m.contains("SERVICE_TOKENS") && m.contains("\"bad\"")),
            "{p:?}"
        );
        assert!(p.iter().any(|m| m.contains("ADMIN_EMAILS")), "{p:?}");
        assert!(
            !p.iter().any(|m| m.contains("123")),
            "hashes are not echoed"
        );
    }

    #[test]
    fn migrate_on_start_can_be_switched_off() {
        let c = Cli::parse_from(["server", "--migrate-on-start", "false"]).config;
        assert!(!c.migrate_on_start);
    }
}
