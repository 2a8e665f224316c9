//! Removing images: one image (its uploader, STAFF or ADMIN), every image of a withdrawn
//! account, the evidence a closed report released. An image's objects are removed only
//! through its record ([`Images::purge`]); the CDN's copy is invalidated once they are gone.

use std::collections::BTreeSet;

use crate::account::AccountId;
use crate::actor::Actor;
use crate::audit::{AuditAction, AuditTarget, NewAuditEntry, RequestId};
use crate::events::EventKind;
use crate::image::{Channel, Image, ImageFilter, ImageStatus, staging_key};
use crate::storage::ObjectKey;

use super::{ImageError, Images};

impl Images {
    /// Deletes an image's record and object and invalidates its CDN path.
    pub(super) async fn remove(&self, image: &Image) -> Result<(), ImageError> {
        self.remove_recording(image, None).await
    }

    /// [`Self::remove`], with `audit` appended in the transaction that marks the record
    /// deleted (an image deleted by someone other than its uploader).
    pub(super) async fn remove_recording(
        &self,
        image: &Image,
        audit: Option<NewAuditEntry>,
    ) -> Result<(), ImageError> {
        let at = self.clock.now();
        // Services that may reference the image hear of it; an upload never confirmed
        // was never theirs to know.
        let events = if image.status == ImageStatus::Ready {
            self.event(EventKind::ImageDeleted, image, serde_json::json!({}))
        } else {
            Vec::new()
        };
        let deleted = self
            .repo
            .mark_deleted(image.id, image.status, at, audit, events)
            .await?;
        if deleted {
            self.purge_or_leave(image).await;
        }
        Ok(())
    }

    /// Removes the objects a record that stopped being live names, its staged and its
    /// final key and its variants' keys, then (for an image that was ever published)
    /// queues the CDN's invalidation of their paths, and records that they are gone.
    /// Nothing else is ever deleted. The invalidation comes after the objects are gone, so
    /// the CDN cannot fetch them again once told; and a removal the sweeper retries later
    /// queues its invalidation again.
    ///
    /// # Errors
    /// `StorageUnavailable`, `Repository`: the record still awaits removal.
    pub(super) async fn purge(&self, image: &Image) -> Result<(), ImageError> {
        self.store.delete(&staging_key(&image.key)).await?;
        for variant in &image.variants {
            self.store.delete(&variant.key).await?;
        }
        self.store.delete(&image.key).await?;
        if image.status == ImageStatus::Ready || image.confirmed_at.is_some() {
            let paths = std::iter::once(image.key.clone())
                .chain(image.variants.iter().map(|v| v.key.clone()))
                .collect();
            self.cdn.invalidate(paths).await?;
        }
        self.repo
            .mark_objects_removed(image.id, self.clock.now())
            .await?;
        Ok(())
    }

    /// [`Self::purge`] where the caller's answer does not depend on it: a failure leaves
    /// the record awaiting removal, and the sweeper retries it until it succeeds.
    pub(super) async fn purge_or_leave(&self, image: &Image) {
        if let Err(e) = self.purge(image).await {
            tracing::warn!(key = %image.key, error = %e, "objects left for the sweeper to remove");
        }
    }

    /// Deletes an image: its uploader, STAFF or ADMIN. The object goes, the CDN path is
    /// invalidated, and a profile image stops being the account's avatar. A deletion by
    /// someone other than the uploader is audited, and so is a refused attempt at someone
    /// else's live image.
    ///
    /// # Errors
    /// `Forbidden` for services, `NotFound` (also for images the caller may not manage),
    /// `StorageUnavailable` (and then nothing has changed).
    #[tracing::instrument(skip(self, actor, request), err(level = "info"))]
    pub async fn delete(
        &self,
        actor: &Actor,
        key: &ObjectKey,
        request: &RequestId,
    ) -> Result<(), ImageError> {
        let entry = |outcome: fn(_, _, _, _, _) -> NewAuditEntry| {
            outcome(
                self.clock.now(),
                actor.into(),
                AuditAction::ImageDelete,
                AuditTarget::Image(key.clone()),
                request.clone(),
            )
        };
        // Services read images; they never delete one (and may see every image exists).
        if matches!(actor, Actor::Service { .. }) {
            self.audit.record(entry(NewAuditEntry::denied)).await?;
            return Err(ImageError::Forbidden);
        }
        let image = self
            .repo
            .find_by_key(key)
            .await?
            .ok_or(ImageError::NotFound)?;
        let live = matches!(image.status, ImageStatus::Ready | ImageStatus::Pending);
        if !live {
            return Err(ImageError::NotFound);
        }
        if !Self::may_manage(actor, &image) {
            self.audit.record(entry(NewAuditEntry::denied)).await?;
            return Err(ImageError::NotFound);
        }
        if image.channel == Channel::Report
            && image.status == ImageStatus::Ready
            && !actor.is_staff()
        {
            return Err(ImageError::Protected);
        }
        // Reach the store before changing anything, so an outage changes nothing.
        self.store.check().await?;
        let audit = (!actor.is(image.uploader)).then(|| entry(NewAuditEntry::done));
        self.remove_recording(&image, audit).await?;
        if image.channel == Channel::Profile {
            self.avatars.clear_if(image.uploader, &image.key).await?;
        }
        Ok(())
    }

    /// On withdrawal: every image the account uploaded goes, in every channel, objects,
    /// records and CDN copies, except the evidence in `keep` (that of the account's reports
    /// still open), which goes when its report is closed ([`Self::release_evidence`]).
    ///
    /// # Errors
    /// `StorageUnavailable`, `Repository`.
    pub async fn purge_account(
        &self,
        account: AccountId,
        keep: &BTreeSet<ObjectKey>,
    ) -> Result<u64, ImageError> {
        const BATCH: u64 = 500;
        self.store.check().await?;
        let mut removed = 0;
        for status in [ImageStatus::Ready, ImageStatus::Pending] {
            loop {
                let images = self
                    .repo
                    .list(
                        ImageFilter {
                            uploader: Some(account),
                            status: Some(status),
                            ..ImageFilter::default()
                        },
                        // Kept images come back on every page: look past them.
                        BATCH + keep.len() as u64,
                    )
                    .await?;
                let full = images.len() as u64 == BATCH + keep.len() as u64;
                let mut progressed = false;
                for image in images.into_iter().filter(|i| !keep.contains(&i.key)) {
                    self.remove(&image).await?;
                    removed += 1;
                    progressed = true;
                }
                if !full || !progressed {
                    break;
                }
            }
        }
        Ok(removed)
    }

    /// When a report is closed: the evidence of a reporter who has withdrawn since goes
    /// (it was kept only for the report's sake).
    ///
    /// # Errors
    /// `StorageUnavailable`, `Repository`.
    pub async fn release_evidence(
        &self,
        reporter: AccountId,
        evidence: &[ObjectKey],
    ) -> Result<u64, ImageError> {
        let withdrawn = self.avatars.is_withdrawn(reporter).await?;
        if !withdrawn || evidence.is_empty() {
            return Ok(0);
        }
        let mut removed = 0;
        for key in evidence {
            if let Some(image) = self.repo.find_by_key(key).await?
                && image.uploader == reporter
                && image.status == ImageStatus::Ready
            {
                self.remove(&image).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
