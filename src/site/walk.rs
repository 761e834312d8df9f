//! The output folder's entries, read in parallel.
//!
//! A site is a folder per page (`mentors/<slug>/index.html`): at 5,000 mentors, 7,000 folders.
//! Reading them one after another is most of a rebuild's time in the kernel, so sibling folders
//! are read side by side. Symlinks are reported, not followed, as `walkdir` does.

use rayon::prelude::*;
use std::fs::FileType;
use std::path::{Path, PathBuf};

/// An entry under the walked folder, by its path relative to it.
pub struct Entry {
    pub rel: PathBuf,
    pub file_type: FileType,
}

/// Every entry under `dir` (not `dir` itself), folders included, in no particular order.
pub fn entries(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut all = Vec::new();
    read(dir, PathBuf::new(), &mut all)?;
    Ok(all)
}

fn read(root: &Path, rel: PathBuf, into: &mut Vec<Entry>) -> std::io::Result<()> {
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(root.join(&rel))? {
        let entry = entry?;
        let file_type = entry.file_type()?;
        let path = rel.join(entry.file_name());
        if file_type.is_dir() {
            folders.push(path.clone());
        }
        into.push(Entry {
            rel: path,
            file_type,
        });
    }
    let nested = folders
        .into_par_iter()
        .map(|folder| {
            let mut found = Vec::new();
            read(root, folder, &mut found).map(|()| found)
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    into.extend(nested.into_iter().flatten());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_and_folder_is_found_once() {
        let dir = tempfile::tempdir().unwrap();
        for p in ["a/b/c.html", "a/d.html", "e.html", "f/g/h/i.txt"] {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let mut found: Vec<(String, bool)> = entries(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| (e.rel.display().to_string(), e.file_type.is_dir()))
            .collect();
        found.sort();
        let want = [
            ("a", true),
            ("a/b", true),
            ("a/b/c.html", false),
            ("a/d.html", false),
            ("e.html", false),
            ("f", true),
            ("f/g", true),
            ("f/g/h", true),
            ("f/g/h/i.txt", false),
        ];
        assert_eq!(
            found,
            want.map(|(p, d)| (p.to_string(), d)).to_vec(),
            "{found:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_folder_is_an_entry_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("secret.txt"), "x").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("link")).unwrap();
        let found = entries(dir.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].file_type.is_symlink());
    }

    #[test]
    fn a_missing_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(entries(&dir.path().join("nope")).is_err());
    }
}
