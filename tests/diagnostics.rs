//! What an admin sees when something is wrong: one fixture per fault, each snapshotted as the
//! exact text `mentorsite check` prints, plus every fault at once in a single run.

mod common;

use common::Site;

/// `check` over the base site with `case` laid on top; returns exit code and stderr.
fn check(case: &str) -> String {
    let site = Site::from_layers(&["invalid/_base", &format!("invalid/{case}")]);
    let out = site.run(&["check"]);
    format!("exit code: {}\n{}", out.code, out.stderr)
}

macro_rules! case {
    ($name:ident, $dir:literal) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!($dir, check($dir));
        }
    };
}

case!(yaml_syntax, "yaml-syntax");
case!(unknown_field, "unknown-field");
case!(value_not_allowed, "value-not-allowed");
case!(missing_required, "missing-required");
case!(invalid_email, "invalid-email");
case!(headshot_outside, "headshot-outside");
case!(svg_headshot, "svg-headshot");
case!(no_front_matter, "no-front-matter");
case!(unclosed_front_matter, "unclosed-front-matter");
case!(wrong_types, "wrong-types");
case!(bad_slug, "bad-slug");
case!(missing_headshot, "missing-headshot");
case!(handbook_no_title, "handbook-no-title");
case!(duplicate_slug, "duplicate-slug");
case!(unknown_site_key, "unknown-site-key");
case!(site_syntax, "site-syntax");
case!(site_semantics, "site-semantics");
case!(folded_list_item, "folded-list-item");
case!(impossible_date, "impossible-date");
case!(empty_email, "empty-email");
case!(deleted_name, "deleted-name");
case!(indented_key, "indented-key");
case!(private_details, "private-details");

#[test]
fn every_problem_in_every_file_is_reported_in_one_run() {
    let content_cases = [
        "yaml-syntax",
        "unknown-field",
        "value-not-allowed",
        "invalid-email",
        "wrong-types",
        "handbook-no-title",
    ];
    // Each case writes content/mentors/jane-doe.md, so give each its own file name.
    let site = Site::fixture("invalid/_base");
    for (i, case) in content_cases.iter().enumerate() {
        let case_dir = common::repo().join("tests/fixtures/invalid").join(case);
        for entry in walkdir::WalkDir::new(&case_dir)
            .into_iter()
            .map(Result::unwrap)
        {
            if entry.file_type().is_file() {
                let rel = entry
                    .path()
                    .strip_prefix(&case_dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let rel = rel.replace("jane-doe.md", &format!("jane-doe-{i}.md"));
                site.write(&rel, &std::fs::read_to_string(entry.path()).unwrap());
            }
        }
    }
    let out = site.run(&["check"]);
    out.assert_code(1);
    for i in [0, 1, 2, 3, 4] {
        assert!(
            out.stderr
                .contains(&format!("content/mentors/jane-doe-{i}.md:")),
            "file {i} missing from:\n{}",
            out.stderr
        );
    }
    assert!(
        out.stderr.contains("content/handbook/rules.md:"),
        "{}",
        out.stderr
    );
    // Exactly the errors each fault gives on its own, added up.
    let alone: usize = content_cases
        .iter()
        .map(|case| check(case).matches(": error: ").count())
        .sum();
    let together = out.stderr.matches(": error: ").count();
    assert_eq!(together, alone, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("{together} errors, 0 warnings in 6 files")),
        "{}",
        out.stderr
    );
}

#[test]
fn check_json_reports_the_same_problems() {
    let site = Site::from_layers(&["invalid/_base", "invalid/unknown-field"]);
    let out = site.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["errors"], 1);
    let d = &v["diagnostics"][0];
    assert_eq!(d["path"], "content/mentors/jane-doe.md");
    assert_eq!(d["line"], 6);
    assert_eq!(d["column"], 1);
    assert_eq!(d["severity"], "error");
    assert_eq!(d["message"], "unknown field `speciality`");
    assert_eq!(d["hint"], "did you mean `specialty`?");

    let ok = Site::fixture("doctors").run(&["check", "--format", "json"]);
    ok.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(&ok.stdout).unwrap();
    assert_eq!(v["errors"], 0);
}

