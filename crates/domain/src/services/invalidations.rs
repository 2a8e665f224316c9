//! CDN invalidations through the outbox: deleting or replacing an image only enqueues its
//! paths (the image's and its variants', one job, so they go or stay together); a worker
//! sends them in batches, retrying with backoff while the CDN is down, so a CDN outage never
//! fails a delete and no invalidation is lost.

use crate::error::RepositoryError;
use crate::outbox::topics::CDN_INVALIDATION;
use crate::outbox::{OutboxJob, backoff};
use crate::ports::Clock;
use crate::ports::Invalidator;
use crate::ports::Outbox;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::Duration;

/// Give up on a path after this many attempts (about a day of backoff).
const MAX_ATTEMPTS: u32 = 30;

/// CloudFront takes up to 3000 paths an invalidation; smaller batches fail smaller. A job
/// holds an image's paths: its own and one per variant (a handful).
const BATCH: u32 = 100;

/// Delivers queued invalidations.
#[derive(Clone)]
pub struct Invalidations {
    outbox: Arc<dyn Outbox>,
    invalidator: Arc<dyn Invalidator>,
    clock: Arc<dyn Clock>,
    lease: Duration,
}

impl std::fmt::Debug for Invalidations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invalidations").finish_non_exhaustive()
    }
}

impl Invalidations {
    pub fn new(
        outbox: Arc<dyn Outbox>,
        invalidator: Arc<dyn Invalidator>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            outbox,
            invalidator,
            clock,
            lease: Duration::minutes(5),
        }
    }

    /// How long a claimed batch is this worker's (default 5 minutes): a worker that dies
    /// holding it leaves it to be taken again after that.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// One batch: claims due paths, sends them in one invalidation, and records the
    /// outcome on every job. Returns how many were delivered.
    ///
    /// # Errors
    /// Only the outbox's own failures; a CDN failure is recorded for retry.
    pub async fn run_once(&self) -> Result<u64, RepositoryError> {
        let now = self.clock.now();
        let jobs = self
            .outbox
            .claim(CDN_INVALIDATION, now, self.lease, BATCH)
            .await?;
        if jobs.is_empty() {
            return Ok(0);
        }
        // Jobs sent before (by a worker that died before recording the outcome, or in a
        // call that failed) go again together, under their batch; the others form a new
        // batch, stamped before anything is sent.
        let mut batches: BTreeMap<String, Vec<OutboxJob>> = BTreeMap::new();
        let mut fresh = Vec::new();
        for job in jobs {
            match job.batch.clone() {
                Some(batch) => batches.entry(batch).or_default().push(job),
                None => fresh.push(job),
            }
        }
        if let Some(first) = fresh.first() {
            // Unique: a job id is, and a job is stamped only once.
            let batch = format!("outbox-{}-{}", first.id, fresh.len());
            let ids: Vec<i64> = fresh.iter().map(|j| j.id).collect();
            self.outbox.stamp(&ids, &batch).await?;
            batches.insert(batch, fresh);
        }
        let mut delivered = 0;
        for (batch, jobs) in batches {
            delivered += self.send(&batch, &jobs, now).await?;
        }
        Ok(delivered)
    }

    /// Sends one batch and records the outcome on each of its jobs.
    async fn send(
        &self,
        batch: &str,
        jobs: &[OutboxJob],
        now: time::OffsetDateTime,
    ) -> Result<u64, RepositoryError> {
        let mut paths: Vec<String> = jobs.iter().flat_map(paths_of).collect();
        paths.sort();
        // The reference names the batch and exactly these paths: the whole batch again is
        // the same request; a part of it (some jobs settled meanwhile) is a new one.
        let digest = Sha256::digest(paths.join("\n").as_bytes());
        let reference = format!("{batch}-{}", hex::encode(&digest[..8]));
        match self.invalidator.invalidate(&reference, paths).await {
            Ok(()) => {
                for job in jobs {
                    self.outbox.complete(job.id, now).await?;
                }
                Ok(jobs.len() as u64)
            }
            Err(e) => {
                let error = e.to_string();
                tracing::warn!(%error, jobs = jobs.len(), "CDN invalidation failed; will retry");
                for job in jobs {
                    if job.attempts >= MAX_ATTEMPTS {
                        self.outbox.fail(job.id, &error, now).await?;
                    } else {
                        self.outbox
                            .retry(job.id, &error, now + backoff(job.attempts))
                            .await?;
                    }
                }
                Ok(0)
            }
        }
    }
}

