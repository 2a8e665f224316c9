//! The login-state repository: login flows taken once, pending registrations, purging.

use super::*;

fn flow(expires_at: OffsetDateTime) -> LoginFlow {
    LoginFlow {
        registration_id: RegistrationId::parse("google").unwrap(),
        nonce: format!("nonce-{}", unique()),
        pkce_verifier: format!("verifier-{}", unique()),
        created_at: T0,
        expires_at,
    }
}

fn pending_registration(expires_at: OffsetDateTime) -> PendingRegistration {
    PendingRegistration {
        claims: ProviderClaims {
            identity: identity("https://issuer.example"),
            email: Some("Mixed@Example.com".into()),
            email_verified: true,
            name: None,
            locale: Some("ko-KR".into()),
            gender: Some("FEMALE".into()),
            birth_date: Some("1990-01-02".into()),
        },
        created_at: T0,
        expires_at,
    }
}

/// Runs every login-state case.
pub async fn login_state_repository(repo: &dyn LoginStateRepository) {
    let mut case = Case::new("login_state_repository");
    case.step("A flow is taken once, and only before it expires");
    let state = TokenHash::of(&unique());
    let f = flow(T0 + Duration::minutes(10));
    repo.save_flow(state, f.clone()).await.expect("save_flow");
    assert_eq!(
        repo.take_flow(&state, T0 + Duration::minutes(1))
            .await
            .expect("take"),
        Some(f),
        "a flow comes back as saved"
    );
    assert_eq!(
        repo.take_flow(&state, T0 + Duration::minutes(1))
            .await
            .unwrap(),
        None,
        "a flow is single-use"
    );
    assert_eq!(
        repo.take_flow(&TokenHash::of("unknown"), T0).await.unwrap(),
        None
    );
    let late = TokenHash::of(&unique());
    repo.save_flow(late, flow(T0 + Duration::seconds(5)))
        .await
        .unwrap();
    assert_eq!(
        repo.take_flow(&late, T0 + Duration::seconds(5))
            .await
            .unwrap(),
        None,
        "an expired flow is refused"
    );

    case.step("Pending registrations: found until they expire, deleted once");
    let token = TokenHash::of(&unique());
    let p = pending_registration(T0 + Duration::minutes(30));
    repo.save_pending(token, p.clone())
        .await
        .expect("save_pending");
    assert_eq!(
        repo.find_pending(&token, T0 + Duration::minutes(29))
            .await
            .unwrap(),
        Some(p.clone()),
        "a pending registration comes back as saved"
    );
    assert_eq!(
        repo.find_pending(&token, T0 + Duration::minutes(1))
            .await
            .unwrap(),
        Some(p),
        "finding does not consume"
    );
    assert_eq!(
        repo.find_pending(&token, T0 + Duration::minutes(30))
            .await
            .unwrap(),
        None,
        "an expired registration is not found"
    );
    assert!(repo.delete_pending(&token).await.unwrap());
    assert!(!repo.delete_pending(&token).await.unwrap());

    case.step("Purging removes only what has expired");
    let live_flow = TokenHash::of(&unique());
    let dead_flow = TokenHash::of(&unique());
    let live_pending = TokenHash::of(&unique());
    let dead_pending = TokenHash::of(&unique());
    repo.save_flow(live_flow, flow(T0 + Duration::hours(1)))
        .await
        .unwrap();
    repo.save_flow(dead_flow, flow(T0 + Duration::seconds(1)))
        .await
        .unwrap();
    repo.save_pending(live_pending, pending_registration(T0 + Duration::hours(1)))
        .await
        .unwrap();
    repo.save_pending(
        dead_pending,
        pending_registration(T0 + Duration::seconds(1)),
    )
    .await
    .unwrap();
    let purged = repo
        .purge_expired(T0 + Duration::minutes(1))
        .await
        .expect("purge");
    assert!(purged >= 2, "both expired rows are purged, got {purged}");
    assert!(
        !repo.delete_pending(&dead_pending).await.unwrap(),
        "the expired one is gone"
    );
    assert!(
        repo.find_pending(&live_pending, T0)
            .await
            .unwrap()
            .is_some()
    );
    assert!(repo.take_flow(&live_flow, T0).await.unwrap().is_some());
}
