//! The image flow on the S3 adapter set: a real S3 server (Garage) that verifies presigned
//! URLs, and CloudFront invalidations against moto. Plus the faults: the store stopped
//! mid-flow answers 409 and leaves no record pointing at nothing.

use domain::ObjectStore as _;
use reqwest::Method;
use serde_json::json;
use storage_s3::testing::{Garage, Moto};

use crate::helpers::{TestApp, assert_envelope, spawn_with};
use crate::images::PNG;

/// Points `c` at an S3 server (Garage's settings), with `https://cdn.example.com` as the
/// CDN; `endpoint` replaces the server's own address (a proxy in front of it, say).
pub fn use_s3(c: &mut server::Config, s3: &storage_s3::S3Config, endpoint: Option<String>) {
    c.storage.kind = server::StorageKind::S3;
    c.storage.s3_bucket = Some(s3.bucket.clone());
    c.storage.s3_region = s3.region.clone();
    c.storage.s3_endpoint = endpoint.or_else(|| s3.endpoint.clone());
    c.storage.s3_path_style = true;
    c.storage.s3_access_key_id = s3.access_key_id.clone();
    c.storage.s3_secret_access_key = s3.secret_access_key.clone().map(Into::into);
    c.storage.cdn_base_url = Some("https://cdn.example.com".into());
}

/// The app on Garage; `cloudfront` is (endpoint, distribution id).
async fn s3_app(garage: &Garage, cloudfront: Option<(String, String)>) -> TestApp {
    let s3 = garage.config();
    let cf = cloudfront;
    spawn_with(move |c| {
        use_s3(c, &s3, None);
        c.storage.storage_timeout_secs = 3;
        if let Some((endpoint, id)) = cf {
            c.storage.cloudfront_endpoint = Some(endpoint);
            c.storage.cloudfront_distribution_id = Some(id);
        }
    })
    .await
}

#[tokio::test]
async fn the_whole_flow_on_s3_with_cloudfront_invalidation() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let Some(moto) = Moto::start() else { return };
    let distribution = moto.distribution().await;
    let app = s3_app(&garage, Some((moto.endpoint.clone(), distribution.clone()))).await;
    let store = garage.store().await;
    let user = app.login("s3@example.com").await;

    let issued = app
        .issue_ok(
            &user,
            "chat",
            json!({"filename": "x.png", "content_type": "image/png", "content_length": PNG.len()}),
        )
        .await;
    assert!(
        issued.upload_url.starts_with(&garage.endpoint),
        "the client uploads to S3 directly"
    );
    assert!(
        issued.upload_url.contains("/uploads/chat/"),
        "to the staging key"
    );
    assert_eq!(
        issued.cdn_url,
        format!("https://cdn.example.com/{}", issued.key)
    );
    let put = app.put(&issued, PNG.to_vec()).await;
    assert_eq!(put.status(), 200, "{:?}", put.text().await);
    let etag = put.headers()["etag"].to_str().unwrap().to_owned();
    let res = app.callback(&user, "chat", &issued.key, &etag).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["width"], 1);
    let key = domain::ObjectKey::parse(&issued.key).unwrap();
    assert_eq!(
        store
            .read_range(&key, 0, 1000, None)
            .await
            .unwrap()
            .as_ref(),
        PNG,
        "the same bytes at the final key"
    );
    // What S3 serves the object with: the verified type (the CDN adds nosniff and the CSP,
    // deploy/cloudfront/response-headers-policy.json).
    assert_eq!(
        store
            .head(&key)
            .await
            .unwrap()
            .unwrap()
            .content_type
            .as_deref(),
        Some("image/png"),
        "the stored type is the verified one"
    );
    let staged = domain::ObjectKey::parse(&format!("uploads/{}", issued.key)).unwrap();
    assert_eq!(
        store.head(&staged).await.unwrap(),
        None,
        "the staged copy is gone"
    );

    // A reused URL only reaches the staging key.
    assert_eq!(app.put(&issued, PNG.to_vec()).await.status(), 200);
    assert_eq!(
        store
            .read_range(&key, 0, 1000, None)
            .await
            .unwrap()
            .as_ref(),
        PNG
    );

    // Delete: the object goes and CloudFront is told, through the outbox.
    let res = app
        .send_as(
            Method::DELETE,
            &format!("/images/{}", issued.key),
            &user.token,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(store.head(&key).await.unwrap(), None);
    // With its variants: they go with it, from the store and from the CDN.
    let want: Vec<String> = ["", ".thumb.webp", ".medium.webp"]
        .iter()
        .map(|v| format!("/{}{v}", issued.key))
        .collect();
    for v in &want[1..] {
        let variant = domain::ObjectKey::parse(&v[1..]).unwrap();
        assert_eq!(store.head(&variant).await.unwrap(), None, "{v}");
    }
    let mut seen = Vec::new();
    for _ in 0..40 {
        seen = moto.invalidated_paths(&distribution).await;
        if want.iter().all(|w| seen.contains(w)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        want.iter().all(|w| seen.contains(w)),
        "CloudFront was asked to forget {want:?}: {seen:?}"
    );
}

#[tokio::test]
async fn s3_itself_refuses_what_the_url_does_not_allow_and_markup_is_rejected() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let app = s3_app(&garage, None).await;
    let store = garage.store().await;
    let user = app.login("s3evil@example.com").await;

    let issued = app
        .issue_ok(
            &user,
            "chat",
            json!({"filename": "x.png", "content_type": "image/png", "content_length": PNG.len()}),
        )
        .await;
    let wrong_type = app
        .client
        .put(&issued.upload_url)
        .header("content-type", "text/html")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert!(
        wrong_type.status().is_client_error(),
        "{}",
        wrong_type.status()
    );
    let mut longer = PNG.to_vec();
    longer.push(0);
    assert!(app.put(&issued, longer).await.status().is_client_error());

    let issued = app.issue_png(&user, "chat").await;
    assert_eq!(
        app.put(&issued, b"<html><script>alert(1)</script></html>".to_vec())
            .await
            .status(),
        200
    );
    assert_envelope(
        app.callback(&user, "chat", &issued.key, "").await,
        400,
        "IMAGE_REJECTED",
    )
    .await;
    let staged = domain::ObjectKey::parse(&format!("uploads/{}", issued.key)).unwrap();
    assert_eq!(
        store.head(&staged).await.unwrap(),
        None,
        "the rejected object is deleted"
    );
}

