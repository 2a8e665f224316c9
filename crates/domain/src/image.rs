//! Images: what was uploaded, by whom, for which purpose, and where it is in its lifecycle;
//! the image repository and CDN ports. The service that issues, confirms and removes
//! images is [`crate::services::Images`].

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::account::AccountId;
use crate::error::{ParseError, RepositoryError};
use crate::storage::{KeyPrefix, ObjectKey, StorageError};

/// An image record's numeric id (seed 000's `avatarId` / `fileId`).
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

/// What an image is for (seed 003's channels, seed 004's purposes, seed 000's and 002's
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

    /// How long a ready image of this channel is kept (seed 004): chat 7 days, scan 30 days,
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

    /// Resolves a type from a filename's extension (seed 003's `application/octet-stream`).
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

/// An image record.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// The client's filename, kept for display only: never used as a key.
    pub original_filename: Option<String>,
    /// Base64 SHA-256 the client declared, bound into the presigned PUT.
    pub checksum_sha256: Option<String>,
    pub id: ImageId,
    pub key: ObjectKey,
    pub channel: Channel,
    pub status: ImageStatus,
    pub uploader: AccountId,
    /// The declared type until confirmation, the bytes' type after; `None` while an upload
    /// that declared none is pending.
    pub content_type: Option<ImageType>,
    /// What the client said it would upload, when it said.
    pub declared_length: Option<u64>,
    /// What the store holds, once confirmed.
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Free-form client metadata (seed 003), bounded at the edge.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub created_at: OffsetDateTime,
    pub confirmed_at: Option<OffsetDateTime>,
    /// Pending: when the upload URL lapses. Ready: when retention ends, if it does.
    pub expires_at: Option<OffsetDateTime>,
    /// Read only through signed URLs (its channel was private when it was confirmed).
    pub private: bool,
    /// Its variants, once confirmed: every object besides the image's own that is part of
    /// it. Named here before they are stored, so none can outlive the record.
    pub variants: Vec<Variant>,
    /// The BlurHash of the image, once confirmed.
    pub blurhash: Option<String>,
}

/// A variant of an image, stored beside it ([`crate::processing::variant_key`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Variant {
    pub name: String,
    pub key: ObjectKey,
    pub width: u32,
    pub height: u32,
    pub content_type: ImageType,
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

/// A pending upload to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewImage {
    pub key: ObjectKey,
    pub channel: Channel,
    pub uploader: AccountId,
    /// The declared type; `None`: any accepted type, decided from the bytes at confirmation
    /// (seed 000's routes, which declare none).
    pub content_type: Option<ImageType>,
    pub declared_length: Option<u64>,
    pub checksum_sha256: Option<String>,
    pub original_filename: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub created_at: OffsetDateTime,
    /// When the pending upload lapses.
    pub expires_at: OffsetDateTime,
    /// Read only through signed URLs, from the moment it is issued (its channel's
    /// setting then).
    pub private: bool,
}

/// What confirmation learned from the stored bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyImage {
    /// The type the bytes are (what the object is stored and served as).
    pub content_type: ImageType,
    pub size: u64,
    pub etag: String,
    pub width: u32,
    pub height: u32,
    pub confirmed_at: OffsetDateTime,
    /// When retention ends, for channels that have one.
    pub expires_at: Option<OffsetDateTime>,
    /// Whether its channel is private now: it is read only through signed URLs.
    pub private: bool,
    /// Its variants, stored before the image is marked ready.
    pub variants: Vec<Variant>,
    pub blurhash: String,
    /// The bytes its variants take in the store (the quota counts them with `size`).
    pub variant_bytes: u64,
}

/// Which images to list; unset fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFilter {
    pub uploader: Option<AccountId>,
    pub channel: Option<Channel>,
    pub status: Option<ImageStatus>,
    /// `expires_at` at or before this instant.
    pub expired_at: Option<OffsetDateTime>,
}

