//! Conformance suites: one per port, run unchanged against every adapter (the SQL store on
//! SQLite and PostgreSQL, the object store on local disk and S3). An adapter passes when its
//! suite passes; the services rely on nothing more than what these suites check.
//!
//! Every case works with fresh, unique data, so a suite can run against a store that other
//! tests use too.

// A conformance suite is one long scenario per port, read top to bottom.
#![allow(clippy::too_many_lines)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use futures_util::stream;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::account::{
    AccountUpdate, BirthDate, DisplayName, Email, Gender, Identity, Locale, NewAccount, Role, Roles,
};
use crate::error::{CreateAccountError, LinkIdentityError, UpdateAccountError};
use crate::image::{
    Channel, ImageFilter, ImageStatus, ImageType, InsertImageError, NewImage, ReadyImage,
    UploadLimit, UploadLimits,
};
use crate::login::{LoginFlow, PendingRegistration, ProviderClaims, RegistrationId};
use crate::outbox::NewJob;
use crate::page::Page;
use crate::ports::AccountRepository;
use crate::ports::ImageRepository;
use crate::ports::LoginStateRepository;
use crate::ports::ObjectStore;
use crate::ports::Outbox;
use crate::ports::ReportRepository;
use crate::ports::SessionRepository;
use crate::report::{
    CreateReportError, ModerationAction, NewReport, ReportCategoryId, ReportChange, ReportEvent,
    ReportFilter, ReportReason, ReportStatus, ReportTarget,
};
use crate::session::TokenHash;
use crate::session::{NewSession, SessionId, SessionToken};
use crate::storage::{ByteStream, KeyPrefix, ObjectKey, StorageError};

/// A base instant with sub-second digits of varying length, so that adapters that store
/// timestamps as text prove their ordering and precision.
const T0: OffsetDateTime = datetime!(2026-11-23 10:00:00.123456 UTC);

fn unique() -> String {
    Uuid::new_v4().simple().to_string()
}

fn identity(issuer: &str) -> Identity {
    Identity::new(issuer, &format!("sub-{}", unique())).unwrap()
}

fn new_account(email: Option<&str>, verified: bool, at: OffsetDateTime) -> NewAccount {
    NewAccount {
        identity: identity("https://issuer.example"),
        name: Some(DisplayName::parse("Alice Kim").unwrap()),
        email: email.map(|e| Email::parse(e).unwrap()),
        email_verified: verified,
        gender: Some(Gender::Female),
        birth_date: Some(BirthDate::parse("1990-02-03", T0.date()).unwrap()),
        locale: Some(Locale::parse("ko-KR").unwrap()),
        roles: Roles::user(),
        created_at: at,
    }
}

/// Two fresh accounts, for cases about whose a record is.
async fn two_accounts(accounts: &dyn AccountRepository) -> (crate::AccountId, crate::AccountId) {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let account = accounts.create(new_account(None, false, T0)).await;
        ids.push(account.expect("account").id);
    }
    (ids[0], ids[1])
}

fn unique_email() -> String {
    format!("u{}@example.com", unique())
}

mod accounts;
mod images;
mod login_states;
mod moderation;
mod objects;
mod outbox;
mod reports;
mod sessions;

pub use accounts::account_repository;
pub use images::image_repository;
pub use login_states::login_state_repository;
pub use moderation::audit_log;
pub use objects::object_store;
pub use outbox::outbox;
pub use reports::report_repository;
pub use sessions::session_repository;

/// Names the case a suite is in, so that a failure says which behaviour broke: when a
/// suite panics, the case it was in is printed beside the assertion's message.
struct Case {
    suite: &'static str,
    name: &'static str,
}

impl Case {
    fn new(suite: &'static str) -> Self {
        Self {
            suite,
            name: "set-up",
        }
    }

    /// Enters the next case.
    fn step(&mut self, name: &'static str) {
        self.name = name;
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "conformance: `{}` failed in case `{}`",
                self.suite, self.name
            );
        }
    }
}
