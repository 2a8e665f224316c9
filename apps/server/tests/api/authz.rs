//! The authorization matrix: every route the service registers × every kind of caller, with
//! the status each must get. The table is checked against `server::routes::all()`, so a
//! new route fails this test until someone decides who may call it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, User, browser, cookie_value, follow, set_cookie, spawn_with};
use crate::images::{Issued, PNG};

/// The callers, in the order of each row's statuses.
const CALLERS: [&str; 7] = [
    "anonymous",
    "pending registration",
    "owner",
    "other user",
    "STAFF",
    "ADMIN",
    "SERVER",
];

/// Whether a row changes what it touches: such rows get a fresh owner, fresh objects and
/// a fresh session for every caller, so one cell never decides the next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cells {
    Shared,
    Fresh,
}
use Cells::{Fresh, Shared};

/// `(method, path as registered, [anonymous, pending, owner, other, STAFF, ADMIN, SERVER],
/// cells)`. "Owner" is the owner of the object the path names (the account, session,
/// image, upload or report); on routes without one, owner and other are two plain users.
/// 404 where another user's object is private; 403 where the route itself is closed to
/// the caller's role (the answer is the same whether the object exists or not).
#[rustfmt::skip]
fn table() -> Vec<(Method, &'static str, [u16; 7], Cells)> {
    use Method as M;
    vec![
        // Operations and documentation: public. /metrics is behind METRICS_TOKEN here,
        // which no session opens.
        (M::GET, "/healthz",                 [200, 200, 200, 200, 200, 200, 200], Shared),
        (M::GET, "/readyz",                  [200, 200, 200, 200, 200, 200, 200], Shared),
        (M::GET, "/metrics",                 [401, 401, 401, 401, 401, 401, 401], Shared),
        (M::GET, "/openapi.json",            [200, 200, 200, 200, 200, 200, 200], Shared),
        (M::GET, "/docs",                    [200, 200, 200, 200, 200, 200, 200], Shared),
        (M::GET, "/docs/{file}",             [200, 200, 200, 200, 200, 200, 200], Shared),
        (M::GET, "/api/v1/images/docs",      [200, 200, 200, 200, 200, 200, 200], Shared),
        (M::GET, "/",                        [200, 200, 200, 200, 200, 200, 200], Shared),
        (M::GET, "/demo/{file}",             [200, 200, 200, 200, 200, 200, 200], Shared),
        // Login: open to anyone; the browser's state cookie, not a session, authorizes a
        // callback, so one without it is refused for every caller.
        (M::GET, "/account/login/oauth2/authorization/{registrationId}",
                                             [302, 302, 302, 302, 302, 302, 302], Shared),
        (M::GET, "/login/oauth2/code/{registrationId}",
                                             [400, 400, 400, 400, 400, 400, 400], Shared),
        (M::GET, "/account/login/dev/authorize",
                                             [200, 200, 200, 200, 200, 200, 200], Shared),
        (M::POST, "/account/login/dev/authorize",
                                             [302, 302, 302, 302, 302, 302, 302], Shared),
        (M::POST, "/account/register",       [401, 200, 403, 403, 403, 403, 403], Fresh),
        (M::POST, "/account/logout",         [401, 401, 204, 204, 204, 204, 403], Fresh),
        (M::GET, "/account/sessions",        [401, 401, 200, 200, 200, 200, 403], Shared),
        (M::DELETE, "/account/sessions/{id}",[401, 401, 204, 404, 404, 404, 403], Fresh),
        // Linked identities: one's own only (a service has none). The owner's only
        // identity is its last, which stays (409).
        (M::GET, "/account/identities",      [401, 401, 200, 200, 200, 200, 403], Shared),
        (M::DELETE, "/account/identities/{id}",
                                             [401, 401, 409, 404, 404, 404, 403], Shared),
        // Accounts.
        (M::GET, "/accounts/{id}",           [401, 401, 200, 403, 200, 200, 200], Shared),
        (M::PATCH, "/accounts/{id}",         [401, 401, 200, 403, 403, 200, 403], Shared),
        (M::DELETE, "/accounts/{id}",        [401, 401, 204, 403, 403, 204, 403], Fresh),
        (M::GET, "/accounts/{id}/summary",   [401, 401, 200, 200, 200, 200, 200], Shared),
        (M::GET, "/users/{userId}/profile",  [401, 401, 403, 403, 403, 403, 200], Shared),
        // The data export: the owner's and ADMIN's.
        (M::GET, "/accounts/{id}/export",    [401, 401, 200, 403, 403, 200, 403], Shared),
        // Administration. STAFF and ADMIN suspend (never themselves); lifting a suspension
        // the account does not have finds none (404). Roles and the audit log: ADMIN.
        (M::POST, "/accounts/{id}/suspension",
                                             [401, 401, 403, 403, 200, 200, 403], Fresh),
        (M::DELETE, "/accounts/{id}/suspension",
                                             [401, 401, 403, 403, 404, 404, 403], Shared),
        (M::POST, "/accounts/{id}/roles",    [401, 401, 403, 403, 403, 200, 403], Fresh),
        (M::DELETE, "/accounts/{id}/roles/{role}",
                                             [401, 401, 403, 403, 403, 200, 403], Shared),
        (M::GET, "/admin/audit",             [401, 401, 403, 403, 403, 200, 403], Shared),
        // Failed event deliveries: ADMIN; redelivering an id that never failed finds none.
        (M::GET, "/admin/events/failed",     [401, 401, 403, 403, 403, 200, 403], Shared),
        (M::POST, "/admin/events/failed/{id}/redeliver",
                                             [401, 401, 403, 403, 403, 404, 403], Shared),
        // Images: uploads are a user's own; a ready image is its uploader's, STAFF's and
        // ADMIN's (SERVER reads metadata); the upload URL is a capability of its own.
        (M::POST, "/api/v1/images/{channel}",[401, 401, 200, 200, 200, 200, 403], Shared),
        // Someone else's upload does not exist for the caller (404), whoever they are.
        (M::POST, "/api/v1/images/{channel}/callback",
                                             [401, 401, 200, 404, 404, 404, 404], Fresh),
        (M::POST, "/images/presigned-url",   [401, 401, 200, 200, 200, 200, 403], Shared),
        (M::POST, "/images/presigned-url/scan",
                                             [401, 401, 200, 200, 200, 200, 403], Shared),
        (M::POST, "/images/presigned-url/profile",
                                             [401, 401, 200, 200, 200, 200, 403], Shared),
        (M::GET, "/images/{key:.+}/metadata",[401, 401, 200, 404, 200, 200, 200], Shared),
        (M::GET, "/images/{key:.+}/url",     [401, 401, 200, 404, 200, 200, 200], Shared),
        (M::DELETE, "/images/{key:.+}",      [401, 401, 204, 404, 204, 204, 403], Fresh),
        (M::PUT, "/storage/{key:.+}",        [200, 200, 200, 200, 200, 200, 200], Fresh),
        (M::GET, "/cdn/{key:.+}",            [200, 200, 200, 200, 200, 200, 200], Shared),
        (M::HEAD, "/cdn/{key:.+}",           [200, 200, 200, 200, 200, 200, 200], Shared),
        (M::GET, "/users/profiles/avatars",  [401, 401, 200, 200, 200, 200, 403], Shared),
        // The caller's own avatar: only the owner has one.
        (M::DELETE, "/users/profiles/avatars",
                                             [401, 401, 204, 404, 404, 404, 403], Fresh),
        (M::GET, "/files",                   [401, 401, 200, 200, 200, 200, 403], Shared),
        (M::GET, "/accounts/{id}/profile/image/signed-put-url",
                                             [401, 401, 200, 403, 403, 403, 403], Shared),
        (M::DELETE, "/accounts/{id}/profile/image",
                                             [401, 401, 204, 403, 403, 204, 403], Fresh),
        (M::POST, "/api/multi-img/upload",   [401, 401, 200, 200, 200, 200, 403], Shared),
        // Reports: users file and read their own; STAFF and ADMIN moderate.
        (M::GET, "/api/report/categories",   [200, 200, 200, 200, 200, 200, 200], Shared),
        (M::POST, "/api/report",             [401, 401, 200, 200, 200, 200, 403], Shared),
        (M::GET, "/api/reports/mine",        [401, 401, 200, 200, 200, 200, 403], Shared),
        (M::GET, "/api/reports",             [401, 401, 403, 403, 200, 200, 403], Shared),
        (M::GET, "/api/reports/{id}",        [401, 401, 403, 403, 200, 200, 403], Shared),
        (M::PATCH, "/api/reports/{id}",      [401, 401, 403, 403, 200, 200, 403], Fresh),
    ]
}