/// Per-account upload limits, counted in the database so that every replica sees the
/// same count. `None` lifts a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Pending uploads (issued, not yet confirmed, expired or rejected) at once.
    pub pending: Option<u64>,
    /// Uploads issued in the last hour.
    pub per_hour: Option<u64>,
    /// Bytes the account's images take: ready ones with their variants, pending ones at
    /// their declared length (or `undeclared` when they declared none), and the new one
    /// likewise.
    pub stored_bytes: Option<u64>,
    /// What a pending upload that declared no length counts for: the largest object
    /// accepted.
    pub undeclared: u64,
}

impl UploadLimits {
    /// Every limit lifted.
    pub const NONE: Self = Self {
        pending: None,
        per_hour: None,
        stored_bytes: None,
        undeclared: 0,
    };
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            pending: Some(20),
            per_hour: Some(300),
            stored_bytes: Some(2 << 30),
            undeclared: 10 * 1024 * 1024,
        }
    }
}

/// The limit an upload would pass, with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadLimit {
    Pending(u64),
    PerHour(u64),
    /// The quota in bytes; `declared`: the upload's declared length is what passes it
    /// (the account is not yet full).
    Quota {
        bytes: u64,
        declared: bool,
    },
}

/// Failures of [`ImageRepository::insert_within`].
#[derive(Debug, thiserror::Error)]
pub enum InsertImageError {
    #[error("upload limit reached: {0:?}")]
    Limit(UploadLimit),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Where image records are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ImageRepository: Send + Sync {
    /// Stores a pending upload.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure (a duplicate key is `Unexpected`: keys
    /// are random).
    async fn insert(&self, new: NewImage) -> Result<Image, RepositoryError>;

    /// Stores a pending upload unless its uploader is at one of `limits`: pending uploads
    /// at once, uploads issued in the hour before `new.created_at`, bytes of ready images
    /// plus `new.declared_length`. The count and the insert are one step for each account
    /// (concurrent calls for one account, on any replica, are taken one at a time).
    ///
    /// # Errors
    /// `Limit` with the limit passed (nothing is stored); `Repository` on infrastructure
    /// failure.
    async fn insert_within(
        &self,
        new: NewImage,
        limits: UploadLimits,
    ) -> Result<Image, InsertImageError>;

    /// The record of `key`, in any status.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn find_by_key(&self, key: &ObjectKey) -> Result<Option<Image>, RepositoryError>;

    /// Marks a pending image ready with what was verified, writing `enqueue` (its
    /// `image.ready` events) in the same transaction, and returns the record as updated;
    /// `None`, and nothing written, when it was not pending (another confirmation won, or
    /// it expired).
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn mark_ready(
        &self,
        id: ImageId,
        ready: ReadyImage,
        enqueue: Vec<crate::report::Enqueue>,
    ) -> Result<Option<Image>, RepositoryError>;

    /// Names the variants a pending image is about to store, before they are stored, so
    /// that removing the record removes them whatever happens next; `false`, and nothing
    /// written, when it is not pending.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn name_variants(
        &self,
        id: ImageId,
        variants: Vec<Variant>,
    ) -> Result<bool, RepositoryError>;

    /// Moves an image from `from` to `to` at `at`; `false` when it was not in `from`.
    /// Concurrent callers (replicas, sweeps) make each transition happen once.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn transition(
        &self,
        id: ImageId,
        from: ImageStatus,
        to: ImageStatus,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError>;

