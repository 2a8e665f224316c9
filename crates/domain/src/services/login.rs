//! Logging in: the redirect to a provider, the callback, linking identities to accounts,
//! registration completion when the provider gave too little, and ADMIN by e-mail.
//!
//! The rules, in order, when a provider vouches for an identity:
//! 1. an account already holding the identity (issuer, subject) is logged in;
//! 2. otherwise, when the provider marks the e-mail verified and a live account has that
//!    verified e-mail, the identity is linked to it and it is logged in; an unverified
//!    e-mail never links (anyone can claim any address at some providers);
//! 3. otherwise a new account is created when the claims hold a valid name and e-mail
//!    (and gender and birth date, if given, are valid); when they do not, the login becomes
//!    a pending registration that `register` completes.
//!
//! A verified e-mail listed in `admin_emails` gets the ADMIN role at login.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::RngCore as _;
use time::OffsetDateTime;

use crate::account::{
    Account, AccountUpdate, BirthDate, DisplayName, Email, Gender, Locale, NewAccount, Role, Roles,
};
use crate::audit::{AuditAction, AuditActor, AuditTarget, NewAuditEntry, RequestId};
use crate::error::{CreateAccountError, LinkIdentityError, ParseError, RepositoryError};
use crate::login::{
    AuthorizationRedirect, LoginFlow, LoginHints, PendingRegistration, ProviderClaims,
    RegistrationId,
};
use crate::ports::Clock;
use crate::ports::{AccountRepository, Repositories};
use crate::ports::{IdentityProvider, LoginStateRepository};
use crate::services::sessions::{SessionMeta, Sessions, StartedSession};
use crate::session::TokenHash;

mod errors;
mod policy;

pub use errors::{LoginError, RegisterError};
pub use policy::LoginPolicy;

/// What the provider's redirect back carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// RFC 9207's `iss` response parameter.
    pub iss: Option<String>,
    /// The provider's refusal (`access_denied`, …).
    pub error: Option<String>,
}

/// Fields a user supplies to complete a registration (the account API: name, email, gender,
/// birthDate), as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationForm {
    pub name: Option<String>,
    pub email: Option<String>,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
}

/// A successful login.
#[derive(Debug)]
pub struct LoggedIn {
    pub account: Account,
    pub session: StartedSession,
}

/// How a callback ended.
#[derive(Debug)]
pub enum LoginOutcome {
    LoggedIn(Box<LoggedIn>),
    /// The provider gave too little: the client completes with `register` and `token`.
    NeedsRegistration {
        token: String,
        invalid: Vec<ParseError>,
    },
}

/// The login service.
#[derive(Clone)]
pub struct Login {
    providers: BTreeMap<RegistrationId, Arc<dyn IdentityProvider>>,
    accounts: Arc<dyn AccountRepository>,
    states: Arc<dyn LoginStateRepository>,
    sessions: Sessions,
    clock: Arc<dyn Clock>,
    policy: LoginPolicy,
    public_url: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// A fresh opaque secret: 256 random bits, base64url.
fn random_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares secrets without leaking where they differ through timing.
fn same_secret(a: &str, b: &str) -> bool {
    TokenHash::of(a) == TokenHash::of(b)
}

impl Login {
    pub fn new(
        providers: Vec<Arc<dyn IdentityProvider>>,
        repos: &Repositories,
        sessions: Sessions,
        clock: Arc<dyn Clock>,
        policy: LoginPolicy,
        public_url: impl Into<String>,
    ) -> Self {
        Self {
            providers: providers
                .into_iter()
                .map(|p| (p.registration_id().clone(), p))
                .collect(),
            accounts: repos.accounts.clone(),
            states: repos.login_states.clone(),
            sessions,
            clock,
            policy,
            public_url: public_url.into(),
        }
    }

    /// The registration id of the configured provider whose issuer is `issuer`, if any.
    pub fn provider_of(&self, issuer: &str) -> Option<&RegistrationId> {
        self.providers
            .iter()
            .find(|(_, p)| p.issuer() == issuer)
            .map(|(id, _)| id)
    }

    /// The configured providers' registration ids.
    pub fn provider_ids(&self) -> impl Iterator<Item = &RegistrationId> {
        self.providers.keys()
    }

    /// The callback URL registered with the provider.
    pub fn redirect_uri(&self, id: &RegistrationId) -> String {
        format!("{}/login/oauth2/code/{id}", self.public_url)
    }

    fn provider(
        &self,
        id: &str,
    ) -> Result<(&RegistrationId, &Arc<dyn IdentityProvider>), LoginError> {
        let id = RegistrationId::parse(id).map_err(|_| LoginError::UnknownProvider)?;
        self.providers
            .get_key_value(&id)
            .ok_or(LoginError::UnknownProvider)
    }

