//! The accounts service's rules, with mocked ports.
use super::*;
use crate::account::Roles;
use crate::account::{Suspension, SuspensionReason};
use crate::audit::{AuditAction, AuditActor, AuditOutcome};
use crate::ports::MockAccountRepository;
use crate::ports::MockAuditLog;
use crate::ports::MockClock;
use crate::ports::MockSessionRepository;
use crate::ports::Repositories;
use mockall::predicate::*;
use time::macros::datetime;

/// The repositories an accounts service reads: `accounts` and `audit`.
fn repos(accounts: Arc<dyn AccountRepository>, audit: Arc<dyn AuditLog>) -> Repositories {
    Repositories {
        accounts,
        audit,
        ..Repositories::unused()
    }
}

const NOW: time::OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

fn account(id: i64, withdrawn: bool) -> Account {
    Account {
        withdrawn_at: withdrawn.then_some(NOW),
        ..Account::bare(id, NOW)
    }
}

fn owner(id: i64) -> Actor {
    Actor::Account {
        id: AccountId::new(id),
        roles: Roles::user(),
    }
}

fn with_role(id: i64, role: Role) -> Actor {
    let mut roles = Roles::user();
    roles.insert(role);
    Actor::Account {
        id: AccountId::new(id),
        roles,
    }
}

fn service() -> Actor {
    Actor::Service {
        name: "chat".into(),
    }
}

/// An audit log that accepts whatever it is given (for tests about other things).
fn any_audit() -> Arc<dyn AuditLog> {
    let mut log = MockAuditLog::new();
    log.expect_record().returning(|_| Ok(()));
    Arc::new(log)
}

fn clock() -> Arc<dyn Clock> {
    let mut c = MockClock::new();
    c.expect_now().return_const(NOW);
    Arc::new(c)
}

#[tokio::test]
async fn withdrawn_and_unknown_accounts_are_not_found() {
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_id()
        .with(eq(AccountId::new(1)))
        .returning(|_| Ok(Some(account(1, true))));
    repo.expect_find_by_id()
        .with(eq(AccountId::new(2)))
        .returning(|_| Ok(None));
    repo.expect_find_by_id()
        .with(eq(AccountId::new(3)))
        .returning(|_| Ok(Some(account(3, false))));
    let svc = Accounts::new(&repos(Arc::new(repo), any_audit()), clock());
    assert!(matches!(
        svc.get(AccountId::new(1)).await,
        Err(AccountError::NotFound)
    ));
    assert!(matches!(
        svc.get(AccountId::new(2)).await,
        Err(AccountError::NotFound)
    ));
    assert_eq!(
        svc.get(AccountId::new(3)).await.expect("live").id,
        AccountId::new(3)
    );
}

#[tokio::test]
async fn withdrawal_is_one_repository_act() {
    // Sessions, personal data, identities and events go in the repository's one
    // transaction (`AccountRepository::withdraw`): nothing is revoked on its own first.
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_id()
        .times(1)
        .returning(|_| Ok(Some(account(5, false))));
    repo.expect_withdraw()
        .with(eq(AccountId::new(5)), eq(NOW), eq(None), eq(vec![]))
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let svc = Accounts::new(&repos(Arc::new(repo), any_audit()), clock());
    svc.withdraw(&owner(5), AccountId::new(5), &RequestId::none())
        .await
        .expect("withdrawn");
}

#[tokio::test]
async fn withdrawing_twice_is_not_found_and_touches_nothing() {
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_id()
        .returning(|_| Ok(Some(account(5, true))));
    repo.expect_withdraw().never();
    let svc = Accounts::new(&repos(Arc::new(repo), any_audit()), clock());
    assert!(matches!(
        svc.withdraw(&owner(5), AccountId::new(5), &RequestId::none())
            .await,
        Err(AccountError::NotFound)
    ));
}

