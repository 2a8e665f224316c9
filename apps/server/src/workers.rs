//! Background work, started and stopped in one place: the sweeper (expiry, retention,
//! removals), the CDN invalidation worker, the notification worker and the event
//! delivery worker. Each runs on every
//! replica; the outbox's leases and the records' conditional transitions make each piece
//! of work happen once.

use std::sync::Arc;
use std::time::Duration;

use domain::services::Sweeper;
use domain::services::events::EventDelivery;
use domain::services::invalidations::Invalidations;
use domain::services::notifications::{DeliveryReport, Notifications};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::metrics::Metrics;

/// How often the invalidation worker looks for due invalidations.
const INVALIDATE_EVERY: Duration = Duration::from_secs(5);

/// The background tasks of one replica.
#[derive(Debug, Default)]
pub struct Workers {
    tasks: Vec<JoinHandle<()>>,
}

/// What to run; `None` leaves a worker off.
pub struct WorkerSet {
    pub sweeper: Option<(Sweeper, Duration)>,
    pub invalidations: Option<Invalidations>,
    pub notifications: Option<(Notifications, Duration)>,
    pub events: Option<(EventDelivery, Duration)>,
}

impl std::fmt::Debug for WorkerSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSet")
            .field("sweeper", &self.sweeper.as_ref().map(|(_, every)| every))
            .field("invalidations", &self.invalidations.is_some())
            .field(
                "notifications",
                &self.notifications.as_ref().map(|(_, every)| every),
            )
            .field("events", &self.events.as_ref().map(|(_, every)| every))
            .finish()
    }
}

impl Workers {
    /// Starts every configured worker on the current runtime.
    pub fn start(set: WorkerSet, metrics: &Arc<Metrics>) -> Self {
        let mut tasks = Vec::new();
        if let Some((sweeper, every)) = set.sweeper {
            tasks.push(tokio::spawn(sweep(sweeper, every, metrics.clone())));
        }
        if let Some(worker) = set.invalidations {
            tasks.push(tokio::spawn(invalidate(worker, metrics.clone())));
        }
        if let Some((worker, every)) = set.notifications {
            tasks.push(tokio::spawn(notify(worker, every, metrics.clone())));
        }
        if let Some((worker, every)) = set.events {
            tasks.push(tokio::spawn(publish(worker, every, metrics.clone())));
        }
        Self { tasks }
    }

    /// Stops every worker. Each piece of work is idempotent or leased, so stopping in the
    /// middle of one loses nothing: another pass or replica finishes it.
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

fn ticker(every: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

/// One sweep every `every`, the first after one interval (not at start-up).
async fn sweep(sweeper: Sweeper, every: Duration, metrics: Arc<Metrics>) {
    let mut tick = ticker(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        match sweeper.sweep().await {
            Ok(report) => metrics.sweep(&report),
            Err(e) => {
                tracing::warn!(error = %e, "sweep failed; retrying at the next interval");
            }
        }
    }
}

/// Drains the due invalidations, batch by batch, every few seconds.
async fn invalidate(worker: Invalidations, metrics: Arc<Metrics>) {
    let mut tick = ticker(INVALIDATE_EVERY);
    loop {
        tick.tick().await;
        loop {
            match worker.run_once().await {
                Ok(0) => break,
                Ok(n) => {
                    metrics.deliveries(domain::outbox::topics::CDN_INVALIDATION, "delivered", n)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "invalidation worker: outbox unavailable");
                    break;
                }
            }
        }
    }
}

/// Delivers the due notices every `every`.
async fn notify(worker: Notifications, every: Duration, metrics: Arc<Metrics>) {
    let mut tick = ticker(every);
    loop {
        tick.tick().await;
        match worker.run_once().await {
            Ok(r) => {
                count(&metrics, domain::outbox::topics::REPORT_NOTICE, &r);
                if r != Default::default() {
                    tracing::info!(?r, "notices");
                }
            }
            Err(e) => tracing::warn!(error = %e, "notification worker: outbox unavailable"),
        }
    }
}

/// Delivers the due events every `every`.
async fn publish(worker: EventDelivery, every: Duration, metrics: Arc<Metrics>) {
    let mut tick = ticker(every);
    loop {
        tick.tick().await;
        match worker.run_once().await {
            Ok(r) => count(&metrics, domain::outbox::topics::EVENT_DELIVERY, &r),
            Err(e) => tracing::warn!(error = %e, "event worker: outbox unavailable"),
        }
    }
}

fn count(metrics: &Metrics, topic: &str, r: &DeliveryReport) {
    metrics.deliveries(topic, "delivered", r.delivered);
    metrics.deliveries(topic, "skipped", r.skipped);
    metrics.deliveries(topic, "retried", r.retried);
    metrics.deliveries(topic, "failed", r.failed);
}
