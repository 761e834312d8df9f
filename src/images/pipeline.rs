//! One photo in, small upright metadata-free images out: decode (JPEG, PNG, WebP), apply the
//! EXIF orientation, crop around the centre to the theme's aspect ratio, resize with a SIMD
//! resizer, encode. Encoders are given raw pixels only, so nothing of the source's metadata
//! (EXIF, GPS, XMP, ICC, comments) can reach the output.

use std::io::Cursor;

use fast_image_resize as fr;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Photos larger than this are refused before decoding: a decompression bomb must not take
/// the build down.
pub const MAX_PIXELS: u64 = 50_000_000;

/// Why a photo cannot be used, in words for the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    Empty,
    NotAnImage,
    Unsupported(&'static str),
    TooLarge {
        width: u32,
        height: u32,
    },
    Damaged(String),
    /// The file stops before the picture does (a JPEG with no end marker after its data).
    Truncated,
}

impl Unusable {
    pub fn reason(&self) -> String {
        match self {
            Unusable::Empty => "the file is empty".into(),
            Unusable::NotAnImage => "it is not a JPEG, PNG or WebP image".into(),
            Unusable::Unsupported(kind) => format!("it is a {kind} image, which is not supported"),
            Unusable::TooLarge { width, height } => format!(
                "it is {width}×{height} pixels ({} megapixels); the limit is {} megapixels",
                (u64::from(*width) * u64::from(*height)) / 1_000_000,
                MAX_PIXELS / 1_000_000
            ),
            Unusable::Damaged(detail) => format!("the image is damaged or incomplete ({detail})"),
            Unusable::Truncated => "the file ends before the picture does (it was probably cut off while being copied or uploaded), so the part below the cut would show as flat grey".into(),
        }
    }

    pub fn hint(&self) -> &'static str {
        match self {
            Unusable::TooLarge { .. } => "export it at most 4000 pixels on the longest side",
            Unusable::Empty | Unusable::Damaged(_) | Unusable::Truncated => {
                "ask the mentor to send the photo again"
            }
            Unusable::NotAnImage | Unusable::Unsupported(_) => {
                "save the photo as a JPEG, PNG or WebP file"
            }
        }
    }
}

/// A decoded photo, upright, as 8-bit RGB or RGBA.
pub struct Upright {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
    pub alpha: bool,
}

/// Read only the header: format and size. Cheap; used to plan and to refuse bombs early.
pub fn probe(bytes: &[u8]) -> Result<(u32, u32), Unusable> {
    let mut decoder = decoder(bytes)?;
    let (w, h) = decoder.dimensions();
    Ok(oriented_size(w, h, orientation_swaps(&mut decoder)))
}

/// Decode fully and turn upright.
pub fn decode(bytes: &[u8]) -> Result<Upright, Unusable> {
    let mut decoder = decoder(bytes)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let img = DynamicImage::from_decoder(decoder).map_err(damaged)?;
    Ok(upright(img, orientation))
}

/// Decode and turn upright, for a largest output `width` cropped to `aspect`. A JPEG with more
/// pixels than that needs is decoded at the smallest of ½, ¼ or ⅛ of its size whose crop is
/// still at least twice `width` (the inverse DCT is done on fewer coefficients, and the resize
/// then starts from a quarter of the pixels or fewer): a phone's 4032×3024 photo for 640 px
/// headshots is decoded at ½, a 1200 px crop for 640 px whole. Twice, as in
/// [`resize_cascade`]: a scaled inverse DCT is softer near its own limit than a resize, and
/// with a crop only just wide enough (¼ of the phone's photo, 756 px for 640) the 640 px
/// headshots lost 0.004 of SSIM against a lossless Lanczos resize of the photo; from twice
/// the width they score as the whole decode does (benches/headshots.py --photo-size).
/// Anything else, or a JPEG the scaling decoder cannot read, is decoded whole.
pub fn decode_for(bytes: &[u8], aspect: (u32, u32), width: u32) -> Result<Upright, Unusable> {
    let mut decoder = decoder(bytes)?;
    let (w, h) = decoder.dimensions();
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let (uw, uh) = oriented_size(w, h, turns_sideways(orientation));
    let denominator = jpeg_scale(uw, uh, aspect, width);
    if denominator > 1 && image::guess_format(bytes).ok() == Some(ImageFormat::Jpeg) {
        let scaled = jpeg_scaled(bytes, w, h, denominator)
            .and_then(|(sw, sh, rgb)| image::RgbImage::from_raw(sw, sh, rgb));
        if let Some(img) = scaled {
            return Ok(upright(DynamicImage::ImageRgb8(img), orientation));
        }
    }
    let img = DynamicImage::from_decoder(decoder).map_err(damaged)?;
    Ok(upright(img, orientation))
}

