//! Verification of a stored upload, as pure functions: the policy over what the store
//! holds, what was declared at issue, what the client reports at confirmation, and what
//! the image processor's `inspect` read off the bytes. The confirmation room reads the
//! bytes and acts on the verdict; nothing here does I/O or knows a file format.
//!
//! Two steps, because the second needs the whole object only when the first passed:
//! [`check_head`] judges the object's metadata and the inspection of its first bytes
//! (with [`check_cost`], the decoding cost they already show); [`check_body`] judges the
//! inspection of the whole object. Scanning and perceptual hashes plug in beside
//! `check_body`: they need the whole object, and run before it is processed.

use crate::image::{Image, ImageType};
use crate::processing::{Body, DecodeCost, InspectError, Inspection};
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
/// the ETag and checksum the client reports, then (from `inspected`, the head's
/// inspection: `Err` carries why the bytes are no image) the type by magic bytes against
/// the declared one, the pixel area the header gives (so a bomb is refused before more is
/// read), and, when the head is the whole file, that it is a whole image.
///
/// # Errors
/// The first rule the upload breaks.
pub fn check_head(
    image: &Image,
    head: &ObjectMeta,
    inspected: Result<Inspection, InspectError>,
    claim: &Confirmation,
    policy: &ImagePolicy,
) -> Result<Inspection, Rejection> {
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
    let sniffed = inspected.map_err(|e| Rejection::NotAnImage(e.to_string()))?;
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
    if let Body::Broken(why) = &sniffed.body {
        return Err(Rejection::NotAnImage(why.clone()));
    }
    Ok(sniffed)
}

/// The second step, on the inspection of the whole object (`Err` carries why it is no
/// image): that it is a whole image (not cut short, a structure that adds up), every
/// frame's pixel area, then the exact decoding cost.
///
/// # Errors
/// `NotAnImage`, `TypeMismatch` (the whole disagrees with its head), `FrameTooLarge`,
/// `TooManyFrames`, `TooManyScans`, `TooCostly`.
pub fn check_body(
    head: &Inspection,
    whole: Result<Inspection, InspectError>,
    policy: &ImagePolicy,
    limits: &ProcessingLimits,
) -> Result<Inspection, Rejection> {
    let whole = whole.map_err(|e| Rejection::NotAnImage(e.to_string()))?;
    if whole.kind != head.kind {
        return Err(Rejection::TypeMismatch {
            declared: head.kind,
            actual: whole.kind,
        });
    }
    match &whole.body {
        Body::Broken(why) => return Err(Rejection::NotAnImage(why.clone())),
        Body::Sound { largest_frame } if *largest_frame > policy.max_pixels => {
            return Err(Rejection::FrameTooLarge {
                pixels: *largest_frame,
                limit: policy.max_pixels,
            });
        }
        // The processor inspected less than it was given: nothing is proven.
        Body::NotRead => {
            return Err(Rejection::NotAnImage(
                "the file could not be read whole".into(),
            ));
        }
        Body::Sound { .. } => {}
    }
    check_cost(&whole.cost, limits)?;
    Ok(whole)
}

/// The decoding budget: frames, scans and pixel work against the limits. Run on the
/// head's figures before a turn is taken (a lower bound then) and, by [`check_body`], on
/// the whole object's before it is decoded.
///
/// # Errors
/// `TooManyFrames`, `TooManyScans`, `TooCostly`.
pub fn check_cost(cost: &DecodeCost, limits: &ProcessingLimits) -> Result<(), Rejection> {
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
    Ok(())
}

/// The ETag without quotes or a weak prefix; `None` when the value cannot be an entity
/// tag at all (RFC 9110: visible ASCII, no spaces or quotes). Browsers that cannot read the
/// header send empty strings or placeholders (the upload pipeline API's example sends a sentence): those
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
