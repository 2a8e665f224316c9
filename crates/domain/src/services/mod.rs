//! The use-case services. Every HTTP route family calls these; none has logic of its own.

pub mod accounts;
pub mod login;
pub mod sessions;

pub use accounts::{AccountError, Accounts, ProfilePatch};
pub use login::{
    Callback, LoggedIn, Login, LoginError, LoginOutcome, LoginPolicy, RegisterError,
    RegistrationForm,
};
pub use sessions::{SessionMeta, SessionPolicy, Sessions, StartedSession};