fn upright(mut img: DynamicImage, orientation: image::metadata::Orientation) -> Upright {
    img.apply_orientation(orientation);
    let alpha = img.color().has_alpha();
    let (width, height) = (img.width(), img.height());
    let pixels = if alpha {
        img.into_rgba8().into_raw()
    } else {
        img.into_rgb8().into_raw()
    };
    Upright {
        width,
        height,
        pixels,
        alpha,
    }
}

/// The JPEG scale (1, 2, 4 or 8: decode at 1/n) for an upright `w`×`h` photo whose crop of
/// `aspect` must still be at least twice `width` wide and twice as tall as that width's
/// height. The scaled size is rounded up, as the decoder rounds it.
pub fn jpeg_scale(w: u32, h: u32, aspect: (u32, u32), width: u32) -> u32 {
    let needed = (2 * width, 2 * height_for(width, aspect));
    [8, 4, 2]
        .into_iter()
        .find(|n| {
            let (_, _, cw, ch) = centre_crop(w.div_ceil(*n), h.div_ceil(*n), aspect);
            cw >= needed.0 && ch >= needed.1
        })
        .unwrap_or(1)
}

/// `bytes` (a JPEG stored `w`×`h`) decoded at 1/`denominator` as 8-bit RGB, stored way up, or
/// None if the scaling decoder cannot (CMYK, 16-bit, or anything it finds wrong).
fn jpeg_scaled(bytes: &[u8], w: u32, h: u32, denominator: u32) -> Option<(u32, u32, Vec<u8>)> {
    let mut d = jpeg_decoder::Decoder::new(bytes);
    d.set_max_decoding_buffer_size(1 << 30);
    let want = (w.div_ceil(denominator), h.div_ceil(denominator));
    let got = d
        .scale(u16::try_from(want.0).ok()?, u16::try_from(want.1).ok()?)
        .ok()?;
    if (u32::from(got.0), u32::from(got.1)) != want {
        return None;
    }
    let pixels = d.decode().ok()?;
    let rgb = match d.info()?.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|l| [*l; 3]).collect(),
        jpeg_decoder::PixelFormat::L16 | jpeg_decoder::PixelFormat::CMYK32 => return None,
    };
    (rgb.len() as u64 == u64::from(want.0) * u64::from(want.1) * 3).then_some((want.0, want.1, rgb))
}

fn decoder(bytes: &[u8]) -> Result<impl ImageDecoder + '_, Unusable> {
    if bytes.is_empty() {
        return Err(Unusable::Empty);
    }
    let format = image::guess_format(bytes).map_err(|_| Unusable::NotAnImage)?;
    match format {
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP => {}
        ImageFormat::Gif => return Err(Unusable::Unsupported("GIF")),
        ImageFormat::Tiff => return Err(Unusable::Unsupported("TIFF")),
        ImageFormat::Bmp => return Err(Unusable::Unsupported("BMP")),
        ImageFormat::Avif => return Err(Unusable::Unsupported("AVIF")),
        ImageFormat::Ico => return Err(Unusable::Unsupported("ICO")),
        _ => return Err(Unusable::NotAnImage),
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(damaged)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(Unusable::TooLarge {
            width: w,
            height: h,
        });
    }
    if w == 0 || h == 0 {
        return Err(Unusable::Damaged("it has no pixels".into()));
    }
    // The JPEG decoder fills a picture that stops early with grey rather than failing.
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(Unusable::Truncated);
    }
    Ok(decoder)
}

/// Does the JPEG's image data end with an end-of-image marker? Segments are skipped by their
/// lengths up to the first start-of-scan; after it, `FF D9` can only be the end marker (in
/// scan data every `FF` is followed by `00` or a restart marker). Data after the end marker
/// (some cameras append some) does no harm.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut i = 2; // past SOI
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return false;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if marker == 0xDA {
            let scan = bytes.get(i + 2 + len..).unwrap_or(&[]);
            // From the end, where the marker almost always is: the answer is the same.
            return scan.windows(2).rev().any(|w| w == [0xFF, 0xD9]);
        }
        i += 2 + len;
    }
    false
}

