//! Register + theme → the site's files, in memory. Pure: values in, bytes out; writing them is
//! [`crate::site`]'s job.

pub mod markdown;
pub mod theme;
pub mod views;

use std::path::PathBuf;

use jiff::civil::Date;
use rayon::prelude::*;
use serde::Serialize;
use tera::Context;

use crate::config::Config;
use crate::diag::{Diagnostic, Diagnostics};
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

struct Renderer<'a> {
    theme: &'a Theme,
    site: SiteView,
}

impl Renderer<'_> {
    /// A context with the site, and which navigation link is current.
    fn context(&self, current_url: &str) -> Context {
        let mut ctx = Context::new();
        ctx.insert("site", &self.site);
        ctx.insert("current_url", current_url);
        ctx
    }

    fn render(
        &self,
        template: &str,
        path: impl Into<PathBuf>,
        ctx: &Context,
    ) -> Result<OutputFile, Diagnostic> {
        self.theme
            .tera
            .render(template, ctx)
            .map(|html| OutputFile::new(path, html))
            .map_err(|e| theme::template_error(&self.theme.dir, template, &e))
    }
}

#[derive(Serialize)]
struct Counts {
    total: usize,
    accepting: usize,
}

/// Render every page of the site. Errors are template errors (the content was checked before).
pub fn site(
    config: &Config,
    register: &Register,
    theme: &Theme,
    today: Date,
) -> Result<Vec<OutputFile>, Diagnostics> {
    let stylesheet = stylesheet_url(theme, &views::base_path(&config.base_url));
    let r = Renderer {
        theme,
        site: views::site(config, register, today, stylesheet),
    };
    let base = r.site.base_path.clone();
    let mut results: Vec<Result<OutputFile, Diagnostic>> = Vec::new();

    // Mentor profiles, in parallel: they are most of the work.
    let mentors: Vec<MentorView> = register
        .mentors
        .par_iter()
        .map(|m| views::mentor(config, m, today, &base))
        .collect();
    results.par_extend(mentors.par_iter().map(|m| {
        let mut ctx = r.context(&r.site.register_url);
        ctx.insert("mentor", m);
        r.render(
            "mentor.html",
            format!("mentors/{}/index.html", m.slug),
            &ctx,
        )
    }));

    // The home page and register.
    let mut ctx = r.context(&base);
    ctx.insert("page", &views::page(&register.home, base.clone(), ""));
    ctx.insert("mentors", &mentors);
    ctx.insert("filters", &views::filters_of_views(config, &mentors));
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
    results.push(r.render("index.html", "index.html", &ctx));
    results.extend(filter_pages(&r, config, &mentors));

    // The handbook: index, one page per section, and a printable whole.
    if !register.handbook.is_empty() {
        results.extend(handbook(&r, register, &base));
    }

    for p in &register.pages {
        let url = format!("{base}{}/", p.slug);
        let mut ctx = r.context(&url);
        ctx.insert("page", &views::page(p, url.clone(), ""));
        results.push(r.render("page.html", format!("{}/index.html", p.slug), &ctx));
    }
    results.push(r.render("sent.html", "requests/sent/index.html", &r.context("")));
    results.push(r.render("404.html", "404.html", &r.context("")));

    let mut diags = Diagnostics::new();
    let mut files = Vec::new();
    for result in results {
        match result {
            Ok(f) => files.push(f),
            Err(d) => diags.push(d),
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    for (rel, bytes) in &theme.assets {
        files.push(OutputFile::new(
            PathBuf::from("static").join(rel),
            bytes.clone(),
        ));
    }
    files.push(OutputFile::new(
        "sitemap.xml",
        sitemap(&config.base_url, &base, &files),
    ));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn handbook(r: &Renderer, register: &Register, base: &str) -> Vec<Result<OutputFile, Diagnostic>> {
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
    let mut out = Vec::new();

    let mut ctx = r.context(&r.site.handbook_url);
    ctx.insert("intro", &intro);
    ctx.insert("sections", &sections);
    ctx.insert("print_url", &format!("{base}handbook/print/"));
    out.push(r.render("handbook.html", "handbook/index.html", &ctx));

    for s in &sections {
        let mut ctx = r.context(&r.site.handbook_url);
        ctx.insert("intro", &intro);
        ctx.insert("section", s);
        ctx.insert("sections", &links);
        ctx.insert("print_url", &format!("{base}handbook/print/"));
        out.push(r.render(
            "handbook_section.html",
            format!("handbook/{}/index.html", s.slug),
            &ctx,
        ));
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
    out.push(r.render("handbook_print.html", "handbook/print/index.html", &ctx));
    out
}

/// One page per public filter value, listing the mentors who have it: every mentor stays
/// reachable by filter without JavaScript.
fn filter_pages(
    r: &Renderer,
    config: &Config,
    mentors: &[MentorView],
) -> Vec<Result<OutputFile, Diagnostic>> {
    let filters = views::filters_of_views(config, mentors);
    let mut out = Vec::new();
    for filter in &filters {
        for value in filter.values.iter().filter(|v| v.count > 0) {
            let matching: Vec<&MentorView> = mentors
                .iter()
                .filter(|m| {
                    m.fields
                        .iter()
                        .any(|f| f.key == filter.key && f.slugs.contains(&value.slug))
                })
                .collect();
            let mut ctx = r.context(&r.site.register_url);
            ctx.insert("filter", filter);
            ctx.insert("value", value);
            ctx.insert("mentors", &matching);
            out.push(r.render(
                "filter.html",
                format!("mentors/by/{}/{}/index.html", filter.key, value.slug),
                &ctx,
            ));
        }
    }
    out
}

fn stylesheet_url(theme: &Theme, base: &str) -> String {
    theme
        .assets
        .iter()
        .find(|(p, _)| p.as_path() == std::path::Path::new("style.css"))
        .map(|(_, bytes)| {
            format!(
                "{base}static/style.css?v={:08x}",
                views::fnv1a(bytes) as u32
            )
        })
        .unwrap_or_default()
}

/// Every HTML page except the 404 and the after-request page, under `base_url`.
fn sitemap(base_url: &str, base_path: &str, files: &[OutputFile]) -> String {
    let origin = crate::config::origin_of(base_url);
    let mut urls: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let p = crate::diag::display_path(&f.path);
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
