//! Request bodies checked at the edge: each is validated with `validator`'s derive
//! (lengths, ranges, formats) and turned into domain values by one `try_into_domain`, so
//! the services take only domain types. A refusal names every invalid field, in the
//! contract's envelope (`validation` and seed 001's `invalidFields`).

pub mod account;
pub mod admin;
pub mod report;
pub mod upload;

use domain::ParseError;
use validator::{ValidationError, ValidationErrors};

/// The field errors of `errors`, in the order of `fields` (`(Rust field, client name)`):
/// a refusal lists fields in a stable order, the order the body declares them.
pub(crate) fn field_errors(
    errors: &ValidationErrors,
    fields: &[(&str, &'static str)],
) -> Vec<ParseError> {
    let by_field = errors.field_errors();
    fields
        .iter()
        .flat_map(|(rust, client)| {
            by_field
                .get(*rust)
                .into_iter()
                .flat_map(|errors| errors.iter())
                .map(move |e| {
                    ParseError::new(
                        client,
                        e.message
                            .as_deref()
                            .map_or_else(|| "is invalid".to_owned(), str::to_owned),
                    )
                })
        })
        .collect()
}

/// [`field_errors`] of a validation's outcome, none when it passed.
pub(crate) fn refused_fields(
    outcome: Option<&ValidationErrors>,
    fields: &[(&str, &'static str)],
) -> Vec<ParseError> {
    outcome.map(|e| field_errors(e, fields)).unwrap_or_default()
}

/// A domain parser's refusal as a `validator` error, keeping its reason.
pub(crate) fn refusal(e: ParseError) -> ValidationError {
    ValidationError::new("format").with_message(e.reason.into())
}

/// A fixed refusal.
pub(crate) fn refused(reason: &'static str) -> ValidationError {
    ValidationError::new("format").with_message(reason.into())
}
