use crate::helpers::spawn_with;

const APP: &str = "https://app.example.com";

#[tokio::test]
async fn configured_origins_get_credentialed_cors_and_others_get_nothing() {
    let app = spawn_with(|c| c.http.cors_origins = vec![APP.into()]).await;

    let res = app
        .client
        .get(app.url("/healthz"))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");

    let res = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn preflights_are_answered_for_configured_origins_only() {
    let app = spawn_with(|c| c.http.cors_origins = vec![APP.into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/healthz"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight(APP).await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(ok.headers()["access-control-allow-origin"], APP);

    let refused = preflight("https://evil.example.com").await.unwrap();
    assert_eq!(refused.status(), 400);
    let body: serde_json::Value = refused.json().await.expect("the envelope");
    assert_eq!(body["status"], 400);
    assert!(body["code"].is_string());
}

#[tokio::test]
async fn the_services_own_origin_is_always_allowed() {
    let app = spawn_with(|c| c.http.public_url = Some("http://localhost:9999".into())).await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "http://localhost:9999")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://localhost:9999"
    );
}
