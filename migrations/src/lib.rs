//! The database schema, as sea-orm migrations that run unchanged on PostgreSQL and SQLite.
//!
//! Conventions, chosen so that one code base behaves the same on both databases:
//! - instants are `BIGINT` microseconds since the Unix epoch, UTC (`*_at` columns). SQLite
//!   has no timestamp type, and the text form sqlx writes there has a variable number of
//!   fractional digits, which breaks ordering; integers compare exactly everywhere and keep
//!   PostgreSQL's precision. `to_timestamp(created_at / 1e6)` reads them in psql.
//! - calendar dates are `yyyy-mm-dd` text; enumerations are lower- or upper-case text.
//! - every migration runs in a transaction, on SQLite too, so none is ever half applied.
// A migration is a schema as written once: not held to 80 lines a function.
#![allow(clippy::too_many_lines)]

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_accounts_and_sessions;
mod m20261123_000002_login_state;
mod m20261123_000003_images;
mod m20261123_000004_outbox;
mod m20261123_000005_reports;
mod m20261123_000006_outbox_batch;
mod m20261201_000007_image_removal;
mod m20261202_000008_identity_email;
mod m20261202_000009_moderation;
mod m20261202_000010_private_images;
mod m20261202_000011_image_variants;
mod m20261207_000012_suspension_note;
mod m20261207_000013_stored_bytes;

/// Every migration, oldest first.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_accounts_and_sessions::Migration),
            Box::new(m20261123_000002_login_state::Migration),
            Box::new(m20261123_000003_images::Migration),
            Box::new(m20261123_000004_outbox::Migration),
            Box::new(m20261123_000005_reports::Migration),
            Box::new(m20261123_000006_outbox_batch::Migration),
            Box::new(m20261201_000007_image_removal::Migration),
            Box::new(m20261202_000008_identity_email::Migration),
            Box::new(m20261202_000009_moderation::Migration),
            Box::new(m20261202_000010_private_images::Migration),
            Box::new(m20261202_000011_image_variants::Migration),
            Box::new(m20261207_000012_suspension_note::Migration),
            Box::new(m20261207_000013_stored_bytes::Migration),
        ]
    }
}
