//! The HTTP service: a thin actix-web layer that turns requests into domain calls and domain
//! results into the contract's responses. Business rules live in the `domain` crate.

pub mod adapters;
pub mod auth;
pub mod body;
pub mod config;
pub mod credentials;
pub mod error;
pub mod extractors;
pub mod input;
pub mod metrics;
pub mod middleware;
pub mod probes;
pub mod ratelimit;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod workers;

pub use config::{
    AccountsCommand, AppEnv, Cli, Command, Config, NotifierKind, ServiceTokenCommand,
    StorageCommand, StorageKind,
};
pub use startup::Application;
pub use state::AppState;
