//! The data export (GDPR art. 15 and 20): everything the service holds about an account,
//! for its owner or an ADMIN. Reports filed *against* the account are left out: they would
//! identify their reporters. Tokens are never part of it (the stores keep only hashes).

use std::sync::Arc;

use crate::account::{Account, AccountId, LinkedIdentity, Role};
use crate::actor::Actor;
use crate::audit::{AuditAction, AuditTarget, NewAuditEntry, RequestId};
use crate::error::RepositoryError;
use crate::image::{Image, ImageFilter};
use crate::outbox::JobRecord;
use crate::outbox::topics::REPORT_NOTICE;
use crate::page::Page;
use crate::ports::AccountRepository;
use crate::ports::AuditLog;
use crate::ports::Clock;
use crate::ports::ImageRepository;
use crate::ports::Outbox;
use crate::ports::ReportRepository;
use crate::ports::Repositories;
use crate::ports::SessionRepository;
use crate::report::{Report, ReportFilter};
use crate::session::Session;

/// The most image records one export lists (an account holds far fewer: uploads are
/// limited per hour and per quota).
pub const MAX_IMAGES: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("not allowed")]
    Forbidden,
    /// Unknown or withdrawn (a withdrawn account's data is erased).
    #[error("the user has left or does not exist")]
    NotFound,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// What the service holds about one account.
#[derive(Debug, Clone)]
pub struct AccountExport {
    pub account: Account,
    pub identities: Vec<LinkedIdentity>,
    /// Active sessions (revoked and expired ones are not kept as sessions).
    pub sessions: Vec<Session>,
    /// Every image record the account uploaded, in any state, oldest first.
    pub images: Vec<Image>,
    /// The reports it filed, newest first.
    pub reports: Vec<Report>,
    /// The notices sent (or to be sent) to it, oldest first.
    pub notices: Vec<JobRecord>,
}

/// Builds exports.
#[derive(Clone)]
pub struct Exports {
    accounts: Arc<dyn AccountRepository>,
    sessions: Arc<dyn SessionRepository>,
    images: Arc<dyn ImageRepository>,
    reports: Arc<dyn ReportRepository>,
    outbox: Arc<dyn Outbox>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Exports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exports").finish_non_exhaustive()
    }
}

impl Exports {
    /// On every repository an export reads, and the audit log.
    pub fn new(repos: &Repositories, clock: Arc<dyn Clock>) -> Self {
        Self {
            accounts: repos.accounts.clone(),
            sessions: repos.sessions.clone(),
            images: repos.images.clone(),
            reports: repos.reports.clone(),
            outbox: repos.outbox.clone(),
            audit: repos.audit.clone(),
            clock,
        }
    }

