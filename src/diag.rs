//! Diagnostics: every problem found in a run, with its file, line, column and a hint.
//!
//! Stages never stop at the first bad file: they push into a [`Diagnostics`] and carry on,
//! and the command prints the whole sorted list once, as text or JSON.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem, located in a file relative to the site root (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    #[serde(serialize_with = "serialize_path")]
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// How many characters from the column the problem covers, when known (for the caret line
    /// of [`Diagnostics::render_report`]; otherwise the word there is underlined).
    #[serde(skip)]
    pub len: Option<usize>,
}

fn serialize_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&display_path(path))
}

/// Paths are shown with `/` on every platform so messages and snapshots agree.
pub fn display_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

impl Diagnostic {
    pub fn error(path: impl Into<PathBuf>, pos: Pos, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, path.into(), pos, message.into())
    }

    pub fn warning(path: impl Into<PathBuf>, pos: Pos, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, path.into(), pos, message.into())
    }

    fn new(severity: Severity, path: PathBuf, pos: Pos, message: String) -> Self {
        Self {
            path,
            line: pos.line,
            column: pos.column,
            severity,
            message,
            hint: None,
            len: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `path:line:col: error: message`, the line every rendering starts with.
    pub fn headline(&self) -> String {
        format!(
            "{}:{}:{}: {}: {}",
            display_path(&self.path),
            self.line,
            self.column,
            self.severity.as_str(),
            self.message
        )
    }

    /// The problem covers `chars` characters from its column.
    pub fn with_len(mut self, chars: usize) -> Self {
        self.len = Some(chars);
        self
    }
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, serde::Deserialize,
)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub const START: Pos = Pos { line: 1, column: 1 };

    pub fn new(line: usize, column: usize) -> Self {
        Self {
            line: line.max(1),
            column: column.max(1),
        }
    }

    /// The position of byte `offset` in `src`.
    pub fn of_offset(src: &str, offset: usize) -> Self {
        let offset = offset.min(src.len());
        let before = src.get(..offset).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self { line, column }
    }

    /// Shift a position found inside an embedded block (front matter) that starts on `first_line`.
    pub fn offset_lines(self, first_line: usize) -> Self {
        Self {
            line: self.line + first_line - 1,
            column: self.column,
        }
    }
}

/// The problems of one run, in the order found; sorted when shown.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warning_count(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.items.iter().filter(|d| d.severity == severity).count()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The errors alone (`serve`'s overlay leaves the warnings to the terminal).
    pub fn errors(&self) -> Diagnostics {
        Diagnostics {
            items: self
                .items
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .cloned()
                .collect(),
        }
    }

    /// The diagnostics sorted by file, then position, then message: stable across runs.
    pub fn sorted(&self) -> Vec<Diagnostic> {
        let mut items = self.items.clone();
        items.sort_by(|a, b| {
            (&a.path, a.line, a.column, a.severity, &a.message)
                .cmp(&(&b.path, b.line, b.column, b.severity, &b.message))
        });
        items.dedup();
        items
    }

    /// `path:line:col: error: message` with an indented hint, then a one-line summary.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for d in self.sorted() {
            let _ = writeln!(out, "{}", d.headline());
            if let Some(hint) = &d.hint {
                for (i, line) in hint.lines().enumerate() {
                    let lead = if i == 0 { "  hint: " } else { "        " };
                    let _ = writeln!(out, "{lead}{line}");
                }
            }
        }
        if !self.is_empty() {
            let _ = writeln!(out, "{}", self.summary());
        }
        out
    }

    /// [`Diagnostics::render_text`] with each problem's source line under it and a caret at
    /// the column, as compilers show them; files are read from under `root`. A problem with no
    /// readable line (a file-level one, or a file that is gone) shows its hint alone.
    pub fn render_report(&self, root: &Path) -> String {
        // Each file once, side by side: a register's first build can warn about every bio.
        let mut paths: Vec<&PathBuf> = self.items.iter().map(|d| &d.path).collect();
        paths.sort_unstable();
        paths.dedup();
        let files: HashMap<&PathBuf, Option<Vec<String>>> = {
            use rayon::prelude::*;
            paths
                .into_par_iter()
                .map(|p| (p, read_lines(&root.join(p))))
                .collect()
        };
        let renderer = Renderer::plain();
        let mut out = String::new();
        for d in self.sorted() {
            let _ = writeln!(out, "{}", d.headline());
            let source = files
                .get(&d.path)
                .and_then(Option::as_ref)
                .and_then(|l| l.get(d.line.wrapping_sub(1)))
                .filter(|l| !(d.line == 1 && d.column == 1 && l.trim() == "---"));
            let level = match d.severity {
                Severity::Error => Level::ERROR,
                Severity::Warning => Level::WARNING,
            };
            let mut group = Group::with_level(level.clone());
            if let Some(line) = source {
                let span = match d.len {
                    Some(n) => char_span(line, d.column, n),
                    None => token_span(line, d.column),
                };
                group = group.element(
                    Snippet::source(line.as_str())
                        .line_start(d.line)
                        .annotation(AnnotationKind::Primary.span(span)),
                );
            }
            if let Some(hint) = &d.hint {
                group = group.element(Level::HELP.with_name("hint").message(hint.as_str()));
            }
            if source.is_none() {
                for (i, line) in d.hint.iter().flat_map(|h| h.lines()).enumerate() {
                    let lead = if i == 0 { "  = hint: " } else { "          " };
                    let _ = writeln!(out, "{lead}{line}");
                }
                out.push('\n');
                continue;
            }
            let _ = writeln!(out, "{}\n", renderer.render(&[group]));
        }
        if !self.is_empty() {
            let _ = writeln!(out, "{}", self.summary());
        }
        out
    }

    pub fn summary(&self) -> String {
        let files = {
            let mut paths: Vec<_> = self.items.iter().map(|d| &d.path).collect();
            paths.sort();
            paths.dedup();
            paths.len()
        };
        format!(
            "{} in {} {}",
            counted(self.error_count(), self.warning_count()),
            files,
            plural(files, "file", "files")
        )
    }

    /// The same list as JSON, for scripts and editors.
    pub fn render_json(&self) -> String {
        #[derive(Serialize)]
        struct Report {
            errors: usize,
            warnings: usize,
            diagnostics: Vec<Diagnostic>,
        }
        let report = Report {
            errors: self.error_count(),
            warnings: self.warning_count(),
            diagnostics: self.sorted(),
        };
        serde_json::to_string_pretty(&report).expect("diagnostics serialize") + "\n"
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// A file's lines as the content stage reads them (no byte-order mark, `\n` endings).
fn read_lines(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Some(
        text.lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect(),
    )
}

/// The bytes of `chars` characters of `line` from `column` (1-based).
fn char_span(line: &str, column: usize, chars: usize) -> std::ops::Range<usize> {
    let at = |n: usize| line.char_indices().nth(n).map_or(line.len(), |(i, _)| i);
    at(column.saturating_sub(1))..at(column.saturating_sub(1) + chars.max(1))
}

/// The bytes of `line` to underline for a problem at `column` (1-based, in characters): the
/// word, quoted text or bracketed list that starts there, without a trailing `:` or `,`.
fn token_span(line: &str, column: usize) -> std::ops::Range<usize> {
    let start = line
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i);
    let rest = &line[start..];
    let len = match rest.chars().next() {
        None => return start..start,
        Some(open @ ('"' | '\'' | '[' | '{')) => {
            let close = match open {
                '[' => ']',
                '{' => '}',
                q => q,
            };
            rest[1..].find(close).map_or(rest.len(), |i| i + 2)
        }
        // A value after `key:` or a list item's `-`: all of it, up to a comment.
        Some(_) if line[..start].trim_end().ends_with([':', '-', '=']) => {
            let value = rest.find(" #").map_or(rest, |i| &rest[..i]);
            value.trim_end().len().max(1)
        }
        Some(_) => {
            let word = rest.find(char::is_whitespace).unwrap_or(rest.len());
            rest[..word].trim_end_matches([':', ',']).len().max(1)
        }
    };
    start..start + len.min(rest.len())
}

