//! Rebuilding with what the last build kept (`serve`): the same bytes as a fresh build, and
//! only what an edit touches is rendered again.

mod common;

use std::sync::Arc;

use common::Site;
use mentorsite::render::{Collect, Memo, OutputFile, Rendered};
use mentorsite::site::{self, BuildOptions};

fn opts(site: &Site, cache: &Arc<mentorsite::content::Cache>) -> BuildOptions {
    BuildOptions {
        root: site.root().to_path_buf(),
        today: Some("2026-11-23".parse().unwrap()),
        content_cache: Some(cache.clone()),
        ..BuildOptions::default()
    }
}

fn fresh(site: &Site) -> Vec<OutputFile> {
    site::render_to_memory(&BuildOptions {
        root: site.root().to_path_buf(),
        today: Some("2026-11-23".parse().unwrap()),
        ..BuildOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn rebuild(opts: &BuildOptions, memo: &Memo) -> (Vec<OutputFile>, Rendered) {
    let mut prepared = site::prepare(opts).unwrap_or_else(|e| panic!("{e}"));
    site::process_headshots(opts, &mut prepared, mentorsite::images::Mode::Build);
    let sink = Collect::default();
    let rendered =
        site::render_with(&mut prepared, &sink, Some(memo)).unwrap_or_else(|e| panic!("{e}"));
    (sink.into_files(), rendered)
}

/// Wait out the file system's clock so a rewrite gets a new modification time.
fn touch_later() {
    std::thread::sleep(std::time::Duration::from_millis(20));
}

#[test]
fn an_edited_bio_re_renders_its_profile_and_listings_only() {
    let site = Site::demo();
    let cache = Arc::new(mentorsite::content::Cache::default());
    let memo = Memo::default();
    let opts = opts(&site, &cache);

    let (first, r) = rebuild(&opts, &memo);
    assert_eq!(
        first,
        fresh(&site),
        "the memo changes nothing on a first build"
    );
    assert_eq!(r.reused, 0);

    let (again, r) = rebuild(&opts, &memo);
    assert_eq!(again, first);
    assert_eq!(r.rendered, 0, "nothing changed, nothing rendered: {r:?}");

    touch_later();
    let bio = "content/mentors/amara-okafor.md";
    let text = site.read(bio);
    site.write(bio, &text.replace("Amara Okafor", "Amara Okafor-Hale"));
    let (edited, r) = rebuild(&opts, &memo);
    assert_eq!(edited, fresh(&site), "the same bytes as a fresh build");
    let profiles = first
        .iter()
        .filter(|f| f.path.starts_with("mentors") && f.path.ends_with("index.html"))
        .count();
    assert!(
        r.rendered > 2 && r.rendered < profiles / 2,
        "the profile, its card, the register and some filter pages, not every page: {r:?}"
    );
    let changed: Vec<String> = edited
        .iter()
        .filter(|f| !first.contains(f))
        .map(|f| f.path.display().to_string())
        .collect();
    assert!(
        changed.contains(&"mentors/amara-okafor/index.html".to_string()),
        "{changed:?}"
    );
    assert!(changed.contains(&"index.html".to_string()), "{changed:?}");
    assert!(
        !changed.iter().any(|p| p.starts_with("handbook/")),
        "{changed:?}"
    );
}

#[test]
fn a_deleted_bio_leaves_no_page_and_a_new_one_appears() {
    let site = Site::demo();
    let cache = Arc::new(mentorsite::content::Cache::default());
    let memo = Memo::default();
    let opts = opts(&site, &cache);
    rebuild(&opts, &memo);

    site.remove("content/mentors/amara-okafor.md");
    let (files, _) = rebuild(&opts, &memo);
    assert!(
        !files
            .iter()
            .any(|f| f.path.to_string_lossy().contains("amara-okafor")),
        "no page, avatar or listing path left"
    );
    assert_eq!(files, fresh(&site));

    touch_later();
    site.write(
        "content/mentors/new-person.md",
        &site
            .read("content/mentors/grace-obi.md")
            .replace("Grace Obi", "New Person"),
    );
    let (files, _) = rebuild(&opts, &memo);
    assert_eq!(files, fresh(&site));
    assert!(
        files
            .iter()
            .any(|f| f.path.to_string_lossy() == "mentors/new-person/index.html")
    );
}
