//! Faults in what the service depends on: PostgreSQL stopped and started again under load,
//! and an S3 server that answers slowly. (S3 stopped outright is in `s3.rs`, the OIDC
//! provider down in `oidc.rs`, `kill -9` of the service in `durability.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use storage_s3::testing::Garage;
use store_sql::testing::PgServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{assert_envelope, spawn_with};
use crate::images::PNG;

/// A TCP proxy that holds every chunk a client sends for `delay` before passing it on: a
/// slow network or an overloaded store, as the service sees it.
pub struct DelayProxy {
    pub address: String,
    delay_ms: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl DelayProxy {
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let delay_ms = Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (target, delay) = (target.clone(), delay.clone());
                tokio::spawn(async move {
                    let Ok(upstream) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut ur, mut uw) = upstream.into_split();
                    let up = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n) = cr.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            let ms = delay.load(Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            if uw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = uw.shutdown().await;
                    };
                    let down = async move {
                        let _ = tokio::io::copy(&mut ur, &mut cw).await;
                        let _ = cw.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Self {
            address,
            delay_ms,
            task,
        }
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(u64::try_from(delay.as_millis()).unwrap(), Ordering::Relaxed);
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn the_database_stopped_under_load_is_503_and_the_service_recovers_by_itself() {
    let Some(pg) = PgServer::start() else { return };
    let url = pg.url.clone();
    let app = Arc::new(
        spawn_with(move |c| {
            c.database.database_url = Some(url.into());
            c.database.database_acquire_timeout_secs = 2;
            // Every request reaches the database: no answer from memory hides the outage.
            c.identity.session_cache_secs = 0;
            c.read_cache_secs = 0;
            // One account presigns as fast as it can: the per-account limits would stop it.
            c.images.upload_max_pending = 0;
            c.images.upload_urls_per_hour = 0;
        })
        .await,
    );
    let user = app.login("outage@example.com").await;
    let image = app.upload_png(&user, "my").await["key"]
        .as_str()
        .unwrap()
        .to_owned();

    // Load: reads and writes from 8 clients, each answer's status counted.
    let stop = Arc::new(AtomicBool::new(false));
    let statuses = Arc::new(std::sync::Mutex::new(Vec::<(u16, String)>::new()));
    let mut clients = Vec::new();
    for i in 0..8 {
        let (app, stop, statuses) = (app.clone(), stop.clone(), statuses.clone());
        let (token, image) = (user.token.clone(), image.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let req = if i % 2 == 0 {
                    app.as_user(Method::GET, &format!("/images/{image}/metadata"), &token)
                } else {
                    app.as_user(Method::POST, "/images/presigned-url", &token)
                        .json(
                            &serde_json::json!({"filename": "x.png", "content_type": "image/png"}),
                        )
                };
                let res = req.timeout(Duration::from_secs(15)).send().await.unwrap();
                let status = res.status().as_u16();
                let body = res.text().await.unwrap_or_default();
                statuses.lock().unwrap().push((status, body));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    pg.halt();
    let halted = Instant::now();
    // While it is down: 503 DATABASE_UNAVAILABLE in the envelope, promptly.
    let res = app
        .as_user(Method::GET, &format!("/accounts/{}", user.id), &user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1"),
        "an outage says when to retry"
    );
    assert_envelope(res, 503, "DATABASE_UNAVAILABLE").await;
    assert!(
        halted.elapsed() < Duration::from_secs(10),
        "answered promptly"
    );
    assert_envelope(app.get("/readyz").await, 503, "NOT_READY").await;
    assert_eq!(app.get("/healthz").await.status(), 200, "alive all along");
    tokio::time::sleep(Duration::from_secs(1)).await;

    pg.resume();
    // Back without restarting the service: the pool reconnects on its own.
    let back = Instant::now();
    loop {
        if app.get("/readyz").await.status() == 200 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(30), "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }

    // The session, written before the outage, still works; so do writes.
    assert_eq!(
        app.send_as(
            Method::GET,
            &format!("/images/{image}/metadata"),
            &user.token
        )
        .await
        .status(),
        200
    );
    app.upload_png(&user, "chat").await;

    let statuses = statuses.lock().unwrap();
    let unavailable = statuses.iter().filter(|(s, _)| *s == 503).count();
    let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
    assert!(unavailable > 0, "the load saw the outage");
    assert!(ok > 0);
    for (status, body) in statuses.iter() {
        assert!(
            *status == 200 || (*status == 503 && body.contains("\"DATABASE_UNAVAILABLE\"")),
            "only 200 or 503 DATABASE_UNAVAILABLE: {status} {body}"
        );
    }
}

#[tokio::test]
async fn a_slow_store_is_waited_for_up_to_its_timeout_and_no_longer() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let s3 = garage.config();
    let target = s3
        .endpoint
        .clone()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let proxy = DelayProxy::start(target).await;
    let endpoint = format!("http://{}", proxy.address);
    let app = spawn_with(move |c| {
        crate::s3::use_s3(c, &s3, Some(endpoint));
        c.storage.storage_timeout_secs = 2;
    })
    .await;
    let user = app.login("slow@example.com").await;

    // Slow but within the timeout: every step succeeds, just later.
    proxy.set_delay(Duration::from_millis(300));
    let started = Instant::now();
    let image = app.upload_png(&user, "chat").await;
    assert_eq!(image["status"], "ready");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "the delay was real"
    );

    // Slower than the timeout: 409 CAN_NOT_ACCESS_S3 once the timeout passes, not when
    // the store finally answers; nothing is half-done.
    let issued = app.issue_png(&user, "chat").await;
    proxy.set_delay(Duration::ZERO);
    assert_eq!(app.put(&issued, PNG.to_vec()).await.status(), 200);
    proxy.set_delay(Duration::from_secs(20));
    let started = Instant::now();
    assert_envelope(
        app.callback(&user, "chat", &issued.key, "").await,
        409,
        "CAN_NOT_ACCESS_S3",
    )
    .await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(8),
        "answered after {waited:?}, with STORAGE_TIMEOUT_SECS=2"
    );
    let key = image["key"].as_str().unwrap();
    let started = Instant::now();
    assert_envelope(
        app.send_as(Method::DELETE, &format!("/images/{key}"), &user.token)
            .await,
        409,
        "CAN_NOT_ACCESS_S3",
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(8));

    // The store speeds up: the same upload confirms, the image was never touched.
    proxy.set_delay(Duration::ZERO);
    let res = app.callback(&user, "chat", &issued.key, "").await;
    assert_eq!(res.status(), 200);
    let meta = app
        .send_as(Method::GET, &format!("/images/{key}/metadata"), &user.token)
        .await;
    assert_eq!(meta.status(), 200);
}
