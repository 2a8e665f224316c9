//! Admission to image processing: how many confirmations decode at once, and how many may
//! wait for their turn. A confirmation takes its turn *before* it reads the whole object,
//! so a flood of callbacks holds a few kilobytes each while it waits, never the bytes; past
//! the queue, or after waiting too long, it is refused (`Busy`: 503 with `Retry-After`).
//!
//! Counted in this process, on purpose: what it bounds is this process's CPU and memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How much image processing a process takes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingLimits {
    /// Images decoded at once (each holds one image's bytes and pixels).
    pub concurrency: usize,
    /// Confirmations that may wait for a turn; more are refused at once.
    pub queue: usize,
    /// How long one may wait before it is refused.
    pub wait: Duration,
    /// The most pixel work one decode may take ([`crate::processing::DecodeCost::work`]:
    /// pixels × scans for a JPEG, canvas × frames for an animated WebP, every frame's
    /// pixels for a GIF), checked from the structure before decoding starts.
    pub decode_budget: u64,
    /// The most frames an animation may have.
    pub max_frames: u64,
    /// The most scans a JPEG may have (a progressive one has about ten).
    pub max_scans: u64,
    /// How long processing one image may take; past it the upload is rejected.
    pub deadline: Duration,
}

impl Default for ProcessingLimits {
    /// One image per core, 256 waiting, 30 seconds; 500 million pixels of work (ten
    /// times the default largest image), 1 000 frames, 100 scans, 20 seconds.
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            queue: 256,
            wait: Duration::from_secs(30),
            decode_budget: 500_000_000,
            max_frames: 1000,
            max_scans: 100,
            deadline: Duration::from_secs(20),
        }
    }
}

/// Turns, handed out fairly (first come, first served).
#[derive(Debug)]
pub(super) struct Admission {
    turns: Arc<Semaphore>,
    waiting: AtomicUsize,
    limits: ProcessingLimits,
}

/// Why no turn was given: the confirmation may be retried after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Busy {
    pub retry_after: Duration,
}

/// Counts a waiter for as long as it waits, however its wait ends (a client that goes
/// away drops it).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    pub(super) fn new(limits: ProcessingLimits) -> Self {
        Self {
            turns: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            limits,
        }
    }

    /// The limits turns are given under.
    pub(super) fn limits(&self) -> &ProcessingLimits {
        &self.limits
    }

    /// A turn to process one image, held until the permit is dropped (it may move into
    /// the task doing the work, so a turn ends when the work does).
    pub(super) async fn enter(&self) -> Result<OwnedSemaphorePermit, Busy> {
        let busy = Busy {
            // Long enough for the turns in hand to move on.
            retry_after: Duration::from_secs(2),
        };
        if let Ok(turn) = Arc::clone(&self.turns).try_acquire_owned() {
            return Ok(turn);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.limits.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(busy);
        }
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout(self.limits.wait, Arc::clone(&self.turns).acquire_owned()).await
        {
            Ok(Ok(turn)) => Ok(turn),
            _ => Err(busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn turns_queue_then_refuse() {
        let a = Admission::new(ProcessingLimits {
            concurrency: 1,
            queue: 1,
            wait: Duration::from_millis(50),
            ..ProcessingLimits::default()
        });
        let first = a.enter().await.expect("a free turn");
        // The second waits; the third finds the queue full.
        let (second, third) = tokio::join!(a.enter(), async {
            tokio::task::yield_now().await;
            let third = a.enter().await;
            drop(first);
            third
        });
        assert!(second.is_ok(), "the waiter gets the turn that was freed");
        assert_eq!(
            third.err().map(|b| b.retry_after),
            Some(Duration::from_secs(2))
        );
        // A waiter that waits too long is refused, and stops counting as waiting.
        let held = second.expect("turn");
        assert!(a.enter().await.is_err(), "timed out");
        assert_eq!(a.waiting.load(Ordering::Acquire), 0);
        drop(held);
        assert!(a.enter().await.is_ok());
    }
}
