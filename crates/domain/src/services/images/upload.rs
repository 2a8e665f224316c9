//! The upload state machine: issuing an upload (presigned or through the service),
//! confirming it (verify, promote, mark ready), and reading a ready image's record, which
//! confirms a pending one for its uploader.

use crate::account::{AccountId, Role};
use crate::actor::Actor;
use crate::image::{
    Channel, Image, ImageStatus, ImageType, InsertImageError, NewImage, ReadyImage, Variant,
    staging_key,
};
use crate::processing::{ProcessError, Processed, Rendition, variant_key};
use crate::sniff::{SNIFF_LEN, TAIL_LEN};
use crate::storage::{ByteStream, ObjectKey, ObjectMeta, PutConditions, StorageError, stream_of};
use crate::upload::UploadSpec;

use super::verify::{Rejection, check_body, check_cost, check_head, needs_whole};
use super::{Confirmation, ImageError, Images, IssuedUpload, random_part};
use crate::events::EventKind;

/// What confirmation publishes, from where: the verified version's key and head, its
/// type, and what processing made of it.
struct Publication<'a> {
    source: &'a ObjectKey,
    head: ObjectMeta,
    kind: ImageType,
    published: bytes::Bytes,
    stripped: bool,
    renditions: Vec<Rendition>,
}

