//! Server-side sessions.

use crate::account::{Account, AccountId};
use crate::error::RepositoryError;
use crate::session::NewSession;
use crate::session::Session;
use crate::session::SessionId;
use crate::session::TokenHash;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Where sessions are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session (`last_seen_at` = `created_at`).
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure (a duplicate id or hash is a bug and
    /// reported as `Unexpected`).
    async fn insert(&self, new: NewSession) -> Result<Session, RepositoryError>;

    /// The session with this token hash, with its account as stored (withdrawn or not), if
    /// the session is active at `now`: not revoked, and `now` is before both expiries.
    /// Inactive sessions are `None`, exactly like unknown ones. One round trip: this runs
    /// for every authenticated request that misses the cache.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn find_active_by_token_hash(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<(Session, Account)>, RepositoryError>;

    /// Records activity: sets `last_seen_at` to `now` and the idle expiry to
    /// `idle_expires_at`. Does nothing for an unknown or revoked session.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn touch(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> Result<(), RepositoryError>;

    /// Revokes one session of `account`; `true` when an active-or-expired, unrevoked session
    /// of that account was revoked, `false` when there was none (unknown, someone else's, or
    /// revoked already).
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn revoke(
        &self,
        account: AccountId,
        id: SessionId,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError>;

    /// Revokes every unrevoked session of `account`; returns how many.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn revoke_all(
        &self,
        account: AccountId,
        at: OffsetDateTime,
    ) -> Result<u64, RepositoryError>;

    /// The sessions of `account` active at `now`, most recently seen first.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn list_active(
        &self,
        account: AccountId,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, RepositoryError>;
}
