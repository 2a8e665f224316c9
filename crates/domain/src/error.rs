//! Error types shared by the ports. Adapters translate their own failures into these: the
//! domain never sees a `DbErr`, an `io::Error` or an SDK error.

use std::error::Error as StdError;

/// A boxed, thread-safe error kept as the source of an infrastructure failure, so that logs
/// can show the cause while clients never do.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A value from outside could not be parsed into a domain type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ParseError {
    /// The field's name as clients know it (`name`, `birthDate`, `key`, …).
    pub field: &'static str,
    /// Why it was refused, fit to show to a client.
    pub reason: String,
}

impl ParseError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// A repository could not do its work for reasons that have nothing to do with the request.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// The database could not be reached or timed out; retrying later may succeed.
    #[error("the database is unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug, a corrupt row, a constraint we did not expect.
    #[error("unexpected database error")]
    Unexpected(#[source] BoxError),
}

/// Failures of `AccountRepository::create`.
#[derive(Debug, thiserror::Error)]
pub enum CreateAccountError {
    /// Another account already holds this (issuer, subject).
    #[error("an account with this identity already exists")]
    DuplicateIdentity,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Failures of the operations that change an existing account.
#[derive(Debug, thiserror::Error)]
pub enum UpdateAccountError {
    /// No account with this id, or it was withdrawn.
    #[error("account not found")]
    NotFound,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Failures of `AccountRepository::unlink_identity`.
#[derive(Debug, thiserror::Error)]
pub enum UnlinkIdentityError {
    /// The account has no such identity.
    #[error("no such identity")]
    NotFound,
    /// It is the account's only identity: without it nobody could log in to the account.
    #[error("the last identity cannot be unlinked")]
    LastIdentity,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Failures of `AccountRepository::link_identity`.
#[derive(Debug, thiserror::Error)]
pub enum LinkIdentityError {
    /// No account with this id, or it was withdrawn.
    #[error("account not found")]
    NotFound,
    /// The identity already belongs to an account.
    #[error("the identity is already linked to an account")]
    DuplicateIdentity,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}
