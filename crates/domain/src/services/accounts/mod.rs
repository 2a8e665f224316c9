//! Reading, changing and withdrawing accounts, with who may do which.
//!
//! | operation | who |
//! |---|---|
//! | read the full account | the owner, STAFF, ADMIN, SERVER |
//! | read the summary | any session |
//! | read the internal profile | SERVER only |
//! | change the profile | the owner, ADMIN |
//! | withdraw | the owner, ADMIN |
//! | suspend, lift a suspension | STAFF (not of STAFF or ADMIN), ADMIN; never oneself |
//! | grant, revoke a role | ADMIN (never their own ADMIN); the operator's CLI |
//!
//! Permission is checked before existence, so a refused caller learns nothing about
//! whether the account exists (suspension's STAFF-or-ADMIN rule, which needs the target's
//! roles, is the one exception). Administrative acts and refused attempts at them leave
//! an audit entry ([`crate::audit`]).

use std::sync::Arc;

use time::Date;

use crate::account::{
    Account, AccountId, AccountUpdate, BirthDate, DisplayName, Email, Gender, IdentityId,
    LinkedIdentity, MaybeCached, Role,
};
use crate::actor::Actor;
use crate::audit::{AuditAction, AuditActor, AuditTarget, NewAuditEntry, RequestId};
use crate::error::{RepositoryError, UnlinkIdentityError, UpdateAccountError};
use crate::events::{EventKind, Subscriptions};
use crate::ports::AccountRepository;
use crate::ports::AuditLog;
use crate::ports::Clock;
use crate::ports::Repositories;

/// Failures of the account operations.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Unknown or withdrawn: the two are indistinguishable to callers (the files/avatars API's
    /// `USER_NOT_FOUND`, "a user who has left or does not exist").
    #[error("the user has left or does not exist")]
    NotFound,
    /// The caller may not do this to this account.
    #[error("not allowed")]
    Forbidden,
    /// The caller has no such linked identity.
    #[error("no such identity")]
    IdentityNotFound,
    /// The identity is the account's last: without it nobody could log in.
    #[error("the last identity cannot be unlinked")]
    LastIdentity,
    /// A suspension's end that is not in the future.
    #[error("a suspension must end in the future")]
    SuspensionEnded,
    /// Lifting a suspension from an account that has none in force.
    #[error("the account is not suspended")]
    NotSuspended,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl From<UpdateAccountError> for AccountError {
    fn from(e: UpdateAccountError) -> Self {
        match e {
            UpdateAccountError::NotFound => Self::NotFound,
            UpdateAccountError::Repository(e) => Self::Repository(e),
        }
    }
}

/// A profile change (`PATCH /accounts/{id}`): name 2 to 20 characters (the account API's rule
/// for changes, stricter than registration's 50), gender, birth date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    pub name: Option<DisplayName>,
    pub gender: Option<Gender>,
    pub birth_date: Option<BirthDate>,
    /// `Some(None)` clears the phone number.
    pub phone: Option<Option<crate::account::Phone>>,
}

impl ProfilePatch {
    /// The longest name a change may set, in characters.
    pub const NAME_MAX: usize = 20;
}

/// The accounts service.
#[derive(Clone)]
pub struct Accounts {
    accounts: Arc<dyn AccountRepository>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    events: Subscriptions,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

impl Accounts {
    /// On `repos`' accounts and audit log.
    pub fn new(repos: &Repositories, clock: Arc<dyn Clock>) -> Self {
        Self {
            accounts: repos.accounts.clone(),
            audit: repos.audit.clone(),
            clock,
            events: Subscriptions::default(),
        }
    }

    /// Writes `account.withdrawn` events for `events`' endpoints.
    #[must_use]
    pub fn with_events(mut self, events: Subscriptions) -> Self {
        self.events = events;
        self
    }

