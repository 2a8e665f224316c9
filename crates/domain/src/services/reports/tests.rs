//! Every reporting and moderation rule, with mocked ports.

use std::sync::Arc;

use mockall::predicate::*;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::account::{Account, Role, Roles};
use crate::audit::{AuditAction, AuditOutcome, AuditTarget, RequestId};
use crate::image::{Image, ImageId, ImageType};
use crate::ports::MockAccountRepository;
use crate::ports::MockAuditLog;
use crate::ports::MockClock;
use crate::ports::MockImageRepository;
use crate::ports::MockReportRepository;
use crate::ports::Repositories;
use crate::report::{Decision, ModerationAction};
use crate::report::{EvidenceKeys, ReportCategoryId, ReportReason, ReportTarget};
use crate::storage::ObjectKey;

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);
const ME: AccountId = AccountId::new(42);

fn clock() -> Arc<dyn Clock> {
    let mut c = MockClock::new();
    c.expect_now().return_const(NOW);
    Arc::new(c)
}

fn categories() -> Vec<ReportCategory> {
    vec![ReportCategory {
        id: ReportCategoryId::new(1),
        code: "fraud".into(),
        label_ko: "사기".into(),
        label_en: "Fraud".into(),
    }]
}

fn report(status: ReportStatus) -> Report {
    Report {
        id: ReportId::new(5),
        reporter: ME,
        category: ReportCategoryId::new(1),
        target: ReportTarget::ChatRoom(7),
        reason: ReportReason::parse("욕설").expect("reason"),
        evidence: vec![],
        status,
        assignee: None,
        resolution_note: None,
        created_at: NOW,
        updated_at: NOW,
    }
}

fn repo() -> MockReportRepository {
    let mut r = MockReportRepository::new();
    r.expect_categories().returning(|| Ok(categories()));
    r.expect_count_since().returning(|_, _, _| Ok(0));
    r
}

fn evidence_image(key: &str, uploader: AccountId, channel: Channel, status: ImageStatus) -> Image {
    Image {
        id: ImageId::new(1),
        key: ObjectKey::parse(key).expect("key"),
        channel,
        status,
        uploader,
        content_type: Some(ImageType::Png),
        declared_length: None,
        size: Some(10),
        etag: None,
        width: Some(1),
        height: Some(1),
        metadata: serde_json::Map::new(),
        original_filename: None,
        checksum_sha256: None,
        created_at: NOW,
        confirmed_at: Some(NOW),
        expires_at: None,
        private: false,
        variants: Vec::new(),
        blurhash: None,
    }
}

fn service(repo: MockReportRepository, images: MockImageRepository) -> Reports {
    let mut audit = MockAuditLog::new();
    audit.expect_record().returning(|_| Ok(()));
    deciding(repo, images, MockAccountRepository::new(), audit)
}

fn deciding(
    repo: MockReportRepository,
    images: MockImageRepository,
    accounts: MockAccountRepository,
    audit: MockAuditLog,
) -> Reports {
    Reports::new(
        &Repositories {
            reports: Arc::new(repo),
            images: Arc::new(images),
            accounts: Arc::new(accounts),
            audit: Arc::new(audit),
            ..Repositories::unused()
        },
        clock(),
        ReportPolicy { per_day: 3 },
    )
}

fn chat_room_report() -> ReportSubmission {
    ReportSubmission {
        category: ReportCategoryId::new(1),
        target: ReportTarget::ChatRoom(7),
        reason: ReportReason::parse("진짜 판매자분 욕설부터 해서 정말 심각합니다.")
            .expect("reason"),
        evidence: EvidenceKeys::default(),
    }
}

fn evidence(v: serde_json::Value) -> EvidenceKeys {
    EvidenceKeys::parse(Some(&v)).expect("evidence")
}

