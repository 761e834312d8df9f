//! Write the rendered files into the output folder: atomically, only when changed, and remove
//! what no longer belongs (a deleted mentor's page disappears).
//!
//! The folder is marked as ours with a `.mentorsite` file; a non-empty folder without it is
//! refused, so a mistyped `--output` cannot empty someone's documents.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::render::{OutputFile, Sink, SinkError};

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
        "{0} is not empty and was not made by mentorsite; refusing to write there (choose an empty folder, or delete it first)"
    )]
    NotOurs(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes each rendered file as it arrives; [`DiskWriter::finish`] then prunes.
pub struct DiskWriter {
    dir: PathBuf,
    written: AtomicUsize,
    unchanged: AtomicUsize,
    paths: Mutex<BTreeSet<PathBuf>>,
}

impl DiskWriter {
    /// Open (or create) the output folder, refusing one that mentorsite did not make.
    pub fn open(dir: &Path) -> Result<Self, OutputError> {
        prepare(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            written: AtomicUsize::new(0),
            unchanged: AtomicUsize::new(0),
            paths: Mutex::new(BTreeSet::new()),
        })
    }

    /// Remove what this build did not write, and report.
    pub fn finish(self) -> Result<WriteReport, OutputError> {
        let keep = self.paths.into_inner().unwrap_or_else(|e| e.into_inner());
        let removed = prune(&self.dir, &keep)?;
        Ok(WriteReport {
            written: self.written.into_inner(),
            unchanged: self.unchanged.into_inner(),
            removed,
        })
    }
}

impl Sink for DiskWriter {
    fn put(&self, file: OutputFile) -> Result<(), SinkError> {
        let target = self.dir.join(&file.path);
        // Unchanged files keep their dates: servers, caches and live reload see no change.
        if std::fs::read(&target).is_ok_and(|old| old == file.bytes) {
            self.unchanged.fetch_add(1, Ordering::Relaxed);
        } else {
            write_atomic(&target, &file.bytes)?;
            self.written.fetch_add(1, Ordering::Relaxed);
        }
        self.paths
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(file.path);
        Ok(())
    }

    /// Images have content-hashed names: one already in place with the same size is the same.
    fn copy(&self, path: PathBuf, from: &Path) -> Result<(), SinkError> {
        let target = self.dir.join(&path);
        let same = match (std::fs::metadata(&target), std::fs::metadata(from)) {
            (Ok(a), Ok(b)) => a.len() == b.len(),
            _ => false,
        };
        if same {
            self.unchanged.fetch_add(1, Ordering::Relaxed);
        } else {
            write_atomic(&target, &std::fs::read(from)?)?;
            self.written.fetch_add(1, Ordering::Relaxed);
        }
        self.paths
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path);
        Ok(())
    }
}

/// Write `files` and prune: the whole job for callers that already hold the files.
pub fn write(out_dir: &Path, files: &[OutputFile]) -> Result<WriteReport, OutputError> {
    let writer = DiskWriter::open(out_dir)?;
    for f in files {
        writer.put(f.clone()).map_err(|e| OutputError::Io {
            path: out_dir.join(&f.path),
            source: std::io::Error::other(e),
        })?;
    }
    writer.finish()
}

fn prepare(out_dir: &Path) -> Result<(), OutputError> {
    let marker = out_dir.join(MARKER);
    if out_dir.is_dir() {
        let empty = std::fs::read_dir(out_dir)
            .map_err(io(out_dir))?
            .next()
            .is_none();
        if !empty && !marker.is_file() {
            return Err(OutputError::NotOurs(out_dir.to_path_buf()));
        }
    } else {
        std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    }
    if !marker.is_file() {
        std::fs::write(
            &marker,
            "Built by mentorsite: files here not written by the last build are deleted.\n",
        )
        .map_err(io(&marker))?;
    }
    Ok(())
}

/// Write to a temporary file beside the target, then rename over it: a reader (or a web server)
/// sees the old file or the new one, never half of one.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(target))?;
    tmp.persist(target).map_err(|e| OutputError::Io {
        path: target.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// Delete files under `out_dir` that are not in `keep` (and folders left empty).
fn prune(out_dir: &Path, keep: &BTreeSet<PathBuf>) -> Result<usize, OutputError> {
    let mut removed = 0;
    let mut dirs = Vec::new();
    for entry in walkdir::WalkDir::new(out_dir).min_depth(1) {
        let entry = entry.map_err(|e| OutputError::Io {
            path: out_dir.to_path_buf(),
            source: e.into(),
        })?;
        let rel = entry.path().strip_prefix(out_dir).unwrap_or(entry.path());
        if entry.file_type().is_dir() {
            dirs.push(entry.path().to_path_buf());
        } else if rel != Path::new(MARKER) && !keep.contains(rel) {
            std::fs::remove_file(entry.path()).map_err(io(entry.path()))?;
            removed += 1;
        }
    }
    // Deepest first, so a folder emptied of folders goes too.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        if std::fs::read_dir(&d).map_err(io(&d))?.next().is_none() {
            std::fs::remove_dir(&d).map_err(io(&d))?;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &str, s: &str) -> OutputFile {
        OutputFile {
            path: p.into(),
            bytes: s.as_bytes().to_vec(),
        }
    }

    #[test]
    fn writes_skips_unchanged_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let r = write(
            &out,
            &[file("a/index.html", "A"), file("b/index.html", "B")],
        )
        .unwrap();
        assert_eq!(r.written, 2);
        let r = write(&out, &[file("a/index.html", "A2")]).unwrap();
        assert_eq!((r.written, r.unchanged, r.removed), (1, 0, 1));
        assert!(!out.join("b").exists(), "empty folder removed");
        let r = write(&out, &[file("a/index.html", "A2")]).unwrap();
        assert_eq!((r.written, r.unchanged), (0, 1));
    }

    #[test]
    fn refuses_a_folder_it_did_not_make() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("thesis.docx"), "precious").unwrap();
        let err = write(dir.path(), &[file("index.html", "x")]).unwrap_err();
        assert!(matches!(err, OutputError::NotOurs(_)));
        assert!(dir.path().join("thesis.docx").exists());
    }
}
