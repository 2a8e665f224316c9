//! What the operations routes look at besides the services: whether the database and the
//! object store answer (`/readyz`), the outbox's depth and the pool's use (`/metrics`).

use std::sync::Arc;

use domain::{ObjectStore, Outbox as _, RepositoryError, StorageError};
use store_sql::SqlStore;

/// The dependencies' probes.
#[derive(Clone)]
pub struct Probes {
    db: SqlStore,
    objects: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes").finish_non_exhaustive()
    }
}

impl Probes {
    pub fn new(db: SqlStore, objects: Arc<dyn ObjectStore>) -> Self {
        Self { db, objects }
    }

    /// # Errors
    /// The database does not answer.
    pub async fn database(&self) -> Result<(), RepositoryError> {
        self.db.ping().await
    }

    /// # Errors
    /// The object store does not answer.
    pub async fn object_store(&self) -> Result<(), StorageError> {
        self.objects.check().await
    }

    /// Jobs of `topic` not yet done.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn outbox_depth(&self, topic: &str) -> Result<u64, RepositoryError> {
        self.db.depth(topic).await
    }

    /// The pool's size and how many of its connections are idle.
    pub fn pool(&self) -> (u32, usize) {
        self.db.pool_stats()
    }
}
