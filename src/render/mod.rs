//! Register + theme → the site's files. Rendering is pure (values in, bytes out) and hands
//! each finished file to a [`Sink`] as soon as it is made, so a register of thousands of
//! mentors never sits in memory as a whole; [`crate::site`] decides what the sink does.

pub mod markdown;
mod memo;
pub mod search;
pub mod theme;
pub mod views;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jiff::civil::Date;
use rayon::prelude::*;
use serde::Serialize;
use tera::Context;

use crate::config::Config;
use crate::diag::Diagnostics;
use crate::register::Register;
use theme::Theme;
use views::{Link, MentorView, PageView, SiteView};

pub use crate::sink::{OutputFile, Sink, SinkError};
pub use memo::Memo;
use memo::{CardHtml, Kept, Page, Terms, lock};

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
    /// Pages and cards made by the templates this time.
    pub rendered: usize,
    /// Pages and cards taken from the [`Memo`] because their inputs had not changed.
    pub reused: usize,
}

/// A hash of `value`'s JSON form, mixed with `generation`.
fn key_of(generation: u64, value: &impl Serialize) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&generation.to_le_bytes());
    // Writing into a hasher cannot fail; a value that cannot be serialised gets no memo.
    if serde_json::to_writer(&mut h, value).is_err() {
        return 0;
    }
    let bytes = h.finalize();
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().unwrap_or_default())
}

struct Renderer<'a> {
    theme: &'a Theme,
    site: SiteView,
    sink: &'a dyn Sink,
    /// Paths handed to the sink, for the sitemap.
    paths: Mutex<Vec<PathBuf>>,
    problems: Mutex<Diagnostics>,
    memo: Option<&'a Memo>,
    generation: u64,
    rendered: AtomicUsize,
    reused: AtomicUsize,
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

    /// The key under which a page made from `inputs` (besides the site) is remembered.
    fn key(&self, inputs: &impl Serialize) -> Option<u64> {
        self.memo.map(|_| key_of(self.generation, inputs))
    }

    /// Hand the last build's `path` to the sink if its `key` is unchanged; `true` if it was.
    /// Listings call this before making their context, which costs more than the lookup.
    fn reuse(&self, path: &std::path::Path, key: Option<u64>) -> Result<bool, SinkError> {
        let (Some(memo), Some(key)) = (self.memo, key) else {
            return Ok(false);
        };
        let hit = lock(&memo.pages)
            .get(path)
            .filter(|(k, _)| *k == key)
            .map(|(_, kept)| kept.clone());
        let reused = match hit {
            Some(Kept::Bytes(bytes)) => {
                self.put_shared(path.to_path_buf(), bytes)?;
                true
            }
            Some(Kept::OnDisk(stamp)) => {
                let kept = self.sink.keep(path, &stamp)?;
                if kept {
                    self.record(path);
                }
                kept
            }
            Some(Kept::Written) | None => false,
        };
        if reused {
            self.reused.fetch_add(1, Ordering::Relaxed);
        }
        Ok(reused)
    }

    /// Render `template` to `path`; template problems are collected, disk errors returned.
    /// With a memo and a `key`, a page is only rendered when its key changed since the last
    /// build.
    fn render(
        &self,
        template: &str,
        path: impl Into<PathBuf>,
        ctx: &Context,
        key: Option<u64>,
    ) -> Result<(), SinkError> {
        let path = path.into();
        if self.reuse(&path, key)? {
            return Ok(());
        }
        let Some(text) = self.to_string(template, ctx) else {
            return Ok(());
        };
        self.rendered.fetch_add(1, Ordering::Relaxed);
        match (self.memo, key) {
            (Some(memo), Some(key)) if !memo.on_disk => {
                let bytes = Page::from(text.into_bytes());
                lock(&memo.pages).insert(path.clone(), (key, Kept::Bytes(bytes.clone())));
                self.put_shared(path, bytes)
            }
            (Some(memo), Some(key)) => {
                lock(&memo.pages).insert(path.clone(), (key, Kept::Written));
                self.put(OutputFile::new(path, text))
            }
            _ => self.put(OutputFile::new(path, text)),
        }
    }

    /// A mentor's view from the last build, if their `key` is unchanged.
    fn remembered(&self, slug: &str, key: Option<u64>) -> Option<Arc<MentorView>> {
        let (Some(memo), Some(key)) = (self.memo, key) else {
            return None;
        };
        lock(&memo.views)
            .get(slug)
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    /// Keep a mentor's view (without the bio's HTML) for the next build in memory; with a memo
    /// on disk views are made again, which is cheap without the bio.
    fn remember(&self, view: &Arc<MentorView>, key: Option<u64>) {
        if let (Some(memo), Some(key)) = (self.memo, key)
            && !memo.on_disk
        {
            lock(&memo.views).insert(view.slug.clone(), (key, view.clone()));
        }
    }

    /// A mentor's card (`partials/card.html`), from the memo when `key` is unchanged.
    fn card<'v>(&self, view: &'v MentorView, key: Option<u64>) -> Card<'v> {
        let card = |html: CardHtml| Card {
            slug: &view.slug,
            html,
            key: key.unwrap_or_default(),
        };
        if let (Some(memo), Some(key)) = (self.memo, key)
            && let Some((k, html)) = lock(&memo.cards).get(&view.slug)
            && *k == key
        {
            self.reused.fetch_add(1, Ordering::Relaxed);
            return card(html.clone());
        }
        let mut ctx = self.context(&self.site.register_url);
        ctx.insert("mentor", view);
        let html: CardHtml = self
            .to_string("partials/card.html", &ctx)
            .unwrap_or_default()
            .into();
        self.rendered.fetch_add(1, Ordering::Relaxed);
        if let (Some(memo), Some(key)) = (self.memo, key) {
            lock(&memo.cards).insert(view.slug.clone(), (key, html.clone()));
        }
        card(html)
    }

    /// A mentor's search terms from the memo, when what they are made of is unchanged.
    fn terms(&self, slug: &str, key: Option<u64>) -> Option<Terms> {
        let (Some(memo), Some(key)) = (self.memo, key) else {
            return None;
        };
        lock(&memo.terms)
            .get(slug)
            .filter(|(k, _)| *k == key)
            .map(|(_, t)| t.clone())
    }

    fn put(&self, file: OutputFile) -> Result<(), SinkError> {
        self.record(&file.path);
        self.sink.put(file)
    }

    fn put_hashed(&self, file: OutputFile) -> Result<(), SinkError> {
        self.record(&file.path);
        self.sink.put_hashed(file)
    }

    fn put_shared(&self, path: PathBuf, bytes: Page) -> Result<(), SinkError> {
        self.record(&path);
        self.sink.put_shared(path, bytes)
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

fn shared_str<S: serde::Serializer>(s: &CardHtml, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(s)
}

/// A mentor's card, rendered once and reused on every listing it appears on.
#[derive(Serialize)]
struct Card<'a> {
    slug: &'a str,
    #[serde(serialize_with = "shared_str")]
    html: CardHtml,
    /// The memo's key for the card: listings hash these rather than the HTML.
    #[serde(skip)]
    key: u64,
}

