//! Suspending an account and lifting a suspension. A suspension is set on the account in
//! one transaction with its audit entry and the revocation of every session of the account
//! (the repository's promise for [`AccountUpdate::suspension`]); login and authentication
//! refuse a suspended account until the suspension ends by itself or is lifted.

use time::OffsetDateTime;

use crate::account::{Account, AccountId, AccountUpdate, Role, Suspension, SuspensionReason};
use crate::actor::Actor;
use crate::audit::{AuditAction, AuditTarget, NewAuditEntry, RequestId};

use super::{AccountError, Accounts};

/// How a suspension's end reads in messages and audit entries.
pub fn describe_until(until: Option<OffsetDateTime>) -> String {
    use time::format_description::well_known::Rfc3339;
    until.map_or_else(
        || "indefinitely".to_owned(),
        |t| format!("until {}", t.format(&Rfc3339).unwrap_or_default()),
    )
}

/// Whether `actor` may suspend `target` (or lift its suspension): STAFF or ADMIN, never
/// themselves, and STAFF never a STAFF or ADMIN account.
pub fn may_suspend(actor: &Actor, target: &Account) -> bool {
    let Some(me) = actor.account_id() else {
        return false;
    };
    actor.is_staff() && me != target.id && (actor.has(Role::Admin) || !target.roles.is_staff())
}

impl Accounts {
    /// Suspends the live account `id` until `until` (indefinitely without one), replacing
    /// any suspension it has: its sessions end at once and it cannot log in until then.
    ///
    /// # Errors
    /// `Forbidden` (recorded as a refused attempt), `NotFound`, `SuspensionEnded` when
    /// `until` is not in the future.
    #[tracing::instrument(skip(self, actor, reason, request), err(level = "info"))]
    pub async fn suspend(
        &self,
        actor: &Actor,
        id: AccountId,
        until: Option<OffsetDateTime>,
        reason: SuspensionReason,
        request: &RequestId,
    ) -> Result<Account, AccountError> {
        let target = self
            .authorize_suspension(actor, id, AuditAction::AccountSuspend, request)
            .await?;
        let now = self.clock.now();
        if until.is_some_and(|t| t <= now) {
            return Err(AccountError::SuspensionEnded);
        }
        let Some(by) = actor.account_id() else {
            return Err(AccountError::Forbidden);
        };
        let audit = NewAuditEntry::done(
            now,
            actor.into(),
            AuditAction::AccountSuspend,
            AuditTarget::Account(target.id),
            request.clone(),
        )
        .reason(Some(reason.as_str()))
        .detail(describe_until(until));
        let update = AccountUpdate {
            suspension: Some(Some(Suspension {
                by,
                at: now,
                until,
                reason,
                // A direct suspension's reason is what staff typed for the user to read.
                note: None,
                report: None,
            })),
            audit: Some(audit),
            ..AccountUpdate::default()
        };
        Ok(self.accounts.update(target.id, update, now).await?)
    }

    /// Lifts the suspension in force on the live account `id`.
    ///
    /// # Errors
    /// `Forbidden` (recorded as a refused attempt), `NotFound`, `NotSuspended`.
    #[tracing::instrument(skip(self, actor, request), err(level = "info"))]
    pub async fn lift_suspension(
        &self,
        actor: &Actor,
        id: AccountId,
        request: &RequestId,
    ) -> Result<Account, AccountError> {
        let target = self
            .authorize_suspension(actor, id, AuditAction::AccountUnsuspend, request)
            .await?;
        let now = self.clock.now();
        if target.active_suspension(now).is_none() {
            return Err(AccountError::NotSuspended);
        }
        let update = AccountUpdate {
            suspension: Some(None),
            audit: Some(NewAuditEntry::done(
                now,
                actor.into(),
                AuditAction::AccountUnsuspend,
                AuditTarget::Account(target.id),
                request.clone(),
            )),
            ..AccountUpdate::default()
        };
        Ok(self.accounts.update(target.id, update, now).await?)
    }

    /// The live target of a suspension `actor` may set or lift. Callers who are not staff
    /// are refused before the account is read.
    async fn authorize_suspension(
        &self,
        actor: &Actor,
        id: AccountId,
        action: AuditAction,
        request: &RequestId,
    ) -> Result<Account, AccountError> {
        if !actor.is_staff() || actor.is(id) || actor.account_id().is_none() {
            return Err(self.refuse(actor, action, id, request).await);
        }
        let target = self.get(id).await?;
        if !may_suspend(actor, &target) {
            return Err(self.refuse(actor, action, id, request).await);
        }
        Ok(target)
    }
}
