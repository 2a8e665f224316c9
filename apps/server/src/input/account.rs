//! A profile change (`PATCH /accounts/{id}`), checked and turned into a [`ProfilePatch`].

use domain::services::ProfilePatch;
use domain::{BirthDate, DisplayName, Gender, ParseError, Phone};
use serde::Deserialize;
use time::Date;
use utoipa::ToSchema;

use super::Refusals;
use crate::error::ApiError;

/// Any of these; absent fields are left as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchAccountRequest {
    /// 2 to 20 characters.
    pub name: Option<String>,
    /// `MALE` or `FEMALE`.
    pub gender: Option<String>,
    /// `yyyy-MM-dd`.
    pub birth_date: Option<String>,
    /// For SMS notices (`010-1234-5678`, `+821012345678`); an empty string removes it.
    pub phone: Option<String>,
}

/// The account API's rule for changes: 2 to 20 characters, stricter than registration's 50.
fn parse_name(n: &str) -> Result<DisplayName, ParseError> {
    match DisplayName::parse(n) {
        Ok(d) if d.char_count() <= ProfilePatch::NAME_MAX => Ok(d),
        _ => Err(ParseError::new("name", "must be 2 to 20 characters")),
    }
}

/// A phone number; an empty one removes it (`None`).
fn parse_phone(p: &str) -> Result<Option<Phone>, ParseError> {
    match p.trim() {
        "" => Ok(None),
        p => Phone::parse(p).map(Some),
    }
}

impl PatchAccountRequest {
    /// The change, checked, each field parsed once; `today` bounds the birth date.
    ///
    /// # Errors
    /// 400 naming every invalid field among name, gender and birth date; then a malformed
    /// phone number.
    pub fn try_into_domain(self, today: Date) -> Result<ProfilePatch, ApiError> {
        let mut invalid = Refusals::default();
        let name = invalid.optional(self.name.as_deref().map(parse_name));
        let gender = invalid.optional(
            self.gender
                .as_deref()
                .map(|g| Gender::parse(g).map_err(|e| ParseError::new("gender", e.reason))),
        );
        let birth_date = invalid.optional(
            self.birth_date
                .as_deref()
                .map(|d| BirthDate::parse(d, today)),
        );
        let (Some(name), Some(gender), Some(birth_date)) = (name, gender, birth_date) else {
            return Err(ApiError::invalid_fields(invalid.into_inner()));
        };
        let mut refused_phone = Refusals::default();
        let Some(phone) = refused_phone.optional(
            self.phone
                .as_deref()
                .map(|p| parse_phone(p).map_err(|e| ParseError::new("phone", e.reason))),
        ) else {
            return Err(ApiError::invalid_fields(refused_phone.into_inner()));
        };
        Ok(ProfilePatch {
            name,
            gender,
            birth_date,
            phone,
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
