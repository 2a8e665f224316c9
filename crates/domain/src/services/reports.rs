//! Reports (the chat API) and moderation.
//!
//! A report names exactly one target (a product, a chat room or a user), a known category,
//! a reason, and optionally up to ten evidence images, each the reporter's own ready image
//! of channel `report`. Nobody reports themself, a reporter has at most one open report of
//! a target, and at most `per_day` reports a day. The report, its audit entry and the
//! "received" notice are written in one transaction, so no provider failure can fail or
//! lose it. STAFF and ADMIN list, read, resolve, dismiss, assign and reopen; every change
//! is recorded (who, when, what) and the reporter is told of resolutions and dismissals.

use std::sync::Arc;

use time::Duration;

use crate::account::AccountId;
use crate::actor::Actor;
use crate::error::RepositoryError;
use crate::events::{EventKind, Subscriptions};
use crate::image::{Channel, ImageStatus};
use crate::outbox::NewJob;
use crate::outbox::topics::REPORT_NOTICE;
use crate::page::Page;
use crate::ports::AccountRepository;
use crate::ports::AuditLog;
use crate::ports::Clock;
use crate::ports::ImageRepository;
use crate::ports::ReportRepository;
use crate::ports::Repositories;
use crate::report::{
    CreateReportError, NewReport, Report, ReportCategory, ReportEvent, ReportFilter, ReportId,
    ReportStatus, ReportSubmission, ReportTarget,
};
use crate::services::notifications::ReportNotice;
use crate::storage::ObjectKey;

mod moderation;

/// Limits on reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportPolicy {
    /// Reports one account may file in 24 hours.
    pub per_day: u64,
}

