//! The outermost middleware: request ids, the contract's default headers, one access-log
//! line per request (with the error's code when a handler refused), and a last guarantee
//! that every error leaves in the envelope.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, ResponseError as _};
use tracing::Instrument as _;

use crate::error::ApiError;

/// The request id of the current request, as accepted from `X-Request-Id` or generated.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's request id is echoed only when it is short and plain, so that it cannot
/// inject anything into logs or headers.
fn accept_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| s.to_owned())
}

/// Headers every response carries (the files/avatars API's set; `X-XSS-Protection: 0` per current
/// guidance). A handler that sets its own `Cache-Control` (static assets, images) keeps it,
/// and then no `Pragma`/`Expires` are added either.
fn apply_default_headers(h: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, name: HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_XSS_PROTECTION, "0");
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
        );
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        h.insert(header::EXPIRES, HeaderValue::from_static("0"));
    }
    // Merge with whatever CORS put there, without repeating a name.
    let mut vary: Vec<String> = h
        .get_all(header::VARY)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    for name in [
        "Origin",
        "Access-Control-Request-Method",
        "Access-Control-Request-Headers",
    ] {
        if !vary.iter().any(|v| v.eq_ignore_ascii_case(name)) {
            vary.push(name.to_owned());
        }
    }
    if let Ok(v) = HeaderValue::from_str(&vary.join(", ")) {
        h.insert(header::VARY, v);
    }
}

fn is_json(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// See the module documentation.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let start = Instant::now();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(accept_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    // The path only: query strings can hold OAuth codes and states, which never go to logs.
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
    );

    // Cloning the request before routing would stop actix from recording the matched
    // route, so an `Err` from an inner layer (rare: handlers' and CORS's errors arrive as
    // responses) is answered in the envelope without the extra headers.
    let mut res = match next.call(req).instrument(span.clone()).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(err) => {
            let status = err.as_response_error().status_code();
            return Err(ApiError::from_status(status, Some(err.to_string())).into());
        }
    };

    let status = res.status();
    if (status.is_client_error() || status.is_server_error()) && !is_json(res.headers()) {
        let detail = res.response().error().map(ToString::to_string);
        let (req, old) = res.into_parts();
        let mut new = ApiError::from_status(status, detail).error_response();
        // Keep headers such as Allow or CORS from the original answer.
        for (name, value) in old.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                new.headers_mut().append(name.clone(), value.clone());
            }
        }
        res = ServiceResponse::new(req, new);
    }

    let headers = res.headers_mut();
    apply_default_headers(headers);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, v);
    }

    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(state) = res
        .request()
        .app_data::<actix_web::web::Data<crate::AppState>>()
    {
        state.metrics.http(
            &route,
            res.request().method().as_str(),
            res.status().as_u16(),
            start.elapsed().as_secs_f64(),
        );
    }
    // The contract's error code when a handler refused: the operator reads what the client
    // was told next to the status, without the client's help.
    let code = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .map(ApiError::code);
    let _enter = span.enter();
    tracing::info!(
        target: "http",
        route = %route,
        status = res.status().as_u16(),
        code = code.map(tracing::field::display),
        // Whole microseconds: enough for latency, without float noise in the logs.
        latency_ms = (start.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        "served"
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what the log subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn the_access_line_names_a_refusals_code() {
        use crate::error::ErrorCode;
        use actix_web::{App, HttpResponse, middleware::from_fn, test, web};
        let logs = Captured::default();
        let writer = logs.clone();
        let _guard = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish(),
        );
        let app = test::init_service(
            App::new()
                .wrap(from_fn(request_context))
                .route(
                    "/refused",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(ApiError::new(
                            ErrorCode::UploadMismatch,
                            "The Content-Type header differs.",
                        ))
                    }),
                )
                .route("/ok", web::get().to(HttpResponse::Ok)),
        )
        .await;
        for path in ["/refused", "/ok"] {
            test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        }
        let logs = String::from_utf8(logs.0.lock().expect("log buffer").clone()).expect("utf-8");
        let line = |route: &str| {
            logs.lines()
                .find(|l| l.contains("served") && l.contains(&format!("route={route} ")))
                .unwrap_or_else(|| panic!("no access line for {route} in {logs}"))
                .to_owned()
        };
        assert!(
            line("/refused").contains("status=400 code=UPLOAD_MISMATCH "),
            "{logs}"
        );
        assert!(!line("/ok").contains("code="), "{logs}");
    }

    #[test]
    fn request_ids_are_accepted_only_when_plain() {
        let ok = HeaderValue::from_static("abc-123_x.y:z");
        assert_eq!(accept_request_id(&ok).as_deref(), Some("abc-123_x.y:z"));
        for bad in ["", "a b", "a\tb", "<script>"] {
            let v = HeaderValue::from_str(bad).expect("header");
            assert_eq!(accept_request_id(&v), None, "{bad:?}");
        }
        let long = HeaderValue::from_str(&"a".repeat(129)).expect("header");
        assert_eq!(accept_request_id(&long), None);
    }

    #[test]
    fn vary_is_merged_not_duplicated() {
        let mut h = HeaderMap::new();
        h.insert(
            header::VARY,
            HeaderValue::from_static("Origin, Accept-Encoding"),
        );
        apply_default_headers(&mut h);
        assert_eq!(
            h.get(header::VARY).and_then(|v| v.to_str().ok()),
            Some(
                "Origin, Accept-Encoding, Access-Control-Request-Method, Access-Control-Request-Headers"
            )
        );
    }

    #[test]
    fn an_own_cache_control_is_kept_without_pragma() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        apply_default_headers(&mut h);
        assert_eq!(
            h.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()),
            Some("public, max-age=60")
        );
        assert!(h.get(header::PRAGMA).is_none());
        assert_eq!(
            h.get(header::X_XSS_PROTECTION)
                .and_then(|v| v.to_str().ok()),
            Some("0")
        );
    }
}
