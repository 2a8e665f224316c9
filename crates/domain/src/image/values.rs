//! An image's value types: id, channel, status, type, and the staging keys.

use crate::account::AccountId;
use crate::error::ParseError;
use crate::storage::{KeyPrefix, ObjectKey};
use std::fmt;
use std::str::FromStr;
use time::{Duration, OffsetDateTime};

/// An image record's numeric id (the files/avatars API's `avatarId` / `fileId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ImageId(i64);

impl ImageId {
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

/// What an image is for (the upload pipeline API's channels, the images domain API's purposes, the files/avatars API's and 002's
/// uses). It decides the key layout and the retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    Chat,
    Scan,
    My,
    Profile,
    Post,
    Report,
}

impl Channel {
    pub const ALL: [Self; 6] = [
        Self::Chat,
        Self::Scan,
        Self::My,
        Self::Profile,
        Self::Post,
        Self::Report,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Scan => "scan",
            Self::My => "my",
            Self::Profile => "profile",
            Self::Post => "post",
            Self::Report => "report",
        }
    }

    /// How long a ready image of this channel is kept (the images domain API): chat 7 days, scan 30 days,
    /// the others until deleted.
    pub const fn retention(self) -> Option<Duration> {
        match self {
            Self::Chat => Some(Duration::days(7)),
            Self::Scan => Some(Duration::days(30)),
            Self::My | Self::Profile | Self::Post | Self::Report => None,
        }
    }
}

impl FromStr for Channel {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                ParseError::new(
                    "channel",
                    "must be one of chat, scan, my, profile, post, report",
                )
            })
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an image is in its lifecycle: `Pending` → `Ready` → `Deleted`, or `Pending` →
/// `Expired` / `Rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageStatus {
    Pending,
    Ready,
    Deleted,
    Expired,
    Rejected,
}

impl ImageStatus {
    /// The statuses of records that stopped being live: their objects must leave the store.
    pub const GONE: [Self; 3] = [Self::Deleted, Self::Expired, Self::Rejected];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Deleted => "deleted",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
        }
    }
}

impl FromStr for ImageStatus {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Pending,
            Self::Ready,
            Self::Deleted,
            Self::Expired,
            Self::Rejected,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| ParseError::new("status", "unknown image status"))
    }
}

/// The image types the service accepts. Never SVG or HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "&'static str", try_from = "&str")]
pub enum ImageType {
    Png,
    Jpeg,
    Webp,
    Gif,
}

impl ImageType {
    pub const fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
        }
    }

    /// The extension used in keys.
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
            Self::Gif => "gif",
        }
    }

    /// Parses a declared MIME type (parameters such as `; charset=` are ignored).
    pub fn from_mime(s: &str) -> Result<Self, ParseError> {
        let essence = s.split(';').next().unwrap_or_default().trim();
        match essence.to_ascii_lowercase().as_str() {
            "image/png" => Ok(Self::Png),
            "image/jpeg" | "image/jpg" => Ok(Self::Jpeg),
            "image/webp" => Ok(Self::Webp),
            "image/gif" => Ok(Self::Gif),
            _ => Err(ParseError::new(
                "content_type",
                "must be image/png, image/jpeg, image/webp or image/gif",
            )),
        }
    }

    /// Resolves a type from a filename's extension (the upload pipeline API's `application/octet-stream`).
    pub fn from_extension(ext: &str) -> Result<Self, ParseError> {
        match ext.to_ascii_lowercase().as_str() {
            "png" => Ok(Self::Png),
            "jpg" | "jpeg" => Ok(Self::Jpeg),
            "webp" => Ok(Self::Webp),
            "gif" => Ok(Self::Gif),
            _ => Err(ParseError::new(
                "filename",
                "must end in .png, .jpg, .jpeg, .webp or .gif",
            )),
        }
    }
}

impl From<ImageType> for &'static str {
    fn from(t: ImageType) -> Self {
        t.mime()
    }
}

impl TryFrom<&str> for ImageType {
    type Error = ParseError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::from_mime(s)
    }
}

impl Channel {
    /// Where this channel's final keys live (`chat/`, `profiles/`, …).
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Profile => "profiles/",
            Self::Chat => "chat/",
            Self::Scan => "scan/",
            Self::My => "my/",
            Self::Post => "post/",
            Self::Report => "report/",
        }
    }

    /// The final key of a new upload: `{channel}/{yyyy}/{mm}/{dd}/{uploader}/{random}.{ext}`,
    /// or `profiles/{uploader}/{random}.{ext}`. `random` is unguessable.
    pub fn new_key(
        self,
        uploader: AccountId,
        at: OffsetDateTime,
        random: &str,
        kind: Option<ImageType>,
    ) -> ObjectKey {
        // No extension when the type is not known yet: the key never claims another type
        // than the bytes turn out to be.
        let ext = kind.map_or(String::new(), |k| format!(".{}", k.extension()));
        let key = match self {
            Self::Profile => format!("profiles/{uploader}/{random}{ext}"),
            other => format!(
                "{}/{:04}/{:02}/{:02}/{uploader}/{random}{ext}",
                other.as_str(),
                at.year(),
                u8::from(at.month()),
                at.day(),
            ),
        };
        // Every part is ours and valid by construction.
        ObjectKey::parse(&key).unwrap_or_else(|_| unreachable!("generated key {key:?} is valid"))
    }
}

/// Where uploads land before confirmation: clients never write a final key.
pub fn staging_prefix() -> KeyPrefix {
    KeyPrefix::parse("uploads/").unwrap_or_default()
}

/// The staging key of a final key (`uploads/{key}`).
pub fn staging_key(key: &ObjectKey) -> ObjectKey {
    key.under(&staging_prefix()).unwrap_or_else(|_| key.clone())
}
