//! Lossless metadata removal: the upload's own bytes with every metadata block taken out
//! and its pixels untouched. What stays is what the image needs to display as the phone
//! showed it: its colour profile (ICC) and, when it is not upright, its EXIF orientation
//! as the only EXIF tag.
//!
//! Each format keeps an allow-list, applied at every level of the file, so a block nobody
//! thought of is removed too, wherever it sits:
//! - JPEG: every segment is walked up to the end-of-image marker, between and after the
//!   scans too; kept are the frame's own (tables, frame and scan headers, restart
//!   intervals, scan data), APP2 `ICC_PROFILE`, APP14 Adobe (its 12 defined bytes only)
//!   and APP0 JFIF rewritten without its thumbnail; JFXX thumbnails, APP1 (EXIF, XMP),
//!   APP3 to APP13 (IPTC, Photoshop, maker data), APP15, comments and unknown markers go,
//!   and so do the bytes after the end-of-image marker (motion photos, MPF's second images
//!   with their own EXIF);
//! - PNG: the critical chunks and those about colour, transparency, pixel size and
//!   animation; an ICC profile's name is replaced;
//! - WebP: the bitstream, alpha, animation and `ICCP` chunks, and inside each animation
//!   frame (`ANMF`) only its alpha and bitstream; reserved bytes of `VP8X` are zeroed;
//! - GIF: the header, colour tables, image data, graphic control (its one defined
//!   sub-block) and the looping extension (`NETSCAPE2.0` / `ANIMEXTS1.0`, its one
//!   defined sub-block); comments, plain text, ICC and every other application
//!   extension, and any extra sub-block, go.

use bytes::{BufMut as _, Bytes, BytesMut};
use domain::ImageType;
use img_parts::jpeg::{Jpeg, markers};
use img_parts::png::{Png, PngChunk};
use img_parts::riff::RiffContent;
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
        ImageType::Jpeg => strip_jpeg(bytes, exif.as_deref())
            .ok_or("the JPEG's segments do not add up to an end-of-image marker")?,
        ImageType::Png => {
            let mut png = Png::from_bytes(bytes.clone()).map_err(bad)?;
            png.chunks_mut()
                .retain(|c| KEPT_PNG_CHUNKS.contains(&&c.kind()));
            for chunk in png.chunks_mut() {
                if &chunk.kind() == b"iCCP" {
                    *chunk = PngChunk::new(*b"iCCP", unnamed_iccp(chunk.contents()));
                }
            }
            png.set_exif(exif);
            png.encoder().bytes()
        }
        ImageType::Webp => {
            let mut webp = WebP::from_bytes(bytes.clone()).map_err(bad)?;
            webp.chunks_mut()
                .retain(|c| KEPT_WEBP_CHUNKS.contains(&&c.id()));
            for chunk in webp.chunks_mut() {
                let RiffContent::Data(data) = chunk.content() else {
                    return Err("a WebP chunk holds a list".into());
                };
                let cleaned = match &chunk.id() {
                    b"ANMF" => webp_frame(data).ok_or("an animation frame does not add up")?,
                    b"VP8X" if data.len() >= 10 => {
                        let mut c = BytesMut::from(&data[..10]);
                        // ICC, alpha and animation flags; reserved bits and bytes zeroed
                        // (the EXIF and XMP flags are set again below as kept).
                        c[0] &= 0x32;
                        c[1..4].fill(0);
                        c.freeze()
                    }
                    b"ANIM" if data.len() >= 6 => data.slice(..6),
                    _ => continue,
                };
                *chunk.content_mut() = RiffContent::Data(cleaned);
            }
            // Sets the EXIF flag of the VP8X header as the chunk is kept or not.
            webp.set_exif(exif);
            webp.encoder().bytes()
        }
        ImageType::Gif => strip_gif(bytes).ok_or("the GIF's blocks do not add up")?,
    })
}

/// What of a JPEG segment is published.
enum Kept {
    Whole,
    /// These contents, under the segment's marker.
    Rewritten(Vec<u8>),
    Dropped,
}

fn keep_jpeg_segment(marker: u8, contents: &[u8]) -> Kept {
    match marker {
        // Frame headers (SOF0 to SOF15 but DHT, JPG and DAC), Huffman and arithmetic
        // tables, quantisation tables, restart interval, number of lines, scan headers.
        0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => Kept::Whole,
        markers::DHT | 0xCC | markers::DQT | markers::DRI | 0xDC | markers::SOS => Kept::Whole,
        // JFIF's version, units and densities, with no thumbnail; JFXX (a thumbnail
        // that may show the uncropped original) and anything else under APP0 go.
        markers::APP0 if contents.len() >= 14 && contents.starts_with(b"JFIF\0") => {
            let mut jfif = contents[..12].to_vec();
            jfif.extend_from_slice(&[0, 0]);
            Kept::Rewritten(jfif)
        }
        markers::APP2 if contents.starts_with(b"ICC_PROFILE\0") => Kept::Whole,
        // Adobe's colour transform: "Adobe", version, two flag words, the transform.
        markers::APP14 if contents.len() >= 12 && contents.starts_with(b"Adobe") => {
            Kept::Rewritten(contents[..12].to_vec())
        }
        _ => Kept::Dropped,
    }
}

