//! A mentor's bio, checked against the built-in keys and the scheme's declared fields.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use jiff::civil::Date;

use super::fields::Reader;
use crate::config::{BUILTIN_KEYS, Config, FieldDef, FieldKind, is_email};
use crate::content::{CONTENT_DIR, Document, Entry, extension};
use crate::diag::{Diagnostics, Pos, display_path};
use crate::slug::{is_slug, slugify};

/// One mentor. `email`, `phone` and private fields are here for the request service; the site
/// renderer builds its views from public data only.
#[derive(Debug, Clone)]
pub struct Mentor {
    pub slug: String,
    pub name: String,
    pub pronouns: Option<String>,
    pub headshot: Headshot,
    /// Where the `headshot` key is (or 1:1), for messages about the photo.
    pub headshot_pos: Pos,
    pub headshot_alt: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub accepting: bool,
    pub away_until: Option<Date>,
    pub capacity: Option<u32>,
    /// Declared fields by key, public and private.
    pub fields: BTreeMap<String, FieldValue>,
    pub bio: String,
    pub source: PathBuf,
    /// The hash of the bio file's text ([`crate::content::digest`]).
    pub digest: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Headshot {
    /// No photo yet (a warning was given).
    Missing,
    /// `headshot: false`: the mentor prefers no photo.
    OptedOut,
    /// A photo under `content/`, relative to the root.
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Text(String),
    List(Vec<String>),
    Bool(bool),
    Date(Date),
}

impl FieldValue {
    /// The values as they are filtered on (a list's items; a bool's "yes"/"no").
    pub fn terms(&self) -> Vec<String> {
        match self {
            FieldValue::Text(s) => vec![s.clone()],
            FieldValue::List(items) => items.clone(),
            FieldValue::Bool(b) => vec![if *b { "Yes" } else { "No" }.to_string()],
            FieldValue::Date(d) => vec![d.to_string()],
        }
    }
}

/// The image files found under `content/`, and the symbolic links with image names.
#[derive(Clone, Copy)]
pub(super) struct Photos<'a> {
    pub files: &'a BTreeSet<PathBuf>,
    pub links: &'a BTreeSet<PathBuf>,
}

/// The mentor a bio describes, and whether it is free of errors (only then is it published).
pub(super) fn validate(
    config: &Config,
    doc: &Document,
    photos: Photos,
    diags: &mut Diagnostics,
) -> (Mentor, bool) {
    let errors_before = diags.error_count();
    let mut r = Reader { doc, diags };
    if !is_slug(&doc.slug) {
        let suggestion = slugify(&doc.slug);
        r.error(
            Pos::START,
            format!("the file name `{}` cannot be used in an address", doc.slug),
            format!(
                "rename it to `{}` (lower-case letters, digits and `-`)",
                renamed(doc, &suggestion)
            ),
        );
    }

    if doc.slug == "by" {
        r.error(
            Pos::START,
            "the file name `by` is used by the register's filter pages",
            format!(
                "rename it after the mentor, e.g. `{}`",
                renamed(doc, "jane-doe")
            ),
        );
    }

    let mut m = Mentor {
        slug: doc.slug.clone(),
        name: String::new(),
        pronouns: None,
        headshot: Headshot::Missing,
        headshot_pos: Pos::START,
        headshot_alt: None,
        email: String::new(),
        phone: None,
        accepting: true,
        away_until: None,
        capacity: None,
        fields: BTreeMap::new(),
        bio: String::new(),
        source: doc.path.clone(),
        digest: doc.digest,
    };
    let mut headshot_entry = None;
    let known: Vec<&str> = BUILTIN_KEYS
        .iter()
        .copied()
        .chain(config.fields.iter().map(|f| f.key.as_str()))
        .collect();

    for e in &doc.front.entries {
        match e.key.as_str() {
            "name" => m.name = r.text(e).unwrap_or_default(),
            "pronouns" => m.pronouns = r.text(e),
            "headshot" => headshot_entry = Some(e),
            "headshot_alt" => m.headshot_alt = r.text(e),
            "email" => {
                if let Some(email) = r.text(e) {
                    if is_email(&email) {
                        m.email = email;
                    } else {
                        r.error(
                            e.value.pos,
                            format!("\"{email}\" is not an email address"),
                            "write the mentor's address, e.g. `email: jane.doe@example.org`; it is never published",
                        );
                        m.email = "invalid".into();
                    }
                }
            }
            "phone" => m.phone = r.text(e).and_then(|p| checked_phone(&mut r, e, p)),
            "accepting" => m.accepting = r.bool(e).unwrap_or(true),
            "away_until" => m.away_until = r.date(e),
            "capacity" => m.capacity = r.int(e, 1, 100).map(|c| c as u32),
            key => match config.field(key) {
                Some(def) => {
                    if let Some(v) = field_value(&mut r, def, e) {
                        m.fields.insert(def.key.clone(), v);
                    }
                }
                None => r.unknown(e, &known),
            },
        }
    }

    // A key that is written but invalid already has its error, and so does one written with a
    // typo ("did you mean `specialty`?"): "missing" is for absent or blank keys only.
    let misspelled: Vec<&str> = doc
        .front
        .entries
        .iter()
        .filter(|e| !known.contains(&e.key.as_str()))
        .filter_map(|e| crate::diag::closest(&e.key, known.iter().copied()))
        .collect();
    // A key written but blank (`email:`) is reported as empty, where it stands.
    let written = |key: &str| {
        misspelled.contains(&key)
            || doc
                .front
                .get(key)
                .is_some_and(|e| !e.value.value.is_blank())
    };
    if m.name.is_empty() && !written("name") {
        r.missing("name", "Jane Doe");
    }
    if m.email.is_empty() && !written("email") {
        r.missing("email", "jane.doe@example.org");
    }
    for def in config.fields.iter().filter(|f| f.required) {
        if !m.fields.contains_key(&def.key) && !written(&def.key) {
            let example = example_value(def);
            r.missing(&def.key, &example);
        }
    }
    if let Some(e) = headshot_entry {
        m.headshot_pos = e.value.pos;
    }
    m.headshot = headshot(&mut r, headshot_entry, photos);
    placeholder_text(&mut r);
    private_details_in_bio(&mut r, &m);

    let ok = r.diags.error_count() == errors_before;
    (m, ok)
}

