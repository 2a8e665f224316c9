//! The CDN invalidations a change queues, as outbox jobs.

use crate::outbox::topics::CDN_INVALIDATION;
use crate::ports::Cdn;
use crate::ports::Clock;
use crate::ports::Outbox;
use crate::storage::{ObjectKey, StorageError};
use async_trait::async_trait;
use std::sync::Arc;

/// A `Cdn` whose invalidations go through the outbox.
#[derive(Clone)]
pub struct QueuedCdn {
    base: String,
    outbox: Arc<dyn Outbox>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for QueuedCdn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedCdn")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl QueuedCdn {
    pub fn new(base: &str, outbox: Arc<dyn Outbox>, clock: Arc<dyn Clock>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            outbox,
            clock,
        }
    }
}

#[async_trait]
impl Cdn for QueuedCdn {
    fn public_url(&self, key: &ObjectKey) -> String {
        format!("{}/{}", self.base, key)
    }

    /// One job for all of `keys` (an image and its variants): they are invalidated
    /// together or retried together.
    async fn invalidate(&self, keys: Vec<ObjectKey>) -> Result<(), StorageError> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = keys.iter().map(ObjectKey::as_str).collect();
        self.outbox
            .enqueue(
                CDN_INVALIDATION,
                serde_json::json!({ "keys": keys }),
                self.clock.now(),
            )
            .await
            .map_err(|e| StorageError::Unavailable(Box::new(e)))?;
        Ok(())
    }
}
