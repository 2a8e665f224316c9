//! The `dev` provider: logs in as any e-mail, for local development and demos, with no
//! external service. It speaks the same port as a real provider and runs the same flow —
//! redirect with state, nonce and an S256 PKCE challenge, a login form served by the
//! service, a single-use code, an exchange that checks nonce and verifier — so everything
//! above the port is exercised exactly as in production. Its e-mails count as verified.
//!
//! Codes live in this process's memory: the provider is for one dev instance, and the
//! service refuses to start with it in production.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{
    AuthorizationRedirect, Email, Identity, IdentityError, IdentityProvider, LoginFlow, LoginHints,
    ProviderClaims, RegistrationId,
};
use openidconnect::url::Url;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

const CODE_TTL: Duration = Duration::from_secs(120);

/// What the dev login form carries from the redirect back to its submission.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DevAuthorization {
    pub redirect_uri: String,
    pub state: String,
    pub nonce: String,
    pub code_challenge: String,
    pub login_hint: Option<String>,
    pub name: Option<String>,
}

struct Grant {
    email: Email,
    name: Option<String>,
    nonce: String,
    code_challenge: String,
    redirect_uri: String,
    issued: Instant,
}

/// The built-in development provider.
pub struct DevProvider {
    id: RegistrationId,
    issuer: String,
    authorize_url: String,
    callback: String,
    grants: Mutex<HashMap<String, Grant>>,
}

impl std::fmt::Debug for DevProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevProvider")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn random() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl DevProvider {
    /// A provider whose login form lives at `{public_url}/account/login/dev/authorize`.
    pub fn new(public_url: &str) -> Self {
        let base = public_url.trim_end_matches('/');
        Self {
            id: RegistrationId::parse("dev").unwrap_or_else(|_| unreachable!("a valid id")),
            issuer: format!("{base}/dev"),
            authorize_url: format!("{base}/account/login/dev/authorize"),
            callback: format!("{base}/login/oauth2/code/dev"),
            grants: Mutex::new(HashMap::new()),
        }
    }

    /// Approves an authorization as `email` (with an optional display name) and returns
    /// where to send the browser: the callback, with a fresh code and the state.
    ///
    /// # Errors
    /// A message fit for the login form: an invalid e-mail, or a redirect URI that is not
    /// this service's callback.
    pub fn approve(
        &self,
        auth: &DevAuthorization,
        email: &str,
        name: Option<&str>,
    ) -> Result<String, String> {
        let email = Email::parse(email).map_err(|e| format!("e-mail {}", e.reason))?;
        if auth.redirect_uri != self.callback {
            return Err("the redirect URI is not this service's callback".into());
        }
        if auth.state.is_empty() || auth.nonce.is_empty() || auth.code_challenge.is_empty() {
            return Err("the login request is incomplete: start again".into());
        }
        let code = random();
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        {
            let mut grants = self
                .grants
                .lock()
                .map_err(|_| "internal error".to_owned())?;
            grants.retain(|_, g| g.issued.elapsed() < CODE_TTL);
            grants.insert(
                code.clone(),
                Grant {
                    email,
                    name,
                    nonce: auth.nonce.clone(),
                    code_challenge: auth.code_challenge.clone(),
                    redirect_uri: auth.redirect_uri.clone(),
                    issued: Instant::now(),
                },
            );
        }
        let url = Url::parse_with_params(
            &self.callback,
            [("code", code.as_str()), ("state", auth.state.as_str())],
        )
        .map_err(|e| e.to_string())?;
        Ok(url.to_string())
    }
}

#[async_trait]
impl IdentityProvider for DevProvider {
    fn registration_id(&self) -> &RegistrationId {
        &self.id
    }

    fn issuer(&self) -> &str {
        &self.issuer
    }

