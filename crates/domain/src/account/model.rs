//! Accounts: who a user is, how they logged in, what they may do.

use crate::account::values::AccountId;
use crate::account::values::BirthDate;
use crate::account::values::DisplayName;
use crate::account::values::Email;
use crate::account::values::Gender;
use crate::account::values::Locale;
use crate::account::values::Phone;
use crate::account::values::Roles;
use crate::account::values::has_control;
use crate::audit::NewAuditEntry;
use crate::error::ParseError;
use crate::report::ReportId;
use crate::storage::ObjectKey;
use time::OffsetDateTime;

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
