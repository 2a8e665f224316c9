//! The outbox: due jobs, leases, retries, failures, skips, concurrent workers.

use super::*;

/// Runs every outbox case on a fresh topic.
pub async fn outbox(repo: &dyn Outbox) {
    let mut case = Case::new("outbox");
    let topic = format!("conformance.{}", unique());
    let other = format!("conformance.{}", unique());
    let lease = Duration::minutes(5);
    let a = repo
        .enqueue(&topic, serde_json::json!({"key": "a.png", "n": 1}), T0)
        .await
        .expect("enqueue");
    let b = repo
        .enqueue(&topic, serde_json::json!({"key": "b.png"}), T0)
        .await
        .unwrap();
    let later = repo
        .enqueue(
            &topic,
            serde_json::json!({"key": "later.png"}),
            T0 + Duration::hours(1),
        )
        .await
        .unwrap();
    repo.enqueue(&other, serde_json::json!({}), T0)
        .await
        .unwrap();
    assert_eq!(repo.depth(&topic).await.unwrap(), 3);

    case.step("Due jobs, oldest first, leased, attempts counted; others wait for their time");
    let jobs = repo.claim(&topic, T0, lease, 10).await.expect("claim");
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a, b]);
    assert_eq!(jobs[0].payload, serde_json::json!({"key": "a.png", "n": 1}));
    assert_eq!(jobs[0].attempts, 1);
    assert_eq!(jobs[0].topic, topic);
    assert_eq!(jobs[0].batch, None, "not sent yet");
    repo.stamp(&[a, b], "batch-1").await.expect("stamp");
    assert!(
        repo.claim(&topic, T0 + Duration::minutes(1), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased jobs are not taken twice"
    );

    case.step("Delivered jobs are gone for good; a lapsed lease frees the other");
    repo.complete(a, T0).await.expect("complete");
    let again = repo
        .claim(&topic, T0 + Duration::minutes(6), lease, 10)
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(),
        vec![(b, 2)]
    );
    assert_eq!(
        again[0].batch.as_deref(),
        Some("batch-1"),
        "taken again, it keeps the batch it was sent in"
    );

    case.step("Retry waits for its time; fail stops for good");
    repo.retry(b, "provider said no", T0 + Duration::minutes(30))
        .await
        .expect("retry");
    assert!(
        repo.claim(&topic, T0 + Duration::minutes(29), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = repo
        .claim(&topic, T0 + Duration::minutes(30), lease, 10)
        .await
        .unwrap();
    assert_eq!(due.iter().map(|j| j.id).collect::<Vec<_>>(), vec![b]);
    repo.fail(b, "gave up", T0 + Duration::minutes(31))
        .await
        .expect("fail");
    assert!(
        repo.claim(&topic, T0 + Duration::hours(2), lease, 10)
            .await
            .unwrap()
            .iter()
            .all(|j| j.id == later)
    );
    assert_eq!(
        repo.depth(&topic).await.unwrap(),
        1,
        "only the later job is left"
    );
    assert_eq!(repo.depth(&other).await.unwrap(), 1, "topics are separate");

    case.step("Concurrent workers never take the same job");
    let busy = format!("conformance.{}", unique());
    for i in 0..20 {
        repo.enqueue(&busy, serde_json::json!({"i": i}), T0)
            .await
            .unwrap();
    }
    let (x, y) = tokio::join!(
        repo.claim(&busy, T0, lease, 15),
        repo.claim(&busy, T0, lease, 15)
    );
    let mut ids: Vec<i64> = x
        .unwrap()
        .into_iter()
        .chain(y.unwrap())
        .map(|j| j.id)
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "a job was claimed twice");
    assert!(n >= 15, "the two workers took {n} of 20");

    case.step("Skipped jobs are done, with their reason kept");
    let skipped = format!("conformance.{}", unique());
    let s = repo
        .enqueue(&skipped, serde_json::json!({}), T0)
        .await
        .unwrap();
    repo.claim(&skipped, T0, lease, 10).await.unwrap();
    repo.skip(s, "no phone number", T0).await.expect("skip");
    assert_eq!(repo.depth(&skipped).await.unwrap(), 0);
    assert!(
        repo.claim(&skipped, T0 + Duration::hours(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );

    case.step("Failed jobs are listed, newest failure first, and redelivered once");
    let doomed = format!("conformance.{}", unique());
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = repo
            .enqueue(&doomed, serde_json::json!({"i": i}), T0)
            .await
            .unwrap();
        ids.push(id);
    }
    repo.claim(&doomed, T0, lease, 10).await.unwrap();
    repo.fail(ids[0], "HTTP 500", T0 + Duration::minutes(1))
        .await
        .unwrap();
    repo.fail(ids[1], "timed out", T0 + Duration::minutes(2))
        .await
        .unwrap();
    repo.retry(ids[2], "HTTP 502", T0 + Duration::minutes(3))
        .await
        .unwrap();
    let page = crate::page::Page::parse(None, Some(1)).unwrap();
    let (first, total) = repo.failed(&doomed, page).await.unwrap();
    assert_eq!(total, 2, "the retried one has not failed for good");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].job.id, ids[1]);
    assert_eq!(
        first[0].state,
        crate::outbox::JobState::Failed(T0 + Duration::minutes(2))
    );
    assert_eq!(first[0].last_error.as_deref(), Some("timed out"));
    assert!(repo.failed(&other, page).await.unwrap().0.is_empty());
    let at = T0 + Duration::hours(1);
    assert!(
        !repo.redeliver(&other, ids[1], at).await.unwrap(),
        "another topic's"
    );
    assert!(
        !repo.redeliver(&doomed, ids[2], at).await.unwrap(),
        "not failed"
    );
    assert!(repo.redeliver(&doomed, ids[1], at).await.unwrap());
    assert!(!repo.redeliver(&doomed, ids[1], at).await.unwrap(), "once");
    let again = repo.claim(&doomed, at, lease, 10).await.unwrap();
    let back = again.iter().find(|j| j.id == ids[1]).expect("due again");
    assert_eq!(back.attempts, 1, "attempts counted from zero");
    assert_eq!(repo.failed(&doomed, page).await.unwrap().1, 1);

    case.step("Completed after its redelivery, it is failed no more");
    repo.complete(ids[1], at).await.unwrap();
    let (_, total) = repo.failed(&doomed, page).await.unwrap();
    assert_eq!(total, 1);
}
