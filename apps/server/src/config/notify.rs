//! Notices and the outbox: which notifier tells reporters, its settings, the worker's
//! pace and leases.

use crate::config::Secret;
use clap::{Args, ValueEnum};

use super::seconds;

/// The notify settings.
#[derive(Debug, Clone, Args)]
pub struct NotifyConfig {
    /// How reporters are told about their reports: `log` (default), `aligo` (SMS) or
    /// `webhook`.
    #[arg(
        long,
        env = "NOTIFIER",
        value_enum,
        default_value = "log",
        global = true
    )]
    pub notifier: NotifierKind,

    /// Aligo: the API endpoint.
    #[arg(
        long,
        env = "ALIGO_ENDPOINT",
        default_value = "https://apis.aligo.in/send/",
        global = true
    )]
    pub aligo_endpoint: String,

    /// Aligo: the API key.
    #[arg(value_parser = crate::config::secret, long, env = "ALIGO_KEY", hide_env_values = true, global = true)]
    pub aligo_key: Option<Secret>,

    /// Aligo: the account id.
    #[arg(long, env = "ALIGO_USER_ID", global = true)]
    pub aligo_user_id: Option<String>,

    /// Aligo: the registered sender number.
    #[arg(long, env = "ALIGO_SENDER", global = true)]
    pub aligo_sender: Option<String>,

    /// Aligo: test mode (accepted and answered, nothing sent).
    #[arg(long, env = "ALIGO_TEST_MODE", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub aligo_test_mode: bool,

    /// Webhook: where notices are POSTed.
    #[arg(long, env = "WEBHOOK_URL", global = true)]
    pub webhook_url: Option<String>,

    /// Webhook: the HMAC-SHA256 key signing each body (`X-Signature`).
    #[arg(value_parser = crate::config::secret, long, env = "WEBHOOK_SECRET", hide_env_values = true, global = true)]
    pub webhook_secret: Option<Secret>,

    /// Seconds one delivery may take.
    #[arg(long, env = "NOTIFY_TIMEOUT_SECS", default_value_t = 5, global = true)]
    pub notify_timeout_secs: u64,

    /// Deliveries tried before a notice is marked failed (with backoff in between).
    #[arg(long, env = "NOTIFY_MAX_ATTEMPTS", default_value_t = 6, global = true)]
    pub notify_max_attempts: u32,

    /// Seconds between the notice and event workers' passes; 0 turns both in-process
    /// workers off.
    #[arg(long, env = "NOTIFY_INTERVAL_SECS", default_value_t = 2, global = true)]
    pub notify_interval_secs: u64,

    /// Seconds a worker holds the outbox jobs it claimed (notices, CDN invalidations): a
    /// replica that dies holding some leaves them to another after this. Keep it longer
    /// than a batch takes (20 notices × NOTIFY_TIMEOUT_SECS).
    #[arg(long, env = "OUTBOX_LEASE_SECS", default_value_t = 300, global = true)]
    pub outbox_lease_secs: u64,
}

/// Which notifier adapter to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotifierKind {
    Log,
    Aligo,
    Webhook,
}

impl NotifyConfig {
    /// How long an outbox worker holds what it claimed (`OUTBOX_LEASE_SECS`).
    pub fn outbox_lease(&self) -> time::Duration {
        seconds(self.outbox_lease_secs)
    }

    /// How long one delivery may take.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.notify_timeout_secs.max(1))
    }
}
