//! Image records.

use crate::error::RepositoryError;
use crate::image::Image;
use crate::image::ImageFilter;
use crate::image::ImageId;
use crate::image::ImageStatus;
use crate::image::InsertImageError;
use crate::image::NewImage;
use crate::image::ReadyImage;
use crate::image::UploadLimits;
use crate::image::Variant;
use crate::storage::ObjectKey;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Where image records are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ImageRepository: Send + Sync {
    /// Stores a pending upload.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure (a duplicate key is `Unexpected`: keys
    /// are random).
    async fn insert(&self, new: NewImage) -> Result<Image, RepositoryError>;

    /// Stores a pending upload unless its uploader is at one of `limits`: pending uploads
    /// at once, uploads issued in the hour before `new.created_at`, bytes of ready images
    /// plus `new.declared_length`. The count and the insert are one step for each account
    /// (concurrent calls for one account, on any replica, are taken one at a time).
    ///
    /// # Errors
    /// `Limit` with the limit passed (nothing is stored); `Repository` on infrastructure
    /// failure.
    async fn insert_within(
        &self,
        new: NewImage,
        limits: UploadLimits,
    ) -> Result<Image, InsertImageError>;

    /// The record of `key`, in any status.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn find_by_key(&self, key: &ObjectKey) -> Result<Option<Image>, RepositoryError>;

    /// Marks a pending image ready with what was verified, writing `enqueue` (its
    /// `image.ready` events) in the same transaction, and returns the record as updated;
    /// `None`, and nothing written, when it was not pending (another confirmation won, or
    /// it expired).
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn mark_ready(
        &self,
        id: ImageId,
        ready: ReadyImage,
        enqueue: Vec<crate::outbox::NewJob>,
    ) -> Result<Option<Image>, RepositoryError>;

    /// Names the variants a pending image is about to store, before they are stored, so
    /// that removing the record removes them whatever happens next; `false`, and nothing
    /// written, when it is not pending.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn name_variants(
        &self,
        id: ImageId,
        variants: Vec<Variant>,
    ) -> Result<bool, RepositoryError>;

    /// Moves an image from `from` to `to` at `at`; `false` when it was not in `from`.
    /// Concurrent callers (replicas, sweeps) make each transition happen once.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn transition(
        &self,
        id: ImageId,
        from: ImageStatus,
        to: ImageStatus,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError>;

    /// Moves an image from `from` to `Deleted` at `at`, with `audit` (an image deleted by
    /// someone other than its uploader) and `enqueue` (its `image.deleted` events) written
    /// in the same transaction; `false`, and nothing written, when it was not in `from`.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn mark_deleted(
        &self,
        id: ImageId,
        from: ImageStatus,
        at: OffsetDateTime,
        audit: Option<crate::audit::NewAuditEntry>,
        enqueue: Vec<crate::outbox::NewJob>,
    ) -> Result<bool, RepositoryError>;

    /// Up to `limit` images matching `filter`, oldest first.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn list(&self, filter: ImageFilter, limit: u64) -> Result<Vec<Image>, RepositoryError>;

    /// Up to `limit` images that stopped being live (deleted, expired or rejected) whose
    /// objects are not yet known to be gone from the store, oldest first: the only objects
    /// the sweeper deletes besides staged leftovers of records.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn awaiting_removal(&self, limit: u64) -> Result<Vec<Image>, RepositoryError>;

    /// Records that the objects of `id` (its staged and its final key) are gone from the
    /// store; `false` when the image is live (pending or ready), unknown, or was already
    /// recorded.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn mark_objects_removed(
        &self,
        id: ImageId,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError>;
}
