//! `/metrics`: Prometheus text format, optionally behind `METRICS_TOKEN`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{Routes, route};
use crate::error::{ApiError, ErrorBody};
use crate::probes::Probes;
use crate::state::AppState;

pub fn routes(r: &mut Routes) {
    route!(r, metrics);
}

/// The service's metrics. With `METRICS_TOKEN` set, send `Authorization: Bearer <token>`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition", content_type = "text/plain"),
        (status = 401, description = "METRICS_TOKEN is set and was not sent", body = ErrorBody),
    ))]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
    probes: web::Data<Probes>,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = &state.metrics_token {
        let sent = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Compared through hashes: no early exit that times the token.
        if sent.map(domain::TokenHash::of) != Some(domain::TokenHash::of(token)) {
            return Err(ApiError::unauthenticated());
        }
    }
    let m = &state.metrics;
    for topic in [
        domain::outbox::topics::CDN_INVALIDATION,
        domain::outbox::topics::REPORT_NOTICE,
    ] {
        if let Ok(depth) = probes.outbox_depth(topic).await {
            m.outbox_depth
                .with_label_values(&[topic])
                .set(i64::try_from(depth).unwrap_or(i64::MAX));
        }
    }
    let (size, idle) = probes.pool();
    let idle = i64::try_from(idle).unwrap_or(i64::MAX);
    m.db_connections.with_label_values(&["idle"]).set(idle);
    m.db_connections
        .with_label_values(&["in_use"])
        .set(i64::from(size) - idle);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(m.render()))
}
