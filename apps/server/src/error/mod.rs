//! The one HTTP error type. Every error the service answers, its own and actix's, leaves as
//! the contract's envelope:
//!
//! ```json
//! {"status":404,"code":"USER_NOT_FOUND","message":"…","domain":"account","validation":null}
//! ```
//!
//! Codes are stable: clients may switch on them; [`ErrorCode`] lists them all. 5xx answers
//! say nothing about their cause; the cause is logged with the request id instead. Every
//! domain error becomes an answer in `from_domain.rs`.

mod code;
mod from_domain;

pub use code::ErrorCode;

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use domain::ParseError;
use serde::Serialize;
use utoipa::ToSchema;

/// Which part of the service an error belongs to (the account API's `domain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    Account,
    Image,
    Report,
    Common,
}

/// One refused field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

/// The envelope as it goes on the wire.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The HTTP status, repeated.
    #[schema(example = 404)]
    pub status: u16,
    /// A stable machine-readable code.
    #[schema(example = "USER_NOT_FOUND")]
    pub code: String,
    /// A human-readable explanation.
    #[schema(example = "The user is a user who has left or does not exist.")]
    pub message: String,
    pub domain: Domain,
    /// The refused fields of a 400, else null.
    pub validation: Option<Vec<FieldError>>,
    /// The account API's list of refused field names; present only with `validation`.
    #[serde(rename = "invalidFields", skip_serializing_if = "Option::is_none")]
    pub invalid_fields: Option<Vec<String>>,
}

/// An error answer.
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    domain: Domain,
    validation: Option<Vec<FieldError>>,
    /// What went wrong inside, for the log only.
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// Seconds after which a retry may succeed (`Retry-After`).
    retry_after: Option<u64>,
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status.as_u16())
            .field("code", &self.code)
            .field("message", &self.message)
            .field("cause", &self.cause)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ApiError {
    /// An answer with `code` and its status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code,
            message: message.into(),
            domain: Domain::Common,
            validation: None,
            cause: None,
            retry_after: None,
        }
    }

    /// The answer with `Retry-After: secs`.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    #[must_use]
    pub fn in_domain(mut self, domain: Domain) -> Self {
        self.domain = domain;
        self
    }

    #[must_use]
    pub fn with_cause(
        mut self,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.cause = Some(cause.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// 400 with the refused fields (`validation` and the account API's `invalidFields`).
    pub fn validation(message: impl Into<String>, fields: Vec<FieldError>) -> Self {
        let mut e = Self::new(ErrorCode::InvalidInput, message);
        e.validation = Some(fields);
        e
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorCode::Unauthenticated,
            "A valid session is required: log in again.",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn route_not_found() -> Self {
        Self::new(ErrorCode::NotFound, "No route matches this path.")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            ErrorCode::MethodNotAllowed,
            "This route does not accept this method.",
        )
    }

    pub fn payload_too_large(limit: Option<usize>) -> Self {
        let message = match limit {
            Some(l) => format!("The request body is larger than the {l} bytes allowed."),
            None => "The request body is too large.".to_owned(),
        };
        Self::new(ErrorCode::PayloadTooLarge, message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnsupportedMediaType, message)
    }

    /// An account at one of its upload limits (counted in the database).
    pub fn upload_limit(limit: domain::UploadLimit) -> Self {
        use domain::UploadLimit;
        match limit {
            UploadLimit::Pending(n) => Self::new(
                ErrorCode::UploadLimitExceeded,
                format!(
                    "You have {n} uploads waiting for their bytes, the most allowed at once: upload or let them expire first."
                ),
            ),
            UploadLimit::PerHour(n) => Self::new(
                ErrorCode::UploadLimitExceeded,
                format!("At most {n} uploads an hour: try again later."),
            ),
            UploadLimit::Quota {
                bytes,
                declared: false,
            } => Self::new(
                ErrorCode::QuotaExceeded,
                format!("Your images use your whole quota of {bytes} bytes: delete some first."),
            ),
            UploadLimit::Quota {
                bytes,
                declared: true,
            } => Self::new(
                ErrorCode::QuotaExceededByUpload,
                format!("This upload would take your images past your quota of {bytes} bytes."),
            ),
        }
    }

    pub fn too_many_requests() -> Self {
        Self::new(
            ErrorCode::TooManyRequests,
            "Too many requests: slow down and try again shortly.",
        )
    }

    /// The files/avatars API's storage failure.
    pub fn storage_unavailable() -> Self {
        Self::new(
            ErrorCode::CanNotAccessS3,
            "unable to access amazon s3, contract your administrator.",
        )
        .in_domain(Domain::Image)
        .with_retry_after(2)
    }

    pub fn database_unavailable() -> Self {
        Self::new(
            ErrorCode::DatabaseUnavailable,
            "The service cannot reach its database right now; try again shortly.",
        )
        .with_retry_after(1)
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorCode::InternalError,
            "Something went wrong on our side; it has been logged.",
        )
    }

    /// A generic envelope for a status some layer produced without one (actix's own
    /// errors, middleware refusals).
    pub fn from_status(status: StatusCode, detail: Option<String>) -> Self {
        let code = match status.as_u16() {
            400 => ErrorCode::BadRequest,
            401 => ErrorCode::Unauthenticated,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            408 => ErrorCode::RequestTimeout,
            413 => ErrorCode::PayloadTooLarge,
            415 => ErrorCode::UnsupportedMediaType,
            429 => ErrorCode::TooManyRequests,
            503 => ErrorCode::ServiceUnavailable,
            s if s >= 500 => ErrorCode::InternalError,
            _ => ErrorCode::Error,
        };
        let default_message = match code {
            ErrorCode::BadRequest => "The request is malformed.",
            ErrorCode::Unauthenticated => "A valid session is required: log in again.",
            ErrorCode::Forbidden => "You may not do this.",
            ErrorCode::NotFound => "No route matches this path.",
            ErrorCode::MethodNotAllowed => "This route does not accept this method.",
            ErrorCode::RequestTimeout => "The request took too long to arrive.",
            ErrorCode::PayloadTooLarge => "The request body is too large.",
            ErrorCode::UnsupportedMediaType => "This content type is not accepted here.",
            ErrorCode::TooManyRequests => "Too many requests: slow down and try again shortly.",
            ErrorCode::ServiceUnavailable => "The service is unavailable; try again shortly.",
            ErrorCode::InternalError => "Something went wrong on our side; it has been logged.",
            _ => "The request failed.",
        };
        // Client errors may say what actix said (it is about the request); server errors never.
        let message = match detail {
            Some(d) if status.is_client_error() && !d.is_empty() => d,
            _ => default_message.to_owned(),
        };
        let mut e = Self::new(code, message);
        // The status as the layer gave it (a 502 stays a 502).
        e.status = status;
        e
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            status: self.status.as_u16(),
            code: self.code.as_str().to_owned(),
            message: self.message.clone(),
            domain: self.domain,
            invalid_fields: self
                .validation
                .as_ref()
                .map(|v| v.iter().map(|f| f.field.clone()).collect()),
            validation: self.validation.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            match &self.cause {
                Some(cause) => {
                    tracing::error!(code = self.code.as_str(), error = %cause, cause = ?cause, "request failed")
                }
                None => tracing::error!(code = self.code.as_str(), "request failed"),
            }
        } else if let Some(cause) = &self.cause {
            tracing::info!(code = self.code.as_str(), error = %cause, "request refused");
        }
        let body = serde_json::to_vec(&self.body()).unwrap_or_else(|_| b"{}".to_vec());
        let mut res = HttpResponse::build(self.status);
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs));
        }
        res.body(body)
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        Self::invalid_fields(vec![e])
    }
}

