//! `mentorsite new mentor "Full Name"`: a bio with every field present and explained, so an
//! admin fills in blanks instead of learning YAML.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::{Config, FieldDef, FieldKind};
use crate::content::CONTENT_DIR;
use crate::slug::slugify;

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("the name is empty; write it in quotes, e.g. mentorsite new mentor \"Jane Doe\"")]
    EmptyName,
    #[error("{} already exists; edit it, or choose another name", crate::diag::display_path(.0))]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Write the bio; returns its path relative to the root.
pub fn new_mentor(root: &Path, config: &Config, name: &str) -> Result<PathBuf, ScaffoldError> {
    let name = name.trim();
    let slug = slugify(name);
    if name.is_empty() || slug.is_empty() {
        return Err(ScaffoldError::EmptyName);
    }
    let dir = Path::new(CONTENT_DIR).join("mentors");
    let rel = dir.join(format!("{slug}.md"));
    for existing in [rel.clone(), dir.join(&slug).join("index.md")] {
        if root.join(&existing).exists() {
            return Err(ScaffoldError::Exists(existing));
        }
    }
    let text = bio(config, name, &slug);
    let abs = root.join(&rel);
    let io = |source| ScaffoldError::Io {
        path: rel.clone(),
        source,
    };
    std::fs::create_dir_all(root.join(&dir)).map_err(io)?;
    // create_new: never overwrite, even if the file appeared since the check above.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&abs)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => ScaffoldError::Exists(rel.clone()),
            _ => io(e),
        })?;
    std::io::Write::write_all(&mut f, text.as_bytes()).map_err(io)?;
    Ok(rel)
}

/// The text of a new bio.
pub fn bio(config: &Config, name: &str, slug: &str) -> String {
    let mut s = String::new();
    let name_yaml = yaml_quote(name);
    let _ = write!(
        s,
        "---\n\
# A new mentor's bio. Lines starting with # are notes for you; they are never published.\n\
# Fill in the blanks, then run `mentorsite check` to see what is still missing.\n\
\n\
# Full name as it should appear on the register. Required.\n\
name: {name_yaml}\n\
# Pronouns, shown beside the name, e.g. she/her. Optional.\n\
pronouns:\n\
# The photo: save it beside this file as {slug}.jpg (JPEG, PNG or WebP) and it is found\n\
# without this line. Write `headshot: false` if the mentor prefers no photo.\n\
# headshot: {slug}.jpg\n\
# What the photo shows, for people using a screen reader. Optional.\n\
headshot_alt:\n\
# PRIVATE, never published: where requests for this mentor are sent. Required.\n\
email:\n\
# PRIVATE, never published: shared with a mentee only once the mentor accepts. Optional.\n\
phone:\n\
# Set to false to pause requests (the mentor stays on the register as not taking requests).\n\
accepting: true\n\
# Away until this date (YYYY-MM-DD), e.g. on leave; requests reopen the day after. Optional.\n\
away_until:\n\
# How many mentees the mentor can take at once. Optional.\n\
capacity:\n"
    );
    if !config.fields.is_empty() {
        s.push_str("\n# The scheme's own fields (declared in site.toml).\n");
    }
    for def in &config.fields {
        s.push_str(&field_comment(def));
        let _ = writeln!(s, "{}:{}", def.key, blank(def));
    }
    s.push_str("---\n\n");
    s.push_str(crate::register::PLACEHOLDER_BIO);
    s
}

fn field_comment(def: &FieldDef) -> String {
    let mut parts = vec![def.label.clone()];
    if let Some(help) = &def.help {
        parts.push(help.trim_end_matches('.').to_string());
    }
    parts.push(
        match def.kind {
            FieldKind::Text => "Text",
            FieldKind::List => "A list, written [first, second]",
            FieldKind::Bool => "true or false (left blank, it is not shown)",
            FieldKind::Date => "A date, YYYY-MM-DD",
        }
        .to_string(),
    );
    parts.push(if def.required { "Required" } else { "Optional" }.to_string());
    if def.private {
        parts.push("PRIVATE, never published".into());
    } else if def.filter {
        parts.push("Mentees can filter by it".into());
    }
    let mut line = format!("# {}.\n", parts.join(". "));
    if let Some(values) = &def.values {
        let mut row = String::from("#   one of:");
        for v in values {
            if row.len() + v.len() > 96 {
                line.push_str(&row);
                line.push('\n');
                row = String::from("#  ");
            }
            let _ = write!(row, " {v},");
        }
        line.push_str(row.trim_end_matches(','));
        line.push('\n');
    }
    line
}

/// What a scheme field starts as: blank, so nothing is published until the admin fills it in
/// (a yes/no field left blank is not shown at all, rather than shown as "No").
fn blank(def: &FieldDef) -> &'static str {
    match def.kind {
        FieldKind::List => " []",
        _ => "",
    }
}

fn yaml_quote(s: &str) -> String {
    let plain = s.chars().all(|c| c.is_alphanumeric() || " .-'".contains(c))
        && !s.starts_with(['-', '\'', ' ']);
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}
