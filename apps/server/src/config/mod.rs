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
        if self.app_env == AppEnv::Production {
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
                    "DEV_LOGIN must be off in production: it logs anyone in as any e-mail"
                        .to_owned(),
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
        problems
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
mod tests {
    use super::*;

    fn prod() -> Config {
        let mut c = Config::for_tests("/tmp/x");
        c.app_env = AppEnv::Production;
        c.http.public_url = Some("https://api.example.com".into());
        c
    }

    #[test]
    fn defaults_are_the_embedded_ones() {
        let c = Cli::parse_from(["server"]).config;
        assert_eq!(c.http.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.app_env, AppEnv::Dev);
        assert!(c.database.migrate_on_start);
        assert!(c.database_url().starts_with("sqlite://./data/service.db"));
        assert_eq!(c.http.public_url(c.http.bind_addr), "http://127.0.0.1:8080");
        assert!(c.problems().is_empty());
    }

    #[test]
    fn production_refuses_unsafe_settings_and_names_each() {
        assert!(prod().problems().is_empty(), "{:?}", prod().problems());
        let mut c = prod();
        c.http.public_url = None;
        c.http.cors_origins = vec!["http://app.example.com".into(), "*".into()];
        let p = c.problems();
        assert!(
            p.iter().any(|m| m.contains("PUBLIC_URL must be set")),
            "{p:?}"
        );
        assert!(p.iter().any(|m| m.contains("\"*\"")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("only https")), "{p:?}");
        let mut c = prod();
        c.http.public_url = Some("http://api.example.com".into());
        assert!(c.problems().iter().any(|m| m.contains("must be https")));
        let mut c = prod();
        c.events.event_endpoints = Some("chat=https://chat.internal/e * whsec_x".into());
        assert!(
            c.problems()
                .iter()
                .any(|m| m.contains("EVENT_ENDPOINTS entry 1")),
            "a malformed endpoint is refused"
        );
    }

    #[test]
    fn a_debug_print_of_the_configuration_carries_no_secret() {
        let secrets = [
            "metrics-7f3a9c-secret",
            "aligo-7f3a9c-secret",
            "webhook-7f3a9c-secret",
            "-----BEGIN PRIVATE KEY-----7f3a9c",
            &"ab".repeat(32),
            "s3-7f3a9c-secret-access",
            "pg-7f3a9c-password",
            "oidc-7f3a9c-client-secret",
        ];
        let mut c = prod();
        c.http.metrics_token = Some(secrets[0].into());
        c.notify.aligo_key = Some(secrets[1].into());
        c.notify.webhook_secret = Some(secrets[2].into());
        c.storage.cloudfront_private_key = Some(secrets[3].into());
        c.storage.storage_signing_key = Some(secrets[4].into());
        c.storage.s3_secret_access_key = Some(secrets[5].into());
        c.storage.s3_access_key_id = Some("AKIA7F3A9C".into());
        c.database.database_url = Some(format!("postgres://svc:{}@db/app", secrets[6]).into());
        c.identity.oidc = vec![identity_oidc::OidcConfig::new(
            domain::RegistrationId::parse("google").unwrap(),
            "https://accounts.google.com",
            "web-client",
            Some(secrets[7].to_owned()),
        )];
        let printed = format!("{c:?} {c:#?} {:?}", c.problems());
        for s in secrets {
            assert!(!printed.contains(s), "{s} printed");
        }
        // And from the environment, as a deployment sets them.
        let cli = Cli::try_parse_from(["server", "--metrics-token", secrets[0]]).unwrap();
        assert!(!format!("{cli:?}").contains(secrets[0]));
    }

    #[test]
    fn production_posts_events_only_to_https_hosts_elsewhere() {
        for (url, bad) in [
            ("https://chat.internal/e", false),
            ("https://10.0.0.5:8443/e", false),
            ("http://chat.internal/e", true),
            ("https://127.0.0.1/e", true),
            ("https://localhost:9000/e", true),
            ("https://LOCALHOST./e", true),
            ("https://169.254.169.254/latest", true),
            ("https://[::1]:8080/e", true),
            ("https://[fe80::1]/e", true),
            ("https://0.0.0.0/e", true),
            ("https://user@127.0.0.1/e", true),
        ] {
            let mut c = prod();
            c.events.event_endpoints = Some(format!(
                "chat={url} * whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            ));
            let p = c.problems();
            assert_eq!(
                p.iter().any(|m| m.starts_with("EVENT_ENDPOINTS chat")),
                bad,
                "{url}: {p:?}"
            );
            let mut c = prod();
            c.notify.webhook_url = Some(url.to_owned());
            assert_eq!(
                c.problems().iter().any(|m| m.starts_with("WEBHOOK_URL")),
                bad,
                "{url}"
            );
        }
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
        c.identity.dev_login = Some(true);
        assert!(c.problems().iter().any(|p| p.contains("DEV_LOGIN")));
    }

    #[test]
    fn oidc_providers_are_read_from_prefixed_variables() {
        let mut c = Config::for_tests("/tmp/x");
        c.identity.oidc_providers = vec!["google".into(), "kakao".into()];
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
        c.identity.load_oidc(env).expect("both load");
        assert_eq!(c.identity.oidc.len(), 2);
        assert_eq!(
            c.identity.oidc[0]
                .client_secret
                .as_ref()
                .map(secrecy::ExposeSecret::expose_secret),
            Some("gsecret")
        );
        assert_eq!(
            c.identity.oidc[1].scopes,
            vec!["profile_nickname", "account_email"]
        );
        assert_eq!(c.identity.oidc[1].claims.name.as_deref(), Some("nickname"));
        assert!(c.identity.oidc[1].secret_in_body && !c.identity.oidc[0].secret_in_body);

        c.identity.oidc_providers = vec!["github".into(), "dev".into()];
        let problems = c
            .identity
            .load_oidc(|_| None)
            .expect_err("missing settings");
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
        c.identity.service_tokens = vec![format!("chat:{}", "a".repeat(64)), "bad:123".into()];
        c.identity.admin_emails = vec!["boss@example.com".into(), "nope".into()];
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
        assert!(!c.database.migrate_on_start);
    }
}