#[test]
fn warnings_do_not_fail_the_build() {
    let site = Site::from_layers(&["invalid/_base", "invalid/missing-headshot"]);
    let out = site.run(&["build"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("warning: no headshot yet"),
        "{}",
        out.stderr
    );
    assert!(site.path("public/mentors/jane-doe/index.html").is_file());
}

#[test]
fn usage_and_io_failures_exit_2() {
    let empty = tempfile::tempdir().unwrap();
    let out = common::mentorsite(&["check", "--root", empty.path().to_str().unwrap()]).run();
    out.assert_code(2);
    assert!(out.stderr.contains("cannot read"), "{}", out.stderr);
    assert!(out.stderr.contains("site.toml"), "{}", out.stderr);

    common::mentorsite(&["build", "--no-such-flag"])
        .run()
        .assert_code(2);
    common::mentorsite(&["check", "--format", "xml"])
        .run()
        .assert_code(2);
}

#[test]
fn a_misspelled_required_field_is_one_error_not_two() {
    let site = Site::fixture("invalid/_base");
    site.write(
        "content/mentors/jane-doe.md",
        "---\nname: Jane Doe\nheadshot: false\nemail: jane@private.example.net\ngrdae: FY2\n---\n\nBio.\n",
    );
    let out = site.run(&["check"]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("unknown field `grdae`")
            && out.stderr.contains("did you mean `grade`?"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("missing required field `grade`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("1 error, 0 warnings"), "{}", out.stderr);
}

#[test]
fn the_new_mentor_example_text_cannot_be_published() {
    let site = Site::fixture("invalid/_base");
    site.run(&["new", "mentor", "Pat Doe"]).assert_code(0);
    let path = "content/mentors/pat-doe.md";
    let filled = site
        .read(path)
        .replace("\nemail:\n", "\nemail: pat@private.example.net\n")
        .replace("\ngrade:\n", "\ngrade: FY2\n")
        .replace("# headshot: pat-doe.jpg", "headshot: false");
    site.write(path, &filled);
    let out = site.run(&["check"]);
    out.assert_code(1);
    insta::assert_snapshot!("placeholder-bio", out.stderr);
}

#[test]
fn a_symlinked_photo_is_named_as_a_link() {
    let site = Site::fixture("invalid/_base");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("jane.jpg"), b"not even read").unwrap();
    site.write(
        "content/mentors/jane-doe.md",
        "---\nname: Jane Doe\nheadshot: jane.jpg\nemail: jane@private.example.net\ngrade: FY2\n---\n\nBio.\n",
    );
    std::os::unix::fs::symlink(
        outside.path().join("jane.jpg"),
        site.path("content/mentors/jane.jpg"),
    )
    .unwrap();
    let out = site.run(&["check"]);
    out.assert_code(0);
    insta::assert_snapshot!("symlinked-photo", out.stderr);
}

#[test]
fn broken_photos_are_reported_with_the_bio_errors_in_one_run() {
    let site = Site::fixture("invalid/_base");
    // A bio with an error of its own, and a photo cut short.
    site.write(
        "content/mentors/jane-doe.md",
        "---\nname: Jane Doe\nemail: jane@private.example.net\ngrade: FY2\nspeciality: GP\n---\n\nBio.\n",
    );
    let px: Vec<u8> = (0..120 * 160 * 3).map(|i| (i * 31 % 251) as u8).collect();
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 85)
        .encode(&px, 120, 160, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let cut = jpeg.len() * 3 / 4;
    std::fs::write(site.path("content/mentors/jane-doe.jpg"), &jpeg[..cut]).unwrap();
    // A correct bio whose photo is an empty file.
    site.write(
        "content/mentors/sam-roe.md",
        "---\nname: Sam Roe\nemail: sam@private.example.net\ngrade: FY2\n---\n\nBio.\n",
    );
    std::fs::write(site.path("content/mentors/sam-roe.jpg"), b"").unwrap();
    for command in ["check", "build"] {
        let out = site.run(&[command]);
        out.assert_code(1);
        insta::assert_snapshot!("photos-with-bio-errors", out.stderr);
    }
    assert!(
        !site.path("public").exists(),
        "a failed build writes nothing"
    );
}
