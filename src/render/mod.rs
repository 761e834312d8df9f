//! Register + theme → the site's files. Rendering is pure (values in, bytes out) and hands
//! each finished file to a [`Sink`] as soon as it is made, so a register of thousands of
//! mentors never sits in memory as a whole; [`crate::site`] decides what the sink does.

pub mod markdown;
pub mod search;
pub mod theme;
pub mod views;

use std::path::PathBuf;
use std::sync::Mutex;

use jiff::civil::Date;
use rayon::prelude::*;
use serde::Serialize;
use tera::Context;

use crate::config::Config;
use crate::diag::Diagnostics;
use crate::register::Register;
use theme::Theme;
use views::{Link, MentorView, PageView, SiteView};

/// One file of the output, relative to the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl OutputFile {
    fn new(path: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>) -> Self {
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

    /// Output `path` with the bytes of the file `from` (processed images from the cache).
    fn copy(&self, path: PathBuf, from: &std::path::Path) -> Result<(), SinkError> {
        let bytes = std::fs::read(from)?;
        self.put(OutputFile { path, bytes })
    }
}

/// Keeps every file in memory, in path order when taken: for tests and small sites.
#[derive(Default)]
pub struct Collect(Mutex<Vec<OutputFile>>);

impl Collect {
    pub fn into_files(self) -> Vec<OutputFile> {
        let mut files = self.0.into_inner().unwrap_or_else(|e| e.into_inner());
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files
    }
}

impl Sink for Collect {
    fn put(&self, file: OutputFile) -> Result<(), SinkError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(file);
        Ok(())
    }
}

#[derive(Debug)]
pub enum RenderError {
    /// Template problems, located in the theme.
    Templates(Diagnostics),
    /// The sink refused a file (a disk error).
    Sink(SinkError),
}

/// What was rendered.
#[derive(Debug, Default)]
pub struct Rendered {
    pub files: usize,
}

struct Renderer<'a> {
    theme: &'a Theme,
    site: SiteView,
    sink: &'a dyn Sink,
    /// Paths handed to the sink, for the sitemap.
    paths: Mutex<Vec<PathBuf>>,
    problems: Mutex<Diagnostics>,
}

impl Renderer<'_> {
    /// A context with the site, and which navigation link is current.
    fn context(&self, current_url: &str) -> Context {
        let mut ctx = Context::new();
        ctx.insert("site", &self.site);
        ctx.insert("current_url", current_url);
        ctx
    }

    fn to_string(&self, template: &str, ctx: &Context) -> Option<String> {
        match self.theme.tera.render(template, ctx) {
            Ok(text) => Some(text),
            Err(e) => {
                let d = theme::template_error(&self.theme.dir, template, &e);
                self.problems
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(d);
                None
            }
        }
    }

    /// Render `template` to `path`; template problems are collected, disk errors returned.
    fn render(
        &self,
        template: &str,
        path: impl Into<PathBuf>,
        ctx: &Context,
    ) -> Result<(), SinkError> {
        match self.to_string(template, ctx) {
            Some(text) => self.put(OutputFile::new(path, text)),
            None => Ok(()),
        }
    }

    fn put(&self, file: OutputFile) -> Result<(), SinkError> {
        self.record(&file.path);
        self.sink.put(file)
    }

    fn record(&self, path: &std::path::Path) {
        self.paths
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path.to_path_buf());
    }
}

#[derive(Serialize)]
struct Counts {
    total: usize,
    accepting: usize,
}

/// A mentor's card, rendered once and reused on every listing it appears on.
#[derive(Serialize)]
struct Card<'a> {
    slug: &'a str,
    html: String,
}

/// Render every page of the site into `sink`.
pub fn site(
    config: &Config,
    register: &Register,
    theme: &Theme,
    today: Date,
    headshots: &crate::images::Processed,
    sink: &dyn Sink,
) -> Result<Rendered, RenderError> {
    let assets = asset_urls(theme, &views::base_path(&config.base_url));
    let r = Renderer {
        theme,
        site: views::site(config, register, today, assets),
        sink,
        paths: Mutex::new(Vec::new()),
        problems: Mutex::new(Diagnostics::new()),
    };
    render_all(&r, config, register, headshots, today).map_err(RenderError::Sink)?;
    let problems = r.problems.into_inner().unwrap_or_else(|e| e.into_inner());
    if problems.has_errors() {
        return Err(RenderError::Templates(problems));
    }
    let mut paths = r.paths.into_inner().unwrap_or_else(|e| e.into_inner());
    let base = views::base_path(&config.base_url);
    let map = sitemap(&config.base_url, &base, &paths);
    sink.put(OutputFile::new("sitemap.xml", map))
        .map_err(RenderError::Sink)?;
    paths.push("sitemap.xml".into());
    Ok(Rendered { files: paths.len() })
}

