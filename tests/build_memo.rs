//! `build` keeps a memo of its pages in `.cache/render.bin`: a rebuild after one bio changed
//! makes that mentor's pages (and the listings they are on) and reuses the rest from the output
//! folder. Whatever the memo holds, the output is the same as a cold build's, byte for byte: a
//! page changed by hand, a new theme, a damaged memo and a deleted bio are all handled.

mod common;

use std::os::unix::fs::MetadataExt;

use common::{Output, Site, read_tree};

fn build(site: &Site) -> Output {
    let root = site.root().to_str().unwrap().to_string();
    let out = common::mentorsite(&["build", "--verbose", "--root", &root])
        .env("SOURCE_DATE_EPOCH", common::TODAY_EPOCH)
        .run();
    out.assert_code(0);
    out
}

/// How many pages and cards the build made, and how many it reused (its `--verbose` log).
fn made_and_reused(out: &Output) -> (usize, usize) {
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("event=rendered"))
        .unwrap_or_else(|| panic!("no rendered line in {}", out.stderr));
    let field = |name: &str| -> usize {
        let at = line.find(&format!(" {name}=")).unwrap() + name.len() + 2;
        line[at..].split(' ').next().unwrap().parse().unwrap()
    };
    (field("made"), field("reused"))
}

/// Wait out the file system's clock so a rewrite gets a new modification time.
fn later() {
    std::thread::sleep(std::time::Duration::from_millis(20));
}

/// The demo with `edit` applied, built once from cold: what any build of it must produce.
fn cold(edit: impl Fn(&Site)) -> Vec<(String, Vec<u8>)> {
    let site = Site::demo();
    edit(&site);
    build(&site);
    read_tree(&site.path("public"))
}

/// When and where each file of the output was written.
fn written(site: &Site, rel: &str) -> (i64, i64, u64) {
    let meta = std::fs::metadata(site.path(rel)).unwrap();
    (meta.mtime(), meta.mtime_nsec(), meta.ino())
}

fn rename_amara(site: &Site) {
    let bio = "content/mentors/amara-okafor.md";
    let text = site.read(bio);
    site.write(
        bio,
        &text.replace("name: Amara Okafor", "name: Amara Okafor-Reid"),
    );
}

#[test]
fn one_bio_changed_makes_its_pages_again_and_leaves_the_rest_alone() {
    let site = Site::demo();
    build(&site);
    assert!(site.path(".cache/render.bin").is_file());
    let other = "public/mentors/aoife-murphy/index.html";
    let before = written(&site, other);

    later();
    rename_amara(&site);
    let (made, reused) = made_and_reused(&build(&site));
    // Her profile and card, and the listings and filter pages she is on.
    assert!(made < 20 && reused > 50, "made {made}, reused {reused}");
    assert!(
        site.read("public/mentors/amara-okafor/index.html")
            .contains("Amara Okafor-Reid")
    );
    assert_eq!(
        written(&site, other),
        before,
        "an unchanged mentor's page is not written again"
    );
    assert_eq!(
        read_tree(&site.path("public")),
        cold(rename_amara),
        "the same output as a cold build"
    );
}

#[test]
fn a_page_changed_by_hand_is_made_again_though_its_mentor_did_not_change() {
    let site = Site::demo();
    build(&site);
    let page = "public/mentors/aoife-murphy/index.html";
    let good = site.read(page);
    later();
    // The same length, so only the file's time and inode tell.
    site.write(page, &"x".repeat(good.len()));
    rename_amara(&site);
    build(&site);
    assert_eq!(site.read(page), good);
    assert_eq!(read_tree(&site.path("public")), cold(rename_amara));
}

#[test]
fn a_theme_change_makes_every_page_again() {
    let site = Site::demo();
    build(&site);
    later();
    let template = "themes/default/templates/mentor.html";
    let mark = |site: &Site| {
        site.write(
            template,
            &site.read(template).replacen(
                "<p class=\"no-print\">",
                "<p class=\"no-print\" data-edited>",
                1,
            ),
        )
    };
    mark(&site);
    let (_, reused) = made_and_reused(&build(&site));
    assert_eq!(reused, 0, "a new theme reuses nothing");
    let profiles: Vec<String> = std::fs::read_dir(site.path("public/mentors"))
        .unwrap()
        .map(|e| e.unwrap().path().join("index.html"))
        .filter(|p| p.is_file())
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(profiles.len() > 20);
    assert!(profiles.iter().all(|p| p.contains("data-edited")));
    assert_eq!(read_tree(&site.path("public")), cold(mark));
}

#[test]
fn a_damaged_or_missing_memo_only_costs_the_reuse() {
    let site = Site::demo();
    build(&site);
    later();
    site.write(".cache/render.bin", "not a memo");
    rename_amara(&site);
    let (_, reused) = made_and_reused(&build(&site));
    assert_eq!(reused, 0);
    assert_eq!(read_tree(&site.path("public")), cold(rename_amara));

    // A memo cut short, as by a full disk.
    let memo = std::fs::read(site.path(".cache/render.bin")).unwrap();
    std::fs::write(site.path(".cache/render.bin"), &memo[..memo.len() / 2]).unwrap();
    later();
    let bio = "content/mentors/amara-okafor.md";
    site.write(bio, &site.read(bio).replace("Okafor-Reid", "Okafor"));
    build(&site);
    assert_eq!(read_tree(&site.path("public")), cold(|_| {}));
}

#[test]
fn a_deleted_bio_takes_its_pages_and_comes_back_whole() {
    let site = Site::demo();
    build(&site);
    let bio = "content/mentors/amara-okafor.md";
    let text = site.read(bio);
    site.remove(bio);
    build(&site);
    assert!(!site.path("public/mentors/amara-okafor").exists());
    assert_eq!(
        read_tree(&site.path("public")),
        cold(|s| s.remove(bio)),
        "gone from every listing too"
    );
    later();
    site.write(bio, &text);
    build(&site);
    assert_eq!(read_tree(&site.path("public")), cold(|_| {}));
}
