use super::*;
use futures_util::stream;

fn body(b: &'static [u8]) -> ByteStream {
    Box::pin(stream::iter(vec![Ok(Bytes::from_static(b))]))
}

#[tokio::test]
async fn conformance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path())
        .await
        .expect("open")
        .with_signer(UrlSigner::new("http://127.0.0.1:1", [3; 32]));
    domain::testing::object_store(&store).await;
}

#[tokio::test]
async fn checked_puts_enforce_length_and_checksum_while_streaming() {
    use sha2::Digest as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path()).await.expect("open");
    let key = ObjectKey::parse("uploads/x.png").expect("key");
    let sha: [u8; 32] = sha2::Sha256::digest(b"hello").into();
    let ok = BodyChecks {
        exact_len: Some(5),
        sha256: Some(sha),
    };
    store
        .put_checked(&key, body(b"hello"), "image/png", 100, &ok)
        .await
        .expect("matches");
    for (b, why) in [(&b"hellO"[..], "checksum"), (b"hell", "shorter")] {
        let r = store
            .put_checked(&key, body(b), "image/png", 100, &ok)
            .await;
        assert!(
            matches!(r, Err(StorageError::PreconditionFailed)),
            "{why}: {r:?}"
        );
    }
    let r = store
        .put_checked(&key, body(b"hello world"), "image/png", 100, &ok)
        .await;
    assert!(
        matches!(r, Err(StorageError::TooLarge { .. })),
        "longer: {r:?}"
    );
    assert_eq!(
        store.read_range(&key, 0, 100, None).await.expect("read"),
        Bytes::from_static(b"hello")
    );
}

#[tokio::test]
async fn every_file_stays_below_the_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path().join("store"))
        .await
        .expect("open");
    let key = ObjectKey::parse("a/b/c.png").expect("key");
    store
        .put(&key, body(b"x"), "image/png", 10)
        .await
        .expect("put");
    let path = store.path_of(&key);
    assert!(path.starts_with(dir.path().join("store").join("objects")));
    assert_eq!(std::fs::read(&path).expect("read"), b"x");
    // Nothing was written outside the store.
    let top: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(top, vec![std::ffi::OsString::from("store")]);
}

#[tokio::test]
async fn deleting_prunes_empty_directories_and_tmp_is_left_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path()).await.expect("open");
    let key = ObjectKey::parse("x/y/z.png").expect("key");
    store
        .put(&key, body(b"abc"), "image/png", 10)
        .await
        .expect("put");
    let _ = store
        .put(&key, body(b"far too long"), "image/png", 3)
        .await
        .expect_err("too large");
    // Bodies that fail after some of their bytes were written leave no file behind.
    let chunks = |items: Vec<io::Result<&'static [u8]>>| -> ByteStream {
        Box::pin(stream::iter(
            items.into_iter().map(|i| i.map(Bytes::from_static)),
        ))
    };
    let _ = store
        .put(&key, chunks(vec![Ok(b"ab"), Ok(b"cd")]), "image/png", 3)
        .await
        .expect_err("too large after the first chunk");
    let _ = store
        .put(
            &key,
            chunks(vec![Ok(b"ab"), Err(io::Error::other("reset"))]),
            "image/png",
            10,
        )
        .await
        .expect_err("interrupted after the first chunk");
    assert_eq!(
        std::fs::read(store.path_of(&key)).expect("read"),
        b"abc",
        "the object is as it was"
    );
    store.delete(&key).await.expect("delete");
    assert!(!dir.path().join("objects/x").exists());
    assert!(!dir.path().join("meta/x").exists());
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp"))
            .expect("tmp")
            .count(),
        0
    );
}

#[tokio::test]
async fn promoting_leaves_no_empty_staging_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path()).await.expect("open");
    let staged = ObjectKey::parse("uploads/a/b.png").expect("key");
    let meta = store
        .put(&staged, body(b"abc"), "image/png", 10)
        .await
        .expect("put");
    let key = ObjectKey::parse("a/b.png").expect("key");
    store
        .promote(&staged, &key, &meta.etag, "image/png")
        .await
        .expect("promote");
    assert!(!dir.path().join("objects/uploads").exists());
    assert!(!dir.path().join("meta/uploads").exists());
    assert!(dir.path().join("meta/a/b.png.json").exists());
}

#[tokio::test]
async fn listing_follows_byte_order_across_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path()).await.expect("open");
    for k in ["a/x.png", "a.png", "a-b.png", "a.b/y.png", "b.png"] {
        let key = ObjectKey::parse(k).expect("key");
        store
            .put(&key, body(b"1"), "image/png", 10)
            .await
            .expect("put");
    }
    let keys: Vec<String> = store
        .list(&KeyPrefix::root(), None, 100)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.key.to_string())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys.len(), 5);
    let after = ObjectKey::parse("a.png").expect("key");
    let rest: Vec<String> = store
        .list(&KeyPrefix::root(), Some(after), 100)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.key.to_string())
        .collect();
    assert_eq!(rest, vec!["a/x.png", "b.png"]);
}

#[tokio::test]
async fn a_missing_sidecar_still_gives_a_usable_head() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path()).await.expect("open");
    let key = ObjectKey::parse("k.png").expect("key");
    store
        .put(&key, body(b"abcd"), "image/png", 10)
        .await
        .expect("put");
    std::fs::remove_file(dir.path().join("meta/k.png.json")).expect("rm");
    let head = store.head(&key).await.expect("head").expect("exists");
    assert_eq!(head.size, 4);
    assert!(!head.etag.is_empty());
    assert_eq!(head.content_type, None);
}

#[tokio::test]
async fn a_missing_root_is_unavailable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path().join("s")).await.expect("open");
    std::fs::remove_dir_all(dir.path().join("s")).expect("rm");
    assert!(matches!(
        store.check().await,
        Err(StorageError::Unavailable(_))
    ));
}
