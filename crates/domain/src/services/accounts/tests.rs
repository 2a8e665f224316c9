//! The accounts service's rules, with mocked ports.
use super::*;
use crate::account::{MockAccountRepository, Roles};
use crate::clock::MockClock;
use crate::session::MockSessionRepository;
use mockall::Sequence;
use mockall::predicate::*;
use time::macros::datetime;

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
    let svc = Accounts::new(
        Arc::new(repo),
        Arc::new(MockSessionRepository::new()),
        clock(),
    );
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
async fn withdrawal_revokes_sessions_before_erasing() {
    let mut seq = Sequence::new();
    let mut repo = MockAccountRepository::new();
    let mut sessions = MockSessionRepository::new();
    repo.expect_find_by_id()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(account(5, false))));
    sessions
        .expect_revoke_all()
        .with(eq(AccountId::new(5)), eq(NOW))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(2));
    repo.expect_withdraw()
        .with(eq(AccountId::new(5)), eq(NOW))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    let svc = Accounts::new(Arc::new(repo), Arc::new(sessions), clock());
    svc.withdraw(&owner(5), AccountId::new(5))
        .await
        .expect("withdrawn");
}

#[tokio::test]
async fn withdrawing_twice_is_not_found_and_touches_nothing() {
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_id()
        .returning(|_| Ok(Some(account(5, true))));
    repo.expect_withdraw().never();
    let mut sessions = MockSessionRepository::new();
    sessions.expect_revoke_all().never();
    let svc = Accounts::new(Arc::new(repo), Arc::new(sessions), clock());
    assert!(matches!(
        svc.withdraw(&owner(5), AccountId::new(5)).await,
        Err(AccountError::NotFound)
    ));
}

#[tokio::test]
async fn a_failed_revocation_stops_the_withdrawal() {
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_id()
        .returning(|_| Ok(Some(account(5, false))));
    repo.expect_withdraw().never();
    let mut sessions = MockSessionRepository::new();
    sessions
        .expect_revoke_all()
        .returning(|_, _| Err(RepositoryError::Unavailable("down".into())));
    let svc = Accounts::new(Arc::new(repo), Arc::new(sessions), clock());
    assert!(matches!(
        svc.withdraw(&owner(5), AccountId::new(5)).await,
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
    let svc = Accounts::new(
        Arc::new(live_repo()),
        Arc::new(MockSessionRepository::new()),
        clock(),
    );
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
    let svc = Accounts::new(
        Arc::new(repo),
        Arc::new(MockSessionRepository::new()),
        clock(),
    );
    let id = AccountId::new(3);
    for actor in [owner(4), with_role(4, Role::Staff), service()] {
        assert!(matches!(
            svc.update_profile(&actor, id, ProfilePatch::default())
                .await,
            Err(AccountError::Forbidden)
        ));
        assert!(matches!(
            svc.withdraw(&actor, id).await,
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
    let svc = Accounts::new(
        Arc::new(repo),
        Arc::new(MockSessionRepository::new()),
        clock(),
    );
    let patch = ProfilePatch {
        name: Some(DisplayName::parse("New Name").expect("valid")),
        ..ProfilePatch::default()
    };
    svc.update_profile(&with_role(1, Role::Admin), AccountId::new(3), patch)
        .await
        .expect("updated");
}

#[tokio::test]
async fn granting_a_role_needs_a_verified_email() {
    let mut repo = MockAccountRepository::new();
    repo.expect_find_by_verified_email().returning(|_| Ok(None));
    repo.expect_update().never();
    let svc = Accounts::new(
        Arc::new(repo),
        Arc::new(MockSessionRepository::new()),
        clock(),
    );
    let email = Email::parse("x@example.com").expect("email");
    assert!(matches!(
        svc.grant_role(&email, Role::Staff).await,
        Err(AccountError::NotFound)
    ));
}