    /// Moves an image from `from` to `Deleted` at `at`, with `audit` (an image deleted by
    /// someone other than its uploader) and `enqueue` (its `image.deleted` events) written
    /// in the same transaction; `false`, and nothing written, when it was not in `from`.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn mark_deleted(
        &self,
        id: ImageId,
        from: ImageStatus,
        at: OffsetDateTime,
        audit: Option<crate::audit::NewAuditEntry>,
        enqueue: Vec<crate::report::Enqueue>,
    ) -> Result<bool, RepositoryError>;

    /// Up to `limit` images matching `filter`, oldest first.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn list(&self, filter: ImageFilter, limit: u64) -> Result<Vec<Image>, RepositoryError>;

    /// Up to `limit` images that stopped being live (deleted, expired or rejected) whose
    /// objects are not yet known to be gone from the store, oldest first: the only objects
    /// the sweeper deletes besides staged leftovers of records.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn awaiting_removal(&self, limit: u64) -> Result<Vec<Image>, RepositoryError>;

    /// Records that the objects of `id` (its staged and its final key) are gone from the
    /// store; `false` when the image is live (pending or ready), unknown, or was already
    /// recorded.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure.
    async fn mark_objects_removed(
        &self,
        id: ImageId,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError>;
}

/// Signs URLs that read one object until a time and not after: the local store's HMAC,
/// S3's presigned GET, CloudFront's signed URLs.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ReadSigner: Send + Sync {
    /// A URL that reads `key` until `expires_at`.
    ///
    /// # Errors
    /// `Unavailable`, `Other` when it cannot be signed.
    async fn signed_url(
        &self,
        key: &ObjectKey,
        expires_at: OffsetDateTime,
    ) -> Result<String, StorageError>;
}

/// The content delivery network in front of the store.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Cdn: Send + Sync {
    /// The public URL of `key` (`CDN_BASE_URL/key`).
    fn public_url(&self, key: &ObjectKey) -> String;

    /// Asks the CDN to forget cached copies of `keys` (deleted or replaced objects).
    ///
    /// # Errors
    /// `Unavailable` when the CDN cannot be reached; callers retry through the outbox.
    async fn invalidate(&self, keys: Vec<ObjectKey>) -> Result<(), StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_contract() {
        let at = time::macros::datetime!(2026-03-04 05:06 UTC);
        let k = Channel::Chat.new_key(AccountId::new(42), at, "AbC_d-1", Some(ImageType::Png));
        assert_eq!(k.as_str(), "chat/2026/03/04/42/AbC_d-1.png");
        let k = Channel::Profile.new_key(AccountId::new(7), at, "r", Some(ImageType::Jpeg));
        assert_eq!(k.as_str(), "profiles/7/r.jpg");
        assert_eq!(staging_key(&k).as_str(), "uploads/profiles/7/r.jpg");
        let k = Channel::Profile.new_key(AccountId::new(7), at, "r", None);
        assert_eq!(k.as_str(), "profiles/7/r", "no type yet: no extension");
        for c in Channel::ALL {
            assert!(
                c.new_key(AccountId::new(1), at, "x", Some(ImageType::Gif))
                    .as_str()
                    .starts_with(c.prefix())
            );
        }
    }

    #[test]
    fn channels_round_trip_and_unknown_ones_fail() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().ok(), Some(c));
        }
        assert!("scans".parse::<Channel>().is_err());
        assert!("CHAT".parse::<Channel>().is_err());
    }

    #[test]
    fn retention_follows_seed_004() {
        assert_eq!(Channel::Chat.retention(), Some(Duration::days(7)));
        assert_eq!(Channel::Scan.retention(), Some(Duration::days(30)));
        assert_eq!(Channel::Profile.retention(), None);
        assert_eq!(Channel::Report.retention(), None);
    }

    #[test]
    fn only_raster_types_are_accepted() {
        assert_eq!(
            ImageType::from_mime("image/png; charset=x").ok(),
            Some(ImageType::Png)
        );
        assert_eq!(
            ImageType::from_mime("IMAGE/JPEG").ok(),
            Some(ImageType::Jpeg)
        );
        for bad in ["image/svg+xml", "text/html", "application/octet-stream", ""] {
            assert!(ImageType::from_mime(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ImageType::from_extension("JPEG").ok(),
            Some(ImageType::Jpeg)
        );
        assert!(ImageType::from_extension("svg").is_err());
    }
}
