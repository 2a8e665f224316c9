//! `AuditLog` on SQL, and the one function every act's transaction appends its entry with.

use async_trait::async_trait;
use domain::redact::{self, Personal};
use domain::{
    AccountId, AuditAction, AuditActor, AuditEntry, AuditFilter, AuditLog, AuditTarget,
    NewAuditEntry, Page, RepositoryError, RequestId,
};
use sea_orm::sea_query::{Condition, Expr, ExprTrait as _, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::codec::{corrupt, instant, micros};
use crate::entity::audit_log;
use crate::{SqlStore, translate};

/// Appends `entry` on `conn`: the act's own transaction, or the pool for a refused attempt.
pub(crate) async fn append<C: ConnectionTrait>(
    conn: &C,
    entry: &NewAuditEntry,
) -> Result<(), RepositoryError> {
    let (actor_kind, actor_id) = entry.actor.parts();
    let (target_kind, target_id) = entry.target.parts();
    audit_log::ActiveModel {
        at: Set(micros(entry.at)),
        actor_kind: Set(actor_kind.to_owned()),
        actor_id: Set(actor_id),
        action: Set(entry.action.as_str().to_owned()),
        target_kind: Set(target_kind.to_owned()),
        target_id: Set(target_id),
        outcome: Set(entry.outcome.as_str().to_owned()),
        reason: Set(entry.reason.clone()),
        detail: Set(entry.detail.clone()),
        request_id: Set(entry.request_id.as_deref().map(str::to_owned)),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(translate)?;
    Ok(())
}

/// A LIKE pattern that matches `s` anywhere, with LIKE's wildcards in `s` taken literally.
fn containing(s: &str) -> LikeExpr {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

/// On withdrawal: the account's e-mail (in any case) and phone (however it was written)
/// become `account:<id>` in every entry's reason and detail, and its name does so in the
/// entries that name the account as actor or target, where it can only mean this person.
/// The candidates are found in SQL (case-folded e-mail and name, the phone's last eight
/// digits in order); [`domain::redact::redact`] decides what in each is the person's.
pub(crate) async fn scrub<C: ConnectionTrait>(
    conn: &C,
    id: AccountId,
    personal: &Personal,
) -> Result<(), RepositoryError> {
    let with = format!("account:{id}");
    let names_it = |m: &audit_log::Model| {
        let id = id.to_string();
        (m.actor_kind == "account" && m.actor_id == id)
            || (m.target_kind == "account" && m.target_id == id)
    };
    let mut candidates = Condition::any();
    for col in [audit_log::Column::Reason, audit_log::Column::Detail] {
        let folded = || Func::lower(Expr::col(col));
        for text in [&personal.email, &personal.name].into_iter().flatten() {
            if !text.is_empty() {
                candidates = candidates.add(folded().like(containing(&text.to_ascii_lowercase())));
            }
        }
        if let Some(tail) = personal.phone.as_deref().and_then(redact::phone_tail) {
            let spread: String = tail.chars().flat_map(|d| ['%', d]).collect();
            candidates = candidates.add(Expr::col(col).like(LikeExpr::new(format!("{spread}%"))));
        }
    }
    if candidates.is_empty() {
        return Ok(());
    }
    let rows = audit_log::Entity::find()
        .filter(candidates)
        .all(conn)
        .await
        .map_err(translate)?;
    for row in rows {
        let named = names_it(&row);
        let clean = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| redact::redact(t, personal, named, &with))
        };
        let (reason, detail) = (clean(&row.reason), clean(&row.detail));
        if reason.is_none() && detail.is_none() {
            continue;
        }
        audit_log::Entity::update_many()
            .col_expr(
                audit_log::Column::Reason,
                Expr::value(reason.or(row.reason)),
            )
            .col_expr(
                audit_log::Column::Detail,
                Expr::value(detail.or(row.detail)),
            )
            .filter(audit_log::Column::Id.eq(row.id))
            .exec(conn)
            .await
            .map_err(translate)?;
    }
    Ok(())
}

fn to_domain(m: audit_log::Model) -> Result<AuditEntry, RepositoryError> {
    Ok(AuditEntry {
        id: m.id,
        entry: NewAuditEntry {
            at: instant(m.at)?,
            actor: AuditActor::from_parts(&m.actor_kind, &m.actor_id).map_err(corrupt)?,
            action: m.action.parse::<AuditAction>().map_err(corrupt)?,
            target: AuditTarget::from_parts(&m.target_kind, &m.target_id).map_err(corrupt)?,
            outcome: m.outcome.parse().map_err(corrupt)?,
            reason: m.reason,
            detail: m.detail,
            request_id: m
                .request_id
                .as_deref()
                .map_or_else(RequestId::none, RequestId::new),
        },
    })
}

#[async_trait]
impl AuditLog for SqlStore {
    async fn record(&self, entry: NewAuditEntry) -> Result<(), RepositoryError> {
        append(self.conn(), &entry).await
    }

    async fn list(
        &self,
        filter: AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditEntry>, u64), RepositoryError> {
        let mut q = audit_log::Entity::find();
        if let Some(actor) = &filter.actor {
            let (kind, id) = actor.parts();
            q = q
                .filter(audit_log::Column::ActorKind.eq(kind))
                .filter(audit_log::Column::ActorId.eq(id));
        }
        if let Some(target) = &filter.target {
            let (kind, id) = target.parts();
            q = q
                .filter(audit_log::Column::TargetKind.eq(kind))
                .filter(audit_log::Column::TargetId.eq(id));
        }
        if let Some(action) = filter.action {
            q = q.filter(audit_log::Column::Action.eq(action.as_str()));
        }
        if let Some(since) = filter.since {
            q = q.filter(audit_log::Column::At.gte(micros(since)));
        }
        if let Some(until) = filter.until {
            q = q.filter(audit_log::Column::At.lt(micros(until)));
        }
        let total = q.clone().count(self.conn()).await.map_err(translate)?;
        let rows = q
            .order_by_desc(audit_log::Column::At)
            .order_by_desc(audit_log::Column::Id)
            .offset(page.number * page.size)
            .limit(page.size)
            .all(self.conn())
            .await
            .map_err(translate)?;
        Ok((
            rows.into_iter().map(to_domain).collect::<Result<_, _>>()?,
            total,
        ))
    }
}
