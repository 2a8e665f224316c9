//! The OpenAPI 3.1 document: the info, tags and shared components here, and every route's
//! own description, taken from the route table ([`crate::routes::all`]) that the router
//! is built from, so no route is missing from it nor described without being served.

use utoipa::OpenApi;

use crate::error::{Domain, ErrorBody, FieldError};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Accounts, images and reports",
        description = "OIDC login and server-side sessions, presigned image uploads with \
            verification and CDN delivery, and abuse reports with moderation. Every error is \
            the envelope `ErrorBody`.",
        license(name = "Apache-2.0"),
    ),
    components(schemas(ErrorBody, FieldError, Domain)),
    tags(
        (name = "accounts", description = "Login, registration, sessions and accounts (the account API)"),
        (name = "images", description = "Uploads, confirmation, delivery and deletion (every legacy route family)"),
        (name = "reports", description = "Reports and moderation (the chat API)"),
        (name = "operations", description = "Probes and documentation"),
    ),
)]
pub struct ApiDoc;

/// The whole document: [`ApiDoc`] with every registered route, then the security schemes
/// and the answers every operation shares.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = crate::routes::all().openapi(ApiDoc::openapi());
    utoipa::Modify::modify(&SecuritySchemes, &mut doc);
    utoipa::Modify::modify(&CommonResponses, &mut doc);
    doc
}

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
                        "A session token, or a service token (`svc_…`, role SERVER). The files/avatars API's bare `Authorization: <token>` works too.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The answers any operation can give besides its own, so the document lists every status
/// and body a client can see (schemathesis checks each response against it):
///
/// - with a request body: 400 `MALFORMED_JSON`/`INVALID_INPUT` (a body that does not parse),
///   413 (larger than the JSON limit) and 415 (another Content-Type);
/// - with path or query parameters: 400 when one does not parse (an id out of range, a
///   required one missing);
/// - every 4xx and 5xx answer carries the envelope, as JSON, even where the operation
///   documents another body for its own refusals (the dev login form's 400 is HTML, a
///   form that does not parse is the envelope).
#[derive(Debug)]
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let envelope = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build()
        };
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content("application/json", envelope())
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let has_body = op.request_body.is_some();
                let has_params = op
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query));
                let responses = &mut op.responses.responses;
                if has_body || has_params {
                    responses
                        .entry("400".to_owned())
                        .or_insert_with(|| error("A parameter or the body does not parse"));
                }
                if has_body {
                    responses.entry("413".to_owned()).or_insert_with(|| {
                        error("`PAYLOAD_TOO_LARGE`: the body is larger than allowed")
                    });
                    responses.entry("415".to_owned()).or_insert_with(|| {
                        error("`UNSUPPORTED_MEDIA_TYPE`: the body is not of the documented type")
                    });
                }
                for (status, response) in responses.iter_mut() {
                    let is_error = status.starts_with('4') || status.starts_with('5');
                    if let (true, RefOr::T(r)) = (is_error, response) {
                        r.content
                            .entry("application/json".to_owned())
                            .or_insert_with(envelope);
                    }
                }
            }
        }
    }
}
