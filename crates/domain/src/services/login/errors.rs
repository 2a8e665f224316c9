//! Why a login or a registration did not end in a session.

use time::OffsetDateTime;

use crate::error::{ParseError, RepositoryError};
use crate::login::IdentityError;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("no identity provider is configured under this registration id")]
    UnknownProvider,
    /// Missing, mismatched (cookie vs. callback), unknown, expired or already used state.
    #[error("the login state is missing, wrong, expired or already used")]
    InvalidState,
    /// The flow was started for another provider.
    #[error("the login was started with another provider")]
    ProviderMismatch,
    /// The provider sent the user back with an error instead of a code.
    #[error("the identity provider refused the login: {0}")]
    ProviderDenied(String),
    #[error("the identity provider is unavailable")]
    ProviderUnavailable(#[source] IdentityError),
    /// The code exchange or the ID token failed validation.
    #[error("the login was rejected: {0}")]
    Rejected(String),
    /// The account is suspended (until then; indefinitely without an end): no session.
    #[error("this account is suspended {}", crate::services::accounts::describe_until(*until))]
    Suspended { until: Option<OffsetDateTime> },
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl From<IdentityError> for LoginError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Rejected(reason) => Self::Rejected(reason),
            unavailable @ IdentityError::Unavailable(_) => Self::ProviderUnavailable(unavailable),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// No registration is pending under this token (unknown, expired, or completed).
    #[error("no registration is pending")]
    NoPendingRegistration,
    /// Still not enough: these fields are missing or invalid.
    #[error("insufficient user info")]
    Insufficient(Vec<ParseError>),
    /// The registration landed in a suspended account (a concurrent login created it).
    #[error("this account is suspended {}", crate::services::accounts::describe_until(*until))]
    Suspended { until: Option<OffsetDateTime> },
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl From<LoginError> for RegisterError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Suspended { until } => Self::Suspended { until },
            LoginError::Repository(e) => Self::Repository(e),
            other => Self::Repository(RepositoryError::Unexpected(other.to_string().into())),
        }
    }
}
