//! The object store (S3 or local disk).

use crate::storage::ByteStream;
use crate::storage::KeyPrefix;
use crate::storage::ObjectKey;
use crate::storage::ObjectMeta;
use crate::storage::PresignedPut;
use crate::storage::PutConditions;
use crate::storage::StorageError;
use async_trait::async_trait;
use bytes::Bytes;

/// Where objects are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Streams `body` into `key`, replacing any object there atomically: readers see the old
    /// object or the new one, never a partial one.
    ///
    /// # Errors
    /// `TooLarge` when the body passes `max_size` bytes, `BodyInterrupted` when the body
    /// stream fails (nothing is stored in either case); `Unavailable`/`Unexpected` otherwise.
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        content_type: &str,
        max_size: u64,
    ) -> Result<ObjectMeta, StorageError>;

    /// The object's metadata, `None` when there is none.
    ///
    /// # Errors
    /// `Unavailable`/`Unexpected` only.
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StorageError>;

    /// Up to `len` bytes from `offset` (fewer at the end of the object; empty past it). With
    /// `if_match`, only from the version whose ETag that is (S3's `If-Match`): the bytes
    /// confirmation checks after the head belong to the version it read the head of.
    ///
    /// # Errors
    /// `NotFound` when there is no object; `PreconditionFailed` when `if_match` names
    /// another version; `Unavailable`/`Unexpected` otherwise.
    async fn read_range(
        &self,
        key: &ObjectKey,
        offset: u64,
        len: u64,
        if_match: Option<String>,
    ) -> Result<Bytes, StorageError>;

    /// The object's metadata and its first `len` bytes (all of it when shorter), in one
    /// request where the store allows: what confirmation reads. `None` when there is no
    /// object.
    ///
    /// # Errors
    /// `Unavailable`/`Unexpected` only.
    async fn read_head(
        &self,
        key: &ObjectKey,
        len: u64,
    ) -> Result<Option<(ObjectMeta, Bytes)>, StorageError>;

    /// Deletes the object; deleting a missing object succeeds.
    ///
    /// # Errors
    /// `Unavailable`/`Unexpected` only.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError>;

    /// Up to `limit` objects under `prefix` in key order, starting after `after`.
    ///
    /// # Errors
    /// `Unavailable`/`Unexpected` only.
    async fn list(
        &self,
        prefix: &KeyPrefix,
        after: Option<ObjectKey>,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>, StorageError>;

    /// A URL that lets a client PUT one object to `key` under `conditions`, without
    /// credentials, until it expires.
    ///
    /// # Errors
    /// `Unexpected` when a URL cannot be made (misconfiguration).
    async fn presign_put(
        &self,
        key: &ObjectKey,
        conditions: &PutConditions,
    ) -> Result<PresignedPut, StorageError>;

    /// Copies `from` to `to` only while `from`'s ETag is `etag` (so bytes swapped after
    /// verification are never promoted), stored as `content_type` (the type verified from
    /// the bytes, whatever the PUT said), then deletes `from`. Returns `to`'s metadata.
    ///
    /// # Errors
    /// `NotFound` when `from` is gone, `PreconditionFailed` when its ETag differs (nothing
    /// is copied); `Unavailable`/`Unexpected` otherwise.
    async fn promote(
        &self,
        from: &ObjectKey,
        to: &ObjectKey,
        etag: &str,
        content_type: &str,
    ) -> Result<ObjectMeta, StorageError>;

    /// Whether the store answers: for readiness probes.
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    async fn check(&self) -> Result<(), StorageError>;
}