#[tokio::test]
async fn the_store_stopped_mid_flow_is_409_and_leaves_nothing_dangling() {
    let Some(mut garage) = Garage::start().await else {
        return;
    };
    let app = s3_app(&garage, None).await;
    let user = app.login("s3down@example.com").await;
    let ready = app.upload_png(&user, "my").await;
    let issued = app.issue_png(&user, "chat").await;
    app.put(&issued, PNG.to_vec()).await;

    garage.stop();
    let started = std::time::Instant::now();
    let body = assert_envelope(
        app.callback(&user, "chat", &issued.key, "").await,
        409,
        "CAN_NOT_ACCESS_S3",
    )
    .await;
    assert_eq!(
        body["message"],
        "unable to access amazon s3, contract your administrator."
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "bounded"
    );
    let ready_key = ready["key"].as_str().unwrap();
    assert_envelope(
        app.send_as(Method::DELETE, &format!("/images/{ready_key}"), &user.token)
            .await,
        409,
        "CAN_NOT_ACCESS_S3",
    )
    .await;
    assert_envelope(
        app.send_as(Method::DELETE, "/users/profiles/avatars", &user.token)
            .await,
        404,
        "FILE_NOT_FOUND",
    )
    .await;
    assert_envelope(app.get("/readyz").await, 503, "NOT_READY").await;

    // Nothing changed: the ready image is still ready, the pending one still pending (it
    // expires in time; no record claims bytes that are not there).
    let meta: serde_json::Value = app
        .send_as(
            Method::GET,
            &format!("/images/{ready_key}/metadata"),
            &user.token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(meta["status"], "ready");
}

#[tokio::test]
async fn apply_lifecycle_installs_the_retention_rules() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let s3 = garage.config();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["storage", "apply-lifecycle"])
        .env("STORAGE", "s3")
        .env("S3_BUCKET", &s3.bucket)
        .env("S3_REGION", &s3.region)
        .env("S3_ENDPOINT", s3.endpoint.as_deref().unwrap())
        .env("S3_PATH_STYLE", "true")
        .env("S3_ACCESS_KEY_ID", s3.access_key_id.as_deref().unwrap())
        .env(
            "S3_SECRET_ACCESS_KEY",
            s3.secret_access_key.as_deref().unwrap(),
        )
        .env("CDN_BASE_URL", "https://cdn.example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("chat/: objects expire after 7 day(s)"),
        "{printed}"
    );
    let mut rules = garage.store().await.lifecycle().await.unwrap();
    rules.sort();
    assert_eq!(
        rules,
        vec![
            ("chat/".into(), 7),
            ("scan/".into(), 30),
            ("uploads/".into(), 1)
        ]
    );
}

