//! Reports, their categories and their history.

use crate::account::AccountId;
use crate::error::RepositoryError;
use crate::outbox::NewJob;
use crate::page::Page;
use crate::report::CreateReportError;
use crate::report::NewReport;
use crate::report::Report;
use crate::report::ReportCategory;
use crate::report::ReportChange;
use crate::report::ReportEvent;
use crate::report::ReportFilter;
use crate::report::ReportId;
use crate::report::ReportStatus;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Where reports, their categories and their audit trails are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ReportRepository: Send + Sync {
    /// Every category, in display order.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn categories(&self) -> Result<Vec<ReportCategory>, RepositoryError>;

    /// Stores a report, its `create` history entry and `enqueue` (its notification) in one
    /// transaction: all or nothing.
    ///
    /// # Errors
    /// `DuplicateOpen` when the reporter has an open report of the target (nothing is
    /// written); `Repository` on infrastructure failure.
    async fn create(
        &self,
        new: NewReport,
        enqueue: Vec<NewJob>,
    ) -> Result<Report, CreateReportError>;

    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn find(&self, id: ReportId) -> Result<Option<Report>, RepositoryError>;

    /// A page of reports matching `filter`, newest first, and how many match in all.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn list(
        &self,
        filter: ReportFilter,
        page: Page,
    ) -> Result<(Vec<Report>, u64), RepositoryError>;

    /// How many reports `reporter` filed at or after `since`, counting no further than
    /// `at_most` (a limit check needs no more, and its cost stays bounded by the limit
    /// however many reports the reporter has).
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn count_since(
        &self,
        reporter: AccountId,
        since: OffsetDateTime,
        at_most: u64,
    ) -> Result<u64, RepositoryError>;

    /// Applies `change` to report `id` if its status is still `expected`, in one
    /// transaction with its history entry, its audit-log entry, the suspension its decision
    /// sets (on a live account; a withdrawn one stays as it is) and `enqueue`. `None` when
    /// the report is gone or its status changed meanwhile: nothing is written.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn update(
        &self,
        id: ReportId,
        expected: ReportStatus,
        change: ReportChange,
        enqueue: Vec<NewJob>,
    ) -> Result<Option<Report>, RepositoryError>;

    /// The report's audit trail, oldest first.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn events(&self, id: ReportId) -> Result<Vec<ReportEvent>, RepositoryError>;
}
