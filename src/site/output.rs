//! Write the rendered files into the output folder: atomically, only when changed, and remove
//! what no longer belongs (a deleted mentor's page disappears).
//!
//! Because a build deletes what it did not write, where it writes is decided with care before
//! anything is touched: the path is resolved through `..` and symlinks ([`resolve`]), and a
//! folder that is, holds or sits inside the site's own files is refused, as is any non-empty
//! folder that mentorsite did not make (it marks its own with a `.mentorsite` file).

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::sink::{OutputFile, Sink, SinkError, Stamp, WriteError, write_atomic};

pub const MARKER: &str = ".mentorsite";

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(
        "refusing to build into {}: {why}; a build deletes every file there that it did not write (choose a folder of its own, e.g. --output public)",
        shown(.given, .resolved)
    )]
    Unsafe {
        given: String,
        resolved: PathBuf,
        why: String,
    },
    #[error(
        "refusing to build into {}: it is not empty and was not made by mentorsite (choose an empty folder, or delete it first)",
        shown(.given, .resolved)
    )]
    NotOurs { given: String, resolved: PathBuf },
    #[error("refusing to build into {}: it is a file, not a folder", shown(.given, .resolved))]
    NotAFolder { given: String, resolved: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<WriteError> for OutputError {
    fn from(e: WriteError) -> Self {
        OutputError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

/// `newdir/..` (that is /srv/site): the path as given, and where it leads when that differs.
fn shown(given: &str, resolved: &Path) -> String {
    if Path::new(given) == resolved {
        given.to_string()
    } else {
        format!("{given} (that is {})", resolved.display())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Resolve `path` as the system would when writing there: absolute, every `..` and symlink
/// followed, without creating anything. Components that do not exist yet are taken as written,
/// so `newdir/..` is the folder `newdir` sits in, whether or not `newdir` exists.
pub fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let abs = std::path::absolute(path)?;
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => out.push(c.as_os_str()),
            Component::CurDir => {}
            // `out` never holds a symlink (existing parts are canonical, the rest do not
            // exist), so going up lexically is going up on disk.
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if std::fs::symlink_metadata(&out).is_ok() {
                    out = std::fs::canonicalize(&out)?;
                }
            }
        }
    }
    Ok(out)
}

/// Why `out` may not be the output of the site at `root`, if it may not. Both resolved.
fn unsafe_reason(root: &Path, out: &Path) -> Option<String> {
    if out == root {
        return Some("it is the site's own folder (site.toml, content/, themes/)".into());
    }
    if root.starts_with(out) {
        return Some(format!("it holds the site's own folder {}", root.display()));
    }
    for source in ["content", "themes"] {
        let dir = root.join(source);
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        if out.starts_with(&dir) {
            return Some(format!("it is inside {source}/, the site's own files"));
        }
        if dir.starts_with(out) {
            return Some(format!("it holds {source}/ ({})", dir.display()));
        }
    }
    None
}

/// The output folder asked for, and how to name it in a message (the path as typed, or the
/// line of site.toml it came from).
#[derive(Debug, Clone)]
pub struct Target {
    pub path: PathBuf,
    pub given: String,
}

impl Target {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let given = path.display().to_string();
        Self { path, given }
    }
}

/// Resolve and vet `out` as the output of the site at `root`; nothing is written.
pub fn vet(root: &Path, out: &Target) -> Result<PathBuf, OutputError> {
    let given = out.given.clone();
    let out = &out.path;
    let resolved = resolve(out).map_err(io(out))?;
    let root = resolve(root).map_err(io(root))?;
    if let Some(why) = unsafe_reason(&root, &resolved) {
        return Err(OutputError::Unsafe {
            given,
            resolved,
            why,
        });
    }
    match std::fs::metadata(&resolved) {
        Ok(meta) if !meta.is_dir() => Err(OutputError::NotAFolder { given, resolved }),
        Ok(_) => {
            let empty = std::fs::read_dir(&resolved)
                .map_err(io(&resolved))?
                .next()
                .is_none();
            if !empty && !resolved.join(MARKER).is_file() {
                return Err(OutputError::NotOurs { given, resolved });
            }
            Ok(resolved)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(resolved),
        Err(e) => Err(io(&resolved)(e)),
    }
}

/// Writes each rendered file as it arrives; [`DiskWriter::finish`] then prunes.
pub struct DiskWriter {
    dir: PathBuf,
    written: AtomicUsize,
    unchanged: AtomicUsize,
    /// Every file this build wrote or kept, with its stamp when that is known already.
    paths: Mutex<HashMap<PathBuf, Option<Stamp>>>,
}

impl DiskWriter {
    /// Vet `out` as the output of the site at `root` ([`vet`]), then create and mark it.
    pub fn open(root: &Path, out: &Target) -> Result<Self, OutputError> {
        let dir = vet(root, out)?;
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let marker = dir.join(MARKER);
        if !marker.is_file() {
            write_atomic(
                &marker,
                b"Built by mentorsite: files here not written by the last build are deleted.\n",
            )?;
        }
        Ok(Self {
            dir,
            written: AtomicUsize::new(0),
            unchanged: AtomicUsize::new(0),
            paths: Mutex::new(HashMap::new()),
        })
    }

    /// The folder being written, resolved.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Remove what this build did not write, and report.
    pub fn finish(self) -> Result<WriteReport, OutputError> {
        self.finish_stamped().map(|(report, _)| report)
    }

    /// [`finish`](Self::finish), with every file the folder then holds and its [`Stamp`], in
    /// path order (for the build's record and its memo of pages).
    pub fn finish_stamped(self) -> Result<(WriteReport, Vec<(PathBuf, Stamp)>), OutputError> {
        let keep = self.paths.into_inner().unwrap_or_else(|e| e.into_inner());
        let (removed, stamps) = prune(&self.dir, &keep)?;
        let report = WriteReport {
            written: self.written.into_inner(),
            unchanged: self.unchanged.into_inner(),
            removed,
        };
        Ok((report, stamps))
    }

    fn record(&self, path: PathBuf, stamp: Option<Stamp>) {
        self.paths
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path, stamp);
    }
}

