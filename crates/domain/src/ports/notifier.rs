//! Notices to people (SMS, webhook, log).

use crate::notify::Notice;
use crate::notify::NotifyError;
use async_trait::async_trait;

/// A way to deliver notices.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers one notice.
    ///
    /// # Errors
    /// `Skipped` when this notifier cannot reach the account at all; `Failed` otherwise.
    async fn send(&self, notice: &Notice) -> Result<(), NotifyError>;
}
