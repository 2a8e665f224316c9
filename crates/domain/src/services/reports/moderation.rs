//! Moderation: resolving, dismissing, assigning and reopening a report, and the
//! decision a resolution carries (a user target's suspension).

use crate::account::{AccountId, Suspension, SuspensionReason};
use crate::actor::Actor;
use crate::audit::{AuditAction, AuditTarget, NewAuditEntry, RequestId};
use crate::events::EventKind;
use crate::outbox::NewJob;
use crate::outbox::topics::REPORT_NOTICE;
use crate::report::{
    Decision, ModerationAction, Report, ReportChange, ReportEvent, ReportId, ReportStatus,
    TargetSuspension,
};
use crate::services::accounts::{describe_until, may_suspend};
use crate::services::notifications::ReportNotice;

use super::{ReportError, Reports};

impl Reports {
    /// Resolves, dismisses, assigns to oneself or reopens a report. Resolving can carry a
    /// [`Decision`]: a user target's suspension is set with the change (and the target's
    /// sessions end); every decision is recorded, and reaches the services that own the
    /// target through the `report.moderated` event. The act, and a refused attempt, are
    /// audited.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Conflict` (the action does not apply to the report's
    /// status, or it changed meanwhile), `InvalidDecision`, `Repository`.
    #[tracing::instrument(skip(self, actor, note, request), err(level = "info"))]
    pub async fn moderate(
        &self,
        actor: &Actor,
        id: ReportId,
        action: ModerationAction,
        note: Option<String>,
        decision: Option<Decision>,
        request: &RequestId,
    ) -> Result<Report, ReportError> {
        let now = self.clock.now();
        let (true, Some(moderator)) = (actor.is_staff(), actor.account_id()) else {
            let refused = NewAuditEntry::denied(
                now,
                actor.into(),
                AuditAction::Moderate(action),
                AuditTarget::Report(id),
                request.clone(),
            );
            self.audit.record(refused).await?;
            return Err(ReportError::Forbidden);
        };
        if decision.is_some() && action != ModerationAction::Resolve {
            return Err(ReportError::InvalidDecision(
                "only resolving a report carries a decision".into(),
            ));
        }
        let report = self.repo.find(id).await?.ok_or(ReportError::NotFound)?;
        let from = report.status;
        let (to, assignee, resolution_note, notice) =
            transition(action, from, report.assignee, moderator, note.as_ref())?;
        let suspend = match decision {
            Some(d) => {
                self.decide(actor, moderator, &report, d, note.as_deref(), request)
                    .await?
            }
            None => None,
        };
        let mut audit = NewAuditEntry::done(
            now,
            actor.into(),
            AuditAction::Moderate(action),
            AuditTarget::Report(id),
            request.clone(),
        )
        .reason(note.as_deref());
        if let Some(d) = decision {
            audit = audit.detail(d.to_stored());
        }
        let change = ReportChange {
            status: to,
            assignee,
            resolution_note,
            event: ReportEvent {
                actor: moderator,
                action: action.into(),
                from_status: Some(from),
                to_status: to,
                note,
                decision,
                at: now,
            },
            audit,
            suspend,
        };
        let enqueue = self.jobs(&report, notice, action, to, decision, now);
        self.repo
            .update(id, from, change, enqueue)
            .await?
            .ok_or_else(|| {
                ReportError::Conflict("the report changed meanwhile: read it again".into())
            })
    }

    /// What a moderation queues: the reporter's notice, if the change tells them
    /// anything, and the `report.moderated` events.
    fn jobs(
        &self,
        report: &Report,
        notice: Option<ReportNotice>,
        action: ModerationAction,
        to: ReportStatus,
        decision: Option<Decision>,
        now: time::OffsetDateTime,
    ) -> Vec<NewJob> {
        let mut jobs: Vec<NewJob> = notice
            .map(|n| NewJob {
                topic: REPORT_NOTICE,
                payload: n.payload(report.reporter),
                about: Some(report.reporter),
            })
            .into_iter()
            .collect();
        jobs.extend(self.events.jobs(
            EventKind::ReportModerated,
            now,
            moderated(report, action, to, decision),
        ));
        jobs
    }

