//! The S3 adapter against a real S3 implementation (Garage), and the CloudFront adapter
//! against moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use base64::Engine as _;
use domain::ports::Invalidator;
use domain::{ObjectKey, ObjectStore, PutConditions, StorageError};
use sha2::Digest as _;
use storage_s3::testing::{Garage, Moto};

fn conditions(len: Option<u64>, sha: Option<String>, ttl: Duration) -> PutConditions {
    PutConditions {
        content_type: Some("image/png".into()),
        content_length: len,
        checksum_sha256: sha,
        expires_in: ttl,
    }
}

async fn put(
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
    tweak: impl FnOnce(&mut Vec<(String, String)>),
) -> u16 {
    let mut headers = headers.to_vec();
    tweak(&mut headers);
    let mut req = reqwest::Client::new().put(url);
    for (k, v) in &headers {
        if !k.eq_ignore_ascii_case("content-length") {
            req = req.header(k, v);
        }
    }
    req.body(body).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn conformance() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    domain::testing::object_store(&garage.store().await).await;
}

#[tokio::test]
async fn the_store_itself_enforces_what_a_presigned_url_binds() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let store = garage.store().await;
    let body = b"\x89PNG\r\n\x1a\n not really".to_vec();
    let sha = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&body));
    let key = ObjectKey::parse("uploads/chat/bound.png").unwrap();
    let p = store
        .presign_put(
            &key,
            &conditions(
                Some(body.len() as u64),
                Some(sha.clone()),
                Duration::from_secs(300),
            ),
        )
        .await
        .unwrap();
    let names: Vec<String> = p
        .headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    assert!(names.contains(&"content-type".into()), "{names:?}");
    assert!(names.contains(&"x-amz-checksum-sha256".into()), "{names:?}");
    assert!(
        !names.iter().any(|n| n.contains("crc32")),
        "no SDK default checksum: {names:?}"
    );

    // Another type, another length, another checksum: refused, nothing stored.
    let status = put(&p.url, &p.headers, body.clone(), |h| {
        h.iter_mut()
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .for_each(|(_, v)| *v = "text/html".into());
    })
    .await;
    assert!((400..500).contains(&status), "wrong type: {status}");
    let mut longer = body.clone();
    longer.push(b'!');
    assert!(
        (400..500).contains(&put(&p.url, &p.headers, longer, |_| {}).await),
        "wrong length"
    );
    let mut other = body.clone();
    other[0] = b'X';
    assert!(
        (400..500).contains(&put(&p.url, &p.headers, other, |_| {}).await),
        "wrong checksum"
    );
    assert_eq!(
        store.head(&key).await.unwrap(),
        None,
        "refused bodies are not stored"
    );

    // A tampered signature.
    let tampered = p.url.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    assert!(
        (400..500).contains(&put(&tampered, &p.headers, body.clone(), |_| {}).await),
        "bad signature"
    );

    // The real thing.
    assert_eq!(put(&p.url, &p.headers, body.clone(), |_| {}).await, 200);
    assert_eq!(
        store.head(&key).await.unwrap().map(|m| m.size),
        Some(body.len() as u64)
    );

    // An expired URL.
    let late = ObjectKey::parse("uploads/chat/late.png").unwrap();
    let p = store
        .presign_put(&late, &conditions(None, None, Duration::from_secs(1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        (400..500).contains(&put(&p.url, &p.headers, body, |_| {}).await),
        "expired"
    );
    assert_eq!(store.head(&late).await.unwrap(), None);
}

#[tokio::test]
async fn lifecycle_rules_follow_the_retention_table() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let store = garage.store().await;
    let applied = store.apply_lifecycle().await.expect("apply");
    let mut got = store.lifecycle().await.expect("read back");
    got.sort();
    let mut want = applied.clone();
    want.sort();
    assert_eq!(got, want);
    assert!(want.contains(&("chat/".into(), 7)), "{want:?}");
    assert!(want.contains(&("scan/".into(), 30)), "{want:?}");
    assert!(want.contains(&("uploads/".into(), 1)), "{want:?}");
}

#[tokio::test]
async fn a_stopped_store_is_unavailable_within_the_timeout() {
    let Some(mut garage) = Garage::start().await else {
        return;
    };
    let store = garage.store().await;
    garage.stop();
    let key = ObjectKey::parse("chat/x.png").unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        store.head(&key).await,
        Err(StorageError::Unavailable(_))
    ));
    assert!(matches!(
        store.check().await,
        Err(StorageError::Unavailable(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "bounded: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn cloudfront_invalidations_reach_the_distribution() {
    let Some(moto) = Moto::start() else { return };
    let id = moto.distribution().await;
    let cf = storage_s3::CloudFront::new(
        &id,
        Some(&moto.endpoint),
        Some("test"),
        Some("test"),
        Duration::from_secs(5),
    )
    .await;
    cf.invalidate(
        "outbox-1-2-abc",
        vec!["/chat/a.png".into(), "/profiles/1/b.png".into()],
    )
    .await
    .expect("invalidated");

    assert_eq!(
        moto.invalidations(&id).await,
        vec![(
            "outbox-1-2-abc".to_owned(),
            vec!["/chat/a.png".to_owned(), "/profiles/1/b.png".to_owned()]
        )],
        "one batch, both paths, under the caller's reference"
    );

    // An unknown distribution is refused, not retried forever.
    let wrong = storage_s3::CloudFront::new(
        "NOPE",
        Some(&moto.endpoint),
        Some("test"),
        Some("test"),
        Duration::from_secs(5),
    )
    .await;
    assert!(wrong.invalidate("r", vec!["/x".into()]).await.is_err());
}

#[tokio::test]
async fn cloudfront_down_is_unavailable() {
    let cf = storage_s3::CloudFront::new(
        "E1",
        Some("http://127.0.0.1:9"),
        Some("k"),
        Some("s"),
        Duration::from_secs(2),
    )
    .await;
    assert!(matches!(
        cf.invalidate("r", vec!["/a".into()]).await,
        Err(StorageError::Unavailable(_))
    ));
}
