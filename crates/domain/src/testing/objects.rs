//! The object store: put, head, ranged reads, replacing, limits, listing, promoting,
//! presigned PUTs, deleting.

use super::*;

fn body(chunks: &[&[u8]]) -> ByteStream {
    let items: Vec<Result<Bytes, std::io::Error>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(stream::iter(items))
}

fn failing_body() -> ByteStream {
    Box::pin(stream::iter(vec![
        Ok(Bytes::from_static(b"partial")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ]))
}

/// Runs every object-store case below a fresh random prefix.
pub async fn object_store(store: &dyn ObjectStore) {
    let mut case = Case::new("object_store");
    store
        .check()
        .await
        .expect("a working store answers its check");
    let base = format!("conformance-{}", unique());
    let key = |k: &str| ObjectKey::parse(&format!("{base}/{k}")).unwrap();
    let prefix = |p: &str| KeyPrefix::parse(&format!("{base}/{p}")).unwrap();

    case.step("Write, head, read");
    let a = key("a/one.png");
    let meta = store
        .put(&a, body(&[b"hello ", b"world"]), "image/png", 1024)
        .await
        .expect("put");
    assert_eq!(meta.key, a);
    assert_eq!(meta.size, 11);
    assert!(
        !meta.etag.is_empty() && !meta.etag.contains('"'),
        "etag without quotes"
    );
    let head = store.head(&a).await.expect("head").expect("exists");
    assert_eq!(head.size, 11);
    assert_eq!(head.etag, meta.etag, "head reports the etag put returned");
    assert_eq!(head.content_type.as_deref(), Some("image/png"));
    assert_eq!(
        store.read_range(&a, 0, 1000, None).await.unwrap(),
        Bytes::from_static(b"hello world")
    );
    assert_eq!(
        store.read_range(&a, 6, 3, None).await.unwrap(),
        Bytes::from_static(b"wor")
    );
    assert_eq!(
        store.read_range(&a, 6, 100, None).await.unwrap(),
        Bytes::from_static(b"world")
    );
    assert!(
        store.read_range(&a, 11, 5, None).await.unwrap().is_empty(),
        "past the end is empty"
    );
    case.step("Only from the version named, when one is");
    assert_eq!(
        store
            .read_range(&a, 6, 3, Some(meta.etag.clone()))
            .await
            .unwrap(),
        Bytes::from_static(b"wor")
    );
    assert!(matches!(
        store
            .read_range(&a, 6, 3, Some("another-version".into()))
            .await,
        Err(StorageError::PreconditionFailed)
    ));
    case.step("Metadata and the first bytes at once");
    let (m, first) = store.read_head(&a, 5).await.unwrap().expect("exists");
    assert_eq!(
        (m.size, &m.etag),
        (11, &meta.etag),
        "the whole object's size"
    );
    assert_eq!(m.content_type.as_deref(), Some("image/png"));
    assert_eq!(first, Bytes::from_static(b"hello"));
    let (m, all) = store.read_head(&a, 1000).await.unwrap().expect("exists");
    assert_eq!((m.size, all), (11, Bytes::from_static(b"hello world")));
    assert!(
        store
            .read_head(&key("a/none.png"), 10)
            .await
            .unwrap()
            .is_none(),
        "no object: None"
    );
    let empty = key("a/empty.png");
    store
        .put(&empty, body(&[]), "image/png", 1024)
        .await
        .expect("put an empty object");
    let (m, none) = store.read_head(&empty, 10).await.unwrap().expect("exists");
    assert_eq!(
        (m.size, none.len()),
        (0, 0),
        "an empty object reads as empty"
    );
    store.delete(&empty).await.unwrap();

    case.step("Replace");
    let replaced = store
        .put(&a, body(&[b"bye"]), "image/gif", 1024)
        .await
        .expect("replace");
    assert_eq!(replaced.size, 3);
    assert_ne!(replaced.etag, meta.etag, "other bytes, other etag");
    let head = store.head(&a).await.unwrap().unwrap();
    assert_eq!(
        (head.size, head.content_type.as_deref()),
        (3, Some("image/gif"))
    );

    case.step("Limits and broken bodies store nothing and keep what was there");
    assert!(matches!(
        store
            .put(&a, body(&[b"0123456789", b"0"]), "image/png", 10)
            .await,
        Err(StorageError::TooLarge { limit: 10 })
    ));
    assert!(matches!(
        store.put(&a, failing_body(), "image/png", 1024).await,
        Err(StorageError::BodyInterrupted(_))
    ));
    assert_eq!(
        store.read_range(&a, 0, 100, None).await.unwrap(),
        Bytes::from_static(b"bye")
    );
    let fresh = key("never/written.png");
    assert!(
        store
            .put(&fresh, body(&[&[0u8; 20]]), "image/png", 10)
            .await
            .is_err()
    );
    assert_eq!(
        store.head(&fresh).await.unwrap(),
        None,
        "a refused put leaves no object"
    );
    let exact = key("exact.png");
    store
        .put(&exact, body(&[&[1u8; 10]]), "image/png", 10)
        .await
        .expect("a body of exactly max_size is accepted");

    case.step("Missing objects");
    let missing = key("missing.png");
    assert_eq!(store.head(&missing).await.unwrap(), None);
    assert!(matches!(
        store.read_range(&missing, 0, 10, None).await,
        Err(StorageError::NotFound)
    ));
    store
        .delete(&missing)
        .await
        .expect("deleting nothing succeeds");

    case.step("Listing: whole-segment prefixes, key order, paging");
    for k in ["l/b.png", "l/a.png", "l/sub/c.png", "lx/d.png"] {
        store
            .put(&key(k), body(&[b"x"]), "image/png", 10)
            .await
            .unwrap();
    }
    let names = |v: Vec<crate::storage::ObjectMeta>| -> Vec<String> {
        v.into_iter()
            .map(|m| {
                m.key
                    .as_str()
                    .trim_start_matches(&format!("{base}/"))
                    .to_owned()
            })
            .collect()
    };
    let all = store.list(&prefix("l/"), None, 100).await.expect("list");
    assert_eq!(names(all), vec!["l/a.png", "l/b.png", "l/sub/c.png"]);
    let page1 = store.list(&prefix("l/"), None, 2).await.unwrap();
    assert_eq!(names(page1.clone()), vec!["l/a.png", "l/b.png"]);
    let after = page1.last().map(|m| m.key.clone());
    let page2 = store.list(&prefix("l/"), after, 2).await.unwrap();
    assert_eq!(names(page2), vec!["l/sub/c.png"]);
    let listed = store.list(&prefix("l/"), None, 1).await.unwrap();
    assert_eq!(listed[0].size, 1);
    assert!(!listed[0].etag.is_empty());
    assert!(
        store
            .list(&prefix("nothing-here/"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Promote: copy only while the ETag still matches, stored as the verified type
    // whatever the PUT said, then remove the source.
    case.step("Promote: copy only while the ETag still matches, stored as the verified type");
    let staged = key("uploads/p.png");
    let final_key = key("final/p.png");
    let staged_meta = store
        .put(
            &staged,
            body(&[b"verified bytes"]),
            "application/octet-stream",
            1024,
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .promote(&staged, &final_key, "not-the-etag", "image/png")
            .await,
        Err(StorageError::PreconditionFailed)
    ));
    assert_eq!(
        store.head(&final_key).await.unwrap(),
        None,
        "a failed promote copies nothing"
    );
    assert!(
        store.head(&staged).await.unwrap().is_some(),
        "and keeps the source"
    );
    let promoted = store
        .promote(&staged, &final_key, &staged_meta.etag, "image/png")
        .await
        .expect("promote");
    assert_eq!(promoted.size, 14);
    assert_eq!(promoted.content_type.as_deref(), Some("image/png"));
    assert_eq!(
        store
            .head(&final_key)
            .await
            .unwrap()
            .and_then(|m| m.content_type)
            .as_deref(),
        Some("image/png"),
        "the object is stored as the verified type"
    );
    assert_eq!(
        store.read_range(&final_key, 0, 100, None).await.unwrap(),
        Bytes::from_static(b"verified bytes")
    );
    assert_eq!(
        store.head(&staged).await.unwrap(),
        None,
        "the source is removed"
    );
    assert!(matches!(
        store
            .promote(&staged, &final_key, &staged_meta.etag, "image/png")
            .await,
        Err(StorageError::NotFound)
    ));

    case.step("Presigned PUTs name exactly the headers to send");
    let presigned = store
        .presign_put(
            &key("uploads/q.png"),
            &crate::storage::PutConditions {
                content_type: Some("image/png".into()),
                content_length: Some(42),
                checksum_sha256: None,
                expires_in: std::time::Duration::from_secs(300),
            },
        )
        .await
        .expect("presign");
    assert!(presigned.url.starts_with("http"), "{}", presigned.url);
    let header = |name: &str| {
        presigned
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("content-type").as_deref(), Some("image/png"));
    assert_eq!(header("content-length").as_deref(), Some("42"));
    case.step("No declared type: the URL names no Content-Type");
    let any = store
        .presign_put(
            &key("uploads/r"),
            &crate::storage::PutConditions {
                content_type: None,
                content_length: None,
                checksum_sha256: None,
                expires_in: std::time::Duration::from_secs(300),
            },
        )
        .await
        .expect("presign");
    assert!(
        !any.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type")),
        "{:?}",
        any.headers
    );

    case.step("Delete");
    store.delete(&a).await.expect("delete");
    assert_eq!(store.head(&a).await.unwrap(), None);
    assert!(matches!(
        store.read_range(&a, 0, 1, None).await,
        Err(StorageError::NotFound)
    ));

    case.step("Leave nothing behind");
    for m in store
        .list(&prefix(""), None, 1000)
        .await
        .unwrap_or_default()
    {
        let _ = store.delete(&m.key).await;
    }
}
