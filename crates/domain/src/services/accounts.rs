//! Reading, changing and withdrawing accounts, with who may do which.
//!
//! | operation | who |
//! |---|---|
//! | read the full account | the owner, STAFF, ADMIN, SERVER |
//! | read the summary | any session |
//! | read the internal profile | SERVER only |
//! | change the profile | the owner, ADMIN |
//! | withdraw | the owner, ADMIN |
//!
//! Permission is checked before existence, so a refused caller learns nothing about
//! whether the account exists.

use std::sync::Arc;

use time::Date;

use crate::account::{
    Account, AccountId, AccountRepository, AccountUpdate, BirthDate, DisplayName, Email, Gender,
    IdentityId, LinkedIdentity, MaybeCached, Role,
};
use crate::clock::Clock;
use crate::error::{RepositoryError, UnlinkIdentityError, UpdateAccountError};
use crate::login::Actor;
use crate::session::SessionRepository;

/// Failures of the account operations.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Unknown or withdrawn: the two are indistinguishable to callers (seed 000's
    /// `USER_NOT_FOUND`, "a user who has left or does not exist").
    #[error("the user has left or does not exist")]
    NotFound,
    /// The caller may not do this to this account.
    #[error("not allowed")]
    Forbidden,
    /// The caller has no such linked identity.
    #[error("no such identity")]
    IdentityNotFound,
    /// The identity is the account's last: without it nobody could log in.
    #[error("the last identity cannot be unlinked")]
    LastIdentity,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl From<UpdateAccountError> for AccountError {
    fn from(e: UpdateAccountError) -> Self {
        match e {
            UpdateAccountError::NotFound => Self::NotFound,
            UpdateAccountError::Repository(e) => Self::Repository(e),
        }
    }
}

/// A profile change (`PATCH /accounts/{id}`): name 2 to 20 characters (seed 001's rule
/// for changes, stricter than registration's 50), gender, birth date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    pub name: Option<DisplayName>,
    pub gender: Option<Gender>,
    pub birth_date: Option<BirthDate>,
    /// `Some(None)` clears the phone number.
    pub phone: Option<Option<crate::account::Phone>>,
}

impl ProfilePatch {
    /// The longest name a change may set, in characters.
    pub const NAME_MAX: usize = 20;
}

/// The accounts service.
#[derive(Clone)]
pub struct Accounts {
    accounts: Arc<dyn AccountRepository>,
    sessions: Arc<dyn SessionRepository>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

impl Accounts {
    pub fn new(
        accounts: Arc<dyn AccountRepository>,
        sessions: Arc<dyn SessionRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            accounts,
            sessions,
            clock,
        }
    }

    pub fn today(&self) -> Date {
        self.clock.now().date()
    }

    /// A live account, whoever asks: for authentication and summaries.
    ///
    /// # Errors
    /// `NotFound` for an unknown or withdrawn account.
    pub async fn get(&self, id: AccountId) -> Result<Account, AccountError> {
        match self.accounts.find_by_id(id).await? {
            Some(a) if !a.is_withdrawn() => Ok(a),
            _ => Err(AccountError::NotFound),
        }
    }

    /// A live account for its public summary (name, picture), whoever asks. Behind
    /// [`crate::Cached`] it may come from memory (up to the read TTL old, dropped at once by
    /// any change made in this process), and says so: callers with work to do on a fresh
    /// read (settling an avatar) skip it otherwise.
    ///
    /// # Errors
    /// `NotFound` for an unknown or withdrawn account.
    pub async fn summary(&self, id: AccountId) -> Result<MaybeCached<Account>, AccountError> {
        match self.accounts.find_summary(id).await? {
            Some(s) if !s.value.is_withdrawn() => Ok(s),
            _ => Err(AccountError::NotFound),
        }
    }

    /// The full account, for its owner, STAFF, ADMIN and SERVER.
    ///
    /// # Errors
    /// `Forbidden` for anyone else; `NotFound` for an unknown or withdrawn account.
    pub async fn read(&self, actor: &Actor, id: AccountId) -> Result<Account, AccountError> {
        Self::authorize_read(actor, id)?;
        self.get(id).await
    }

