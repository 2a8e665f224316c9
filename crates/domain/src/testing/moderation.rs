//! Administrative acts across ports: a suspension set with its audit entry and the end of
//! every session of the account, a report decision that suspends its target, an image
//! deleted by someone else with its entry, refused attempts on their own, listing, and the
//! audit log scrubbed of a withdrawn account's personal data.

use super::*;
use crate::account::{Phone, Suspension, SuspensionReason};
use crate::audit::{
    AuditAction, AuditActor, AuditFilter, AuditOutcome, AuditTarget, NewAuditEntry, RequestId,
};
use crate::ports::AuditLog;
use crate::report::{Decision, TargetSuspension};
use crate::{AccountId, ReportId};

fn entry(
    actor: AuditActor,
    action: AuditAction,
    target: AuditTarget,
    at: OffsetDateTime,
) -> NewAuditEntry {
    NewAuditEntry::done(at, actor, action, target, RequestId::new("req-conformance"))
}

async fn entries_about(log: &dyn AuditLog, target: AuditTarget) -> Vec<NewAuditEntry> {
    let filter = AuditFilter {
        target: Some(target),
        ..AuditFilter::default()
    };
    let (items, total) = log
        .list(filter, Page::parse(None, Some(100)).unwrap())
        .await
        .unwrap();
    assert_eq!(total, items.len() as u64);
    items.into_iter().map(|e| e.entry).collect()
}

async fn session_of(sessions: &dyn SessionRepository, account: AccountId) -> TokenHash {
    let token = SessionToken::generate();
    sessions
        .insert(NewSession {
            id: SessionId::random(),
            account_id: account,
            token_hash: token.hash(),
            created_at: T0,
            idle_expires_at: T0 + Duration::days(3650),
            absolute_expires_at: T0 + Duration::days(3650),
            user_agent: None,
            ip: None,
        })
        .await
        .unwrap();
    token.hash()
}

fn suspension(
    by: AccountId,
    until: Option<OffsetDateTime>,
    report: Option<ReportId>,
) -> Suspension {
    Suspension {
        by,
        at: T0,
        until,
        reason: SuspensionReason::parse("fraud, repeatedly").unwrap(),
        note: Some(SuspensionReason::parse("internal: reporter is r@example.com").unwrap()),
        report,
    }
}

/// An event job for this suite's endpoint.
fn endpoint_event(endpoint: &str, kind: &str) -> crate::outbox::NewJob {
    crate::outbox::NewJob {
        topic: crate::outbox::topics::EVENT_DELIVERY,
        payload: serde_json::json!({"endpoint": endpoint, "type": kind, "timestamp": "t", "data": {}}),
        about: None,
    }
}

/// How many event jobs of `kind` for `endpoint` are due (claimed and let go at once).
async fn written(outbox: &dyn Outbox, endpoint: &str, kind: &str) -> usize {
    let far = T0 + Duration::days(3650);
    let jobs = outbox
        .claim(
            crate::outbox::topics::EVENT_DELIVERY,
            far,
            Duration::seconds(1),
            1000,
        )
        .await
        .unwrap();
    let n = jobs
        .iter()
        .filter(|j| j.payload["endpoint"] == endpoint && j.payload["type"] == kind)
        .count();
    for j in &jobs {
        outbox
            .retry(j.id, "counted by the suite", T0)
            .await
            .unwrap();
    }
    n
}

