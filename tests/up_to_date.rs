//! `build` twice with nothing changed: the second does nothing, and says so. Anything it reads
//! or wrote that changed since (a bio, a theme file, site.toml, the output by hand, the date)
//! makes it build again; a skipped build prints the last build's warnings again.

mod common;

use common::{Output, Site, read_tree};

fn build(site: &Site) -> Output {
    let root = site.root().to_str().unwrap().to_string();
    common::mentorsite(&["build", "--root", &root])
        .env("SOURCE_DATE_EPOCH", common::TODAY_EPOCH)
        .run()
}

fn up_to_date(out: &Output) -> bool {
    out.stdout
        .starts_with("Nothing changed since the last build")
}

/// Wait out the file system's clock so a rewrite gets a new modification time.
fn later() {
    std::thread::sleep(std::time::Duration::from_millis(20));
}

#[test]
fn a_second_build_with_nothing_changed_does_nothing_and_says_so() {
    let site = Site::demo();
    let first = build(&site);
    first.assert_code(0);
    assert!(!up_to_date(&first), "{}", first.stdout);
    let tree = read_tree(&site.path("public"));

    let again = build(&site);
    again.assert_code(0);
    assert!(up_to_date(&again), "{}", again.stdout);
    let shown = again
        .stdout
        .replace(site.root().to_str().unwrap(), "<root>");
    let shown = regex_lite_ms(&shown);
    insta::assert_snapshot!(shown, @"Nothing changed since the last build: 26 mentors, 11 handbook sections and 2 pages in <root>/public are up to date (154 files; checked in <ms> ms).");
    assert_eq!(read_tree(&site.path("public")), tree, "not a byte touched");
}

/// The run's milliseconds, which vary.
fn regex_lite_ms(text: &str) -> String {
    let at = text.find("checked in ").map(|i| i + "checked in ".len());
    match at {
        Some(i) => {
            let end = i + text[i..].find(' ').unwrap_or(0);
            format!("{}<ms>{}", &text[..i], text[end..].trim_end())
        }
        None => text.to_string(),
    }
}

#[test]
fn an_edited_bio_theme_or_config_builds_again() {
    let site = Site::demo();
    build(&site).assert_code(0);

    later();
    let bio = "content/mentors/amara-okafor.md";
    let text = site.read(bio);
    site.write(
        bio,
        &text.replace("name: Amara Okafor", "name: Amara Okafor-Reid"),
    );
    let out = build(&site);
    assert!(!up_to_date(&out), "{}", out.stdout);
    assert!(
        site.read("public/mentors/amara-okafor/index.html")
            .contains("Amara Okafor-Reid")
    );
    assert!(up_to_date(&build(&site)));

    later();
    let card = "themes/default/templates/partials/card.html";
    site.write(
        card,
        &site
            .read(card)
            .replace("<article class=\"card\"", "<article class=\"card edited\""),
    );
    assert!(!up_to_date(&build(&site)));
    assert!(site.read("public/index.html").contains("card edited"));

    later();
    site.write(
        "site.toml",
        &site
            .read("site.toml")
            .replace("title = \"", "title = \"New: "),
    );
    assert!(!up_to_date(&build(&site)));
    assert!(site.read("public/index.html").contains("New: "));
}

#[test]
fn an_output_file_changed_or_deleted_by_hand_is_put_back() {
    let site = Site::demo();
    build(&site).assert_code(0);
    let page = "public/mentors/amara-okafor/index.html";
    let good = site.read(page);
    later();
    site.write(page, "vandalised");
    let out = build(&site);
    assert!(!up_to_date(&out), "{}", out.stdout);
    assert_eq!(site.read(page), good);

    site.remove(page);
    assert!(!up_to_date(&build(&site)));
    assert_eq!(site.read(page), good);

    // A stray file in the output is removed, as by any build.
    site.write("public/stray.html", "x");
    assert!(!up_to_date(&build(&site)));
    assert!(!site.path("public/stray.html").exists());
}

#[test]
fn a_build_with_warnings_is_skipped_too_and_repeats_them() {
    let site = Site::demo();
    // A headshot that cannot be decoded is a warning: the mentor gets an initials avatar.
    let bio = "content/mentors/amara-okafor.md";
    site.write(
        bio,
        &site
            .read(bio)
            .replace("headshot: false", "headshot: amara-okafor.jpg"),
    );
    site.write("content/mentors/amara-okafor.jpg", "not a picture");
    let first = build(&site);
    first.assert_code(0);
    assert!(first.stderr.contains("warning"), "{}", first.stderr);
    let again = build(&site);
    assert!(up_to_date(&again), "{}", again.stdout);
    assert_eq!(again.stderr, first.stderr, "the same warnings again");

    // A build that fails is not recorded: the one after it runs in full.
    let bio = "content/mentors/aoife-murphy.md";
    let good = site.read(bio);
    later();
    site.write(bio, &good.replace("name: ", "nme: "));
    build(&site).assert_code(1);
    assert!(!site.path(".cache/build.json").exists());
    later();
    site.write(bio, &good);
    let fixed = build(&site);
    fixed.assert_code(0);
    assert!(!up_to_date(&fixed), "{}", fixed.stdout);
}

#[test]
fn a_new_day_builds_again() {
    // Away dates and the register's order depend on the date.
    let site = Site::demo();
    build(&site).assert_code(0);
    let root = site.root().to_str().unwrap().to_string();
    let next_day = (common::TODAY_EPOCH.parse::<i64>().unwrap() + 86_400).to_string();
    let out = common::mentorsite(&["build", "--root", &root])
        .env("SOURCE_DATE_EPOCH", &next_day)
        .run();
    assert!(!up_to_date(&out), "{}", out.stdout);
}

#[test]
fn a_bio_touched_but_not_changed_is_the_same_input() {
    let site = Site::demo();
    build(&site).assert_code(0);
    later();
    let bio = "content/mentors/amara-okafor.md";
    let text = site.read(bio);
    site.remove(bio);
    site.write(bio, &text);
    let out = build(&site);
    assert!(up_to_date(&out), "{}", out.stdout);
}
