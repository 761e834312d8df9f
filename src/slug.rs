//! URL slugs: ASCII, lower case, words joined by `-` ("Siobhán Ní Bhriain" → "siobhan-ni-bhriain").

/// Transliterate to ASCII, lower-case, and join runs of letters and digits with `-`.
pub fn slugify(s: &str) -> String {
    let ascii = deunicode::deunicode(s).to_lowercase();
    let mut out = String::with_capacity(ascii.len());
    for word in ascii.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(word);
    }
    out
}

/// Whether `s` is already a slug (what file names of bios must be).
pub fn is_slug(s: &str) -> bool {
    !s.is_empty() && slugify(s) == s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transliterates_and_joins() {
        assert_eq!(slugify("Siobhán Ní Bhriain"), "siobhan-ni-bhriain");
        assert_eq!(slugify("  Łukasz  Wójcik! "), "lukasz-wojcik");
        assert_eq!(slugify("O'Brien-Smith"), "o-brien-smith");
        assert_eq!(slugify("ST3"), "st3");
    }

    #[test]
    fn recognises_slugs() {
        assert!(is_slug("jane-doe"));
        assert!(!is_slug("Jane Doe"));
        assert!(!is_slug("jane--doe"));
        assert!(!is_slug(""));
    }
}
