//! What confirmation asks of the codecs ([`crate::ports::ImageProcessor`]), in two steps.
//! `inspect` reads the format, dimensions, completeness and decoding cost off the bytes
//! without decoding a pixel ([`Inspection`]), so the policy can refuse before any work;
//! `process` decodes the image (a file that does not decode is no image), removes its
//! metadata without touching its pixels, and renders the named variants and a BlurHash.

use crate::error::{BoxError, ParseError};
use crate::image::ImageType;
use crate::storage::ObjectKey;
use bytes::Bytes;
use std::fmt;
use std::str::FromStr;

/// A variant's name (`thumb`, `medium`): 1 to 32 lowercase ASCII letters, digits, `_` or
/// `-`. It becomes part of the variant's key, so it never holds a dot or a slash.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct VariantName(String);

impl VariantName {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let valid = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "variant",
                "names are 1 to 32 of a-z, 0-9, '_' and '-'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VariantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a variant fills its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fit {
    /// Fills the whole box, cropping what overflows, centred (a square thumbnail).
    Cover,
    /// Fits inside the box, keeping the whole image.
    Fit,
}

/// A named variant: a box and how the image fills it. Encoded as WebP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VariantPreset {
    pub name: VariantName,
    pub width: u32,
    pub height: u32,
    pub fit: Fit,
}

impl VariantPreset {
    /// The size of this variant of an image displayed at `width` × `height`: never larger
    /// than the image (a box larger than the image gives the image's own size). `scaled`
    /// is the whole image scaled, before a cover crop; `size` what is kept.
    pub fn size_for(&self, width: u32, height: u32) -> VariantSize {
        let (w, h) = (f64::from(width), f64::from(height));
        let (bw, bh) = (f64::from(self.width), f64::from(self.height));
        let ratio = match self.fit {
            Fit::Cover => (bw / w).max(bh / h),
            Fit::Fit => (bw / w).min(bh / h),
        }
        .min(1.0);
        let scale = |v: f64| ((v * ratio).round() as u32).max(1);
        let scaled = (scale(w), scale(h));
        let size = match self.fit {
            Fit::Cover => (scaled.0.min(self.width), scaled.1.min(self.height)),
            Fit::Fit => scaled,
        };
        VariantSize { scaled, size }
    }
}

/// See [`VariantPreset::size_for`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantSize {
    pub scaled: (u32, u32),
    pub size: (u32, u32),
}

/// The presets every confirmed image gets (`IMAGE_VARIANTS`), in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VariantPresets(Vec<VariantPreset>);

impl VariantPresets {
    pub fn none() -> Self {
        Self(Vec::new())
    }

    pub fn iter(&self) -> impl Iterator<Item = &VariantPreset> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Default for VariantPresets {
    /// `thumb=320x320:cover,medium=1280x1280:fit`.
    fn default() -> Self {
        "thumb=320x320:cover,medium=1280x1280:fit"
            .parse()
            .unwrap_or_else(|_| unreachable!("the default presets parse"))
    }
}

impl FromStr for VariantPresets {
    type Err = ParseError;

    /// `name=WxH:cover|fit`, comma-separated; empty for none. Names are unique; sizes are
    /// 1 to 4096.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| ParseError::new("IMAGE_VARIANTS", why.to_owned());
        let mut presets: Vec<VariantPreset> = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let shape = "each is name=WIDTHxHEIGHT:cover or :fit";
            let (name, rest) = item.split_once('=').ok_or_else(|| bad(shape))?;
            let (size, fit) = rest.split_once(':').ok_or_else(|| bad(shape))?;
            let (w, h) = size.split_once('x').ok_or_else(|| bad(shape))?;
            let dim = |v: &str| {
                v.parse::<u32>()
                    .ok()
                    .filter(|v| (1..=4096).contains(v))
                    .ok_or_else(|| bad("sizes are 1 to 4096 pixels"))
            };
            let preset = VariantPreset {
                name: VariantName::parse(name.trim()).map_err(|e| bad(&e.reason))?,
                width: dim(w)?,
                height: dim(h)?,
                fit: match fit {
                    "cover" => Fit::Cover,
                    "fit" => Fit::Fit,
                    _ => return Err(bad(shape)),
                },
            };
            if presets.iter().any(|p| p.name == preset.name) {
                return Err(bad("names must be unique"));
            }
            presets.push(preset);
        }
        Ok(Self(presets))
    }
}

/// The key of `image`'s variant `name`: `{key}.{name}.webp`, beside the image, so a CDN's
/// path rules for the image's channel cover its variants too.
pub fn variant_key(image: &ObjectKey, name: &VariantName) -> ObjectKey {
    ObjectKey::parse(&format!("{image}.{name}.webp"))
        // A key is at most 512 bytes; a name adds at most 38.
        .unwrap_or_else(|_| image.clone())
}

/// The image key and variant name a variant key was derived from ([`variant_key`]), when
/// it has that shape. Whether that image has that variant is its record's to say.
pub fn variant_of(key: &ObjectKey) -> Option<(ObjectKey, VariantName)> {
    let stem = key.as_str().strip_suffix(".webp")?;
    let (image, name) = stem.rsplit_once('.')?;
    if image.rsplit('/').next().is_none_or(str::is_empty) {
        return None;
    }
    Some((
        ObjectKey::parse(image).ok()?,
        VariantName::parse(name).ok()?,
    ))
}