#[tokio::test]
async fn a_cloudfront_outage_never_fails_a_delete_and_the_invalidation_waits() {
    use domain::Outbox as _;
    let Some(garage) = Garage::start().await else {
        return;
    };
    let Some(moto) = Moto::start() else { return };
    let distribution = moto.distribution().await;
    let moto_endpoint = moto.endpoint.clone();
    drop(moto); // CloudFront is down from here on.
    let app = s3_app(&garage, Some((moto_endpoint, distribution))).await;
    let user = app.login("cfdown@example.com").await;
    let image = app.upload_png(&user, "chat").await;
    let key = image["key"].as_str().unwrap();
    let res = app
        .send_as(Method::DELETE, &format!("/images/{key}"), &user.token)
        .await;
    assert_eq!(
        res.status(),
        204,
        "the delete succeeds while CloudFront is down"
    );
    // The worker tries (and fails) at least once; the job stays queued for a retry.
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let db = store_sql::SqlStore::connect(
        &format!(
            "sqlite://{}?mode=rw",
            app.dir.path().join("service.db").display()
        ),
        &store_sql::PoolConfig::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        db.depth(domain::outbox::topics::CDN_INVALIDATION)
            .await
            .unwrap(),
        1,
        "the invalidation of the image and its two variants is kept for retry"
    );
}

/// The files/avatars API's clients declare no type: the URL takes any accepted image type (or no
/// Content-Type at all), the type is decided from the bytes, and the object is stored and
/// served as that type under a key that claims none.
pub async fn seed_000_uploads_of_every_type(app: &TestApp, garage: Option<&Garage>) {
    use crate::images::{ANIMATED_WEBP, TINY_GIF, TINY_JPEG};
    let user = app.login("seed000-types@example.com").await;
    let cases: [(&str, Vec<u8>, Option<&str>); 5] = [
        ("image/jpeg", TINY_JPEG.to_vec(), Some("image/jpeg")),
        ("image/png", PNG.to_vec(), Some("image/png")),
        ("image/webp", ANIMATED_WEBP.to_vec(), Some("image/webp")),
        ("image/gif", TINY_GIF.to_vec(), Some("image/gif")),
        ("image/jpeg", TINY_JPEG.to_vec(), None),
    ];
    for (route, (kind, bytes, header)) in ["/files", "/users/profiles/avatars"]
        .into_iter()
        .flat_map(|r| cases.iter().map(move |c| (r, c)))
    {
        let res = app.send_as(Method::GET, route, &user.token).await;
        assert_eq!(res.status(), 200, "{route}");
        let issued: serde_json::Value = res.json().await.unwrap();
        let key = issued["key"].as_str().unwrap().to_owned();
        assert!(
            !key.rsplit('/').next().unwrap().contains('.'),
            "{key}: the key claims no type before the bytes are known"
        );
        let mut put = app
            .client
            .put(issued["preSignedUrl"].as_str().unwrap())
            .body(bytes.clone());
        if let Some(h) = header {
            put = put.header("content-type", *h);
        }
        let res = put.send().await.unwrap();
        assert_eq!(
            res.status(),
            200,
            "{route} {kind} {header:?}: {:?}",
            res.text().await
        );
        // The uploader's first read confirms it (these routes have no callback).
        let res = app
            .send_as(Method::GET, &format!("/images/{key}/metadata"), &user.token)
            .await;
        assert_eq!(res.status(), 200, "{route} {kind} {header:?}");
        let image: serde_json::Value = res.json().await.unwrap();
        assert_eq!(image["content_type"], *kind, "{route} {header:?}");
        let object = domain::ObjectKey::parse(&key).unwrap();
        let stored = match garage {
            Some(g) => g.store().await.head(&object).await.unwrap(),
            None => {
                let served = app
                    .client
                    .get(image["cdn_url"].as_str().unwrap())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(served.headers()["content-type"], *kind);
                assert_eq!(served.bytes().await.unwrap().as_ref(), &bytes[..]);
                None
            }
        };
        if garage.is_some() {
            assert_eq!(
                stored.and_then(|m| m.content_type).as_deref(),
                Some(*kind),
                "the promoting copy stores the verified type"
            );
        }
    }
    // Still an image only: markup is refused whatever was (not) declared.
    let res = app.send_as(Method::GET, "/files", &user.token).await;
    let issued: serde_json::Value = res.json().await.unwrap();
    let res = app
        .client
        .put(issued["preSignedUrl"].as_str().unwrap())
        .header("content-type", "text/html")
        .body("<html>")
        .send()
        .await
        .unwrap();
    if garage.is_some() {
        // S3 cannot bind "any image type": it stores the bytes, and confirmation refuses them.
        assert_eq!(res.status(), 200);
        let key = issued["key"].as_str().unwrap();
        let res = app
            .send_as(Method::GET, &format!("/images/{key}/metadata"), &user.token)
            .await;
        assert_envelope(res, 400, "IMAGE_REJECTED").await;
    } else {
        assert_envelope(res, 400, "UPLOAD_MISMATCH").await;
    }
}

