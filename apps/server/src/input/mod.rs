//! Request bodies checked at the edge and turned into domain values by one
//! `try_into_domain`, so the services take only domain types. Each field's domain parser
//! runs once and its refusal is collected ([`Refusals`]); `validator`'s derive checks only
//! what no domain type owns (a required field, a range, a note's length). A refusal names
//! every invalid field, in the contract's envelope (`validation` and the account API's
//! `invalidFields`).

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

/// Field refusals, collected while each field is parsed once by its domain parser.
#[derive(Debug, Default)]
pub(crate) struct Refusals(Vec<ParseError>);

impl Refusals {
    /// `parsed`'s value, or `None` with its refusal kept.
    pub(crate) fn take<T>(&mut self, parsed: Result<T, ParseError>) -> Option<T> {
        parsed.map_err(|e| self.0.push(e)).ok()
    }

    /// An optional field: `Some(None)` when absent, `None` when refused.
    pub(crate) fn optional<T>(
        &mut self,
        parsed: Option<Result<T, ParseError>>,
    ) -> Option<Option<T>> {
        match parsed {
            None => Some(None),
            Some(r) => self.take(r).map(Some),
        }
    }

    /// `parsed`, its refusal named `field` as the client knows it.
    pub(crate) fn take_as<T>(
        &mut self,
        field: &'static str,
        parsed: Result<T, ParseError>,
    ) -> Option<T> {
        self.take(parsed.map_err(|e| ParseError::new(field, e.reason)))
    }

    pub(crate) fn push(&mut self, e: ParseError) {
        self.0.push(e);
    }

    pub(crate) fn extend(&mut self, more: Vec<ParseError>) {
        self.0.extend(more);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The refusals in the order of `fields` (`(Rust field, client name)`), the order
    /// the body declares them.
    pub(crate) fn into_ordered(mut self, fields: &[(&str, &str)]) -> Vec<ParseError> {
        self.0
            .sort_by_key(|e| fields.iter().position(|(_, f)| *f == e.field));
        self.0
    }

    pub(crate) fn into_inner(self) -> Vec<ParseError> {
        self.0
    }
}

/// A fixed refusal.
pub(crate) fn refused(reason: &'static str) -> ValidationError {
    ValidationError::new("format").with_message(reason.into())
}
