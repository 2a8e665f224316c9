//! Reports: a user reports a product, a chat room or another user; staff moderate. The
//! types every layer shares and the report repository port; the service that files and
//! moderates reports is [`crate::services::reports::Reports`].

use crate::account::{AccountId, Suspension};
use crate::audit::NewAuditEntry;
use crate::error::{ParseError, RepositoryError};
use crate::report::values::EvidenceKeys;
use crate::report::values::ReportAction;
use crate::report::values::ReportCategoryId;
use crate::report::values::ReportId;
use crate::report::values::ReportReason;
use crate::report::values::ReportStatus;
use crate::report::values::ReportTarget;
use crate::report::values::TargetType;
use crate::storage::ObjectKey;
use time::OffsetDateTime;

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

/// A report as the reporter files it, checked: what [`crate::services::reports::Reports::submit`]
/// takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSubmission {
    pub category: ReportCategoryId,
    pub target: ReportTarget,
    pub reason: ReportReason,
    pub evidence: EvidenceKeys,
}

/// What resolving a report did about its target. A user is suspended here (for the
/// report's sake, [`crate::Suspension::report`]); products and chat rooms live in other
/// services, which are told of the decision and carry it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// A user target: suspended until then (indefinitely without one).
    SuspendTarget { until: Option<OffsetDateTime> },
    /// A product or chat room: taken down by its service.
    RemoveContent,
    /// The target's owner is warned.
    Warn,
    /// Nothing is done about the target.
    None,
}

impl Decision {
    pub const fn kind(self) -> &'static str {
        match self {
            Self::SuspendTarget { .. } => "suspend_target",
            Self::RemoveContent => "remove_content",
            Self::Warn => "warn",
            Self::None => "none",
        }
    }

    /// Whether the decision can be taken about `target`: a suspension only about a user,
    /// a removal only about a product or a chat room.
    pub const fn applies_to(self, target: ReportTarget) -> bool {
        match self {
            Self::SuspendTarget { .. } => matches!(target, ReportTarget::User(_)),
            Self::RemoveContent => !matches!(target, ReportTarget::User(_)),
            Self::Warn | Self::None => true,
        }
    }

    /// The stored form: the kind, and a suspension's end after a colon
    /// (`suspend_target:2026-12-09T00:00:00Z`).
    pub fn to_stored(self) -> String {
        use time::format_description::well_known::Rfc3339;
        match self {
            Self::SuspendTarget { until: Some(t) } => {
                format!("{}:{}", self.kind(), t.format(&Rfc3339).unwrap_or_default())
            }
            other => other.kind().to_owned(),
        }
    }

    /// # Errors
    /// Not a stored form.
    pub fn from_stored(s: &str) -> Result<Self, ParseError> {
        use time::format_description::well_known::Rfc3339;
        let bad = || ParseError::new("decision", "is not a stored decision");
        let (kind, until) = s.split_once(':').map_or((s, None), |(k, u)| (k, Some(u)));
        match (kind, until) {
            ("suspend_target", until) => Ok(Self::SuspendTarget {
                until: until
                    .map(|u| OffsetDateTime::parse(u, &Rfc3339))
                    .transpose()
                    .map_err(|_| bad())?,
            }),
            ("remove_content", None) => Ok(Self::RemoveContent),
            ("warn", None) => Ok(Self::Warn),
            ("none", None) => Ok(Self::None),
            _ => Err(bad()),
        }
    }
}

/// One entry of a report's audit trail: who did what, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportEvent {
    pub actor: AccountId,
    pub action: ReportAction,
    pub from_status: Option<ReportStatus>,
    pub to_status: ReportStatus,
    pub note: Option<String>,
    /// What a resolution did about the target.
    pub decision: Option<Decision>,
    pub at: OffsetDateTime,
}

/// A report to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub reporter: AccountId,
    pub category: ReportCategoryId,
    pub target: ReportTarget,
    pub reason: ReportReason,
    pub evidence: Vec<ObjectKey>,
    pub created_at: OffsetDateTime,
}

/// A change a moderator makes, with its history entry and its audit-log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportChange {
    pub status: ReportStatus,
    pub assignee: Option<AccountId>,
    pub resolution_note: Option<String>,
    pub event: ReportEvent,
    pub audit: NewAuditEntry,
    /// A decision that suspends the reported user: applied with the change.
    pub suspend: Option<TargetSuspension>,
}

/// The suspension a report's decision sets on its target, with its own audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSuspension {
    pub account: AccountId,
    pub suspension: Suspension,
    pub audit: NewAuditEntry,
}

/// Which reports to list; unset fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    pub status: Option<ReportStatus>,
    pub target_type: Option<TargetType>,
    pub target_id: Option<i64>,
    pub category: Option<ReportCategoryId>,
    pub reporter: Option<AccountId>,
}

/// Failures of `ReportRepository::create`.
#[derive(Debug, thiserror::Error)]
pub enum CreateReportError {
    /// The reporter already has an open report of this target.
    #[error("an open report of this target by this reporter exists")]
    DuplicateOpen,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::Page;

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
    fn both_forms_of_report_img_path_parse() {
        let keys = |v: serde_json::Value| {
            EvidenceKeys::parse(Some(&v))
                .map(|e| e.keys().iter().map(ToString::to_string).collect::<Vec<_>>())
        };
        // The chat API's example, missing comma and all.
        assert_eq!(
            keys(serde_json::json!("[1.jpg, 2.jpg, 3.jpg, 4.jpg 5.jpg]")).expect("legacy"),
            vec!["1.jpg", "2.jpg", "3.jpg", "4.jpg", "5.jpg"]
        );
        assert_eq!(
            keys(serde_json::json!([
                "report/2026/01/01/1/a.png",
                "report/2026/01/01/1/b.png"
            ]))
            .expect("array"),
            vec!["report/2026/01/01/1/a.png", "report/2026/01/01/1/b.png"]
        );
        assert_eq!(
            keys(serde_json::json!("[]")).expect("empty"),
            Vec::<String>::new()
        );
        assert_eq!(EvidenceKeys::parse(None).expect("absent").keys().len(), 0);
        assert!(
            keys(serde_json::json!(
                (0..11).map(|i| format!("{i}.jpg")).collect::<Vec<_>>()
            ))
            .is_err()
        );
        assert!(keys(serde_json::json!("[../etc/passwd]")).is_err());
        assert!(keys(serde_json::json!([1, 2])).is_err());
        assert!(keys(serde_json::json!({"a": 1})).is_err());
        assert_eq!(
            keys(serde_json::json!("[a.jpg, a.jpg]"))
                .expect("dedup")
                .len(),
            1
        );
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(
            Page::parse(None, None).ok(),
            Some(Page {
                number: 0,
                size: 20
            })
        );
        assert!(Page::parse(Some(1), Some(0)).is_err());
        assert!(Page::parse(Some(1), Some(101)).is_err());
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
