//! An identity provider (OpenID Connect, the dev login).

use crate::login::AuthorizationRedirect;
use crate::login::IdentityError;
use crate::login::LoginFlow;
use crate::login::LoginHints;
use crate::login::ProviderClaims;
use crate::login::RegistrationId;
use async_trait::async_trait;

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
