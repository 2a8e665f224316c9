//! Issuing an upload (presigned or through the service) and reading a ready image's
//! record, which confirms a pending one for its uploader; confirmation itself is in
//! [`super::confirm`].

use crate::account::{AccountId, Role};
use crate::actor::Actor;
use crate::image::{
    Channel, Image, ImageStatus, ImageType, InsertImageError, NewImage, staging_key,
};
use crate::storage::{ByteStream, ObjectKey, PutConditions, StorageError};
use crate::upload::UploadSpec;

use super::{Confirmation, ImageError, Images, IssuedUpload, random_part};

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

    /// Issues an upload for `account`'s own images (the account API's profile image URL): only the
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

    /// Uploads through the service (the chat API's multipart route): the body streams to the
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
    pub(super) async fn mark_rejected(&self, image: &Image) -> Result<bool, ImageError> {
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
            // The images domain API has no callback: the uploader's first read confirms the upload.
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
