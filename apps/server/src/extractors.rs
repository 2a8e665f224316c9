//! actix's extractor errors, routed through [`ApiError`] so they leave in the envelope.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, web};

use crate::error::ErrorCode;
use crate::error::{ApiError, FieldError};

/// JSON bodies: size limit, content type, and serde's own words for what is wrong.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req: &HttpRequest| json_error(err, limit).into())
}

fn json_error(err: JsonPayloadError, limit: usize) -> ApiError {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::payload_too_large(Some(limit))
        }
        JsonPayloadError::ContentType => ApiError::unsupported_media_type(
            "The body must be JSON (Content-Type: application/json).",
        ),
        JsonPayloadError::Deserialize(e) => {
            // serde says which field and why; it names no internals.
            let message = format!("The JSON body is invalid: {e}");
            if e.is_data() {
                ApiError::validation(
                    message,
                    vec![FieldError {
                        field: "body".to_owned(),
                        reason: e.to_string(),
                    }],
                )
            } else {
                ApiError::new(ErrorCode::MalformedJson, message)
            }
        }
        other => ApiError::new(
            ErrorCode::MalformedJson,
            format!("The JSON body could not be read: {other}"),
        ),
    }
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let QueryPayloadError::Deserialize(e) = &err else {
            return ApiError::new(ErrorCode::InvalidQuery, "The query string is invalid.").into();
        };
        ApiError::validation(
            format!("The query string is invalid: {e}"),
            vec![FieldError {
                field: "query".to_owned(),
                reason: e.to_string(),
            }],
        )
        .into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let PathError::Deserialize(e) = &err else {
            return ApiError::route_not_found().into();
        };
        ApiError::validation(
            format!("The path is invalid: {e}"),
            vec![FieldError {
                field: "path".to_owned(),
                reason: e.to_string(),
            }],
        )
        .into()
    })
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;
    use actix_web::{App, HttpResponse, test, web};
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[allow(dead_code)]
        name: String,
    }

    #[derive(Deserialize)]
    struct Page {
        #[allow(dead_code)]
        page: u32,
    }

    async fn json_route(_: web::Json<Body>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    async fn query_route(_: web::Query<Page>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    async fn path_route(_: web::Path<i64>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    async fn call(req: test::TestRequest) -> (StatusCode, serde_json::Value) {
        let app = test::init_service(
            App::new()
                .app_data(json_config(32))
                .app_data(query_config())
                .app_data(path_config())
                .route("/json", web::post().to(json_route))
                .route("/query", web::get().to(query_route))
                .route("/path/{id}", web::get().to(path_route)),
        )
        .await;
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status();
        let body = test::read_body(res).await;
        (status, serde_json::from_slice(&body).unwrap_or_default())
    }

    fn json_post(body: &'static str) -> test::TestRequest {
        test::TestRequest::post()
            .uri("/json")
            .insert_header(("content-type", "application/json"))
            .set_payload(body)
    }

    #[actix_web::test]
    async fn malformed_json_is_a_400_envelope() {
        let (status, body) = call(json_post("{\"name\":")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "MALFORMED_JSON");
        assert_eq!(body["status"], 400);
    }

    #[actix_web::test]
    async fn wrong_types_are_a_validation_envelope() {
        let (status, body) = call(json_post("{\"name\":5}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "INVALID_INPUT");
        assert!(
            body["validation"][0]["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("string")
        );
    }

    #[actix_web::test]
    async fn oversized_json_is_a_413_envelope() {
        let (status, body) = call(json_post(
            "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
        ))
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["code"], "PAYLOAD_TOO_LARGE");
    }

    #[actix_web::test]
    async fn a_non_json_content_type_is_a_415_envelope() {
        let req = test::TestRequest::post()
            .uri("/json")
            .insert_header(("content-type", "text/plain"))
            .set_payload("{}");
        let (status, body) = call(req).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(body["code"], "UNSUPPORTED_MEDIA_TYPE");
    }

    #[actix_web::test]
    async fn bad_query_and_path_values_are_400_envelopes() {
        let (status, body) = call(test::TestRequest::get().uri("/query?page=x")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["invalidFields"], serde_json::json!(["query"]));
        let (status, body) = call(test::TestRequest::get().uri("/path/abc")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["invalidFields"], serde_json::json!(["path"]));
    }
}
