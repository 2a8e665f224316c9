//! Nothing acknowledged is lost, and nothing is left that no one asked for. Simulated
//! users drive the whole mix (login, presign, PUT, callback, metadata, report, delete)
//! against PostgreSQL, the real S3 server (Garage), the CloudFront emulator (moto) and an
//! SMS provider, while a ledger records every write the service acknowledged. Afterwards
//! the ledger must explain the database, the bucket, the SMS sent and the invalidations
//! made, exactly. The same ledger judges `kill -9` of the service in the middle of it all.
//!
//! Short under a bare `cargo test`; `./scripts/test` (and so CI) runs the load at full
//! length, `LOAD_USERS=50 LOAD_SECS=60`, and `--long` adds `KILL_ROUNDS=5`. Every request
//! that gets no answer is a failure naming its step, key and time, and the load run prints
//! each step's p50, p99 and maximum latency.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::ObjectStore as _;
use reqwest::Method;
use serde_json::{Value, json};
use storage_s3::testing::{Garage, Moto};
use store_sql::testing::TestDatabase;

use crate::helpers::{TestApp, spawn_with};
use crate::images::real_png;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How report notices leave: Aligo's SMS API (no idempotency key) or the signed webhook
/// (with `Idempotency-Key`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Notices {
    Sms,
    Webhook,
}

/// Everything the service depends on, real, for one test.
struct Stack {
    db: TestDatabase,
    garage: Garage,
    moto: Moto,
    distribution: String,
    notices: Notices,
    receiver: String,
    /// Every notice received: (idempotency key, empty for SMS; text).
    received: Arc<Mutex<Vec<(String, String)>>>,
}

impl Stack {
    async fn start(notices: Notices) -> Option<Self> {
        let db = TestDatabase::create().await?;
        let garage = Garage::start().await?;
        let moto = Moto::start()?;
        let distribution = moto.distribution().await;
        let received = Arc::new(Mutex::new(Vec::new()));
        let receiver = notice_receiver(received.clone()).await;
        Some(Self {
            db,
            garage,
            moto,
            distribution,
            notices,
            receiver,
            received,
        })
    }

    /// The settings, as the environment of a `server` process.
    fn env(&self) -> Vec<(&'static str, String)> {
        let s3 = self.garage.config();
        vec![
            ("DATABASE_URL", self.db.url.clone()),
            ("STORAGE", "s3".into()),
            ("S3_BUCKET", s3.bucket.clone()),
            ("S3_REGION", s3.region.clone()),
            ("S3_ENDPOINT", s3.endpoint.clone().unwrap_or_default()),
            ("S3_PATH_STYLE", "true".into()),
            (
                "S3_ACCESS_KEY_ID",
                s3.access_key_id.clone().unwrap_or_default(),
            ),
            (
                "S3_SECRET_ACCESS_KEY",
                s3.secret_access_key.clone().unwrap_or_default(),
            ),
            ("CDN_BASE_URL", "https://cdn.example.com".into()),
            ("CLOUDFRONT_ENDPOINT", self.moto.endpoint.clone()),
            ("CLOUDFRONT_DISTRIBUTION_ID", self.distribution.clone()),
            (
                "NOTIFIER",
                match self.notices {
                    Notices::Sms => "aligo",
                    Notices::Webhook => "webhook",
                }
                .into(),
            ),
            ("ALIGO_ENDPOINT", format!("{}/send/", self.receiver)),
            ("WEBHOOK_URL", format!("{}/hook", self.receiver)),
            ("WEBHOOK_SECRET", "a-webhook-secret-of-some-length".into()),
            ("ALIGO_KEY", "k".into()),
            ("ALIGO_USER_ID", "u".into()),
            ("ALIGO_SENDER", "0212345678".into()),
            ("NOTIFY_INTERVAL_SECS", "1".into()),
            ("OUTBOX_LEASE_SECS", "2".into()),
            ("REPORTS_PER_DAY", "1000000".into()),
            ("LOGIN_RATE_LIMIT_PER_MINUTE", "1000000".into()),
            ("SWEEP_INTERVAL_SECS", "0".into()),
        ]
    }

