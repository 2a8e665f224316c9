//! Conversions between stored columns and domain values.

use domain::RepositoryError;
use time::OffsetDateTime;

/// An instant as stored: microseconds since the Unix epoch.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    // i64 microseconds cover ±292,000 years; the cast cannot truncate for real instants.
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// An instant read back.
pub(crate) fn instant(us: i64) -> Result<OffsetDateTime, RepositoryError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000).map_err(corrupt)
}

/// A stored value that does not parse as its domain type: a bug or a hand-edited row.
/// Reported as `Unexpected` instead of being passed on.
pub(crate) fn corrupt(e: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::Unexpected(format!("corrupt row: {e}").into())
}
