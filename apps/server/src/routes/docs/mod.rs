//! The API description: the OpenAPI document and Swagger UI, whose assets are vendored in
//! `static/swagger` and compiled into the binary, so the page works offline.

use std::sync::LazyLock;

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};

use super::{Routes, route};
use crate::error::{ApiError, ErrorBody};
mod openapi;

pub use openapi::{ApiDoc, document};

pub fn routes(r: &mut Routes) {
    route!(r, openapi_json);
    route!(r, swagger_ui);
    route!(r, swagger_asset);
    route!(r, swagger_ui_images);
}

/// The document is a pure function of the code: render it once.
static OPENAPI_JSON: LazyLock<String> =
    LazyLock::new(|| document().to_pretty_json().unwrap_or_default());

/// The OpenAPI document, as `server openapi` prints it.
pub fn openapi_document() -> &'static str {
    &OPENAPI_JSON
}

const INDEX_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>API documentation</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-initializer.js"></script>
</body>
</html>
"#;

// No validator badge: it would call a third-party host.
const INITIALIZER_JS: &str = r##"window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
};
"##;

static BUNDLE_JS: &[u8] = include_bytes!("../../../static/swagger/swagger-ui-bundle.js");
static CSS: &[u8] = include_bytes!("../../../static/swagger/swagger-ui.css");

/// The OpenAPI 3.1 document of every route.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi_document())
}

fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // The page frames nothing and loads only our own assets.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .body(INDEX_HTML)
}

/// Swagger UI for the whole service.
#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 200, description = "Swagger UI", content_type = "text/html")))]
pub async fn swagger_ui() -> HttpResponse {
    page()
}

/// Swagger UI at the upload pipeline API's address.
#[utoipa::path(get, path = "/api/v1/images/docs", tag = "operations",
    responses((status = 200, description = "Swagger UI (alias of /docs)", content_type = "text/html")))]
pub async fn swagger_ui_images() -> HttpResponse {
    page()
}

/// Swagger UI's own assets.
#[utoipa::path(get, path = "/docs/{file}", tag = "operations",
    params(("file" = String, Path, description = "swagger-ui-bundle.js, swagger-ui.css or swagger-initializer.js")),
    responses(
        (status = 200, description = "The asset"),
        (status = 404, description = "No such asset", body = ErrorBody),
    ))]
pub async fn swagger_asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (body, content_type): (&'static [u8], &str) = match file.as_str() {
        "swagger-ui-bundle.js" => (BUNDLE_JS, "text/javascript; charset=utf-8"),
        "swagger-ui.css" => (CSS, "text/css; charset=utf-8"),
        "swagger-initializer.js" => (INITIALIZER_JS.as_bytes(), "text/javascript; charset=utf-8"),
        _ => return Err(ApiError::route_not_found()),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(3600),
        ]))
        .body(body))
}
