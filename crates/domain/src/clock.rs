//! Time as a port, so that expiry rules can be tested at any instant.

use time::OffsetDateTime;

/// Where the services get "now" from.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant in UTC, truncated to microseconds (what every database we store
    /// into keeps), so that a value read back equals the value written.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// Drops sub-microsecond precision, which PostgreSQL cannot store.
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000)
        .unwrap_or(t)
        .to_offset(time::UtcOffset::UTC)
}
