//! Accounts: who a user is, how they logged in, what they may do.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use time::{Date, OffsetDateTime};

use crate::audit::NewAuditEntry;
use crate::error::{
    CreateAccountError, LinkIdentityError, ParseError, RepositoryError, UnlinkIdentityError,
    UpdateAccountError,
};
use crate::report::ReportId;
use crate::storage::ObjectKey;

/// An account's numeric id (seed 001's `userId: long`). Ids are never reused.
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

    /// Parses an id as it appears in a path or in seed 003's string `uploader_id`.
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

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A person's display name: 2 to 50 characters (seed 001's registration rule), trimmed, no
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

/// Seed 001's gender values.
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

/// Seed 001's roles. `Anonymous` is what a request without a session has; it is never stored.
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

/// How an identity provider names a person: issuer URL and subject, unique together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    issuer: String,
    subject: String,
}

impl Identity {
    pub fn new(issuer: &str, subject: &str) -> Result<Self, ParseError> {
        if issuer.is_empty() || issuer.len() > 2048 || has_control(issuer) {
            return Err(ParseError::new("iss", "must be a non-empty issuer"));
        }
        if subject.is_empty() || subject.len() > 255 || has_control(subject) {
            return Err(ParseError::new(
                "sub",
                "must be 1 to 255 characters without control characters",
            ));
        }
        Ok(Self {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// An account as stored. Personal fields are `None` after withdrawal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: Option<DisplayName>,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub gender: Option<Gender>,
    pub birth_date: Option<BirthDate>,
    pub locale: Option<Locale>,
    /// For SMS notices; optional.
    pub phone: Option<Phone>,
    pub roles: Roles,
    /// The key of the ready profile image, if any.
    pub profile_image_key: Option<ObjectKey>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub withdrawn_at: Option<OffsetDateTime>,
    /// The last suspension set and not lifted; it may have ended by itself
    /// ([`Self::active_suspension`]).
    pub suspension: Option<Suspension>,
}

impl Account {
    /// For tests: a USER created at `at` with nothing else known about them.
    #[cfg(test)]
    pub(crate) fn bare(id: i64, at: OffsetDateTime) -> Self {
        Self {
            id: AccountId::new(id),
            name: None,
            email: None,
            email_verified: false,
            gender: None,
            birth_date: None,
            locale: None,
            phone: None,
            roles: Roles::user(),
            profile_image_key: None,
            created_at: at,
            updated_at: at,
            withdrawn_at: None,
            suspension: None,
        }
    }

    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn_at.is_some()
    }

    /// The suspension in force at `now`, if any: one past its `until` has ended by itself.
    pub fn active_suspension(&self, now: OffsetDateTime) -> Option<&Suspension> {
        self.suspension.as_ref().filter(|s| s.is_active(now))
    }
}

/// Why an account is suspended, as staff typed it: 1 to 500 characters after trimming, no
/// control characters but line breaks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SuspensionReason(String);

impl SuspensionReason {
    pub const MAX: usize = 500;

    /// # Errors
    /// Empty, longer than 500 characters, or with control characters.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > Self::MAX {
            return Err(ParseError::new(
                "reason",
                format!("must be 1 to {} characters", Self::MAX),
            ));
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
            return Err(ParseError::new(
                "reason",
                "must not contain control characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An account's suspension: while active, the account cannot log in and has no session;
/// nothing it owns is touched. It ends by itself at `until` (never, when `None`) or when
/// lifted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    /// Who suspended it (STAFF or ADMIN).
    pub by: AccountId,
    pub at: OffsetDateTime,
    pub until: Option<OffsetDateTime>,
    /// Why, as the suspended user is shown it (their data export, their statements).
    pub reason: SuspensionReason,
    /// What staff wrote for each other (a report decision's resolution note): shown to
    /// STAFF and ADMIN only, never to the user.
    pub note: Option<SuspensionReason>,
    /// The report whose decision it was, if any.
    pub report: Option<ReportId>,
}

impl Suspension {
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// What `AccountRepository::create` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub identity: Identity,
    pub name: Option<DisplayName>,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub gender: Option<Gender>,
    pub birth_date: Option<BirthDate>,
    pub locale: Option<Locale>,
    pub roles: Roles,
    pub created_at: OffsetDateTime,
}

/// A change to an account: each `Some` field is set, each `None` left as it is.
/// `profile_image_key` is doubly optional so that it can be cleared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountUpdate {
    pub name: Option<DisplayName>,
    pub email: Option<Email>,
    pub email_verified: Option<bool>,
    pub gender: Option<Gender>,
    pub birth_date: Option<BirthDate>,
    pub locale: Option<Locale>,
    pub roles: Option<Roles>,
    pub profile_image_key: Option<Option<ObjectKey>>,
    /// Doubly optional so that it can be cleared.
    pub phone: Option<Option<Phone>>,
    /// `Some(None)` lifts the suspension.
    pub suspension: Option<Option<Suspension>>,
    /// The administrative act this change is (a role grant, a suspension), recorded in the
    /// same transaction as the change.
    pub audit: Option<NewAuditEntry>,
}

impl AccountUpdate {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// An identity's row id: what `DELETE /account/identities/{id}` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityId(i64);

impl IdentityId {
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

/// An identity as linked to an account: which provider's subject, the e-mail the provider
/// gave when it was linked (none for identities linked before that was kept), and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub id: IdentityId,
    pub identity: Identity,
    pub email: Option<Email>,
    pub linked_at: OffsetDateTime,
}

/// A read that a cache may have answered; `cached` says whether it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaybeCached<T> {
    pub value: T,
    pub cached: bool,
}

/// Where accounts are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AccountRepository: Send + Sync {
    /// Stores a new account holding `new.identity`.
    ///
    /// # Errors
    /// `DuplicateIdentity` when the identity already belongs to an account (nothing is
    /// written); `Repository` on infrastructure failure.
    async fn create(&self, new: NewAccount) -> Result<Account, CreateAccountError>;

    /// The account with this id, withdrawn or not; `None` when there never was one.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn find_by_id(&self, id: AccountId) -> Result<Option<Account>, RepositoryError>;

    /// The account with this id for its public summary (name, picture), withdrawn or not.
    /// A read cache may answer it (see [`crate::Cached`]: up to the read TTL old) and says
    /// whether it did; adapters read it as [`Self::find_by_id`] does.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn find_summary(
        &self,
        id: AccountId,
    ) -> Result<Option<MaybeCached<Account>>, RepositoryError> {
        Ok(self.find_by_id(id).await?.map(|value| MaybeCached {
            value,
            cached: false,
        }))
    }

    /// The account holding this identity; `None` when none does (a withdrawn account holds
    /// none: withdrawal erases identities).
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn find_by_identity(
        &self,
        identity: &Identity,
    ) -> Result<Option<Account>, RepositoryError>;

    /// The oldest non-withdrawn account whose email equals `email` and is verified.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn find_by_verified_email(
        &self,
        email: &Email,
    ) -> Result<Option<Account>, RepositoryError>;

