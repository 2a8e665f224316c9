//! The sweeper: the background pass that expires pending uploads, applies per-channel
//! retention and removes the objects records name once they stop being live.

use time::OffsetDateTime;

use crate::image::{ImageFilter, ImageStatus, staging_prefix};
use crate::storage::ObjectKey;

use super::verify::Rejection;
use super::{ImageError, Images};

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Pending uploads past their TTL, now expired.
    pub expired: u64,
    /// Ready images past their channel's retention, now deleted.
    pub retention_deleted: u64,
    /// Records that stopped being live whose objects are now gone from the store.
    pub objects_removed: u64,
    /// Of those, removals that failed this pass: retried on the next.
    pub removals_failed: u64,
    /// Staged objects of records that no longer wait for them (bytes put again after a
    /// confirmation or a deletion), and staged uploads larger than the size limit.
    pub staged_removed: u64,
}

/// Sweeps the images of one [`Images`] service; run it on every replica, as often as
/// wanted.
#[derive(Debug, Clone)]
pub struct Sweeper {
    images: Images,
}

impl Sweeper {
    pub fn new(images: Images) -> Self {
        Self { images }
    }

    /// One pass of the sweeper. It deletes only what a record names:
    /// 1. pending uploads past their TTL expire;
    /// 2. ready images past their channel's retention are deleted;
    /// 3. the objects of records that stopped being live (deleted, expired, rejected) and
    ///    are not yet known to be gone are removed; a failure is retried on later passes;
    /// 4. under the staging prefix only, staged objects whose record no longer waits for
    ///    them are removed once older than the grace period, and staged uploads larger than
    ///    the size limit at once (their uploads are rejected).
    ///
    /// An object no record names is never deleted, whatever its key or age: the store may
    /// hold other applications' objects. The cost grows with the work to do (records to
    /// act on, objects under the staging prefix), never with the size of the bucket. Each
    /// transition is conditional, so several replicas sweeping at once do each piece of
    /// work once.
    ///
    /// # Errors
    /// `StorageUnavailable`, `Repository`.
    #[tracing::instrument(skip(self), err(level = "info"))]
    pub async fn sweep(&self) -> Result<SweepReport, ImageError> {
        const BATCH: u64 = 500;
        let now = self.images.clock.now();
        let mut report = SweepReport::default();
        let expired = self
            .images
            .repo
            .list(
                ImageFilter {
                    status: Some(ImageStatus::Pending),
                    expired_at: Some(now),
                    ..ImageFilter::default()
                },
                BATCH,
            )
            .await?;
        for image in expired {
            if self
                .images
                .repo
                .transition(image.id, ImageStatus::Pending, ImageStatus::Expired, now)
                .await?
            {
                report.expired += 1;
            }
        }
        let past_retention = self
            .images
            .repo
            .list(
                ImageFilter {
                    status: Some(ImageStatus::Ready),
                    expired_at: Some(now),
                    ..ImageFilter::default()
                },
                BATCH,
            )
            .await?;
        for image in past_retention {
            self.images.remove(&image).await?;
            report.retention_deleted += 1;
        }
        for image in self.images.repo.awaiting_removal(BATCH).await? {
            match self.images.purge(&image).await {
                Ok(()) => report.objects_removed += 1,
                // The store is down: the rest would fail too; the next pass retries.
                Err(e @ ImageError::StorageUnavailable(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(key = %image.key, error = %e, "removal failed; retried next pass");
                    report.removals_failed += 1;
                }
            }
        }
        report.staged_removed = self.sweep_staging(now).await?;
        if report != SweepReport::default() {
            tracing::info!(?report, "sweep");
        }
        Ok(report)
    }

    /// Step 4 of [`Self::sweep`]: the staging prefix, which only this service's upload
    /// URLs write to, page by page.
    async fn sweep_staging(&self, now: OffsetDateTime) -> Result<u64, ImageError> {
        const PAGE: usize = 1000;
        let staging = staging_prefix();
        let mut removed = 0;
        let mut after = None;
        loop {
            let page = self
                .images
                .store
                .list(&staging, after.clone(), PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            let full = page.len() == PAGE;
            for object in page {
                let Some(final_key) = object
                    .key
                    .as_str()
                    .strip_prefix(staging.as_str())
                    .and_then(|rest| ObjectKey::parse(rest).ok())
                else {
                    continue;
                };
                // No record names it: not ours, whatever it looks like.
                let Some(image) = self.images.repo.find_by_key(&final_key).await? else {
                    continue;
                };
                if image.status == ImageStatus::Pending {
                    if object.size > self.images.policy.max_size {
                        let rejection = Rejection::TooLarge {
                            limit: self.images.policy.max_size,
                        };
                        if let Err(ImageError::Rejected(_)) =
                            self.images.reject(&image, rejection).await
                        {
                            removed += 1;
                        }
                    }
                } else if now - object.last_modified >= self.images.policy.orphan_grace {
                    // Bytes put again after the record was decided: a leftover it names.
                    self.images.store.delete(&object.key).await?;
                    removed += 1;
                }
            }
            if !full {
                break;
            }
        }
        Ok(removed)
    }
}
