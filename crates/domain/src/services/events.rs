//! Delivers events (written to the outbox with the change they describe, one job per
//! endpoint, [`crate::events::EVENT_DELIVERY`]) with the notices' retries, exponential backoff,
//! leases and final failure. A message goes under the same id on every attempt, so a
//! receiver drops repeats; ADMIN lists the deliveries that failed for good and sends one
//! again ([`EventDelivery::failed`], [`EventDelivery::redeliver`]).

use std::sync::Arc;

use time::Duration;

use crate::account::Role;
use crate::actor::Actor;
use crate::error::RepositoryError;
use crate::events::EventMessage;
use crate::outbox::JobRecord;
use crate::outbox::topics::EVENT_DELIVERY;
use crate::page::Page;
use crate::ports::Clock;
use crate::ports::EventPublisher;
use crate::ports::Outbox;
use crate::services::notifications::{DeliveryReport, settle};

/// Failures of the failed-deliveries routes.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not allowed")]
    Forbidden,
    /// No delivery of that id has failed for good.
    #[error("no such failed delivery")]
    NotFound,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// The event delivery worker.
#[derive(Clone)]
pub struct EventDelivery {
    outbox: Arc<dyn Outbox>,
    publisher: Arc<dyn EventPublisher>,
    clock: Arc<dyn Clock>,
    max_attempts: u32,
    lease: Duration,
}

impl std::fmt::Debug for EventDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventDelivery")
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl EventDelivery {
    pub fn new(
        outbox: Arc<dyn Outbox>,
        publisher: Arc<dyn EventPublisher>,
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

    /// One pass over due deliveries.
    ///
    /// # Errors
    /// The outbox's own failures.
    pub async fn run_once(&self) -> Result<DeliveryReport, RepositoryError> {
        let now = self.clock.now();
        let mut report = DeliveryReport::default();
        let jobs = self
            .outbox
            .claim(EVENT_DELIVERY, now, self.lease, 20)
            .await?;
        // The batch is sent at once (at most 20 requests in flight), so one slow or dead
        // endpoint costs a pass one timeout, not one per job; then each outcome is
        // recorded. Events carry no order between them (each has its id and time).
        let sent = futures_util::future::join_all(jobs.iter().map(|job| async move {
            match message(job.id, &job.payload) {
                Some(m) => self.publisher.publish(&m).await,
                None => Err(crate::notify::NotifyError::Skipped(
                    "malformed event job".into(),
                )),
            }
        }))
        .await;
        for (job, sent) in jobs.iter().zip(sent) {
            settle(
                &*self.outbox,
                job,
                sent,
                self.max_attempts,
                now,
                &mut report,
            )
            .await?;
        }
        Ok(report)
    }

    /// The deliveries that failed for good, newest first, and how many there are: ADMIN
    /// only.
    ///
    /// # Errors
    /// `Forbidden`, `Repository`.
    pub async fn failed(
        &self,
        actor: &Actor,
        page: Page,
    ) -> Result<(Vec<(JobRecord, EventMessage)>, u64), EventError> {
        Self::authorize(actor)?;
        let (jobs, total) = self.outbox.failed(EVENT_DELIVERY, page).await?;
        let items = jobs
            .into_iter()
            .filter_map(|r| message(r.job.id, &r.job.payload).map(|m| (r, m)))
            .collect();
        Ok((items, total))
    }

    /// Sends a failed delivery again: it is due at once, with a fresh count of attempts
    /// and the same `webhook-id`. ADMIN only.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` (no failed delivery of that id), `Repository`.
    pub async fn redeliver(&self, actor: &Actor, id: i64) -> Result<(), EventError> {
        Self::authorize(actor)?;
        if self
            .outbox
            .redeliver(EVENT_DELIVERY, id, self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(EventError::NotFound)
        }
    }

    fn authorize(actor: &Actor) -> Result<(), EventError> {
        if actor.account_id().is_some() && actor.has(Role::Admin) {
            Ok(())
        } else {
            Err(EventError::Forbidden)
        }
    }
}

/// The message of an event job: its id is the job's, the same on every attempt.
fn message(job: i64, payload: &serde_json::Value) -> Option<EventMessage> {
    let endpoint = payload.get("endpoint")?.as_str()?.to_owned();
    let body = serde_json::json!({
        "type": payload.get("type")?,
        "timestamp": payload.get("timestamp")?,
        "data": payload.get("data")?,
    });
    Some(EventMessage {
        id: format!("msg_{job}"),
        endpoint,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::NotifyError;
    use crate::outbox::OutboxJob;
    use crate::ports::MockClock;
    use crate::ports::MockEventPublisher;
    use crate::ports::MockOutbox;
    use mockall::predicate::*;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-12-02 10:00 UTC);

    fn job(id: i64, attempts: u32) -> OutboxJob {
        OutboxJob {
            id,
            topic: EVENT_DELIVERY.into(),
            payload: serde_json::json!({"endpoint": "chat", "type": "image.deleted",
                "timestamp": "2026-12-02T10:00:00Z", "data": {"key": "k"}}),
            attempts,
            created_at: NOW,
            batch: None,
        }
    }

    fn worker(
        jobs: Vec<OutboxJob>,
        outbox: MockOutbox,
        publisher: MockEventPublisher,
    ) -> EventDelivery {
        let mut outbox = outbox;
        outbox
            .expect_claim()
            .with(eq(EVENT_DELIVERY), eq(NOW), always(), always())
            .return_once(move |_, _, _, _| Ok(jobs));
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        EventDelivery::new(
            Arc::new(outbox),
            Arc::new(publisher),
            Arc::new(clock),
            3,
            Duration::minutes(5),
        )
    }

    #[tokio::test]
    async fn events_go_out_under_their_job_id_and_failures_are_retried_then_given_up() {
        let mut publisher = MockEventPublisher::new();
        publisher
            .expect_publish()
            .withf(|m| {
                m.id == "msg_1"
                    && m.endpoint == "chat"
                    && m.body
                        == serde_json::json!({"type": "image.deleted",
                            "timestamp": "2026-12-02T10:00:00Z", "data": {"key": "k"}})
            })
            .times(1)
            .returning(|_| Ok(()));
        publisher
            .expect_publish()
            .withf(|m| m.id != "msg_1")
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

    /// Both deliveries of a pass are in flight together: each publish waits for the
    /// other to start, which a worker sending one after another never lets happen.
    #[tokio::test]
    async fn a_pass_sends_its_deliveries_at_once() {
        struct Rendezvous(tokio::sync::Barrier);
        #[async_trait::async_trait]
        impl EventPublisher for Rendezvous {
            async fn publish(&self, _: &EventMessage) -> Result<(), NotifyError> {
                self.0.wait().await;
                Ok(())
            }
        }
        let mut outbox = MockOutbox::new();
        outbox
            .expect_claim()
            .return_once(|_, _, _, _| Ok(vec![job(1, 0), job(2, 0)]));
        outbox.expect_complete().times(2).returning(|_, _| Ok(()));
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        let w = EventDelivery::new(
            Arc::new(outbox),
            Arc::new(Rendezvous(tokio::sync::Barrier::new(2))),
            Arc::new(clock),
            3,
            Duration::minutes(5),
        );
        let report = tokio::time::timeout(std::time::Duration::from_secs(10), w.run_once())
            .await
            .expect("both were in flight at once")
            .expect("a pass");
        assert_eq!(report.delivered, 2);
    }
}