    /// The export of the live account `id`: its owner or an ADMIN.
    ///
    /// # Errors
    /// `Forbidden` (checked first, and audited), `NotFound`, `Repository`. An ADMIN's
    /// export of someone else's account is audited before any of it is read: when the
    /// entry cannot be written, nothing is exported.
    #[tracing::instrument(skip(self, actor, request), err(level = "info"))]
    pub async fn export(
        &self,
        actor: &Actor,
        id: AccountId,
        request: &RequestId,
    ) -> Result<AccountExport, ExportError> {
        let admin = actor.account_id().is_some() && actor.has(Role::Admin);
        let entry = |outcome: fn(_, _, _, _, _) -> NewAuditEntry| {
            outcome(
                self.clock.now(),
                actor.into(),
                AuditAction::AccountExport,
                AuditTarget::Account(id),
                request.clone(),
            )
        };
        if !(actor.is(id) || admin) {
            self.audit.record(entry(NewAuditEntry::denied)).await?;
            return Err(ExportError::Forbidden);
        }
        if !actor.is(id) {
            self.audit.record(entry(NewAuditEntry::done)).await?;
        }
        let account = match self.accounts.find_by_id(id).await? {
            Some(a) if !a.is_withdrawn() => a,
            _ => return Err(ExportError::NotFound),
        };
        let identities = self.accounts.identities(id).await?;
        let sessions = self.sessions.list_active(id, self.clock.now()).await?;
        let images = self
            .images
            .list(
                ImageFilter {
                    uploader: Some(id),
                    ..ImageFilter::default()
                },
                MAX_IMAGES,
            )
            .await?;
        let mut reports = Vec::new();
        let filter = ReportFilter {
            reporter: Some(id),
            ..ReportFilter::default()
        };
        for number in 0.. {
            let page = Page {
                number,
                size: Page::MAX_SIZE,
            };
            let (items, _) = self.reports.list(filter.clone(), page).await?;
            let last = (items.len() as u64) < Page::MAX_SIZE;
            reports.extend(items);
            if last {
                break;
            }
        }
        let notices = self.outbox.about(id, REPORT_NOTICE).await?;
        Ok(AccountExport {
            account,
            identities,
            sessions,
            images,
            reports,
            notices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Roles;
    use crate::ports::MockAccountRepository;
    use crate::ports::MockClock;
    use crate::ports::MockImageRepository;
    use crate::ports::MockOutbox;
    use crate::ports::MockReportRepository;
    use crate::ports::MockSessionRepository;
    use time::macros::datetime;

    fn exports(accounts: MockAccountRepository) -> Exports {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .return_const(datetime!(2026-12-02 10:00 UTC));
        let mut sessions = MockSessionRepository::new();
        sessions.expect_list_active().returning(|_, _| Ok(vec![]));
        let mut images = MockImageRepository::new();
        images
            .expect_list()
            .withf(|f, _| f.uploader == Some(AccountId::new(3)) && f.status.is_none())
            .returning(|_, _| Ok(vec![]));
        let mut reports = MockReportRepository::new();
        reports
            .expect_list()
            .withf(|f, _| f.reporter == Some(AccountId::new(3)) && f.target_id.is_none())
            .returning(|_, _| Ok((vec![], 0)));
        let mut outbox = MockOutbox::new();
        outbox.expect_about().returning(|_, _| Ok(vec![]));
        // Only an ADMIN's export of someone else and the refused ones are recorded.
        let mut audit = crate::ports::MockAuditLog::new();
        audit
            .expect_record()
            .withf(|e| {
                e.action == AuditAction::AccountExport
                    && e.target == AuditTarget::Account(AccountId::new(3))
                    && match e.outcome {
                        crate::audit::AuditOutcome::Done => {
                            e.actor == crate::audit::AuditActor::Account(AccountId::new(1))
                        }
                        crate::audit::AuditOutcome::Denied => {
                            e.actor != crate::audit::AuditActor::Account(AccountId::new(3))
                        }
                    }
            })
            .times(4)
            .returning(|_| Ok(()));
        Exports::new(
            &crate::ports::Repositories {
                accounts: Arc::new(accounts),
                sessions: Arc::new(sessions),
                images: Arc::new(images),
                reports: Arc::new(reports),
                outbox: Arc::new(outbox),
                audit: Arc::new(audit),
                ..crate::ports::Repositories::unused()
            },
            Arc::new(clock),
        )
    }

    fn actor(id: i64, roles: &[Role]) -> Actor {
        Actor::Account {
            id: AccountId::new(id),
            roles: roles.iter().copied().collect::<Roles>(),
        }
    }

    #[tokio::test]
    async fn the_owner_and_admins_export_and_nobody_else() {
        let mut accounts = MockAccountRepository::new();
        accounts.expect_find_by_id().returning(|id| {
            Ok(Some(Account::bare(
                id.get(),
                datetime!(2026-12-01 0:00 UTC),
            )))
        });
        accounts.expect_identities().returning(|_| Ok(vec![]));
        let svc = exports(accounts);
        let id = AccountId::new(3);
        let none = RequestId::none();
        assert!(
            svc.export(&actor(3, &[Role::User]), id, &none)
                .await
                .is_ok()
        );
        assert!(
            svc.export(&actor(1, &[Role::Admin]), id, &none)
                .await
                .is_ok()
        );
        for refused in [
            actor(4, &[Role::User]),
            actor(4, &[Role::Staff]),
            Actor::Service {
                name: "chat".into(),
            },
        ] {
            assert!(matches!(
                svc.export(&refused, id, &none).await,
                Err(ExportError::Forbidden)
            ));
        }
    }
}
