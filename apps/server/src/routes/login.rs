//! The account API's login routes: the redirect to a provider, the provider's callback,
//! registration completion and logout; and the user's own sessions.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::services::{Callback, LoggedIn, LoginOutcome, RegistrationForm, SessionMeta};
use domain::{LoginHints, SessionId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Routes, rfc3339, route};
use crate::auth::{
    Authenticated, LOGIN_COOKIE, MaybeAuthenticated, REGISTER_COOKIE, SESSION_COOKIE, check_origin,
};
use crate::error::ErrorCode;
use crate::error::{ApiError, Domain, ErrorBody};
use crate::state::AppState;

pub fn routes(r: &mut Routes) {
    route!(r, login_redirect);
    route!(r, callback);
    route!(r, register);
    route!(r, logout);
    route!(r, list_sessions);
    route!(r, revoke_session);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    /// Passed to the provider as OIDC `login_hint`; with the `dev` provider, logs in as
    /// this e-mail without showing the form.
    login_hint: Option<String>,
    /// `dev` provider only: the display name it reports (none: registration completion).
    name: Option<String>,
}

/// A successful login (the account API).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    #[schema(example = 1)]
    user_id: i64,
    name: Option<String>,
    profile_image_uri: Option<String>,
    #[schema(example = json!(["USER"]))]
    roles: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    message: String,
}

fn meta(req: &HttpRequest, state: &AppState) -> SessionMeta {
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let ip = state.rate_limiter.client_addr(req).map(|ip| ip.to_string());
    SessionMeta::new(ua, ip.as_deref())
}

/// Starts a login: 302 to the provider, with the login state bound to this browser by a
/// short-lived HttpOnly cookie.
#[utoipa::path(get, path = "/account/login/oauth2/authorization/{registrationId}", tag = "accounts",
    params(("registrationId" = String, Path, description = "A configured provider: `google`, `kakao`, `dev`, …"), LoginQuery),
    responses(
        (status = 302, description = "To the provider's authorization endpoint; sets `s_login`"),
        (status = 404, description = "No such provider (`PROVIDER_NOT_FOUND`)", body = ErrorBody),
        (status = 429, description = "Too many login attempts from this address", body = ErrorBody),
        (status = 503, description = "The provider cannot be reached", body = ErrorBody),
    ))]
pub async fn login_redirect(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, ApiError> {
    state.rate_limiter.check(&req)?;
    let q = query.into_inner();
    let hints = LoginHints {
        login_hint: q.login_hint.filter(|h| !h.is_empty() && h.len() <= 320),
        name: q.name.filter(|n| !n.is_empty() && n.len() <= 200),
    };
    let redirect = state.login.begin(&id, &hints).await?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, redirect.url))
        .cookie(
            state
                .cookies
                .login_state(&redirect.state, state.login_flow_ttl),
        )
        .finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// RFC 9207: the issuer, checked when the provider sends it.
    iss: Option<String>,
    error: Option<String>,
}

/// Finishes a login. 200 with the account and the `s_access` session cookie; or 400
/// `INSUFFICIENT_USER_INFO` with `invalidFields` and an `s_register` cookie for
/// `POST /account/register`.
#[utoipa::path(get, path = "/login/oauth2/code/{registrationId}", tag = "accounts",
    params(("registrationId" = String, Path), CallbackQuery),
    responses(
        (status = 200, description = "Logged in; sets `s_access`", body = LoginResponse),
        (status = 302, description = "Logged in, redirected to LOGIN_SUCCESS_REDIRECT"),
        (status = 400, description = "`INSUFFICIENT_USER_INFO` (sets `s_register`), `LOGIN_STATE_INVALID`, `LOGIN_DENIED`", body = ErrorBody),
        (status = 401, description = "`LOGIN_REJECTED`: the code exchange or ID token failed validation", body = ErrorBody),
        (status = 404, description = "No such provider", body = ErrorBody),
        (status = 429, description = "Too many login attempts", body = ErrorBody),
        (status = 503, description = "`IDENTITY_PROVIDER_UNAVAILABLE`", body = ErrorBody),
    ))]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    state.rate_limiter.check(&req)?;
    let q = query.into_inner();
    let bound = req.cookie(LOGIN_COOKIE).map(|c| c.value().to_owned());
    // Only a callback carrying this browser's own state spends it; a stray or forged one
    // must not cancel a login in progress.
    let spends_state = bound.is_some() && bound == q.state;
    let outcome = state
        .login
        .complete(
            &id,
            Callback {
                code: q.code,
                state: q.state,
                iss: q.iss,
                error: q.error,
            },
            bound.as_deref(),
            meta(&req, &state),
        )
        .await;
    let clear_state = state.cookies.removal(LOGIN_COOKIE, "/login/oauth2/code");
    let mut res = match outcome {
        Ok(LoginOutcome::LoggedIn(done)) => logged_in(&state, *done, true),
        Ok(LoginOutcome::NeedsRegistration { token, invalid }) => {
            // `from_error` keeps the error on the response: the access line names its code.
            let mut res = HttpResponse::from_error(ApiError::insufficient_user_info(invalid));
            let _ = res.add_cookie(&state.cookies.registration(&token, state.registration_ttl));
            res
        }
        Err(e) => HttpResponse::from_error(ApiError::from(e)),
    };
    if spends_state {
        let _ = res.add_cookie(&clear_state);
    }
    Ok(res)
}

