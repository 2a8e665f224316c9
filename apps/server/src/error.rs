//! The one HTTP error type. Every error the service answers, its own and actix's, leaves as
//! the contract's envelope:
//!
//! ```json
//! {"status":404,"code":"USER_NOT_FOUND","message":"…","domain":"account","validation":null}
//! ```
//!
//! Codes are stable: clients may switch on them. 5xx answers say nothing about their cause;
//! the cause is logged with the request id instead.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use domain::services::{AccountError, ImageError, LoginError, RegisterError};
use domain::{ParseError, RepositoryError, StorageError};
use serde::Serialize;
use utoipa::ToSchema;

/// Which part of the service an error belongs to (seed 001's `domain`).
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
    /// Seed 001's list of refused field names; present only with `validation`.
    #[serde(rename = "invalidFields", skip_serializing_if = "Option::is_none")]
    pub invalid_fields: Option<Vec<String>>,
}

/// An error answer.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    domain: Domain,
    validation: Option<Vec<FieldError>>,
    /// What went wrong inside, for the log only.
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
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
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            domain: Domain::Common,
            validation: None,
            cause: None,
        }
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

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// 400 with the refused fields (`validation` and seed 001's `invalidFields`).
    pub fn validation(message: impl Into<String>, fields: Vec<FieldError>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "INVALID_INPUT", message);
        e.validation = Some(fields);
        e
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "A valid session is required: log in again.",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn route_not_found() -> Self {
        Self::not_found("NOT_FOUND", "No route matches this path.")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "This route does not accept this method.",
        )
    }

    pub fn payload_too_large(limit: Option<usize>) -> Self {
        let message = match limit {
            Some(l) => format!("The request body is larger than the {l} bytes allowed."),
            None => "The request body is too large.".to_owned(),
        };
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            message,
        )
    }

    /// An account at one of its upload limits (counted in the database).
    pub fn upload_limit(limit: domain::UploadLimit) -> Self {
        use domain::UploadLimit;
        match limit {
            UploadLimit::Pending(n) => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "UPLOAD_LIMIT_EXCEEDED",
                format!(
                    "You have {n} uploads waiting for their bytes, the most allowed at once: upload or let them expire first."
                ),
            ),
            UploadLimit::PerHour(n) => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "UPLOAD_LIMIT_EXCEEDED",
                format!("At most {n} uploads an hour: try again later."),
            ),
            UploadLimit::Quota {
                bytes,
                declared: false,
            } => Self::new(
                StatusCode::CONFLICT,
                "QUOTA_EXCEEDED",
                format!("Your images use your whole quota of {bytes} bytes: delete some first."),
            ),
            UploadLimit::Quota {
                bytes,
                declared: true,
            } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "QUOTA_EXCEEDED",
                format!("This upload would take your images past your quota of {bytes} bytes."),
            ),
        }
    }

    pub fn too_many_requests() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            "Too many requests: slow down and try again shortly.",
        )
    }

    /// Seed 000's storage failure.
    pub fn storage_unavailable() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "CAN_NOT_ACCESS_S3",
            "unable to access amazon s3, contract your administrator.",
        )
        .in_domain(Domain::Image)
    }

    pub fn database_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
            "The service cannot reach its database right now; try again shortly.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "Something went wrong on our side; it has been logged.",
        )
    }

    /// A generic envelope for a status some layer produced without one (actix's own
    /// errors, middleware refusals).
    pub fn from_status(status: StatusCode, detail: Option<String>) -> Self {
        let (code, default_message) = match status.as_u16() {
            400 => ("BAD_REQUEST", "The request is malformed."),
            401 => (
                "UNAUTHENTICATED",
                "A valid session is required: log in again.",
            ),
            403 => ("FORBIDDEN", "You may not do this."),
            404 => ("NOT_FOUND", "No route matches this path."),
            405 => (
                "METHOD_NOT_ALLOWED",
                "This route does not accept this method.",
            ),
            408 => ("REQUEST_TIMEOUT", "The request took too long to arrive."),
            413 => ("PAYLOAD_TOO_LARGE", "The request body is too large."),
            415 => (
                "UNSUPPORTED_MEDIA_TYPE",
                "This content type is not accepted here.",
            ),
            429 => (
                "TOO_MANY_REQUESTS",
                "Too many requests: slow down and try again shortly.",
            ),
            503 => (
                "SERVICE_UNAVAILABLE",
                "The service is unavailable; try again shortly.",
            ),
            s if s >= 500 => (
                "INTERNAL_ERROR",
                "Something went wrong on our side; it has been logged.",
            ),
            _ => ("ERROR", "The request failed."),
        };
        // Client errors may say what actix said (it is about the request); server errors never.
        let message = match detail {
            Some(d) if status.is_client_error() && !d.is_empty() => d,
            _ => default_message.to_owned(),
        };
        Self::new(status, code, message)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            status: self.status.as_u16(),
            code: self.code.to_owned(),
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
                    tracing::error!(code = self.code, error = %cause, cause = ?cause, "request failed")
                }
                None => tracing::error!(code = self.code, "request failed"),
            }
        } else if let Some(cause) = &self.cause {
            tracing::info!(code = self.code, error = %cause, "request refused");
        }
        let body = serde_json::to_vec(&self.body()).unwrap_or_else(|_| b"{}".to_vec());
        let mut res = HttpResponse::build(self.status);
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
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

