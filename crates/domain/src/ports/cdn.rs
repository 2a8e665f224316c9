//! The CDN in front of the object store.

use crate::storage::{ObjectKey, StorageError};
use async_trait::async_trait;

/// The content delivery network in front of the store.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Cdn: Send + Sync {
    /// The public URL of `key` (`CDN_BASE_URL/key`).
    fn public_url(&self, key: &ObjectKey) -> String;

    /// Asks the CDN to forget cached copies of `keys` (deleted or replaced objects).
    ///
    /// # Errors
    /// `Unavailable` when the CDN cannot be reached; callers retry through the outbox.
    async fn invalidate(&self, keys: Vec<ObjectKey>) -> Result<(), StorageError>;
}
