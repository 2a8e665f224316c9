//! The account API's account routes on the embedded defaults, through the dev provider.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    assert_envelope, browser, cookie_value, follow, set_cookie, spawn_app, spawn_with,
};

#[tokio::test]
async fn dev_login_ends_in_200_with_a_session_cookie() {
    let app = spawn_app().await;
    let b = browser();
    let res = follow(
        &b,
        &app.url("/account/login/oauth2/authorization/dev?login_hint=alice@example.com&name=Alice"),
    )
    .await;
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(&res, "s_access").expect("s_access");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "not Secure in dev (plain http): {cookie}"
    );
    assert_eq!(cookie_value(&cookie).len(), 43, "256 random bits");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["name"], "Alice");
    assert_eq!(body["roles"], json!(["USER"]));
    assert!(body["userId"].as_i64().unwrap() > 0);
    assert!(body.get("profileImageUri").is_some());

    // The cookie works on its own.
    let me = b
        .get(app.url(&format!("/accounts/{}", body["userId"])))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["emailVerified"], true);
    assert!(me["createdAt"].as_str().unwrap().ends_with('Z'));

    // Logging in again is the same account.
    let again = app.login("alice@example.com").await;
    assert_eq!(again.id, body["userId"].as_i64().unwrap());
}

#[tokio::test]
async fn the_dev_form_is_shown_without_a_login_hint_and_escapes_input() {
    let app = spawn_app().await;
    let b = browser();
    let res = b
        .get(app.url("/account/login/oauth2/authorization/dev"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let form_url = res.headers()["location"].to_str().unwrap().to_owned();
    let page = b.get(&form_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<form method="post""#));

    // Submitting the form logs in.
    let q: std::collections::HashMap<String, String> = reqwest::Url::parse(&form_url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let mut fields: Vec<(&str, String)> = ["redirect_uri", "state", "nonce", "code_challenge"]
        .iter()
        .map(|k| (*k, q[*k].clone()))
        .collect();
    fields.push(("email", "<script>@example.com".into()));
    let bad = b
        .post(app.url("/account/login/dev/authorize"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let html = bad.text().await.unwrap();
    assert!(!html.contains("<script>@"), "input is escaped");
    fields.pop();
    fields.push(("email", "form@example.com".into()));
    fields.push(("name", "Form User".into()));
    let res = b
        .post(app.url("/account/login/dev/authorize"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    let done = follow(&b, &back).await;
    assert_eq!(done.status(), 200);
}

#[tokio::test]
async fn without_a_name_registration_completes_it() {
    let app = spawn_app().await;
    let b = browser();
    let res = follow(
        &b,
        &app.url("/account/login/oauth2/authorization/dev?login_hint=bob@example.com"),
    )
    .await;
    assert!(set_cookie(&res, "s_access").is_none(), "no session yet");
    let reg = set_cookie(&res, "s_register").expect("registration cookie");
    assert!(
        reg.contains("Path=/account/register") && reg.contains("HttpOnly"),
        "{reg}"
    );
    let body = assert_envelope(res, 400, "INSUFFICIENT_USER_INFO").await;
    assert_eq!(body["message"], "insufficient user info");
    assert_eq!(body["invalidFields"], json!(["name"]));

    // Still insufficient: the registration is kept for another try.
    let res = b
        .post(app.url("/account/register"))
        .json(&json!({"name": "B", "gender": "OTHER"}))
        .send()
        .await
        .unwrap();
    let body = assert_envelope(res, 400, "INSUFFICIENT_USER_INFO").await;
    assert_eq!(body["invalidFields"], json!(["name", "gender"]));

    // Unknown fields are refused.
    let res = b
        .post(app.url("/account/register"))
        .json(&json!({"name": "Bob", "admin": true}))
        .send()
        .await
        .unwrap();
    assert_envelope(res, 400, "INVALID_INPUT").await;

    let res = b
        .post(app.url("/account/register"))
        .json(&json!({"name": "Bob", "gender": "MALE", "birthDate": "1990-02-03"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(set_cookie(&res, "s_access").is_some(), "a session at last");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["message"], "successfully registered and logged in");

    // Registering again while logged in is refused.
    let res = b
        .post(app.url("/account/register"))
        .json(&json!({"name": "Bob"}))
        .send()
        .await
        .unwrap();
    assert_envelope(res, 403, "ALREADY_LOGGED_IN").await;

    // The account holds what was registered.
    let sessions: serde_json::Value = b
        .get(app.url("/account/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn register_without_a_pending_registration_is_401() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/account/register"))
        .json(&json!({"name": "Nobody"}))
        .send()
        .await
        .unwrap();
    assert_envelope(res, 401, "NO_PENDING_REGISTRATION").await;
}

/// Expected status for each route and caller.
struct Row {
    method: Method,
    path: &'static str,
    anonymous: u16,
    owner: u16,
    other: u16,
    staff: u16,
    admin: u16,
    server: u16,
}

#[tokio::test]
async fn every_account_route_answers_each_caller_as_the_contract_says() {
    let (token, entry) = server::auth::ServiceTokens::generate("chat");
    let app = spawn_with(|c| {
        c.identity.service_tokens = vec![entry];
        c.identity.admin_emails = vec!["admin@example.com".into()];
    })
    .await;
    let owner = app.login("owner@example.com").await;
    let other = app.login("other@example.com").await;
    let staff = app.login("staff@example.com").await;
    app.grant("staff@example.com", "STAFF");
    let admin = app.login("admin@example.com").await;

    let rows = [
        Row {
            method: Method::GET,
            path: "/accounts/{id}",
            anonymous: 401,
            owner: 200,
            other: 403,
            staff: 200,
            admin: 200,
            server: 200,
        },
        Row {
            method: Method::PATCH,
            path: "/accounts/{id}",
            anonymous: 401,
            owner: 200,
            other: 403,
            staff: 403,
            admin: 200,
            server: 403,
        },
        Row {
            method: Method::GET,
            path: "/accounts/{id}/summary",
            anonymous: 401,
            owner: 200,
            other: 200,
            staff: 200,
            admin: 200,
            server: 200,
        },
        Row {
            method: Method::GET,
            path: "/users/{id}/profile",
            anonymous: 401,
            owner: 403,
            other: 403,
            staff: 403,
            admin: 403,
            server: 200,
        },
        Row {
            method: Method::GET,
            path: "/account/sessions",
            anonymous: 401,
            owner: 200,
            other: 200,
            staff: 200,
            admin: 200,
            server: 403,
        },
    ];
    for row in &rows {
        let path = row.path.replace("{id}", &owner.id.to_string());
        let send = |token: Option<&str>| {
            let mut req = app.client.request(row.method.clone(), app.url(&path));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if row.method == Method::PATCH {
                req = req.json(&json!({"name": "Renamed"}));
            }
            req.send()
        };
        for (who, token, expected) in [
            ("anonymous", None, row.anonymous),
            ("owner", Some(owner.token.as_str()), row.owner),
            ("other user", Some(other.token.as_str()), row.other),
            ("STAFF", Some(staff.token.as_str()), row.staff),
            ("ADMIN", Some(admin.token.as_str()), row.admin),
            ("SERVER", Some(token.as_str()), row.server),
        ] {
            let res = send(token).await.unwrap();
            assert_eq!(
                res.status().as_u16(),
                expected,
                "{} {} as {who}",
                row.method,
                row.path
            );
            if expected >= 400 {
                let body: serde_json::Value = res.json().await.unwrap();
                assert_eq!(
                    body["status"], expected,
                    "envelope for {} {} as {who}",
                    row.method, row.path
                );
            }
        }
    }

    // Withdrawal: anonymous 401; other user, STAFF and SERVER 403; owner and ADMIN 204.
    let target = |id: i64| format!("/accounts/{id}");
    let victim = app.login("victim@example.com").await;
    for (who, tok, expected) in [
        ("other user", other.token.as_str(), 403),
        ("STAFF", staff.token.as_str(), 403),
        ("SERVER", token.as_str(), 403),
    ] {
        let res = app.send_as(Method::DELETE, &target(victim.id), tok).await;
        assert_eq!(res.status().as_u16(), expected, "DELETE as {who}");
    }
    let res = app
        .client
        .delete(app.url(&target(victim.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .send_as(Method::DELETE, &target(victim.id), &admin.token)
        .await;
    assert_eq!(res.status(), 204, "ADMIN withdraws anyone");
    let res = app
        .send_as(Method::DELETE, &target(owner.id), &owner.token)
        .await;
    assert_eq!(res.status(), 204, "the owner withdraws themself");

    // The admin's roles came from ADMIN_EMAILS.
    let me: serde_json::Value = app
        .send_as(Method::GET, &target(admin.id), &admin.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        me["roles"].as_array().unwrap().contains(&json!("ADMIN")),
        "{me}"
    );
}

#[tokio::test]
async fn withdrawal_revokes_every_session_and_erases_the_account() {
    let app = spawn_app().await;
    let first = app.login("leaver@example.com").await;
    let second = app.login("leaver@example.com").await;
    let watcher = app.login("watcher@example.com").await;
    assert_eq!(first.id, second.id);

    let res = app
        .send_as(
            Method::DELETE,
            &format!("/accounts/{}", first.id),
            &first.token,
        )
        .await;
    assert_eq!(res.status(), 204);
    let cleared = set_cookie(&res, "s_access").expect("cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    for token in [&first.token, &second.token] {
        let res = app.send_as(Method::GET, "/account/sessions", token).await;
        assert_envelope(res, 401, "UNAUTHENTICATED").await;
    }
    let res = app
        .send_as(
            Method::GET,
            &format!("/accounts/{}/summary", first.id),
            &watcher.token,
        )
        .await;
    assert_envelope(res, 404, "USER_NOT_FOUND").await;

    // Logging in again makes a new account: ids are never reused.
    let again = app.login("leaver@example.com").await;
    assert!(again.id > watcher.id);
}

#[tokio::test]
async fn revoked_and_expired_sessions_are_401() {
    let app = spawn_with(|c| c.identity.session_idle_ttl_secs = 1).await;
    let user = app.login("short@example.com").await;
    assert_eq!(
        app.send_as(Method::GET, "/account/sessions", &user.token)
            .await
            .status(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let res = app
        .send_as(Method::GET, "/account/sessions", &user.token)
        .await;
    assert_envelope(res, 401, "UNAUTHENTICATED").await;

    let app = spawn_app().await;
    let user = app.login("leaving@example.com").await;
    let res = app
        .send_as(Method::POST, "/account/logout", &user.token)
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .send_as(Method::GET, "/account/sessions", &user.token)
        .await;
    assert_envelope(res, 401, "UNAUTHENTICATED").await;
    // Garbage tokens and service-looking tokens nobody configured are 401 too.
    for bad in ["not-a-token", "svc_unknown", &"A".repeat(43)] {
        let res = app.send_as(Method::GET, "/account/sessions", bad).await;
        assert_envelope(res, 401, "UNAUTHENTICATED").await;
    }
}

#[tokio::test]
async fn a_session_in_use_still_ends_at_its_absolute_expiry() {
    // Idle expiry far away; used every 300 ms, so only the absolute expiry can end it.
    let app = spawn_with(|c| {
        c.identity.session_idle_ttl_secs = 3600;
        c.identity.session_absolute_ttl_secs = 2;
    })
    .await;
    let user = app.login("absolute@example.com").await;
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_millis(1500) {
        let res = app
            .send_as(Method::GET, "/account/sessions", &user.token)
            .await;
        assert_eq!(res.status(), 200, "still within its lifetime");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(2600).saturating_sub(started.elapsed()))
        .await;
    let res = app
        .send_as(Method::GET, "/account/sessions", &user.token)
        .await;
    assert_envelope(res, 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn a_user_lists_and_revokes_their_own_sessions_only() {
    let app = spawn_app().await;
    let laptop = app.login("multi@example.com").await;
    let phone = app.login("multi@example.com").await;
    let stranger = app.login("stranger@example.com").await;

    let list: serde_json::Value = app
        .send_as(Method::GET, "/account/sessions", &laptop.token)
        .await
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_id = list.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !serde_json::to_string(&list)
            .unwrap()
            .contains(&laptop.token),
        "tokens never listed"
    );

    // Someone else cannot revoke it (and cannot tell it exists).
    let res = app
        .send_as(
            Method::DELETE,
            &format!("/account/sessions/{phone_id}"),
            &stranger.token,
        )
        .await;
    assert_envelope(res, 404, "SESSION_NOT_FOUND").await;

    let res = app
        .send_as(
            Method::DELETE,
            &format!("/account/sessions/{phone_id}"),
            &laptop.token,
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .send_as(Method::GET, "/account/sessions", &phone.token)
        .await;
    assert_envelope(res, 401, "UNAUTHENTICATED").await;
    let res = app
        .send_as(Method::DELETE, "/account/sessions/not-an-id", &laptop.token)
        .await;
    assert_envelope(res, 404, "SESSION_NOT_FOUND").await;
}

/// The legacy GETs that issue uploads create records: a link on another site that the
/// victim follows with their cookie creates none, and spends none of their budget (one
/// pending upload at most here: the site's own request after it still gets one).
#[tokio::test]
async fn a_cross_site_link_issues_no_upload() {
    let app = spawn_with(|c| c.images.upload_max_pending = 1).await;
    let user = app.login("linked@example.com").await;
    for path in [
        "/files?filename=a.png",
        "/users/profiles/avatars?filename=a.png",
    ] {
        let res = user
            .browser
            .get(app.url(path))
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap();
        assert_envelope(res, 403, "CSRF_ORIGIN_REFUSED").await;
        let res = user
            .browser
            .get(app.url(path))
            .header("referer", "https://evil.example.com/page")
            .send()
            .await
            .unwrap();
        assert_envelope(res, 403, "CSRF_ORIGIN_REFUSED").await;
    }
    let res = user
        .browser
        .get(app.url("/files?filename=a.png"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "nothing was spent by the refused ones");
}

#[tokio::test]
async fn cross_origin_cookie_writes_are_refused_and_bearer_ones_are_not() {
    let app = spawn_with(|c| c.http.cors_origins = vec!["https://app.example.com".into()]).await;
    let user = app.login("csrf@example.com").await;
    let path = format!("/accounts/{}", user.id);
    let patch = |origin: Option<&'static str>| {
        let mut req = user
            .browser
            .patch(app.url(&path))
            .json(&json!({"name": "Changed"}));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    let res = patch(Some("https://evil.example.com")).await.unwrap();
    assert_envelope(res, 403, "CSRF_ORIGIN_REFUSED").await;
    assert_eq!(
        patch(Some("https://app.example.com"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        patch(Some(Box::leak(app.address.clone().into_boxed_str())))
            .await
            .unwrap()
            .status(),
        200
    );
    let res = user
        .browser
        .patch(app.url(&path))
        .header("referer", "https://evil.example.com/page")
        .json(&json!({"name": "Changed"}))
        .send()
        .await
        .unwrap();
    assert_envelope(res, 403, "CSRF_ORIGIN_REFUSED").await;
    // A Referer that is there but names no origin is refused like a foreign one, and so
    // is an Origin that is not text.
    for (name, value) in [
        ("referer", &b"not a url"[..]),
        ("referer", b"//evil.example.com/page"),
        ("origin", b"https://evil.\xff.com"),
    ] {
        let res = user
            .browser
            .patch(app.url(&path))
            .header(
                name,
                reqwest::header::HeaderValue::from_bytes(value).unwrap(),
            )
            .json(&json!({"name": "Changed"}))
            .send()
            .await
            .unwrap();
        assert_envelope(res, 403, "CSRF_ORIGIN_REFUSED").await;
    }
    // A bearer token is no ambient credential: no origin check.
    let res = app
        .as_user(Method::PATCH, &path, &user.token)
        .header("origin", "https://evil.example.com")
        .json(&json!({"name": "Bearer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn patch_validates_every_field_and_reports_each() {
    let app = spawn_app().await;
    let user = app.login("patch@example.com").await;
    let path = format!("/accounts/{}", user.id);
    let res = app
        .as_user(Method::PATCH, &path, &user.token)
        .json(&json!({"name": "x".repeat(21), "gender": "male", "birthDate": "2999-01-01"}))
        .send()
        .await
        .unwrap();
    let body = assert_envelope(res, 400, "INVALID_INPUT").await;
    assert_eq!(
        body["invalidFields"],
        json!(["name", "gender", "birthDate"])
    );
    let res = app
        .as_user(Method::PATCH, &path, &user.token)
        .json(&json!({"name": "새 이름", "gender": "FEMALE", "birthDate": "1999-12-31"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["name"], "새 이름");
    assert_eq!(body["gender"], "FEMALE");
    assert_eq!(body["birthDate"], "1999-12-31");
    let res = app
        .as_user(Method::PATCH, &path, &user.token)
        .header("content-type", "application/json")
        .body("{\"name\":")
        .send()
        .await
        .unwrap();
    assert_envelope(res, 400, "MALFORMED_JSON").await;
    let res = app.send_as(Method::GET, "/accounts/abc", &user.token).await;
    assert_envelope(res, 400, "INVALID_INPUT").await;
    let res = app.send_as(Method::GET, "/accounts/0", &user.token).await;
    assert_envelope(res, 403, "FORBIDDEN").await;
}

#[tokio::test]
async fn internal_profiles_answer_user_not_found_for_services() {
    let (token, entry) = server::auth::ServiceTokens::generate("chat");
    let app = spawn_with(|c| c.identity.service_tokens = vec![entry]).await;
    let user = app.login("profiled@example.com").await;
    let ok: serde_json::Value = app
        .send_as(Method::GET, &format!("/users/{}/profile", user.id), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ok["userId"], user.id);
    assert_eq!(ok["name"], "Test User");
    let res = app
        .send_as(Method::GET, "/users/999999/profile", &token)
        .await;
    let body = assert_envelope(res, 404, "USER_NOT_FOUND").await;
    assert_eq!(body["message"], "User Not Found");
    // The files/avatars API's bare Authorization header works for services too.
    let res = app
        .client
        .get(app.url(&format!("/users/{}/profile", user.id)))
        .header("authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn login_routes_are_rate_limited_per_address() {
    let app = spawn_with(|c| c.identity.login_rate_limit_per_minute = 3).await;
    for _ in 0..3 {
        let res = app
            .get("/account/login/oauth2/authorization/dev?login_hint=a@example.com")
            .await;
        assert_eq!(res.status(), 302);
    }
    let res = app
        .get("/account/login/oauth2/authorization/dev?login_hint=a@example.com")
        .await;
    assert_envelope(res, 429, "TOO_MANY_REQUESTS").await;
    let res = app.get("/login/oauth2/code/dev?code=x&state=y").await;
    assert_envelope(res, 429, "TOO_MANY_REQUESTS").await;
    // Other routes are not limited.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn behind_trusted_proxies_the_client_cannot_choose_its_address() {
    let app = spawn_with(|c| {
        c.identity.login_rate_limit_per_minute = 3;
        c.http.trusted_proxy_hops = 1;
    })
    .await;
    // The client writes a new address each time; the proxy appends the one it saw.
    let login = |forged: u32| {
        app.client
            .get(app.url("/account/login/oauth2/authorization/dev?login_hint=a@example.com"))
            .header("x-forwarded-for", format!("10.9.0.{forged}, 198.51.100.23"))
            .send()
    };
    for i in 0..3 {
        assert_eq!(login(i).await.unwrap().status(), 302);
    }
    assert_envelope(login(99).await.unwrap(), 429, "TOO_MANY_REQUESTS").await;
    // Another client behind the same proxy has its own budget.
    let res = app
        .client
        .get(app.url("/account/login/oauth2/authorization/dev?login_hint=b@example.com"))
        .header("x-forwarded-for", "198.51.100.24")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
}

#[tokio::test]
async fn unknown_providers_and_a_disabled_dev_login_are_404() {
    let app = spawn_with(|c| c.identity.dev_login = Some(false)).await;
    let res = app.get("/account/login/oauth2/authorization/dev").await;
    assert_envelope(res, 404, "PROVIDER_NOT_FOUND").await;
    let res = app
        .get("/account/login/oauth2/authorization/facebook")
        .await;
    assert_envelope(res, 404, "PROVIDER_NOT_FOUND").await;
    let res = app
        .get("/account/login/dev/authorize?redirect_uri=x&state=s&nonce=n&code_challenge=c")
        .await;
    assert_envelope(res, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn a_login_callback_without_its_cookie_or_with_a_replayed_state_is_refused() {
    let app = spawn_app().await;
    let b = browser();
    let res = b
        .get(
            app.url("/account/login/oauth2/authorization/dev?login_hint=r@example.com&name=Replay"),
        )
        .send()
        .await
        .unwrap();
    let state_cookie = set_cookie(&res, "s_login").expect("state cookie");
    assert!(state_cookie.contains("HttpOnly") && state_cookie.contains("Path=/login/oauth2/code"));
    let form = res.headers()["location"].to_str().unwrap().to_owned();
    let res = b.get(&form).send().await.unwrap();
    let callback = res.headers()["location"].to_str().unwrap().to_owned();

    // Another browser (no cookie) cannot use this callback.
    let res = app.client.get(&callback).send().await.unwrap();
    assert_envelope(res, 400, "LOGIN_STATE_INVALID").await;
    // The right browser can, once.
    let res = b.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = b.get(&callback).send().await.unwrap();
    assert_envelope(res, 400, "LOGIN_STATE_INVALID").await;
}

#[tokio::test]
async fn a_configured_front_end_gets_a_redirect_instead_of_json() {
    let app = spawn_with(|c| c.identity.login_success_redirect = Some("/welcome".into())).await;
    let b = browser();
    let mut url =
        app.url("/account/login/oauth2/authorization/dev?login_hint=fe@example.com&name=Front");
    let mut last = None;
    for _ in 0..4 {
        let res = b.get(&url).send().await.unwrap();
        if res.status() != 302 {
            break;
        }
        let loc = res.headers()["location"].to_str().unwrap().to_owned();
        if loc == "/welcome" {
            assert!(set_cookie(&res, "s_access").is_some());
            last = Some(loc);
            break;
        }
        url = loc;
    }
    assert_eq!(last.as_deref(), Some("/welcome"));
}

#[tokio::test]
async fn reading_an_account_does_no_work_on_it_before_the_caller_is_authorized() {
    let app = spawn_app().await;
    let alice = app.login("settle-alice@example.com").await;
    let mallory = app.login("settle-mallory@example.com").await;
    // Alice's avatar bytes have arrived; the avatar routes have no callback, so the next
    // read of her account by someone allowed to read it confirms the upload.
    let issued = app.issue_png(&alice, "profile").await;
    assert_eq!(
        app.put(&issued, crate::images::PNG.to_vec()).await.status(),
        200
    );
    let staged = app
        .dir
        .path()
        .join("objects/objects/uploads")
        .join(&issued.key);
    assert!(staged.exists());
    let res = app
        .send_as(
            Method::GET,
            &format!("/accounts/{}", alice.id),
            &mallory.token,
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .send_as(
            Method::GET,
            &format!("/users/{}/profile", alice.id),
            &mallory.token,
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(
        staged.exists(),
        "nothing was done on Alice's account for Mallory"
    );
    let res = app
        .send_as(
            Method::GET,
            &format!("/accounts/{}", alice.id),
            &alice.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(!staged.exists(), "Alice's own read settles her avatar");
}