impl Default for ReportPolicy {
    fn default() -> Self {
        Self { per_day: 20 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no such report category")]
    UnknownCategory,
    #[error("you cannot report yourself")]
    SelfReport,
    /// An evidence key is not the reporter's own ready report image.
    #[error("invalid evidence: {0}")]
    InvalidEvidence(String),
    #[error("you already have an open report of this target")]
    Duplicate,
    #[error("too many reports today")]
    TooMany,
    #[error("no such report")]
    NotFound,
    #[error("not allowed")]
    Forbidden,
    /// A moderation action that does not apply to the report's status.
    #[error("{0}")]
    Conflict(String),
    /// A decision that does not apply: to this action (only resolving decides), to this
    /// target, or to this user (STAFF cannot suspend STAFF or ADMIN; nobody themselves).
    #[error("{0}")]
    InvalidDecision(String),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// The reports service.
#[derive(Clone)]
pub struct Reports {
    repo: Arc<dyn ReportRepository>,
    images: Arc<dyn ImageRepository>,
    accounts: Arc<dyn AccountRepository>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    policy: ReportPolicy,
    events: Subscriptions,
}

impl std::fmt::Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reports")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Reports {
    /// On `repos`' reports, images (evidence), accounts (decisions) and audit log.
    pub fn new(repos: &Repositories, clock: Arc<dyn Clock>, policy: ReportPolicy) -> Self {
        Self {
            repo: repos.reports.clone(),
            images: repos.images.clone(),
            accounts: repos.accounts.clone(),
            audit: repos.audit.clone(),
            clock,
            policy,
            events: Subscriptions::default(),
        }
    }

    /// Writes `report.created` and `report.moderated` events for `events`' endpoints.
    #[must_use]
    pub fn with_events(mut self, events: Subscriptions) -> Self {
        self.events = events;
        self
    }

    /// The categories, for everyone. Only migrations change them: cached for the read TTL.
    ///
    /// # Errors
    /// `Repository`.
    pub async fn categories(&self) -> Result<Vec<ReportCategory>, ReportError> {
        Ok(self.repo.categories().await?)
    }

    /// Files a report.
    ///
    /// # Errors
    /// `UnknownCategory`, `SelfReport`, `InvalidEvidence`, `Duplicate`, `TooMany`,
    /// `Repository`.
    #[tracing::instrument(skip(self, submission), err(level = "info"))]
    pub async fn submit(
        &self,
        reporter: AccountId,
        submission: ReportSubmission,
    ) -> Result<Report, ReportError> {
        let ReportSubmission {
            category,
            target,
            reason,
            evidence,
        } = submission;
        if target == ReportTarget::User(reporter) {
            return Err(ReportError::SelfReport);
        }
        if !self.categories().await?.iter().any(|c| c.id == category) {
            return Err(ReportError::UnknownCategory);
        }
        for key in evidence.keys() {
            let ok = self.images.find_by_key(key).await?.is_some_and(|i| {
                i.uploader == reporter
                    && i.channel == Channel::Report
                    && i.status == ImageStatus::Ready
            });
            if !ok {
                return Err(ReportError::InvalidEvidence(format!(
                    "{key} is not one of your confirmed report images"
                )));
            }
        }
        let now = self.clock.now();
        if self
            .repo
            .count_since(reporter, now - Duration::days(1), self.policy.per_day)
            .await?
            >= self.policy.per_day
        {
            return Err(ReportError::TooMany);
        }
        let new = NewReport {
            reporter,
            category,
            target,
            reason,
            evidence: evidence.into_keys(),
            created_at: now,
        };
        let notice = NewJob {
            topic: REPORT_NOTICE,
            payload: ReportNotice::Received.payload(reporter),
            about: Some(reporter),
        };
        // The report's id is added to every job by the repository (`report_id`).
        let created = self.events.jobs(
            EventKind::ReportCreated,
            now,
            serde_json::json!({
                "category_id": new.category.get(),
                "target_type": new.target.kind(),
                "target_id": new.target.id(),
            }),
        );
        let jobs = std::iter::once(notice).chain(created).collect();
        match self.repo.create(new, jobs).await {
            Ok(report) => Ok(report),
            Err(CreateReportError::DuplicateOpen) => Err(ReportError::Duplicate),
            Err(CreateReportError::Repository(e)) => Err(e.into()),
        }
    }

    /// The reporter's own reports, newest first.
    ///
    /// # Errors
    /// `Repository`.
    pub async fn mine(
        &self,
        reporter: AccountId,
        page: Page,
    ) -> Result<(Vec<Report>, u64), ReportError> {
        let filter = ReportFilter {
            reporter: Some(reporter),
            ..ReportFilter::default()
        };
        Ok(self.repo.list(filter, page).await?)
    }

    /// Reports for moderators: STAFF and ADMIN.
    ///
    /// # Errors
    /// `Forbidden`, `Repository`.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: ReportFilter,
        page: Page,
    ) -> Result<(Vec<Report>, u64), ReportError> {
        if !actor.is_staff() {
            return Err(ReportError::Forbidden);
        }
        Ok(self.repo.list(filter, page).await?)
    }

    /// One report and its audit trail, for moderators.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Repository`.
    pub async fn get(
        &self,
        actor: &Actor,
        id: ReportId,
    ) -> Result<(Report, Vec<ReportEvent>), ReportError> {
        if !actor.is_staff() {
            return Err(ReportError::Forbidden);
        }
        let report = self.repo.find(id).await?.ok_or(ReportError::NotFound)?;
        let events = self.repo.events(id).await?;
        Ok((report, events))
    }

    /// The evidence of `reporter`'s reports still open: what withdrawing the account must
    /// keep until those reports are closed.
    ///
    /// # Errors
    /// `Repository`.
    pub async fn open_evidence_of(
        &self,
        reporter: AccountId,
    ) -> Result<std::collections::BTreeSet<ObjectKey>, ReportError> {
        let filter = ReportFilter {
            status: Some(ReportStatus::Open),
            reporter: Some(reporter),
            ..ReportFilter::default()
        };
        let mut keep = std::collections::BTreeSet::new();
        for number in 0.. {
            let page = Page {
                number,
                size: Page::MAX_SIZE,
            };
            let (reports, _) = self.repo.list(filter.clone(), page).await?;
            let last = (reports.len() as u64) < Page::MAX_SIZE;
            keep.extend(reports.into_iter().flat_map(|r| r.evidence));
            if last {
                break;
            }
        }
        Ok(keep)
    }
}

#[cfg(test)]
mod tests;