/// The bios of `register`'s mentors, moved out: rendering drops each once it is used.
pub fn take_bios(register: &mut Register) -> Vec<String> {
    register
        .mentors
        .iter_mut()
        .map(|m| std::mem::take(&mut m.bio))
        .collect()
}

/// Render every page of the site into `sink`; `bios[i]` is `register.mentors[i]`'s bio (the
/// register's own are left empty: see [`take_bios`]).
#[allow(clippy::too_many_arguments)]
pub fn site(
    config: &Config,
    register: &Register,
    bios: Vec<String>,
    theme: &Theme,
    today: Date,
    headshots: &crate::images::Processed,
    sink: &dyn Sink,
    memo: Option<&Memo>,
) -> Result<Rendered, RenderError> {
    let assets = asset_urls(theme, &views::base_path(&config.base_url));
    let site = views::site(config, register, today, assets);
    let generation = key_of(0, &site);
    if let Some(memo) = memo {
        memo.begin(generation);
    }
    let r = Renderer {
        theme,
        site,
        sink,
        paths: Mutex::new(Vec::new()),
        problems: Mutex::new(Diagnostics::new()),
        memo,
        generation,
        rendered: AtomicUsize::new(0),
        reused: AtomicUsize::new(0),
    };
    render_all(&r, config, register, bios, headshots, today).map_err(RenderError::Sink)?;
    let problems = r.problems.into_inner().unwrap_or_else(|e| e.into_inner());
    if problems.has_errors() {
        // Nothing half-made is remembered.
        if let Some(memo) = memo {
            memo.clear();
        }
        return Err(RenderError::Templates(problems));
    }
    let mut paths = r.paths.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(memo) = memo {
        let slugs: Vec<&str> = register.mentors.iter().map(|m| m.slug.as_str()).collect();
        memo.keep_only(&paths, &slugs);
    }
    let base = views::base_path(&config.base_url);
    let map = sitemap(&config.base_url, &base, &paths);
    sink.put(OutputFile::new("sitemap.xml", map))
        .map_err(RenderError::Sink)?;
    paths.push("sitemap.xml".into());
    Ok(Rendered {
        files: paths.len(),
        rendered: r.rendered.into_inner(),
        reused: r.reused.into_inner(),
    })
}

