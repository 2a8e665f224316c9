//! Signed events for the services around this one: each kind delivered to the endpoints
//! that want it, signed so that the reference `standardwebhooks` package (PyPI) accepts
//! it, retried under the same `webhook-id` after a 500 and after a timeout, listed as
//! failed after the last attempt and redelivered by ADMIN.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_envelope, spawn_with};

/// One request an endpoint received.
#[derive(Debug, Clone)]
struct Received {
    endpoint: String,
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    answered: u16,
}

#[derive(Default)]
struct Receiver {
    got: Vec<Received>,
    /// Every (endpoint, webhook-id) that has arrived, recorded on arrival.
    seen: BTreeSet<(String, String)>,
    /// `down` answers 500 until this is set.
    up: bool,
}

/// Three endpoints: `flaky` fails every message's first attempt (500), `slow` sleeps past
/// the service's timeout on every message's first attempt, `down` fails until told.
async fn receiver(state: Arc<Mutex<Receiver>>) -> String {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().route(
            "/{endpoint}",
            web::post().to(move |req: HttpRequest, body: String| {
                let state = state.clone();
                async move {
                    let endpoint = req.match_info()["endpoint"].to_owned();
                    let h = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let id = h("webhook-id");
                    let (first, up) = {
                        let mut s = state.lock().unwrap();
                        let first = s.seen.insert((endpoint.clone(), id.clone()));
                        (first, s.up)
                    };
                    let answered = match endpoint.as_str() {
                        "flaky" if first => 500,
                        "slow" if first => {
                            tokio::time::sleep(Duration::from_millis(2500)).await;
                            204
                        }
                        "down" if !up => 500,
                        _ => 204,
                    };
                    state.lock().unwrap().got.push(Received {
                        endpoint,
                        id,
                        timestamp: h("webhook-timestamp"),
                        signature: h("webhook-signature"),
                        body,
                        answered,
                    });
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(answered).unwrap())
                        .finish()
                }
            }),
        )
    })
    .workers(2)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    format!("http://{addr}")
}

const SECRETS: [(&str, &str); 3] = [
    (
        "flaky",
        "whsec_Zmxha3ktc2VjcmV0LW9mLWF0LWxlYXN0LTI0LWJ5dGVz",
    ),
    ("slow", "whsec_c2xvdy1zZWNyZXQtb2YtYXQtbGVhc3QtMjQtYnl0ZXM="),
    ("down", "whsec_ZG93bi1zZWNyZXQtb2YtYXQtbGVhc3QtMjQtYnl0ZXM="),
];

fn secret(endpoint: &str) -> &'static str {
    SECRETS.iter().find(|(n, _)| *n == endpoint).unwrap().1
}

