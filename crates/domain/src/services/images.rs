//! Images: one service behind every upload route family of the seeds.
//!
//! Lifecycle: `issue` writes a pending record and presigns a PUT to a **staging** key;
//! `confirm` verifies the staged object against the store itself (size, declared length,
//! ETag, magic bytes, dimensions, pixel area) and promotes it to the final key with a copy
//! conditioned on the verified ETag, so bytes swapped after verification never become
//! final, and a reused upload URL can never replace a ready image. Anything that fails
//! verification is rejected and its object deleted. `sweep` expires pending uploads,
//! applies retention and removes objects no record explains.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore as _;
use time::{Duration, OffsetDateTime};

use crate::account::{AccountId, AccountRepository, AccountUpdate};
use crate::cache::ReadCaches;
use crate::clock::Clock;
use crate::error::{ParseError, RepositoryError};
use crate::image::{
    Cdn, Channel, Image, ImageFilter, ImageRepository, ImageStatus, ImageType, InsertImageError,
    NewImage, ReadyImage, UploadLimit, UploadLimits, staging_key, staging_prefix,
};
use crate::login::Actor;
use crate::sniff::{
    SNIFF_LEN, TAIL_LEN, check_complete, check_jpeg_whole, has_frames, jpeg_needs_whole,
    largest_frame, sniff,
};
use crate::storage::{ByteStream, ObjectKey, ObjectStore, PutConditions, StorageError};

/// Limits and lifetimes of uploads.
#[derive(Debug, Clone)]
pub struct ImagePolicy {
    /// Largest object accepted, in bytes (seed 004: 10 MB).
    pub max_size: u64,
    /// How long a presigned URL works (seed 004: 5 minutes).
    pub presign_ttl: std::time::Duration,
    /// How long a pending upload waits for its bytes before it expires (seed 003: 900 s).
    pub pending_ttl: Duration,
    /// Largest width × height accepted: bounds decompression bombs.
    pub max_pixels: u64,
    /// Largest client metadata, as JSON bytes.
    pub metadata_max_bytes: usize,
    /// A staged object whose record no longer waits for it is removed once older than
    /// this.
    pub orphan_grace: Duration,
    /// Per-account limits on uploads, counted in the database.
    pub limits: UploadLimits,
}

impl Default for ImagePolicy {
    fn default() -> Self {
        Self {
            max_size: 10 * 1024 * 1024,
            presign_ttl: std::time::Duration::from_secs(300),
            pending_ttl: Duration::seconds(900),
            max_pixels: 50_000_000,
            metadata_max_bytes: 4096,
            orphan_grace: Duration::hours(1),
            limits: UploadLimits::default(),
        }
    }
}

/// A request for an upload URL, as the client sent it (seeds 000, 001, 003, 004).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadRequest {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub uploader_id: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub content_length: Option<u64>,
    /// Without a declared type (nor a filename to take one from), accept any accepted image
    /// type and decide it from the bytes at confirmation, instead of refusing the request:
    /// seed 000's routes, whose clients declare none.
    pub any_type: bool,
    /// `sha256:<base64 or hex>`.
    pub checksum: Option<String>,
}

/// An upload URL issued.
#[derive(Debug, Clone)]
pub struct IssuedUpload {
    pub image: Image,
    pub upload_url: String,
    pub required_headers: Vec<(String, String)>,
    pub expires_in: u64,
    pub cdn_url: String,
}

/// What a confirmation callback may assert (seed 003).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirmation {
    /// Empty is allowed: browsers often cannot read the ETag.
    pub etag: Option<String>,
    pub content_length: Option<u64>,
    pub checksum: Option<String>,
}

/// Why confirmation rejected an upload, coarsely: for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    TooLarge,
    LengthMismatch,
    EtagMismatch,
    ChecksumMismatch,
    NotAnImage,
    TypeMismatch,
    TooManyPixels,
    Changed,
}

impl RejectKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::LengthMismatch => "length_mismatch",
            Self::EtagMismatch => "etag_mismatch",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::NotAnImage => "not_an_image",
            Self::TypeMismatch => "type_mismatch",
            Self::TooManyPixels => "too_many_pixels",
            Self::Changed => "changed",
        }
    }
}

/// Hears what happens to uploads (for metrics); the default hears nothing.
pub trait ImageObserver: Send + Sync {
    fn issued(&self, _channel: Channel) {}
    fn confirmed(&self, _channel: Channel) {}
    fn rejected(&self, _kind: RejectKind) {}
}

struct Deaf;

