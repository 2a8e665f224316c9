//! The image-processing port ([`domain::ports::ImageProcessor`]) on the Rust image
//! codecs: [`Pipeline`] decodes an upload whole, removes its metadata losslessly, and
//! renders its WebP variants and BlurHash from the decoded pixels, on tokio's blocking
//! pool. How many run at once is the caller's to bound (the images service admits them).
//!
//! Rooms: `inspect` (formats walked without decoding: type, dimensions, completeness,
//! frames, decoding cost), `decode` (the codecs), `sanitize` (metadata removal,
//! orientation, colour profile), `render` (resizing, turning upright, WebP, BlurHash).
//!
//! Crates, and why: `jpeg-decoder`, `png`, `gif` and `image-webp` are the decoders the
//! `image` crate wraps, used directly for what the wrapper hides (DCT-scaled JPEG
//! decoding, GIF frame bounds); `fast_image_resize` resizes with SIMD; `webp` binds
//! libwebp, the reference lossy encoder (pure-Rust encoders are lossless only, which makes
//! photo thumbnails several times larger); `img-parts` edits containers without touching
//! pixels; `kamadak-exif` reads the orientation; `blurhash` is the reference algorithm's
//! port.

mod decode;
mod inspect;
mod render;
mod sanitize;

use async_trait::async_trait;
use bytes::Bytes;
use domain::ImageType;
use domain::ports::ImageProcessor;
use domain::processing::{InspectError, Inspection, ProcessError, Processed, VariantPresets};

/// Decodes, sanitises and renders, off the async workers.
#[derive(Debug, Clone)]
pub struct Pipeline {
    quality: f32,
}

impl Pipeline {
    /// WebP variants at `quality` (0 to 100; libvips' default is 75).
    pub fn new(quality: f32) -> Self {
        Self {
            quality: quality.clamp(0.0, 100.0),
        }
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::new(75.0)
    }
}

#[async_trait]
impl ImageProcessor for Pipeline {
    fn inspect(&self, bytes: &[u8], size: u64) -> Result<Inspection, InspectError> {
        inspect::inspect(bytes, size)
    }

    async fn process(
        &self,
        bytes: Bytes,
        kind: ImageType,
        presets: &VariantPresets,
        max_pixels: u64,
        deadline: std::time::Instant,
    ) -> Result<Processed, ProcessError> {
        let presets = presets.clone();
        let quality = self.quality;
        let limits = Limits {
            max_pixels,
            deadline,
        };
        tokio::task::spawn_blocking(move || process(&bytes, kind, &presets, limits, quality))
            .await
            .map_err(|e| ProcessError::Failed(e.into()))?
    }
}

/// What one run of the pipeline may take: the largest frame, and when it must stop.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_pixels: u64,
    /// Checked between frames and between stages.
    pub deadline: std::time::Instant,
}

/// The whole pipeline, on the calling thread.
///
/// # Errors
/// `Undecodable` for bytes that do not decode; `OverDeadline` when `limits.deadline`
/// passed between two steps; `Failed` when rendering fails.
pub fn process(
    bytes: &Bytes,
    kind: ImageType,
    presets: &VariantPresets,
    limits: Limits,
    quality: f32,
) -> Result<Processed, ProcessError> {
    let failed = |e: String| ProcessError::Failed(e.into());
    let in_time = || {
        if std::time::Instant::now() > limits.deadline {
            Err(ProcessError::OverDeadline)
        } else {
            Ok(())
        }
    };
    let orientation = sanitize::orientation(bytes, kind);
    // The smallest decode that covers every variant and the BlurHash's few pixels.
    let need = |w: u32, h: u32| {
        let shown = render::turned(orientation, (w, h));
        presets
            .iter()
            .map(|p| render::turned(orientation, p.size_for(shown.0, shown.1).scaled))
            .fold((w.min(64), h.min(64)), |(a, b), (c, d)| {
                (a.max(c), b.max(d))
            })
    };
    let mut decoded = decode::decode(bytes, kind, limits.max_pixels, need, limits.deadline)
        .map_err(|e| match e {
            decode::DecodeError::Invalid(why) => ProcessError::Undecodable(why),
            decode::DecodeError::OverDeadline => ProcessError::OverDeadline,
        })?;
    in_time()?;
    render::premultiply(&mut decoded.pixels).map_err(failed)?;
    let shown = render::turned(orientation, (decoded.width, decoded.height));
    let published = sanitize::strip(bytes, kind, orientation).map_err(ProcessError::Undecodable)?;
    let icc = sanitize::icc_profile(bytes, kind);
    let renditions = presets
        .iter()
        .map(|p| {
            in_time()?;
            render::variant(
                &decoded.pixels,
                p,
                shown,
                orientation,
                quality,
                icc.as_ref(),
            )
            .map_err(failed)
        })
        .collect::<Result<Vec<_>, _>>()?;
    in_time()?;
    let blurhash = render::blurhash(&decoded.pixels, orientation).map_err(failed)?;
    Ok(Processed {
        stripped: published != *bytes,
        published,
        width: shown.0,
        height: shown.1,
        renditions,
        blurhash,
    })
}

