//! Headshots end to end: photos made here, at test time (no binaries in git), built by the real
//! binary, and the output read back.

mod common;

use std::path::PathBuf;

use common::Site;
use image::ImageDecoder;

/// A site with one mentor per `(slug, photo file name, bytes)`.
fn site_with(photos: &[(&str, &str, Vec<u8>)]) -> Site {
    let site = Site::fixture("invalid/_base");
    for (slug, file, bytes) in photos {
        let name = slug.replace('-', " ");
        site.write(
            &format!("content/mentors/{slug}.md"),
            &format!(
                "---\nname: {name}\nheadshot: {file}\nemail: {slug}@private.example.net\ngrade: FY2\n---\n\nBio.\n"
            ),
        );
        std::fs::write(site.path(&format!("content/mentors/{file}")), bytes).unwrap();
    }
    site
}

fn outputs(site: &Site, slug: &str) -> Vec<PathBuf> {
    let dir = site.path("public/headshots");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(&format!("{slug}-")) && !name.contains("-avatar-")
        })
        .collect();
    files.sort();
    files
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// An 80×40 JPEG: left half red, right half blue.
fn red_blue_pixels() -> Vec<u8> {
    let mut px = Vec::new();
    for _y in 0..40 {
        for x in 0..80 {
            px.extend_from_slice(if x < 40 {
                &[220, 20, 20]
            } else {
                &[20, 20, 220]
            });
        }
    }
    px
}

fn jpeg(
    pixels: &[u8],
    w: u16,
    h: u16,
    color: jpeg_encoder::ColorType,
    exif: Option<Vec<u8>>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 90);
    if let Some(exif) = exif {
        enc.add_app_segment(1, exif).unwrap();
    }
    enc.encode(pixels, w, h, color).unwrap();
    out
}

/// EXIF saying "rotate 90° clockwise to display", with a camera model and a GPS position.
fn exif_rotated_with_gps() -> Vec<u8> {
    let mut t: Vec<u8> = b"II*\0".to_vec();
    t.extend(8u32.to_le_bytes()); // IFD0 at 8
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
        t.extend(tag.to_le_bytes());
        t.extend(kind.to_le_bytes());
        t.extend(count.to_le_bytes());
        t.extend(value.to_le_bytes());
    };
    // IFD0: 3 entries, at 8; ends at 8 + 2 + 36 + 4 = 50.
    t.extend(3u16.to_le_bytes());
    entry(&mut t, 0x0110, 2, 17, 86); // Model → "SecretPhoneModel\0" at 86
    entry(&mut t, 0x0112, 3, 1, 6); // Orientation = 6
    entry(&mut t, 0x8825, 4, 1, 50); // GPS IFD at 50
    t.extend(0u32.to_le_bytes());
    // GPS IFD at 50: 2 entries; ends at 50 + 2 + 24 + 4 = 80; then 6 bytes padding to 86.
    t.extend(2u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0")); // GPSLatitudeRef
    entry(&mut t, 0x0002, 5, 3, 103); // GPSLatitude rationals at 103
    t.extend(0u32.to_le_bytes());
    t.extend([0u8; 6]);
    t.extend(b"SecretPhoneModel\0"); // at 86, 17 bytes → 103
    for (num, den) in [(53u32, 1u32), (47, 1), (4242, 100)] {
        t.extend(num.to_le_bytes());
        t.extend(den.to_le_bytes());
    }
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend(t);
    exif
}

