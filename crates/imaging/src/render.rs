//! Rendering from decoded pixels: each variant resized (Lanczos3, SIMD, through
//! `fast_image_resize`), turned upright, encoded as WebP (libwebp, lossy), and the
//! BlurHash of the whole image.
//!
//! Resizing runs in the stored orientation and only the small result is turned upright:
//! a centred crop commutes with rotations and flips, so the pixels are the same as
//! turning the large image first, at a fraction of the cost.

use bytes::Bytes;
use domain::processing::{Rendition, VariantPreset};
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, MulDiv, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::decode::Pixels;

/// Whether EXIF `orientation` swaps width and height (5 to 8 turn the image a quarter).
pub const fn swaps(orientation: u16) -> bool {
    matches!(orientation, 5..=8)
}

/// `(a, b)` as stored, for a displayed `(a, b)` or the other way round.
pub const fn turned(orientation: u16, (a, b): (u32, u32)) -> (u32, u32) {
    if swaps(orientation) { (b, a) } else { (a, b) }
}

fn pixel_type(channels: u8) -> PixelType {
    match channels {
        1 => PixelType::U8,
        2 => PixelType::U8x2,
        3 => PixelType::U8x3,
        _ => PixelType::U8x4,
    }
}

/// Multiplies the colour channels by alpha, in place, once for every rendition: resizing
/// premultiplied pixels keeps transparent pixels' colours from bleeding, and doing it here
/// rather than in each resize saves a copy of the whole image per rendition (200 MB for a
/// 50 MP RGBA PNG).
///
/// # Errors
/// The resizer's, which only a bug makes happen.
pub fn premultiply(src: &mut Pixels) -> Result<(), String> {
    if !src.channels.is_multiple_of(2) {
        return Ok(());
    }
    let mut image = Image::from_slice_u8(
        src.width,
        src.height,
        &mut src.data,
        pixel_type(src.channels),
    )
    .map_err(|e| e.to_string())?;
    MulDiv::new()
        .multiply_alpha_inplace(&mut image)
        .map_err(|e| e.to_string())
}

/// `src` (premultiplied, [`premultiply`]) resized to `size` (stored orientation), cropped
/// centred to its aspect ratio, with its alpha divided out again.
///
/// # Errors
/// The resizer's, which only a bug makes happen.
pub fn resize(src: &Pixels, size: (u32, u32)) -> Result<Pixels, String> {
    let pixel_type = pixel_type(src.channels);
    let from =
        ImageRef::new(src.width, src.height, &src.data, pixel_type).map_err(|e| e.to_string())?;
    let mut to = Image::new(size.0, size.1, pixel_type);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .fit_into_destination(Some((0.5, 0.5)))
        // Premultiplied once already.
        .use_alpha(false);
    Resizer::new()
        .resize(&from, &mut to, &options)
        .map_err(|e| e.to_string())?;
    if src.channels.is_multiple_of(2) {
        MulDiv::new()
            .divide_alpha_inplace(&mut to)
            .map_err(|e| e.to_string())?;
    }
    Ok(Pixels {
        data: to.into_vec(),
        width: size.0,
        height: size.1,
        channels: src.channels,
    })
}

/// `src` as RGB (gray) or RGBA (gray with alpha, RGBA): what the encoders take.
pub fn colour(src: Pixels) -> Pixels {
    let data = match src.channels {
        1 => src.data.iter().flat_map(|&l| [l, l, l]).collect(),
        2 => src
            .data
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        _ => return src,
    };
    Pixels {
        data,
        channels: src.channels + 2,
        ..src
    }
}

