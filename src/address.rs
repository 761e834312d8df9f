//! The one rule for an email address, shared by the request form, `site.toml`, the bios and
//! the mailer: a bare `local@domain`, nothing else.
//!
//! RFC 5322 allows far more (a display name, `"quoted, local"@parts`, `user@[127.0.0.1]`,
//! comments), and mail parsers accept it. A mentee's address is shown to a mentor and written
//! into headers, so every form a person does not type is refused: a display name would carry
//! a stranger's words into an inbox, and a quoted or literal address fails at many servers
//! after the request was taken, so the mentor never hears of it.
//!
//! Accepted: a dot-atom local part of at most 64 characters (letters, digits and
//! ``!#$%&'*+-/=?^_`{|}~``, dots between them), `@`, and a domain name of at least two
//! labels (letters, digits and hyphens, including letters outside ASCII), at most 254
//! characters in all.

/// Why an address was refused, with the words a person is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Empty,
    /// `Sam <sam@x.org>` or `"Sam" sam@x.org`.
    DisplayName,
    /// Spaces, commas, semicolons: more than one address, or a typo.
    Spaces,
    NoAt,
    /// `"a,b"@x.org`.
    Quoted,
    /// `a@[127.0.0.1]`.
    Literal,
    /// A character that is not allowed before the `@`.
    LocalCharacter,
    /// `.sam@`, `sam.@`, `sa..m@`.
    LocalDots,
    LocalTooLong,
    /// No dot after the `@` (`sam@localhost`), an empty label, or a label with a bad character.
    Domain,
    TooLong,
}

