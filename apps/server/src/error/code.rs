//! Every error code the service answers, with its HTTP status: the one list clients may
//! switch on. A code's text never changes once released; a new failure gets a new code.

use actix_web::http::StatusCode;

/// A stable machine-readable error code and the status it is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // The request itself.
    BadRequest,
    InvalidInput,
    InvalidQuery,
    MalformedJson,
    MalformedMultipart,
    Unauthenticated,
    Forbidden,
    CsrfOriginRefused,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    /// A status some layer produced that has no code of its own.
    Error,
    // The service's health.
    InternalError,
    ServiceUnavailable,
    DatabaseUnavailable,
    NotReady,
    // Accounts, sessions and login.
    UserNotFound,
    SessionNotFound,
    ProviderNotFound,
    LoginStateInvalid,
    LoginDenied,
    LoginRejected,
    IdentityProviderUnavailable,
    NoPendingRegistration,
    InsufficientUserInfo,
    AlreadyLoggedIn,
    IdentityNotFound,
    LastIdentity,
    /// Login refused: the account is suspended.
    AccountSuspended,
    /// Lifting a suspension from an account that has none in force.
    SuspensionNotFound,
    // Images and uploads.
    ImageNotFound,
    FileNotFound,
    UploadNotFound,
    UnsupportedContentType,
    UploaderMismatch,
    ChannelMismatch,
    ImageRejected,
    /// Every turn to decode images is taken: retry after `Retry-After` seconds.
    ImageProcessingBusy,
    ImageProtected,
    UploadMismatch,
    UploadInterrupted,
    UploadUrlInvalid,
    UploadUrlExpired,
    UploadLimitExceeded,
    /// The account's images already fill its quota.
    QuotaExceeded,
    /// This upload would take the account's images past its quota.
    QuotaExceededByUpload,
    InvalidUploadDir,
    TooManyFiles,
    NoFiles,
    /// The files/avatars API's storage failure.
    CanNotAccessS3,
    // Reports.
    ReportNotFound,
    UnknownCategory,
    SelfReport,
    InvalidEvidence,
    DuplicateReport,
    TooManyReports,
    ReportConflict,
    /// A moderation decision that does not apply (to the action, the target or the user).
    InvalidDecision,
}