/// `src` turned as EXIF `orientation` says the camera held it.
pub fn upright(src: Pixels, orientation: u16) -> Pixels {
    if !(2..=8).contains(&orientation) {
        return src;
    }
    let (w, h) = (src.width as usize, src.height as usize);
    let (dw, dh) = if swaps(orientation) { (h, w) } else { (w, h) };
    let c = usize::from(src.channels);
    let mut data = vec![0; src.data.len()];
    for y in 0..dh {
        for x in 0..dw {
            // Where the displayed pixel (x, y) is stored.
            let (sx, sy) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                _ => (w - 1 - y, x),
            };
            let from = (sy * w + sx) * c;
            let to = (y * dw + x) * c;
            data[to..to + c].copy_from_slice(&src.data[from..from + c]);
        }
    }
    Pixels {
        data,
        width: dw as u32,
        height: dh as u32,
        channels: src.channels,
    }
}

/// One variant of `src` (premultiplied) for an image displayed at `shown`, as WebP at
/// `quality`, with the image's colour profile.
///
/// # Errors
/// The resizer's or the encoder's.
pub fn variant(
    src: &Pixels,
    preset: &VariantPreset,
    shown: (u32, u32),
    orientation: u16,
    quality: f32,
    icc: Option<&Bytes>,
) -> Result<Rendition, String> {
    let size = preset.size_for(shown.0, shown.1).size;
    let small = colour(upright(
        resize(src, turned(orientation, size))?,
        orientation,
    ));
    Ok(Rendition {
        name: preset.name.clone(),
        bytes: webp(&small, quality, icc)?,
        width: small.width,
        height: small.height,
    })
}

fn webp(p: &Pixels, quality: f32, icc: Option<&Bytes>) -> Result<Bytes, String> {
    let encoder = if p.channels == 4 {
        webp::Encoder::from_rgba(&p.data, p.width, p.height)
    } else {
        webp::Encoder::from_rgb(&p.data, p.width, p.height)
    };
    let encoded = encoder
        .encode_simple(false, quality)
        .map_err(|e| format!("WebP encoding failed: {e:?}"))?;
    let bytes = Bytes::copy_from_slice(&encoded);
    let Some(icc) = icc else {
        return Ok(bytes);
    };
    let mut with = img_parts::webp::WebP::from_bytes(bytes).map_err(|e| e.to_string())?;
    img_parts::ImageICC::set_icc_profile(&mut with, Some(icc.clone()));
    Ok(with.encoder().bytes())
}

/// The BlurHash (4×3 components) of `src` (premultiplied), turned upright.
///
/// # Errors
/// The resizer's.
pub fn blurhash(src: &Pixels, orientation: u16) -> Result<String, String> {
    // A few dozen pixels a side carry all a 4×3 hash can tell.
    const SIDE: f64 = 32.0;
    let ratio = (SIDE / f64::from(src.width.max(src.height))).min(1.0);
    let size = (
        ((f64::from(src.width) * ratio).round() as u32).max(1),
        ((f64::from(src.height) * ratio).round() as u32).max(1),
    );
    let small = colour(upright(resize(src, size)?, orientation));
    let rgba: Vec<u8> = if small.channels == 4 {
        small.data
    } else {
        small
            .data
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect()
    };
    blurhash::encode(4, 3, small.width, small.height, &rgba).map_err(|e| format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3×2 image whose pixels are their own index.
    fn numbered() -> Pixels {
        Pixels {
            data: (0..6).collect(),
            width: 3,
            height: 2,
            channels: 1,
        }
    }

    #[test]
    fn every_orientation_turns_as_exif_says() {
        // Stored:   0 1 2
        //           3 4 5
        let cases: [(u16, &[u8]); 8] = [
            (1, &[0, 1, 2, 3, 4, 5]),
            (2, &[2, 1, 0, 5, 4, 3]),
            (3, &[5, 4, 3, 2, 1, 0]),
            (4, &[3, 4, 5, 0, 1, 2]),
            (5, &[0, 3, 1, 4, 2, 5]),
            (6, &[3, 0, 4, 1, 5, 2]),
            (7, &[5, 2, 4, 1, 3, 0]),
            (8, &[2, 5, 1, 4, 0, 3]),
        ];
        for (o, want) in cases {
            let p = upright(numbered(), o);
            assert_eq!(p.data, want, "orientation {o}");
            assert_eq!((p.width, p.height), turned(o, (3, 2)), "orientation {o}");
        }
    }
}
