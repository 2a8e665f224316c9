//! Any OpenID Connect issuer, through `openidconnect`: discovery, authorization code with
//! PKCE (S256), state and nonce, and full ID-token validation (signature from the issuer's
//! JWKS, `iss`, `aud`, `azp`, `exp`, `iat` skew, `nonce`, allowed algorithms; `none` is
//! never allowed). Provider metadata is discovered on first use and again when an ID token
//! names a key the cached JWKS lacks (key rotation).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::{
    AuthorizationRedirect, Identity, IdentityError, IdentityProvider, LoginFlow, LoginHints,
    ProviderClaims, RegistrationId,
};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, SignatureVerificationError, TokenResponse as _,
};
use tokio::sync::RwLock;

/// How far an ID token's `iat` may be from our clock.
const IAT_SKEW: Duration = Duration::from_secs(300);

/// Where to find profile fields in the provider's user-info JSON, for providers whose names
/// differ from OIDC's (Kakao's `kakao_account.profile.nickname`, say). Paths are
/// dot-separated. When any is set, user info is fetched after the ID token is validated,
/// and its `sub` must equal the token's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimMapping {
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<String>,
    pub locale: Option<String>,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
}

impl ClaimMapping {
    /// Parses `name=properties.nickname,email=kakao_account.email`.
    ///
    /// # Errors
    /// An unknown field or a malformed entry, named.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut m = Self::default();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (field, path) = entry
                .split_once('=')
                .ok_or_else(|| format!("claim mapping {entry:?} is not field=path"))?;
            let path = Some(path.trim().to_owned()).filter(|p| !p.is_empty());
            match field.trim() {
                "name" => m.name = path,
                "email" => m.email = path,
                "email_verified" => m.email_verified = path,
                "locale" => m.locale = path,
                "gender" => m.gender = path,
                "birthdate" | "birth_date" => m.birth_date = path,
                other => return Err(format!("claim mapping: unknown field {other:?}")),
            }
        }
        Ok(m)
    }

    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One configured OIDC provider.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub registration_id: RegistrationId,
    /// The issuer URL; discovery reads `{issuer}/.well-known/openid-configuration`.
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: Option<secrecy::SecretString>,
    /// Scopes besides `openid` (default `email profile`).
    pub scopes: Vec<String>,
    pub claims: ClaimMapping,
    /// ID-token signing algorithms accepted (default RS256 and ES256).
    pub allowed_algs: Vec<String>,
    /// Bound on every call to the provider.
    pub timeout: Duration,
    /// Send the client secret in the token request's body (`client_secret_post`, Kakao)
    /// instead of HTTP Basic (`client_secret_basic`, the default).
    pub secret_in_body: bool,
}

impl OidcConfig {
    pub fn new(
        registration_id: RegistrationId,
        issuer_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Option<String>,
    ) -> Self {
        Self {
            registration_id,
            issuer_url: issuer_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.map(secrecy::SecretString::from),
            scopes: vec!["email".into(), "profile".into()],
            claims: ClaimMapping::default(),
            allowed_algs: vec!["RS256".into(), "ES256".into()],
            timeout: Duration::from_secs(10),
            secret_in_body: false,
        }
    }
}

/// An OpenID Connect provider.
pub struct OidcProvider {
    config: OidcConfig,
    issuer: IssuerUrl,
    algs: Vec<CoreJwsSigningAlgorithm>,
    http: openidconnect::reqwest::Client,
    metadata: RwLock<Option<Arc<CoreProviderMetadata>>>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("registration_id", &self.config.registration_id)
            .field("issuer", &self.config.issuer_url)
            .finish_non_exhaustive()
    }
}

fn rejected(reason: impl std::fmt::Display) -> IdentityError {
    IdentityError::Rejected(reason.to_string())
}

fn parse_alg(s: &str) -> Result<CoreJwsSigningAlgorithm, String> {
    use CoreJwsSigningAlgorithm as A;
    Ok(match s.trim() {
        "RS256" => A::RsaSsaPkcs1V15Sha256,
        "RS384" => A::RsaSsaPkcs1V15Sha384,
        "RS512" => A::RsaSsaPkcs1V15Sha512,
        "PS256" => A::RsaSsaPssSha256,
        "PS384" => A::RsaSsaPssSha384,
        "PS512" => A::RsaSsaPssSha512,
        "ES256" => A::EcdsaP256Sha256,
        "ES384" => A::EcdsaP384Sha384,
        "EdDSA" => A::EdDsa,
        other => {
            return Err(format!(
                "unsupported ID-token algorithm {other:?} (and `none` is never allowed)"
            ));
        }
    })
}