impl ApiError {
    /// 400 naming every refused field.
    pub fn invalid_fields(errors: Vec<ParseError>) -> Self {
        let message = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.reason))
            .collect::<Vec<_>>()
            .join("; ");
        Self::validation(
            format!("Invalid input: {message}"),
            errors
                .into_iter()
                .map(|e| FieldError {
                    field: e.field.to_owned(),
                    reason: e.reason,
                })
                .collect(),
        )
    }
}

impl ApiError {
    /// The account API's `{"message": "insufficient user info", "invalidFields": [...]}`, in the
    /// envelope.
    pub fn insufficient_user_info(invalid: Vec<ParseError>) -> Self {
        let mut e = Self::invalid_fields(invalid);
        e.code = ErrorCode::InsufficientUserInfo;
        e.message = "insufficient user info".to_owned();
        e.in_domain(Domain::Account)
    }

    pub fn no_pending_registration() -> Self {
        Self::new(
            ErrorCode::NoPendingRegistration,
            "No registration is pending for this browser: log in again.",
        )
        .in_domain(Domain::Account)
    }

    /// The files/avatars API's `USER_NOT_FOUND`.
    pub fn user_not_found() -> Self {
        Self::new(
            ErrorCode::UserNotFound,
            "The user is a user who has left or does not exist.",
        )
        .in_domain(Domain::Account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::RepositoryError;

    #[test]
    fn validation_errors_carry_both_field_lists() {
        let e = ApiError::from(ParseError::new("name", "must be 2 to 50 characters"));
        let v = serde_json::to_value(e.body()).expect("json");
        assert_eq!(v["status"], 400);
        assert_eq!(v["invalidFields"], serde_json::json!(["name"]));
        assert_eq!(v["validation"][0]["field"], "name");
        assert_eq!(v["domain"], "common");
    }

    #[test]
    fn server_errors_say_nothing_of_their_cause() {
        let e = ApiError::from(RepositoryError::Unexpected("SELECT * FROM secrets".into()));
        let v = serde_json::to_value(e.body()).expect("json");
        assert_eq!(v["status"], 500);
        assert!(!v.to_string().contains("SELECT"));
        let e = ApiError::from_status(StatusCode::BAD_GATEWAY, Some("upstream said x".into()));
        assert!(
            !serde_json::to_string(&e.body())
                .expect("json")
                .contains("upstream")
        );
    }

    #[test]
    fn envelope_has_null_validation_and_no_invalid_fields_when_not_a_validation_error() {
        let v = serde_json::to_value(ApiError::user_not_found().body()).expect("json");
        assert_eq!(v["validation"], serde_json::Value::Null);
        assert!(v.get("invalidFields").is_none());
        assert_eq!(v["code"], "USER_NOT_FOUND");
        assert_eq!(v["domain"], "account");
    }
}
