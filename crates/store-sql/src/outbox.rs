//! `Outbox` on SQL. A job is claimed by a conditional `UPDATE … WHERE id = ? AND (lease
//! free)`: the database's row lock makes concurrent workers (threads or replicas) take each
//! job once, on PostgreSQL and SQLite alike.

use async_trait::async_trait;
use domain::{AccountId, JobRecord, JobState, NewJob, Outbox, OutboxJob, Page, RepositoryError};
use sea_orm::sea_query::{Condition, Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
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

/// Writes `jobs` on `conn`, due at `at`: inside the transaction of the change they follow.
pub(crate) async fn write_jobs<C: ConnectionTrait>(
    conn: &C,
    jobs: impl IntoIterator<Item = NewJob>,
    at: OffsetDateTime,
) -> Result<(), RepositoryError> {
    for job in jobs {
        outbox::ActiveModel {
            topic: Set(job.topic.to_owned()),
            payload: Set(job.payload.to_string()),
            attempts: Set(0),
            next_attempt_at: Set(micros(at)),
            locked_until: Set(None),
            done_at: Set(None),
            failed_at: Set(None),
            last_error: Set(None),
            created_at: Set(micros(at)),
            account_id: Set(job.about.map(AccountId::get)),
            ..Default::default()
        }
        .insert(conn)
        .await
        .map_err(translate)?;
    }
    Ok(())
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
        // A delivery clears the error of an earlier attempt: a done job with an error is
        // one that was skipped, for that reason.
        self.settle(
            id,
            vec![
                (outbox::Column::DoneAt, Expr::value(micros(at))),
                (
                    outbox::Column::LastError,
                    Expr::value(Option::<String>::None),
                ),
            ],
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
            .map(record)
            .collect()
    }

    async fn failed(
        &self,
        topic: &str,
        page: Page,
    ) -> Result<(Vec<JobRecord>, u64), RepositoryError> {
        let q = outbox::Entity::find()
            .filter(outbox::Column::Topic.eq(topic))
            .filter(outbox::Column::FailedAt.is_not_null());
        let total = q.clone().count(self.conn()).await.map_err(translate)?;
        let rows = q
            .order_by_desc(outbox::Column::FailedAt)
            .order_by_desc(outbox::Column::Id)
            .offset(page.number * page.size)
            .limit(page.size)
            .all(self.conn())
            .await
            .map_err(translate)?;
        Ok((
            rows.into_iter().map(record).collect::<Result<_, _>>()?,
            total,
        ))
    }

    async fn redeliver(
        &self,
        topic: &str,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError> {
        let none = || Expr::value(Option::<i64>::None);
        let res = outbox::Entity::update_many()
            .col_expr(outbox::Column::FailedAt, none())
            .col_expr(outbox::Column::LockedUntil, none())
            .col_expr(outbox::Column::Attempts, Expr::value(0))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(micros(at)))
            .col_expr(
                outbox::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .filter(outbox::Column::Id.eq(id))
            .filter(outbox::Column::Topic.eq(topic))
            .filter(outbox::Column::FailedAt.is_not_null())
            .exec(self.conn())
            .await
            .map_err(translate)?;
        Ok(res.rows_affected == 1)
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

/// A row with where it stands. A skip is recorded as done with a reason; a delivery as
/// done without one.
fn record(row: outbox::Model) -> Result<JobRecord, RepositoryError> {
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
        last_error: row.last_error,
    })
}
