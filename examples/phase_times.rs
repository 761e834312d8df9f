//! Where a rebuild's time goes, with and without the render memo `serve` keeps:
//! `cargo run --release --example phase_times -- <site root>`.
use std::time::Instant;

fn main() {
    let root = std::env::args().nth(1).expect("a site root");
    let mut opts = mentorsite::site::BuildOptions {
        root: root.into(),
        ..Default::default()
    };
    let memo = mentorsite::render::Memo::default();
    for round in 0..5 {
        if round == 1 {
            opts.content_cache = Some(Default::default());
        }
        let t = Instant::now();
        let Ok(mut p) = mentorsite::site::prepare(&opts) else {
            panic!("the site has errors: run `mentorsite check`")
        };
        let t1 = t.elapsed();
        mentorsite::site::process_headshots(&opts, &mut p, mentorsite::images::Mode::Build);
        let t2 = t.elapsed();
        let sink = mentorsite::render::Collect::default();
        let memo = (round > 0).then_some(&memo);
        let cached = if opts.content_cache.is_some() {
            "  content cache"
        } else {
            ""
        };
        let Ok(r) = mentorsite::site::render_with(&mut p, &sink, memo) else {
            panic!("template errors")
        };
        let t3 = t.elapsed();
        println!(
            "prepare {:?}  headshots {:?}  render {:?} ({} rendered, {} reused){}{}",
            t1,
            t2 - t1,
            t3 - t2,
            r.rendered,
            r.reused,
            if memo.is_some() { "  render memo" } else { "" },
            cached,
        );
    }
}
