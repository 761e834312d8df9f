//! The search index as the browser reads it: decoded here and checked against the register.

mod common;

use std::io::Write;

use common::Site;
use mentorsite::render::search::tokenize;
use mentorsite::site::{BuildOptions, render_to_memory};
use serde_json::Value;

struct Index {
    manifest: Value,
    docs: Value,
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
    let docs: Value = serde_json::from_str(&text("search/docs.")).unwrap();
    let mut terms = Vec::new();
    let search_files = files
        .iter()
        .filter(|f| f.path.to_string_lossy().starts_with("search/"))
        .map(|f| (f.path.to_string_lossy().into_owned(), f.bytes.clone()))
        .collect();
    for shard in manifest["shards"].as_array().unwrap() {
        let url = shard[1].as_str().unwrap().trim_start_matches('/');
        let body: Value = serde_json::from_str(&text(url)).unwrap();
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
        docs,
        terms,
        files: search_files,
    }
}

#[test]
fn every_mentor_is_found_by_their_name_and_has_their_facets() {
    let site = Site::demo();
    let ix = index(&site);
    let slugs: Vec<&str> = ix.docs["slug"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
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
    let codes = &ix.docs["f"]["region"][id];
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
    assert_eq!(&ix.docs["st"].as_str().unwrap()[id..=id], "a");
    let tomas = slugs.iter().position(|s| *s == "tomas-hruby").unwrap();
    assert_eq!(&ix.docs["st"].as_str().unwrap()[tomas..=tomas], "w");
    assert_eq!(ix.docs["away"][tomas.to_string()], "2027-01-11");
}

#[test]
fn private_fields_never_enter_the_index() {
    let site = Site::fixture("refugee-youth");
    let ix = index(&site);
    let all = format!("{} {} {:?}", ix.manifest, ix.docs, ix.terms);
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
    let total: usize = ix.files.iter().map(|(_, b)| gzipped(b)).sum();
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
        "docs and at least two shards: {:?}",
        ix.files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
}
