//! The image state machine and every verification rule, with mocked ports.

// A scenario test reads top to bottom; it is not split to fit a length.
#![allow(clippy::too_many_lines)]

use std::sync::Arc;

use bytes::Bytes;
use mockall::predicate::*;
use time::macros::datetime;

use super::*;
use crate::account::AccountId;
use crate::account::{Account, Roles};
use crate::audit::{AuditAction, AuditOutcome, AuditTarget, RequestId};
use crate::image::ImageId;
use crate::image::{ImageStatus, ImageType, InsertImageError, staging_key, staging_prefix};
use crate::ports::MockAccountRepository;
use crate::ports::MockClock;
use crate::ports::MockImageProcessor;
use crate::ports::MockObjectStore;
use crate::ports::Repositories;
use crate::ports::{MockCdn, MockImageRepository};
use crate::processing::{Body, DecodeCost, INSPECT_HEAD_LEN, InspectError, Inspection};
use crate::processing::{ProcessError, Processed, Rendition, VariantName};
use crate::storage::StorageError;
use crate::storage::{ObjectMeta, PresignedPut};
use crate::upload::UploadSpec;
use base64::engine::general_purpose::STANDARD;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);
const ME: AccountId = AccountId::new(42);

fn me() -> Actor {
    Actor::Account {
        id: ME,
        roles: Roles::user(),
    }
}

fn someone_else() -> Actor {
    Actor::Account {
        id: AccountId::new(7),
        roles: Roles::user(),
    }
}

fn staff() -> Actor {
    Actor::Account {
        id: AccountId::new(8),
        roles: Roles::from_iter([crate::account::Role::Staff]),
    }
}

fn clock() -> Arc<dyn Clock> {
    let mut c = MockClock::new();
    c.expect_now().return_const(NOW);
    Arc::new(c)
}

fn cdn() -> MockCdn {
    let mut c = MockCdn::new();
    c.expect_public_url()
        .returning(|k| format!("https://cdn.example.com/{k}"));
    c
}

fn key() -> ObjectKey {
    ObjectKey::parse("chat/2026/11/23/42/abc.png").expect("key")
}

fn image(status: ImageStatus, channel: Channel) -> Image {
    Image {
        id: ImageId::new(1),
        key: if channel == Channel::Profile {
            ObjectKey::parse("profiles/42/new.png").expect("key")
        } else {
            key()
        },
        channel,
        status,
        uploader: ME,
        content_type: Some(ImageType::Png),
        declared_length: None,
        size: None,
        etag: None,
        width: None,
        height: None,
        metadata: serde_json::Map::new(),
        original_filename: None,
        checksum_sha256: None,
        created_at: NOW,
        confirmed_at: None,
        expires_at: Some(NOW + Duration::minutes(15)),
        private: false,
        variants: Vec::new(),
        blurhash: None,
    }
}

fn meta(key: &ObjectKey, size: u64, etag: &str) -> ObjectMeta {
    ObjectMeta {
        key: key.clone(),
        size,
        etag: etag.into(),
        content_type: Some("image/png".into()),
        last_modified: NOW - Duration::hours(2),
    }
}

fn service(
    repo: MockImageRepository,
    store: MockObjectStore,
    cdn: MockCdn,
    accounts: MockAccountRepository,
) -> Images {
    let mut audit = crate::ports::MockAuditLog::new();
    audit.expect_record().returning(|_| Ok(()));
    audited(repo, store, cdn, accounts, audit)
}

fn audited(
    repo: MockImageRepository,
    store: MockObjectStore,
    cdn: MockCdn,
    accounts: MockAccountRepository,
    audit: crate::ports::MockAuditLog,
) -> Images {
    processed(repo, store, cdn, accounts, audit, unchanged())
}

/// A 1×1 PNG (complete file).
const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// The inspection the imaging adapter reports, for the PNGs these tests store: the type,
/// IHDR's dimensions and, for a whole file, whether IEND ends it. Anything else is no
/// image. (The adapter's own tests prove the real inspector.)
fn inspect_png(bytes: &[u8], size: u64) -> Result<Inspection, InspectError> {
    let be32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (true, Some(width), Some(height)) =
        (bytes.starts_with(b"\x89PNG\r\n\x1a\n"), be32(16), be32(20))
    else {
        return Err(InspectError::NotAnImage(
            "not a PNG, JPEG, WebP or GIF image".into(),
        ));
    };
    let area = u64::from(width) * u64::from(height);
    let body = match bytes.len() as u64 >= size {
        false => Body::NotRead,
        true if bytes.ends_with(b"IEND\xAE\x42\x60\x82") => Body::Sound {
            largest_frame: area,
        },
        true => Body::Broken("the PNG file does not end where its format says".into()),
    };
    Ok(Inspection {
        kind: ImageType::Png,
        width,
        height,
        cost: DecodeCost {
            frames: 1,
            scans: 0,
            work: area,
        },
        body,
    })
}

/// A processor that inspects as the adapter does ([`inspect_png`]) and processes nothing
/// until told how.
fn processor() -> MockImageProcessor {
    let mut p = MockImageProcessor::new();
    p.expect_inspect().returning(inspect_png);
    p
}

/// A processor that publishes what it is given, as it is, with no variants.
fn unchanged() -> MockImageProcessor {
    let mut p = processor();
    p.expect_process().returning(|bytes, _, _, _, _| {
        Ok(Processed {
            published: bytes,
            stripped: false,
            width: 1,
            height: 1,
            renditions: Vec::new(),
            blurhash: "00TSUA".into(),
        })
    });
    p
}

fn processed(
    repo: MockImageRepository,
    store: MockObjectStore,
    cdn: MockCdn,
    accounts: MockAccountRepository,
    audit: crate::ports::MockAuditLog,
    processor: MockImageProcessor,
) -> Images {
    let mut signer = crate::ports::MockReadSigner::new();
    signer.expect_signed_url().returning(|k, until| {
        Ok(format!(
            "https://cdn.example/{k}?until={}",
            until.unix_timestamp()
        ))
    });
    Images::new(
        &Repositories {
            images: Arc::new(repo),
            accounts: Arc::new(accounts),
            audit: Arc::new(audit),
            ..Repositories::unused()
        },
        Media {
            store: Arc::new(store),
            processor: Arc::new(processor),
        },
        Delivery {
            cdn: Arc::new(cdn),
            signer: Arc::new(signer),
        },
        clock(),
        ImagePolicy::default(),
    )
}

/// A checked request for a PNG (the edge's checks are `input::upload`'s tests).
fn spec() -> UploadSpec {
    UploadSpec {
        filename: Some("receipt.png".into()),
        kind: Some(ImageType::Png),
        ..UploadSpec::default()
    }
}

// ---- issue ----------------------------------------------------------------------------

