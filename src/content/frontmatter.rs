//! Split a markdown file into YAML front matter and body, and read the front matter into
//! key/value entries that remember where each key and value stands in the file.
//!
//! YAML is read with serde-saphyr (a maintained serde YAML crate; serde_yaml is deprecated) into
//! a small [`Node`] tree of our own, so validation later can point at the exact line and column
//! of any key, value or list item.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diag::{Diagnostic, Pos};

/// A markdown source with its front matter cut out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split<'a> {
    pub yaml: &'a str,
    /// The file line on which the YAML starts (the line after the opening `---`).
    pub yaml_line: usize,
    pub body: &'a str,
}

/// Normalise a file's text: drop a UTF-8 byte order mark and turn CRLF into LF.
pub fn normalise(text: &str) -> String {
    text.strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n")
}

/// Cut `---` fenced front matter off the top of `src` (already normalised).
pub fn split<'a>(src: &'a str, path: &Path) -> Result<Split<'a>, Diagnostic> {
    let Some(rest) = src
        .strip_prefix("---\n")
        .or_else(|| (src.trim_end() == "---").then_some(""))
    else {
        return Err(Diagnostic::error(path, Pos::START, "the file does not start with front matter")
            .with_hint(
                "start the file with a line `---`, the fields (`name: Jane Doe`, one per line), then another `---` line, then the text",
            ));
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        let bare = line.trim_end();
        if bare == "---" || bare == "..." {
            let yaml = &rest[..offset];
            let body = &rest[offset + line.len()..];
            return Ok(Split {
                yaml,
                yaml_line: 2,
                body,
            });
        }
        offset += line.len();
    }
    Err(
        Diagnostic::error(path, Pos::START, "the front matter is not closed")
            .with_hint("add a line `---` after the last field, before the text begins"),
    )
}

/// A YAML value as the register needs it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Located<Node>>),
    Map,
}

impl Node {
    /// Null, an empty or blank string, or an empty list.
    pub fn is_blank(&self) -> bool {
        match self {
            Node::Null => true,
            Node::Str(s) => s.trim().is_empty(),
            Node::Seq(items) => items.is_empty(),
            _ => false,
        }
    }

    /// How the value reads in a message: `a list`, `true`, `"text"`.
    pub fn describe(&self) -> String {
        match self {
            Node::Null => "empty".into(),
            Node::Bool(b) => b.to_string(),
            Node::Int(i) => i.to_string(),
            Node::Float(f) => f.to_string(),
            Node::Str(s) => format!("\"{s}\""),
            Node::Seq(_) => "a list".into(),
            Node::Map => "a nested mapping".into(),
        }
    }
}

/// A value with the position of its first character in the file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Located<T> {
    pub value: T,
    pub pos: Pos,
}

/// One `key: value` line of front matter.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Located<Node>,
}

/// The front matter, entries in file order.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrontMatter {
    pub entries: Vec<Entry>,
}

