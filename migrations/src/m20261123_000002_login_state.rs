//! Logins in progress (state, nonce, PKCE verifier between redirect and callback) and
//! pending registrations (a callback with too little to create an account). Both are keyed
//! by the SHA-256 of a secret the browser holds and expire within the hour.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, boolean, string_len, string_len_null, text, text_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoginFlows {
    Table,
    StateHash,
    RegistrationId,
    Nonce,
    PkceVerifier,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum PendingRegistrations {
    Table,
    TokenHash,
    Issuer,
    Subject,
    Email,
    EmailVerified,
    Name,
    Locale,
    Gender,
    BirthDate,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginFlows::Table)
                    .col(string_len(LoginFlows::StateHash, 64).primary_key())
                    .col(string_len(LoginFlows::RegistrationId, 32))
                    .col(text(LoginFlows::Nonce))
                    .col(text(LoginFlows::PkceVerifier))
                    .col(big_integer(LoginFlows::CreatedAt))
                    .col(big_integer(LoginFlows::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("login_flows_expires_idx")
                    .table(LoginFlows::Table)
                    .col(LoginFlows::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PendingRegistrations::Table)
                    .col(string_len(PendingRegistrations::TokenHash, 64).primary_key())
                    .col(text(PendingRegistrations::Issuer))
                    .col(string_len(PendingRegistrations::Subject, 255))
                    .col(text_null(PendingRegistrations::Email))
                    .col(boolean(PendingRegistrations::EmailVerified).default(false))
                    .col(text_null(PendingRegistrations::Name))
                    .col(string_len_null(PendingRegistrations::Locale, 64))
                    .col(string_len_null(PendingRegistrations::Gender, 32))
                    .col(string_len_null(PendingRegistrations::BirthDate, 32))
                    .col(big_integer(PendingRegistrations::CreatedAt))
                    .col(big_integer(PendingRegistrations::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("pending_registrations_expires_idx")
                    .table(PendingRegistrations::Table)
                    .col(PendingRegistrations::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PendingRegistrations::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(LoginFlows::Table).to_owned())
            .await
    }
}
