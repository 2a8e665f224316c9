//! Reports: a user reports a product, a chat room or another user; staff moderate. The
//! types every layer shares and the report repository port; the service that files and
//! moderates reports is [`crate::services::reports::Reports`].

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{AccountId, Suspension};
use crate::audit::NewAuditEntry;
use crate::error::{ParseError, RepositoryError};
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
        self.target_type().as_str()
    }

    pub const fn target_type(self) -> TargetType {
        match self {
            Self::Product(_) => TargetType::Product,
            Self::ChatRoom(_) => TargetType::ChatRoom,
            Self::User(_) => TargetType::User,
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

/// A report's evidence: up to ten image keys, from seed 002's `report_img_path`, which is
/// either a JSON array of keys or the legacy string `"[1.jpg, 2.jpg]"` (commas or spaces
/// between names, brackets optional).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EvidenceKeys(Vec<ObjectKey>);

impl EvidenceKeys {
    pub const MAX: usize = 10;

    /// Parses `report_img_path`; `null` or absent is no evidence.
    ///
    /// # Errors
    /// Not an array or string, more than ten keys, or a key that is not a valid key.
    pub fn parse(v: Option<&serde_json::Value>) -> Result<Self, ParseError> {
        let bad = |why: &str| ParseError::new("report_img_path", why.to_owned());
        let names: Vec<String> = match v {
            None | Some(serde_json::Value::Null) => return Ok(Self::default()),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad("must be a list of image keys"))
                })
                .collect::<Result<_, _>>()?,
            Some(serde_json::Value::String(s)) => {
                let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
                inner
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .map(|p| p.trim().trim_matches(|c| c == '"' || c == '\''))
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            Some(_) => {
                return Err(bad(
                    "must be a list of image keys or a string like \"[a.jpg, b.jpg]\"",
                ));
            }
        };
        if names.len() > Self::MAX {
            return Err(bad("at most 10 images"));
        }
        let mut keys: Vec<ObjectKey> = Vec::with_capacity(names.len());
        for n in &names {
            let key =
                ObjectKey::parse(n).map_err(|_| bad("holds something that is not an image key"))?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(Self(keys))
    }

    pub fn keys(&self) -> &[ObjectKey] {
        &self.0
    }

    pub fn into_keys(self) -> Vec<ObjectKey> {
        self.0
    }
}

impl FromStr for ReportStatus {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(Self::Open),
            "resolved" => Ok(Self::Resolved),
            "dismissed" => Ok(Self::Dismissed),
            _ => Err(ParseError::new(
                "status",
                "must be open, resolved or dismissed",
            )),
        }
    }
}

impl ReportTarget {
    /// Rebuilds a target from its stored kind and id.
    pub fn from_kind(kind: &str, id: i64) -> Result<Self, ParseError> {
        Ok(match kind.parse::<TargetType>()? {
            TargetType::Product => Self::Product(id),
            TargetType::ChatRoom => Self::ChatRoom(id),
            TargetType::User => Self::User(AccountId::new(id)),
        })
    }
}

/// What kind of thing a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetType {
    Product,
    ChatRoom,
    User,
}

impl TargetType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Product => "product",
            Self::ChatRoom => "chat_room",
            Self::User => "user",
        }
    }
}

impl FromStr for TargetType {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "product" => Ok(Self::Product),
            "chat_room" => Ok(Self::ChatRoom),
            "user" => Ok(Self::User),
            _ => Err(ParseError::new(
                "target_type",
                "must be product, chat_room or user",
            )),
        }
    }
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

/// What happened to a report, as its history records it: filed, or a moderator's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportAction {
    Create,
    Moderation(ModerationAction),
}

impl ReportAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Moderation(m) => m.as_str(),
        }
    }
}

impl From<ModerationAction> for ReportAction {
    fn from(m: ModerationAction) -> Self {
        Self::Moderation(m)
    }
}

impl FromStr for ReportAction {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "create" => Ok(Self::Create),
            other => other.parse().map(Self::Moderation),
        }
    }
}

/// What a moderator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModerationAction {
    Resolve,
    Dismiss,
    Assign,
    Reopen,
}

