//! Walk `content/` and sort what is there into bios, handbook sections and pages.
//!
//! This stage knows about files and front matter only: it reads each markdown file, splits off
//! and parses its YAML, and reports problems as diagnostics. What the keys mean is decided by
//! [`crate::register`].

pub mod frontmatter;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rayon::prelude::*;
use walkdir::WalkDir;

use crate::diag::{Diagnostic, Diagnostics, Pos};
pub use frontmatter::{Entry, FrontMatter, Located, Node};

pub const CONTENT_DIR: &str = "content";

/// Image extensions a headshot may have (SVG is recognised only to be refused).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "svg"];

/// A markdown file with its front matter parsed.
#[derive(Debug, Clone)]
pub struct Document {
    /// Relative to the site root, e.g. `content/mentors/jane-doe.md`.
    pub path: PathBuf,
    /// From the file name (or the bundle folder's name for `<slug>/index.md`).
    pub slug: String,
    pub front: FrontMatter,
    pub body: String,
    /// The file line on which the body starts.
    pub body_line: usize,
    /// A hash of the file's text: what `serve` compares to know a bio is unchanged.
    pub digest: u64,
}

/// The first eight bytes of the BLAKE3 hash of `bytes`.
pub fn digest(bytes: &[u8]) -> u64 {
    let hash = blake3::hash(bytes);
    u64::from_le_bytes(hash.as_bytes()[..8].try_into().unwrap_or_default())
}

/// Everything found under `content/`, each list sorted by path.
#[derive(Debug, Default)]
pub struct ContentTree {
    pub home: Option<Arc<Document>>,
    pub mentors: Vec<Arc<Document>>,
    pub handbook_index: Option<Arc<Document>>,
    pub handbook: Vec<Arc<Document>>,
    pub pages: Vec<Arc<Document>>,
    /// Image files under `content/`, relative to the root.
    pub images: BTreeSet<PathBuf>,
    /// Symbolic links with an image's name: never followed (one could point outside the root),
    /// known so that a bio naming one is told why it is not used.
    pub image_links: BTreeSet<PathBuf>,
}

/// Is this a file people leave behind by accident (hidden, editor swap or backup files)?
pub fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || name.starts_with('#')
        || name.ends_with(".swp")
        || name.ends_with(".swo")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name.ends_with(".bak")
        || name.eq_ignore_ascii_case("Thumbs.db")
        || name.eq_ignore_ascii_case("desktop.ini")
}

/// Parsed files kept between builds (`serve`), by path, with the [`Stamp`] they had: a file
/// whose size, time and inode are unchanged is not read again.
#[derive(Default)]
pub struct Cache(Mutex<HashMap<PathBuf, Cached>>);

/// Documents are shared with the tree each build is given, not copied (a register's bios are
/// tens of megabytes).
type Cached = (Stamp, Option<Arc<Document>>, Diagnostics);

/// What a file's metadata says about its content: size, modification time, and (on Unix) the
/// inode, which an editor's save-by-rename changes even within one clock tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(meta: Option<std::fs::Metadata>) -> Stamp {
        let Some(meta) = meta else {
            return Stamp {
                len: u64::MAX,
                modified: None,
                inode: 0,
            };
        };
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map_or(0, |m| m.len());
        write!(f, "content::Cache({n} files)")
    }
}

/// Read `root/content`. A missing folder or unreadable file is an I/O error; bad files become
/// diagnostics and are left out of the tree.
pub fn load(root: &Path, diags: &mut Diagnostics) -> std::io::Result<ContentTree> {
    load_cached(root, diags, None)
}