    /// Records `actor`'s refused attempt at `action` on account `id`, and answers
    /// `Forbidden`.
    async fn refuse(
        &self,
        actor: &Actor,
        action: AuditAction,
        id: AccountId,
        request: &RequestId,
    ) -> AccountError {
        let entry = NewAuditEntry::denied(
            self.clock.now(),
            actor.into(),
            action,
            AuditTarget::Account(id),
            request.clone(),
        );
        match self.audit.record(entry).await {
            Ok(()) => AccountError::Forbidden,
            Err(e) => e.into(),
        }
    }

    pub fn today(&self) -> Date {
        self.clock.now().date()
    }

    /// A live account, whoever asks: for authentication and summaries.
    ///
    /// # Errors
    /// `NotFound` for an unknown or withdrawn account.
    pub async fn get(&self, id: AccountId) -> Result<Account, AccountError> {
        match self.accounts.find_by_id(id).await? {
            Some(a) if !a.is_withdrawn() => Ok(a),
            _ => Err(AccountError::NotFound),
        }
    }

    /// A live account for its public summary (name, picture), whoever asks. Behind
    /// [`crate::Cached`] it may come from memory (up to the read TTL old, dropped at once by
    /// any change made in this process), and says so: callers with work to do on a fresh
    /// read (settling an avatar) skip it otherwise.
    ///
    /// # Errors
    /// `NotFound` for an unknown or withdrawn account.
    pub async fn summary(&self, id: AccountId) -> Result<MaybeCached<Account>, AccountError> {
        match self.accounts.find_summary(id).await? {
            Some(s) if !s.value.is_withdrawn() => Ok(s),
            _ => Err(AccountError::NotFound),
        }
    }

    /// The full account, for its owner, STAFF, ADMIN and SERVER.
    ///
    /// # Errors
    /// `Forbidden` for anyone else; `NotFound` for an unknown or withdrawn account.
    pub async fn read(&self, actor: &Actor, id: AccountId) -> Result<Account, AccountError> {
        Self::authorize_read(actor, id)?;
        self.get(id).await
    }

    /// Whether `actor` may read account `id` (itself, STAFF, ADMIN, SERVER): checked before
    /// any work on that account is done on the caller's behalf.
    ///
    /// # Errors
    /// `Forbidden`.
    pub fn authorize_read(actor: &Actor, id: AccountId) -> Result<(), AccountError> {
        if actor.is(id) || actor.is_staff() || actor.has(Role::Server) {
            Ok(())
        } else {
            Err(AccountError::Forbidden)
        }
    }

    /// Whether `actor` may read internal profiles (SERVER only).
    ///
    /// # Errors
    /// `Forbidden`.
    pub fn authorize_internal(actor: &Actor) -> Result<(), AccountError> {
        if actor.has(Role::Server) {
            Ok(())
        } else {
            Err(AccountError::Forbidden)
        }
    }

    /// The internal profile, for other services only.
    ///
    /// # Errors
    /// `Forbidden` for anything but SERVER; `NotFound`.
    pub async fn internal_profile(
        &self,
        actor: &Actor,
        id: AccountId,
    ) -> Result<Account, AccountError> {
        Self::authorize_internal(actor)?;
        self.get(id).await
    }

    /// Changes the profile: the owner or an ADMIN.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    #[tracing::instrument(skip(self, patch), err(level = "info"))]
    pub async fn update_profile(
        &self,
        actor: &Actor,
        id: AccountId,
        patch: ProfilePatch,
        request: &RequestId,
    ) -> Result<Account, AccountError> {
        if !(actor.is(id) || actor.has(Role::Admin)) {
            return Err(self
                .refuse(actor, AuditAction::AccountUpdate, id, request)
                .await);
        }
        // An ADMIN's change of someone else's profile is audited, in its transaction.
        let audit = (!actor.is(id)).then(|| {
            NewAuditEntry::done(
                self.clock.now(),
                actor.into(),
                AuditAction::AccountUpdate,
                AuditTarget::Account(id),
                request.clone(),
            )
        });
        let update = AccountUpdate {
            name: patch.name,
            gender: patch.gender,
            birth_date: patch.birth_date,
            phone: patch.phone,
            audit,
            ..AccountUpdate::default()
        };
        Ok(self.accounts.update(id, update, self.clock.now()).await?)
    }

