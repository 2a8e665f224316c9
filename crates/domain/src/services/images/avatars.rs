//! The account's profile image (its avatar): the one place the image service writes
//! accounts. The newest ready profile image is the avatar; older ones are removed; every
//! step is idempotent, so what a failure left undone is finished by a retry or the next
//! read of the account.

use std::sync::Arc;

use crate::account::{Account, AccountId, AccountUpdate, Role};
use crate::actor::Actor;
use crate::audit::{AuditAction, AuditTarget, NewAuditEntry, RequestId};
use crate::error::UpdateAccountError;
use crate::image::{Channel, ImageFilter, ImageStatus};
use crate::ports::AccountRepository;
use crate::ports::Clock;
use crate::storage::ObjectKey;

use super::{Confirmation, ImageError, Images};

/// The accounts side of avatars: reads an account's avatar and points it elsewhere.
#[derive(Clone)]
pub(super) struct Avatars {
    accounts: Arc<dyn AccountRepository>,
    clock: Arc<dyn Clock>,
}

impl Avatars {
    pub(super) fn new(accounts: Arc<dyn AccountRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { accounts, clock }
    }

    /// The account unless it is gone or withdrawn.
    async fn live(&self, account: AccountId) -> Result<Option<Account>, ImageError> {
        Ok(self
            .accounts
            .find_by_id(account)
            .await?
            .filter(|a| !a.is_withdrawn()))
    }

    /// Whether the account is withdrawn (or gone).
    pub(super) async fn is_withdrawn(&self, account: AccountId) -> Result<bool, ImageError> {
        Ok(self.live(account).await?.is_none())
    }

    /// Points the account's avatar at `key` (or none); an account gone meanwhile is left.
    async fn point(&self, account: AccountId, key: Option<ObjectKey>) -> Result<(), ImageError> {
        let update = AccountUpdate {
            profile_image_key: Some(key),
            ..AccountUpdate::default()
        };
        match self
            .accounts
            .update(account, update, self.clock.now())
            .await
        {
            Ok(_) | Err(UpdateAccountError::NotFound) => Ok(()),
            Err(UpdateAccountError::Repository(e)) => Err(e.into()),
        }
    }

    /// Clears the account's avatar if it is `key`.
    pub(super) async fn clear_if(
        &self,
        account: AccountId,
        key: &ObjectKey,
    ) -> Result<(), ImageError> {
        if let Some(a) = self.accounts.find_by_id(account).await?
            && a.profile_image_key.as_ref() == Some(key)
        {
            self.point(account, None).await?;
        }
        Ok(())
    }
}

impl Images {
    /// Makes the account's newest ready profile image its avatar and removes the older
    /// ones. Every step is idempotent, so a confirmation whose account update failed is
    /// completed by a retry of the callback or the next read of the account, and an old
    /// avatar whose removal failed is removed then.
    pub(super) async fn reconcile_avatar(&self, account: AccountId) -> Result<(), ImageError> {
        let ready = self
            .repo
            .list(
                ImageFilter {
                    uploader: Some(account),
                    channel: Some(Channel::Profile),
                    status: Some(ImageStatus::Ready),
                    expired_at: None,
                },
                100,
            )
            .await?;
        // Oldest first: the last is the newest.
        let Some((newest, older)) = ready.split_last() else {
            return Ok(());
        };
        let Some(current) = self.avatars.live(account).await? else {
            return Ok(());
        };
        if current.profile_image_key.as_ref() != Some(&newest.key) {
            self.avatars
                .point(account, Some(newest.key.clone()))
                .await?;
        }
        for old in older {
            self.remove(old).await?;
        }
        Ok(())
    }

    /// Deletes an account's profile image (the files/avatars and account APIs): the account itself or an
    /// ADMIN. An ADMIN deleting someone else's, and a refused attempt, are audited.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` when it has none (`FILE_NOT_FOUND`), `StorageUnavailable`.
    pub async fn delete_avatar(
        &self,
        actor: &Actor,
        account: AccountId,
        request: &RequestId,
    ) -> Result<(), ImageError> {
        if !(actor.is(account) || actor.has(Role::Admin)) {
            let refused = NewAuditEntry::denied(
                self.clock.now(),
                actor.into(),
                AuditAction::ImageDelete,
                AuditTarget::Account(account),
                request.clone(),
            )
            .detail("profile image");
            self.audit.record(refused).await?;
            return Err(ImageError::Forbidden);
        }
        let key = self
            .avatars
            .live(account)
            .await?
            .and_then(|a| a.profile_image_key)
            .ok_or(ImageError::NotFound)?;
        self.store.check().await?;
        if let Some(image) = self.repo.find_by_key(&key).await? {
            let audit = (!actor.is(image.uploader)).then(|| {
                NewAuditEntry::done(
                    self.clock.now(),
                    actor.into(),
                    AuditAction::ImageDelete,
                    AuditTarget::Image(key.clone()),
                    request.clone(),
                )
                .detail("profile image")
            });
            self.remove_recording(&image, audit).await?;
        }
        self.avatars.clear_if(account, &key).await
    }

    /// Confirms the account's pending profile uploads whose bytes have arrived: the files/avatars API's
    /// and 001's avatar routes have no callback, so this runs when the account is read.
    ///
    /// # Errors
    /// Only infrastructure failures; a rejected upload is recorded and skipped.
    pub async fn settle_avatar(&self, account: AccountId) -> Result<(), ImageError> {
        let pending = self
            .repo
            .list(
                ImageFilter {
                    uploader: Some(account),
                    channel: Some(Channel::Profile),
                    status: Some(ImageStatus::Pending),
                    expired_at: None,
                },
                10,
            )
            .await?;
        for image in pending {
            match self
                .verify_and_promote(image, &Confirmation::default())
                .await
            {
                // Busy: another replica confirms it, and reconciles when it is done.
                Ok(_)
                | Err(
                    ImageError::NotUploaded
                    | ImageError::Rejected(_)
                    | ImageError::NotFound
                    | ImageError::Busy { .. },
                ) => {}
                Err(e) => return Err(e),
            }
        }
        // Completes a confirmation whose account update failed, and removes an old avatar
        // whose removal failed.
        self.reconcile_avatar(account).await
    }
}
