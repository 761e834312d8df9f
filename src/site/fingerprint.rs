//! A build that would change nothing does nothing. `build` records, in `.cache/build.json`,
//! what it was made from (this program, `site.toml`, every file under `content/` and `themes/`
//! by its content, the options and the date) and what it left in the output folder (every
//! file by size, modification time and inode). When both are as recorded, the output is already
//! what the build would write, and it stops there.
//!
//! Only a build without errors is recorded, with its warnings, which a skipped build prints
//! again (a mentor without a photo yet is still told about). Anything unrecorded (a file edited by hand in the output, a
//! theme file touched, a new day) makes the next build run in full. The record is a cache:
//! deleting `.cache/` is always safe.

use std::hash::Hash;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::sink::Stamp;

/// Where the record is kept, under the root.
pub const FILE: &str = ".cache/build.json";

/// What a clean build was made from and what it left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub inputs: String,
    pub outputs: String,
    pub mentors: usize,
    pub handbook_sections: usize,
    pub pages: usize,
    pub files: usize,
    pub warnings: Vec<Warning>,
}

/// A warning as the record keeps it (every field of [`Diagnostic`], so it prints the same).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    path: PathBuf,
    line: usize,
    column: usize,
    message: String,
    hint: Option<String>,
    len: Option<usize>,
}

impl From<&Diagnostic> for Warning {
    fn from(d: &Diagnostic) -> Self {
        Warning {
            path: d.path.clone(),
            line: d.line,
            column: d.column,
            message: d.message.clone(),
            hint: d.hint.clone(),
            len: d.len,
        }
    }
}

impl From<Warning> for Diagnostic {
    fn from(w: Warning) -> Self {
        let mut d = Diagnostic::warning(w.path, crate::diag::Pos::new(w.line, w.column), w.message);
        d.hint = w.hint;
        d.len = w.len;
        d
    }
}

/// What a build is made from, besides the content and theme files.
#[derive(Hash)]
pub struct Settings<'a> {
    pub config_text: &'a [u8],
    pub base_url: Option<&'a str>,
    pub output_dir: &'a Path,
    pub today: jiff::civil::Date,
}

/// A hash of everything the build at `root` reads.
pub fn inputs(root: &Path, settings: &Settings) -> std::io::Result<String> {
    hash_of(root, settings, &[crate::content::CONTENT_DIR, "themes"])
}

/// A hash of what the build at `root` reads but its content: what its memo of pages is good for
/// ([`crate::render::Memo::load`]).
pub fn salt(root: &Path, settings: &Settings) -> std::io::Result<String> {
    hash_of(root, settings, &["themes"])
}

fn hash_of(root: &Path, settings: &Settings, dirs: &[&str]) -> std::io::Result<String> {
    let mut h = Hasher::default();
    env!("CARGO_PKG_VERSION").hash(&mut h);
    // A rebuilt program with the same version number is a different program.
    if let Ok(exe) = std::env::current_exe() {
        Stamp::of(&exe).hash(&mut h);
    }
    settings.hash(&mut h);
    for dir in dirs {
        contents(&root.join(dir), &mut h)?;
    }
    Ok(h.finish_hex())
}

/// Hash every file under `dir` by its path and its content, in name order: a file touched
/// but not changed, or checked out again, is the same input.
fn contents(dir: &Path, h: &mut Hasher) -> std::io::Result<()> {
    use rayon::prelude::*;
    dir.hash(h);
    if !dir.exists() {
        return Ok(());
    }
    let mut paths = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(std::io::Error::other)?;
        if !entry.file_type().is_dir() {
            paths.push(entry.into_path());
        }
    }
    let hashes: Vec<std::io::Result<[u8; 32]>> = paths
        .par_iter()
        .map(|p| match std::fs::read(p) {
            Ok(bytes) => Ok(*blake3::hash(&bytes).as_bytes()),
            // A dangling symlink is part of the input as it is.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok([0; 32]),
            Err(e) => Err(e),
        })
        .collect();
    for (path, hash) in paths.iter().zip(hashes) {
        path.strip_prefix(dir).unwrap_or(path).hash(h);
        hash?.hash(h);
    }
    Ok(())
}

/// A hash of every file under the output folder `dir` (with the count of files).
pub fn outputs(dir: &Path) -> std::io::Result<(String, usize)> {
    let files = files(dir)?;
    Ok((outputs_of(dir, &files), files.len()))
}

/// The hash [`outputs`] gives for a folder `dir` holding `files` (in path order), as the writer
/// found them after a build.
pub fn outputs_of(dir: &Path, files: &[(PathBuf, Stamp)]) -> String {
    let mut h = Hasher::default();
    dir.hash(&mut h);
    for (rel, stamp) in files {
        rel.hash(&mut h);
        stamp.hash(&mut h);
    }
    h.finish_hex()
}

/// The record of the last clean build at `root`, if there is a readable one.
pub fn load(root: &Path) -> Option<Record> {
    let text = std::fs::read(root.join(FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

pub fn save(root: &Path, record: &Record) -> Result<(), crate::sink::WriteError> {
    let json = serde_json::to_vec_pretty(record).unwrap_or_default();
    crate::sink::write_atomic(&root.join(FILE), &json)
}

/// Forget the last build (it had problems, or failed): the next one runs in full.
pub fn forget(root: &Path) {
    let _ = std::fs::remove_file(root.join(FILE));
}

/// Every file under `dir` but the output folder's mark, with its stamp (a symlink by its
/// target), in path order; a missing folder has none.
fn files(dir: &Path) -> std::io::Result<Vec<(PathBuf, Stamp)>> {
    use rayon::prelude::*;
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mark = Path::new(super::output::MARKER);
    let mut files: Vec<(PathBuf, Stamp)> = super::walk::entries(dir)?
        .into_par_iter()
        .filter(|e| !e.file_type.is_dir() && e.rel != mark)
        .map(|e| {
            let path = dir.join(&e.rel);
            let stamp = if e.file_type.is_symlink() {
                Stamp::of(&path)
            } else {
                std::fs::symlink_metadata(&path)
                    .ok()
                    .map(|m| Stamp::from_meta(&m))
            };
            (e.rel, stamp.unwrap_or(super::output::MISSING))
        })
        .collect();
    files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// `std::hash::Hasher` over blake3, so the record does not depend on Rust's hasher.
#[derive(Default)]
struct Hasher(blake3::Hasher);

impl std::hash::Hasher for Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let bytes = self.0.finalize();
        u64::from_le_bytes(bytes.as_bytes()[..8].try_into().unwrap_or_default())
    }
}

impl Hasher {
    fn finish_hex(&self) -> String {
        self.0.finalize().to_hex().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touched_file_changes_the_hash_and_an_untouched_tree_does_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/one.md"), "one").unwrap();
        let (first, n) = outputs(dir.path()).unwrap();
        assert_eq!(n, 1);
        assert_eq!(outputs(dir.path()).unwrap().0, first);
        std::fs::write(dir.path().join("a/one.md"), "three").unwrap();
        let (second, _) = outputs(dir.path()).unwrap();
        std::fs::write(dir.path().join("a/two.md"), "").unwrap();
        let (third, n) = outputs(dir.path()).unwrap();
        assert_eq!(n, 2);
        assert!(first != second && second != third);
    }
}
