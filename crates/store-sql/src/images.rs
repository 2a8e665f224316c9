//! `ImageRepository` on SQL.

use async_trait::async_trait;
use domain::{
    AccountId, Channel, Image, ImageFilter, ImageId, ImageRepository, ImageStatus, ImageType,
    InsertImageError, NewAuditEntry, NewImage, NewJob, ObjectKey, ReadyImage, RepositoryError,
    UploadLimit, UploadLimits, Variant,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use time::OffsetDateTime;

use crate::accounts::lock_account;
use crate::audit::append;
use crate::codec::{corrupt, instant, micros};
use crate::entity::images;
use crate::outbox::write_jobs;
use crate::{SqlStore, finish, translate};

fn to_domain(m: images::Model) -> Result<Image, RepositoryError> {
    let metadata = match serde_json::from_str(&m.metadata).map_err(corrupt)? {
        serde_json::Value::Object(map) => map,
        _ => return Err(corrupt("image metadata is not an object")),
    };
    let unsigned = |v: Option<i64>| v.map(|n| u64::try_from(n).map_err(corrupt)).transpose();
    let dim = |v: Option<i32>| v.map(|n| u32::try_from(n).map_err(corrupt)).transpose();
    Ok(Image {
        id: ImageId::new(m.id),
        key: ObjectKey::parse(&m.key).map_err(corrupt)?,
        channel: m.channel.parse::<Channel>().map_err(corrupt)?,
        status: m.status.parse::<ImageStatus>().map_err(corrupt)?,
        uploader: AccountId::new(m.uploader_id),
        // Empty while an upload that declared no type is pending.
        content_type: Some(m.content_type.as_str())
            .filter(|t| !t.is_empty())
            .map(ImageType::from_mime)
            .transpose()
            .map_err(corrupt)?,
        declared_length: unsigned(m.declared_length)?,
        size: unsigned(m.size)?,
        etag: m.etag,
        width: dim(m.width)?,
        height: dim(m.height)?,
        metadata,
        original_filename: m.original_filename,
        checksum_sha256: m.checksum_sha256,
        created_at: instant(m.created_at)?,
        confirmed_at: m.confirmed_at.map(instant).transpose()?,
        expires_at: m.expires_at.map(instant).transpose()?,
        private: m.private,
        variants: serde_json::from_str(&m.variants).map_err(corrupt)?,
        blurhash: m.blurhash,
    })
}

fn variants_json(variants: &[Variant]) -> Result<String, RepositoryError> {
    serde_json::to_string(variants).map_err(corrupt)
}

fn signed(n: u64) -> Result<i64, RepositoryError> {
    i64::try_from(n).map_err(corrupt)
}

fn row(new: NewImage) -> Result<images::ActiveModel, RepositoryError> {
    Ok(images::ActiveModel {
        key: Set(new.key.as_str().to_owned()),
        channel: Set(new.channel.as_str().to_owned()),
        status: Set(ImageStatus::Pending.as_str().to_owned()),
        uploader_id: Set(new.uploader.get()),
        content_type: Set(new.content_type.map_or("", ImageType::mime).to_owned()),
        declared_length: Set(new.declared_length.map(signed).transpose()?),
        checksum_sha256: Set(new.checksum_sha256),
        original_filename: Set(new.original_filename),
        size: Set(None),
        etag: Set(None),
        width: Set(None),
        height: Set(None),
        metadata: Set(serde_json::Value::Object(new.metadata).to_string()),
        created_at: Set(micros(new.created_at)),
        updated_at: Set(micros(new.created_at)),
        confirmed_at: Set(None),
        expires_at: Set(Some(micros(new.expires_at))),
        private: Set(new.private),
        objects_removed_at: Set(None),
        variants: Set("[]".to_owned()),
        blurhash: Set(None),
        stored_bytes: Set(None),
        ..Default::default()
    })
}

/// The limit `new` would pass, if any: the account's counts read inside `db`.
async fn limit_passed(
    db: &impl ConnectionTrait,
    new: &NewImage,
    limits: UploadLimits,
) -> Result<Option<UploadLimit>, RepositoryError> {
    let mine = || images::Entity::find().filter(images::Column::UploaderId.eq(new.uploader.get()));
    // Counts stop at the limit, as `count_since` does for reports: `count` wraps the query,
    // LIMIT included, so a check costs no more than the limit whatever the account holds.
    let at_most = |max: u64| max.min(i64::MAX.unsigned_abs());
    if let Some(max) = limits.pending {
        let pending = mine()
            .select_only()
            .column(images::Column::Id)
            .filter(images::Column::Status.eq(ImageStatus::Pending.as_str()))
            .limit(at_most(max))
            .count(db)
            .await
            .map_err(translate)?;
        if pending >= max {
            return Ok(Some(UploadLimit::Pending(max)));
        }
    }
    if let Some(max) = limits.per_hour {
        let since = new.created_at - time::Duration::hours(1);
        let issued = mine()
            .select_only()
            .column(images::Column::Id)
            .filter(images::Column::CreatedAt.gte(micros(since)))
            .limit(at_most(max))
            .count(db)
            .await
            .map_err(translate)?;
        if issued >= max {
            return Ok(Some(UploadLimit::PerHour(max)));
        }
    }
    if let Some(quota) = limits.stored_bytes {
        // Ready images with their variants; pending ones at what they may still store.
        // SUM(bigint) is numeric on PostgreSQL: cast it back, on both databases.
        let undeclared = signed(limits.undeclared)?;
        let stored: Option<i64> = mine()
            .select_only()
            // A number of ours, written into the statement: no placeholder syntax
            // differs between the two databases.
            .expr(Expr::cust(format!(
                "CAST(COALESCE(SUM(CASE WHEN status = 'ready' THEN COALESCE(stored_bytes, size, 0) \
                 ELSE COALESCE(declared_length, {undeclared}) END), 0) AS BIGINT)"
            )))
            .filter(
                images::Column::Status
                    .is_in([ImageStatus::Ready.as_str(), ImageStatus::Pending.as_str()]),
            )
            .into_tuple()
            .one(db)
            .await
            .map_err(translate)?;
        let stored = u64::try_from(stored.unwrap_or(0)).map_err(corrupt)?;
        if stored >= quota {
            return Ok(Some(UploadLimit::Quota {
                bytes: quota,
                declared: false,
            }));
        }
        if stored.saturating_add(new.declared_length.unwrap_or(limits.undeclared)) > quota {
            return Ok(Some(UploadLimit::Quota {
                bytes: quota,
                declared: true,
            }));
        }
    }
    Ok(None)
}

#[async_trait]
impl ImageRepository for SqlStore {
    #[tracing::instrument(skip_all, fields(key = %new.key), err(level = "info"))]
    async fn insert(&self, new: NewImage) -> Result<Image, RepositoryError> {
        let row = row(new)?.insert(self.conn()).await.map_err(translate)?;
        to_domain(row)
    }

    #[tracing::instrument(skip_all, fields(key = %new.key), err(level = "info"))]
    async fn insert_within(
        &self,
        new: NewImage,
        limits: UploadLimits,
    ) -> Result<Image, InsertImageError> {
        if limits == UploadLimits::NONE {
            return Ok(self.insert(new).await?);
        }
        let txn = self.begin().await?;
        let work = async {
            // One account's uploads are counted and inserted one at a time on every
            // replica, so the counts below cannot be stale.
            lock_account(&txn, new.uploader).await?;
            if let Some(limit) = limit_passed(&txn, &new, limits).await? {
                return Err(InsertImageError::Limit(limit));
            }
            let row = row(new)?.insert(&txn).await.map_err(translate)?;
            Ok(to_domain(row)?)
        };
        let out = work.await;
        finish(txn, out).await
    }

    async fn find_by_key(&self, key: &ObjectKey) -> Result<Option<Image>, RepositoryError> {
        images::Entity::find()
            .filter(images::Column::Key.eq(key.as_str()))
            .one(self.conn())
            .await
            .map_err(translate)?
            .map(to_domain)
            .transpose()
    }

    async fn mark_ready(
        &self,
        id: ImageId,
        r: ReadyImage,
        enqueue: Vec<NewJob>,
    ) -> Result<Option<Image>, RepositoryError> {
        if enqueue.is_empty() {
            return ready(self.conn(), id, r).await;
        }
        let txn = self.begin().await?;
        let out = async {
            let at = r.confirmed_at;
            let marked = ready(&txn, id, r).await?;
            if marked.is_some() {
                write_jobs(&txn, enqueue, at).await?;
            }
            Ok(marked)
        }
        .await;
        finish(txn, out).await
    }

    async fn name_variants(
        &self,
        id: ImageId,
        variants: Vec<Variant>,
    ) -> Result<bool, RepositoryError> {
        let done = images::Entity::update_many()
            .col_expr(
                images::Column::Variants,
                Expr::value(variants_json(&variants)?),
            )
            .filter(images::Column::Id.eq(id.get()))
            .filter(images::Column::Status.eq(ImageStatus::Pending.as_str()))
            .exec(self.conn())
            .await
            .map_err(translate)?;
        Ok(done.rows_affected == 1)
    }

    async fn transition(
        &self,
        id: ImageId,
        from: ImageStatus,
        to: ImageStatus,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError> {
        move_status(self.conn(), id, from, to, at).await
    }

    async fn mark_deleted(
        &self,
        id: ImageId,
        from: ImageStatus,
        at: OffsetDateTime,
        audit: Option<NewAuditEntry>,
        enqueue: Vec<NewJob>,
    ) -> Result<bool, RepositoryError> {
        if audit.is_none() && enqueue.is_empty() {
            return move_status(self.conn(), id, from, ImageStatus::Deleted, at).await;
        }
        let txn = self.begin().await?;
        let out = async {
            let moved = move_status(&txn, id, from, ImageStatus::Deleted, at).await?;
            if moved {
                if let Some(entry) = &audit {
                    append(&txn, entry).await?;
                }
                write_jobs(&txn, enqueue, at).await?;
            }
            Ok(moved)
        }
        .await;
        finish(txn, out).await
    }

    async fn list(&self, f: ImageFilter, limit: u64) -> Result<Vec<Image>, RepositoryError> {
        let mut q = images::Entity::find();
        if let Some(u) = f.uploader {
            q = q.filter(images::Column::UploaderId.eq(u.get()));
        }
        if let Some(c) = f.channel {
            q = q.filter(images::Column::Channel.eq(c.as_str()));
        }
        if let Some(s) = f.status {
            q = q.filter(images::Column::Status.eq(s.as_str()));
        }
        if let Some(t) = f.expired_at {
            q = q.filter(images::Column::ExpiresAt.lte(micros(t)));
        }
        q.order_by_asc(images::Column::Id)
            .limit(limit)
            .all(self.conn())
            .await
            .map_err(translate)?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn awaiting_removal(&self, limit: u64) -> Result<Vec<Image>, RepositoryError> {
        images::Entity::find()
            .filter(images::Column::ObjectsRemovedAt.is_null())
            .filter(images::Column::Status.is_in(ImageStatus::GONE.map(ImageStatus::as_str)))
            .order_by_asc(images::Column::Id)
            .limit(limit)
            .all(self.conn())
            .await
            .map_err(translate)?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn mark_objects_removed(
        &self,
        id: ImageId,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError> {
        let res = images::Entity::update_many()
            .col_expr(images::Column::ObjectsRemovedAt, Expr::value(micros(at)))
            .filter(images::Column::Id.eq(id.get()))
            .filter(images::Column::ObjectsRemovedAt.is_null())
            .filter(images::Column::Status.is_in(ImageStatus::GONE.map(ImageStatus::as_str)))
            .exec(self.conn())
            .await
            .map_err(translate)?;
        Ok(res.rows_affected == 1)
    }
}

/// Moves an image from `from` to `to` on `conn`; `false` when it was not in `from`.
async fn move_status<C: ConnectionTrait>(
    conn: &C,
    id: ImageId,
    from: ImageStatus,
    to: ImageStatus,
    at: OffsetDateTime,
) -> Result<bool, RepositoryError> {
    let res = images::Entity::update_many()
        .col_expr(images::Column::Status, Expr::value(to.as_str()))
        .col_expr(images::Column::UpdatedAt, Expr::value(micros(at)))
        .filter(images::Column::Id.eq(id.get()))
        .filter(images::Column::Status.eq(from.as_str()))
        .exec(conn)
        .await
        .map_err(translate)?;
    Ok(res.rows_affected == 1)
}

/// Marks a pending image ready on `conn`; `None` when it was not pending.
async fn ready<C: ConnectionTrait>(
    conn: &C,
    id: ImageId,
    r: ReadyImage,
) -> Result<Option<Image>, RepositoryError> {
    // The updated row comes back with the update (RETURNING): no second read.
    let rows = images::Entity::update_many()
        .col_expr(
            images::Column::Status,
            Expr::value(ImageStatus::Ready.as_str()),
        )
        .col_expr(
            images::Column::ContentType,
            Expr::value(r.content_type.mime()),
        )
        .col_expr(images::Column::Size, Expr::value(signed(r.size)?))
        .col_expr(images::Column::Etag, Expr::value(r.etag))
        .col_expr(images::Column::Width, Expr::value(i64::from(r.width)))
        .col_expr(images::Column::Height, Expr::value(i64::from(r.height)))
        .col_expr(
            images::Column::ConfirmedAt,
            Expr::value(micros(r.confirmed_at)),
        )
        .col_expr(
            images::Column::UpdatedAt,
            Expr::value(micros(r.confirmed_at)),
        )
        .col_expr(
            images::Column::ExpiresAt,
            Expr::value(r.expires_at.map(micros)),
        )
        .col_expr(images::Column::Private, Expr::value(r.private))
        .col_expr(
            images::Column::Variants,
            Expr::value(variants_json(&r.variants)?),
        )
        .col_expr(images::Column::Blurhash, Expr::value(r.blurhash))
        .col_expr(
            images::Column::StoredBytes,
            Expr::value(signed(r.size.saturating_add(r.variant_bytes))?),
        )
        .filter(images::Column::Id.eq(id.get()))
        .filter(images::Column::Status.eq(ImageStatus::Pending.as_str()))
        .exec_with_returning(conn)
        .await
        .map_err(translate)?;
    rows.into_iter().next().map(to_domain).transpose()
}