#[tokio::test]
async fn a_failed_withdrawal_is_the_stores_answer() {
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_id()
        .returning(|_| Ok(Some(account(5, false))));
    repo.expect_withdraw().times(1).returning(|_, _, _, _| {
        Err(UpdateAccountError::Repository(
            RepositoryError::Unavailable("busy".into()),
        ))
    });
    let svc = Accounts::new(&repos(Arc::new(repo), any_audit()), clock());
    assert!(matches!(
        svc.withdraw(&owner(5), AccountId::new(5), &RequestId::none())
            .await,
        Err(AccountError::Repository(RepositoryError::Unavailable(_)))
    ));
}

fn live_repo() -> MockAccountRepository {
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_id()
        .returning(|id| Ok(Some(account(id.get(), false))));
    repo
}

#[tokio::test]
async fn who_may_read_a_full_account() {
    let svc = Accounts::new(&repos(Arc::new(live_repo()), any_audit()), clock());
    let id = AccountId::new(3);
    for (actor, allowed) in [
        (owner(3), true),
        (owner(4), false),
        (with_role(4, Role::Staff), true),
        (with_role(4, Role::Admin), true),
        (service(), true),
    ] {
        let got = svc.read(&actor, id).await;
        assert_eq!(got.is_ok(), allowed, "{actor:?}: {got:?}");
        if !allowed {
            assert!(matches!(got, Err(AccountError::Forbidden)));
        }
    }
    assert!(svc.internal_profile(&service(), id).await.is_ok());
    for actor in [owner(3), with_role(4, Role::Admin)] {
        assert!(matches!(
            svc.internal_profile(&actor, id).await,
            Err(AccountError::Forbidden)
        ));
    }
}

#[tokio::test]
async fn only_the_owner_and_admins_change_or_withdraw() {
    let mut repo = MockAccountRepository::new();
    repo.expect_update().never();
    repo.expect_withdraw().never();
    let svc = Accounts::new(&repos(Arc::new(repo), any_audit()), clock());
    let id = AccountId::new(3);
    for actor in [owner(4), with_role(4, Role::Staff), service()] {
        assert!(matches!(
            svc.update_profile(&actor, id, ProfilePatch::default(), &RequestId::none())
                .await,
            Err(AccountError::Forbidden)
        ));
        assert!(matches!(
            svc.withdraw(&actor, id, &RequestId::none()).await,
            Err(AccountError::Forbidden)
        ));
    }
}

#[tokio::test]
async fn an_admin_changes_someone_elses_profile() {
    let mut repo = MockAccountRepository::new();
    repo.expect_update()
        .withf(|id, u, at| {
            *id == AccountId::new(3)
                && u.name.as_ref().map(DisplayName::as_str) == Some("New Name")
                && u.roles.is_none()
                && *at == NOW
        })
        .times(1)
        .returning(|id, _, _| Ok(account(id.get(), false)));
    let svc = Accounts::new(&repos(Arc::new(repo), any_audit()), clock());
    let patch = ProfilePatch {
        name: Some(DisplayName::parse("New Name").expect("valid")),
        ..ProfilePatch::default()
    };
    svc.update_profile(
        &with_role(1, Role::Admin),
        AccountId::new(3),
        patch,
        &RequestId::none(),
    )
    .await
    .expect("updated");
}

#[tokio::test]
async fn granting_a_role_needs_a_verified_email() {
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_verified_email().returning(|_| Ok(None));
    repo.expect_update().never();
    let svc = Accounts::new(&repos(Arc::new(repo), any_audit()), clock());
    let email = Email::parse("x@example.com").expect("email");
    assert!(matches!(
        svc.grant_role_by_email(&email, Role::Staff, AuditActor::Cli("root".into()))
            .await,
        Err(AccountError::NotFound)
    ));
}

fn with_roles(id: i64, roles: &[Role]) -> Account {
    Account {
        roles: roles.iter().copied().collect(),
        ..account(id, false)
    }
}

