//! The image repository: records, transitions, listing, upload limits, removals.

use super::*;

fn new_image(uploader: crate::AccountId, channel: Channel, expires_at: OffsetDateTime) -> NewImage {
    let mut metadata = serde_json::Map::new();
    metadata.insert("message_id".into(), serde_json::json!("m-1"));
    metadata.insert("nested".into(), serde_json::json!({"a": [1, 2]}));
    NewImage {
        key: channel.new_key(uploader, T0, &unique(), Some(ImageType::Png)),
        channel,
        uploader,
        content_type: Some(ImageType::Png),
        declared_length: Some(1234),
        checksum_sha256: Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()),
        original_filename: Some("사진 1.png".into()),
        metadata,
        created_at: T0,
        expires_at,
        private: false,
    }
}

fn variant(image: &ObjectKey, name: &str, width: u32, height: u32) -> crate::Variant {
    let name = crate::processing::VariantName::parse(name).unwrap();
    crate::Variant {
        key: crate::processing::variant_key(image, &name),
        name: name.as_str().to_owned(),
        width,
        height,
        content_type: ImageType::Webp,
    }
}

/// Runs every image-repository case. Images belong to accounts, made through the account
/// repository of the same store.
pub async fn image_repository(accounts: &dyn AccountRepository, repo: &dyn ImageRepository) {
    let mut case = Case::new("image_repository");
    let (me, other) = two_accounts(accounts).await;

    case.step("Insert and read back");
    let n = new_image(me, Channel::Chat, T0 + Duration::minutes(15));
    let img = repo.insert(n.clone()).await.expect("insert");
    assert_eq!(img.key, n.key);
    assert_eq!(img.status, ImageStatus::Pending);
    assert_eq!(img.uploader, me);
    assert_eq!(img.declared_length, Some(1234));
    assert_eq!(img.metadata, n.metadata, "metadata round-trips");
    assert_eq!(img.original_filename.as_deref(), Some("사진 1.png"));
    assert_eq!(img.checksum_sha256, n.checksum_sha256);
    assert_eq!(img.expires_at, Some(n.expires_at));
    assert_eq!(repo.find_by_key(&n.key).await.unwrap(), Some(img.clone()));
    assert_eq!(
        repo.find_by_key(&ObjectKey::parse("chat/none.png").unwrap())
            .await
            .unwrap(),
        None
    );

    case.step("Ready only from pending, once");
    let ready = ReadyImage {
        content_type: ImageType::Png,
        size: 1000,
        etag: "abc".into(),
        width: 640,
        height: 480,
        confirmed_at: T0 + Duration::seconds(30),
        expires_at: Some(T0 + Duration::days(7)),
        private: true,
        variants: vec![variant(&n.key, "thumb", 320, 240)],
        blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj".into(),
        variant_bytes: 100,
    };
    assert!(!img.private, "a public channel's pending record");
    let private = repo
        .insert(NewImage {
            private: true,
            ..new_image(me, Channel::Report, T0 + Duration::minutes(15))
        })
        .await
        .unwrap();
    assert!(
        repo.find_by_key(&private.key)
            .await
            .unwrap()
            .unwrap()
            .private,
        "private from the moment it is issued"
    );
    assert!(img.variants.is_empty() && img.blurhash.is_none());

    case.step("Variants are named only while pending");
    let named = vec![
        variant(&n.key, "thumb", 320, 240),
        variant(&n.key, "medium", 640, 480),
    ];
    assert!(repo.name_variants(img.id, named.clone()).await.unwrap());
    assert_eq!(
        repo.find_by_key(&n.key).await.unwrap().unwrap().variants,
        named,
        "named before they are stored, in order"
    );
    let marked = repo
        .mark_ready(img.id, ready.clone(), vec![])
        .await
        .expect("mark_ready")
        .expect("it was pending");
    assert!(
        repo.mark_ready(img.id, ready.clone(), vec![])
            .await
            .unwrap()
            .is_none(),
        "only once"
    );
    let got = repo.find_by_key(&n.key).await.unwrap().unwrap();
    assert_eq!(marked, got, "the record as updated is the one stored");
    assert_eq!(got.status, ImageStatus::Ready);
    assert!(got.private, "privacy is recorded with the confirmation");
    assert_eq!(
        (got.size, got.width, got.height),
        (Some(1000), Some(640), Some(480))
    );
    assert_eq!(got.etag.as_deref(), Some("abc"));
    assert_eq!(
        got.variants, ready.variants,
        "readiness records the variants stored"
    );
    assert_eq!(got.blurhash.as_deref(), Some(ready.blurhash.as_str()));
    assert!(
        !repo.name_variants(img.id, named).await.unwrap(),
        "a ready image's variants are what it was confirmed with"
    );
    assert_eq!(
        repo.find_by_key(&n.key).await.unwrap().unwrap().variants,
        ready.variants
    );
    assert_eq!(got.confirmed_at, Some(ready.confirmed_at));
    assert_eq!(got.expires_at, ready.expires_at);

    case.step("Transitions are conditional");
    assert!(
        !repo
            .transition(img.id, ImageStatus::Pending, ImageStatus::Expired, T0)
            .await
            .unwrap()
    );
    assert!(
        repo.transition(img.id, ImageStatus::Ready, ImageStatus::Deleted, T0)
            .await
            .unwrap()
    );
    assert!(
        !repo
            .transition(img.id, ImageStatus::Ready, ImageStatus::Deleted, T0)
            .await
            .unwrap()
    );
    assert_eq!(
        repo.find_by_key(&n.key).await.unwrap().unwrap().status,
        ImageStatus::Deleted
    );
    case.step("image_removal_is_recorded_once");
    image_removal_is_recorded_once(repo, me, img.id).await;
    let fresh = || async {
        accounts
            .create(new_account(None, false, T0))
            .await
            .unwrap()
            .id
    };
    case.step("upload_limits_count_pending_uploads");
    upload_limits_count_pending_uploads(repo, fresh().await).await;
    case.step("upload_limits_count_the_last_hour");
    upload_limits_count_the_last_hour(repo, fresh().await).await;
    case.step("upload_limits_count_ready_bytes");
    upload_limits_count_ready_bytes(repo, fresh().await).await;
    case.step("upload_limits_hold_under_concurrent_inserts");
    upload_limits_hold_under_concurrent_inserts(repo, fresh().await).await;

    case.step("Listing by uploader, channel, status and expiry, oldest first");
    let a = repo
        .insert(new_image(me, Channel::Profile, T0 + Duration::minutes(1)))
        .await
        .unwrap();
    let b = repo
        .insert(new_image(me, Channel::Profile, T0 + Duration::minutes(20)))
        .await
        .unwrap();
    let c = repo
        .insert(new_image(
            other,
            Channel::Profile,
            T0 + Duration::minutes(1),
        ))
        .await
        .unwrap();
    let ids = |v: Vec<crate::image::Image>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    let mine = repo
        .list(
            ImageFilter {
                uploader: Some(me),
                channel: Some(Channel::Profile),
                status: Some(ImageStatus::Pending),
                expired_at: None,
            },
            10,
        )
        .await
        .expect("list");
    assert_eq!(ids(mine), vec![a.id, b.id]);
    let expired = repo
        .list(
            ImageFilter {
                status: Some(ImageStatus::Pending),
                expired_at: Some(T0 + Duration::minutes(5)),
                ..ImageFilter::default()
            },
            100,
        )
        .await
        .unwrap();
    let expired = ids(expired);
    assert!(
        expired.contains(&a.id) && expired.contains(&c.id),
        "{expired:?}"
    );
    assert!(!expired.contains(&b.id), "not yet expired");
    let limited = repo
        .list(
            ImageFilter {
                uploader: Some(me),
                ..ImageFilter::default()
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
}

fn limits(pending: Option<u64>, per_hour: Option<u64>, stored_bytes: Option<u64>) -> UploadLimits {
    UploadLimits {
        pending,
        per_hour,
        stored_bytes,
        undeclared: 5000,
    }
}

fn limit_of(r: Result<crate::image::Image, InsertImageError>) -> Option<UploadLimit> {
    match r {
        Ok(_) => None,
        Err(InsertImageError::Limit(l)) => Some(l),
        Err(e) => panic!("{e:?}"),
    }
}

async fn upload_limits_count_pending_uploads(repo: &dyn ImageRepository, me: crate::AccountId) {
    {
        let two = limits(Some(2), None, None);
        let new = || new_image(me, Channel::Chat, T0 + Duration::minutes(15));
        let first = repo.insert_within(new(), two).await.expect("first");
        repo.insert_within(new(), two).await.expect("second");
        assert_eq!(
            limit_of(repo.insert_within(new(), two).await),
            Some(UploadLimit::Pending(2))
        );
        assert!(
            repo.transition(first.id, ImageStatus::Pending, ImageStatus::Expired, T0)
                .await
                .unwrap()
        );
        assert_eq!(
            limit_of(repo.insert_within(new(), two).await),
            None,
            "one left"
        );
        assert_eq!(
            limit_of(repo.insert_within(new(), limits(None, None, None)).await),
            None,
            "no limit"
        );
    }
}

async fn upload_limits_count_the_last_hour(repo: &dyn ImageRepository, me: crate::AccountId) {
    {
        let three = limits(None, Some(3), None);
        let at = |t: OffsetDateTime| {
            let mut n = new_image(me, Channel::Chat, t + Duration::minutes(15));
            n.created_at = t;
            n
        };
        // One issued more than an hour before, two within it: whatever became of them.
        repo.insert(at(T0 - Duration::minutes(61))).await.unwrap();
        let recent = repo.insert(at(T0 - Duration::minutes(59))).await.unwrap();
        repo.insert(at(T0 - Duration::minutes(1))).await.unwrap();
        assert!(
            repo.transition(recent.id, ImageStatus::Pending, ImageStatus::Rejected, T0)
                .await
                .unwrap()
        );
        assert_eq!(limit_of(repo.insert_within(at(T0), three).await), None);
        assert_eq!(
            limit_of(repo.insert_within(at(T0), three).await),
            Some(UploadLimit::PerHour(3))
        );
        assert_eq!(
            limit_of(
                repo.insert_within(at(T0 + Duration::minutes(2)), three)
                    .await
            ),
            None,
            "the one issued 59 minutes before T0 left the hour"
        );
    }
}

/// The quota counts what the account's images take or may still take: a ready image with
/// its variants, a pending upload at its declared length (or the largest accepted when it
/// declared none), and the new upload likewise.
async fn upload_limits_count_ready_bytes(repo: &dyn ImageRepository, me: crate::AccountId) {
    {
        let img = repo
            .insert(new_image(me, Channel::Chat, T0 + Duration::minutes(15)))
            .await
            .unwrap();
        let ready = ReadyImage {
            content_type: ImageType::Png,
            size: 1000,
            etag: "e".into(),
            width: 1,
            height: 1,
            confirmed_at: T0,
            expires_at: None,
            private: false,
            variants: Vec::new(),
            blurhash: String::new(),
            variant_bytes: 200,
        };
        repo.mark_ready(img.id, ready, vec![])
            .await
            .unwrap()
            .unwrap();
        // Stored: 1200 (1000 and its variants' 200).
        let new = || new_image(me, Channel::Chat, T0 + Duration::minutes(15)); // declares 1234
        let quota = |bytes| limits(None, None, Some(bytes));
        let full = |bytes, declared| Some(UploadLimit::Quota { bytes, declared });
        assert_eq!(
            limit_of(repo.insert_within(new(), quota(1200)).await),
            full(1200, false),
            "the variants count"
        );
        assert_eq!(
            limit_of(repo.insert_within(new(), quota(2000)).await),
            full(2000, true)
        );
        assert_eq!(limit_of(repo.insert_within(new(), quota(2434)).await), None);
        // Now pending at 1234: 2434 in all.
        assert_eq!(
            limit_of(repo.insert_within(new(), quota(2434)).await),
            full(2434, false),
            "a pending upload counts at its declared length"
        );
        let undeclared = || NewImage {
            declared_length: None,
            ..new()
        };
        assert_eq!(
            limit_of(repo.insert_within(undeclared(), quota(7433)).await),
            full(7433, true),
            "one that declares nothing counts as the largest accepted (5000)"
        );
        assert_eq!(
            limit_of(repo.insert_within(undeclared(), quota(7434)).await),
            None
        );
        assert_eq!(
            limit_of(repo.insert_within(new(), quota(8667)).await),
            full(8667, true),
            "and so it counts while pending: 7434 + 1234 > 8667"
        );
    }
}

async fn upload_limits_hold_under_concurrent_inserts(
    repo: &dyn ImageRepository,
    me: crate::AccountId,
) {
    {
        let three = limits(Some(3), None, None);
        let tries = (0..12).map(|_| {
            repo.insert_within(
                new_image(me, Channel::Chat, T0 + Duration::minutes(15)),
                three,
            )
        });
        let outcomes = futures_util::future::join_all(tries).await;
        let issued = outcomes
            .into_iter()
            .filter_map(|r| limit_of(r).is_none().then_some(()))
            .count();
        assert_eq!(issued, 3, "counted and inserted one at a time");
    }
}

/// A record that stopped being live awaits the removal of its objects until that is
/// recorded, once; a live record never awaits it.
async fn image_removal_is_recorded_once(
    repo: &dyn ImageRepository,
    me: crate::AccountId,
    deleted: crate::ImageId,
) {
    let awaiting = |v: Vec<crate::image::Image>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    let live = repo
        .insert(new_image(me, Channel::Chat, T0 + Duration::minutes(15)))
        .await
        .unwrap();
    let rejected = repo
        .insert(new_image(me, Channel::Chat, T0 + Duration::minutes(15)))
        .await
        .unwrap();
    assert!(
        repo.transition(rejected.id, ImageStatus::Pending, ImageStatus::Rejected, T0)
            .await
            .unwrap()
    );
    let before = awaiting(repo.awaiting_removal(10_000).await.expect("awaiting"));
    assert!(
        before.contains(&deleted) && before.contains(&rejected.id),
        "{before:?}"
    );
    assert!(
        !before.contains(&live.id),
        "a pending record's objects stay"
    );
    assert!(
        !repo.mark_objects_removed(live.id, T0).await.unwrap(),
        "never for a live record"
    );
    assert!(repo.mark_objects_removed(deleted, T0).await.unwrap());
    assert!(
        !repo.mark_objects_removed(deleted, T0).await.unwrap(),
        "once"
    );
    let after = awaiting(repo.awaiting_removal(10_000).await.unwrap());
    assert!(
        !after.contains(&deleted) && after.contains(&rejected.id),
        "{after:?}"
    );
    assert!(repo.mark_objects_removed(rejected.id, T0).await.unwrap());
    assert!(
        repo.awaiting_removal(1).await.unwrap().len() <= 1,
        "limited"
    );
    // The live record stops being live (it expires): now its objects await removal.
    assert!(
        repo.transition(live.id, ImageStatus::Pending, ImageStatus::Expired, T0)
            .await
            .unwrap()
    );
    assert!(awaiting(repo.awaiting_removal(10_000).await.unwrap()).contains(&live.id));
    assert!(repo.mark_objects_removed(live.id, T0).await.unwrap());
}