fn damaged(e: image::ImageError) -> Unusable {
    let text = e.to_string();
    let short = text.split(['\n', ':']).next().unwrap_or(&text).trim();
    Unusable::Damaged(if short.is_empty() {
        "unreadable".into()
    } else {
        short.to_lowercase()
    })
}

/// Does the EXIF orientation turn the picture on its side? (Header-only read.)
fn orientation_swaps(decoder: &mut impl ImageDecoder) -> bool {
    decoder.orientation().is_ok_and(turns_sideways)
}

fn turns_sideways(o: image::metadata::Orientation) -> bool {
    use image::metadata::Orientation::*;
    matches!(o, Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH)
}

fn oriented_size(w: u32, h: u32, swap: bool) -> (u32, u32) {
    if swap { (h, w) } else { (w, h) }
}

/// The largest centred box of `aspect` (width:height) inside `w`×`h`: (left, top, width, height).
pub fn centre_crop(w: u32, h: u32, aspect: (u32, u32)) -> (u32, u32, u32, u32) {
    let (aw, ah) = (u64::from(aspect.0.max(1)), u64::from(aspect.1.max(1)));
    let (w64, h64) = (u64::from(w), u64::from(h));
    let (cw, ch) = if w64 * ah > h64 * aw {
        ((h64 * aw / ah) as u32, h)
    } else {
        (w, (w64 * ah / aw) as u32)
    };
    let (cw, ch) = (cw.max(1), ch.max(1));
    ((w - cw) / 2, (h - ch) / 2, cw, ch)
}

/// The widths to produce: the configured ones no wider than the crop (never upscale), or the
/// crop's own width if every configured width is larger.
pub fn widths(crop_width: u32, sizes: &[u32]) -> Vec<u32> {
    let mut out: Vec<u32> = sizes.iter().copied().filter(|s| *s <= crop_width).collect();
    if out.len() < sizes.len() {
        out.push(crop_width);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Output height for `width` at `aspect`.
pub fn height_for(width: u32, aspect: (u32, u32)) -> u32 {
    ((u64::from(width) * u64::from(aspect.1)).div_ceil(u64::from(aspect.0.max(1))) as u32).max(1)
}

/// Crop and resize `img` to `width` at `aspect`.
pub fn resize(img: &Upright, aspect: (u32, u32), width: u32) -> Result<Vec<u8>, String> {
    let crop = centre_crop(img.width, img.height, aspect);
    resize_crop(
        &mut fr::Resizer::new(),
        img,
        crop,
        width,
        height_for(width, aspect),
    )
}

/// Every width of `widths` (ascending, as [`widths`] gives them), cropped to `aspect`, in the
/// same order. Each is resized from the smallest image already made that is at least twice as
/// wide (else from the photo): 640 from the photo, 320 from the 640, 160 from the 320. An
/// image twice the target's width still holds all the detail the target can show, and
/// resizing it costs a fraction of resizing the photo again.
pub fn resize_cascade(
    img: &Upright,
    aspect: (u32, u32),
    widths: &[u32],
) -> Result<Vec<Vec<u8>>, String> {
    let mut resizer = fr::Resizer::new();
    // Made so far, largest first.
    let mut made: Vec<Upright> = Vec::with_capacity(widths.len());
    for &width in widths.iter().rev() {
        let height = height_for(width, aspect);
        let from = made.iter().rev().find(|m| m.width >= 2 * width);
        let pixels = match from {
            Some(m) => resize_crop(&mut resizer, m, (0, 0, m.width, m.height), width, height)?,
            None => {
                let crop = centre_crop(img.width, img.height, aspect);
                resize_crop(&mut resizer, img, crop, width, height)?
            }
        };
        made.push(Upright {
            width,
            height,
            pixels,
            alpha: img.alpha,
        });
    }
    Ok(made.into_iter().rev().map(|m| m.pixels).collect())
}

/// Resize the box `(left, top, width, height)` of `img` to `width`×`height`.
fn resize_crop(
    resizer: &mut fr::Resizer,
    img: &Upright,
    (left, top, cw, ch): (u32, u32, u32, u32),
    width: u32,
    height: u32,
) -> Result<Vec<u8>, String> {
    let pixel = if img.alpha {
        fr::PixelType::U8x4
    } else {
        fr::PixelType::U8x3
    };
    let src = fr::images::ImageRef::new(img.width, img.height, &img.pixels, pixel)
        .map_err(|e| e.to_string())?;
    let mut dst = fr::images::Image::new(width, height, pixel);
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3))
        .crop(
            f64::from(left),
            f64::from(top),
            f64::from(cw),
            f64::from(ch),
        );
    resizer
        .resize(&src, &mut dst, &options)
        .map_err(|e| e.to_string())?;
    Ok(dst.into_vec())
}