#[tokio::test]
async fn seed_000_clients_upload_any_image_type_on_the_local_store() {
    let app = crate::helpers::spawn_app().await;
    seed_000_uploads_of_every_type(&app, None).await;
}

#[tokio::test]
async fn seed_000_clients_upload_any_image_type_on_garage() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let app = s3_app(&garage, None).await;
    seed_000_uploads_of_every_type(&app, Some(&garage)).await;
}

#[tokio::test]
async fn private_images_on_garage_are_read_only_through_presigned_urls_until_they_expire() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let s3 = garage.config();
    let app = spawn_with(move |c| {
        use_s3(c, &s3, None);
        c.images.private_url_ttl_secs = 2;
    })
    .await;
    let owner = app.login("s3-private@example.com").await;
    let image = app.upload_png(&owner, "scan").await;
    let key = image["key"].as_str().unwrap().to_owned();
    let signed = image["cdn_url"].as_str().unwrap().to_owned();
    assert!(
        signed.starts_with(&garage.endpoint) && signed.contains("X-Amz-Signature="),
        "an S3 presigned GET: {signed}"
    );
    assert!(image["cdn_url_expires_at"].is_string());
    let client = reqwest::Client::new();
    // The bucket itself refuses a read without a signature.
    let unsigned = format!("{}/{}/{key}", garage.endpoint, garage.bucket);
    assert_eq!(client.get(&unsigned).send().await.unwrap().status(), 403);
    let res = client.get(&signed).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.starts_with("private, max-age="), "{cache}");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
    // A fresh one for its reader, none for anyone else.
    let other = app.login("s3-private-other@example.com").await;
    assert_eq!(
        app.send_as(Method::GET, &format!("/images/{key}/url"), &other.token)
            .await
            .status(),
        404
    );
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    // Refused once expired: AWS answers 403 (AccessDenied, "Request has expired"),
    // Garage 400.
    let expired = client.get(&signed).send().await.unwrap().status().as_u16();
    assert!(matches!(expired, 400 | 403), "expired, yet {expired}");
    let fresh: serde_json::Value = app
        .send_as(Method::GET, &format!("/images/{key}/url"), &owner.token)
        .await
        .json()
        .await
        .unwrap();
    let res = client
        .get(fresh["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a fresh URL reads it again");
}

/// The CloudFront signed URL, against botocore's `CloudFrontSigner` (PyPI, installed
/// with moto): the same key, resource and expiry must give the same URL.
#[tokio::test]
async fn cloudfront_signed_urls_match_botocores() {
    let key_file = crate::helpers::workspace_path("test-support/cloudfront/test-key.pem");
    let pem = std::fs::read_to_string(&key_file).unwrap();
    let signer = storage_s3::CloudFrontSigner::new(
        "https://d111111abcdef8.cloudfront.net",
        "K2JCJMDEHXQW5F",
        &pem,
    )
    .unwrap();
    let resource = "https://d111111abcdef8.cloudfront.net/report/2026/12/02/7/Zx9Qa1b2.png";
    let expires = 1_796_169_600_i64;
    let ours = signer.sign(resource, expires).unwrap();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, datetime\n\
             from botocore.signers import CloudFrontSigner\n\
             from cryptography.hazmat.primitives import hashes, serialization\n\
             from cryptography.hazmat.primitives.asymmetric import padding\n\
             key = serialization.load_pem_private_key(open(sys.argv[1], 'rb').read(), password=None)\n\
             signer = CloudFrontSigner('K2JCJMDEHXQW5F', lambda m: key.sign(m, padding.PKCS1v15(), hashes.SHA1()))\n\
             until = datetime.datetime.fromtimestamp(int(sys.argv[3]), tz=datetime.timezone.utc)\n\
             print(signer.generate_presigned_url(sys.argv[2], date_less_than=until))\n",
        )
        .arg(&key_file)
        .arg(resource)
        .arg(expires.to_string())
        .output()
        .expect("python3 with botocore (./scripts/test's venv)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), ours);
}