fn counted(errors: usize, warnings: usize) -> String {
    format!(
        "{errors} {}, {warnings} {}",
        plural(errors, "error", "errors"),
        plural(warnings, "warning", "warnings")
    )
}

pub fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// "did you mean `x`?" for the closest candidate, when one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The candidate `word` is most likely a typo of, if any is close enough.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_not_bytes() {
        let src = "a: 1\nnäme: x\n";
        let offset = src.find('x').unwrap();
        assert_eq!(Pos::of_offset(src, offset), Pos::new(2, 7));
        assert_eq!(Pos::of_offset(src, 0), Pos::START);
    }

    #[test]
    fn suggests_close_names_only() {
        let keys = ["specialty", "region", "grade"];
        assert_eq!(
            did_you_mean("speciality", keys).as_deref(),
            Some("did you mean `specialty`?")
        );
        assert_eq!(did_you_mean("favourite_food", keys), None);
    }

    #[test]
    fn spans_cover_the_word_quote_or_list_at_the_column() {
        let line = "speciality: \"Anaesthetics: adult\"   # note";
        assert_eq!(&line[token_span(line, 1)], "speciality");
        assert_eq!(&line[token_span(line, 13)], "\"Anaesthetics: adult\"");
        let line = "meeting: [Video, Carrier pigeon]";
        assert_eq!(&line[token_span(line, 10)], "[Video, Carrier pigeon]");
        assert_eq!(token_span("name:", 9), 5..5);
        assert_eq!(&"  - Zoë Ng"[token_span("  - Zoë Ng", 5)], "Zoë Ng");
        let line = "away_until: next week   # back soon";
        assert_eq!(&line[token_span(line, 13)], "next week");
        assert_eq!(&line[token_span(line, 1)], "away_until");
    }

    #[test]
    fn reports_show_the_line_with_a_caret() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.md"),
            "---\nname: Ana\nspeciality: GP\n---\n",
        )
        .unwrap();
        let mut d = Diagnostics::new();
        d.push(
            Diagnostic::error("a.md", Pos::new(3, 1), "unknown field `speciality`")
                .with_hint("did you mean `specialty`?"),
        );
        d.push(Diagnostic::warning("a.md", Pos::START, "no headshot yet").with_hint("add one"));
        d.push(Diagnostic::error("gone.md", Pos::new(2, 1), "vanished"));
        assert_eq!(
            d.render_report(dir.path()),
            "a.md:1:1: warning: no headshot yet\n  = hint: add one\n\n\
             a.md:3:1: error: unknown field `speciality`\n  |\n3 | speciality: GP\n  | ^^^^^^^^^^\n  |\n  = hint: did you mean `specialty`?\n\n\
             gone.md:2:1: error: vanished\n\n\
             2 errors, 1 warning in 2 files\n"
        );
    }

    #[test]
    fn text_is_sorted_with_hints_and_summary() {
        let mut d = Diagnostics::new();
        d.push(Diagnostic::warning("b.md", Pos::new(1, 1), "later"));
        d.push(Diagnostic::error("a.md", Pos::new(3, 2), "first").with_hint("fix it"));
        assert_eq!(
            d.render_text(),
            "a.md:3:2: error: first\n  hint: fix it\nb.md:1:1: warning: later\n1 error, 1 warning in 2 files\n"
        );
    }
}
