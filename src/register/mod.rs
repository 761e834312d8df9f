//! Validate the raw content against the scheme's configuration: the register of mentors, the
//! handbook and the other pages. No I/O happens here; every problem becomes a diagnostic.

mod fields;
mod mentor;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::config::Config;
use crate::content::{ContentTree, Document};
use crate::diag::Diagnostics;
use crate::slug::{is_slug, slugify};
use fields::Reader;
pub use mentor::{FieldValue, Headshot, Mentor};

/// Everything the site is built from, checked.
#[derive(Debug, Default)]
pub struct Register {
    /// Sorted by slug.
    pub mentors: Vec<Mentor>,
    pub home: Page,
    pub handbook_intro: Page,
    /// In reading order: by `weight`, then by slug.
    pub handbook: Vec<Page>,
    /// Other pages, by `weight` then slug.
    pub pages: Vec<Page>,
    /// Mentors whose bios have errors: never published, kept so that their photos can still
    /// be checked in the same run.
    pub rejected: Vec<Mentor>,
}

/// A handbook section, a page, or the home page text.
#[derive(Debug, Default, Clone)]
pub struct Page {
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub weight: i64,
    pub body: String,
    pub source: PathBuf,
}

/// The text `mentorsite new mentor` writes where the bio goes; a bio that still holds it is not
/// published.
pub const PLACEHOLDER_BIO: &str =
    "Write the bio here, in the mentor's own words: their path, why they mentor, what they can
help with, and anything about themselves they are happy to share. Blank lines start new
paragraphs; `## A heading` starts a section; **bold** and *italic* work as you would expect.
";

/// Output paths that pages may not take.
const RESERVED_SLUGS: &[&str] = &[
    "mentors", "handbook", "requests", "static", "search", "404", "sitemap", "index",
];

/// Bios checked in an earlier build (`serve`), by file: a document that the content cache hands
/// over unchanged (the same `Arc`), among the same photos, is not checked again. Whoever changes
/// the config calls [`Cache::clear`].
#[derive(Default)]
pub struct Cache(Mutex<HashMap<PathBuf, Arc<Checked>>>);

struct Checked {
    doc: Arc<Document>,
    photos: u64,
    mentor: Mentor,
    ok: bool,
    problems: Diagnostics,
}

impl Cache {
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map_or(0, |m| m.len());
        write!(f, "register::Cache({n} bios)")
    }
}

pub fn build(config: &Config, tree: ContentTree, diags: &mut Diagnostics) -> Register {
    build_cached(config, tree, diags, None)
}

