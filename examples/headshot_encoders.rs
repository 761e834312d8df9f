//! What the encoders' settings cost at each headshot width: time and bytes of libwebp's
//! methods and of jpeg-encoder's progressive and optimised-Huffman switches, with PSNR against
//! the resized pixels (JPEG's entropy switches change only bytes, never pixels).
//!
//!     cargo run --release --example headshot_encoders -- PHOTO.jpg [PHOTO.jpg …]

use std::time::{Duration, Instant};

use mentorsite::images::pipeline;

#[derive(Clone, Copy)]
enum Setting {
    Webp(i32),
    Jpeg { progressive: bool, optimized: bool },
}

impl Setting {
    fn label(self) -> String {
        match self {
            Setting::Webp(m) => format!("webp method {m}"),
            Setting::Jpeg {
                progressive,
                optimized,
            } => format!(
                "jpg {}{}",
                if progressive {
                    "progressive"
                } else {
                    "baseline"
                },
                if optimized { "+opt" } else { "" }
            ),
        }
    }

    fn encode(self, px: &[u8], w: u32, h: u32) -> Vec<u8> {
        match self {
            Setting::Webp(method) => {
                let mut config = webp::WebPConfig::new().expect("config");
                config.quality = 82.0;
                config.method = method;
                webp::Encoder::from_rgb(px, w, h)
                    .encode_advanced(&config)
                    .expect("encode")
                    .to_vec()
            }
            Setting::Jpeg {
                progressive,
                optimized,
            } => {
                let mut out = Vec::new();
                let mut enc = jpeg_encoder::Encoder::new(&mut out, 82);
                enc.set_progressive(progressive);
                enc.set_optimized_huffman_tables(optimized);
                enc.encode(px, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
                    .expect("encode");
                out
            }
        }
    }
}

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let settings = [
        Setting::Webp(0),
        Setting::Webp(1),
        Setting::Webp(2),
        Setting::Jpeg {
            progressive: true,
            optimized: true,
        },
        Setting::Jpeg {
            progressive: false,
            optimized: true,
        },
        Setting::Jpeg {
            progressive: false,
            optimized: false,
        },
    ];
    let widths = [640u32, 320, 160];
    let mut rows = vec![(Duration::ZERO, 0usize, 0f64); settings.len() * widths.len()];
    let (mut direct, mut cascade) = (Duration::ZERO, Duration::ZERO);
    for path in &paths {
        let img = pipeline::decode(&std::fs::read(path).expect("read")).expect("decode");
        let t = Instant::now();
        for w in widths {
            pipeline::resize(&img, (1, 1), w).expect("resize");
        }
        direct += t.elapsed();
        let t = Instant::now();
        let mut ascending = widths;
        ascending.reverse();
        let resized = pipeline::resize_cascade(&img, (1, 1), &ascending).expect("resize");
        cascade += t.elapsed();
        for (wi, (w, px)) in ascending.iter().zip(&resized).rev().enumerate() {
            for (si, s) in settings.iter().enumerate() {
                let t = Instant::now();
                let out = s.encode(px, *w, *w);
                let row = &mut rows[wi * settings.len() + si];
                row.0 += t.elapsed();
                row.1 += out.len();
                let back = image::load_from_memory(&out).expect("decode").into_rgb8();
                row.2 += psnr(px, back.as_raw());
            }
        }
    }
    let n = paths.len().max(1) as u32;
    println!("{n} photos");
    println!(
        "resize 640+320+160: direct {:.2} ms, cascade {:.2} ms",
        ms(direct / n),
        ms(cascade / n)
    );
    for (wi, w) in widths.iter().enumerate() {
        for (si, s) in settings.iter().enumerate() {
            let (spent, bytes, psnr) = rows[wi * settings.len() + si];
            println!(
                "{w:>4}px {:<24}{:>7.2} ms {:>7.1} KiB  PSNR {:>5.2} dB",
                s.label(),
                ms(spent / n),
                bytes as f64 / f64::from(n) / 1024.0,
                psnr / f64::from(n)
            );
        }
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
