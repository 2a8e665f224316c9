//! The e-mail an identity's provider gave when it was linked, so that a user can tell their
//! linked identities apart (`GET /account/identities`). Rows linked before this run have
//! none.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AccountIdentities {
    Table,
    Email,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AccountIdentities::Table)
                    .add_column(string_null(AccountIdentities::Email))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AccountIdentities::Table)
                    .drop_column(AccountIdentities::Email)
                    .to_owned(),
            )
            .await
    }
}
