//! JPEG's structure, walked segment by segment without decoding: the frame header's
//! dimensions, the scans, and proof of a whole file (scan data, then end of image).

use super::{SniffError, be16};

/// The SOS segments of a JPEG (or of as much of one as `b` holds), walking segments by
/// their lengths and each scan's data to the marker that ends it.
pub(super) fn jpeg_scans(b: &[u8]) -> u64 {
    let mut scans = 0;
    let mut at = 2;
    loop {
        while b.get(at) == Some(&0xFF) && b.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(0xFF), Some(&marker)) = (b.get(at), b.get(at + 1)) else {
            return scans;
        };
        at += 2;
        match marker {
            0xD9 => return scans,
            0xD0..=0xD7 | 0x01 => continue,
            _ => {}
        }
        let Some(len) = be16(b, at) else {
            return scans;
        };
        at += len as usize;
        if marker != 0xDA {
            continue;
        }
        scans += 1;
        // The scan's data: to the next marker that is neither stuffing nor a restart.
        loop {
            let Some(ff) = b.get(at..).and_then(|r| r.iter().position(|&x| x == 0xFF)) else {
                return scans;
            };
            match b.get(at + ff + 1) {
                Some(0x00 | 0xD0..=0xD7) => at += ff + 2,
                Some(_) => {
                    at += ff;
                    break;
                }
                None => return scans,
            }
        }
    }
}

/// Walks a JPEG's segments from the start of image to the first whose marker `stop`
/// accepts, and answers that marker and where its length field is; `None` at the end of
/// the bytes, at an end-of-image marker, or where the segments do not add up.
fn jpeg_segment(b: &[u8], stop: impl Fn(u8) -> bool) -> Option<(u8, usize)> {
    let mut i = 2;
    loop {
        // Markers may be padded with 0xFF fill bytes.
        while *b.get(i)? == 0xFF && *b.get(i + 1)? == 0xFF {
            i += 1;
        }
        if *b.get(i)? != 0xFF {
            return None;
        }
        let marker = *b.get(i + 1)?;
        i += 2;
        match marker {
            // Standalone markers carry no length.
            0xD0..=0xD7 | 0x01 => continue,
            0xD9 => return None,
            m if stop(m) => return Some((m, i)),
            _ => {}
        }
        let len = usize::try_from(be16(b, i)?).ok()?;
        if len < 2 {
            return None;
        }
        i += len;
    }
}

/// Where a JPEG's first scan's data begins (just after its SOS segment); `None` when `b`
/// holds no whole SOS segment.
fn jpeg_scan_start(b: &[u8]) -> Option<usize> {
    let (_, i) = jpeg_segment(b, |m| m == 0xDA)?;
    let len = usize::try_from(be16(b, i)?).ok()?;
    b.get(i..i + len)?;
    Some(i + len)
}

fn has_eoi(b: &[u8]) -> bool {
    b.windows(2).any(|w| w == [0xFF, 0xD9])
}

/// A whole JPEG has scan data (an SOS segment and bytes after it) and an end-of-image
/// marker after that; cameras may append data after the marker.
///
/// # Errors
/// `Truncated` when either is missing.
pub(crate) fn check_jpeg_whole(b: &[u8]) -> Result<(), SniffError> {
    match jpeg_scan_start(b) {
        Some(scan) if b.len() > scan && has_eoi(&b[scan..]) => Ok(()),
        _ => Err(SniffError::Truncated("JPEG")),
    }
}

pub(super) fn jpeg_dims(b: &[u8]) -> Option<(u32, u32)> {
    let is_sof = |m: u8| matches!(m, 0xC0..=0xCF) && !matches!(m, 0xC4 | 0xC8 | 0xCC);
    // The first frame header; a scan before any frame header is malformed.
    let (marker, i) = jpeg_segment(b, |m| is_sof(m) || m == 0xDA)?;
    if marker == 0xDA {
        return None;
    }
    let len = usize::try_from(be16(b, i)?).ok()?.max(2);
    // The whole frame header must be there, not just its first bytes.
    b.get(i..i + len)?;
    // length, precision, height, width
    Some((be16(b, i + 5)?, be16(b, i + 3)?))
}
