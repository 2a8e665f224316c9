//! The session repository: sessions by token hash, expiry, touching, revoking, listing.

use super::*;

fn new_session(account: crate::AccountId, at: OffsetDateTime) -> (SessionToken, NewSession) {
    let token = SessionToken::generate();
    let new = NewSession {
        id: SessionId::random(),
        account_id: account,
        token_hash: token.hash(),
        created_at: at,
        idle_expires_at: at + Duration::hours(1),
        absolute_expires_at: at + Duration::days(1),
        user_agent: Some("conformance/1.0".into()),
        ip: Some("127.0.0.1".into()),
    };
    (token, new)
}

/// Runs every session-repository case. Sessions belong to accounts, so the account
/// repository of the same store is needed to make some.
pub async fn session_repository(accounts: &dyn AccountRepository, repo: &dyn SessionRepository) {
    let mut case = Case::new("session_repository");
    let (account, other) = two_accounts(accounts).await;
    case.step("sessions_round_trip");
    sessions_round_trip(repo, account).await;
    case.step("sessions_expiry");
    sessions_expiry(repo, account).await;
    case.step("sessions_touch");
    sessions_touch(repo, account).await;
    case.step("sessions_revoke");
    sessions_revoke(repo, account, other).await;
    case.step("sessions_revoke_all_and_list");
    sessions_revoke_all_and_list(repo, account, other).await;
    case.step("sessions_end_with_the_withdrawal");
    sessions_end_with_the_withdrawal(accounts, repo).await;
}

/// `AccountRepository::withdraw` revokes the account's sessions in its own transaction,
/// and nobody else's.
async fn sessions_end_with_the_withdrawal(
    accounts: &dyn AccountRepository,
    repo: &dyn SessionRepository,
) {
    let (leaving, staying) = two_accounts(accounts).await;
    let (gone, new) = new_session(leaving, T0);
    repo.insert(new).await.expect("insert");
    let (kept, new) = new_session(staying, T0);
    repo.insert(new).await.expect("insert");
    accounts
        .withdraw(leaving, T0 + Duration::seconds(1), None, vec![])
        .await
        .expect("withdraw");
    let later = T0 + Duration::seconds(2);
    assert!(
        repo.find_active_by_token_hash(&gone.hash(), later)
            .await
            .expect("find")
            .is_none(),
        "a withdrawn account's session ends with it"
    );
    assert!(
        repo.find_active_by_token_hash(&kept.hash(), later)
            .await
            .expect("find")
            .is_some(),
        "another account's session stays"
    );
}

async fn sessions_round_trip(repo: &dyn SessionRepository, account: crate::AccountId) {
    let (token, new) = new_session(account, T0);
    let stored = repo.insert(new.clone()).await.expect("insert");
    assert_eq!(stored.id, new.id);
    assert_eq!(stored.account_id, account);
    assert_eq!(stored.created_at, T0);
    assert_eq!(stored.last_seen_at, T0);
    assert_eq!(stored.idle_expires_at, new.idle_expires_at);
    assert_eq!(stored.absolute_expires_at, new.absolute_expires_at);
    assert_eq!(stored.revoked_at, None);
    assert_eq!(stored.user_agent.as_deref(), Some("conformance/1.0"));
    assert_eq!(stored.ip.as_deref(), Some("127.0.0.1"));
    let found = repo
        .find_active_by_token_hash(&token.hash(), T0 + Duration::seconds(1))
        .await
        .expect("find")
        .expect("the session is active");
    assert_eq!(found.0, stored);
    assert_eq!(found.1.id, account, "the session comes with its account");
    assert_eq!(found.1.roles, crate::Roles::user());
    let stranger = SessionToken::generate();
    assert_eq!(
        repo.find_active_by_token_hash(&stranger.hash(), T0)
            .await
            .unwrap(),
        None
    );
}