/// [`load`], reusing what `cache` holds of files that have not changed.
pub fn load_cached(
    root: &Path,
    diags: &mut Diagnostics,
    cache: Option<&Cache>,
) -> std::io::Result<ContentTree> {
    let content = root.join(CONTENT_DIR);
    if !content.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no `{CONTENT_DIR}` folder in {}", root.display()),
        ));
    }
    let mut tree = ContentTree::default();
    let walker = WalkDir::new(&content)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_ignored_name(&e.file_name().to_string_lossy()));
    let mut markdown = Vec::new();
    for entry in walker {
        let entry = entry.map_err(std::io::Error::other)?;
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .to_path_buf();
        if entry.file_type().is_symlink() {
            if extension(&rel).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())) {
                tree.image_links.insert(rel);
            }
            continue;
        }
        if !entry.file_type().is_file() {
            continue;
        }
        match extension(&rel).as_deref() {
            Some("md") => markdown.push(rel),
            Some(ext) if IMAGE_EXTENSIONS.contains(&ext) => {
                tree.images.insert(rel);
            }
            _ => {}
        }
    }

    // Stat, read and parse in parallel; each file's problems are kept with it, so the messages
    // come out in path order whatever the threads did.
    let parsed: Vec<(PathBuf, Option<Arc<Document>>, Diagnostics)> = markdown
        .into_par_iter()
        .map(|rel| {
            let stamp = Stamp::of(std::fs::symlink_metadata(root.join(&rel)).ok());
            if let Some(cache) = cache {
                let map = cache.0.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((was, doc, problems)) = map.get(&rel)
                    && *was == stamp
                    && stamp.modified.is_some()
                {
                    return Ok((rel, doc.clone(), problems.clone()));
                }
            }
            let mut problems = Diagnostics::new();
            let bytes = std::fs::read(root.join(&rel))?;
            let doc = match String::from_utf8(bytes) {
                Ok(text) => read_document(&rel, &text, &mut problems).map(Arc::new),
                Err(_) => {
                    problems.push(
                        Diagnostic::error(&rel, Pos::START, "the file is not UTF-8 text")
                            .with_hint("save it as UTF-8 (\"Unicode\") in your editor"),
                    );
                    None
                }
            };
            if let Some(cache) = cache {
                let mut map = cache.0.lock().unwrap_or_else(|e| e.into_inner());
                map.insert(rel.clone(), (stamp, doc.clone(), problems.clone()));
            }
            Ok((rel, doc, problems))
        })
        .collect::<std::io::Result<_>>()?;
    if let Some(cache) = cache {
        let mut map = cache.0.lock().unwrap_or_else(|e| e.into_inner());
        let present: BTreeSet<&PathBuf> = parsed.iter().map(|(rel, _, _)| rel).collect();
        map.retain(|rel, _| present.contains(rel));
    }
    for (rel, doc, problems) in parsed {
        diags.extend(problems);
        let Some(doc) = doc else {
            continue;
        };
        match classify(&rel) {
            Kind::Home => tree.home = Some(doc),
            Kind::Mentor => tree.mentors.push(doc),
            Kind::HandbookIndex => tree.handbook_index = Some(doc),
            Kind::Handbook => tree.handbook.push(doc),
            Kind::Page => tree.pages.push(doc),
            Kind::MisplacedInMentors => diags.push(
                Diagnostic::error(
                    &rel,
                    Pos::START,
                    "a markdown file inside a bio's folder is not a bio",
                )
                .with_hint("a bio is content/mentors/<slug>.md or content/mentors/<slug>/index.md"),
            ),
        }
    }
    Ok(tree)
}

enum Kind {
    Home,
    Mentor,
    HandbookIndex,
    Handbook,
    Page,
    MisplacedInMentors,
}

fn classify(rel: &Path) -> Kind {
    let parts: Vec<String> = rel
        .iter()
        .skip(1)
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match parts.as_slice() {
        ["_index.md"] => Kind::Home,
        ["mentors", _] => Kind::Mentor,
        ["mentors", _, "index.md"] => Kind::Mentor,
        ["mentors", ..] => Kind::MisplacedInMentors,
        ["handbook", "_index.md"] => Kind::HandbookIndex,
        ["handbook", ..] => Kind::Handbook,
        _ => Kind::Page,
    }
}

fn read_document(rel: &Path, text: &str, diags: &mut Diagnostics) -> Option<Document> {
    let text = frontmatter::normalise(text);
    let split = match frontmatter::split(&text, rel) {
        Ok(s) => s,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let front = match frontmatter::parse(&split, rel) {
        Ok(f) => f,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    diags.extend(frontmatter::lint(&split, &front, rel));
    let body_line = split.yaml_line + split.yaml.lines().count() + 1;
    Some(Document {
        path: rel.to_path_buf(),
        slug: slug_of(rel),
        front,
        body: split.body.to_string(),
        body_line,
        digest: digest(text.as_bytes()),
    })
}

/// `mentors/jane-doe.md` → `jane-doe`; `mentors/jane-doe/index.md` → `jane-doe`.
fn slug_of(rel: &Path) -> String {
    let stem = rel.file_stem().map(|s| s.to_string_lossy().into_owned());
    match stem.as_deref() {
        Some("index") => rel
            .parent()
            .and_then(Path::file_name)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Some(s) => s.to_string(),
        None => String::new(),
    }
}

pub fn extension(p: &Path) -> Option<String> {
    p.extension().map(|e| e.to_string_lossy().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_leftovers_are_ignored() {
        for name in [
            ".DS_Store",
            "jane.md~",
            ".jane.md.swp",
            "#jane.md#",
            "x.swp",
            "Thumbs.db",
        ] {
            assert!(is_ignored_name(name), "{name}");
        }
        assert!(!is_ignored_name("jane-doe.md"));
    }

    #[test]
    fn slugs_come_from_files_and_bundles() {
        assert_eq!(
            slug_of(Path::new("content/mentors/jane-doe.md")),
            "jane-doe"
        );
        assert_eq!(
            slug_of(Path::new("content/mentors/jane-doe/index.md")),
            "jane-doe"
        );
    }
}
