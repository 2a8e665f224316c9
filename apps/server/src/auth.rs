//! Who is calling: the session (cookie `s_access`, `Authorization: Bearer <token>` or the
//! files/avatars API's bare `Authorization: <token>`) or a service token (`svc_…`, role SERVER), resolved
//! once per request by the [`Authenticated`] extractor. Cookie-authenticated unsafe
//! requests must come from an allowed origin (CSRF).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use domain::{Actor, SessionId, SessionToken};

pub use crate::credentials::{
    CookiePolicy, LOGIN_COOKIE, REGISTER_COOKIE, SERVICE_TOKEN_PREFIX, SESSION_COOKIE,
    ServiceTokens,
};
use crate::error::ErrorCode;
use crate::error::{ApiError, Domain};
use crate::state::AppState;

/// A caller with credentials.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub actor: Actor,
    /// The session, for account callers.
    pub session: Option<SessionId>,
    /// The request's id (`X-Request-Id`), for the audit entries of administrative acts.
    pub request: domain::RequestId,
}

/// A caller who may or may not have credentials (login and registration routes). Invalid
/// credentials count as none.
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated(pub Option<Authenticated>);

fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The presented credential and whether it came in a cookie.
fn credential(req: &HttpRequest) -> Result<Option<(String, bool)>, ApiError> {
    if let Some(h) = req.headers().get(header::AUTHORIZATION) {
        let v = h.to_str().map_err(|_| ApiError::unauthenticated())?.trim();
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v)
            .trim();
        return Ok(Some((token.to_owned(), false)));
    }
    Ok(req
        .cookie(SESSION_COOKIE)
        .map(|c| (c.value().to_owned(), true)))
}

/// Refuses a cookie-authenticated unsafe request whose `Origin` (or, without it,
/// `Referer`) is not an allowed origin. Without either header the request is not from a
/// browser, which sends `Origin` on every cross-origin unsafe request, and it is let
/// through; `SameSite=Lax` cookies are a second layer.
pub fn check_origin(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    // A header that is present but cannot be read as an origin claims no allowed origin
    // (the empty string): it is refused like a foreign one, never let through as absent.
    let headers = req.headers();
    let claimed = match (headers.get(header::ORIGIN), headers.get(header::REFERER)) {
        (Some(origin), _) => Some(origin.to_str().map(str::to_owned).unwrap_or_default()),
        (None, Some(referer)) => Some(
            referer
                .to_str()
                .ok()
                .and_then(crate::config::public_origin)
                .unwrap_or_default(),
        ),
        (None, None) => None,
    };
    match claimed {
        None => Ok(()),
        Some(origin) => {
            let origin = crate::config::parse_origin(&origin).unwrap_or(origin);
            if state.allowed_origins.contains(&origin) {
                Ok(())
            } else {
                Err(ApiError::new(
                    ErrorCode::CsrfOriginRefused,
                    "This request came from an origin that may not use your session.",
                ))
            }
        }
    }
}

/// For the legacy GET routes that issue uploads (`GET /files`, `GET
/// /users/profiles/avatars`): a GET that creates a record is an unsafe request in safe
/// clothing, so a cookie-authenticated one must come from the service's own site. A
/// browser says where a request came from in `Sec-Fetch-Site` (a link or a form on
/// another site is `cross-site`), and otherwise in `Referer`, checked as [`check_origin`]
/// checks it. A bearer token is never sent by a browser on its own: no check.
///
/// # Errors
/// 403 `CSRF_ORIGIN_REFUSED`.
pub fn check_issuing_get(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    if !matches!(credential(req), Ok(Some((_, true)))) {
        return Ok(());
    }
    let site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s.eq_ignore_ascii_case("cross-site")) {
        return Err(ApiError::new(
            ErrorCode::CsrfOriginRefused,
            "This request came from another site, which may not use your session to issue uploads.",
        ));
    }
    check_origin(req, state)
}

async fn resolve(req: HttpRequest) -> Result<Option<Authenticated>, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(ApiError::internal)?;
    let Some((token, via_cookie)) = credential(&req)? else {
        return Ok(None);
    };
    let request = req
        .extensions()
        .get::<crate::middleware::RequestId>()
        .map_or_else(domain::RequestId::none, |r| domain::RequestId::new(&r.0));
    if token.starts_with(SERVICE_TOKEN_PREFIX) {
        let name = state
            .service_tokens
            .name_of(&token)
            .ok_or_else(ApiError::unauthenticated)?;
        return Ok(Some(Authenticated {
            actor: Actor::Service {
                name: name.to_owned(),
            },
            session: None,
            request,
        }));
    }
    let token = SessionToken::parse(&token).map_err(|_| ApiError::unauthenticated())?;
    let domain::Principal { session, account } = state
        .sessions
        .authenticate(&token)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    if via_cookie && is_unsafe(req.method()) {
        check_origin(&req, &state)?;
    }
    Ok(Some(Authenticated {
        actor: Actor::Account {
            id: account.id,
            roles: account.roles,
        },
        session: Some(session.id),
        request,
    }))
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { resolve(req).await?.ok_or_else(ApiError::unauthenticated) })
    }
}

impl FromRequest for MaybeAuthenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match resolve(req).await {
                Ok(a) => Ok(Self(a)),
                // Bad credentials on a login route are simply no credentials.
                Err(e) if e.status() == actix_web::http::StatusCode::UNAUTHORIZED => Ok(Self(None)),
                Err(e) => Err(e),
            }
        })
    }
}

impl Authenticated {
    /// The account id, or 403 for service callers on routes only accounts use.
    pub fn account(&self) -> Result<domain::AccountId, ApiError> {
        self.actor.account_id().ok_or_else(|| {
            ApiError::forbidden("This route is for accounts, not services.")
                .in_domain(Domain::Account)
        })
    }
}
