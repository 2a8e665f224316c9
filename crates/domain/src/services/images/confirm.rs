//! Confirmation: verifying a stored upload, having it processed, publishing it and marking
//! it ready, or rejecting it and removing what it stored. Publication stores the variants
//! first (named in the record before they are stored, so no stored object goes unnamed),
//! then the image.
//!
//! The object is read at most twice: its metadata and first bytes in one request (all of
//! a small file), then, once a processing turn is held, the whole of the same version (by
//! its ETag). The head alone decides everything that can be refused early (size, asserted
//! lengths, ETag, checksum, type, pixel area, the decoding cost it already shows), so a
//! refused upload costs a head's bytes; the whole is needed anyway to process it, and it
//! decides the rest (a file cut short, every frame, the exact cost).
//!
//! One confirmation of a key runs at a time in a process: a concurrent one waits for it
//! and answers what it decided. Across replicas the record's transitions decide; the one
//! that finds another still at work answers `Busy`, with a time to come back.

use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;

use crate::actor::Actor;
use crate::error::RepositoryError;
use crate::events::EventKind;
use crate::image::{Channel, Image, ImageStatus, ImageType, ReadyImage, Variant, staging_key};
use crate::processing::{INSPECT_HEAD_LEN, ProcessError, Processed, Rendition, variant_key};
use crate::storage::{ObjectKey, ObjectMeta, StorageError, stream_of};

use super::verify::{Rejection, check_body, check_cost, check_head};
use super::{Confirmation, ImageError, Images, ProcessingLimits};

/// Why a confirmation stopped before the image was ready.
enum Halt {
    /// Verification refused the upload: it is rejected and what it stored removed.
    Reject(Rejection),
    /// Another confirmation decided first: its decision is the answer.
    Settled,
    /// The upload was deleted or expired while it was confirmed.
    Removed,
    /// The answer as it is (not uploaded, busy, the store or the database failed).
    Answer(ImageError),
}

impl From<ImageError> for Halt {
    fn from(e: ImageError) -> Self {
        Self::Answer(e)
    }
}

impl From<RepositoryError> for Halt {
    fn from(e: RepositoryError) -> Self {
        Self::Answer(e.into())
    }
}

impl From<StorageError> for Halt {
    fn from(e: StorageError) -> Self {
        Self::Answer(e.into())
    }
}

