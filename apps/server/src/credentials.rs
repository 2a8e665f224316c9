//! How credentials travel: the cookies the service sets (session, login state, pending
//! registration) and the service tokens other services call in with.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use domain::{SessionToken, TokenHash};

pub const SESSION_COOKIE: &str = "s_access";
pub const LOGIN_COOKIE: &str = "s_login";
pub const REGISTER_COOKIE: &str = "s_register";
pub const SERVICE_TOKEN_PREFIX: &str = "svc_";

/// How cookies are set: `Secure` outside dev.
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    pub secure: bool,
}

impl CookiePolicy {
    fn base<'a>(
        &self,
        name: &'a str,
        value: String,
        path: &'a str,
        max_age: Duration,
    ) -> Cookie<'a> {
        Cookie::build(name, value)
            .path(path)
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(time::Duration::seconds(
                i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
            ))
            .finish()
    }

    pub fn session(&self, token: &SessionToken, max_age: Duration) -> Cookie<'static> {
        self.base(SESSION_COOKIE, token.expose().to_owned(), "/", max_age)
    }

    /// The login state, sent back only to the callback.
    pub fn login_state(&self, state: &str, max_age: Duration) -> Cookie<'static> {
        self.base(
            LOGIN_COOKIE,
            state.to_owned(),
            "/login/oauth2/code",
            max_age,
        )
    }

    /// The pending registration, sent back only to `POST /account/register`.
    pub fn registration(&self, token: &str, max_age: Duration) -> Cookie<'static> {
        self.base(
            REGISTER_COOKIE,
            token.to_owned(),
            "/account/register",
            max_age,
        )
    }

    /// A cookie that deletes `name` at `path`.
    pub fn removal(&self, name: &'static str, path: &'static str) -> Cookie<'static> {
        let mut c = self.base(name, String::new(), path, Duration::ZERO);
        c.make_removal();
        c
    }
}

/// Service tokens by the hex SHA-256 of the token.
#[derive(Debug, Clone, Default)]
pub struct ServiceTokens(HashMap<String, String>);

impl ServiceTokens {
    pub fn new(entries: Vec<(String, String)>) -> Self {
        Self(entries.into_iter().collect())
    }

    /// The service this token belongs to.
    pub fn name_of(&self, token: &str) -> Option<&str> {
        self.0
            .get(&TokenHash::of(token).to_hex())
            .map(String::as_str)
    }

    /// A new token and the SERVICE_TOKENS entry that accepts it.
    pub fn generate(name: &str) -> (String, String) {
        let token = format!(
            "{SERVICE_TOKEN_PREFIX}{}",
            SessionToken::generate().expose()
        );
        let entry = format!("{name}:{}", TokenHash::of(&token).to_hex());
        (token, entry)
    }
}
