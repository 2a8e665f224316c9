//! An account's value types: each parsed once, at the edge.

use crate::error::ParseError;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use time::Date;

/// An account's numeric id (the account API's `userId: long`). Ids are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct AccountId(i64);

impl AccountId {
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    /// Parses an id as it appears in a path or in the upload pipeline API's string `uploader_id`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        s.trim()
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Self)
            .ok_or_else(|| ParseError::new("userId", "must be a positive integer"))
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

pub(crate) fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A person's display name: 2 to 50 characters (the account API's registration rule), trimmed, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MIN: usize = 2;
    pub const MAX: usize = 50;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        let n = s.chars().count();
        if !(Self::MIN..=Self::MAX).contains(&n) {
            return Err(ParseError::new(
                "name",
                format!("must be {} to {} characters", Self::MIN, Self::MAX),
            ));
        }
        if has_control(s) {
            return Err(ParseError::new(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }
}

impl AsRef<str> for DisplayName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// An e-mail address, normalised to lower case: a local part of RFC 5322 `atext` and dots
/// (no quoted forms, so nothing that could be markup), one `@`, a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim().to_lowercase();
        let bad = || ParseError::new("email", "must be an e-mail address");
        if s.len() > 254 || has_control(&s) || s.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let domain_ok = domain.len() >= 3
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let local_ok = local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~-.".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if local.is_empty() || local.len() > 64 || !local_ok || !domain_ok {
            return Err(bad());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod phone_tests {
    use super::Phone;

    #[test]
    fn phones_are_normalised_digits() {
        assert_eq!(
            Phone::parse("010-1234-5678")
                .map(|p| p.as_str().to_owned())
                .ok(),
            Some("01012345678".into())
        );
        assert_eq!(
            Phone::parse(" +82 10 1234 5678 ")
                .map(|p| p.as_str().to_owned())
                .ok(),
            Some("+821012345678".into())
        );
        for bad in [
            "",
            "1234",
            "010-1234-abcd",
            "+",
            "1".repeat(16).as_str(),
            "010;1234",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod email_tests {
    use super::Email;

    #[test]
    fn emails_are_plain_addresses() {
        assert_eq!(
            Email::parse(" Alice.K+tag@Example.COM ")
                .map(|e| e.as_str().to_owned())
                .ok(),
            Some("alice.k+tag@example.com".into())
        );
        for bad in [
            "<script>@example.com",
            "a\"b@example.com",
            "a@b",
            "@example.com",
            "a@.example.com",
            "a..b@example.com",
            ".a@example.com",
            "a b@example.com",
            "a@example..com",
            "a@ex ample.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }
}

/// A phone number for SMS notices: digits with an optional leading `+`, 8 to 15 digits;
/// spaces, hyphens, dots and parentheses are dropped (`010-1234-5678` → `01012345678`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let bad = || {
            ParseError::new(
                "phone",
                "must be a phone number like 010-1234-5678 or +821012345678",
            )
        };
        let s = s.trim();
        let (plus, rest) = s.strip_prefix('+').map_or(("", s), |r| ("+", r));
        if rest
            .chars()
            .any(|c| !(c.is_ascii_digit() || " -.()".contains(c)))
        {
            return Err(bad());
        }
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
        if !(8..=15).contains(&digits.len()) {
            return Err(bad());
        }
        Ok(Self(format!("{plus}{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The account API's gender values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s {
            "MALE" => Ok(Self::Male),
            "FEMALE" => Ok(Self::Female),
            _ => Err(ParseError::new("gender", "must be MALE or FEMALE")),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Male => "MALE",
            Self::Female => "FEMALE",
        }
    }
}

/// A birth date, `yyyy-MM-dd`, between 1900-01-01 and the day it is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BirthDate(Date);

impl BirthDate {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]");

    /// Parses `yyyy-MM-dd`; `today` bounds it from above (nobody is born in the future).
    pub fn parse(s: &str, today: Date) -> Result<Self, ParseError> {
        let bad = || ParseError::new("birthDate", "must be a past date as yyyy-MM-dd");
        if s.len() != 10 {
            return Err(bad());
        }
        let date = Date::parse(s, Self::FORMAT).map_err(|_| bad())?;
        if date.year() < 1900 || date > today {
            return Err(bad());
        }
        Ok(Self(date))
    }

    /// Rebuilds a value that was validated before it was stored.
    pub const fn from_stored(date: Date) -> Self {
        Self(date)
    }

    pub const fn date(self) -> Date {
        self.0
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.format(Self::FORMAT).map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

/// A BCP 47 language tag as providers send it (`ko-KR`, `en`), loosely checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Locale(String);

impl Locale {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim().replace('_', "-");
        let ok = (2..=35).contains(&s.len())
            && s.split('-').all(|p| {
                !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric())
            });
        if ok {
            Ok(Self(s))
        } else {
            Err(ParseError::new("locale", "must be a BCP 47 language tag"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The account API's roles. `Anonymous` is what a request without a session has; it is never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Admin,
    Server,
    Staff,
    User,
    Anonymous,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "ADMIN",
            Self::Server => "SERVER",
            Self::Staff => "STAFF",
            Self::User => "USER",
            Self::Anonymous => "ANONYMOUS",
        }
    }
}

impl FromStr for Role {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().trim_start_matches("ROLE_") {
            "ADMIN" => Ok(Self::Admin),
            "SERVER" => Ok(Self::Server),
            "STAFF" => Ok(Self::Staff),
            "USER" => Ok(Self::User),
            "ANONYMOUS" => Ok(Self::Anonymous),
            _ => Err(ParseError::new(
                "role",
                "must be one of ADMIN, SERVER, STAFF, USER",
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The set of roles an account holds; ordered, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    /// A new account's roles.
    pub fn user() -> Self {
        Self::from_iter([Role::User])
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn insert(&mut self, role: Role) -> bool {
        self.0.insert(role)
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    /// STAFF or ADMIN: may moderate and read other accounts.
    pub fn is_staff(&self) -> bool {
        self.contains(Role::Staff) || self.contains(Role::Admin)
    }

    /// The stored form, `ADMIN,USER`.
    pub fn to_csv(&self) -> String {
        self.iter().map(Role::as_str).collect::<Vec<_>>().join(",")
    }

    /// Parses the stored form; empty entries are ignored.
    pub fn from_csv(s: &str) -> Result<Self, ParseError> {
        s.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(str::parse)
            .collect()
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}