impl FrontMatter {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// Parse the YAML of `split`, positions shifted to file lines.
pub fn parse(split: &Split, path: &Path) -> Result<FrontMatter, Diagnostic> {
    if split.yaml.trim().is_empty() {
        return Ok(FrontMatter::default());
    }
    // YAML 1.2 booleans only (`no` stays text: the Norway problem), and numbers with a leading
    // zero stay text (`phone: 07700900123` keeps its zero).
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    let raw: RawFrontMatter =
        serde_saphyr::from_str_with_options(split.yaml, options).map_err(|e| {
            let pos = e
                .location()
                .map_or(Pos::START, |l| {
                    Pos::new(l.line() as usize, l.column() as usize)
                })
                .offset_lines(split.yaml_line);
            let line = e.location().map_or(1, |l| l.line() as usize);
            match stray_indent(split.yaml, line) {
                Some(s) => {
                    let spaces = match s.indent {
                        1 => "one space".to_string(),
                        n => format!("{n} spaces"),
                    };
                    Diagnostic::error(
                        path,
                        Pos::new(s.line, 1).offset_lines(split.yaml_line),
                        format!(
                            "`{}:` is indented by {spaces}, so it is read as part of the line above",
                            s.key
                        ),
                    )
                    .with_hint(format!(
                        "remove the space before `{}`: each field starts at the beginning of its line",
                        s.key
                    ))
                    .with_len(s.indent + s.key.chars().count())
                }
                None => Diagnostic::error(path, pos, format!("invalid YAML: {}", yaml_message(&e)))
                    .with_hint(yaml_hint(&e.to_string())),
            }
        })?;
    let shift = |l: &serde_saphyr::Location| {
        Pos::new(l.line() as usize, l.column() as usize).offset_lines(split.yaml_line)
    };
    Ok(FrontMatter {
        entries: raw
            .0
            .into_iter()
            .map(|(k, v)| Entry {
                key: k.value,
                key_pos: shift(&k.referenced),
                value: v.into_located(&shift),
            })
            .collect(),
    })
}

/// Warnings for YAML that parses but does not say what the admin meant. Today one: a list item
/// indented further than the one above it is folded into it (`  - English` then `   - Hindi`
/// gives the single value "English - Hindi").
pub fn lint(split: &Split, front: &FrontMatter, path: &Path) -> Vec<Diagnostic> {
    let lines: Vec<&str> = split.yaml.lines().collect();
    let mut out = Vec::new();
    for e in &front.entries {
        let mut check = |node: &Located<Node>| {
            if let Node::Str(text) = &node.value
                && let Some(d) = folded_item(&lines, split.yaml_line, &e.key, node.pos, text, path)
            {
                out.push(d);
            }
        };
        match &e.value.value {
            Node::Seq(items) => items.iter().for_each(&mut check),
            _ => check(&e.value),
        }
    }
    out
}

fn folded_item(
    lines: &[&str],
    yaml_line: usize,
    key: &str,
    pos: Pos,
    text: &str,
    path: &Path,
) -> Option<Diagnostic> {
    let index = pos.line.checked_sub(yaml_line)?;
    let first: String = lines.get(index)?.chars().skip(pos.column - 1).collect();
    let first = first.trim();
    if first.starts_with(['"', '\'', '[', '{', '|', '>']) || text == first {
        return None;
    }
    // The value ran on past its line; find a following line that begins like a list item.
    for (i, line) in lines.iter().enumerate().skip(index + 1) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || !line.starts_with(' ') {
            return None;
        }
        if let Some(item) = trimmed.strip_prefix("- ") {
            let column = line.len() - trimmed.len() + 1;
            let item = item.trim();
            return Some(
                Diagnostic::warning(
                    path,
                    Pos::new(i + yaml_line, column),
                    format!(
                        "this line is taken as part of the one above it: `{key}` gets the one value \"{text}\" instead of \"{first}\" and \"{item}\""
                    ),
                )
                .with_hint(
                    "line up this `-` with the `-` of the item above it: the items of a list start in the same column",
                ),
            );
        }
    }
    None
}

/// serde-saphyr's message without its own position suffix and source snippet.
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("").trim();
    let cut = first.find(" at line ").map_or(first, |i| &first[..i]);
    // The parser's own advice ("set DuplicateKeyPolicy in Options") is for programmers.
    if let Some(rest) = cut.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return format!("`{key}` is given twice");
    }
    cut.trim_end_matches(['.', ':']).to_string()
}

/// A field indented where it should start at the margin.
struct StrayIndent {
    /// The line in the YAML (1-based).
    line: usize,
    indent: usize,
    key: String,
}

/// When the YAML error is on (or just after) a line that starts with spaces where a field
/// should start at the margin, that line: one stray space is the commonest slip, and YAML's own
/// message about "mapping values" does not point at it.
fn stray_indent(yaml: &str, error_line: usize) -> Option<StrayIndent> {
    let lines: Vec<&str> = yaml.lines().collect();
    let looks_like_key = |l: &str| {
        let t = l.trim_start();
        !t.starts_with('-')
            && !t.starts_with('#')
            && t.split_once(':').is_some_and(|(k, rest)| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
                    && (rest.is_empty() || rest.starts_with(' '))
            })
    };
    // The error is reported on the indented line itself or on the one after it.
    for n in [error_line, error_line.saturating_sub(1)] {
        let Some(line) = n.checked_sub(1).and_then(|i| lines.get(i)) else {
            continue;
        };
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent == 0 || !looks_like_key(line) {
            continue;
        }
        // Indented keys right under a key with no value are a nested block: not this slip.
        let above = lines[..n - 1]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        if above.is_some_and(|a| a.trim_end().ends_with(':')) {
            continue;
        }
        let key = line.trim_start().split(':').next().unwrap_or_default();
        return Some(StrayIndent {
            line: n,
            indent,
            key: key.to_string(),
        });
    }
    None
}

fn yaml_hint(message: &str) -> &'static str {
    let m = message.to_lowercase();
    if m.contains("duplicate") {
        "each key may appear once: keep the line you mean and delete the other"
    } else if m.contains("tab") {
        "indent with spaces, not tabs"
    } else if m.contains("mapping values are not allowed") || m.contains("':'") {
        "a value containing `: ` must be quoted, e.g. title: \"Return to work: what helps\""
    } else {
        "each line is `key: value`; quote values that contain `:` or start with `[`, `{`, `*`, `&` or `#`"
    }
}

/// What serde-saphyr gives us: entries with spans, before shifting to file lines.
struct RawFrontMatter(Vec<(Spanned<String>, SpannedNode)>);

