//! The identity-provider port: [`OidcProvider`] for any OpenID Connect issuer with
//! discovery (Google, Kakao, Keycloak, …), and [`DevProvider`], a stand-in for local
//! development that logs in as any e-mail without an external service.

mod dev;
mod oidc;
#[cfg(feature = "testing")]
pub mod testing;

pub use dev::{DevAuthorization, DevProvider};
pub use oidc::{ClaimMapping, OidcConfig, OidcProvider};
