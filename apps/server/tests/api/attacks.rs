//! Hostile uploads: files that are two things at once, that decode to far more than they
//! weigh, that carry script in their metadata, that are cut short, or whose names and
//! metadata try to deceive a reader. (Markup under every image type, a 20000×20000 header,
//! another user's `uploader_id`, replayed callbacks and reused upload URLs are in
//! `images.rs`; on the real S3 server, in `s3.rs`.)

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, User, assert_envelope, spawn_app};
use crate::images::{Issued, PNG, TINY_GIF, TINY_JPEG, real_png};

/// CRC-32 (ISO-HDLC), as PNG chunks carry it.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

pub(crate) fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend(u32::try_from(data.len()).unwrap().to_be_bytes());
    let mut body = kind.to_vec();
    body.extend(data);
    out.extend(&body);
    out.extend(crc32(&body).to_be_bytes());
}

/// Bits, least significant first, as deflate packs them.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn push(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push((self.acc & 0xFF) as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code: its bits go most significant first.
    fn code(&mut self, code: u32, len: u32) {
        let reversed = code.reverse_bits() >> (32 - len);
        self.push(reversed, len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push((self.acc & 0xFF) as u8);
        }
        self.out
    }
}

/// A deflate stream (one fixed-Huffman block) of `n` zero bytes: a literal, then copies of
/// 258 bytes at distance 1, 13 bits each: about 160 to 1.
pub(crate) fn deflate_zeros(n: u64) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.push(1, 1); // BFINAL
    bits.push(1, 2); // BTYPE = fixed Huffman
    let literal_zero = |bits: &mut Bits| bits.code(0x30, 8);
    literal_zero(&mut bits);
    let mut left = n - 1;
    while left >= 258 {
        bits.code(0xC5, 8); // length 258 (symbol 285)
        bits.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        literal_zero(&mut bits);
    }
    bits.code(0, 7); // end of block
    bits.finish()
}

/// A complete, valid grayscale PNG of `w`×`h` black pixels: a few hundred kilobytes that
/// decode to `w × h` bytes.
fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let raw = (u64::from(w) + 1) * u64::from(h); // a filter byte starts each row
    let mut zlib = vec![0x78, 0x01];
    zlib.extend(deflate_zeros(raw));
    let adler = ((raw % 65521) << 16) | 1; // a stays 1 over zeros; b counts them
    zlib.extend(u32::try_from(adler).unwrap().to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit grayscale
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(&mut png, b"IDAT", &zlib);
    png_chunk(&mut png, b"IEND", &[]);
    png
}

