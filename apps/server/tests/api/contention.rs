//! Contention is never a 500: concurrent withdrawals, uploads and reports, on SQLite and on
//! PostgreSQL, each answer success or 503 with `Retry-After` (and succeed when retried),
//! and every withdrawal completes whole: its sessions end, its account is gone.

use reqwest::Method;
use serde_json::json;
use store_sql::testing::TestDatabase;

use crate::helpers::{TestApp, User, spawn_with};
use crate::images::real_png;

async fn start(db: Option<&TestDatabase>) -> TestApp {
    let url = db.map(|d| d.url.clone());
    spawn_with(move |c| {
        c.database.database_url = url.map(Into::into);
        c.http.http_workers = Some(4);
        c.identity.login_rate_limit_per_minute = 100_000;
        c.reports_per_day = 1000;
        c.images.upload_max_pending = 0;
    })
    .await
}

/// What one act answered: its status and whether a 503 said when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Busy,
}

fn judge(what: &str, res: &reqwest::Response) -> Outcome {
    let status = res.status().as_u16();
    match status {
        200..=299 => Outcome::Done,
        503 => {
            assert!(
                res.headers().contains_key("retry-after"),
                "{what}: 503 without Retry-After"
            );
            Outcome::Busy
        }
        other => panic!("{what}: {other}"),
    }
}

async fn withdraw(app: &TestApp, user: &User) -> Outcome {
    let res = app
        .send_as(
            Method::DELETE,
            &format!("/accounts/{}", user.id),
            &user.token,
        )
        .await;
    judge("withdraw", &res)
}

async fn upload(app: &TestApp, user: &User, n: usize) -> Outcome {
    let res = app
        .issue(
            user,
            "chat",
            json!({"filename": "a.png", "content_type": "image/png"}),
        )
        .await;
    if judge("presign", &res) == Outcome::Busy {
        return Outcome::Busy;
    }
    let v: serde_json::Value = res.json().await.unwrap();
    let issued = crate::images::Issued::from_answer(&v);
    let put = app.put(&issued, real_png(8, 8, n)).await;
    if judge("put", &put) == Outcome::Busy {
        return Outcome::Busy;
    }
    let res = app.callback(user, "chat", &issued.key, "").await;
    judge("callback", &res)
}

async fn report(app: &TestApp, user: &User, against: i64) -> Outcome {
    let res = app
        .report(
            user,
            json!({"report_category_id": 1, "report_user_id": against,
                "report_etc_reason": "contention"}),
        )
        .await;
    judge("report", &res)
}

/// Runs `act` until it is done, at most 20 times, 50 ms apart: a 503 is an answer to
/// retry, and a retry completes.
async fn until_done<F, Fut>(mut act: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    for _ in 0..20 {
        if act().await == Outcome::Done {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("still busy after 20 tries");
}

async fn scenario(db: Option<&TestDatabase>) {
    let app = &start(db).await;
    let mut leaving = Vec::new();
    for i in 0..24 {
        leaving.push(app.login(&format!("leaving{i}@example.com")).await);
    }
    let mut busy = Vec::new();
    for i in 0..12 {
        busy.push(app.login(&format!("busy{i}@example.com")).await);
    }
    let target = app.login("target@example.com").await;
    // Everything at once: 24 withdrawals, 12 uploads and 12 reports.
    let withdrawals =
        futures_util::future::join_all(leaving.iter().map(|u| until_done(|| withdraw(app, u))));
    let uploads = futures_util::future::join_all(
        busy.iter()
            .enumerate()
            .map(|(n, u)| until_done(move || upload(app, u, n))),
    );
    let reports = futures_util::future::join_all(
        busy.iter()
            .map(|u| until_done(|| report(app, u, target.id))),
    );
    tokio::join!(withdrawals, uploads, reports);
    // Each withdrawal completed whole: the session is gone, and so is the account.
    for u in &leaving {
        let res = app
            .send_as(Method::GET, &format!("/accounts/{}", u.id), &u.token)
            .await;
        assert_eq!(res.status(), 401, "a withdrawn account's session ended");
        let res = app
            .send_as(
                Method::GET,
                &format!("/accounts/{}/summary", u.id),
                &target.token,
            )
            .await;
        assert_eq!(res.status(), 404, "the account is withdrawn");
    }
    app.stop().await;
}

#[tokio::test]
async fn concurrent_withdrawals_uploads_and_reports_on_sqlite_meet_no_500() {
    scenario(None).await;
}

#[tokio::test]
async fn concurrent_withdrawals_uploads_and_reports_on_postgres_meet_no_500() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    scenario(Some(&db)).await;
    db.drop_database().await;
}
