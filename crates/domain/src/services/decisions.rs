//! Delivers moderation decisions (written to the outbox with the resolution that took
//! them, [`crate::services::reports::DECISION_TOPIC`]) to the services that carry them
//! out, with the notices' retries, backoff and leases. The same decision goes under the
//! same id on every retry, so a receiver drops repeats.

use std::sync::Arc;

use time::Duration;

use crate::clock::Clock;
use crate::error::RepositoryError;
use crate::notify::{DecisionEvent, DecisionPublisher};
use crate::outbox::Outbox;
use crate::services::notifications::{DeliveryReport, settle};
use crate::services::reports::DECISION_TOPIC;

/// The decisions worker.
#[derive(Clone)]
pub struct Decisions {
    outbox: Arc<dyn Outbox>,
    publisher: Arc<dyn DecisionPublisher>,
    clock: Arc<dyn Clock>,
    max_attempts: u32,
    lease: Duration,
}

impl std::fmt::Debug for Decisions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decisions")
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl Decisions {
    pub fn new(
        outbox: Arc<dyn Outbox>,
        publisher: Arc<dyn DecisionPublisher>,
        clock: Arc<dyn Clock>,
        max_attempts: u32,
        lease: Duration,
    ) -> Self {
        Self {
            outbox,
            publisher,
            clock,
            max_attempts: max_attempts.max(1),
            lease,
        }
    }

    /// One pass over due decisions.
    ///
    /// # Errors
    /// The outbox's own failures.
    pub async fn run_once(&self) -> Result<DeliveryReport, RepositoryError> {
        let now = self.clock.now();
        let mut report = DeliveryReport::default();
        for job in self
            .outbox
            .claim(DECISION_TOPIC, now, self.lease, 20)
            .await?
        {
            let event = DecisionEvent {
                id: format!("decision-{}", job.id),
                payload: job.payload.clone(),
            };
            let sent = self.publisher.publish(&event).await;
            settle(
                &*self.outbox,
                &job,
                sent,
                self.max_attempts,
                now,
                &mut report,
            )
            .await?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MockClock;
    use crate::notify::{MockDecisionPublisher, NotifyError};
    use crate::outbox::{MockOutbox, OutboxJob};
    use mockall::predicate::*;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-12-02 10:00 UTC);

    fn job(id: i64, attempts: u32) -> OutboxJob {
        OutboxJob {
            id,
            topic: DECISION_TOPIC.into(),
            payload: serde_json::json!({"report_id": 5, "decision": "remove_content"}),
            attempts,
            created_at: NOW,
            batch: None,
        }
    }

    fn worker(
        jobs: Vec<OutboxJob>,
        outbox: MockOutbox,
        publisher: MockDecisionPublisher,
    ) -> Decisions {
        let mut outbox = outbox;
        outbox
            .expect_claim()
            .with(eq(DECISION_TOPIC), eq(NOW), always(), always())
            .return_once(move |_, _, _, _| Ok(jobs));
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        Decisions::new(
            Arc::new(outbox),
            Arc::new(publisher),
            Arc::new(clock),
            3,
            Duration::minutes(5),
        )
    }

    #[tokio::test]
    async fn decisions_go_out_under_their_job_id_and_failures_are_retried_then_given_up() {
        let mut publisher = MockDecisionPublisher::new();
        publisher
            .expect_publish()
            .withf(|e| e.id == "decision-1" && e.payload["decision"] == "remove_content")
            .times(1)
            .returning(|_| Ok(()));
        publisher
            .expect_publish()
            .withf(|e| e.id != "decision-1")
            .returning(|_| Err(NotifyError::Failed("503".into())));
        let mut outbox = MockOutbox::new();
        outbox
            .expect_complete()
            .with(eq(1), eq(NOW))
            .times(1)
            .returning(|_, _| Ok(()));
        outbox
            .expect_retry()
            .with(eq(2), always(), always())
            .times(1)
            .returning(|_, _, _| Ok(()));
        outbox
            .expect_fail()
            .with(eq(3), always(), eq(NOW))
            .times(1)
            .returning(|_, _, _| Ok(()));
        let w = worker(vec![job(1, 1), job(2, 1), job(3, 3)], outbox, publisher);
        let r = w.run_once().await.expect("pass");
        assert_eq!((r.delivered, r.retried, r.failed), (1, 1, 1));
    }
}
