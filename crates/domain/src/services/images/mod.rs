//! Images: one service behind every legacy upload route family, in rooms:
//!
//! - `upload`: the upload state machine: `issue` writes a pending record and presigns a
//!   PUT to a **staging** key; `confirm` verifies the staged object, has it processed
//!   (decoded, stripped of metadata, its variants rendered) and publishes what it verified
//!   at the final key, so bytes swapped after verification never become final, and a
//!   reused upload URL can never replace a ready image;
//! - `admission`: how many confirmations process images at once, and how many wait;
//! - `verify`: the verification rules as pure functions, and [`Rejection`], why an upload
//!   failed them;
//! - `removal`: deleting an image, an account's images and released evidence; an image's
//!   objects are removed only through its record;
//! - `avatars`: the account's profile image, the one place images write accounts;
//! - `sweeper`: the [`Sweeper`], which expires, applies retention and removes what
//!   records name.

use crate::actor::Actor;
use crate::error::RepositoryError;
use crate::events::{EventKind, Subscriptions};
use crate::image::{Channel, Image, ImageStatus, UploadLimit, UploadLimits};
use crate::ports::AuditLog;
use crate::ports::Clock;
use crate::ports::ImageObserver;
use crate::ports::ImageProcessor;
use crate::ports::ObjectStore;
use crate::ports::{Cdn, ImageRepository, ReadSigner, Repositories};
use crate::processing::{VariantPresets, variant_of};
use crate::storage::{ObjectKey, StorageError};
use admission::Admission;
pub use admission::ProcessingLimits;
use avatars::Avatars;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use std::sync::Arc;
pub use sweeper::{SweepReport, Sweeper};
use time::Duration;
pub use verify::Rejection;

mod admission;
mod avatars;
mod confirm;
mod in_flight;
mod removal;
mod sweeper;
mod upload;
mod verify;

/// Limits and lifetimes of uploads.
#[derive(Debug, Clone)]
pub struct ImagePolicy {
    /// Largest object accepted, in bytes (the images domain API: 10 MB).
    pub max_size: u64,
    /// How long a presigned URL works (the images domain API: 5 minutes).
    pub presign_ttl: std::time::Duration,
    /// How long a pending upload waits for its bytes before it expires (the upload pipeline API: 900 s).
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
    /// Channels whose images are private: read only through signed, expiring URLs, by
    /// their uploader, STAFF, ADMIN and services. Decided per image when it is confirmed.
    pub private_channels: std::collections::BTreeSet<Channel>,
    /// How long a private image's signed URL works.
    pub private_url_ttl: Duration,
    /// The variants every confirmed image gets.
    pub variants: VariantPresets,
    /// How much image processing runs at once.
    pub processing: ProcessingLimits,
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
            private_channels: [Channel::Report, Channel::Scan, Channel::My].into(),
            private_url_ttl: Duration::hours(1),
            variants: VariantPresets::default(),
            processing: ProcessingLimits::default(),
        }
    }
}

/// An upload URL issued.
#[derive(Debug, Clone)]
pub struct IssuedUpload {
    pub image: Image,
    pub upload_url: String,
    pub required_headers: Vec<(String, String)>,
    pub expires_in: u64,
    /// Where the image will be read: a signed URL for a private channel's.
    pub cdn_url: String,
    /// When `cdn_url` stops working; `None` for a public image's.
    pub cdn_url_expires_at: Option<time::OffsetDateTime>,
}

/// How images reach readers: the CDN's public URLs (and its invalidations), and the
/// signer of private images' URLs.
#[derive(Clone)]
pub struct Delivery {
    pub cdn: Arc<dyn Cdn>,
    pub signer: Arc<dyn ReadSigner>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").finish_non_exhaustive()
    }
}

/// Where image bytes live, and what makes them fit to publish.
#[derive(Clone)]
pub struct Media {
    pub store: Arc<dyn ObjectStore>,
    pub processor: Arc<dyn ImageProcessor>,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media").finish_non_exhaustive()
    }
}

