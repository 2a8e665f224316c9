//! The OIDC adapter against a real provider (oauth2-mock-server): the whole flow, and each
//! way an ID token or a callback can be wrong, refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use domain::{
    IdentityError, IdentityProvider, LoginFlow, LoginHints, ProviderClaims, RegistrationId,
};
use identity_oidc::testing::MockProvider;
use identity_oidc::{ClaimMapping, OidcConfig, OidcProvider};
use openidconnect::url::Url;

const REDIRECT: &str = "http://127.0.0.1:1/login/oauth2/code/mock";

fn provider_for(issuer: &str, claims: ClaimMapping) -> OidcProvider {
    let mut c = OidcConfig::new(
        RegistrationId::parse("mock").unwrap(),
        issuer,
        "test-client",
        Some("test-secret".into()),
    );
    c.claims = claims;
    c.timeout = std::time::Duration::from_secs(3);
    OidcProvider::new(c).unwrap()
}

struct Authorized {
    code: String,
    iss: Option<String>,
    flow: LoginFlow,
}

/// Starts a login and lets the provider approve it: what the browser would bring back.
async fn authorize(p: &OidcProvider, hint: &str) -> Authorized {
    let r = p
        .authorize(
            REDIRECT,
            &LoginHints {
                login_hint: Some(hint.into()),
                name: None,
            },
        )
        .await
        .expect("authorize");
    let q: HashMap<String, String> = Url::parse(&r.url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["code_challenge_method"], "S256", "PKCE S256 always");
    assert_eq!(q["state"], r.state);
    assert_eq!(q["nonce"], r.nonce);
    assert!(q["scope"].contains("openid"));
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http.get(&r.url).send().await.unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let back: HashMap<String, String> = Url::parse(&location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(back["state"], r.state, "the provider returns our state");
    let now = time::OffsetDateTime::now_utc();
    Authorized {
        code: back["code"].clone(),
        iss: back.get("iss").cloned(),
        flow: LoginFlow {
            registration_id: RegistrationId::parse("mock").unwrap(),
            nonce: r.nonce,
            pkce_verifier: r.pkce_verifier,
            created_at: now,
            expires_at: now + time::Duration::minutes(10),
        },
    }
}

async fn login(p: &OidcProvider, hint: &str) -> Result<ProviderClaims, IdentityError> {
    let a = authorize(p, hint).await;
    p.exchange(REDIRECT, &a.code, &a.flow, a.iss).await
}

fn assert_rejected(r: Result<ProviderClaims, IdentityError>, case: &str) {
    match r {
        Err(IdentityError::Rejected(reason)) => eprintln!("{case}: rejected: {reason}"),
        other => panic!("{case}: expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_full_login_yields_validated_claims() {
    let mock = MockProvider::start();
    let p = provider_for(&mock.issuer, ClaimMapping::default());
    let claims = login(&p, "alice@example.com").await.expect("login");
    assert_eq!(claims.identity.issuer(), mock.issuer);
    assert_eq!(claims.identity.subject(), "sub-alice@example.com");
    assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
    assert!(claims.email_verified);
    assert_eq!(claims.name.as_deref(), Some("Alice"));

    let claims = login(&p, "noname+unverified~bob@example.com")
        .await
        .expect("login");
    assert_eq!(claims.name, None);
    assert!(!claims.email_verified, "unverified stays unverified");
}

#[tokio::test]
async fn every_bad_id_token_is_rejected() {
    let mock = MockProvider::start();
    let p = provider_for(&mock.issuer, ClaimMapping::default());
    for flag in [
        "wrong-nonce",
        "wrong-aud",
        "wrong-iss",
        "expired",
        "future-iat",
        "azp-other",
        "multi-aud-no-azp",
        "alg-none",
        "hs256-pubkey",
        "unknown-key",
    ] {
        assert_rejected(login(&p, &format!("{flag}~eve@example.com")).await, flag);
    }
    // The provider still works for honest logins afterwards.
    login(&p, "alice@example.com").await.expect("login");
}

#[tokio::test]
async fn a_wrong_iss_response_parameter_is_rejected() {
    let mock = MockProvider::start();
    let p = provider_for(&mock.issuer, ClaimMapping::default());
    let a = authorize(&p, "bad-iss-param~eve@example.com").await;
    assert_eq!(a.iss.as_deref(), Some("http://evil.example"));
    assert_rejected(
        p.exchange(REDIRECT, &a.code, &a.flow, a.iss).await,
        "iss parameter",
    );
}

#[tokio::test]
async fn a_code_with_another_logins_pkce_verifier_is_rejected() {
    let mock = MockProvider::start();
    let p = provider_for(&mock.issuer, ClaimMapping::default());
    let mine = authorize(&p, "alice@example.com").await;
    let stolen = authorize(&p, "eve@example.com").await;
    // Eve's code injected into Alice's flow: the provider checks Alice's verifier against
    // the challenge Eve's code was issued for.
    assert_rejected(
        p.exchange(REDIRECT, &stolen.code, &mine.flow, None).await,
        "PKCE mismatch",
    );
}

#[tokio::test]
async fn a_code_is_used_once() {
    let mock = MockProvider::start();
    let p = provider_for(&mock.issuer, ClaimMapping::default());
    let a = authorize(&p, "alice@example.com").await;
    p.exchange(REDIRECT, &a.code, &a.flow, None)
        .await
        .expect("first use");
    assert_rejected(
        p.exchange(REDIRECT, &a.code, &a.flow, None).await,
        "code reuse",
    );
}

#[tokio::test]
async fn rotated_keys_are_rediscovered() {
    let mock = MockProvider::start();
    let p = provider_for(&mock.issuer, ClaimMapping::default());
    login(&p, "alice@example.com")
        .await
        .expect("caches the JWKS");
    let claims = login(&p, "rotate~alice@example.com")
        .await
        .expect("a rotated key is found");
    assert_eq!(claims.identity.subject(), "sub-alice@example.com");
}

#[tokio::test]
async fn claim_mapping_reads_userinfo() {
    let mock = MockProvider::start();
    let p = provider_for(
        &mock.issuer,
        ClaimMapping::parse(
            "name=properties.nickname,email=kakao_account.email,email_verified=kakao_account.is_email_verified",
        )
        .unwrap(),
    );
    let claims = login(&p, "userinfo~carol@example.com")
        .await
        .expect("login");
    assert_eq!(claims.name.as_deref(), Some("Nick carol"));
    assert_eq!(claims.email.as_deref(), Some("carol@example.com"));
    assert!(claims.email_verified);
}

#[tokio::test]
async fn the_secret_can_travel_in_the_request_body() {
    let mock = MockProvider::start();
    let mut c = OidcConfig::new(
        RegistrationId::parse("mock").unwrap(),
        mock.issuer.clone(),
        "body-client",
        Some("body-secret".into()),
    );
    let basic = OidcProvider::new(c.clone()).unwrap();
    assert_rejected(
        login(&basic, "require-post~alice@example.com").await,
        "Basic auth",
    );
    c.secret_in_body = true;
    let post = OidcProvider::new(c).unwrap();
    let claims = login(&post, "require-post~alice@example.com")
        .await
        .expect("login");
    assert_eq!(claims.identity.subject(), "sub-alice@example.com");
}

#[tokio::test]
async fn a_provider_that_is_down_is_unavailable() {
    let p = provider_for("http://127.0.0.1:9", ClaimMapping::default());
    let r = p.authorize(REDIRECT, &LoginHints::default()).await;
    assert!(matches!(r, Err(IdentityError::Unavailable(_))), "{r:?}");
}

#[tokio::test]
async fn a_provider_that_goes_down_after_discovery_is_unavailable() {
    let mock = MockProvider::start();
    let p = provider_for(&mock.issuer, ClaimMapping::default());
    let a = authorize(&p, "alice@example.com").await;
    drop(mock);
    let r = p.exchange(REDIRECT, &a.code, &a.flow, None).await;
    assert!(matches!(r, Err(IdentityError::Unavailable(_))), "{r:?}");
}
