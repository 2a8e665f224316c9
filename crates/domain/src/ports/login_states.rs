//! Login flows in progress and pending registrations.

use crate::error::RepositoryError;
use crate::login::LoginFlow;
use crate::login::PendingRegistration;
use crate::session::TokenHash;
use async_trait::async_trait;
use time::OffsetDateTime;

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
