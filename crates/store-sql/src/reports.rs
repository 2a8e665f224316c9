//! `ReportRepository` on SQL: a report, its audit entry and its outbox jobs are written in
//! one transaction.

use async_trait::async_trait;
use domain::{
    AccountId, CreateReportError, Decision, NewJob, NewReport, ObjectKey, Page, Report,
    ReportAction, ReportCategory, ReportCategoryId, ReportChange, ReportEvent, ReportFilter,
    ReportId, ReportReason, ReportRepository, ReportStatus, ReportTarget, RepositoryError,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use time::OffsetDateTime;

use crate::accounts::set_suspension;
use crate::audit::append;
use crate::codec::{corrupt, instant, micros};
use crate::entity::{report_categories as categories, report_events as events, reports};
use crate::outbox::write_jobs;
use crate::{SqlStore, finish, is_unique_violation, translate};

fn to_domain(m: reports::Model) -> Result<Report, RepositoryError> {
    let keys: Vec<String> = serde_json::from_str(&m.evidence).map_err(corrupt)?;
    Ok(Report {
        id: ReportId::new(m.id),
        reporter: AccountId::new(m.reporter_id),
        category: ReportCategoryId::new(m.category_id),
        target: ReportTarget::from_kind(&m.target_type, m.target_id).map_err(corrupt)?,
        reason: ReportReason::parse(&m.reason).map_err(corrupt)?,
        evidence: keys
            .iter()
            .map(|k| ObjectKey::parse(k).map_err(corrupt))
            .collect::<Result<_, _>>()?,
        status: m.status.parse().map_err(corrupt)?,
        assignee: m.assignee_id.map(AccountId::new),
        resolution_note: m.resolution_note,
        created_at: instant(m.created_at)?,
        updated_at: instant(m.updated_at)?,
    })
}

fn event_row(report: i64, e: &ReportEvent) -> events::ActiveModel {
    events::ActiveModel {
        report_id: Set(report),
        actor_id: Set(e.actor.get()),
        action: Set(e.action.as_str().to_owned()),
        from_status: Set(e.from_status.map(|s| s.as_str().to_owned())),
        to_status: Set(e.to_status.as_str().to_owned()),
        note: Set(e.note.clone()),
        decision: Set(e.decision.map(Decision::to_stored)),
        created_at: Set(micros(e.at)),
        ..Default::default()
    }
}

/// Writes outbox jobs inside the caller's transaction; each names the report
/// (`report_id`, [`NewJob::for_report`]).
async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    report: i64,
    jobs: Vec<NewJob>,
    at: OffsetDateTime,
) -> Result<(), RepositoryError> {
    write_jobs(conn, jobs.into_iter().map(|j| j.for_report(report)), at).await
}