fn put_segment(out: &mut BytesMut, marker: u8, contents: &[u8]) -> Option<()> {
    out.put_u8(0xFF);
    out.put_u8(marker);
    out.put_u16(u16::try_from(contents.len() + 2).ok()?);
    out.put_slice(contents);
    Some(())
}

/// A JPEG's kept segments up to its end-of-image marker, with `exif` (a TIFF structure)
/// as its only APP1, after the JFIF segment when there is one. Every segment is walked by
/// its length, and each scan's data to the marker that ends it, so nothing between or
/// after the scans escapes the allow-list. `None` when the structure does not add up.
fn strip_jpeg(b: &[u8], exif: Option<&[u8]>) -> Option<Bytes> {
    if !b.starts_with(&[0xFF, markers::SOI]) {
        return None;
    }
    let mut out = BytesMut::with_capacity(b.len());
    out.put_slice(&[0xFF, markers::SOI]);
    let mut exif = exif.map(|tiff| [&b"Exif\0\0"[..], tiff].concat());
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
        if marker != markers::APP0
            && let Some(app1) = exif.take()
        {
            put_segment(&mut out, markers::APP1, &app1)?;
        }
        match marker {
            markers::EOI => {
                out.put_slice(&[0xFF, markers::EOI]);
                return Some(out.freeze());
            }
            // A restart marker outside a scan, or TEM: no contents, nothing to keep.
            0xD0..=0xD7 | 0x01 => continue,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]));
        let contents = b.get(at + 2..at.checked_add(len)?.max(at + 2))?;
        if len < 2 {
            return None;
        }
        match keep_jpeg_segment(marker, contents) {
            Kept::Whole => put_segment(&mut out, marker, contents)?,
            Kept::Rewritten(c) => put_segment(&mut out, marker, &c)?,
            Kept::Dropped => {}
        }
        at += len;
        if marker == markers::SOS {
            // The scan's data runs to the next marker that is not stuffing or a restart;
            // it is copied as it is.
            let start = at;
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
            out.put_slice(b.get(start..at)?);
        }
    }
}

/// An iCCP chunk's contents with the profile's name (free text) replaced.
fn unnamed_iccp(contents: &[u8]) -> Bytes {
    let profile = contents
        .iter()
        .position(|&c| c == 0)
        .map_or(&[][..], |nul| &contents[nul + 1..]);
    [&b"ICC profile\0"[..], profile].concat().into()
}

