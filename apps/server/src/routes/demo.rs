//! The demo page at `/` (static HTML, CSS and JavaScript compiled into the binary): on in
//! dev, off in production unless `DEMO_PAGE=true`.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};

use super::{Routes, route};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn routes(r: &mut Routes) {
    route!(r, index);
    route!(r, asset);
}

const INDEX: &str = include_str!("../../static/demo/index.html");
const JS: &str = include_str!("../../static/demo/demo.js");
const CSS: &str = include_str!("../../static/demo/demo.css");

/// The demo page.
#[utoipa::path(get, path = "/", tag = "operations",
    responses(
        (status = 200, description = "The demo page (dev, or DEMO_PAGE=true)", content_type = "text/html"),
        (status = 404, description = "The demo page is off", body = ErrorBody),
    ))]
pub async fn index(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.demo_page {
        return Err(ApiError::route_not_found());
    }
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            // Uploads go to the store's own origin and images come from the CDN's.
            "default-src 'self'; img-src 'self' data: blob: https: http:; connect-src 'self' https: http:; frame-ancestors 'none'",
        ))
        .body(INDEX))
}

/// The demo page's script and style.
#[utoipa::path(get, path = "/demo/{file}", tag = "operations",
    params(("file" = String, Path, description = "demo.js or demo.css")),
    responses(
        (status = 200, description = "The asset"),
        (status = 404, description = "No such asset, or the demo page is off", body = ErrorBody),
    ))]
pub async fn asset(
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !state.demo_page {
        return Err(ApiError::route_not_found());
    }
    let (body, content_type) = match file.as_str() {
        "demo.js" => (JS, "text/javascript; charset=utf-8"),
        "demo.css" => (CSS, "text/css; charset=utf-8"),
        _ => return Err(ApiError::route_not_found()),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .body(body))
}