    async fn authorize(
        &self,
        redirect_uri: &str,
        hints: &LoginHints,
    ) -> Result<AuthorizationRedirect, IdentityError> {
        let state = random();
        let nonce = random();
        let verifier = random();
        let challenge = s256(&verifier);
        let mut params = vec![
            ("redirect_uri", redirect_uri),
            ("state", state.as_str()),
            ("nonce", nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(hint) = hints.login_hint.as_deref() {
            params.push(("login_hint", hint));
        }
        if let Some(name) = hints.name.as_deref() {
            params.push(("name", name));
        }
        let url = Url::parse_with_params(&self.authorize_url, &params)
            .map_err(|e| IdentityError::Rejected(e.to_string()))?;
        Ok(AuthorizationRedirect {
            url: url.to_string(),
            state,
            nonce,
            pkce_verifier: verifier,
        })
    }

    async fn exchange(
        &self,
        redirect_uri: &str,
        code: &str,
        flow: &LoginFlow,
        _iss: Option<String>,
    ) -> Result<ProviderClaims, IdentityError> {
        let grant = self
            .grants
            .lock()
            .map_err(|_| IdentityError::Rejected("internal error".into()))?
            .remove(code)
            .ok_or_else(|| IdentityError::Rejected("unknown or used code".into()))?;
        if grant.issued.elapsed() >= CODE_TTL {
            return Err(IdentityError::Rejected("expired code".into()));
        }
        if grant.redirect_uri != redirect_uri {
            return Err(IdentityError::Rejected("redirect URI mismatch".into()));
        }
        if grant.nonce != flow.nonce {
            return Err(IdentityError::Rejected("nonce mismatch".into()));
        }
        if s256(&flow.pkce_verifier) != grant.code_challenge {
            return Err(IdentityError::Rejected("PKCE verifier mismatch".into()));
        }
        let identity = Identity::new(&self.issuer, grant.email.as_str())
            .map_err(|e| IdentityError::Rejected(e.to_string()))?;
        Ok(ProviderClaims {
            identity,
            email: Some(grant.email.as_str().to_owned()),
            email_verified: true,
            name: grant.name,
            locale: None,
            gender: None,
            birth_date: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> HashMap<String, String> {
        Url::parse(url)
            .expect("url")
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    async fn start(p: &DevProvider) -> (AuthorizationRedirect, DevAuthorization) {
        let r = p
            .authorize(
                "http://svc/login/oauth2/code/dev",
                &LoginHints {
                    login_hint: Some("a@example.com".into()),
                    name: Some("Alice".into()),
                },
            )
            .await
            .expect("authorize");
        let q = query(&r.url);
        assert_eq!(q["code_challenge_method"], "S256");
        let auth = DevAuthorization {
            redirect_uri: q["redirect_uri"].clone(),
            state: q["state"].clone(),
            nonce: q["nonce"].clone(),
            code_challenge: q["code_challenge"].clone(),
            login_hint: q.get("login_hint").cloned(),
            name: q.get("name").cloned(),
        };
        (r, auth)
    }

    fn flow(r: &AuthorizationRedirect) -> LoginFlow {
        let now = time::OffsetDateTime::now_utc();
        LoginFlow {
            registration_id: RegistrationId::parse("dev").expect("id"),
            nonce: r.nonce.clone(),
            pkce_verifier: r.pkce_verifier.clone(),
            created_at: now,
            expires_at: now,
        }
    }

    #[tokio::test]
    async fn the_whole_flow_gives_verified_claims_once() {
        let p = DevProvider::new("http://svc");
        let (r, auth) = start(&p).await;
        let back = p
            .approve(&auth, "A@Example.com", Some(" Alice "))
            .expect("approve");
        let q = query(&back);
        assert_eq!(q["state"], r.state);
        let claims = p
            .exchange(
                "http://svc/login/oauth2/code/dev",
                &q["code"],
                &flow(&r),
                None,
            )
            .await
            .expect("exchange");
        assert_eq!(claims.identity.issuer(), "http://svc/dev");
        assert_eq!(claims.identity.subject(), "a@example.com");
        assert!(claims.email_verified);
        assert_eq!(claims.name.as_deref(), Some("Alice"));
        assert!(
            p.exchange(
                "http://svc/login/oauth2/code/dev",
                &q["code"],
                &flow(&r),
                None
            )
            .await
            .is_err(),
            "codes are single-use"
        );
    }

    #[tokio::test]
    async fn a_wrong_verifier_or_nonce_is_rejected() {
        let p = DevProvider::new("http://svc");
        let (r, auth) = start(&p).await;
        let code =
            query(&p.approve(&auth, "a@example.com", None).expect("approve"))["code"].clone();
        let mut wrong = flow(&r);
        wrong.pkce_verifier = "another-verifier".into();
        assert!(matches!(
            p.exchange("http://svc/login/oauth2/code/dev", &code, &wrong, None).await,
            Err(IdentityError::Rejected(m)) if m.contains("PKCE")
        ));
        let code =
            query(&p.approve(&auth, "a@example.com", None).expect("approve"))["code"].clone();
        let mut wrong = flow(&r);
        wrong.nonce = "other".into();
        assert!(
            p.exchange("http://svc/login/oauth2/code/dev", &code, &wrong, None)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn approval_refuses_bad_input() {
        let p = DevProvider::new("http://svc");
        let (_, auth) = start(&p).await;
        assert!(p.approve(&auth, "not an email", None).is_err());
        let elsewhere = DevAuthorization {
            redirect_uri: "https://evil.example/cb".into(),
            ..auth
        };
        assert!(p.approve(&elsewhere, "a@example.com", None).is_err());
    }
}
