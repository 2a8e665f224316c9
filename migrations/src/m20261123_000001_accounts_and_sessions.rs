//! Accounts, the identities they log in with, and server-side sessions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, boolean, string_len, string_len_null, text,
    text_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Name,
    Email,
    EmailVerified,
    Gender,
    BirthDate,
    Locale,
    Roles,
    ProfileImageKey,
    CreatedAt,
    UpdatedAt,
    WithdrawnAt,
}

#[derive(DeriveIden)]
enum AccountIdentities {
    Table,
    Id,
    AccountId,
    Issuer,
    Subject,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TokenHash,
    AccountId,
    CreatedAt,
    LastSeenAt,
    IdleExpiresAt,
    AbsoluteExpiresAt,
    RevokedAt,
    UserAgent,
    Ip,
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
                    .table(Accounts::Table)
                    .col(big_pk_auto(Accounts::Id))
                    .col(string_len_null(Accounts::Name, 100))
                    .col(string_len_null(Accounts::Email, 254))
                    .col(boolean(Accounts::EmailVerified).default(false))
                    .col(string_len_null(Accounts::Gender, 16))
                    .col(string_len_null(Accounts::BirthDate, 10))
                    .col(string_len_null(Accounts::Locale, 35))
                    .col(string_len(Accounts::Roles, 64))
                    .col(text_null(Accounts::ProfileImageKey))
                    .col(big_integer(Accounts::CreatedAt))
                    .col(big_integer(Accounts::UpdatedAt))
                    .col(big_integer_null(Accounts::WithdrawnAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("accounts_email_idx")
                    .table(Accounts::Table)
                    .col(Accounts::Email)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AccountIdentities::Table)
                    .col(big_pk_auto(AccountIdentities::Id))
                    .col(big_integer(AccountIdentities::AccountId))
                    .col(text(AccountIdentities::Issuer))
                    .col(string_len(AccountIdentities::Subject, 255))
                    .col(big_integer(AccountIdentities::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("account_identities_account_fk")
                            .from(AccountIdentities::Table, AccountIdentities::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("account_identities_issuer_subject_key")
                    .table(AccountIdentities::Table)
                    .col(AccountIdentities::Issuer)
                    .col(AccountIdentities::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("account_identities_account_idx")
                    .table(AccountIdentities::Table)
                    .col(AccountIdentities::AccountId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string_len(Sessions::Id, 36).primary_key())
                    .col(string_len(Sessions::TokenHash, 64))
                    .col(big_integer(Sessions::AccountId))
                    .col(big_integer(Sessions::CreatedAt))
                    .col(big_integer(Sessions::LastSeenAt))
                    .col(big_integer(Sessions::IdleExpiresAt))
                    .col(big_integer(Sessions::AbsoluteExpiresAt))
                    .col(big_integer_null(Sessions::RevokedAt))
                    .col(string_len_null(Sessions::UserAgent, 256))
                    .col(string_len_null(Sessions::Ip, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .name("sessions_account_fk")
                            .from(Sessions::Table, Sessions::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_token_hash_key")
                    .table(Sessions::Table)
                    .col(Sessions::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_account_idx")
                    .table(Sessions::Table)
                    .col(Sessions::AccountId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Sessions::Table.into_iden(),
            AccountIdentities::Table.into_iden(),
            Accounts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
