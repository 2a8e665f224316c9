//! The use-case services. Every HTTP route family calls these; none has logic of its own.

pub mod accounts;
pub mod audit;
pub mod events;
pub mod export;
pub mod images;
pub mod invalidations;
pub mod login;
pub mod notifications;
pub mod reports;
pub mod sessions;

pub use accounts::{AccountError, Accounts, ProfilePatch, RoleChange, describe_until, may_suspend};
pub use audit::{AuditError, AuditTrail};
pub use events::{EventDelivery, EventError};
pub use export::{AccountExport, ExportError, Exports};
pub use images::{
    Confirmation, Delivery, ImageError, ImagePolicy, ImageUrl, ImageView, Images, IssuedUpload,
    Media, ProcessingLimits, Rejection, SweepReport, Sweeper, VariantUrl,
};
pub use login::{
    Callback, LoggedIn, Login, LoginError, LoginOutcome, LoginPolicy, RegisterError,
    RegistrationForm,
};
pub use reports::{ReportError, ReportPolicy, Reports};
pub use sessions::{SessionMeta, SessionPolicy, Sessions, StartedSession};