/// Where byte `offset` of the bio body stands in the file.
fn body_pos(doc: &Document, offset: usize) -> Pos {
    Pos::of_offset(&doc.body, offset).offset_lines(doc.body_line)
}

/// The scaffold's "write the bio here" text must not reach the register.
fn placeholder_text(r: &mut Reader) {
    let first_words = super::PLACEHOLDER_BIO
        .split(':')
        .next()
        .unwrap_or(super::PLACEHOLDER_BIO);
    if let Some(at) = r.doc.body.find(first_words) {
        let pos = body_pos(r.doc, at);
        let line = r.doc.body[at..].lines().next().unwrap_or_default();
        let d = crate::diag::Diagnostic::error(
            &r.doc.path,
            pos,
            "the bio is still the example text that `mentorsite new mentor` wrote",
        )
        .with_hint("replace it with the mentor's own words before publishing")
        .with_len(line.chars().count());
        r.diags.push(d);
    }
}

/// The mentor's private address or phone number typed into the public bio.
fn private_details_in_bio(r: &mut Reader, m: &Mentor) {
    let body = r.doc.body.as_str();
    let hint = "remove it from the bio: mentees reach the mentor through the request form, and the mentor's details are shared only when they accept";
    if !m.email.is_empty() && m.email.contains('@') {
        // ASCII lower-casing keeps byte offsets, so `at` points into `body` too.
        if let Some(at) = body
            .to_ascii_lowercase()
            .find(&m.email.to_ascii_lowercase())
        {
            let pos = body_pos(r.doc, at);
            r.warning_over(
                pos,
                m.email.chars().count(),
                "the bio shows the mentor's private email address, which would be published",
                hint,
            );
        }
    }
    if let Some(phone) = &m.phone
        && let Some(found) = find_phone(body, phone)
    {
        let pos = body_pos(r.doc, found.start);
        r.warning_over(
            pos,
            found.len(),
            "the bio shows the mentor's private phone number, which would be published",
            hint,
        );
    }
}

/// The byte offset of a number in `text` that is `phone` however it is spaced or prefixed
/// (`0113 496 0000`, `+44 113 496 0000` and `01134960000` are one number).
fn find_phone(text: &str, phone: &str) -> Option<std::ops::Range<usize>> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let tail = |d: &str| d[d.len().saturating_sub(9)..].to_string();
    let want = tail(&digits);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit()
            || (bytes[i] == b'+' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let start = i;
            let mut found = String::new();
            while i < bytes.len() && (bytes[i].is_ascii_digit() || b" +-().".contains(&bytes[i])) {
                if bytes[i].is_ascii_digit() {
                    found.push(char::from(bytes[i]));
                }
                i += 1;
            }
            if found.len() >= 6 && (found == digits || (found.len() >= 9 && tail(&found) == want)) {
                let end = start + text[start..i].trim_end_matches([' ', '-', '(', '.']).len();
                return Some(start..end);
            }
        }
        i += 1;
    }
    None
}