impl ModerationAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Resolve => "resolve",
            Self::Dismiss => "dismiss",
            Self::Assign => "assign",
            Self::Reopen => "reopen",
        }
    }

    /// The past participle, for messages ("a report that is resolved cannot be dismissed").
    pub const fn past(self) -> &'static str {
        match self {
            Self::Resolve => "resolved",
            Self::Dismiss => "dismissed",
            Self::Assign => "assigned",
            Self::Reopen => "reopened",
        }
    }
}

impl FromStr for ModerationAction {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "resolve" => Ok(Self::Resolve),
            "dismiss" => Ok(Self::Dismiss),
            "assign" => Ok(Self::Assign),
            "reopen" => Ok(Self::Reopen),
            _ => Err(ParseError::new(
                "action",
                "must be resolve, dismiss, assign or reopen",
            )),
        }
    }
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

/// A side effect to enqueue in the same transaction as a report write.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueue {
    pub topic: &'static str,
    pub payload: serde_json::Value,
    /// The account the job concerns, if any: its notices are part of its data export.
    pub about: Option<AccountId>,
}

impl Enqueue {
    /// The job for the report `report` once it has its id: the payload (an event's data)
    /// names it as `report_id` (the repository calls this inside the report's
    /// transaction).
    #[must_use]
    pub fn for_report(mut self, report: i64) -> Self {
        // An event carries it in its data; a notice at its top level.
        let target = if self.topic == crate::events::TOPIC {
            self.payload.get_mut("data")
        } else {
            Some(&mut self.payload)
        };
        if let Some(obj) = target.and_then(serde_json::Value::as_object_mut) {
            obj.insert("report_id".into(), serde_json::json!(report));
        }
        self
    }
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

/// Failures of `ReportRepository::create`.
#[derive(Debug, thiserror::Error)]
pub enum CreateReportError {
    /// The reporter already has an open report of this target.
    #[error("an open report of this target by this reporter exists")]
    DuplicateOpen,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Where reports, their categories and their audit trails are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ReportRepository: Send + Sync {
    /// Every category, in display order.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn categories(&self) -> Result<Vec<ReportCategory>, RepositoryError>;

    /// Stores a report, its `create` history entry and `enqueue` (its notification) in one
    /// transaction: all or nothing.
    ///
    /// # Errors
    /// `DuplicateOpen` when the reporter has an open report of the target (nothing is
    /// written); `Repository` on infrastructure failure.
    async fn create(
        &self,
        new: NewReport,
        enqueue: Vec<Enqueue>,
    ) -> Result<Report, CreateReportError>;

    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn find(&self, id: ReportId) -> Result<Option<Report>, RepositoryError>;

    /// A page of reports matching `filter`, newest first, and how many match in all.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn list(
        &self,
        filter: ReportFilter,
        page: Page,
    ) -> Result<(Vec<Report>, u64), RepositoryError>;

    /// How many reports `reporter` filed at or after `since`, counting no further than
    /// `at_most` (a limit check needs no more, and its cost stays bounded by the limit
    /// however many reports the reporter has).
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn count_since(
        &self,
        reporter: AccountId,
        since: OffsetDateTime,
        at_most: u64,
    ) -> Result<u64, RepositoryError>;

    /// Applies `change` to report `id` if its status is still `expected`, in one
    /// transaction with its history entry, its audit-log entry, the suspension its decision
    /// sets (on a live account; a withdrawn one stays as it is) and `enqueue`. `None` when
    /// the report is gone or its status changed meanwhile: nothing is written.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn update(
        &self,
        id: ReportId,
        expected: ReportStatus,
        change: ReportChange,
        enqueue: Vec<Enqueue>,
    ) -> Result<Option<Report>, RepositoryError>;

    /// The report's audit trail, oldest first.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn events(&self, id: ReportId) -> Result<Vec<ReportEvent>, RepositoryError>;
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
    fn both_forms_of_report_img_path_parse() {
        let keys = |v: serde_json::Value| {
            EvidenceKeys::parse(Some(&v))
                .map(|e| e.keys().iter().map(ToString::to_string).collect::<Vec<_>>())
        };
        // Seed 002's example, missing comma and all.
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
