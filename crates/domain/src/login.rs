//! Logging in through identity providers: the OAuth2/OIDC authorization-code dance as a
//! port, and the short-lived state a login needs between its redirect and its callback.

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{AccountId, Identity, Role};
use crate::error::{BoxError, ParseError, RepositoryError};
use crate::session::TokenHash;

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

/// An identity provider: an OIDC issuer, or the built-in `dev` one.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    fn registration_id(&self) -> &RegistrationId;

    /// The issuer the provider's identities carry.
    fn issuer(&self) -> &str;

    /// Starts a login: a fresh `state`, `nonce` and PKCE verifier, and the provider's
    /// authorization URL carrying them (S256 challenge) back to `redirect_uri`.
    ///
    /// # Errors
    /// `Unavailable` when the provider's metadata cannot be fetched.
    async fn authorize(
        &self,
        redirect_uri: &str,
        hints: &LoginHints,
    ) -> Result<AuthorizationRedirect, IdentityError>;

    /// Exchanges an authorization code (with the flow's PKCE verifier) and validates what
    /// comes back against the flow's nonce. `iss` is the callback's `iss` parameter, checked
    /// when present (RFC 9207).
    ///
    /// # Errors
    /// `Unavailable` when the provider cannot be reached; `Rejected` for every validation
    /// failure and every refusal by the provider.
    async fn exchange(
        &self,
        redirect_uri: &str,
        code: &str,
        flow: &LoginFlow,
        iss: Option<String>,
    ) -> Result<ProviderClaims, IdentityError>;
}

/// Where logins in progress and pending registrations are kept: in the database, so that
/// any replica can finish a login another one started.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait LoginStateRepository: Send + Sync {
    /// Stores a login flow under the hash of its state.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn save_flow(&self, state: TokenHash, flow: LoginFlow) -> Result<(), RepositoryError>;

    /// Removes and returns the flow stored under `state` if it has not expired at `now`.
    /// A flow can be taken once: concurrent callers get it at most once between them.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn take_flow(
        &self,
        state: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<LoginFlow>, RepositoryError>;

    /// Stores a pending registration under the hash of its token.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn save_pending(
        &self,
        token: TokenHash,
        pending: PendingRegistration,
    ) -> Result<(), RepositoryError>;

    /// The pending registration under `token` if it has not expired at `now`.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn find_pending(
        &self,
        token: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<PendingRegistration>, RepositoryError>;

    /// Removes the pending registration under `token`; `true` when there was one.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn delete_pending(&self, token: &TokenHash) -> Result<bool, RepositoryError>;

    /// Removes every flow and pending registration expired at `now`; returns how many.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, RepositoryError>;
}

/// Who is asking: an account through its session, or another service through its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Account {
        id: AccountId,
        roles: crate::account::Roles,
    },
    Service {
        name: String,
    },
}

impl Actor {
    pub fn account_id(&self) -> Option<AccountId> {
        match self {
            Self::Account { id, .. } => Some(*id),
            Self::Service { .. } => None,
        }
    }

    pub fn has(&self, role: Role) -> bool {
        match self {
            Self::Account { roles, .. } => roles.contains(role),
            Self::Service { .. } => role == Role::Server,
        }
    }

    pub fn is(&self, id: AccountId) -> bool {
        self.account_id() == Some(id)
    }

    /// STAFF or ADMIN.
    pub fn is_staff(&self) -> bool {
        self.has(Role::Staff) || self.has(Role::Admin)
    }

    /// The roles to show, `SERVER` for services.
    pub fn roles(&self) -> crate::account::Roles {
        match self {
            Self::Account { roles, .. } => roles.clone(),
            Self::Service { .. } => crate::account::Roles::from_iter([Role::Server]),
        }
    }
}
