//! `spawn_app`: a fresh service on its own data directory and a free port.

use actix_web::dev::ServerHandle;
use server::{Application, Config};

/// The service's log, kept by every test: printed when the test fails, so a failing run
/// says more than the status it met. Bounded: only the newest `LOG_KEPT` bytes are kept.
static LOG: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());
const LOG_KEPT: usize = 4 << 20;

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut log = LOG
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if log.len() + buf.len() > LOG_KEPT {
            let cut = (log.len() + buf.len() - LOG_KEPT).min(log.len());
            log.drain(..cut);
        }
        log.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the log capture once per test process (nextest runs each test in its own).
pub fn keep_service_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(
                "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,actix_server=warn",
            )
        });
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .with_ansi(false)
            .compact()
            .fmt_fields(server::telemetry::text_fields())
            .with_writer(|| LogWriter)
            .try_init();
    });
}

/// Prints the kept log on standard error; called when a test that started a service
/// fails.
fn print_service_log() {
    let log = LOG
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    eprintln!(
        "---- the service's log (newest {} bytes) ----\n{}---- end of the service's log ----",
        log.len(),
        String::from_utf8_lossy(&log)
    );
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// `None` for a service running as its own process.
    handle: Option<ServerHandle>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() && self.handle.is_some() {
            print_service_log();
        }
    }
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
        if let Some(handle) = &self.handle {
            handle.stop(true).await;
        }
    }

    /// A service already running at `address` (a process of its own).
    pub fn at(address: String, dir: tempfile::TempDir) -> Self {
        Self {
            address,
            client: client(),
            dir,
            handle: None,
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The embedded defaults (SQLite, local store), in a temporary directory.
pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// The embedded defaults, adjusted by `configure` before start.
pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    keep_service_log();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::for_tests(dir.path());
    config.http.http_workers = Some(1);
    configure(&mut config);
    let app = Application::build(config).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: client(),
        dir,
        handle: Some(handle),
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

/// The headers the files/avatars API shows on every response (with `X-XSS-Protection: 0`).
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

/// A browser: its own cookie jar, redirects followed by hand so each hop can be checked.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Follows redirects (across hosts: the provider is another server) and returns the last
/// answer.
pub async fn follow(client: &reqwest::Client, url: &str) -> reqwest::Response {
    let mut url = url.to_owned();
    for _ in 0..10 {
        let res = client.get(&url).send().await.expect("request");
        if !res.status().is_redirection() {
            return res;
        }
        let location = res.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        url = reqwest::Url::parse(&url)
            .expect("url")
            .join(&location)
            .expect("location")
            .to_string();
    }
    panic!("too many redirects");
}

/// The `name` cookie a response sets, with its attributes.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value of a `Set-Cookie` header.
pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

/// A logged-in user: their id and session token, and a cookie-jar client.
#[derive(Clone)]
pub struct User {
    pub id: i64,
    pub token: String,
    pub browser: reqwest::Client,
}

impl TestApp {
    /// Logs in through the dev provider as `email` with a name: the whole redirect flow.
    pub async fn login(&self, email: &str) -> User {
        let browser = browser();
        let res = follow(
            &browser,
            &self.url(&format!(
                "/account/login/oauth2/authorization/dev?login_hint={email}&name=Test%20User"
            )),
        )
        .await;
        assert_eq!(res.status(), 200, "dev login of {email}");
        let token = cookie_value(&set_cookie(&res, "s_access").expect("session cookie"));
        let body: serde_json::Value = res.json().await.expect("json");
        User {
            id: body["userId"].as_i64().expect("userId"),
            token,
            browser,
        }
    }

    /// A request with a bearer token.
    pub fn as_user(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// Sends a body-less request with a bearer token.
    pub async fn send_as(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::Response {
        self.as_user(method, path, token)
            .send()
            .await
            .expect("request")
    }

    /// Grants a role through the operator's command line, as an operator would.
    pub fn grant(&self, email: &str, role: &str) {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["accounts", "grant", email, role])
            .env("DATA_DIR", self.dir.path())
            .env_remove("DATABASE_URL")
            .output()
            .expect("server accounts grant");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `rel`, a path from the workspace's root (`test-support/…`). The package's directory is
/// read when the test runs (cargo and nextest set `CARGO_MANIFEST_DIR` for it), not only
/// when it was built: a build reused from another checkout of the same sources (one
/// `CARGO_TARGET_DIR` for several clones) still finds this checkout's files.
pub fn workspace_path(rel: &str) -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            std::path::PathBuf::from,
        )
        .join("../..")
        .join(rel)
}