    /// The same settings for a service in this process.
    async fn spawn(&self) -> TestApp {
        let env: BTreeMap<&str, String> = self.env().into_iter().collect();
        let s3 = self.garage.config();
        spawn_with(move |c| {
            c.database.database_url = Some(env["DATABASE_URL"].clone().into());
            crate::s3::use_s3(c, &s3, None);
            c.storage.cloudfront_endpoint = Some(env["CLOUDFRONT_ENDPOINT"].clone());
            c.storage.cloudfront_distribution_id = Some(env["CLOUDFRONT_DISTRIBUTION_ID"].clone());
            assert!(env["NOTIFIER"] == "aligo", "in-process: SMS only");
            c.notify.notifier = server::NotifierKind::Aligo;
            c.notify.aligo_endpoint = env["ALIGO_ENDPOINT"].clone();
            c.notify.aligo_key = Some("k".into());
            c.notify.aligo_user_id = Some("u".into());
            c.notify.aligo_sender = Some("0212345678".into());
            c.notify.notify_interval_secs = 1;
            c.notify.outbox_lease_secs = 2;
            c.reports_per_day = 1_000_000;
            c.identity.login_rate_limit_per_minute = 1_000_000;
            c.images.sweep_interval_secs = 0;
            c.http.http_workers = Some(2);
        })
        .await
    }

    /// Runs `server ARGS` to completion with the stack's settings and `extra`.
    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(args)
            .envs(self.env())
            .envs(extra.iter().copied())
            .env("DATA_DIR", dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "server {args:?}: {text}");
        text
    }
}

