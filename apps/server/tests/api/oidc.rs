//! The whole login through a real OpenID Connect provider (oauth2-mock-server), driven as
//! a browser would, and each way it can go wrong refused with no session created.

use std::collections::HashMap;

use domain::RegistrationId;
use identity_oidc::testing::MockProvider;
use identity_oidc::{ClaimMapping, OidcConfig};

use crate::helpers::{TestApp, assert_envelope, browser, set_cookie, spawn_with};

async fn app_with(mock: &MockProvider, configure: impl FnOnce(&mut server::Config)) -> TestApp {
    let issuer = mock.issuer.clone();
    spawn_with(move |c| {
        let mut p = OidcConfig::new(
            RegistrationId::parse("mock").unwrap(),
            issuer,
            "service-client",
            Some("service-secret".into()),
        );
        p.timeout = std::time::Duration::from_secs(3);
        p.claims = ClaimMapping::default();
        c.identity.oidc = vec![p];
        configure(c);
    })
    .await
}

fn query(url: &str) -> HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Steps through login → provider → the callback URL (not yet called).
async fn to_callback(app: &TestApp, b: &reqwest::Client, hint: &str) -> String {
    let res = b
        .get(app.url(&format!(
            "/account/login/oauth2/authorization/mock?login_hint={hint}"
        )))
        .send()
        .await
        .unwrap();
    if res.status() != 302 {
        panic!(
            "login start: {} {}",
            res.status(),
            res.text().await.unwrap_or_default()
        );
    }
    assert!(set_cookie(&res, "s_login").is_some());
    let to_provider = res.headers()["location"].to_str().unwrap().to_owned();
    let q = query(&to_provider);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], app.url("/login/oauth2/code/mock"));
    let res = b.get(&to_provider).send().await.unwrap();
    assert_eq!(res.status(), 302, "the provider approves");
    res.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_full_login_through_a_real_provider() {
    let mock = MockProvider::start();
    let app = app_with(&mock, |_| {}).await;
    let b = browser();
    let callback = to_callback(&app, &b, "alice@example.com").await;
    assert!(
        query(&callback).contains_key("iss"),
        "the provider sends RFC 9207 iss"
    );
    let res = b.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(set_cookie(&res, "s_access").is_some());
    let cleared = set_cookie(&res, "s_login").expect("state cookie cleared");
    assert!(cleared.contains("Max-Age=0"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["name"], "Alice");
    let me: serde_json::Value = b
        .get(app.url(&format!("/accounts/{}", body["userId"])))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "alice@example.com");
}

#[tokio::test]
async fn a_verified_email_links_a_second_provider_and_an_unverified_one_never_does() {
    let mock = MockProvider::start();
    let app = app_with(&mock, |_| {}).await;

    let bob = app.login("bob@example.com").await;
    let b = browser();
    let callback = to_callback(&app, &b, "bob@example.com").await;
    let body: serde_json::Value = b.get(&callback).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["userId"], bob.id, "linked by verified e-mail");

    let carol = app.login("carol@example.com").await;
    let b = browser();
    let callback = to_callback(&app, &b, "unverified~carol@example.com").await;
    let body: serde_json::Value = b.get(&callback).send().await.unwrap().json().await.unwrap();
    assert!(
        body["userId"].as_i64().unwrap() > carol.id,
        "an unverified e-mail makes a new account"
    );
}

#[tokio::test]
async fn every_bad_answer_is_refused_without_a_session() {
    let mock = MockProvider::start();
    let app = app_with(&mock, |_| {}).await;
    for flag in [
        "wrong-nonce",
        "wrong-aud",
        "wrong-iss",
        "expired",
        "alg-none",
        "unknown-key",
        "bad-iss-param",
    ] {
        let b = browser();
        let callback = to_callback(&app, &b, &format!("{flag}~eve@example.com")).await;
        let res = b.get(&callback).send().await.unwrap();
        assert!(set_cookie(&res, "s_access").is_none(), "{flag}: no session");
        assert_envelope(res, 401, "LOGIN_REJECTED").await;
    }
}