async fn sessions_expiry(repo: &dyn SessionRepository, account: crate::AccountId) {
    let (token, new) = new_session(account, T0);
    repo.insert(new.clone()).await.unwrap();
    let h = token.hash();
    let just_before_idle = new.idle_expires_at - Duration::microseconds(1);
    assert!(
        repo.find_active_by_token_hash(&h, just_before_idle)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        repo.find_active_by_token_hash(&h, new.idle_expires_at)
            .await
            .unwrap(),
        None,
        "a session is dead at its idle expiry"
    );
    // A whole second later compares correctly with a fractional expiry.
    assert_eq!(
        repo.find_active_by_token_hash(&h, T0 + Duration::hours(2))
            .await
            .unwrap(),
        None
    );

    // The absolute expiry binds even when the idle one is later.
    let (token, mut new) = new_session(account, T0);
    new.idle_expires_at = T0 + Duration::days(3);
    new.absolute_expires_at = T0 + Duration::milliseconds(500);
    repo.insert(new).await.unwrap();
    assert!(
        repo.find_active_by_token_hash(&token.hash(), T0 + Duration::milliseconds(499))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        repo.find_active_by_token_hash(&token.hash(), T0 + Duration::seconds(1))
            .await
            .unwrap(),
        None,
        "a session is dead at its absolute expiry"
    );
}

async fn sessions_touch(repo: &dyn SessionRepository, account: crate::AccountId) {
    let (token, new) = new_session(account, T0);
    repo.insert(new.clone()).await.unwrap();
    let later = T0 + Duration::minutes(50);
    let new_idle = later + Duration::hours(1);
    repo.touch(new.id, later, new_idle).await.expect("touch");
    let after_old_idle = new.idle_expires_at + Duration::minutes(1);
    let found = repo
        .find_active_by_token_hash(&token.hash(), after_old_idle)
        .await
        .unwrap()
        .expect("a touched session lives past its old idle expiry")
        .0;
    assert_eq!(found.last_seen_at, later);
    assert_eq!(found.idle_expires_at, new_idle);

    repo.touch(SessionId::random(), later, new_idle)
        .await
        .expect("touching an unknown session is a no-op");
}

async fn sessions_revoke(
    repo: &dyn SessionRepository,
    account: crate::AccountId,
    other: crate::AccountId,
) {
    let (token, new) = new_session(account, T0);
    repo.insert(new.clone()).await.unwrap();
    assert!(
        !repo.revoke(other, new.id, T0).await.unwrap(),
        "nobody revokes someone else's session"
    );
    assert!(
        repo.find_active_by_token_hash(&token.hash(), T0)
            .await
            .unwrap()
            .is_some()
    );
    assert!(repo.revoke(account, new.id, T0).await.expect("revoke"));
    assert_eq!(
        repo.find_active_by_token_hash(&token.hash(), T0)
            .await
            .unwrap(),
        None
    );
    assert!(
        !repo.revoke(account, new.id, T0).await.unwrap(),
        "revoking twice is false"
    );
    assert!(!repo.revoke(account, SessionId::random(), T0).await.unwrap());

    repo.touch(new.id, T0 + Duration::minutes(1), T0 + Duration::hours(5))
        .await
        .unwrap();
    assert_eq!(
        repo.find_active_by_token_hash(&token.hash(), T0 + Duration::minutes(2))
            .await
            .unwrap(),
        None,
        "touch never brings a revoked session back"
    );
}

async fn sessions_revoke_all_and_list(
    repo: &dyn SessionRepository,
    account: crate::AccountId,
    other: crate::AccountId,
) {
    // `account` already holds sessions from earlier cases: start from a clean slate.
    repo.revoke_all(account, T0).await.unwrap();
    let (_, older) = new_session(account, T0);
    let (_, newer) = new_session(account, T0 + Duration::seconds(1));
    let (_, mut expired) = new_session(account, T0);
    expired.idle_expires_at = T0 + Duration::seconds(2);
    let (other_token, theirs) = new_session(other, T0);
    for s in [&older, &newer, &expired, &theirs] {
        repo.insert(s.clone()).await.unwrap();
    }
    let now = T0 + Duration::seconds(10);
    let listed: Vec<_> = repo
        .list_active(account, now)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        listed,
        vec![newer.id, older.id],
        "only active sessions, most recently seen first"
    );

    let revoked = repo.revoke_all(account, now).await.expect("revoke_all");
    assert_eq!(
        revoked, 3,
        "every unrevoked session counts, expired ones too"
    );
    assert!(repo.list_active(account, now).await.unwrap().is_empty());
    assert_eq!(repo.revoke_all(account, now).await.unwrap(), 0);
    assert!(
        repo.find_active_by_token_hash(&other_token.hash(), now)
            .await
            .unwrap()
            .is_some(),
        "other accounts' sessions are untouched"
    );
}
