//! Signed read URLs for private images.

use crate::storage::{ObjectKey, StorageError};
use async_trait::async_trait;
use time::OffsetDateTime;

/// Signs URLs that read one object until a time and not after: the local store's HMAC,
/// S3's presigned GET, CloudFront's signed URLs.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ReadSigner: Send + Sync {
    /// A URL that reads `key` until `expires_at`.
    ///
    /// # Errors
    /// `Unavailable`, `Other` when it cannot be signed.
    async fn signed_url(
        &self,
        key: &ObjectKey,
        expires_at: OffsetDateTime,
    ) -> Result<String, StorageError>;
}
