//! A durable queue of side effects (CDN invalidations, notifications): written in the
//! database, delivered by workers with retries, so an outage of the receiving service
//! never fails the request that caused the work and never loses it.

use crate::account::AccountId;
use time::{Duration, OffsetDateTime};

/// A side effect to enqueue in the same transaction as a report write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub topic: &'static str,
    pub payload: serde_json::Value,
    /// The account the job concerns, if any: its notices are part of its data export.
    pub about: Option<AccountId>,
}

impl NewJob {
    /// The job for the report `report` once it has its id: the payload (an event's data)
    /// names it as `report_id` (the repository calls this inside the report's
    /// transaction).
    #[must_use]
    pub fn for_report(mut self, report: i64) -> Self {
        // An event carries it in its data; a notice at its top level.
        let target = if self.topic == super::topics::EVENT_DELIVERY {
            self.payload.get_mut("data")
        } else {
            Some(&mut self.payload)
        };
        if let Some(obj) = target.and_then(serde_json::Value::as_object_mut) {
            obj.insert("report_id".into(), serde_json::json!(report));
        }
        self
    }
}

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
