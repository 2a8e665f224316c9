//! The service's core: accounts, sessions, images and reports as domain types, the ports
//! that adapters implement, and the services that every HTTP route family calls.
//!
//! Nothing here knows about HTTP, SQL or AWS. Values are parsed into domain types at the
//! edge (`DisplayName::parse`, `ObjectKey::parse`, …) so that everything past the edge can
//! trust them; ports speak only these types, and each adapter translates its own errors
//! into the port's error enums.

pub mod account;
pub mod actor;
pub mod audit;
pub mod cache;
pub mod clock;
pub mod error;
pub mod events;
pub mod image;
pub mod login;
pub mod notify;
pub mod outbox;
pub mod page;
pub mod ports;
pub mod processing;
#[cfg(test)]
mod properties;
pub mod redact;
pub mod report;
pub mod services;
pub mod session;
pub mod storage;
pub mod upload;

#[cfg(feature = "testing")]
pub mod testing;

pub use account::{
    Account, AccountId, AccountUpdate, BirthDate, DisplayName, Email, Gender, Identity, IdentityId,
    LinkedIdentity, Locale, MaybeCached, NewAccount, Phone, Role, Roles, Suspension,
    SuspensionReason,
};
pub use actor::Actor;
pub use audit::{
    AuditAction, AuditActor, AuditEntry, AuditFilter, AuditOutcome, AuditTarget, NewAuditEntry,
    RequestId,
};
pub use cache::{CachePolicy, Cached, ReadCaches};
pub use clock::SystemClock;
pub use error::{
    CreateAccountError, LinkIdentityError, ParseError, RepositoryError, UnlinkIdentityError,
    UpdateAccountError,
};
pub use events::{EventKind, EventMessage, Subscriptions};
pub use image::{
    Channel, Image, ImageFilter, ImageId, ImageStatus, ImageType, InsertImageError, NewImage,
    ReadyImage, UploadLimit, UploadLimits, Variant,
};
pub use login::{
    AuthorizationRedirect, IdentityError, LoginFlow, LoginHints, PendingRegistration,
    ProviderClaims, RegistrationId,
};
pub use notify::{Notice, NotifyError};
pub use outbox::{JobRecord, JobState, NewJob, OutboxJob};
pub use page::Page;
pub use ports::{
    AccountRepository, AuditLog, Cdn, Clock, EventPublisher, IdentityProvider, ImageRepository,
    LoginStateRepository, Notifier, ObjectStore, Outbox, ReadSigner, ReportRepository,
    Repositories, SessionRepository,
};
pub use report::{
    CreateReportError, Decision, EvidenceKeys, ModerationAction, NewReport, Report, ReportAction,
    ReportCategory, ReportCategoryId, ReportChange, ReportEvent, ReportFilter, ReportId,
    ReportReason, ReportStatus, ReportSubmission, ReportTarget, TargetSuspension, TargetType,
};
pub use session::{NewSession, Principal, Session, SessionId, SessionToken, TokenHash};
pub use storage::{
    ByteStream, KeyPrefix, ObjectKey, ObjectMeta, PresignedPut, PutConditions, StorageError,
};
pub use upload::UploadSpec;
