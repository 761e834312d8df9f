//! Markdown → HTML with pulldown-cmark, made safe for text written outside the team.
//!
//! Raw HTML in a bio is shown as text, never as markup; HTML comments are dropped (admins leave
//! notes in them); links keep only safe schemes; images become plain links (no third-party
//! pixels); headings get stable ids for the table of contents and are never `<h1>`, which
//! belongs to the page.

use std::collections::{HashMap, HashSet};

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};
use serde::Serialize;

use crate::slug::slugify;

/// A heading, for a table of contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heading {
    pub level: u8,
    pub id: String,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub html: String,
    pub headings: Vec<Heading>,
}

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_SMART_PUNCTUATION
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// Render `md`; heading ids are prefixed with `id_prefix` (empty for a page of its own, the
/// section slug on the printable handbook page so ids stay unique).
pub fn render(md: &str, id_prefix: &str) -> Rendered {
    let mut headings = Vec::new();
    let mut used_ids = UsedIds::default();
    let mut events: Vec<Event> = Vec::new();
    let mut in_heading: Option<(HeadingLevel, Option<CowStr>, Vec<Event>)> = None;
    let mut in_image = false;

    for event in Parser::new_ext(md, options()) {
        let event = match sanitise(event, &mut in_image) {
            Some(e) => e,
            None => continue,
        };
        match event {
            Event::Start(Tag::Heading { level, id, .. }) => {
                in_heading = Some((level.max(HeadingLevel::H2), id, Vec::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                let Some((level, custom_id, inner)) = in_heading.take() else {
                    continue;
                };
                let text = plain_text(&inner);
                let base = custom_id
                    .map(|c| slugify(&c))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| slugify(&text));
                let base = if base.is_empty() {
                    "section".to_string()
                } else {
                    base
                };
                let base = if id_prefix.is_empty() {
                    base
                } else {
                    format!("{id_prefix}-{base}")
                };
                let id = unique_id(base, &mut used_ids);
                headings.push(Heading {
                    level: level as u8,
                    id: id.clone(),
                    text,
                });
                events.push(Event::Start(Tag::Heading {
                    level,
                    id: Some(id.into()),
                    classes: Vec::new(),
                    attrs: Vec::new(),
                }));
                events.extend(inner);
                events.push(Event::End(TagEnd::Heading(level)));
            }
            other => match &mut in_heading {
                Some((_, _, inner)) => inner.push(other),
                None => events.push(other),
            },
        }
    }
    let mut out = String::with_capacity(md.len() * 3 / 2);
    html::push_html(&mut out, events.into_iter());
    Rendered {
        html: out,
        headings,
    }
}

/// Drop or defuse what must not reach the page.
fn sanitise<'a>(event: Event<'a>, in_image: &mut bool) -> Option<Event<'a>> {
    match event {
        Event::Html(s) | Event::InlineHtml(s) => {
            let t = s.trim();
            if t.starts_with("<!--") || t.ends_with("-->") {
                None
            } else {
                Some(Event::Text(s))
            }
        }
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Some(Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        })),
        // An image becomes a link to it, with its alt text as the link text.
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            *in_image = true;
            Some(Event::Start(Tag::Link {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            }))
        }
        Event::End(TagEnd::Image) if *in_image => {
            *in_image = false;
            Some(Event::End(TagEnd::Link))
        }
        other => Some(other),
    }
}

