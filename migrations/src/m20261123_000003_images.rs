//! Image records: one per upload, from pending to ready, deleted, expired or rejected.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, integer_null, string_len, text, text_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Images {
    Table,
    Id,
    Key,
    Channel,
    Status,
    UploaderId,
    ContentType,
    DeclaredLength,
    ChecksumSha256,
    OriginalFilename,
    Size,
    Etag,
    Width,
    Height,
    Metadata,
    CreatedAt,
    UpdatedAt,
    ConfirmedAt,
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
                    .table(Images::Table)
                    .col(big_pk_auto(Images::Id))
                    .col(string_len(Images::Key, 512))
                    .col(string_len(Images::Channel, 16))
                    .col(string_len(Images::Status, 16))
                    .col(big_integer(Images::UploaderId))
                    .col(string_len(Images::ContentType, 32))
                    .col(big_integer_null(Images::DeclaredLength))
                    .col(text_null(Images::ChecksumSha256))
                    .col(text_null(Images::OriginalFilename))
                    .col(big_integer_null(Images::Size))
                    .col(text_null(Images::Etag))
                    .col(integer_null(Images::Width))
                    .col(integer_null(Images::Height))
                    .col(text(Images::Metadata))
                    .col(big_integer(Images::CreatedAt))
                    .col(big_integer(Images::UpdatedAt))
                    .col(big_integer_null(Images::ConfirmedAt))
                    .col(big_integer_null(Images::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            ("images_key_key", vec![Images::Key], true),
            (
                "images_status_expires_idx",
                vec![Images::Status, Images::ExpiresAt],
                false,
            ),
            (
                "images_uploader_idx",
                vec![Images::UploaderId, Images::Channel, Images::Status],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Images::Table);
            for c in cols {
                index.col(c);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Images::Table).to_owned())
            .await
    }
}
