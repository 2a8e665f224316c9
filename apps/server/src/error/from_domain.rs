//! Every domain error as an answer: one `From` per error enum, here and nowhere else.

use domain::services::reports::ReportError;
use domain::services::{
    AccountError, AuditError, EventError, ExportError, ImageError, LoginError, RegisterError,
};
use domain::{RepositoryError, StorageError};

use super::{ApiError, Domain, ErrorCode};

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
                Self::new(ErrorCode::FileNotFound, "FILE_NOT_FOUND").in_domain(Domain::Image)
            }
            StorageError::TooLarge { limit } => {
                Self::payload_too_large(usize::try_from(limit).ok()).in_domain(Domain::Image)
            }
            StorageError::BodyInterrupted(_) => {
                Self::new(ErrorCode::UploadInterrupted, "The upload was interrupted.")
                    .in_domain(Domain::Image)
                    .with_cause(e)
            }
            StorageError::PreconditionFailed => Self::new(
                ErrorCode::UploadMismatch,
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
            AccountError::IdentityNotFound => Self::new(
                ErrorCode::IdentityNotFound,
                "You have no such linked identity.",
            )
            .in_domain(Domain::Account),
            AccountError::LastIdentity => Self::new(
                ErrorCode::LastIdentity,
                "This is your only way to log in: link another identity before unlinking it.",
            )
            .in_domain(Domain::Account),
            AccountError::SuspensionEnded => Self::new(
                ErrorCode::InvalidInput,
                "A suspension must end in the future (or leave `until` out for none).",
            )
            .in_domain(Domain::Account),
            AccountError::NotSuspended => Self::new(
                ErrorCode::SuspensionNotFound,
                "This account is not suspended.",
            )
            .in_domain(Domain::Account),
            AccountError::Repository(e) => Self::from(e).in_domain(Domain::Account),
        }
    }
}

/// `ACCOUNT_SUSPENDED`, naming when the suspension ends.
fn suspended(until: Option<time::OffsetDateTime>) -> ApiError {
    ApiError::new(
        ErrorCode::AccountSuspended,
        format!(
            "This account is suspended {}.",
            domain::services::describe_until(until)
        ),
    )
    .in_domain(Domain::Account)
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Forbidden => Self::forbidden("Only ADMIN may read the audit log."),
            AuditError::Repository(r) => Self::from(r),
        }
    }
}

impl From<EventError> for ApiError {
    fn from(e: EventError) -> Self {
        match e {
            EventError::Forbidden => Self::forbidden("Only ADMIN may see and redeliver events."),
            EventError::NotFound => Self::new(
                ErrorCode::NotFound,
                "No event delivery of this id has failed for good.",
            ),
            EventError::Repository(r) => Self::from(r),
        }
    }
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Forbidden => {
                Self::forbidden("Only the account's owner or an ADMIN may export it.")
                    .in_domain(Domain::Account)
            }
            ExportError::NotFound => Self::user_not_found(),
            ExportError::Repository(r) => Self::from(r).in_domain(Domain::Account),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        let e2 = match &e {
            LoginError::UnknownProvider => Self::new(
                ErrorCode::ProviderNotFound,
                "No identity provider is configured under this registration id.",
            ),
            LoginError::InvalidState => Self::new(
                ErrorCode::LoginStateInvalid,
                "This login is not valid here (expired, already used, or started in another browser): start again.",
            ),
            LoginError::ProviderMismatch => Self::new(
                ErrorCode::LoginStateInvalid,
                "This login was started with another provider: start again.",
            ),
            LoginError::ProviderDenied(_) => Self::new(
                ErrorCode::LoginDenied,
                "The identity provider did not approve the login.",
            ),
            LoginError::Rejected(_) => Self::new(
                ErrorCode::LoginRejected,
                "The identity provider's answer failed validation: start again.",
            ),
            LoginError::ProviderUnavailable(_) => Self::new(
                ErrorCode::IdentityProviderUnavailable,
                "The identity provider cannot be reached right now; try again shortly.",
            ),
            LoginError::Suspended { until } => return suspended(*until),
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
            ImageError::NotFound => image(Self::new(ErrorCode::ImageNotFound, "No such image.")),
            ImageError::ChannelMismatch => image(Self::new(
                ErrorCode::ChannelMismatch,
                "This upload was issued for another channel.",
            )),
            ImageError::NotUploaded => image(Self::new(
                ErrorCode::UploadNotFound,
                "Nothing has been uploaded for this key yet: PUT the bytes first.",
            )),
            ImageError::Rejected(reason) => image(Self::new(
                ErrorCode::ImageRejected,
                format!("The upload was rejected and deleted: {reason}."),
            )),
            ImageError::Forbidden => image(Self::forbidden(
                "You are not allowed to do this with this image or account.",
            )),
            ImageError::Protected => image(Self::new(
                ErrorCode::ImageProtected,
                "Report evidence is kept as long as reports; only STAFF may delete it.",
            )),
            ImageError::TooLarge(limit) => {
                image(Self::payload_too_large(usize::try_from(limit).ok()))
            }
            ImageError::LimitExceeded(limit) => image(Self::upload_limit(limit)),
            ImageError::Busy { retry_after } => image(Self::new(
                ErrorCode::ImageProcessingBusy,
                "Too many images are being processed: retry after the seconds Retry-After says.",
            ))
            .with_retry_after(retry_after.as_secs().max(1)),
            ImageError::Processing(_) => image(Self::internal()).with_cause(e),
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
            RegisterError::Suspended { until } => suspended(until),
            RegisterError::Repository(r) => Self::from(r).in_domain(Domain::Account),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        let report = |e: Self| e.in_domain(Domain::Report);
        match e {
            ReportError::UnknownCategory => report(Self::new(
                ErrorCode::UnknownCategory,
                "No such report category: see GET /api/report/categories.",
            )),
            ReportError::SelfReport => report(Self::new(
                ErrorCode::SelfReport,
                "You cannot report yourself.",
            )),
            ReportError::InvalidEvidence(why) => report(Self::new(
                ErrorCode::InvalidEvidence,
                format!("{why}: upload evidence with channel report and confirm it first."),
            )),
            ReportError::Duplicate => report(Self::new(
                ErrorCode::DuplicateReport,
                "You already have an open report of this target.",
            )),
            ReportError::TooMany => report(Self::new(
                ErrorCode::TooManyReports,
                "You have filed as many reports as allowed today.",
            )),
            ReportError::NotFound => {
                report(Self::new(ErrorCode::ReportNotFound, "No such report."))
            }
            ReportError::Forbidden => {
                report(Self::forbidden("Only STAFF and ADMIN moderate reports."))
            }
            ReportError::Conflict(why) => report(Self::new(ErrorCode::ReportConflict, why)),
            ReportError::InvalidDecision(why) => report(Self::new(ErrorCode::InvalidDecision, why)),
            ReportError::Repository(r) => report(Self::from(r)),
        }
    }
}
