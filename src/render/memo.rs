//! What one build keeps for the next: each page, card and mentor's search terms with a hash of
//! everything it was made from, so an unchanged one is not made again.
//!
//! `serve` keeps a [`Memo`] in memory, pages and all. `build` keeps one in `.cache/` between
//! runs ([`Memo::load`], [`Memo::save`]): its pages stay in the output folder, and the memo holds
//! only their [stamps](Stamp), so a page is reused only while the file the last build wrote is
//! still there, untouched. Anything that cannot be read (a missing, damaged or older file, a
//! different theme, program or `site.toml`) is an empty memo: the build makes everything, and
//! deleting `.cache/` is always safe.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Deserialize;

use super::search::Vocab;
use super::views::MentorView;
use crate::sink::Stamp;

/// A page's bytes, shared between builds.
pub(super) type Page = Arc<[u8]>;

/// A mentor's search terms, numbered in the memo's [`Vocab`] ([`Vocab::pack`]).
pub(super) type Terms = Arc<[u32]>;

/// A mentor's card, shared between the memo and the listings.
pub(super) type CardHtml = Arc<str>;

/// Where a remembered page is.
#[derive(Clone)]
pub(super) enum Kept {
    /// In memory (`serve`).
    Bytes(Page),
    /// In the output folder, as the last build left it.
    OnDisk(Stamp),
    /// Handed to the output folder by this build; stamped when it is finished ([`Memo::settle`]).
    Written,
}

/// See the [module](self).
#[derive(Default)]
pub struct Memo {
    /// What every key is mixed with: the site-wide values.
    pub(super) generation: Mutex<u64>,
    pub(super) pages: Mutex<HashMap<PathBuf, (u64, Kept)>>,
    pub(super) cards: Mutex<HashMap<String, (u64, CardHtml)>>,
    pub(super) terms: Mutex<HashMap<String, (u64, Terms)>>,
    pub(super) vocab: Mutex<Vocab>,
    pub(super) views: Mutex<HashMap<String, (u64, Arc<MentorView>)>>,
    /// Pages are left in the output folder rather than held (`build`).
    pub(super) on_disk: bool,
    /// What the memo is only good for: a hash of the program, the theme and the settings that
    /// are not in the site-wide values (`build`).
    salt: String,
}

/// The memo as `.cache/` keeps it (written from borrowed parts in the same order, see
/// [`Memo::save`]).
#[derive(Deserialize)]
struct Saved {
    format: u32,
    salt: String,
    generation: u64,
    pages: Vec<(PathBuf, u64, Stamp)>,
    cards: Vec<(String, u64, String)>,
    terms: Vec<(String, u64, Vec<u32>)>,
    vocab: Vec<Box<str>>,
}