#[tokio::test]
async fn a_report_and_its_notice_are_written_together() {
    let mut r = repo();
    r.expect_create()
        .withf(|n, q| {
            n.reporter == ME
                && n.target == ReportTarget::ChatRoom(7)
                && n.created_at == NOW
                && q.len() == 1
                && q[0].topic == crate::outbox::topics::REPORT_NOTICE
                && q[0].payload == serde_json::json!({"account_id": 42, "kind": "received"})
        })
        .times(1)
        .returning(|_, _| Ok(report(ReportStatus::Open)));
    let svc = service(r, MockImageRepository::new());
    assert_eq!(
        svc.submit(ME, chat_room_report()).await.expect("filed").id,
        ReportId::new(5)
    );
}

#[tokio::test]
async fn nobody_reports_themself_and_categories_must_exist() {
    let mut r = repo();
    r.expect_create().never();
    let svc = service(r, MockImageRepository::new());
    let me = ReportSubmission {
        target: ReportTarget::User(AccountId::new(42)),
        ..chat_room_report()
    };
    assert!(matches!(
        svc.submit(ME, me).await,
        Err(ReportError::SelfReport)
    ));
    let unknown = ReportSubmission {
        category: ReportCategoryId::new(99),
        ..chat_room_report()
    };
    assert!(matches!(
        svc.submit(ME, unknown).await,
        Err(ReportError::UnknownCategory)
    ));
}

#[tokio::test]
async fn evidence_must_be_the_reporters_own_ready_report_images() {
    for (img, why) in [
        (
            evidence_image(
                "report/a.png",
                AccountId::new(9),
                Channel::Report,
                ImageStatus::Ready,
            ),
            "someone else's",
        ),
        (
            evidence_image("report/a.png", ME, Channel::Report, ImageStatus::Pending),
            "unconfirmed",
        ),
        (
            evidence_image("report/a.png", ME, Channel::Chat, ImageStatus::Ready),
            "another channel",
        ),
    ] {
        let mut r = repo();
        r.expect_create().never();
        let mut images = MockImageRepository::new();
        images
            .expect_find_by_key()
            .returning(move |_| Ok(Some(img.clone())));
        let svc = service(r, images);
        let req = ReportSubmission {
            evidence: evidence(serde_json::json!("[report/a.png]")),
            ..chat_room_report()
        };
        assert!(
            matches!(
                svc.submit(ME, req).await,
                Err(ReportError::InvalidEvidence(_))
            ),
            "{why}"
        );
    }
    let mut r = repo();
    r.expect_create()
        .withf(|n, _| n.evidence.len() == 1)
        .times(1)
        .returning(|_, _| Ok(report(ReportStatus::Open)));
    let mut images = MockImageRepository::new();
    images.expect_find_by_key().returning(|_| {
        Ok(Some(evidence_image(
            "report/a.png",
            ME,
            Channel::Report,
            ImageStatus::Ready,
        )))
    });
    let svc = service(r, images);
    let req = ReportSubmission {
        evidence: evidence(serde_json::json!(["report/a.png"])),
        ..chat_room_report()
    };
    svc.submit(ME, req).await.expect("own evidence is fine");
}

#[tokio::test]
async fn duplicates_and_the_daily_limit_are_refused() {
    let mut r = repo();
    r.expect_create()
        .returning(|_, _| Err(CreateReportError::DuplicateOpen));
    let svc = service(r, MockImageRepository::new());
    assert!(matches!(
        svc.submit(ME, chat_room_report()).await,
        Err(ReportError::Duplicate)
    ));

    let mut r = MockReportRepository::new();
    r.expect_categories().returning(|| Ok(categories()));
    r.expect_count_since()
        .with(eq(ME), eq(NOW - Duration::days(1)), eq(3))
        .returning(|_, _, _| Ok(3));
    r.expect_create().never();
    let svc = service(r, MockImageRepository::new());
    assert!(matches!(
        svc.submit(ME, chat_room_report()).await,
        Err(ReportError::TooMany)
    ));
}

