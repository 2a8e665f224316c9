//! Time as a port, so that expiry rules can be tested at any instant.

use crate::ports::Clock;
use time::OffsetDateTime;

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
