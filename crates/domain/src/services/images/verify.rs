//! Verification of a stored upload, as pure functions: what the store holds against what
//! was declared at issue, what the client reports at confirmation, and the policy. The
//! upload room reads the bytes and acts on the verdict; nothing here does I/O.
//!
//! Two steps, because the second needs more bytes only when the first passed:
//! [`check_head`] judges the object's metadata and first bytes; [`check_body`] judges its
//! last bytes and, when [`needs_whole`] says so, all of them.

use crate::image::{Image, ImageType};
use crate::sniff::{
    DecodeCost, Sniffed, check_complete, check_jpeg_whole, decode_cost, has_frames,
    jpeg_needs_whole, largest_frame, sniff,
};
use crate::storage::ObjectMeta;
use crate::upload::parse_checksum;

use super::{Confirmation, ImagePolicy, ProcessingLimits};
use crate::image::RejectKind;

/// Why verification refused an upload. Its text is the reason the client is given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// `what` says who asserted the length: `declared` at issue, `reported` at
    /// confirmation.
    #[error("{stored} bytes stored, {asserted} {what}")]
    LengthMismatch {
        stored: u64,
        asserted: u64,
        what: &'static str,
    },
    #[error("the ETag does not match")]
    EtagMismatch,
    #[error("the checksum does not match")]
    ChecksumMismatch,
    /// The bytes are no accepted image, or not a whole one.
    #[error("{0}")]
    NotAnImage(String),
    #[error("declared {} but the bytes are {}", declared.mime(), actual.mime())]
    TypeMismatch {
        declared: ImageType,
        actual: ImageType,
    },
    #[error("{width}×{height} is more than {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("a frame of {pixels} pixels is more than {limit}")]
    FrameTooLarge { pixels: u64, limit: u64 },
    #[error("{frames} frames are more than {limit}")]
    TooManyFrames { frames: u64, limit: u64 },
    #[error("{scans} JPEG scans are more than {limit}")]
    TooManyScans { scans: u64, limit: u64 },
    /// Decoding would take more pixel work than one upload may (animation frames × the
    /// canvas, JPEG scans × the pixels).
    #[error("decoding it would cost {work} pixels of work, more than the {limit} allowed")]
    TooCostly { work: u64, limit: u64 },
    /// The bytes do not decode as the image their header announces.
    #[error("{0}")]
    Undecodable(String),
    /// Processing did not finish within its deadline.
    #[error("processing took longer than {secs} s")]
    TooSlow { secs: u64 },
    /// The object was replaced between two reads of one verification.
    #[error("the object changed during verification")]
    Changed,
}

impl Rejection {
    /// The coarse kind, for metrics.
    pub const fn kind(&self) -> RejectKind {
        match self {
            Self::TooLarge { .. } => RejectKind::TooLarge,
            Self::LengthMismatch { .. } => RejectKind::LengthMismatch,
            Self::EtagMismatch => RejectKind::EtagMismatch,
            Self::ChecksumMismatch => RejectKind::ChecksumMismatch,
            Self::NotAnImage(_) => RejectKind::NotAnImage,
            Self::TypeMismatch { .. } => RejectKind::TypeMismatch,
            Self::TooManyPixels { .. } | Self::FrameTooLarge { .. } => RejectKind::TooManyPixels,
            Self::TooManyFrames { .. } | Self::TooManyScans { .. } | Self::TooCostly { .. } => {
                RejectKind::TooCostly
            }
            Self::Undecodable(_) => RejectKind::Undecodable,
            Self::TooSlow { .. } => RejectKind::TooSlow,
            Self::Changed => RejectKind::Changed,
        }
    }
}

/// The first step: the stored object's size against the limit and every asserted length,
/// the ETag and checksum the client reports, the type by magic bytes against the declared
/// one, and the pixel area the header gives (so a bomb is refused before more is read).
///
/// # Errors
/// The first rule the upload breaks.
pub fn check_head(
    image: &Image,
    head: &ObjectMeta,
    bytes: &[u8],
    claim: &Confirmation,
    policy: &ImagePolicy,
) -> Result<Sniffed, Rejection> {
    if head.size > policy.max_size {
        return Err(Rejection::TooLarge {
            limit: policy.max_size,
        });
    }
    for (what, asserted) in [
        ("declared", image.declared_length),
        ("reported", claim.content_length),
    ] {
        if let Some(asserted) = asserted
            && asserted != head.size
        {
            return Err(Rejection::LengthMismatch {
                stored: head.size,
                asserted,
                what,
            });
        }
    }
    if let Some(etag) = claim.etag.as_deref().and_then(bare_etag)
        && etag != head.etag
    {
        return Err(Rejection::EtagMismatch);
    }
    if let (Some(declared), Some(reported)) = (&image.checksum_sha256, claim.checksum.as_deref())
        && parse_checksum(reported).ok().as_ref() != Some(declared)
    {
        return Err(Rejection::ChecksumMismatch);
    }
    let sniffed = sniff(bytes).map_err(|e| Rejection::NotAnImage(e.to_string()))?;
    // A declared type must be the bytes' type; without one, any accepted type is.
    if let Some(declared) = image.content_type
        && sniffed.kind != declared
    {
        return Err(Rejection::TypeMismatch {
            declared,
            actual: sniffed.kind,
        });
    }
    if u64::from(sniffed.width) * u64::from(sniffed.height) > policy.max_pixels {
        return Err(Rejection::TooManyPixels {
            width: sniffed.width,
            height: sniffed.height,
            limit: policy.max_pixels,
        });
    }
    Ok(sniffed)
}

