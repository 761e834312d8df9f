//! Where a headshot's processing time goes, and what each format costs in bytes at a given
//! quality, with PSNR against the resized original so sizes are compared at like quality; and
//! what decoding at a reduced scale saves (a phone's 4032×3024 photo is decoded at ½ for 640 px).
//!
//!     cargo run --release --example headshot_stages -- PHOTO.jpg [PHOTO.jpg …]

use std::time::{Duration, Instant};

use mentorsite::images::pipeline;

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: headshot_stages PHOTO.jpg [PHOTO.jpg …]");
        std::process::exit(2);
    }
    let aspect = (1, 1);
    let widths = [640u32, 320, 160];
    let mut decode = Duration::ZERO;
    let mut decode_for = Duration::ZERO;
    let mut cascade_whole = Duration::ZERO;
    let mut cascade_scaled = Duration::ZERO;
    let mut resize = Duration::ZERO;
    let mut encode: Vec<(String, Duration, usize, f64)> = Vec::new();
    for path in &paths {
        let bytes = std::fs::read(path).expect("read");
        let t = Instant::now();
        let img = pipeline::decode(&bytes).expect("decode");
        decode += t.elapsed();
        let t = Instant::now();
        let scaled = pipeline::decode_for(&bytes, aspect, widths[0]).expect("decode");
        decode_for += t.elapsed();
        let ascending = [widths[2], widths[1], widths[0]];
        let t = Instant::now();
        pipeline::resize_cascade(&img, aspect, &ascending).expect("resize");
        cascade_whole += t.elapsed();
        let t = Instant::now();
        pipeline::resize_cascade(&scaled, aspect, &ascending).expect("resize");
        cascade_scaled += t.elapsed();
        for w in widths {
            let t = Instant::now();
            let px = pipeline::resize(&img, aspect, w).expect("resize");
            resize += t.elapsed();
            let h = pipeline::height_for(w, aspect);
            for (fmt, q) in [
                ("jpg", 82u8),
                ("webp", 82),
                ("webp", 75),
                ("jpg", 90),
                ("png", 82),
            ] {
                let t = Instant::now();
                let out = pipeline::encode(fmt, &px, w, h, img.alpha, q).expect("encode");
                let spent = t.elapsed();
                let back = image::load_from_memory(&out)
                    .expect("decode output")
                    .into_rgb8();
                let label = format!("{fmt} q{q} {w}px");
                let psnr = psnr(&px, back.as_raw());
                match encode.iter_mut().find(|e| e.0 == label) {
                    Some(e) => {
                        e.1 += spent;
                        e.2 += out.len();
                        e.3 += psnr;
                    }
                    None => encode.push((label, spent, out.len(), psnr)),
                }
            }
        }
    }
    let n = paths.len() as u32;
    println!("{} photos", n);
    println!("decode            {:>7.2} ms per photo", ms(decode / n));
    println!(
        "decode for {} px  {:>7.2} ms per photo (at the smallest scale that covers twice it)",
        widths[0],
        ms(decode_for / n)
    );
    println!("resize (3 widths) {:>7.2} ms per photo", ms(resize / n));
    println!(
        "cascade           {:>7.2} ms from the whole photo, {:.2} ms from the scaled one",
        ms(cascade_whole / n),
        ms(cascade_scaled / n)
    );
    for (label, spent, bytes, psnr) in encode {
        println!(
            "{label:<18}{:>7.2} ms  {:>8.1} KiB  PSNR {:>5.2} dB",
            ms(spent / n),
            bytes as f64 / f64::from(n) / 1024.0,
            psnr / f64::from(n)
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}