impl From<RepositoryError> for ApiError {
    fn from(e: RepositoryError) -> Self {
        match e {
            RepositoryError::Unavailable(_) => Self::database_unavailable().with_cause(e),
            RepositoryError::Unexpected(_) => Self::internal().with_cause(e),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => {
                Self::not_found("FILE_NOT_FOUND", "FILE_NOT_FOUND").in_domain(Domain::Image)
            }
            StorageError::TooLarge { limit } => {
                Self::payload_too_large(usize::try_from(limit).ok()).in_domain(Domain::Image)
            }
            StorageError::BodyInterrupted(_) => {
                Self::bad_request("UPLOAD_INTERRUPTED", "The upload was interrupted.")
                    .in_domain(Domain::Image)
                    .with_cause(e)
            }
            StorageError::PreconditionFailed => Self::new(
                StatusCode::BAD_REQUEST,
                "UPLOAD_MISMATCH",
                "The body does not match the length or checksum the upload URL was issued for.",
            )
            .in_domain(Domain::Image),
            StorageError::Unavailable(_) => Self::storage_unavailable().with_cause(e),
            StorageError::Unexpected(_) => Self::internal().in_domain(Domain::Image).with_cause(e),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::NotFound => Self::user_not_found(),
            AccountError::Forbidden => {
                Self::forbidden("You may not do this to this account.").in_domain(Domain::Account)
            }
            AccountError::Invalid(errors) => {
                Self::invalid_fields(errors).in_domain(Domain::Account)
            }
            AccountError::Repository(e) => Self::from(e).in_domain(Domain::Account),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        let e2 = match &e {
            LoginError::UnknownProvider => Self::not_found(
                "PROVIDER_NOT_FOUND",
                "No identity provider is configured under this registration id.",
            ),
            LoginError::InvalidState => Self::bad_request(
                "LOGIN_STATE_INVALID",
                "This login is not valid here (expired, already used, or started in another browser): start again.",
            ),
            LoginError::ProviderMismatch => Self::bad_request(
                "LOGIN_STATE_INVALID",
                "This login was started with another provider: start again.",
            ),
            LoginError::ProviderDenied(_) => Self::bad_request(
                "LOGIN_DENIED",
                "The identity provider did not approve the login.",
            ),
            LoginError::Rejected(_) => Self::new(
                StatusCode::UNAUTHORIZED,
                "LOGIN_REJECTED",
                "The identity provider's answer failed validation: start again.",
            ),
            LoginError::ProviderUnavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "IDENTITY_PROVIDER_UNAVAILABLE",
                "The identity provider cannot be reached right now; try again shortly.",
            ),
            LoginError::Repository(_) => {
                let LoginError::Repository(r) = e else {
                    unreachable!()
                };
                return Self::from(r).in_domain(Domain::Account);
            }
        };
        e2.in_domain(Domain::Account).with_cause(e)
    }
}

impl From<ImageError> for ApiError {
    fn from(e: ImageError) -> Self {
        let image = |e: Self| e.in_domain(Domain::Image);
        match e {
            ImageError::Invalid(errors) => image(Self::invalid_fields(errors)),
            ImageError::UnsupportedContentType(what) => image(Self::bad_request(
                "UNSUPPORTED_CONTENT_TYPE",
                format!(
                    "{what} is not accepted: use image/png, image/jpeg, image/webp or image/gif."
                ),
            )),
            ImageError::UploaderMismatch => image(Self::new(
                StatusCode::FORBIDDEN,
                "UPLOADER_MISMATCH",
                "Uploader mismatch",
            )),
            ImageError::NotFound => image(Self::not_found("IMAGE_NOT_FOUND", "No such image.")),
            ImageError::ChannelMismatch => image(Self::bad_request(
                "CHANNEL_MISMATCH",
                "This upload was issued for another channel.",
            )),
            ImageError::NotUploaded => image(Self::not_found(
                "UPLOAD_NOT_FOUND",
                "Nothing has been uploaded for this key yet: PUT the bytes first.",
            )),
            ImageError::Rejected(reason) => image(Self::bad_request(
                "IMAGE_REJECTED",
                format!("The upload was rejected and deleted: {reason}."),
            )),
            ImageError::Forbidden => image(Self::forbidden(
                "You are not allowed to do this with this image or account.",
            )),
            ImageError::Protected => image(Self::new(
                StatusCode::CONFLICT,
                "IMAGE_PROTECTED",
                "Report evidence is kept as long as reports; only STAFF may delete it.",
            )),
            ImageError::TooLarge(limit) => {
                image(Self::payload_too_large(usize::try_from(limit).ok()))
            }
            ImageError::LimitExceeded(limit) => image(Self::upload_limit(limit)),
            ImageError::StorageUnavailable(_) => Self::storage_unavailable().with_cause(e),
            ImageError::Storage(_) => image(Self::internal()).with_cause(e),
            ImageError::Repository(r) => image(Self::from(r)),
        }
    }
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::NoPendingRegistration => Self::no_pending_registration(),
            RegisterError::Insufficient(invalid) => Self::insufficient_user_info(invalid),
            RegisterError::Repository(r) => Self::from(r).in_domain(Domain::Account),
        }
    }
}

impl ApiError {
    /// Seed 001's `{"message": "insufficient user info", "invalidFields": [...]}`, in the
    /// envelope.
    pub fn insufficient_user_info(invalid: Vec<ParseError>) -> Self {
        let mut e = Self::invalid_fields(invalid);
        e.code = "INSUFFICIENT_USER_INFO";
        e.message = "insufficient user info".to_owned();
        e.in_domain(Domain::Account)
    }

    pub fn no_pending_registration() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "NO_PENDING_REGISTRATION",
            "No registration is pending for this browser: log in again.",
        )
        .in_domain(Domain::Account)
    }

    /// Seed 000's `USER_NOT_FOUND`.
    pub fn user_not_found() -> Self {
        Self::not_found(
            "USER_NOT_FOUND",
            "The user is a user who has left or does not exist.",
        )
        .in_domain(Domain::Account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
