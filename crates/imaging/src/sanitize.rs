//! Lossless metadata removal: the upload's own bytes with every metadata block taken out
//! and its pixels untouched. What stays is what the image needs to display as the phone
//! showed it: its colour profile (ICC) and, when it is not upright, its EXIF orientation
//! as the only EXIF tag.
//!
//! Each format keeps an allow-list, so a block nobody thought of is removed too:
//! - JPEG: every segment but APP0 (JFIF), APP2 `ICC_PROFILE`, APP14 (Adobe colour
//!   transform) and the frame's own (tables, frame and scan headers, scan data); bytes
//!   after the end-of-image marker (motion photos, MPF's second images with their own
//!   EXIF) go too;
//! - PNG: the critical chunks and those about colour, transparency, pixel size and
//!   animation;
//! - WebP: the bitstream, alpha, animation and `ICCP` chunks;
//! - GIF: every block but comments and application extensions other than looping
//!   (`NETSCAPE2.0`, `ANIMEXTS1.0`) and the ICC profile (`ICCRGBG1012`).

use bytes::{BufMut as _, Bytes, BytesMut};
use domain::ImageType;
use img_parts::jpeg::{Jpeg, markers};
use img_parts::png::Png;
use img_parts::webp::WebP;
use img_parts::{ImageEXIF as _, ImageICC as _};

/// The EXIF orientation (1 to 8) the image declares; 1 when it declares none.
pub fn orientation(bytes: &Bytes, kind: ImageType) -> u16 {
    let exif = match kind {
        ImageType::Jpeg => Jpeg::from_bytes(bytes.clone()).ok().and_then(|j| j.exif()),
        ImageType::Png => Png::from_bytes(bytes.clone()).ok().and_then(|p| p.exif()),
        ImageType::Webp => WebP::from_bytes(bytes.clone()).ok().and_then(|w| w.exif()),
        ImageType::Gif => None,
    };
    // Leniently: cameras (and tools) write IFD links the strict parser refuses; what
    // parses of the primary IFD is enough to find the orientation.
    exif.and_then(|raw| {
        exif::Reader::new()
            .continue_on_error(true)
            .read_raw(raw.to_vec())
            .or_else(|e| e.distill_partial_result(|_| {}))
            .ok()
    })
    .and_then(|e| {
        e.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
            .and_then(|f| f.value.get_uint(0))
    })
    .and_then(|o| u16::try_from(o).ok())
    .filter(|o| (1..=8).contains(o))
    .unwrap_or(1)
}

/// The ICC profile the image carries, if any.
pub fn icc_profile(bytes: &Bytes, kind: ImageType) -> Option<Bytes> {
    match kind {
        ImageType::Jpeg => Jpeg::from_bytes(bytes.clone()).ok()?.icc_profile(),
        ImageType::Png => Png::from_bytes(bytes.clone()).ok()?.icc_profile(),
        ImageType::Webp => WebP::from_bytes(bytes.clone()).ok()?.icc_profile(),
        ImageType::Gif => None,
    }
}

/// `bytes` without metadata, keeping `orientation` (when it is not 1) as the only EXIF
/// tag.
///
/// # Errors
/// Why the container cannot be parsed (the decoder already accepted it, so this is rare).
pub fn strip(bytes: &Bytes, kind: ImageType, orientation: u16) -> Result<Bytes, String> {
    let exif = (orientation != 1).then(|| orientation_only_exif(orientation));
    let bad = |e: img_parts::Error| e.to_string();
    Ok(match kind {
        ImageType::Jpeg => {
            let end = jpeg_end(bytes).ok_or("the JPEG has no end-of-image marker")?;
            let mut jpeg = Jpeg::from_bytes(bytes.slice(..end)).map_err(bad)?;
            jpeg.segments_mut()
                .retain(|s| keep_jpeg_segment(s.marker(), s.contents()));
            jpeg.set_exif(exif);
            jpeg.encoder().bytes()
        }
        ImageType::Png => {
            let mut png = Png::from_bytes(bytes.clone()).map_err(bad)?;
            png.chunks_mut()
                .retain(|c| KEPT_PNG_CHUNKS.contains(&&c.kind()));
            png.set_exif(exif);
            png.encoder().bytes()
        }
        ImageType::Webp => {
            let mut webp = WebP::from_bytes(bytes.clone()).map_err(bad)?;
            webp.chunks_mut()
                .retain(|c| KEPT_WEBP_CHUNKS.contains(&&c.id()));
            // Also clears the EXIF and XMP flags of the VP8X header.
            webp.set_exif(exif);
            webp.encoder().bytes()
        }
        ImageType::Gif => strip_gif(bytes).ok_or("the GIF's blocks do not add up")?,
    })
}

fn keep_jpeg_segment(marker: u8, contents: &[u8]) -> bool {
    match marker {
        markers::APP0 => true,
        markers::APP2 => contents.starts_with(b"ICC_PROFILE\0"),
        markers::APP14 => contents.starts_with(b"Adobe"),
        markers::COM => false,
        // APP1 (EXIF, XMP), APP3 to APP13 (IPTC, Photoshop, maker data), APP15.
        m if (markers::APP0..=markers::APP15).contains(&m) => false,
        _ => true,
    }
}

const KEPT_PNG_CHUNKS: [&[u8; 4]; 17] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
    b"cICP", b"mDCV", b"cLLI", b"pHYs", b"acTL", b"fcTL", b"fdAT",
];

