//! The register's search index, written by `build` from the public views (private fields never
//! get here: views have none).
//!
//! Four parts, so a browser downloads only what a query needs, and a register page's size does
//! not grow with the register:
//! - a manifest, inlined in the register page: every mentor's status (one letter each) and return
//!   date, the facets, the first term of each shard and the name of each card chunk;
//! - `search/f.<hash>.json`: every mentor's facet codes, fetched once a filter is used (and then
//!   for the counts);
//! - `search/t<i>.<hash>.json`: the free-text index, cut into shards of about 8 KB by sorted term
//!   range. Each term lists the mentors that have it, as `delta * 4 + weight` (weight 3 for the
//!   name, 2 for a field value, 1 for the bio);
//! - `search/c<k>.<hash>.json`: the theme's own card HTML for register page `k + 1`, so a result
//!   not on the page is shown exactly as the page shows it.
//!
//! A mentor's doc id is their position in the register's order for this build (see
//! `render::fair_order`): register page `k + 1` and card chunk `k` hold ids
//! `k * page .. (k + 1) * page`.
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
    /// Mentors per register page and per card chunk.
    pub page: usize,
    /// The folder of the files below, ending in `/`.
    pub dir: String,
    /// One letter per mentor: `a` accepting, `w` away (see `away`), `f` not taking requests.
    pub st: String,
    /// Doc id → return date, for mentors away at build time; the browser compares with today.
    pub away: BTreeMap<usize, String>,
    /// The facet codes file.
    pub f: String,
    /// `[first term, file]` per shard, in term order.
    pub shards: Vec<(String, String)>,
    /// The card chunk files, by chunk.
    pub cards: Vec<String>,
    pub facets: Vec<Facet>,
}

#[derive(Serialize)]
pub struct Facet {
    pub key: String,
    pub label: String,
    /// `[slug, label]` per value; a doc's codes index into this.
    pub values: Vec<(String, String)>,
}

/// Facet key → per mentor, the codes of the values they have.
#[derive(Serialize)]
struct FacetCodes<'a>(BTreeMap<&'a str, Vec<Vec<u16>>>);

#[derive(Serialize)]
struct Shard<'a> {
    t: Vec<&'a str>,
    p: Vec<Vec<u32>>,
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

/// Every term seen, each with a number: a mentor's terms are kept as numbers ([`Vocab::pack`]),
/// so the memo holds them compactly and the postings are gathered without hashing strings.
#[derive(Default)]
pub struct Vocab {
    ids: HashMap<Box<str>, u32>,
    terms: Vec<Box<str>>,
}

impl Vocab {
    /// `terms` ([`terms_of`]) as `term number * 4 + weight`.
    pub fn pack(&mut self, terms: &[(String, u32)]) -> Vec<u32> {
        terms
            .iter()
            .map(|(term, weight)| self.id(term) * 4 + weight)
            .collect()
    }

    fn id(&mut self, term: &str) -> u32 {
        if let Some(&id) = self.ids.get(term) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.terms.push(term.into());
        self.ids.insert(term.into(), id);
        id
    }

    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms in number order (to save).
    pub fn terms(&self) -> &[Box<str>] {
        &self.terms
    }

    /// A vocabulary of `terms`, numbered in order (as saved).
    pub fn from_terms(terms: Vec<Box<str>>) -> Vocab {
        let ids = terms
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        Vocab { ids, terms }
    }
}

/// The free-text index as it is gathered: for each term number, `id * 4 + weight` for each
/// mentor that has it, mentor by mentor in doc-id order. A mentor's terms can be dropped once
/// added, so a register's terms are never all in memory at once.
#[derive(Default)]
pub struct Postings(Vec<Vec<u32>>);

impl Postings {
    /// Add the packed terms ([`Vocab::pack`]) of mentor `id`, which must follow every id added
    /// so far.
    pub fn add(&mut self, id: u32, packed: &[u32]) {
        for p in packed {
            let term = (p / 4) as usize;
            if term >= self.0.len() {
                self.0.resize_with(term + 1, Vec::new);
            }
            self.0[term].push(id * 4 + p % 4);
        }
    }

    /// Each term that some mentor has, with its list, in term order. Terms no mentor has any
    /// more (a bio edited since the memo saw it) are left out.
    pub fn sorted(self, vocab: &Vocab) -> Vec<(&str, Vec<u32>)> {
        let mut postings: Vec<(&str, Vec<u32>)> = self
            .0
            .into_iter()
            .enumerate()
            .filter(|(_, list)| !list.is_empty())
            .map(|(t, list)| (&*vocab.terms[t], list))
            .collect();
        postings.sort_unstable_by(|a, b| a.0.cmp(b.0));
        postings
    }
}

/// The index over `mentors` in doc-id order; `postings` ([`Postings::sorted`]) holds their
/// terms and `cards[i]` is
/// the `i`th mentor's card HTML; `page` mentors to a card chunk. Each file is handed to `emit`
/// as soon as it is made (so they are not all held at once); the manifest is returned.
pub fn build(
    mentors: &[std::sync::Arc<MentorView>],
    filters: &[FilterView],
    postings: Vec<(&str, Vec<u32>)>,
    cards: &[&str],
    page: usize,
    base_path: &str,
    emit: &mut dyn FnMut(OutputFile),
) -> Manifest {
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

    let mut st = String::with_capacity(mentors.len());
    let mut away = BTreeMap::new();
    let mut codes_of = FacetCodes(BTreeMap::new());
    for (id, m) in mentors.iter().enumerate() {
        st.push(match m.availability.status {
            "accepting" => 'a',
            "away" => 'w',
            _ => 'f',
        });
        if let Some(until) = &m.availability.until {
            away.insert(id, until.clone());
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
            codes_of
                .0
                .entry(facet.key.as_str())
                .or_default()
                .push(codes);
        }
    }

    let mut put = |stem: &str, json: String| {
        let name = hashed(stem, &json);
        emit(OutputFile::new(format!("search/{name}"), json));
        name
    };
    let facet_file = put(
        "f",
        serde_json::to_string(&codes_of).expect("codes serialize"),
    );
    let card_files: Vec<String> = cards
        .chunks(page.max(1))
        .enumerate()
        .map(|(k, chunk)| {
            let json = serde_json::to_string(chunk).expect("cards serialize");
            put(&format!("c{k}"), json)
        })
        .collect();

    let mut shards = Vec::new();
    let mut current = Shard {
        t: Vec::new(),
        p: Vec::new(),
    };
    let mut size = 0;
    let mut flush = |shard: &mut Shard, shards: &mut Vec<(String, String)>| {
        if shard.t.is_empty() {
            return;
        }
        let first = shard.t[0].to_string();
        let json = serde_json::to_string(&*shard).expect("shard serialize");
        shards.push((first, put(&format!("t{}", shards.len()), json)));
        shard.t.clear();
        shard.p.clear();
    };
    for (term, packed) in &postings {
        let mut last = 0;
        let list: Vec<u32> = packed
            .iter()
            .map(|&p| {
                let id = p / 4;
                let delta = id - last;
                last = id;
                delta * 4 + p % 4
            })
            .collect();
        size += term.len() + list.len() * 3 + 4;
        current.t.push(term);
        current.p.push(list);
        if size >= SHARD_BYTES {
            flush(&mut current, &mut shards);
            size = 0;
        }
    }
    flush(&mut current, &mut shards);

    Manifest {
        v: 2,
        n: mentors.len(),
        page,
        dir: format!("{base_path}search/"),
        st,
        away,
        f: facet_file,
        shards,
        cards: card_files,
        facets,
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
