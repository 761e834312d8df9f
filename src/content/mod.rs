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
    load_cached(root, diags, None, None)
}

/// Where `build` keeps the front matter it parsed, under the root.
pub const FRONT_MEMO_FILE: &str = ".cache/front.bin";

/// Bump when parsing or linting front matter changes what they give.
const FRONT_FORMAT: &str = "front-1";

/// Front matter parsed by an earlier build, by a hash of the file's path and text, for a build
/// in a new process (`serve` keeps whole documents instead, [`Cache`]): parsing the YAML is
/// most of the reading. Only front matter that parsed and linted without a problem is kept, so
/// a file with problems is parsed again and its messages come out as ever. A file whose text
/// changed by a byte has a new hash and is parsed again. Each front matter is kept encoded
/// (about 400 bytes for a bio, several times that decoded) and decoded only when its file is
/// read.
#[derive(Default)]
pub struct FrontMemo {
    known: HashMap<u128, Vec<u8>>,
    /// This build's: what the next build can reuse (files that are gone drop out). Keys of
    /// `known` found again, and front matter parsed anew.
    found: Mutex<Vec<u128>>,
    parsed: Mutex<Vec<(u128, Vec<u8>)>>,
}

type SavedFront = (String, String, Vec<(u128, Vec<u8>)>);

impl FrontMemo {
    /// What `file` holds, or an empty memo if it is missing, unreadable or from another version.
    pub fn load(file: &Path) -> FrontMemo {
        let known = std::fs::read(file)
            .ok()
            .and_then(|bytes| postcard::from_bytes::<SavedFront>(&bytes).ok())
            .filter(|(format, version, _)| {
                format == FRONT_FORMAT && version == env!("CARGO_PKG_VERSION")
            })
            .map(|(_, _, fronts)| fronts.into_iter().collect())
            .unwrap_or_default();
        FrontMemo {
            known,
            ..FrontMemo::default()
        }
    }

