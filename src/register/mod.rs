//! Validate the raw content against the scheme's configuration: the register of mentors, the
//! handbook and the other pages. No I/O happens here; every problem becomes a diagnostic.

mod fields;
mod mentor;

use std::collections::BTreeMap;
use std::path::PathBuf;

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

pub fn build(config: &Config, mut tree: ContentTree, diags: &mut Diagnostics) -> Register {
    let mut mentors: Vec<Mentor> = Vec::new();
    let mut rejected: Vec<Mentor> = Vec::new();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for doc in std::mem::take(&mut tree.mentors) {
        let photos = mentor::Photos {
            files: &tree.images,
            links: &tree.image_links,
        };
        let (m, ok) = mentor::validate(config, &doc, photos, diags);
        if !ok {
            rejected.push(m);
            continue;
        }
        let mut m = m;
        if let Some(first) = seen.get(&m.slug) {
            let mut r = Reader { doc: &doc, diags };
            r.error(
                crate::diag::Pos::START,
                format!(
                    "a bio for `{}` already exists at {}",
                    m.slug,
                    crate::diag::display_path(first)
                ),
                "keep one of the two files",
            );
            continue;
        }
        seen.insert(m.slug.clone(), doc.path.clone());
        // The bio moves rather than copies when the document is not shared with a cache
        // (`serve`'s): a register can be thousands of them.
        m.bio = match std::sync::Arc::try_unwrap(doc) {
            Ok(doc) => doc.body,
            Err(shared) => shared.body.clone(),
        };
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
