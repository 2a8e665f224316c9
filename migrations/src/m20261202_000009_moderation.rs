//! Moderation with consequences: an account's suspension (on the account's row: one at a
//! time, ending by itself at `suspended_until`), a report event's decision, the account an
//! outbox job concerns (for the data export's notices), and the append-only audit log of
//! administrative acts and refused attempts at them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, string_len, string_len_null, text, text_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    SuspendedAt,
    SuspendedUntil,
    SuspendedBy,
    SuspensionReason,
    SuspensionReportId,
}

#[derive(DeriveIden)]
enum ReportEvents {
    Table,
    Decision,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    AccountId,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorKind,
    ActorId,
    Action,
    TargetKind,
    TargetId,
    Outcome,
    Reason,
    Detail,
    RequestId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for col in [
            big_integer_null(Accounts::SuspendedAt),
            big_integer_null(Accounts::SuspendedUntil),
            big_integer_null(Accounts::SuspendedBy),
            text_null(Accounts::SuspensionReason),
            big_integer_null(Accounts::SuspensionReportId),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(Accounts::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ReportEvents::Table)
                    .add_column(text_null(ReportEvents::Decision))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(big_integer_null(Outbox::AccountId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_account_idx")
                    .table(Outbox::Table)
                    .col(Outbox::AccountId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(big_pk_auto(AuditLog::Id))
                    .col(big_integer(AuditLog::At))
                    .col(string_len(AuditLog::ActorKind, 16))
                    .col(string_len(AuditLog::ActorId, 255))
                    .col(string_len(AuditLog::Action, 32))
                    .col(string_len(AuditLog::TargetKind, 16))
                    .col(text(AuditLog::TargetId))
                    .col(string_len(AuditLog::Outcome, 16))
                    .col(text_null(AuditLog::Reason))
                    .col(text_null(AuditLog::Detail))
                    .col(string_len_null(AuditLog::RequestId, 64))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("audit_log_at_idx", vec![AuditLog::At]),
            (
                "audit_log_actor_idx",
                vec![AuditLog::ActorKind, AuditLog::ActorId, AuditLog::At],
            ),
            (
                "audit_log_target_idx",
                vec![AuditLog::TargetKind, AuditLog::TargetId, AuditLog::At],
            ),
            ("audit_log_action_idx", vec![AuditLog::Action, AuditLog::At]),
        ] {
            let mut index = Index::create();
            index.name(name).table(AuditLog::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("outbox_account_idx")
                    .table(Outbox::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(Outbox::AccountId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ReportEvents::Table)
                    .drop_column(ReportEvents::Decision)
                    .to_owned(),
            )
            .await?;
        for col in [
            Accounts::SuspensionReportId,
            Accounts::SuspensionReason,
            Accounts::SuspendedBy,
            Accounts::SuspendedUntil,
            Accounts::SuspendedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Accounts::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
