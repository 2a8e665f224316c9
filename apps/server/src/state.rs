//! What every handler reaches: the services and the HTTP policy, built once by
//! [`crate::startup::Application::build`].

use std::sync::Arc;
use std::time::Duration;

use domain::Account;
use domain::services::reports::Reports;
use domain::services::{Accounts, AuditTrail, EventDelivery, Exports, Images, Login, Sessions};
use identity_oidc::DevProvider;

use crate::credentials::{CookiePolicy, ServiceTokens};
use crate::ratelimit::RateLimiter;

/// What every handler can reach: the services and the HTTP policy (cookies, origins,
/// tokens, limits, lifetimes). The probes and the local store's endpoints are app data of
/// their own ([`Probes`], [`LocalEndpoints`]).
pub struct AppState {
    pub accounts: Accounts,
    pub sessions: Sessions,
    pub login: Login,
    pub images: Images,
    pub reports: Reports,
    pub audit: AuditTrail,
    pub exports: Exports,
    /// The failed event deliveries, for ADMIN.
    pub events: EventDelivery,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Required as a bearer token on `/metrics` when set.
    pub metrics_token: Option<String>,
    /// Serve the demo page at `/`.
    pub demo_page: bool,
    /// The dev provider, when DEV_LOGIN is on (its login form needs it).
    pub dev: Option<Arc<DevProvider>>,
    pub service_tokens: ServiceTokens,
    pub cookies: CookiePolicy,
    /// Origins whose cookie-authenticated unsafe requests are accepted: the service's own
    /// and CORS_ORIGINS.
    pub allowed_origins: Vec<String>,
    pub rate_limiter: RateLimiter,
    pub login_flow_ttl: Duration,
    pub registration_ttl: Duration,
    pub session_cookie_max_age: Duration,
    pub login_success_redirect: Option<String>,
}

impl AppState {
    /// The CDN URL of an account's profile image; `None` until it has one.
    pub fn profile_image_url(&self, account: &Account) -> Option<String> {
        account
            .profile_image_key
            .as_ref()
            .map(|k| self.images.cdn_url(k))
    }

    /// Confirms an account's avatar uploads whose bytes have arrived (the files/avatars and account APIs
    /// have no callback). Failures are logged: reading an account never fails for them.
    pub async fn settle_avatar(&self, account: domain::AccountId) {
        if let Err(e) = self.images.settle_avatar(account).await {
            tracing::warn!(%account, error = %e, "could not settle a pending avatar");
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}
