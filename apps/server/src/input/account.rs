//! A profile change (`PATCH /accounts/{id}`), checked and turned into a [`ProfilePatch`].

use domain::services::ProfilePatch;
use domain::{BirthDate, DisplayName, Gender, Phone};
use serde::Deserialize;
use time::Date;
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use super::{refusal, refused, refused_fields};
use crate::error::ApiError;

/// Any of these; absent fields are left as they are.
#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchAccountRequest {
    /// 2 to 20 characters.
    #[validate(custom(function = "valid_name"))]
    pub name: Option<String>,
    /// `MALE` or `FEMALE`.
    #[validate(custom(function = "valid_gender"))]
    pub gender: Option<String>,
    /// `yyyy-MM-dd`.
    pub birth_date: Option<String>,
    /// For SMS notices (`010-1234-5678`, `+821012345678`); an empty string removes it.
    #[validate(custom(function = "valid_phone"))]
    pub phone: Option<String>,
}

/// The account API's rule for changes: 2 to 20 characters, stricter than registration's 50.
fn valid_name(n: &str) -> Result<(), ValidationError> {
    match DisplayName::parse(n) {
        Ok(d) if d.char_count() <= ProfilePatch::NAME_MAX => Ok(()),
        _ => Err(refused("must be 2 to 20 characters")),
    }
}

fn valid_gender(g: &str) -> Result<(), ValidationError> {
    Gender::parse(g).map(drop).map_err(refusal)
}

fn valid_phone(p: &str) -> Result<(), ValidationError> {
    match p.trim() {
        "" => Ok(()),
        p => Phone::parse(p).map(drop).map_err(refusal),
    }
}

impl PatchAccountRequest {
    /// The change, checked; `today` bounds the birth date.
    ///
    /// # Errors
    /// 400 naming every invalid field among name, gender and birth date; then a malformed
    /// phone number.
    pub fn try_into_domain(self, today: Date) -> Result<ProfilePatch, ApiError> {
        let errors = self.validate().err();
        let refused = |fields: &[(&str, &'static str)]| refused_fields(errors.as_ref(), fields);
        let mut invalid = refused(&[("name", "name"), ("gender", "gender")]);
        let birth_date = self
            .birth_date
            .as_deref()
            .map(|d| BirthDate::parse(d, today))
            .transpose()
            .map_err(|e| invalid.push(e))
            .ok()
            .flatten();
        if !invalid.is_empty() {
            return Err(ApiError::invalid_fields(invalid));
        }
        let phone = refused(&[("phone", "phone")]);
        if !phone.is_empty() {
            return Err(ApiError::invalid_fields(phone));
        }
        Ok(ProfilePatch {
            name: self
                .name
                .as_deref()
                .and_then(|n| DisplayName::parse(n).ok()),
            gender: self.gender.as_deref().and_then(|g| Gender::parse(g).ok()),
            birth_date,
            phone: self.phone.as_deref().map(str::trim).map(|p| match p {
                "" => None,
                p => Phone::parse(p).ok(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    //! Moved from the accounts service's tests when checking requests moved to the edge.
    use time::macros::date;

    use super::*;

    fn patch(
        name: Option<&str>,
        gender: Option<&str>,
        birth_date: Option<&str>,
    ) -> PatchAccountRequest {
        PatchAccountRequest {
            name: name.map(str::to_owned),
            gender: gender.map(str::to_owned),
            birth_date: birth_date.map(str::to_owned),
            phone: None,
        }
    }

    #[test]
    fn profile_patches_follow_seed_001() {
        let today = date!(2026 - 11 - 23);
        assert!(
            patch(Some("Al"), Some("MALE"), Some("1999-12-31"))
                .try_into_domain(today)
                .is_ok()
        );
        let errs = patch(Some(&"x".repeat(21)), Some("male"), Some("1999-13-01"))
            .try_into_domain(today)
            .expect_err("all three invalid")
            .body();
        assert_eq!(
            errs.invalid_fields.expect("fields"),
            vec!["name", "gender", "birthDate"]
        );
        let short = patch(Some("A"), None, None)
            .try_into_domain(today)
            .expect_err("too short")
            .body();
        assert_eq!(
            short.validation.expect("fields")[0].reason,
            "must be 2 to 20 characters"
        );
        assert_eq!(
            patch(None, None, None)
                .try_into_domain(today)
                .expect("valid"),
            ProfilePatch::default()
        );
    }
}