/// Keep http(s), mailto, tel, fragments and relative addresses; anything else (javascript:,
/// data:, vbscript:, …) becomes a harmless `#`.
pub fn safe_url(url: CowStr) -> CowStr {
    let lower: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_lowercase();
    let scheme_end = lower.find(':');
    let first_sep = lower.find(['/', '?', '#']);
    let has_scheme = match (scheme_end, first_sep) {
        (Some(c), Some(s)) => c < s,
        (Some(_), None) => true,
        _ => false,
    };
    let allowed = ["http:", "https:", "mailto:", "tel:"];
    if !has_scheme || allowed.iter().any(|a| lower.starts_with(a)) {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

fn plain_text(events: &[Event]) -> String {
    let mut s = String::new();
    for e in events {
        match e {
            Event::Text(t) | Event::Code(t) => s.push_str(t),
            Event::SoftBreak | Event::HardBreak => s.push(' '),
            _ => {}
        }
    }
    s.trim().to_string()
}

/// Ids already given on a page, and for each base the next number to try, so that a page of
/// thousands of equal headings takes linear time (`same`, `same-1`, `same-2`, …).
#[derive(Default)]
struct UsedIds {
    ids: HashSet<String>,
    next: HashMap<String, usize>,
}

fn unique_id(base: String, used: &mut UsedIds) -> String {
    let mut id = base.clone();
    let n = used.next.entry(base.clone()).or_insert(1);
    while used.ids.contains(&id) {
        id = format!("{base}-{n}");
        *n += 1;
    }
    used.ids.insert(id.clone());
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_text_and_comments_vanish() {
        let r = render(
            "Hi <script>alert(1)</script> there\n\n<div onclick=x>block</div>\n\n<!-- admin note: phone 0113 -->\n",
            "",
        );
        assert!(!r.html.contains("<script"), "{}", r.html);
        assert!(r.html.contains("&lt;script&gt;"), "{}", r.html);
        assert!(!r.html.contains("<div"), "{}", r.html);
        assert!(!r.html.contains("admin note"), "{}", r.html);
    }

    #[test]
    fn dangerous_links_are_defused() {
        let r = render(
            "[a](javascript:alert(1)) [b](JaVa\tScRiPt:x) [c](https://example.org) [d](/handbook/) [e](data:text/html,x)",
            "",
        );
        assert!(!r.html.to_lowercase().contains("javascript"), "{}", r.html);
        assert!(!r.html.contains("data:"), "{}", r.html);
        assert!(
            r.html.contains("href=\"https://example.org\""),
            "{}",
            r.html
        );
        assert!(r.html.contains("href=\"/handbook/\""), "{}", r.html);
    }

    #[test]
    fn images_become_links() {
        let r = render("![my dog](https://tracker.example.net/p.gif)", "");
        assert!(!r.html.contains("<img"), "{}", r.html);
        assert!(
            r.html
                .contains("<a href=\"https://tracker.example.net/p.gif\">my dog</a>"),
            "{}",
            r.html
        );
    }

    #[test]
    fn headings_get_unique_ids_and_no_h1() {
        let r = render(
            "# Welcome\n\n## Ground rules\n\n## Ground rules\n\n### Café *etiquette*\n",
            "",
        );
        assert!(
            r.html.contains("<h2 id=\"welcome\">Welcome</h2>"),
            "{}",
            r.html
        );
        assert!(r.html.contains("<h2 id=\"ground-rules-1\">"), "{}", r.html);
        assert_eq!(r.headings[3].id, "cafe-etiquette");
        assert_eq!(r.headings[3].level, 3);
        let prefixed = render("## Ending", "policies");
        assert_eq!(prefixed.headings[0].id, "policies-ending");
    }

    #[test]
    fn thousands_of_equal_headings_get_distinct_ids() {
        let mut md = String::from("## Same heading 2\n\n");
        md.push_str(&"## Same heading\n\ntext\n\n".repeat(4_000));
        let r = render(&md, "");
        let ids: Vec<&str> = r.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids.len(), 4_001);
        assert_eq!(
            ids[..4],
            [
                "same-heading-2",
                "same-heading",
                "same-heading-1",
                "same-heading-3"
            ]
        );
        assert_eq!(ids[4_000], "same-heading-4000");
        let distinct: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), ids.len());
    }

    #[test]
    fn tables_and_footnotes_render() {
        let r = render(
            "| a | b |\n|---|---|\n| 1 | 2 |\n\nText[^1]\n\n[^1]: Note\n",
            "",
        );
        assert!(r.html.contains("<table>"), "{}", r.html);
        assert!(r.html.contains("footnote"), "{}", r.html);
    }
}
