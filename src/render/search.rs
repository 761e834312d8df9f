//! The register's search index, written by `build` from the public views (private fields never
//! get here: views have none).
//!
//! Three parts, so a browser downloads only what a query needs:
//! - a manifest, inlined in the register page: the facets, and the first term of each shard;
//! - `search/docs.<hash>.json`: one row per mentor (slug, status, return date, facet codes),
//!   enough to filter and count without any other request;
//! - `search/t<i>.<hash>.json`: the free-text index, cut into shards of about 8 KB by sorted term
//!   range. Each term lists the mentors that have it, as `delta * 4 + weight` (weight 3 for the
//!   name, 2 for a field value, 1 for the bio).
//!
//! The browser tokenises queries exactly as [`tokenize`] does (see `static/register.js`).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use super::OutputFile;
use super::views::{FilterView, MentorView};

/// Raw bytes at which a shard is cut.
const SHARD_BYTES: usize = 8 * 1024;

/// Words too common to help find a mentor. The script has the same list.
pub const STOPWORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "had", "has",
    "have", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "so", "that", "the",
    "their", "them", "then", "there", "they", "this", "to", "was", "we", "were", "what", "when",
    "which", "who", "will", "with", "you", "your",
];

/// Lower case, diacritics removed (NFKD without combining marks), split into runs of letters
/// and digits, stopwords and single letters dropped.
pub fn tokenize(text: &str) -> Vec<String> {
    // ASCII needs no decomposition: the common case, done without it.
    let folded: String = if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.nfkd()
            .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
            .flat_map(char::to_lowercase)
            .collect()
    };
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| t.chars().count() > 1 && !STOPWORDS.contains(t))
        .map(str::to_string)
        .collect()
}

#[derive(Serialize)]
pub struct Manifest {
    pub v: u8,
    pub n: usize,
    pub docs: String,
    /// `[first term, url]` per shard, in term order.
    pub shards: Vec<(String, String)>,
    pub facets: Vec<Facet>,
}

#[derive(Serialize)]
pub struct Facet {
    pub key: String,
    pub label: String,
    /// `[slug, label]` per value; a doc's codes index into this.
    pub values: Vec<(String, String)>,
}

#[derive(Serialize)]
struct Docs<'a> {
    slug: Vec<&'a str>,
    /// One letter per mentor: `a` accepting, `w` away (see `away`), `f` not taking requests.
    st: String,
    /// Doc id → return date, for mentors away at build time; the browser compares with today.
    away: BTreeMap<usize, &'a str>,
    /// Facet key → per mentor, the codes of the values they have.
    f: BTreeMap<&'a str, Vec<Vec<u16>>>,
}

#[derive(Serialize)]
struct Shard<'a> {
    t: Vec<&'a str>,
    p: Vec<Vec<u32>>,
}

pub struct Index {
    pub manifest: Manifest,
    pub files: Vec<OutputFile>,
}

/// Build the index over `mentors` in doc-id order (the order given), under `base_path`.
/// One mentor's searchable terms, each with the best weight it has (3 in the name, 2 in the
/// pronouns or a field value, 1 in the bio), in the order first seen.
pub fn terms_of(m: &MentorView, bio: &str) -> Vec<(String, u32)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut terms: Vec<(String, u32)> = Vec::new();
    let mut add = |text: &str, weight: u32| {
        for term in tokenize(text) {
            match seen.get(&term) {
                Some(&i) => terms[i].1 = terms[i].1.max(weight),
                None => {
                    seen.insert(term.clone(), terms.len());
                    terms.push((term, weight));
                }
            }
        }
    };
    add(&m.name, 3);
    if let Some(p) = &m.pronouns {
        add(p, 2);
    }
    for f in &m.fields {
        for v in &f.values {
            add(v, 2);
        }
    }
    add(bio, 1);
    terms
}