#[tokio::test]
async fn issuing_writes_a_pending_record_and_presigns_the_staging_key() {
    let mut repo = MockImageRepository::new();
    repo.expect_insert_within()
        .withf(|n, limits| {
            *limits == UploadLimits::default()
                && n.channel == Channel::Chat
                && n.uploader == ME
                && n.key.as_str().starts_with("chat/2026/11/23/42/")
                && n.key.as_str().ends_with(".png")
                && n.expires_at == NOW + Duration::seconds(900)
                && n.declared_length == Some(1234)
                && n.metadata.get("channel") == Some(&serde_json::json!("chat"))
                && n.metadata.get("message_id") == Some(&serde_json::json!("m-1"))
        })
        .times(1)
        .returning(|n, _| {
            let mut i = image(ImageStatus::Pending, n.channel);
            i.key = n.key;
            Ok(i)
        });
    let mut store = MockObjectStore::new();
    store
        .expect_presign_put()
        .withf(|k, c| {
            k.as_str().starts_with("uploads/chat/")
                && c.content_type.as_deref() == Some("image/png")
                && c.content_length == Some(1234)
                && c.expires_in.as_secs() == 300
        })
        .times(1)
        .returning(|_, _| {
            Ok(PresignedPut {
                url: "https://s3/put".into(),
                headers: vec![("Content-Type".into(), "image/png".into())],
            })
        });
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    let req = UploadSpec {
        content_length: Some(1234),
        metadata: serde_json::json!({"message_id": "m-1"})
            .as_object()
            .cloned()
            .expect("object"),
        ..spec()
    };
    let issued = svc.issue(ME, Channel::Chat, &req).await.expect("issued");
    assert_eq!(issued.upload_url, "https://s3/put");
    assert_eq!(issued.expires_in, 300);
    assert!(
        issued.cdn_url.starts_with("https://cdn.example.com/chat/"),
        "the CDN URL names the final key"
    );
    assert!(!issued.cdn_url.contains("uploads/"));
}

#[tokio::test]
async fn a_spec_presigns_its_type_and_checksum() {
    let mut repo = MockImageRepository::new();
    repo.expect_insert_within()
        .withf(|n, _| n.content_type == Some(ImageType::Jpeg) && n.key.as_str().ends_with(".jpg"))
        .returning(|n, _| {
            let mut i = image(ImageStatus::Pending, n.channel);
            i.key = n.key;
            Ok(i)
        });
    let expected = STANDARD.encode([0xAAu8; 32]);
    let checksum = expected.clone();
    let mut store = MockObjectStore::new();
    store
        .expect_presign_put()
        .withf(move |_, c| {
            c.content_type.as_deref() == Some("image/jpeg")
                && c.checksum_sha256.as_deref() == Some(expected.as_str())
        })
        .returning(|_, _| {
            Ok(PresignedPut {
                url: "u".into(),
                headers: vec![],
            })
        });
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    let req = UploadSpec {
        filename: Some("photo.JPEG".into()),
        kind: Some(ImageType::Jpeg),
        checksum: Some(checksum),
        ..UploadSpec::default()
    };
    svc.issue(ME, Channel::Scan, &req).await.expect("issued");
}

