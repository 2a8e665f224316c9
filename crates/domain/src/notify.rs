//! Telling people things (SMS, webhooks, the log) as a port.

use async_trait::async_trait;

use crate::account::{AccountId, Phone};

/// One message to one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub account: AccountId,
    /// Where an SMS goes; notifiers that need one skip accounts without.
    pub phone: Option<Phone>,
    pub text: String,
    /// Stable per notice: receivers that can deduplicate (webhooks) use it.
    pub idempotency_key: String,
}

/// Why a notice was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// Nothing to do for this account (no phone number for SMS): recorded, not retried.
    #[error("skipped: {0}")]
    Skipped(String),
    /// The provider failed or refused; worth trying again later.
    #[error("delivery failed: {0}")]
    Failed(String),
}

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

/// A moderation decision for the services that own a report's target (a product or chat
/// room to take down, an owner to warn), as the outbox carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionEvent {
    /// Stable per decision (`decision-<job id>`): the same on every retry.
    pub id: String,
    /// `{report_id, target_type, target_id, decision, until}`.
    pub payload: serde_json::Value,
}

/// Where moderation decisions are sent.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait DecisionPublisher: Send + Sync {
    /// Delivers one decision.
    ///
    /// # Errors
    /// `Failed` when the receiver fails or refuses (retried); `Skipped` when there is
    /// nowhere to send it.
    async fn publish(&self, decision: &DecisionEvent) -> Result<(), NotifyError>;
}