fn renamed(doc: &Document, slug: &str) -> String {
    let mut p = doc.path.clone();
    if doc.path.file_stem().is_some_and(|s| s == "index") {
        p.pop();
        p.set_file_name(slug);
    } else {
        p.set_file_name(format!("{slug}.md"));
    }
    display_path(&p)
}

fn checked_phone(r: &mut Reader, e: &Entry, phone: String) -> Option<String> {
    let ok = phone
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && phone.chars().filter(char::is_ascii_digit).count() >= 6;
    if ok {
        Some(phone)
    } else {
        r.error(
            e.value.pos,
            format!("\"{phone}\" is not a phone number"),
            "use digits, spaces and +, e.g. `phone: \"+44 113 496 0000\"`; it is never published",
        );
        None
    }
}

fn field_value(r: &mut Reader, def: &FieldDef, e: &Entry) -> Option<FieldValue> {
    match def.kind {
        FieldKind::Text => {
            let text = r.text(e)?;
            let located = crate::content::Located {
                value: text,
                pos: e.value.pos,
            };
            match &def.values {
                Some(allowed) => r.allowed(&def.key, &located, allowed).map(FieldValue::Text),
                None => Some(FieldValue::Text(located.value)),
            }
        }
        FieldKind::List => {
            let items = r.list(e)?;
            let mut out: Vec<String> = Vec::new();
            for item in &items {
                let value = match &def.values {
                    Some(allowed) => r.allowed(&def.key, item, allowed),
                    None => Some(item.value.clone()),
                };
                if let Some(v) = value
                    && !out.contains(&v)
                {
                    out.push(v);
                }
            }
            (!out.is_empty()).then_some(FieldValue::List(out))
        }
        FieldKind::Bool => r.bool(e).map(FieldValue::Bool),
        FieldKind::Date => r.date(e).map(FieldValue::Date),
    }
}

/// A value to show in "add a line `key: …`" hints and in scaffolded bios.
pub fn example_value(def: &FieldDef) -> String {
    let first = def.values.as_ref().and_then(|v| v.first()).cloned();
    match def.kind {
        FieldKind::Text => first.unwrap_or_else(|| "…".into()),
        FieldKind::List => format!("[{}]", first.unwrap_or_else(|| "…".into())),
        FieldKind::Bool => "true".into(),
        FieldKind::Date => "2027-01-31".into(),
    }
}

const PHOTO_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp"];

fn headshot(r: &mut Reader, entry: Option<&Entry>, photos: Photos) -> Headshot {
    let images = photos.files;
    let doc_dir = r.path().parent().unwrap_or(Path::new("")).to_path_buf();
    let Some(e) = entry else {
        return default_headshot(r, &doc_dir, photos);
    };
    let raw = match &e.value.value {
        crate::content::Node::Bool(false) => return Headshot::OptedOut,
        crate::content::Node::Null => return default_headshot(r, &doc_dir, photos),
        _ => match r.text(e) {
            Some(s) => s,
            None => {
                r.error(
                    e.value.pos,
                    "`headshot` must be the photo's file name, or false",
                    "e.g. `headshot: jane-doe.jpg`, or `headshot: false` for no photo",
                );
                return Headshot::Missing;
            }
        },
    };
    let outside = || {
        (
            format!("the headshot \"{raw}\" is outside the content folder"),
            "put the photo in content/mentors/ beside the bio and give its file name, e.g. `headshot: jane-doe.jpg`".to_string(),
        )
    };
    if raw.contains("://") || Path::new(&raw).is_absolute() || raw.starts_with('/') {
        let (msg, hint) = outside();
        r.error(e.value.pos, msg, hint);
        return Headshot::Missing;
    }
    let Some(path) = lexical_join(&doc_dir, Path::new(&raw)) else {
        let (msg, hint) = outside();
        r.error(e.value.pos, msg, hint);
        return Headshot::Missing;
    };
    if !path.starts_with(CONTENT_DIR) {
        let (msg, hint) = outside();
        r.error(e.value.pos, msg, hint);
        return Headshot::Missing;
    }
    match extension(&path).as_deref() {
        Some("svg") => {
            r.warning(
                e.value.pos,
                format!("the headshot \"{raw}\" is an SVG, which is refused (it can carry script); an initials avatar is shown"),
                "ask for a JPEG, PNG or WebP photo",
            );
            return Headshot::Missing;
        }
        Some(ext) if PHOTO_EXTENSIONS.contains(&ext) => {}
        _ => {
            r.error(
                e.value.pos,
                format!("the headshot \"{raw}\" is not a JPEG, PNG or WebP file"),
                "use a photo ending in .jpg, .jpeg, .png or .webp",
            );
            return Headshot::Missing;
        }
    }
    if photos.links.contains(&path) {
        link_warning(r, e.value.pos, &path);
        return Headshot::Missing;
    }
    if !images.contains(&path) {
        let nearby: Vec<String> = images
            .iter()
            .filter(|p| p.parent() == Some(doc_dir.as_path()))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        let hint = match crate::diag::did_you_mean(&raw, nearby.iter().map(String::as_str)) {
            Some(m) => m,
            None => format!("put the photo at {}", display_path(&path)),
        };
        r.error(
            e.value.pos,
            format!("the headshot \"{raw}\" was not found"),
            hint,
        );
        return Headshot::Missing;
    }
    Headshot::File(path)
}

