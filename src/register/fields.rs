//! Typed reading of front-matter entries, with the messages an admin sees when a value is of
//! the wrong kind. Shared by bios, handbook sections and pages.

use std::path::Path;

use jiff::civil::Date;

use crate::content::{Document, Entry, Located, Node};
use crate::diag::{Diagnostic, Diagnostics, Pos, did_you_mean};

/// Reads the entries of one document, reporting into `diags`.
pub struct Reader<'a> {
    pub doc: &'a Document,
    pub diags: &'a mut Diagnostics,
}

impl Reader<'_> {
    pub fn path(&self) -> &Path {
        &self.doc.path
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>, hint: impl Into<String>) {
        let d = Diagnostic::error(&self.doc.path, pos, message).with_hint(hint);
        self.diags.push(d);
    }

    pub fn warning(&mut self, pos: Pos, message: impl Into<String>, hint: impl Into<String>) {
        let d = Diagnostic::warning(&self.doc.path, pos, message).with_hint(hint);
        self.diags.push(d);
    }

    /// A warning about the `chars` characters at `pos`.
    pub fn warning_over(
        &mut self,
        pos: Pos,
        chars: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = Diagnostic::warning(&self.doc.path, pos, message)
            .with_hint(hint)
            .with_len(chars);
        self.diags.push(d);
    }

    /// A key that is required but absent, or present with nothing after the colon.
    pub fn missing(&mut self, key: &str, example: &str) {
        match self.doc.front.get(key) {
            Some(e) => {
                let pos = e.key_pos;
                self.error(
                    pos,
                    format!("`{key}` is empty"),
                    format!("write the value after the colon, e.g. `{key}: {example}`"),
                );
            }
            None => self.error(
                Pos::START,
                format!("missing required field `{key}`"),
                format!("add a line `{key}: {example}` between the two `---` lines"),
            ),
        }
    }

    pub fn unknown(&mut self, e: &Entry, known: &[&str]) {
        let hint = did_you_mean(&e.key, known.iter().copied()).unwrap_or_else(|| {
            format!(
                "the keys allowed here are: {}; a new field must first be declared in site.toml under [[fields]]",
                known.join(", ")
            )
        });
        self.error(e.key_pos, format!("unknown field `{}`", e.key), hint);
    }

    /// Text: a string, or a number written without quotes. Empty is `None` without an error.
    pub fn text(&mut self, e: &Entry) -> Option<String> {
        match &e.value.value {
            Node::Str(s) if s.trim().is_empty() => None,
            Node::Str(s) => {
                let s = s.trim().to_string();
                if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                    self.error(
                        e.value.pos,
                        format!("`{}` contains a control character", e.key),
                        "retype the value; it may have been pasted with hidden characters",
                    );
                    return None;
                }
                Some(s)
            }
            Node::Int(i) => Some(i.to_string()),
            Node::Float(f) => Some(f.to_string()),
            Node::Null => None,
            other => {
                self.error(
                    e.value.pos,
                    format!("`{}` must be text, not {}", e.key, other.describe()),
                    format!("write it on one line, e.g. `{}: some text`", e.key),
                );
                None
            }
        }
    }

    pub fn bool(&mut self, e: &Entry) -> Option<bool> {
        match &e.value.value {
            Node::Bool(b) => Some(*b),
            Node::Null => None,
            other => {
                let hint = match other {
                    Node::Str(s) if matches!(s.to_lowercase().as_str(), "yes" | "y" | "on") => {
                        format!("write `{}: true`", e.key)
                    }
                    Node::Str(s) if matches!(s.to_lowercase().as_str(), "no" | "n" | "off") => {
                        format!("write `{}: false`", e.key)
                    }
                    _ => format!("write `{}: true` or `{}: false`", e.key, e.key),
                };
                self.error(
                    e.value.pos,
                    format!(
                        "`{}` must be true or false, not {}",
                        e.key,
                        other.describe()
                    ),
                    hint,
                );
                None
            }
        }
    }

    pub fn date(&mut self, e: &Entry) -> Option<Date> {
        match &e.value.value {
            Node::Null => None,
            Node::Str(s) if s.trim().is_empty() => None,
            Node::Str(s) => match s.trim().parse::<Date>() {
                Ok(d) => Some(d),
                Err(_) => {
                    let (message, hint) = match impossible_date(s.trim()) {
                        Some(why) => (
                            format!("`{}` is not a real date: {why}", e.key),
                            "check the day and the month (the date is written YYYY-MM-DD)"
                                .to_string(),
                        ),
                        None => (
                            format!("`{}` is not a date: \"{s}\"", e.key),
                            format!("write the date as YYYY-MM-DD, e.g. `{}: 2027-01-31`", e.key),
                        ),
                    };
                    self.error(e.value.pos, message, hint);
                    None
                }
            },
            other => {
                self.error(
                    e.value.pos,
                    format!("`{}` must be a date, not {}", e.key, other.describe()),
                    format!("write the date as YYYY-MM-DD, e.g. `{}: 2027-01-31`", e.key),
                );
                None
            }
        }
    }

    pub fn int(&mut self, e: &Entry, min: i64, max: i64) -> Option<i64> {
        match &e.value.value {
            Node::Null => None,
            Node::Int(i) if (min..=max).contains(i) => Some(*i),
            other => {
                self.error(
                    e.value.pos,
                    format!(
                        "`{}` must be a whole number from {min} to {max}, not {}",
                        e.key,
                        other.describe()
                    ),
                    format!("e.g. `{}: {}`", e.key, min.max(1)),
                );
                None
            }
        }
    }

    /// A list of texts; a single text counts as a one-item list.
    pub fn list(&mut self, e: &Entry) -> Option<Vec<Located<String>>> {
        match &e.value.value {
            Node::Null => None,
            Node::Seq(items) => {
                let mut out = Vec::new();
                for item in items {
                    match &item.value {
                        Node::Str(s) if !s.trim().is_empty() => out.push(Located {
                            value: s.trim().to_string(),
                            pos: item.pos,
                        }),
                        Node::Int(i) => out.push(Located {
                            value: i.to_string(),
                            pos: item.pos,
                        }),
                        other => self.error(
                            item.pos,
                            format!(
                                "each item of `{}` must be text, not {}",
                                e.key,
                                other.describe()
                            ),
                            format!("write the list as `{}: [first, second]`", e.key),
                        ),
                    }
                }
                (!out.is_empty()).then_some(out)
            }
            Node::Str(s) if s.trim().is_empty() => None,
            Node::Str(s) => Some(vec![Located {
                value: s.trim().to_string(),
                pos: e.value.pos,
            }]),
            other => {
                self.error(
                    e.value.pos,
                    format!("`{}` must be a list, not {}", e.key, other.describe()),
                    format!("write the list as `{}: [first, second]`", e.key),
                );
                None
            }
        }
    }

    /// Check `value` against an allowed list (case-insensitively); returns the canonical spelling.
    pub fn allowed(
        &mut self,
        key: &str,
        value: &Located<String>,
        allowed: &[String],
    ) -> Option<String> {
        if let Some(canonical) = allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(&value.value))
        {
            return Some(canonical.clone());
        }
        let mut hint = format!("allowed values: {}", allowed.join(", "));
        if let Some(m) = did_you_mean(&value.value, allowed.iter().map(String::as_str)) {
            hint = format!("{m} ({hint})");
        }
        hint.push_str("; a new value must first be added to `values` in site.toml");
        self.error(
            value.pos,
            format!("\"{}\" is not an allowed value of `{key}`", value.value),
            hint,
        );
        None
    }
}

/// For text shaped like YYYY-MM-DD that is not a date, why not: "September 2025 has 30 days".
fn impossible_date(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return None;
    }
    let (y, m, d): (i16, i8, i8) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) {
        return Some(format!("there is no month {m} (months go from 01 to 12)"));
    }
    let first = Date::new(y, m, 1).ok()?;
    let days = first.days_in_month();
    if d < 1 || d > days {
        return Some(format!("{} has {days} days", first.strftime("%B %Y")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::impossible_date;

    #[test]
    fn impossible_dates_are_explained() {
        assert_eq!(
            impossible_date("2025-09-31").as_deref(),
            Some("September 2025 has 30 days")
        );
        assert_eq!(
            impossible_date("2027-02-29").as_deref(),
            Some("February 2027 has 28 days")
        );
        assert_eq!(
            impossible_date("2025-13-01").as_deref(),
            Some("there is no month 13 (months go from 01 to 12)")
        );
        assert_eq!(impossible_date("31/09/2025"), None);
        assert_eq!(impossible_date("2028-02-29"), None);
    }
}