    /// Whether `actor` may read account `id` (itself, STAFF, ADMIN, SERVER): checked before
    /// any work on that account is done on the caller's behalf.
    ///
    /// # Errors
    /// `Forbidden`.
    pub fn authorize_read(actor: &Actor, id: AccountId) -> Result<(), AccountError> {
        if actor.is(id) || actor.is_staff() || actor.has(Role::Server) {
            Ok(())
        } else {
            Err(AccountError::Forbidden)
        }
    }

    /// Whether `actor` may read internal profiles (SERVER only).
    ///
    /// # Errors
    /// `Forbidden`.
    pub fn authorize_internal(actor: &Actor) -> Result<(), AccountError> {
        if actor.has(Role::Server) {
            Ok(())
        } else {
            Err(AccountError::Forbidden)
        }
    }

    /// The internal profile, for other services only.
    ///
    /// # Errors
    /// `Forbidden` for anything but SERVER; `NotFound`.
    pub async fn internal_profile(
        &self,
        actor: &Actor,
        id: AccountId,
    ) -> Result<Account, AccountError> {
        Self::authorize_internal(actor)?;
        self.get(id).await
    }

    /// Changes the profile: the owner or an ADMIN.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    #[tracing::instrument(skip(self, patch), err(level = "info"))]
    pub async fn update_profile(
        &self,
        actor: &Actor,
        id: AccountId,
        patch: ProfilePatch,
    ) -> Result<Account, AccountError> {
        if !(actor.is(id) || actor.has(Role::Admin)) {
            return Err(AccountError::Forbidden);
        }
        let update = AccountUpdate {
            name: patch.name,
            gender: patch.gender,
            birth_date: patch.birth_date,
            phone: patch.phone,
            ..AccountUpdate::default()
        };
        Ok(self.accounts.update(id, update, self.clock.now()).await?)
    }

    /// The caller's own linked identities, oldest first: accounts only (a service has
    /// none).
    ///
    /// # Errors
    /// `Forbidden` for a service.
    pub async fn identities(&self, actor: &Actor) -> Result<Vec<LinkedIdentity>, AccountError> {
        let me = actor.account_id().ok_or(AccountError::Forbidden)?;
        Ok(self.accounts.identities(me).await?)
    }

    /// Unlinks one of the caller's own identities, never the last: the account must stay
    /// reachable by some login.
    ///
    /// # Errors
    /// `Forbidden` for a service, `IdentityNotFound` (also for someone else's identity),
    /// `LastIdentity`.
    #[tracing::instrument(skip(self, actor), err(level = "info"))]
    pub async fn unlink_identity(
        &self,
        actor: &Actor,
        identity: IdentityId,
    ) -> Result<(), AccountError> {
        let me = actor.account_id().ok_or(AccountError::Forbidden)?;
        match self.accounts.unlink_identity(me, identity).await {
            Ok(()) => Ok(()),
            Err(UnlinkIdentityError::NotFound) => Err(AccountError::IdentityNotFound),
            Err(UnlinkIdentityError::LastIdentity) => Err(AccountError::LastIdentity),
            Err(UnlinkIdentityError::Repository(e)) => Err(e.into()),
        }
    }

