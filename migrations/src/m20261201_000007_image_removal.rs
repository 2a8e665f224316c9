//! When an image's objects were confirmed gone from the store. A record that stopped being
//! live (deleted, expired, rejected) and has no such instant still names objects the
//! sweeper must remove: the database, not a listing of the bucket, says what the service
//! may delete. Rows already in such a state when this runs are swept once more (deleting a
//! missing object succeeds), which is harmless.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::big_integer_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Images {
    Table,
    Status,
    ObjectsRemovedAt,
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
                    .table(Images::Table)
                    .add_column(big_integer_null(Images::ObjectsRemovedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("images_removal_idx")
                    .table(Images::Table)
                    .col(Images::ObjectsRemovedAt)
                    .col(Images::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("images_removal_idx")
                    .table(Images::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Images::Table)
                    .drop_column(Images::ObjectsRemovedAt)
                    .to_owned(),
            )
            .await
    }
}
