//! Report notices through the outbox: the report and its notice job are written in one
//! transaction; this worker delivers with retries and backoff, marks success, skip or final
//! failure, and never lets a provider failure reach the report. Leases in the outbox keep
//! two workers (threads or replicas) from sending the same notice.

use std::sync::Arc;

use time::Duration;

use crate::account::AccountId;
use crate::error::RepositoryError;
use crate::notify::{Notice, NotifyError};
use crate::outbox::backoff;
use crate::outbox::topics::REPORT_NOTICE;
use crate::ports::AccountRepository;
use crate::ports::Clock;
use crate::ports::Notifier;
use crate::ports::Outbox;
use crate::ports::Repositories;

/// What the reporter is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportNotice {
    Received,
    Resolved,
    Dismissed,
}

impl ReportNotice {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Resolved => "resolved",
            Self::Dismissed => "dismissed",
        }
    }

    /// The job payload: a [`NoticeJob`] without its report, which the repository adds
    /// when it writes the report ([`crate::outbox::NewJob::for_report`]).
    pub fn payload(self, account: AccountId) -> serde_json::Value {
        let job = NoticeJob {
            account_id: account.get(),
            kind: self,
            report_id: None,
        };
        serde_json::to_value(job).unwrap_or_default()
    }

    fn text(self, report: i64) -> String {
        match self {
            Self::Received => format!(
                "[신고 접수] 신고 #{report}가 접수되었습니다. Your report #{report} was received."
            ),
            Self::Resolved => format!(
                "[신고 처리] 신고 #{report}가 처리되었습니다. Your report #{report} was resolved."
            ),
            Self::Dismissed => format!(
                "[신고 처리] 신고 #{report}가 반려되었습니다. Your report #{report} was dismissed."
            ),
        }
    }
}

/// A notice job as the outbox carries it: written by [`ReportNotice::payload`] and
/// [`crate::outbox::NewJob::for_report`], read back by [`Notifications`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NoticeJob {
    pub account_id: i64,
    pub kind: ReportNotice,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<i64>,
}

/// Records how one delivery of `job` went: done, skipped (with the reason), retried with
/// backoff, or failed once `max_attempts` were spent. Shared by every outbox worker that
/// delivers through a notifier-like port.
///
/// # Errors
/// The outbox's own failures.
pub(crate) async fn settle(
    outbox: &dyn Outbox,
    job: &crate::outbox::OutboxJob,
    sent: Result<(), NotifyError>,
    max_attempts: u32,
    now: time::OffsetDateTime,
    report: &mut DeliveryReport,
) -> Result<(), RepositoryError> {
    match sent {
        Ok(()) => {
            outbox.complete(job.id, now).await?;
            report.delivered += 1;
        }
        Err(NotifyError::Skipped(why)) => {
            outbox.skip(job.id, &why, now).await?;
            report.skipped += 1;
        }
        Err(NotifyError::Failed(why)) if job.attempts >= max_attempts => {
            tracing::warn!(job = job.id, topic = %job.topic, error = %why, "giving up on a delivery");
            outbox.fail(job.id, &why, now).await?;
            report.failed += 1;
        }
        Err(NotifyError::Failed(why)) => {
            tracing::info!(job = job.id, topic = %job.topic, error = %why, attempts = job.attempts, "delivery failed; will retry");
            outbox
                .retry(job.id, &why, now + backoff(job.attempts))
                .await?;
            report.retried += 1;
        }
    }
    Ok(())
}

/// Delivers report notices.
#[derive(Clone)]
pub struct Notifications {
    outbox: Arc<dyn Outbox>,
    accounts: Arc<dyn AccountRepository>,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    max_attempts: u32,
    lease: Duration,
}

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications")
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: u64,
    pub skipped: u64,
    pub retried: u64,
    pub failed: u64,
}

impl Notifications {
    /// On `repos`' outbox and accounts (where a notice goes).
    pub fn new(
        repos: &Repositories,
        notifier: Arc<dyn Notifier>,
        clock: Arc<dyn Clock>,
        max_attempts: u32,
    ) -> Self {
        Self {
            outbox: repos.outbox.clone(),
            accounts: repos.accounts.clone(),
            notifier,
            clock,
            max_attempts: max_attempts.max(1),
            lease: Duration::minutes(5),
        }
    }