/// Bumped whenever [`Saved`] changes shape.
const FORMAT: u32 = 1;

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Memo {
    /// A memo for `build`, whose pages are left in the output folder.
    pub fn on_disk(salt: String) -> Memo {
        Memo {
            on_disk: true,
            salt,
            ..Memo::default()
        }
    }

    /// The memo saved at `file` by a build with the same `salt`, or an empty one.
    pub fn load(file: &Path, salt: String) -> Memo {
        let memo = Memo::on_disk(salt);
        let Some(saved) = std::fs::read(file)
            .ok()
            .and_then(|bytes| postcard::from_bytes::<Saved>(&bytes).ok())
            .filter(|s| s.format == FORMAT && s.salt == memo.salt)
        else {
            return memo;
        };
        let words = saved.vocab.len() as u64 * 4;
        if saved
            .terms
            .iter()
            .any(|(_, _, t)| t.iter().any(|&p| u64::from(p) >= words))
        {
            return memo;
        }
        *lock(&memo.generation) = saved.generation;
        *lock(&memo.pages) = saved
            .pages
            .into_iter()
            .map(|(path, key, stamp)| (path, (key, Kept::OnDisk(stamp))))
            .collect();
        *lock(&memo.cards) = saved
            .cards
            .into_iter()
            .map(|(slug, key, html)| (slug, (key, CardHtml::from(html))))
            .collect();
        *lock(&memo.terms) = saved
            .terms
            .into_iter()
            .map(|(slug, key, terms)| (slug, (key, Terms::from(terms))))
            .collect();
        *lock(&memo.vocab) = Vocab::from_terms(saved.vocab);
        memo
    }

    /// Stamp the pages this build wrote, from `files` (what the output folder holds after it,
    /// in path order); a page that is not there is forgotten.
    pub fn settle(&self, files: &[(PathBuf, Stamp)]) {
        let stamps: HashMap<&Path, &Stamp> = files.iter().map(|(p, s)| (p.as_path(), s)).collect();
        lock(&self.pages).retain(|path, (_, kept)| match stamps.get(path.as_path()) {
            Some(stamp) => {
                *kept = Kept::OnDisk(**stamp);
                true
            }
            None => false,
        });
    }

    /// Write the memo to `file` (after [`settle`](Self::settle)); pages in memory are not kept.
    pub fn save(&self, file: &Path) -> Result<(), crate::sink::WriteError> {
        let vocab = lock(&self.vocab);
        let pages = lock(&self.pages);
        let cards = lock(&self.cards);
        let terms = lock(&self.terms);
        // Borrowed, in the shape of [`Saved`]: the cards are not copied to be written.
        let saved = (
            FORMAT,
            &self.salt,
            *lock(&self.generation),
            pages
                .iter()
                .filter_map(|(path, (key, kept))| match kept {
                    Kept::OnDisk(stamp) => Some((path, *key, stamp)),
                    Kept::Bytes(_) | Kept::Written => None,
                })
                .collect::<Vec<_>>(),
            cards
                .iter()
                .map(|(slug, (key, html))| (slug, *key, &**html))
                .collect::<Vec<_>>(),
            terms
                .iter()
                .map(|(slug, (key, terms))| (slug, *key, &**terms))
                .collect::<Vec<_>>(),
            vocab.terms(),
        );
        let bytes = postcard::to_stdvec(&saved).unwrap_or_default();
        crate::sink::write_atomic(file, &bytes)
    }

    pub fn clear(&self) {
        lock(&self.pages).clear();
        lock(&self.cards).clear();
        lock(&self.terms).clear();
        lock(&self.views).clear();
        *lock(&self.vocab) = Vocab::default();
    }

    /// Start a build whose site-wide values hash to `generation`.
    pub(super) fn begin(&self, generation: u64) {
        let mut g = lock(&self.generation);
        if *g != generation {
            *g = generation;
            self.clear();
        }
    }

    /// Forget what this build did not produce (a deleted mentor's page).
    pub(super) fn keep_only(&self, paths: &[PathBuf], slugs: &[&str]) {
        let paths: std::collections::HashSet<&PathBuf> = paths.iter().collect();
        lock(&self.pages).retain(|p, _| paths.contains(p));
        let slugs: std::collections::HashSet<&str> = slugs.iter().copied().collect();
        lock(&self.cards).retain(|s, _| slugs.contains(s.as_str()));
        lock(&self.terms).retain(|s, _| slugs.contains(s.as_str()));
        lock(&self.views).retain(|s, _| slugs.contains(s.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_memo_loads_as_it_was_and_only_with_its_salt() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("render.bin");
        let memo = Memo::on_disk("salt".into());
        *lock(&memo.generation) = 7;
        let stamp = Stamp {
            len: 3,
            modified: 9,
            inode: 11,
        };
        lock(&memo.pages).insert("a/index.html".into(), (1, Kept::Written));
        lock(&memo.pages).insert(
            "b/index.html".into(),
            (2, Kept::Bytes(Page::from(&b"x"[..]))),
        );
        memo.settle(&[("a/index.html".into(), stamp)]);
        lock(&memo.cards).insert("jo".into(), (3, CardHtml::from("<li>Jo</li>")));
        let packed = lock(&memo.vocab).pack(&[("gp".into(), 3), ("leeds".into(), 1)]);
        lock(&memo.terms).insert("jo".into(), (4, Terms::from(packed.clone())));
        memo.save(&file).unwrap();

        let loaded = Memo::load(&file, "salt".into());
        assert_eq!(*lock(&loaded.generation), 7);
        let pages = lock(&loaded.pages);
        assert_eq!(pages.len(), 1, "a page never stamped is not kept");
        assert!(
            matches!(pages.get(Path::new("a/index.html")), Some((1, Kept::OnDisk(s))) if *s == stamp)
        );
        assert_eq!(&*lock(&loaded.cards)["jo"].1, "<li>Jo</li>");
        assert_eq!(&*lock(&loaded.terms)["jo"].1, &packed[..]);
        assert_eq!(lock(&loaded.vocab).len(), 2);

        let other = Memo::load(&file, "another theme".into());
        assert!(lock(&other.pages).is_empty() && lock(&other.cards).is_empty());
    }
}