const KEPT_WEBP_CHUNKS: [&[u8; 4]; 7] = [
    b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP",
];

/// A TIFF structure with one tag, Orientation (0x0112, SHORT): what EXIF segments carry
/// after their `Exif\0\0` prefix.
fn orientation_only_exif(orientation: u16) -> Bytes {
    let mut b = BytesMut::with_capacity(26);
    b.put_slice(b"MM\0\x2A"); // big-endian TIFF
    b.put_u32(8); // the first IFD follows the header
    b.put_u16(1); // one entry
    b.put_u16(0x0112);
    b.put_u16(3); // SHORT
    b.put_u32(1); // one value
    b.put_u16(orientation);
    b.put_u16(0); // padding of the 4-byte value field
    b.put_u32(0); // no next IFD
    b.freeze()
}

/// Where a JPEG ends: just after its end-of-image marker, walking segments by their
/// lengths and scans by their markers (a scan's data never holds an unstuffed marker).
fn jpeg_end(b: &[u8]) -> Option<usize> {
    let mut at = 2;
    loop {
        // Fill bytes (0xFF) may precede a marker.
        while b.get(at) == Some(&0xFF) && b.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if b.get(at) != Some(&0xFF) {
            return None;
        }
        let marker = *b.get(at + 1)?;
        at += 2;
        match marker {
            markers::EOI => return Some(at),
            // Restart markers and TEM stand alone.
            0xD0..=0xD7 | 0x01 => {}
            _ => {
                let len = usize::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]));
                at += len;
                if marker == markers::SOS {
                    // The scan's data runs to the next marker that is not stuffing or a
                    // restart.
                    loop {
                        let ff = at + b.get(at..)?.iter().position(|&x| x == 0xFF)?;
                        match b.get(ff + 1)? {
                            0x00 | 0xD0..=0xD7 => at = ff + 2,
                            _ => {
                                at = ff;
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A GIF without comment blocks and foreign application extensions, up to its trailer.
fn strip_gif(b: &[u8]) -> Option<Bytes> {
    fn sub_blocks_end(b: &[u8], mut at: usize) -> Option<usize> {
        loop {
            let len = usize::from(*b.get(at)?);
            at += 1 + len;
            if len == 0 {
                return Some(at);
            }
        }
    }
    const KEPT_APPLICATIONS: [&[u8; 11]; 3] = [b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012"];
    let flags = *b.get(10)?;
    let mut at = 13
        + if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        };
    let mut out = BytesMut::with_capacity(b.len());
    out.put_slice(b.get(..at)?);
    loop {
        match *b.get(at)? {
            0x3B => {
                out.put_u8(0x3B);
                return Some(out.freeze());
            }
            0x21 => {
                let label = *b.get(at + 1)?;
                let end = sub_blocks_end(b, at + 2)?;
                let keep = match label {
                    0xFE => false,
                    // The identifier is the first sub-block: 11 bytes.
                    0xFF => b
                        .get(at + 3..at + 14)
                        .is_some_and(|id| KEPT_APPLICATIONS.iter().any(|k| k[..] == *id)),
                    _ => true,
                };
                if keep {
                    out.put_slice(b.get(at..end)?);
                }
                at = end;
            }
            0x2C => {
                let flags = *b.get(at + 9)?;
                let table = if flags & 0x80 != 0 {
                    3 << ((flags & 7) + 1)
                } else {
                    0
                };
                // Descriptor (10), local colour table, LZW code size (1), data.
                let end = sub_blocks_end(b, at + 10 + table + 1)?;
                out.put_slice(b.get(at..end)?);
                at = end;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orientation_only_exif_reads_back() {
        let raw = orientation_only_exif(6);
        let exif = exif::Reader::new().read_raw(raw.to_vec()).unwrap();
        let fields: Vec<_> = exif.fields().map(|f| f.tag).collect();
        assert_eq!(fields, [exif::Tag::Orientation]);
        let o = exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY);
        assert_eq!(o.and_then(|f| f.value.get_uint(0)), Some(6));
    }

    #[test]
    fn a_jpeg_ends_at_its_end_of_image_marker() {
        // SOI, a COM segment, SOS (length 2+1), data with stuffing and a restart, EOI,
        // then appended bytes.
        let b = [
            0xFF, 0xD8, 0xFF, 0xFE, 0, 4, b'h', b'i', 0xFF, 0xDA, 0, 3, 0, 1, 0xFF, 0, 2, 0xFF,
            0xD0, 3, 0xFF, 0xD9, 9, 9, 9,
        ];
        assert_eq!(jpeg_end(&b), Some(b.len() - 3));
        assert_eq!(jpeg_end(&b[..b.len() - 5]), None);
    }

    #[test]
    fn a_gif_loses_comments_and_foreign_applications() {
        let mut gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        gif.extend(b"\x21\xFE\x05hello\x00"); // comment
        gif.extend(b"\x21\xFF\x0BXMP DataXMP\x03abc\x00"); // XMP
        gif.extend(b"\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00"); // looping
        gif.extend(b"\x2C\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00");
        gif.extend(b"\x3B");
        let out = strip_gif(&gif).unwrap();
        let s = String::from_utf8_lossy(&out);
        assert!(!s.contains("hello") && !s.contains("XMP"), "{s}");
        assert!(s.contains("NETSCAPE2.0"));
        assert!(out.ends_with(b"\x02\x02\x44\x01\x00\x3B"));
    }
}