impl OidcProvider {
    /// Checks the configuration; nothing is fetched until the first login, so the service
    /// starts even while a provider is down.
    ///
    /// # Errors
    /// A malformed issuer URL or algorithm, or an HTTP client that cannot be built.
    pub fn new(config: OidcConfig) -> Result<Self, String> {
        let issuer = IssuerUrl::new(config.issuer_url.clone())
            .map_err(|e| format!("issuer URL {:?}: {e}", config.issuer_url))?;
        let algs = config
            .allowed_algs
            .iter()
            .map(|a| parse_alg(a))
            .collect::<Result<Vec<_>, _>>()?;
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would open the client to SSRF.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self {
            config,
            issuer,
            algs,
            http,
            metadata: RwLock::new(None),
        })
    }

    async fn metadata(&self) -> Result<Arc<CoreProviderMetadata>, IdentityError> {
        if let Some(m) = self.metadata.read().await.as_ref() {
            return Ok(m.clone());
        }
        self.discover().await
    }

    /// Fetches the provider metadata and its JWKS again, replacing the cached copy.
    async fn discover(&self) -> Result<Arc<CoreProviderMetadata>, IdentityError> {
        let m = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(provider = %self.config.registration_id, error = %e, "OIDC discovery failed");
                IdentityError::Unavailable(Box::new(e))
            })?;
        let m = Arc::new(m);
        *self.metadata.write().await = Some(m.clone());
        Ok(m)
    }

    /// Validates the ID token of `token` against `meta`'s keys.
    fn verify(
        &self,
        meta: &CoreProviderMetadata,
        redirect_uri: &RedirectUrl,
        token: &openidconnect::core::CoreTokenResponse,
        nonce: &Nonce,
    ) -> Result<openidconnect::core::CoreIdTokenClaims, ClaimsVerificationError> {
        let client = self.client(meta, redirect_uri);
        let id_token = token
            .id_token()
            .ok_or_else(|| ClaimsVerificationError::Other("no ID token in the response".into()))?;
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(self.algs.clone())
            .set_issue_time_verifier_fn(|iat| {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let skew = i64::try_from(IAT_SKEW.as_secs()).unwrap_or(300);
                let iat = iat.timestamp();
                if iat > now + skew {
                    Err(format!("issued {}s in the future", iat - now))
                } else if iat < now - 2 * skew {
                    Err(format!("issued {}s ago", now - iat))
                } else {
                    Ok(())
                }
            });
        let claims = id_token.claims(&verifier, nonce)?.clone();
        // The access token must be the one the ID token was issued with, when it says.
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(ClaimsVerificationError::SignatureVerification)?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(ClaimsVerificationError::SignatureVerification)?;
            let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                .map_err(|e| ClaimsVerificationError::Other(format!("at_hash: {e}")))?;
            if actual != *expected {
                return Err(ClaimsVerificationError::Other(
                    "at_hash does not match the access token".into(),
                ));
            }
        }
        Ok(claims)
    }

    fn client(
        &self,
        meta: &CoreProviderMetadata,
        redirect_uri: &RedirectUrl,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        let auth = if self.config.secret_in_body {
            openidconnect::AuthType::RequestBody
        } else {
            openidconnect::AuthType::BasicAuth
        };
        CoreClient::from_provider_metadata(
            meta.clone(),
            ClientId::new(self.config.client_id.clone()),
            self.config
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(secrecy::ExposeSecret::expose_secret(s).to_owned())),
        )
        .set_redirect_uri(redirect_uri.clone())
        .set_auth_type(auth)
    }

    async fn user_info(
        &self,
        meta: &CoreProviderMetadata,
        access_token: &str,
        subject: &str,
    ) -> Result<serde_json::Value, IdentityError> {
        let url = meta.userinfo_endpoint().ok_or_else(|| {
            rejected("a claim mapping is configured but the provider has no userinfo endpoint")
        })?;
        let res = self
            .http
            .get(url.url().clone())
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| IdentityError::Unavailable(Box::new(e)))?;
        if res.status().is_server_error() {
            return Err(IdentityError::Unavailable(
                format!("userinfo answered {}", res.status()).into(),
            ));
        }
        if !res.status().is_success() {
            return Err(rejected(format!("userinfo answered {}", res.status())));
        }
        let body = res
            .bytes()
            .await
            .map_err(|e| IdentityError::Unavailable(Box::new(e)))?;
        let info: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| rejected(format!("userinfo is not JSON: {e}")))?;
        let sub = match &info["sub"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        if sub != subject {
            return Err(rejected("userinfo `sub` differs from the ID token's"));
        }
        Ok(info)
    }
}

