//! A report's value types: ids, targets, reasons, statuses, actions.

use crate::account::AccountId;
use crate::error::ParseError;
use crate::storage::ObjectKey;
use std::fmt;
use std::str::FromStr;

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
    /// Builds the target from the chat API's three optional fields; exactly one must be given.
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

/// A report's evidence: up to ten image keys, from the chat API's `report_img_path`, which is
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
