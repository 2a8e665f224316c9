//! The audit log.

use crate::audit::AuditEntry;
use crate::audit::AuditFilter;
use crate::audit::NewAuditEntry;
use crate::error::RepositoryError;
use crate::page::Page;
use async_trait::async_trait;

/// Where audit entries are kept. Acts write theirs through the repository that performs
/// them (see the module's documentation); this port appends the entries that stand alone
/// and reads them all.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends one entry in a transaction of its own.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn record(&self, entry: NewAuditEntry) -> Result<(), RepositoryError>;

    /// A page of entries matching `filter`, newest first, and how many match in all.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn list(
        &self,
        filter: AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditEntry>, u64), RepositoryError>;
}
