//! The service's core: accounts, sessions, images and reports as domain types, the ports
//! that adapters implement, and the services that every HTTP route family calls.
//!
//! Nothing here knows about HTTP, SQL or AWS. Values are parsed into domain types at the
//! edge (`DisplayName::parse`, `ObjectKey::parse`, …) so that everything past the edge can
//! trust them; ports speak only these types, and each adapter translates its own errors
//! into the port's error enums.

pub mod account;
pub mod audit;
pub mod cache;
pub mod clock;
pub mod error;
pub mod events;
pub mod image;
pub mod login;
pub mod notify;
pub mod outbox;
pub mod processing;
#[cfg(test)]
mod properties;
pub mod redact;
pub mod report;
pub mod services;
pub mod session;
pub mod sniff;
pub mod storage;
pub mod upload;

#[cfg(feature = "testing")]
pub mod testing;

pub use account::{
    Account, AccountId, AccountRepository, AccountUpdate, BirthDate, DisplayName, Email, Gender,
    Identity, IdentityId, LinkedIdentity, Locale, MaybeCached, NewAccount, Phone, Role, Roles,
    Suspension, SuspensionReason,
};
pub use audit::{
    AuditAction, AuditActor, AuditEntry, AuditFilter, AuditLog, AuditOutcome, AuditTarget,
    NewAuditEntry, RequestId,
};
pub use cache::{CachePolicy, Cached, ReadCaches};
pub use clock::{Clock, SystemClock};
pub use error::{
    CreateAccountError, LinkIdentityError, ParseError, RepositoryError, UnlinkIdentityError,
    UpdateAccountError,
};
pub use events::{EventKind, EventMessage, EventPublisher, Subscriptions};
pub use image::{
    Cdn, Channel, Image, ImageFilter, ImageId, ImageRepository, ImageStatus, ImageType,
    InsertImageError, NewImage, ReadSigner, ReadyImage, UploadLimit, UploadLimits, Variant,
};
pub use login::{
    Actor, AuthorizationRedirect, IdentityError, IdentityProvider, LoginFlow, LoginHints,
    LoginStateRepository, PendingRegistration, ProviderClaims, RegistrationId,
};
pub use notify::{Notice, Notifier, NotifyError};
pub use outbox::{JobRecord, JobState, Outbox, OutboxJob};
pub use report::{
    CreateReportError, Decision, Enqueue, EvidenceKeys, ModerationAction, NewReport, Page, Report,
    ReportAction, ReportCategory, ReportCategoryId, ReportChange, ReportEvent, ReportFilter,
    ReportId, ReportReason, ReportRepository, ReportStatus, ReportSubmission, ReportTarget,
    TargetSuspension, TargetType,
};
pub use session::{
    NewSession, Principal, Session, SessionId, SessionRepository, SessionToken, TokenHash,
};
pub use storage::{
    ByteStream, KeyPrefix, ObjectKey, ObjectMeta, ObjectStore, PresignedPut, PutConditions,
    StorageError,
};
pub use upload::UploadSpec;
