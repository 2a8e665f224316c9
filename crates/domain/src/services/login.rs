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
use time::{Duration, OffsetDateTime};

use crate::account::{
    Account, AccountUpdate, BirthDate, DisplayName, Email, Gender, Locale, NewAccount, Role, Roles,
};
use crate::audit::{AuditAction, AuditActor, AuditTarget, NewAuditEntry, RequestId};
use crate::error::{CreateAccountError, LinkIdentityError, ParseError, RepositoryError};
use crate::login::{
    AuthorizationRedirect, IdentityError, LoginFlow, LoginHints, PendingRegistration,
    ProviderClaims, RegistrationId,
};
use crate::ports::AccountRepository;
use crate::ports::Clock;
use crate::ports::{IdentityProvider, LoginStateRepository};
use crate::services::sessions::{SessionMeta, Sessions, StartedSession};
use crate::session::TokenHash;

/// How long the pieces of a login live.
#[derive(Debug, Clone)]
pub struct LoginPolicy {
    /// Between the redirect to the provider and the callback.
    pub flow_ttl: Duration,
    /// Between an insufficient callback and `POST /account/register`.
    pub registration_ttl: Duration,
    /// Verified e-mails that get ADMIN at login.
    pub admin_emails: Vec<Email>,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        Self {
            flow_ttl: Duration::minutes(10),
            registration_ttl: Duration::minutes(30),
            admin_emails: Vec::new(),
        }
    }
}

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

