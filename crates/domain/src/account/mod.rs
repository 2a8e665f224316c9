//! Accounts: who signs in, with which identities, in which roles, and whether suspended.
//! `values` are the parsed fields, `model` the entity and its changes; the port is
//! [`crate::ports::AccountRepository`].

mod model;
mod values;

pub use model::{
    Account, AccountUpdate, Identity, IdentityId, LinkedIdentity, MaybeCached, NewAccount,
    Suspension, SuspensionReason,
};
pub use values::{AccountId, BirthDate, DisplayName, Email, Gender, Locale, Phone, Role, Roles};
