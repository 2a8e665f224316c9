//! The chat API's report API and moderation, end to end, and notices through the outbox.

use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, User, assert_envelope, spawn_app, spawn_with};
use crate::images::PNG;

impl TestApp {
    pub async fn report(&self, user: &User, body: serde_json::Value) -> reqwest::Response {
        self.as_user(Method::POST, "/api/report", &user.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Uploads evidence through the chat API's multipart route; returns the keys.
    pub async fn evidence(&self, user: &User, n: usize) -> Vec<String> {
        let mut form = reqwest::multipart::Form::new().text("uploadDirPrefix", "/origin/report");
        for i in 0..n {
            form = form.part(
                "files",
                reqwest::multipart::Part::bytes(PNG.to_vec())
                    .file_name(format!("{i}.png"))
                    .mime_str("image/png")
                    .unwrap(),
            );
        }
        let res = self
            .as_user(Method::POST, "/api/multi-img/upload", &user.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

#[tokio::test]
async fn the_seed_examples_are_accepted_and_moderation_works_end_to_end() {
    let app = spawn_app().await;
    let alice = app.login("alice@example.com").await;
    let staff = app.login("staff@example.com").await;
    app.grant("staff@example.com", "STAFF");

    // The chat API's two examples, with keys from the multipart route in the string form
    // (missing comma and all).
    let keys = app.evidence(&alice, 5).await;
    let legacy = format!(
        "[{}, {}, {}, {} {}]",
        keys[0], keys[1], keys[2], keys[3], keys[4]
    );
    let res = app
        .report(&alice, json!({"report_category_id": 1, "report_product_id": 3,
            "report_etc_reason": "혐오감을 조장하는 물건이 업로드되었어요", "report_img_path": legacy}))
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let product_report: i64 = res.headers()["x-report-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "Reported successfully");
    let res = app
        .report(&alice, json!({"report_category_id": 1, "report_room_id": 7,
            "report_etc_reason": "진짜 판매자분 욕설부터 해서 정말 심각합니다. 정신적 스트레스를 받고 있습니다. 대화보면 가관입니다."}))
        .await;
    assert_eq!(res.status(), 200, "without report_img_path: no images");

    // The reporter sees both, newest first.
    let mine: serde_json::Value = app
        .send_as(Method::GET, "/api/reports/mine", &alice.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["total"], 2);
    assert_eq!(mine["items"][0]["target_type"], "chat_room");
    assert_eq!(mine["items"][1]["evidence"].as_array().unwrap().len(), 5);
    assert_eq!(mine["items"][1]["status"], "open");

    // STAFF list, read with evidence URLs, assign, resolve; the history says who and when.
    let open: serde_json::Value = app
        .send_as(
            Method::GET,
            "/api/reports?status=open&target_type=product",
            &staff.token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open["total"], 1);
    let path = format!("/api/reports/{product_report}");
    let detail: serde_json::Value = app
        .send_as(Method::GET, &path, &staff.token)
        .await
        .json()
        .await
        .unwrap();
    let url = detail["evidence"][0]["cdn_url"].as_str().unwrap();
    assert_eq!(
        app.client
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        PNG
    );
    let patch = |body: serde_json::Value| {
        app.as_user(Method::PATCH, &path, &staff.token)
            .json(&body)
            .send()
    };
    let r: serde_json::Value = patch(json!({"action": "assign"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["assignee_id"], staff.id);
    let r: serde_json::Value = patch(json!({"action": "resolve", "note": "판매 중지 조치"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["status"].as_str(), r["resolution_note"].as_str()),
        (Some("resolved"), Some("판매 중지 조치"))
    );
    assert_envelope(
        patch(json!({"action": "dismiss"})).await.unwrap(),
        409,
        "REPORT_CONFLICT",
    )
    .await;
    assert_envelope(
        patch(json!({"action": "delete"})).await.unwrap(),
        400,
        "INVALID_INPUT",
    )
    .await;
    let r: serde_json::Value = patch(json!({"action": "reopen"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "open");
    let detail: serde_json::Value = app
        .send_as(Method::GET, &path, &staff.token)
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["create", "assign", "resolve", "reopen"]);
    assert_eq!(detail["history"][2]["actor_id"], staff.id);
    assert_eq!(detail["history"][2]["note"], "판매 중지 조치");

    // Evidence is kept as long as reports.
    let res = app
        .send_as(
            Method::DELETE,
            &format!("/images/{}", keys[0]),
            &alice.token,
        )
        .await;
    assert_envelope(res, 409, "IMAGE_PROTECTED").await;
}

#[tokio::test]
async fn every_bad_report_gets_a_clear_4xx() {
    let app = spawn_with(|c| c.reports_per_day = 3).await;
    let alice = app.login("alice@example.com").await;
    let bob = app.login("bob@example.com").await;
    let base =
        || json!({"report_category_id": 1, "report_room_id": 70, "report_etc_reason": "spam"});
    let with = |patch: serde_json::Value| {
        let mut b = base();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    assert_envelope(
        app.report(&alice, with(json!({"report_category_id": 99})))
            .await,
        400,
        "UNKNOWN_CATEGORY",
    )
    .await;
    let body = assert_envelope(
        app.report(&alice, with(json!({"report_room_id": null})))
            .await,
        400,
        "INVALID_INPUT",
    )
    .await;
    assert_eq!(body["invalidFields"], json!(["target"]));
    assert_envelope(
        app.report(&alice, with(json!({"report_product_id": 3})))
            .await,
        400,
        "INVALID_INPUT",
    )
    .await;
    let body = assert_envelope(
        app.report(&alice, with(json!({"report_etc_reason": "   "})))
            .await,
        400,
        "INVALID_INPUT",
    )
    .await;
    assert_eq!(body["invalidFields"], json!(["report_etc_reason"]));
    assert_envelope(
        app.report(&alice, with(json!({"report_etc_reason": "x".repeat(1001)})))
            .await,
        400,
        "INVALID_INPUT",
    )
    .await;
    assert_envelope(
        app.report(
            &alice,
            with(json!({"report_room_id": null, "report_user_id": alice.id})),
        )
        .await,
        400,
        "SELF_REPORT",
    )
    .await;

    let bobs = app.evidence(&bob, 1).await;
    let res = app
        .report(&alice, with(json!({"report_img_path": [bobs[0]]})))
        .await;
    assert_envelope(res, 400, "INVALID_EVIDENCE").await;
    let pending = app.issue_png(&alice, "report").await;
    let res = app
        .report(&alice, with(json!({"report_img_path": [pending.key]})))
        .await;
    assert_envelope(res, 400, "INVALID_EVIDENCE").await;
    let chat = app.upload_png(&alice, "chat").await;
    let res = app
        .report(&alice, with(json!({"report_img_path": [chat["key"]]})))
        .await;
    assert_envelope(res, 400, "INVALID_EVIDENCE").await;
    let eleven: Vec<String> = (0..11).map(|i| format!("report/x/{i}.png")).collect();
    assert_envelope(
        app.report(&alice, with(json!({"report_img_path": eleven})))
            .await,
        400,
        "INVALID_INPUT",
    )
    .await;
    let res = app
        .as_user(Method::POST, "/api/report", &alice.token)
        .header("content-type", "application/json")
        .body("{\"report_category_id\":")
        .send()
        .await
        .unwrap();
    assert_envelope(res, 400, "MALFORMED_JSON").await;

    assert_eq!(app.report(&alice, base()).await.status(), 200);
    assert_envelope(app.report(&alice, base()).await, 409, "DUPLICATE_REPORT").await;
    assert_eq!(
        app.report(&bob, base()).await.status(),
        200,
        "others may report the same target"
    );
    assert_eq!(
        app.report(&alice, with(json!({"report_room_id": 71})))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.report(&alice, with(json!({"report_room_id": 72})))
            .await
            .status(),
        200
    );
    assert_envelope(
        app.report(&alice, with(json!({"report_room_id": 73})))
            .await,
        429,
        "TOO_MANY_REPORTS",
    )
    .await;
}

#[tokio::test]
async fn report_routes_answer_each_role_as_they_should() {
    let (token, entry) = server::auth::ServiceTokens::generate("chat");
    let app = spawn_with(|c| {
        c.identity.service_tokens = vec![entry];
        c.identity.admin_emails = vec!["admin@example.com".into()];
    })
    .await;
    let user = app.login("user@example.com").await;
    let staff = app.login("staff@example.com").await;
    app.grant("staff@example.com", "STAFF");
    let admin = app.login("admin@example.com").await;
    let res = app.report(&user, json!({"report_category_id": 1, "report_user_id": staff.id, "report_etc_reason": "rude"})).await;
    let id = res.headers()["x-report-id"].to_str().unwrap().to_owned();

    let cats: serde_json::Value = app
        .get("/api/report/categories")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        cats.as_array().unwrap().len(),
        6,
        "anyone reads the categories"
    );
    assert_eq!(cats[0]["label_ko"], "사기");
    assert_envelope(
        app.client
            .post(app.url("/api/report"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        401,
        "UNAUTHENTICATED",
    )
    .await;
    assert_envelope(app.get("/api/reports/mine").await, 401, "UNAUTHENTICATED").await;

    for (path, method) in [
        ("/api/reports".to_owned(), Method::GET),
        (format!("/api/reports/{id}"), Method::GET),
        (format!("/api/reports/{id}"), Method::PATCH),
    ] {
        let send = |tok: &str| {
            let mut r = app.as_user(method.clone(), &path, tok);
            if method == Method::PATCH {
                r = r.json(&json!({"action": "assign"}));
            }
            r.send()
        };
        for (who, tok, want) in [
            ("user", user.token.as_str(), 403),
            ("SERVER", token.as_str(), 403),
            ("STAFF", staff.token.as_str(), 200),
            ("ADMIN", admin.token.as_str(), 200),
        ] {
            assert_eq!(
                send(tok).await.unwrap().status().as_u16(),
                want,
                "{method} {path} as {who}"
            );
        }
        assert_eq!(
            app.client
                .request(method.clone(), app.url(&path))
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
    assert_envelope(
        app.send_as(Method::GET, "/api/reports/999999", &staff.token)
            .await,
        404,
        "REPORT_NOT_FOUND",
    )
    .await;
    assert_envelope(
        app.send_as(Method::GET, "/api/reports?size=500", &staff.token)
            .await,
        400,
        "INVALID_INPUT",
    )
    .await;
    assert_envelope(
        app.send_as(Method::GET, "/api/reports?status=closed", &staff.token)
            .await,
        400,
        "INVALID_INPUT",
    )
    .await;
}

/// A fake Aligo that fails every request and counts them per report id.
async fn failing_aligo(calls: Arc<Mutex<Vec<String>>>, ok: bool) -> String {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let server = HttpServer::new(move || {
        let calls = calls.clone();
        App::new().route(
            "/send/",
            web::post().to(move |form: web::Form<Vec<(String, String)>>| {
                let calls = calls.clone();
                async move {
                    let msg = form
                        .iter()
                        .find(|(k, _)| k == "msg")
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    calls.lock().unwrap().push(msg);
                    if ok {
                        HttpResponse::Ok().json(json!({"result_code": "1", "message": "success"}))
                    } else {
                        HttpResponse::Ok()
                            .json(json!({"result_code": "-102", "message": "인증오류"}))
                    }
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    format!("http://{addr}/send/")
}

async fn outbox_rows(app: &TestApp) -> Vec<(i32, bool, bool, Option<String>)> {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(format!(
        "sqlite://{}?mode=rw",
        app.dir.path().join("service.db").display()
    ))
    .await
    .unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT attempts, done_at IS NOT NULL AS done, failed_at IS NOT NULL AS failed, last_error FROM outbox WHERE topic = 'notify.report' ORDER BY id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get_by_index::<i32>(0).unwrap(),
                r.try_get_by_index::<bool>(1).unwrap(),
                r.try_get_by_index::<bool>(2).unwrap(),
                r.try_get_by_index::<Option<String>>(3).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn sms_failures_never_fail_a_report_and_notices_are_retried_then_failed() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let endpoint = failing_aligo(calls.clone(), false).await;
    let app = spawn_with(move |c| {
        c.notify.notifier = server::NotifierKind::Aligo;
        c.notify.aligo_endpoint = endpoint;
        c.notify.aligo_key = Some("k".into());
        c.notify.aligo_user_id = Some("u".into());
        c.notify.aligo_sender = Some("0212345678".into());
        c.notify.notify_interval_secs = 1;
        c.notify.notify_max_attempts = 2;
    })
    .await;
    let alice = app.login("alice@example.com").await;
    let nophone = app.login("nophone@example.com").await;
    let res = app
        .as_user(
            Method::PATCH,
            &format!("/accounts/{}", alice.id),
            &alice.token,
        )
        .json(&json!({"phone": "010-1234-5678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bad = app
        .as_user(
            Method::PATCH,
            &format!("/accounts/{}", alice.id),
            &alice.token,
        )
        .json(&json!({"phone": "call me"}))
        .send()
        .await
        .unwrap();
    assert_envelope(bad, 400, "INVALID_INPUT").await;

    assert_eq!(
        app.report(
            &alice,
            json!({"report_category_id": 5, "report_room_id": 1, "report_etc_reason": "spam"})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        app.report(
            &nophone,
            json!({"report_category_id": 5, "report_room_id": 1, "report_etc_reason": "spam"})
        )
        .await
        .status(),
        200
    );

    // Attempt 1 now, attempt 2 after a 2 s backoff, then failed for good.
    let mut rows = Vec::new();
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        rows = outbox_rows(&app).await;
        if rows.len() == 2 && rows.iter().all(|r| r.1 || r.2) {
            break;
        }
    }
    let (attempts, done, failed, error) = rows[0].clone();
    assert_eq!((attempts, done, failed), (2, false, true), "{rows:?}");
    assert!(error.unwrap_or_default().contains("-102"));
    let (_, done, failed, why) = rows[1].clone();
    assert!(done && !failed, "{rows:?}");
    assert_eq!(
        why.as_deref(),
        Some("the account has no phone number"),
        "skipped and recorded"
    );
    assert_eq!(
        calls.lock().unwrap().len(),
        2,
        "two attempts for alice, none for the account without a phone"
    );
}

#[tokio::test]
async fn two_workers_on_one_database_deliver_each_notice_once() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let endpoint = failing_aligo(calls.clone(), true).await;
    let configure = move |c: &mut server::Config| {
        c.notify.notifier = server::NotifierKind::Aligo;
        c.notify.aligo_endpoint = endpoint.clone();
        c.notify.aligo_key = Some("k".into());
        c.notify.aligo_user_id = Some("u".into());
        c.notify.aligo_sender = Some("0212345678".into());
        c.notify.notify_interval_secs = 1;
    };
    let first = spawn_with(configure.clone()).await;
    let user = first.login("many@example.com").await;
    first
        .as_user(
            Method::PATCH,
            &format!("/accounts/{}", user.id),
            &user.token,
        )
        .json(&json!({"phone": "01012345678"}))
        .send()
        .await
        .unwrap();
    // A second replica on the same database.
    let dir = first.dir.path().to_owned();
    let second = spawn_with(move |c| {
        configure(c);
        c.data_dir = dir;
    })
    .await;
    for room in 0..8 {
        let app = if room % 2 == 0 { &first } else { &second };
        let res = app.report(&user, json!({"report_category_id": 5, "report_room_id": 100 + room, "report_etc_reason": "spam"})).await;
        assert_eq!(res.status(), 200);
    }
    // One replica stops (a restart); the other carries on.
    second.stop().await;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        if outbox_rows(&first).await.iter().all(|r| r.1) {
            break;
        }
    }
    let rows = outbox_rows(&first).await;
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| r.1 && !r.2), "{rows:?}");
    let mut sent = calls.lock().unwrap().clone();
    sent.sort();
    let before = sent.len();
    sent.dedup();
    assert_eq!(
        (before, sent.len()),
        (8, 8),
        "each notice exactly once: {sent:?}"
    );
}

#[tokio::test]
async fn withdrawal_deletes_every_image_but_open_reports_evidence_which_goes_when_they_close() {
    let app = spawn_app().await;
    let alice = app.login("leaving-reporter@example.com").await;
    let staff = app.login("staff-evidence@example.com").await;
    app.grant("staff-evidence@example.com", "STAFF");
    let mut everything = Vec::new();
    for channel in ["chat", "scan", "post", "my", "profile", "report"] {
        everything.push(
            app.upload_png(&alice, channel).await["cdn_url"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let keys = app.evidence(&alice, 2).await;
    let res = app
        .report(
            &alice,
            json!({"report_category_id": 1, "report_product_id": 11,
            "report_etc_reason": "evidence", "report_img_path": [keys[0]]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let report: i64 = res.headers()["x-report-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // Report images are private: read through the signed URLs their readers get.
    let mut signed = std::collections::BTreeMap::new();
    for key in &keys {
        let body: serde_json::Value = app
            .send_as(Method::GET, &format!("/images/{key}/url"), &alice.token)
            .await
            .json()
            .await
            .unwrap();
        signed.insert(key.clone(), body["url"].as_str().unwrap().to_owned());
    }
    let cdn = |key: &str| signed[key].clone();
    let status = |url: String| {
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(cdn(&keys[1])).await, 200);

    let res = app
        .send_as(
            Method::DELETE,
            &format!("/accounts/{}", alice.id),
            &alice.token,
        )
        .await;
    assert_eq!(res.status(), 204);
    for url in everything.iter().cloned().chain([cdn(&keys[1])]) {
        assert_eq!(
            status(url.clone()).await,
            404,
            "{url} outlived its uploader"
        );
    }
    assert_eq!(
        status(cdn(&keys[0])).await,
        200,
        "an open report keeps its evidence"
    );

    let res = app
        .as_user(
            Method::PATCH,
            &format!("/api/reports/{report}"),
            &staff.token,
        )
        .json(&json!({"action": "resolve", "note": "done"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        status(cdn(&keys[0])).await,
        404,
        "closed, the report lets its withdrawn reporter's evidence go"
    );
}