fn png(img: image::DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A PNG that claims 10000×6000 pixels (60 megapixels) in a few dozen bytes.
fn png_bomb() -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(10_000u32.to_be_bytes());
    ihdr.extend(6_000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |body: &[u8]| {
        out.extend((body.len() as u32 - 4).to_be_bytes());
        out.extend(body);
        out.extend(crc32(body).to_be_bytes());
    };
    chunk(&ihdr);
    // A few bytes of deflate stream: a real bomb's payload is tiny too.
    chunk(b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01");
    chunk(b"IEND");
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn decode(path: &PathBuf) -> image::DynamicImage {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------

#[test]
fn a_rotated_phone_photo_with_gps_comes_out_upright_with_no_metadata() {
    let photo = jpeg(
        &red_blue_pixels(),
        80,
        40,
        jpeg_encoder::ColorType::Rgb,
        Some(exif_rotated_with_gps()),
    );
    assert!(
        photo.windows(16).any(|w| w == b"SecretPhoneModel"),
        "the fixture carries EXIF"
    );
    let site = site_with(&[("rory-rotated", "rory-rotated.jpg", photo)]);
    let out = site.run(&["build"]);
    out.assert_code(0);
    assert_eq!(out.stderr, "");

    let files = outputs(&site, "rory-rotated");
    assert_eq!(
        files.len(),
        2,
        "one width (the 40px crop) in webp and jpg: {files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for needle in [
            &b"Exif"[..],
            b"SecretPhoneModel",
            b"GPS",
            b"XMP",
            b"http://ns.adobe.com",
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} carries {:?}",
                f.display(),
                String::from_utf8_lossy(needle)
            );
        }
        let mut d = image::ImageReader::open(f)
            .unwrap()
            .with_guessed_format()
            .unwrap()
            .into_decoder()
            .unwrap();
        assert_eq!(d.exif_metadata().unwrap(), None, "{}", f.display());
        assert_eq!(d.icc_profile().unwrap(), None, "{}", f.display());
    }
    // Turned upright, red is on top and blue below (unturned, they would be side by side).
    let jpg = files
        .iter()
        .find(|f| f.extension().unwrap() == "jpg")
        .unwrap();
    let img = decode(jpg).into_rgb8();
    assert_eq!(img.dimensions(), (40, 40));
    let (top, bottom) = (img.get_pixel(35, 4), img.get_pixel(4, 35));
    assert!(top[0] > 150 && top[2] < 100, "top right is red: {top:?}");
    assert!(
        bottom[2] > 150 && bottom[0] < 100,
        "bottom left is blue: {bottom:?}"
    );

    let page = site.read("public/mentors/rory-rotated/index.html");
    assert!(
        page.contains("<source type=\"image/webp\" srcset=\"/headshots/rory-rotated-"),
        "{page}"
    );
    assert!(
        page.contains("width=\"40\" height=\"40\" alt=\"Photo of rory rotated\""),
        "{page}"
    );
}

#[test]
fn alpha_png_16_bit_png_and_cmyk_jpeg_are_all_used() {
    let alpha = image::RgbaImage::from_fn(64, 64, |x, _| {
        if x < 32 {
            image::Rgba([0, 0, 0, 0])
        } else {
            image::Rgba([0, 128, 0, 255])
        }
    });
    let deep = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(64, 48, |_, _| {
        image::Rgb([65535u16, 32768, 0])
    });
    let cyan: Vec<u8> = std::iter::repeat_n([255u8, 0, 0, 0], 32 * 32)
        .flatten()
        .collect();
    let site = site_with(&[
        (
            "ada-alpha",
            "ada-alpha.png",
            png(image::DynamicImage::ImageRgba8(alpha)),
        ),
        (
            "dee-deep",
            "dee-deep.png",
            png(image::DynamicImage::ImageRgb16(deep)),
        ),
        (
            "cy-cmyk",
            "cy-cmyk.jpg",
            jpeg(&cyan, 32, 32, jpeg_encoder::ColorType::Cmyk, None),
        ),
    ]);
    let out = site.run(&["build"]);
    out.assert_code(0);
    assert_eq!(out.stderr, "", "no warnings");
    assert!(
        out.stdout
            .contains("headshots: 3 processed, 0 from the cache"),
        "{}",
        out.stdout
    );

    let alpha_files = outputs(&site, "ada-alpha");
    let webp = decode(
        alpha_files
            .iter()
            .find(|f| f.extension().unwrap() == "webp")
            .unwrap(),
    );
    assert!(webp.color().has_alpha(), "WebP keeps the transparency");
    let jpg = decode(
        alpha_files
            .iter()
            .find(|f| f.extension().unwrap() == "jpg")
            .unwrap(),
    )
    .into_rgb8();
    let left = jpg.get_pixel(2, 30);
    assert!(
        left.0.iter().all(|c| *c > 235),
        "transparent laid on white in JPEG: {left:?}"
    );

    let deep = decode(
        outputs(&site, "dee-deep")
            .iter()
            .find(|f| f.extension().unwrap() == "jpg")
            .unwrap(),
    )
    .into_rgb8();
    let p = deep.get_pixel(20, 20);
    assert!(
        p[0] > 230 && (100..160).contains(&p[1]) && p[2] < 30,
        "16-bit orange kept: {p:?}"
    );

    let cmyk = decode(
        outputs(&site, "cy-cmyk")
            .iter()
            .find(|f| f.extension().unwrap() == "jpg")
            .unwrap(),
    )
    .into_rgb8();
    let p = cmyk.get_pixel(16, 16);
    assert!(
        p[0] < 80 && p[1] > 180 && p[2] > 180,
        "CMYK cyan comes out cyan: {p:?}"
    );
}

#[test]
fn unusable_photos_are_warnings_with_reasons_and_get_an_avatar() {
    let good = jpeg(
        &red_blue_pixels(),
        80,
        40,
        jpeg_encoder::ColorType::Rgb,
        None,
    );
    let site = site_with(&[
        ("empty-file", "empty-file.jpg", Vec::new()),
        (
            "cut-short",
            "cut-short.jpg",
            good[..good.len() / 2].to_vec(),
        ),
        (
            "just-text",
            "just-text.jpg",
            b"this is a letter, not a photo".to_vec(),
        ),
        ("big-bomb", "big-bomb.png", png_bomb()),
        (
            "a-gif",
            "a-gif.jpg",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(),
        ),
    ]);
    site.write(
        "content/mentors/svg-sam.md",
        "---\nname: Svg Sam\nemail: sam@private.example.net\ngrade: FY2\n---\n\nBio.\n",
    );
    site.write(
        "content/mentors/svg-sam.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
    );
    let out = site.run(&["build"]);
    out.assert_code(0);
    insta::assert_snapshot!("unusable-photos", out.stderr);
    for slug in [
        "empty-file",
        "cut-short",
        "just-text",
        "big-bomb",
        "a-gif",
        "svg-sam",
    ] {
        let page = site.read(&format!("public/mentors/{slug}/index.html"));
        assert!(
            page.contains(&format!("src=\"/headshots/{slug}-avatar-")),
            "{slug} has an avatar"
        );
    }
    let avatar = std::fs::read_dir(site.path("public/headshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("svg-sam-avatar-"))
        .unwrap();
    let svg = std::fs::read_to_string(avatar).unwrap();
    assert!(
        svg.contains(">SS</text>") && !svg.contains("script"),
        "{svg}"
    );
    let copied = common::read_tree(&site.path("public"))
        .into_iter()
        .any(|(_, bytes)| bytes.windows(14).any(|w| w == b"<script>alert("));
    assert!(!copied, "the SVG sent in was not copied anywhere");
}

#[test]
fn unchanged_photos_come_from_the_cache_and_settings_changes_reprocess() {
    let cat = jpeg(
        &red_blue_pixels(),
        80,
        40,
        jpeg_encoder::ColorType::Rgb,
        None,
    );
    let mut other = red_blue_pixels();
    other[0] = 0;
    let dog = jpeg(&other, 80, 40, jpeg_encoder::ColorType::Rgb, None);
    let site = site_with(&[
        ("cache-cat", "cache-cat.jpg", cat),
        ("cache-dog", "cache-dog.jpg", dog),
    ]);

    // `check` verifies photos but writes no cache.
    let check = site.run(&["check"]);
    check.assert_code(0);
    assert!(!site.path(".cache").exists(), "check writes nothing");

    let first = site.run(&["build"]);
    assert!(
        first
            .stdout
            .contains("headshots: 2 processed, 0 from the cache"),
        "{}",
        first.stdout
    );
    let before = outputs(&site, "cache-cat");
    // Without the record of the last build, which would skip the whole build.
    std::fs::remove_file(site.path(".cache/build.json")).unwrap();
    let again = site.run(&["build"]);
    assert!(
        again
            .stdout
            .contains("headshots: 0 processed, 2 from the cache"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("(0 files written"),
        "{}",
        again.stdout
    );

    // Touching a photo without changing it is still a cache hit (the key is the bytes). The
    // whole build would be skipped as up to date (tests/up_to_date.rs): without its record.
    let bytes = std::fs::read(site.path("content/mentors/cache-dog.jpg")).unwrap();
    std::fs::write(site.path("content/mentors/cache-dog.jpg"), &bytes).unwrap();
    std::fs::remove_file(site.path(".cache/build.json")).unwrap();
    let touched = site.run(&["build"]);
    assert!(
        touched
            .stdout
            .contains("headshots: 0 processed, 2 from the cache"),
        "{}",
        touched.stdout
    );

    let toml = site.read("site.toml") + "\n[images]\nquality = 60\n";
    site.write("site.toml", &toml);
    let requality = site.run(&["build"]);
    assert!(
        requality
            .stdout
            .contains("headshots: 2 processed, 0 from the cache"),
        "{}",
        requality.stdout
    );
    let after = outputs(&site, "cache-cat");
    assert_ne!(before, after, "new settings, new content-hashed names");
    assert!(
        !before.iter().any(|p| p.exists()),
        "old files pruned from the output"
    );
}

#[test]
fn every_width_of_a_large_rotated_photo_is_upright_metadata_free_and_the_same_each_build() {
    // 1400×700 as stored; upright (turned 90°) it is 700×1400 and its 700×700 crop gives all
    // three default widths: 640 from the photo, 320 from the 640, 160 from the 320.
    large_rotated_photo(1400, 700);
}

#[test]
fn a_photo_decoded_at_half_its_size_is_upright_metadata_free_and_the_same_each_build() {
    // 5200×2600 as stored: its 2600 px crop is still 1300 px at half scale, twice 640 and
    // more, so the JPEG is decoded at ½.
    large_rotated_photo(5200, 2600);
}

/// A `w`×`h` JPEG, left red and right blue, that EXIF turns 90° (red above blue) and that
/// carries GPS: every default width comes out upright, square, metadata-free, and the same
/// bytes from a second cold build.
fn large_rotated_photo(w: u16, h: u16) {
    let mut px = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    for y in 0..u32::from(h) {
        for x in 0..u32::from(w) {
            let grain = ((x * 7 + y * 13) % 17) as u8;
            px.extend(if x < u32::from(w) / 2 {
                [210 + grain, 20 + grain, 20]
            } else {
                [20, 20 + grain, 210 + grain]
            });
        }
    }
    let photo = jpeg(
        &px,
        w,
        h,
        jpeg_encoder::ColorType::Rgb,
        Some(exif_rotated_with_gps()),
    );
    let site = site_with(&[("lena-large", "lena-large.jpg", photo)]);
    site.run(&["build"]).assert_code(0);
    let first: Vec<(String, Vec<u8>)> = outputs(&site, "lena-large")
        .iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(f).unwrap())
        })
        .collect();
    // WebP at every width; the JPEG, for a browser that shows no WebP, at the middle one only.
    let mut made: Vec<String> = first
        .iter()
        .map(|(name, _)| name.rsplit('-').next().unwrap().to_string())
        .collect();
    made.sort();
    assert_eq!(made, ["160.webp", "320.jpg", "320.webp", "640.webp"]);
    let page = site.read("public/mentors/lena-large/index.html");
    let url = |name: &str| {
        let full = &first.iter().find(|(n, _)| n.ends_with(name)).unwrap().0;
        format!("/headshots/{full}")
    };
    let picture = format!(
        "<source type=\"image/webp\" srcset=\"{} 160w, {} 320w, {} 640w\" sizes=",
        url("-160.webp"),
        url("-320.webp"),
        url("-640.webp")
    );
    assert!(page.contains(&picture), "{picture}\n{page}");
    let img = format!(
        "src=\"{jpg}\" srcset=\"{jpg} 320w\" sizes=",
        jpg = url("-320.jpg")
    );
    assert!(page.contains(&img), "{img}\n{page}");

    for (name, bytes) in &first {
        for needle in [&b"Exif"[..], b"SecretPhoneModel", b"GPS"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{name}");
        }
        let img = image::load_from_memory(bytes).unwrap().into_rgb8();
        let width: u32 = name.rsplit(['-', '.']).nth(1).unwrap().parse().unwrap();
        assert!([160, 320, 640].contains(&width), "{name}");
        assert_eq!(img.dimensions(), (width, width), "{name}");
        let (top, bottom) = (
            img.get_pixel(width / 2, 2),
            img.get_pixel(width / 2, width - 3),
        );
        assert!(top[0] > 150 && top[2] < 100, "{name}: top is red: {top:?}");
        assert!(
            bottom[2] > 150 && bottom[0] < 100,
            "{name}: bottom is blue: {bottom:?}"
        );
    }

    // From scratch again (no cache, no output): the very same files.
    std::fs::remove_dir_all(site.path(".cache")).unwrap();
    std::fs::remove_dir_all(site.path("public")).unwrap();
    site.run(&["build"]).assert_code(0);
    let again: Vec<(String, Vec<u8>)> = outputs(&site, "lena-large")
        .iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(f).unwrap())
        })
        .collect();
    assert!(first == again, "a second cold build made different files");
}
