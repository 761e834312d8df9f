//! `mentorsite build` end to end over fixture sites: what lands in the output folder.

mod common;

use common::{Site, read_tree};

fn build(site: &Site) -> common::Output {
    let out = site.run(&["build"]);
    out.assert_code(0);
    out
}

#[test]
fn each_kind_of_scheme_builds_without_code_changes() {
    for (fixture, mentor, expect) in [
        (
            "doctors",
            "dr-ada-bundle",
            ["Grade", "Consultant", "Video, Phone"],
        ),
        (
            "trans-peer-support",
            "rowan-ash",
            ["Identities", "Non-binary", "English, Portuguese"],
        ),
        (
            "refugee-youth",
            "samira-haddad",
            [
                "Mentors young people aged",
                "15-17, 18-25",
                "Arabic, English, Kurdish",
            ],
        ),
    ] {
        let site = Site::fixture(fixture);
        let out = build(&site);
        assert!(out.stderr.is_empty(), "{fixture}: {}", out.stderr);
        let page = site.read(&format!("public/mentors/{mentor}/index.html"));
        for text in expect {
            assert!(
                page.contains(text),
                "{fixture}: `{text}` not on the profile"
            );
        }
        assert!(site.path("public/index.html").is_file());
        assert!(site.path("public/404.html").is_file());
        assert!(site.path("public/sitemap.xml").is_file());
        assert!(site.path("public/requests/sent/index.html").is_file());
    }
}

#[test]
fn the_demo_scheme_builds_with_no_diagnostic() {
    let site = Site::demo();
    let out = site.run(&["check"]);
    out.assert_code(0);
    assert_eq!(out.stderr, "", "the demo must be clean");
    assert!(
        out.stdout
            .starts_with("OK: 26 mentors, 11 handbook sections and 2 pages"),
        "{}",
        out.stdout
    );
    build(&site);
    let handbook = site.read("public/handbook/print/index.html");
    for section in [
        "Frequently asked questions",
        "Ground rules",
        "Mentor agreement",
        "Mentee agreement",
        "Ethical framework",
        "The first session",
        "Policies",
        "Raising a concern",
        "Ending mentoring",
        "Contacts",
    ] {
        assert!(handbook.contains(section), "handbook lacks {section}");
    }
}

#[test]
fn no_private_value_reaches_the_output() {
    let site = Site::fixture("doctors");
    build(&site);
    let refugee = Site::fixture("refugee-youth");
    build(&refugee);
    let trans = Site::fixture("trans-peer-support");
    build(&trans);
    let secrets = [
        "private.example.net", // every mentor email in the fixtures
        "07700 900001",        // phone
        "GMC-SECRET-1",        // a field declared private
        "PRIVATE-CW-7",        // a private text field in another scheme
        "Programme contact",   // a private field's label
        "2031-07-09",          // a private date
        "DBS",                 // a private bool's label
    ];
    for s in [&site, &refugee, &trans] {
        for (path, bytes) in read_tree(&s.path("public")) {
            let text = String::from_utf8_lossy(&bytes);
            for secret in secrets {
                assert!(!text.contains(secret), "{secret} leaked into {path}");
            }
        }
    }
}

#[test]
fn bios_cannot_inject_markup() {
    let site = Site::fixture("doctors");
    site.write(
        "content/mentors/eve-x.md",
        "---\nname: \"Eve <script>alert(1)</script>\"\nheadshot: false\nemail: eve@private.example.net\ngrade: FY2\nspecialty: \"\\\"><img src=x onerror=alert(2)>\"\n---\n\n<script>alert(3)</script>\n\nA [link](javascript:alert(4)).\n",
    );
    build(&site);
    for (path, bytes) in read_tree(&site.path("public")) {
        let text = String::from_utf8_lossy(&bytes);
        for bad in ["<script>alert", "<img src=x", "href=\"javascript"] {
            assert!(!text.contains(bad), "{bad} unescaped in {path}");
        }
    }
    let page = site.read("public/mentors/eve-x/index.html");
    assert!(
        page.contains("Eve &lt;script&gt;"),
        "the name is shown, escaped"
    );
    assert!(
        page.contains("&lt;script&gt;alert(3)"),
        "raw HTML in the bio is shown as text"
    );
    assert!(
        page.contains("<a href=\"#\">link</a>"),
        "the unsafe link is defused"
    );
}

