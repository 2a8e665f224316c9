use proptest::prelude::*;

use super::*;

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    v.extend(w.to_be_bytes());
    v.extend(h.to_be_bytes());
    v.extend([8, 6, 0, 0, 0]);
    v
}

#[test]
fn png_gif_webp_and_jpeg_are_recognised_with_their_dimensions() {
    assert_eq!(
        sniff(samples::PNG_1X1),
        Ok(Sniffed {
            kind: ImageType::Png,
            width: 1,
            height: 1
        })
    );
    assert_eq!(
        sniff(&png(640, 480)).map(|s| (s.width, s.height)),
        Ok((640, 480))
    );
    let gif = b"GIF89a\x20\x03\x58\x02\x00\x00\x00";
    assert_eq!(
        sniff(gif),
        Ok(Sniffed {
            kind: ImageType::Gif,
            width: 800,
            height: 600
        })
    );

    let mut vp8x = b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00".to_vec();
    vp8x.extend([0x3F, 0x01, 0x00, 0xDF, 0x00, 0x00]); // 320 x 224
    assert_eq!(
        sniff(&vp8x),
        Ok(Sniffed {
            kind: ImageType::Webp,
            width: 320,
            height: 224
        })
    );
    let mut vp8 = b"RIFF\x00\x00\x00\x00WEBPVP8 \x00\x00\x00\x00".to_vec();
    vp8.extend([0x00, 0x00, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01]); // 640 x 480
    assert_eq!(sniff(&vp8).map(|s| (s.width, s.height)), Ok((640, 480)));
    let mut vp8l = b"RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2F".to_vec();
    let bits: u32 = 99 | (49 << 14); // 100 x 50
    vp8l.extend(bits.to_le_bytes());
    assert_eq!(sniff(&vp8l).map(|s| (s.width, s.height)), Ok((100, 50)));

    // SOI, an APP0 segment, then SOF0 with height 300 and width 400.
    let jpeg = [
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0x2C,
        0x01, 0x90, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01,
    ];
    assert_eq!(
        sniff(&jpeg),
        Ok(Sniffed {
            kind: ImageType::Jpeg,
            width: 400,
            height: 300
        })
    );
}

#[test]
fn markup_and_other_types_are_refused() {
    for bad in [
        &b"<svg xmlns='http://www.w3.org/2000/svg'></svg>"[..],
        b"<!doctype html><script>alert(1)</script>",
        b"<?xml version='1.0'?><svg/>",
        b"%PDF-1.7",
        b"",
        b"\x00\x00\x01\x00", // ICO
    ] {
        assert_eq!(sniff(bad), Err(SniffError::UnknownType), "{bad:?}");
    }
}

#[test]
fn truncated_and_zero_sized_headers_are_malformed() {
    assert_eq!(
        sniff(b"\x89PNG\r\n\x1a\n\x00\x00"),
        Err(SniffError::Malformed("PNG"))
    );
    assert_eq!(sniff(&png(0, 10)), Err(SniffError::Malformed("PNG")));
    assert_eq!(sniff(b"GIF89a\x01"), Err(SniffError::Malformed("GIF")));
    assert_eq!(
        sniff(&[0xFF, 0xD8, 0xFF, 0xD9]),
        Err(SniffError::Malformed("JPEG"))
    );
    assert_eq!(
        sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]),
        Err(SniffError::Malformed("JPEG"))
    );
    assert_eq!(
        sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 "),
        Err(SniffError::Malformed("WebP"))
    );
}

#[test]
fn a_jpeg_needs_scan_data_and_an_end_of_image() {
    let frame: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x08, 0x00, 0x10, 0x03, 0x01, 0x22, 0x00,
        0x02, 0x11, 0x01, 0x03, 0x11, 0x01,
    ];
    let scan: &[u8] = &[
        0xFF, 0xDA, 0x00, 0x0C, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3F, 0x00,
    ];
    let eoi: &[u8] = &[0xFF, 0xD9];
    let whole = [frame, scan, &[0x12, 0x34], eoi].concat();
    assert_eq!(check_jpeg_whole(&whole), Ok(()));
    // A motion photo: a video after the end of image. Judged whole, and accepted.
    let motion = [&whole[..], &[0u8; 64][..]].concat();
    assert_eq!(check_jpeg_whole(&motion), Ok(()));
    for bad in [
        [frame, eoi].concat(),
        [frame, scan, &[0x12, 0x34]].concat(),
        frame.to_vec(),
    ] {
        assert_eq!(check_jpeg_whole(&bad), Err(SniffError::Truncated("JPEG")));
    }
}

