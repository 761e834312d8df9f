//! What templates see. Views are built from the register's public data only: a template cannot
//! print a mentor's email, phone or a private field because those never enter a view.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::Serialize;

use super::markdown::{self, Heading};
use crate::config::{Config, FieldDef};
use crate::register::{FieldValue, Mentor, Page, Register};

use crate::slug::slugify;

#[derive(Debug, Clone, Serialize)]
pub struct SiteView {
    pub title: String,
    pub base_url: String,
    /// The path part of `base_url`, always ending in `/` (`/` or `/scheme/`).
    pub base_path: String,
    pub language: String,
    pub request_action: String,
    pub scheme: SchemeView,
    pub nav: Vec<Link>,
    pub handbook_url: String,
    pub register_url: String,
    pub stylesheet: String,
    /// Every static file of the theme → its URL with a content-hash version.
    pub assets: BTreeMap<String, String>,
    /// The build's date in the scheme's time zone, YYYY-MM-DD.
    pub today: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SchemeView {
    pub admin_email: String,
    pub sessions_offered: u32,
    pub window_months: u32,
    pub response_working_days: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Link {
    pub title: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MentorView {
    pub slug: String,
    pub url: String,
    pub name: String,
    pub pronouns: Option<String>,
    pub initials: String,
    /// A hue for the initials avatar, the same for the same name.
    pub avatar_hue: u16,
    pub has_photo: bool,
    /// The processed photo, when there is a usable one.
    pub photo: Option<PhotoView>,
    /// The generated initials avatar (always made when there is no photo).
    pub avatar_url: String,
    pub headshot_alt: String,
    pub availability: Availability,
    pub fields: Vec<FieldView>,
    pub bio_html: String,
    /// The bio's first sentence or so, for cards and meta descriptions.
    pub summary: String,
}

/// A headshot as `<picture>` needs it: a fallback `<img>` and one `<source>` per other format.
#[derive(Debug, Clone, Serialize)]
pub struct PhotoView {
    pub src: String,
    pub srcset: String,
    pub width: u32,
    pub height: u32,
    pub sources: Vec<SourceView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceView {
    #[serde(rename = "type")]
    pub mime: &'static str,
    pub srcset: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Availability {
    /// `accepting`, `away` or `full`.
    pub status: &'static str,
    /// For `away`: the return date, YYYY-MM-DD.
    pub until: Option<String>,
    pub can_request: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldView {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub filter: bool,
    /// On the register's card (`card = true`, at most three).
    pub card: bool,
    /// The values as text (one for text, bool and date fields; each item for a list).
    pub values: Vec<String>,
    pub slugs: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterView {
    pub key: String,
    pub label: String,
    pub values: Vec<FacetValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FacetValue {
    pub label: String,
    pub slug: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageView {
    pub slug: String,
    pub url: String,
    pub title: String,
    pub description: Option<String>,
    pub html: String,
    pub toc: Vec<Heading>,
    /// The top-level (`##`) headings only, for an "On this page" list.
    pub outline: Vec<Heading>,
    pub prev: Option<Link>,
    pub next: Option<Link>,
}

pub fn site(
    config: &Config,
    register: &Register,
    today: Date,
    assets: BTreeMap<String, String>,
) -> SiteView {
    site_at(config, register, today, assets, base_path(&config.base_url))
}

/// The site's view with every link under `base` (a path, or a whole address for pages that
/// are served from another origin, such as the request service's).
pub fn site_at(
    config: &Config,
    register: &Register,
    today: Date,
    assets: BTreeMap<String, String>,
    base_path: String,
) -> SiteView {
    let handbook_url = format!("{base_path}handbook/");
    let mut nav = vec![Link {
        title: "Mentors".into(),
        url: base_path.clone(),
    }];
    if !register.handbook.is_empty() {
        nav.push(Link {
            title: register.handbook_intro.title.clone(),
            url: handbook_url.clone(),
        });
    }
    nav.extend(register.pages.iter().map(|p| Link {
        title: p.title.clone(),
        url: format!("{base_path}{}/", p.slug),
    }));
    SiteView {
        title: config.title.clone(),
        base_url: config.base_url.clone(),
        register_url: base_path.clone(),
        base_path,
        language: config.language.clone(),
        request_action: config.request_action(),
        scheme: SchemeView {
            admin_email: config.scheme.admin_email.clone(),
            sessions_offered: config.scheme.sessions_offered,
            window_months: config.scheme.window_months,
            response_working_days: config.scheme.response_working_days,
        },
        nav,
        handbook_url,
        stylesheet: assets.get("style.css").cloned().unwrap_or_default(),
        assets,
        today: today.to_string(),
    }
}

/// `https://x.org` → `/`; `https://x.org/scheme` → `/scheme/`.
pub fn base_path(base_url: &str) -> String {
    let after_scheme = base_url
        .find("://")
        .map_or(base_url, |i| &base_url[i + 3..]);
    match after_scheme.find('/') {
        Some(i) => format!("{}/", after_scheme[i..].trim_end_matches('/')),
        None => "/".into(),
    }
}

/// A mentor's public view, with `bio` (the register's own has been moved out to be dropped
/// early); `with_bio` makes the bio's HTML too (only a profile page shows it).
pub fn mentor(
    config: &Config,
    m: &Mentor,
    bio: &str,
    photo: Option<&crate::images::Headshot>,
    today: Date,
    base_path: &str,
    with_bio: bool,
) -> MentorView {
    let fields = config
        .fields
        .iter()
        .filter(|def| !def.private)
        .filter_map(|def| m.fields.get(&def.key).map(|v| field_view(def, v)))
        .collect();
    let bio_html = if with_bio {
        markdown::render(bio, "").html
    } else {
        String::new()
    };
    let initials = initials(&m.name);
    let avatar_hue = hue(&m.slug);
    let avatar = crate::images::avatar::svg(&initials, avatar_hue);
    MentorView {
        slug: m.slug.clone(),
        url: format!("{base_path}mentors/{}/", m.slug),
        name: m.name.clone(),
        pronouns: m.pronouns.clone(),
        avatar_url: format!(
            "{base_path}{}",
            crate::diag::display_path(&avatar_path(&m.slug, &avatar))
        ),
        initials,
        avatar_hue,
        has_photo: photo.is_some(),
        photo: photo.map(|h| photo_view(h, &m.slug, base_path)),
        headshot_alt: m
            .headshot_alt
            .clone()
            .unwrap_or_else(|| format!("Photo of {}", m.name)),
        availability: availability(m, today),
        fields,
        summary: summary(bio),
        bio_html,
    }
}

/// `headshots/<slug>-avatar-<hash>.svg`.
pub fn avatar_path(slug: &str, svg: &str) -> std::path::PathBuf {
    format!(
        "headshots/{slug}-avatar-{:08x}.svg",
        fnv1a(svg.as_bytes()) as u32
    )
    .into()
}

fn photo_view(h: &crate::images::Headshot, slug: &str, base_path: &str) -> PhotoView {
    let url = |w: u32, f: &str| {
        format!(
            "{base_path}{}",
            crate::diag::display_path(&h.output_path(slug, w, f))
        )
    };
    let srcset = |f: &str| {
        h.widths_in(f)
            .iter()
            .map(|w| format!("{} {w}w", url(*w, f)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let fallback = h.fallback();
    let width = h.fallback_width();
    PhotoView {
        src: url(width, fallback),
        srcset: srcset(fallback),
        width,
        height: h.height(width),
        sources: h
            .formats
            .iter()
            .filter(|f| f.as_str() != fallback)
            .map(|f| SourceView {
                mime: crate::images::pipeline::mime(f),
                srcset: srcset(f),
            })
            .collect(),
    }
}

fn field_view(def: &FieldDef, value: &FieldValue) -> FieldView {
    let values = value.terms();
    FieldView {
        key: def.key.clone(),
        label: def.label.clone(),
        kind: def.kind.as_str(),
        filter: def.filter,
        card: def.card,
        slugs: values.iter().map(|v| slugify(v)).collect(),
        values,
    }
}

pub fn availability(m: &Mentor, today: Date) -> Availability {
    let away = m.away_until.filter(|d| *d > today);
    let status = if !m.accepting {
        "full"
    } else if away.is_some() {
        "away"
    } else {
        "accepting"
    };
    Availability {
        status,
        until: away.map(|d| d.to_string()),
        can_request: status == "accepting",
    }
}

/// The register's filters: every public field declared `filter = true`, its values in the
/// declared order (or alphabetically), each with how many mentors have it.
pub fn filters_of_views(
    config: &Config,
    mentors: &[std::sync::Arc<MentorView>],
) -> Vec<FilterView> {
    config
        .fields
        .iter()
        .filter(|f| f.filter && !f.private)
        .map(|def| {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for m in mentors {
                for f in m.fields.iter().filter(|f| f.key == def.key) {
                    for v in &f.values {
                        *counts.entry(v.clone()).or_default() += 1;
                    }
                }
            }
            let order: Vec<String> = match (&def.values, def.kind) {
                (Some(v), _) => v.clone(),
                (None, crate::config::FieldKind::Bool) => vec!["Yes".into(), "No".into()],
                (None, _) => counts.keys().cloned().collect(),
            };
            let values = order
                .into_iter()
                .map(|label| FacetValue {
                    slug: slugify(&label),
                    count: counts.get(&label).copied().unwrap_or(0),
                    label,
                })
                .collect();
            FilterView {
                key: def.key.clone(),
                label: def.label.clone(),
                values,
            }
        })
        .collect()
}

pub fn page(p: &Page, url: String, id_prefix: &str) -> PageView {
    let r = markdown::render(&p.body, id_prefix);
    PageView {
        slug: p.slug.clone(),
        url,
        title: p.title.clone(),
        description: p.description.clone(),
        html: r.html,
        outline: r
            .headings
            .iter()
            .filter(|h| h.level == 2)
            .cloned()
            .collect(),
        toc: r.headings,
        prev: None,
        next: None,
    }
}

fn initials(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let pick = match words.as_slice() {
        [] => vec![],
        [one] => vec![*one],
        [first, .., last] => vec![*first, *last],
    };
    pick.iter()
        .filter_map(|w| w.chars().find(|c| c.is_alphabetic()))
        .flat_map(char::to_uppercase)
        .collect()
}

/// A stable hue from the slug (FNV-1a), so a mentor's avatar colour never changes between builds.
fn hue(slug: &str) -> u16 {
    (fnv1a(slug.as_bytes()) % 360) as u16
}

pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The first paragraph of plain text, cut at a word boundary near 160 characters.
fn summary(md: &str) -> String {
    let para = md
        .split("\n\n")
        .map(str::trim)
        .find(|p| {
            !p.is_empty() && !p.starts_with('#') && !p.starts_with('<') && !p.starts_with('-')
        })
        .unwrap_or("");
    let mut text = String::new();
    for event in pulldown_cmark::Parser::new(para) {
        match event {
            pulldown_cmark::Event::Text(t) | pulldown_cmark::Event::Code(t) => text.push_str(&t),
            pulldown_cmark::Event::SoftBreak | pulldown_cmark::Event::HardBreak => text.push(' '),
            _ => {}
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= 160 {
        return text;
    }
    let cut: String = text.chars().take(160).collect();
    let at = cut.rfind(' ').unwrap_or(cut.len());
    format!("{}…", cut[..at].trim_end_matches([',', ';', ':', '.']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_use_first_and_last_words() {
        assert_eq!(initials("Siobhán Ní Bhriain"), "SB");
        assert_eq!(initials("Ōkubo"), "Ō");
        assert_eq!(initials("Dr Ama  Mensah-Boateng"), "DM");
    }

    #[test]
    fn base_path_from_base_url() {
        assert_eq!(base_path("https://mentors.example.org"), "/");
        assert_eq!(base_path("https://example.org/scheme/"), "/scheme/");
    }

    #[test]
    fn summary_is_plain_and_short() {
        let s =
            summary("## About\n\nI am **a GP** returning [after leave](https://x.org).\n\nMore.");
        assert_eq!(s, "I am a GP returning after leave.");
        let long = "word ".repeat(60);
        assert!(summary(&long).chars().count() <= 161);
    }
}