    /// Write what this build read to `file`, unless it is what was loaded.
    pub fn save(&self, file: &Path) -> Result<(), crate::sink::WriteError> {
        let found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        let parsed = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        if parsed.is_empty() && found.len() == self.known.len() {
            return Ok(());
        }
        // Borrowed, in the shape of [`SavedFront`].
        let mut fronts: Vec<(u128, &[u8])> = found
            .iter()
            .filter_map(|k| self.known.get(k).map(|b| (*k, b.as_slice())))
            .chain(parsed.iter().map(|(k, b)| (*k, b.as_slice())))
            .collect();
        fronts.sort_unstable_by_key(|(k, _)| *k);
        fronts.dedup_by_key(|(k, _)| *k);
        let saved = (FRONT_FORMAT, env!("CARGO_PKG_VERSION"), fronts);
        let bytes = postcard::to_stdvec(&saved).map_err(|e| crate::sink::WriteError {
            path: file.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        crate::sink::write_atomic(file, &bytes)
    }

    /// The front matter remembered under `key`, if any (and if it decodes).
    fn get(&self, key: u128) -> Option<FrontMatter> {
        let front = postcard::from_bytes(self.known.get(&key)?).ok()?;
        self.found
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(key);
        Some(front)
    }

    fn parsed(&self, key: u128, front: &FrontMatter) {
        if let Ok(bytes) = postcard::to_stdvec(front) {
            self.parsed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((key, bytes));
        }
    }

    fn key(rel: &Path, text: &str) -> u128 {
        let mut h = blake3::Hasher::new();
        h.update(rel.as_os_str().as_encoded_bytes());
        h.update(&[0]);
        h.update(text.as_bytes());
        let bytes = h.finalize();
        u128::from_le_bytes(bytes.as_bytes()[..16].try_into().unwrap_or([0; 16]))
    }
}

/// [`load`], reusing what `cache` holds of files that have not changed.
pub fn load_cached(
    root: &Path,
    diags: &mut Diagnostics,
    cache: Option<&Cache>,
    front: Option<&FrontMemo>,
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
                Ok(text) => read_document(&rel, &text, &mut problems, front).map(Arc::new),
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

fn read_document(
    rel: &Path,
    text: &str,
    diags: &mut Diagnostics,
    memo: Option<&FrontMemo>,
) -> Option<Document> {
    let text = frontmatter::normalise(text);
    let split = match frontmatter::split(&text, rel) {
        Ok(s) => s,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let key = memo.map(|_| FrontMemo::key(rel, &text));
    if let (Some(m), Some(k)) = (memo, key)
        && let Some(front) = m.get(k)
    {
        return Some(document(rel, &text, &split, front));
    }
    let front = match frontmatter::parse(&split, rel) {
        Ok(f) => f,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let problems = frontmatter::lint(&split, &front, rel);
    if let (Some(m), Some(k), true) = (memo, key, problems.is_empty()) {
        m.parsed(k, &front);
    }
    diags.extend(problems);
    Some(document(rel, &text, &split, front))
}

fn document(rel: &Path, text: &str, split: &frontmatter::Split, front: FrontMatter) -> Document {
    let body_line = split.yaml_line + split.yaml.lines().count() + 1;
    Document {
        path: rel.to_path_buf(),
        slug: slug_of(rel),
        front,
        body: split.body.to_string(),
        body_line,
        digest: digest(text.as_bytes()),
    }
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

    /// Build after build in new processes: unchanged front matter comes from the memo (and the
    /// memo file is left alone), an edited file is parsed again, a file with a warning is
    /// parsed every time so the warning is given every time, and a removed file drops out.
    #[test]
    fn front_matter_is_reused_from_the_memo_only_while_the_file_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mentors = root.join("content/mentors");
        std::fs::create_dir_all(&mentors).unwrap();
        let bio = |name: &str, extra: &str| format!("---\nname: {name}\n{extra}---\nHello.\n");
        std::fs::write(mentors.join("ann.md"), bio("Ann", "")).unwrap();
        std::fs::write(mentors.join("bo.md"), bio("Bo", "")).unwrap();
        let folded = "languages:\n  - English\n   - Hindi\n";
        std::fs::write(mentors.join("cy.md"), bio("Cy", folded)).unwrap();
        let file = root.join(FRONT_MEMO_FILE);
        let build = || {
            let memo = FrontMemo::load(&file);
            let mut diags = Diagnostics::new();
            let tree = load_cached(root, &mut diags, None, Some(&memo)).unwrap();
            memo.save(&file).unwrap();
            let parsed = memo.parsed.lock().unwrap().len();
            let names: Vec<String> = tree
                .mentors
                .iter()
                .map(|d| match &d.front.get("name").unwrap().value.value {
                    Node::Str(s) => s.clone(),
                    other => panic!("{other:?}"),
                })
                .collect();
            (parsed, diags.warning_count(), names, memo.known.len())
        };
        let plain = load(root, &mut Diagnostics::new()).unwrap();

        assert_eq!(
            build(),
            (2, 1, vec!["Ann".into(), "Bo".into(), "Cy".into()], 0)
        );
        let saved = std::fs::metadata(&file).unwrap().modified().unwrap();
        assert_eq!(
            build(),
            (0, 1, vec!["Ann".into(), "Bo".into(), "Cy".into()], 2)
        );
        assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), saved);
        // What the memo gives is what parsing gives.
        let memo = FrontMemo::load(&file);
        let again = load_cached(root, &mut Diagnostics::new(), None, Some(&memo)).unwrap();
        for (a, b) in plain.mentors.iter().zip(&again.mentors) {
            assert_eq!(
                (&a.front, &a.body, a.body_line, a.digest),
                (&b.front, &b.body, b.body_line, b.digest)
            );
        }

        std::fs::write(mentors.join("bo.md"), bio("Bea", "")).unwrap();
        std::fs::remove_file(mentors.join("ann.md")).unwrap();
        assert_eq!(build(), (1, 1, vec!["Bea".into(), "Cy".into()], 2));
        assert_eq!(build(), (0, 1, vec!["Bea".into(), "Cy".into()], 1));

        // A memo from another format or version, or not a memo at all, is not read.
        std::fs::write(&file, b"not a memo").unwrap();
        assert_eq!(build(), (1, 1, vec!["Bea".into(), "Cy".into()], 0));
    }

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
