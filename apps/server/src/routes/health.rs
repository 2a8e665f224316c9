//! Liveness and readiness, for load balancers and Kubernetes probes.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Routes, route};
use crate::error::ErrorCode;
use crate::error::{ApiError, ErrorBody};
use crate::probes::Probes;

/// How long each dependency gets to answer a readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes(r: &mut Routes) {
    route!(r, healthz);
    route!(r, readyz);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    status: &'static str,
    checks: Checks,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Checks {
    #[schema(example = "ok")]
    database: &'static str,
    #[schema(example = "ok")]
    object_store: &'static str,
}

/// The process is up. Checks nothing else, so a slow database never restarts the service.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database and the object store both answer: the instance can take traffic.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A dependency does not answer (`NOT_READY`)", body = ErrorBody),
    ))]
pub async fn readyz(probes: web::Data<Probes>) -> Result<HttpResponse, ApiError> {
    let (db, store) = tokio::join!(
        tokio::time::timeout(PROBE_TIMEOUT, probes.database()),
        tokio::time::timeout(PROBE_TIMEOUT, probes.object_store()),
    );
    let db_ok = matches!(db, Ok(Ok(())));
    let store_ok = matches!(store, Ok(Ok(())));
    if db_ok && store_ok {
        return Ok(HttpResponse::Ok().json(Readiness {
            status: "ready",
            checks: Checks {
                database: "ok",
                object_store: "ok",
            },
        }));
    }
    let failing: Vec<&str> = [(db_ok, "database"), (store_ok, "object store")]
        .into_iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, name)| name)
        .collect();
    tracing::warn!(?db, ?store, "not ready");
    Err(ApiError::new(
        ErrorCode::NotReady,
        format!(
            "Not ready: the {} does not answer.",
            failing.join(" and the ")
        ),
    ))
}
