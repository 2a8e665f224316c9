//! sea-orm entities. They never leave this crate: the repositories turn them into domain
//! types (and refuse rows that do not parse, rather than pass them on).

pub mod account_identities;
pub mod accounts;
pub mod audit_log;
pub mod images;
pub mod login_flows;
pub mod outbox;
pub mod pending_registrations;
pub mod report_categories;
pub mod report_events;
pub mod reports;
pub mod sessions;