/// An audit log that expects exactly one refused attempt at `action`.
fn expect_denied(action: AuditAction) -> Arc<dyn AuditLog> {
    let mut log = MockAuditLog::new();
    log.expect_record()
        .withf(move |e| e.outcome == AuditOutcome::Denied && e.action == action)
        .times(1)
        .returning(|_| Ok(()));
    Arc::new(log)
}

fn reason() -> SuspensionReason {
    SuspensionReason::parse("fraud").expect("reason")
}

#[tokio::test]
async fn a_suspension_is_one_audited_update() {
    let until = NOW + time::Duration::days(3);
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_id()
        .returning(|id| Ok(Some(account(id.get(), false))));
    repo.expect_update()
        .withf(move |id, u, at| {
            let Some(Some(s)) = &u.suspension else {
                return false;
            };
            let Some(e) = &u.audit else { return false };
            *id == AccountId::new(3)
                && s.by == AccountId::new(1)
                && s.until == Some(until)
                && s.report.is_none()
                && e.action == AuditAction::AccountSuspend
                && e.outcome == AuditOutcome::Done
                && e.reason.as_deref() == Some("fraud")
                && e.request_id.as_deref() == Some("r-1")
                && *at == NOW
        })
        .times(1)
        .returning(|id, _, _| Ok(account(id.get(), false)));
    let mut log = MockAuditLog::new();
    log.expect_record().never();
    let svc = Accounts::new(&repos(Arc::new(repo), Arc::new(log)), clock());
    svc.suspend(
        &with_role(1, Role::Staff),
        AccountId::new(3),
        Some(until),
        reason(),
        &RequestId::new("r-1"),
    )
    .await
    .expect("suspended");
}

#[tokio::test]
async fn who_may_suspend_whom() {
    // (actor, target's roles, allowed)
    let cases = [
        (with_role(1, Role::Staff), vec![Role::User], true),
        (
            with_role(1, Role::Admin),
            vec![Role::User, Role::Staff],
            true,
        ),
        (with_role(1, Role::Admin), vec![Role::Admin], true),
        (
            with_role(1, Role::Staff),
            vec![Role::User, Role::Staff],
            false,
        ),
        (with_role(1, Role::Staff), vec![Role::Admin], false),
    ];
    for (actor, roles, allowed) in cases {
        let mut repo = MockAccountRepository::new();
        let target = with_roles(3, &roles);
        repo.expect_find_by_id()
            .returning(move |_| Ok(Some(target.clone())));
        repo.expect_update()
            .times(usize::from(allowed))
            .returning(|id, _, _| Ok(account(id.get(), false)));
        let log = if allowed {
            any_audit()
        } else {
            expect_denied(AuditAction::AccountSuspend)
        };
        let svc = Accounts::new(&repos(Arc::new(repo), log), clock());
        let got = svc
            .suspend(
                &actor,
                AccountId::new(3),
                None,
                reason(),
                &RequestId::none(),
            )
            .await;
        assert_eq!(got.is_ok(), allowed, "{actor:?} on {roles:?}: {got:?}");
    }
    // Nobody themselves; users and services never, before the account is read.
    for actor in [with_role(3, Role::Admin), owner(4), service()] {
        let mut repo = MockAccountRepository::new();
        repo.expect_find_by_id().never();
        repo.expect_update().never();
        let svc = Accounts::new(
            &repos(Arc::new(repo), expect_denied(AuditAction::AccountSuspend)),
            clock(),
        );
        assert!(matches!(
            svc.suspend(
                &actor,
                AccountId::new(3),
                None,
                reason(),
                &RequestId::none()
            )
            .await,
            Err(AccountError::Forbidden)
        ));
    }
}

