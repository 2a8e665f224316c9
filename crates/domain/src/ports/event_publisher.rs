//! Signed events to other services.

use crate::events::EventMessage;
use crate::notify::NotifyError;
use async_trait::async_trait;

/// Where events are delivered.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Delivers one message to its endpoint.
    ///
    /// # Errors
    /// `Failed` when the endpoint fails, refuses, redirects or times out (retried);
    /// `Skipped` when no endpoint of that name is configured any more (recorded, not
    /// retried).
    async fn publish(&self, message: &EventMessage) -> Result<(), NotifyError>;
}
