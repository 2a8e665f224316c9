//! How long the pieces of a login live, and who is ADMIN by e-mail.

use time::Duration;

use crate::account::Email;

/// How long the pieces of a login live.
#[derive(Debug, Clone)]
pub struct LoginPolicy {
    /// Between the redirect to the provider and the callback.
    pub flow_ttl: Duration,
    /// Between an insufficient callback and `POST /account/register`.
    pub registration_ttl: Duration,
    /// Verified e-mails that get ADMIN at login.
    pub admin_emails: Vec<Email>,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        Self {
            flow_ttl: Duration::minutes(10),
            registration_ttl: Duration::minutes(30),
            admin_emails: Vec::new(),
        }
    }
}
