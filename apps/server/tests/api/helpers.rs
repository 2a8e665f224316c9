//! `spawn_app`: a fresh service on its own data directory and a free port.

use actix_web::dev::ServerHandle;
use server::{Application, Config};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    handle: ServerHandle,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// The embedded defaults (SQLite, local store), in a temporary directory.
pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// The embedded defaults, adjusted by `configure` before start.
pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::for_tests(dir.path());
    config.http_workers = Some(1);
    configure(&mut config);
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        dir,
        handle,
    }
}

/// Asserts a response is the contract's error envelope with this status and code.
pub async fn assert_envelope(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type}"
    );
    let body: serde_json::Value = res.json().await.expect("a JSON body");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["domain"].is_string(), "{body}");
    assert!(
        body.get("validation").is_some(),
        "validation is always present: {body}"
    );
    body
}

/// The headers seed 000 shows on every response (with `X-XSS-Protection: 0`).
pub fn assert_contract_headers(res: &reqwest::Response) {
    let h = res.headers();
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(get("x-content-type-options"), "nosniff");
    assert_eq!(get("x-frame-options"), "DENY");
    assert_eq!(get("x-xss-protection"), "0");
    let vary = get("vary");
    for v in [
        "Origin",
        "Access-Control-Request-Method",
        "Access-Control-Request-Headers",
    ] {
        assert!(vary.contains(v), "Vary {vary:?} lacks {v}");
    }
    assert!(!get("x-request-id").is_empty());
}

/// The no-store caching headers of API answers.
pub fn assert_no_store(res: &reqwest::Response) {
    let h = res.headers();
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        get("cache-control"),
        "no-cache, no-store, max-age=0, must-revalidate"
    );
    assert_eq!(get("pragma"), "no-cache");
    assert_eq!(get("expires"), "0");
}
