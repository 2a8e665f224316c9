//! The report repository: reports with their audit entry and notice, moderation, listing.

use super::*;

fn new_report(reporter: crate::AccountId, target: ReportTarget, at: OffsetDateTime) -> NewReport {
    NewReport {
        reporter,
        category: ReportCategoryId::new(2),
        target,
        reason: ReportReason::parse("욕설이 심합니다").unwrap(),
        evidence: vec![ObjectKey::parse("report/2026/11/23/1/a.png").unwrap()],
        created_at: at,
    }
}

fn moderation_entry(
    by: crate::AccountId,
    report: crate::ReportId,
    action: ModerationAction,
    at: OffsetDateTime,
) -> crate::audit::NewAuditEntry {
    crate::audit::NewAuditEntry::done(
        at,
        crate::audit::AuditActor::Account(by),
        crate::audit::AuditAction::Moderate(action),
        crate::audit::AuditTarget::Report(report),
        crate::audit::RequestId::none(),
    )
}

/// Runs every report-repository case; the outbox of the same store checks that notices are
/// written with their reports.
pub async fn report_repository(
    accounts: &dyn AccountRepository,
    repo: &dyn ReportRepository,
    outbox: &dyn Outbox,
) {
    let mut case = Case::new("report_repository");
    let cats = repo.categories().await.expect("categories");
    let codes: Vec<&str> = cats.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(
        codes,
        vec![
            "fraud",
            "abusive_language",
            "prohibited_item",
            "offensive_content",
            "spam",
            "other"
        ]
    );
    assert!(
        cats.iter()
            .all(|c| !c.label_ko.is_empty() && !c.label_en.is_empty())
    );

    let (me, other) = two_accounts(accounts).await;
    let room = ReportTarget::ChatRoom(i64::from(uuid::Uuid::new_v4().as_u128() as u32));
    let topic = "conformance.notify";

    case.step("Create: the report, its audit entry and its notice, together");
    let before = outbox.depth(topic).await.unwrap();
    let r = repo
        .create(
            new_report(me, room, T0),
            vec![NewJob {
                topic: "conformance.notify",
                payload: serde_json::json!({"kind": "received"}),
                about: Some(me),
            }],
        )
        .await
        .expect("create");
    assert_eq!(r.status, ReportStatus::Open);
    assert_eq!(r.target, room);
    assert_eq!(r.evidence.len(), 1);
    assert_eq!(r.created_at, T0);
    assert_eq!(repo.find(r.id).await.unwrap(), Some(r.clone()));
    assert_eq!(
        outbox.depth(topic).await.unwrap(),
        before + 1,
        "the notice is written with the report"
    );
    let job = outbox
        .claim(topic, T0 + Duration::days(400), Duration::minutes(1), 100)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.payload["report_id"] == serde_json::json!(r.id.get()))
        .expect("the job names the report");
    assert_eq!(job.payload["kind"], "received");
    outbox.complete(job.id, T0).await.unwrap();
    case.step("A job written about an account is listed for it, with its state");
    let about = outbox.about(me, topic).await.unwrap();
    assert_eq!(about.len(), 1, "{about:?}");
    assert_eq!(about[0].job.id, job.id);
    assert_eq!(about[0].state, crate::outbox::JobState::Delivered(T0));
    assert!(outbox.about(other, topic).await.unwrap().is_empty());
    let trail = repo.events(r.id).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!((trail[0].action.as_str(), trail[0].actor), ("create", me));

    case.step("One open report per reporter and target; others may report it too");
    match repo.create(new_report(me, room, T0), vec![]).await {
        Err(CreateReportError::DuplicateOpen) => {}
        other => panic!("a second open report must be DuplicateOpen, got {other:?}"),
    }
    let theirs = repo
        .create(new_report(other, room, T0 + Duration::seconds(1)), vec![])
        .await
        .unwrap();

    case.step("Moderation: conditional on the status, audited");
    let resolve = ReportChange {
        status: ReportStatus::Resolved,
        assignee: Some(other),
        resolution_note: Some("warned".into()),
        event: ReportEvent {
            actor: other,
            action: ModerationAction::Resolve.into(),
            from_status: Some(ReportStatus::Open),
            to_status: ReportStatus::Resolved,
            note: Some("warned".into()),
            decision: Some(crate::report::Decision::Warn),
            at: T0 + Duration::minutes(5),
        },
        audit: moderation_entry(
            other,
            r.id,
            ModerationAction::Resolve,
            T0 + Duration::minutes(5),
        ),
        suspend: None,
    };
    let done = repo
        .update(r.id, ReportStatus::Open, resolve.clone(), vec![])
        .await
        .unwrap()
        .expect("updated");
    assert_eq!(done.status, ReportStatus::Resolved);
    assert_eq!(done.assignee, Some(other));
    assert_eq!(done.resolution_note.as_deref(), Some("warned"));
    assert_eq!(done.updated_at, T0 + Duration::minutes(5));
    assert_eq!(
        repo.update(r.id, ReportStatus::Open, resolve, vec![])
            .await
            .unwrap(),
        None,
        "not open any more"
    );
    let trail = repo.events(r.id).await.unwrap();
    assert_eq!(
        trail.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["create", "resolve"]
    );
    assert_eq!(trail[1].note.as_deref(), Some("warned"));
    assert_eq!(trail[1].from_status, Some(ReportStatus::Open));
    assert_eq!(trail[1].decision, Some(crate::report::Decision::Warn));

    // Resolved: the reporter may report the target again; reopening the old one then
    // would make two open reports, and is refused.
    case.step("Resolved: the reporter may report the target again; reopening the old one then");
    let again = repo
        .create(new_report(me, room, T0 + Duration::minutes(10)), vec![])
        .await
        .expect("a new report");
    let reopen = ReportChange {
        status: ReportStatus::Open,
        assignee: None,
        resolution_note: None,
        event: ReportEvent {
            actor: other,
            action: ModerationAction::Reopen.into(),
            from_status: Some(ReportStatus::Resolved),
            to_status: ReportStatus::Open,
            note: None,
            decision: None,
            at: T0 + Duration::minutes(11),
        },
        audit: moderation_entry(
            other,
            r.id,
            ModerationAction::Reopen,
            T0 + Duration::minutes(11),
        ),
        suspend: None,
    };
    assert_eq!(
        repo.update(r.id, ReportStatus::Resolved, reopen, vec![])
            .await
            .unwrap(),
        None
    );

    case.step("Listing: filters, newest first, pages and totals");
    let page = |n, s| Page::parse(Some(n), Some(s)).unwrap();
    let (mine, total) = repo
        .list(
            ReportFilter {
                reporter: Some(me),
                ..ReportFilter::default()
            },
            page(0, 10),
        )
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        mine.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![again.id, r.id],
        "newest first"
    );
    let (first, total) = repo
        .list(
            ReportFilter {
                reporter: Some(me),
                ..ReportFilter::default()
            },
            page(0, 1),
        )
        .await
        .unwrap();
    assert_eq!((first.len(), total), (1, 2));
    let (second, _) = repo
        .list(
            ReportFilter {
                reporter: Some(me),
                ..ReportFilter::default()
            },
            page(1, 1),
        )
        .await
        .unwrap();
    assert_eq!(second[0].id, r.id);
    let (open_on_room, _) = repo
        .list(
            ReportFilter {
                status: Some(ReportStatus::Open),
                target_type: Some(crate::report::TargetType::ChatRoom),
                target_id: Some(room.id()),
                ..ReportFilter::default()
            },
            page(0, 10),
        )
        .await
        .unwrap();
    let ids: Vec<_> = open_on_room.iter().map(|r| r.id).collect();
    assert!(
        ids.contains(&theirs.id) && ids.contains(&again.id) && !ids.contains(&r.id),
        "{ids:?}"
    );
    let (by_category, _) = repo
        .list(
            ReportFilter {
                category: Some(ReportCategoryId::new(6)),
                reporter: Some(me),
                ..ReportFilter::default()
            },
            page(0, 10),
        )
        .await
        .unwrap();
    assert!(by_category.is_empty());

    assert_eq!(repo.count_since(me, T0, 20).await.unwrap(), 2);
    assert_eq!(
        repo.count_since(me, T0 + Duration::minutes(1), 20)
            .await
            .unwrap(),
        1
    );
    case.step("Counting stops at the bound");
    assert_eq!(repo.count_since(me, T0, 1).await.unwrap(), 1);
    assert_eq!(repo.count_since(me, T0, 0).await.unwrap(), 0);
    assert_eq!(repo.count_since(me, T0, u64::MAX).await.unwrap(), 2);
    assert_eq!(
        repo.find(crate::ReportId::new(i64::MAX)).await.unwrap(),
        None
    );
}
