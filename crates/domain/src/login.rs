//! Logging in through identity providers: the OAuth2/OIDC authorization-code dance as a
//! port, and the short-lived state a login needs between its redirect and its callback.

use crate::account::Identity;
use crate::error::{BoxError, ParseError};
use std::fmt;
use time::OffsetDateTime;

/// A configured provider's name in URLs (`google`, `kakao`, `dev`): 1 to 32 lower-case
/// letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrationId(String);

impl RegistrationId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "registrationId",
                "must be 1 to 32 lower-case letters, digits, '-' or '_'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegistrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hints a client may pass to the provider with the login redirect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginHints {
    /// OIDC `login_hint` (an email, usually).
    pub login_hint: Option<String>,
    /// A display name, used only by the `dev` provider.
    pub name: Option<String>,
}

/// Where to send the browser, and the secrets that must come back with the callback.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationRedirect {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl fmt::Debug for AuthorizationRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRedirect")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A login in progress, between the redirect and the callback. Stored under the hash of its
/// `state`, used once.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginFlow {
    pub registration_id: RegistrationId,
    pub nonce: String,
    pub pkce_verifier: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for LoginFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginFlow")
            .field("registration_id", &self.registration_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What a provider vouches for after a successful exchange, as it said it: the login
/// service validates every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderClaims {
    pub identity: Identity,
    pub email: Option<String>,
    /// Only true when the provider says so explicitly.
    pub email_verified: bool,
    pub name: Option<String>,
    pub locale: Option<String>,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
}

/// A login whose provider gave too little to create an account: kept until the user
/// completes it with `POST /account/register`, under the hash of an opaque token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRegistration {
    pub claims: ProviderClaims,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Failures of an identity provider.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The provider could not be reached, timed out or answered with a server error.
    #[error("the identity provider is unavailable")]
    Unavailable(#[source] BoxError),
    /// The provider refused the exchange, or what it sent failed validation (signature,
    /// issuer, audience, expiry, nonce, algorithm, …). The reason is for logs.
    #[error("the login was rejected: {0}")]
    Rejected(String),
}
