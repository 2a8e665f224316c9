//! Decoding: the whole file, through each format's own decoder, into 8-bit RGB or RGBA
//! pixels in the stored orientation. A file that does not decode is no image.
//!
//! A JPEG is decoded at the smallest DCT scale (1/1 to 1/8) that still covers what the
//! variants need, as libvips does on load: every block's data is still read and checked,
//! at a fraction of the pixels. Every frame of an animation is decoded (that is what
//! proves it whole); the first frame is the one kept.

use std::io::Cursor;
use std::time::Instant;

use domain::ImageType;

/// Why decoding stopped.
#[derive(Debug)]
pub enum DecodeError {
    /// The bytes do not decode; the text says why, for the client.
    Invalid(String),
    /// The deadline passed between two frames.
    OverDeadline,
}

impl From<String> for DecodeError {
    fn from(why: String) -> Self {
        Self::Invalid(why)
    }
}

impl From<&str> for DecodeError {
    fn from(why: &str) -> Self {
        Self::Invalid(why.to_owned())
    }
}

/// `Err(OverDeadline)` once `deadline` has passed.
fn in_time(deadline: Instant) -> Result<(), DecodeError> {
    if Instant::now() > deadline {
        Err(DecodeError::OverDeadline)
    } else {
        Ok(())
    }
}

/// Pixels, row by row, `channels` bytes each (1: gray, 2: gray and alpha, 3: RGB, 4:
/// RGBA). Gray stays gray until the small renditions are made: a third of the memory.
pub struct Pixels {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub channels: u8,
}

/// A decoded image: its pixels (possibly scaled down on load) and its full size.
pub struct Decoded {
    pub pixels: Pixels,
    /// The size the file declares, in the stored orientation.
    pub width: u32,
    pub height: u32,
}

impl Decoded {
    /// An image decoded at its full size.
    fn whole(data: Vec<u8>, width: u32, height: u32, channels: u8) -> Self {
        Self {
            pixels: Pixels {
                data,
                width,
                height,
                channels,
            },
            width,
            height,
        }
    }
}

/// Decodes `bytes`. `need` is the smallest size (stored orientation) the caller will
/// resize from, given the full size: a JPEG may be decoded smaller, never below it.
///
/// # Errors
/// Why the bytes do not decode, for the client.
pub fn decode(
    bytes: &[u8],
    kind: ImageType,
    max_pixels: u64,
    need: impl Fn(u32, u32) -> (u32, u32),
    deadline: Instant,
) -> Result<Decoded, DecodeError> {
    // Room for the largest frame at 8 bytes a pixel (16-bit RGBA before reduction).
    let limit = usize::try_from(max_pixels.saturating_mul(8)).unwrap_or(usize::MAX);
    match kind {
        ImageType::Jpeg => jpeg(bytes, limit, need),
        ImageType::Png => png(bytes, limit),
        ImageType::Gif => gif(bytes, limit, deadline),
        ImageType::Webp => webp(bytes, limit, deadline),
    }
}

fn jpeg(
    bytes: &[u8],
    limit: usize,
    need: impl Fn(u32, u32) -> (u32, u32),
) -> Result<Decoded, DecodeError> {
    let bad = |e: jpeg_decoder::Error| format!("the JPEG does not decode: {e}");
    let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    d.set_max_decoding_buffer_size(limit);
    d.read_info().map_err(bad)?;
    let info = d.info().ok_or("the JPEG has no frame")?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let (nw, nh) = need(width, height);
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    d.scale(clamp(nw), clamp(nh)).map_err(bad)?;
    let data = d.decode().map_err(bad)?;
    let info = d.info().ok_or("the JPEG has no frame")?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let channels = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 | jpeg_decoder::PixelFormat::L16 => 1,
        _ => 3,
    };
    let data = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => data,
        jpeg_decoder::PixelFormat::L8 => data.iter().flat_map(|&l| [l, l, l]).collect(),
        // Big-endian 16-bit luminance: its high byte.
        jpeg_decoder::PixelFormat::L16 => data
            .chunks_exact(2)
            .flat_map(|l| [l[0], l[0], l[0]])
            .collect(),
        jpeg_decoder::PixelFormat::CMYK32 => data
            .chunks_exact(4)
            .flat_map(|p| {
                let k = u16::from(p[3]);
                let channel = |c: u8| ((u16::from(c) * k) / 255) as u8;
                [channel(p[0]), channel(p[1]), channel(p[2])]
            })
            .collect(),
    };
    Ok(Decoded {
        pixels: Pixels {
            data,
            width: w,
            height: h,
            channels,
        },
        width,
        height,
    })
}