struct SpannedNode(Spanned<RawNode>);

impl<'de> Deserialize<'de> for SpannedNode {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Spanned::<RawNode>::deserialize(d).map(SpannedNode)
    }
}

impl SpannedNode {
    fn into_located(self, shift: &impl Fn(&serde_saphyr::Location) -> Pos) -> Located<Node> {
        let pos = shift(&self.0.referenced);
        let value = match self.0.value {
            RawNode::Null => Node::Null,
            RawNode::Bool(b) => Node::Bool(b),
            RawNode::Int(i) => Node::Int(i),
            RawNode::Float(f) => Node::Float(f),
            RawNode::Str(s) => Node::Str(s),
            RawNode::Seq(items) => {
                Node::Seq(items.into_iter().map(|i| i.into_located(shift)).collect())
            }
            RawNode::Map => Node::Map,
        };
        Located { value, pos }
    }
}

enum RawNode {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<SpannedNode>),
    Map,
}

impl<'de> Deserialize<'de> for RawFrontMatter {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFrontMatter;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`key: value` lines")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value::<SpannedNode>()?;
                    entries.push((key, value));
                }
                Ok(RawFrontMatter(entries))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawNode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_unit<E>(self) -> Result<RawNode, E> {
                Ok(RawNode::Null)
            }
            fn visit_none<E>(self) -> Result<RawNode, E> {
                Ok(RawNode::Null)
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
                RawNode::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<RawNode, E> {
                Ok(RawNode::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<RawNode, E> {
                Ok(RawNode::Int(i))
            }
            fn visit_u64<E: de::Error>(self, u: u64) -> Result<RawNode, E> {
                i64::try_from(u)
                    .map(RawNode::Int)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_f64<E>(self, f: f64) -> Result<RawNode, E> {
                Ok(RawNode::Float(f))
            }
            fn visit_str<E>(self, s: &str) -> Result<RawNode, E> {
                Ok(RawNode::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<RawNode, E> {
                Ok(RawNode::Str(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<SpannedNode>()? {
                    items.push(item);
                }
                Ok(RawNode::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RawNode::Map)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fm(src: &str) -> Result<FrontMatter, Diagnostic> {
        let p = Path::new("x.md");
        parse(&split(src, p)?, p)
    }

    #[test]
    fn splits_and_locates_entries() {
        let src = "---\nname: Zoë Ng\nlanguages: [English, Cantonese]\n---\nBio text\n";
        let s = split(src, Path::new("x.md")).unwrap();
        assert_eq!(s.body, "Bio text\n");
        let f = fm(src).unwrap();
        let name = f.get("name").unwrap();
        assert_eq!(name.key_pos, Pos::new(2, 1));
        assert_eq!(name.value.pos, Pos::new(2, 7));
        assert_eq!(name.value.value, Node::Str("Zoë Ng".into()));
        let Node::Seq(items) = &f.get("languages").unwrap().value.value else {
            panic!("a list")
        };
        assert_eq!(items[1].pos, Pos::new(3, 22));
    }

    #[test]
    fn yaml_errors_point_into_the_file() {
        let e = fm("---\nname: Jane\nname: Again\n---\n").unwrap_err();
        assert_eq!(e.line, 3, "{e:?}");
        assert_eq!(e.message, "invalid YAML: `name` is given twice");
        assert_eq!(
            e.hint.as_deref(),
            Some("each key may appear once: keep the line you mean and delete the other")
        );
        let e = fm("---\nname: [unclosed\n---\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
    }

    #[test]
    fn bom_and_crlf_are_accepted() {
        let src = normalise("\u{feff}---\r\nname: Ana\r\n---\r\nHi\r\n");
        let f = fm(&src).unwrap();
        assert_eq!(f.get("name").unwrap().value.value, Node::Str("Ana".into()));
    }

    #[test]
    fn missing_or_unclosed_front_matter_is_explained() {
        let p = Path::new("x.md");
        assert!(
            split("Just text", p)
                .unwrap_err()
                .message
                .contains("does not start")
        );
        assert!(
            split("---\nname: x\n", p)
                .unwrap_err()
                .message
                .contains("not closed")
        );
    }

    #[test]
    fn yes_and_no_stay_strings_and_dates_are_text() {
        let f = fm("---\na: no\nb: 2026-12-01\nc: true\nd: 07700900123\n---\n").unwrap();
        assert_eq!(
            f.get("d").unwrap().value.value,
            Node::Str("07700900123".into())
        );
        assert_eq!(f.get("a").unwrap().value.value, Node::Str("no".into()));
        assert_eq!(
            f.get("b").unwrap().value.value,
            Node::Str("2026-12-01".into())
        );
        assert_eq!(f.get("c").unwrap().value.value, Node::Bool(true));
    }
}
