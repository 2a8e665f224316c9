//! `/metrics`: the series move with traffic, labels are route templates, the token guards.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_envelope, spawn_with};

/// The value of the first sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn series_move_with_traffic() {
    let app = spawn_with(|c| {
        c.images.sweep_interval_secs = 1;
        c.notify.notify_interval_secs = 0;
    })
    .await;
    let user = app.login("m@example.com").await;
    app.get("/healthz").await;
    app.send_as(Method::GET, &format!("/accounts/{}", user.id), &user.token)
        .await;
    app.upload_png(&user, "chat").await;
    let bad = app.issue_png(&user, "chat").await;
    app.put(&bad, b"<html>".to_vec()).await;
    app.callback(&user, "chat", &bad.key, "").await;
    let res = app
        .report(
            &user,
            json!({"report_category_id": 5, "report_room_id": 1, "report_etc_reason": "spam"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    assert!(
        sample(
            &text,
            r#"http_requests_total{method="GET",route="/healthz",status="200"}"#
        ) >= Some(1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"http_requests_total{method="GET",route="/accounts/{id}",status="200"}"#
        ) >= Some(1.0),
        "route templates, not paths"
    );
    assert!(
        !text.contains(&format!("/accounts/{}\"", user.id)),
        "no raw ids in labels"
    );
    assert!(
        sample(
            &text,
            r#"http_request_duration_seconds_count{method="GET",route="/healthz"}"#
        ) >= Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"uploads_issued_total{channel="chat"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, r#"uploads_confirmed_total{channel="chat"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"uploads_rejected_total{reason="not_an_image"}"#),
        Some(1.0)
    );
    assert!(sample(&text, "sweeper_runs_total") >= Some(1.0), "{text}");
    assert_eq!(
        sample(&text, r#"outbox_depth{topic="notify.report"}"#),
        Some(1.0),
        "the worker is off: the notice waits"
    );
    assert!(sample(&text, r#"db_pool_connections{state="idle"}"#).is_some());
    assert!(sample(&text, r#"db_pool_connections{state="in_use"}"#).is_some());
}

#[tokio::test]
async fn a_metrics_token_guards_the_endpoint() {
    let app = spawn_with(|c| c.http.metrics_token = Some("s3cret".into())).await;
    assert_envelope(app.get("/metrics").await, 401, "UNAUTHENTICATED").await;
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_envelope(wrong, 401, "UNAUTHENTICATED").await;
    let ok = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}
