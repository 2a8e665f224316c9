//! HTTP integration tests: the real application on a loopback port, driven over HTTP.
//! One test binary for the whole crate (modules below), so the workspace links few.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines
)]

mod accounts;
mod attacks;
mod authz;
mod browser;
mod caches;
mod contention;
mod cors;
mod docs;
mod durability;
mod errors;
mod events;
mod faults;
mod fuzz;
mod health;
mod helpers;
mod identities;
mod images;
mod lifecycle;
mod metrics;
mod moderation;
mod oidc;
mod pipeline;
mod reports;
mod s3;
mod sweeper;
