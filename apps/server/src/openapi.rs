//! The OpenAPI 3.1 document, generated from the handlers' annotations. A test fails when a
//! registered route is missing from it (or documented but not registered).

use utoipa::OpenApi;

use crate::error::{Domain, ErrorBody, FieldError};
use crate::routes::{
    accounts, demo, dev_login, docs, files, health, images, login, metrics, reports,
};

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
        login::login_redirect,
        login::callback,
        login::register,
        login::logout,
        login::list_sessions,
        login::revoke_session,
        dev_login::authorize_page,
        dev_login::authorize_submit,
        accounts::get_account,
        accounts::patch_account,
        accounts::delete_account,
        accounts::summary,
        accounts::internal_profile,
        images::issue_v1,
        images::callback_v1,
        images::presign_any,
        images::presign_scan,
        images::presign_profile,
        images::metadata,
        images::delete_image,
        images::local_put,
        images::local_get,
        files::avatar_url,
        files::delete_avatar,
        files::post_file_url,
        files::profile_put_url,
        files::delete_profile_image,
        files::multi_upload,
        reports::submit,
        reports::categories,
        reports::mine,
        reports::list,
        reports::get_report,
        reports::moderate,
        metrics::metrics,
        demo::index,
        demo::asset,
    ),
    components(schemas(ErrorBody, FieldError, Domain)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "accounts", description = "Login, registration, sessions and accounts (seed 001)"),
        (name = "images", description = "Uploads, confirmation, delivery and deletion (seeds 000, 001, 002, 003, 004)"),
        (name = "reports", description = "Reports and moderation (seed 002)"),
        (name = "operations", description = "Probes and documentation"),
    ),
)]
pub struct ApiDoc;

/// The two ways to present a session, and service tokens.
#[derive(Debug)]
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "s_access",
                "The session cookie set at login (HttpOnly, SameSite=Lax).",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session token, or a service token (`svc_…`, role SERVER). Seed 000's bare `Authorization: <token>` works too.",
                    ))
                    .build(),
            ),
        );
    }
}
