//! The search index as the browser reads it: decoded here and checked against the register.

mod common;

use std::io::Write;

use common::Site;
use mentorsite::render::search::tokenize;
use mentorsite::site::{BuildOptions, render_to_memory};
use serde_json::Value;

struct Index {
    manifest: Value,
    /// Doc id → slug, read from the card chunks.
    slugs: Vec<String>,
    /// Facet key → per doc id, its value codes.
    codes: Value,
    /// The register's pages, by number: their HTML.
    pages: Vec<String>,
    /// (term, [(doc id, weight)]) in term order, across shards.
    terms: Vec<(String, Vec<(usize, u64)>)>,
    /// Every file under search/, with its bytes.
    files: Vec<(String, Vec<u8>)>,
}

fn index(site: &Site) -> Index {
    let files = render_to_memory(&BuildOptions {
        root: site.root().to_path_buf(),
        today: Some("2026-11-22".parse().unwrap()),
        ..BuildOptions::default()
    })
    .expect("build");
    let text = |prefix: &str| {
        files
            .iter()
            .find(|f| f.path.to_string_lossy().starts_with(prefix))
            .map(|f| String::from_utf8(f.bytes.clone()).unwrap())
            .unwrap_or_else(|| panic!("no {prefix}"))
    };
    let page = text("index.html");
    let start = page
        .find("<script type=\"application/json\" id=\"search-manifest\">")
        .unwrap();
    let json = &page[start..];
    let json = &json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()];
    let manifest: Value = serde_json::from_str(json).unwrap();
    let dir = manifest["dir"].as_str().unwrap().trim_start_matches('/');
    let file = |name: &Value| text(&format!("{dir}{}", name.as_str().unwrap()));
    let codes: Value = serde_json::from_str(&file(&manifest["f"])).unwrap();
    let mut slugs = Vec::new();
    for chunk in manifest["cards"].as_array().unwrap() {
        let cards: Vec<String> = serde_json::from_str(&file(chunk)).unwrap();
        for card in cards {
            let at = card.find("data-slug=\"").expect("a card names its slug") + 11;
            slugs.push(card[at..at + card[at..].find('"').unwrap()].to_string());
        }
    }
    let mut pages = vec![page.clone()];
    for n in 2.. {
        let path = format!("page/{n}/index.html");
        if !files.iter().any(|f| f.path.to_string_lossy() == path) {
            break;
        }
        pages.push(text(&path));
    }
    let mut terms = Vec::new();
    let search_files = files
        .iter()
        .filter(|f| f.path.to_string_lossy().starts_with("search/"))
        .map(|f| (f.path.to_string_lossy().into_owned(), f.bytes.clone()))
        .collect();
    for shard in manifest["shards"].as_array().unwrap() {
        let body: Value = serde_json::from_str(&file(&shard[1])).unwrap();
        assert_eq!(
            body["t"][0], shard[0],
            "the manifest names each shard's first term"
        );
        for (t, p) in body["t"]
            .as_array()
            .unwrap()
            .iter()
            .zip(body["p"].as_array().unwrap())
        {
            let mut id = 0;
            let postings = p
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    let x = x.as_u64().unwrap();
                    id += (x >> 2) as usize;
                    (id, x & 3)
                })
                .collect();
            terms.push((t.as_str().unwrap().to_string(), postings));
        }
    }
    Index {
        manifest,
        slugs,
        codes,
        pages,
        terms,
        files: search_files,
    }
}

