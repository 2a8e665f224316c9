//! `Outbox` on SQL. A job is claimed by a conditional `UPDATE … WHERE id = ? AND (lease
//! free)`: the database's row lock makes concurrent workers (threads or replicas) take each
//! job once, on PostgreSQL and SQLite alike.

use async_trait::async_trait;
use domain::{AccountId, JobRecord, JobState, Outbox, OutboxJob, RepositoryError};
use sea_orm::sea_query::{Condition, Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use time::{Duration, OffsetDateTime};

use crate::codec::{corrupt, instant, micros};
use crate::entity::outbox;
use crate::{SqlStore, translate};

fn lease_free(now: i64) -> Condition {
    Condition::any()
        .add(outbox::Column::LockedUntil.is_null())
        .add(outbox::Column::LockedUntil.lte(now))
}

/// Error texts are for operators; bounded so a huge provider answer cannot bloat the row.
fn bounded(error: &str) -> String {
    error.chars().take(1000).collect()
}

impl SqlStore {
    /// Ends a job's lease, setting `columns` and the last error, unless it is already done.
    async fn settle(
        &self,
        id: i64,
        columns: Vec<(outbox::Column, sea_orm::sea_query::SimpleExpr)>,
        error: Option<&str>,
    ) -> Result<(), RepositoryError> {
        let mut update = outbox::Entity::update_many().col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<i64>::None),
        );
        for (column, value) in columns {
            update = update.col_expr(column, value);
        }
        if let Some(e) = error {
            update = update.col_expr(outbox::Column::LastError, Expr::value(bounded(e)));
        }
        update
            .filter(outbox::Column::Id.eq(id))
            .filter(outbox::Column::DoneAt.is_null())
            .exec(self.conn())
            .await
            .map_err(translate)?;
        Ok(())
    }
}

#[async_trait]
impl Outbox for SqlStore {
    async fn enqueue(
        &self,
        topic: &str,
        payload: serde_json::Value,
        at: OffsetDateTime,
    ) -> Result<i64, RepositoryError> {
        let row = outbox::ActiveModel {
            topic: Set(topic.to_owned()),
            payload: Set(payload.to_string()),
            attempts: Set(0),
            next_attempt_at: Set(micros(at)),
            locked_until: Set(None),
            done_at: Set(None),
            failed_at: Set(None),
            last_error: Set(None),
            created_at: Set(micros(at)),
            account_id: Set(None),
            ..Default::default()
        }
        .insert(self.conn())
        .await
        .map_err(translate)?;
        Ok(row.id)
    }

    async fn claim(
        &self,
        topic: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxJob>, RepositoryError> {
        let now_us = micros(now);
        let candidates = outbox::Entity::find()
            .filter(outbox::Column::Topic.eq(topic))
            .filter(outbox::Column::DoneAt.is_null())
            .filter(outbox::Column::FailedAt.is_null())
            .filter(outbox::Column::NextAttemptAt.lte(now_us))
            .filter(lease_free(now_us))
            .order_by_asc(outbox::Column::Id)
            .limit(u64::from(limit))
            .all(self.conn())
            .await
            .map_err(translate)?;
        let until = micros(now + lease);
        let mut claimed = Vec::with_capacity(candidates.len());
        for c in candidates {
            let won = outbox::Entity::update_many()
                .col_expr(outbox::Column::LockedUntil, Expr::value(until))
                .col_expr(
                    outbox::Column::Attempts,
                    Expr::col(outbox::Column::Attempts).add(1),
                )
                .filter(outbox::Column::Id.eq(c.id))
                .filter(outbox::Column::DoneAt.is_null())
                .filter(outbox::Column::FailedAt.is_null())
                .filter(lease_free(now_us))
                .exec(self.conn())
                .await
                .map_err(translate)?;
            if won.rows_affected == 1 {
                claimed.push(OutboxJob {
                    id: c.id,
                    topic: c.topic,
                    payload: serde_json::from_str(&c.payload).map_err(corrupt)?,
                    attempts: u32::try_from(c.attempts + 1).map_err(corrupt)?,
                    created_at: instant(c.created_at)?,
                    batch: c.batch,
                });
            }
        }
        Ok(claimed)
    }

    async fn stamp(&self, ids: &[i64], batch: &str) -> Result<(), RepositoryError> {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::Batch, Expr::value(batch))
            .filter(outbox::Column::Id.is_in(ids.iter().copied()))
            .exec(self.conn())
            .await
            .map_err(translate)?;
        Ok(())
    }

    async fn complete(&self, id: i64, at: OffsetDateTime) -> Result<(), RepositoryError> {
        self.settle(
            id,
            vec![(outbox::Column::DoneAt, Expr::value(micros(at)))],
            None,
        )
        .await
    }

    async fn retry(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
    ) -> Result<(), RepositoryError> {
        let next = (
            outbox::Column::NextAttemptAt,
            Expr::value(micros(next_attempt_at)),
        );
        self.settle(id, vec![next], Some(error)).await
    }

    async fn fail(&self, id: i64, error: &str, at: OffsetDateTime) -> Result<(), RepositoryError> {
        let failed = (outbox::Column::FailedAt, Expr::value(micros(at)));
        self.settle(id, vec![failed], Some(error)).await
    }

    async fn skip(&self, id: i64, reason: &str, at: OffsetDateTime) -> Result<(), RepositoryError> {
        let done = (outbox::Column::DoneAt, Expr::value(micros(at)));
        self.settle(id, vec![done], Some(reason)).await
    }

    async fn about(
        &self,
        account: AccountId,
        topic: &str,
    ) -> Result<Vec<JobRecord>, RepositoryError> {
        outbox::Entity::find()
            .filter(outbox::Column::AccountId.eq(account.get()))
            .filter(outbox::Column::Topic.eq(topic))
            .order_by_asc(outbox::Column::Id)
            .all(self.conn())
            .await
            .map_err(translate)?
            .into_iter()
            .map(|row| {
                // A skip is recorded as done with a reason; a delivery as done without one.
                let state = match (row.done_at, row.failed_at, row.last_error.is_some()) {
                    (_, Some(at), _) => JobState::Failed(instant(at)?),
                    (Some(at), None, true) => JobState::Skipped(instant(at)?),
                    (Some(at), None, false) => JobState::Delivered(instant(at)?),
                    (None, None, _) => JobState::Pending,
                };
                Ok(JobRecord {
                    job: OutboxJob {
                        id: row.id,
                        topic: row.topic,
                        payload: serde_json::from_str(&row.payload).map_err(corrupt)?,
                        attempts: u32::try_from(row.attempts).map_err(corrupt)?,
                        created_at: instant(row.created_at)?,
                        batch: row.batch,
                    },
                    state,
                })
            })
            .collect()
    }

    async fn depth(&self, topic: &str) -> Result<u64, RepositoryError> {
        outbox::Entity::find()
            .filter(outbox::Column::Topic.eq(topic))
            .filter(outbox::Column::DoneAt.is_null())
            .filter(outbox::Column::FailedAt.is_null())
            .count(self.conn())
            .await
            .map_err(translate)
    }
}