/// Runs every case: acts and what they write with them (audit entries, sessions ended,
/// events in the outbox).
pub async fn audit_log(
    accounts: &dyn AccountRepository,
    sessions: &dyn SessionRepository,
    images: &dyn ImageRepository,
    reports: &dyn ReportRepository,
    log: &dyn AuditLog,
    outbox: &dyn Outbox,
) {
    let mut case = Case::new("audit_log");
    let endpoint = format!("ep-{}", unique());
    let event = |kind: &str| endpoint_event(&endpoint, kind);
    let (staff, user) = two_accounts(accounts).await;
    let now = T0 + Duration::minutes(1);

    case.step("A suspension is set with its audit entry, and every session of the account ends");
    let tokens = [
        session_of(sessions, user).await,
        session_of(sessions, user).await,
    ];
    let theirs = session_of(sessions, staff).await;
    let set = suspension(staff, Some(T0 + Duration::days(7)), None);
    let suspended = accounts
        .update(
            user,
            AccountUpdate {
                suspension: Some(Some(set.clone())),
                audit: Some(
                    entry(
                        AuditActor::Account(staff),
                        AuditAction::AccountSuspend,
                        AuditTarget::Account(user),
                        now,
                    )
                    .reason(Some("fraud, repeatedly")),
                ),
                ..AccountUpdate::default()
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(suspended.suspension, Some(set.clone()));
    assert_eq!(
        accounts.find_by_id(user).await.unwrap().unwrap().suspension,
        Some(set)
    );
    for t in &tokens {
        assert!(
            sessions
                .find_active_by_token_hash(t, now)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(
        sessions
            .find_active_by_token_hash(&theirs, now)
            .await
            .unwrap()
            .is_some(),
        "another account's session is untouched"
    );
    let logged = entries_about(log, AuditTarget::Account(user)).await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].action, AuditAction::AccountSuspend);
    assert_eq!(logged[0].actor, AuditActor::Account(staff));
    assert_eq!(logged[0].outcome, AuditOutcome::Done);
    assert_eq!(logged[0].reason.as_deref(), Some("fraud, repeatedly"));
    assert_eq!(logged[0].request_id.as_deref(), Some("req-conformance"));
    assert_eq!(logged[0].at, now);

    case.step("Lifting clears it, with an entry of its own");
    let lifted = accounts
        .update(
            user,
            AccountUpdate {
                suspension: Some(None),
                audit: Some(entry(
                    AuditActor::Account(staff),
                    AuditAction::AccountUnsuspend,
                    AuditTarget::Account(user),
                    now + Duration::seconds(1),
                )),
                ..AccountUpdate::default()
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(lifted.suspension, None);
    let logged = entries_about(log, AuditTarget::Account(user)).await;
    assert_eq!(
        logged.iter().map(|e| e.action).collect::<Vec<_>>(),
        vec![AuditAction::AccountUnsuspend, AuditAction::AccountSuspend],
        "newest first"
    );

    case.step("An act on a withdrawn account writes neither the change nor its entry");
    let (gone, _) = two_accounts(accounts).await;
    accounts.withdraw(gone, T0, None, vec![]).await.unwrap();
    let refused = accounts
        .update(
            gone,
            AccountUpdate {
                suspension: Some(Some(suspension(staff, None, None))),
                audit: Some(entry(
                    AuditActor::Account(staff),
                    AuditAction::AccountSuspend,
                    AuditTarget::Account(gone),
                    now,
                )),
                ..AccountUpdate::default()
            },
            now,
        )
        .await;
    assert!(
        matches!(refused, Err(UpdateAccountError::NotFound)),
        "{refused:?}"
    );
    assert!(
        entries_about(log, AuditTarget::Account(gone))
            .await
            .is_empty()
    );

    case.step("A report's decision suspends its target with the change, each act with its entry");
    let target = session_of(sessions, user).await;
    let report = reports
        .create(
            NewReport {
                reporter: staff,
                category: ReportCategoryId::new(1),
                target: ReportTarget::User(user),
                reason: ReportReason::parse("사기").unwrap(),
                evidence: vec![],
                created_at: T0,
            },
            vec![],
        )
        .await
        .unwrap();
    let decided = suspension(staff, None, Some(report.id));
    let at = now + Duration::minutes(1);
    let change = ReportChange {
        status: ReportStatus::Resolved,
        assignee: None,
        resolution_note: Some("suspended".into()),
        event: ReportEvent {
            actor: staff,
            action: ModerationAction::Resolve.into(),
            from_status: Some(ReportStatus::Open),
            to_status: ReportStatus::Resolved,
            note: Some("suspended".into()),
            decision: Some(Decision::SuspendTarget { until: None }),
            at,
        },
        audit: entry(
            AuditActor::Account(staff),
            AuditAction::Moderate(ModerationAction::Resolve),
            AuditTarget::Report(report.id),
            at,
        ),
        suspend: Some(TargetSuspension {
            account: user,
            suspension: decided.clone(),
            audit: entry(
                AuditActor::Account(staff),
                AuditAction::AccountSuspend,
                AuditTarget::Account(user),
                at,
            ),
        }),
    };
    reports
        .update(report.id, ReportStatus::Open, change, vec![])
        .await
        .unwrap()
        .expect("resolved");
    assert_eq!(
        accounts.find_by_id(user).await.unwrap().unwrap().suspension,
        Some(decided)
    );
    assert!(
        sessions
            .find_active_by_token_hash(&target, at)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        entries_about(log, AuditTarget::Report(report.id))
            .await
            .len(),
        1
    );
    assert_eq!(
        entries_about(log, AuditTarget::Account(user)).await.len(),
        3
    );

    let key = Channel::Chat.new_key(user, T0, &unique(), Some(ImageType::Png));
    let image = images
        .insert(NewImage {
            key: key.clone(),
            channel: Channel::Chat,
            uploader: user,
            content_type: Some(ImageType::Png),
            declared_length: None,
            checksum_sha256: None,
            original_filename: None,
            metadata: serde_json::Map::new(),
            created_at: T0,
            expires_at: T0 + Duration::hours(1),
            private: false,
        })
        .await
        .unwrap();
    case.step("An image made ready writes its events with it, once");
    let shown = Channel::Chat.new_key(user, T0, &unique(), Some(ImageType::Png));
    let pending = images
        .insert(NewImage {
            key: shown,
            channel: Channel::Chat,
            uploader: user,
            content_type: Some(ImageType::Png),
            declared_length: None,
            checksum_sha256: None,
            original_filename: None,
            metadata: serde_json::Map::new(),
            created_at: T0,
            expires_at: T0 + Duration::hours(1),
            private: false,
        })
        .await
        .unwrap();
    let ready = ReadyImage {
        content_type: ImageType::Png,
        size: 10,
        etag: "e".into(),
        width: 1,
        height: 1,
        confirmed_at: at,
        expires_at: None,
        private: false,
        variants: Vec::new(),
        blurhash: String::new(),
        variant_bytes: 0,
    };
    for _ in 0..2 {
        images
            .mark_ready(pending.id, ready.clone(), vec![event("image.ready")])
            .await
            .unwrap();
    }
    assert_eq!(
        written(outbox, &endpoint, "image.ready").await,
        1,
        "not for the refused second"
    );

    case.step("An image deleted by someone else: the move, its entry and its event together, once");
    let deletion = || {
        entry(
            AuditActor::Account(staff),
            AuditAction::ImageDelete,
            AuditTarget::Image(key.clone()),
            at,
        )
    };
    assert!(
        images
            .mark_deleted(
                image.id,
                ImageStatus::Pending,
                at,
                Some(deletion()),
                vec![event("image.deleted")]
            )
            .await
            .unwrap()
    );
    assert!(
        !images
            .mark_deleted(
                image.id,
                ImageStatus::Pending,
                at,
                Some(deletion()),
                vec![event("image.deleted")]
            )
            .await
            .unwrap()
    );
    assert_eq!(
        images.find_by_key(&key).await.unwrap().unwrap().status,
        ImageStatus::Deleted
    );
    assert_eq!(
        written(outbox, &endpoint, "image.deleted").await,
        1,
        "the event is written with the deletion, once"
    );
    assert_eq!(
        entries_about(log, AuditTarget::Image(key.clone()))
            .await
            .len(),
        1
    );

    case.step("Refused attempts stand alone; filters, paging, newest first");
    let robot = AuditActor::Service(format!("svc-{}", unique()));
    for (i, action) in [
        AuditAction::RoleGrant,
        AuditAction::AccountDelete,
        AuditAction::RoleGrant,
    ]
    .into_iter()
    .enumerate()
    {
        log.record(NewAuditEntry::denied(
            T0 + Duration::seconds(i as i64),
            robot.clone(),
            action,
            AuditTarget::Account(staff),
            RequestId::none(),
        ))
        .await
        .unwrap();
    }
    let by_robot = |f: AuditFilter| AuditFilter {
        actor: Some(robot.clone()),
        ..f
    };
    let (two, total) = log
        .list(
            by_robot(AuditFilter::default()),
            Page::parse(Some(0), Some(2)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        two.iter().map(|e| e.entry.at).collect::<Vec<_>>(),
        vec![T0 + Duration::seconds(2), T0 + Duration::seconds(1)]
    );
    assert!(two.iter().all(
        |e| e.entry.outcome == AuditOutcome::Denied && e.entry.request_id.as_deref().is_none()
    ));
    let (grants, total) = log
        .list(
            by_robot(AuditFilter {
                action: Some(AuditAction::RoleGrant),
                since: Some(T0 + Duration::seconds(1)),
                until: Some(T0 + Duration::seconds(3)),
                ..AuditFilter::default()
            }),
            Page::parse(None, None).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!((grants.len(), total), (1, 1));
    assert_eq!(grants[0].entry.at, T0 + Duration::seconds(2));

    case.step("Withdrawal keeps the entries and replaces the account's e-mail, phone and name");
    let email = unique_email();
    let w = accounts
        .create(new_account(Some(&email), true, T0))
        .await
        .unwrap()
        .id;
    accounts
        .update(
            w,
            AccountUpdate {
                phone: Some(Some(Phone::parse("010-9876-5432").unwrap())),
                ..AccountUpdate::default()
            },
            T0,
        )
        .await
        .unwrap();
    // Written as people write them: the e-mail in capitals, the phone spaced, with the
    // country code.
    let shouted = email.to_ascii_uppercase();
    let note = format!(
        "Alice Kim ({email}, 01098765432) keeps scamming; 10% fee_x; also {shouted}, +82 10 9876 5432"
    );
    log.record(
        entry(
            AuditActor::Account(staff),
            AuditAction::RoleGrant,
            AuditTarget::Account(w),
            at,
        )
        .reason(Some(&note)),
    )
    .await
    .unwrap();
    let elsewhere = ReportId::new(i64::from(uuid::Uuid::new_v4().as_u128() as u32));
    log.record(
        entry(
            AuditActor::Account(staff),
            AuditAction::Moderate(ModerationAction::Resolve),
            AuditTarget::Report(elsewhere),
            at,
        )
        .reason(Some(&note)),
    )
    .await
    .unwrap();
    let admin_deletes = entry(
        AuditActor::Account(staff),
        AuditAction::AccountDelete,
        AuditTarget::Account(w),
        at,
    );
    accounts
        .withdraw(w, at, Some(admin_deletes), vec![event("account.withdrawn")])
        .await
        .unwrap();
    assert_eq!(written(outbox, &endpoint, "account.withdrawn").await, 1);
    let about_w = entries_about(log, AuditTarget::Account(w)).await;
    assert_eq!(
        about_w.iter().map(|e| e.action).collect::<Vec<_>>(),
        vec![AuditAction::AccountDelete, AuditAction::RoleGrant],
        "kept, with the deletion's own entry"
    );
    let scrubbed = about_w[1].reason.clone().unwrap();
    let id = format!("account:{w}");
    assert_eq!(
        scrubbed,
        format!("{id} ({id}, {id}) keeps scamming; 10% fee_x; also {id}, {id}")
    );
    let other = entries_about(log, AuditTarget::Report(elsewhere)).await;
    assert_eq!(
        other[0].reason.as_deref(),
        Some(format!("Alice Kim ({id}, {id}) keeps scamming; 10% fee_x; also {id}, {id}").as_str()),
        "the name is replaced only where the entry names the account"
    );
}