/// [`build`], reusing what `cache` holds of bios that have not changed.
pub fn build_cached(
    config: &Config,
    mut tree: ContentTree,
    diags: &mut Diagnostics,
    cache: Option<&Cache>,
) -> Register {
    let mut mentors: Vec<Mentor> = Vec::new();
    let mut rejected: Vec<Mentor> = Vec::new();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let photos = mentor::Photos {
        files: &tree.images,
        links: &tree.image_links,
    };
    let photos_key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (photos.files, photos.links).hash(&mut h);
        h.finish()
    };
    // Each bio is checked on its own, in parallel; the problems come out in path order. Once
    // checked, a document's front matter is dropped and its bio moved into the mentor (copied
    // when the document is shared with `serve`'s cache): a register can be thousands of them.
    let docs = std::mem::take(&mut tree.mentors);
    let checked: Vec<(Mentor, bool, Diagnostics)> = docs
        .into_par_iter()
        .map(|doc| {
            if let Some(cache) = cache {
                // Only the lookup holds the lock: the copying is done beside the other threads.
                let found = cache
                    .0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&doc.path)
                    .cloned();
                if let Some(c) = found
                    && Arc::ptr_eq(&c.doc, &doc)
                    && c.photos == photos_key
                {
                    let mut m = c.mentor.clone();
                    m.bio = doc.body.clone();
                    return (m, c.ok, c.problems.clone());
                }
            }
            let mut problems = Diagnostics::new();
            let (m, ok) = mentor::validate(config, &doc, photos, &mut problems);
            if let Some(cache) = cache {
                let checked = Arc::new(Checked {
                    doc: doc.clone(),
                    photos: photos_key,
                    mentor: m.clone(),
                    ok,
                    problems: problems.clone(),
                });
                let mut map = cache.0.lock().unwrap_or_else(|e| e.into_inner());
                map.insert(doc.path.clone(), checked);
            }
            let mut m = m;
            m.bio = match Arc::try_unwrap(doc) {
                Ok(doc) => doc.body,
                Err(shared) => shared.body.clone(),
            };
            (m, ok, problems)
        })
        .collect();
    if let Some(cache) = cache {
        let present: std::collections::HashSet<&PathBuf> =
            checked.iter().map(|(m, ..)| &m.source).collect();
        let mut map = cache.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|path, _| present.contains(path));
    }
    for (mut m, ok, problems) in checked {
        diags.extend(problems);
        if !ok {
            m.bio = String::new();
            rejected.push(m);
            continue;
        }
        if let Some(first) = seen.get(&m.slug) {
            diags.push(
                crate::diag::Diagnostic::error(
                    &m.source,
                    crate::diag::Pos::START,
                    format!(
                        "a bio for `{}` already exists at {}",
                        m.slug,
                        crate::diag::display_path(first)
                    ),
                )
                .with_hint("keep one of the two files"),
            );
            continue;
        }
        seen.insert(m.slug.clone(), m.source.clone());
        mentors.push(m);
    }
    mentors.sort_by(|a, b| a.slug.cmp(&b.slug));

    let home = tree
        .home
        .as_ref()
        .and_then(|d| page(d, PageKind::Home, diags))
        .unwrap_or_else(|| Page {
            title: config.title.clone(),
            ..Page::default()
        });
    let handbook_intro = tree
        .handbook_index
        .as_ref()
        .and_then(|d| page(d, PageKind::Home, diags))
        .unwrap_or_else(|| Page {
            title: "Handbook".into(),
            ..Page::default()
        });
    let mut handbook: Vec<Page> = tree
        .handbook
        .iter()
        .filter_map(|d| page(d, PageKind::Handbook, diags))
        .collect();
    handbook.sort_by(|a, b| (a.weight, &a.slug).cmp(&(b.weight, &b.slug)));
    let mut pages: Vec<Page> = tree
        .pages
        .iter()
        .filter_map(|d| page(d, PageKind::Page, diags))
        .collect();
    pages.sort_by(|a, b| (a.weight, &a.slug).cmp(&(b.weight, &b.slug)));

    Register {
        mentors,
        home,
        handbook_intro,
        handbook,
        pages,
        rejected,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum PageKind {
    Home,
    Handbook,
    Page,
}

fn page(doc: &Document, kind: PageKind, diags: &mut Diagnostics) -> Option<Page> {
    let mut r = Reader { doc, diags };
    let known: &[&str] = match kind {
        PageKind::Home => &["title", "description"],
        PageKind::Handbook | PageKind::Page => &["title", "description", "weight"],
    };
    let mut out = Page {
        slug: page_slug(doc),
        body: doc.body.clone(),
        source: doc.path.clone(),
        ..Page::default()
    };
    let mut ok = true;
    for e in &doc.front.entries {
        match e.key.as_str() {
            "title" => out.title = r.text(e).unwrap_or_default(),
            "description" => out.description = r.text(e),
            "weight" if kind != PageKind::Home => {
                out.weight = r.int(e, -10_000, 10_000).unwrap_or(0)
            }
            _ => {
                r.unknown(e, known);
                ok = false;
            }
        }
    }
    if kind != PageKind::Home {
        if out.title.is_empty() {
            r.missing("title", "What to expect");
            ok = false;
        }
        if !is_slug(&out.slug) {
            let pos = crate::diag::Pos::START;
            r.error(
                pos,
                format!("the file name `{}` cannot be used in an address", out.slug),
                format!("rename the file to `{}.md`", slugify(&out.slug)),
            );
            ok = false;
        } else if kind == PageKind::Handbook && out.slug == "print" {
            r.error(
                crate::diag::Pos::START,
                "the section name `print` is used by the printable handbook",
                "rename the file, e.g. `printing.md`",
            );
            ok = false;
        } else if kind == PageKind::Page && RESERVED_SLUGS.contains(&out.slug.as_str()) {
            r.error(
                crate::diag::Pos::START,
                format!("the page name `{}` is used by the site itself", out.slug),
                "rename the file, e.g. `about-the-scheme.md`",
            );
            ok = false;
        }
    }
    ok.then_some(out)
}

/// A page's slug: `content/about.md` → `about`; `content/help/contact.md` → `help-contact`
/// (every page sits one level down); `content/help/index.md` → `help`.
fn page_slug(doc: &Document) -> String {
    let rel = doc
        .path
        .strip_prefix(crate::content::CONTENT_DIR)
        .unwrap_or(&doc.path);
    let mut parts: Vec<String> = rel
        .parent()
        .into_iter()
        .flat_map(|p| p.iter())
        .filter(|s| *s != "handbook")
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    if rel.file_stem().is_none_or(|s| s != "index") {
        parts.push(doc.slug.clone());
    }
    parts.join("-")
}