impl Images {
    /// Confirms an upload (the upload pipeline API's callback): idempotent for a ready
    /// image.
    ///
    /// # Errors
    /// `NotFound` (no such upload, expired or deleted, or
    /// another account's), `ChannelMismatch`, `NotUploaded`, `Rejected`, `Busy`,
    /// `StorageUnavailable`.
    #[tracing::instrument(skip(self, actor, c), fields(channel = %channel), err(level = "info"))]
    pub async fn confirm(
        &self,
        actor: &Actor,
        channel: Channel,
        key: &ObjectKey,
        c: &Confirmation,
    ) -> Result<Image, ImageError> {
        let image = self
            .repo
            .find_by_key(key)
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
    pub(super) async fn reject(
        &self,
        image: &Image,
        rejection: Rejection,
    ) -> Result<Image, ImageError> {
        if !self.mark_rejected(image).await? {
            return self.settled(image).await;
        }
        let kind = rejection.kind();
        tracing::info!(key = %image.key, reason = %rejection, kind = kind.as_str(), "upload rejected");
        self.observer.rejected(kind);
        // As recorded now: it may name variants stored since `image` was read.
        let recorded = self.repo.find_by_key(&image.key).await?;
        self.purge_or_leave(recorded.as_ref().unwrap_or(image))
            .await;
        Err(ImageError::Rejected(rejection.to_string()))
    }

    /// Verifies the stored bytes ([`super::verify`]), has them processed (decoded,
    /// stripped of metadata, variants rendered) and publishes the result at the final key
    /// (`publish`, below), then marks the record ready. Only bytes read from the
    /// verified version (by its ETag) are ever published.
    pub(super) async fn verify_and_promote(
        &self,
        image: Image,
        c: &Confirmation,
    ) -> Result<Image, ImageError> {
        let (_one, waited) = self.in_flight.enter(&image.key).await;
        // Another confirmation of this key ran meanwhile: what it decided stands.
        if waited && !self.still_pending(&image).await? {
            return self.settled(&image).await;
        }
        match self.promote(&image, c).await {
            Ok(ready) => Ok(ready),
            Err(Halt::Reject(rejection)) => self.reject(&image, rejection).await,
            Err(Halt::Settled) => self.settled(&image).await,
            Err(Halt::Removed) => self.lost_to_removal(&image).await,
            Err(Halt::Answer(e)) => Err(e),
        }
    }

    async fn still_pending(&self, image: &Image) -> Result<bool, ImageError> {
        let now = self.repo.find_by_key(&image.key).await?;
        Ok(now.is_some_and(|i| i.status == ImageStatus::Pending))
    }

    /// The confirmation's steps, in order; see the module's header for the reads.
    async fn promote(&self, image: &Image, c: &Confirmation) -> Result<Image, Halt> {
        let (source, head, bytes) = self.locate(image).await?;
        let inspected = self.processor.inspect(&bytes, head.size);
        let seen = check_head(image, &head, inspected, c, &self.policy).map_err(Halt::Reject)?;
        // The decoding budget as far as the head shows it (all of a small file): an
        // animation that costs too much is refused before it waits for a turn.
        let limits = *self.admission.limits();
        check_cost(&seen.cost, &limits).map_err(Halt::Reject)?;
        // A turn before the whole object is read: waiting costs the head's bytes only.
        let turn = self
            .admission
            .enter()
            .await
            .map_err(|busy| ImageError::Busy {
                retry_after: busy.retry_after,
            })?;
        // A small file was whole in its head, and inspected whole already.
        let (whole, inspected) = if head.size <= bytes.len() as u64 {
            (bytes, Ok(seen.clone()))
        } else {
            let whole = self
                .read_same_version(&source, &head.etag, head.size)
                .await?;
            let inspected = self.processor.inspect(&whole, head.size);
            (whole, inspected)
        };
        let seen = check_body(&seen, inspected, &self.policy, &limits).map_err(Halt::Reject)?;
        // Checks that need every byte (a scan, a perceptual hash) belong here: after the
        // structure is proven, before any pixel is decoded or anything published.
        let processed = self
            .process_in_turn(turn, whole, seen.kind, &limits)
            .await?;
        self.finish(image, source, head, seen.kind, processed).await
    }

    /// The object to confirm, its metadata and first bytes, in one request: the staged
    /// upload, or, after a crash between publication and the record update, the final
    /// key (only processed bytes ever get there), to finish from there.
    async fn locate(&self, image: &Image) -> Result<(ObjectKey, ObjectMeta, Bytes), Halt> {
        let staged = staging_key(&image.key);
        for source in [staged, image.key.clone()] {
            if let Some((head, bytes)) = self.store.read_head(&source, INSPECT_HEAD_LEN).await? {
                return Ok((source, head, bytes));
            }
        }
        Err(Halt::Answer(ImageError::NotUploaded))
    }

    /// Publishes what processing made of the upload and marks the record ready.
    async fn finish(
        &self,
        image: &Image,
        source: ObjectKey,
        head: ObjectMeta,
        kind: ImageType,
        processed: Processed,
    ) -> Result<Image, Halt> {
        let Processed {
            published,
            stripped,
            width,
            height,
            renditions,
            blurhash,
        } = processed;
        let publication = Publication {
            source: &source,
            head,
            kind,
            published,
            stripped,
            renditions,
        };
        let Published {
            meta,
            variants,
            variant_bytes,
        } = self.publish(image, publication).await?;
        let now = self.clock.now();
        let ready = ReadyImage {
            content_type: kind,
            size: meta.size,
            etag: meta.etag,
            width,
            height,
            confirmed_at: now,
            expires_at: image.channel.retention().map(|r| now + r),
            // Decided at issue; a record issued before that was recorded decides now.
            private: image.private || self.policy.private_channels.contains(&image.channel),
            variants,
            blurhash,
            variant_bytes,
        };
        let events = self.ready_events(image, &ready);
        let Some(confirmed) = self.repo.mark_ready(image.id, ready, events).await? else {
            return Err(Halt::Removed);
        };
        self.observer.confirmed(image.channel);
        if image.channel == Channel::Profile {
            self.reconcile_avatar(image.uploader).await?;
        }
        Ok(confirmed)
    }

    /// Processes `whole` in a task of its own that holds `turn` until the work ends, and
    /// waits for it until the deadline (and a second's grace for the processor to notice
    /// it): a processor that overruns costs its turn, never the request's answer.
    async fn process_in_turn(
        &self,
        turn: OwnedSemaphorePermit,
        whole: Bytes,
        kind: ImageType,
        limits: &ProcessingLimits,
    ) -> Result<Processed, Halt> {
        let deadline = std::time::Instant::now() + limits.deadline;
        let processor = std::sync::Arc::clone(&self.processor);
        let presets = self.policy.variants.clone();
        let max_pixels = self.policy.max_pixels;
        let work = tokio::spawn(async move {
            let _turn = turn;
            processor
                .process(whole, kind, &presets, max_pixels, deadline)
                .await
        });
        let grace = limits.deadline + std::time::Duration::from_secs(1);
        let too_slow = || {
            Halt::Reject(Rejection::TooSlow {
                secs: limits.deadline.as_secs(),
            })
        };
        match tokio::time::timeout(grace, work).await {
            Ok(Ok(Ok(done))) => Ok(done),
            Ok(Ok(Err(ProcessError::Undecodable(why)))) => {
                Err(Halt::Reject(Rejection::Undecodable(why)))
            }
            Ok(Ok(Err(ProcessError::OverDeadline))) | Err(_) => Err(too_slow()),
            Ok(Ok(Err(ProcessError::Failed(e)))) => Err(ImageError::Processing(e).into()),
            Ok(Err(panicked)) => Err(ImageError::Processing(panicked.into()).into()),
        }
    }

    /// The first `len` bytes of the version whose head was read (ETag `etag`): refused
    /// as changed when the object was replaced meanwhile, settled when a concurrent
    /// confirmation promoted it.
    async fn read_same_version(
        &self,
        source: &ObjectKey,
        etag: &str,
        len: u64,
    ) -> Result<Bytes, Halt> {
        match self
            .store
            .read_range(source, 0, len, Some(etag.to_owned()))
            .await
        {
            Ok(b) => Ok(b),
            Err(StorageError::PreconditionFailed) => Err(Halt::Reject(Rejection::Changed)),
            Err(StorageError::NotFound) => Err(Halt::Settled),
            Err(e) => Err(e.into()),
        }
    }

    /// After publishing, the record was no longer pending: a concurrent confirmation won
    /// (its answer stands), or the upload was deleted or expired meanwhile. Then the
    /// removal purged the record as it read it, perhaps before this confirmation stored
    /// its objects: they are removed again, as the record now names them (variants
    /// included), so no object is left that no record names.
    async fn lost_to_removal(&self, image: &Image) -> Result<Image, ImageError> {
        match self.repo.find_by_key(&image.key).await? {
            Some(recorded)
                if !matches!(recorded.status, ImageStatus::Pending | ImageStatus::Ready) =>
            {
                tracing::info!(key = %image.key, "removed while confirmed: its objects go too");
                self.purge_or_leave(&recorded).await;
                Err(ImageError::NotFound)
            }
            _ => self.settled(image).await,
        }
    }

    /// What another confirmation of `image` decided, read once. One still at work (on
    /// another replica: here, confirmations of a key wait for each other) is answered
    /// `Busy`: the client comes back for its decision.
    pub(super) async fn settled(&self, image: &Image) -> Result<Image, ImageError> {
        match self.repo.find_by_key(&image.key).await? {
            Some(i) if i.status == ImageStatus::Ready => Ok(i),
            Some(i) if i.status == ImageStatus::Rejected => Err(ImageError::Rejected(
                "the upload failed verification".into(),
            )),
            Some(i) if i.status == ImageStatus::Pending => Err(ImageError::Busy {
                retry_after: std::time::Duration::from_secs(1),
            }),
            _ => Err(ImageError::NotFound),
        }
    }
}

/// What confirmation publishes, from where: the verified version's key and head, its
/// type, and what processing made of it.
struct Publication<'a> {
    source: &'a ObjectKey,
    head: ObjectMeta,
    kind: ImageType,
    published: Bytes,
    stripped: bool,
    renditions: Vec<Rendition>,
}