/// Encode raw pixels. JPEG has no alpha, so transparent parts are laid on white.
pub fn encode(
    format: &str,
    pixels: &[u8],
    width: u32,
    height: u32,
    alpha: bool,
    quality: u8,
) -> Result<Vec<u8>, String> {
    match format {
        "webp" => {
            let enc = if alpha {
                webp::Encoder::from_rgba(pixels, width, height)
            } else {
                webp::Encoder::from_rgb(pixels, width, height)
            };
            let mut config = webp::WebPConfig::new().map_err(|()| "libwebp config".to_string())?;
            config.quality = f32::from(quality);
            config.method = webp_method(width, height);
            enc.encode_advanced(&config)
                .map(|m| m.to_vec())
                .map_err(|e| format!("{e:?}"))
        }
        "jpg" => {
            let rgb;
            let data = if alpha {
                rgb = flatten_on_white(pixels);
                &rgb
            } else {
                pixels
            };
            let mut out = Vec::new();
            // Baseline with the standard Huffman tables: a third less time than progressive
            // with optimised tables, the same pixels, and no more bytes at these sizes
            // (examples/headshot_encoders.rs). JPEG is the fallback for browsers without
            // WebP, which is where a progressive first paint would have shown. (Baseline with
            // optimised tables is no faster, and zune-jpeg, the `image` crate's decoder,
            // misreads jpeg-encoder's output with them.)
            let enc = jpeg_encoder::Encoder::new(&mut out, quality);
            let (w, h) = (
                u16::try_from(width).map_err(|e| e.to_string())?,
                u16::try_from(height).map_err(|e| e.to_string())?,
            );
            enc.encode(data, w, h, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| e.to_string())?;
            Ok(out)
        }
        "png" => {
            use image::ImageEncoder;
            let mut out = Vec::new();
            let enc = image::codecs::png::PngEncoder::new_with_quality(
                &mut out,
                image::codecs::png::CompressionType::Best,
                image::codecs::png::FilterType::Adaptive,
            );
            let color = if alpha {
                image::ExtendedColorType::Rgba8
            } else {
                image::ExtendedColorType::Rgb8
            };
            enc.write_image(pixels, width, height, color)
                .map_err(|e| e.to_string())?;
            Ok(out)
        }
        other => Err(format!("unknown format {other}")),
    }
}

/// libwebp's effort for a picture this size. Methods 1 and 2 go over every macroblock twice
/// (once for statistics), method 0 over a quarter of them for statistics, and tries fewer
/// modes. At 640 px that halves the time (examples/headshot_encoders.rs: 12.8 ms against
/// 24.9 ms) for about 10% more bytes and the same PSNR against the resized photo; at 320 px
/// and below the saving is a millisecond or two and the bytes grow by 15–20%, and small
/// headshots are the ones a listing page loads by the hundred, so they keep method 2.
fn webp_method(width: u32, height: u32) -> i32 {
    if u64::from(width) * u64::from(height) > 250_000 {
        0
    } else {
        2
    }
}