/// An SMS provider (Aligo's API, `/send/`) and a webhook receiver (`/hook`) that record
/// every notice and accept it.
async fn notice_receiver(received: Arc<Mutex<Vec<(String, String)>>>) -> String {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    let server = HttpServer::new(move || {
        let (sms, hook) = (received.clone(), received.clone());
        App::new()
            .route(
                "/send/",
                web::post().to(move |form: web::Form<Vec<(String, String)>>| {
                    let sms = sms.clone();
                    async move {
                        if let Some((_, msg)) = form.iter().find(|(k, _)| k == "msg") {
                            sms.lock().unwrap().push((String::new(), msg.clone()));
                        }
                        HttpResponse::Ok().json(json!({"result_code": "1", "message": "success"}))
                    }
                }),
            )
            .route(
                "/hook",
                web::post().to(move |req: HttpRequest, body: web::Json<Value>| {
                    let hook = hook.clone();
                    async move {
                        let key = req
                            .headers()
                            .get("idempotency-key")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let text = body["text"].as_str().unwrap_or_default().to_owned();
                        hook.lock().unwrap().push((key, text));
                        HttpResponse::NoContent().finish()
                    }
                }),
            )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    format!("http://{addr}")
}

/// Every write the service acknowledged, and every one it was asked for.
#[derive(Default, Debug)]
struct Ledger {
    /// Keys the service issued upload URLs for.
    issued: BTreeSet<String>,
    /// Upload URLs asked for, answered or not.
    presigns_sent: usize,
    /// Confirmed images: key → size.
    ready: BTreeMap<String, u64>,
    /// Deletions answered 204.
    deleted: BTreeSet<String>,
    /// Deletions asked for, answered or not.
    deletes_sent: BTreeSet<String>,
    /// Reports answered 200, by id.
    reports: BTreeSet<i64>,
    /// Reports sent, answered or not.
    reports_sent: usize,
    /// Requests answered at all.
    answered: usize,
    /// Answers that break the contract: 5xx, a status the step does not allow, or no
    /// answer at all (a timeout, a reset, a refused connection) outside a kill.
    wrong: Vec<String>,
    /// When the run began: failures say when they happened, in seconds from here.
    began: Option<Instant>,
    /// When the service was killed (the kill test): a request that fails from then on was
    /// in flight at the kill or sent after it, and is forgiven. Reset when it restarts.
    killed_at: Option<Instant>,
    /// How long each answered request took, by step.
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    /// PUTs the S3 server answered 503 and the client sent again.
    s3_retries: usize,
}

impl Ledger {
    /// The per-step latency table: requests, p50, p99 and maximum.
    fn latency_table(&self) -> String {
        let mut out = format!(
            "{:<12} {:>7} {:>9} {:>9} {:>9}\n",
            "step", "answers", "p50 ms", "p99 ms", "max ms"
        );
        for (step, v) in &self.latencies {
            let mut v = v.clone();
            v.sort();
            let at = |q: f64| {
                let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
                v[i].as_secs_f64() * 1000.0
            };
            out += &format!(
                "{step:<12} {:>7} {:>9.1} {:>9.1} {:>9.1}\n",
                v.len(),
                at(0.50),
                at(0.99),
                at(1.0)
            );
        }
        out
    }
}

type Shared = Arc<Mutex<Ledger>>;

/// A request got no answer; the user stops. Outside a kill that is a failure, recorded
/// with the step, the key and the time.
struct Gone;

/// How long the harness waits for any answer: the service's own bounds (the storage
/// timeout, the database's acquire timeout) are well within it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Records a request that got no answer: a failure naming the step, its key and when,
/// unless the service was killed while it was in flight.
fn unanswered(ledger: &Shared, step: &str, key: &str, sent: Instant, e: &reqwest::Error) -> Gone {
    let mut l = ledger.lock().unwrap();
    if l.killed_at.is_some_and(|k| Instant::now() >= k) {
        return Gone;
    }
    let mut why = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        why += &format!(": {cause}");
        source = cause.source();
    }
    let at = l.began.map_or(0.0, |b| (sent - b).as_secs_f64());
    l.wrong.push(format!(
        "{step} {key}: no answer (sent at +{at:.1} s, gave up after {:.1} s): {why}",
        sent.elapsed().as_secs_f64()
    ));
    Gone
}

async fn call(
    ledger: &Shared,
    req: reqwest::RequestBuilder,
    step: &'static str,
    key: &str,
    allowed: &[u16],
) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), Gone> {
    let sent = Instant::now();
    let res = req
        .timeout(CLIENT_TIMEOUT)
        .send()
        .await
        .map_err(|e| unanswered(ledger, step, key, sent, &e))?;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res
        .bytes()
        .await
        .map_err(|e| unanswered(ledger, step, key, sent, &e))?
        .to_vec();
    let mut l = ledger.lock().unwrap();
    l.answered += 1;
    l.latencies.entry(step).or_default().push(sent.elapsed());
    if !allowed.contains(&status) {
        l.wrong.push(format!(
            "{step} {key}: {status} {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    Ok((status, headers, body))
}

/// A small deterministic generator: each user's run is reproducible from its number.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn login(app: &TestApp, ledger: &Shared, email: &str) -> Result<(i64, String), Gone> {
    let browser = crate::helpers::browser();
    let mut url = app.url(&format!(
        "/account/login/oauth2/authorization/dev?login_hint={email}&name=Load%20User"
    ));
    for _ in 0..5 {
        let sent = Instant::now();
        let res = browser
            .get(&url)
            .timeout(CLIENT_TIMEOUT)
            .send()
            .await
            .map_err(|e| unanswered(ledger, "login", email, sent, &e))?;
        ledger
            .lock()
            .unwrap()
            .latencies
            .entry("login")
            .or_default()
            .push(sent.elapsed());
        if res.status().is_redirection() {
            let location = res.headers()["location"].to_str().unwrap().to_owned();
            url = reqwest::Url::parse(&url)
                .unwrap()
                .join(&location)
                .unwrap()
                .to_string();
            continue;
        }
        if res.status() != 200 {
            let mut l = ledger.lock().unwrap();
            if l.killed_at.is_none() {
                l.wrong.push(format!("login {email}: {}", res.status()));
            }
            return Err(Gone);
        }
        let token = crate::helpers::set_cookie(&res, "s_access")
            .map(|c| crate::helpers::cookie_value(&c))
            .ok_or(Gone)?;
        let body: Value = res.json().await.map_err(|_| Gone)?;
        return Ok((body["userId"].as_i64().ok_or(Gone)?, token));
    }
    Err(Gone)
}

/// One user: logs in, gives a phone number, then repeats the mix until `until`. Stops
/// quietly when the service goes away.
async fn simulate(
    app: Arc<TestApp>,
    ledger: Shared,
    n: u64,
    run: u64,
    until: Instant,
) -> Result<(), Gone> {
    let mut rng =
        Rng(0x9E37_79B9_7F4A_7C15 ^ (n + 1 + (run << 20)).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let email = format!("load-{n}@example.com");
    let (id, mut token) = login(&app, &ledger, &email).await?;
    call(
        &ledger,
        app.as_user(Method::PATCH, &format!("/accounts/{id}"), &token)
            .json(&json!({"phone": "010-1234-5678"})),
        "set a phone",
        &email,
        &[200],
    )
    .await?;
    let mut mine: Vec<String> = Vec::new();
    while Instant::now() < until {
        match rng.below(100) {
            0..=4 => token = login(&app, &ledger, &email).await?.1,
            5..=54 => {
                let channel = ["chat", "post", "my"][usize::try_from(rng.below(3)).unwrap()];
                ledger.lock().unwrap().presigns_sent += 1;
                let (_, _, body) = call(
                    &ledger,
                    app.as_user(Method::POST, &format!("/api/v1/images/{channel}"), &token)
                        .json(&json!({"filename": "x.png", "content_type": "image/png"})),
                    "presign",
                    channel,
                    &[200],
                )
                .await?;
                let issued: Value = serde_json::from_slice(&body).unwrap_or_default();
                let Some(key) = issued["key"].as_str().map(str::to_owned) else {
                    continue;
                };
                ledger.lock().unwrap().issued.insert(key.clone());
                // About this many bytes (at least what the image itself takes).
                let size = 100 + usize::try_from(rng.below(20_000)).unwrap();
                let bytes = real_png(1 + u32::try_from(rng.below(999)).unwrap(), 7, size);
                let put = || {
                    let mut put = app.client.put(issued["upload_url"].as_str().unwrap());
                    for (k, v) in issued["required_headers"].as_object().unwrap() {
                        if !k.eq_ignore_ascii_case("content-length") {
                            put = put.header(k, v.as_str().unwrap());
                        }
                    }
                    put.body(bytes.clone())
                };
                // The PUT goes to the S3 server itself, not to the service. A 503 from S3 asks
                // the client to retry, and every S3 client does (the AWS SDKs three times with
                // backoff): Garage's SQLite metadata answers 503 "database is locked" now and
                // then under this load. So does this client, twice; a third 503 is a failure.
                let mut attempt = 0;
                let (status, headers, _) = loop {
                    attempt += 1;
                    let allowed: &[u16] = if attempt < 3 { &[200, 503] } else { &[200] };
                    let answer = call(&ledger, put(), "PUT to S3", &key, allowed).await?;
                    if answer.0 != 503 || attempt == 3 {
                        break answer;
                    }
                    ledger.lock().unwrap().s3_retries += 1;
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                };
                if status != 200 {
                    continue;
                }
                let etag = headers
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let (status, _, _) = call(
                    &ledger,
                    app.as_user(
                        Method::POST,
                        &format!("/api/v1/images/{channel}/callback"),
                        &token,
                    )
                    .json(&json!({"key": key, "etag": etag})),
                    "callback",
                    &key,
                    &[200],
                )
                .await?;
                if status == 200 {
                    ledger
                        .lock()
                        .unwrap()
                        .ready
                        .insert(key.clone(), bytes.len() as u64);
                    mine.push(key);
                }
            }
            55..=74 if !mine.is_empty() => {
                let key = &mine[usize::try_from(rng.below(mine.len() as u64)).unwrap()];
                call(
                    &ledger,
                    app.as_user(Method::GET, &format!("/images/{key}/metadata"), &token),
                    "metadata",
                    key,
                    &[200],
                )
                .await?;
            }
            75..=87 => {
                ledger.lock().unwrap().reports_sent += 1;
                let (status, headers, _) = call(
                    &ledger,
                    app.as_user(Method::POST, "/api/report", &token)
                        .json(&json!({
                        "report_category_id": 1 + rng.below(6),
                        // Never the same target twice: a second open report of one
                        // target is refused (409 DUPLICATE_REPORT), rightly.
                        "report_product_id": 1 + rng.below(1 << 40),
                        "report_etc_reason": "load"})),
                    "report",
                    &email,
                    &[200],
                )
                .await?;
                if status == 200 {
                    let id = headers["x-report-id"].to_str().unwrap().parse().unwrap();
                    ledger.lock().unwrap().reports.insert(id);
                }
            }
            _ if !mine.is_empty() => {
                let i = usize::try_from(rng.below(mine.len() as u64)).unwrap();
                let key = mine.swap_remove(i);
                ledger.lock().unwrap().deletes_sent.insert(key.clone());
                let (status, _, _) = call(
                    &ledger,
                    app.as_user(Method::DELETE, &format!("/images/{key}"), &token),
                    "delete",
                    &key,
                    &[204],
                )
                .await?;
                if status == 204 {
                    ledger.lock().unwrap().deleted.insert(key);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs `users` simulated users against `app` until `until`; `run` varies their choices.
async fn drive(app: Arc<TestApp>, ledger: Shared, users: u64, run: u64, until: Instant) {
    let tasks: Vec<_> = (0..users)
        .map(|n| tokio::spawn(simulate(app.clone(), ledger.clone(), n, run, until)))
        .collect();
    for t in tasks {
        let _ = t.await.unwrap();
    }
}

/// What is in the database and the bucket, checked against the ledger. `settled`: no
/// request was cut short, so every record must be one the ledger acknowledged.
async fn audit(stack: &Stack, ledger: &Ledger, settled: bool) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let mut wrong = Vec::new();
    let db = Database::connect(&stack.db.url).await.unwrap();
    let query = |sql: &str| {
        let (db, sql) = (&db, sql.to_owned());
        async move {
            db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
        }
    };
    let mut records: BTreeMap<String, (String, Option<i64>)> = BTreeMap::new();
    // The variants ready records name: objects that are part of their image.
    let mut variants: BTreeMap<String, String> = BTreeMap::new();
    for r in query("SELECT key, status, size, variants FROM images").await {
        let key: String = r.try_get_by_index(0).unwrap();
        let status: String = r.try_get_by_index(1).unwrap();
        let named: String = r.try_get_by_index(3).unwrap();
        if status == "ready" {
            for v in serde_json::from_str::<Vec<serde_json::Value>>(&named).unwrap() {
                variants.insert(v["key"].as_str().unwrap().to_owned(), key.clone());
            }
        }
        records.insert(key, (status, r.try_get_by_index(2).unwrap()));
    }
    let reports: BTreeSet<i64> = query("SELECT id FROM reports")
        .await
        .iter()
        .map(|r| r.try_get_by_index(0).unwrap())
        .collect();
    let store = stack.garage.store().await;
    let mut objects: BTreeMap<String, u64> = BTreeMap::new();
    let mut after = None;
    loop {
        let page = store
            .list(&domain::KeyPrefix::root(), after.clone(), 1000)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        for o in page {
            objects.insert(o.key.to_string(), o.size);
        }
    }

    // Every acknowledged write is there.
    for (key, size) in &ledger.ready {
        let (status, recorded) = records.get(key).cloned().unwrap_or_default();
        if ledger.deleted.contains(key) {
            if status != "deleted" {
                wrong.push(format!("{key}: deleted (204) but the record is {status:?}"));
            }
            if objects.contains_key(key) {
                wrong.push(format!(
                    "{key}: deleted (204) but its object is still there"
                ));
            }
        } else if ledger.deletes_sent.contains(key) && status == "deleted" {
            // A deletion cut short by the kill may have happened: then wholly.
            if objects.contains_key(key) {
                wrong.push(format!("{key}: deleted, but its object is still there"));
            }
        } else {
            if status != "ready" || recorded != i64::try_from(*size).ok() {
                wrong.push(format!(
                    "{key}: confirmed with {size} bytes, the record is {status:?} {recorded:?}"
                ));
            }
            if objects.get(key) != Some(size) {
                wrong.push(format!(
                    "{key}: confirmed with {size} bytes, the object has {:?}",
                    objects.get(key)
                ));
            }
        }
    }
    for id in &ledger.reports {
        if !reports.contains(id) {
            wrong.push(format!("report {id} was acknowledged but is not stored"));
        }
    }
    // Nothing is there that the ledger does not explain. A presign cut short by a kill
    // may have left a record whose key no one heard of: never ready, and at most one
    // per presign left unanswered.
    let unanswered = ledger.presigns_sent - ledger.issued.len();
    let unexplained: Vec<_> = records
        .iter()
        .filter(|(key, _)| !ledger.issued.contains(*key))
        .collect();
    if (settled && !unexplained.is_empty()) || unexplained.len() > unanswered {
        wrong.push(format!(
            "{} records no answered presign explains ({unanswered} presigns unanswered): {unexplained:?}",
            unexplained.len()
        ));
    }
    for (key, (status, _)) in &unexplained {
        if status == "ready" {
            wrong.push(format!("{key}: ready, yet its key was never given out"));
        }
    }
    for (key, (status, size)) in &records {
        if status == "ready" {
            if objects.get(key).map(|s| i64::try_from(*s).unwrap()) != *size {
                wrong.push(format!(
                    "{key}: ready with {size:?} bytes but the object has {:?}",
                    objects.get(key)
                ));
            }
            if settled && !ledger.ready.contains_key(key) {
                wrong.push(format!(
                    "{key}: ready, but no confirmation was acknowledged"
                ));
            }
        }
        if status == "pending" {
            wrong.push(format!("{key}: still pending after the sweep"));
        }
    }
    for key in objects.keys() {
        let ready = records.get(key).is_some_and(|(s, _)| s == "ready");
        if !ready && !variants.contains_key(key) {
            wrong.push(format!("{key}: an object no ready record explains"));
        }
    }
    for (variant, image) in &variants {
        if !objects.contains_key(variant) {
            wrong.push(format!(
                "{image}: ready, but its variant {variant} is missing"
            ));
        }
    }
    if reports.len() > ledger.reports_sent || (settled && reports.len() != ledger.reports.len()) {
        wrong.push(format!(
            "{} reports stored, {} sent, {} acknowledged",
            reports.len(),
            ledger.reports_sent,
            ledger.reports.len()
        ));
    }

    // Every queued notice and invalidation was delivered, once.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let open = query("SELECT count(*) FROM outbox WHERE done_at IS NULL AND failed_at IS NULL")
            .await[0]
            .try_get_by_index::<i64>(0)
            .unwrap();
        if open == 0 {
            break;
        }
        if Instant::now() > deadline {
            wrong.push(format!("{open} outbox jobs never delivered"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let failed = query("SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL").await[0]
        .try_get_by_index::<i64>(0)
        .unwrap();
    if failed > 0 {
        wrong.push(format!("{failed} outbox jobs failed"));
    }
    // Per report: the notices received, and their distinct idempotency keys. Over SMS
    // (no key) each must arrive once. Over the webhook a notice may arrive again after a
    // kill between the receiver's answer and the outbox recording it, always under the
    // same key, which the receiver drops: exactly once where it counts.
    let mut by_report: BTreeMap<i64, (usize, BTreeSet<String>)> = BTreeMap::new();
    for (key, text) in stack.received.lock().unwrap().iter() {
        let id = text
            .split('#')
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1);
        let entry = by_report.entry(id).or_default();
        entry.0 += 1;
        entry.1.insert(key.clone());
    }
    let mut repeated = 0;
    for id in &reports {
        match (stack.notices, by_report.get(id)) {
            (Notices::Sms, Some((1, _))) => {}
            (Notices::Webhook, Some((n, keys))) if keys.len() == 1 && !keys.contains("") => {
                repeated += n - 1;
            }
            (_, got) => wrong.push(format!("report {id}: notices received {got:?}")),
        }
    }
    if by_report.keys().any(|id| !reports.contains(id)) {
        wrong.push(format!(
            "notices for reports that do not exist: {by_report:?}"
        ));
    }
    if repeated > 0 {
        eprintln!("{repeated} notices were sent again after a kill, under their first key");
    }
    // Every deleted image's path was invalidated under one reference: once, or, after a
    // kill in the delivery window, sent again under the same `CallerReference`, which
    // CloudFront answers with the first invalidation (moto records the repeat; we count
    // references).
    let mut invalidated: BTreeMap<String, (usize, BTreeSet<String>)> = BTreeMap::new();
    for (reference, paths) in stack.moto.invalidations(&stack.distribution).await {
        for path in paths {
            let entry = invalidated
                .entry(path.trim_start_matches('/').to_owned())
                .or_default();
            entry.0 += 1;
            entry.1.insert(reference.clone());
        }
    }
    let mut resent = 0;
    for (key, (status, _)) in &records {
        let (times, references) = invalidated.get(key).cloned().unwrap_or_default();
        if status == "deleted" && ledger.deleted.contains(key) {
            if references.len() != 1 || (settled && times != 1) {
                wrong.push(format!(
                    "{key}: deleted, invalidated {times} times under {references:?}"
                ));
            }
            resent += times.saturating_sub(1);
        }
        if status == "ready" && times > 0 && settled {
            wrong.push(format!("{key}: still ready but invalidated"));
        }
    }
    if resent > 0 {
        eprintln!(
            "{resent} invalidations were sent again after a kill, under their first reference"
        );
    }
    wrong
}

#[tokio::test]
async fn under_load_every_acknowledged_write_is_kept_and_nothing_else_exists() {
    let Some(stack) = Stack::start(Notices::Sms).await else {
        return;
    };
    let app = Arc::new(stack.spawn().await);
    let (users, secs) = (knob("LOAD_USERS", 12), knob("LOAD_SECS", 8));
    let ledger: Shared = Arc::default();
    ledger.lock().unwrap().began = Some(Instant::now());
    drive(
        app,
        ledger.clone(),
        users,
        0,
        Instant::now() + Duration::from_secs(secs),
    )
    .await;
    let ledger = Arc::try_unwrap(ledger).unwrap().into_inner().unwrap();
    eprintln!(
        "load: {users} users × {secs} s: {} answers, {} images confirmed, {} deleted, {} reports",
        ledger.answered,
        ledger.ready.len(),
        ledger.deleted.len(),
        ledger.reports.len()
    );
    eprintln!(
        "latency per step (the service's, and Garage's for the PUT; {} PUTs sent again after S3's 503):\n{}",
        ledger.s3_retries,
        ledger.latency_table()
    );
    assert!(
        ledger.wrong.is_empty(),
        "answers off the contract:\n{}",
        ledger.wrong.join("\n")
    );
    assert!(!ledger.ready.is_empty() && !ledger.deleted.is_empty() && !ledger.reports.is_empty());
    let wrong = audit(&stack, &ledger, true).await;
    assert!(
        wrong.is_empty(),
        "{} problems:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The `server` binary with the stack's settings, listening on a fresh port.
fn start_service(stack: &Stack, dir: &tempfile::TempDir) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_server"))
        .envs(stack.env())
        .env("DATA_DIR", dir.path())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("HTTP_WORKERS", "2")
        .env("LOG_FORMAT", "json")
        // Uploads the kill cut short expire (and are swept) within seconds.
        .env("UPLOAD_URL_TTL_SECS", "4")
        .env("PENDING_UPLOAD_TTL_SECS", "4")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the service never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

#[tokio::test]
async fn kill_9_in_the_middle_of_uploads_and_reports_loses_nothing_acknowledged() {
    let Some(stack) = Stack::start(Notices::Webhook).await else {
        return;
    };
    let rounds = knob("KILL_ROUNDS", 1);
    let users = knob("LOAD_USERS", 12);
    let ledger: Shared = Arc::default();
    ledger.lock().unwrap().began = Some(Instant::now());
    let mut rng = Rng(0x5EED);
    for round in 0..rounds {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, address) = start_service(&stack, &dir);
        ledger.lock().unwrap().killed_at = None;
        let app = Arc::new(TestApp::at(address, dir));
        let load = tokio::spawn(drive(
            app.clone(),
            ledger.clone(),
            users,
            round,
            Instant::now() + Duration::from_secs(3600),
        ));
        // Mid-flight, at a different moment each round.
        tokio::time::sleep(Duration::from_millis(1500 + rng.below(1500))).await;
        ledger.lock().unwrap().killed_at = Some(Instant::now());
        child.kill().unwrap(); // SIGKILL: no graceful anything
        child.wait().unwrap();
        load.await.unwrap();
        eprintln!(
            "round {round}: killed after {} answers",
            ledger.lock().unwrap().answered
        );
    }

    // A service started again works, and its sweep reconciles what the kills cut short:
    // uploads never confirmed expire, objects no record explains go.
    let dir = tempfile::tempdir().unwrap();
    let (mut child, address) = start_service(&stack, &dir);
    ledger.lock().unwrap().killed_at = None;
    let app = Arc::new(TestApp::at(address, dir));
    drive(
        app,
        ledger.clone(),
        2,
        rounds,
        Instant::now() + Duration::from_secs(1),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let swept = stack.run(&["sweep"], &[("ORPHAN_GRACE_SECS", "0")]);
    eprintln!("{swept}");
    let ledger_now = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(
        ledger_now.wrong.is_empty(),
        "answers off the contract:\n{}",
        ledger_now.wrong.join("\n")
    );
    assert!(!ledger_now.ready.is_empty() && !ledger_now.reports.is_empty());
    let wrong = audit(&stack, &ledger_now, false).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        wrong.is_empty(),
        "{} problems:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The cause the load run found: the service closed idle keep-alive connections after 5 s,
/// before the clients in front of it (reqwest's pool keeps them 90 s, a load balancer 60 s),
/// so a request sent on one just as it closed got no answer. And its sibling: a connection
/// a client pool opened but used only later was answered 408 after actix's 5 s "slow first
/// request" timeout. An idle connection, used before or not yet, still answers after longer
/// than those old timeouts.
#[tokio::test]
async fn an_idle_keep_alive_connection_still_answers_after_the_old_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_with(|_| {}).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n");
    let idle = Duration::from_secs(7);
    // `pauses`: how long the connection stays idle before each of its requests.
    let connection = |pauses: Vec<Duration>| {
        let (address, request) = (address.clone(), request.clone());
        async move {
            let mut conn = tokio::net::TcpStream::connect(&address).await.unwrap();
            for pause in pauses {
                tokio::time::sleep(pause).await;
                conn.write_all(request.as_bytes()).await.unwrap();
                let mut buf = vec![0u8; 4096];
                let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
                    .await
                    .unwrap()
                    .unwrap();
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(
                    head.starts_with("HTTP/1.1 200"),
                    "after {pause:?} idle: {head:?} (0 bytes: the service closed the connection)"
                );
            }
        }
    };
    tokio::join!(
        connection(vec![Duration::ZERO, idle]),
        connection(vec![idle]),
    );
}
