//! The image pipeline end to end, on the local store and on Garage: a phone photo comes
//! back from its `cdn_url` and from each variant without its camera metadata, upright,
//! with its colour profile, as Pillow (the reference reader) sees it; PNG text chunks and
//! WebP metadata chunks go; files that do not decode are refused; an image's variants go
//! with it however it goes (deletion, retention, avatar replacement, withdrawal); and a
//! flood of callbacks is queued or refused without starving `/healthz`.

use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{Value, json};
use storage_s3::testing::Garage;

use crate::helpers::{TestApp, User, assert_envelope, spawn_with};
use crate::images::{Issued, real_png};
use crate::s3::use_s3;
use crate::sweeper::Bucket;

/// The fixtures, made by `tests/fixtures/images.py` with Pillow and piexif.
fn fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    python(&["make", dir.path().to_str().unwrap()]);
    dir
}

fn python(args: &[&str]) -> String {
    let script = crate::helpers::workspace_path("apps/server/tests/fixtures/images.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 with pillow, piexif and blurhash (./scripts/test's venv)");
    assert!(
        out.status.success(),
        "images.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn variant_keys(key: &str) -> [String; 2] {
    ["thumb", "medium"].map(|v| format!("{key}.{v}.webp"))
}

impl TestApp {
    /// Issues, PUTs and confirms `file` through the upload pipeline API's `channel`.
    async fn upload_file(
        &self,
        user: &User,
        channel: &str,
        file: &Path,
        declared: &str,
    ) -> (Issued, reqwest::Response) {
        let issued = self
            .issue_ok(
                user,
                channel,
                json!({"filename": file.file_name().unwrap().to_str(), "content_type": declared}),
            )
            .await;
        let put = self.put(&issued, std::fs::read(file).unwrap()).await;
        assert_eq!(put.status(), 200, "{:?}", put.text().await);
        let res = self.callback(user, channel, &issued.key, "").await;
        (issued, res)
    }
}

/// Reads a published object: through its URL on the local store, by key on Garage (whose
/// CDN is not here).
async fn published(app: &TestApp, garage: Option<&Garage>, url: &str, key: &str) -> Vec<u8> {
    match garage {
        None => {
            let res = app.client.get(url).send().await.unwrap();
            assert_eq!(res.status(), 200, "{url}");
            res.bytes().await.unwrap().to_vec()
        }
        Some(g) => {
            let key = domain::ObjectKey::parse(key).unwrap();
            let store = g.store().await;
            domain::ObjectStore::read_range(&store, &key, 0, 1 << 30, None)
                .await
                .unwrap()
                .to_vec()
        }
    }
}

/// Phone photo, PNG and WebP with metadata: what is published, checked by Pillow; the
/// three undecodable files refused and removed.
async fn published_without_metadata(app: &TestApp, garage: Option<&Garage>, bucket: &Bucket<'_>) {
    let fx = fixtures();
    let out = tempfile::tempdir().unwrap();
    let user = app.login("pipeline@example.com").await;
    let mut checks = Vec::new();
    let mut hashes = Vec::new();
    for (file, declared, format, shown, variants, corners) in [
        (
            "phone.jpg",
            "image/jpeg",
            "JPEG",
            (480, 640),
            [(320, 320), (480, 640)],
            true,
        ),
        (
            "text.png",
            "image/png",
            "PNG",
            (40, 30),
            [(40, 30); 2],
            false,
        ),
        (
            "meta.webp",
            "image/webp",
            "WEBP",
            (40, 30),
            [(40, 30); 2],
            false,
        ),
    ] {
        let original = fx.path().join(file);
        let (issued, res) = app.upload_file(&user, "chat", &original, declared).await;
        assert_eq!(res.status(), 200, "{file}: {:?}", res.text().await);
        let image: Value = res.json().await.unwrap();
        assert_eq!(
            (image["width"].as_u64(), image["height"].as_u64()),
            (Some(u64::from(shown.0)), Some(u64::from(shown.1))),
            "{file}: the displayed size, after the EXIF orientation"
        );
        let path = out.path().join(file);
        std::fs::write(
            &path,
            published(app, garage, image["cdn_url"].as_str().unwrap(), &issued.key).await,
        )
        .unwrap();
        let want = |size: (u32, u32), format: &str, corners: bool| {
            json!({"size": [size.0, size.1], "format": format,
                "icc_of": original.to_str(), "corners": corners})
        };
        checks.push(json!({"path": path, "want": want(shown, format, corners)}));
        // The metadata answer carries the same variants.
        let meta: Value = app
            .send_as(
                Method::GET,
                &format!("/images/{}/metadata", issued.key),
                &user.token,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(meta["variants"], image["variants"], "{file}");
        assert_eq!(meta["blurhash"], image["blurhash"], "{file}");
        for (name, size) in ["thumb", "medium"].into_iter().zip(variants) {
            let v = &image["variants"][name];
            assert_eq!(
                (v["width"].as_u64(), v["height"].as_u64()),
                (Some(u64::from(size.0)), Some(u64::from(size.1))),
                "{file} {name}: the preset's size, never enlarged"
            );
            assert_eq!(v["content_type"], "image/webp");
            let key = format!("{}.{name}.webp", issued.key);
            let bytes = published(app, garage, v["url"].as_str().unwrap(), &key).await;
            let path = out.path().join(format!("{file}.{name}.webp"));
            std::fs::write(&path, bytes).unwrap();
            // A square thumbnail of a quadrant image shows its corners too.
            checks.push(json!({"path": path, "want": want(size, "WEBP", corners)}));
        }
        hashes.push(json!({"hash": image["blurhash"]}));
    }
    let spec = out.path().join("spec.json");
    std::fs::write(
        &spec,
        serde_json::to_vec(&json!({"published": checks, "blurhashes": hashes})).unwrap(),
    )
    .unwrap();
    assert_eq!(
        python(&["check", spec.to_str().unwrap()]),
        format!("ok {}", checks.len() + hashes.len())
    );

    // Metadata where a sanitizer that walks only the top of the file does not look:
    // between and after a progressive JPEG's scans and in its APP0 thumbnails, inside an
    // animated WebP's frames, in a GIF's plain text, extra sub-blocks and ICC.
    let mut checks = Vec::new();
    for (file, declared, format) in [
        ("hidden-scans.jpg", "image/jpeg", "JPEG"),
        ("frames-xmp.webp", "image/webp", "WEBP"),
        ("hidden-blocks.gif", "image/gif", "GIF"),
    ] {
        let (issued, res) = app
            .upload_file(&user, "chat", &fx.path().join(file), declared)
            .await;
        assert_eq!(res.status(), 200, "{file}: {:?}", res.text().await);
        let image: Value = res.json().await.unwrap();
        let size = |v: &Value| json!([v["width"], v["height"]]);
        let path = out.path().join(file);
        let url = image["cdn_url"].as_str().unwrap();
        std::fs::write(&path, published(app, garage, url, &issued.key).await).unwrap();
        checks.push(json!({"path": path, "want": {"size": size(&image), "format": format}}));
        for name in ["thumb", "medium"] {
            let v = &image["variants"][name];
            let key = format!("{}.{name}.webp", issued.key);
            let bytes = published(app, garage, v["url"].as_str().unwrap(), &key).await;
            let path = out.path().join(format!("{file}.{name}.webp"));
            std::fs::write(&path, bytes).unwrap();
            checks.push(json!({"path": path, "want": {"size": size(v), "format": "WEBP"}}));
        }
    }
    let spec = out.path().join("hidden.json");
    std::fs::write(
        &spec,
        serde_json::to_vec(&json!({"published": checks})).unwrap(),
    )
    .unwrap();
    assert_eq!(
        python(&["check", spec.to_str().unwrap()]),
        format!("ok {}", checks.len())
    );

    for (file, declared) in [
        ("noscan.jpg", "image/jpeg"),
        ("truncated-idat.png", "image/png"),
        ("frame-beyond-screen.gif", "image/gif"),
    ] {
        let (issued, res) = app
            .upload_file(&user, "chat", &fx.path().join(file), declared)
            .await;
        assert_envelope(res, 400, "IMAGE_REJECTED").await;
        for key in [issued.key.clone(), format!("uploads/{}", issued.key)]
            .into_iter()
            .chain(variant_keys(&issued.key))
        {
            assert!(!bucket.exists(&key).await, "{file}: {key} was left");
        }
    }
}

/// Sets a ready image's retention to have ended, as time would.
async fn retention_ended(app: &TestApp, key: &str) {
    let sql = "UPDATE images SET expires_at = 0 WHERE key = $1 AND status = 'ready'";
    crate::sweeper::alter_image(app, key, sql).await;
}

/// An image's variants are part of it: they go when it goes, however it goes, and not
/// before.
async fn variants_go_with_their_image(app: &TestApp, bucket: &Bucket<'_>) {
    let png = tempfile::tempdir().unwrap();
    let file = png.path().join("x.png");
    std::fs::write(&file, real_png(400, 300, 0)).unwrap();
    let user = app.login("variants@example.com").await;
    let all = |key: &str| {
        let mut keys = vec![key.to_owned()];
        keys.extend(variant_keys(key));
        keys
    };
    let upload = |channel: &'static str| {
        let (user, file) = (&user, &file);
        async move {
            let (issued, res) = app.upload_file(user, channel, file, "image/png").await;
            assert_eq!(res.status(), 200, "{:?}", res.text().await);
            for key in all(&issued.key) {
                assert!(bucket.exists(&key).await, "{key} was not stored");
            }
            issued.key
        }
    };

    // Deleted by its uploader.
    let deleted = upload("chat").await;
    let res = app
        .send_as(Method::DELETE, &format!("/images/{deleted}"), &user.token)
        .await;
    assert_eq!(res.status(), 204);
    // Past retention, removed by the sweeper.
    let expired = upload("chat").await;
    let kept = upload("chat").await;
    retention_ended(app, &expired).await;
    let swept = bucket.sweep(app);
    assert!(swept.contains("deleted 1 images past retention"), "{swept}");
    for gone in all(&deleted).iter().chain(&all(&expired)) {
        assert!(!bucket.exists(gone).await, "{gone} was left behind");
    }
    for key in all(&kept) {
        assert!(
            bucket.exists(&key).await,
            "{key}: a live image keeps its variants"
        );
    }

    // A profile image replaced by the next one.
    let first = upload("profile").await;
    let second = upload("profile").await;
    for gone in all(&first) {
        assert!(!bucket.exists(&gone).await, "{gone}: the old avatar's");
    }
    for key in all(&second) {
        assert!(bucket.exists(&key).await, "{key}: the avatar's");
    }

    // Withdrawal takes every image, with its variants.
    let res = app
        .send_as(
            Method::DELETE,
            &format!("/accounts/{}", user.id),
            &user.token,
        )
        .await;
    assert_eq!(res.status(), 204);
    for gone in all(&kept).iter().chain(&all(&second)) {
        assert!(!bucket.exists(gone).await, "{gone}: withdrawn");
    }
}

#[tokio::test]
async fn on_the_local_store_images_are_published_without_metadata_with_their_variants() {
    let app = spawn_with(|_| {}).await;
    let bucket = Bucket::local(&app);
    published_without_metadata(&app, None, &bucket).await;
    variants_go_with_their_image(&app, &bucket).await;
}

#[tokio::test]
async fn on_garage_images_are_published_without_metadata_with_their_variants() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let s3 = garage.config();
    let app = spawn_with(move |c| use_s3(c, &s3, None)).await;
    let bucket = Bucket::Garage(&garage);
    published_without_metadata(&app, Some(&garage), &bucket).await;
    variants_go_with_their_image(&app, &bucket).await;
}