#[tokio::test]
async fn state_must_match_the_browser_and_be_used_once() {
    let mock = MockProvider::start();
    let app = app_with(&mock, |_| {}).await;
    let b = browser();
    let callback = to_callback(&app, &b, "alice@example.com").await;

    // A wrong state.
    let mut tampered = reqwest::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(k, v)| {
            (
                k.to_string(),
                if k == "state" {
                    "forged".into()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let res = b.get(tampered.as_str()).send().await.unwrap();
    assert_envelope(res, 400, "LOGIN_STATE_INVALID").await;

    // The real one still works once, then is spent.
    assert_eq!(b.get(&callback).send().await.unwrap().status(), 200);
    let res = b.get(&callback).send().await.unwrap();
    assert_envelope(res, 400, "LOGIN_STATE_INVALID").await;
}

#[tokio::test]
async fn a_callback_for_another_registration_id_is_refused() {
    let mock = MockProvider::start();
    let app = app_with(&mock, |_| {}).await;
    let b = browser();
    let callback = to_callback(&app, &b, "alice@example.com").await;
    let other = callback.replace("/login/oauth2/code/mock", "/login/oauth2/code/dev");
    let res = b.get(&other).send().await.unwrap();
    assert!(set_cookie(&res, "s_access").is_none());
    assert_envelope(res, 400, "LOGIN_STATE_INVALID").await;
}

#[tokio::test]
async fn an_injected_code_fails_pkce() {
    let mock = MockProvider::start();
    let app = app_with(&mock, |_| {}).await;
    let victim = browser();
    let attacker = browser();
    let victims = to_callback(&app, &victim, "alice@example.com").await;
    let attackers = to_callback(&app, &attacker, "eve@example.com").await;
    // The attacker's code, delivered with the victim's own state and cookie.
    let mut url = reqwest::Url::parse(&victims).unwrap();
    let code = query(&attackers)["code"].clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            (
                k.to_string(),
                if k == "code" {
                    code.clone()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let res = victim.get(url.as_str()).send().await.unwrap();
    assert!(set_cookie(&res, "s_access").is_none());
    assert_envelope(res, 401, "LOGIN_REJECTED").await;
}

/// The code is stolen or forged with everything the victim's flow carries, its nonce
/// included (the authorization URL shows it), but under the attacker's own PKCE challenge:
/// the nonce check passes, and only PKCE refuses it. The control: the same code asked for
/// under the victim's own challenge logs in.
#[tokio::test]
async fn a_stolen_code_with_the_victims_own_nonce_still_fails_pkce() {
    let mock = MockProvider::start();
    let app = app_with(&mock, |_| {}).await;
    for (challenge, refused) in [(Some("A".repeat(43)), true), (None, false)] {
        let victim = browser();
        let res = victim
            .get(app.url("/account/login/oauth2/authorization/mock?login_hint=alice@example.com"))
            .send()
            .await
            .unwrap();
        let mut to_provider =
            reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
        assert!(query(to_provider.as_str()).contains_key("nonce"));
        if let Some(challenge) = &challenge {
            let pairs: Vec<(String, String)> = to_provider
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "code_challenge" {
                        challenge.clone()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            to_provider.query_pairs_mut().clear().extend_pairs(pairs);
        }
        // The attacker's own client asks the provider: the code carries the victim's nonce.
        let res = browser().get(to_provider.as_str()).send().await.unwrap();
        assert_eq!(res.status(), 302);
        let callback = res.headers()["location"].to_str().unwrap().to_owned();
        let res = victim.get(&callback).send().await.unwrap();
        if refused {
            assert!(set_cookie(&res, "s_access").is_none());
            assert_envelope(res, 401, "LOGIN_REJECTED").await;
        } else {
            assert_eq!(res.status(), 200, "{:?}", res.text().await);
        }
    }
}

#[tokio::test]
async fn a_provider_that_is_down_is_503_and_creates_nothing() {
    let app = spawn_with(|c| {
        let mut p = OidcConfig::new(
            RegistrationId::parse("down").unwrap(),
            "http://127.0.0.1:9",
            "c",
            None,
        );
        p.timeout = std::time::Duration::from_secs(2);
        c.identity.oidc = vec![p];
    })
    .await;
    let res = app.get("/account/login/oauth2/authorization/down").await;
    assert!(set_cookie(&res, "s_login").is_none());
    let body = assert_envelope(res, 503, "IDENTITY_PROVIDER_UNAVAILABLE").await;
    assert_eq!(body["domain"], "account");
}

#[tokio::test]
async fn outside_dev_the_session_cookie_is_secure() {
    let mock = MockProvider::start();
    let app = app_with(&mock, |c| {
        c.app_env = server::AppEnv::Production;
        c.http.public_url = Some("https://accounts.example.com".into());
    })
    .await;
    let b = browser();
    let res = b
        .get(app.url("/account/login/oauth2/authorization/mock?login_hint=alice@example.com"))
        .send()
        .await
        .unwrap();
    let state_cookie = set_cookie(&res, "s_login").unwrap();
    assert!(state_cookie.contains("Secure"), "{state_cookie}");
    let to_provider = res.headers()["location"].to_str().unwrap().to_owned();
    let back = b.get(&to_provider).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    // The provider sends the browser to the public URL; this test reaches the same service
    // on loopback, carrying the state cookie by hand (it is Secure, so the jar keeps it
    // from plain http).
    let local = callback.replace("https://accounts.example.com", &app.address);
    let res = app
        .client
        .get(&local)
        .header("cookie", state_cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let session = set_cookie(&res, "s_access").unwrap();
    assert!(
        session.contains("Secure") && session.contains("HttpOnly"),
        "{session}"
    );
}
