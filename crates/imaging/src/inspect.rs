//! What an upload really is, from its bytes and without decoding a pixel: the type by
//! magic number, the dimensions from the header, whether the file is whole, its frames
//! and the decoder's work. [`inspect`] is the port's `inspect`; the domain judges what it
//! reports against the policy (`domain::services::images::verify`).

use domain::ImageType;
use domain::processing::{Body, DecodeCost, InspectError, Inspection};

mod jpeg;

use jpeg::{check_jpeg_whole, jpeg_dims, jpeg_scans};

/// Inspects `bytes`, the first bytes of an object of `size` bytes or all of them. From a
/// head: the type, the dimensions and a lower bound of the decoding cost. From the whole
/// object, also: that it is not cut short (nor, for a PNG, GIF or WebP, longer than its
/// format says), that a JPEG holds scan data and its end-of-image marker, the largest
/// frame of an animation, and the exact cost.
///
/// # Errors
/// `NotAnImage` with the reason, for the client.
pub fn inspect(bytes: &[u8], size: u64) -> Result<Inspection, InspectError> {
    let sniffed = sniff(bytes).map_err(|e| InspectError::NotAnImage(e.to_string()))?;
    let body = if bytes.len() as u64 >= size {
        match whole(&sniffed, bytes, size) {
            Ok(largest_frame) => Body::Sound { largest_frame },
            Err(e) => Body::Broken(e.to_string()),
        }
    } else {
        Body::NotRead
    };
    Ok(Inspection {
        kind: sniffed.kind,
        width: sniffed.width,
        height: sniffed.height,
        cost: decode_cost(&sniffed, bytes),
        body,
    })
}

/// The largest frame of a whole file, proven whole: not cut short, a JPEG's scan data
/// and end-of-image marker, every frame's block in bounds.
fn whole(sniffed: &Sniffed, bytes: &[u8], size: u64) -> Result<u64, SniffError> {
    let tail = &bytes[bytes.len().saturating_sub(TAIL_LEN)..];
    check_complete(sniffed.kind, bytes, tail, size)?;
    if sniffed.kind == ImageType::Jpeg {
        check_jpeg_whole(bytes)?;
    }
    if has_frames(sniffed.kind, bytes) {
        largest_frame(sniffed.kind, bytes)
    } else {
        Ok(u64::from(sniffed.width) * u64::from(sniffed.height))
    }
}

/// A recognised image header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sniffed {
    pub kind: ImageType,
    pub width: u32,
    pub height: u32,
}

/// Why bytes are not an acceptable image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SniffError {
    #[error("not a PNG, JPEG, WebP or GIF image")]
    UnknownType,
    #[error("the {0} header is truncated or malformed")]
    Malformed(&'static str),
    #[error("the {0} file does not end where its format says (cut short, or data appended)")]
    Truncated(&'static str),
}

/// How many trailing bytes [`check_complete`] needs.
const TAIL_LEN: usize = 16;

/// Whether a file of `size` bytes whose first bytes are `head` and last bytes `tail` is
/// whole, not cut short: a PNG ends with its `IEND` chunk, a GIF with its trailer byte, a
/// WebP's RIFF header counts every byte. A JPEG is only required to hold its whole frame
/// header ([`sniff`] checks that): cameras append data after the end-of-image marker
/// (motion photos), so its last bytes prove nothing.
///
/// # Errors
/// `Truncated` with the format's name.
pub(crate) fn check_complete(
    kind: ImageType,
    head: &[u8],
    tail: &[u8],
    size: u64,
) -> Result<(), SniffError> {
    const IEND: &[u8] = b"\x00\x00\x00\x00IEND\xAE\x42\x60\x82";
    let whole = match kind {
        ImageType::Png => tail.ends_with(IEND),
        ImageType::Gif => tail.last() == Some(&0x3B),
        ImageType::Webp => {
            le16(head, 4)
                .zip(le16(head, 6))
                .map(|(lo, hi)| u64::from(lo | hi << 16) + 8)
                == Some(size)
        }
        ImageType::Jpeg => true,
    };
    if whole {
        Ok(())
    } else {
        Err(SniffError::Truncated(kind_name(kind)))
    }
}

fn kind_name(kind: ImageType) -> &'static str {
    match kind {
        ImageType::Png => "PNG",
        ImageType::Gif => "GIF",
        ImageType::Webp => "WebP",
        ImageType::Jpeg => "JPEG",
    }
}

pub(super) fn be16(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 2)
        .map(|s| u32::from(u16::from_be_bytes([s[0], s[1]])))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 2)
        .map(|s| u32::from(u16::from_le_bytes([s[0], s[1]])))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 3)
        .map(|s| u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
}

