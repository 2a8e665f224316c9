//! [`Cached`] answers the hot reads from memory and keeps them honest.
use time::macros::datetime;

use super::*;
use crate::cache::CachePolicy;
use crate::image::Channel;
use crate::ports::MockClock;
use crate::ports::MockImageRepository;

const T0: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

fn clock() -> Arc<dyn Clock> {
    let mut c = MockClock::new();
    c.expect_now().return_const(T0);
    Arc::new(c)
}

fn image(status: ImageStatus) -> Image {
    Image {
        original_filename: None,
        checksum_sha256: None,
        id: ImageId::new(1),
        key: ObjectKey::parse("chat/a.png").expect("key"),
        channel: Channel::Chat,
        status,
        uploader: AccountId::new(1),
        content_type: None,
        declared_length: None,
        size: None,
        etag: None,
        width: None,
        height: None,
        metadata: serde_json::Map::new(),
        created_at: T0,
        confirmed_at: None,
        expires_at: None,
        private: false,
        variants: Vec::new(),
        blurhash: None,
    }
}

fn cached(repo: MockImageRepository) -> Cached<MockImageRepository> {
    Cached::new(repo, ReadCaches::new(CachePolicy::default())).with_clock(clock())
}

#[tokio::test]
async fn a_ready_image_is_read_once_until_it_changes_and_a_pending_one_every_time() {
    let key = ObjectKey::parse("chat/a.png").expect("key");
    let mut repo = MockImageRepository::new();
    repo.expect_find_by_key()
        .times(2)
        .returning(|_| Ok(Some(image(ImageStatus::Ready))));
    repo.expect_transition().returning(|_, _, _, _| Ok(true));
    let repo = cached(repo);
    for _ in 0..3 {
        assert!(repo.find_by_key(&key).await.expect("read").is_some());
    }
    repo.transition(
        ImageId::new(1),
        ImageStatus::Ready,
        ImageStatus::Deleted,
        T0,
    )
    .await
    .expect("write");
    // The write dropped it: read again (the second expected read).
    repo.find_by_key(&key).await.expect("read");

    let mut pending = MockImageRepository::new();
    pending
        .expect_find_by_key()
        .times(3)
        .returning(|_| Ok(Some(image(ImageStatus::Pending))));
    let pending = cached(pending);
    for _ in 0..3 {
        pending.find_by_key(&key).await.expect("read");
    }
}