    /// Adds another identity to an existing account, with the e-mail its provider gave.
    ///
    /// # Errors
    /// `NotFound` for an unknown or withdrawn account, `DuplicateIdentity` when the identity
    /// is held already, `Repository` on infrastructure failure.
    async fn link_identity(
        &self,
        id: AccountId,
        identity: Identity,
        email: Option<Email>,
        at: OffsetDateTime,
    ) -> Result<(), LinkIdentityError>;

    /// The account's identities, oldest first (the one it was created with first). The
    /// identity an account is created with carries the account's e-mail.
    ///
    /// # Errors
    /// `RepositoryError` on infrastructure failure only.
    async fn identities(&self, id: AccountId) -> Result<Vec<LinkedIdentity>, RepositoryError>;

    /// Removes one of the account's identities, never its last: checked and removed in one
    /// transaction, so two concurrent unlinks cannot leave it with none.
    ///
    /// # Errors
    /// `NotFound` when the account has no such identity, `LastIdentity` when it is the only
    /// one (nothing changes), `Repository` on infrastructure failure.
    async fn unlink_identity(
        &self,
        id: AccountId,
        identity: IdentityId,
    ) -> Result<(), UnlinkIdentityError>;

    /// Applies `update` and returns the account as stored afterwards; its `audit` entry,
    /// if any, is appended in the same transaction.
    ///
    /// # Errors
    /// `NotFound` for an unknown or withdrawn account; `Repository` on infrastructure failure.
    async fn update(
        &self,
        id: AccountId,
        update: AccountUpdate,
        at: OffsetDateTime,
    ) -> Result<Account, UpdateAccountError>;

    /// Withdraws the account: erases its personal data (name, email, gender, birth date,
    /// locale, phone, profile image key) and its identities, keeps the row so its id is never
    /// reused, and marks it withdrawn at `at`. In the audit log, its e-mail and phone (in
    /// every entry) and its name (in entries naming it) are replaced with `account:<id>`.
    /// Every session of the account is revoked, and `audit` (an ADMIN deleting someone
    /// else's account) and `enqueue` (its `account.withdrawn` events) are written, in the
    /// same transaction: a withdrawal either completes or changes nothing.
    ///
    /// # Errors
    /// `NotFound` for an unknown or already withdrawn account; `Repository` on infrastructure
    /// failure.
    async fn withdraw(
        &self,
        id: AccountId,
        at: OffsetDateTime,
        audit: Option<NewAuditEntry>,
        enqueue: Vec<crate::report::Enqueue>,
    ) -> Result<(), UpdateAccountError>;
}