#[tokio::test]
async fn a_suspension_must_end_in_the_future_and_only_one_in_force_is_lifted() {
    let svc = Accounts::new(&repos(Arc::new(live_repo()), any_audit()), clock());
    let staff = with_role(1, Role::Staff);
    assert!(matches!(
        svc.suspend(
            &staff,
            AccountId::new(3),
            Some(NOW),
            reason(),
            &RequestId::none()
        )
        .await,
        Err(AccountError::SuspensionEnded)
    ));
    assert!(matches!(
        svc.lift_suspension(&staff, AccountId::new(3), &RequestId::none())
            .await,
        Err(AccountError::NotSuspended)
    ));
    // One that ended by itself is not in force either.
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_id().returning(|id| {
        Ok(Some(Account {
            suspension: Some(Suspension {
                by: AccountId::new(1),
                at: NOW - time::Duration::days(2),
                until: Some(NOW - time::Duration::days(1)),
                reason: reason(),
                note: None,
                report: None,
            }),
            ..account(id.get(), false)
        }))
    });
    repo.expect_update().never();
    let svc = Accounts::new(&repos(Arc::new(repo), any_audit()), clock());
    assert!(matches!(
        svc.lift_suspension(&staff, AccountId::new(3), &RequestId::none())
            .await,
        Err(AccountError::NotSuspended)
    ));
}

#[tokio::test]
async fn roles_are_changed_by_admins_only_and_never_their_own_admin() {
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_id()
        .returning(|id| Ok(Some(account(id.get(), false))));
    repo.expect_update()
        .withf(|id, u, _| {
            *id == AccountId::new(3)
                && u.roles.as_ref().is_some_and(|r| r.contains(Role::Staff))
                && u.audit.as_ref().is_some_and(|e| {
                    e.action == AuditAction::RoleGrant && e.detail.as_deref() == Some("STAFF")
                })
        })
        .times(1)
        .returning(|id, _, _| Ok(account(id.get(), false)));
    let svc = Accounts::new(&repos(Arc::new(repo), any_audit()), clock());
    let admin = with_role(1, Role::Admin);
    svc.change_role(
        &admin,
        AccountId::new(3),
        Role::Staff,
        RoleChange::Grant,
        &RequestId::none(),
    )
    .await
    .expect("granted");
    for (actor, target, change) in [
        (with_role(2, Role::Staff), 3, RoleChange::Grant),
        (owner(3), 3, RoleChange::Grant),
        (service(), 3, RoleChange::Grant),
        (admin.clone(), 1, RoleChange::Revoke),
    ] {
        let mut repo = MockAccountRepository::new();
        repo.expect_update().never();
        let action = if change == RoleChange::Grant {
            AuditAction::RoleGrant
        } else {
            AuditAction::RoleRevoke
        };
        let svc = Accounts::new(&repos(Arc::new(repo), expect_denied(action)), clock());
        let role = if change == RoleChange::Grant {
            Role::Staff
        } else {
            Role::Admin
        };
        assert!(matches!(
            svc.change_role(
                &actor,
                AccountId::new(target),
                role,
                change,
                &RequestId::none()
            )
            .await,
            Err(AccountError::Forbidden)
        ));
    }
}

#[tokio::test]
async fn an_admin_deleting_someone_else_is_audited_with_the_withdrawal() {
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_id()
        .returning(|id| Ok(Some(account(id.get(), false))));
    repo.expect_withdraw()
        .withf(|id, _, audit, _| {
            *id == AccountId::new(5)
                && audit.as_ref().is_some_and(|e| {
                    e.action == AuditAction::AccountDelete
                        && e.actor == AuditActor::Account(AccountId::new(1))
                })
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let mut sessions = MockSessionRepository::new();
    sessions.expect_revoke_all().returning(|_, _| Ok(0));
    let svc = Accounts::new(&repos(Arc::new(repo), any_audit()), clock());
    svc.withdraw(
        &with_role(1, Role::Admin),
        AccountId::new(5),
        &RequestId::none(),
    )
    .await
    .expect("withdrawn");
}