#[tokio::test]
async fn a_failed_presign_leaves_no_pending_record() {
    let mut repo = MockImageRepository::new();
    repo.expect_insert_within().returning(|n, _| {
        let mut i = image(ImageStatus::Pending, n.channel);
        i.key = n.key;
        Ok(i)
    });
    repo.expect_transition()
        .with(
            eq(ImageId::new(1)),
            eq(ImageStatus::Pending),
            eq(ImageStatus::Rejected),
            eq(NOW),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    let mut store = MockObjectStore::new();
    store
        .expect_presign_put()
        .returning(|_, _| Err(StorageError::Unavailable("down".into())));
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    assert!(matches!(
        svc.issue(ME, Channel::Chat, &spec()).await,
        Err(ImageError::StorageUnavailable(_))
    ));
}

// ---- confirm --------------------------------------------------------------------------

fn repo_with(img: Image) -> MockImageRepository {
    let mut repo = MockImageRepository::new();
    repo.expect_find_by_key()
        .returning(move |_| Ok(Some(img.clone())));
    repo
}

#[tokio::test]
async fn confirming_checks_channel_and_uploader_and_is_idempotent() {
    let svc = service(
        repo_with(image(ImageStatus::Pending, Channel::Chat)),
        MockObjectStore::new(),
        cdn(),
        MockAccountRepository::new(),
    );
    let key = key();
    assert!(matches!(
        svc.confirm(&me(), Channel::Scan, &key, &Confirmation::default())
            .await,
        Err(ImageError::ChannelMismatch)
    ));
    for channel in [Channel::Chat, Channel::Scan] {
        assert!(matches!(
            svc.confirm(&someone_else(), channel, &key, &Confirmation::default())
                .await,
            Err(ImageError::NotFound)
        ));
    }

    // A ready image confirms again without touching the store.
    let mut ready = image(ImageStatus::Ready, Channel::Chat);
    ready.size = Some(10);
    let mut store = MockObjectStore::new();
    store.expect_read_head().never();
    let svc = service(
        repo_with(ready.clone()),
        store,
        cdn(),
        MockAccountRepository::new(),
    );
    assert_eq!(
        svc.confirm(&me(), Channel::Chat, &key, &Confirmation::default())
            .await
            .expect("ready"),
        ready
    );
    // An expired one is gone.
    let svc = service(
        repo_with(image(ImageStatus::Expired, Channel::Chat)),
        MockObjectStore::new(),
        cdn(),
        MockAccountRepository::new(),
    );
    assert!(matches!(
        svc.confirm(&me(), Channel::Chat, &key, &Confirmation::default())
            .await,
        Err(ImageError::NotFound)
    ));
}

#[tokio::test]
async fn nothing_uploaded_yet_keeps_the_upload_pending() {
    let mut repo = repo_with(image(ImageStatus::Pending, Channel::Chat));
    repo.expect_transition().never();
    let mut store = MockObjectStore::new();
    store.expect_read_head().returning(|_, _| Ok(None));
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    assert!(matches!(
        svc.confirm(&me(), Channel::Chat, &key(), &Confirmation::default())
            .await,
        Err(ImageError::NotUploaded)
    ));
}

/// A store holding `bytes` at the staging key with etag "e1".
fn staged_store(bytes: &'static [u8]) -> MockObjectStore {
    let mut store = MockObjectStore::new();
    let size = bytes.len() as u64;
    // Metadata and the first bytes in one read; the files here are shorter than the sniff
    // window, so nothing else is read.
    store
        .expect_read_head()
        .withf(|_, len| *len == INSPECT_HEAD_LEN)
        .returning(move |k, _| {
            Ok(k.as_str()
                .starts_with("uploads/")
                .then(|| (meta(k, size, "e1"), Bytes::from_static(bytes))))
        });
    store.expect_read_range().never();
    store
}

fn expect_rejection(repo: &mut MockImageRepository, store: &mut MockObjectStore) {
    repo.expect_transition()
        .with(
            eq(ImageId::new(1)),
            eq(ImageStatus::Pending),
            eq(ImageStatus::Rejected),
            eq(NOW),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    repo.expect_mark_ready().never();
    // What the record names goes: the staged key and the final one (empty here).
    store
        .expect_delete()
        .withf(|k| k == &staging_key(&key()) || k == &key())
        .times(2)
        .returning(|_| Ok(()));
    repo.expect_mark_objects_removed()
        .with(eq(ImageId::new(1)), eq(NOW))
        .times(1)
        .returning(|_, _| Ok(true));
    store.expect_promote().never();
}

async fn confirm_rejected(img: Image, bytes: &'static [u8], c: Confirmation) -> String {
    let mut repo = repo_with(img);
    let mut store = staged_store(bytes);
    expect_rejection(&mut repo, &mut store);
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    match svc.confirm(&me(), Channel::Chat, &key(), &c).await {
        Err(ImageError::Rejected(reason)) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn markup_declared_as_png_is_rejected_and_deleted() {
    let pending = image(ImageStatus::Pending, Channel::Chat);
    let reason = confirm_rejected(
        pending.clone(),
        b"<html><script>alert(1)</script></html>",
        Confirmation::default(),
    )
    .await;
    assert!(reason.contains("not a PNG"), "{reason}");
    let reason = confirm_rejected(
        pending,
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        Confirmation::default(),
    )
    .await;
    assert!(reason.contains("not a PNG"), "{reason}");
}

#[tokio::test]
async fn a_different_real_type_than_declared_is_rejected() {
    let mut pending = image(ImageStatus::Pending, Channel::Chat);
    pending.content_type = Some(ImageType::Jpeg);
    let reason = confirm_rejected(pending, PNG_1X1, Confirmation::default()).await;
    assert!(reason.contains("declared image/jpeg"), "{reason}");
}

#[tokio::test]
async fn lengths_and_etags_must_match_what_is_stored() {
    let mut declared = image(ImageStatus::Pending, Channel::Chat);
    declared.declared_length = Some(999);
    let reason = confirm_rejected(declared, PNG_1X1, Confirmation::default()).await;
    assert!(reason.contains("999 declared"), "{reason}");
    let reported = Confirmation {
        content_length: Some(5),
        ..Confirmation::default()
    };
    let reason = confirm_rejected(
        image(ImageStatus::Pending, Channel::Chat),
        PNG_1X1,
        reported,
    )
    .await;
    assert!(reason.contains("5 reported"), "{reason}");
    let etag = Confirmation {
        etag: Some("\"other\"".into()),
        ..Confirmation::default()
    };
    let reason = confirm_rejected(image(ImageStatus::Pending, Channel::Chat), PNG_1X1, etag).await;
    assert!(reason.contains("ETag"), "{reason}");
}

#[tokio::test]
async fn decompression_bombs_are_rejected_by_pixel_area() {
    // A valid PNG header claiming 20000×20000 in a tiny file.
    static BOMB: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x4e\x20\x00\x00\x4e\x20\x08\x06\x00\x00\x00";
    let reason = confirm_rejected(
        image(ImageStatus::Pending, Channel::Chat),
        BOMB,
        Confirmation::default(),
    )
    .await;
    assert!(reason.contains("20000×20000"), "{reason}");
}

#[tokio::test]
async fn a_large_object_cut_short_is_read_twice_and_rejected() {
    // 1 MB: the first bytes are a real PNG header; the whole, read once in a turn and of
    // the version whose head was read, lacks IEND (cut short): rejected. Two reads in
    // all: the head, then the whole.
    const SIZE: u64 = 1024 * 1024;
    let mut repo = repo_with(image(ImageStatus::Pending, Channel::Chat));
    let mut store = MockObjectStore::new();
    store
        .expect_read_head()
        .withf(|_, len| *len == INSPECT_HEAD_LEN)
        .times(1)
        .returning(|k, _| {
            Ok(Some((
                meta(k, SIZE, "e1"),
                Bytes::from_static(&PNG_1X1[..33]),
            )))
        });
    store
        .expect_read_range()
        // Of the version whose head was read.
        .withf(|k, off, len, if_match| {
            k.as_str().starts_with("uploads/")
                && *off == 0
                && *len == SIZE
                && if_match.as_deref() == Some("e1")
        })
        .times(1)
        .returning(|_, _, _, _| {
            let mut cut = PNG_1X1[..33].to_vec();
            cut.resize(usize::try_from(SIZE).unwrap(), 0);
            Ok(Bytes::from(cut))
        });
    expect_rejection(&mut repo, &mut store);
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    assert!(matches!(
        svc.confirm(
            &me(),
            Channel::Chat,
            &key(),
            &Confirmation::default()
        )
        .await,
        Err(ImageError::Rejected(reason)) if reason.contains("does not end")
    ));
}

#[tokio::test]
async fn a_larger_object_than_allowed_is_rejected_without_being_read() {
    let mut repo = repo_with(image(ImageStatus::Pending, Channel::Chat));
    let mut store = MockObjectStore::new();
    // Only the first bytes are ever read, never the rest of it.
    store.expect_read_head().returning(|k, _| {
        Ok(Some((
            meta(k, 10 * 1024 * 1024 + 1, "e1"),
            Bytes::from_static(PNG_1X1),
        )))
    });
    store.expect_read_range().never();
    expect_rejection(&mut repo, &mut store);
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    assert!(matches!(
        svc.confirm(&me(), Channel::Chat, &key(), &Confirmation::default())
            .await,
        Err(ImageError::Rejected(_))
    ));
}

#[tokio::test]
async fn verified_bytes_are_promoted_on_their_etag_and_marked_ready() {
    let mut repo = MockImageRepository::new();
    let mut after = image(ImageStatus::Ready, Channel::Chat);
    after.size = Some(PNG_1X1.len() as u64);
    // One read: the answer is the record the update returned.
    repo.expect_find_by_key()
        .times(1)
        .returning(|_| Ok(Some(image(ImageStatus::Pending, Channel::Chat))));
    let answer = after.clone();
    repo.expect_mark_ready()
        .withf(|id, r, _| {
            *id == ImageId::new(1)
                && r.width == 1
                && r.height == 1
                && r.etag == "e2"
                && r.expires_at == Some(NOW + Duration::days(7))
        })
        .times(1)
        .returning(move |_, _, _| Ok(Some(answer.clone())));
    let mut store = staged_store(PNG_1X1);
    store
        .expect_promote()
        .withf(|from, to, etag, content_type| {
            content_type == "image/png"
                && from.as_str() == "uploads/chat/2026/11/23/42/abc.png"
                && *to == key()
                && etag == "e1"
        })
        .times(1)
        .returning(|_, to, _, _| Ok(meta(to, PNG_1X1.len() as u64, "e2")));
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    let c = Confirmation {
        etag: Some("\"e1\"".into()),
        content_length: Some(PNG_1X1.len() as u64),
        checksum: None,
    };
    let got = svc
        .confirm(&me(), Channel::Chat, &key(), &c)
        .await
        .expect("ready");
    assert_eq!(got, after);
}

#[tokio::test]
async fn bytes_swapped_after_verification_are_never_promoted() {
    let mut repo = repo_with(image(ImageStatus::Pending, Channel::Chat));
    repo.expect_transition()
        .with(
            always(),
            eq(ImageStatus::Pending),
            eq(ImageStatus::Rejected),
            always(),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    repo.expect_mark_ready().never();
    let mut store = staged_store(PNG_1X1);
    store
        .expect_promote()
        .returning(|_, _, _, _| Err(StorageError::PreconditionFailed));
    store.expect_delete().times(2).returning(|_| Ok(()));
    repo.expect_mark_objects_removed()
        .times(1)
        .returning(|_, _| Ok(true));
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    assert!(matches!(
        svc.confirm(&me(), Channel::Chat, &key(), &Confirmation::default()).await,
        Err(ImageError::Rejected(r)) if r.contains("changed")
    ));
}

#[tokio::test]
async fn an_unreachable_store_changes_nothing() {
    let mut repo = repo_with(image(ImageStatus::Pending, Channel::Chat));
    repo.expect_transition().never();
    repo.expect_mark_ready().never();
    let mut store = MockObjectStore::new();
    store
        .expect_read_head()
        .returning(|_, _| Err(StorageError::Unavailable("timeout".into())));
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    assert!(matches!(
        svc.confirm(&me(), Channel::Chat, &key(), &Confirmation::default())
            .await,
        Err(ImageError::StorageUnavailable(_))
    ));
}

#[tokio::test]
async fn a_confirmed_profile_image_replaces_the_old_avatar() {
    let old_key = ObjectKey::parse("profiles/42/old.png").expect("key");
    let mut repo = MockImageRepository::new();
    let pending = image(ImageStatus::Pending, Channel::Profile);
    let mut old = image(ImageStatus::Ready, Channel::Profile);
    old.id = ImageId::new(9);
    old.key = old_key.clone();
    let new_key = pending.key.clone();
    let mut ready = pending.clone();
    ready.status = ImageStatus::Ready;
    let marked = ready.clone();
    // The account's ready profile images, oldest first: the old avatar, then the new one.
    let (old_listed, new_listed) = (old.clone(), ready.clone());
    repo.expect_list()
        .withf(|f, _| {
            f.channel == Some(Channel::Profile)
                && f.status == Some(ImageStatus::Ready)
                && f.uploader == Some(ME)
        })
        .returning(move |_, _| Ok(vec![old_listed.clone(), new_listed.clone()]));
    let mut calls = 0;
    repo.expect_find_by_key().returning(move |k| {
        if k.as_str().ends_with("old.png") {
            return Ok(Some(old.clone()));
        }
        calls += 1;
        Ok(Some(if calls == 1 {
            pending.clone()
        } else {
            ready.clone()
        }))
    });
    repo.expect_mark_ready()
        .returning(move |_, _, _| Ok(Some(marked.clone())));
    repo.expect_mark_deleted()
        .with(
            eq(ImageId::new(9)),
            eq(ImageStatus::Ready),
            eq(NOW),
            eq(None),
            eq(vec![]),
        )
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    let mut store = staged_store(PNG_1X1);
    store
        .expect_promote()
        .returning(|_, to, _, _| Ok(meta(to, 67, "e2")));
    store
        .expect_delete()
        .withf(|k| {
            matches!(
                k.as_str(),
                "profiles/42/old.png" | "uploads/profiles/42/old.png"
            )
        })
        .times(2)
        .returning(|_| Ok(()));
    repo.expect_mark_objects_removed()
        .with(eq(ImageId::new(9)), eq(NOW))
        .times(1)
        .returning(|_, _| Ok(true));
    let mut cdn = cdn();
    cdn.expect_invalidate()
        .withf(|keys| keys.len() == 1 && keys[0].as_str() == "profiles/42/old.png")
        .times(1)
        .returning(|_| Ok(()));
    let mut accounts = MockAccountRepository::new();
    let old_key2 = old_key.clone();
    accounts.expect_find_by_id().returning(move |id| {
        Ok(Some(Account {
            profile_image_key: Some(old_key2.clone()),
            ..Account::bare(id.get(), NOW)
        }))
    });
    let nk = new_key.clone();
    accounts
        .expect_update()
        .withf(move |id, u, _| *id == ME && u.profile_image_key == Some(Some(nk.clone())))
        .times(1)
        // Withdrawn meanwhile: the avatar switch is skipped, the old image still goes.
        .returning(|_, _, _| Err(crate::error::UpdateAccountError::NotFound));
    let svc = service(repo, store, cdn, accounts);
    svc.confirm(&me(), Channel::Profile, &new_key, &Confirmation::default())
        .await
        .expect("confirmed");
}

// ---- read and delete -------------------------------------------------------------------

#[tokio::test]
async fn other_users_images_do_not_exist_for_them() {
    let svc = service(
        repo_with(image(ImageStatus::Ready, Channel::Chat)),
        MockObjectStore::new(),
        cdn(),
        MockAccountRepository::new(),
    );
    let k = key();
    assert!(matches!(
        svc.metadata(&someone_else(), &k).await,
        Err(ImageError::NotFound)
    ));
    assert!(matches!(
        svc.delete(&someone_else(), &k, &RequestId::none()).await,
        Err(ImageError::NotFound)
    ));
    assert!(svc.metadata(&me(), &k).await.is_ok());
    assert!(svc.metadata(&staff(), &k).await.is_ok());
    // Services read every image and delete none.
    let service_actor = Actor::Service {
        name: "chat".into(),
    };
    assert!(svc.metadata(&service_actor, &k).await.is_ok());
    assert!(matches!(
        svc.delete(&service_actor, &k, &RequestId::none()).await,
        Err(ImageError::Forbidden)
    ));
    // A pending upload with no bytes yet has no metadata, even for its uploader; STAFF
    // reading it never confirms it.
    let mut store = MockObjectStore::new();
    store.expect_read_head().times(2).returning(|_, _| Ok(None));
    let svc = service(
        repo_with(image(ImageStatus::Pending, Channel::Chat)),
        store,
        cdn(),
        MockAccountRepository::new(),
    );
    assert!(matches!(
        svc.metadata(&me(), &k).await,
        Err(ImageError::NotFound)
    ));
    assert!(matches!(
        svc.metadata(&staff(), &k).await,
        Err(ImageError::NotFound)
    ));
}

#[tokio::test]
async fn deleting_removes_the_object_and_invalidates_the_cdn() {
    let mut repo = repo_with(image(ImageStatus::Ready, Channel::Chat));
    repo.expect_mark_deleted()
        .with(
            eq(ImageId::new(1)),
            eq(ImageStatus::Ready),
            eq(NOW),
            eq(None),
            eq(vec![]),
        )
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    let mut store = MockObjectStore::new();
    store.expect_check().returning(|| Ok(()));
    store
        .expect_delete()
        .withf(|k| k == &key() || k == &staging_key(&key()))
        .times(2)
        .returning(|_| Ok(()));
    repo.expect_mark_objects_removed()
        .times(1)
        .returning(|_, _| Ok(true));
    let mut cdn = cdn();
    cdn.expect_invalidate()
        .with(eq(vec![key()]))
        .times(1)
        .returning(|_| Ok(()));
    let svc = service(repo, store, cdn, MockAccountRepository::new());
    svc.delete(&me(), &key(), &RequestId::none())
        .await
        .expect("deleted");
}

#[tokio::test]
async fn staff_deleting_someone_elses_image_is_audited_with_the_deletion() {
    let mut repo = repo_with(image(ImageStatus::Ready, Channel::Chat));
    repo.expect_mark_deleted()
        .withf(|id, from, at, e, _| {
            let Some(e) = e else { return false };
            *id == ImageId::new(1)
                && *from == ImageStatus::Ready
                && *at == NOW
                && e.action == AuditAction::ImageDelete
                && e.target == AuditTarget::Image(key())
                && e.outcome == AuditOutcome::Done
                && e.request_id.as_deref() == Some("req-1")
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    repo.expect_mark_objects_removed()
        .returning(|_, _| Ok(true));
    let mut store = MockObjectStore::new();
    store.expect_check().returning(|| Ok(()));
    store.expect_delete().returning(|_| Ok(()));
    let mut cdn = cdn();
    cdn.expect_invalidate().returning(|_| Ok(()));
    let mut audit = crate::ports::MockAuditLog::new();
    audit.expect_record().never();
    let svc = audited(repo, store, cdn, MockAccountRepository::new(), audit);
    svc.delete(&staff(), &key(), &RequestId::new("req-1"))
        .await
        .expect("deleted");
}

#[tokio::test]
async fn refused_deletions_are_recorded_as_denied_and_change_nothing() {
    let mut repo = repo_with(image(ImageStatus::Ready, Channel::Chat));
    repo.expect_mark_deleted().never();
    let mut audit = crate::ports::MockAuditLog::new();
    audit
        .expect_record()
        .withf(|e| {
            e.action == AuditAction::ImageDelete
                && e.outcome == AuditOutcome::Denied
                && e.target == AuditTarget::Image(key())
        })
        .times(2)
        .returning(|_| Ok(()));
    let svc = audited(
        repo,
        MockObjectStore::new(),
        cdn(),
        MockAccountRepository::new(),
        audit,
    );
    let service_actor = Actor::Service {
        name: "chat".into(),
    };
    assert!(matches!(
        svc.delete(&someone_else(), &key(), &RequestId::none())
            .await,
        Err(ImageError::NotFound)
    ));
    assert!(matches!(
        svc.delete(&service_actor, &key(), &RequestId::none()).await,
        Err(ImageError::Forbidden)
    ));
}

#[tokio::test]
async fn deleting_while_the_store_is_down_changes_nothing() {
    let mut repo = repo_with(image(ImageStatus::Ready, Channel::Chat));
    repo.expect_transition().never();
    let mut store = MockObjectStore::new();
    store
        .expect_check()
        .returning(|| Err(StorageError::Unavailable("down".into())));
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    assert!(matches!(
        svc.delete(&staff(), &key(), &RequestId::none()).await,
        Err(ImageError::StorageUnavailable(_))
    ));
}

// ---- sweep ----------------------------------------------------------------------------

fn with_key(mut img: Image, id: i64, key: &str) -> Image {
    img.id = ImageId::new(id);
    img.key = ObjectKey::parse(key).expect("key");
    img
}

#[tokio::test]
async fn the_sweeper_deletes_only_what_records_name() {
    let mut repo = MockImageRepository::new();
    let expired_pending = image(ImageStatus::Pending, Channel::Chat);
    let old_chat = with_key(
        image(ImageStatus::Ready, Channel::Chat),
        2,
        "chat/2026/11/01/42/old.png",
    );
    let rejected = with_key(
        image(ImageStatus::Rejected, Channel::Chat),
        3,
        "chat/2026/11/02/42/bad.png",
    );
    let ready = with_key(
        image(ImageStatus::Ready, Channel::Chat),
        4,
        "chat/2026/11/23/42/live.png",
    );
    let huge = with_key(
        image(ImageStatus::Pending, Channel::Chat),
        5,
        "chat/2026/11/23/42/huge.png",
    );
    repo.expect_list().returning(move |f, _| {
        Ok(match f.status {
            Some(ImageStatus::Pending) => vec![expired_pending.clone()],
            Some(ImageStatus::Ready) => vec![old_chat.clone()],
            _ => vec![],
        })
    });
    for (id, from, to) in [
        (1, ImageStatus::Pending, ImageStatus::Expired),
        (5, ImageStatus::Pending, ImageStatus::Rejected),
    ] {
        repo.expect_transition()
            .with(eq(ImageId::new(id)), eq(from), eq(to), eq(NOW))
            .times(1)
            .returning(|_, _, _, _| Ok(true));
    }
    // Past retention: deleted as any image is.
    repo.expect_mark_deleted()
        .with(
            eq(ImageId::new(2)),
            eq(ImageStatus::Ready),
            eq(NOW),
            eq(None),
            eq(vec![]),
        )
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    // What the records say must go: the expired upload's and the rejected one's objects.
    let mut expired = image(ImageStatus::Expired, Channel::Chat);
    expired.id = ImageId::new(1);
    repo.expect_awaiting_removal()
        .returning(move |_| Ok(vec![expired.clone(), rejected.clone()]));
    for id in [1, 2, 3, 5] {
        repo.expect_mark_objects_removed()
            .with(eq(ImageId::new(id)), eq(NOW))
            .times(1)
            .returning(|_, _| Ok(true));
    }
    let (live, huge_key) = (ready.key.clone(), huge.key.clone());
    repo.expect_find_by_key().returning(move |k| {
        Ok(if k == &live {
            Some(ready.clone())
        } else if k == &huge_key {
            Some(huge.clone())
        } else {
            None
        })
    });
    let mut store = MockObjectStore::new();
    // Only the staging prefix is ever listed, never the whole store.
    store
        .expect_list()
        .withf(|prefix, _, _| prefix == &staging_prefix())
        .returning(|_, after, _| {
            if after.is_some() {
                return Ok(vec![]);
            }
            let staged = |k: &str, size: u64, age: Duration| {
                let mut m = meta(&ObjectKey::parse(k).expect("key"), size, "e");
                m.last_modified = NOW - age;
                m
            };
            Ok(vec![
                // A key in the service's own grammar that no record names.
                staged(
                    "uploads/chat/2025/11/27/9/legacy.png",
                    1,
                    Duration::days(400),
                ),
                // Not in the grammar at all.
                staged("uploads/x", 1, Duration::days(400)),
                // Bytes put again after the image became ready: past the grace, and within.
                staged("uploads/chat/2026/11/23/42/live.png", 1, Duration::hours(2)),
                // A pending upload larger than the limit goes at once.
                staged(
                    "uploads/chat/2026/11/23/42/huge.png",
                    u64::MAX,
                    Duration::seconds(1),
                ),
            ])
        });
    let named = [
        "uploads/chat/2026/11/23/42/abc.png",
        "chat/2026/11/23/42/abc.png",
        "uploads/chat/2026/11/01/42/old.png",
        "chat/2026/11/01/42/old.png",
        "uploads/chat/2026/11/02/42/bad.png",
        "chat/2026/11/02/42/bad.png",
        "uploads/chat/2026/11/23/42/live.png",
        "uploads/chat/2026/11/23/42/huge.png",
        "chat/2026/11/23/42/huge.png",
    ];
    for k in named {
        store
            .expect_delete()
            .withf(move |key| key.as_str() == k)
            .times(1)
            .returning(|_| Ok(()));
    }
    let mut cdn = cdn();
    cdn.expect_invalidate().times(1).returning(|_| Ok(()));
    let svc = service(repo, store, cdn, MockAccountRepository::new());
    let report = Sweeper::new(svc.clone()).sweep().await.expect("sweep");
    assert_eq!(
        report,
        SweepReport {
            expired: 1,
            retention_deleted: 1,
            objects_removed: 2,
            removals_failed: 0,
            staged_removed: 2,
        }
    );
}

#[tokio::test]
async fn a_failed_removal_is_retried_until_it_succeeds() {
    let mut repo = MockImageRepository::new();
    repo.expect_list().returning(|_, _| Ok(vec![]));
    let gone = image(ImageStatus::Deleted, Channel::Chat);
    repo.expect_awaiting_removal()
        .returning(move |_| Ok(vec![gone.clone()]));
    // Recorded only after the pass whose deletions all succeeded.
    repo.expect_mark_objects_removed()
        .times(1)
        .returning(|_, _| Ok(true));
    let mut store = MockObjectStore::new();
    store.expect_list().returning(|_, _, _| Ok(vec![]));
    let mut calls = 0;
    store.expect_delete().times(3).returning(move |_| {
        calls += 1;
        if calls == 1 {
            Err(StorageError::Unexpected("access denied".into()))
        } else {
            Ok(())
        }
    });
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    let first = Sweeper::new(svc.clone()).sweep().await.expect("sweep");
    assert_eq!((first.objects_removed, first.removals_failed), (0, 1));
    let second = Sweeper::new(svc.clone()).sweep().await.expect("sweep");
    assert_eq!((second.objects_removed, second.removals_failed), (1, 0));
}

#[tokio::test]
async fn a_rejection_never_deletes_an_image_that_became_ready_meanwhile() {
    // The staged object is gone and the final key holds bytes: a concurrent confirmation
    // promoted them. This one reads the final key, finds the type wrong (say), and loses
    // the race to record it: the image is ready, so nothing may be deleted.
    let mut repo = MockImageRepository::new();
    let pending = image(ImageStatus::Pending, Channel::Chat);
    let mut ready = pending.clone();
    ready.status = ImageStatus::Ready;
    let mut reads = 0;
    repo.expect_find_by_key().returning(move |_| {
        reads += 1;
        Ok(Some(if reads == 1 {
            pending.clone()
        } else {
            ready.clone()
        }))
    });
    repo.expect_transition()
        .with(
            always(),
            eq(ImageStatus::Pending),
            eq(ImageStatus::Rejected),
            always(),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(false));
    repo.expect_mark_objects_removed().never();
    let mut store = MockObjectStore::new();
    store.expect_read_head().returning(|k, _| {
        Ok((!k.as_str().starts_with("uploads/"))
            .then(|| (meta(k, 3, "e1"), Bytes::from_static(b"GIF"))))
    });
    store.expect_delete().never();
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    let got = svc
        .confirm(&me(), Channel::Chat, &key(), &Confirmation::default())
        .await
        .expect("the winner's decision");
    assert_eq!(got.status, ImageStatus::Ready);
}

#[tokio::test]
async fn only_the_account_issues_for_itself_and_only_it_or_an_admin_drops_its_avatar() {
    let mut repo = MockImageRepository::new();
    repo.expect_insert_within().never();
    let mut accounts = MockAccountRepository::new();
    accounts.expect_find_by_id().never();
    let svc = service(repo, MockObjectStore::new(), cdn(), accounts);
    assert!(matches!(
        svc.issue_for(&someone_else(), ME, Channel::Profile, &spec())
            .await,
        Err(ImageError::Forbidden)
    ));
    for actor in [someone_else(), staff()] {
        assert!(matches!(
            svc.delete_avatar(&actor, ME, &RequestId::none()).await,
            Err(ImageError::Forbidden)
        ));
    }
}

#[tokio::test]
async fn an_account_at_an_upload_limit_is_issued_nothing() {
    for limit in [
        UploadLimit::Pending(20),
        UploadLimit::PerHour(300),
        UploadLimit::Quota {
            bytes: 10,
            declared: true,
        },
    ] {
        let mut repo = MockImageRepository::new();
        repo.expect_insert_within()
            .times(1)
            .returning(move |_, _| Err(InsertImageError::Limit(limit)));
        let mut store = MockObjectStore::new();
        store.expect_presign_put().never();
        let svc = service(repo, store, cdn(), MockAccountRepository::new());
        match svc.issue(ME, Channel::Chat, &spec()).await {
            Err(ImageError::LimitExceeded(got)) => assert_eq!(got, limit),
            other => panic!("expected {limit:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_failed_avatar_switch_is_completed_by_a_retry_of_the_callback() {
    // Ready, but the account update failed: the account still shows the old avatar.
    let old_key = ObjectKey::parse("profiles/42/old.png").expect("key");
    let mut old = image(ImageStatus::Ready, Channel::Profile);
    old.id = ImageId::new(9);
    old.key = old_key.clone();
    let new = image(ImageStatus::Ready, Channel::Profile);
    let new_key = new.key.clone();
    let mut repo = MockImageRepository::new();
    let found = new.clone();
    repo.expect_find_by_key()
        .returning(move |_| Ok(Some(found.clone())));
    let listed = vec![old.clone(), new.clone()];
    repo.expect_list().returning(move |_, _| Ok(listed.clone()));
    repo.expect_mark_deleted()
        .with(
            eq(ImageId::new(9)),
            eq(ImageStatus::Ready),
            eq(NOW),
            eq(None),
            eq(vec![]),
        )
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    repo.expect_mark_objects_removed()
        .times(1)
        .returning(|_, _| Ok(true));
    let mut store = MockObjectStore::new();
    store
        .expect_delete()
        .withf(|k| k.as_str().ends_with("profiles/42/old.png"))
        .times(2)
        .returning(|_| Ok(()));
    let mut cdn = cdn();
    cdn.expect_invalidate().times(1).returning(|_| Ok(()));
    let mut accounts = MockAccountRepository::new();
    accounts.expect_find_by_id().returning(move |id| {
        Ok(Some(Account {
            profile_image_key: Some(old_key.clone()),
            ..Account::bare(id.get(), NOW)
        }))
    });
    accounts
        .expect_update()
        .withf(move |id, u, _| *id == ME && u.profile_image_key == Some(Some(new_key.clone())))
        .times(1)
        .returning(|id, _, _| Ok(Account::bare(id.get(), NOW)));
    let svc = service(repo, store, cdn, accounts);
    let got = svc
        .confirm(
            &me(),
            Channel::Profile,
            &ObjectKey::parse("profiles/42/new.png").expect("key"),
            &Confirmation::default(),
        )
        .await
        .expect("the retry answers the ready image");
    assert_eq!(got.status, ImageStatus::Ready);
}

#[tokio::test]
async fn a_confirmation_another_replica_is_finishing_answers_busy_without_deleting_anything() {
    // The staged object went between the head's read and the whole's (another replica's
    // confirmation promoted it) and the record is still pending: that one is still at
    // work. The answer is Busy with a time to come back, read once, and nothing is
    // rejected or deleted.
    const SIZE: u64 = 1024 * 1024;
    let mut repo = MockImageRepository::new();
    repo.expect_find_by_key()
        .times(2)
        .returning(|_| Ok(Some(image(ImageStatus::Pending, Channel::Chat))));
    repo.expect_transition().never();
    repo.expect_mark_ready().never();
    let mut store = MockObjectStore::new();
    store.expect_read_head().returning(|k, _| {
        Ok(Some((
            meta(k, SIZE, "e1"),
            Bytes::from_static(&PNG_1X1[..33]),
        )))
    });
    store
        .expect_read_range()
        .times(1)
        .returning(|_, _, _, _| Err(StorageError::NotFound));
    store.expect_delete().never();
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    assert!(matches!(
        svc.confirm(&me(), Channel::Chat, &key(), &Confirmation::default()).await,
        Err(ImageError::Busy { retry_after }) if retry_after.as_secs() >= 1
    ));
}

#[tokio::test]
async fn bytes_of_another_version_than_the_head_are_never_judged() {
    // The bytes were replaced between the head's read and the whole's: the second read
    // names the head's version (If-Match), the store refuses, and the upload is rejected
    // as changed, never judged by another version's bytes.
    const SIZE: u64 = 1024 * 1024;
    let mut repo = repo_with(image(ImageStatus::Pending, Channel::Chat));
    let mut store = MockObjectStore::new();
    store.expect_read_head().returning(|k, _| {
        Ok(Some((
            meta(k, SIZE, "e1"),
            Bytes::from_static(&PNG_1X1[..33]),
        )))
    });
    store
        .expect_read_range()
        .withf(|_, _, _, if_match| if_match.as_deref() == Some("e1"))
        .times(1)
        .returning(|_, _, _, _| Err(StorageError::PreconditionFailed));
    expect_rejection(&mut repo, &mut store);
    let svc = service(repo, store, cdn(), MockAccountRepository::new());
    assert!(matches!(
        svc.confirm(&me(), Channel::Chat, &key(), &Confirmation::default()).await,
        Err(ImageError::Rejected(r)) if r.contains("changed")
    ));
}

#[tokio::test]
async fn private_images_are_read_through_signed_urls_by_their_readers_only() {
    let mut img = image(ImageStatus::Ready, Channel::Report);
    img.private = true;
    let found = img.clone();
    let mut repo = MockImageRepository::new();
    repo.expect_find_by_key()
        .returning(move |_| Ok(Some(found.clone())));
    let svc = service(
        repo,
        MockObjectStore::new(),
        cdn(),
        MockAccountRepository::new(),
    );
    let until = NOW + svc.policy().private_url_ttl;
    for reader in [
        me(),
        staff(),
        Actor::Service {
            name: "chat".into(),
        },
    ] {
        let url = svc.read_url(&reader, &key()).await.expect("a reader");
        assert_eq!(url.expires_at, Some(until));
        assert!(
            url.url
                .ends_with(&format!("?until={}", until.unix_timestamp())),
            "{}",
            url.url
        );
    }
    assert!(matches!(
        svc.read_url(&someone_else(), &key()).await,
        Err(ImageError::NotFound)
    ));
    // A public image's URL is its CDN URL, which does not expire.
    img.private = false;
    assert_eq!(svc.url_of(&img).await.expect("url").expires_at, None);
    // A private channel's pending upload is answered a signed URL too.
    let pending = image(ImageStatus::Pending, Channel::Scan);
    assert!(
        svc.url_of(&pending)
            .await
            .expect("url")
            .expires_at
            .is_some()
    );
    let chat = image(ImageStatus::Pending, Channel::Chat);
    assert!(svc.url_of(&chat).await.expect("url").expires_at.is_none());
}

// ---- processing: publication, variants ------------------------------------------------

fn thumb_of(image: &ObjectKey) -> crate::image::Variant {
    let name = VariantName::parse("thumb").expect("name");
    crate::image::Variant {
        key: crate::processing::variant_key(image, &name),
        name: "thumb".into(),
        width: 320,
        height: 240,
        content_type: ImageType::Webp,
    }
}

/// A processor that strips the upload to `published` and renders a 320×240 thumb, for
/// an image displayed 480×640.
fn stripping(published: &'static [u8]) -> MockImageProcessor {
    let mut p = processor();
    p.expect_process()
        .withf(|bytes, kind, presets, max, deadline| {
            let within = ImagePolicy::default().processing.deadline;
            bytes.as_ref() == PNG_1X1
                && *kind == ImageType::Png
                && *presets == ImagePolicy::default().variants
                && *max == ImagePolicy::default().max_pixels
                && *deadline > std::time::Instant::now()
                && *deadline <= std::time::Instant::now() + within
        })
        .times(1)
        .returning(move |_, _, _, _, _| {
            Ok(Processed {
                published: Bytes::from_static(published),
                stripped: true,
                width: 480,
                height: 640,
                renditions: vec![Rendition {
                    name: VariantName::parse("thumb").expect("name"),
                    bytes: Bytes::from_static(b"RIFF-thumb"),
                    width: 320,
                    height: 240,
                }],
                blurhash: "LKO2?U%2Tw=w]~RBVZRi};RPxuwH".into(),
            })
        });
    p
}

#[tokio::test]
async fn the_stripped_bytes_are_published_after_the_variants_the_record_names_first() {
    let mut seq = mockall::Sequence::new();
    let mut repo = MockImageRepository::new();
    repo.expect_find_by_key()
        .returning(|_| Ok(Some(image(ImageStatus::Pending, Channel::Chat))));
    let mut store = staged_store(PNG_1X1);
    // 1. The record names the variant; 2. it is stored; 3. the image is published, never
    // the upload's own bytes; 4. the staged upload goes; 5. the record is ready.
    repo.expect_name_variants()
        .with(eq(ImageId::new(1)), eq(vec![thumb_of(&key())]))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(true));
    store
        .expect_put()
        .withf(|k, _, ct, _| *k == thumb_of(&key()).key && ct == "image/webp")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|k, _, _, _| Ok(meta(k, 10, "v1")));
    store
        .expect_put()
        .withf(|k, _, ct, max| *k == key() && ct == "image/png" && *max == 10 * 1024 * 1024)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|k, _, _, _| Ok(meta(k, 7, "clean")));
    store
        .expect_delete()
        .with(eq(staging_key(&key())))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    store.expect_promote().never();
    repo.expect_mark_ready()
        .withf(|_, r, _| {
            r.etag == "clean"
                && r.size == 7
                && (r.width, r.height) == (480, 640)
                && r.variants == vec![thumb_of(&key())]
                && r.blurhash == "LKO2?U%2Tw=w]~RBVZRi};RPxuwH"
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(Some(image(ImageStatus::Ready, Channel::Chat))));
    let mut audit = crate::ports::MockAuditLog::new();
    audit.expect_record().never();
    let svc = processed(
        repo,
        store,
        cdn(),
        MockAccountRepository::new(),
        audit,
        stripping(b"cleaned"),
    );
    svc.confirm(&me(), Channel::Chat, &key(), &Confirmation::default())
        .await
        .expect("ready");
}

#[tokio::test]
async fn bytes_that_do_not_decode_are_rejected_and_removed() {
    let mut repo = repo_with(image(ImageStatus::Pending, Channel::Chat));
    let mut store = staged_store(PNG_1X1);
    expect_rejection(&mut repo, &mut store);
    repo.expect_name_variants().never();
    store.expect_put().never();
    let mut processor = processor();
    processor.expect_process().returning(|_, _, _, _, _| {
        Err(ProcessError::Undecodable("the PNG does not decode".into()))
    });
    let svc = processed(
        repo,
        store,
        cdn(),
        MockAccountRepository::new(),
        crate::ports::MockAuditLog::new(),
        processor,
    );
    assert!(matches!(
        svc.confirm(&me(), Channel::Chat, &key(), &Confirmation::default()).await,
        Err(ImageError::Rejected(r)) if r.contains("does not decode")
    ));
}

#[tokio::test]
async fn a_failing_processor_publishes_nothing_and_rejects_nothing() {
    let mut repo = repo_with(image(ImageStatus::Pending, Channel::Chat));
    repo.expect_transition().never();
    repo.expect_mark_ready().never();
    let mut store = staged_store(PNG_1X1);
    store.expect_put().never();
    store.expect_promote().never();
    store.expect_delete().never();
    let mut processor = processor();
    processor
        .expect_process()
        .returning(|_, _, _, _, _| Err(ProcessError::Failed("encoder".into())));
    let svc = processed(
        repo,
        store,
        cdn(),
        MockAccountRepository::new(),
        crate::ports::MockAuditLog::new(),
        processor,
    );
    assert!(matches!(
        svc.confirm(&me(), Channel::Chat, &key(), &Confirmation::default())
            .await,
        Err(ImageError::Processing(_))
    ));
}

#[tokio::test]
async fn an_image_goes_with_its_variants_and_their_cdn_paths() {
    let mut ready = image(ImageStatus::Ready, Channel::Chat);
    ready.variants = vec![thumb_of(&key())];
    let mut repo = repo_with(ready);
    repo.expect_mark_deleted()
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    let mut store = MockObjectStore::new();
    store.expect_check().returning(|| Ok(()));
    let thumb = thumb_of(&key()).key;
    store
        .expect_delete()
        .withf(move |k| k == &key() || k == &staging_key(&key()) || *k == thumb)
        .times(3)
        .returning(|_| Ok(()));
    repo.expect_mark_objects_removed()
        .times(1)
        .returning(|_, _| Ok(true));
    let mut cdn = cdn();
    cdn.expect_invalidate()
        .with(eq(vec![key(), thumb_of(&key()).key]))
        .times(1)
        .returning(|_| Ok(()));
    let svc = service(repo, store, cdn, MockAccountRepository::new());
    svc.delete(&me(), &key(), &RequestId::none())
        .await
        .expect("deleted");
}

#[tokio::test]
async fn a_private_images_variants_are_signed_to_expire_with_it() {
    let mut ready = image(ImageStatus::Ready, Channel::Report);
    ready.private = true;
    ready.variants = vec![thumb_of(&key())];
    ready.blurhash = Some("L00000fQfQfQfQfQfQfQfQfQfQfQ".into());
    let svc = service(
        repo_with(ready.clone()),
        MockObjectStore::new(),
        cdn(),
        MockAccountRepository::new(),
    );
    let view = svc.view(&ready).await.expect("view");
    let until = NOW + ImagePolicy::default().private_url_ttl;
    assert_eq!(view.url.expires_at, Some(until));
    assert_eq!(view.variants.len(), 1);
    let thumb = &view.variants[0];
    assert_eq!(
        thumb.url.url,
        format!(
            "https://cdn.example/{}?until={}",
            thumb_of(&key()).key,
            until.unix_timestamp()
        )
    );
    assert_eq!(thumb.url.expires_at, Some(until));
    assert_eq!((thumb.width, thumb.height), (320, 240));
    assert_eq!(view.blurhash, ready.blurhash);
    // The local store's `/cdn` asks by the variant's key: its image answers.
    assert!(svc.is_private(&thumb_of(&key()).key).await.expect("asked"));

    // A public image's variants are public URLs that do not expire.
    ready.private = false;
    let view = svc.view(&ready).await.expect("view");
    assert_eq!(
        view.variants[0].url,
        ImageUrl {
            url: format!("https://cdn.example.com/{}", thumb_of(&key()).key),
            expires_at: None
        }
    );
}

#[tokio::test]
async fn the_cdn_is_told_after_the_objects_are_gone() {
    let mut seq = mockall::Sequence::new();
    let mut repo = repo_with(image(ImageStatus::Ready, Channel::Chat));
    repo.expect_mark_deleted()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _, _| Ok(true));
    let mut store = MockObjectStore::new();
    store.expect_check().returning(|| Ok(()));
    store
        .expect_delete()
        .times(2)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    let mut cdn = cdn();
    cdn.expect_invalidate()
        .with(eq(vec![key()]))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    repo.expect_mark_objects_removed()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(true));
    let svc = service(repo, store, cdn, MockAccountRepository::new());
    svc.delete(&me(), &key(), &RequestId::none())
        .await
        .expect("deleted");
}

#[tokio::test]
async fn a_removal_the_sweeper_retries_tells_the_cdn_again() {
    let mut repo = MockImageRepository::new();
    repo.expect_list().returning(|_, _| Ok(vec![]));
    // Deleted after it was published; its first purge failed.
    let gone = Image {
        confirmed_at: Some(NOW),
        ..image(ImageStatus::Deleted, Channel::Chat)
    };
    repo.expect_awaiting_removal()
        .returning(move |_| Ok(vec![gone.clone()]));
    repo.expect_mark_objects_removed()
        .times(1)
        .returning(|_, _| Ok(true));
    let mut store = MockObjectStore::new();
    store.expect_list().returning(|_, _, _| Ok(vec![]));
    store.expect_delete().returning(|_| Ok(()));
    let mut cdn = cdn();
    cdn.expect_invalidate()
        .with(eq(vec![key()]))
        .times(1)
        .returning(|_| Ok(()));
    let svc = service(repo, store, cdn, MockAccountRepository::new());
    let swept = Sweeper::new(svc).sweep().await.expect("sweep");
    assert_eq!(swept.objects_removed, 1);
}

/// The race forced: the upload is deleted while its confirmation publishes (the deletion
/// purged the record as it read it, before any variant was stored). The confirmation,
/// finding the record no longer pending, removes what it stored, as the record now
/// names it.
#[tokio::test]
async fn a_confirmation_that_loses_to_a_deletion_removes_what_it_published() {
    let mut repo = MockImageRepository::new();
    let mut reads = 0;
    repo.expect_find_by_key().returning(move |_| {
        reads += 1;
        Ok(Some(if reads == 1 {
            image(ImageStatus::Pending, Channel::Chat)
        } else {
            Image {
                variants: vec![thumb_of(&key())],
                ..image(ImageStatus::Deleted, Channel::Chat)
            }
        }))
    });
    repo.expect_name_variants().returning(|_, _| Ok(true));
    repo.expect_mark_ready().returning(|_, _, _| Ok(None));
    repo.expect_mark_objects_removed()
        .times(1)
        .returning(|_, _| Ok(true));
    let mut store = staged_store(PNG_1X1);
    store
        .expect_put()
        .returning(|k, _, _, _| Ok(meta(k, 7, "v")));
    let deleted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&deleted);
    store.expect_delete().returning(move |k| {
        seen.lock().unwrap().push(k.clone());
        Ok(())
    });
    let mut audit = crate::ports::MockAuditLog::new();
    audit.expect_record().never();
    let svc = processed(
        repo,
        store,
        cdn(),
        MockAccountRepository::new(),
        audit,
        stripping(b"cleaned"),
    );
    assert!(matches!(
        svc.confirm(&me(), Channel::Chat, &key(), &Confirmation::default())
            .await,
        Err(ImageError::NotFound)
    ));
    let deleted = deleted.lock().unwrap();
    for k in [key(), thumb_of(&key()).key] {
        assert!(deleted.contains(&k), "{k} left: {deleted:?}");
    }
}