impl ErrorCode {
    /// The code as it goes on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BAD_REQUEST",
            Self::InvalidInput => "INVALID_INPUT",
            Self::InvalidQuery => "INVALID_QUERY",
            Self::MalformedJson => "MALFORMED_JSON",
            Self::MalformedMultipart => "MALFORMED_MULTIPART",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::CsrfOriginRefused => "CSRF_ORIGIN_REFUSED",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::RequestTimeout => "REQUEST_TIMEOUT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::Error => "ERROR",
            Self::InternalError => "INTERNAL_ERROR",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            Self::NotReady => "NOT_READY",
            Self::UserNotFound => "USER_NOT_FOUND",
            Self::SessionNotFound => "SESSION_NOT_FOUND",
            Self::ProviderNotFound => "PROVIDER_NOT_FOUND",
            Self::LoginStateInvalid => "LOGIN_STATE_INVALID",
            Self::LoginDenied => "LOGIN_DENIED",
            Self::LoginRejected => "LOGIN_REJECTED",
            Self::IdentityProviderUnavailable => "IDENTITY_PROVIDER_UNAVAILABLE",
            Self::NoPendingRegistration => "NO_PENDING_REGISTRATION",
            Self::InsufficientUserInfo => "INSUFFICIENT_USER_INFO",
            Self::AlreadyLoggedIn => "ALREADY_LOGGED_IN",
            Self::IdentityNotFound => "IDENTITY_NOT_FOUND",
            Self::LastIdentity => "LAST_IDENTITY",
            Self::AccountSuspended => "ACCOUNT_SUSPENDED",
            Self::SuspensionNotFound => "SUSPENSION_NOT_FOUND",
            Self::ImageNotFound => "IMAGE_NOT_FOUND",
            Self::FileNotFound => "FILE_NOT_FOUND",
            Self::UploadNotFound => "UPLOAD_NOT_FOUND",
            Self::UnsupportedContentType => "UNSUPPORTED_CONTENT_TYPE",
            Self::UploaderMismatch => "UPLOADER_MISMATCH",
            Self::ChannelMismatch => "CHANNEL_MISMATCH",
            Self::ImageRejected => "IMAGE_REJECTED",
            Self::ImageProcessingBusy => "IMAGE_PROCESSING_BUSY",
            Self::ImageProtected => "IMAGE_PROTECTED",
            Self::UploadMismatch => "UPLOAD_MISMATCH",
            Self::UploadInterrupted => "UPLOAD_INTERRUPTED",
            Self::UploadUrlInvalid => "UPLOAD_URL_INVALID",
            Self::UploadUrlExpired => "UPLOAD_URL_EXPIRED",
            Self::UploadLimitExceeded => "UPLOAD_LIMIT_EXCEEDED",
            Self::QuotaExceeded | Self::QuotaExceededByUpload => "QUOTA_EXCEEDED",
            Self::InvalidUploadDir => "INVALID_UPLOAD_DIR",
            Self::TooManyFiles => "TOO_MANY_FILES",
            Self::NoFiles => "NO_FILES",
            Self::CanNotAccessS3 => "CAN_NOT_ACCESS_S3",
            Self::ReportNotFound => "REPORT_NOT_FOUND",
            Self::UnknownCategory => "UNKNOWN_CATEGORY",
            Self::SelfReport => "SELF_REPORT",
            Self::InvalidEvidence => "INVALID_EVIDENCE",
            Self::DuplicateReport => "DUPLICATE_REPORT",
            Self::TooManyReports => "TOO_MANY_REPORTS",
            Self::ReportConflict => "REPORT_CONFLICT",
            Self::InvalidDecision => "INVALID_DECISION",
        }
    }

    /// The status the code is answered with.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::BadRequest
            | Self::InvalidInput
            | Self::InvalidQuery
            | Self::MalformedJson
            | Self::MalformedMultipart
            | Self::LoginStateInvalid
            | Self::LoginDenied
            | Self::InsufficientUserInfo
            | Self::UnsupportedContentType
            | Self::ChannelMismatch
            | Self::ImageRejected
            | Self::UploadMismatch
            | Self::UploadInterrupted
            | Self::InvalidUploadDir
            | Self::TooManyFiles
            | Self::NoFiles
            | Self::UnknownCategory
            | Self::SelfReport
            | Self::InvalidEvidence
            | Self::InvalidDecision
            | Self::Error => StatusCode::BAD_REQUEST,
            Self::Unauthenticated | Self::LoginRejected | Self::NoPendingRegistration => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden
            | Self::CsrfOriginRefused
            | Self::AlreadyLoggedIn
            | Self::AccountSuspended
            | Self::UploaderMismatch
            | Self::UploadUrlInvalid
            | Self::UploadUrlExpired => StatusCode::FORBIDDEN,
            Self::NotFound
            | Self::UserNotFound
            | Self::SessionNotFound
            | Self::ProviderNotFound
            | Self::ImageNotFound
            | Self::FileNotFound
            | Self::UploadNotFound
            | Self::ReportNotFound
            | Self::IdentityNotFound
            | Self::SuspensionNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::ImageProtected
            | Self::LastIdentity
            | Self::QuotaExceeded
            | Self::CanNotAccessS3
            | Self::DuplicateReport
            | Self::ReportConflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge | Self::QuotaExceededByUpload => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests | Self::UploadLimitExceeded | Self::TooManyReports => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable
            | Self::ImageProcessingBusy
            | Self::DatabaseUnavailable
            | Self::NotReady
            | Self::IdentityProviderUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
