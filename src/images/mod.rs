//! Headshots: plan a job per photo, process the jobs in parallel, and keep the results in a
//! cache so an unchanged photo is never processed twice.
//!
//! The cache lives in `.cache/headshots/` under the root. Each entry is a folder named by a
//! key: the BLAKE3 hash of the settings and the photo's bytes. A small memo of file size and
//! modification time saves even reading photos that have not changed. Output names carry the
//! key, so they can be cached by browsers for ever.

pub mod avatar;
pub mod pipeline;

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::UNIX_EPOCH;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, Diagnostics, display_path};
use crate::register::{Headshot as Source, Register};
use pipeline::Unusable;

/// Bump when the pipeline's output changes, so old cache entries are not reused.
const PIPELINE_VERSION: &str = "headshots-6";
pub const CACHE_DIR: &str = ".cache/headshots";
const MEMO_FILE: &str = "sources.json";

/// What every headshot is turned into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub sizes: Vec<u32>,
    pub formats: Vec<String>,
    pub quality: u8,
    /// Width:height of the crop, from the theme.
    pub aspect: (u32, u32),
}

impl Settings {
    fn fingerprint(&self) -> String {
        format!(
            "{PIPELINE_VERSION};sizes={:?};formats={:?};quality={};aspect={}:{}",
            self.sizes, self.formats, self.quality, self.aspect.0, self.aspect.1
        )
    }
}

/// A processed (or, under `check`, verified) headshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headshot {
    pub key: String,
    pub widths: Vec<u32>,
    pub aspect: (u32, u32),
    pub formats: Vec<String>,
}

impl Headshot {
    /// `headshots/<slug>-<key>-<width>.<ext>` in the output.
    pub fn output_path(&self, slug: &str, width: u32, format: &str) -> PathBuf {
        PathBuf::from(format!(
            "headshots/{slug}-{}-{width}.{format}",
            &self.key[..12]
        ))
    }

    fn cache_path(&self, cache: &Path, width: u32, format: &str) -> PathBuf {
        cache.join(&self.key).join(format!("{width}.{format}"))
    }

    pub fn height(&self, width: u32) -> u32 {
        pipeline::height_for(width, self.aspect)
    }

    /// The format of the `<img>` itself, for browsers that read none of the `<source>`s: the
    /// first of JPEG or PNG the settings list, else the first format.
    pub fn fallback(&self) -> &str {
        ["jpg", "png"]
            .into_iter()
            .find(|f| self.formats.iter().any(|x| x == f))
            .unwrap_or(self.formats[0].as_str())
    }

    /// The width of the `<img>`'s own `src`: the one nearest 320.
    pub fn fallback_width(&self) -> u32 {
        self.widths
            .iter()
            .copied()
            .min_by_key(|w| w.abs_diff(FALLBACK_WIDTH))
            .unwrap_or(FALLBACK_WIDTH)
    }

    /// The widths made in `format`. Every width, but for the fallback of a headshot that has
    /// other formats: a browser that can show none of those (none in use today shows no WebP)
    /// gets one picture of a middle width, not a set. Making a JPEG at every width cost a
    /// tenth of a cold build's CPU, and the 640 px JPEGs were 60% of the headshots' bytes.
    pub fn widths_in(&self, format: &str) -> Vec<u32> {
        if self.formats.len() > 1 && format == self.fallback() {
            vec![self.fallback_width()]
        } else {
            self.widths.clone()
        }
    }

    /// Every (output path, cached file) pair.
    pub fn files(&self, slug: &str, cache: &Path) -> Vec<(PathBuf, PathBuf)> {
        let mut out = Vec::new();
        for w in &self.widths {
            for f in self
                .formats
                .iter()
                .filter(|f| self.widths_in(f).contains(w))
            {
                out.push((self.output_path(slug, *w, f), self.cache_path(cache, *w, f)));
            }
        }
        out
    }
}