/// How many leading bytes confirmation reads before it reads the whole object: enough for
/// every header `inspect` parses (JPEG's frame header can follow large EXIF or ICC
/// segments).
pub const INSPECT_HEAD_LEN: u64 = 64 * 1024;

/// What decoding an image costs, read from its structure without decoding a pixel: its
/// frames, its JPEG scans, and the decoder's pixel work (pixels it writes, in all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeCost {
    pub frames: u64,
    pub scans: u64,
    pub work: u64,
}

/// What `inspect` read off an upload's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The type by magic bytes.
    pub kind: ImageType,
    /// The header's dimensions.
    pub width: u32,
    pub height: u32,
    /// As far as the inspected bytes show: a lower bound when only the head was read.
    pub cost: DecodeCost,
    /// What the whole object showed, when it was inspected.
    pub body: Body,
}

/// What `inspect` found past the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Only the head was inspected.
    NotRead,
    /// The whole object is a whole image: its largest frame's pixel area (an
    /// animation's frame may be larger than its screen).
    Sound { largest_frame: u64 },
    /// The whole object is no whole image (cut short, longer than its format says, a
    /// structure that does not add up); the text says why, for the client.
    Broken(String),
}

/// Failures of [`ImageProcessor::inspect`](crate::ports::ImageProcessor::inspect).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    /// No accepted type, or a header that cannot be read; the text says why, for the
    /// client.
    #[error("{0}")]
    NotAnImage(String),
}

/// One variant, rendered: WebP bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    pub name: VariantName,
    pub bytes: Bytes,
    pub width: u32,
    pub height: u32,
}

/// What processing made of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The upload without its metadata: what is published at the image's key.
    pub published: Bytes,
    /// Whether anything was removed (`published` differs from the upload).
    pub stripped: bool,
    /// The displayed size, after the EXIF orientation.
    pub width: u32,
    pub height: u32,
    /// One per preset, in the presets' order.
    pub renditions: Vec<Rendition>,
    /// The BlurHash of the whole image (4×3 components).
    pub blurhash: String,
}

/// Failures of [`ImageProcessor::process`].
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The bytes do not decode as the image their header announces: the upload is no
    /// image. The text says why, for the client.
    #[error("{0}")]
    Undecodable(String),
    /// Processing did not finish by its deadline: the work stopped there.
    #[error("processing took longer than allowed")]
    OverDeadline,
    /// The processor itself failed (an encoder error, a panicked task).
    #[error("image processing failed")]
    Failed(#[source] BoxError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_refuse_what_they_should() {
        let p = VariantPresets::default();
        let names: Vec<_> = p.iter().map(|p| p.name.as_str().to_owned()).collect();
        assert_eq!(names, ["thumb", "medium"]);
        assert_eq!(p.iter().next().map(|p| p.fit), Some(Fit::Cover));
        assert!(VariantPresets::from_str("").is_ok_and(|p| p.is_empty()));
        for bad in [
            "thumb",
            "thumb=320:cover",
            "thumb=0x10:fit",
            "thumb=10x10:stretch",
            "Thumb=10x10:fit",
            "a.b=10x10:fit",
            "a=1x1:fit,a=2x2:fit",
            "a=5000x1:fit",
        ] {
            assert!(VariantPresets::from_str(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_never_enlarge_and_cover_crops() {
        let cover = VariantPreset {
            name: VariantName::parse("t").unwrap(),
            width: 320,
            height: 320,
            fit: Fit::Cover,
        };
        let fit = VariantPreset {
            fit: Fit::Fit,
            width: 1280,
            height: 1280,
            ..cover.clone()
        };
        let s = cover.size_for(4000, 3000);
        assert_eq!((s.scaled, s.size), ((427, 320), (320, 320)));
        assert_eq!(fit.size_for(4000, 3000).size, (1280, 960));
        assert_eq!(fit.size_for(3000, 4000).size, (960, 1280));
        // Smaller than the box: the image's own size.
        assert_eq!(fit.size_for(200, 100).size, (200, 100));
        assert_eq!(cover.size_for(200, 100).size, (200, 100));
        // One side smaller: scaled to cover the other, cropped to the box.
        assert_eq!(cover.size_for(1000, 200).size, (320, 200));
        assert_eq!(fit.size_for(10_000, 1).size, (1280, 1));
    }

    #[test]
    fn variant_keys_map_back_to_their_image() {
        let image = ObjectKey::parse("chat/2026/12/02/7/abc.jpg").unwrap();
        let name = VariantName::parse("thumb").unwrap();
        let key = variant_key(&image, &name);
        assert_eq!(key.as_str(), "chat/2026/12/02/7/abc.jpg.thumb.webp");
        assert_eq!(variant_of(&key), Some((image, name.clone())));
        let bare = ObjectKey::parse("profiles/7/r").unwrap();
        assert_eq!(variant_of(&variant_key(&bare, &name)), Some((bare, name)));
        // An image key is no variant key.
        for k in ["chat/a.webp", "a/b.webp", "abc.jpg"] {
            assert_eq!(variant_of(&ObjectKey::parse(k).unwrap()), None, "{k}");
        }
    }
}