fn render_all(
    r: &Renderer,
    config: &Config,
    register: &Register,
    headshots: &crate::images::Processed,
    today: Date,
) -> Result<(), SinkError> {
    let base = r.site.base_path.clone();

    // Mentor profiles and cards, in parallel: they are most of the work. Each profile's
    // HTML is dropped once its page is written; listings only need the rest of the view.
    let mentors: Vec<MentorView> = register
        .mentors
        .par_iter()
        .map(|m| {
            let photo = headshots.headshots.get(&m.slug);
            let mut view = views::mentor(config, m, photo, today, &base);
            images(r, &view, photo, &headshots.cache_dir)?;
            let mut ctx = r.context(&r.site.register_url);
            ctx.insert("mentor", &view);
            r.render(
                "mentor.html",
                format!("mentors/{}/index.html", view.slug),
                &ctx,
            )?;
            view.bio_html = String::new();
            Ok(view)
        })
        .collect::<Result<_, SinkError>>()?;
    let cards: Vec<Card> = mentors
        .par_iter()
        .map(|m| {
            let mut ctx = r.context(&r.site.register_url);
            ctx.insert("mentor", m);
            Card {
                slug: &m.slug,
                html: r.to_string("partials/card.html", &ctx).unwrap_or_default(),
            }
        })
        .collect();

    // The search index, then the home page and register that load it.
    let filters = views::filters_of_views(config, &mentors);
    let bios: Vec<String> = register.mentors.iter().map(|m| m.bio.clone()).collect();
    let index = search::build(&mentors, &filters, &bios, &base);
    drop(bios);
    for file in index.files {
        r.put(file)?;
    }
    let mut ctx = r.context(&base);
    ctx.insert("page", &views::page(&register.home, base.clone(), ""));
    ctx.insert("cards", &cards);
    ctx.insert("search_manifest", &search::inline_json(&index.manifest));
    ctx.insert("filters", &filters);
    ctx.insert(
        "counts",
        &Counts {
            total: mentors.len(),
            accepting: mentors
                .iter()
                .filter(|m| m.availability.can_request)
                .count(),
        },
    );
    r.render("index.html", "index.html", &ctx)?;
    filter_pages(r, config, &mentors, &cards)?;

    // The handbook: index, one page per section, and a printable whole.
    if !register.handbook.is_empty() {
        handbook(r, register, &base)?;
    }

    for p in &register.pages {
        let url = format!("{base}{}/", p.slug);
        let mut ctx = r.context(&url);
        ctx.insert("page", &views::page(p, url.clone(), ""));
        r.render("page.html", format!("{}/index.html", p.slug), &ctx)?;
    }
    r.render("sent.html", "requests/sent/index.html", &r.context(""))?;
    r.render("404.html", "404.html", &r.context(""))?;
    for (rel, bytes) in &r.theme.assets {
        r.put(OutputFile::new(
            PathBuf::from("static").join(rel),
            bytes.clone(),
        ))?;
    }
    Ok(())
}