/// Whether [`check_body`] needs the whole object: every frame of a GIF or an animated
/// WebP, not only the screen the header gives; a JPEG's scan data and end-of-image marker
/// wherever they are.
pub fn needs_whole(kind: ImageType, bytes: &[u8], tail: &[u8]) -> bool {
    (kind == ImageType::Jpeg && jpeg_needs_whole(bytes, tail)) || has_frames(kind, bytes)
}

/// The second step: a file cut short is no image, whatever its header says; with `whole`
/// (when [`needs_whole`]), a JPEG's structure and every frame's pixel area.
///
/// # Errors
/// `NotAnImage`, `FrameTooLarge`.
pub fn check_body(
    sniffed: &Sniffed,
    bytes: &[u8],
    tail: &[u8],
    size: u64,
    whole: Option<&[u8]>,
    policy: &ImagePolicy,
) -> Result<(), Rejection> {
    let not_an_image = |e: crate::sniff::SniffError| Rejection::NotAnImage(e.to_string());
    check_complete(sniffed.kind, bytes, tail, size).map_err(not_an_image)?;
    let Some(whole) = whole else {
        return Ok(());
    };
    if sniffed.kind == ImageType::Jpeg {
        check_jpeg_whole(whole).map_err(not_an_image)?;
    }
    match largest_frame(sniffed.kind, whole).map_err(not_an_image)? {
        pixels if pixels > policy.max_pixels => Err(Rejection::FrameTooLarge {
            pixels,
            limit: policy.max_pixels,
        }),
        _ => Ok(()),
    }
}

/// The decoding budget: frames, scans and pixel work against the limits. Run on the
/// head before a turn is taken (its figures are a lower bound then) and on the whole
/// object before it is decoded.
///
/// # Errors
/// `TooManyFrames`, `TooManyScans`, `TooCostly`.
pub fn check_cost(
    sniffed: &Sniffed,
    bytes: &[u8],
    limits: &ProcessingLimits,
) -> Result<DecodeCost, Rejection> {
    let cost = decode_cost(sniffed, bytes);
    if cost.frames > limits.max_frames {
        return Err(Rejection::TooManyFrames {
            frames: cost.frames,
            limit: limits.max_frames,
        });
    }
    if cost.scans > limits.max_scans {
        return Err(Rejection::TooManyScans {
            scans: cost.scans,
            limit: limits.max_scans,
        });
    }
    if cost.work > limits.decode_budget {
        return Err(Rejection::TooCostly {
            work: cost.work,
            limit: limits.decode_budget,
        });
    }
    Ok(cost)
}

/// The ETag without quotes or a weak prefix; `None` when the value cannot be an entity
/// tag at all (RFC 9110: visible ASCII, no spaces or quotes). Browsers that cannot read the
/// header send empty strings or placeholders (seed 003's example sends a sentence): those
/// count as no ETag, while a well-formed ETag that differs still rejects the upload.
fn bare_etag(s: &str) -> Option<&str> {
    let bare = s.trim().trim_start_matches("W/").trim_matches('"');
    let valid = !bare.is_empty()
        && bare
            .bytes()
            .all(|b| (0x21..=0x7E).contains(&b) && b != b'"');
    valid.then_some(bare)
}

#[cfg(test)]
mod tests {
    use super::bare_etag;

    #[test]
    fn only_well_formed_etags_count() {
        assert_eq!(bare_etag("\"9a866eec\""), Some("9a866eec"));
        assert_eq!(bare_etag("W/\"abc-2\""), Some("abc-2"));
        assert_eq!(bare_etag(""), None);
        assert_eq!(bare_etag("\"\""), None);
        assert_eq!(
            bare_etag("값은 브라우저 fetch 응답 헤더에서 직접 읽어야 함"),
            None
        );
        assert_eq!(bare_etag("two words"), None);
    }
}