/// Identifies `bytes` (the start of an object) and reads its dimensions.
///
/// # Errors
/// `UnknownType` for anything but the four accepted types (SVG, HTML and friends
/// included), `Malformed` for a recognised type whose header cannot be read.
pub(crate) fn sniff(bytes: &[u8]) -> Result<Sniffed, SniffError> {
    let (kind, dims) = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        // The first chunk must be IHDR: width and height at 16 and 20.
        let ok = bytes.get(12..16) == Some(b"IHDR");
        let dims = ok
            .then(|| Some((be32(bytes, 16)?, be32(bytes, 20)?)))
            .flatten();
        (ImageType::Png, dims.ok_or(SniffError::Malformed("PNG"))?)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        let dims = le16(bytes, 6).zip(le16(bytes, 8));
        (ImageType::Gif, dims.ok_or(SniffError::Malformed("GIF"))?)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        (
            ImageType::Webp,
            webp_dims(bytes).ok_or(SniffError::Malformed("WebP"))?,
        )
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        (
            ImageType::Jpeg,
            jpeg_dims(bytes).ok_or(SniffError::Malformed("JPEG"))?,
        )
    } else {
        return Err(SniffError::UnknownType);
    };
    let (width, height) = dims;
    if width == 0 || height == 0 {
        return Err(SniffError::Malformed(kind_name(kind)));
    }
    Ok(Sniffed {
        kind,
        width,
        height,
    })
}

/// Whether the image holds frames of its own beyond the header's: a GIF (image
/// descriptors), or a WebP with the animation flag (`ANMF` chunks). Their every frame must be
/// read ([`largest_frame`]): a 1×1 screen may hold a 65535×65535 frame.
pub(crate) fn has_frames(kind: ImageType, head: &[u8]) -> bool {
    match kind {
        ImageType::Gif => true,
        // VP8X first, its flags' animation bit.
        ImageType::Webp => {
            head.get(12..16) == Some(b"VP8X") && head.get(20).is_some_and(|f| f & 0x02 != 0)
        }
        ImageType::Png | ImageType::Jpeg => false,
    }
}

/// The largest frame of a whole GIF or animated WebP, in pixels (width × height), walking
/// its blocks without decoding any: GIF image descriptors, WebP `ANMF` chunks.
///
/// # Errors
/// `Malformed` when the blocks do not add up (a frame or chunk runs past the end).
pub(crate) fn largest_frame(kind: ImageType, bytes: &[u8]) -> Result<u64, SniffError> {
    let found = match kind {
        ImageType::Gif => gif_largest_frame(bytes),
        ImageType::Webp => webp_largest_frame(bytes),
        ImageType::Png | ImageType::Jpeg => Some(0),
    };
    found.ok_or(SniffError::Malformed(kind_name(kind)))
}

/// The cost of decoding the image `sniffed` describes, from `bytes`: the whole file, or
/// only its first bytes, when the figures are what those show (a lower bound, so a head
/// that already shows too much is refused before the rest is read).
///
/// - PNG and still WebP: one frame, the header's pixels;
/// - JPEG: every scan (a progressive file has several, and each revisits the image) counts
///   the frame's pixels again;
/// - GIF: each frame's own pixels;
/// - animated WebP: the whole canvas for every frame (the decoder composes each frame on
///   it), however small the frame.
pub(crate) fn decode_cost(sniffed: &Sniffed, bytes: &[u8]) -> DecodeCost {
    let area = u64::from(sniffed.width) * u64::from(sniffed.height);
    match sniffed.kind {
        ImageType::Png => DecodeCost {
            frames: 1,
            scans: 0,
            work: area,
        },
        ImageType::Jpeg => {
            let scans = jpeg_scans(bytes);
            DecodeCost {
                frames: 1,
                scans,
                work: area.saturating_mul(scans.max(1)),
            }
        }
        ImageType::Gif => {
            let (frames, work) = gif_frames(bytes);
            DecodeCost {
                frames,
                scans: 0,
                work,
            }
        }
        ImageType::Webp if has_frames(ImageType::Webp, bytes) => {
            let frames = webp_frames(bytes);
            DecodeCost {
                frames,
                scans: 0,
                work: area.saturating_mul(frames.max(1)),
            }
        }
        ImageType::Webp => DecodeCost {
            frames: 1,
            scans: 0,
            work: area,
        },
    }
}

