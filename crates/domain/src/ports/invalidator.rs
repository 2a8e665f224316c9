//! CDN invalidation by paths.

use crate::storage::StorageError;
use async_trait::async_trait;

/// The CDN's own invalidation call (CloudFront `CreateInvalidation`).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Invalidator: Send + Sync {
    /// Invalidates `paths` (`/key`) under `reference`: the same reference with the same
    /// paths is the same request (CloudFront's `CallerReference`), so sending it again is
    /// not a second invalidation.
    ///
    /// # Errors
    /// `Unavailable` when the CDN cannot be reached, `Unexpected` when it refuses.
    async fn invalidate(&self, reference: &str, paths: Vec<String>) -> Result<(), StorageError>;
}
