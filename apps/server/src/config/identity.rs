//! Identity: login (OIDC providers, the dev login), who is ADMIN, the tokens services call
//! in with, sessions and their lifetimes, the login rate limit.

use clap::Args;
use domain::{Email, RegistrationId};
use identity_oidc::{ClaimMapping, OidcConfig};

use super::seconds;

/// The identity settings.
#[derive(Debug, Clone, Args)]
pub struct IdentityConfig {
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
    /// [`IdentityConfig::load_oidc`] (tests set them directly).
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

    /// Login, callback and registration requests allowed per client address per minute.
    #[arg(
        long,
        env = "LOGIN_RATE_LIMIT_PER_MINUTE",
        default_value_t = 60,
        global = true
    )]
    pub login_rate_limit_per_minute: u32,

    /// After a successful login, redirect the browser here instead of answering JSON.
    #[arg(long, env = "LOGIN_SUCCESS_REDIRECT", global = true)]
    pub login_success_redirect: Option<String>,
}

impl IdentityConfig {
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

    /// Session lifetimes.
    pub fn session_policy(&self) -> domain::services::SessionPolicy {
        domain::services::SessionPolicy {
            idle_ttl: seconds(self.session_idle_ttl_secs),
            absolute_ttl: seconds(self.session_absolute_ttl_secs),
            ..domain::services::SessionPolicy::default()
        }
    }
}
