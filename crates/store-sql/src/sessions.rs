//! `SessionRepository` on SQL.

use async_trait::async_trait;
use domain::{
    Account, AccountId, NewSession, RepositoryError, Session, SessionId, SessionRepository,
    TokenHash,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use time::OffsetDateTime;

use crate::codec::{corrupt, instant, micros};
use crate::entity::{accounts, sessions};
use crate::{SqlStore, translate};

/// A user with more live sessions than this sees the most recent ones.
const LIST_LIMIT: u64 = 100;

fn to_domain(m: sessions::Model) -> Result<Session, RepositoryError> {
    Ok(Session {
        id: SessionId::parse(&m.id).map_err(corrupt)?,
        account_id: AccountId::new(m.account_id),
        created_at: instant(m.created_at)?,
        last_seen_at: instant(m.last_seen_at)?,
        idle_expires_at: instant(m.idle_expires_at)?,
        absolute_expires_at: instant(m.absolute_expires_at)?,
        revoked_at: m.revoked_at.map(instant).transpose()?,
        user_agent: m.user_agent,
        ip: m.ip,
    })
}

fn active_at(now: OffsetDateTime) -> sea_orm::Condition {
    let now = micros(now);
    sea_orm::Condition::all()
        .add(sessions::Column::RevokedAt.is_null())
        .add(sessions::Column::IdleExpiresAt.gt(now))
        .add(sessions::Column::AbsoluteExpiresAt.gt(now))
}

/// Revokes every live session of `account` on `conn`: the pool, or the transaction of an
/// act that ends them (a suspension, a withdrawal). How many it revoked.
pub(crate) async fn revoke_all_on<C: sea_orm::ConnectionTrait>(
    conn: &C,
    account: AccountId,
    at: OffsetDateTime,
) -> Result<u64, RepositoryError> {
    let res = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(micros(at)))
        .filter(sessions::Column::AccountId.eq(account.get()))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(conn)
        .await
        .map_err(translate)?;
    Ok(res.rows_affected)
}

#[async_trait]
impl SessionRepository for SqlStore {
    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn insert(&self, new: NewSession) -> Result<Session, RepositoryError> {
        let row = sessions::ActiveModel {
            id: Set(new.id.to_string()),
            token_hash: Set(new.token_hash.to_hex()),
            account_id: Set(new.account_id.get()),
            created_at: Set(micros(new.created_at)),
            last_seen_at: Set(micros(new.created_at)),
            idle_expires_at: Set(micros(new.idle_expires_at)),
            absolute_expires_at: Set(micros(new.absolute_expires_at)),
            revoked_at: Set(None),
            user_agent: Set(new.user_agent),
            ip: Set(new.ip),
        }
        .insert(self.conn())
        .await
        .map_err(translate)?;
        to_domain(row)
    }

    async fn find_active_by_token_hash(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<(Session, Account)>, RepositoryError> {
        let found = sessions::Entity::find()
            .find_also_related(accounts::Entity)
            .filter(sessions::Column::TokenHash.eq(hash.to_hex()))
            .filter(active_at(now))
            .one(self.conn())
            .await
            .map_err(translate)?;
        match found {
            None => Ok(None),
            Some((session, Some(account))) => Ok(Some((
                to_domain(session)?,
                crate::accounts::to_domain(account)?,
            ))),
            // The foreign key makes this impossible; a dangling session lets nobody in.
            Some((_, None)) => Err(RepositoryError::Unexpected(
                "a session without its account".into(),
            )),
        }
    }

    async fn touch(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> Result<(), RepositoryError> {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::LastSeenAt, Expr::value(micros(now)))
            .col_expr(
                sessions::Column::IdleExpiresAt,
                Expr::value(micros(idle_expires_at)),
            )
            .filter(sessions::Column::Id.eq(id.to_string()))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec(self.conn())
            .await
            .map_err(translate)?;
        Ok(())
    }

    async fn revoke(
        &self,
        account: AccountId,
        id: SessionId,
        at: OffsetDateTime,
    ) -> Result<bool, RepositoryError> {
        let res = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(micros(at)))
            .filter(sessions::Column::Id.eq(id.to_string()))
            .filter(sessions::Column::AccountId.eq(account.get()))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec(self.conn())
            .await
            .map_err(translate)?;
        Ok(res.rows_affected > 0)
    }

    async fn revoke_all(
        &self,
        account: AccountId,
        at: OffsetDateTime,
    ) -> Result<u64, RepositoryError> {
        revoke_all_on(self.conn(), account, at).await
    }

    async fn list_active(
        &self,
        account: AccountId,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, RepositoryError> {
        sessions::Entity::find()
            .filter(sessions::Column::AccountId.eq(account.get()))
            .filter(active_at(now))
            .order_by_desc(sessions::Column::LastSeenAt)
            .order_by_asc(sessions::Column::Id)
            .limit(LIST_LIMIT)
            .all(self.conn())
            .await
            .map_err(translate)?
            .into_iter()
            .map(to_domain)
            .collect()
    }
}
