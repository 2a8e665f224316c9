//! Granting and revoking roles: an ADMIN over HTTP, the operator through
//! `server accounts grant`. Each change is audited in the transaction that makes it.

use crate::account::{Account, AccountId, AccountUpdate, Role};
use crate::actor::Actor;
use crate::audit::{AuditAction, AuditActor, AuditTarget, NewAuditEntry, RequestId};

use super::{AccountError, Accounts};

/// Whether a role is given or taken away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChange {
    Grant,
    Revoke,
}

impl RoleChange {
    const fn action(self) -> AuditAction {
        match self {
            Self::Grant => AuditAction::RoleGrant,
            Self::Revoke => AuditAction::RoleRevoke,
        }
    }
}

impl Accounts {
    /// Grants or revokes `role` on the live account `id`: ADMIN only, and no ADMIN takes
    /// their own ADMIN away (someone must remain able to undo it). Granting a role held
    /// already, or revoking one not held, changes nothing but is still recorded.
    ///
    /// # Errors
    /// `Forbidden` (recorded as a refused attempt), `NotFound`.
    #[tracing::instrument(skip(self, actor, request), err(level = "info"))]
    pub async fn change_role(
        &self,
        actor: &Actor,
        id: AccountId,
        role: Role,
        change: RoleChange,
        request: &RequestId,
    ) -> Result<Account, AccountError> {
        let own_admin = change == RoleChange::Revoke && role == Role::Admin && actor.is(id);
        if !actor.has(Role::Admin) || actor.account_id().is_none() || own_admin {
            return Err(self.refuse(actor, change.action(), id, request).await);
        }
        let account = self.get(id).await?;
        self.write_roles(
            &account,
            role,
            change == RoleChange::Grant,
            actor.into(),
            request,
        )
        .await
    }

    pub(super) async fn write_roles(
        &self,
        account: &Account,
        role: Role,
        grant: bool,
        by: AuditActor,
        request: &RequestId,
    ) -> Result<Account, AccountError> {
        let mut roles = account.roles.clone();
        let change = if grant {
            roles.insert(role);
            RoleChange::Grant
        } else {
            roles = roles.iter().filter(|r| *r != role).collect();
            RoleChange::Revoke
        };
        let now = self.clock.now();
        let update = AccountUpdate {
            roles: Some(roles),
            audit: Some(
                NewAuditEntry::done(
                    now,
                    by,
                    change.action(),
                    AuditTarget::Account(account.id),
                    request.clone(),
                )
                .detail(role.as_str()),
            ),
            ..AccountUpdate::default()
        };
        Ok(self.accounts.update(account.id, update, now).await?)
    }
}