/// A ready image's variant as a reader gets it: where to read it (signed, like its image,
/// when the image is private, and expiring with it) and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantUrl {
    pub name: String,
    pub url: ImageUrl,
    pub width: u32,
    pub height: u32,
    pub content_type: crate::image::ImageType,
}

/// Where a ready image and its variants are read ([`Images::view`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageView {
    pub url: ImageUrl,
    pub variants: Vec<VariantUrl>,
    pub blurhash: Option<String>,
}

/// Where an image is read, and until when for a private one's signed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUrl {
    pub url: String,
    /// `None`: a public image's URL, which does not expire.
    pub expires_at: Option<time::OffsetDateTime>,
}

/// What a confirmation callback may assert (the upload pipeline API).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirmation {
    /// Empty is allowed: browsers often cannot read the ETag.
    pub etag: Option<String>,
    pub content_length: Option<u64>,
    pub checksum: Option<String>,
}

struct Deaf;

impl ImageObserver for Deaf {}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
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
    /// Every turn to process images is taken and the queue is full (or the wait was too
    /// long): nothing changed; retry after `retry_after`.
    #[error("busy processing images")]
    Busy { retry_after: std::time::Duration },
    /// The image processor failed (not the upload's fault); nothing was published.
    #[error("image processing failed")]
    Processing(#[source] crate::error::BoxError),
    /// The account is at one of its upload limits; nothing was issued.
    #[error("upload limit reached: {0:?}")]
    LimitExceeded(UploadLimit),
    /// The store could not be reached (the files/avatars API's `CAN_NOT_ACCESS_S3`).
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
    processor: Arc<dyn ImageProcessor>,
    admission: Arc<Admission>,
    in_flight: Arc<in_flight::InFlight>,
    cdn: Arc<dyn Cdn>,
    signer: Arc<dyn ReadSigner>,
    avatars: Avatars,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    policy: ImagePolicy,
    observer: Arc<dyn ImageObserver>,
    events: Subscriptions,
}

impl std::fmt::Debug for Images {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Images")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The random part of a new key.
fn random_part() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    // Base64url never starts a segment with '.', so the key stays valid.
    URL_SAFE_NO_PAD.encode(b)
}

impl Images {
    /// On `repos`' images, accounts (avatars) and audit log.
    pub fn new(
        repos: &Repositories,
        media: Media,
        delivery: Delivery,
        clock: Arc<dyn Clock>,
        policy: ImagePolicy,
    ) -> Self {
        Self {
            repo: repos.images.clone(),
            store: media.store,
            processor: media.processor,
            admission: Arc::new(Admission::new(policy.processing)),
            in_flight: Arc::default(),
            cdn: delivery.cdn,
            signer: delivery.signer,
            avatars: Avatars::new(repos.accounts.clone(), clock.clone()),
            audit: repos.audit.clone(),
            clock,
            policy,
            observer: Arc::new(Deaf),
            events: Subscriptions::default(),
        }
    }

    /// Writes `image.ready` and `image.deleted` events for `events`' endpoints.
    #[must_use]
    pub fn with_events(mut self, events: Subscriptions) -> Self {
        self.events = events;
        self
    }