/// A mentor's view, the key they are remembered by, and their search terms: from the memo, or
/// as made from the bio (to be numbered).
type Profiled = (
    Arc<MentorView>,
    Option<u64>,
    Result<Terms, Vec<(String, u32)>>,
);

/// A profiled mentor once their terms are numbered.
type Keyed = (Arc<MentorView>, Option<u64>, Terms);

/// Make (or reuse) `m`'s profile page, images and search terms, from their `bio`.
fn profile(
    r: &Renderer,
    config: &Config,
    m: &crate::register::Mentor,
    bio: &str,
    headshots: &crate::images::Processed,
    today: Date,
) -> Result<Profiled, SinkError> {
    let photo = headshots.headshots.get(&m.slug);
    let key = r.key(&(m.digest, &m.slug, photo.map(|h| &h.key)));
    let path = PathBuf::from(format!("mentors/{}/index.html", m.slug));
    let remembered = r.remembered(&m.slug, key);
    let page_kept = r.reuse(&path, key)?;
    let view = match remembered {
        Some(view) if page_kept => view,
        _ => {
            // The bio's HTML is only made for a page that is made.
            let base = &r.site.base_path;
            let mut view = views::mentor(config, m, bio, photo, today, base, !page_kept);
            if !page_kept {
                let mut ctx = r.context(&r.site.register_url);
                ctx.insert("mentor", &view);
                r.render("mentor.html", path, &ctx, key)?;
                view.bio_html = String::new();
            }
            let view = Arc::new(view);
            r.remember(&view, key);
            view
        }
    };
    images(r, &view, photo, &headshots.cache_dir)?;
    let terms = r
        .terms(&m.slug, key)
        .ok_or_else(|| search::terms_of(&view, bio));
    Ok((view, key, terms))
}

