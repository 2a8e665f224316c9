//! The outbox: side effects written with the change, delivered by workers.

use crate::account::AccountId;
use crate::error::RepositoryError;
use crate::outbox::JobRecord;
use crate::outbox::OutboxJob;
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

/// Where jobs wait.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Adds a job, deliverable from `at`; returns its id.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn enqueue(
        &self,
        topic: &str,
        payload: serde_json::Value,
        at: OffsetDateTime,
    ) -> Result<i64, RepositoryError>;

    /// Takes up to `limit` deliverable jobs of `topic` (due, not done, not failed, not
    /// leased) and leases them for `lease`: until then no other worker gets them. A worker
    /// that dies leaves its jobs to be taken again when the lease ends. Oldest first.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn claim(
        &self,
        topic: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxJob>, RepositoryError>;

    /// Records the reference `ids` are about to be sent under, before they are sent: a
    /// worker that takes them again after a crash sends them under the same one.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn stamp(&self, ids: &[i64], batch: &str) -> Result<(), RepositoryError>;

    /// Marks a job delivered (clearing an earlier attempt's error): it is never taken
    /// again.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn complete(&self, id: i64, at: OffsetDateTime) -> Result<(), RepositoryError>;

    /// Records a failed delivery and when to try again.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn retry(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
    ) -> Result<(), RepositoryError>;

    /// Gives up on a job: it is kept, marked failed, with the last error.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn fail(&self, id: i64, error: &str, at: OffsetDateTime) -> Result<(), RepositoryError>;

    /// Marks a job done without delivering it, saying why (an SMS to an account without a
    /// phone number): never taken again, and the reason kept.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn skip(&self, id: i64, reason: &str, at: OffsetDateTime) -> Result<(), RepositoryError>;

    /// Jobs of `topic` neither delivered nor failed.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn depth(&self, topic: &str) -> Result<u64, RepositoryError>;

    /// Every job of `topic` written about `account` ([`crate::NewJob::about`]), oldest
    /// first, with where it stands: what the account's data export lists.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn about(
        &self,
        account: AccountId,
        topic: &str,
    ) -> Result<Vec<JobRecord>, RepositoryError>;

    /// A page of the jobs of `topic` that failed for good, the most recently failed
    /// first, and how many there are.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn failed(
        &self,
        topic: &str,
        page: crate::page::Page,
    ) -> Result<(Vec<JobRecord>, u64), RepositoryError>;

    /// Makes the failed job `id` of `topic` due again at `at`, with its attempts counted
    /// from zero and its lease and error cleared; `false` when no such job has failed.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn redeliver(
        &self,
        topic: &str,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError>;
}
