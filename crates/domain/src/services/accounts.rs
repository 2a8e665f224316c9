//! Reading and withdrawing accounts. Login, registration and profile changes join this
//! service with the account routes.

use std::sync::Arc;

use crate::account::{Account, AccountId, AccountRepository};
use crate::clock::Clock;
use crate::error::{RepositoryError, UpdateAccountError};
use crate::session::SessionRepository;

/// Failures of the account operations.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Unknown or withdrawn: the two are indistinguishable to callers (seed 000's
    /// `USER_NOT_FOUND`, "a user who has left or does not exist").
    #[error("the user has left or does not exist")]
    NotFound,
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

    /// A live account.
    ///
    /// # Errors
    /// `NotFound` for an unknown or withdrawn account.
    pub async fn get(&self, id: AccountId) -> Result<Account, AccountError> {
        match self.accounts.find_by_id(id).await? {
            Some(a) if !a.is_withdrawn() => Ok(a),
            _ => Err(AccountError::NotFound),
        }
    }

    /// Withdraws an account: revokes every session first (so that access ends even if
    /// erasure fails half-way and is retried), then erases its personal data.
    ///
    /// # Errors
    /// `NotFound` for an unknown or already withdrawn account.
    #[tracing::instrument(skip(self), err)]
    pub async fn withdraw(&self, id: AccountId) -> Result<(), AccountError> {
        self.get(id).await?;
        let now = self.clock.now();
        self.sessions.revoke_all(id, now).await?;
        self.accounts.withdraw(id, now).await?;
        Ok(())
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
            id: AccountId::new(id),
            name: None,
            email: None,
            email_verified: false,
            gender: None,
            birth_date: None,
            locale: None,
            roles: Roles::user(),
            profile_image_key: None,
            created_at: NOW,
            updated_at: NOW,
            withdrawn_at: withdrawn.then_some(NOW),
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
        svc.withdraw(AccountId::new(5)).await.expect("withdrawn");
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
            svc.withdraw(AccountId::new(5)).await,
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
            svc.withdraw(AccountId::new(5)).await,
            Err(AccountError::Repository(RepositoryError::Unavailable(_)))
        ));
    }
}