    /// Whether `actor` may withdraw the live account `id`: for callers that must clean up
    /// (images) before withdrawing.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub async fn check_withdraw(&self, actor: &Actor, id: AccountId) -> Result<(), AccountError> {
        if !(actor.is(id) || actor.has(Role::Admin)) {
            return Err(AccountError::Forbidden);
        }
        self.get(id).await.map(|_| ())
    }

    /// Withdraws an account: the owner or an ADMIN. Revokes every session first (so that
    /// access ends even if erasure fails and is retried), then erases its personal data.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown or already withdrawn account.
    #[tracing::instrument(skip(self), err(level = "info"))]
    pub async fn withdraw(&self, actor: &Actor, id: AccountId) -> Result<(), AccountError> {
        if !(actor.is(id) || actor.has(Role::Admin)) {
            return Err(AccountError::Forbidden);
        }
        self.get(id).await?;
        let now = self.clock.now();
        self.sessions.revoke_all(id, now).await?;
        self.accounts.withdraw(id, now).await?;
        Ok(())
    }

    /// Grants `role` to the live account with this verified e-mail: the operator's
    /// `server accounts grant`.
    ///
    /// # Errors
    /// `NotFound` when no live account has this verified e-mail.
    pub async fn grant_role(&self, email: &Email, role: Role) -> Result<Account, AccountError> {
        let account = self
            .accounts
            .find_by_verified_email(email)
            .await?
            .ok_or(AccountError::NotFound)?;
        let mut roles = account.roles.clone();
        roles.insert(role);
        let update = AccountUpdate {
            roles: Some(roles),
            ..AccountUpdate::default()
        };
        Ok(self
            .accounts
            .update(account.id, update, self.clock.now())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{MockAccountRepository, Roles};
    use crate::clock::MockClock;
    use crate::session::MockSessionRepository;
    use mockall::Sequence;
    use mockall::predicate::*;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

    fn account(id: i64, withdrawn: bool) -> Account {
        Account {
            withdrawn_at: withdrawn.then_some(NOW),
            ..Account::bare(id, NOW)
        }
    }

    fn owner(id: i64) -> Actor {
        Actor::Account {
            id: AccountId::new(id),
            roles: Roles::user(),
        }
    }

    fn with_role(id: i64, role: Role) -> Actor {
        let mut roles = Roles::user();
        roles.insert(role);
        Actor::Account {
            id: AccountId::new(id),
            roles,
        }
    }

    fn service() -> Actor {
        Actor::Service {
            name: "chat".into(),
        }
    }

    fn clock() -> Arc<dyn Clock> {
        let mut c = MockClock::new();
        c.expect_now().return_const(NOW);
        Arc::new(c)
    }

    #[tokio::test]
    async fn withdrawn_and_unknown_accounts_are_not_found() {
        let mut repo = MockAccountRepository::new();
        repo.expect_find_by_id()
            .with(eq(AccountId::new(1)))
            .returning(|_| Ok(Some(account(1, true))));
        repo.expect_find_by_id()
            .with(eq(AccountId::new(2)))
            .returning(|_| Ok(None));
        repo.expect_find_by_id()
            .with(eq(AccountId::new(3)))
            .returning(|_| Ok(Some(account(3, false))));
        let svc = Accounts::new(
            Arc::new(repo),
            Arc::new(MockSessionRepository::new()),
            clock(),
        );
        assert!(matches!(
            svc.get(AccountId::new(1)).await,
            Err(AccountError::NotFound)
        ));
        assert!(matches!(
            svc.get(AccountId::new(2)).await,
            Err(AccountError::NotFound)
        ));
        assert_eq!(
            svc.get(AccountId::new(3)).await.expect("live").id,
            AccountId::new(3)
        );
    }

    #[tokio::test]
    async fn withdrawal_revokes_sessions_before_erasing() {
        let mut seq = Sequence::new();
        let mut repo = MockAccountRepository::new();
        let mut sessions = MockSessionRepository::new();
        repo.expect_find_by_id()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(account(5, false))));
        sessions
            .expect_revoke_all()
            .with(eq(AccountId::new(5)), eq(NOW))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(2));
        repo.expect_withdraw()
            .with(eq(AccountId::new(5)), eq(NOW))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let svc = Accounts::new(Arc::new(repo), Arc::new(sessions), clock());
        svc.withdraw(&owner(5), AccountId::new(5))
            .await
            .expect("withdrawn");
    }

    #[tokio::test]
    async fn withdrawing_twice_is_not_found_and_touches_nothing() {
        let mut repo = MockAccountRepository::new();
        repo.expect_find_by_id()
            .returning(|_| Ok(Some(account(5, true))));
        repo.expect_withdraw().never();
        let mut sessions = MockSessionRepository::new();
        sessions.expect_revoke_all().never();
        let svc = Accounts::new(Arc::new(repo), Arc::new(sessions), clock());
        assert!(matches!(
            svc.withdraw(&owner(5), AccountId::new(5)).await,
            Err(AccountError::NotFound)
        ));
    }

    #[tokio::test]
    async fn a_failed_revocation_stops_the_withdrawal() {
        let mut repo = MockAccountRepository::new();
        repo.expect_find_by_id()
            .returning(|_| Ok(Some(account(5, false))));
        repo.expect_withdraw().never();
        let mut sessions = MockSessionRepository::new();
        sessions
            .expect_revoke_all()
            .returning(|_, _| Err(RepositoryError::Unavailable("down".into())));
        let svc = Accounts::new(Arc::new(repo), Arc::new(sessions), clock());
        assert!(matches!(
            svc.withdraw(&owner(5), AccountId::new(5)).await,
            Err(AccountError::Repository(RepositoryError::Unavailable(_)))
        ));
    }

    fn live_repo() -> MockAccountRepository {
        let mut repo = MockAccountRepository::new();
        repo.expect_find_by_id()
            .returning(|id| Ok(Some(account(id.get(), false))));
        repo
    }

    #[tokio::test]
    async fn who_may_read_a_full_account() {
        let svc = Accounts::new(
            Arc::new(live_repo()),
            Arc::new(MockSessionRepository::new()),
            clock(),
        );
        let id = AccountId::new(3);
        for (actor, allowed) in [
            (owner(3), true),
            (owner(4), false),
            (with_role(4, Role::Staff), true),
            (with_role(4, Role::Admin), true),
            (service(), true),
        ] {
            let got = svc.read(&actor, id).await;
            assert_eq!(got.is_ok(), allowed, "{actor:?}: {got:?}");
            if !allowed {
                assert!(matches!(got, Err(AccountError::Forbidden)));
            }
        }
        assert!(svc.internal_profile(&service(), id).await.is_ok());
        for actor in [owner(3), with_role(4, Role::Admin)] {
            assert!(matches!(
                svc.internal_profile(&actor, id).await,
                Err(AccountError::Forbidden)
            ));
        }
    }

    #[tokio::test]
    async fn only_the_owner_and_admins_change_or_withdraw() {
        let mut repo = MockAccountRepository::new();
        repo.expect_update().never();
        repo.expect_withdraw().never();
        let svc = Accounts::new(
            Arc::new(repo),
            Arc::new(MockSessionRepository::new()),
            clock(),
        );
        let id = AccountId::new(3);
        for actor in [owner(4), with_role(4, Role::Staff), service()] {
            assert!(matches!(
                svc.update_profile(&actor, id, ProfilePatch::default())
                    .await,
                Err(AccountError::Forbidden)
            ));
            assert!(matches!(
                svc.withdraw(&actor, id).await,
                Err(AccountError::Forbidden)
            ));
        }
    }

    #[tokio::test]
    async fn an_admin_changes_someone_elses_profile() {
        let mut repo = MockAccountRepository::new();
        repo.expect_update()
            .withf(|id, u, at| {
                *id == AccountId::new(3)
                    && u.name.as_ref().map(DisplayName::as_str) == Some("New Name")
                    && u.roles.is_none()
                    && *at == NOW
            })
            .times(1)
            .returning(|id, _, _| Ok(account(id.get(), false)));
        let svc = Accounts::new(
            Arc::new(repo),
            Arc::new(MockSessionRepository::new()),
            clock(),
        );
        let patch = ProfilePatch {
            name: Some(DisplayName::parse("New Name").expect("valid")),
            ..ProfilePatch::default()
        };
        svc.update_profile(&with_role(1, Role::Admin), AccountId::new(3), patch)
            .await
            .expect("updated");
    }

    #[tokio::test]
    async fn granting_a_role_needs_a_verified_email() {
        let mut repo = MockAccountRepository::new();
        repo.expect_find_by_verified_email().returning(|_| Ok(None));
        repo.expect_update().never();
        let svc = Accounts::new(
            Arc::new(repo),
            Arc::new(MockSessionRepository::new()),
            clock(),
        );
        let email = Email::parse("x@example.com").expect("email");
        assert!(matches!(
            svc.grant_role(&email, Role::Staff).await,
            Err(AccountError::NotFound)
        ));
    }
}
