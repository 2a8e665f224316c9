//! Accounts and their identities.

use crate::account::Account;
use crate::account::AccountId;
use crate::account::AccountUpdate;
use crate::account::Email;
use crate::account::Identity;
use crate::account::IdentityId;
use crate::account::LinkedIdentity;
use crate::account::MaybeCached;
use crate::account::NewAccount;
use crate::audit::NewAuditEntry;
use crate::error::{
    CreateAccountError, LinkIdentityError, RepositoryError, UnlinkIdentityError, UpdateAccountError,
};
use async_trait::async_trait;
use time::OffsetDateTime;

/// Where accounts are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AccountRepository: Send + Sync {
    /// Stores a new account holding `new.identity`.
    ///
    /// # Errors
    /// `DuplicateIdentity` when the identity already belongs to an account (nothing is
    /// written); `Repository` on infrastructure failure.
    async fn create(&self, new: NewAccount) -> Result<Account, CreateAccountError>;

    /// The account with this id, withdrawn or not; `None` when there never was one.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn find_by_id(&self, id: AccountId) -> Result<Option<Account>, RepositoryError>;

    /// The account with this id for its public summary (name, picture), withdrawn or not.
    /// A read cache may answer it (see [`crate::Cached`]: up to the read TTL old) and says
    /// whether it did; adapters read it as [`Self::find_by_id`] does.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn find_summary(
        &self,
        id: AccountId,
    ) -> Result<Option<MaybeCached<Account>>, RepositoryError> {
        Ok(self.find_by_id(id).await?.map(|value| MaybeCached {
            value,
            cached: false,
        }))
    }

    /// The account holding this identity; `None` when none does (a withdrawn account holds
    /// none: withdrawal erases identities).
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn find_by_identity(
        &self,
        identity: &Identity,
    ) -> Result<Option<Account>, RepositoryError>;

    /// The oldest non-withdrawn account whose email equals `email` and is verified.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn find_by_verified_email(
        &self,
        email: &Email,
    ) -> Result<Option<Account>, RepositoryError>;

    /// Adds another identity to an existing account, with the e-mail its provider gave.
    ///
    /// # Errors
    /// `NotFound` for an unknown or withdrawn account, `DuplicateIdentity` when the identity
    /// is held already, `Repository` on infrastructure failure.
    async fn link_identity(
        &self,
        id: AccountId,
        identity: Identity,
        email: Option<Email>,
        at: OffsetDateTime,
    ) -> Result<(), LinkIdentityError>;

    /// The account's identities, oldest first (the one it was created with first). The
    /// identity an account is created with carries the account's e-mail.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn identities(&self, id: AccountId) -> Result<Vec<LinkedIdentity>, RepositoryError>;

    /// Removes one of the account's identities, never its last: checked and removed in one
    /// transaction, so two concurrent unlinks cannot leave it with none.
    ///
    /// # Errors
    /// `NotFound` when the account has no such identity, `LastIdentity` when it is the only
    /// one (nothing changes), `Repository` on infrastructure failure.
    async fn unlink_identity(
        &self,
        id: AccountId,
        identity: IdentityId,
    ) -> Result<(), UnlinkIdentityError>;

    /// Applies `update` and returns the account as stored afterwards; its `audit` entry,
    /// if any, is appended in the same transaction.
    ///
    /// # Errors
    /// `NotFound` for an unknown or withdrawn account; `Repository` on infrastructure failure.
    async fn update(
        &self,
        id: AccountId,
        update: AccountUpdate,
        at: OffsetDateTime,
    ) -> Result<Account, UpdateAccountError>;

    /// Withdraws the account: erases its personal data (name, email, gender, birth date,
    /// locale, phone, profile image key) and its identities, keeps the row so its id is never
    /// reused, and marks it withdrawn at `at`. In the audit log, its e-mail and phone (in
    /// every entry) and its name (in entries naming it) are replaced with `account:<id>`.
    /// Every session of the account is revoked, and `audit` (an ADMIN deleting someone
    /// else's account) and `enqueue` (its `account.withdrawn` events) are written, in the
    /// same transaction: a withdrawal either completes or changes nothing.
    ///
    /// # Errors
    /// `NotFound` for an unknown or already withdrawn account; `Repository` on infrastructure
    /// failure.
    async fn withdraw(
        &self,
        id: AccountId,
        at: OffsetDateTime,
        audit: Option<NewAuditEntry>,
        enqueue: Vec<crate::outbox::NewJob>,
    ) -> Result<(), UpdateAccountError>;
}
