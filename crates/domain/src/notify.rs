//! Telling people things (SMS, webhooks, the log) as a port.

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