/// An `ANMF` chunk's contents with only its frame header, alpha and bitstream: the
/// chunks an animation frame may hold besides those are dropped.
fn webp_frame(data: &[u8]) -> Option<Bytes> {
    let mut out = BytesMut::with_capacity(data.len());
    out.put_slice(data.get(..16)?);
    let mut at = 16;
    while at < data.len() {
        let id = data.get(at..at + 4)?;
        let len = usize::try_from(u32::from_le_bytes(
            data.get(at + 4..at + 8)?.try_into().ok()?,
        ))
        .ok()?;
        let end = at.checked_add(8)?.checked_add(len)?;
        let chunk = data.get(at..end)?;
        if matches!(id, b"ALPH" | b"VP8 " | b"VP8L") {
            out.put_slice(chunk);
            if len % 2 == 1 {
                out.put_u8(0);
            }
        }
        // Chunks are padded to an even length.
        at = end + len % 2;
    }
    Some(out.freeze())
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

/// A GIF of its allow-listed blocks only, up to its trailer: header, screen and colour
/// tables, images (descriptor, local table, data), each graphic control extension's one
/// 4-byte sub-block, and the looping extension's one sub-block. Every other block, and
/// every sub-block beyond those defined, is dropped. `None` when the blocks do not add up.
fn strip_gif(b: &[u8]) -> Option<Bytes> {
    /// The sub-blocks from `at`: their data ranges and where the terminator ends.
    fn sub_blocks(b: &[u8], mut at: usize) -> Option<(Vec<std::ops::Range<usize>>, usize)> {
        let mut blocks = Vec::new();
        loop {
            let len = usize::from(*b.get(at)?);
            if len == 0 {
                return Some((blocks, at + 1));
            }
            b.get(at + 1..at + 1 + len)?;
            blocks.push(at + 1..at + 1 + len);
            at += 1 + len;
        }
    }
    const LOOPING: [&[u8; 11]; 2] = [b"NETSCAPE2.0", b"ANIMEXTS1.0"];
    let table = |flags: u8| {
        if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        }
    };
    let mut at = 13 + table(*b.get(10)?);
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
                let (blocks, end) = sub_blocks(b, at + 2)?;
                let first = |want: usize| blocks.first().filter(|r| r.len() == want);
                match label {
                    // Graphic control: disposal, delay, transparent colour.
                    0xF9 => {
                        if let Some(r) = first(4) {
                            out.put_slice(&[0x21, 0xF9, 4]);
                            out.put_slice(&b[r.clone()]);
                            out.put_u8(0);
                        }
                    }
                    // Looping: the identifier, then sub-block 1 (the loop count).
                    0xFF if first(11)
                        .is_some_and(|r| LOOPING.iter().any(|k| k[..] == b[r.clone()])) =>
                    {
                        if let Some(r) = blocks.get(1).filter(|r| r.len() == 3 && b[r.start] == 1) {
                            out.put_slice(&b[at..at + 3 + 11]);
                            out.put_u8(3);
                            out.put_slice(&b[r.clone()]);
                            out.put_u8(0);
                        }
                    }
                    // Comments, plain text, every other application extension, anything
                    // unknown.
                    _ => {}
                }
                at = end;
            }
            0x2C => {
                let flags = *b.get(at + 9)?;
                // Descriptor (10), local colour table, LZW code size (1), data.
                let data = at + 10 + table(flags) + 1;
                let (_, end) = sub_blocks(b, data)?;
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
    fn every_jpeg_segment_is_judged_between_and_after_the_scans() {
        // SOI, APP0 JFIF with a 1×1 thumbnail, a COM, SOS (length 2+1), data with
        // stuffing and a restart, an APP1 between the scans, a second SOS and its data,
        // a COM after the last scan, EOI, then appended bytes.
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 19];
        b.extend(b"JFIF\0\x01\x02\0\0\x01\0\x01\x01\x01\xAA\xBB\xCC");
        b.extend([0xFF, 0xFE, 0, 4, b'h', b'i']);
        b.extend([0xFF, 0xDA, 0, 3, 0, 1, 0xFF, 0, 2, 0xFF, 0xD0, 3]);
        b.extend([0xFF, 0xE1, 0, 8]);
        b.extend(b"Exif\0\0");
        b.extend([0xFF, 0xDA, 0, 3, 0, 7, 8]);
        b.extend([0xFF, 0xFE, 0, 5, b'G', b'P', b'S']);
        b.extend([0xFF, 0xD9, 9, 9, 9]);
        let out = strip_jpeg(&b, None).unwrap();
        let mut want = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        want.extend(b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0");
        want.extend([0xFF, 0xDA, 0, 3, 0, 1, 0xFF, 0, 2, 0xFF, 0xD0, 3]);
        want.extend([0xFF, 0xDA, 0, 3, 0, 7, 8]);
        want.extend([0xFF, 0xD9]);
        assert_eq!(&out[..], &want[..]);
        // Cut short, or without an end-of-image marker: no JPEG.
        assert_eq!(strip_jpeg(&b[..b.len() - 5], None), None);
        // The orientation goes in after the JFIF segment.
        let with = strip_jpeg(&b, Some(&orientation_only_exif(6))).unwrap();
        assert_eq!(&with[20..22], &[0xFF, 0xE1]);
        assert_eq!(&with[24..30], b"Exif\0\0");
    }

    #[test]
    fn a_webp_frame_keeps_its_bitstream_only() {
        let mut frame = vec![0u8; 16];
        frame.extend(b"XMP \x05\0\0\0Jane!\0");
        frame.extend(b"VP8L\x03\0\0\0abc\0");
        let out = webp_frame(&frame).unwrap();
        assert_eq!(&out[16..], b"VP8L\x03\0\0\0abc\0");
        assert_eq!(webp_frame(&frame[..frame.len() - 3]), None);
    }

    #[test]
    fn a_gif_keeps_only_its_allow_listed_blocks_and_sub_blocks() {
        let mut gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        gif.extend(b"\x21\xFE\x05hello\x00"); // comment
        gif.extend(b"\x21\xFF\x0BXMP DataXMP\x03abc\x00"); // XMP
        // Looping, with a sub-block too many.
        gif.extend(b"\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x04Jane\x00");
        gif.extend(b"\x21\xFF\x0BICCRGBG1012\x04Jane\x00"); // ICC
        gif.extend(b"\x21\x01\x0C\0\0\0\0\x01\0\x01\0\x01\x01\0\0\x04Jane\x00"); // plain text
        gif.extend(b"\x21\xF9\x04\x00\x0A\x00\x00\x04Jane\x00"); // graphic control, extra
        gif.extend(b"\x2C\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00");
        gif.extend(b"\x3B");
        let out = strip_gif(&gif).unwrap();
        let s = String::from_utf8_lossy(&out);
        assert!(
            !s.contains("hello") && !s.contains("XMP") && !s.contains("Jane"),
            "{s}"
        );
        assert!(!s.contains("ICCRGBG"), "{s}");
        let mut want = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        want.extend(b"\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00");
        want.extend(b"\x21\xF9\x04\x00\x0A\x00\x00\x00");
        want.extend(b"\x2C\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3B");
        assert_eq!(out.to_vec(), want);
    }
}