    /// Starts a login with provider `id`; the returned redirect's `state` must be bound to
    /// the browser (a short-lived cookie) and come back with the callback.
    ///
    /// # Errors
    /// `UnknownProvider`, `ProviderUnavailable`, `Repository`.
    #[tracing::instrument(skip(self, hints), err(level = "info"))]
    pub async fn begin(
        &self,
        id: &str,
        hints: &LoginHints,
    ) -> Result<AuthorizationRedirect, LoginError> {
        let (id, provider) = self.provider(id)?;
        let redirect = provider.authorize(&self.redirect_uri(id), hints).await?;
        let now = self.clock.now();
        // Expired flows are few and indexed: clearing them here keeps the table small
        // without a separate job.
        self.states.purge_expired(now).await?;
        self.states
            .save_flow(
                TokenHash::of(&redirect.state),
                LoginFlow {
                    registration_id: id.clone(),
                    nonce: redirect.nonce.clone(),
                    pkce_verifier: redirect.pkce_verifier.clone(),
                    created_at: now,
                    expires_at: now + self.policy.flow_ttl,
                },
            )
            .await?;
        Ok(redirect)
    }

    /// Finishes a login from the provider's redirect. `bound_state` is the state the
    /// browser's cookie holds.
    ///
    /// # Errors
    /// `UnknownProvider`, `InvalidState`, `ProviderMismatch`, `ProviderDenied`,
    /// `ProviderUnavailable`, `Rejected`, `Repository`.
    #[tracing::instrument(skip_all, fields(provider = id), err(level = "info"))]
    pub async fn complete(
        &self,
        id: &str,
        callback: Callback,
        bound_state: Option<&str>,
        meta: SessionMeta,
    ) -> Result<LoginOutcome, LoginError> {
        let (id, provider) = self.provider(id)?;
        let state = callback.state.as_deref().ok_or(LoginError::InvalidState)?;
        let bound = bound_state.ok_or(LoginError::InvalidState)?;
        if !same_secret(state, bound) {
            return Err(LoginError::InvalidState);
        }
        // Taken before anything else, so a state is single-use whatever happens next.
        let flow = self
            .states
            .take_flow(&TokenHash::of(state), self.clock.now())
            .await?
            .ok_or(LoginError::InvalidState)?;
        if &flow.registration_id != id {
            return Err(LoginError::ProviderMismatch);
        }
        if let Some(error) = callback.error {
            return Err(LoginError::ProviderDenied(
                error.chars().take(100).collect(),
            ));
        }
        let code = callback
            .code
            .ok_or_else(|| LoginError::Rejected("the callback has no code".into()))?;
        let claims = provider
            .exchange(&self.redirect_uri(id), &code, &flow, callback.iss)
            .await?;
        self.resolve(claims, meta).await
    }

    async fn resolve(
        &self,
        claims: ProviderClaims,
        meta: SessionMeta,
    ) -> Result<LoginOutcome, LoginError> {
        let now = self.clock.now();
        if let Some(account) = self.accounts.find_by_identity(&claims.identity).await? {
            return Ok(LoginOutcome::LoggedIn(Box::new(
                self.log_in(account, &claims, meta).await?,
            )));
        }
        if let Some(email) = verified_email(&claims)
            && let Some(account) = self.accounts.find_by_verified_email(&email).await?
        {
            // A suspended account is refused before anything is written: no new identity
            // is linked to it.
            if let Some(s) = account.active_suspension(now) {
                return Err(LoginError::Suspended { until: s.until });
            }
            match self
                .accounts
                .link_identity(account.id, claims.identity.clone(), Some(email), now)
                .await
            {
                Ok(()) => {
                    tracing::info!(account = %account.id, "linked a new identity by verified e-mail");
                    return Ok(LoginOutcome::LoggedIn(Box::new(
                        self.log_in(account, &claims, meta).await?,
                    )));
                }
                // Withdrawn meanwhile, or the identity was linked by a concurrent login:
                // fall through to the ordinary path, which re-reads.
                Err(LinkIdentityError::NotFound | LinkIdentityError::DuplicateIdentity) => {}
                Err(LinkIdentityError::Repository(e)) => return Err(e.into()),
            }
        }
        match self.new_account(&claims, now) {
            Ok(new) => Ok(LoginOutcome::LoggedIn(Box::new(
                self.create_and_log_in(new, &claims, meta).await?,
            ))),
            Err(invalid) => {
                let token = random_token();
                self.states
                    .save_pending(
                        TokenHash::of(&token),
                        PendingRegistration {
                            claims,
                            created_at: now,
                            expires_at: now + self.policy.registration_ttl,
                        },
                    )
                    .await?;
                Ok(LoginOutcome::NeedsRegistration { token, invalid })
            }
        }
    }

