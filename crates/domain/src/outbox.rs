//! A durable queue of side effects (CDN invalidations, notifications): written in the
//! database, delivered by workers with retries, so an outage of the receiving service
//! never fails the request that caused the work and never loses it.

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::account::AccountId;
use crate::error::RepositoryError;

/// A job taken from the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxJob {
    pub id: i64,
    pub topic: String,
    pub payload: serde_json::Value,
    /// Deliveries tried so far, this one included.
    pub attempts: u32,
    pub created_at: OffsetDateTime,
    /// The reference it was last sent under ([`Outbox::stamp`]), if any.
    pub batch: Option<String>,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Not yet delivered (waiting, or being retried).
    Pending,
    /// Delivered at that instant.
    Delivered(OffsetDateTime),
    /// Not sent, for the recorded reason (the account has no phone, …).
    Skipped(OffsetDateTime),
    /// Given up on after its last attempt.
    Failed(OffsetDateTime),
}

/// A job with where it stands (for an account's export, or the failed deliveries), and
/// the last error recorded for it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub job: OutboxJob,
    pub state: JobState,
    pub last_error: Option<String>,
}

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

    /// Every job of `topic` written about `account` ([`crate::Enqueue::about`]), oldest
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
        page: crate::report::Page,
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

/// When to try again after `attempts` failures: 2^attempts seconds, capped at an hour.
pub fn backoff(attempts: u32) -> Duration {
    Duration::seconds(1_i64 << attempts.min(12)).min(Duration::hours(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::seconds(2));
        assert_eq!(backoff(5), Duration::seconds(32));
        assert_eq!(backoff(40), Duration::hours(1));
    }
}