/// No `headshot` key: a same-stem photo beside the bio, or `headshot.*` / the only photo in a
/// bundle folder; otherwise a warning.
fn link_warning(r: &mut Reader, pos: Pos, path: &Path) {
    r.warning(
        pos,
        format!(
            "the headshot {} is a symbolic link, which mentorsite does not follow (it could lead outside the site's folder); an initials avatar is shown",
            display_path(path)
        ),
        "put the photo file itself there in place of the link",
    );
}

fn default_headshot(r: &mut Reader, doc_dir: &Path, photos: Photos) -> Headshot {
    let images = photos.files;
    let slug = r.doc.slug.clone();
    let bundle = r.path().file_stem().is_some_and(|s| s == "index");
    let stems: &[&str] = if bundle {
        &["headshot", "photo"]
    } else {
        &[slug.as_str()]
    };
    let in_dir: Vec<&PathBuf> = images
        .iter()
        .filter(|p| p.parent() == Some(doc_dir))
        .collect();
    let by_stem = |p: &&&PathBuf| {
        p.file_stem()
            .is_some_and(|s| stems.iter().any(|st| s == *st))
    };
    let mut candidates: Vec<&PathBuf> = in_dir.iter().filter(by_stem).copied().collect();
    if candidates.is_empty() && bundle && in_dir.len() == 1 {
        candidates = in_dir;
    }
    let photo = candidates
        .iter()
        .find(|p| extension(p).is_some_and(|e| PHOTO_EXTENSIONS.contains(&e.as_str())));
    if let Some(p) = photo {
        return Headshot::File((*p).clone());
    }
    if let Some(svg) = candidates.first() {
        r.warning(
            Pos::START,
            format!(
                "the headshot {} is an SVG, which is refused (it can carry script); an initials avatar is shown",
                display_path(svg)
            ),
            "replace it with a JPEG, PNG or WebP photo",
        );
        return Headshot::Missing;
    }
    let link = photos.links.iter().find(|p| {
        p.parent() == Some(doc_dir)
            && p.file_stem()
                .is_some_and(|s| stems.iter().any(|st| s == *st))
    });
    if let Some(link) = link {
        link_warning(r, Pos::START, link);
        return Headshot::Missing;
    }
    let expected = if bundle {
        display_path(&doc_dir.join("headshot.jpg"))
    } else {
        display_path(&doc_dir.join(format!("{slug}.jpg")))
    };
    r.warning(
        Pos::START,
        "no headshot yet: an initials avatar is shown",
        format!(
            "add the photo as {expected}, or write `headshot: false` if the mentor prefers none"
        ),
    );
    Headshot::Missing
}

/// Join `rel` onto `dir` without touching the disk; `None` if `..` climbs above the root.
fn lexical_join(dir: &Path, rel: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in dir.components().chain(rel.components()) {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_found_however_they_are_written() {
        let text = "Ring me on +44 (0)113 496 0000, or 0113-496-0000.";
        assert_eq!(find_phone(text, "0113 496 0000"), Some(11..30));
        assert_eq!(
            find_phone("call 01134960000 today", "+44 113 496 0000"),
            Some(5..16)
        );
        assert_eq!(find_phone("born 1985, 3 children", "0113 496 0000"), None);
        assert_eq!(find_phone("ward 7700 900 123", "07700 900 124"), None);
    }

    #[test]
    fn lexical_join_stays_inside_or_fails() {
        let d = Path::new("content/mentors");
        assert_eq!(
            lexical_join(d, Path::new("a.jpg")),
            Some("content/mentors/a.jpg".into())
        );
        assert_eq!(
            lexical_join(d, Path::new("../../site.toml")),
            Some("site.toml".into())
        );
        assert_eq!(lexical_join(d, Path::new("../../../etc/passwd")), None);
    }
}
