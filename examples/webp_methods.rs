//! libwebp's `method` (speed/size trade-off) on real headshots: time and bytes at 640 px.
//!
//!     cargo run --release --example webp_methods -- PHOTO.jpg [PHOTO.jpg …]

use std::time::{Duration, Instant};

use mentorsite::images::pipeline;

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let mut rows = [(Duration::ZERO, 0usize); 7];
    for path in &paths {
        let img = pipeline::decode(&std::fs::read(path).expect("read")).expect("decode");
        let px = pipeline::resize(&img, (1, 1), 640).expect("resize");
        for (method, row) in rows.iter_mut().enumerate() {
            let mut config = webp::WebPConfig::new().expect("config");
            config.quality = 82.0;
            config.method = method as i32;
            let t = Instant::now();
            let out = webp::Encoder::from_rgb(&px, 640, 640)
                .encode_advanced(&config)
                .expect("encode");
            row.0 += t.elapsed();
            row.1 += out.len();
        }
    }
    let n = paths.len().max(1) as u32;
    for (method, (spent, bytes)) in rows.iter().enumerate() {
        println!(
            "method {method}: {:>6.2} ms, {:>6.1} KiB",
            spent.as_secs_f64() * 1000.0 / f64::from(n),
            *bytes as f64 / f64::from(n) / 1024.0
        );
    }
}
