//! `LoginStateRepository` on SQL.

use async_trait::async_trait;
use domain::{
    Identity, LoginFlow, LoginStateRepository, PendingRegistration, ProviderClaims, RegistrationId,
    RepositoryError, TokenHash,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use time::OffsetDateTime;

use crate::codec::{corrupt, instant, micros};
use crate::entity::{login_flows as flows, pending_registrations as pending};
use crate::{SqlStore, translate};

#[async_trait]
impl LoginStateRepository for SqlStore {
    async fn save_flow(&self, state: TokenHash, flow: LoginFlow) -> Result<(), RepositoryError> {
        flows::ActiveModel {
            state_hash: Set(state.to_hex()),
            registration_id: Set(flow.registration_id.as_str().to_owned()),
            nonce: Set(flow.nonce),
            pkce_verifier: Set(flow.pkce_verifier),
            created_at: Set(micros(flow.created_at)),
            expires_at: Set(micros(flow.expires_at)),
        }
        .insert(self.conn())
        .await
        .map_err(translate)?;
        Ok(())
    }

    async fn take_flow(
        &self,
        state: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<LoginFlow>, RepositoryError> {
        let hash = state.to_hex();
        let Some(row) = flows::Entity::find_by_id(hash.clone())
            .one(self.conn())
            .await
            .map_err(translate)?
        else {
            return Ok(None);
        };
        // Whoever deletes the row owns the flow: of two concurrent callbacks, one wins.
        let deleted = flows::Entity::delete_many()
            .filter(flows::Column::StateHash.eq(hash))
            .exec(self.conn())
            .await
            .map_err(translate)?;
        if deleted.rows_affected != 1 || row.expires_at <= micros(now) {
            return Ok(None);
        }
        Ok(Some(LoginFlow {
            registration_id: RegistrationId::parse(&row.registration_id).map_err(corrupt)?,
            nonce: row.nonce,
            pkce_verifier: row.pkce_verifier,
            created_at: instant(row.created_at)?,
            expires_at: instant(row.expires_at)?,
        }))
    }

    async fn save_pending(
        &self,
        token: TokenHash,
        p: PendingRegistration,
    ) -> Result<(), RepositoryError> {
        let c = p.claims;
        pending::ActiveModel {
            token_hash: Set(token.to_hex()),
            issuer: Set(c.identity.issuer().to_owned()),
            subject: Set(c.identity.subject().to_owned()),
            email: Set(c.email),
            email_verified: Set(c.email_verified),
            name: Set(c.name),
            locale: Set(c.locale),
            gender: Set(c.gender),
            birth_date: Set(c.birth_date),
            created_at: Set(micros(p.created_at)),
            expires_at: Set(micros(p.expires_at)),
        }
        .insert(self.conn())
        .await
        .map_err(translate)?;
        Ok(())
    }

    async fn find_pending(
        &self,
        token: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<PendingRegistration>, RepositoryError> {
        let Some(row) = pending::Entity::find_by_id(token.to_hex())
            .filter(pending::Column::ExpiresAt.gt(micros(now)))
            .one(self.conn())
            .await
            .map_err(translate)?
        else {
            return Ok(None);
        };
        Ok(Some(PendingRegistration {
            claims: ProviderClaims {
                identity: Identity::new(&row.issuer, &row.subject).map_err(corrupt)?,
                email: row.email,
                email_verified: row.email_verified,
                name: row.name,
                locale: row.locale,
                gender: row.gender,
                birth_date: row.birth_date,
            },
            created_at: instant(row.created_at)?,
            expires_at: instant(row.expires_at)?,
        }))
    }

    async fn delete_pending(&self, token: &TokenHash) -> Result<bool, RepositoryError> {
        let res = pending::Entity::delete_by_id(token.to_hex())
            .exec(self.conn())
            .await
            .map_err(translate)?;
        Ok(res.rows_affected > 0)
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, RepositoryError> {
        let now = micros(now);
        let a = flows::Entity::delete_many()
            .filter(flows::Column::ExpiresAt.lte(now))
            .exec(self.conn())
            .await
            .map_err(translate)?;
        let b = pending::Entity::delete_many()
            .filter(pending::Column::ExpiresAt.lte(now))
            .exec(self.conn())
            .await
            .map_err(translate)?;
        Ok(a.rows_affected + b.rows_affected)
    }
}
