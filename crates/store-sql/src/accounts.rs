//! `AccountRepository` on SQL.

use async_trait::async_trait;
use domain::{
    Account, AccountId, AccountRepository, AccountUpdate, BirthDate, CreateAccountError,
    DisplayName, Email, Gender, Identity, IdentityId, LinkIdentityError, LinkedIdentity, Locale,
    NewAccount, NewAuditEntry, NewJob, ObjectKey, Phone, ReportId, RepositoryError, Roles,
    Suspension, SuspensionReason, UnlinkIdentityError, UpdateAccountError,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use time::OffsetDateTime;

use crate::audit::{append, scrub};
use crate::codec::{corrupt, instant, micros};
use crate::entity::{account_identities as ids, accounts};
use crate::outbox::write_jobs;
use crate::sessions::revoke_all_on;
use crate::{SqlStore, finish, is_unique_violation, translate};

mod update;

use update::apply;

pub(crate) fn to_domain(m: accounts::Model) -> Result<Account, RepositoryError> {
    let opt = |v: Option<String>| v.filter(|s| !s.is_empty());
    Ok(Account {
        id: AccountId::new(m.id),
        name: opt(m.name)
            .map(|s| DisplayName::parse(&s))
            .transpose()
            .map_err(corrupt)?,
        email: opt(m.email)
            .map(|s| Email::parse(&s))
            .transpose()
            .map_err(corrupt)?,
        email_verified: m.email_verified,
        gender: opt(m.gender)
            .map(|s| Gender::parse(&s))
            .transpose()
            .map_err(corrupt)?,
        birth_date: opt(m.birth_date)
            .map(|s| {
                // Validated when written; re-checked only for shape.
                time::Date::parse(
                    &s,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .map(BirthDate::from_stored)
            })
            .transpose()
            .map_err(corrupt)?,
        locale: opt(m.locale)
            .map(|s| Locale::parse(&s))
            .transpose()
            .map_err(corrupt)?,
        phone: opt(m.phone)
            .map(|s| Phone::parse(&s))
            .transpose()
            .map_err(corrupt)?,
        roles: Roles::from_csv(&m.roles).map_err(corrupt)?,
        profile_image_key: opt(m.profile_image_key)
            .map(|s| ObjectKey::parse(&s))
            .transpose()
            .map_err(corrupt)?,
        created_at: instant(m.created_at)?,
        updated_at: instant(m.updated_at)?,
        withdrawn_at: m.withdrawn_at.map(instant).transpose()?,
        suspension: match (m.suspended_at, m.suspended_by, m.suspension_reason) {
            (Some(at), Some(by), Some(reason)) => Some(Suspension {
                by: AccountId::new(by),
                at: instant(at)?,
                until: m.suspended_until.map(instant).transpose()?,
                reason: SuspensionReason::parse(&reason).map_err(corrupt)?,
                note: m
                    .suspension_note
                    .as_deref()
                    .map(SuspensionReason::parse)
                    .transpose()
                    .map_err(corrupt)?,
                report: m.suspension_report_id.map(ReportId::new),
            }),
            _ => None,
        },
    })
}

/// Sets (or, with `None`, lifts) the live account's suspension on `conn`; setting one also
/// revokes every session of the account, so both happen in the caller's transaction.
/// `false` when no live account has this id.
pub(crate) async fn set_suspension<C: ConnectionTrait>(
    conn: &C,
    id: AccountId,
    suspension: Option<&Suspension>,
    at: OffsetDateTime,
) -> Result<bool, RepositoryError> {
    let v = |x: Option<i64>| Expr::value(x);
    let changed = accounts::Entity::update_many()
        .col_expr(
            accounts::Column::SuspendedAt,
            v(suspension.map(|s| micros(s.at))),
        )
        .col_expr(
            accounts::Column::SuspendedUntil,
            v(suspension.and_then(|s| s.until).map(micros)),
        )
        .col_expr(
            accounts::Column::SuspendedBy,
            v(suspension.map(|s| s.by.get())),
        )
        .col_expr(
            accounts::Column::SuspensionReason,
            Expr::value(suspension.map(|s| s.reason.as_str().to_owned())),
        )
        .col_expr(
            accounts::Column::SuspensionNote,
            Expr::value(
                suspension
                    .and_then(|s| s.note.as_ref())
                    .map(|n| n.as_str().to_owned()),
            ),
        )
        .col_expr(
            accounts::Column::SuspensionReportId,
            v(suspension.and_then(|s| s.report).map(ReportId::get)),
        )
        .col_expr(accounts::Column::UpdatedAt, Expr::value(micros(at)))
        .filter(accounts::Column::Id.eq(id.get()))
        .filter(accounts::Column::WithdrawnAt.is_null())
        .exec(conn)
        .await
        .map_err(translate)?;
    if changed.rows_affected == 0 {
        return Ok(false);
    }
    if suspension.is_some() {
        revoke_all_on(conn, id, at).await?;
    }
    Ok(true)
}

fn identity_row(
    account: i64,
    identity: &Identity,
    email: Option<&Email>,
    at: OffsetDateTime,
) -> ids::ActiveModel {
    ids::ActiveModel {
        account_id: Set(account),
        issuer: Set(identity.issuer().to_owned()),
        subject: Set(identity.subject().to_owned()),
        email: Set(email.map(|e| e.as_str().to_owned())),
        created_at: Set(micros(at)),
        ..Default::default()
    }
}

/// Takes the account's row for the rest of the transaction with a write to it: PostgreSQL
/// locks that row until the transaction ends, so work on one account is done one at a time
/// on every replica; SQLite takes its single write lock here, before any read.
pub(crate) async fn lock_account<C: ConnectionTrait>(
    conn: &C,
    id: AccountId,
) -> Result<(), RepositoryError> {
    accounts::Entity::update_many()
        .col_expr(accounts::Column::Id, Expr::col(accounts::Column::Id))
        .filter(accounts::Column::Id.eq(id.get()))
        .exec(conn)
        .await
        .map_err(translate)?;
    Ok(())
}

#[async_trait]
impl AccountRepository for SqlStore {
    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn create(&self, new: NewAccount) -> Result<Account, CreateAccountError> {
        let at = micros(new.created_at);
        let txn = self.begin().await?;
        let out: Result<Account, CreateAccountError> = async {
            let row = accounts::ActiveModel {
                name: Set(new.name.map(|n| n.as_str().to_owned())),
                email: Set(new.email.as_ref().map(|e| e.as_str().to_owned())),
                email_verified: Set(new.email_verified),
                gender: Set(new.gender.map(|g| g.as_str().to_owned())),
                birth_date: Set(new.birth_date.map(|d| d.to_string())),
                locale: Set(new.locale.map(|l| l.as_str().to_owned())),
                phone: Set(None),
                roles: Set(new.roles.to_csv()),
                profile_image_key: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                withdrawn_at: Set(None),
                suspended_at: Set(None),
                suspended_until: Set(None),
                suspended_by: Set(None),
                suspension_reason: Set(None),
                suspension_note: Set(None),
                suspension_report_id: Set(None),
                ..Default::default()
            }
            .insert(&txn)
            .await
            .map_err(translate)?;
            match identity_row(row.id, &new.identity, new.email.as_ref(), new.created_at)
                .insert(&txn)
                .await
            {
                Ok(_) => {}
                // `finish` rolls the account row back.
                Err(e) if is_unique_violation(&e) => {
                    return Err(CreateAccountError::DuplicateIdentity);
                }
                Err(e) => return Err(translate(e).into()),
            }
            Ok(to_domain(row)?)
        }
        .await;
        finish(txn, out).await
    }

    async fn find_by_id(&self, id: AccountId) -> Result<Option<Account>, RepositoryError> {
        accounts::Entity::find_by_id(id.get())
            .one(self.conn())
            .await
            .map_err(translate)?
            .map(to_domain)
            .transpose()
    }

    async fn find_by_identity(
        &self,
        identity: &Identity,
    ) -> Result<Option<Account>, RepositoryError> {
        let Some(link) = ids::Entity::find()
            .filter(ids::Column::Issuer.eq(identity.issuer()))
            .filter(ids::Column::Subject.eq(identity.subject()))
            .one(self.conn())
            .await
            .map_err(translate)?
        else {
            return Ok(None);
        };
        self.find_by_id(AccountId::new(link.account_id)).await
    }

    async fn find_by_verified_email(
        &self,
        email: &Email,
    ) -> Result<Option<Account>, RepositoryError> {
        accounts::Entity::find()
            .filter(accounts::Column::Email.eq(email.as_str()))
            .filter(accounts::Column::EmailVerified.eq(true))
            .filter(accounts::Column::WithdrawnAt.is_null())
            .order_by_asc(accounts::Column::Id)
            .one(self.conn())
            .await
            .map_err(translate)?
            .map(to_domain)
            .transpose()
    }

    #[tracing::instrument(skip(self, identity), err(level = "info"))]
    async fn link_identity(
        &self,
        id: AccountId,
        identity: Identity,
        email: Option<Email>,
        at: OffsetDateTime,
    ) -> Result<(), LinkIdentityError> {
        let txn = self.begin().await?;
        let out: Result<(), LinkIdentityError> = async {
            let live = accounts::Entity::find_by_id(id.get())
                .filter(accounts::Column::WithdrawnAt.is_null())
                .one(&txn)
                .await
                .map_err(translate)?;
            if live.is_none() {
                return Err(LinkIdentityError::NotFound);
            }
            match identity_row(id.get(), &identity, email.as_ref(), at)
                .insert(&txn)
                .await
            {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(LinkIdentityError::DuplicateIdentity);
                }
                Err(e) => return Err(translate(e).into()),
            }
            Ok(())
        }
        .await;
        finish(txn, out).await
    }

    async fn identities(&self, id: AccountId) -> Result<Vec<LinkedIdentity>, RepositoryError> {
        ids::Entity::find()
            .filter(ids::Column::AccountId.eq(id.get()))
            .order_by_asc(ids::Column::Id)
            .all(self.conn())
            .await
            .map_err(translate)?
            .into_iter()
            .map(|row| {
                Ok(LinkedIdentity {
                    id: IdentityId::new(row.id),
                    identity: Identity::new(&row.issuer, &row.subject).map_err(corrupt)?,
                    email: row
                        .email
                        .as_deref()
                        .map(Email::parse)
                        .transpose()
                        .map_err(corrupt)?,
                    linked_at: instant(row.created_at)?,
                })
            })
            .collect()
    }

    // Its refusals are answers, not failures: the service's span logs them once.
    async fn unlink_identity(
        &self,
        id: AccountId,
        identity: IdentityId,
    ) -> Result<(), UnlinkIdentityError> {
        let txn = self.begin().await?;
        let out: Result<(), UnlinkIdentityError> = async {
            // The account's row, locked where the database can (PostgreSQL): two unlinks
            // of one account take turns, so neither can remove the other's survivor.
            lock_account(&txn, id).await?;
            let held = ids::Entity::find()
                .filter(ids::Column::AccountId.eq(id.get()))
                .all(&txn)
                .await
                .map_err(translate)?;
            if !held.iter().any(|row| row.id == identity.get()) {
                return Err(UnlinkIdentityError::NotFound);
            }
            if held.len() < 2 {
                return Err(UnlinkIdentityError::LastIdentity);
            }
            ids::Entity::delete_by_id(identity.get())
                .exec(&txn)
                .await
                .map_err(translate)?;
            Ok(())
        }
        .await;
        finish(txn, out).await
    }

    #[tracing::instrument(skip(self, update), err(level = "info"))]
    async fn update(
        &self,
        id: AccountId,
        update: AccountUpdate,
        at: OffsetDateTime,
    ) -> Result<Account, UpdateAccountError> {
        if update.audit.is_some() || update.suspension.is_some() {
            let txn = self.begin().await?;
            let out = apply(&txn, id, update, at).await;
            return finish(txn, out).await;
        }
        apply(self.conn(), id, update, at).await
    }

    #[tracing::instrument(skip(self, audit, enqueue), err(level = "info"))]
    async fn withdraw(
        &self,
        id: AccountId,
        at: OffsetDateTime,
        audit: Option<NewAuditEntry>,
        enqueue: Vec<NewJob>,
    ) -> Result<(), UpdateAccountError> {
        let txn = self.begin().await?;
        let out: Result<(), UpdateAccountError> = async {
            // Taken before they are erased: the audit log's copies go with them.
            let personal = accounts::Entity::find_by_id(id.get())
                .filter(accounts::Column::WithdrawnAt.is_null())
                .one(&txn)
                .await
                .map_err(translate)?
                .ok_or(UpdateAccountError::NotFound)?;
            let null = || Expr::value(Option::<String>::None);
            let erased = accounts::Entity::update_many()
                .col_expr(accounts::Column::Name, null())
                .col_expr(accounts::Column::Email, null())
                .col_expr(accounts::Column::EmailVerified, Expr::value(false))
                .col_expr(accounts::Column::Gender, null())
                .col_expr(accounts::Column::BirthDate, null())
                .col_expr(accounts::Column::Locale, null())
                .col_expr(accounts::Column::Phone, null())
                .col_expr(accounts::Column::ProfileImageKey, null())
                .col_expr(accounts::Column::UpdatedAt, Expr::value(micros(at)))
                .col_expr(accounts::Column::WithdrawnAt, Expr::value(micros(at)))
                .filter(accounts::Column::Id.eq(id.get()))
                .filter(accounts::Column::WithdrawnAt.is_null())
                .exec(&txn)
                .await
                .map_err(translate)?;
            if erased.rows_affected == 0 {
                return Err(UpdateAccountError::NotFound);
            }
            revoke_all_on(&txn, id, at).await?;
            ids::Entity::delete_many()
                .filter(ids::Column::AccountId.eq(id.get()))
                .exec(&txn)
                .await
                .map_err(translate)?;
            let personal = domain::redact::Personal {
                email: personal.email,
                phone: personal.phone,
                name: personal.name,
            };
            scrub(&txn, id, &personal).await?;
            if let Some(entry) = &audit {
                append(&txn, entry).await?;
            }
            write_jobs(&txn, enqueue, at).await?;
            Ok(())
        }
        .await;
        finish(txn, out).await
    }
}