#[cfg(test)]
mod tests {
    //! The pipeline on files a phone and Pillow wrote (`fixtures/`, made by
    //! `apps/server/tests/fixtures/images.py make`).

    use super::*;

    fn run(bytes: &'static [u8], kind: ImageType) -> Result<Processed, ProcessError> {
        process(
            &Bytes::from_static(bytes),
            kind,
            &VariantPresets::default(),
            Limits {
                max_pixels: 50_000_000,
                deadline: std::time::Instant::now() + std::time::Duration::from_secs(60),
            },
            75.0,
        )
    }

    const SECRETS: [&[u8]; 7] = [
        b"SN-4417-0098",
        b"Jane Q. Owner",
        b"221B Baker Street",
        b"xpacket",
        b"Galaxy S99",
        b"PNG author secret",
        b"WEBP xmp secret",
    ];

    fn assert_clean(bytes: &[u8]) {
        for s in SECRETS {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s),
                "{} left",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn a_phone_photo_is_published_upright_without_its_metadata() {
        let original = include_bytes!("../fixtures/phone.jpg");
        let p = run(original, ImageType::Jpeg).expect("processed");
        assert!(p.stripped);
        assert_clean(&p.published);
        // Stored 640×480 with orientation 6: displayed 480×640, and the published bytes
        // keep the orientation (as their only EXIF tag) and the ICC profile.
        assert_eq!((p.width, p.height), (480, 640));
        assert_eq!(sanitize::orientation(&p.published, ImageType::Jpeg), 6);
        assert_eq!(
            sanitize::icc_profile(&p.published, ImageType::Jpeg),
            sanitize::icc_profile(&Bytes::from_static(original), ImageType::Jpeg)
        );
        // The scan is untouched: the published file decodes to the same pixels.
        let pixels = |b: &[u8]| {
            let mut d = jpeg_decoder::Decoder::new(b);
            d.decode().expect("decodes")
        };
        assert_eq!(pixels(&p.published), pixels(original));
        let sizes: Vec<_> = p
            .renditions
            .iter()
            .map(|r| (r.name.as_str().to_owned(), r.width, r.height))
            .collect();
        assert_eq!(
            sizes,
            [("thumb".into(), 320, 320), ("medium".into(), 480, 640)],
            "cover crops to the box; fit never enlarges"
        );
        for r in &p.renditions {
            assert!(r.bytes.starts_with(b"RIFF") && &r.bytes[8..12] == b"WEBP");
            assert_clean(&r.bytes);
            let d = image_webp::WebPDecoder::new(std::io::Cursor::new(r.bytes.as_ref()))
                .expect("a WebP");
            assert_eq!(d.dimensions(), (r.width, r.height));
        }
        assert_eq!(p.blurhash.len(), 28, "4×3 components");
    }

    #[test]
    fn png_text_chunks_and_webp_metadata_chunks_are_removed() {
        for (bytes, kind) in [
            (&include_bytes!("../fixtures/text.png")[..], ImageType::Png),
            (
                &include_bytes!("../fixtures/meta.webp")[..],
                ImageType::Webp,
            ),
        ] {
            let p = process(
                &Bytes::copy_from_slice(bytes),
                kind,
                &VariantPresets::default(),
                Limits {
                    max_pixels: 50_000_000,
                    deadline: std::time::Instant::now() + std::time::Duration::from_secs(60),
                },
                75.0,
            )
            .expect("processed");
            assert!(p.stripped, "{kind:?}");
            assert_clean(&p.published);
            for chunk in [&b"tEXt"[..], b"iTXt", b"zTXt", b"eXIf", b"EXIF", b"XMP "] {
                assert!(
                    !p.published.windows(4).any(|w| w == chunk),
                    "{kind:?} keeps {}",
                    String::from_utf8_lossy(chunk)
                );
            }
            assert!(
                sanitize::icc_profile(&p.published, kind).is_some(),
                "{kind:?}"
            );
            assert_eq!((p.width, p.height), (40, 30));
        }
    }

    #[test]
    fn files_that_do_not_decode_are_no_images() {
        for (bytes, kind, why) in [
            (
                &include_bytes!("../fixtures/truncated-idat.png")[..],
                ImageType::Png,
                "PNG does not decode",
            ),
            (
                &include_bytes!("../fixtures/noscan.jpg")[..],
                ImageType::Jpeg,
                "JPEG does not decode",
            ),
            (
                &include_bytes!("../fixtures/frame-beyond-screen.gif")[..],
                ImageType::Gif,
                "GIF does not decode",
            ),
        ] {
            match process(
                &Bytes::copy_from_slice(bytes),
                kind,
                &VariantPresets::default(),
                Limits {
                    max_pixels: 50_000_000,
                    deadline: std::time::Instant::now() + std::time::Duration::from_secs(60),
                },
                75.0,
            ) {
                Err(ProcessError::Undecodable(reason)) => {
                    assert!(reason.contains(why), "{reason}");
                }
                other => panic!("{kind:?} was accepted: {:?}", other.map(|p| p.width)),
            }
        }
    }
}
