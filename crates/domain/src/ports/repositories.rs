//! The repositories as one named handle, passed once to the services that need several:
//! which reads go through a cache is chosen here, by field, never by the position of an
//! argument.

use std::sync::Arc;

use super::{
    AccountRepository, AuditLog, ImageRepository, LoginStateRepository, Outbox, ReportRepository,
    SessionRepository,
};

/// Every repository, by what it holds. A service reads only the fields it needs.
#[derive(Clone)]
pub struct Repositories {
    pub accounts: Arc<dyn AccountRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub login_states: Arc<dyn LoginStateRepository>,
    pub images: Arc<dyn ImageRepository>,
    pub reports: Arc<dyn ReportRepository>,
    pub audit: Arc<dyn AuditLog>,
    pub outbox: Arc<dyn Outbox>,
}

impl std::fmt::Debug for Repositories {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repositories").finish_non_exhaustive()
    }
}

impl Repositories {
    /// Every repository on one store.
    pub fn on<S>(store: &Arc<S>) -> Self
    where
        S: AccountRepository
            + SessionRepository
            + LoginStateRepository
            + ImageRepository
            + ReportRepository
            + AuditLog
            + Outbox
            + 'static,
    {
        Self {
            accounts: store.clone(),
            sessions: store.clone(),
            login_states: store.clone(),
            images: store.clone(),
            reports: store.clone(),
            audit: store.clone(),
            outbox: store.clone(),
        }
    }

    /// Mocks that expect nothing (any call fails the test): a test names the ones it
    /// uses, `Repositories { reports: Arc::new(mock), ..Repositories::unused() }`.
    #[cfg(feature = "mock")]
    pub fn unused() -> Self {
        Self {
            accounts: Arc::new(super::MockAccountRepository::new()),
            sessions: Arc::new(super::MockSessionRepository::new()),
            login_states: Arc::new(super::MockLoginStateRepository::new()),
            images: Arc::new(super::MockImageRepository::new()),
            reports: Arc::new(super::MockReportRepository::new()),
            audit: Arc::new(super::MockAuditLog::new()),
            outbox: Arc::new(super::MockOutbox::new()),
        }
    }
}
