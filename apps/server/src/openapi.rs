//! The OpenAPI 3.1 document, generated from the handlers' annotations. A test fails when a
//! registered route is missing from it (or documented but not registered).

use utoipa::OpenApi;

use crate::error::{Domain, ErrorBody, FieldError};
use crate::routes::{docs, health};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Accounts, images and reports",
        description = "OIDC login and server-side sessions, presigned image uploads with \
            verification and CDN delivery, and abuse reports with moderation. Every error is \
            the envelope `ErrorBody`.",
        license(name = "Apache-2.0"),
    ),
    paths(
        health::healthz,
        health::readyz,
        docs::openapi_json,
        docs::swagger_ui,
        docs::swagger_ui_images,
        docs::swagger_asset,
    ),
    components(schemas(ErrorBody, FieldError, Domain)),
    tags(
        (name = "operations", description = "Probes and documentation"),
    ),
)]
pub struct ApiDoc;