fn staff(id: i64) -> Actor {
    Actor::Account {
        id: AccountId::new(id),
        roles: Roles::from_iter([Role::User, Role::Staff]),
    }
}

#[tokio::test]
async fn only_staff_moderate() {
    let mut r = MockReportRepository::new();
    r.expect_find().never();
    r.expect_list().never();
    let svc = service(r, MockImageRepository::new());
    let user = Actor::Account {
        id: ME,
        roles: Roles::user(),
    };
    let server = Actor::Service {
        name: "chat".into(),
    };
    for actor in [&user, &server] {
        assert!(matches!(
            svc.moderate(
                actor,
                ReportId::new(5),
                ModerationAction::Resolve,
                None,
                None,
                &RequestId::none()
            )
            .await,
            Err(ReportError::Forbidden)
        ));
        assert!(matches!(
            svc.list(
                actor,
                ReportFilter::default(),
                Page::parse(None, None).expect("page")
            )
            .await,
            Err(ReportError::Forbidden)
        ));
        assert!(matches!(
            svc.get(actor, ReportId::new(5)).await,
            Err(ReportError::Forbidden)
        ));
    }
}

#[tokio::test]
async fn resolving_is_audited_and_notifies_the_reporter() {
    let mut r = MockReportRepository::new();
    r.expect_find()
        .returning(|_| Ok(Some(report(ReportStatus::Open))));
    r.expect_update()
        .withf(|id, expected, change, q| {
            *id == ReportId::new(5)
                && *expected == ReportStatus::Open
                && change.status == ReportStatus::Resolved
                && change.resolution_note.as_deref() == Some("경고 조치")
                && change.event.actor == AccountId::new(8)
                && change.event.action.as_str() == "resolve"
                && change.event.from_status == Some(ReportStatus::Open)
                && change.event.at == NOW
                && q.len() == 1
                && q[0].payload == serde_json::json!({"account_id": 42, "kind": "resolved"})
        })
        .times(1)
        .returning(|_, _, _, _| Ok(Some(report(ReportStatus::Resolved))));
    let svc = service(r, MockImageRepository::new());
    svc.moderate(
        &staff(8),
        ReportId::new(5),
        ModerationAction::Resolve,
        Some("경고 조치".to_owned()),
        None,
        &RequestId::none(),
    )
    .await
    .expect("resolved");
}

