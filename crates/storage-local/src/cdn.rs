//! The CDN of the local adapter set.

use async_trait::async_trait;
use domain::{ObjectKey, StorageError};

/// The CDN of the local adapter set: the service serves objects itself at
/// `{base}/{key}`, and there is no cache to invalidate.
#[derive(Debug, Clone)]
pub struct LocalCdn {
    base: String,
}

impl LocalCdn {
    /// `base` is where the service serves objects (`{PUBLIC_URL}/cdn`, or `CDN_BASE_URL`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
        }
    }
}

#[async_trait]
#[async_trait]
impl domain::Cdn for LocalCdn {
    fn public_url(&self, key: &ObjectKey) -> String {
        format!("{}/{}", self.base, key)
    }

    async fn invalidate(&self, _keys: Vec<ObjectKey>) -> Result<(), StorageError> {
        Ok(())
    }
}
