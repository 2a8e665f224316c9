//! The outbox: side effects written in the same transaction as the change that causes
//! them ([`NewJob`]), delivered by workers with retries, so an outage of the receiving
//! service never fails the request that caused the work and never loses it. Every topic
//! is in [`topics`]; the port is [`crate::ports::Outbox`].

mod cdn;
mod job;
pub mod topics;

pub use cdn::QueuedCdn;
pub use job::{JobRecord, JobState, NewJob, OutboxJob, backoff};