/// What a caller sends to prove who they are.
enum Credential {
    None,
    /// Only a pending registration's cookie (sent everywhere, not just to its path).
    Register(String),
    Bearer(String),
}

/// An owner and everything of theirs a path can name.
struct Owner {
    user: User,
    session_id: String,
    /// The account's only linked identity.
    identity_id: i64,
    /// A ready chat image (the owner also has an avatar).
    image_key: String,
    /// An upload whose bytes arrived, not yet confirmed.
    pending: Issued,
    pending_etag: String,
    /// An upload URL not yet used.
    unused: Issued,
    report_id: i64,
}

struct World {
    app: TestApp,
    server_token: String,
    metrics_token: String,
    other: User,
    staff: User,
    admin: User,
    pending: String,
    n: AtomicUsize,
}

impl World {
    fn email(&self, who: &str) -> String {
        format!(
            "{who}-{}@example.com",
            self.n.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A dev login without a name: the pending registration's cookie.
    async fn pending_registration(&self) -> String {
        let email = self.email("pending");
        let res = follow(
            &browser(),
            &self.app.url(&format!(
                "/account/login/oauth2/authorization/dev?login_hint={email}"
            )),
        )
        .await;
        assert_eq!(res.status(), 400, "INSUFFICIENT_USER_INFO");
        cookie_value(&set_cookie(&res, "s_register").expect("registration cookie"))
    }

    async fn owner(&self) -> Owner {
        let app = &self.app;
        let user = app.login(&self.email("owner")).await;
        let sessions: serde_json::Value = app
            .send_as(Method::GET, "/account/sessions", &user.token)
            .await
            .json()
            .await
            .unwrap();
        let session_id = sessions[0]["id"].as_str().expect("session id").to_owned();
        let identities: serde_json::Value = app
            .send_as(Method::GET, "/account/identities", &user.token)
            .await
            .json()
            .await
            .unwrap();
        let identity_id = identities[0]["id"].as_i64().expect("identity id");
        app.upload_png(&user, "profile").await;
        let image_key = app.upload_png(&user, "chat").await["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let pending = app.issue_png(&user, "chat").await;
        let put = app.put(&pending, PNG.to_vec()).await;
        assert_eq!(put.status(), 200);
        let pending_etag = put.headers()["etag"].to_str().unwrap().to_owned();
        let unused = app.issue_png(&user, "chat").await;
        let res = app
            .report(
                &user,
                json!({"report_category_id": 1, "report_user_id": self.other.id,
                    "report_etc_reason": "rude"}),
            )
            .await;
        assert_eq!(res.status(), 200);
        let report_id = res.headers()["x-report-id"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        Owner {
            user,
            session_id,
            identity_id,
            image_key,
            pending,
            pending_etag,
            unused,
            report_id,
        }
    }

    /// `user`'s session, or for a destructive row another session of the same account.
    async fn again(&self, user: &User, cells: Cells) -> String {
        if cells == Shared {
            return user.token.clone();
        }
        let me: serde_json::Value = self
            .app
            .send_as(Method::GET, &format!("/accounts/{}", user.id), &user.token)
            .await
            .json()
            .await
            .unwrap();
        self.app.login(me["email"].as_str().unwrap()).await.token
    }

    /// The credential of caller `i` (an index into [`CALLERS`]); fresh sessions when the
    /// row is destructive.
    async fn credential(&self, i: usize, owner: &Owner, cells: Cells) -> Credential {
        match i {
            0 => Credential::None,
            1 => Credential::Register(match cells {
                Shared => self.pending.clone(),
                Fresh => self.pending_registration().await,
            }),
            2 => Credential::Bearer(owner.user.token.clone()),
            3 => Credential::Bearer(self.again(&self.other, cells).await),
            4 => Credential::Bearer(self.again(&self.staff, cells).await),
            5 => Credential::Bearer(self.again(&self.admin, cells).await),
            6 => Credential::Bearer(self.server_token.clone()),
            _ => unreachable!(),
        }
    }

    /// The request for `path` (as registered) about `owner`'s objects.
    fn request(&self, method: &Method, path: &str, o: &Owner) -> reqwest::RequestBuilder {
        let app = &self.app;
        let id = o.user.id.to_string();
        let url = match path {
            "/account/sessions/{id}" => format!("/account/sessions/{}", o.session_id),
            "/account/identities/{id}" => format!("/account/identities/{}", o.identity_id),
            "/api/reports/{id}" => format!("/api/reports/{}", o.report_id),
            "/docs/{file}" => "/docs/swagger-ui.css".to_owned(),
            "/demo/{file}" => "/demo/demo.js".to_owned(),
            "/images/{key:.+}/metadata" => format!("/images/{}/metadata", o.image_key),
            "/images/{key:.+}/url" => format!("/images/{}/url", o.image_key),
            "/images/{key:.+}" => format!("/images/{}", o.image_key),
            "/cdn/{key:.+}" => format!("/cdn/{}", o.image_key),
            "/storage/{key:.+}" => o
                .unused
                .upload_url
                .strip_prefix(&app.address)
                .expect("a local upload URL")
                .to_owned(),
            "/account/login/dev/authorize" => format!(
                "/account/login/dev/authorize?redirect_uri={}&state=s&nonce=n&code_challenge={}\
                 &code_challenge_method=S256",
                app.url("/login/oauth2/code/dev"),
                "c".repeat(43)
            ),
            "/login/oauth2/code/{registrationId}" => "/login/oauth2/code/dev?code=c&state=s".into(),
            "/files" => "/files?filename=x.png".to_owned(),
            "/accounts/{id}/profile/image/signed-put-url" => {
                format!("/accounts/{id}/profile/image/signed-put-url?filename=a.png")
            }
            other => other
                .replace("{id}", &id)
                .replace("{userId}", &id)
                .replace("{channel}", "chat")
                .replace("{role}", "STAFF")
                .replace("{registrationId}", "dev"),
        };
        let req = app.client.request(method.clone(), app.url(&url));
        let png = json!({"filename": "x.png", "content_type": "image/png"});
        match (method.as_str(), path) {
            ("PATCH", "/accounts/{id}") => req.json(&json!({"name": "Renamed"})),
            ("PATCH", "/api/reports/{id}") => req.json(&json!({"action": "assign"})),
            ("POST", "/accounts/{id}/suspension") => req.json(&json!({"reason": "matrix"})),
            ("POST", "/accounts/{id}/roles") => req.json(&json!({"role": "STAFF"})),
            ("POST", "/api/v1/images/{channel}") => req.json(&png),
            ("POST", p) if p.starts_with("/images/presigned-url") => req.json(&png),
            ("POST", "/api/v1/images/{channel}/callback") => {
                req.json(&json!({"key": o.pending.key, "etag": o.pending_etag}))
            }
            ("POST", "/account/register") => {
                req.json(&json!({"name": "Reg", "gender": "MALE", "birthDate": "1990-02-03"}))
            }
            ("POST", "/account/login/dev/authorize") => req.form(&[
                ("redirect_uri", app.url("/login/oauth2/code/dev")),
                ("state", "s".into()),
                ("nonce", "n".into()),
                ("code_challenge", "c".repeat(43)),
                ("code_challenge_method", "S256".into()),
                ("email", "form@example.com".into()),
                ("name", "Form".into()),
            ]),
            ("POST", "/api/report") => req.json(&json!({"report_category_id": 2,
                "report_product_id": 3, "report_etc_reason": "spam"})),
            ("POST", "/api/multi-img/upload") => req.multipart(
                reqwest::multipart::Form::new()
                    .text("uploadDirPrefix", "/origin/report")
                    .part(
                        "files",
                        reqwest::multipart::Part::bytes(PNG.to_vec())
                            .file_name("a.png")
                            .mime_str("image/png")
                            .unwrap(),
                    ),
            ),
            ("PUT", "/storage/{key:.+}") => {
                let mut req = req;
                for (k, v) in &o.unused.headers {
                    if !k.eq_ignore_ascii_case("content-length") {
                        req = req.header(k, v);
                    }
                }
                req.body(PNG.to_vec())
            }
            _ => req,
        }
    }
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_decided() {
    // Every registered route has exactly one row, and every row is a registered route.
    let registered: BTreeSet<(String, String)> = server::routes::all()
        .specs()
        .iter()
        .map(|s| (s.method.to_string(), s.path.to_owned()))
        .collect();
    let table = table();
    let decided: BTreeSet<(String, String)> = table
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), (*p).to_owned()))
        .collect();
    assert_eq!(decided.len(), table.len(), "a route has two rows");
    let missing: Vec<_> = registered.difference(&decided).collect();
    assert!(
        missing.is_empty(),
        "routes without an authorization decision: {missing:?}"
    );
    let stale: Vec<_> = decided.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "rows for routes that do not exist: {stale:?}"
    );

    let (server_token, entry) = server::auth::ServiceTokens::generate("chat");
    let metrics_token = "metrics-secret-token".to_owned();
    let app = spawn_with(|c| {
        c.identity.service_tokens = vec![entry];
        c.identity.admin_emails = vec!["admin@example.com".into()];
        c.http.metrics_token = Some(metrics_token.clone().into());
        c.identity.login_rate_limit_per_minute = 100_000;
    })
    .await;
    let other = app.login("other@example.com").await;
    let staff = app.login("staff@example.com").await;
    app.grant("staff@example.com", "STAFF");
    let admin = app.login("admin@example.com").await;
    let mut world = World {
        app,
        server_token,
        metrics_token,
        other,
        staff,
        admin,
        pending: String::new(),
        n: AtomicUsize::new(0),
    };
    world.pending = world.pending_registration().await;

    let mut wrong = Vec::new();
    let shared = world.owner().await;
    for (method, path, expect, cells) in &table {
        for (i, want) in expect.iter().enumerate() {
            let fresh;
            let owner = match cells {
                Shared => &shared,
                Fresh => {
                    fresh = world.owner().await;
                    &fresh
                }
            };
            let req = world.request(method, path, owner);
            let req = match world.credential(i, owner, *cells).await {
                Credential::None => req,
                Credential::Register(c) => req.header("cookie", format!("s_register={c}")),
                Credential::Bearer(t) => req.bearer_auth(t),
            };
            let res = req.send().await.expect("request");
            let got = res.status().as_u16();
            let who = CALLERS[i];
            if got != *want {
                let body = res.text().await.unwrap_or_default();
                wrong.push(format!(
                    "{method} {path} as {who}: {got}, not {want}: {body:.200}"
                ));
                continue;
            }
            if got >= 400 {
                // Every refusal is the contract's envelope.
                let body: serde_json::Value = res.json().await.unwrap_or_else(|e| {
                    panic!("{method} {path} as {who}: the {got} is not JSON: {e}")
                });
                assert_eq!(body["status"], got, "{method} {path} as {who}: {body}");
                assert!(body["code"].is_string(), "{method} {path} as {who}: {body}");
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // The metrics token, and only it, opens /metrics.
    let res = world
        .app
        .client
        .get(world.app.url("/metrics"))
        .bearer_auth(&world.metrics_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
