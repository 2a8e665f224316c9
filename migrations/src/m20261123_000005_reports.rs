//! Reports: categories (seeded), reports, their audit trail; and accounts' optional phone
//! number for SMS notices. One open report per reporter and target is a partial unique
//! index, so concurrent duplicates cannot both be stored.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, string_len, string_len_null, text, text_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReportCategories {
    Table,
    Id,
    Code,
    LabelKo,
    LabelEn,
    Position,
}

#[derive(DeriveIden)]
enum Reports {
    Table,
    Id,
    ReporterId,
    CategoryId,
    TargetType,
    TargetId,
    Reason,
    Evidence,
    Status,
    AssigneeId,
    ResolutionNote,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ReportEvents {
    Table,
    Id,
    ReportId,
    ActorId,
    Action,
    FromStatus,
    ToStatus,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Phone,
}

const CATEGORIES: [(i64, &str, &str, &str); 6] = [
    (1, "fraud", "사기", "Fraud"),
    (2, "abusive_language", "욕설/비방", "Abusive language"),
    (3, "prohibited_item", "판매 금지 물품", "Prohibited item"),
    (
        4,
        "offensive_content",
        "불쾌감을 주는 콘텐츠",
        "Offensive content",
    ),
    (5, "spam", "스팸/광고", "Spam"),
    (6, "other", "기타", "Other"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(string_len_null(Accounts::Phone, 16))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReportCategories::Table)
                    .col(big_integer(ReportCategories::Id).primary_key())
                    .col(string_len(ReportCategories::Code, 32).unique_key())
                    .col(text(ReportCategories::LabelKo))
                    .col(text(ReportCategories::LabelEn))
                    .col(big_integer(ReportCategories::Position))
                    .to_owned(),
            )
            .await?;
        for (id, code, ko, en) in CATEGORIES {
            manager
                .exec_stmt(
                    Query::insert()
                        .into_table(ReportCategories::Table)
                        .columns([
                            ReportCategories::Id,
                            ReportCategories::Code,
                            ReportCategories::LabelKo,
                            ReportCategories::LabelEn,
                            ReportCategories::Position,
                        ])
                        .values_panic([id.into(), code.into(), ko.into(), en.into(), id.into()])
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Reports::Table)
                    .col(big_pk_auto(Reports::Id))
                    .col(big_integer(Reports::ReporterId))
                    .col(big_integer(Reports::CategoryId))
                    .col(string_len(Reports::TargetType, 16))
                    .col(big_integer(Reports::TargetId))
                    .col(text(Reports::Reason))
                    .col(text(Reports::Evidence))
                    .col(string_len(Reports::Status, 16))
                    .col(big_integer_null(Reports::AssigneeId))
                    .col(text_null(Reports::ResolutionNote))
                    .col(big_integer(Reports::CreatedAt))
                    .col(big_integer(Reports::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("reports_category_fk")
                            .from(Reports::Table, Reports::CategoryId)
                            .to(ReportCategories::Table, ReportCategories::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("reports_created_idx", vec![Reports::CreatedAt]),
            (
                "reports_reporter_idx",
                vec![Reports::ReporterId, Reports::CreatedAt],
            ),
            (
                "reports_status_idx",
                vec![Reports::Status, Reports::CreatedAt],
            ),
            (
                "reports_target_idx",
                vec![Reports::TargetType, Reports::TargetId],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Reports::Table);
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        // Partial unique indexes: the same SQL on PostgreSQL and SQLite.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX reports_one_open_per_target ON reports \
                 (reporter_id, target_type, target_id) WHERE status = 'open'",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReportEvents::Table)
                    .col(big_pk_auto(ReportEvents::Id))
                    .col(big_integer(ReportEvents::ReportId))
                    .col(big_integer(ReportEvents::ActorId))
                    .col(string_len(ReportEvents::Action, 16))
                    .col(string_len_null(ReportEvents::FromStatus, 16))
                    .col(string_len(ReportEvents::ToStatus, 16))
                    .col(text_null(ReportEvents::Note))
                    .col(big_integer(ReportEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("report_events_report_fk")
                            .from(ReportEvents::Table, ReportEvents::ReportId)
                            .to(Reports::Table, Reports::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("report_events_report_idx")
                    .table(ReportEvents::Table)
                    .col(ReportEvents::ReportId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ReportEvents::Table.into_iden(),
            Reports::Table.into_iden(),
            ReportCategories::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .drop_column(Accounts::Phone)
                    .to_owned(),
            )
            .await
    }
}
