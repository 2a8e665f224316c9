//! Images: what was uploaded, by whom, for which purpose, and where it is in its lifecycle;
//! the image repository and CDN ports. The service that issues, confirms and removes
//! images is [`crate::services::Images`].

use crate::account::AccountId;
use crate::error::RepositoryError;
use crate::image::values::Channel;
use crate::image::values::ImageId;
use crate::image::values::ImageStatus;
use crate::image::values::ImageType;
use crate::storage::ObjectKey;
use time::OffsetDateTime;

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
    /// Free-form client metadata (the upload pipeline API), bounded at the edge.
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

/// A pending upload to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewImage {
    pub key: ObjectKey,
    pub channel: Channel,
    pub uploader: AccountId,
    /// The declared type; `None`: any accepted type, decided from the bytes at confirmation
    /// (the files/avatars API's routes, which declare none).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::values::staging_key;
    use time::Duration;

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
