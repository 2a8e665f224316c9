//! The SMS adapter against a local server that answers as Aligo's API does (success, a
//! negative `result_code`, a 5xx, a timeout), and the webhook's signature.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use domain::{AccountId, Notice, Notifier, NotifyError, Phone};
use notify::{AligoConfig, AligoSms, Webhook};

type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A fake Aligo on a free port: `/ok`, `/refused`, `/broken`, `/slow`, and `/hook` that
/// records what it received.
async fn fake_aligo(seen: Seen) -> String {
    let server = HttpServer::new(move || {
        let seen = seen.clone();
        App::new()
            .route(
                "/ok",
                web::post().to(|form: web::Form<Vec<(String, String)>>| async move {
                    let count = form.iter().filter(|(k, _)| k == "receiver").count();
                    HttpResponse::Ok().json(serde_json::json!({
                        "result_code": "1", "message": "success", "msg_id": "123456",
                        "success_cnt": count, "error_cnt": 0, "msg_type": "SMS"
                    }))
                }),
            )
            .route(
                "/refused",
                web::post().to(|| async {
                    HttpResponse::Ok().json(
                        serde_json::json!({"result_code": -101, "message": "인증오류입니다."}),
                    )
                }),
            )
            .route(
                "/broken",
                web::post().to(|| async { HttpResponse::BadGateway().body("upstream") }),
            )
            .route(
                "/slow",
                web::post().to(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    HttpResponse::Ok().finish()
                }),
            )
            .route(
                "/hook",
                web::post().to(move |req: HttpRequest, body: web::Bytes| {
                    let seen = seen.clone();
                    async move {
                        let sig = req
                            .headers()
                            .get("x-signature")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        seen.lock()
                            .unwrap()
                            .push((sig, String::from_utf8_lossy(&body).into_owned()));
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

fn notice(phone: Option<&str>) -> Notice {
    Notice {
        account: AccountId::new(42),
        phone: phone.map(|p| Phone::parse(p).unwrap()),
        text: "[신고 접수] 신고 #5가 접수되었습니다.".into(),
        idempotency_key: "notice-9".into(),
    }
}

fn aligo(base: &str, path: &str) -> AligoSms {
    AligoSms::new(AligoConfig {
        endpoint: format!("{base}{path}"),
        key: "k".into(),
        user_id: "u".into(),
        sender: "0212345678".into(),
        test_mode: true,
        timeout: Duration::from_millis(800),
    })
    .unwrap()
}

#[actix_web::test]
async fn aligo_success_negative_result_5xx_and_timeout() {
    let base = fake_aligo(Seen::default()).await;
    aligo(&base, "/ok")
        .send(&notice(Some("010-1234-5678")))
        .await
        .expect("sent");
    match aligo(&base, "/refused")
        .send(&notice(Some("01012345678")))
        .await
    {
        Err(NotifyError::Failed(why)) => {
            assert!(why.contains("-101") && why.contains("인증오류"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    match aligo(&base, "/broken")
        .send(&notice(Some("01012345678")))
        .await
    {
        Err(NotifyError::Failed(why)) => assert!(why.contains("502"), "{why}"),
        other => panic!("{other:?}"),
    }
    let started = std::time::Instant::now();
    match aligo(&base, "/slow")
        .send(&notice(Some("01012345678")))
        .await
    {
        Err(NotifyError::Failed(why)) => assert!(why.contains("timeout"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the timeout"
    );
    match aligo(&base, "/ok").send(&notice(None)).await {
        Err(NotifyError::Skipped(why)) => assert!(why.contains("no phone")),
        other => panic!("an account without a phone is skipped: {other:?}"),
    }
}

#[actix_web::test]
async fn webhooks_are_signed_over_their_body() {
    let seen = Seen::default();
    let base = fake_aligo(seen.clone()).await;
    let hook = Webhook::new(&format!("{base}/hook"), b"secret", Duration::from_secs(2)).unwrap();
    hook.send(&notice(None)).await.expect("delivered");
    let (sig, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(sig, Webhook::sign(b"secret", body.as_bytes()));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["idempotency_key"], "notice-9");
    assert_eq!(v["account_id"], 42);
    let refused = Webhook::new(&format!("{base}/broken"), b"s", Duration::from_secs(2)).unwrap();
    assert!(matches!(
        refused.send(&notice(None)).await,
        Err(NotifyError::Failed(_))
    ));
}