/// Waits until `done` holds for what was received, or fails after `secs`.
async fn until(
    state: &Arc<Mutex<Receiver>>,
    secs: u64,
    what: &str,
    done: impl Fn(&[Received]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if done(&state.lock().unwrap().got) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {:#?}",
            state.lock().unwrap().got
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every delivered message, checked by the reference receiver library.
fn verify_with_standardwebhooks(dir: &std::path::Path, received: &[Received]) {
    let messages: Vec<Value> = received
        .iter()
        .map(|r| {
            json!({"secret": secret(&r.endpoint), "body": r.body, "headers": {
                "webhook-id": r.id, "webhook-timestamp": r.timestamp,
                "webhook-signature": r.signature}})
        })
        .collect();
    let file = dir.join("received.json");
    std::fs::write(&file, serde_json::to_vec(&messages).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys\n\
             from standardwebhooks.webhooks import Webhook\n\
             msgs = json.load(open(sys.argv[1]))\n\
             for m in msgs:\n    Webhook(m['secret']).verify(m['body'], m['headers'])\n\
             print('verified', len(msgs))\n",
        )
        .arg(&file)
        .output()
        .expect("python3 runs (./scripts/test puts its venv first on PATH)");
    assert!(
        out.status.success(),
        "standardwebhooks refused a message: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("verified {}", messages.len())
    );
}

#[tokio::test]
async fn events_are_signed_retried_under_one_id_and_failed_ones_redelivered() {
    let state = Arc::new(Mutex::new(Receiver::default()));
    let base = receiver(state.clone()).await;
    let endpoints = format!(
        "flaky={base}/flaky * {}; slow={base}/slow report.created {}; \
         down={base}/down account.withdrawn {}",
        secret("flaky"),
        secret("slow"),
        secret("down")
    );
    let app: TestApp = spawn_with(move |c| {
        c.events.event_endpoints = Some(endpoints);
        c.events.event_timeout_secs = 1;
        c.events.event_max_attempts = 2;
        c.notify.notify_interval_secs = 1;
    })
    .await;
    let alice = app.login("events-alice@example.com").await;
    let leaving = app.login("events-leaving@example.com").await;
    app.login("events-admin@example.com").await;
    app.grant("events-admin@example.com", "ADMIN");
    let admin = app.login("events-admin@example.com").await;

    // Every kind of event, each from the request that causes it.
    let image = app.upload_png(&alice, "chat").await;
    let key = image["key"].as_str().unwrap().to_owned();
    let res = app
        .report(
            &alice,
            json!({"report_category_id": 5, "report_product_id": 77,
            "report_etc_reason": "spam"}),
        )
        .await;
    assert_eq!(
        res.status(),
        200,
        "a report never waits for a slow endpoint"
    );
    let report: i64 = res.headers()["x-report-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let res = app
        .as_user(
            Method::PATCH,
            &format!("/api/reports/{report}"),
            &admin.token,
        )
        .json(&json!({"action": "resolve", "decision": "remove_content"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .send_as(Method::DELETE, &format!("/images/{key}"), &alice.token)
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .send_as(
            Method::DELETE,
            &format!("/accounts/{}", leaving.id),
            &leaving.token,
        )
        .await;
    assert_eq!(res.status(), 204);

    // flaky: every kind, each first refused (500), then delivered under the same id.
    until(&state, 30, "flaky gets every kind", |got| {
        let delivered: BTreeSet<String> = got
            .iter()
            .filter(|r| r.endpoint == "flaky" && r.answered == 204)
            .map(|r| {
                serde_json::from_str::<Value>(&r.body).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        delivered.len() == 5
    })
    .await;
    let got = state.lock().unwrap().got.clone();
    let flaky: Vec<&Received> = got.iter().filter(|r| r.endpoint == "flaky").collect();
    let mut answers: BTreeMap<&str, Vec<u16>> = BTreeMap::new();
    for r in &flaky {
        answers.entry(r.id.as_str()).or_default().push(r.answered);
    }
    assert!(
        answers.values().all(|a| a[..2] == [500, 204]),
        "{answers:?}"
    );
    let by_type = |t: &str| -> Value {
        let r = flaky
            .iter()
            .find(|r| {
                r.answered == 204 && serde_json::from_str::<Value>(&r.body).unwrap()["type"] == t
            })
            .unwrap();
        serde_json::from_str::<Value>(&r.body).unwrap()
    };
    assert_eq!(
        by_type("image.ready")["data"],
        json!({"key": key, "channel": "chat", "uploader_id": alice.id,
        "content_type": "image/png", "width": image["width"], "height": image["height"],
        "blurhash": image["blurhash"],
        "variants": {
            "thumb": {"key": format!("{key}.thumb.webp"), "width": 1, "height": 1,
                "content_type": "image/webp"},
            "medium": {"key": format!("{key}.medium.webp"), "width": 1, "height": 1,
                "content_type": "image/webp"},
        }})
    );
    assert_eq!(
        by_type("image.deleted")["data"],
        json!({"key": key, "channel": "chat", "uploader_id": alice.id})
    );
    assert_eq!(
        by_type("report.created")["data"],
        json!({"report_id": report, "category_id": 5, "target_type": "product", "target_id": 77})
    );
    assert_eq!(
        by_type("report.moderated")["data"],
        json!({"report_id": report, "action": "resolve", "status": "resolved",
            "target_type": "product", "target_id": 77, "decision": "remove_content", "until": null})
    );
    assert_eq!(
        by_type("account.withdrawn")["data"],
        json!({"account_id": leaving.id})
    );
    assert!(
        by_type("account.withdrawn")["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    // slow: only what it subscribed to; the attempt past the timeout is retried under
    // the same id.
    until(
        &state,
        30,
        "slow gets report.created after its timeout",
        |got| {
            got.iter()
                .any(|r| r.endpoint == "slow" && r.answered == 204 && r.timestamp.len() > 1)
                && got.iter().filter(|r| r.endpoint == "slow").count() >= 2
        },
    )
    .await;
    let got = state.lock().unwrap().got.clone();
    let slow: Vec<&Received> = got.iter().filter(|r| r.endpoint == "slow").collect();
    assert!(slow.iter().all(|r| r.id == slow[0].id), "{slow:#?}");
    assert!(slow.iter().all(|r| r.body.contains("report.created")));

    // down: both attempts fail; ADMIN sees it failed, redelivers it, and it arrives.
    let deadline = Instant::now() + Duration::from_secs(40);
    let failed = loop {
        let page: Value = app
            .send_as(Method::GET, "/admin/events/failed", &admin.token)
            .await
            .json()
            .await
            .unwrap();
        if page["total"] == 1 {
            break page["items"][0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no failed delivery listed: {page} after {:#?}",
            state.lock().unwrap().got
        );
        assert!(
            state
                .lock()
                .unwrap()
                .got
                .iter()
                .filter(|r| r.endpoint == "down")
                .count()
                <= 2,
            "more attempts than EVENT_MAX_ATTEMPTS"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(failed["endpoint"], "down");
    assert_eq!(failed["attempts"], 2);
    assert_eq!(failed["body"]["type"], "account.withdrawn");
    assert!(
        failed["last_error"].as_str().unwrap().contains("500"),
        "{failed}"
    );
    assert_envelope(
        app.send_as(Method::GET, "/admin/events/failed", &alice.token)
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
    state.lock().unwrap().up = true;
    let id = failed["id"].as_i64().unwrap();
    let res = app
        .send_as(
            Method::POST,
            &format!("/admin/events/failed/{id}/redeliver"),
            &admin.token,
        )
        .await;
    assert_eq!(res.status(), 202);
    assert_envelope(
        app.send_as(
            Method::POST,
            &format!("/admin/events/failed/{id}/redeliver"),
            &admin.token,
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    let webhook_id = failed["webhook_id"].as_str().unwrap().to_owned();
    until(&state, 15, "the redelivery arrives", |got| {
        got.iter()
            .any(|r| r.endpoint == "down" && r.answered == 204 && r.id == webhook_id)
    })
    .await;

    // Every message sent, delivered or not, carries a signature the reference library
    // accepts.
    let got = state.lock().unwrap().got.clone();
    verify_with_standardwebhooks(app.dir.path(), &got);
    app.stop().await;
}