/// A job's CDN paths: `{"keys": [...]}`, or `{"key": ...}` as jobs queued before images had
/// variants carry.
fn paths_of(job: &OutboxJob) -> Vec<String> {
    let single = job.payload["key"].as_str().into_iter();
    let many = job.payload["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str);
    single.chain(many).map(|k| format!("/{k}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::OutboxJob;
    use crate::outbox::QueuedCdn;
    use crate::ports::Cdn;
    use crate::ports::MockClock;
    use crate::ports::{MockInvalidator, MockOutbox};
    use crate::storage::{ObjectKey, StorageError};
    use mockall::predicate::*;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

    fn clock() -> Arc<dyn Clock> {
        let mut c = MockClock::new();
        c.expect_now().return_const(NOW);
        Arc::new(c)
    }

    fn job(id: i64, key: &str, attempts: u32) -> OutboxJob {
        OutboxJob {
            id,
            topic: CDN_INVALIDATION.into(),
            payload: serde_json::json!({ "key": key }),
            attempts,
            created_at: NOW,
            batch: None,
        }
    }

    #[tokio::test]
    async fn deleting_only_enqueues_one_job_for_an_image_and_its_variants() {
        let mut outbox = MockOutbox::new();
        outbox
            .expect_enqueue()
            .with(
                eq(CDN_INVALIDATION),
                eq(serde_json::json!({"keys": ["chat/a.png", "chat/a.png.thumb.webp"]})),
                eq(NOW),
            )
            .times(1)
            .returning(|_, _, _| Ok(1));
        let cdn = QueuedCdn::new("https://cdn.example.com/", Arc::new(outbox), clock());
        let key = |k: &str| ObjectKey::parse(k).expect("key");
        cdn.invalidate(vec![key("chat/a.png"), key("chat/a.png.thumb.webp")])
            .await
            .expect("queued");
        cdn.invalidate(Vec::new()).await.expect("nothing to queue");
        assert_eq!(
            cdn.public_url(&ObjectKey::parse("chat/a.png").expect("key")),
            "https://cdn.example.com/chat/a.png"
        );
    }

    #[tokio::test]
    async fn a_batch_is_one_invalidation_and_completes_every_job() {
        let mut outbox = MockOutbox::new();
        // An image queued with its variant, and a job queued before variants existed.
        let image = OutboxJob {
            payload: serde_json::json!({"keys": ["a.png", "a.png.thumb.webp"]}),
            ..job(1, "", 1)
        };
        outbox
            .expect_claim()
            .return_once(move |_, _, _, _| Ok(vec![image, job(2, "b/c.png", 1)]));
        // Stamped before anything is sent.
        outbox
            .expect_stamp()
            .withf(|ids, batch| ids == [1, 2] && batch == "outbox-1-2")
            .times(1)
            .returning(|_, _| Ok(()));
        outbox.expect_complete().times(2).returning(|_, _| Ok(()));
        outbox.expect_retry().never();
        let mut inv = MockInvalidator::new();
        inv.expect_invalidate()
            .withf(|reference, paths| {
                reference.starts_with("outbox-1-2-")
                    && *paths == ["/a.png", "/a.png.thumb.webp", "/b/c.png"]
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let w = Invalidations::new(Arc::new(outbox), Arc::new(inv), clock());
        assert_eq!(w.run_once().await.expect("ran"), 2);
    }

    #[tokio::test]
    async fn a_batch_sent_again_after_a_crash_goes_under_its_first_reference() {
        use std::sync::Mutex;
        let sent = Arc::new(Mutex::new(Vec::<String>::new()));
        let worker = |jobs: Vec<OutboxJob>, stamps: usize| {
            let mut outbox = MockOutbox::new();
            outbox
                .expect_claim()
                .return_once(move |_, _, _, _| Ok(jobs));
            outbox.expect_stamp().times(stamps).returning(|_, _| Ok(()));
            outbox.expect_complete().returning(|_, _| Ok(()));
            let mut inv = MockInvalidator::new();
            let sent = sent.clone();
            inv.expect_invalidate().returning(move |reference, _| {
                sent.lock().expect("lock").push(reference.to_owned());
                Ok(())
            });
            Invalidations::new(Arc::new(outbox), Arc::new(inv), clock())
        };
        // First sent, then (the worker died before recording it) taken again, stamped.
        let first = vec![job(7, "a.png", 1), job(8, "b.png", 1)];
        worker(first.clone(), 1).run_once().await.expect("ran");
        let again = first
            .into_iter()
            .map(|j| OutboxJob {
                batch: Some("outbox-7-2".into()),
                attempts: 2,
                ..j
            })
            .collect();
        worker(again, 0).run_once().await.expect("ran");
        // A newer job claimed alongside goes in a batch of its own.
        let mixed = vec![
            OutboxJob {
                batch: Some("outbox-7-2".into()),
                ..job(7, "a.png", 3)
            },
            OutboxJob {
                batch: Some("outbox-7-2".into()),
                ..job(8, "b.png", 3)
            },
            job(9, "c.png", 1),
        ];
        worker(mixed, 1).run_once().await.expect("ran");
        let sent = sent.lock().expect("lock");
        assert_eq!(sent.len(), 4);
        assert_eq!(
            sent[0], sent[1],
            "the same request: CloudFront keeps the first"
        );
        assert!(sent[2..].contains(&sent[0]));
        assert!(sent[2..].iter().any(|r| r.starts_with("outbox-9-1-")));
    }

    #[tokio::test]
    async fn a_cdn_outage_is_retried_with_backoff_then_given_up() {
        let mut outbox = MockOutbox::new();
        outbox
            .expect_claim()
            .returning(|_, _, _, _| Ok(vec![job(1, "a.png", 3), job(2, "b.png", MAX_ATTEMPTS)]));
        outbox
            .expect_retry()
            .withf(|id, _, at| *id == 1 && *at == NOW + Duration::seconds(8))
            .times(1)
            .returning(|_, _, _| Ok(()));
        outbox
            .expect_fail()
            .withf(|id, e, _| *id == 2 && e.contains("unavailable"))
            .times(1)
            .returning(|_, _, _| Ok(()));
        outbox.expect_stamp().returning(|_, _| Ok(()));
        outbox.expect_complete().never();
        let mut inv = MockInvalidator::new();
        inv.expect_invalidate()
            .returning(|_, _| Err(StorageError::Unavailable("down".into())));
        let w = Invalidations::new(Arc::new(outbox), Arc::new(inv), clock());
        assert_eq!(w.run_once().await.expect("ran"), 0);
    }

    #[tokio::test]
    async fn nothing_due_sends_nothing() {
        let mut outbox = MockOutbox::new();
        outbox.expect_claim().returning(|_, _, _, _| Ok(vec![]));
        let mut inv = MockInvalidator::new();
        inv.expect_invalidate().never();
        let w = Invalidations::new(Arc::new(outbox), Arc::new(inv), clock());
        assert_eq!(w.run_once().await.expect("ran"), 0);
    }
}