/// A GIF's frames and the pixels of all of them, as far as `b` goes.
fn gif_frames(b: &[u8]) -> (u64, u64) {
    fn skip_sub_blocks(b: &[u8], mut at: usize) -> Option<usize> {
        loop {
            let len = usize::from(*b.get(at)?);
            at += 1 + len;
            if len == 0 {
                return Some(at);
            }
        }
    }
    let table = |flags: u8| {
        if flags & 0x80 != 0 {
            3usize << ((flags & 0x07) + 1)
        } else {
            0
        }
    };
    let (mut frames, mut work) = (0u64, 0u64);
    let Some(&flags) = b.get(10) else {
        return (frames, work);
    };
    let mut at = 13 + table(flags);
    loop {
        let step = match b.get(at) {
            Some(0x21) => skip_sub_blocks(b, at + 2),
            Some(0x2C) => {
                let (Some(w), Some(h), Some(&f)) =
                    (le16(b, at + 5), le16(b, at + 7), b.get(at + 9))
                else {
                    return (frames, work);
                };
                frames += 1;
                work = work.saturating_add(u64::from(w) * u64::from(h));
                skip_sub_blocks(b, at + 10 + table(f) + 1)
            }
            _ => None,
        };
        match step {
            Some(next) => at = next,
            None => return (frames, work),
        }
    }
}

/// An animated WebP's `ANMF` chunks, as far as `b` goes.
fn webp_frames(b: &[u8]) -> u64 {
    let mut at = 12;
    let mut frames = 0;
    while let (Some(fourcc), Some(len)) = (
        b.get(at..at + 4),
        b.get(at + 4..at + 8)
            .and_then(|l| l.try_into().ok())
            .map(u32::from_le_bytes),
    ) {
        if fourcc == b"ANMF" {
            frames += 1;
        }
        let len = u64::from(len);
        at = match usize::try_from(len + len % 2)
            .ok()
            .and_then(|l| (at + 8).checked_add(l))
        {
            Some(next) => next,
            None => break,
        };
    }
    frames
}

fn gif_largest_frame(b: &[u8]) -> Option<u64> {
    // Sub-blocks: a length byte, that many bytes, until a zero length.
    fn skip_sub_blocks(b: &[u8], mut at: usize) -> Option<usize> {
        loop {
            let len = usize::from(*b.get(at)?);
            at += 1;
            if len == 0 {
                return Some(at);
            }
            at += len;
        }
    }
    let table = |flags: u8| {
        if flags & 0x80 != 0 {
            3usize << ((flags & 0x07) + 1)
        } else {
            0
        }
    };
    let mut at = 13 + table(*b.get(10)?);
    let mut largest = 0u64;
    loop {
        match *b.get(at)? {
            0x3B => return Some(largest),
            0x21 => at = skip_sub_blocks(b, at + 2)?,
            0x2C => {
                let (w, h) = (le16(b, at + 5)?, le16(b, at + 7)?);
                largest = largest.max(u64::from(w) * u64::from(h));
                at = skip_sub_blocks(b, at + 10 + table(*b.get(at + 9)?) + 1)?;
            }
            _ => return None,
        }
    }
}

fn webp_largest_frame(b: &[u8]) -> Option<u64> {
    let mut at = 12;
    let mut largest = 0u64;
    while at < b.len() {
        let fourcc = b.get(at..at + 4)?;
        let len =
            usize::try_from(u32::from_le_bytes(b.get(at + 4..at + 8)?.try_into().ok()?)).ok()?;
        let payload = at + 8;
        if fourcc == b"ANMF" {
            let w = 1 + u64::from(le24(b, payload + 6)?);
            let h = 1 + u64::from(le24(b, payload + 9)?);
            largest = largest.max(w * h);
        }
        at = payload.checked_add(len)?.checked_add(len % 2)?;
    }
    (at == b.len() || at == b.len() + 1).then_some(largest)
}

fn webp_dims(b: &[u8]) -> Option<(u32, u32)> {
    match b.get(12..16)? {
        b"VP8 " => {
            // Lossy: a key frame's start code, then 14-bit width and height.
            if b.get(23..26)? != [0x9D, 0x01, 0x2A] {
                return None;
            }
            Some((le16(b, 26)? & 0x3FFF, le16(b, 28)? & 0x3FFF))
        }
        b"VP8L" => {
            if *b.get(20)? != 0x2F {
                return None;
            }
            let bits = u32::from_le_bytes([*b.get(21)?, *b.get(22)?, *b.get(23)?, *b.get(24)?]);
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => Some((le24(b, 24)? + 1, le24(b, 27)? + 1)),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod samples {
    #![allow(dead_code)]
    //! Minimal real headers of each type, for tests here and in other crates' tests.

    /// A 1×1 PNG (complete file).
    pub const PNG_1X1: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00,
        0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49,
        0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];
}

#[cfg(test)]
mod tests;