/// The answer to a login: the session cookie, and JSON or the configured redirect.
fn logged_in(state: &AppState, done: LoggedIn, may_redirect: bool) -> HttpResponse {
    let cookie = state
        .cookies
        .session(&done.session.token, state.session_cookie_max_age);
    if may_redirect && let Some(to) = &state.login_success_redirect {
        return HttpResponse::Found()
            .insert_header((header::LOCATION, to.clone()))
            .cookie(cookie)
            .finish();
    }
    HttpResponse::Ok().cookie(cookie).json(LoginResponse {
        user_id: done.account.id.get(),
        name: done.account.name.as_ref().map(|n| n.as_str().to_owned()),
        profile_image_uri: state.profile_image_url(&done.account),
        roles: done
            .account
            .roles
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect(),
    })
}

/// The fields missing after an insufficient login (the account API). Only these four are known.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegisterRequest {
    /// 2 to 50 characters.
    name: Option<String>,
    email: Option<String>,
    /// `MALE` or `FEMALE`.
    gender: Option<String>,
    /// `yyyy-MM-dd`.
    birth_date: Option<String>,
}

/// Completes a registration with the fields the provider did not give: 200 and a session.
#[utoipa::path(post, path = "/account/register", tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = 200, description = "Registered and logged in; sets `s_access`", body = MessageResponse),
        (status = 400, description = "`INSUFFICIENT_USER_INFO` with `invalidFields`, or a malformed body", body = ErrorBody),
        (status = 401, description = "`NO_PENDING_REGISTRATION`: no valid `s_register` cookie", body = ErrorBody),
        (status = 403, description = "`ALREADY_LOGGED_IN`, or `CSRF_ORIGIN_REFUSED`", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ))]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    current: MaybeAuthenticated,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    state.rate_limiter.check(&req)?;
    if current.0.is_some() {
        return Err(ApiError::new(
            ErrorCode::AlreadyLoggedIn,
            "You are already logged in: log out before registering.",
        )
        .in_domain(Domain::Account));
    }
    let token = req
        .cookie(REGISTER_COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or_else(ApiError::no_pending_registration)?;
    check_origin(&req, &state)?;
    let b = body.into_inner();
    let form = RegistrationForm {
        name: b.name,
        email: b.email,
        gender: b.gender,
        birth_date: b.birth_date,
    };
    let done = state
        .login
        .register(&token, form, meta(&req, &state))
        .await?;
    let cookie = state
        .cookies
        .session(&done.session.token, state.session_cookie_max_age);
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .cookie(state.cookies.removal(REGISTER_COOKIE, "/account/register"))
        .json(MessageResponse {
            message: "successfully registered and logged in".into(),
        }))
}

/// Ends this session at once and clears the cookie.
#[utoipa::path(post, path = "/account/logout", tag = "accounts",
    responses(
        (status = 204, description = "Logged out; `s_access` cleared"),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "A service token has no session to end", body = ErrorBody),
    ))]
pub async fn logout(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let account = who.account()?;
    if let Some(id) = who.session {
        state.sessions.revoke(account, id).await?;
    }
    Ok(HttpResponse::NoContent()
        .cookie(state.cookies.removal(SESSION_COOKIE, "/"))
        .finish())
}

/// One of the caller's sessions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    id: String,
    created_at: String,
    last_seen_at: String,
    idle_expires_at: String,
    absolute_expires_at: String,
    user_agent: Option<String>,
    ip: Option<String>,
    /// The session this request came with.
    current: bool,
}

/// The caller's active sessions, most recently used first.
#[utoipa::path(get, path = "/account/sessions", tag = "accounts",
    responses(
        (status = 200, description = "Active sessions", body = [SessionResponse]),
        (status = 401, description = "No valid session", body = ErrorBody),
    ))]
pub async fn list_sessions(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let account = who.account()?;
    let sessions = state.sessions.list(account).await?;
    Ok(HttpResponse::Ok().json(
        sessions
            .into_iter()
            .map(|s| SessionResponse {
                id: s.id.to_string(),
                created_at: rfc3339(s.created_at),
                last_seen_at: rfc3339(s.last_seen_at),
                idle_expires_at: rfc3339(s.idle_expires_at),
                absolute_expires_at: rfc3339(s.absolute_expires_at),
                user_agent: s.user_agent,
                ip: s.ip,
                current: Some(s.id) == who.session,
            })
            .collect::<Vec<_>>(),
    ))
}

/// Revokes one of the caller's sessions (another device, say).
#[utoipa::path(delete, path = "/account/sessions/{id}", tag = "accounts",
    params(("id" = String, Path, description = "A session id from GET /account/sessions")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 404, description = "`SESSION_NOT_FOUND`: none of the caller's active sessions", body = ErrorBody),
    ))]
pub async fn revoke_session(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let account = who.account()?;
    let not_found = || {
        ApiError::new(
            ErrorCode::SessionNotFound,
            "You have no such active session.",
        )
        .in_domain(Domain::Account)
    };
    let id = SessionId::parse(&id).map_err(|_| not_found())?;
    if state.sessions.revoke(account, id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found())
    }
}
