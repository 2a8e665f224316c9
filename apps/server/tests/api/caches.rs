//! The read caches (sessions, summaries, ready images' metadata) never answer with what a
//! write made through this service has changed. The caches are given an hour here, so a
//! missed invalidation would show.

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_with;

#[tokio::test]
async fn answers_from_memory_follow_every_write_made_here() {
    let app = spawn_with(|c| {
        c.identity.session_cache_secs = 3600;
        c.read_cache_secs = 3600;
    })
    .await;
    let alice = app.login("alice@example.com").await;
    let bob = app.login("bob@example.com").await;
    let summary = format!("/accounts/{}/summary", alice.id);

    // Summaries: read (cached), renamed, read again.
    let before: serde_json::Value = app
        .send_as(Method::GET, &summary, &bob.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["name"], "Test User");
    let res = app
        .as_user(
            Method::PATCH,
            &format!("/accounts/{}", alice.id),
            &alice.token,
        )
        .json(&json!({"name": "Alice Kim"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let after: serde_json::Value = app
        .send_as(Method::GET, &summary, &bob.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["name"], "Alice Kim");

    // A ready image's metadata: read (cached), deleted, gone.
    let image = app.upload_png(&alice, "chat").await;
    let key = image["key"].as_str().unwrap();
    let meta = format!("/images/{key}/metadata");
    assert_eq!(
        app.send_as(Method::GET, &meta, &alice.token).await.status(),
        200
    );
    let res = app
        .send_as(Method::DELETE, &format!("/images/{key}"), &alice.token)
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        app.send_as(Method::GET, &meta, &alice.token).await.status(),
        404
    );

    // Sessions: bob's token resolves (cached), bob logs out, the token is dead at once.
    assert_eq!(
        app.send_as(Method::GET, &summary, &bob.token)
            .await
            .status(),
        200
    );
    let res = app
        .send_as(Method::POST, "/account/logout", &bob.token)
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        app.send_as(Method::GET, &summary, &bob.token)
            .await
            .status(),
        401
    );

    // Withdrawal: alice's cached session and summary both go.
    let res = app
        .send_as(
            Method::DELETE,
            &format!("/accounts/{}", alice.id),
            &alice.token,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.send_as(Method::GET, &summary, &alice.token)
            .await
            .status(),
        401
    );
    let carol = app.login("carol@example.com").await;
    assert_eq!(
        app.send_as(Method::GET, &summary, &carol.token)
            .await
            .status(),
        404
    );
}