/// `bios[i]` is `register.mentors[i]`'s bio, moved out of the register so that each can be
/// dropped once used.
fn render_all(
    r: &Renderer,
    config: &Config,
    register: &Register,
    bios: Vec<String>,
    headshots: &crate::images::Processed,
    today: Date,
) -> Result<(), SinkError> {
    let base = r.site.base_path.clone();
    let t = std::time::Instant::now();

    // Mentor profiles and search terms, a batch at a time in parallel: they are most of the
    // work. Each bio is dropped once its batch is done (a register's bios are most of its
    // memory), each profile's HTML once its page is written; a mentor's terms are kept as
    // numbers. With a memo, a mentor's profile, card and terms are keyed by their bio file's
    // hash and their photo's: an unchanged mentor is not made again.
    let mut own_vocab = search::Vocab::default();
    let mut memo_vocab = r.memo.map(|m| lock(&m.vocab));
    let vocab = memo_vocab.as_deref_mut().unwrap_or(&mut own_vocab);
    let mut bios = bios.into_iter();
    let mut keyed: Vec<Option<Keyed>> = Vec::with_capacity(register.mentors.len());
    for batch in register.mentors.chunks(TERM_BATCH) {
        let texts: Vec<String> = bios.by_ref().take(batch.len()).collect();
        let made: Vec<Profiled> = batch
            .par_iter()
            .zip(&texts)
            .map(|(m, bio)| profile(r, config, m, bio, headshots, today))
            .collect::<Result<_, SinkError>>()?;
        drop(texts);
        for (view, key, found) in made {
            let terms = found.unwrap_or_else(|made| {
                let terms = Terms::from(vocab.pack(&made));
                if let (Some(memo), Some(key)) = (r.memo, key) {
                    lock(&memo.terms).insert(view.slug.clone(), (key, terms.clone()));
                }
                terms
            });
            keyed.push(Some((view, key, terms)));
        }
    }
    crate::log::phase("render.profiles", t);
    let t = std::time::Instant::now();
    // From here on mentors are in this build's register order: doc id = position.
    let statuses: Vec<&str> = keyed
        .iter()
        .flatten()
        .map(|(m, _, _)| m.availability.status)
        .collect();
    let order = fair_order(&statuses, today);
    let mut postings = search::Postings::default();
    let mut mentors = Vec::with_capacity(order.len());
    let mut keys = Vec::with_capacity(order.len());
    for (id, &i) in order.iter().enumerate() {
        if let Some((view, key, terms)) = keyed[i].take() {
            postings.add(id as u32, &terms);
            mentors.push(view);
            keys.push(key);
        }
    }
    drop(keyed);
    let cards: Vec<Card> = mentors
        .par_iter()
        .zip(&keys)
        .map(|(m, key)| r.card(m, *key))
        .collect();

    crate::log::phase("render.cards", t);
    let t = std::time::Instant::now();
    // The search index, then the register's pages that load it.
    let filters = views::filters_of_views(config, &mentors);
    let postings = postings.sorted(vocab);
    crate::log::phase("render.terms", t);
    let t = std::time::Instant::now();
    let card_html: Vec<&str> = cards.iter().map(|c| &*c.html).collect();
    let mut failed = None;
    let index = search::build(
        &mentors,
        &filters,
        postings,
        &card_html,
        PAGE_SIZE,
        &base,
        &mut |file| {
            if failed.is_none()
                && let Err(e) = r.put(file)
            {
                failed = Some(e);
            }
        },
    );
    if let Some(e) = failed {
        return Err(e);
    }
    crate::log::phase("render.search", t);
    let t = std::time::Instant::now();
    let home = views::page(&register.home, base.clone(), "");
    let manifest = search::inline_json(&index);
    let counts = Counts {
        total: mentors.len(),
        accepting: mentors
            .iter()
            .filter(|m| m.availability.can_request)
            .count(),
    };
    let pages = paged(&cards, &base);
    // What every register page shares is hashed once, not once per page (the manifest alone
    // is a few hundred KB at 20,000 mentors).
    let shared = r.key(&(&home, &manifest, &filters, &counts));
    pages.par_iter().try_for_each(|(pager, on_page)| {
        let card_keys: Vec<u64> = on_page.iter().map(|c| c.key).collect();
        let key = shared.map(|shared| key_of(r.generation, &(shared, &card_keys, pager)));
        let path = pager.path("index.html");
        if r.reuse(&path, key)? {
            return Ok(());
        }
        let mut ctx = r.context(&base);
        ctx.insert("page", &home);
        ctx.insert("cards", on_page);
        ctx.insert("pager", pager);
        ctx.insert("search_manifest", &manifest);
        ctx.insert("filters", &filters);
        ctx.insert("counts", &counts);
        r.render("index.html", path, &ctx, key)
    })?;
    crate::log::phase("render.register", t);
    let t = std::time::Instant::now();
    filter_pages(r, &filters, &mentors, &cards)?;
    crate::log::phase("render.filters", t);

    // The handbook: index, one page per section, and a printable whole.
    if !register.handbook.is_empty() {
        handbook(r, register, &base)?;
    }

    for p in &register.pages {
        let url = format!("{base}{}/", p.slug);
        let view = views::page(p, url.clone(), "");
        let mut ctx = r.context(&url);
        ctx.insert("page", &view);
        let key = r.key(&view);
        r.render("page.html", format!("{}/index.html", p.slug), &ctx, key)?;
    }
    // These two show the site-wide values only.
    let key = r.key(&());
    r.render("sent.html", "requests/sent/index.html", &r.context(""), key)?;
    r.render("404.html", "404.html", &r.context(""), key)?;
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
    let key = r.key(&(&intro, &sections));
    r.render("handbook.html", "handbook/index.html", &ctx, key)?;

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
            r.key(&(&intro, s, &links)),
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
    let key = r.key(&(&intro, &printable));
    r.render(
        "handbook_print.html",
        "handbook/print/index.html",
        &ctx,
        key,
    )
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
            r.put_hashed(OutputFile::new(views::avatar_path(&view.slug, &svg), svg))
        }
    }
}