#[tokio::test]
async fn a_private_images_variants_need_its_signature() {
    let app = spawn_with(|_| {}).await;
    let user = app.login("private-variants@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("x.png");
    std::fs::write(&file, real_png(400, 300, 0)).unwrap();
    let (issued, res) = app.upload_file(&user, "scan", &file, "image/png").await;
    assert_eq!(res.status(), 200);
    let image: Value = res.json().await.unwrap();
    let expires = image["cdn_url_expires_at"].as_str().unwrap();
    for name in ["thumb", "medium"] {
        let url = image["variants"][name]["url"].as_str().unwrap();
        assert!(url.contains("sig="), "{url}: signed like its image");
        assert_eq!(app.client.get(url).send().await.unwrap().status(), 200);
        let unsigned = app.url(&format!("/cdn/{}.{name}.webp", issued.key));
        assert_eq!(
            app.client.get(&unsigned).send().await.unwrap().status(),
            403,
            "{name}: private like its image"
        );
    }
    assert!(!expires.is_empty());
}

/// A flood of callbacks on 30-megapixel images, with one turn and two places in the queue:
/// some are answered 503 with Retry-After (and succeed when retried), none stalls the
/// health probe, which answers while they are in flight.
#[tokio::test]
async fn a_flood_of_callbacks_is_queued_or_refused_without_starving_healthz() {
    let app = spawn_with(|c| {
        c.images.image_processing_concurrency = 1;
        c.images.image_processing_queue = 2;
        c.images.upload_max_pending = 0;
    })
    .await;
    let user = app.login("flood@example.com").await;
    let big = real_png(6000, 5000, 0);
    let mut issued = Vec::new();
    for _ in 0..8 {
        let i = app.issue_png(&user, "chat").await;
        assert_eq!(app.put(&i, big.clone()).await.status(), 200);
        issued.push(i);
    }
    let callbacks = futures_util::future::join_all(
        issued
            .iter()
            .map(|i| app.callback(&user, "chat", &i.key, "")),
    );
    let done = std::sync::atomic::AtomicBool::new(false);
    let probes = async {
        let mut answered_in_flight = 0;
        while !done.load(std::sync::atomic::Ordering::Acquire) {
            let res = app.get("/healthz").await;
            assert_eq!(res.status(), 200);
            if !done.load(std::sync::atomic::Ordering::Acquire) {
                answered_in_flight += 1;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        answered_in_flight
    };
    let (answers, probed) = tokio::join!(
        async {
            let a = callbacks.await;
            done.store(true, std::sync::atomic::Ordering::Release);
            a
        },
        probes
    );
    assert!(
        probed > 0,
        "the probe answered while callbacks were processed"
    );
    let mut refused = Vec::new();
    for (i, res) in issued.iter().zip(answers) {
        match res.status().as_u16() {
            200 => {}
            503 => {
                assert!(res.headers().contains_key("retry-after"));
                assert_envelope(res, 503, "IMAGE_PROCESSING_BUSY").await;
                refused.push(i);
            }
            other => panic!("{other}: {:?}", res.text().await),
        }
    }
    assert!(
        !refused.is_empty() && refused.len() < issued.len(),
        "some were processed, some refused: {} refused",
        refused.len()
    );
    // Nothing was lost: a refused confirmation succeeds when retried.
    for i in refused {
        let res = app.callback(&user, "chat", &i.key, "").await;
        assert_eq!(res.status(), 200);
    }
}

/// Uploads `bytes` as `content_type` through the chat channel and confirms them.
async fn upload_bytes(
    app: &TestApp,
    user: &User,
    bytes: Vec<u8>,
    content_type: &str,
) -> reqwest::Response {
    let filename = format!("upload.{}", content_type.trim_start_matches("image/"));
    let issued = app
        .issue_ok(
            user,
            "chat",
            json!({"filename": filename, "content_type": content_type}),
        )
        .await;
    assert_eq!(app.put(&issued, bytes).await.status(), 200);
    app.callback(user, "chat", &issued.key, "").await
}

/// A flood of small animations that cost a whole canvas a frame (300 one-pixel frames on a
/// 4000×4000 canvas, 16 kB each) is refused from the header, before any takes a turn:
/// another user's small images, confirmed at the same time with one turn and two places
/// in the queue, all confirm.
#[tokio::test]
async fn costly_animations_are_refused_before_a_turn_and_small_images_still_confirm() {
    let app = spawn_with(|c| {
        c.images.image_processing_concurrency = 1;
        c.images.image_processing_queue = 2;
        c.images.upload_max_pending = 0;
    })
    .await;
    let fx = fixtures();
    let bomb = std::fs::read(fx.path().join("bomb.webp")).unwrap();
    let attacker = app.login("bomber@example.com").await;
    let victim = app.login("victim@example.com").await;
    let bombs = (0..6).map(|_| upload_bytes(&app, &attacker, bomb.clone(), "image/webp"));
    let smalls = (0..4).map(|i| upload_bytes(&app, &victim, real_png(16, 16, i), "image/png"));
    let (bombs, smalls) = tokio::join!(
        futures_util::future::join_all(bombs),
        futures_util::future::join_all(smalls)
    );
    for res in bombs {
        let body = assert_envelope(res, 400, "IMAGE_REJECTED").await;
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("pixels of work"), "{message}");
    }
    for res in smalls {
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
    }
}

/// With the budget lifted, the same animation runs into the processing deadline: it is
/// rejected as too slow, its objects removed, and the turn it held serves the next upload.
#[tokio::test]
async fn processing_past_its_deadline_is_rejected_and_frees_its_turn() {
    let app = spawn_with(|c| {
        c.images.image_processing_concurrency = 1;
        c.images.image_decode_budget = u64::MAX;
        c.images.image_max_frames = 100_000;
        c.images.image_processing_deadline_secs = 1;
    })
    .await;
    let fx = fixtures();
    let user = app.login("slow@example.com").await;
    let res = upload_bytes(
        &app,
        &user,
        std::fs::read(fx.path().join("bomb.webp")).unwrap(),
        "image/webp",
    )
    .await;
    let body = assert_envelope(res, 400, "IMAGE_REJECTED").await;
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("longer than 1 s"), "{message}");
    let res = upload_bytes(&app, &user, real_png(16, 16, 1), "image/png").await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}