fn at_path<'a>(v: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

fn string_at(v: &serde_json::Value, path: Option<&String>) -> Option<String> {
    match at_path(v, path?)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait]
impl IdentityProvider for OidcProvider {
    fn registration_id(&self) -> &RegistrationId {
        &self.config.registration_id
    }

    fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    async fn authorize(
        &self,
        redirect_uri: &str,
        hints: &LoginHints,
    ) -> Result<AuthorizationRedirect, IdentityError> {
        let meta = self.metadata().await?;
        let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(rejected)?;
        let client = self.client(&meta, &redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(hint) = hints.login_hint.as_deref().filter(|h| !h.is_empty()) {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, state, nonce) = request.url();
        Ok(AuthorizationRedirect {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    async fn exchange(
        &self,
        redirect_uri: &str,
        code: &str,
        flow: &LoginFlow,
        iss: Option<String>,
    ) -> Result<ProviderClaims, IdentityError> {
        let mut meta = self.metadata().await?;
        // RFC 9207: a provider that names itself in the redirect must name itself.
        if let Some(iss) = iss
            && iss != meta.issuer().as_str()
        {
            return Err(rejected(format!(
                "the callback's iss {iss:?} is not this provider"
            )));
        }
        let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(rejected)?;
        let client = self.client(&meta, &redirect);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| rejected(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::Request(e) => IdentityError::Unavailable(Box::new(e)),
                RequestTokenError::ServerResponse(r) => {
                    rejected(format!("token endpoint refused: {r}"))
                }
                other => rejected(format!("token endpoint: {other}")),
            })?;
        let nonce = Nonce::new(flow.nonce.clone());
        let claims = match self.verify(&meta, &redirect, &token, &nonce) {
            Ok(c) => c,
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider may have rotated its keys since we cached them.
                tracing::info!(provider = %self.config.registration_id, "unknown signing key: re-discovering");
                meta = self.discover().await?;
                self.verify(&meta, &redirect, &token, &nonce)
                    .map_err(|e| rejected(format!("ID token: {e}")))?
            }
            Err(e) => return Err(rejected(format!("ID token: {e}"))),
        };

        let subject = claims.subject().as_str().to_owned();
        let identity = Identity::new(claims.issuer().as_str(), &subject).map_err(rejected)?;
        let mut out = ProviderClaims {
            identity,
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified() == Some(true),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            locale: claims.locale().map(|l| l.as_str().to_owned()),
            gender: claims.gender().map(|g| g.as_str().to_uppercase()),
            birth_date: claims.birthdate().map(|b| b.as_str().to_owned()),
        };
        let map = &self.config.claims;
        if !map.is_empty() {
            let info = self
                .user_info(&meta, token.access_token().secret(), &subject)
                .await?;
            if let Some(v) = string_at(&info, map.name.as_ref()) {
                out.name = Some(v);
            }
            if let Some(v) = string_at(&info, map.email.as_ref()) {
                out.email = Some(v);
                out.email_verified = false;
            }
            if let Some(path) = &map.email_verified {
                out.email_verified = at_path(&info, path) == Some(&serde_json::Value::Bool(true));
            }
            if let Some(v) = string_at(&info, map.locale.as_ref()) {
                out.locale = Some(v);
            }
            if let Some(v) = string_at(&info, map.gender.as_ref()) {
                out.gender = Some(v.to_uppercase());
            }
            if let Some(v) = string_at(&info, map.birth_date.as_ref()) {
                out.birth_date = Some(v);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
