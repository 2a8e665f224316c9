//! Moderation with consequences and the account rights users expect: suspension (and its
//! end), report decisions that act, the audit log (every act once, refused attempts, the
//! CLI) and the data export, on SQLite and on PostgreSQL.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use store_sql::testing::TestDatabase;

use crate::helpers::{TestApp, User, assert_envelope, browser, follow, set_cookie, spawn_with};

/// The service on SQLite, or on `db`'s PostgreSQL database.
async fn start(db: Option<&TestDatabase>) -> TestApp {
    let url = db.map(|d| d.url.clone());
    spawn_with(move |c| {
        c.database.database_url = url.map(Into::into);
        c.reports_per_day = 1000;
    })
    .await
}

/// Runs `server ARGS` against the app's database, as an operator would.
fn cli(app: &TestApp, db: Option<&TestDatabase>, args: &[&str]) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.args(args)
        .env("DATA_DIR", app.dir.path())
        .env("USER", "ops-alice")
        .env_remove("DATABASE_URL");
    if let Some(db) = db {
        cmd.env("DATABASE_URL", &db.url);
    }
    let out = cmd.output().expect("server runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A dev login's answer, without following it to a session.
async fn try_login(app: &TestApp, email: &str) -> reqwest::Response {
    follow(
        &browser(),
        &app.url(&format!(
            "/account/login/oauth2/authorization/dev?login_hint={email}&name=Test%20User"
        )),
    )
    .await
}

/// `method path` as `user` with a JSON body and an `X-Request-Id`.
async fn act(
    app: &TestApp,
    user: &User,
    method: Method,
    path: &str,
    body: Option<Value>,
    request_id: &str,
) -> reqwest::Response {
    let mut req = app
        .as_user(method, path, &user.token)
        .header("x-request-id", request_id);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

/// The audit entries matching `query`, as ADMIN sees them.
async fn audit(app: &TestApp, admin: &User, query: &str) -> Vec<Value> {
    let res = app
        .send_as(
            Method::GET,
            &format!("/admin/audit?size=100&{query}"),
            &admin.token,
        )
        .await;
    assert_eq!(res.status(), 200, "{query}");
    let page: Value = res.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

/// Asserts exactly one entry with this action, outcome and target exists, and returns it.
async fn one_entry(
    app: &TestApp,
    admin: &User,
    action: &str,
    target: &str,
    outcome: &str,
) -> Value {
    let found: Vec<Value> = audit(app, admin, &format!("action={action}&target={target}"))
        .await
        .into_iter()
        .filter(|e| e["outcome"] == outcome)
        .collect();
    assert_eq!(found.len(), 1, "{action} {target} {outcome}: {found:#?}");
    found.into_iter().next().unwrap()
}

/// `GET path` as `user`, as JSON.
async fn get_json(app: &TestApp, user: &User, path: &str) -> Value {
    let res = app.send_as(Method::GET, path, &user.token).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

fn id_of(res_headers: &reqwest::header::HeaderMap) -> i64 {
    res_headers["x-report-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn scenario(db: Option<&TestDatabase>) {
    let app = start(db).await;
    let tag = if db.is_some() { "pg" } else { "lite" };
    let email = |who: &str| format!("mod-{who}-{tag}@example.com");

    // Roles: ADMIN through the operator's CLI, STAFF through the HTTP route.
    let first = app.login(&email("admin")).await;
    cli(&app, db, &["accounts", "grant", &email("admin"), "ADMIN"]);
    let admin = app.login(&email("admin")).await;
    let staff = app.login(&email("staff")).await;
    let res = act(
        &app,
        &admin,
        Method::POST,
        &format!("/accounts/{}/roles", staff.id),
        Some(json!({"role": "STAFF"})),
        "req-grant",
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["roles"].as_array().unwrap().contains(&json!("STAFF")));
    let staff = app.login(&email("staff")).await;
    let user = app.login(&email("user")).await;
    let reporter = app.login(&email("reporter")).await;
    assert_eq!(first.id, admin.id);

    let cli_grant = one_entry(
        &app,
        &admin,
        "role.grant",
        &format!("account:{}", admin.id),
        "done",
    )
    .await;
    assert_eq!(cli_grant["actor"], "cli:ops-alice");
    assert_eq!(cli_grant["detail"], "ADMIN");
    assert_eq!(cli_grant["request_id"], Value::Null);
    let http_grant = one_entry(
        &app,
        &admin,
        "role.grant",
        &format!("account:{}", staff.id),
        "done",
    )
    .await;
    assert_eq!(http_grant["actor"], format!("account:{}", admin.id));
    assert_eq!(http_grant["request_id"], "req-grant");

    // Who may not: a USER and STAFF read no audit log; STAFF suspends no ADMIN; a USER
    // suspends nobody, grants nothing, deletes no one else. Each refusal is recorded.
    for who in [&user, &staff] {
        assert_envelope(
            app.send_as(Method::GET, "/admin/audit", &who.token).await,
            403,
            "FORBIDDEN",
        )
        .await;
    }
    let res = act(
        &app,
        &staff,
        Method::POST,
        &format!("/accounts/{}/suspension", admin.id),
        Some(json!({"reason": "no"})),
        "req-staff-on-admin",
    )
    .await;
    assert_envelope(res, 403, "FORBIDDEN").await;
    let denied = one_entry(
        &app,
        &admin,
        "account.suspend",
        &format!("account:{}", admin.id),
        "denied",
    )
    .await;
    assert_eq!(denied["actor"], format!("account:{}", staff.id));
    assert_eq!(denied["request_id"], "req-staff-on-admin");
    let res = act(
        &app,
        &user,
        Method::POST,
        &format!("/accounts/{}/roles", user.id),
        Some(json!({"role": "ADMIN"})),
        "req-self-grant",
    )
    .await;
    assert_envelope(res, 403, "FORBIDDEN").await;
    one_entry(
        &app,
        &admin,
        "role.grant",
        &format!("account:{}", user.id),
        "denied",
    )
    .await;
    let res = act(
        &app,
        &user,
        Method::DELETE,
        &format!("/accounts/{}", reporter.id),
        None,
        "req-del",
    )
    .await;
    assert_envelope(res, 403, "FORBIDDEN").await;
    one_entry(
        &app,
        &admin,
        "account.delete",
        &format!("account:{}", reporter.id),
        "denied",
    )
    .await;
    let res = act(
        &app,
        &staff,
        Method::POST,
        &format!("/accounts/{}/suspension", staff.id),
        Some(json!({"reason": "me"})),
        "req-self",
    )
    .await;
    assert_envelope(res, 403, "FORBIDDEN").await;

    // A suspension: the existing session is refused at once, login answers 403 with the
    // end and creates no session; staff see who and why.
    let res = act(
        &app,
        &staff,
        Method::POST,
        &format!("/accounts/{}/suspension", user.id),
        Some(json!({"reason": "Repeated fraud reports"})),
        "req-suspend",
    )
    .await;
    assert_eq!(res.status(), 200);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["suspension"]["until"], Value::Null);
    assert_eq!(seen["suspension"]["reason"], "Repeated fraud reports");
    assert_eq!(seen["suspension"]["suspendedBy"], staff.id);
    assert_envelope(
        app.send_as(Method::GET, &format!("/accounts/{}", user.id), &user.token)
            .await,
        401,
        "UNAUTHENTICATED",
    )
    .await;
    let res = try_login(&app, &email("user")).await;
    assert!(
        set_cookie(&res, "s_access").is_none(),
        "no session for a suspended account"
    );
    let body = assert_envelope(res, 403, "ACCOUNT_SUSPENDED").await;
    assert!(
        body["message"].as_str().unwrap().contains("indefinitely"),
        "{body}"
    );
    let read: Value = get_json(&app, &staff, &format!("/accounts/{}", user.id)).await;
    assert_eq!(read["suspension"]["reason"], "Repeated fraud reports");
    let suspended = one_entry(
        &app,
        &admin,
        "account.suspend",
        &format!("account:{}", user.id),
        "done",
    )
    .await;
    assert_eq!(suspended["reason"], "Repeated fraud reports");
    assert_eq!(suspended["request_id"], "req-suspend");

    // Lifted, it logs in again; lifting twice finds nothing to lift.
    let res = act(
        &app,
        &staff,
        Method::DELETE,
        &format!("/accounts/{}/suspension", user.id),
        None,
        "req-lift",
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_envelope(
        act(
            &app,
            &staff,
            Method::DELETE,
            &format!("/accounts/{}/suspension", user.id),
            None,
            "req-lift2",
        )
        .await,
        404,
        "SUSPENSION_NOT_FOUND",
    )
    .await;
    one_entry(
        &app,
        &admin,
        "account.unsuspend",
        &format!("account:{}", user.id),
        "done",
    )
    .await;
    let user = app.login(&email("user")).await;

    // A suspension that ends by itself.
    let until = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let until = until
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let res = act(
        &app,
        &admin,
        Method::POST,
        &format!("/accounts/{}/suspension", user.id),
        Some(json!({"until": until, "reason": "cool down"})),
        "req-short",
    )
    .await;
    assert_eq!(res.status(), 200);
    let body = assert_envelope(
        try_login(&app, &email("user")).await,
        403,
        "ACCOUNT_SUSPENDED",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("until 20"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let user = app.login(&email("user")).await;
    let me: Value = get_json(&app, &user, &format!("/accounts/{}", user.id)).await;
    assert!(me.get("suspension").is_none(), "ended: {me}");

    // Reports: one against the user, one against a product, with evidence.
    let keys = app.evidence(&reporter, 2).await;
    let res = app
        .report(
            &reporter,
            json!({"report_category_id": 1, "report_user_id": user.id,
            "report_etc_reason": "사기입니다", "report_img_path": [keys[0].clone()]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let against_user = id_of(res.headers());
    let res = app
        .report(
            &reporter,
            json!({"report_category_id": 3, "report_product_id": 9,
            "report_etc_reason": "판매 금지 물품"}),
        )
        .await;
    let against_product = id_of(res.headers());

    // Decisions that do not apply are refused, and change nothing.
    let res = act(
        &app,
        &staff,
        Method::PATCH,
        &format!("/api/reports/{against_product}"),
        Some(json!({"action": "resolve", "decision": {"suspend_target": {}}})),
        "req-bad",
    )
    .await;
    assert_envelope(res, 400, "INVALID_DECISION").await;
    let res = act(
        &app,
        &staff,
        Method::PATCH,
        &format!("/api/reports/{against_user}"),
        Some(json!({"action": "dismiss", "decision": "warn"})),
        "req-bad2",
    )
    .await;
    assert_envelope(res, 400, "INVALID_DECISION").await;

    // A decision suspends the reported user.
    let res = act(
        &app,
        &staff,
        Method::PATCH,
        &format!("/api/reports/{against_user}"),
        // The note is for staff: it names the reporter, and must never reach the user.
        Some(json!({"action": "resolve",
            "note": format!("사기 반복; reporter is {}", email("reporter")),
            "decision": {"suspend_target": {"until": "2099-01-01T00:00:00Z"}}})),
        "req-decide",
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_envelope(
        app.send_as(Method::GET, &format!("/accounts/{}", user.id), &user.token)
            .await,
        401,
        "UNAUTHENTICATED",
    )
    .await;
    let body = assert_envelope(
        try_login(&app, &email("user")).await,
        403,
        "ACCOUNT_SUSPENDED",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("2099-01-01"),
        "{body}"
    );
    assert!(!body.to_string().contains(&email("reporter")), "{body}");
    let read: Value = get_json(&app, &staff, &format!("/accounts/{}", user.id)).await;
    assert_eq!(read["suspension"]["reportId"], against_user);
    // Staff read the note apart from the reason the user is shown.
    let note = read["suspension"]["note"].as_str().unwrap();
    assert!(note.contains(&email("reporter")), "{read}");
    let reason = read["suspension"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("a report about your account was upheld"),
        "{read}"
    );
    let detail: Value = app
        .send_as(
            Method::GET,
            &format!("/api/reports/{against_user}"),
            &staff.token,
        )
        .await
        .json()
        .await
        .unwrap();
    let resolved = &detail["history"][1];
    assert_eq!(resolved["decision"], "suspend_target");
    assert_eq!(resolved["decision_until"], "2099-01-01T00:00:00Z");
    let moderated = one_entry(
        &app,
        &admin,
        "report.resolve",
        &format!("report:{against_user}"),
        "done",
    )
    .await;
    assert_eq!(moderated["request_id"], "req-decide");
    let by_report: Vec<Value> = audit(
        &app,
        &admin,
        &format!("action=account.suspend&target=account:{}", user.id),
    )
    .await
    .into_iter()
    .filter(|e| {
        e["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("report #{against_user}")))
    })
    .collect();
    assert_eq!(by_report.len(), 1, "{by_report:#?}");
    // Reports against a suspended user stay open for moderation: reopening works.
    let res = act(
        &app,
        &staff,
        Method::PATCH,
        &format!("/api/reports/{against_user}"),
        Some(json!({"action": "reopen"})),
        "req-reopen",
    )
    .await;
    assert_eq!(res.status(), 200);

    // A decision about a product is recorded for the services that own it.
    let res = act(
        &app,
        &staff,
        Method::PATCH,
        &format!("/api/reports/{against_product}"),
        Some(json!({"action": "resolve", "decision": "remove_content"})),
        "req-remove",
    )
    .await;
    assert_eq!(res.status(), 200);
    let detail: Value = app
        .send_as(
            Method::GET,
            &format!("/api/reports/{against_product}"),
            &staff.token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["history"][1]["decision"], "remove_content");
    one_entry(
        &app,
        &admin,
        "report.resolve",
        &format!("report:{against_product}"),
        "done",
    )
    .await;

    // STAFF deletes someone else's image: audited; the uploader deleting their own is not.
    let res = act(
        &app,
        &staff,
        Method::DELETE,
        &format!("/images/{}", keys[1]),
        None,
        "req-img",
    )
    .await;
    assert_eq!(res.status(), 204);
    let deleted = one_entry(
        &app,
        &admin,
        "image.delete",
        &format!("image:{}", keys[1]),
        "done",
    )
    .await;
    assert_eq!(deleted["actor"], format!("account:{}", staff.id));

    // The operator creates a service token: audited by name, never the token.
    let out = cli(&app, db, &["service-token", "new", "chat"]);
    let token = out
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let created = one_entry(&app, &admin, "service_token.create", "service:chat", "done").await;
    assert_eq!(created["actor"], "cli:ops-alice");
    assert!(!created.to_string().contains(&token));

    // The data export: the reporter's own images, reports and notices; no token.
    let res = app
        .send_as(
            Method::GET,
            &format!("/accounts/{}/export", reporter.id),
            &reporter.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let text = res.text().await.unwrap();
    let export: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(export["account"]["user_id"], reporter.id);
    assert_eq!(export["account"]["email"], email("reporter"));
    assert_eq!(export["identities"][0]["email"], email("reporter"));
    assert!(export["sessions"].as_array().is_some_and(|s| !s.is_empty()));
    let image_keys: Vec<&str> = export["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert!(
        image_keys.contains(&keys[0].as_str()) && image_keys.contains(&keys[1].as_str()),
        "{image_keys:?}"
    );
    let report_ids: Vec<i64> = export["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(report_ids.len(), 2);
    assert!(report_ids.contains(&against_user) && report_ids.contains(&against_product));
    assert!(
        !export["notices"].as_array().unwrap().is_empty(),
        "the received notices"
    );
    assert!(!text.contains(&reporter.token), "never a session token");
    assert!(
        !text.contains(&email("staff")),
        "never a moderator's e-mail"
    );
    // The reported user's export holds no report against them, nor who filed it.
    let res = app
        .send_as(
            Method::GET,
            &format!("/accounts/{}/export", user.id),
            &admin.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let export: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(export["reports"], json!([]));
    assert!(!text.contains(&email("reporter")), "{text}");
    assert_eq!(
        export["account"]["suspension"]["until"],
        "2099-01-01T00:00:00Z"
    );
    // Nobody else exports it.
    assert_envelope(
        app.send_as(
            Method::GET,
            &format!("/accounts/{}/export", reporter.id),
            &staff.token,
        )
        .await,
        403,
        "FORBIDDEN",
    )
    .await;
    // An ADMIN's export of someone else is audited, and so is the refused attempt; the
    // owner's own export is not an administrative act.
    let exported = one_entry(
        &app,
        &admin,
        "account.export",
        &format!("account:{}", user.id),
        "done",
    )
    .await;
    assert_eq!(
        exported["actor"],
        format!("account:{}", admin.id),
        "{exported}"
    );
    one_entry(
        &app,
        &admin,
        "account.export",
        &format!("account:{}", reporter.id),
        "denied",
    )
    .await;
    // An ADMIN's change of someone else's profile, likewise.
    let res = act(
        &app,
        &admin,
        Method::PATCH,
        &format!("/accounts/{}", reporter.id),
        Some(json!({"name": "Renamed"})),
        "req-admin-edit",
    )
    .await;
    assert_eq!(res.status(), 200);
    let edited = one_entry(
        &app,
        &admin,
        "account.update",
        &format!("account:{}", reporter.id),
        "done",
    )
    .await;
    assert_eq!(edited["request_id"], "req-admin-edit");

    // ADMIN deletes an account: audited; the withdrawn account's e-mail leaves the log.
    let leaving = app.login(&email("leaving")).await;
    let res = act(
        &app,
        &staff,
        Method::POST,
        &format!("/accounts/{}/suspension", leaving.id),
        Some(json!({"reason": format!("{} sells fakes", email("leaving"))})),
        "req-s",
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = act(
        &app,
        &admin,
        Method::DELETE,
        &format!("/accounts/{}", leaving.id),
        None,
        "req-delete",
    )
    .await;
    assert_eq!(res.status(), 204);
    one_entry(
        &app,
        &admin,
        "account.delete",
        &format!("account:{}", leaving.id),
        "done",
    )
    .await;
    let kept = one_entry(
        &app,
        &admin,
        "account.suspend",
        &format!("account:{}", leaving.id),
        "done",
    )
    .await;
    assert_eq!(
        kept["reason"],
        format!("account:{} sells fakes", leaving.id)
    );
    // Deleting one's own account is the owner's right, not an administrative act.
    let res = act(
        &app,
        &reporter,
        Method::DELETE,
        &format!("/accounts/{}", reporter.id),
        None,
        "req-own",
    )
    .await;
    assert_eq!(res.status(), 204);
    assert!(
        audit(
            &app,
            &admin,
            &format!("action=account.delete&target=account:{}", reporter.id)
        )
        .await
        .iter()
        .all(|e| e["outcome"] == "denied")
    );

    // The filters: by actor, by time; newest first.
    let by_cli = audit(&app, &admin, "actor=cli:ops-alice").await;
    assert!(by_cli.len() >= 2);
    let ats: Vec<&str> = by_cli.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(
        ats.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {ats:?}"
    );
    assert!(
        audit(&app, &admin, "since=2099-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    assert_envelope(
        app.send_as(Method::GET, "/admin/audit?action=steal", &admin.token)
            .await,
        400,
        "INVALID_INPUT",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn suspension_decisions_audit_and_export_on_sqlite() {
    scenario(None).await;
}

#[tokio::test]
async fn suspension_decisions_audit_and_export_on_postgres() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    scenario(Some(&db)).await;
    db.drop_database().await;
}
