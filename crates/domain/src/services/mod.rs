//! The use-case services. Every HTTP route family calls these; none has logic of its own.

pub mod accounts;
pub mod sessions;

pub use accounts::{AccountError, Accounts};
pub use sessions::{SessionMeta, SessionPolicy, Sessions, StartedSession};
