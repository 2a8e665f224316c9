//! A page of a list.

use crate::error::ParseError;

/// A page of a list, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Zero-based.
    pub number: u64,
    pub size: u64,
}

impl Page {
    pub const MAX_SIZE: u64 = 100;

    /// Parses `page` and `size` (default 0 and 20; size 1 to 100).
    ///
    /// # Errors
    /// A size of 0 or above 100, or a page past any sensible end.
    pub fn parse(page: Option<u64>, size: Option<u64>) -> Result<Self, ParseError> {
        let size = size.unwrap_or(20);
        if !(1..=Self::MAX_SIZE).contains(&size) {
            return Err(ParseError::new("size", "must be 1 to 100"));
        }
        let number = page.unwrap_or(0);
        if number > 1_000_000 {
            return Err(ParseError::new("page", "is too large"));
        }
        Ok(Self { number, size })
    }
}