#[test]
fn every_frame_counts_not_only_the_screen() {
    // A 1×1 screen, a 1×1 frame, then a 65535×65535 one; each frame's data one byte.
    let frame = |w: u16, h: u16| {
        let mut f = vec![0x2C, 0, 0, 0, 0];
        f.extend(w.to_le_bytes());
        f.extend(h.to_le_bytes());
        f.extend([0x00, 0x02, 0x01, 0x00, 0x00]);
        f
    };
    let mut gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
    gif.extend([0x21, 0xF9, 0x04, 0, 0, 0, 0, 0x00]);
    gif.extend(frame(1, 1));
    let small = [gif.clone(), vec![0x3B]].concat();
    assert_eq!(largest_frame(ImageType::Gif, &small), Ok(1));
    gif.extend(frame(65535, 65535));
    gif.push(0x3B);
    assert!(has_frames(ImageType::Gif, &gif));
    assert_eq!(
        largest_frame(ImageType::Gif, &gif),
        Ok(65535 * 65535),
        "the second frame"
    );
    assert!(
        largest_frame(ImageType::Gif, &gif[..gif.len() - 4]).is_err(),
        "cut short"
    );

    // An animated WebP: VP8X (animation flag, 1×1 canvas), ANIM, one ANMF of 16384².
    let chunk = |fourcc: &[u8], payload: Vec<u8>| {
        let mut c = fourcc.to_vec();
        c.extend(u32::try_from(payload.len()).unwrap_or(0).to_le_bytes());
        c.extend(&payload);
        if payload.len() % 2 == 1 {
            c.push(0);
        }
        c
    };
    let mut anmf = vec![0u8; 16];
    anmf[6..9].copy_from_slice(&[0xFF, 0x3F, 0x00]);
    anmf[9..12].copy_from_slice(&[0xFF, 0x3F, 0x00]);
    let body = [
        chunk(b"VP8X", vec![0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        chunk(b"ANIM", vec![0; 6]),
        chunk(b"ANMF", anmf),
    ]
    .concat();
    let mut webp = b"RIFF".to_vec();
    webp.extend(u32::try_from(body.len() + 4).unwrap_or(0).to_le_bytes());
    webp.extend(b"WEBP");
    webp.extend(body);
    assert!(has_frames(ImageType::Webp, &webp));
    assert_eq!(largest_frame(ImageType::Webp, &webp), Ok(16384 * 16384));
    assert!(!has_frames(ImageType::Png, &webp));
}

#[test]
fn files_cut_short_are_told_from_whole_ones() {
    let iend = b"\x00\x00\x00\x00IEND\xAE\x42\x60\x82";
    let mut whole = png(1, 1);
    whole.extend(iend);
    let n = whole.len() as u64;
    assert_eq!(check_complete(ImageType::Png, &whole, &whole, n), Ok(()));
    let cut = &whole[..whole.len() - 1];
    assert_eq!(
        check_complete(ImageType::Png, cut, cut, n - 1),
        Err(SniffError::Truncated("PNG"))
    );
    assert_eq!(
        check_complete(ImageType::Png, &png(1, 1), &png(1, 1), 33),
        Err(SniffError::Truncated("PNG"))
    );
    assert_eq!(
        check_complete(ImageType::Gif, b"GIF89a", b"\x00;", 100),
        Ok(())
    );
    assert_eq!(
        check_complete(ImageType::Gif, b"GIF89a", b"\x00\x00", 100),
        Err(SniffError::Truncated("GIF"))
    );
    // RIFF counts the bytes after its first eight.
    let webp = b"RIFF\x2A\x01\x00\x00WEBP";
    assert_eq!(
        check_complete(ImageType::Webp, webp, b"", 0x12A + 8),
        Ok(())
    );
    assert_eq!(
        check_complete(ImageType::Webp, webp, b"", 0x12A),
        Err(SniffError::Truncated("WebP"))
    );
    // JPEG: anything may follow the image (motion photos), but not a partial frame
    // header.
    assert_eq!(check_complete(ImageType::Jpeg, b"", b"mp4", 9), Ok(()));
    let jpeg = [
        0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x20, 0x03,
    ];
    assert_eq!(sniff(&jpeg), Err(SniffError::Malformed("JPEG")));
}

#[test]
fn a_polyglot_is_judged_by_its_header() {
    // A real PNG header with HTML after it is a PNG (and is served as image/png with
    // nosniff, so the HTML never runs).
    let mut poly = png(10, 10);
    poly.extend(b"<html><script>alert(1)</script></html>");
    assert_eq!(sniff(&poly).map(|s| s.kind), Ok(ImageType::Png));
}

#[test]
fn the_decoding_cost_counts_frames_canvases_and_scans() {
    // An animated WebP: 300 one-pixel frames on a 4000×4000 canvas.
    let u24 = |v: u32| v.to_le_bytes()[..3].to_vec();
    let chunk = |id: &[u8], data: &[u8]| {
        let mut c = id.to_vec();
        c.extend((data.len() as u32).to_le_bytes());
        c.extend(data);
        if data.len() % 2 == 1 {
            c.push(0);
        }
        c
    };
    let mut body = chunk(
        b"VP8X",
        &[[0x12, 0, 0, 0].to_vec(), u24(3999), u24(3999)].concat(),
    );
    body.extend(chunk(b"ANIM", &[0; 6]));
    let frame = chunk(
        b"ANMF",
        &[vec![0; 15], vec![0], chunk(b"VP8L", b"\x2f\0\0\0\0")].concat(),
    );
    for _ in 0..300 {
        body.extend(&frame);
    }
    let mut webp = b"RIFF".to_vec();
    webp.extend((body.len() as u32 + 4).to_le_bytes());
    webp.extend(b"WEBP");
    webp.extend(&body);
    let sniffed = sniff(&webp).unwrap();
    let cost = decode_cost(&sniffed, &webp);
    assert_eq!((cost.frames, cost.work), (300, 300 * 16_000_000));
    // Only the head: the frames it shows, a lower bound.
    let partial = decode_cost(&sniffed, &webp[..webp.len() / 2]).frames;
    assert!((140..=160).contains(&partial), "{partial}");

    // A GIF: each frame's own pixels.
    let mut gif = b"GIF89a\x10\x00\x10\x00\x00\x00\x00".to_vec();
    for (w, h) in [(16u8, 16u8), (2, 3), (1, 1)] {
        gif.extend([0x2C, 0, 0, 0, 0, w, 0, h, 0, 0, 2, 2, 0x44, 0x01, 0]);
    }
    gif.push(0x3B);
    let cost = decode_cost(&sniff(&gif).unwrap(), &gif);
    assert_eq!((cost.frames, cost.work), (3, 256 + 6 + 1));

    // A JPEG: every scan, between which segments may sit, counts the frame again.
    let mut jpeg = vec![
        0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0, 100, 0, 50, 1, 1, 0x11, 0,
    ];
    for _ in 0..3 {
        jpeg.extend([0xFF, 0xDA, 0, 3, 0, 1, 2, 0xFF, 0, 3, 0xFF, 0xD0, 4]);
        jpeg.extend([0xFF, 0xFE, 0, 3, b'x']);
    }
    jpeg.extend([0xFF, 0xD9]);
    let cost = decode_cost(&sniff(&jpeg).unwrap(), &jpeg);
    assert_eq!((cost.scans, cost.work), (3, 3 * 5000));
}

fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0]);
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_sniffer_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = sniff(&bytes);
        for magic in [&b"\x89PNG\r\n\x1a\n"[..], b"\xff\xd8\xff", b"GIF89a", b"RIFF\0\0\0\0WEBPVP8X"] {
            let mut b = magic.to_vec();
            b.extend_from_slice(&bytes);
            let _ = sniff(&b);
            if let Ok(found) = sniff(&b) {
                let _ = check_complete(found.kind, &b, &b, b.len() as u64);
            }
        }
    }

    #[test]
    fn a_png_is_whole_only_when_it_ends_with_iend(body in prop::collection::vec(any::<u8>(), 0..64), cut in 1usize..12) {
        let mut whole = png_header(1, 1);
        whole.extend_from_slice(&body);
        whole.extend_from_slice(b"\x00\x00\x00\x00IEND\xAE\x42\x60\x82");
        let n = whole.len();
        prop_assert!(check_complete(ImageType::Png, &whole, &whole, n as u64).is_ok());
        let short = &whole[..n - cut];
        prop_assert!(check_complete(ImageType::Png, short, short, short.len() as u64).is_err());
    }

    #[test]
    fn png_dimensions_are_read_from_the_header_and_zero_is_refused(w in any::<u32>(), h in any::<u32>()) {
        let got = sniff(&png_header(w, h));
        if w == 0 || h == 0 {
            prop_assert!(got.is_err());
        } else {
            let s = got.expect("a PNG header");
            prop_assert_eq!((s.width, s.height), (w, h));
        }
        // Truncated anywhere inside IHDR's dimensions: refused, not misread.
        let full = png_header(w.max(1), h.max(1));
        for cut in 8..24 {
            prop_assert!(sniff(&full[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn inspecting_never_panics_and_a_head_never_claims_a_whole(bytes in prop::collection::vec(any::<u8>(), 0..256), extra in 0u64..4096) {
        for magic in [&b"\x89PNG\r\n\x1a\n"[..], b"\xff\xd8\xff", b"GIF89a", b"RIFF\0\0\0\0WEBPVP8X"] {
            let mut b = magic.to_vec();
            b.extend_from_slice(&bytes);
            let _ = inspect(&b, b.len() as u64);
            if let Ok(head) = inspect(&b, b.len() as u64 + 1 + extra) {
                prop_assert_eq!(head.body, Body::NotRead);
            }
        }
    }
}