impl ImageObserver for Deaf {}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Pending uploads past their TTL, now expired.
    pub expired: u64,
    /// Ready images past their channel's retention, now deleted.
    pub retention_deleted: u64,
    /// Records that stopped being live whose objects are now gone from the store.
    pub objects_removed: u64,
    /// Of those, removals that failed this pass: retried on the next.
    pub removals_failed: u64,
    /// Staged objects of records that no longer wait for them (bytes put again after a
    /// confirmation or a deletion), and staged uploads larger than the size limit.
    pub staged_removed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("invalid request")]
    Invalid(Vec<ParseError>),
    /// The declared type is not an accepted image type.
    #[error("unsupported content type: {0}")]
    UnsupportedContentType(String),
    /// `uploader_id` is not the caller (seed 003's "Uploader mismatch").
    #[error("uploader mismatch")]
    UploaderMismatch,
    /// No such image, or one the caller may not see.
    #[error("image not found")]
    NotFound,
    #[error("the image was issued for another channel")]
    ChannelMismatch,
    /// The record exists but its bytes have not arrived.
    #[error("nothing has been uploaded for this key yet")]
    NotUploaded,
    /// The stored object failed verification and was deleted.
    #[error("the upload was rejected: {0}")]
    Rejected(String),
    /// The caller may not act for this account.
    #[error("not allowed")]
    Forbidden,
    /// Report evidence is kept as long as reports: only STAFF and ADMIN delete it.
    #[error("report evidence is kept with its report")]
    Protected,
    /// A body larger than allowed (direct uploads).
    #[error("larger than {0} bytes")]
    TooLarge(u64),
    /// The account is at one of its upload limits; nothing was issued.
    #[error("upload limit reached: {0:?}")]
    LimitExceeded(UploadLimit),
    /// The store could not be reached (seed 000's `CAN_NOT_ACCESS_S3`).
    #[error("the image store is unavailable")]
    StorageUnavailable(#[source] StorageError),
    #[error("unexpected storage error")]
    Storage(#[source] StorageError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl From<StorageError> for ImageError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(_) => Self::StorageUnavailable(e),
            other => Self::Storage(other),
        }
    }
}

/// The images service.
#[derive(Clone)]
pub struct Images {
    repo: Arc<dyn ImageRepository>,
    store: Arc<dyn ObjectStore>,
    cdn: Arc<dyn Cdn>,
    accounts: Arc<dyn AccountRepository>,
    clock: Arc<dyn Clock>,
    policy: ImagePolicy,
    observer: Arc<dyn ImageObserver>,
    caches: ReadCaches,
}

impl std::fmt::Debug for Images {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Images")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Why an upload whose bytes were replaced during its verification is rejected.
const CHANGED: &str = "the object changed during verification";

fn random_part() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    // Base64url never starts a segment with '.', so the key stays valid.
    URL_SAFE_NO_PAD.encode(b)
}

/// Control characters, and the invisible marks that reorder text: shown to a person,
/// `photo\u{202E}gnp.exe` reads as `photoexe.png`.
fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A filename for display: 1 to 255 characters, no path separators, no control or
/// bidirectional-override characters, not hidden, with an extension.
pub(crate) fn parse_filename(name: &str) -> Result<String, ParseError> {
    let bad = |why: &str| ParseError::new("filename", why.to_owned());
    if name.is_empty() || name.chars().count() > 255 {
        return Err(bad("must be 1 to 255 characters"));
    }
    if name.contains(['/', '\\']) || name.chars().any(is_unprintable) {
        return Err(bad(
            "must be a bare file name, without paths or control characters",
        ));
    }
    if name.starts_with('.') || !name.contains('.') || name.ends_with('.') {
        return Err(bad("must have a name and an extension, like photo.png"));
    }
    Ok(name.to_owned())
}

fn extension(name: &str) -> &str {
    name.rsplit_once('.').map_or("", |(_, e)| e)
}

/// `sha256:<base64>` or `sha256:<hex>` → base64, as `x-amz-checksum-sha256` wants.
fn parse_checksum(s: &str) -> Result<String, ParseError> {
    let bad = || ParseError::new("checksum", "must be sha256:<base64 or hex of 32 bytes>");
    let v = s.trim().strip_prefix("sha256:").unwrap_or(s.trim());
    let bytes = if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(v).map_err(|_| bad())?
    } else {
        STANDARD.decode(v).map_err(|_| bad())?
    };
    if bytes.len() == 32 {
        Ok(STANDARD.encode(bytes))
    } else {
        Err(bad())
    }
}

/// The ETag without quotes or a weak prefix; `None` when the value cannot be an entity
/// tag at all (RFC 9110: visible ASCII, no spaces or quotes). Browsers that cannot read the
/// header send empty strings or placeholders (seed 003's example sends a sentence): those
/// count as no ETag, while a well-formed ETag that differs still rejects the upload.
fn bare_etag(s: &str) -> Option<&str> {
    let bare = s.trim().trim_start_matches("W/").trim_matches('"');
    let valid = !bare.is_empty()
        && bare
            .bytes()
            .all(|b| (0x21..=0x7E).contains(&b) && b != b'"');
    valid.then_some(bare)
}

struct Parsed {
    /// `None`: any accepted type, decided from the bytes.
    kind: Option<ImageType>,
    filename: Option<String>,
    metadata: serde_json::Map<String, serde_json::Value>,
    content_length: Option<u64>,
    checksum: Option<String>,
}

impl Images {
    pub fn new(
        repo: Arc<dyn ImageRepository>,
        store: Arc<dyn ObjectStore>,
        cdn: Arc<dyn Cdn>,
        accounts: Arc<dyn AccountRepository>,
        clock: Arc<dyn Clock>,
        policy: ImagePolicy,
    ) -> Self {
        Self {
            repo,
            store,
            cdn,
            accounts,
            clock,
            policy,
            observer: Arc::new(Deaf),
            caches: ReadCaches::default(),
        }
    }

    /// Answers [`Images::metadata`] for ready images from `caches.images` when fresh. Give
    /// it the caches that the [`crate::Invalidating`] repositories invalidate.
    #[must_use]
    pub fn with_caches(mut self, caches: ReadCaches) -> Self {
        self.caches = caches;
        self
    }

