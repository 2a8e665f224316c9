//! The audit log: every administrative act (role grants, suspensions and their lifts,
//! moderation, images deleted by someone other than their uploader, accounts deleted by an
//! ADMIN, service tokens created), and every refused attempt at one, recorded append-only.
//!
//! An act's entry is written by the repository that performs the act, in the act's own
//! transaction ([`crate::AccountUpdate::audit`], [`crate::ReportChange::audit`],
//! [`crate::ImageRepository::remove_audited`], [`crate::AccountRepository::withdraw`]): an
//! act without its entry, or an entry without its act, cannot be stored. Refused attempts
//! and service tokens (which the service does not store) are written through
//! [`AuditLog::record`] alone. Entries are never changed, except that withdrawal replaces
//! the withdrawn account's e-mail, phone and name in them with its id.

use crate::account::AccountId;
use crate::actor::Actor;
use crate::error::ParseError;
use crate::report::{ModerationAction, ReportId};
use crate::storage::ObjectKey;
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

/// Who acted: an account, a service token, the operator's command line, or the service
/// itself (a configured rule such as `ADMIN_EMAILS`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuditActor {
    Account(AccountId),
    Service(String),
    /// The operator's `server …` command; the OS user that ran it, when known.
    Cli(String),
    System,
}

impl AuditActor {
    /// The kind and id as stored and filtered on (`account`, `42`).
    pub fn parts(&self) -> (&'static str, String) {
        match self {
            Self::Account(id) => ("account", id.to_string()),
            Self::Service(name) => ("service", name.clone()),
            Self::Cli(user) => ("cli", user.clone()),
            Self::System => ("system", String::new()),
        }
    }

    /// Rebuilds an actor from its stored parts.
    ///
    /// # Errors
    /// An unknown kind or an account id that is not one.
    pub fn from_parts(kind: &str, id: &str) -> Result<Self, ParseError> {
        match kind {
            "account" => AccountId::parse(id).map(Self::Account),
            "service" => Ok(Self::Service(id.to_owned())),
            "cli" => Ok(Self::Cli(id.to_owned())),
            "system" => Ok(Self::System),
            _ => Err(ParseError::new(
                "actor",
                "must be account:ID, service:NAME, cli:USER or system",
            )),
        }
    }
}

impl From<&Actor> for AuditActor {
    fn from(actor: &Actor) -> Self {
        match actor {
            Actor::Account { id, .. } => Self::Account(*id),
            Actor::Service { name } => Self::Service(name.clone()),
        }
    }
}

impl fmt::Display for AuditActor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parts() {
            (kind, id) if id.is_empty() => f.write_str(kind),
            (kind, id) => write!(f, "{kind}:{id}"),
        }
    }
}

/// `account:42`, `service:chat`, `cli:root`, `system`; a bare number is an account.
impl FromStr for AuditActor {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s.split_once(':') {
            Some((kind, id)) => Self::from_parts(kind, id),
            None if s == "system" => Ok(Self::System),
            None => Self::from_parts("account", s),
        }
    }
}

/// What was acted on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuditTarget {
    Account(AccountId),
    Report(ReportId),
    Image(ObjectKey),
    /// A service token, by the service's name (never the token).
    Service(String),
}

impl AuditTarget {
    pub fn parts(&self) -> (&'static str, String) {
        match self {
            Self::Account(id) => ("account", id.to_string()),
            Self::Report(id) => ("report", id.get().to_string()),
            Self::Image(key) => ("image", key.to_string()),
            Self::Service(name) => ("service", name.clone()),
        }
    }

    /// # Errors
    /// An unknown kind or an id of the wrong shape.
    pub fn from_parts(kind: &str, id: &str) -> Result<Self, ParseError> {
        let bad = || {
            ParseError::new(
                "target",
                "must be account:ID, report:ID, image:KEY or service:NAME",
            )
        };
        match kind {
            "account" => AccountId::parse(id).map(Self::Account),
            "report" => id
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .map(|n| Self::Report(ReportId::new(n)))
                .ok_or_else(bad),
            "image" => ObjectKey::parse(id).map(Self::Image).map_err(|_| bad()),
            "service" if !id.is_empty() => Ok(Self::Service(id.to_owned())),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for AuditTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, id) = self.parts();
        write!(f, "{kind}:{id}")
    }
}

/// `account:42`, `report:7`, `image:chat/…`, `service:chat`; a bare number is an account.
impl FromStr for AuditTarget {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s.split_once(':') {
            Some((kind, id)) => Self::from_parts(kind, id),
            None => Self::from_parts("account", s),
        }
    }
}

/// The administrative acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    RoleGrant,
    RoleRevoke,
    AccountSuspend,
    AccountUnsuspend,
    Moderate(ModerationAction),
    ImageDelete,
    AccountDelete,
    /// An ADMIN changing someone else's profile.
    AccountUpdate,
    /// An ADMIN exporting someone else's data.
    AccountExport,
    ServiceTokenCreate,
}

