//! Linked identities: the caller sees which providers log in to the account and may unlink
//! one, never the last.

use domain::{AccountId, AccountRepository, Email, Identity};
use reqwest::Method;
use store_sql::{PoolConfig, SqlStore};

use crate::helpers::{TestApp, User, assert_envelope, spawn_app};

/// `GET /account/identities` as `user`.
async fn identities(app: &TestApp, user: &User) -> serde_json::Value {
    app.send_as(Method::GET, "/account/identities", &user.token)
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn identities_are_listed_and_unlinked_but_never_the_last() {
    let app = spawn_app().await;
    let alice = app.login("identities-alice@example.com").await;
    let bob = app.login("identities-bob@example.com").await;

    // The identity the account was created with, from the dev provider.
    let listed = identities(&app, &alice).await;
    let first = &listed.as_array().expect("a list")[0];
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(first["provider"], "dev");
    assert_eq!(first["email"], "identities-alice@example.com");
    assert!(first["linked_at"].as_str().is_some_and(|t| !t.is_empty()));
    let first_id = first["id"].as_i64().expect("id");

    // The only identity stays.
    assert_envelope(
        app.send_as(
            Method::DELETE,
            &format!("/account/identities/{first_id}"),
            &alice.token,
        )
        .await,
        409,
        "LAST_IDENTITY",
    )
    .await;

    // A second identity, linked as a login by verified e-mail through another provider
    // would link it (written to the store directly here).
    let db = SqlStore::connect(
        &format!(
            "sqlite://{}?mode=rwc",
            app.dir.path().join("service.db").display()
        ),
        &PoolConfig::default(),
    )
    .await
    .expect("the service's database");
    db.link_identity(
        AccountId::new(alice.id),
        Identity::new("https://accounts.google.com", "alice-google").unwrap(),
        Some(Email::parse("alice@gmail.example").unwrap()),
        time::OffsetDateTime::now_utc(),
    )
    .await
    .expect("link");
    let listed = identities(&app, &alice).await;
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["issuer"], "https://accounts.google.com");
    assert_eq!(
        listed[1]["provider"],
        serde_json::Value::Null,
        "not configured here"
    );
    assert_eq!(listed[1]["email"], "alice@gmail.example");

    // Someone else's identity does not exist for the caller.
    assert_envelope(
        app.send_as(
            Method::DELETE,
            &format!("/account/identities/{first_id}"),
            &bob.token,
        )
        .await,
        404,
        "IDENTITY_NOT_FOUND",
    )
    .await;

    // Now the first may go; the account keeps the other.
    let res = app
        .send_as(
            Method::DELETE,
            &format!("/account/identities/{first_id}"),
            &alice.token,
        )
        .await;
    assert_eq!(res.status(), 204);
    let listed = identities(&app, &alice).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["issuer"], "https://accounts.google.com");
    // A provider that verifies the account's e-mail links itself again at its next login
    // (linking by verified e-mail, docs/accounts.md): unlinking is not blocking.
    let again = app.login("identities-alice@example.com").await;
    assert_eq!(again.id, alice.id);
    let listed = identities(&app, &alice).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
}