/// The index files and manifest; `terms[i]` is [`terms_of`] the `i`th mentor.
pub fn build<T: std::ops::Deref<Target = Vec<(String, u32)>>>(
    mentors: &[MentorView],
    filters: &[FilterView],
    terms: &[T],
    base_path: &str,
) -> Index {
    let facets: Vec<Facet> = filters
        .iter()
        .map(|f| Facet {
            key: f.key.clone(),
            label: f.label.clone(),
            values: f
                .values
                .iter()
                .map(|v| (v.slug.clone(), v.label.clone()))
                .collect(),
        })
        .collect();

    let mut docs = Docs {
        slug: Vec::with_capacity(mentors.len()),
        st: String::with_capacity(mentors.len()),
        away: BTreeMap::new(),
        f: BTreeMap::new(),
    };
    for (id, m) in mentors.iter().enumerate() {
        docs.slug.push(&m.slug);
        docs.st.push(match m.availability.status {
            "accepting" => 'a',
            "away" => 'w',
            _ => 'f',
        });
        if let Some(until) = &m.availability.until {
            docs.away.insert(id, until);
        }
        for (facet, filter) in facets.iter().zip(filters) {
            let codes: Vec<u16> = m
                .fields
                .iter()
                .filter(|f| f.key == filter.key)
                .flat_map(|f| f.slugs.iter())
                .filter_map(|s| facet.values.iter().position(|(slug, _)| slug == s))
                .map(|i| i as u16)
                .collect();
            docs.f.entry(facet.key.as_str()).or_default().push(codes);
        }
    }

    // term → (doc id, weight), in id order as the mentors are visited in order.
    let mut by_term: HashMap<&str, Vec<(u32, u32)>> = HashMap::new();
    for (id, list) in terms.iter().enumerate() {
        for (term, weight) in list.iter() {
            by_term
                .entry(term.as_str())
                .or_default()
                .push((id as u32, *weight));
        }
    }
    let mut postings: Vec<(&str, Vec<(u32, u32)>)> = by_term.into_iter().collect();
    postings.sort_unstable_by(|a, b| a.0.cmp(b.0));

    let mut files = Vec::new();
    let docs_json = serde_json::to_string(&docs).expect("docs serialize");
    let docs_path = hashed("search/docs", &docs_json);
    files.push(OutputFile::new(docs_path.clone(), docs_json));

    let mut shards = Vec::new();
    let mut current = Shard {
        t: Vec::new(),
        p: Vec::new(),
    };
    let mut size = 0;
    let flush =
        |shard: &mut Shard, files: &mut Vec<OutputFile>, shards: &mut Vec<(String, String)>| {
            if shard.t.is_empty() {
                return;
            }
            let first = shard.t[0].to_string();
            let json = serde_json::to_string(&*shard).expect("shard serialize");
            let path = hashed(&format!("search/t{}", shards.len()), &json);
            files.push(OutputFile::new(path.clone(), json));
            shards.push((first, format!("{base_path}{path}")));
            shard.t.clear();
            shard.p.clear();
        };
    for (term, docs_of) in &postings {
        let mut last = 0;
        let list: Vec<u32> = docs_of
            .iter()
            .map(|&(id, w)| {
                let delta = id - last;
                last = id;
                delta * 4 + w
            })
            .collect();
        size += term.len() + list.len() * 3 + 4;
        current.t.push(term);
        current.p.push(list);
        if size >= SHARD_BYTES {
            flush(&mut current, &mut files, &mut shards);
            size = 0;
        }
    }
    flush(&mut current, &mut files, &mut shards);

    Index {
        manifest: Manifest {
            v: 1,
            n: mentors.len(),
            docs: format!("{base_path}{docs_path}"),
            shards,
            facets,
        },
        files,
    }
}

/// `stem.<hash>.json`: a content hash in the name lets hosts cache it for ever.
fn hashed(stem: &str, content: &str) -> String {
    let hash = blake3::hash(content.as_bytes()).to_hex();
    format!("{stem}.{}.json", &hash[..10])
}

/// The manifest as JSON that is safe inside `<script type="application/json">`: `<`, `>` and
/// `&` are written as `\u003c`-style escapes, so no value can close the script or open markup.
pub fn inline_json(manifest: &Manifest) -> String {
    serde_json::to_string(manifest)
        .expect("manifest serialize")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same vectors are checked against the browser's tokenizer in tests/browser.
    #[test]
    fn tokenizer_folds_case_and_accents_and_drops_stopwords() {
        assert_eq!(tokenize("Siobhán Ní Bhriain"), ["siobhan", "ni", "bhriain"]);
        assert_eq!(
            tokenize("Łukasz WÓJCIK, the ST4"),
            ["łukasz", "wojcik", "st4"]
        );
        assert_eq!(
            tokenize("Obstetrics and Gynaecology"),
            ["obstetrics", "gynaecology"]
        );
        assert_eq!(
            tokenize("I am a GP; I'm (very) happy!"),
            ["am", "gp", "very", "happy"]
        );
        assert_eq!(tokenize("Ayşe Yıldız"), ["ayse", "yıldız"]);
    }
}