/// One page per public filter value, listing the mentors who have it: every mentor stays
/// reachable by filter without JavaScript.
fn filter_pages(
    r: &Renderer,
    filters: &[views::FilterView],
    mentors: &[Arc<MentorView>],
    cards: &[Card],
) -> Result<(), SinkError> {
    // (field, value) → the mentors who have it, in register order, in one pass.
    let mut having: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, m) in mentors.iter().enumerate() {
        for f in &m.fields {
            for slug in &f.slugs {
                let list = having.entry((f.key.as_str(), slug.as_str())).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
    }
    let pages: Vec<(&views::FilterView, &views::FacetValue)> = filters
        .iter()
        .flat_map(|f| f.values.iter().filter(|v| v.count > 0).map(move |v| (f, v)))
        .collect();
    let base = &r.site.base_path;
    let listings: Vec<(&views::FilterView, &views::FacetValue, Pager, Vec<&Card>)> = pages
        .iter()
        .flat_map(|&(filter, value)| {
            let matching: Vec<&Card> = having
                .get(&(filter.key.as_str(), value.slug.as_str()))
                .map(|ids| ids.iter().map(|&i| &cards[i]).collect())
                .unwrap_or_default();
            let url = format!("{base}mentors/by/{}/{}/", filter.key, value.slug);
            paged(&matching, &url)
                .into_iter()
                .map(move |(pager, on_page)| {
                    (filter, value, pager, on_page.iter().map(|c| &**c).collect())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // Each filter (all its values and counts) is hashed once for all its pages.
    let filter_keys: HashMap<&str, Option<u64>> =
        filters.iter().map(|f| (f.key.as_str(), r.key(f))).collect();
    listings
        .par_iter()
        .try_for_each(|(filter, value, pager, on_page)| {
            let key = filter_keys[filter.key.as_str()].map(|fk| {
                let card_keys: Vec<u64> = on_page.iter().map(|c| c.key).collect();
                key_of(r.generation, &(fk, value, pager, card_keys))
            });
            let dir = format!("mentors/by/{}/{}/", filter.key, value.slug);
            let path = pager.path(&format!("{dir}index.html"));
            if r.reuse(&path, key)? {
                return Ok(());
            }
            let mut ctx = r.context(&r.site.register_url);
            ctx.insert("filter", filter);
            ctx.insert("value", value);
            ctx.insert("cards", on_page);
            ctx.insert("pager", pager);
            r.render("filter.html", path, &ctx, key)
        })
}

/// Cards on a register page, a filter page, and in a search index card chunk: a first screen,
/// so a page's size does not grow with the register.
pub const PAGE_SIZE: usize = 24;

/// Mentors whose search terms are made at once (see `render_all`).
const TERM_BATCH: usize = 256;

/// Where a listing page is and what it links to.
#[derive(Debug, Clone, Serialize)]
struct Pager {
    /// 1-based.
    number: usize,
    count: usize,
    /// The doc id (register) or position (filter page) of the first card.
    start: usize,
    prev: Option<String>,
    next: Option<String>,
    /// The first, the last and the two either side of this one; `None` is a gap.
    links: Vec<Option<PageLink>>,
}

#[derive(Debug, Clone, Serialize)]
struct PageLink {
    number: usize,
    url: String,
    current: bool,
}

impl Pager {
    /// `index.html` under the listing's folder for page 1, `page/N/index.html` beyond.
    fn path(&self, first: &str) -> PathBuf {
        if self.number == 1 {
            return PathBuf::from(first);
        }
        let dir = first.strip_suffix("index.html").unwrap_or("");
        PathBuf::from(format!("{dir}page/{}/index.html", self.number))
    }
}

/// A listing at `url` cut into pages of [`PAGE_SIZE`]; an empty listing is one empty page.
fn paged<'c, T>(items: &'c [T], url: &str) -> Vec<(Pager, &'c [T])> {
    let chunks: Vec<&[T]> = if items.is_empty() {
        vec![items]
    } else {
        items.chunks(PAGE_SIZE).collect()
    };
    let count = chunks.len();
    let url_of = |n: usize| {
        if n == 1 {
            url.to_string()
        } else {
            format!("{url}page/{n}/")
        }
    };
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, on_page)| {
            let number = i + 1;
            let mut links = Vec::new();
            let mut last = 0;
            for n in 1..=count {
                let near = n == 1 || n == count || n.abs_diff(number) <= 2;
                if !near {
                    continue;
                }
                if n > last + 1 {
                    links.push(None);
                }
                links.push(Some(PageLink {
                    number: n,
                    url: url_of(n),
                    current: n == number,
                }));
                last = n;
            }
            let pager = Pager {
                number,
                count,
                start: i * PAGE_SIZE,
                prev: (number > 1).then(|| url_of(number - 1)),
                next: (number < count).then(|| url_of(number + 1)),
                links,
            };
            (pager, on_page)
        })
        .collect()
}

/// This build's register order, as indexes into `mentors`: those taking requests first, then
/// those away, then the rest, each group turned by the build's date so that a different mentor
/// heads the list each day (the site is rebuilt daily). The same inputs on the same date give
/// the same order.
fn fair_order(statuses: &[&str], today: Date) -> Vec<usize> {
    let day = i64::from(today.year()) * 366 + i64::from(today.day_of_year());
    let mut order = Vec::with_capacity(statuses.len());
    for group in ["accepting", "away", "full"] {
        let members: Vec<usize> = (0..statuses.len())
            .filter(|&i| statuses[i] == group)
            .collect();
        if members.is_empty() {
            continue;
        }
        let start = (day.rem_euclid(members.len() as i64) as usize * 7919) % members.len();
        order.extend((0..members.len()).map(|k| members[(start + k) % members.len()]));
    }
    order
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
        xml.push_str(&escape(&u));
        xml.push_str("</loc></url>\n");
    }
    xml.push_str("</urlset>\n");
    xml
}

/// Text made safe inside HTML or XML, in element content and quoted attributes.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fair_order_puts_takers_first_and_turns_each_group_daily() {
        let statuses = [
            "full",
            "accepting",
            "away",
            "accepting",
            "accepting",
            "full",
        ];
        let day: Date = "2026-12-03".parse().unwrap();
        let order = fair_order(&statuses, day);
        let grouped: Vec<&str> = order.iter().map(|&i| statuses[i]).collect();
        assert_eq!(
            grouped,
            [
                "accepting",
                "accepting",
                "accepting",
                "away",
                "full",
                "full"
            ]
        );
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3, 4, 5], "everyone once");
        // Over three days each of the three takers heads the list once.
        let heads: std::collections::BTreeSet<usize> = (0..3)
            .map(|k| {
                fair_order(
                    &statuses,
                    day.checked_add(jiff::Span::new().days(k)).unwrap(),
                )[0]
            })
            .collect();
        assert_eq!(heads.len(), 3, "{heads:?}");
        assert_eq!(
            fair_order(&statuses, day),
            order,
            "the same day, the same order"
        );
    }

    #[test]
    fn a_listing_is_paged_with_links_to_the_ends_and_the_neighbours() {
        let items: Vec<usize> = (0..PAGE_SIZE * 9 + 1).collect();
        let pages = paged(&items, "/s/");
        assert_eq!(pages.len(), 10);
        let (first, on_first) = &pages[0];
        assert_eq!(on_first.len(), PAGE_SIZE);
        assert_eq!(first.prev, None);
        assert_eq!(first.next.as_deref(), Some("/s/page/2/"));
        assert_eq!(first.path("index.html"), PathBuf::from("index.html"));
        let numbers = |p: &Pager| -> Vec<Option<usize>> {
            p.links
                .iter()
                .map(|l| l.as_ref().map(|l| l.number))
                .collect()
        };
        assert_eq!(numbers(first), [Some(1), Some(2), Some(3), None, Some(10)]);
        let (fifth, _) = &pages[4];
        assert_eq!(
            numbers(fifth),
            [
                Some(1),
                None,
                Some(3),
                Some(4),
                Some(5),
                Some(6),
                Some(7),
                None,
                Some(10)
            ]
        );
        assert_eq!(fifth.start, 4 * PAGE_SIZE);
        assert_eq!(
            fifth.path("mentors/by/region/leeds/index.html"),
            PathBuf::from("mentors/by/region/leeds/page/5/index.html")
        );
        let (last, on_last) = &pages[9];
        assert_eq!(on_last.len(), 1);
        assert_eq!(last.next, None);
        assert_eq!(last.prev.as_deref(), Some("/s/page/9/"));
        // An empty listing still has its one page.
        let none: Vec<usize> = Vec::new();
        assert_eq!(paged(&none, "/").len(), 1);
    }
}