/// What the `<img>` fallback's width is nearest to.
const FALLBACK_WIDTH: u32 = 320;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Process what is not cached, and fill the cache.
    Build,
    /// Verify what is not cached by decoding it; write nothing.
    Check,
}

/// The headshots of a register, by mentor slug.
#[derive(Debug, Default)]
pub struct Processed {
    pub headshots: BTreeMap<String, Headshot>,
    pub cache_dir: PathBuf,
    /// Photos decoded (and, in a build, encoded) this run.
    pub processed: usize,
    /// Photos found in the cache.
    pub cached: usize,
}

#[derive(Serialize, Deserialize, Default)]
struct Memo {
    sources: BTreeMap<String, MemoEntry>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
struct MemoEntry {
    len: u64,
    modified_ns: u128,
    hash: String,
    width: u32,
    height: u32,
}

struct Job<'a> {
    slug: &'a str,
    photo: &'a Path,
    bio: &'a Path,
    pos: crate::diag::Pos,
}

enum Outcome {
    Cached(Headshot, Option<(String, MemoEntry)>),
    Processed(Headshot, Option<(String, MemoEntry)>),
    Unusable(Unusable),
    Failed(String),
}

/// Process every mentor's photo. Problems with a photo are warnings: the mentor gets an
/// initials avatar and the build goes on.
pub fn process(
    root: &Path,
    register: &Register,
    settings: &Settings,
    mode: Mode,
    diags: &mut Diagnostics,
) -> Processed {
    let cache = root.join(CACHE_DIR);
    let memo: Memo = std::fs::read(cache.join(MEMO_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let jobs: Vec<Job> = register
        .mentors
        .iter()
        .chain(&register.rejected)
        .filter_map(|m| match &m.headshot {
            Source::File(p) => Some(Job {
                slug: &m.slug,
                photo: p,
                bio: &m.source,
                pos: m.headshot_pos,
            }),
            _ => None,
        })
        .collect();

    let fingerprint = settings.fingerprint();
    let budget = PixelBudget::new(PIXEL_BUDGET);
    let cx = Context {
        root,
        cache: &cache,
        memo: &memo,
        settings,
        fingerprint: &fingerprint,
        mode,
        budget: &budget,
    };
    let bar = progress_bar(jobs.len(), mode);
    let done = AtomicUsize::new(0);
    let outcomes: Vec<Outcome> = jobs
        .par_iter()
        .map(|job| {
            let o = run(&cx, job);
            if let Some(bar) = &bar {
                bar.set_position(done.fetch_add(1, Ordering::Relaxed) as u64 + 1);
            }
            o
        })
        .collect();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let mut out = Processed {
        cache_dir: cache.clone(),
        ..Processed::default()
    };
    let mut new_memo = Memo::default();
    for (job, outcome) in jobs.iter().zip(outcomes) {
        let (headshot, entry) = match outcome {
            Outcome::Cached(h, e) => {
                out.cached += 1;
                (h, e)
            }
            Outcome::Processed(h, e) => {
                out.processed += 1;
                (h, e)
            }
            Outcome::Unusable(why) => {
                diags.push(
                    Diagnostic::warning(
                        job.bio,
                        job.pos,
                        format!(
                            "the headshot {} cannot be used: {}; an initials avatar is shown",
                            display_path(job.photo),
                            why.reason()
                        ),
                    )
                    .with_hint(why.hint()),
                );
                continue;
            }
            Outcome::Failed(e) => {
                diags.push(Diagnostic::error(
                    job.bio,
                    job.pos,
                    format!(
                        "processing the headshot {} failed: {e}",
                        display_path(job.photo)
                    ),
                ));
                continue;
            }
        };
        if let Some((path, entry)) = entry {
            new_memo.sources.insert(path, entry);
        }
        out.headshots.insert(job.slug.to_string(), headshot);
    }
    if mode == Mode::Build {
        // Best effort: a cache that cannot be written only makes the next build slower.
        let keep: BTreeSet<&str> = out.headshots.values().map(|h| h.key.as_str()).collect();
        prune_cache(&cache, &keep);
        if let Ok(json) = serde_json::to_vec_pretty(&new_memo) {
            let _ = crate::sink::write_atomic(&cache.join(MEMO_FILE), &json);
        }
    }
    out
}

/// What every job of one run shares.
struct Context<'a> {
    root: &'a Path,
    cache: &'a Path,
    memo: &'a Memo,
    settings: &'a Settings,
    fingerprint: &'a str,
    mode: Mode,
    budget: &'a PixelBudget,
}

/// How many decoded pixels may be held at once, across threads: two photos at the size limit,
/// or dozens of ordinary ones. A photo larger than the whole budget waits until it has it all.
pub const PIXEL_BUDGET: u64 = 2 * pipeline::MAX_PIXELS;

/// A counting semaphore over pixels.
pub struct PixelBudget {
    limit: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl PixelBudget {
    pub fn new(limit: u64) -> Self {
        Self {
            limit: limit.max(1),
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Wait until `pixels` (at most the whole budget) are free, and hold them until the
    /// returned guard is dropped.
    pub fn take(&self, pixels: u64) -> PixelLease<'_> {
        let pixels = pixels.clamp(1, self.limit);
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used + pixels > self.limit {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += pixels;
        PixelLease {
            budget: self,
            pixels,
        }
    }

    /// Pixels held now (for tests).
    pub fn in_use(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct PixelLease<'a> {
    budget: &'a PixelBudget,
    pixels: u64,
}

impl Drop for PixelLease<'_> {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.pixels;
        self.budget.freed.notify_all();
    }
}

fn run(cx: &Context, job: &Job) -> Outcome {
    let Context {
        root,
        cache,
        memo,
        settings,
        fingerprint,
        mode,
        budget,
    } = *cx;
    let abs = root.join(job.photo);
    let memo_key = display_path(job.photo);
    let meta = match std::fs::metadata(&abs) {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let remembered = memo
        .sources
        .get(&memo_key)
        .filter(|e| e.len == meta.len() && e.modified_ns == modified_ns && modified_ns != 0);

    let mut bytes = None;
    let entry = match remembered {
        Some(e) => e.clone(),
        None => {
            let data = match std::fs::read(&abs) {
                Ok(d) => d,
                Err(e) => return Outcome::Failed(e.to_string()),
            };
            let (width, height) = match pipeline::probe(&data) {
                Ok(dims) => dims,
                Err(why) => return Outcome::Unusable(why),
            };
            let entry = MemoEntry {
                len: meta.len(),
                modified_ns,
                hash: blake3::hash(&data).to_hex().to_string(),
                width,
                height,
            };
            bytes = Some(data);
            entry
        }
    };

    let key = blake3::hash(format!("{fingerprint};{}", entry.hash).as_bytes())
        .to_hex()
        .to_string();
    let (_, _, crop_w, _) = pipeline::centre_crop(entry.width, entry.height, settings.aspect);
    let headshot = Headshot {
        key,
        widths: pipeline::widths(crop_w, &settings.sizes),
        aspect: settings.aspect,
        formats: settings.formats.clone(),
    };
    let pixels = u64::from(entry.width) * u64::from(entry.height);
    let memo_entry = Some((memo_key, entry));
    let files = headshot.files(job.slug, cache);
    if files.iter().all(|(_, cached)| cached.is_file()) {
        return Outcome::Cached(headshot, memo_entry);
    }

    let data = match bytes {
        Some(d) => d,
        None => match std::fs::read(&abs) {
            Ok(d) => d,
            Err(e) => return Outcome::Failed(e.to_string()),
        },
    };
    // Decoded pixels are the build's largest allocations: how many photos are open at once is
    // bounded by their pixels, not by the number of threads.
    let _pixels = budget.take(pixels);
    let largest = headshot.widths.last().copied().unwrap_or(u32::MAX);
    let decoded = match mode {
        Mode::Check => pipeline::decode(&data),
        Mode::Build => pipeline::decode_for(&data, settings.aspect, largest),
    };
    let upright = match decoded {
        Ok(u) => u,
        Err(why) => return Outcome::Unusable(why),
    };
    drop(data);
    if mode == Mode::Check {
        return Outcome::Processed(headshot, None);
    }
    let resized = match pipeline::resize_cascade(&upright, settings.aspect, &headshot.widths) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(e),
    };
    drop(upright.pixels);
    for (w, pixels) in headshot.widths.iter().zip(resized) {
        for f in headshot
            .formats
            .iter()
            .filter(|f| headshot.widths_in(f).contains(w))
        {
            let encoded = match pipeline::encode(
                f,
                &pixels,
                *w,
                headshot.height(*w),
                upright.alpha,
                settings.quality,
            ) {
                Ok(b) => b,
                Err(e) => return Outcome::Failed(e),
            };
            if let Err(e) = crate::sink::write_atomic(&headshot.cache_path(cache, *w, f), &encoded)
            {
                return Outcome::Failed(e.to_string());
            }
        }
    }
    Outcome::Processed(headshot, memo_entry)
}

/// Remove cache entries no mentor uses any more.
fn prune_cache(cache: &Path, keep: &BTreeSet<&str>) {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.path().is_dir() && name.len() == 64 && !keep.contains(name.as_ref()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A progress bar on a terminal; nothing in CI or when output is piped.
fn progress_bar(len: usize, mode: Mode) -> Option<indicatif::ProgressBar> {
    let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !interactive || len < 8 || mode == Mode::Check {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len}") {
        bar.set_style(style);
    }
    bar.set_message("Headshots");
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headshot(widths: &[u32], formats: &[&str]) -> Headshot {
        Headshot {
            key: "k".repeat(64),
            widths: widths.to_vec(),
            aspect: (1, 1),
            formats: formats.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_fallback_is_made_at_one_width_unless_it_is_the_only_format() {
        let both = headshot(&[160, 320, 640], &["webp", "jpg"]);
        assert_eq!(both.fallback(), "jpg");
        assert_eq!(both.widths_in("webp"), [160, 320, 640]);
        assert_eq!(both.widths_in("jpg"), [320]);
        let names: Vec<String> = both
            .files("ada", Path::new("c"))
            .into_iter()
            .map(|(out, _)| out.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "headshots/ada-kkkkkkkkkkkk-160.webp",
                "headshots/ada-kkkkkkkkkkkk-320.webp",
                "headshots/ada-kkkkkkkkkkkk-320.jpg",
                "headshots/ada-kkkkkkkkkkkk-640.webp",
            ]
        );
        // A small photo: the width nearest 320 is the largest it has.
        let small = headshot(&[160, 240], &["webp", "png"]);
        assert_eq!(small.widths_in("png"), [240]);
        // One format is every width.
        let only = headshot(&[160, 320, 640], &["jpg"]);
        assert_eq!(only.widths_in("jpg"), [160, 320, 640]);
        let webp = headshot(&[160, 320, 640], &["webp"]);
        assert_eq!(webp.fallback(), "webp");
        assert_eq!(webp.widths_in("webp"), [160, 320, 640]);
    }

    #[test]
    fn the_pixel_budget_bounds_what_is_held_at_once() {
        let budget = PixelBudget::new(100);
        let peak = AtomicUsize::new(0);
        (0..64).into_par_iter().for_each(|i| {
            let _lease = budget.take(if i % 5 == 0 { 1_000 } else { 30 });
            let now = budget.in_use() as usize;
            peak.fetch_max(now, Ordering::Relaxed);
            std::thread::sleep(std::time::Duration::from_millis(1));
        });
        assert!(peak.into_inner() <= 100);
        assert_eq!(budget.in_use(), 0);
    }
}