#[test]
fn every_mentor_is_found_by_their_name_and_has_their_facets() {
    let site = Site::demo();
    let ix = index(&site);
    let slugs = &ix.slugs;
    assert_eq!(slugs.len(), 26);
    assert_eq!(ix.manifest["n"], 26);
    let sorted: Vec<&String> = ix.terms.iter().map(|(t, _)| t).collect();
    assert!(
        sorted.windows(2).all(|w| w[0] < w[1]),
        "terms sorted across shards"
    );

    let bio = site.read("content/mentors/siobhan-ni-bhriain.md");
    let name = bio.lines().find_map(|l| l.strip_prefix("name: ")).unwrap();
    let id = slugs
        .iter()
        .position(|s| *s == "siobhan-ni-bhriain")
        .unwrap();
    for token in tokenize(name) {
        let (_, postings) = ix.terms.iter().find(|(t, _)| *t == token).unwrap();
        assert!(
            postings.contains(&(id, 3)),
            "{token} → Siobhán with the name's weight"
        );
    }
    // A word only in her bio, with the bio's weight.
    let (_, postings) = ix.terms.iter().find(|(t, _)| t == "walkway").unwrap();
    assert_eq!(postings, &vec![(id, 1)]);

    // Facet codes decode to her field values; her status is 'a' (taking requests).
    let facets = ix.manifest["facets"].as_array().unwrap();
    let region = facets.iter().find(|f| f["key"] == "region").unwrap();
    let codes = &ix.codes["region"][id];
    let labels: Vec<&str> = codes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            region["values"][c.as_u64().unwrap() as usize][1]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(labels, ["Wakefield"]);
    let st = ix.manifest["st"].as_str().unwrap();
    assert_eq!(&st[id..=id], "a");
    let tomas = slugs.iter().position(|s| *s == "tomas-hruby").unwrap();
    assert_eq!(&st[tomas..=tomas], "w");
    assert_eq!(ix.manifest["away"][tomas.to_string()], "2027-01-11");
}

#[test]
fn the_register_pages_and_card_chunks_hold_the_same_mentors_in_the_same_order() {
    let site = Site::demo();
    let ix = index(&site);
    let page_size = ix.manifest["page"].as_u64().unwrap() as usize;
    assert_eq!(ix.pages.len(), 26_usize.div_ceil(page_size));
    let mut on_pages = Vec::new();
    for (i, html) in ix.pages.iter().enumerate() {
        let start = format!("data-start=\"{}\"", i * page_size);
        assert!(
            html.contains(&start),
            "page {} starts at its first doc id",
            i + 1
        );
        on_pages.extend(html.match_indices("<li data-slug=\"").map(|(at, m)| {
            let rest = &html[at + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        }));
    }
    assert_eq!(on_pages, ix.slugs, "page N holds card chunk N - 1");
    // Taking requests first, then away, then not taking requests.
    let st = ix.manifest["st"].as_str().unwrap();
    let groups: Vec<char> = st.chars().collect();
    let rank = |c: char| "awf".find(c).unwrap();
    assert!(groups.windows(2).all(|w| rank(w[0]) <= rank(w[1])), "{st}");
    assert!(ix.pages[0].contains("rel=\"next\""));
    assert!(!ix.pages[ix.pages.len() - 1].contains("rel=\"next\""));
}

#[test]
fn private_fields_never_enter_the_index() {
    let site = Site::fixture("refugee-youth");
    let ix = index(&site);
    let all = format!("{} {} {:?}", ix.manifest, ix.codes, ix.terms);
    for secret in ["private.example.net", "dbs", "2031", "expiry"] {
        assert!(
            !all.to_lowercase().contains(secret),
            "{secret} in the index"
        );
    }
    let keys: Vec<&str> = ix.manifest["facets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["languages", "age_groups"]);
}

#[test]
fn the_index_is_small_and_split() {
    let site = Site::demo();
    let ix = index(&site);
    let gzipped = |bytes: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap().len()
    };
    // The card chunks are the theme's card HTML, fetched only for results off the page.
    let total: usize = ix
        .files
        .iter()
        .filter(|(name, _)| !name.starts_with("search/c"))
        .map(|(_, b)| gzipped(b))
        .sum();
    // The demo's bios are short; 300-500 word bios are measured in benches/search.mjs.
    assert!(total / 26 < 400, "{total} gzipped bytes for 26 mentors");
    for (name, bytes) in &ix.files {
        if name.starts_with("search/t") {
            assert!(
                bytes.len() < 12 * 1024,
                "{name} is {} bytes: shards are cut near 8 KB",
                bytes.len()
            );
        }
    }
    assert!(
        ix.files.len() >= 3,
        "facet codes and at least two shards: {:?}",
        ix.files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
}
