//! Publication: a verified upload's variants and image at their final keys, variants
//! first (named in the record before they are stored, so no stored object goes unnamed),
//! and the `image.ready` events.

use bytes::Bytes;

use crate::events::EventKind;
use crate::image::{Image, ImageType, ReadyImage, Variant, staging_key};
use crate::processing::{Rendition, variant_key};
use crate::storage::{ObjectKey, ObjectMeta, StorageError, stream_of};

use super::Images;
use super::confirm::Halt;
use super::verify::Rejection;

/// What confirmation publishes, from where: the verified version's key and head, its
/// type, and what processing made of it.
pub(super) struct Publication<'a> {
    pub(super) source: &'a ObjectKey,
    pub(super) head: ObjectMeta,
    pub(super) kind: ImageType,
    pub(super) published: Bytes,
    pub(super) stripped: bool,
    pub(super) renditions: Vec<Rendition>,
}

/// What publication stored: the final object's metadata, the variants and the bytes
/// they take.
pub(super) struct Published {
    pub(super) meta: ObjectMeta,
    pub(super) variants: Vec<Variant>,
    pub(super) variant_bytes: u64,
}

impl Images {
    /// Publishes what processing made of a verified upload: names the variants in the
    /// record, stores them, then writes the image at the final key (the processed bytes,
    /// or the verified version copied on its ETag when nothing was removed).
    pub(super) async fn publish(
        &self,
        image: &Image,
        p: Publication<'_>,
    ) -> Result<Published, Halt> {
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
    pub(super) fn ready_events(
        &self,
        image: &Image,
        ready: &ReadyImage,
    ) -> Vec<crate::outbox::NewJob> {
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