#[tokio::test]
async fn assigning_and_reopening_follow_the_status() {
    let mut r = MockReportRepository::new();
    r.expect_find()
        .returning(|_| Ok(Some(report(ReportStatus::Open))));
    r.expect_update()
        .withf(|_, _, change, q| {
            change.assignee == Some(AccountId::new(8))
                && change.status == ReportStatus::Open
                && q.is_empty()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(Some(report(ReportStatus::Open))));
    let svc = service(r, MockImageRepository::new());
    svc.moderate(
        &staff(8),
        ReportId::new(5),
        ModerationAction::Assign,
        None,
        None,
        &RequestId::none(),
    )
    .await
    .expect("assigned");
    assert!(matches!(
        svc.moderate(
            &staff(8),
            ReportId::new(5),
            ModerationAction::Reopen,
            None,
            None,
            &RequestId::none()
        )
        .await,
        Err(ReportError::Conflict(_))
    ));

    let mut r = MockReportRepository::new();
    r.expect_find()
        .returning(|_| Ok(Some(report(ReportStatus::Dismissed))));
    r.expect_update()
        .withf(|_, expected, change, q| {
            *expected == ReportStatus::Dismissed
                && change.status == ReportStatus::Open
                && change.resolution_note.is_none()
                && q.is_empty()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(Some(report(ReportStatus::Open))));
    let svc = service(r, MockImageRepository::new());
    svc.moderate(
        &staff(8),
        ReportId::new(5),
        ModerationAction::Reopen,
        None,
        None,
        &RequestId::none(),
    )
    .await
    .expect("reopened");
    assert!(matches!(
        svc.moderate(
            &staff(8),
            ReportId::new(5),
            ModerationAction::Resolve,
            None,
            None,
            &RequestId::none()
        )
        .await,
        Err(ReportError::Conflict(_))
    ));
}

#[tokio::test]
async fn a_concurrent_change_is_a_conflict() {
    let mut r = MockReportRepository::new();
    r.expect_find()
        .returning(|_| Ok(Some(report(ReportStatus::Open))));
    r.expect_update().returning(|_, _, _, _| Ok(None));
    let svc = service(r, MockImageRepository::new());
    assert!(matches!(
        svc.moderate(
            &staff(8),
            ReportId::new(5),
            ModerationAction::Dismiss,
            None,
            None,
            &RequestId::none()
        )
        .await,
        Err(ReportError::Conflict(_))
    ));
}

#[tokio::test]
async fn a_refused_moderation_says_what_in_plain_words() {
    for (status, action, said) in [
        (
            ReportStatus::Resolved,
            ModerationAction::Dismiss,
            "a report that is resolved cannot be dismissed",
        ),
        (
            ReportStatus::Open,
            ModerationAction::Reopen,
            "a report that is open cannot be reopened",
        ),
        (
            ReportStatus::Dismissed,
            ModerationAction::Assign,
            "a report that is dismissed cannot be assigned",
        ),
        (
            ReportStatus::Dismissed,
            ModerationAction::Resolve,
            "a report that is dismissed cannot be resolved",
        ),
    ] {
        let mut r = MockReportRepository::new();
        r.expect_find().returning(move |_| Ok(Some(report(status))));
        r.expect_update().never();
        let svc = service(r, MockImageRepository::new());
        match svc
            .moderate(
                &staff(8),
                ReportId::new(5),
                action,
                None,
                None,
                &RequestId::none(),
            )
            .await
        {
            Err(ReportError::Conflict(message)) => assert_eq!(message, said),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
}

fn user_report(target: i64) -> Report {
    Report {
        target: ReportTarget::User(AccountId::new(target)),
        ..report(ReportStatus::Open)
    }
}

fn target_account(id: i64, roles: &[Role]) -> MockAccountRepository {
    let roles: Roles = roles.iter().copied().collect();
    let mut accounts = MockAccountRepository::new();
    accounts.expect_find_by_id().returning(move |_| {
        Ok(Some(Account {
            roles: roles.clone(),
            ..Account::bare(id, NOW)
        }))
    });
    accounts
}

#[tokio::test]
async fn a_decision_to_suspend_the_reported_user_goes_with_the_resolution() {
    let mut r = MockReportRepository::new();
    r.expect_find().returning(|_| Ok(Some(user_report(77))));
    r.expect_categories().returning(|| {
        Ok(vec![crate::report::ReportCategory {
            id: user_report(77).category,
            code: "FRAUD".into(),
            label_ko: "사기".into(),
            label_en: "Fraud".into(),
        }])
    });
    let until = NOW + time::Duration::days(7);
    r.expect_update()
        .withf(move |_, _, change, q| {
            let Some(s) = &change.suspend else {
                return false;
            };
            s.account == AccountId::new(77)
                && s.suspension.until == Some(until)
                && s.suspension.by == AccountId::new(8)
                && s.suspension.report == Some(ReportId::new(5))
                && s.suspension.reason.as_str() == "a report about your account was upheld: Fraud"
                && s.suspension.note.as_ref().map(|n| n.as_str()) == Some("사기 반복")
                && s.audit.action == AuditAction::AccountSuspend
                && s.audit.target == AuditTarget::Account(AccountId::new(77))
                && change.audit.action == AuditAction::Moderate(ModerationAction::Resolve)
                && change.audit.request_id.as_deref() == Some("req-9")
                && change.event.decision == Some(Decision::SuspendTarget { until: Some(until) })
                && q.iter().any(|j| {
                    j.topic == crate::outbox::topics::EVENT_DELIVERY
                        && j.payload["endpoint"] == "office"
                        && j.payload["type"] == "report.moderated"
                        && j.payload["data"]["decision"] == "suspend_target"
                        && j.payload["data"]["target_id"] == 77
                        && j.payload["data"]["until"] == "2026-11-30T10:00:00Z"
                })
        })
        .times(1)
        .returning(|_, _, _, _| Ok(Some(report(ReportStatus::Resolved))));
    let mut audit = MockAuditLog::new();
    audit.expect_record().never();
    let svc = deciding(
        r,
        MockImageRepository::new(),
        target_account(77, &[Role::User]),
        audit,
    )
    .with_events(crate::events::Subscriptions::new(vec![(
        "office".into(),
        [crate::events::EventKind::ReportModerated].into(),
    )]));
    svc.moderate(
        &staff(8),
        ReportId::new(5),
        ModerationAction::Resolve,
        Some("사기 반복".into()),
        Some(Decision::SuspendTarget { until: Some(until) }),
        &RequestId::new("req-9"),
    )
    .await
    .expect("resolved and suspended");
}

#[tokio::test]
async fn decisions_that_do_not_apply_are_refused_before_anything_is_written() {
    let cases: Vec<(Report, ModerationAction, Decision, Vec<Role>)> = vec![
        // Only resolving decides.
        (
            user_report(77),
            ModerationAction::Dismiss,
            Decision::Warn,
            vec![Role::User],
        ),
        // A chat room cannot be suspended; a user's content is not removed here.
        (
            report(ReportStatus::Open),
            ModerationAction::Resolve,
            Decision::SuspendTarget { until: None },
            vec![Role::User],
        ),
        (
            user_report(77),
            ModerationAction::Resolve,
            Decision::RemoveContent,
            vec![Role::User],
        ),
        // The end must be in the future.
        (
            user_report(77),
            ModerationAction::Resolve,
            Decision::SuspendTarget { until: Some(NOW) },
            vec![Role::User],
        ),
        // STAFF cannot suspend STAFF or ADMIN.
        (
            user_report(77),
            ModerationAction::Resolve,
            Decision::SuspendTarget { until: None },
            vec![Role::User, Role::Staff],
        ),
        (
            user_report(77),
            ModerationAction::Resolve,
            Decision::SuspendTarget { until: None },
            vec![Role::Admin],
        ),
    ];
    for (found, action, decision, roles) in cases {
        let mut r = MockReportRepository::new();
        r.expect_find().returning(move |_| Ok(Some(found.clone())));
        r.expect_update().never();
        let svc = service(r, MockImageRepository::new());
        let svc = Reports {
            accounts: Arc::new(target_account(77, &roles)),
            ..svc
        };
        let got = svc
            .moderate(
                &staff(8),
                ReportId::new(5),
                action,
                None,
                Some(decision),
                &RequestId::none(),
            )
            .await;
        assert!(
            matches!(got, Err(ReportError::InvalidDecision(_))),
            "{action:?} {decision:?} {roles:?}: {got:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_moderation_is_recorded_as_denied() {
    let mut r = MockReportRepository::new();
    r.expect_find().never();
    r.expect_update().never();
    let mut audit = MockAuditLog::new();
    audit
        .expect_record()
        .withf(|e| {
            e.outcome == AuditOutcome::Denied
                && e.action == AuditAction::Moderate(ModerationAction::Dismiss)
                && e.target == AuditTarget::Report(ReportId::new(5))
        })
        .times(1)
        .returning(|_| Ok(()));
    let svc = deciding(
        r,
        MockImageRepository::new(),
        MockAccountRepository::new(),
        audit,
    );
    let user = Actor::Account {
        id: ME,
        roles: Roles::user(),
    };
    assert!(matches!(
        svc.moderate(
            &user,
            ReportId::new(5),
            ModerationAction::Dismiss,
            None,
            None,
            &RequestId::none()
        )
        .await,
        Err(ReportError::Forbidden)
    ));
}