    /// Reports upload events to `observer`.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn ImageObserver>) -> Self {
        self.observer = observer;
        self
    }

    pub fn policy(&self) -> &ImagePolicy {
        &self.policy
    }

    /// The public URL of a key.
    pub fn cdn_url(&self, key: &ObjectKey) -> String {
        self.cdn.public_url(key)
    }

    fn parse(&self, channel: Channel, req: &UploadRequest) -> Result<Parsed, ImageError> {
        let mut invalid = Vec::new();
        let filename = req
            .filename
            .as_deref()
            .map(parse_filename)
            .transpose()
            .map_err(|e| invalid.push(e))
            .ok()
            .flatten();
        let declared = req
            .content_type
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("application/octet-stream"));
        // `None` when invalid; `Some(None)`: any accepted type, decided from the bytes.
        let kind: Option<Option<ImageType>> = match (declared, &filename) {
            (Some(ct), _) => Some(Some(ImageType::from_mime(ct).map_err(|_| {
                ImageError::UnsupportedContentType(ct.chars().take(100).collect())
            })?)),
            // Seed 003's fallback: resolve from the filename's extension.
            (None, Some(name)) => Some(Some(ImageType::from_extension(extension(name)).map_err(
                |_| ImageError::UnsupportedContentType(format!("a .{} file", extension(name))),
            )?)),
            (None, None) if req.any_type => Some(None),
            (None, None) => {
                invalid.push(ParseError::new(
                    "content_type",
                    "is required (or a filename with an image extension)",
                ));
                None
            }
        };
        let mut metadata = match &req.metadata {
            None | Some(serde_json::Value::Null) => serde_json::Map::new(),
            Some(serde_json::Value::Object(m)) => m.clone(),
            Some(_) => {
                invalid.push(ParseError::new("metadata", "must be a JSON object"));
                serde_json::Map::new()
            }
        };
        if metadata
            .keys()
            .any(|k| k.is_empty() || k.chars().count() > 64 || k.chars().any(is_unprintable))
        {
            invalid.push(ParseError::new(
                "metadata",
                "keys must be 1 to 64 characters without control characters",
            ));
        }
        metadata.insert(
            "channel".into(),
            serde_json::Value::String(channel.as_str().into()),
        );
        let size = serde_json::to_vec(&metadata).map_or(usize::MAX, |v| v.len());
        if size > self.policy.metadata_max_bytes {
            invalid.push(ParseError::new(
                "metadata",
                format!(
                    "must be at most {} bytes of JSON",
                    self.policy.metadata_max_bytes
                ),
            ));
        }
        let content_length = match req.content_length {
            Some(0) => {
                invalid.push(ParseError::new("content_length", "must be at least 1"));
                None
            }
            Some(n) if n > self.policy.max_size => {
                invalid.push(ParseError::new(
                    "content_length",
                    format!("must be at most {} bytes", self.policy.max_size),
                ));
                None
            }
            other => other,
        };
        let checksum = req
            .checksum
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(parse_checksum)
            .transpose()
            .map_err(|e| invalid.push(e))
            .ok()
            .flatten();
        match kind {
            Some(kind) if invalid.is_empty() => Ok(Parsed {
                kind,
                filename,
                metadata,
                content_length,
                checksum,
            }),
            _ => Err(ImageError::Invalid(invalid)),
        }
    }

    fn check_uploader(uploader: AccountId, claimed: Option<&str>) -> Result<(), ImageError> {
        match claimed.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) if c != uploader.to_string() => Err(ImageError::UploaderMismatch),
            _ => Ok(()),
        }
    }

    async fn insert_pending(
        &self,
        channel: Channel,
        uploader: AccountId,
        p: &Parsed,
    ) -> Result<Image, ImageError> {
        let now = self.clock.now();
        let key = channel.new_key(uploader, now, &random_part(), p.kind);
        self.repo
            .insert_within(
                NewImage {
                    key,
                    channel,
                    uploader,
                    content_type: p.kind,
                    declared_length: p.content_length,
                    checksum_sha256: p.checksum.clone(),
                    original_filename: p.filename.clone(),
                    metadata: p.metadata.clone(),
                    created_at: now,
                    expires_at: now + self.policy.pending_ttl,
                },
                self.policy.limits,
            )
            .await
            .map_err(|e| match e {
                InsertImageError::Limit(limit) => ImageError::LimitExceeded(limit),
                InsertImageError::Repository(r) => r.into(),
            })
    }

    /// Issues an upload: a pending record and a presigned PUT to its staging key.
    ///
    /// # Errors
    /// `Invalid`, `UnsupportedContentType`, `UploaderMismatch`, `StorageUnavailable`.
    #[tracing::instrument(skip(self, req), fields(channel = %channel), err(level = "info"))]
    pub async fn issue(
        &self,
        uploader: AccountId,
        channel: Channel,
        req: &UploadRequest,
    ) -> Result<IssuedUpload, ImageError> {
        Self::check_uploader(uploader, req.uploader_id.as_deref())?;
        let p = self.parse(channel, req)?;
        let image = self.insert_pending(channel, uploader, &p).await?;
        let conditions = PutConditions {
            content_type: p.kind.map(|k| k.mime().to_owned()),
            content_length: p.content_length,
            checksum_sha256: p.checksum,
            expires_in: self.policy.presign_ttl,
        };
        match self
            .store
            .presign_put(&staging_key(&image.key), &conditions)
            .await
        {
            Ok(put) => {
                self.observer.issued(channel);
                Ok(IssuedUpload {
                    cdn_url: self.cdn.public_url(&image.key),
                    upload_url: put.url,
                    required_headers: put.headers,
                    expires_in: self.policy.presign_ttl.as_secs(),
                    image,
                })
            }
            Err(e) => {
                // No record may point at an upload that cannot happen.
                self.repo
                    .transition(
                        image.id,
                        ImageStatus::Pending,
                        ImageStatus::Rejected,
                        self.clock.now(),
                    )
                    .await?;
                Err(e.into())
            }
        }
    }

    /// Issues an upload for `account`'s own images (seed 001's profile image URL): only the
    /// account itself may.
    ///
    /// # Errors
    /// `Forbidden` for anyone else; otherwise as `issue`.
    pub async fn issue_for(
        &self,
        actor: &Actor,
        account: AccountId,
        channel: Channel,
        req: &UploadRequest,
    ) -> Result<IssuedUpload, ImageError> {
        if !actor.is(account) {
            return Err(ImageError::Forbidden);
        }
        self.issue(account, channel, req).await
    }

    /// Uploads through the service (seed 002's multipart route): the body streams to the
    /// staging key, then goes through the same verification as a callback.
    ///
    /// # Errors
    /// As `issue` and `confirm`, and `TooLarge`.
    #[tracing::instrument(skip(self, req, body), fields(channel = %channel), err(level = "info"))]
    pub async fn upload(
        &self,
        uploader: AccountId,
        channel: Channel,
        req: &UploadRequest,
        body: ByteStream,
    ) -> Result<Image, ImageError> {
        let p = self.parse(channel, req)?;
        let image = self.insert_pending(channel, uploader, &p).await?;
        let staged = staging_key(&image.key);
        if let Err(e) = self
            .store
            .put(
                &staged,
                body,
                p.kind.map_or("application/octet-stream", ImageType::mime),
                self.policy.max_size,
            )
            .await
        {
            self.repo
                .transition(
                    image.id,
                    ImageStatus::Pending,
                    ImageStatus::Rejected,
                    self.clock.now(),
                )
                .await?;
            return Err(match e {
                StorageError::TooLarge { limit } => ImageError::TooLarge(limit),
                other => other.into(),
            });
        }
        self.verify_and_promote(image, &Confirmation::default())
            .await
    }

    /// Confirms an upload (seed 003's callback): idempotent for a ready image.
    ///
    /// # Errors
    /// `Invalid` (malformed key), `NotFound` (no such upload, expired or deleted, or
    /// another account's), `ChannelMismatch`, `NotUploaded`, `Rejected`,
    /// `StorageUnavailable`.
    #[tracing::instrument(skip(self, actor, c), fields(channel = %channel), err(level = "info"))]
    pub async fn confirm(
        &self,
        actor: &Actor,
        channel: Channel,
        key: &str,
        c: &Confirmation,
    ) -> Result<Image, ImageError> {
        let key = ObjectKey::parse(key).map_err(|e| ImageError::Invalid(vec![e]))?;
        let image = self
            .repo
            .find_by_key(&key)
            .await?
            .ok_or(ImageError::NotFound)?;
        // Someone else's upload does not exist for the caller, whatever its channel:
        // answering anything else would tell that it does.
        if !actor.is(image.uploader) {
            return Err(ImageError::NotFound);
        }
        if image.channel != channel {
            return Err(ImageError::ChannelMismatch);
        }
        match image.status {
            // A retry completes what a failed account update left undone.
            ImageStatus::Ready if image.channel == Channel::Profile => {
                self.reconcile_avatar(image.uploader).await?;
                Ok(image)
            }
            ImageStatus::Ready => Ok(image),
            ImageStatus::Pending => self.verify_and_promote(image, c).await,
            _ => Err(ImageError::NotFound),
        }
    }

    /// Records a failed verification and removes what the upload stored. When another
    /// confirmation decided first (the image became ready meanwhile), its decision stands
    /// and nothing is deleted: the final key may be a ready image's.
    async fn reject(
        &self,
        image: &Image,
        kind: RejectKind,
        reason: String,
    ) -> Result<Image, ImageError> {
        let rejected = self
            .repo
            .transition(
                image.id,
                ImageStatus::Pending,
                ImageStatus::Rejected,
                self.clock.now(),
            )
            .await?;
        if !rejected {
            return self.settled(image).await;
        }
        tracing::info!(key = %image.key, %reason, kind = kind.as_str(), "upload rejected");
        self.observer.rejected(kind);
        self.purge_or_leave(image).await;
        Err(ImageError::Rejected(reason))
    }

    async fn verify_and_promote(
        &self,
        image: Image,
        c: &Confirmation,
    ) -> Result<Image, ImageError> {
        let staged = staging_key(&image.key);
        // The object's metadata and first bytes in one request. After a crash between
        // promotion and the record update, the bytes are already at the final key (only
        // verified bytes ever get there): finish from there.
        let (source, head, bytes) = match self.store.read_head(&staged, SNIFF_LEN).await? {
            Some((h, b)) => (staged.clone(), h, b),
            None => match self.store.read_head(&image.key, SNIFF_LEN).await? {
                Some((h, b)) => (image.key.clone(), h, b),
                None => return Err(ImageError::NotUploaded),
            },
        };
        if head.size > self.policy.max_size {
            return self
                .reject(
                    &image,
                    RejectKind::TooLarge,
                    format!("larger than {} bytes", self.policy.max_size),
                )
                .await;
        }
        for (what, declared) in [
            ("declared", image.declared_length),
            ("reported", c.content_length),
        ] {
            if let Some(n) = declared
                && n != head.size
            {
                return self
                    .reject(
                        &image,
                        RejectKind::LengthMismatch,
                        format!("{} bytes stored, {n} {what}", head.size),
                    )
                    .await;
            }
        }
        if let Some(etag) = c.etag.as_deref().and_then(bare_etag)
            && etag != head.etag
        {
            return self
                .reject(
                    &image,
                    RejectKind::EtagMismatch,
                    "the ETag does not match".into(),
                )
                .await;
        }
        if let (Some(declared), Some(reported)) = (&image.checksum_sha256, c.checksum.as_deref())
            && parse_checksum(reported).ok().as_ref() != Some(declared)
        {
            return self
                .reject(
                    &image,
                    RejectKind::ChecksumMismatch,
                    "the checksum does not match".into(),
                )
                .await;
        }
        let sniffed = match sniff(&bytes) {
            Ok(s) => s,
            Err(e) => {
                return self
                    .reject(&image, RejectKind::NotAnImage, e.to_string())
                    .await;
            }
        };
        // A declared type must be the bytes' type; without one, any accepted type is.
        if let Some(declared) = image.content_type
            && sniffed.kind != declared
        {
            return self
                .reject(
                    &image,
                    RejectKind::TypeMismatch,
                    format!(
                        "declared {} but the bytes are {}",
                        declared.mime(),
                        sniffed.kind.mime()
                    ),
                )
                .await;
        }
        if u64::from(sniffed.width) * u64::from(sniffed.height) > self.policy.max_pixels {
            return self
                .reject(
                    &image,
                    RejectKind::TooManyPixels,
                    format!(
                        "{}×{} is more than {} pixels",
                        sniffed.width, sniffed.height, self.policy.max_pixels
                    ),
                )
                .await;
        }
        // A file cut short is no image, whatever its header says.
        let tail = if head.size <= bytes.len() as u64 {
            bytes.clone()
        } else {
            match self
                .read_same_version(&image, &source, &head.etag, head.size - TAIL_LEN, TAIL_LEN)
                .await
            {
                Ok(b) => b,
                Err(answer) => return answer,
            }
        };
        if let Err(e) = check_complete(sniffed.kind, &bytes, &tail, head.size) {
            return self
                .reject(&image, RejectKind::NotAnImage, e.to_string())
                .await;
        }
        // Every frame of a GIF or an animated WebP, not only the screen the header gives;
        // a JPEG's scan data and end-of-image marker wherever they are.
        let jpeg_whole = sniffed.kind == ImageType::Jpeg && jpeg_needs_whole(&bytes, &tail);
        if jpeg_whole || has_frames(sniffed.kind, &bytes) {
            let whole = if head.size <= bytes.len() as u64 {
                bytes.clone()
            } else {
                match self
                    .read_same_version(&image, &source, &head.etag, 0, head.size)
                    .await
                {
                    Ok(b) => b,
                    Err(answer) => return answer,
                }
            };
            if sniffed.kind == ImageType::Jpeg
                && let Err(e) = check_jpeg_whole(&whole)
            {
                return self
                    .reject(&image, RejectKind::NotAnImage, e.to_string())
                    .await;
            }
            match largest_frame(sniffed.kind, &whole) {
                Ok(px) if px > self.policy.max_pixels => {
                    let reason = format!(
                        "a frame of {px} pixels is more than {}",
                        self.policy.max_pixels
                    );
                    return self.reject(&image, RejectKind::TooManyPixels, reason).await;
                }
                Ok(_) => {}
                Err(e) => {
                    return self
                        .reject(&image, RejectKind::NotAnImage, e.to_string())
                        .await;
                }
            }
        }
        let meta = if source == staged {
            match self
                .store
                .promote(&staged, &image.key, &head.etag, sniffed.kind.mime())
                .await
            {
                Ok(m) => m,
                Err(StorageError::PreconditionFailed) => {
                    return self
                        .reject(&image, RejectKind::Changed, CHANGED.into())
                        .await;
                }
                // A concurrent confirmation promoted it first.
                Err(StorageError::NotFound) => return self.settled(&image).await,
                Err(e) => return Err(e.into()),
            }
        } else {
            head
        };
        let now = self.clock.now();
        let ready = ReadyImage {
            content_type: sniffed.kind,
            size: meta.size,
            etag: meta.etag,
            width: sniffed.width,
            height: sniffed.height,
            confirmed_at: now,
            expires_at: image.channel.retention().map(|r| now + r),
        };
        let Some(confirmed) = self.repo.mark_ready(image.id, ready).await? else {
            return self.settled(&image).await;
        };
        self.observer.confirmed(image.channel);
        if image.channel == Channel::Profile {
            self.reconcile_avatar(image.uploader).await?;
        }
        Ok(confirmed)
    }

    /// `len` bytes from `offset` of the version whose head was read (ETag `etag`). `Err`
    /// carries the confirmation's answer when they cannot be had: the object was replaced
    /// meanwhile (rejected as changed), promoted by a concurrent confirmation (its
    /// answer), or the store failed.
    async fn read_same_version(
        &self,
        image: &Image,
        source: &ObjectKey,
        etag: &str,
        offset: u64,
        len: u64,
    ) -> Result<bytes::Bytes, Result<Image, ImageError>> {
        match self
            .store
            .read_range(source, offset, len, Some(etag.to_owned()))
            .await
        {
            Ok(b) => Ok(b),
            Err(StorageError::PreconditionFailed) => Err(self
                .reject(image, RejectKind::Changed, CHANGED.into())
                .await),
            Err(StorageError::NotFound) => Err(self.settled(image).await),
            Err(e) => Err(Err(e.into())),
        }
    }

    /// After losing a race to a concurrent confirmation: waits (briefly) for the winner
    /// to finish, and answers what it decided, so every caller agrees.
    async fn settled(&self, image: &Image) -> Result<Image, ImageError> {
        const WAIT: std::time::Duration = std::time::Duration::from_millis(25);
        for _ in 0..200 {
            match self.repo.find_by_key(&image.key).await? {
                Some(i) if i.status == ImageStatus::Ready => return Ok(i),
                Some(i) if i.status == ImageStatus::Rejected => {
                    return Err(ImageError::Rejected(
                        "the upload failed verification".into(),
                    ));
                }
                Some(i) if i.status == ImageStatus::Pending => tokio::time::sleep(WAIT).await,
                _ => return Err(ImageError::NotFound),
            }
        }
        // The winner never finished (it crashed): the next confirmation completes the work
        // from the final key.
        Err(ImageError::NotUploaded)
    }

    /// Makes the account's newest ready profile image its avatar and removes the older
    /// ones. Every step is idempotent, so a confirmation whose account update failed is
    /// completed by a retry of the callback or the next read of the account, and an old
    /// avatar whose removal failed is removed then.
    async fn reconcile_avatar(&self, account: AccountId) -> Result<(), ImageError> {
        let ready = self
            .repo
            .list(
                ImageFilter {
                    uploader: Some(account),
                    channel: Some(Channel::Profile),
                    status: Some(ImageStatus::Ready),
                    expired_at: None,
                },
                100,
            )
            .await?;
        // Oldest first: the last is the newest.
        let Some((newest, older)) = ready.split_last() else {
            return Ok(());
        };
        let Some(current) = self.accounts.find_by_id(account).await? else {
            return Ok(());
        };
        if current.is_withdrawn() {
            return Ok(());
        }
        if current.profile_image_key.as_ref() != Some(&newest.key) {
            let update = AccountUpdate {
                profile_image_key: Some(Some(newest.key.clone())),
                ..AccountUpdate::default()
            };
            match self
                .accounts
                .update(account, update, self.clock.now())
                .await
            {
                Ok(_) | Err(crate::error::UpdateAccountError::NotFound) => {}
                Err(crate::error::UpdateAccountError::Repository(e)) => return Err(e.into()),
            }
        }
        for old in older {
            self.remove(old).await?;
        }
        Ok(())
    }

    /// Deletes an image's record and object and invalidates its CDN path.
    async fn remove(&self, image: &Image) -> Result<(), ImageError> {
        let at = self.clock.now();
        // The CDN's copy is queued for invalidation before the record stops being ready:
        // a crash between the two then costs one needless invalidation at worst, never a
        // deleted image served from the CDN's cache. (The queue's worker sends it seconds
        // later, after the object below is gone.)
        if image.status == ImageStatus::Ready {
            // Not queued: stop here, nothing has changed.
            self.cdn.invalidate(vec![image.key.clone()]).await?;
        }
        if self
            .repo
            .transition(image.id, image.status, ImageStatus::Deleted, at)
            .await?
        {
            self.purge_or_leave(image).await;
        }
        Ok(())
    }

    /// Removes the objects a record that stopped being live names, its staged and its
    /// final key, and records that they are gone. Nothing else is ever deleted.
    ///
    /// # Errors
    /// `StorageUnavailable`, `Repository`: the record still awaits removal.
    async fn purge(&self, image: &Image) -> Result<(), ImageError> {
        self.store.delete(&staging_key(&image.key)).await?;
        self.store.delete(&image.key).await?;
        self.repo
            .mark_objects_removed(image.id, self.clock.now())
            .await?;
        Ok(())
    }

    /// [`Self::purge`] where the caller's answer does not depend on it: a failure leaves
    /// the record awaiting removal, and the sweeper retries it until it succeeds.
    async fn purge_or_leave(&self, image: &Image) {
        if let Err(e) = self.purge(image).await {
            tracing::warn!(key = %image.key, error = %e, "objects left for the sweeper to remove");
        }
    }

    fn may_manage(actor: &Actor, image: &Image) -> bool {
        actor.is(image.uploader) || actor.is_staff()
    }

    /// A ready image's record, for its uploader, STAFF, ADMIN and SERVER. Others get
    /// `NotFound`: whether someone else's image exists is private.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn metadata(&self, actor: &Actor, key: &str) -> Result<Image, ImageError> {
        let key = ObjectKey::parse(key).map_err(|_| ImageError::NotFound)?;
        // A ready image's record changes only when it stops being ready, and every such
        // change made here drops it from the cache.
        let image = match self.caches.images.get(&key, self.clock.now()) {
            Some(image) => image,
            None => {
                let ticket = self.caches.images.ticket();
                let image = self
                    .repo
                    .find_by_key(&key)
                    .await?
                    .ok_or(ImageError::NotFound)?;
                if image.status == ImageStatus::Ready {
                    self.caches
                        .images
                        .insert(ticket, key, image.clone(), self.clock.now());
                }
                image
            }
        };
        let visible = Self::may_manage(actor, &image) || actor.has(crate::account::Role::Server);
        if !visible {
            return Err(ImageError::NotFound);
        }
        match image.status {
            ImageStatus::Ready => Ok(image),
            // Seed 004 has no callback: the uploader's first read confirms the upload.
            ImageStatus::Pending if actor.is(image.uploader) => {
                match self
                    .verify_and_promote(image, &Confirmation::default())
                    .await
                {
                    Err(ImageError::NotUploaded) => Err(ImageError::NotFound),
                    other => other,
                }
            }
            _ => Err(ImageError::NotFound),
        }
    }

    /// Deletes an image: its uploader, STAFF or ADMIN. The object goes, the CDN path is
    /// invalidated, and a profile image stops being the account's avatar.
    ///
    /// # Errors
    /// `Forbidden` for services, `NotFound` (also for images the caller may not manage),
    /// `StorageUnavailable` (and then nothing has changed).
    #[tracing::instrument(skip(self, actor), err(level = "info"))]
    pub async fn delete(&self, actor: &Actor, key: &str) -> Result<(), ImageError> {
        // Services read images; they never delete one (and may see every image exists).
        if matches!(actor, Actor::Service { .. }) {
            return Err(ImageError::Forbidden);
        }
        let key = ObjectKey::parse(key).map_err(|_| ImageError::NotFound)?;
        let image = self
            .repo
            .find_by_key(&key)
            .await?
            .ok_or(ImageError::NotFound)?;
        if !Self::may_manage(actor, &image)
            || !matches!(image.status, ImageStatus::Ready | ImageStatus::Pending)
        {
            return Err(ImageError::NotFound);
        }
        if image.channel == Channel::Report
            && image.status == ImageStatus::Ready
            && !actor.is_staff()
        {
            return Err(ImageError::Protected);
        }
        // Reach the store before changing anything, so an outage changes nothing.
        self.store.check().await?;
        self.remove(&image).await?;
        if image.channel == Channel::Profile {
            self.clear_avatar_if(image.uploader, &image.key).await?;
        }
        Ok(())
    }

    async fn clear_avatar_if(&self, account: AccountId, key: &ObjectKey) -> Result<(), ImageError> {
        if let Some(a) = self.accounts.find_by_id(account).await?
            && a.profile_image_key.as_ref() == Some(key)
        {
            let update = AccountUpdate {
                profile_image_key: Some(None),
                ..AccountUpdate::default()
            };
            match self
                .accounts
                .update(account, update, self.clock.now())
                .await
            {
                Ok(_) | Err(crate::error::UpdateAccountError::NotFound) => {}
                Err(crate::error::UpdateAccountError::Repository(e)) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Deletes an account's profile image (seeds 000 and 001): the account itself or an
    /// ADMIN.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` when it has none (`FILE_NOT_FOUND`), `StorageUnavailable`.
    pub async fn delete_avatar(&self, actor: &Actor, account: AccountId) -> Result<(), ImageError> {
        if !(actor.is(account) || actor.has(crate::account::Role::Admin)) {
            return Err(ImageError::Forbidden);
        }
        let key = self
            .accounts
            .find_by_id(account)
            .await?
            .filter(|a| !a.is_withdrawn())
            .and_then(|a| a.profile_image_key)
            .ok_or(ImageError::NotFound)?;
        self.store.check().await?;
        if let Some(image) = self.repo.find_by_key(&key).await? {
            self.remove(&image).await?;
        }
        self.clear_avatar_if(account, &key).await
    }

    /// Confirms the account's pending profile uploads whose bytes have arrived: seed 000's
    /// and 001's avatar routes have no callback, so this runs when the account is read.
    ///
    /// # Errors
    /// Only infrastructure failures; a rejected upload is recorded and skipped.
    pub async fn settle_avatar(&self, account: AccountId) -> Result<(), ImageError> {
        let pending = self
            .repo
            .list(
                ImageFilter {
                    uploader: Some(account),
                    channel: Some(Channel::Profile),
                    status: Some(ImageStatus::Pending),
                    expired_at: None,
                },
                10,
            )
            .await?;
        for image in pending {
            match self
                .verify_and_promote(image, &Confirmation::default())
                .await
            {
                Ok(_)
                | Err(ImageError::NotUploaded | ImageError::Rejected(_) | ImageError::NotFound) => {
                }
                Err(e) => return Err(e),
            }
        }
        // Completes a confirmation whose account update failed, and removes an old avatar
        // whose removal failed.
        self.reconcile_avatar(account).await
    }

    /// On withdrawal: every image the account uploaded goes, in every channel, objects,
    /// records and CDN copies, except the evidence in `keep` (that of the account's reports
    /// still open), which goes when its report is closed ([`Self::release_evidence`]).
    ///
    /// # Errors
    /// `StorageUnavailable`, `Repository`.
    pub async fn purge_account(
        &self,
        account: AccountId,
        keep: &std::collections::BTreeSet<ObjectKey>,
    ) -> Result<u64, ImageError> {
        const BATCH: u64 = 500;
        self.store.check().await?;
        let mut removed = 0;
        for status in [ImageStatus::Ready, ImageStatus::Pending] {
            loop {
                let images = self
                    .repo
                    .list(
                        ImageFilter {
                            uploader: Some(account),
                            status: Some(status),
                            ..ImageFilter::default()
                        },
                        // Kept images come back on every page: look past them.
                        BATCH + keep.len() as u64,
                    )
                    .await?;
                let full = images.len() as u64 == BATCH + keep.len() as u64;
                let mut progressed = false;
                for image in images.into_iter().filter(|i| !keep.contains(&i.key)) {
                    self.remove(&image).await?;
                    removed += 1;
                    progressed = true;
                }
                if !full || !progressed {
                    break;
                }
            }
        }
        Ok(removed)
    }

    /// When a report is closed: the evidence of a reporter who has withdrawn since goes
    /// (it was kept only for the report's sake).
    ///
    /// # Errors
    /// `StorageUnavailable`, `Repository`.
    pub async fn release_evidence(
        &self,
        reporter: AccountId,
        evidence: &[ObjectKey],
    ) -> Result<u64, ImageError> {
        let withdrawn = self
            .accounts
            .find_by_id(reporter)
            .await?
            .is_none_or(|a| a.is_withdrawn());
        if !withdrawn || evidence.is_empty() {
            return Ok(0);
        }
        let mut removed = 0;
        for key in evidence {
            if let Some(image) = self.repo.find_by_key(key).await?
                && image.uploader == reporter
                && image.status == ImageStatus::Ready
            {
                self.remove(&image).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// One pass of the sweeper. It deletes only what a record names:
    /// 1. pending uploads past their TTL expire;
    /// 2. ready images past their channel's retention are deleted;
    /// 3. the objects of records that stopped being live (deleted, expired, rejected) and
    ///    are not yet known to be gone are removed; a failure is retried on later passes;
    /// 4. under the staging prefix only, staged objects whose record no longer waits for
    ///    them are removed once older than the grace period, and staged uploads larger than
    ///    the size limit at once (their uploads are rejected).
    ///
    /// An object no record names is never deleted, whatever its key or age: the store may
    /// hold other applications' objects. The cost grows with the work to do (records to
    /// act on, objects under the staging prefix), never with the size of the bucket. Each
    /// transition is conditional, so several replicas sweeping at once do each piece of
    /// work once.
    ///
    /// # Errors
    /// `StorageUnavailable`, `Repository`.
    #[tracing::instrument(skip(self), err(level = "info"))]
    pub async fn sweep(&self) -> Result<SweepReport, ImageError> {
        const BATCH: u64 = 500;
        let now = self.clock.now();
        let mut report = SweepReport::default();
        let expired = self
            .repo
            .list(
                ImageFilter {
                    status: Some(ImageStatus::Pending),
                    expired_at: Some(now),
                    ..ImageFilter::default()
                },
                BATCH,
            )
            .await?;
        for image in expired {
            if self
                .repo
                .transition(image.id, ImageStatus::Pending, ImageStatus::Expired, now)
                .await?
            {
                report.expired += 1;
            }
        }
        let past_retention = self
            .repo
            .list(
                ImageFilter {
                    status: Some(ImageStatus::Ready),
                    expired_at: Some(now),
                    ..ImageFilter::default()
                },
                BATCH,
            )
            .await?;
        for image in past_retention {
            self.remove(&image).await?;
            report.retention_deleted += 1;
        }
        for image in self.repo.awaiting_removal(BATCH).await? {
            match self.purge(&image).await {
                Ok(()) => report.objects_removed += 1,
                // The store is down: the rest would fail too; the next pass retries.
                Err(e @ ImageError::StorageUnavailable(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(key = %image.key, error = %e, "removal failed; retried next pass");
                    report.removals_failed += 1;
                }
            }
        }
        report.staged_removed = self.sweep_staging(now).await?;
        if report != SweepReport::default() {
            tracing::info!(?report, "sweep");
        }
        Ok(report)
    }

    /// Step 4 of [`Self::sweep`]: the staging prefix, which only this service's upload
    /// URLs write to, page by page.
    async fn sweep_staging(&self, now: OffsetDateTime) -> Result<u64, ImageError> {
        const PAGE: usize = 1000;
        let staging = staging_prefix();
        let mut removed = 0;
        let mut after = None;
        loop {
            let page = self.store.list(&staging, after.clone(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            let full = page.len() == PAGE;
            for object in page {
                let Some(final_key) = object
                    .key
                    .as_str()
                    .strip_prefix(staging.as_str())
                    .and_then(|rest| ObjectKey::parse(rest).ok())
                else {
                    continue;
                };
                // No record names it: not ours, whatever it looks like.
                let Some(image) = self.repo.find_by_key(&final_key).await? else {
                    continue;
                };
                if image.status == ImageStatus::Pending {
                    if object.size > self.policy.max_size {
                        let reason = format!("larger than {} bytes", self.policy.max_size);
                        if let Err(ImageError::Rejected(_)) =
                            self.reject(&image, RejectKind::TooLarge, reason).await
                        {
                            removed += 1;
                        }
                    }
                } else if now - object.last_modified >= self.policy.orphan_grace {
                    // Bytes put again after the record was decided: a leftover it names.
                    self.store.delete(&object.key).await?;
                    removed += 1;
                }
            }
            if !full {
                break;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod etag_tests {
    use super::bare_etag;

    #[test]
    fn only_well_formed_etags_count() {
        assert_eq!(bare_etag("\"9a866eec\""), Some("9a866eec"));
        assert_eq!(bare_etag("W/\"abc-2\""), Some("abc-2"));
        assert_eq!(bare_etag(""), None);
        assert_eq!(bare_etag("\"\""), None);
        assert_eq!(
            bare_etag("값은 브라우저 fetch 응답 헤더에서 직접 읽어야 함"),
            None
        );
        assert_eq!(bare_etag("two words"), None);
    }
}