    /// The caller's own linked identities, oldest first: accounts only (a service has
    /// none).
    ///
    /// # Errors
    /// `Forbidden` for a service.
    pub async fn identities(&self, actor: &Actor) -> Result<Vec<LinkedIdentity>, AccountError> {
        let me = actor.account_id().ok_or(AccountError::Forbidden)?;
        Ok(self.accounts.identities(me).await?)
    }

    /// Unlinks one of the caller's own identities, never the last: the account must stay
    /// reachable by some login.
    ///
    /// # Errors
    /// `Forbidden` for a service, `IdentityNotFound` (also for someone else's identity),
    /// `LastIdentity`.
    #[tracing::instrument(skip(self, actor), err(level = "info"))]
    pub async fn unlink_identity(
        &self,
        actor: &Actor,
        identity: IdentityId,
    ) -> Result<(), AccountError> {
        let me = actor.account_id().ok_or(AccountError::Forbidden)?;
        match self.accounts.unlink_identity(me, identity).await {
            Ok(()) => Ok(()),
            Err(UnlinkIdentityError::NotFound) => Err(AccountError::IdentityNotFound),
            Err(UnlinkIdentityError::LastIdentity) => Err(AccountError::LastIdentity),
            Err(UnlinkIdentityError::Repository(e)) => Err(e.into()),
        }
    }

    /// Whether `actor` may withdraw the live account `id`: for callers that must clean up
    /// (images) before withdrawing. A refusal is audited.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub async fn check_withdraw(
        &self,
        actor: &Actor,
        id: AccountId,
        request: &RequestId,
    ) -> Result<(), AccountError> {
        if !(actor.is(id) || actor.has(Role::Admin)) {
            return Err(self
                .refuse(actor, AuditAction::AccountDelete, id, request)
                .await);
        }
        self.get(id).await.map(|_| ())
    }

    /// Withdraws an account: the owner or an ADMIN. Revokes every session first (so that
    /// access ends even if erasure fails and is retried), then erases its personal data.
    /// An ADMIN deleting someone else's account is audited, as is a refused attempt.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown or already withdrawn account.
    #[tracing::instrument(skip(self, request), err(level = "info"))]
    pub async fn withdraw(
        &self,
        actor: &Actor,
        id: AccountId,
        request: &RequestId,
    ) -> Result<(), AccountError> {
        if !(actor.is(id) || actor.has(Role::Admin)) {
            return Err(self
                .refuse(actor, AuditAction::AccountDelete, id, request)
                .await);
        }
        self.get(id).await?;
        let now = self.clock.now();
        let audit = (!actor.is(id)).then(|| {
            NewAuditEntry::done(
                now,
                actor.into(),
                AuditAction::AccountDelete,
                AuditTarget::Account(id),
                request.clone(),
            )
        });
        let withdrawn = self.events.jobs(
            EventKind::AccountWithdrawn,
            now,
            serde_json::json!({"account_id": id.get()}),
        );
        // Sessions, personal data, identities, the audit entry and the events: one
        // transaction.
        self.accounts.withdraw(id, now, audit, withdrawn).await?;
        Ok(())
    }

    /// Grants `role` to the live account with this verified e-mail: the operator's
    /// `server accounts grant`, audited as `by` (the command line).
    ///
    /// # Errors
    /// `NotFound` when no live account has this verified e-mail.
    pub async fn grant_role_by_email(
        &self,
        email: &Email,
        role: Role,
        by: AuditActor,
    ) -> Result<Account, AccountError> {
        let account = self
            .accounts
            .find_by_verified_email(email)
            .await?
            .ok_or(AccountError::NotFound)?;
        self.write_roles(&account, role, true, by, &RequestId::none())
            .await
    }
}

mod roles;
mod suspension;

pub use roles::RoleChange;
pub use suspension::{describe_until, may_suspend};

#[cfg(test)]
mod tests;