impl Problem {
    /// What the mentee (or the admin, for `site.toml`) is told.
    pub fn message(self) -> &'static str {
        match self {
            Problem::Empty => "Please give an email address.",
            Problem::DisplayName => {
                "Please give only the address itself (like name@example.org), without a name or angle brackets."
            }
            Problem::Spaces => {
                "An email address has no spaces or commas. Please give one address (like name@example.org)."
            }
            Problem::NoAt => {
                "This address has no @. Please check it for a typo (like name@example.org)."
            }
            Problem::Quoted => {
                "Addresses with quotation marks cannot be used here. Please give an address like name@example.org."
            }
            Problem::Literal => {
                "Please give an address with a domain name (like name@example.org), not a number in brackets."
            }
            Problem::LocalCharacter => {
                "The part before the @ has a character that email addresses cannot have. Please check it for a typo."
            }
            Problem::LocalDots => {
                "The part before the @ cannot start or end with a dot, or have two dots together. Please check it for a typo."
            }
            Problem::LocalTooLong => {
                "The part before the @ is longer than 64 characters. Please check the address."
            }
            Problem::Domain => {
                "The part after the @ does not look like a domain (like example.org). Please check it for a typo."
            }
            Problem::TooLong => "This address is longer than 254 characters. Please check it.",
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

const LOCAL_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

/// Check `s` (surrounding spaces ignored) and return it trimmed.
pub fn check(s: &str) -> Result<&str, Problem> {
    let s = s.trim();
    if s.is_empty() {
        return Err(Problem::Empty);
    }
    if s.contains(['<', '>']) {
        return Err(Problem::DisplayName);
    }
    if s.starts_with('"') || s.contains("\"@") {
        return Err(Problem::Quoted);
    }
    if s.contains('"') {
        return Err(Problem::DisplayName);
    }
    if s.chars().any(|c| c.is_whitespace() || c == ',' || c == ';') {
        return Err(Problem::Spaces);
    }
    if s.chars().count() > 254 {
        return Err(Problem::TooLong);
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Err(Problem::NoAt);
    };
    if domain.starts_with('[') || domain.ends_with(']') {
        return Err(Problem::Literal);
    }
    if local.is_empty()
        || local.contains('@')
        || local
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || c == '.' || LOCAL_SPECIALS.contains(c)))
    {
        return Err(Problem::LocalCharacter);
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(Problem::LocalDots);
    }
    if local.len() > 64 {
        return Err(Problem::LocalTooLong);
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.chars().count() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let top_ok = labels
        .last()
        .is_some_and(|t| !t.chars().all(|c| c.is_ascii_digit()));
    if labels.len() < 2 || !labels.iter().all(label_ok) || !top_ok {
        return Err(Problem::Domain);
    }
    Ok(s)
}

/// Whether `s` passes [`check`].
pub fn is_valid(s: &str) -> bool {
    check(s).is_ok()
}

/// The form of an address the limits count by: `Sam@Example.org` and `sam@example.org ` are
/// one person. (Local parts are case-sensitive in theory and never in practice.)
pub fn key(s: &str) -> String {
    s.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const GOOD: &[&str] = &[
        "sam@example.org",
        "Sam.Lee+mentoring@mail.example.co.uk",
        "o'brien@example.ie",
        "a_b-c@sub-domain.example.org",
        "x@例え.jp",
        "user!#$%&*=?^`{|}~@example.org",
    ];

    const BAD: &[(&str, Problem)] = &[
        ("", Problem::Empty),
        ("Free money <victim@x.example>", Problem::DisplayName),
        ("<victim@x.example>", Problem::DisplayName),
        ("\"Sam\" sam@x.example", Problem::Quoted),
        ("\"a,b\"@x.example", Problem::Quoted),
        ("sam\"x\"@x.example", Problem::Quoted),
        ("Sam \"Boss\" Lee@x.example", Problem::DisplayName),
        ("a@[127.0.0.1]", Problem::Literal),
        ("a@b.example, c@d.example", Problem::Spaces),
        ("sam lee@example.org", Problem::Spaces),
        ("sam.example.org", Problem::NoAt),
        ("sam(comment)@example.org", Problem::LocalCharacter),
        ("a@b@example.org", Problem::LocalCharacter),
        ("sämi@example.org", Problem::LocalCharacter),
        (".sam@example.org", Problem::LocalDots),
        ("sa..m@example.org", Problem::LocalDots),
        ("sam@localhost", Problem::Domain),
        ("sam@example..org", Problem::Domain),
        ("sam@-example.org", Problem::Domain),
        ("sam@example.org.", Problem::Domain),
        ("sam@1.2.3.4", Problem::Domain),
        ("sam@exa_mple.org", Problem::Domain),
    ];

    #[test]
    fn bare_addresses_pass_and_the_mailer_parses_each_the_same() {
        for good in GOOD {
            let checked = check(good).unwrap_or_else(|p| panic!("{good}: {p}"));
            let parsed = lettre::Address::from_str(checked)
                .unwrap_or_else(|e| panic!("lettre refuses {good}: {e}"));
            assert_eq!(parsed.to_string(), *good, "lettre reads {good} as it is");
        }
        assert_eq!(check("  sam@example.org \n"), Ok("sam@example.org"));
    }

    #[test]
    fn every_other_form_is_refused_with_its_reason() {
        for (bad, problem) in BAD {
            assert_eq!(check(bad), Err(*problem), "{bad}");
        }
        let long_local = format!("{}@example.org", "a".repeat(65));
        assert_eq!(check(&long_local), Err(Problem::LocalTooLong));
        let long = format!("a@{}.org", vec!["b".repeat(60); 5].join("."));
        assert_eq!(check(&long), Err(Problem::TooLong));
    }

    /// The forms refused here that a mail parser takes: the rule is stricter than the
    /// mailer, never looser, so a stored address never fails later for its form.
    #[test]
    fn the_mailer_would_take_what_the_rule_refuses() {
        for hostile in ["Free money <victim@x.example>", "\"a,b\"@x.example"] {
            assert!(
                lettre::message::Mailbox::from_str(hostile).is_ok()
                    || lettre::Address::from_str(hostile).is_ok(),
                "{hostile} parses in lettre"
            );
            assert!(check(hostile).is_err(), "{hostile} is refused here");
        }
    }

    #[test]
    fn the_messages_read_as_written() {
        let all: Vec<String> = BAD
            .iter()
            .map(|(a, p)| format!("{a:?}: {}", p.message()))
            .collect();
        insta::assert_snapshot!(all.join("\n"));
    }

    #[test]
    fn the_key_ignores_case_and_spaces() {
        assert_eq!(key(" Sam@Example.ORG"), "sam@example.org");
    }
}
