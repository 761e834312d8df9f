//! A build can never harm the admin's files: every way of pointing the output at the site's
//! own folder, its parent, its sources or someone else's folder is refused with exit code 2
//! and a clear message, before anything is written, and the root and its parent are left byte
//! for byte as they were. What a build does write is readable by any web server.

mod common;

use std::path::Path;

use common::{Site, mentorsite};

/// Every entry under `dir`: path, kind, and bytes (files) or target (links).
fn fingerprint(dir: &Path) -> Vec<(String, String, Vec<u8>)> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(Result::unwrap)
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            let t = e.file_type();
            if t.is_symlink() {
                let to = std::fs::read_link(e.path()).unwrap();
                (rel, "link".into(), to.display().to_string().into_bytes())
            } else if t.is_dir() {
                (rel, "dir".into(), Vec::new())
            } else {
                (rel, "file".into(), std::fs::read(e.path()).unwrap())
            }
        })
        .collect()
}

/// A parent folder holding the demo site (`site/`) and a second site beside it.
struct Parent {
    dir: tempfile::TempDir,
}

impl Parent {
    fn new() -> Parent {
        let dir = tempfile::tempdir().unwrap();
        let demo = Site::demo();
        common::copy_tree(demo.root(), &dir.path().join("site"));
        std::fs::create_dir(dir.path().join("other-site")).unwrap();
        std::fs::write(
            dir.path().join("other-site/site.toml"),
            "title = \"Other\"\n",
        )
        .unwrap();
        Parent { dir }
    }

    fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("site")
    }

    /// Run `build` from the site's folder with `args`; expect a refusal that leaves every file
    /// as it was, and return the message.
    fn refused(&self, args: &[&str]) -> String {
        let before = fingerprint(self.dir.path());
        let mut all = vec!["build"];
        all.extend(args);
        let out = mentorsite(&all).current_dir(&self.root()).run();
        out.assert_code(2);
        assert_eq!(
            fingerprint(self.dir.path()),
            before,
            "`build {}` changed files:\n{}",
            args.join(" "),
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        out.stderr
            .replace(&self.dir.path().display().to_string(), "[parent]")
    }
}

#[test]
fn an_output_through_a_missing_folder_back_to_the_root_is_refused() {
    let p = Parent::new();
    let msg = p.refused(&["--output", "newdir/.."]);
    insta::assert_snapshot!(msg, @"error: refusing to build into newdir/.. (that is [parent]/site): it is the site's own folder (site.toml, content/, themes/); a build deletes every file there that it did not write (choose a folder of its own, e.g. --output public)");
    assert!(!p.root().join("newdir").exists());
}

#[test]
fn the_same_trick_one_level_higher_is_refused() {
    let p = Parent::new();
    let msg = p.refused(&["--output", "newdir/../.."]);
    assert!(msg.contains("it holds the site's own folder"), "{msg}");
    let msg = p.refused(&["--output", "a/b/../../../other-site"]);
    assert!(msg.contains("was not made by mentorsite"), "{msg}");
}

#[test]
fn the_root_its_parent_and_its_sources_are_refused_by_name() {
    let p = Parent::new();
    for (out, why) in [
        (".", "it is the site's own folder"),
        ("..", "it holds the site's own folder"),
        ("/", "it holds the site's own folder"),
        ("content", "it is inside content/"),
        ("content/mentors/public", "it is inside content/"),
        ("themes/default", "it is inside themes/"),
    ] {
        let msg = p.refused(&["--output", out]);
        assert!(msg.contains(why), "{out}: {msg}");
    }
}

#[test]
fn an_output_dir_in_site_toml_that_leads_back_is_refused() {
    let p = Parent::new();
    let config = p.root().join("site.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    for dir in ["a/../", "./", "public/../../"] {
        let edited = text.replace(
            "output_dir = \"public\"",
            &format!("output_dir = \"{dir}\""),
        );
        assert_ne!(edited, text, "the demo's site.toml names its output_dir");
        std::fs::write(&config, &edited).unwrap();
        let msg = p.refused(&[]);
        assert!(
            msg.starts_with("error: refusing to build into"),
            "{dir}: {msg}"
        );
    }
}

#[test]
fn symlinks_are_followed_before_deciding() {
    let p = Parent::new();
    let root = p.root();
    std::os::unix::fs::symlink(&root, root.join("public-link")).unwrap();
    std::os::unix::fs::symlink(root.join("content"), root.join("to-content")).unwrap();
    let msg = p.refused(&["--output", "public-link"]);
    assert!(msg.contains("it is the site's own folder"), "{msg}");
    let msg = p.refused(&["--output", "to-content/new"]);
    assert!(msg.contains("it is inside content/"), "{msg}");
}

#[test]
fn a_folder_mentorsite_did_not_make_is_refused_and_a_file_too() {
    let p = Parent::new();
    std::fs::create_dir(p.root().join("docs")).unwrap();
    std::fs::write(p.root().join("docs/thesis.docx"), "precious").unwrap();
    std::fs::write(p.root().join("notes.txt"), "also precious").unwrap();
    let msg = p.refused(&["--output", "docs"]);
    assert!(msg.contains("was not made by mentorsite"), "{msg}");
    let msg = p.refused(&["--output", "notes.txt"]);
    assert!(msg.contains("it is a file, not a folder"), "{msg}");
}

#[test]
fn a_folder_of_its_own_through_dots_is_fine_and_rebuilt_in_place() {
    let p = Parent::new();
    let out = mentorsite(&["build", "--output", "newdir/../public"])
        .current_dir(&p.root())
        .run();
    out.assert_code(0);
    assert!(p.root().join("public/index.html").is_file());
    assert!(!p.root().join("newdir").exists());
    mentorsite(&["build"])
        .current_dir(&p.root())
        .run()
        .assert_code(0);
}

/// Built files are 0644 and folders 0755 under the usual umask, and follow a stricter one:
/// any static server running as another user can read the site.
#[test]
fn built_files_are_readable_by_any_web_server() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::demo();
    let bin = env!("CARGO_BIN_EXE_mentorsite");
    for (umask, file_mode, dir_mode) in [("022", 0o644, 0o755), ("027", 0o640, 0o750)] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask} && exec \"$0\" build --output out-{umask}"
            ))
            .arg(bin)
            .current_dir(site.root())
            .env("SOURCE_DATE_EPOCH", common::TODAY_EPOCH)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut files = 0;
        for e in walkdir::WalkDir::new(site.path(&format!("out-{umask}"))) {
            let e = e.unwrap();
            let mode = e.metadata().unwrap().permissions().mode() & 0o777;
            let want = if e.file_type().is_dir() {
                dir_mode
            } else {
                file_mode
            };
            assert_eq!(
                mode,
                want,
                "{} is {mode:o} under umask {umask}",
                e.path().display()
            );
            files += usize::from(e.file_type().is_file());
        }
        assert!(files > 50, "{files} files");
    }
}