fn flatten_on_white(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .flat_map(|p| {
            let a = u16::from(p[3]);
            let blend = |c: u8| ((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
            [blend(p[0]), blend(p[1]), blend(p[2])]
        })
        .collect()
}

pub fn mime(format: &str) -> &'static str {
    match format {
        "webp" => "image/webp",
        "png" => "image/png",
        _ => "image/jpeg",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_around_the_centre() {
        assert_eq!(centre_crop(1200, 1600, (1, 1)), (0, 200, 1200, 1200));
        assert_eq!(centre_crop(1600, 1200, (1, 1)), (200, 0, 1200, 1200));
        assert_eq!(centre_crop(1200, 1600, (4, 5)), (0, 50, 1200, 1500));
    }

    #[test]
    fn never_upscales() {
        assert_eq!(widths(1200, &[160, 320, 640]), vec![160, 320, 640]);
        assert_eq!(widths(300, &[160, 320, 640]), vec![160, 300]);
        assert_eq!(widths(100, &[160, 320]), vec![100]);
    }

    /// A smooth picture with some texture, `w`×`h`.
    fn textured(w: u32, h: u32, alpha: bool) -> Upright {
        let channels = if alpha { 4 } else { 3 };
        let mut pixels = Vec::with_capacity((w * h * channels) as usize);
        for y in 0..h {
            for x in 0..w {
                let wave = ((f64::from(x) / 9.0).sin() * (f64::from(y) / 13.0).cos() * 60.0) as i32;
                let r = (x * 255 / w) as i32 + wave / 2;
                let g = (y * 255 / h) as i32 - wave / 2;
                pixels.extend([r, g, 128 + wave].map(|c| c.clamp(0, 255) as u8));
                if alpha {
                    pixels.push((128 + y * 127 / h) as u8);
                }
            }
        }
        Upright {
            width: w,
            height: h,
            pixels,
            alpha,
        }
    }

    #[test]
    fn the_cascade_gives_every_width_close_to_resizing_the_photo_and_the_same_each_time() {
        for (alpha, aspect) in [(false, (1, 1)), (true, (3, 4))] {
            // 1:1 makes 320 from the photo, 160 from the 320, 80 from the 160; 3:4 makes 500
            // and 320 from the photo (500 is not twice 320).
            let img = textured(600, 800, alpha);
            let crop_w = centre_crop(600, 800, aspect).2;
            let ws = widths(crop_w, &[80, 160, 320, 500]);
            let made = resize_cascade(&img, aspect, &ws).unwrap();
            assert_eq!(made, resize_cascade(&img, aspect, &ws).unwrap());
            assert_eq!(made.len(), ws.len());
            let channels = if alpha { 4 } else { 3 };
            for (w, px) in ws.iter().zip(&made) {
                assert_eq!(px.len(), (w * height_for(*w, aspect) * channels) as usize);
                let direct = resize(&img, aspect, *w).unwrap();
                let worst = px.iter().zip(&direct).map(|(a, b)| a.abs_diff(*b)).max();
                assert!(worst <= Some(12), "{w} px, {aspect:?}: off by {worst:?}");
            }
        }
    }

    #[test]
    fn a_jpeg_is_decoded_at_the_smallest_scale_that_still_covers_twice_the_largest_width() {
        // 1200×1600 for 640 px squares: ½ would leave a 600 px crop, so it is decoded whole;
        // for 300 px, 600 is twice enough.
        assert_eq!(jpeg_scale(1200, 1600, (1, 1), 640), 1);
        assert_eq!(jpeg_scale(1200, 1600, (1, 1), 320), 1);
        assert_eq!(jpeg_scale(1200, 1600, (1, 1), 300), 2);
        // A phone's 3024×4032: for 640 px, ½ leaves 1512 px and ¼ only 756; for 320, ¼ does.
        assert_eq!(jpeg_scale(3024, 4032, (1, 1), 640), 2);
        assert_eq!(jpeg_scale(3024, 4032, (1, 1), 320), 4);
        // Just enough is enough, rounded up as the decoder rounds: 5120 / 4 → 1280 for 640 px,
        // 5113 / 8 → 640 for 320 px.
        assert_eq!(jpeg_scale(5120, 5120, (1, 1), 640), 4);
        assert_eq!(jpeg_scale(5113, 5113, (1, 1), 320), 8);
        assert_eq!(jpeg_scale(5105, 5113, (1, 1), 320), 4);
        // The height counts too: at ¼ the 3:4 crop of 2408×8000 is 602×802, two rows short of
        // twice the 402 that 301 px needs.
        assert_eq!(jpeg_scale(2408, 8000, (3, 4), 301), 2);
        assert_eq!(jpeg_scale(2408, 8000, (3, 4), 300), 4);
    }

    /// EXIF with only an orientation.
    fn exif_orientation(value: u16) -> Vec<u8> {
        let mut exif = b"Exif\0\0II*\0".to_vec();
        exif.extend(8u32.to_le_bytes());
        exif.extend(1u16.to_le_bytes());
        exif.extend([0x12, 0x01, 3, 0]); // tag 0x0112, SHORT
        exif.extend(1u32.to_le_bytes());
        exif.extend(u32::from(value).to_le_bytes());
        exif.extend(0u32.to_le_bytes());
        exif
    }

    /// A grainy JPEG stored `w`×`h`, left half red and right half blue, that EXIF turns 90°
    /// clockwise: upright it is `h`×`w`, red above blue.
    fn sideways_jpeg(w: u16, h: u16, color: jpeg_encoder::ColorType) -> Vec<u8> {
        let gray = color == jpeg_encoder::ColorType::Luma;
        let mut px = Vec::new();
        for y in 0..u32::from(h) {
            for x in 0..u32::from(w) {
                let grain = ((x * 7 + y * 13) % 17) as u8;
                let red = x < u32::from(w) / 2;
                match (gray, red) {
                    (true, true) => px.push(200 + grain),
                    (true, false) => px.push(30 + grain),
                    (false, true) => px.extend([210 + grain, 20 + grain, 20]),
                    (false, false) => px.extend([20, 20 + grain, 210 + grain]),
                }
            }
        }
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, 90);
        enc.add_app_segment(1, exif_orientation(6)).unwrap();
        enc.encode(&px, w, h, color).unwrap();
        out
    }

    #[test]
    fn a_scaled_decode_is_upright_close_to_the_whole_one_and_the_same_each_time() {
        let photo = sideways_jpeg(1400, 700, jpeg_encoder::ColorType::Rgb);
        // For 160 px squares, ½ (a 350 px crop) is enough; for 640 px, the whole photo.
        let scaled = decode_for(&photo, (1, 1), 160).unwrap();
        assert_eq!((scaled.width, scaled.height), (350, 700));
        assert!(!scaled.alpha);
        let again = decode_for(&photo, (1, 1), 160).unwrap();
        assert!(scaled.pixels == again.pixels, "the same pixels each time");
        let whole = decode_for(&photo, (1, 1), 640).unwrap();
        assert_eq!((whole.width, whole.height), (700, 1400));

        let px = |img: &Upright, x: u32, y: u32| {
            let i = ((y * img.width + x) * 3) as usize;
            [img.pixels[i], img.pixels[i + 1], img.pixels[i + 2]]
        };
        let (top, bottom) = (px(&scaled, 175, 5), px(&scaled, 175, 694));
        assert!(top[0] > 150 && top[2] < 100, "top is red: {top:?}");
        assert!(
            bottom[2] > 150 && bottom[0] < 100,
            "bottom is blue: {bottom:?}"
        );

        let ws = [80, 160];
        let from_scaled = resize_cascade(&scaled, (1, 1), &ws).unwrap();
        let from_whole = resize_cascade(&whole, (1, 1), &ws).unwrap();
        for (w, (a, b)) in ws.iter().zip(from_scaled.iter().zip(&from_whole)) {
            let total: u64 = a
                .iter()
                .zip(b)
                .map(|(x, y)| u64::from(x.abs_diff(*y)))
                .sum();
            let mean = total as f64 / a.len() as f64;
            assert!(mean < 2.0, "{w} px: off by {mean:.2} on average");
        }
    }

    #[test]
    fn a_scaled_gray_jpeg_comes_out_as_rgb() {
        let photo = sideways_jpeg(1400, 700, jpeg_encoder::ColorType::Luma);
        let img = decode_for(&photo, (1, 1), 80).unwrap();
        assert_eq!((img.width, img.height), (175, 350));
        assert_eq!(img.pixels.len(), 175 * 350 * 3);
        let top = &img.pixels[..3];
        assert!(
            top[0] > 150 && top[0] == top[1] && top[1] == top[2],
            "{top:?}"
        );
    }

    #[test]
    fn refuses_empty_and_non_images() {
        assert_eq!(probe(b"").unwrap_err(), Unusable::Empty);
        assert_eq!(
            probe(b"hello, this is text").unwrap_err(),
            Unusable::NotAnImage
        );
        assert_eq!(
            probe(b"GIF89a\x01\x00\x01\x00").unwrap_err(),
            Unusable::Unsupported("GIF")
        );
    }

    #[test]
    fn a_jpeg_cut_short_is_found() {
        let mut out = Vec::new();
        let px: Vec<u8> = (0..64 * 64 * 3).map(|i| (i * 7 % 251) as u8).collect();
        jpeg_encoder::Encoder::new(&mut out, 80)
            .encode(&px, 64, 64, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        assert!(jpeg_is_complete(&out));
        let mut trailing = out.clone();
        trailing.extend_from_slice(b"camera maker's notes");
        assert!(
            jpeg_is_complete(&trailing),
            "data after the end marker is fine"
        );
        for cut in [out.len() - 2, out.len() * 3 / 4, out.len() / 2, 40] {
            assert!(!jpeg_is_complete(&out[..cut]), "cut at {cut}");
        }
        assert_eq!(
            probe(&out[..out.len() - 2]).unwrap_err(),
            Unusable::Truncated
        );
    }

    #[test]
    fn flattening_lays_transparency_on_white() {
        assert_eq!(
            flatten_on_white(&[0, 0, 0, 0, 10, 20, 30, 255]),
            vec![255, 255, 255, 10, 20, 30]
        );
    }
}