impl Images {
    async fn insert_pending(
        &self,
        channel: Channel,
        uploader: AccountId,
        p: &UploadSpec,
    ) -> Result<Image, ImageError> {
        let now = self.clock.now();
        let mut metadata = p.metadata.clone();
        metadata.insert(
            "channel".into(),
            serde_json::Value::String(channel.as_str().into()),
        );
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
                    metadata,
                    created_at: now,
                    expires_at: now + self.policy.pending_ttl,
                    private: self.policy.private_channels.contains(&channel),
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
    /// `LimitExceeded`, `StorageUnavailable`.
    #[tracing::instrument(skip(self, p), fields(channel = %channel), err(level = "info"))]
    pub async fn issue(
        &self,
        uploader: AccountId,
        channel: Channel,
        p: &UploadSpec,
    ) -> Result<IssuedUpload, ImageError> {
        let image = self.insert_pending(channel, uploader, p).await?;
        let conditions = PutConditions {
            content_type: p.kind.map(|k| k.mime().to_owned()),
            content_length: p.content_length,
            checksum_sha256: p.checksum.clone(),
            expires_in: self.policy.presign_ttl,
        };
        match self
            .store
            .presign_put(&staging_key(&image.key), &conditions)
            .await
        {
            Ok(put) => {
                self.observer.issued(channel);
                let read = self.url_of(&image).await?;
                Ok(IssuedUpload {
                    cdn_url: read.url,
                    cdn_url_expires_at: read.expires_at,
                    upload_url: put.url,
                    required_headers: put.headers,
                    expires_in: self.policy.presign_ttl.as_secs(),
                    image,
                })
            }
            Err(e) => {
                self.mark_rejected(&image).await?;
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
        spec: &UploadSpec,
    ) -> Result<IssuedUpload, ImageError> {
        if !actor.is(account) {
            return Err(ImageError::Forbidden);
        }
        self.issue(account, channel, spec).await
    }

    /// Uploads through the service (seed 002's multipart route): the body streams to the
    /// staging key, then goes through the same verification as a callback.
    ///
    /// # Errors
    /// As `issue` and `confirm`, and `TooLarge`.
    #[tracing::instrument(skip(self, p, body), fields(channel = %channel), err(level = "info"))]
    pub async fn upload(
        &self,
        uploader: AccountId,
        channel: Channel,
        p: &UploadSpec,
        body: ByteStream,
    ) -> Result<Image, ImageError> {
        let image = self.insert_pending(channel, uploader, p).await?;
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
            self.mark_rejected(&image).await?;
            return Err(match e {
                StorageError::TooLarge { limit } => ImageError::TooLarge(limit),
                other => other.into(),
            });
        }
        self.verify_and_promote(image, &Confirmation::default())
            .await
    }

    /// Marks a pending upload rejected; `false` when it was no longer pending. Also for an
    /// upload whose bytes can never arrive (its URL could not be issued, its body failed):
    /// no record may point at an upload that cannot happen.
    async fn mark_rejected(&self, image: &Image) -> Result<bool, ImageError> {
        Ok(self
            .repo
            .transition(
                image.id,
                ImageStatus::Pending,
                ImageStatus::Rejected,
                self.clock.now(),
            )
            .await?)
    }

    /// Confirms an upload (seed 003's callback): idempotent for a ready image.
    ///
    /// # Errors
    /// `NotFound` (no such upload, expired or deleted, or
    /// another account's), `ChannelMismatch`, `NotUploaded`, `Rejected`,
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
    /// stripped of metadata, variants rendered) and publishes the result at the final key:
    /// the variants first, named in the record before they are stored, then the image,
    /// then the record is marked ready. Only bytes read from the verified version (by its
    /// ETag) are ever published.
    pub(super) async fn verify_and_promote(
        &self,
        image: Image,
        c: &Confirmation,
    ) -> Result<Image, ImageError> {
        let staged = staging_key(&image.key);
        // The object's metadata and first bytes in one request. After a crash between
        // publication and the record update, the bytes are already at the final key (only
        // processed bytes ever get there): finish from there.
        let (source, head, bytes) = match self.store.read_head(&staged, SNIFF_LEN).await? {
            Some((h, b)) => (staged.clone(), h, b),
            None => match self.store.read_head(&image.key, SNIFF_LEN).await? {
                Some((h, b)) => (image.key.clone(), h, b),
                None => return Err(ImageError::NotUploaded),
            },
        };
        let sniffed = match check_head(&image, &head, &bytes, c, &self.policy) {
            Ok(s) => s,
            Err(rejection) => return self.reject(&image, rejection).await,
        };
        // A file cut short is refused from its last bytes, before it waits for a turn.
        let read_all = head.size <= bytes.len() as u64;
        let tail = if read_all {
            bytes.clone()
        } else {
            let at = head.size - TAIL_LEN;
            match self
                .read_same_version(&image, &source, &head.etag, at, TAIL_LEN)
                .await
            {
                Ok(b) => b,
                Err(answer) => return answer,
            }
        };
        if let Err(rejection) = check_body(&sniffed, &bytes, &tail, head.size, None, &self.policy) {
            return self.reject(&image, rejection).await;
        }
        // The decoding budget as far as the head shows it (all of a small file): an
        // animation that costs too much is refused before it waits for a turn.
        let limits = *self.admission.limits();
        if let Err(rejection) = check_cost(&sniffed, &bytes, &limits) {
            return self.reject(&image, rejection).await;
        }
        // A turn before the whole object is read: waiting costs the head's bytes only.
        let turn = self
            .admission
            .enter()
            .await
            .map_err(|busy| ImageError::Busy {
                retry_after: busy.retry_after,
            })?;
        let whole = if read_all {
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
        let structure = needs_whole(sniffed.kind, &bytes, &tail).then_some(&whole[..]);
        if let Err(rejection) =
            check_body(&sniffed, &bytes, &tail, head.size, structure, &self.policy)
                .and_then(|()| check_cost(&sniffed, &whole, &limits).map(drop))
        {
            return self.reject(&image, rejection).await;
        }
        let processed = match self
            .process_in_turn(turn, whole, sniffed.kind, &limits)
            .await
        {
            Ok(p) => p,
            Err(ProcessError::Undecodable(why)) => {
                return self.reject(&image, Rejection::Undecodable(why)).await;
            }
            Err(ProcessError::OverDeadline) => {
                let secs = limits.deadline.as_secs();
                return self.reject(&image, Rejection::TooSlow { secs }).await;
            }
            Err(ProcessError::Failed(e)) => return Err(ImageError::Processing(e)),
        };
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
            kind: sniffed.kind,
            published,
            stripped,
            renditions,
        };
        let (meta, variants, variant_bytes) = match self.publish(&image, publication).await {
            Ok(done) => done,
            Err(answer) => return answer,
        };
        let now = self.clock.now();
        let ready = ReadyImage {
            content_type: sniffed.kind,
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
        let events = self.ready_events(&image, &ready);
        let Some(confirmed) = self.repo.mark_ready(image.id, ready, events).await? else {
            return self.lost_to_removal(&image).await;
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
        turn: tokio::sync::OwnedSemaphorePermit,
        whole: bytes::Bytes,
        kind: ImageType,
        limits: &super::ProcessingLimits,
    ) -> Result<Processed, ProcessError> {
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
        match tokio::time::timeout(grace, work).await {
            Ok(Ok(done)) => done,
            Ok(Err(panicked)) => Err(ProcessError::Failed(panicked.into())),
            Err(_) => Err(ProcessError::OverDeadline),
        }
    }

    /// Publishes what processing made of a verified upload: names the variants in the
    /// record, stores them, then writes the image at the final key (the processed bytes,
    /// or the verified version copied on its ETag when nothing was removed). Returns the
    /// final object's metadata, the variants and the bytes they take. `Err` carries the
    /// confirmation's answer when another confirmation decided first, the object changed,
    /// or the store failed.
    async fn publish(
        &self,
        image: &Image,
        p: Publication<'_>,
    ) -> Result<(ObjectMeta, Vec<Variant>, u64), Result<Image, ImageError>> {
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
        let named = variants.is_empty()
            || self
                .repo
                .name_variants(image.id, variants.clone())
                .await
                .map_err(|e| Err(e.into()))?;
        if !named {
            return Err(self.settled(image).await);
        }
        let variant_bytes = p.renditions.iter().map(|r| r.bytes.len() as u64).sum();
        for (r, v) in p.renditions.into_iter().zip(&variants) {
            self.store
                .put(&v.key, stream_of(r.bytes), ImageType::Webp.mime(), u64::MAX)
                .await
                .map_err(|e| Err(e.into()))?;
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
                    return Err(self.reject(image, Rejection::Changed).await);
                }
                // A concurrent confirmation published it first.
                Err(StorageError::NotFound) => return Err(self.settled(image).await),
                Err(e) => return Err(Err(e.into())),
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
                    .await
                    .map_err(|e| Err(e.into()))?;
                if from_staging && let Err(e) = self.store.delete(&staged).await {
                    tracing::warn!(key = %staged, error = %e, "staged upload left for the sweeper");
                }
                meta
            }
            // Published already (a crash came before the record was marked ready).
            (false, false) => p.head,
        };
        Ok((meta, variants, variant_bytes))
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
            Err(StorageError::PreconditionFailed) => {
                Err(self.reject(image, Rejection::Changed).await)
            }
            Err(StorageError::NotFound) => Err(self.settled(image).await),
            Err(e) => Err(Err(e.into())),
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

    /// After losing a race to a concurrent confirmation: waits (briefly) for the winner
    /// to finish, and answers what it decided, so every caller agrees.
    pub(super) async fn settled(&self, image: &Image) -> Result<Image, ImageError> {
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

    /// A ready image's record, for its uploader, STAFF, ADMIN and SERVER. Others get
    /// `NotFound`: whether someone else's image exists is private.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn metadata(&self, actor: &Actor, key: &ObjectKey) -> Result<Image, ImageError> {
        // Behind [`crate::Cached`], a ready image's record comes from memory when fresh.
        let image = self
            .repo
            .find_by_key(key)
            .await?
            .ok_or(ImageError::NotFound)?;
        let visible = Self::may_manage(actor, &image) || actor.has(Role::Server);
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
}