/// Fields a user supplies to complete a registration (seed 001: name, email, gender,
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

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("no identity provider is configured under this registration id")]
    UnknownProvider,
    /// Missing, mismatched (cookie vs. callback), unknown, expired or already used state.
    #[error("the login state is missing, wrong, expired or already used")]
    InvalidState,
    /// The flow was started for another provider.
    #[error("the login was started with another provider")]
    ProviderMismatch,
    /// The provider sent the user back with an error instead of a code.
    #[error("the identity provider refused the login: {0}")]
    ProviderDenied(String),
    #[error("the identity provider is unavailable")]
    ProviderUnavailable(#[source] IdentityError),
    /// The code exchange or the ID token failed validation.
    #[error("the login was rejected: {0}")]
    Rejected(String),
    /// The account is suspended (until then; indefinitely without an end): no session.
    #[error("this account is suspended {}", crate::services::accounts::describe_until(*until))]
    Suspended { until: Option<OffsetDateTime> },
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl From<IdentityError> for LoginError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Rejected(reason) => Self::Rejected(reason),
            unavailable @ IdentityError::Unavailable(_) => Self::ProviderUnavailable(unavailable),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// No registration is pending under this token (unknown, expired, or completed).
    #[error("no registration is pending")]
    NoPendingRegistration,
    /// Still not enough: these fields are missing or invalid.
    #[error("insufficient user info")]
    Insufficient(Vec<ParseError>),
    /// The registration landed in a suspended account (a concurrent login created it).
    #[error("this account is suspended {}", crate::services::accounts::describe_until(*until))]
    Suspended { until: Option<OffsetDateTime> },
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl From<LoginError> for RegisterError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Suspended { until } => Self::Suspended { until },
            LoginError::Repository(e) => Self::Repository(e),
            other => Self::Repository(RepositoryError::Unexpected(other.to_string().into())),
        }
    }
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
        accounts: Arc<dyn AccountRepository>,
        states: Arc<dyn LoginStateRepository>,
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
            accounts,
            states,
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
mod tests {
    use super::*;
    use crate::account::{AccountId, Identity};
    use crate::ports::MockAccountRepository;
    use crate::ports::MockClock;
    use crate::ports::MockSessionRepository;
    use crate::ports::{MockIdentityProvider, MockLoginStateRepository};
    use crate::services::sessions::SessionPolicy;
    use crate::session::Session;
    use mockall::predicate::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);
    const ISSUER: &str = "https://accounts.example.com";

    fn clock() -> Arc<dyn Clock> {
        let mut c = MockClock::new();
        c.expect_now().return_const(NOW);
        Arc::new(c)
    }

    fn claims(
        sub: &str,
        email: Option<&str>,
        verified: bool,
        name: Option<&str>,
    ) -> ProviderClaims {
        ProviderClaims {
            identity: Identity::new(ISSUER, sub).expect("identity"),
            email: email.map(str::to_owned),
            email_verified: verified,
            name: name.map(str::to_owned),
            locale: Some("ko-KR".into()),
            gender: None,
            birth_date: None,
        }
    }

    fn account(id: i64, roles: Roles) -> Account {
        Account {
            name: Some(DisplayName::parse("Alice").expect("name")),
            email: Some(Email::parse("alice@example.com").expect("email")),
            email_verified: true,
            roles,
            ..Account::bare(id, NOW)
        }
    }

    /// Session repository that stores whatever it is given.
    fn sessions() -> MockSessionRepository {
        let mut s = MockSessionRepository::new();
        s.expect_insert().returning(|n| {
            Ok(Session {
                id: n.id,
                account_id: n.account_id,
                created_at: n.created_at,
                last_seen_at: n.created_at,
                idle_expires_at: n.idle_expires_at,
                absolute_expires_at: n.absolute_expires_at,
                revoked_at: None,
                user_agent: n.user_agent,
                ip: n.ip,
            })
        });
        s
    }

    fn provider(result: ProviderClaims) -> MockIdentityProvider {
        let mut p = MockIdentityProvider::new();
        p.expect_registration_id()
            .return_const(RegistrationId::parse("google").expect("id"));
        p.expect_issuer().return_const(ISSUER.to_owned());
        p.expect_exchange()
            .returning(move |_, _, _, _| Ok(result.clone()));
        p
    }

    fn flow(id: &str) -> LoginFlow {
        LoginFlow {
            registration_id: RegistrationId::parse(id).expect("id"),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            created_at: NOW,
            expires_at: NOW + Duration::minutes(10),
        }
    }

    fn states_with_flow(id: &'static str) -> MockLoginStateRepository {
        let mut s = MockLoginStateRepository::new();
        s.expect_take_flow()
            .with(eq(TokenHash::of("st")), eq(NOW))
            .times(1)
            .returning(move |_, _| Ok(Some(flow(id))));
        s
    }

    fn login(
        p: MockIdentityProvider,
        accounts: MockAccountRepository,
        states: MockLoginStateRepository,
        admin_emails: &[&str],
    ) -> Login {
        let sessions = Sessions::new(Arc::new(sessions()), clock(), SessionPolicy::default());
        Login::new(
            vec![Arc::new(p)],
            Arc::new(accounts),
            Arc::new(states),
            sessions,
            clock(),
            LoginPolicy {
                admin_emails: admin_emails
                    .iter()
                    .map(|e| Email::parse(e).expect("email"))
                    .collect(),
                ..LoginPolicy::default()
            },
            "https://api.example.com",
        )
    }

    fn callback() -> Callback {
        Callback {
            code: Some("code".into()),
            state: Some("st".into()),
            ..Callback::default()
        }
    }

    async fn complete(l: &Login) -> Result<LoginOutcome, LoginError> {
        l.complete("google", callback(), Some("st"), SessionMeta::default())
            .await
    }

    #[tokio::test]
    async fn begin_stores_the_flow_under_the_state_hash_with_a_ttl() {
        let mut p = MockIdentityProvider::new();
        p.expect_registration_id()
            .return_const(RegistrationId::parse("google").expect("id"));
        p.expect_authorize()
            .withf(|uri, hints| {
                uri == "https://api.example.com/login/oauth2/code/google"
                    && hints.login_hint.as_deref() == Some("a@example.com")
            })
            .returning(|_, _| {
                Ok(AuthorizationRedirect {
                    url: "https://idp/authorize".into(),
                    state: "st".into(),
                    nonce: "n".into(),
                    pkce_verifier: "v".into(),
                })
            });
        let mut states = MockLoginStateRepository::new();
        states.expect_purge_expired().returning(|_| Ok(0));
        states
            .expect_save_flow()
            .withf(|h, f| {
                *h == TokenHash::of("st")
                    && f.nonce == "n"
                    && f.pkce_verifier == "v"
                    && f.expires_at == NOW + Duration::minutes(10)
                    && f.registration_id.as_str() == "google"
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let l = login(p, MockAccountRepository::new(), states, &[]);
        let hints = LoginHints {
            login_hint: Some("a@example.com".into()),
            name: None,
        };
        assert_eq!(
            l.begin("google", &hints).await.expect("begin").url,
            "https://idp/authorize"
        );
        assert!(matches!(
            l.begin("facebook", &hints).await,
            Err(LoginError::UnknownProvider)
        ));
        assert!(matches!(
            l.begin("../x", &hints).await,
            Err(LoginError::UnknownProvider)
        ));
    }

    #[tokio::test]
    async fn a_known_identity_logs_in_without_creating_anything() {
        let mut accounts = MockAccountRepository::new();
        accounts
            .expect_find_by_identity()
            .returning(|_| Ok(Some(account(7, Roles::user()))));
        accounts.expect_create().never();
        accounts.expect_link_identity().never();
        let l = login(
            provider(claims("s1", Some("alice@example.com"), true, Some("Alice"))),
            accounts,
            states_with_flow("google"),
            &[],
        );
        let LoginOutcome::LoggedIn(done) = complete(&l).await.expect("ok") else {
            panic!("expected a login")
        };
        assert_eq!(done.account.id, AccountId::new(7));
        assert_eq!(done.session.session.account_id, AccountId::new(7));
    }

    #[tokio::test]
    async fn a_new_identity_with_a_verified_email_links_to_the_existing_account() {
        let mut accounts = MockAccountRepository::new();
        accounts.expect_find_by_identity().returning(|_| Ok(None));
        accounts
            .expect_find_by_verified_email()
            .withf(|e| e.as_str() == "alice@example.com")
            .returning(|_| Ok(Some(account(7, Roles::user()))));
        accounts
            .expect_link_identity()
            .withf(|id, ident, _, _| *id == AccountId::new(7) && ident.subject() == "kakao-1")
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        accounts.expect_create().never();
        let l = login(
            provider(claims(
                "kakao-1",
                Some("Alice@Example.com"),
                true,
                Some("앨리스"),
            )),
            accounts,
            states_with_flow("google"),
            &[],
        );
        assert!(matches!(complete(&l).await, Ok(LoginOutcome::LoggedIn(_))));
    }

    #[tokio::test]
    async fn a_suspended_account_found_by_email_is_refused_before_any_link() {
        let mut accounts = MockAccountRepository::new();
        accounts.expect_find_by_identity().returning(|_| Ok(None));
        accounts.expect_find_by_verified_email().returning(|_| {
            Ok(Some(Account {
                suspension: Some(crate::account::Suspension {
                    by: AccountId::new(1),
                    at: NOW,
                    until: None,
                    reason: crate::account::SuspensionReason::parse("fraud").unwrap(),
                    note: None,
                    report: None,
                }),
                ..account(7, Roles::user())
            }))
        });
        accounts.expect_link_identity().never();
        accounts.expect_create().never();
        let l = login(
            provider(claims(
                "kakao-1",
                Some("Alice@Example.com"),
                true,
                Some("앨리스"),
            )),
            accounts,
            states_with_flow("google"),
            &[],
        );
        assert!(matches!(
            complete(&l).await,
            Err(LoginError::Suspended { until: None })
        ));
    }

    #[tokio::test]
    async fn an_unverified_email_never_links() {
        let mut accounts = MockAccountRepository::new();
        accounts.expect_find_by_identity().returning(|_| Ok(None));
        accounts.expect_find_by_verified_email().never();
        accounts.expect_link_identity().never();
        accounts
            .expect_create()
            .withf(|n| !n.email_verified && n.roles == Roles::user())
            .times(1)
            .returning(|_| Ok(account(8, Roles::user())));
        let l = login(
            provider(claims(
                "s2",
                Some("alice@example.com"),
                false,
                Some("Mallory"),
            )),
            accounts,
            states_with_flow("google"),
            &["alice@example.com"],
        );
        let LoginOutcome::LoggedIn(done) = complete(&l).await.expect("ok") else {
            panic!("expected a login")
        };
        assert!(
            !done.account.roles.contains(Role::Admin),
            "no ADMIN on an unverified e-mail"
        );
    }

    #[tokio::test]
    async fn insufficient_claims_become_a_pending_registration_listing_each_field() {
        let mut accounts = MockAccountRepository::new();
        accounts.expect_find_by_identity().returning(|_| Ok(None));
        accounts
            .expect_find_by_verified_email()
            .returning(|_| Ok(None));
        accounts.expect_create().never();
        let mut states = states_with_flow("google");
        states
            .expect_save_pending()
            .withf(|_, p| p.expires_at == NOW + Duration::minutes(30) && p.claims.name.is_none())
            .times(1)
            .returning(|_, _| Ok(()));
        let mut bad = claims("s3", Some("alice@example.com"), true, None);
        bad.birth_date = Some("2999-01-01".into());
        let l = login(provider(bad), accounts, states, &[]);
        let LoginOutcome::NeedsRegistration { token, invalid } = complete(&l).await.expect("ok")
        else {
            panic!("expected a pending registration")
        };
        assert_eq!(token.len(), 43);
        let fields: Vec<_> = invalid.iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["name", "birthDate"]);
    }

    #[tokio::test]
    async fn admin_emails_grant_admin_on_a_verified_email() {
        let mut accounts = MockAccountRepository::new();
        accounts
            .expect_find_by_identity()
            .returning(|_| Ok(Some(account(7, Roles::user()))));
        accounts
            .expect_update()
            .withf(|id, u, _| {
                *id == AccountId::new(7)
                    && u.roles.as_ref().is_some_and(|r| r.contains(Role::Admin))
            })
            .times(1)
            .returning(|_, u, _| Ok(account(7, u.roles.unwrap_or_default())));
        let l = login(
            provider(claims("s1", Some("ALICE@example.com"), true, Some("Alice"))),
            accounts,
            states_with_flow("google"),
            &["alice@example.com"],
        );
        let LoginOutcome::LoggedIn(done) = complete(&l).await.expect("ok") else {
            panic!("expected a login")
        };
        assert!(done.account.roles.contains(Role::Admin));
    }

    #[tokio::test]
    async fn a_state_that_does_not_match_the_cookie_is_refused_before_any_work() {
        let mut states = MockLoginStateRepository::new();
        states.expect_take_flow().never();
        let mut p = MockIdentityProvider::new();
        p.expect_registration_id()
            .return_const(RegistrationId::parse("google").expect("id"));
        p.expect_exchange().never();
        let l = login(p, MockAccountRepository::new(), states, &[]);
        for bound in [Some("other"), None] {
            assert!(matches!(
                l.complete("google", callback(), bound, SessionMeta::default())
                    .await,
                Err(LoginError::InvalidState)
            ));
        }
        let no_state = Callback {
            state: None,
            ..callback()
        };
        assert!(matches!(
            l.complete("google", no_state, Some("st"), SessionMeta::default())
                .await,
            Err(LoginError::InvalidState)
        ));
    }

    #[tokio::test]
    async fn a_used_or_expired_state_is_refused() {
        let mut states = MockLoginStateRepository::new();
        states.expect_take_flow().returning(|_, _| Ok(None));
        let mut p = MockIdentityProvider::new();
        p.expect_registration_id()
            .return_const(RegistrationId::parse("google").expect("id"));
        p.expect_exchange().never();
        let l = login(p, MockAccountRepository::new(), states, &[]);
        assert!(matches!(complete(&l).await, Err(LoginError::InvalidState)));
    }

    #[tokio::test]
    async fn a_flow_started_for_another_provider_is_refused() {
        let mut p = MockIdentityProvider::new();
        p.expect_registration_id()
            .return_const(RegistrationId::parse("google").expect("id"));
        p.expect_exchange().never();
        let l = login(
            p,
            MockAccountRepository::new(),
            states_with_flow("kakao"),
            &[],
        );
        assert!(matches!(
            complete(&l).await,
            Err(LoginError::ProviderMismatch)
        ));
    }

    #[tokio::test]
    async fn provider_failures_map_to_unavailable_or_rejected_and_create_nothing() {
        for (err, unavailable) in [
            (IdentityError::Unavailable("down".into()), true),
            (IdentityError::Rejected("bad nonce".into()), false),
        ] {
            let mut p = MockIdentityProvider::new();
            p.expect_registration_id()
                .return_const(RegistrationId::parse("google").expect("id"));
            let mut err = Some(err);
            p.expect_exchange()
                .times(1)
                .returning(move |_, _, _, _| Err(err.take().expect("once")));
            let mut accounts = MockAccountRepository::new();
            accounts.expect_create().never();
            let l = login(p, accounts, states_with_flow("google"), &[]);
            let got = complete(&l).await;
            if unavailable {
                assert!(
                    matches!(got, Err(LoginError::ProviderUnavailable(_))),
                    "{got:?}"
                );
            } else {
                assert!(matches!(got, Err(LoginError::Rejected(_))), "{got:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_provider_error_in_the_callback_still_consumes_the_state() {
        let mut p = MockIdentityProvider::new();
        p.expect_registration_id()
            .return_const(RegistrationId::parse("google").expect("id"));
        p.expect_exchange().never();
        let l = login(
            p,
            MockAccountRepository::new(),
            states_with_flow("google"),
            &[],
        );
        let cb = Callback {
            error: Some("access_denied".into()),
            code: None,
            ..callback()
        };
        assert!(matches!(
            l.complete("google", cb, Some("st"), SessionMeta::default()).await,
            Err(LoginError::ProviderDenied(e)) if e == "access_denied"
        ));
    }

    fn pending(claims: ProviderClaims) -> PendingRegistration {
        PendingRegistration {
            claims,
            created_at: NOW,
            expires_at: NOW + Duration::minutes(30),
        }
    }

    #[tokio::test]
    async fn register_completes_with_the_missing_fields_and_deletes_the_pending_one() {
        let mut states = MockLoginStateRepository::new();
        states
            .expect_find_pending()
            .with(eq(TokenHash::of("tok")), eq(NOW))
            .returning(|_, _| {
                Ok(Some(pending(claims(
                    "s4",
                    Some("bob@example.com"),
                    true,
                    None,
                ))))
            });
        states
            .expect_delete_pending()
            .with(eq(TokenHash::of("tok")))
            .times(1)
            .returning(|_| Ok(true));
        let mut accounts = MockAccountRepository::new();
        accounts
            .expect_create()
            .withf(|n| {
                n.name.as_ref().map(DisplayName::as_str) == Some("Bob")
                    && n.email_verified
                    && n.identity.subject() == "s4"
            })
            .times(1)
            .returning(|_| Ok(account(9, Roles::user())));
        let l = login(
            provider(claims("x", None, false, None)),
            accounts,
            states,
            &[],
        );
        let form = RegistrationForm {
            name: Some("Bob".into()),
            ..RegistrationForm::default()
        };
        let done = l
            .register("tok", form, SessionMeta::default())
            .await
            .expect("registered");
        assert_eq!(done.account.id, AccountId::new(9));
    }

    #[tokio::test]
    async fn a_typed_email_is_not_verified() {
        let mut states = MockLoginStateRepository::new();
        states
            .expect_find_pending()
            .returning(|_, _| Ok(Some(pending(claims("s5", None, true, Some("Carol"))))));
        states.expect_delete_pending().returning(|_| Ok(true));
        let mut accounts = MockAccountRepository::new();
        accounts
            .expect_create()
            .withf(|n| !n.email_verified)
            .times(1)
            .returning(|_| Ok(account(10, Roles::user())));
        let l = login(
            provider(claims("x", None, false, None)),
            accounts,
            states,
            &[],
        );
        let form = RegistrationForm {
            email: Some("carol@example.com".into()),
            ..RegistrationForm::default()
        };
        l.register("tok", form, SessionMeta::default())
            .await
            .expect("registered");
    }

    #[tokio::test]
    async fn register_with_still_invalid_fields_keeps_the_pending_registration() {
        let mut states = MockLoginStateRepository::new();
        states.expect_find_pending().returning(|_, _| {
            Ok(Some(pending(claims(
                "s6",
                Some("d@example.com"),
                true,
                None,
            ))))
        });
        states.expect_delete_pending().never();
        let mut accounts = MockAccountRepository::new();
        accounts.expect_create().never();
        let l = login(
            provider(claims("x", None, false, None)),
            accounts,
            states,
            &[],
        );
        let form = RegistrationForm {
            name: Some("D".into()),
            gender: Some("OTHER".into()),
            ..RegistrationForm::default()
        };
        match l.register("tok", form, SessionMeta::default()).await {
            Err(RegisterError::Insufficient(invalid)) => {
                let fields: Vec<_> = invalid.iter().map(|e| e.field).collect();
                assert_eq!(fields, vec!["name", "gender"]);
            }
            other => panic!("expected Insufficient, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn register_without_a_pending_registration_is_refused() {
        let mut states = MockLoginStateRepository::new();
        states.expect_find_pending().returning(|_, _| Ok(None));
        let l = login(
            provider(claims("x", None, false, None)),
            MockAccountRepository::new(),
            states,
            &[],
        );
        assert!(matches!(
            l.register("tok", RegistrationForm::default(), SessionMeta::default())
                .await,
            Err(RegisterError::NoPendingRegistration)
        ));
    }
}
