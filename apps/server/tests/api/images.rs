//! Every image route family end to end on the embedded defaults (SQLite + local store):
//! presign → PUT with exactly `required_headers` → callback → the CDN serves the same
//! bytes; and each attack on the flow refused.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, User, assert_envelope, spawn_app, spawn_with};

/// A real 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// A PNG header of the given size, padded to `len` bytes and ending with `IEND`: no
/// pixel data, so only for uploads refused before decoding (by size or pixel area).
pub fn png_of(width: u32, height: u32, len: usize) -> Vec<u8> {
    const IEND: &[u8] = b"\x00\x00\x00\x00IEND\xAE\x42\x60\x82";
    let mut v = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    v.extend(width.to_be_bytes());
    v.extend(height.to_be_bytes());
    v.extend([8, 6, 0, 0, 0]);
    v.resize(len.max(v.len() + IEND.len()) - IEND.len(), 0);
    v.extend(IEND);
    v
}

/// A real, complete grayscale PNG of `width`×`height` black pixels that decodes, about
/// `len` bytes long (at least its own size): padded inside its compressed stream with
/// empty stored blocks and by splitting its data over several `IDAT` chunks, never with
/// a chunk metadata removal would take out.
pub fn real_png(width: u32, height: u32, len: usize) -> Vec<u8> {
    use crate::attacks::{deflate_zeros, png_chunk};
    let raw = (u64::from(width) + 1) * u64::from(height); // a filter byte starts each row
    let data = deflate_zeros(raw);
    let adler = ((raw % 65521) << 16) | 1; // over zeros, a stays 1 and b counts them
    // Signature, IHDR, IEND, one IDAT's framing, the zlib header and checksum.
    let base = 8 + 25 + 12 + 12 + 2 + data.len() + 4;
    let pad = len.saturating_sub(base);
    // 12 bytes per extra IDAT chunk, 5 per empty stored block.
    let splits = (0..5)
        .find(|b| pad >= 12 * b && (pad - 12 * b).is_multiple_of(5))
        .unwrap_or(0);
    let empty_blocks = (pad - 12 * splits) / 5;
    let mut zlib = vec![0x78, 0x01];
    for _ in 0..empty_blocks {
        zlib.extend([0x00, 0x00, 0x00, 0xFF, 0xFF]);
    }
    zlib.extend(data);
    zlib.extend(u32::try_from(adler).unwrap().to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit grayscale
    png_chunk(&mut png, b"IHDR", &ihdr);
    let part = zlib.len().div_ceil(splits + 1);
    for idat in zlib.chunks(part) {
        png_chunk(&mut png, b"IDAT", idat);
    }
    png_chunk(&mut png, b"IEND", &[]);
    png
}

/// Small real images without metadata (`crates/imaging/fixtures`, made by
/// `tests/fixtures/images.py`): a 16×8 JPEG, a 4×4 GIF, a 3×2 animated WebP.
pub const TINY_JPEG: &[u8] = include_bytes!("../../../../crates/imaging/fixtures/tiny.jpg");
pub const TINY_GIF: &[u8] = include_bytes!("../../../../crates/imaging/fixtures/tiny.gif");
pub const ANIMATED_WEBP: &[u8] =
    include_bytes!("../../../../crates/imaging/fixtures/animated.webp");

pub struct Issued {
    pub key: String,
    pub upload_url: String,
    pub cdn_url: String,
    pub headers: Vec<(String, String)>,
}

impl Issued {
    /// From a presign's answer.
    pub fn from_answer(v: &serde_json::Value) -> Self {
        Self {
            key: v["key"].as_str().unwrap().to_owned(),
            upload_url: v["upload_url"].as_str().unwrap().to_owned(),
            cdn_url: v["cdn_url"].as_str().unwrap().to_owned(),
            headers: v["required_headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
        }
    }
}

impl TestApp {
    pub async fn issue(
        &self,
        user: &User,
        channel: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.as_user(
            Method::POST,
            &format!("/api/v1/images/{channel}"),
            &user.token,
        )
        .json(&body)
        .send()
        .await
        .unwrap()
    }

    pub async fn issue_ok(&self, user: &User, channel: &str, body: serde_json::Value) -> Issued {
        let res = self.issue(user, channel, body).await;
        assert_eq!(res.status(), 200, "presign {channel}");
        Issued::from_answer(&res.json().await.unwrap())
    }

    /// Presigns a plain PNG upload (`x.png`, `image/png`) on `channel`.
    pub async fn issue_png(&self, user: &User, channel: &str) -> Issued {
        self.issue_ok(
            user,
            channel,
            json!({"filename": "x.png", "content_type": "image/png"}),
        )
        .await
    }

    /// PUTs `bytes` to an upload URL with exactly its required headers.
    pub async fn put(&self, issued: &Issued, bytes: Vec<u8>) -> reqwest::Response {
        let mut req = self.client.put(&issued.upload_url);
        for (k, v) in &issued.headers {
            if !k.eq_ignore_ascii_case("content-length") {
                req = req.header(k, v);
            }
        }
        req.body(bytes).send().await.unwrap()
    }

    pub async fn callback(
        &self,
        user: &User,
        channel: &str,
        key: &str,
        etag: &str,
    ) -> reqwest::Response {
        self.as_user(
            Method::POST,
            &format!("/api/v1/images/{channel}/callback"),
            &user.token,
        )
        .json(&json!({"key": key, "etag": etag}))
        .send()
        .await
        .unwrap()
    }

    /// The whole flow for a PNG; returns the ready image's JSON.
    pub async fn upload_png(&self, user: &User, channel: &str) -> serde_json::Value {
        let issued = self.issue_png(user, channel).await;
        let put = self.put(&issued, PNG.to_vec()).await;
        assert_eq!(put.status(), 200);
        let etag = put.headers()["etag"].to_str().unwrap().to_owned();
        let res = self.callback(user, channel, &issued.key, &etag).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

#[tokio::test]
async fn every_channel_goes_presign_put_callback_cdn() {
    let app = spawn_app().await;
    let user = app.login("up@example.com").await;
    for channel in ["chat", "scan", "my", "profile", "post", "report"] {
        let issued = app
            .issue_ok(
                &user,
                channel,
                json!({"filename": "receipt.png", "content_type": "image/png", "uploader_id": user.id.to_string(),
                       "metadata": {"message_id": "m-1", "source": "web"}}),
            )
            .await;
        assert!(
            issued.upload_url.contains("/storage/uploads/"),
            "clients write staging keys only"
        );
        // Private channels (report, scan, my by default) are answered signed URLs.
        let private = matches!(channel, "report" | "scan" | "my");
        let path = issued.cdn_url.split('?').next().unwrap().to_owned();
        assert!(path.ends_with(&issued.key), "{}", issued.cdn_url);
        assert_eq!(
            issued.cdn_url.contains("?expires="),
            private,
            "{}",
            issued.cdn_url
        );
        let expected_prefix = if channel == "profile" {
            "profiles/".to_owned()
        } else {
            format!("{channel}/")
        };
        assert!(issued.key.starts_with(&expected_prefix), "{}", issued.key);
        assert_eq!(
            issued.headers,
            vec![("Content-Type".to_owned(), "image/png".to_owned())]
        );

        let put = app.put(&issued, PNG.to_vec()).await;
        assert_eq!(
            put.status(),
            200,
            "{channel}: {}",
            put.text().await.unwrap_or_default()
        );
        let etag = put.headers()["etag"].to_str().unwrap().to_owned();

        let res = app.callback(&user, channel, &issued.key, &etag).await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["channel"], channel);
        assert_eq!(body["uploader_id"], user.id.to_string());
        assert_eq!(body["content_type"], "image/png");
        assert_eq!(body["content_length"], PNG.len());
        assert_eq!(
            (body["width"].as_u64(), body["height"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(body["metadata"]["message_id"], "m-1");
        assert_eq!(body["metadata"]["channel"], channel);

        assert_eq!(body["cdn_url_expires_at"].is_string(), private, "{body}");

        // Idempotent (a private image's signed URL is made afresh on each answer).
        let mut again: serde_json::Value = app
            .callback(&user, channel, &issued.key, "")
            .await
            .json()
            .await
            .unwrap();
        let mut first = body.clone();
        for b in [&mut again, &mut first] {
            b.as_object_mut().unwrap().remove("cdn_url");
            b.as_object_mut().unwrap().remove("cdn_url_expires_at");
        }
        assert_eq!(again, first);

        let served = app.client.get(&issued.cdn_url).send().await.unwrap();
        assert_eq!(served.status(), 200);
        assert_eq!(served.headers()["content-type"], "image/png");
        assert_eq!(served.headers()["x-content-type-options"], "nosniff");
        assert_eq!(
            served.headers()["content-security-policy"],
            "default-src 'none'"
        );
        assert!(
            served.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age")
        );
        assert_eq!(
            served.bytes().await.unwrap().as_ref(),
            PNG,
            "{channel}: the same bytes"
        );
    }
    // The last profile upload is the avatar.
    let me: serde_json::Value = app
        .send_as(Method::GET, &format!("/accounts/{}", user.id), &user.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        me["profileImgUri"]
            .as_str()
            .unwrap()
            .contains("/cdn/profiles/"),
        "{me}"
    );
}

#[tokio::test]
async fn the_legacy_routes_answer_the_seed_shapes_and_avatars_need_no_callback() {
    let app = spawn_app().await;
    let user = app.login("legacy@example.com").await;

    // The files/avatars API: avatar without a callback.
    let res = app
        .send_as(
            Method::GET,
            "/users/profiles/avatars?filename=me.png&contentType=image/png",
            &user.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert!(v["avatarId"].as_i64().unwrap() > 0);
    let url = v["preSignedUrl"].as_str().unwrap();
    let put = app
        .client
        .put(url)
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let me: serde_json::Value = app
        .send_as(Method::GET, &format!("/accounts/{}", user.id), &user.token)
        .await
        .json()
        .await
        .unwrap();
    let avatar = me["profileImgUri"]
        .as_str()
        .expect("the avatar is set on the next read")
        .to_owned();
    assert!(avatar.ends_with(v["key"].as_str().unwrap()));
    assert_eq!(
        app.client
            .get(&avatar)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        PNG
    );

    // A second avatar replaces the first, whose object goes.
    let res: serde_json::Value = app
        .send_as(Method::GET, "/users/profiles/avatars", &user.token)
        .await
        .json()
        .await
        .unwrap();
    let put = app
        .client
        .put(res["preSignedUrl"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200, "the default content type is image/png");
    let summary: serde_json::Value = app
        .send_as(
            Method::GET,
            &format!("/accounts/{}/summary", user.id),
            &user.token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        summary["profileImgUri"]
            .as_str()
            .unwrap()
            .ends_with(res["key"].as_str().unwrap())
    );
    assert_eq!(
        app.client.get(&avatar).send().await.unwrap().status(),
        404,
        "the old avatar is gone"
    );

    // The files/avatars API: delete it; then there is none.
    let res = app
        .send_as(Method::DELETE, "/users/profiles/avatars", &user.token)
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .send_as(Method::DELETE, "/users/profiles/avatars", &user.token)
        .await;
    let body = assert_envelope(res, 404, "FILE_NOT_FOUND").await;
    assert_eq!(body["message"], "FILE_NOT_FOUND");

    // The files/avatars API: a post file.
    let v: serde_json::Value = app
        .send_as(Method::GET, "/files?filename=a.jpg", &user.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(v["fileId"].as_i64().unwrap() > 0);
    assert!(
        v["preSignedUrl"]
            .as_str()
            .unwrap()
            .contains("/storage/uploads/post/")
    );

    // The account API: text/plain URL, owner only, png/jpg/jpeg/gif only.
    let path = format!("/accounts/{}/profile/image/signed-put-url", user.id);
    let res = app
        .send_as(
            Method::GET,
            &format!("{path}?filename=face.gif"),
            &user.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(res.text().await.unwrap().starts_with("http://"));
    assert_envelope(
        app.send_as(Method::GET, &path, &user.token).await,
        400,
        "INVALID_INPUT",
    )
    .await;
    assert_envelope(
        app.send_as(Method::GET, &format!("{path}?filename=x.webp"), &user.token)
            .await,
        400,
        "UNSUPPORTED_CONTENT_TYPE",
    )
    .await;
    let other = app.login("other@example.com").await;
    let res = app
        .send_as(Method::GET, &format!("{path}?filename=x.png"), &other.token)
        .await;
    assert_envelope(res, 403, "FORBIDDEN").await;
    let res = app
        .send_as(
            Method::DELETE,
            &format!("/accounts/{}/profile/image", user.id),
            &user.token,
        )
        .await;
    assert_envelope(res, 404, "FILE_NOT_FOUND").await;
}

#[tokio::test]
async fn seed_004_presign_then_metadata_confirms_and_delete_invalidates() {
    let app = spawn_app().await;
    let user = app.login("s4@example.com").await;
    let other = app.login("s4other@example.com").await;
    for (path, body, prefix) in [
        (
            "/images/presigned-url",
            json!({"content_type": "image/png"}),
            "chat/",
        ),
        (
            "/images/presigned-url",
            json!({"content_type": "image/png", "purpose": "SCAN"}),
            "scan/",
        ),
        (
            "/images/presigned-url/scan",
            json!({"content_type": "image/png"}),
            "scan/",
        ),
        (
            "/images/presigned-url/profile",
            json!({"content_type": "image/png"}),
            "profiles/",
        ),
    ] {
        let v: serde_json::Value = app
            .as_user(Method::POST, path, &user.token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            v["key"].as_str().unwrap().starts_with(prefix),
            "{path}: {v}"
        );
        assert_eq!(v["expires_in"], 300);
    }
    let v: serde_json::Value = app
        .as_user(Method::POST, "/images/presigned-url", &user.token)
        .json(&json!({"content_type": "image/png"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = v["key"].as_str().unwrap().to_owned();
    let meta_path = format!("/images/{key}/metadata");
    assert_envelope(
        app.send_as(Method::GET, &meta_path, &user.token).await,
        404,
        "IMAGE_NOT_FOUND",
    )
    .await;
    let put = app
        .client
        .put(v["upload_url"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200, "{:?}", put.text().await);
    let meta: serde_json::Value = app
        .send_as(Method::GET, &meta_path, &user.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["status"], "ready",
        "the uploader's read confirms: {meta}"
    );
    assert_envelope(
        app.send_as(Method::GET, &meta_path, &other.token).await,
        404,
        "IMAGE_NOT_FOUND",
    )
    .await;
    assert_envelope(
        app.send_as(Method::DELETE, &format!("/images/{key}"), &other.token)
            .await,
        404,
        "IMAGE_NOT_FOUND",
    )
    .await;
    let res = app
        .send_as(Method::DELETE, &format!("/images/{key}"), &user.token)
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.client
            .get(v["cdn_url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_envelope(
        app.send_as(Method::GET, &meta_path, &user.token).await,
        404,
        "IMAGE_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn markup_declared_as_an_image_is_rejected_and_removed() {
    let app = spawn_app().await;
    let user = app.login("evil@example.com").await;
    for (bytes, declared) in [
        (
            b"<!doctype html><script>alert(document.cookie)</script>".to_vec(),
            "image/png",
        ),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(),
            "image/png",
        ),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            "image/jpeg",
        ),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            "image/webp",
        ),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            "image/gif",
        ),
        (PNG[..20].to_vec(), "image/png"),
    ] {
        let issued = app
            .issue_ok(
                &user,
                "chat",
                json!({"filename": "x.png", "content_type": declared}),
            )
            .await;
        assert_eq!(
            app.put(&issued, bytes).await.status(),
            200,
            "the store takes any bytes; confirmation judges"
        );
        let body = assert_envelope(
            app.callback(&user, "chat", &issued.key, "").await,
            400,
            "IMAGE_REJECTED",
        )
        .await;
        assert_eq!(body["domain"], "image");
        assert_eq!(
            app.client
                .get(&issued.cdn_url)
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        // The record is rejected for good.
        assert_envelope(
            app.callback(&user, "chat", &issued.key, "").await,
            404,
            "IMAGE_NOT_FOUND",
        )
        .await;
    }
    assert_eq!(
        std::fs::read_dir(app.dir.path().join("objects/objects"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "no rejected bytes are left anywhere"
    );
}

#[tokio::test]
async fn the_upload_url_binds_type_length_and_checksum_and_expires() {
    let app = spawn_with(|c| c.images.upload_url_ttl_secs = 1).await;
    let user = app.login("bind@example.com").await;

    // Another Content-Type than signed.
    let issued = app.issue_png(&user, "chat").await;
    let res = app
        .client
        .put(&issued.upload_url)
        .header("content-type", "text/html")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_envelope(res, 400, "UPLOAD_MISMATCH").await;

    // A body larger than declared.
    let issued = app
        .issue_ok(
            &user,
            "chat",
            json!({"filename": "x.png", "content_type": "image/png", "content_length": PNG.len()}),
        )
        .await;
    assert!(
        issued
            .headers
            .iter()
            .any(|(k, v)| k == "Content-Length" && *v == PNG.len().to_string())
    );
    let mut bigger = PNG.to_vec();
    bigger.extend([0u8; 100]);
    let res = app.put(&issued, bigger).await;
    assert_envelope(res, 400, "UPLOAD_MISMATCH").await;
    assert_eq!(
        app.put(&issued, PNG.to_vec()).await.status(),
        200,
        "the declared length works"
    );

    // A checksum other than declared.
    let sha = "sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; // of the empty string
    let issued = app
        .issue_ok(
            &user,
            "chat",
            json!({"filename": "x.png", "content_type": "image/png", "checksum": sha}),
        )
        .await;
    assert!(
        issued
            .headers
            .iter()
            .any(|(k, _)| k == "x-amz-checksum-sha256")
    );
    assert_envelope(app.put(&issued, PNG.to_vec()).await, 400, "UPLOAD_MISMATCH").await;

    // A forged signature, and a URL pointing at a final key.
    let issued = app.issue_png(&user, "chat").await;
    let forged = issued.upload_url.replace("sig=", "sig=00");
    let res = app
        .client
        .put(&forged)
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_envelope(res, 403, "UPLOAD_URL_INVALID").await;
    let to_final = issued.upload_url.replace("/storage/uploads/", "/storage/");
    let res = app
        .client
        .put(&to_final)
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_envelope(res, 403, "UPLOAD_URL_INVALID").await;

    // Expired.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_envelope(
        app.put(&issued, PNG.to_vec()).await,
        403,
        "UPLOAD_URL_EXPIRED",
    )
    .await;
}

#[tokio::test]
async fn callbacks_check_the_uploader_the_channel_and_the_key() {
    let app = spawn_app().await;
    let alice = app.login("alice@example.com").await;
    let mallory = app.login("mallory@example.com").await;
    let issued = app.issue_png(&alice, "chat").await;
    app.put(&issued, PNG.to_vec()).await;
    // Someone else's upload does not exist for the caller, whatever the channel.
    for channel in ["chat", "scan", "report"] {
        assert_envelope(
            app.callback(&mallory, channel, &issued.key, "").await,
            404,
            "IMAGE_NOT_FOUND",
        )
        .await;
    }
    assert_envelope(
        app.callback(&alice, "scan", &issued.key, "").await,
        400,
        "CHANNEL_MISMATCH",
    )
    .await;
    assert_envelope(
        app.callback(&alice, "chat", "../../etc/passwd", "").await,
        400,
        "INVALID_INPUT",
    )
    .await;
    assert_envelope(
        app.callback(&alice, "chat", "/etc/passwd", "").await,
        400,
        "INVALID_INPUT",
    )
    .await;
    assert_envelope(
        app.callback(&alice, "chat", "chat/none.png", "").await,
        404,
        "IMAGE_NOT_FOUND",
    )
    .await;
    assert_envelope(
        app.callback(&alice, "gallery", &issued.key, "").await,
        400,
        "INVALID_INPUT",
    )
    .await;
    assert_envelope(
        app.callback(&alice, "chat", &issued.key, "\"wrong-etag\"")
            .await,
        400,
        "IMAGE_REJECTED",
    )
    .await;

    // Presign refusals.
    let res = app.issue(&alice, "chat", json!({"filename": "x.png", "content_type": "image/png", "uploader_id": mallory.id.to_string()})).await;
    let body = assert_envelope(res, 403, "UPLOADER_MISMATCH").await;
    assert_eq!(body["message"], "Uploader mismatch");
    for name in ["../../x.png", "/abs/x.png", "a\\b.png"] {
        let res = app
            .issue(
                &alice,
                "chat",
                json!({"filename": name, "content_type": "image/png"}),
            )
            .await;
        assert_envelope(res, 400, "INVALID_INPUT").await;
    }
    let res = app
        .issue(
            &alice,
            "chat",
            json!({"filename": "x.svg", "content_type": "image/svg+xml"}),
        )
        .await;
    assert_envelope(res, 400, "UNSUPPORTED_CONTENT_TYPE").await;
    let res = app
        .issue(
            &alice,
            "chat",
            json!({"filename": "x.png", "content_type": "application/octet-stream"}),
        )
        .await;
    assert_eq!(res.status(), 200, "octet-stream resolves from the filename");
    let res = app
        .issue(
            &alice,
            "videos",
            json!({"filename": "x.png", "content_type": "image/png"}),
        )
        .await;
    assert_envelope(res, 400, "INVALID_INPUT").await;
    let res = app
        .client
        .post(app.url("/api/v1/images/chat"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_envelope(res, 401, "UNAUTHENTICATED").await;
    // Before the bytes arrive.
    let pending = app.issue_png(&alice, "chat").await;
    assert_envelope(
        app.callback(&alice, "chat", &pending.key, "").await,
        404,
        "UPLOAD_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn a_reused_upload_url_never_replaces_a_ready_image() {
    let app = spawn_app().await;
    let user = app.login("reuse@example.com").await;
    let issued = app.issue_png(&user, "chat").await;
    app.put(&issued, PNG.to_vec()).await;
    assert_eq!(
        app.callback(&user, "chat", &issued.key, "").await.status(),
        200
    );

    let other = png_of(2, 2, 200);
    assert_eq!(
        app.put(&issued, other).await.status(),
        200,
        "the URL only reaches the staging key"
    );
    assert_eq!(
        app.client
            .get(&issued.cdn_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        PNG
    );
    let again: serde_json::Value = app
        .callback(&user, "chat", &issued.key, "")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["width"], 1, "the ready record is unchanged");
    assert_eq!(
        app.client
            .get(&issued.cdn_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        PNG
    );
}

#[tokio::test]
async fn decompression_bombs_and_oversized_images_are_rejected() {
    let app = spawn_with(|c| c.images.image_max_bytes = 4096).await;
    let user = app.login("bomb@example.com").await;
    let issued = app.issue_png(&user, "chat").await;
    app.put(&issued, png_of(20000, 20000, 100)).await;
    let body = assert_envelope(
        app.callback(&user, "chat", &issued.key, "").await,
        400,
        "IMAGE_REJECTED",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("pixels"),
        "{body}"
    );

    let issued = app.issue_png(&user, "chat").await;
    let res = app.put(&issued, png_of(10, 10, 5000)).await;
    assert_envelope(res, 413, "PAYLOAD_TOO_LARGE").await;
}

fn multipart(prefix: &str, files: Vec<(&str, &str, Vec<u8>)>) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new().text("uploadDirPrefix", prefix.to_owned());
    for (name, ct, bytes) in files {
        form = form.part(
            "files",
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(ct)
                .unwrap(),
        );
    }
    form
}

#[tokio::test]
async fn the_multipart_route_stores_verified_images_and_refuses_11_mb() {
    let app = spawn_app().await;
    let user = app.login("multi@example.com").await;
    let res = app
        .as_user(Method::POST, "/api/multi-img/upload", &user.token)
        .multipart(multipart(
            "/origin/report",
            vec![
                ("1.png", "image/png", PNG.to_vec()),
                ("2.png", "image/png", real_png(3, 2, 300)),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let keys: Vec<String> = res.json().await.unwrap();
    assert_eq!(keys.len(), 2);
    for key in &keys {
        assert!(key.starts_with("report/"), "{key}");
        let meta: serde_json::Value = app
            .send_as(Method::GET, &format!("/images/{key}/metadata"), &user.token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(meta["status"], "ready");
    }

    let res = app
        .as_user(Method::POST, "/api/multi-img/upload", &user.token)
        .multipart(multipart(
            "/origin/report",
            vec![("x.png", "image/png", b"<html>".to_vec())],
        ))
        .send()
        .await
        .unwrap();
    assert_envelope(res, 400, "IMAGE_REJECTED").await;

    let eleven_mb = png_of(100, 100, 11 * 1024 * 1024);
    let res = app
        .as_user(Method::POST, "/api/multi-img/upload", &user.token)
        .multipart(multipart(
            "/origin/report",
            vec![("big.png", "image/png", eleven_mb)],
        ))
        .send()
        .await
        .unwrap();
    assert_envelope(res, 413, "PAYLOAD_TOO_LARGE").await;

    let res = app
        .as_user(Method::POST, "/api/multi-img/upload", &user.token)
        .multipart(multipart(
            "../../etc",
            vec![("x.png", "image/png", PNG.to_vec())],
        ))
        .send()
        .await
        .unwrap();
    assert_envelope(res, 400, "INVALID_UPLOAD_DIR").await;
}

#[tokio::test]
async fn the_sweeper_expires_pending_uploads_and_withdrawal_deletes_every_image() {
    let app = spawn_with(|c| c.images.pending_upload_ttl_secs = 1).await;
    let user = app.login("sweep@example.com").await;
    let issued = app.issue_png(&user, "chat").await;
    app.put(&issued, PNG.to_vec()).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("sweep")
        .env("DATA_DIR", app.dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("expired 1 pending"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_envelope(
        app.callback(&user, "chat", &issued.key, "").await,
        404,
        "IMAGE_NOT_FOUND",
    )
    .await;

    let app = spawn_app().await;
    let user = app.login("leaving@example.com").await;
    let mine = app.upload_png(&user, "my").await;
    let avatar = app.upload_png(&user, "profile").await;
    let chat = app.upload_png(&user, "chat").await;
    let res = app
        .send_as(
            Method::DELETE,
            &format!("/accounts/{}", user.id),
            &user.token,
        )
        .await;
    assert_eq!(res.status(), 204);
    for gone in [&mine, &avatar] {
        let url = gone["cdn_url"].as_str().unwrap();
        assert_eq!(
            app.client.get(url).send().await.unwrap().status(),
            404,
            "{url}"
        );
    }
    let url = chat["cdn_url"].as_str().unwrap();
    assert_eq!(
        app.client.get(url).send().await.unwrap().status(),
        404,
        "every channel's images go with the account"
    );
}

/// The upload pipeline API's TypeScript `uploadChatImage`, unchanged but for its base URL, run in Node
/// against the service (test-support/seed003).
#[tokio::test]
async fn the_seed_003_typescript_example_works_unchanged() {
    let app = spawn_app().await;
    let user = app.login("ts@example.com").await;
    let dir = crate::helpers::workspace_path("test-support/seed003");
    assert!(
        dir.join("node_modules/typescript").is_dir(),
        "TypeScript is not installed: run ./scripts/test"
    );
    let png = app.dir.path().join("photo.png");
    std::fs::write(&png, PNG).unwrap();
    let (address, token, id) = (app.address.clone(), user.token.clone(), user.id.to_string());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(dir.join("run.mjs"))
            .args([&address, &token, &id])
            .arg(&png)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "ready", "{result}");
    assert_eq!(result["uploader_id"], user.id.to_string());
    assert_eq!(result["metadata"]["message_id"], "msg-7788");
    let served = app
        .client
        .get(result["cdn_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);
}

#[tokio::test]
async fn concurrent_callbacks_agree_on_one_ready_image() {
    let app = spawn_app().await;
    let user = app.login("race@example.com").await;
    let issued = app.issue_png(&user, "chat").await;
    app.put(&issued, PNG.to_vec()).await;
    let calls = (0..6).map(|_| app.callback(&user, "chat", &issued.key, ""));
    let answers = futures_util::future::join_all(calls).await;
    let mut bodies = Vec::new();
    for res in answers {
        let status = res.status();
        let mut body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body.as_object_mut().unwrap().remove("confirmed_at");
        bodies.push(body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert_eq!(
        app.client
            .get(&issued.cdn_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        PNG
    );
}

#[tokio::test]
async fn the_local_cdn_answers_head_and_ranges_as_s3_does() {
    let app = spawn_app().await;
    let user = app.login("range@example.com").await;
    let ready = app.upload_png(&user, "chat").await;
    let url = ready["cdn_url"].as_str().unwrap();
    let len = PNG.len();
    let get = app.client.get(url).send().await.unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.headers()["accept-ranges"], "bytes");
    let etag = get.headers()["etag"].clone();

    let head = app.client.head(url).send().await.unwrap();
    assert_eq!(head.status(), 200, "HEAD answers like GET");
    assert_eq!(head.headers()["content-length"], len.to_string().as_str());
    assert_eq!(head.headers()["content-type"], "image/png");
    assert_eq!(head.headers()["etag"], etag);
    assert_eq!(head.headers()["x-content-type-options"], "nosniff");
    assert!(head.bytes().await.unwrap().is_empty(), "without the body");

    for (range, from, to) in [
        ("bytes=1-3".to_owned(), 1, 3),
        ("bytes=-4".to_owned(), len - 4, len - 1),
        (format!("bytes={}-", len - 2), len - 2, len - 1),
    ] {
        let res = app
            .client
            .get(url)
            .header("range", &range)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 206, "{range}");
        assert_eq!(
            res.headers()["content-range"],
            format!("bytes {from}-{to}/{len}").as_str()
        );
        assert_eq!(res.headers()["etag"], etag);
        assert_eq!(res.bytes().await.unwrap().as_ref(), &PNG[from..=to]);
    }
    let past = app
        .client
        .get(url)
        .header("range", format!("bytes={len}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);
    let fresh = app
        .client
        .get(url)
        .header("if-none-match", etag.to_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 304);
}

#[tokio::test]
async fn staged_bytes_are_never_served_whatever_the_case_of_the_prefix() {
    let app = spawn_app().await;
    let user = app.login("case@example.com").await;
    let issued = app.issue_png(&user, "chat").await;
    assert_eq!(app.put(&issued, PNG.to_vec()).await.status(), 200);
    // A case-insensitive file system opens `UPLOADS/…` as `uploads/…`: make this one do so.
    let root = app.dir.path().join("objects");
    for area in ["objects", "meta"] {
        let status = std::process::Command::new("cp")
            .arg("-r")
            .arg(root.join(area).join("uploads"))
            .arg(root.join(area).join("UPLOADS"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    for prefix in ["uploads", "UPLOADS", "Uploads"] {
        let res = app.get(&format!("/cdn/{prefix}/{}", issued.key)).await;
        assert_eq!(res.status(), 404, "{prefix}");
    }
}

#[tokio::test]
async fn upload_limits_are_counted_per_account_in_the_database() {
    // Room for three PNGs and a little: a pending upload counts at its declared length
    // (one that declares none, as the largest accepted: 10 MiB), a ready one as it is
    // stored (no variants here, so that is the PNG's size).
    let png = PNG.len() as u64;
    let quota = 3 * png + 10;
    let app = spawn_with(move |c| {
        c.images.upload_max_pending = 2;
        c.images.upload_urls_per_hour = 4;
        c.images.upload_quota_bytes = quota;
        c.images.image_variants = String::new();
    })
    .await;
    let user = app.login("limits@example.com").await;
    let issue_png = |user| {
        app.issue(
            user,
            "chat",
            json!({"filename": "x.png", "content_type": "image/png"}),
        )
    };
    let app = &app;
    let declaring = |user: &User| {
        let user = user.clone();
        async move {
            app.issue_ok(
                &user,
                "chat",
                json!({"filename": "x.png", "content_type": "image/png", "content_length": png}),
            )
            .await
        }
    };
    let other = app.login("limits-other@example.com").await;
    let first = declaring(&user).await;
    app.put(&first, PNG.to_vec()).await;
    assert_eq!(
        app.callback(&user, "chat", &first.key, "").await.status(),
        200
    );

    // A declared length past what is left of the quota.
    let res = app
        .issue(
            &user,
            "chat",
            json!({"filename": "x.png", "content_type": "image/png", "content_length": 2 * png + 11}),
        )
        .await;
    let body = assert_envelope(res, 413, "QUOTA_EXCEEDED").await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&quota.to_string()),
        "{body}"
    );

    // One that declares nothing may store the largest accepted: past the quota.
    assert_envelope(issue_png(&user).await, 413, "QUOTA_EXCEEDED").await;

    // Two waiting for their bytes is the most at once.
    let a = declaring(&user).await;
    let b = declaring(&user).await;
    let res = issue_png(&user).await;
    let body = assert_envelope(res, 429, "UPLOAD_LIMIT_EXCEEDED").await;
    assert!(
        body["message"].as_str().unwrap().contains("2 uploads"),
        "{body}"
    );

    // Confirming one frees a place, but two ready and one pending leave no room for
    // another that may store as much.
    app.put(&a, PNG.to_vec()).await;
    assert_eq!(app.callback(&user, "chat", &a.key, "").await.status(), 200);
    let res = issue_png(&user).await;
    assert_envelope(res, 413, "QUOTA_EXCEEDED").await;

    // Deleting images gives the quota back; the hour's count stays.
    for key in [first.key.as_str(), a.key.as_str()] {
        let res = app
            .send_as(Method::DELETE, &format!("/images/{key}"), &user.token)
            .await;
        assert_eq!(res.status(), 204);
    }
    let c = declaring(&user).await;
    for issued in [&b, &c] {
        app.put(issued, PNG.to_vec()).await;
        assert_eq!(
            app.callback(&user, "chat", &issued.key, "").await.status(),
            200
        );
    }
    let res = issue_png(&user).await;
    let body = assert_envelope(res, 429, "UPLOAD_LIMIT_EXCEEDED").await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("4 uploads an hour"),
        "{body}"
    );

    // Every account has its own count.
    declaring(&other).await;
}

#[tokio::test]
async fn seed_004_presign_may_declare_the_length_and_the_url_binds_it() {
    let app = spawn_app().await;
    let user = app.login("length004@example.com").await;
    let res = app
        .as_user(Method::POST, "/images/presigned-url", &user.token)
        .json(
            &json!({"filename": "x.png", "content_type": "image/png", "content_length": PNG.len()}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    let headers = v["required_headers"].as_object().unwrap();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.as_str().unwrap().to_owned());
    assert_eq!(length, Some(PNG.len().to_string()), "{v}");
    let mut longer = PNG.to_vec();
    longer.extend(b"more");
    let mut put = app.client.put(v["upload_url"].as_str().unwrap());
    for (k, value) in headers {
        if !k.eq_ignore_ascii_case("content-length") {
            put = put.header(k, value.as_str().unwrap());
        }
    }
    let res = put.body(longer).send().await.unwrap();
    assert_eq!(res.status(), 400, "a body of another length is refused");
}

#[tokio::test]
async fn private_images_need_a_signature_that_expires_and_only_their_readers_get_one() {
    let app = spawn_with(|c| c.images.private_url_ttl_secs = 2).await;
    let owner = app.login("private-owner@example.com").await;
    let other = app.login("private-other@example.com").await;
    app.login("private-staff@example.com").await;
    app.grant("private-staff@example.com", "STAFF");
    let staff = app.login("private-staff@example.com").await;

    let confirmed = app.upload_png(&owner, "my").await;
    let key = confirmed["key"].as_str().unwrap().to_owned();
    let signed = confirmed["cdn_url"].as_str().unwrap().to_owned();
    let plain = app.url(&format!("/cdn/{key}"));
    assert!(
        signed.starts_with(&plain) && signed.contains("&sig="),
        "{signed}"
    );

    // Unsigned, with another key's signature, or altered: 403. Signed: the bytes, cached
    // privately for no longer than the URL lives.
    for url in [
        plain.clone(),
        format!("{plain}?expires=99999999999&sig=AAAA"),
        format!("{plain}?expires=9223372036854775808&sig=%%"),
        signed.replace("expires=", "expires=1"),
    ] {
        let res = app.client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 403, "{url}");
    }
    let res = app.client.get(&signed).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.starts_with("private, max-age="), "{cache}");
    let max_age: i64 = cache.rsplit('=').next().unwrap().parse().unwrap();
    assert!((0..=2).contains(&max_age), "{cache}");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);

    // Readers get a fresh URL; anyone else is told nothing exists.
    for reader in [&owner, &staff] {
        let res = app
            .send_as(Method::GET, &format!("/images/{key}/url"), &reader.token)
            .await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["url"].as_str().unwrap().contains("&sig="));
        assert!(
            body["expires_in"]
                .as_i64()
                .is_some_and(|s| (0..=2).contains(&s)),
            "{body}"
        );
    }
    crate::helpers::assert_envelope(
        app.send_as(Method::GET, &format!("/images/{key}/url"), &other.token)
            .await,
        404,
        "IMAGE_NOT_FOUND",
    )
    .await;

    // After its expiry the URL is refused.
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let res = app.client.get(&signed).send().await.unwrap();
    assert_eq!(res.status(), 403, "expired");

    // A public channel's image is served as before, and its URL does not expire.
    let public = app.upload_png(&owner, "chat").await;
    assert!(public.get("cdn_url_expires_at").is_none(), "{public}");
    let res = app
        .client
        .get(public["cdn_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
    let body: serde_json::Value = app
        .send_as(
            Method::GET,
            &format!("/images/{}/url", public["key"].as_str().unwrap()),
            &owner.token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["expires_in"], serde_json::Value::Null);
}