fn png(bytes: &[u8], limit: usize) -> Result<Decoded, DecodeError> {
    let bad = |e: png::DecodingError| format!("the PNG does not decode: {e}");
    let mut d = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: limit });
    d.set_transformations(png::Transformations::normalize_to_color8());
    d.set_ignore_text_chunk(true);
    let mut reader = d.read_info().map_err(bad)?;
    let size = reader
        .output_buffer_size()
        .ok_or("the PNG is too large to decode")?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(bad)?;
    buf.truncate(frame.buffer_size());
    let (width, height) = (frame.width, frame.height);
    let (data, channels) = match frame.color_type {
        png::ColorType::Rgb => (buf, 3),
        png::ColorType::Rgba => (buf, 4),
        png::ColorType::Grayscale => (buf, 1),
        png::ColorType::GrayscaleAlpha => (buf, 2),
        png::ColorType::Indexed => return Err("the PNG's palette did not expand".into()),
    };
    // The rest of the file: later chunks and their checksums.
    reader.finish().map_err(bad)?;
    Ok(Decoded::whole(data, width, height, channels))
}

fn gif(bytes: &[u8], limit: usize, deadline: Instant) -> Result<Decoded, DecodeError> {
    let bad = |e: gif::DecodingError| format!("the GIF does not decode: {e}");
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    // A frame that does not fit the logical screen is an error, not clipped.
    options.check_frame_consistency(true);
    options.set_memory_limit(gif::MemoryLimit::Bytes(
        std::num::NonZeroU64::new(limit as u64).ok_or("no memory for a GIF")?,
    ));
    let mut d = options.read_info(Cursor::new(bytes)).map_err(bad)?;
    let (width, height) = (u32::from(d.width()), u32::from(d.height()));
    let mut canvas = vec![0u8; (width as usize) * (height as usize) * 4];
    let mut first = true;
    while let Some(frame) = d.read_next_frame().map_err(bad)? {
        in_time(deadline)?;
        if !first {
            continue;
        }
        first = false;
        // The first frame, drawn where it sits on the (transparent) screen.
        let (left, top) = (usize::from(frame.left), usize::from(frame.top));
        let fw = usize::from(frame.width);
        for (y, row) in frame.buffer.chunks_exact(fw * 4).enumerate() {
            let at = ((top + y) * width as usize + left) * 4;
            canvas
                .get_mut(at..at + row.len())
                .ok_or("a GIF frame lies outside its screen")?
                .copy_from_slice(row);
        }
    }
    if first {
        return Err("the GIF has no frame".into());
    }
    Ok(Decoded::whole(canvas, width, height, 4))
}

fn webp(bytes: &[u8], limit: usize, deadline: Instant) -> Result<Decoded, DecodeError> {
    let bad = |e: image_webp::DecodingError| format!("the WebP does not decode: {e}");
    let mut d = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(bad)?;
    d.set_memory_limit(limit);
    let (width, height) = d.dimensions();
    let channels = if d.has_alpha() { 4 } else { 3 };
    let size = d
        .output_buffer_size()
        .ok_or("the WebP is too large to decode")?;
    let mut data = vec![0; size];
    d.read_image(&mut data).map_err(bad)?;
    if d.is_animated() {
        // The first frame is kept; the others are decoded to prove them whole.
        let mut scratch = vec![0; size];
        for _ in 0..d.num_frames() {
            in_time(deadline)?;
            d.read_frame(&mut scratch).map_err(bad)?;
        }
    }
    Ok(Decoded::whole(data, width, height, channels))
}