    /// The jobs of an event about `image`: its key, channel and uploader.
    fn event(
        &self,
        kind: EventKind,
        image: &Image,
        extra: serde_json::Value,
    ) -> Vec<crate::outbox::NewJob> {
        let mut data = serde_json::json!({
            "key": image.key.as_str(),
            "channel": image.channel.as_str(),
            "uploader_id": image.uploader.get(),
        });
        if let (Some(d), serde_json::Value::Object(more)) = (data.as_object_mut(), extra) {
            d.extend(more);
        }
        self.events.jobs(kind, self.clock.now(), data)
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

    /// Where `image` is read: its public URL, or for a private image (or a private
    /// channel's pending upload) a URL signed for `private_url_ttl`.
    ///
    /// # Errors
    /// `StorageUnavailable`, `Storage` when a URL cannot be signed.
    pub async fn url_of(&self, image: &Image) -> Result<ImageUrl, ImageError> {
        let private = match image.status {
            ImageStatus::Pending => self.policy.private_channels.contains(&image.channel),
            _ => image.private,
        };
        if !private {
            return Ok(ImageUrl {
                url: self.cdn.public_url(&image.key),
                expires_at: None,
            });
        }
        let expires_at = self.clock.now() + self.policy.private_url_ttl;
        let url = self.signer.signed_url(&image.key, expires_at).await?;
        Ok(ImageUrl {
            url,
            expires_at: Some(expires_at),
        })
    }

    /// Everything a reader is given about where `image` is read: its URL, its variants'
    /// (none before it is ready) and its BlurHash. A private image's URLs are signed
    /// alike, to expire together.
    ///
    /// # Errors
    /// `StorageUnavailable`, `Storage` when a URL cannot be signed.
    pub async fn view(&self, image: &Image) -> Result<ImageView, ImageError> {
        let url = self.url_of(image).await?;
        let mut variants = Vec::with_capacity(image.variants.len());
        for v in &image.variants {
            let read = match url.expires_at {
                Some(expires_at) => ImageUrl {
                    url: self.signer.signed_url(&v.key, expires_at).await?,
                    expires_at: Some(expires_at),
                },
                None => ImageUrl {
                    url: self.cdn.public_url(&v.key),
                    expires_at: None,
                },
            };
            variants.push(VariantUrl {
                name: v.name.clone(),
                url: read,
                width: v.width,
                height: v.height,
                content_type: v.content_type,
            });
        }
        Ok(ImageView {
            url,
            variants,
            blurhash: image.blurhash.clone(),
        })
    }

    /// [`Self::view`] of the image at `key` (report evidence, by key): a key no record
    /// names gets its public URL, which serves nothing.
    ///
    /// # Errors
    /// `Repository`, `StorageUnavailable`.
    pub async fn view_of_key(&self, key: &ObjectKey) -> Result<ImageView, ImageError> {
        match self.repo.find_by_key(key).await? {
            Some(image) => self.view(&image).await,
            None => Ok(ImageView {
                url: ImageUrl {
                    url: self.cdn.public_url(key),
                    expires_at: None,
                },
                variants: Vec::new(),
                blurhash: None,
            }),
        }
    }

    /// A fresh URL of a ready image (`GET /images/{key}/url`), for those who may read it:
    /// its uploader, STAFF, ADMIN and services; nobody else learns that it exists.
    ///
    /// # Errors
    /// `NotFound`, `StorageUnavailable`.
    pub async fn read_url(&self, actor: &Actor, key: &ObjectKey) -> Result<ImageUrl, ImageError> {
        let image = self
            .repo
            .find_by_key(key)
            .await?
            .filter(|i| i.status == ImageStatus::Ready)
            .ok_or(ImageError::NotFound)?;
        if !Self::may_read(actor, &image) {
            return Err(ImageError::NotFound);
        }
        self.url_of(&image).await
    }

    /// Whether `actor` may read `image` through the API (its metadata, a URL): its
    /// uploader, STAFF, ADMIN, services.
    pub fn may_read(actor: &Actor, image: &Image) -> bool {
        Self::may_manage(actor, image) || matches!(actor, Actor::Service { .. })
    }

    /// Whether `key`'s image is private: the local store's `/cdn` asks before serving it
    /// without a signature. A variant's key answers for its image. Unknown keys are not
    /// (they are not served either).
    ///
    /// # Errors
    /// `Repository`.
    pub async fn is_private(&self, key: &ObjectKey) -> Result<bool, ImageError> {
        // An image's own key never has a variant key's shape, so one lookup decides.
        let image = match variant_of(key) {
            Some((image, _)) => image,
            None => key.clone(),
        };
        Ok(self
            .repo
            .find_by_key(&image)
            .await?
            .is_some_and(|i| i.private))
    }

    fn may_manage(actor: &Actor, image: &Image) -> bool {
        actor.is(image.uploader) || actor.is_staff()
    }
}

#[cfg(test)]
mod tests;
