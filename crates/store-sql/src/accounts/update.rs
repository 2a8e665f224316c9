//! An account's update: its fields in one conditional statement, its suspension and its
//! audit entry.

use domain::{Account, AccountId, AccountUpdate, UpdateAccountError};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use time::OffsetDateTime;

use super::{set_suspension, to_domain};
use crate::audit::append;
use crate::codec::micros;
use crate::entity::accounts;
use crate::translate;

/// Applies `update` on `conn`: its fields in one conditional statement, then its
/// suspension (revoking sessions) and its audit entry. With either of those, `conn` is a
/// transaction.
pub(super) async fn apply<C: ConnectionTrait>(
    conn: &C,
    id: AccountId,
    update: AccountUpdate,
    at: OffsetDateTime,
) -> Result<Account, UpdateAccountError> {
    let AccountUpdate {
        suspension, audit, ..
    } = update.clone();
    let fields = AccountUpdate {
        suspension: None,
        audit: None,
        ..update
    };
    if let Some(s) = &suspension
        && !set_suspension(conn, id, s.as_ref(), at).await?
    {
        return Err(UpdateAccountError::NotFound);
    }
    let account = apply_fields(conn, id, fields, at).await?;
    if let Some(entry) = &audit {
        append(conn, entry).await?;
    }
    Ok(account)
}

async fn apply_fields<C: ConnectionTrait>(
    conn: &C,
    id: AccountId,
    update: AccountUpdate,
    at: OffsetDateTime,
) -> Result<Account, UpdateAccountError> {
    if update.is_empty() {
        let row = accounts::Entity::find_by_id(id.get())
            .filter(accounts::Column::WithdrawnAt.is_null())
            .one(conn)
            .await
            .map_err(translate)?;
        return row
            .map(to_domain)
            .transpose()?
            .ok_or(UpdateAccountError::NotFound);
    }
    let mut row = accounts::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(id.get()),
        updated_at: Set(micros(at)),
        ..Default::default()
    };
    if let Some(v) = update.name {
        row.name = Set(Some(v.as_str().to_owned()));
    }
    if let Some(v) = update.email {
        row.email = Set(Some(v.as_str().to_owned()));
    }
    if let Some(v) = update.email_verified {
        row.email_verified = Set(v);
    }
    if let Some(v) = update.gender {
        row.gender = Set(Some(v.as_str().to_owned()));
    }
    if let Some(v) = update.birth_date {
        row.birth_date = Set(Some(v.to_string()));
    }
    if let Some(v) = update.locale {
        row.locale = Set(Some(v.as_str().to_owned()));
    }
    if let Some(v) = update.phone {
        row.phone = Set(v.map(|p| p.as_str().to_owned()));
    }
    if let Some(v) = update.roles {
        row.roles = Set(v.to_csv());
    }
    if let Some(v) = update.profile_image_key {
        row.profile_image_key = Set(v.map(|k| k.as_str().to_owned()));
    }
    // One conditional statement: a concurrent withdrawal cannot be overwritten.
    let update = accounts::Entity::update(row)
        .validate()
        .map_err(translate)?
        .filter(accounts::Column::WithdrawnAt.is_null());
    match update.exec(conn).await {
        Ok(model) => Ok(to_domain(model)?),
        Err(sea_orm::DbErr::RecordNotUpdated | sea_orm::DbErr::RecordNotFound(_)) => {
            Err(UpdateAccountError::NotFound)
        }
        Err(e) => Err(translate(e).into()),
    }
}