impl AuditAction {
    pub const ALL: [Self; 13] = [
        Self::RoleGrant,
        Self::RoleRevoke,
        Self::AccountSuspend,
        Self::AccountUnsuspend,
        Self::Moderate(ModerationAction::Resolve),
        Self::Moderate(ModerationAction::Dismiss),
        Self::Moderate(ModerationAction::Assign),
        Self::Moderate(ModerationAction::Reopen),
        Self::ImageDelete,
        Self::AccountDelete,
        Self::AccountUpdate,
        Self::AccountExport,
        Self::ServiceTokenCreate,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RoleGrant => "role.grant",
            Self::RoleRevoke => "role.revoke",
            Self::AccountSuspend => "account.suspend",
            Self::AccountUnsuspend => "account.unsuspend",
            Self::Moderate(ModerationAction::Resolve) => "report.resolve",
            Self::Moderate(ModerationAction::Dismiss) => "report.dismiss",
            Self::Moderate(ModerationAction::Assign) => "report.assign",
            Self::Moderate(ModerationAction::Reopen) => "report.reopen",
            Self::ImageDelete => "image.delete",
            Self::AccountDelete => "account.delete",
            Self::AccountUpdate => "account.update",
            Self::AccountExport => "account.export",
            Self::ServiceTokenCreate => "service_token.create",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s.trim())
            .ok_or_else(|| {
                ParseError::new(
                    "action",
                    format!("must be one of {}", Self::ALL.map(Self::as_str).join(", ")),
                )
            })
    }
}

/// Whether the act was done or refused (the caller was not allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    Done,
    Denied,
}

impl AuditOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Denied => "denied",
        }
    }
}

impl FromStr for AuditOutcome {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "done" => Ok(Self::Done),
            "denied" => Ok(Self::Denied),
            _ => Err(ParseError::new("outcome", "must be done or denied")),
        }
    }
}

/// The request an act came in on, for its audit entry: its `X-Request-Id` (none for the
/// command line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RequestId(Option<String>);

impl RequestId {
    /// At most 64 characters of `id` are kept.
    pub fn new(id: &str) -> Self {
        Self(Some(id.chars().take(64).collect()))
    }

    /// No request: the command line, a worker.
    pub const fn none() -> Self {
        Self(None)
    }

    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// An entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub at: OffsetDateTime,
    pub actor: AuditActor,
    pub action: AuditAction,
    pub target: AuditTarget,
    pub outcome: AuditOutcome,
    /// The actor's reason or note, as typed.
    pub reason: Option<String>,
    /// What the act set: the role granted, a suspension's end, a report's decision.
    pub detail: Option<String>,
    pub request_id: RequestId,
}

impl NewAuditEntry {
    /// An act done by `actor`.
    pub fn done(
        at: OffsetDateTime,
        actor: AuditActor,
        action: AuditAction,
        target: AuditTarget,
        request_id: RequestId,
    ) -> Self {
        Self {
            at,
            actor,
            action,
            target,
            outcome: AuditOutcome::Done,
            reason: None,
            detail: None,
            request_id,
        }
    }

    /// An attempt `actor` was not allowed to make.
    pub fn denied(
        at: OffsetDateTime,
        actor: AuditActor,
        action: AuditAction,
        target: AuditTarget,
        request_id: RequestId,
    ) -> Self {
        Self {
            outcome: AuditOutcome::Denied,
            ..Self::done(at, actor, action, target, request_id)
        }
    }

    #[must_use]
    pub fn reason(mut self, reason: Option<&str>) -> Self {
        self.reason = reason.map(str::to_owned);
        self
    }

    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub entry: NewAuditEntry,
}

/// Which entries to list; unset fields match anything. `since` is inclusive, `until`
/// exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<AuditActor>,
    pub target: Option<AuditTarget>,
    pub action: Option<AuditAction>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_and_targets_round_trip_through_their_text() {
        for s in ["account:42", "service:chat", "cli:root", "system"] {
            assert_eq!(s.parse::<AuditActor>().unwrap().to_string(), s);
        }
        assert_eq!(
            "42".parse::<AuditActor>().unwrap(),
            AuditActor::Account(AccountId::new(42))
        );
        for s in ["account:42", "report:7", "service:chat"] {
            assert_eq!(s.parse::<AuditTarget>().unwrap().to_string(), s);
        }
        for bad in ["account:x", "report:0", "user:1", "image:../x", "service:"] {
            assert!(bad.parse::<AuditTarget>().is_err(), "{bad}");
        }
        assert!("robot:1".parse::<AuditActor>().is_err());
    }

    #[test]
    fn every_action_round_trips_and_unknown_ones_name_the_choices() {
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>().unwrap(), a);
        }
        let err = "role.steal".parse::<AuditAction>().unwrap_err();
        assert!(err.to_string().contains("account.suspend"), "{err}");
    }
}
