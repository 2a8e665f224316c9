//! The time.

use time::OffsetDateTime;

/// Where the services get "now" from.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant in UTC, truncated to microseconds (what every database we store
    /// into keeps), so that a value read back equals the value written.
    fn now(&self) -> OffsetDateTime;
}