#[async_trait]
impl ReportRepository for SqlStore {
    async fn categories(&self) -> Result<Vec<ReportCategory>, RepositoryError> {
        Ok(categories::Entity::find()
            .order_by_asc(categories::Column::Position)
            .all(self.conn())
            .await
            .map_err(translate)?
            .into_iter()
            .map(|c| ReportCategory {
                id: ReportCategoryId::new(c.id),
                code: c.code,
                label_ko: c.label_ko,
                label_en: c.label_en,
            })
            .collect())
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn create(&self, new: NewReport, jobs: Vec<NewJob>) -> Result<Report, CreateReportError> {
        let at = micros(new.created_at);
        let evidence: Vec<&str> = new.evidence.iter().map(ObjectKey::as_str).collect();
        let txn = self.begin().await?;
        let out: Result<Report, CreateReportError> = async {
            let inserted = reports::ActiveModel {
                reporter_id: Set(new.reporter.get()),
                category_id: Set(new.category.get()),
                target_type: Set(new.target.kind().to_owned()),
                target_id: Set(new.target.id()),
                reason: Set(new.reason.as_str().to_owned()),
                evidence: Set(serde_json::json!(evidence).to_string()),
                status: Set(ReportStatus::Open.as_str().to_owned()),
                assignee_id: Set(None),
                resolution_note: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                ..Default::default()
            }
            .insert(&txn)
            .await;
            let row = match inserted {
                Ok(row) => row,
                // `finish` rolls everything back.
                Err(e) if is_unique_violation(&e) => return Err(CreateReportError::DuplicateOpen),
                Err(e) => return Err(translate(e).into()),
            };
            let created = ReportEvent {
                actor: new.reporter,
                action: ReportAction::Create,
                from_status: None,
                to_status: ReportStatus::Open,
                note: None,
                decision: None,
                at: new.created_at,
            };
            event_row(row.id, &created)
                .insert(&txn)
                .await
                .map_err(translate)?;
            enqueue(&txn, row.id, jobs, new.created_at).await?;
            Ok(to_domain(row)?)
        }
        .await;
        finish(txn, out).await
    }

    async fn find(&self, id: ReportId) -> Result<Option<Report>, RepositoryError> {
        reports::Entity::find_by_id(id.get())
            .one(self.conn())
            .await
            .map_err(translate)?
            .map(to_domain)
            .transpose()
    }

    async fn list(
        &self,
        f: ReportFilter,
        page: Page,
    ) -> Result<(Vec<Report>, u64), RepositoryError> {
        let mut q = reports::Entity::find();
        if let Some(s) = f.status {
            q = q.filter(reports::Column::Status.eq(s.as_str()));
        }
        if let Some(t) = f.target_type {
            q = q.filter(reports::Column::TargetType.eq(t.as_str()));
        }
        if let Some(t) = f.target_id {
            q = q.filter(reports::Column::TargetId.eq(t));
        }
        if let Some(c) = f.category {
            q = q.filter(reports::Column::CategoryId.eq(c.get()));
        }
        if let Some(r) = f.reporter {
            q = q.filter(reports::Column::ReporterId.eq(r.get()));
        }
        let total = q.clone().count(self.conn()).await.map_err(translate)?;
        let rows = q
            .order_by_desc(reports::Column::CreatedAt)
            .order_by_desc(reports::Column::Id)
            .offset(page.number * page.size)
            .limit(page.size)
            .all(self.conn())
            .await
            .map_err(translate)?;
        let items = rows.into_iter().map(to_domain).collect::<Result<_, _>>()?;
        Ok((items, total))
    }

    async fn count_since(
        &self,
        reporter: AccountId,
        since: OffsetDateTime,
        at_most: u64,
    ) -> Result<u64, RepositoryError> {
        // `count` wraps the query, limit included: SELECT COUNT(*) FROM (SELECT … LIMIT
        // at_most), so the index scan stops at the bound instead of visiting every report
        // of the day.
        reports::Entity::find()
            .select_only()
            .column(reports::Column::ReporterId)
            .filter(reports::Column::ReporterId.eq(reporter.get()))
            .filter(reports::Column::CreatedAt.gte(micros(since)))
            // SQL's LIMIT is a signed 64-bit integer.
            .limit(at_most.min(i64::MAX.unsigned_abs()))
            .count(self.conn())
            .await
            .map_err(translate)
    }

    #[tracing::instrument(skip(self, change, jobs), err(level = "info"))]
    async fn update(
        &self,
        id: ReportId,
        expected: ReportStatus,
        change: ReportChange,
        jobs: Vec<NewJob>,
    ) -> Result<Option<Report>, RepositoryError> {
        use sea_orm::sea_query::Expr;
        let at = change.event.at;
        let txn = self.begin().await?;
        let out: Result<Option<Report>, RepositoryError> = async {
            let res = reports::Entity::update_many()
                .col_expr(reports::Column::Status, Expr::value(change.status.as_str()))
                .col_expr(
                    reports::Column::AssigneeId,
                    Expr::value(change.assignee.map(AccountId::get)),
                )
                .col_expr(
                    reports::Column::ResolutionNote,
                    Expr::value(change.resolution_note.clone()),
                )
                .col_expr(reports::Column::UpdatedAt, Expr::value(micros(at)))
                .filter(reports::Column::Id.eq(id.get()))
                .filter(reports::Column::Status.eq(expected.as_str()))
                .exec(&txn)
                .await;
            let res = match res {
                Ok(r) => r,
                // Reopening onto a target the reporter reported again meanwhile.
                Err(e) if is_unique_violation(&e) => return Ok(None),
                Err(e) => return Err(translate(e)),
            };
            if res.rows_affected != 1 {
                return Ok(None);
            }
            event_row(id.get(), &change.event)
                .insert(&txn)
                .await
                .map_err(translate)?;
            append(&txn, &change.audit).await?;
            if let Some(s) = &change.suspend {
                // A target withdrawn meanwhile has nothing left to suspend.
                if set_suspension(&txn, s.account, Some(&s.suspension), at).await? {
                    append(&txn, &s.audit).await?;
                }
            }
            enqueue(&txn, id.get(), jobs, at).await?;
            let row = reports::Entity::find_by_id(id.get())
                .one(&txn)
                .await
                .map_err(translate)?;
            row.map(to_domain).transpose()
        }
        .await;
        finish(txn, out).await
    }

    async fn events(&self, id: ReportId) -> Result<Vec<ReportEvent>, RepositoryError> {
        events::Entity::find()
            .filter(events::Column::ReportId.eq(id.get()))
            .order_by_asc(events::Column::Id)
            .all(self.conn())
            .await
            .map_err(translate)?
            .into_iter()
            .map(|e| {
                Ok(ReportEvent {
                    actor: AccountId::new(e.actor_id),
                    action: e.action.parse().map_err(corrupt)?,
                    from_status: e
                        .from_status
                        .map(|s| s.parse().map_err(corrupt))
                        .transpose()?,
                    to_status: e.to_status.parse().map_err(corrupt)?,
                    note: e.note,
                    decision: e
                        .decision
                        .as_deref()
                        .map(Decision::from_stored)
                        .transpose()
                        .map_err(corrupt)?,
                    at: instant(e.created_at)?,
                })
            })
            .collect()
    }
}