impl Sink for DiskWriter {
    fn put(&self, file: OutputFile) -> Result<(), SinkError> {
        let target = self.dir.join(&file.path);
        // Unchanged files keep their dates: servers, caches and live reload see no change.
        let stamp = match same_file(&target, &file.bytes) {
            Some(stamp) => {
                self.unchanged.fetch_add(1, Ordering::Relaxed);
                Some(stamp)
            }
            None => {
                write_atomic(&target, &file.bytes)?;
                self.written.fetch_add(1, Ordering::Relaxed);
                Stamp::of(&target)
            }
        };
        self.record(file.path, stamp);
        Ok(())
    }

    fn keep(&self, path: &Path, stamp: &Stamp) -> Result<bool, SinkError> {
        if Stamp::of(&self.dir.join(path)).as_ref() != Some(stamp) {
            return Ok(false);
        }
        self.unchanged.fetch_add(1, Ordering::Relaxed);
        self.record(path.to_path_buf(), Some(*stamp));
        Ok(true)
    }

    /// The file is not read back to be compared, as `put` does: one with the same name and
    /// size is the same. Every build outputs each mentor's avatar, 5,000 of them at 5,000
    /// mentors, where a page is only output when it is made again.
    fn put_hashed(&self, file: OutputFile) -> Result<(), SinkError> {
        let target = self.dir.join(&file.path);
        match std::fs::metadata(&target) {
            Ok(meta) if meta.is_file() && meta.len() == file.bytes.len() as u64 => {
                self.unchanged.fetch_add(1, Ordering::Relaxed);
                self.record(file.path, Some(Stamp::from_meta(&meta)));
                Ok(())
            }
            _ => self.put(file),
        }
    }

    /// Images have content-hashed names: one already in place with the same size is the same.
    /// A new one is a hard link to the cache's file where the two share a disk.
    fn copy(&self, path: PathBuf, from: &Path) -> Result<(), SinkError> {
        let target = self.dir.join(&path);
        let same = match (std::fs::metadata(&target), std::fs::metadata(from)) {
            (Ok(a), Ok(b)) => a.len() == b.len(),
            _ => false,
        };
        if same {
            self.unchanged.fetch_add(1, Ordering::Relaxed);
        } else {
            crate::sink::link_atomic(&target, from)?;
            self.written.fetch_add(1, Ordering::Relaxed);
        }
        self.record(path, None);
        Ok(())
    }
}

/// The stamp of `target` if it holds exactly `bytes` (read only when the size matches).
fn same_file(target: &Path, bytes: &[u8]) -> Option<Stamp> {
    use std::io::Read;
    let mut file = std::fs::File::open(target).ok()?;
    let meta = file.metadata().ok()?;
    if meta.len() != bytes.len() as u64 {
        return None;
    }
    let mut old = Vec::with_capacity(bytes.len());
    file.read_to_end(&mut old).ok()?;
    (old == bytes).then(|| Stamp::from_meta(&meta))
}

/// Write `files` into `out` for the site at `root`, and prune: the whole job for callers that
/// already hold the files.
pub fn write(root: &Path, out: &Path, files: &[OutputFile]) -> Result<WriteReport, OutputError> {
    let writer = DiskWriter::open(root, &Target::new(out))?;
    for f in files {
        writer.put(f.clone()).map_err(|e| OutputError::Io {
            path: writer.dir().join(&f.path),
            source: std::io::Error::other(e),
        })?;
    }
    writer.finish()
}

