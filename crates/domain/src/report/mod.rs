//! Reports: what users file about products, chat rooms and users, and what staff
//! decide. `values` are the parsed fields, `model` the entity and decisions; the port is
//! [`crate::ports::ReportRepository`], the use cases [`crate::services::Reports`].

mod model;
mod values;

pub use model::{
    CreateReportError, Decision, NewReport, Report, ReportChange, ReportEvent, ReportFilter,
    ReportSubmission, TargetSuspension,
};
pub use values::{
    EvidenceKeys, ModerationAction, ReportAction, ReportCategory, ReportCategoryId, ReportId,
    ReportReason, ReportStatus, ReportTarget, TargetType,
};