    /// How long claimed notices are this worker's (default 5 minutes, longer than a batch
    /// of 20 slow deliveries): a worker that dies holding them leaves them to be taken
    /// again after that.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// One pass over due notices.
    ///
    /// # Errors
    /// Only the outbox's and the account store's own failures.
    pub async fn run_once(&self) -> Result<DeliveryReport, RepositoryError> {
        let now = self.clock.now();
        let mut report = DeliveryReport::default();
        let jobs = self
            .outbox
            .claim(REPORT_NOTICE, now, self.lease, 20)
            .await?;
        for job in jobs {
            let parsed = serde_json::from_value::<NoticeJob>(job.payload.clone()).ok();
            let Some(NoticeJob {
                account_id,
                kind,
                report_id: Some(report_id),
            }) = parsed
            else {
                self.outbox
                    .fail(job.id, "malformed notice job", now)
                    .await?;
                report.failed += 1;
                continue;
            };
            let account = AccountId::new(account_id);
            let phone = match self.accounts.find_by_id(account).await? {
                Some(a) if !a.is_withdrawn() => a.phone,
                _ => {
                    self.outbox.skip(job.id, "the account is gone", now).await?;
                    report.skipped += 1;
                    continue;
                }
            };
            let notice = Notice {
                account,
                phone,
                text: kind.text(report_id),
                idempotency_key: format!("notice-{}", job.id),
            };
            let sent = self.notifier.send(&notice).await;
            settle(
                &*self.outbox,
                &job,
                sent,
                self.max_attempts,
                now,
                &mut report,
            )
            .await?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{Account, Phone};
    use crate::outbox::OutboxJob;
    use crate::ports::MockAccountRepository;
    use crate::ports::MockClock;
    use crate::ports::MockNotifier;
    use crate::ports::MockOutbox;
    use mockall::predicate::*;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

    fn clock() -> Arc<dyn Clock> {
        let mut c = MockClock::new();
        c.expect_now().return_const(NOW);
        Arc::new(c)
    }

    fn job(id: i64, kind: &str, attempts: u32) -> OutboxJob {
        OutboxJob {
            id,
            topic: REPORT_NOTICE.into(),
            payload: serde_json::json!({"account_id": 42, "kind": kind, "report_id": 5}),
            attempts,
            created_at: NOW,
            batch: None,
        }
    }

    fn accounts(phone: Option<&str>) -> MockAccountRepository {
        let phone = phone.map(|p| Phone::parse(p).expect("phone"));
        let mut a = MockAccountRepository::new();
        a.expect_find_by_id().returning(move |id| {
            Ok(Some(Account {
                phone: phone.clone(),
                ..Account::bare(id.get(), NOW)
            }))
        });
        a
    }

    fn outbox(jobs: Vec<OutboxJob>) -> MockOutbox {
        let mut o = MockOutbox::new();
        o.expect_claim().return_once(move |_, _, _, _| Ok(jobs));
        o
    }

    #[tokio::test]
    async fn a_delivered_notice_is_completed_once() {
        let mut o = outbox(vec![job(1, "received", 1)]);
        o.expect_complete()
            .with(eq(1), always())
            .times(1)
            .returning(|_, _| Ok(()));
        let mut n = MockNotifier::new();
        n.expect_send()
            .withf(|notice| {
                notice.phone.as_ref().map(Phone::as_str) == Some("01012345678")
                    && notice.text.contains("#5")
                    && notice.text.contains("접수")
                    && notice.idempotency_key == "notice-1"
            })
            .times(1)
            .returning(|_| Ok(()));
        let w = Notifications::new(
            &crate::ports::Repositories {
                outbox: Arc::new(o),
                accounts: Arc::new(accounts(Some("010-1234-5678"))),
                ..crate::ports::Repositories::unused()
            },
            Arc::new(n),
            clock(),
            5,
        );
        assert_eq!(w.run_once().await.expect("ran").delivered, 1);
    }

    #[tokio::test]
    async fn provider_failures_are_retried_then_given_up() {
        let mut o = outbox(vec![job(1, "resolved", 2), job(2, "resolved", 5)]);
        o.expect_retry()
            .withf(|id, e, at| *id == 1 && e.contains("-101") && *at == NOW + Duration::seconds(4))
            .times(1)
            .returning(|_, _, _| Ok(()));
        o.expect_fail()
            .withf(|id, _, _| *id == 2)
            .times(1)
            .returning(|_, _, _| Ok(()));
        o.expect_complete().never();
        let mut n = MockNotifier::new();
        n.expect_send()
            .returning(|_| Err(NotifyError::Failed("result_code -101".into())));
        let w = Notifications::new(
            &crate::ports::Repositories {
                outbox: Arc::new(o),
                accounts: Arc::new(accounts(Some("01012345678"))),
                ..crate::ports::Repositories::unused()
            },
            Arc::new(n),
            clock(),
            5,
        );
        let r = w.run_once().await.expect("ran");
        assert_eq!((r.retried, r.failed), (1, 1));
    }

    #[tokio::test]
    async fn a_skipped_notice_is_recorded_as_such() {
        let mut o = outbox(vec![job(1, "received", 1)]);
        o.expect_skip()
            .withf(|id, why, _| *id == 1 && why.contains("no phone"))
            .times(1)
            .returning(|_, _, _| Ok(()));
        o.expect_complete().never();
        let mut n = MockNotifier::new();
        n.expect_send()
            .returning(|_| Err(NotifyError::Skipped("no phone number".into())));
        let w = Notifications::new(
            &crate::ports::Repositories {
                outbox: Arc::new(o),
                accounts: Arc::new(accounts(None)),
                ..crate::ports::Repositories::unused()
            },
            Arc::new(n),
            clock(),
            5,
        );
        assert_eq!(w.run_once().await.expect("ran").skipped, 1);
    }
}