/// Delete files under `out_dir` that are not in `keep`, and the folders that leaves empty.
/// Symlinks are removed as links, never followed. Returns how many files went, and what is
/// left with its [`Stamp`] (a symlink stamped by its target), in path order.
fn prune(
    out_dir: &Path,
    keep: &HashMap<PathBuf, Option<Stamp>>,
) -> Result<(usize, Vec<(PathBuf, Stamp)>), OutputError> {
    let mut removed = 0;
    let mut dirs = Vec::new();
    let mut kept = Vec::new();
    // Folders holding something that stays: only the others are looked at again.
    let mut occupied: HashSet<PathBuf> = HashSet::new();
    let entries = super::walk::entries(out_dir).map_err(io(out_dir))?;
    for entry in entries {
        let rel = entry.rel.as_path();
        let path = out_dir.join(rel);
        if entry.file_type.is_dir() {
            dirs.push(entry.rel);
            continue;
        } else if rel == Path::new(MARKER) {
            // The folder's own mark: neither pruned nor part of the site.
            continue;
        } else if !keep.contains_key(rel) {
            std::fs::remove_file(&path).map_err(io(&path))?;
            removed += 1;
            continue;
        }
        let stamp = if let Some(Some(known)) = keep.get(rel) {
            Some(*known)
        } else if entry.file_type.is_symlink() {
            Stamp::of(&path)
        } else {
            std::fs::symlink_metadata(&path)
                .ok()
                .map(|m| Stamp::from_meta(&m))
        };
        let mut parent = rel.parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            if !occupied.insert(p.to_path_buf()) {
                break;
            }
            parent = p.parent();
        }
        kept.push((entry.rel, stamp.unwrap_or(MISSING)));
    }
    // Deepest first, so a folder emptied of folders goes too.
    dirs.retain(|d| !occupied.contains(d));
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let d = out_dir.join(d);
        if std::fs::read_dir(&d).map_err(io(&d))?.next().is_none() {
            std::fs::remove_dir(&d).map_err(io(&d))?;
        }
    }
    kept.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok((removed, kept))
}

/// The stamp of a file that vanished while the folder was read.
pub const MISSING: Stamp = Stamp {
    len: u64::MAX,
    modified: 0,
    inode: 0,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &str, s: &str) -> OutputFile {
        OutputFile::new(p, s.as_bytes().to_vec())
    }

    fn site() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for d in ["content", "themes"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join("site.toml"), "title = \"x\"\n").unwrap();
        dir
    }

    #[test]
    fn writes_skips_unchanged_and_prunes() {
        let root = site();
        let out = root.path().join("public");
        let r = write(
            root.path(),
            &out,
            &[file("a/index.html", "A"), file("b/index.html", "B")],
        )
        .unwrap();
        assert_eq!(r.written, 2);
        let r = write(root.path(), &out, &[file("a/index.html", "A2")]).unwrap();
        assert_eq!((r.written, r.unchanged, r.removed), (1, 0, 1));
        assert!(!out.join("b").exists(), "empty folder removed");
        let r = write(root.path(), &out, &[file("a/index.html", "A2")]).unwrap();
        assert_eq!((r.written, r.unchanged), (0, 1));
    }

    #[test]
    fn refuses_a_folder_it_did_not_make() {
        let root = site();
        let docs = root.path().join("docs");
        std::fs::create_dir(&docs).unwrap();
        std::fs::write(docs.join("thesis.docx"), "precious").unwrap();
        let err = write(root.path(), &docs, &[file("index.html", "x")]).unwrap_err();
        assert!(matches!(err, OutputError::NotOurs { .. }), "{err}");
        assert!(docs.join("thesis.docx").exists());
    }

    #[test]
    fn resolves_parents_of_folders_that_do_not_exist() {
        let root = site();
        let r = resolve(&root.path().join("newdir/..")).unwrap();
        assert_eq!(r, std::fs::canonicalize(root.path()).unwrap());
        let r = resolve(&root.path().join("a/b/../c")).unwrap();
        assert_eq!(r, std::fs::canonicalize(root.path()).unwrap().join("a/c"));
        assert!(!root.path().join("a").exists(), "nothing is created");
    }

    #[test]
    fn refuses_the_root_its_parent_and_its_sources() {
        let root = site();
        let r = root.path();
        for out in [
            r.to_path_buf(),
            r.join("newdir/.."),
            r.join("a/b/../../"),
            r.join(".."),
            r.join("content"),
            r.join("content/public"),
            r.join("themes/default/../x"),
        ] {
            let err = vet(r, &Target::new(&out)).unwrap_err();
            assert!(matches!(err, OutputError::Unsafe { .. }), "{out:?}: {err}");
        }
        assert!(vet(r, &Target::new(r.join("public"))).is_ok());
        assert!(vet(r, &Target::new(r.join("newdir/../public"))).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn follows_symlinks_before_deciding() {
        let root = site();
        let r = root.path();
        std::os::unix::fs::symlink(r, r.join("loop")).unwrap();
        std::os::unix::fs::symlink(r.join("content"), r.join("public")).unwrap();
        for out in [r.join("loop"), r.join("public"), r.join("public/sub")] {
            let err = vet(r, &Target::new(&out)).unwrap_err();
            assert!(matches!(err, OutputError::Unsafe { .. }), "{out:?}: {err}");
        }
    }
}