    /// Validates claims into a new account, or lists every missing or invalid field.
    fn new_account(
        &self,
        c: &ProviderClaims,
        now: OffsetDateTime,
    ) -> Result<NewAccount, Vec<ParseError>> {
        let mut invalid = Vec::new();
        let name = match c.name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(n) => DisplayName::parse(n).map_err(|e| invalid.push(e)).ok(),
            None => {
                invalid.push(ParseError::new("name", "is required"));
                None
            }
        };
        let email = match c.email.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(e) => Email::parse(e).map_err(|e| invalid.push(e)).ok(),
            None => {
                invalid.push(ParseError::new("email", "is required"));
                None
            }
        };
        let gender = c
            .gender
            .as_deref()
            .map(|g| Gender::parse(&g.trim().to_ascii_uppercase()))
            .transpose()
            .map_err(|e| invalid.push(e))
            .ok()
            .flatten();
        let birth_date = c
            .birth_date
            .as_deref()
            .map(|d| BirthDate::parse(d.trim(), now.date()))
            .transpose()
            .map_err(|e| invalid.push(e))
            .ok()
            .flatten();
        // A malformed locale is not worth a form field: dropped.
        let locale = c.locale.as_deref().and_then(|l| Locale::parse(l).ok());
        match (name, email) {
            (Some(name), Some(email)) if invalid.is_empty() => Ok(NewAccount {
                identity: c.identity.clone(),
                name: Some(name),
                email: Some(email),
                email_verified: c.email_verified,
                gender,
                birth_date,
                locale,
                roles: Roles::user(),
                created_at: now,
            }),
            _ => Err(invalid),
        }
    }

    async fn create_and_log_in(
        &self,
        new: NewAccount,
        claims: &ProviderClaims,
        meta: SessionMeta,
    ) -> Result<LoggedIn, LoginError> {
        let account = match self.accounts.create(new).await {
            Ok(a) => {
                tracing::info!(account = %a.id, "created an account");
                a
            }
            // A concurrent login with the same identity won the race: use its account.
            Err(CreateAccountError::DuplicateIdentity) => self
                .accounts
                .find_by_identity(&claims.identity)
                .await?
                .ok_or_else(|| {
                    RepositoryError::Unexpected("identity vanished after a duplicate".into())
                })?,
            Err(CreateAccountError::Repository(e)) => return Err(e.into()),
        };
        self.log_in(account, claims, meta).await
    }

    async fn log_in(
        &self,
        mut account: Account,
        claims: &ProviderClaims,
        meta: SessionMeta,
    ) -> Result<LoggedIn, LoginError> {
        // A suspended account gets no session, and is changed in nothing (not even by
        // ADMIN_EMAILS) until the suspension ends.
        if let Some(s) = account.active_suspension(self.clock.now()) {
            return Err(LoginError::Suspended { until: s.until });
        }
        let admin = verified_email(claims).is_some_and(|e| self.policy.admin_emails.contains(&e));
        if admin && !account.roles.contains(Role::Admin) {
            let mut roles = account.roles.clone();
            roles.insert(Role::Admin);
            let now = self.clock.now();
            account = self
                .accounts
                .update(
                    account.id,
                    AccountUpdate {
                        roles: Some(roles),
                        audit: Some(
                            NewAuditEntry::done(
                                now,
                                AuditActor::System,
                                AuditAction::RoleGrant,
                                AuditTarget::Account(account.id),
                                RequestId::none(),
                            )
                            .detail(Role::Admin.as_str())
                            .reason(Some("ADMIN_EMAILS")),
                        ),
                        ..AccountUpdate::default()
                    },
                    now,
                )
                .await
                .map_err(|e| match e {
                    crate::error::UpdateAccountError::Repository(e) => e,
                    crate::error::UpdateAccountError::NotFound => {
                        RepositoryError::Unexpected("account withdrawn during login".into())
                    }
                })?;
            tracing::info!(account = %account.id, "granted ADMIN by ADMIN_EMAILS");
        }
        let session = self.sessions.start(account.id, meta).await?;
        Ok(LoggedIn { account, session })
    }

    /// Completes a pending registration with the fields the user supplied.
    ///
    /// # Errors
    /// `NoPendingRegistration`, `Insufficient` (the pending registration is kept, so the
    /// user can try again), `Repository`.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn register(
        &self,
        token: &str,
        form: RegistrationForm,
        meta: SessionMeta,
    ) -> Result<LoggedIn, RegisterError> {
        let hash = TokenHash::of(token);
        let now = self.clock.now();
        let pending = self
            .states
            .find_pending(&hash, now)
            .await?
            .ok_or(RegisterError::NoPendingRegistration)?;
        let mut claims = pending.claims;
        if let Some(name) = form.name {
            claims.name = Some(name);
        }
        if let Some(email) = form.email {
            let same = claims
                .email
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()));
            if !same {
                // The user typed it: nobody has verified it.
                claims.email_verified = false;
            }
            claims.email = Some(email);
        }
        if let Some(gender) = form.gender {
            claims.gender = Some(gender);
        }
        if let Some(birth_date) = form.birth_date {
            claims.birth_date = Some(birth_date);
        }
        let new = self
            .new_account(&claims, now)
            .map_err(RegisterError::Insufficient)?;
        let logged_in = self.create_and_log_in(new, &claims, meta).await?;
        self.states.delete_pending(&hash).await?;
        Ok(logged_in)
    }
}

fn verified_email(c: &ProviderClaims) -> Option<Email> {
    if !c.email_verified {
        return None;
    }
    c.email.as_deref().and_then(|e| Email::parse(e).ok())
}

#[cfg(test)]
mod tests;
