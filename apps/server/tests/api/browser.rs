//! The demo page in a real browser: Debian's Chromium, driven headless by playwright-core
//! (`test-support/browser/demo.mjs`), walks it end to end against the running service;
//! `/metrics` must show the traffic it made. Screenshots land in
//! `$ARTIFACTS_DIR/browser` (default `target/artifacts/browser`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, assert_envelope, spawn_with, workspace_path};

fn script_dir() -> PathBuf {
    workspace_path("test-support/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

fn artifacts() -> PathBuf {
    std::env::var_os("ARTIFACTS_DIR")
        .map_or_else(|| workspace_path("target/artifacts"), PathBuf::from)
        .join("browser")
}

/// The sum of every sample of `series` whose labels contain all of `labels`.
fn total(text: &str, series: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(series)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn metrics(app: &TestApp) -> String {
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    res.text().await.expect("metrics text")
}

#[tokio::test]
async fn the_demo_page_works_in_a_browser() {
    let dir = script_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run ./scripts/test, or `npm ci` in {}",
        dir.display()
    );
    assert!(
        chromium().is_file(),
        "Chromium is not at {} (apt install chromium, or set CHROMIUM)",
        chromium().display()
    );
    let app = spawn_with(|c| {
        c.images.sweep_interval_secs = 1;
        c.notify.notify_interval_secs = 1;
    })
    .await;
    // The moderator: an account that exists, then STAFF through the operator's CLI.
    app.login("moderator@example.com").await;
    app.grant("moderator@example.com", "STAFF");
    // The user Alice reports, whom the moderator suspends from the report.
    let mallory = app.login("mallory@example.com").await;
    // A 640×480 phone photo: its thumbnail is a 320×320 crop, its BlurHash four colours.
    let image = app.dir.path().join("evidence.jpg");
    std::fs::write(
        &image,
        include_bytes!("../../../../crates/imaging/fixtures/phone.jpg"),
    )
    .expect("write the image");
    let shots = artifacts();
    let _ = std::fs::remove_dir_all(&shots);
    let before = metrics(&app).await;

    let mut cmd = Command::new("node");
    cmd.arg(dir.join("demo.mjs"))
        .current_dir(&dir)
        .env("BASE_URL", &app.address)
        .env("IMAGE", &image)
        .env("STAFF_EMAIL", "moderator@example.com")
        .env("TARGET_USER", mallory.id.to_string())
        .env("SHOTS_DIR", &shots)
        .env("CHROMIUM", chromium());
    // The service runs on this test's runtime: wait for the browser off it.
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("node runs (install Node.js)");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser walk failed (screenshots in {}):\n{said}\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = said
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no result line in:\n{said}"));
    assert_eq!(result["ok"], true, "{said}");
    let shot_files = std::fs::read_dir(&shots).expect("screenshots").count();
    assert_eq!(
        Some(shot_files as u64),
        result["screenshots"].as_u64(),
        "every screenshot saved"
    );

    // What the walk did, as the service saw it.
    let report = result["report"].as_i64().expect("report id");
    let moderator = app.login("moderator@example.com").await;
    let res = app
        .send_as(
            reqwest::Method::GET,
            &format!("/api/reports/{report}"),
            &moderator.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["status"], "resolved", "{body}");
    assert_eq!(body["evidence"].as_array().map(Vec::len), Some(1), "{body}");
    // The user report's decision suspended Mallory: her session ended, her login is refused.
    let user_report = result["userReport"].as_i64().expect("user report id");
    let body: serde_json::Value = app
        .send_as(
            reqwest::Method::GET,
            &format!("/api/reports/{user_report}"),
            &moderator.token,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["history"][1]["decision"], "suspend_target", "{body}");
    let res = app
        .send_as(
            reqwest::Method::GET,
            &format!("/accounts/{}", mallory.id),
            &mallory.token,
        )
        .await;
    assert_eq!(res.status(), 401, "a suspended account's session ends");
    let res = crate::helpers::follow(
        &crate::helpers::browser(),
        &app.url("/account/login/oauth2/authorization/dev?login_hint=mallory@example.com&name=M"),
    )
    .await;
    crate::helpers::assert_envelope(res, 403, "ACCOUNT_SUSPENDED").await;

    // The series moved while the browser ran (the outbox worker delivers within seconds).
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let text = metrics(&app).await;
        if total(&text, "outbox_deliveries_total", &[])
            > total(&before, "outbox_deliveries_total", &[])
            || Instant::now() > deadline
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let moved = |series: &str, labels: &[&str]| {
        let (b, a) = (
            total(&before, series, labels),
            total(&after, series, labels),
        );
        assert!(a > b, "{series}{labels:?} did not move: {b} → {a}\n{after}");
    };
    moved("http_requests_total", &[r#"route="/""#, r#"status="200""#]);
    moved("http_requests_total", &[r#"route="/demo/{file}""#]);
    moved(
        "http_requests_total",
        &[r#"route="/api/v1/images/{channel}/callback""#],
    );
    moved(
        "http_request_duration_seconds_count",
        &[r#"route="/api/report""#],
    );
    for channel in ["profile", "chat", "report"] {
        let label = format!(r#"channel="{channel}""#);
        moved("uploads_issued_total", &[&label]);
        moved("uploads_confirmed_total", &[&label]);
    }
    moved("sweeper_runs_total", &[]);
    moved("outbox_deliveries_total", &[]);
    assert!(
        after.contains("db_pool_connections{state=\"in_use\"}"),
        "{after}"
    );
}

#[tokio::test]
async fn the_demo_page_is_off_in_production_unless_enabled() {
    let production = |c: &mut server::Config| {
        c.app_env = server::AppEnv::Production;
        c.http.public_url = Some("https://accounts.example.com".into());
    };
    let off = spawn_with(production).await;
    assert_envelope(off.get("/").await, 404, "NOT_FOUND").await;
    assert_envelope(off.get("/demo/demo.js").await, 404, "NOT_FOUND").await;
    let turned_off = spawn_with(|c| c.http.demo_page = Some(false)).await;
    assert_envelope(turned_off.get("/").await, 404, "NOT_FOUND").await;

    let on = spawn_with(|c| {
        production(c);
        c.http.demo_page = Some(true);
    })
    .await;
    let res = on.get("/").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("frame-ancestors 'none'")
    );
    assert!(res.text().await.expect("html").contains("/demo/demo.js"));
    let js = on.get("/demo/demo.js").await;
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/javascript")
    );
    assert_envelope(on.get("/demo/other.js").await, 404, "NOT_FOUND").await;
}