fn handbook(r: &Renderer, register: &Register, base: &str) -> Result<(), SinkError> {
    let url = |slug: &str| format!("{base}handbook/{slug}/");
    let mut sections: Vec<PageView> = register
        .handbook
        .iter()
        .map(|p| views::page(p, url(&p.slug), ""))
        .collect();
    let links: Vec<Link> = sections
        .iter()
        .map(|s| Link {
            title: s.title.clone(),
            url: s.url.clone(),
        })
        .collect();
    for (i, s) in sections.iter_mut().enumerate() {
        s.prev = i.checked_sub(1).map(|j| links[j].clone());
        s.next = links.get(i + 1).cloned();
    }
    let intro = views::page(&register.handbook_intro, format!("{base}handbook/"), "");
    let mut ctx = r.context(&r.site.handbook_url);
    ctx.insert("intro", &intro);
    ctx.insert("sections", &sections);
    ctx.insert("print_url", &format!("{base}handbook/print/"));
    r.render("handbook.html", "handbook/index.html", &ctx)?;

    for s in &sections {
        let mut ctx = r.context(&r.site.handbook_url);
        ctx.insert("intro", &intro);
        ctx.insert("section", s);
        ctx.insert("sections", &links);
        ctx.insert("print_url", &format!("{base}handbook/print/"));
        r.render(
            "handbook_section.html",
            format!("handbook/{}/index.html", s.slug),
            &ctx,
        )?;
    }

    // On the single printable page every section's heading ids carry the section's slug.
    let printable: Vec<PageView> = register
        .handbook
        .iter()
        .map(|p| views::page(p, format!("#{}", p.slug), &p.slug))
        .collect();
    let mut ctx = r.context(&r.site.handbook_url);
    ctx.insert("intro", &intro);
    ctx.insert("sections", &printable);
    r.render("handbook_print.html", "handbook/print/index.html", &ctx)
}

/// A mentor's headshot files (copied from the cache), or their initials avatar.
fn images(
    r: &Renderer,
    view: &MentorView,
    photo: Option<&crate::images::Headshot>,
    cache: &std::path::Path,
) -> Result<(), SinkError> {
    match photo {
        Some(h) => {
            for (out, cached) in h.files(&view.slug, cache) {
                r.record(&out);
                r.sink.copy(out, &cached)?;
            }
            Ok(())
        }
        None => {
            let svg = crate::images::avatar::svg(&view.initials, view.avatar_hue);
            r.put(OutputFile::new(views::avatar_path(&view.slug, &svg), svg))
        }
    }
}

/// One page per public filter value, listing the mentors who have it: every mentor stays
/// reachable by filter without JavaScript.
fn filter_pages(
    r: &Renderer,
    config: &Config,
    mentors: &[MentorView],
    cards: &[Card],
) -> Result<(), SinkError> {
    let filters = views::filters_of_views(config, mentors);
    let pages: Vec<(&views::FilterView, &views::FacetValue)> = filters
        .iter()
        .flat_map(|f| f.values.iter().filter(|v| v.count > 0).map(move |v| (f, v)))
        .collect();
    pages.par_iter().try_for_each(|(filter, value)| {
        let matching: Vec<&Card> = mentors
            .iter()
            .zip(cards)
            .filter(|(m, _)| {
                m.fields
                    .iter()
                    .any(|f| f.key == filter.key && f.slugs.contains(&value.slug))
            })
            .map(|(_, c)| c)
            .collect();
        let mut ctx = r.context(&r.site.register_url);
        ctx.insert("filter", filter);
        ctx.insert("value", value);
        ctx.insert("cards", &matching);
        r.render(
            "filter.html",
            format!("mentors/by/{}/{}/index.html", filter.key, value.slug),
            &ctx,
        )
    })
}

/// `static/<file>?v=<hash>` for every static file, so browsers can cache them until they change.
pub fn asset_urls(theme: &Theme, base: &str) -> std::collections::BTreeMap<String, String> {
    theme
        .assets
        .iter()
        .map(|(path, bytes)| {
            let name = crate::diag::display_path(path);
            let url = format!("{base}static/{name}?v={:08x}", views::fnv1a(bytes) as u32);
            (name, url)
        })
        .collect()
}

/// Every HTML page except the 404 and the after-request page, under `base_url`.
fn sitemap(base_url: &str, base_path: &str, paths: &[PathBuf]) -> String {
    let origin = crate::config::origin_of(base_url);
    let mut urls: Vec<String> = paths
        .iter()
        .filter_map(|path| {
            let p = crate::diag::display_path(path);
            let dir = p.strip_suffix("index.html")?;
            (!dir.starts_with("requests/")).then(|| format!("{origin}{base_path}{dir}"))
        })
        .collect();
    urls.sort();
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for u in urls {
        xml.push_str("  <url><loc>");
        xml.push_str(&escape_xml(&u));
        xml.push_str("</loc></url>\n");
    }
    xml.push_str("</urlset>\n");
    xml
}

fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