#[test]
fn output_is_deterministic() {
    let a = Site::demo();
    let b = Site::demo();
    build(&a);
    build(&b);
    let (ta, tb) = (read_tree(&a.path("public")), read_tree(&b.path("public")));
    assert!(ta.len() > 100);
    assert_eq!(ta.len(), tb.len());
    for ((pa, ba), (pb, bb)) in ta.iter().zip(&tb) {
        assert_eq!(pa, pb);
        assert!(
            ba == bb,
            "{pa} differs between two builds of the same input"
        );
    }
    // A full rebuild with nothing changed rewrites nothing (without its record of the last
    // build, which would skip it: tests/up_to_date.rs).
    std::fs::remove_file(a.path(".cache/build.json")).unwrap();
    let again = build(&a);
    assert!(
        again.stdout.contains("(0 files written"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_removed_mentor_disappears_from_the_site() {
    let site = Site::fixture("doctors");
    build(&site);
    assert!(site.path("public/mentors/cara-paused/index.html").is_file());
    assert!(
        site.read("public/sitemap.xml")
            .contains("/mentors/cara-paused/")
    );
    site.remove("content/mentors/cara-paused.md");
    let out = build(&site);
    assert!(out.stdout.contains("removed"), "{}", out.stdout);
    assert!(
        !site.path("public/mentors/cara-paused").exists(),
        "page and folder are gone"
    );
    assert!(!site.read("public/sitemap.xml").contains("cara-paused"));
    assert!(!site.read("public/index.html").contains("Cara Paused"));
    // Filter pages only she had are gone too (she was the only ST3).
    assert!(!site.path("public/mentors/by/grade/st3").exists());
}

#[test]
fn availability_is_shown_and_only_accepting_mentors_get_a_form() {
    let site = Site::fixture("doctors");
    build(&site);
    let away = site.read("public/mentors/bob-crlf/index.html");
    assert!(away.contains("Away until <time datetime=\"2099-01-31\">31 January 2099</time>"));
    assert!(!away.contains("<form"));
    let paused = site.read("public/mentors/cara-paused/index.html");
    assert!(paused.contains("Not taking requests"));
    assert!(!paused.contains("<form"));
    let open = site.read("public/mentors/dr-ada-bundle/index.html");
    assert!(open.contains("<form class=\"request-form\" method=\"post\" action=\"/requests\">"));
    assert!(open.contains("name=\"mentor\" value=\"dr-ada-bundle\""));
    // A date in the past no longer counts as away.
    site.write(
        "content/mentors/bob-crlf.md",
        &site
            .read("content/mentors/bob-crlf.md")
            .replace("2099-01-31", "2026-11-01"),
    );
    build(&site);
    assert!(
        site.read("public/mentors/bob-crlf/index.html")
            .contains("Taking requests")
    );
}

#[test]
fn base_url_with_a_path_prefixes_every_link() {
    let site = Site::fixture("trans-peer-support");
    build(&site);
    let home = site.read("public/index.html");
    assert!(home.contains("href=\"/mentoring/mentors/rowan-ash/\""));
    assert!(home.contains("href=\"/mentoring/static/style.css?v="));
    assert!(
        site.read("public/sitemap.xml")
            .contains("<loc>https://peers.example.org/mentoring/mentors/rowan-ash/</loc>")
    );
    let preview = site.run(&["build", "--base-url", "https://preview.example.org"]);
    preview.assert_code(0);
    assert!(
        site.read("public/index.html")
            .contains("href=\"/mentors/rowan-ash/\"")
    );
}

#[test]
fn handbook_is_ordered_with_contents_and_neighbours() {
    let site = Site::fixture("doctors");
    build(&site);
    let index = site.read("public/handbook/index.html");
    assert!(
        index.find("First").unwrap() < index.find("Second").unwrap(),
        "ordered by weight"
    );
    let first = site.read("public/handbook/first/index.html");
    assert!(first.contains("rel=\"next\">Second →"));
    let second = site.read("public/handbook/second/index.html");
    assert!(second.contains("rel=\"prev\">← First"));
    assert!(second.contains("<h2 id=\"part-one\">Part one</h2>"));
    let print = site.read("public/handbook/print/index.html");
    assert!(
        print.contains("id=\"second-part-one\""),
        "ids are unique on the printable page"
    );
}

#[test]
fn refuses_to_write_into_a_folder_it_did_not_make() {
    let site = Site::fixture("doctors");
    site.write("elsewhere/notes.txt", "keep me");
    let out = site.run(&[
        "build",
        "--output",
        site.path("elsewhere").to_str().unwrap(),
    ]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("refusing to build into")
            && out.stderr.contains("was not made by mentorsite"),
        "{}",
        out.stderr
    );
    assert_eq!(site.read("elsewhere/notes.txt"), "keep me");
}

#[test]
fn new_mentor_scaffolds_every_field_and_never_overwrites() {
    let site = Site::demo();
    let out = site.run(&["new", "mentor", "Zoë O'Hara-Ng"]);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("Created content/mentors/zoe-o-hara-ng.md"),
        "{}",
        out.stdout
    );
    let bio = site.read("content/mentors/zoe-o-hara-ng.md");
    for key in [
        "name:",
        "pronouns:",
        "headshot",
        "email:",
        "phone:",
        "accepting:",
        "away_until:",
        "capacity:",
        "grade:",
        "specialty:",
        "trust:",
        "region:",
        "time_away:",
        "meeting:",
        "days:",
        "less_than_full_time:",
        "languages:",
        "interests:",
        "mentor_since:",
        "gmc_number:",
    ] {
        assert!(bio.contains(key), "scaffold lacks {key}");
    }
    assert!(bio.contains("name: Zoë O'Hara-Ng"));
    assert!(bio.contains("#   one of: FY2, CT1"));
    assert!(bio.contains("PRIVATE, never published"));

    // Left blank, the check says exactly what to fill in, and the example bio text is not
    // published.
    let check = site.run(&["check"]);
    check.assert_code(1);
    let placeholder = "error: the bio is still the example text that `mentorsite new mentor` wrote";
    for expected in ["email", "grade", "specialty", "region", "meeting"]
        .map(|key| format!("error: `{key}` is empty"))
        .into_iter()
        .chain([placeholder.to_string()])
    {
        let line = check.stderr.lines().find(|l| l.ends_with(&expected));
        assert!(
            line.is_some_and(|l| l.starts_with("content/mentors/zoe-o-hara-ng.md:")),
            "{}",
            check.stderr
        );
    }
    assert_eq!(
        check.stderr.matches(": error: ").count(),
        6,
        "{}",
        check.stderr
    );
    // A yes/no field the admin never filled in is left unset, not published as "No".
    assert!(bio.contains("\nless_than_full_time:\n"), "{bio}");

    let again = site.run(&["new", "mentor", "Zoe O Hara Ng"]);
    again.assert_code(2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(
        site.read("content/mentors/zoe-o-hara-ng.md"),
        bio,
        "untouched"
    );
}

#[test]
fn hidden_files_and_editor_leftovers_are_skipped() {
    let site = Site::fixture("doctors");
    site.write("content/mentors/.draft-mentor.md", "not even front matter");
    site.write("content/handbook/.notes.md", "---\nbroken: [\n");
    site.write("content/.hidden/page.md", "no front matter");
    let out = site.run(&["check"]);
    out.assert_code(0);
    assert_eq!(out.stderr, "");
    assert!(
        out.stdout
            .starts_with("OK: 3 mentors, 2 handbook sections and 1 page;"),
        "{}",
        out.stdout
    );
}

#[test]
fn template_errors_name_the_template_line_and_column() {
    let site = Site::fixture("doctors");
    site.write(
        "themes/default/templates/page.html",
        "{% extends \"base.html\" %}\n{% block main %}\n<h1>{{ page.title | no_such_filter }}</h1>\n{% endblock main %}\n",
    );
    let out = site.run(&["check"]);
    out.assert_code(1);
    let first = out.stderr.lines().next().unwrap();
    assert!(
        first.starts_with("themes/default/templates/page.html:3:"),
        "{}",
        out.stderr
    );
    assert!(first.contains("template error"), "{}", out.stderr);
    assert!(out.stderr.contains("no_such_filter"), "{}", out.stderr);
}

#[test]
fn quiet_says_only_what_went_wrong() {
    let site = Site::fixture("doctors");
    // A bio without a photo gets a warning.
    site.write(
        "content/mentors/dee-nophoto.md",
        "---\nname: Dee Nophoto\nemail: dee@private.example.net\ngrade: FY2\nspecialty: Surgery\n---\n\nHello.\n",
    );
    let loud = site.run(&["build"]);
    loud.assert_code(0);
    assert!(loud.stdout.contains("Built "), "{}", loud.stdout);
    assert!(loud.stderr.contains("warning:"), "the fixture has warnings");
    let quiet = site.run(&["--quiet", "build"]);
    quiet.assert_code(0);
    assert_eq!(quiet.stdout, "", "no summary");
    assert_eq!(quiet.stderr, "", "no warnings");

    site.write(
        "content/mentors/bob-crlf.md",
        &site
            .read("content/mentors/bob-crlf.md")
            .replace("grade:", "grde:"),
    );
    let broken = site.run(&["check", "-q"]);
    broken.assert_code(1);
    assert!(
        broken.stderr.contains("content/mentors/bob-crlf.md:"),
        "errors are still said: {}",
        broken.stderr
    );
}

#[test]
fn a_yes_no_field_the_bio_does_not_set_is_not_shown() {
    let site = Site::demo();
    build(&site).assert_code(0);
    // Set to true: shown. Never written: not shown at all (not as "No").
    let set = site.read("public/mentors/amara-okafor/index.html");
    assert!(set.contains("Trains less than full time"), "{set}");
    let bio = site.read("content/mentors/aoife-murphy.md");
    assert!(
        !bio.contains("less_than_full_time"),
        "the fixture leaves it out"
    );
    let unset = site.read("public/mentors/aoife-murphy/index.html");
    assert!(!unset.contains("Trains less than full time"), "{unset}");
}

#[test]
fn a_bio_of_thousands_of_equal_headings_builds_with_distinct_ids() {
    let site = Site::fixture("invalid/_base");
    let mut bio = String::from(
        "---\nname: Jane Doe\nheadshot: false\nemail: jane@private.example.net\ngrade: FY2\n---\n\n",
    );
    bio.push_str(&"## Same heading\n\nText.\n\n".repeat(4_000));
    site.write("content/mentors/jane-doe.md", &bio);
    build(&site).assert_code(0);
    let page = site.read("public/mentors/jane-doe/index.html");
    assert!(page.contains("id=\"same-heading\""));
    assert!(page.contains("id=\"same-heading-3999\""));
    assert_eq!(page.matches("<h2 id=\"same-heading").count(), 4_000);
}

#[test]
fn phone_first_pages_title_first_a_jump_to_the_form_a_favicon_and_an_optional_logo() {
    let site = Site::demo();
    build(&site).assert_code(0);
    let page = |rel: &str| site.read(&format!("public/{rel}"));
    for rel in [
        "index.html",
        "mentors/amara-okafor/index.html",
        "handbook/first-session/index.html",
    ] {
        let html = page(rel);
        assert!(
            html.contains("<link rel=\"icon\" href=\"/static/favicon.svg?v="),
            "{rel} names the favicon (no 404 for it on every page)"
        );
        assert!(
            !html.contains("class=\"logo\""),
            "no logo unless the theme has one"
        );
    }
    assert!(site.path("public/static/favicon.svg").is_file());
    // A profile: the way to the form comes right after the name and status.
    let profile = page("mentors/amara-okafor/index.html");
    let jump = profile
        .find("<a href=\"#request-title\">Ask Amara Okafor to mentor you</a>")
        .expect("a jump link");
    assert!(jump < profile.find("At a glance").unwrap(), "near the top");
    assert!(
        profile.contains("id=\"request-title\""),
        "to a heading that exists"
    );
    // A handbook section: its title before the list of sections, in reading order.
    let section = page("handbook/first-session/index.html");
    assert!(
        section.find("<h1>The first session</h1>").unwrap()
            < section.find("class=\"handbook-nav\"").unwrap(),
        "the title first"
    );
    // A theme's logo.svg appears beside the title, on every page.
    site.write(
        "themes/default/static/logo.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1 1\"/>",
    );
    build(&site).assert_code(0);
    assert!(page("index.html").contains("<img class=\"logo\" src=\"/static/logo.svg?v="));
}
