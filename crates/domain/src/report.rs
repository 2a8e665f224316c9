//! Reports: a user reports a product, a chat room or another user; staff moderate. The
//! reporting service arrives with the report routes; this module holds the shared types.

use std::fmt;

use time::OffsetDateTime;

use crate::account::AccountId;
use crate::error::ParseError;
use crate::storage::ObjectKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ReportId(i64);

impl ReportId {
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ReportCategoryId(i64);

impl ReportCategoryId {
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

/// A reason to report, with labels in Korean and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportCategory {
    pub id: ReportCategoryId,
    pub code: String,
    pub label_ko: String,
    pub label_en: String,
}

/// What is reported: exactly one of a product, a chat room or a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportTarget {
    Product(i64),
    ChatRoom(i64),
    User(AccountId),
}

impl ReportTarget {
    /// Builds the target from seed 002's three optional fields; exactly one must be given.
    pub fn from_fields(
        product: Option<i64>,
        room: Option<i64>,
        user: Option<i64>,
    ) -> Result<Self, ParseError> {
        let positive = |id: i64, field: &'static str| {
            if id > 0 {
                Ok(id)
            } else {
                Err(ParseError::new(field, "must be a positive id"))
            }
        };
        match (product, room, user) {
            (Some(p), None, None) => Ok(Self::Product(positive(p, "report_product_id")?)),
            (None, Some(r), None) => Ok(Self::ChatRoom(positive(r, "report_room_id")?)),
            (None, None, Some(u)) => Ok(Self::User(AccountId::new(positive(u, "report_user_id")?))),
            _ => Err(ParseError::new(
                "target",
                "exactly one of report_product_id, report_room_id, report_user_id is required",
            )),
        }
    }

    pub const fn kind(self) -> &'static str {
        match self {
            Self::Product(_) => "product",
            Self::ChatRoom(_) => "chat_room",
            Self::User(_) => "user",
        }
    }

    pub const fn id(self) -> i64 {
        match self {
            Self::Product(id) | Self::ChatRoom(id) => id,
            Self::User(id) => id.get(),
        }
    }
}

/// Why the reporter reports: 1 to 1000 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportReason(String);

impl ReportReason {
    pub const MAX: usize = 1000;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ParseError::new("report_etc_reason", "must not be empty"));
        }
        if s.chars().count() > Self::MAX {
            return Err(ParseError::new(
                "report_etc_reason",
                format!("must be at most {} characters", Self::MAX),
            ));
        }
        if s.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(ParseError::new(
                "report_etc_reason",
                "must not contain control characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a report is in moderation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportStatus {
    Open,
    Resolved,
    Dismissed,
}

impl ReportStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Dismissed => "dismissed",
        }
    }
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A report as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub id: ReportId,
    pub reporter: AccountId,
    pub category: ReportCategoryId,
    pub target: ReportTarget,
    pub reason: ReportReason,
    pub evidence: Vec<ObjectKey>,
    pub status: ReportStatus,
    pub assignee: Option<AccountId>,
    pub resolution_note: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_target() {
        assert_eq!(
            ReportTarget::from_fields(Some(3), None, None).ok(),
            Some(ReportTarget::Product(3))
        );
        assert_eq!(
            ReportTarget::from_fields(None, Some(7), None).ok(),
            Some(ReportTarget::ChatRoom(7))
        );
        assert!(ReportTarget::from_fields(None, None, None).is_err());
        assert!(ReportTarget::from_fields(Some(1), Some(2), None).is_err());
        assert!(ReportTarget::from_fields(Some(0), None, None).is_err());
    }

    #[test]
    fn reasons_are_bounded_and_not_blank() {
        assert!(ReportReason::parse("  ").is_err());
        assert!(ReportReason::parse(&"가".repeat(1001)).is_err());
        assert_eq!(
            ReportReason::parse(" 욕설 ")
                .map(|r| r.as_str().to_owned())
                .ok(),
            Some("욕설".into())
        );
    }
}