    /// Checks `decision` against the report's target and, for a suspension, the moderator's
    /// right to suspend that user; the suspension to set, if any.
    async fn decide(
        &self,
        actor: &Actor,
        moderator: AccountId,
        report: &Report,
        decision: Decision,
        note: Option<&str>,
        request: &RequestId,
    ) -> Result<Option<TargetSuspension>, ReportError> {
        if !decision.applies_to(report.target) {
            return Err(ReportError::InvalidDecision(format!(
                "{} does not apply to a {} target",
                decision.kind(),
                report.target.kind()
            )));
        }
        let (Decision::SuspendTarget { until }, crate::report::ReportTarget::User(target)) =
            (decision, report.target)
        else {
            return Ok(None);
        };
        let now = self.clock.now();
        if until.is_some_and(|t| t <= now) {
            return Err(ReportError::InvalidDecision(
                "a suspension must end in the future".into(),
            ));
        }
        let account = match self.accounts.find_by_id(target).await? {
            Some(a) if !a.is_withdrawn() => a,
            _ => {
                return Err(ReportError::InvalidDecision(
                    "the reported user has left: there is nobody to suspend".into(),
                ));
            }
        };
        if !may_suspend(actor, &account) {
            self.audit
                .record(NewAuditEntry::denied(
                    now,
                    actor.into(),
                    AuditAction::AccountSuspend,
                    AuditTarget::Account(target),
                    request.clone(),
                ))
                .await?;
            return Err(ReportError::InvalidDecision(
                "you may not suspend this user (STAFF cannot suspend STAFF or ADMIN)".into(),
            ));
        }
        // What the suspended user reads says which rule, never what staff wrote: the
        // resolution note is for staff (it may name the reporter) and stays internal.
        let category = self
            .categories()
            .await
            .ok()
            .and_then(|all| all.into_iter().find(|c| c.id == report.category))
            .map_or_else(
                || format!("category {}", report.category.get()),
                |c| c.label_en,
            );
        let reason = SuspensionReason::parse(&format!(
            "a report about your account was upheld: {category}"
        ))
        .map_err(|_| ReportError::InvalidDecision("no reason".into()))?;
        let internal = note.and_then(|n| SuspensionReason::parse(n).ok());
        Ok(Some(TargetSuspension {
            account: target,
            audit: NewAuditEntry::done(
                now,
                actor.into(),
                AuditAction::AccountSuspend,
                AuditTarget::Account(target),
                request.clone(),
            )
            .reason(Some(internal.as_ref().unwrap_or(&reason).as_str()))
            .detail(format!(
                "{}, report #{}",
                describe_until(until),
                report.id.get()
            )),
            suspension: Suspension {
                by: moderator,
                at: now,
                until,
                reason,
                note: internal,
                report: Some(report.id),
            },
        }))
    }
}

/// `report.moderated`'s data: what was done, and about what (the services that own the
/// target carry out a decision).
fn moderated(
    report: &Report,
    action: ModerationAction,
    status: ReportStatus,
    decision: Option<Decision>,
) -> serde_json::Value {
    use time::format_description::well_known::Rfc3339;
    let until = match decision {
        Some(Decision::SuspendTarget { until }) => until.and_then(|t| t.format(&Rfc3339).ok()),
        _ => None,
    };
    serde_json::json!({
        "report_id": report.id.get(),
        "action": action.as_str(),
        "status": status.as_str(),
        "target_type": report.target.kind(),
        "target_id": report.target.id(),
        "decision": decision.map(Decision::kind),
        "until": until,
    })
}

/// A moderation's effect on a report: the status it moves to, its assignee, the
/// resolution note it keeps and the notice the reporter gets.
type Transition = (
    ReportStatus,
    Option<AccountId>,
    Option<String>,
    Option<ReportNotice>,
);

/// Where `action` takes a report that is `from`.
///
/// # Errors
/// `Conflict` when the action does not apply to the status.
fn transition(
    action: ModerationAction,
    from: ReportStatus,
    assignee: Option<AccountId>,
    moderator: AccountId,
    note: Option<&String>,
) -> Result<Transition, ReportError> {
    Ok(match (action, from) {
        (ModerationAction::Resolve, ReportStatus::Open) => (
            ReportStatus::Resolved,
            assignee,
            note.cloned(),
            Some(ReportNotice::Resolved),
        ),
        (ModerationAction::Dismiss, ReportStatus::Open) => (
            ReportStatus::Dismissed,
            assignee,
            note.cloned(),
            Some(ReportNotice::Dismissed),
        ),
        (ModerationAction::Assign, ReportStatus::Open) => {
            (ReportStatus::Open, Some(moderator), None, None)
        }
        (ModerationAction::Reopen, ReportStatus::Resolved | ReportStatus::Dismissed) => {
            (ReportStatus::Open, assignee, None, None)
        }
        (action, status) => {
            return Err(ReportError::Conflict(format!(
                "a report that is {status} cannot be {}",
                action.past()
            )));
        }
    })
}
