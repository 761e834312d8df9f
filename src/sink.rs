//! Where built files go, and how a file is written safely. A leaf: rendering, headshots and the
//! site writer all use it, and it uses none of them, so the build's layers stay one-way.
//!
//! Files are written whole (a temporary file beside the target, then a rename), readable by any
//! user (0644 less the umask, like any file a program creates), so a static web server running
//! as another user can serve them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One file of the output, relative to the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl OutputFile {
    pub fn new(path: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            bytes: bytes.into(),
        }
    }
}

pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Where rendered files go: the output folder, or nowhere (`check`), or a list (tests).
pub trait Sink: Sync {
    fn put(&self, file: OutputFile) -> Result<(), SinkError>;

    /// Output `path` with bytes that a memo also holds: a sink that keeps files in memory can
    /// share them rather than copy.
    fn put_shared(&self, path: PathBuf, bytes: Arc<[u8]>) -> Result<(), SinkError> {
        self.put(OutputFile {
            path,
            bytes: bytes.to_vec(),
        })
    }

    /// Output `path` as the last build left it, if it is still there with `stamp` (a memo of
    /// pages on disk, [`crate::render::Memo`]); `false` if it is not, and it must be made again.
    fn keep(&self, _path: &Path, _stamp: &Stamp) -> Result<bool, SinkError> {
        Ok(false)
    }

    /// Output a file whose name carries a hash of its bytes (an initials avatar): a sink that
    /// finds a file of that name and size already in place may take it to be the same.
    fn put_hashed(&self, file: OutputFile) -> Result<(), SinkError> {
        self.put(file)
    }

    /// Output `path` with the bytes of the file `from` (processed images from the cache).
    fn copy(&self, path: PathBuf, from: &Path) -> Result<(), SinkError> {
        let bytes = std::fs::read(from)?;
        self.put(OutputFile { path, bytes })
    }
}

/// What a file's metadata says of its content: size, modification time (to the nanosecond) and
/// inode, which a save-by-rename changes even within one clock tick. A file with the same stamp
/// is taken to be the same file, as `make` and git's index do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    pub len: u64,
    pub modified: u128,
    pub inode: u64,
}

impl Stamp {
    /// The stamp of what `path` is (a symlink by its target); a missing file has none.
    pub fn of(path: &Path) -> Option<Stamp> {
        std::fs::metadata(path).ok().map(|m| Stamp::from_meta(&m))
    }

    pub fn from_meta(meta: &std::fs::Metadata) -> Stamp {
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            len: meta.len(),
            modified,
            inode,
        }
    }
}

/// A write that failed, with the path it was for.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl WriteError {
    fn at(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
        move |source| WriteError {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Write to a temporary file beside the target, then rename over it: a reader (or a web server)
/// sees the old file or the new one, never half of one. Folders are made as needed (0755 less
/// the umask), the file is 0644 less the umask.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    replace_with(target, |tmp| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
        let mut file = options.open(tmp)?;
        file.write_all(bytes)?;
        drop(file);
        Ok(())
    })
}

/// Put a hard link to `from` at `target`, atomically as [`write_atomic`] does, or, where a
/// link cannot be made (another disk, a filesystem without them), a copy. For files that are
/// never changed in place, such as cached headshots under content-hashed names: a link costs
/// neither the read nor the write of a copy.
pub fn link_atomic(target: &Path, from: &Path) -> Result<(), WriteError> {
    match replace_with(target, |tmp| std::fs::hard_link(from, tmp)) {
        Ok(()) => Ok(()),
        Err(_) => {
            let bytes = std::fs::read(from).map_err(WriteError::at(from))?;
            write_atomic(target, &bytes)
        }
    }
}

/// Make `target` whole or not at all: `make` creates a file at a temporary name beside it,
/// which is then renamed over it.
fn replace_with(
    target: &Path,
    make: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(WriteError::at(dir))?;
    let name = target
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".tmp-{}-{}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = make(&tmp).and_then(|()| std::fs::rename(&tmp, target));
    if let Err(source) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(WriteError {
            path: target.to_path_buf(),
            source,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn files_are_world_readable_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b/index.html");
        write_atomic(&target, b"one").unwrap();
        write_atomic(&target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644 & !umask(), "{mode:o}");
        let leftovers: Vec<_> = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("index.html")]);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_replaces_the_target_and_shares_the_cached_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let cached = dir.path().join("cache/a.webp");
        write_atomic(&cached, b"pixels").unwrap();
        let target = dir.path().join("public/headshots/a.webp");
        write_atomic(&target, b"older pixels").unwrap();
        link_atomic(&target, &cached).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"pixels");
        let (t, c) = (
            std::fs::metadata(&target).unwrap(),
            std::fs::metadata(&cached).unwrap(),
        );
        assert_eq!((t.ino(), t.nlink()), (c.ino(), 2));
        let leftovers = std::fs::read_dir(target.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1);
        // Nothing to link to: an error naming the file, and the target as it was.
        let err = link_atomic(&target, &dir.path().join("cache/gone.webp")).unwrap_err();
        assert!(err.to_string().contains("gone.webp"), "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"pixels");
    }

    /// This process's umask, from /proc (reading it with umask(2) would need unsafe code).
    #[cfg(unix)]
    fn umask() -> u32 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            })
            .unwrap_or(0o022)
    }
}