/// What publication stored: the final object's metadata, the variants and the bytes
/// they take.
struct Published {
    meta: ObjectMeta,
    variants: Vec<Variant>,
    variant_bytes: u64,
}

impl Images {
    /// Publishes what processing made of a verified upload: names the variants in the
    /// record, stores them, then writes the image at the final key (the processed bytes,
    /// or the verified version copied on its ETag when nothing was removed).
    async fn publish(&self, image: &Image, p: Publication<'_>) -> Result<Published, Halt> {
        let staged = staging_key(&image.key);
        let variants: Vec<Variant> = p
            .renditions
            .iter()
            .map(|r| Variant {
                name: r.name.as_str().to_owned(),
                key: variant_key(&image.key, &r.name),
                width: r.width,
                height: r.height,
                content_type: ImageType::Webp,
            })
            .collect();
        let named =
            variants.is_empty() || self.repo.name_variants(image.id, variants.clone()).await?;
        if !named {
            return Err(Halt::Settled);
        }
        let variant_bytes = p.renditions.iter().map(|r| r.bytes.len() as u64).sum();
        for (r, v) in p.renditions.into_iter().zip(&variants) {
            self.store
                .put(&v.key, stream_of(r.bytes), ImageType::Webp.mime(), u64::MAX)
                .await?;
        }
        let mime = p.kind.mime();
        let meta = match (*p.source == staged, p.stripped) {
            // Nothing to remove: the verified version is copied as it is.
            (true, false) => match self
                .store
                .promote(&staged, &image.key, &p.head.etag, mime)
                .await
            {
                Ok(m) => m,
                Err(StorageError::PreconditionFailed) => {
                    return Err(Halt::Reject(Rejection::Changed));
                }
                // A concurrent confirmation published it first.
                Err(StorageError::NotFound) => return Err(Halt::Settled),
                Err(e) => return Err(e.into()),
            },
            (from_staging, true) => {
                let meta = self
                    .store
                    .put(
                        &image.key,
                        stream_of(p.published),
                        mime,
                        self.policy.max_size,
                    )
                    .await?;
                if from_staging && let Err(e) = self.store.delete(&staged).await {
                    tracing::warn!(key = %staged, error = %e, "staged upload left for the sweeper");
                }
                meta
            }
            // Published already (a crash came before the record was marked ready).
            (false, false) => p.head,
        };
        Ok(Published {
            meta,
            variants,
            variant_bytes,
        })
    }

    /// The `image.ready` events of `image`, confirmed as `ready`.
    fn ready_events(&self, image: &Image, ready: &ReadyImage) -> Vec<crate::outbox::NewJob> {
        let variants: serde_json::Map<_, _> = ready
            .variants
            .iter()
            .map(|v| {
                let about = serde_json::json!({
                    "key": v.key,
                    "width": v.width,
                    "height": v.height,
                    "content_type": v.content_type,
                });
                (v.name.clone(), about)
            })
            .collect();
        self.event(
            EventKind::ImageReady,
            image,
            serde_json::json!({
                "content_type": ready.content_type.mime(),
                "width": ready.width,
                "height": ready.height,
                "blurhash": ready.blurhash,
                "variants": variants,
            }),
        )
    }
}