/// A baseline JPEG header with an APP1 (Exif) segment carrying `exif`, and a frame of
/// `w`×`h`.
pub(crate) fn jpeg_with_exif(w: u16, h: u16, exif: &[u8]) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xE1];
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(exif);
    j.extend(u16::try_from(app1.len() + 2).unwrap().to_be_bytes());
    j.extend(app1);
    j.extend([0xFF, 0xC0, 0x00, 0x11, 0x08]);
    j.extend(h.to_be_bytes());
    j.extend(w.to_be_bytes());
    j.extend([0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
    // A scan: its header, one byte of entropy-coded data, then the end of image.
    j.extend(JPEG_SCAN);
    j.extend([0x00, 0xFF, 0xD9]);
    j
}

const JPEG_SCAN: [u8; 14] = [
    0xFF, 0xDA, 0x00, 0x0C, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3F, 0x00,
];

pub(crate) fn gif(w: u16, h: u16, tail: &[u8]) -> Vec<u8> {
    let mut g = b"GIF89a".to_vec();
    g.extend(w.to_le_bytes());
    g.extend(h.to_le_bytes());
    g.extend([0, 0, 0]);
    g.extend(tail);
    g
}

/// A whole GIF: a `w`×`h` screen, a comment extension holding `comment`, then one frame
/// per size in `frames` (each one byte of image data), then the trailer.
pub(crate) fn gif_frames(w: u16, h: u16, comment: &[u8], frames: &[(u16, u16)]) -> Vec<u8> {
    let mut g = gif(w, h, &[]);
    for part in comment.chunks(255) {
        g.extend([0x21, 0xFE]);
        g.push(u8::try_from(part.len()).unwrap());
        g.extend(part);
        g.push(0);
    }
    for (fw, fh) in frames {
        g.extend([0x2C, 0, 0, 0, 0]);
        g.extend(fw.to_le_bytes());
        g.extend(fh.to_le_bytes());
        g.extend([0x00, 0x02, 0x01, 0x00, 0x00]);
    }
    g.push(0x3B);
    g
}

/// A whole animated WebP: a VP8X canvas of `w`×`h` with the animation flag, and one `ANMF`
/// frame of `fw`×`fh` (no image data: only the sizes matter here).
pub(crate) fn webp_animated(w: u32, h: u32, fw: u32, fh: u32) -> Vec<u8> {
    let chunk = |fourcc: &[u8], payload: Vec<u8>| {
        let mut c = fourcc.to_vec();
        c.extend(u32::try_from(payload.len()).unwrap().to_le_bytes());
        c.extend(&payload);
        c
    };
    let mut vp8x = vec![0x02, 0, 0, 0];
    vp8x.extend(&(w - 1).to_le_bytes()[..3]);
    vp8x.extend(&(h - 1).to_le_bytes()[..3]);
    let mut anmf = vec![0u8; 6];
    anmf.extend(&(fw - 1).to_le_bytes()[..3]);
    anmf.extend(&(fh - 1).to_le_bytes()[..3]);
    anmf.extend([0u8; 4]);
    let body = [
        chunk(b"VP8X", vp8x),
        chunk(b"ANIM", vec![0; 6]),
        chunk(b"ANMF", anmf),
    ]
    .concat();
    let mut v = b"RIFF".to_vec();
    v.extend(u32::try_from(body.len() + 4).unwrap().to_le_bytes());
    v.extend(b"WEBP");
    v.extend(body);
    v
}

fn webp_vp8x(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00".to_vec();
    v.extend(&(w - 1).to_le_bytes()[..3]);
    v.extend(&(h - 1).to_le_bytes()[..3]);
    v
}

impl TestApp {
    /// Presigns `declared`, PUTs `bytes`, and answers the callback.
    async fn try_upload(
        &self,
        user: &User,
        declared: &str,
        bytes: Vec<u8>,
    ) -> (Issued, reqwest::Response) {
        let issued = self
            .issue_ok(
                user,
                "chat",
                json!({"filename": "x.bin", "content_type": declared}),
            )
            .await;
        let put = self.put(&issued, bytes).await;
        assert_eq!(
            put.status(),
            200,
            "the store takes any bytes; confirmation judges"
        );
        let res = self.callback(user, "chat", &issued.key, "").await;
        (issued, res)
    }

    /// What the CDN serves for an image: status, type, the defensive headers, bytes.
    async fn served(&self, issued: &Issued) -> (u16, String, String, String, Vec<u8>) {
        let res = self.client.get(&issued.cdn_url).send().await.unwrap();
        let h = |n: &str| {
            res.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (t, nosniff, csp) = (
            h("content-type"),
            h("x-content-type-options"),
            h("content-security-policy"),
        );
        (
            res.status().as_u16(),
            t,
            nosniff,
            csp,
            res.bytes().await.unwrap().to_vec(),
        )
    }

    fn objects_on_disk(&self) -> usize {
        fn count(p: &std::path::Path) -> usize {
            std::fs::read_dir(p).map_or(0, |d| {
                d.filter_map(Result::ok)
                    .map(|e| {
                        if e.path().is_dir() {
                            count(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
        }
        count(&self.dir.path().join("objects/objects"))
    }
}

#[tokio::test]
async fn polyglots_and_script_in_metadata_are_published_without_it() {
    let app = spawn_app().await;
    let user = app.login("poly@example.com").await;
    let script = b"<html><body><script>alert(document.cookie)</script></body></html>";
    // HTML inside a PNG text chunk: a valid PNG from the first byte to the last.
    let png = real_png(10, 10, 0);
    let iend = png.len() - 12;
    let mut png_html = png[..iend].to_vec();
    png_chunk(
        &mut png_html,
        b"tEXt",
        &[b"Comment\0".as_slice(), script].concat(),
    );
    png_html.extend(&png[iend..]);
    // Script in a GIF comment block, after the header and its colour table.
    let comment = b"*/=1;alert(document.domain)//<script>alert(1)</script>;";
    let at = 13 + (3 << ((TINY_GIF[10] & 7) + 1));
    let mut gif_js = TINY_GIF[..at].to_vec();
    gif_js.extend([0x21, 0xFE, u8::try_from(comment.len()).unwrap()]);
    gif_js.extend(comment);
    gif_js.push(0);
    gif_js.extend(&TINY_GIF[at..]);
    // Script as a JPEG's EXIF.
    let exif = b"Exif\0\0MM\0*\0\0\0\x08<script>alert('exif')</script><svg onload=alert(1)>";
    let mut jpeg_exif = TINY_JPEG[..2].to_vec();
    jpeg_exif.extend([0xFF, 0xE1]);
    jpeg_exif.extend(u16::try_from(exif.len() + 2).unwrap().to_be_bytes());
    jpeg_exif.extend(exif);
    jpeg_exif.extend(&TINY_JPEG[2..]);
    for (declared, bytes, width) in [
        ("image/png", png_html, 10),
        ("image/gif", gif_js, 4),
        ("image/jpeg", jpeg_exif, 16),
    ] {
        assert!(
            bytes.windows(6).any(|w| w == b"alert("),
            "{declared}: the script is in"
        );
        let (issued, res) = app.try_upload(&user, declared, bytes.clone()).await;
        assert_eq!(
            res.status(),
            200,
            "{declared}: an image, whatever its metadata"
        );
        let image: serde_json::Value = res.json().await.unwrap();
        assert_eq!(image["width"], width, "{declared}");
        assert_eq!(image["content_type"], declared, "{declared}");
        assert!(
            !image.to_string().contains("script"),
            "nothing from inside the file is echoed: {image}"
        );
        // Published without the block that held the script, as the image type,
        // unsniffable and under a policy that runs nothing.
        let (status, content_type, nosniff, csp, served) = app.served(&issued).await;
        assert_eq!(status, 200);
        assert_eq!(content_type, declared);
        assert_eq!(nosniff, "nosniff");
        assert_eq!(csp, "default-src 'none'");
        assert!(
            !served.windows(6).any(|w| w == b"alert("),
            "{declared}: the script is not published"
        );
        assert!(served.len() < bytes.len(), "{declared}");
    }

    // HTML appended after the image's end: refused, and the bytes are gone.
    let mut appended = PNG.to_vec();
    appended.extend(script);
    let (issued, res) = app.try_upload(&user, "image/png", appended).await;
    assert_envelope(res, 400, "IMAGE_REJECTED").await;
    assert_eq!(app.served(&issued).await.0, 404);
    // Declared as one type, sniffed as another: refused too.
    let (issued, res) = app.try_upload(&user, "image/png", gif(4, 4, b";")).await;
    assert_envelope(res, 400, "IMAGE_REJECTED").await;
    assert_eq!(app.served(&issued).await.0, 404);
}

#[tokio::test]
async fn truncated_images_of_every_type_are_rejected_and_removed() {
    let app = spawn_app().await;
    let user = app.login("cut@example.com").await;
    let jpeg = jpeg_with_exif(16, 8, b"");
    for (declared, bytes) in [
        ("image/png", PNG[..8].to_vec()),
        ("image/png", PNG[..18].to_vec()),
        ("image/png", PNG[..PNG.len() - 1].to_vec()),
        ("image/png", PNG[..40].to_vec()),
        ("image/gif", gif(4, 4, b"\x2C\x00")),
        ("image/gif", b"GIF89a\x01".to_vec()),
        ("image/jpeg", vec![0xFF, 0xD8, 0xFF]),
        ("image/jpeg", jpeg[..jpeg.len() - 12].to_vec()),
        // The whole frame header, then nothing: no scan data, and no end of image.
        (
            "image/jpeg",
            jpeg[..jpeg.len() - JPEG_SCAN.len() - 3].to_vec(),
        ),
        // A whole frame header and the end of image, but no scan between them.
        (
            "image/jpeg",
            [&jpeg[..jpeg.len() - JPEG_SCAN.len() - 3], &[0xFF, 0xD9][..]].concat(),
        ),
        // A scan, cut short before its end of image.
        ("image/jpeg", jpeg[..jpeg.len() - 2].to_vec()),
        ("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ".to_vec()),
        ("image/webp", webp_vp8x(10, 10)[..26].to_vec()),
        ("image/webp", webp_vp8x(10, 10)),
        ("image/png", Vec::new()),
    ] {
        let (issued, res) = app.try_upload(&user, declared, bytes.clone()).await;
        assert_envelope(res, 400, "IMAGE_REJECTED").await;
        assert_eq!(app.served(&issued).await.0, 404, "{declared} {bytes:?}");
    }
    assert_eq!(app.objects_on_disk(), 0, "no rejected bytes are left");

    // Bytes that arrived but are not confirmed are never served, at either key.
    let staged = app.issue_png(&user, "chat").await;
    assert_eq!(app.put(&staged, PNG.to_vec()).await.status(), 200);
    assert_eq!(app.served(&staged).await.0, 404);
    let res = app.get(&format!("/cdn/uploads/{}", staged.key)).await;
    assert_eq!(res.status(), 404, "the staging key is not served");
}

#[tokio::test]
async fn images_that_decode_to_more_than_they_weigh_are_bounded_by_pixels() {
    let app = spawn_app().await;
    let user = app.login("bomb@example.com").await;

    // A real, complete PNG: 190 KB that decodes to 30 MB. The service reads headers only
    // (it never inflates), so this costs it nothing; it is within the pixel bound.
    let bomb = png_bomb(6000, 5000);
    assert!(bomb.len() < 256 * 1024, "{}", bomb.len());
    let (issued, res) = app.try_upload(&user, "image/png", bomb.clone()).await;
    assert_eq!(res.status(), 200);
    let image: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(6000), Some(5000))
    );
    assert_eq!(app.served(&issued).await.4, bomb);

    // Past IMAGE_MAX_PIXELS (50 M), whatever the format and however small the file:
    // no client is ever handed it to decode.
    for (declared, bytes) in [
        ("image/png", png_bomb(10_000, 10_000)),
        ("image/gif", gif(65535, 65535, b";")),
        // A 1×1 screen whose second frame is 65535×65535; an animation's frame likewise.
        (
            "image/gif",
            gif_frames(1, 1, b"", &[(1, 1), (65535, 65535)]),
        ),
        ("image/webp", webp_animated(1, 1, 16384, 16384)),
        ("image/webp", webp_vp8x(16384, 16384)),
        ("image/jpeg", jpeg_with_exif(65535, 65535, b"")),
    ] {
        let (issued, res) = app.try_upload(&user, declared, bytes).await;
        let body = assert_envelope(res, 400, "IMAGE_REJECTED").await;
        assert!(
            body["message"].as_str().unwrap().contains("pixels"),
            "{declared}: {body}"
        );
        assert_eq!(app.served(&issued).await.0, 404);
    }
}

#[tokio::test]
async fn names_and_metadata_cannot_deceive_or_overflow() {
    let app = spawn_app().await;
    let user = app.login("names@example.com").await;
    let issue = |body: serde_json::Value| app.issue(&user, "chat", body);

    // Unicode is welcome, verbatim, and never reaches the key.
    let res = issue(
        json!({"filename": "영수증 사진 📷.png", "content_type": "image/png",
        "metadata": {"설명": "가게 영수증 🧾", "note": "<script>alert(1)</script>"}}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let issued: serde_json::Value = res.json().await.unwrap();
    let key = issued["key"].as_str().unwrap();
    assert!(
        key.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b)),
        "the key is the service's own: {key}"
    );
    assert!(key.ends_with(".png"));

    // Control characters, and the marks that make `gnp.exe` read as `exe.png`.
    for name in [
        "a\u{0}b.png",
        "a\nb.png",
        "a\rb.png",
        "a\u{1b}[31mred.png",
        "invoice\u{202E}gnp.exe",
        "x\u{2067}y.png",
        "x\u{200F}.png",
        "../x.png",
        "..\\x.png",
        "",
        &format!("{}.png", "a".repeat(300)),
    ] {
        let res = issue(json!({"filename": name, "content_type": "image/png"})).await;
        let body = assert_envelope(res, 400, "INVALID_INPUT").await;
        assert_eq!(
            body["validation"][0]["field"], "filename",
            "{name:?}: {body}"
        );
    }

    // Metadata: an object, bounded in size, with printable keys.
    for (metadata, why) in [
        (json!({"note": "x".repeat(5000)}), "over 4 KiB"),
        (json!({"a\u{0}b": 1}), "a control character in a key"),
        (json!({"a\u{202E}b": 1}), "an override in a key"),
        (json!({"": 1}), "an empty key"),
        (json!({"k".repeat(65): 1}), "a long key"),
        (json!(["not", "an", "object"]), "not an object"),
        (json!("string"), "not an object"),
    ] {
        let res = issue(json!({"filename": "x.png", "content_type": "image/png",
            "metadata": metadata}))
        .await;
        let body = assert_envelope(res, 400, "INVALID_INPUT").await;
        assert_eq!(body["validation"][0]["field"], "metadata", "{why}: {body}");
    }
    // Deep nesting is refused by the JSON reader before anything else sees it.
    let deep = format!(
        "{{\"filename\":\"x.png\",\"metadata\":{}1{}}}",
        "{\"a\":".repeat(200),
        "}".repeat(200)
    );
    let res = app
        .as_user(Method::POST, "/api/v1/images/chat", &user.token)
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_envelope(res, 400, "MALFORMED_JSON").await;

    // The multipart route applies the same rule to each part's file name, and the key
    // is still the service's own.
    let upload = |name: &'static str| {
        let form = reqwest::multipart::Form::new()
            .text("uploadDirPrefix", "/origin/report")
            .part(
                "files",
                reqwest::multipart::Part::bytes(PNG.to_vec())
                    .file_name(name)
                    .mime_str("image/png")
                    .unwrap(),
            );
        app.as_user(Method::POST, "/api/multi-img/upload", &user.token)
            .multipart(form)
            .send()
    };
    let res = upload("신고 증거.png").await.unwrap();
    assert_eq!(res.status(), 200);
    let keys: Vec<String> = res.json().await.unwrap();
    assert!(
        keys[0].starts_with("report/") && keys[0].is_ascii(),
        "{keys:?}"
    );
    for name in [
        "../../etc/passwd.png",
        "evidence\u{202E}gnp.exe",
        "a\tb.png",
    ] {
        let res = upload(name).await.unwrap();
        assert_envelope(res, 400, "INVALID_INPUT").await;
    }
}
