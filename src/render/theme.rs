//! A theme: `themes/<name>/templates/**` (tera) and `themes/<name>/static/**` (copied as is).

use std::path::{Path, PathBuf};

use jiff::civil::Date;
use tera::{Kwargs, State, Tera};
use walkdir::WalkDir;

use crate::content::is_ignored_name;
use crate::diag::{Diagnostic, Diagnostics, Pos};

/// Templates every theme must provide.
pub const REQUIRED_TEMPLATES: &[&str] = &[
    "index.html",
    "mentor.html",
    "filter.html",
    "partials/card.html",
    "handbook.html",
    "handbook_section.html",
    "handbook_print.html",
    "page.html",
    "sent.html",
    "404.html",
];

pub struct Theme {
    pub tera: Tera,
    /// Width:height headshots are cropped to (`theme.toml`, default 1:1).
    pub headshot_aspect: (u32, u32),
    /// Static files: path under `static/`, bytes.
    pub assets: Vec<(PathBuf, Vec<u8>)>,
    pub dir: PathBuf,
}

/// `themes/<name>` relative to the root.
pub fn dir(name: &str) -> PathBuf {
    Path::new("themes").join(name)
}

pub fn load(root: &Path, name: &str, diags: &mut Diagnostics) -> std::io::Result<Option<Theme>> {
    let rel_dir = dir(name);
    let templates_dir = root.join(&rel_dir).join("templates");
    if !templates_dir.is_dir() {
        diags.push(
            Diagnostic::error(
                crate::config::FILE_NAME,
                Pos::START,
                format!(
                    "theme `{name}` not found: there is no folder {}",
                    rel_dir.join("templates").display()
                ),
            )
            .with_hint("set `theme` in site.toml to the name of a folder in themes/"),
        );
        return Ok(None);
    }
    let mut sources = Vec::new();
    for (rel, bytes) in read_tree(&templates_dir)? {
        let name = crate::diag::display_path(&rel);
        match String::from_utf8(bytes) {
            Ok(text) => sources.push((name, text)),
            Err(_) => diags.push(Diagnostic::error(
                rel_dir.join("templates").join(&rel),
                Pos::START,
                "the template is not UTF-8 text",
            )),
        }
    }
    let mut tera = Tera::new();
    tera.autoescape_on([".html", ".xml"]);
    register_filters(&mut tera);
    let mut ok = true;
    // All at once: templates refer to each other (extends, include).
    if let Err(e) = tera.add_raw_templates(sources.iter().map(|(n, t)| (n.as_str(), t.as_str()))) {
        diags.push(template_error(&rel_dir, "", &e));
        ok = false;
    }
    for required in REQUIRED_TEMPLATES {
        if !sources.iter().any(|(n, _)| n == required) {
            diags.push(
                Diagnostic::error(
                    rel_dir.join("templates").join(required),
                    Pos::START,
                    format!("the theme has no template `{required}`"),
                )
                .with_hint("copy it from themes/default/templates/"),
            );
            ok = false;
        }
    }
    let static_dir = root.join(&rel_dir).join("static");
    let assets = if static_dir.is_dir() {
        read_tree(&static_dir)?
    } else {
        Vec::new()
    };
    let headshot_aspect = settings(root, &rel_dir, diags)?;
    Ok(ok.then_some(Theme {
        tera,
        headshot_aspect,
        assets,
        dir: rel_dir,
    }))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ThemeToml {
    #[serde(default)]
    headshots: HeadshotSettings,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadshotSettings {
    #[serde(default = "square")]
    aspect_ratio: toml::Spanned<String>,
}

impl Default for HeadshotSettings {
    fn default() -> Self {
        Self {
            aspect_ratio: square(),
        }
    }
}

fn square() -> toml::Spanned<String> {
    toml::Spanned::new(0..0, "1:1".into())
}

/// The theme's own settings, `themes/<name>/theme.toml` (optional).
fn settings(root: &Path, theme_dir: &Path, diags: &mut Diagnostics) -> std::io::Result<(u32, u32)> {
    let rel = theme_dir.join("theme.toml");
    let src = match std::fs::read_to_string(root.join(&rel)) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((1, 1)),
        Err(e) => return Err(e),
    };
    let parsed: ThemeToml = match toml::from_str(&src) {
        Ok(t) => t,
        Err(e) => {
            let pos = e
                .span()
                .map_or(Pos::START, |s| Pos::of_offset(&src, s.start));
            diags.push(
                Diagnostic::error(&rel, pos, e.message().trim().to_string()).with_hint(
                    "theme.toml may hold [headshots] aspect_ratio = \"1:1\" (width:height)",
                ),
            );
            return Ok((1, 1));
        }
    };
    let ratio = parsed.headshots.aspect_ratio;
    let parse = |s: &str| -> Option<(u32, u32)> {
        let (w, h) = s.split_once(':')?;
        let (w, h) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
        (w > 0 && h > 0 && w <= 10 && h <= 10).then_some((w, h))
    };
    match parse(ratio.get_ref()) {
        Some(r) => Ok(r),
        None => {
            diags.push(
                Diagnostic::error(
                    &rel,
                    Pos::of_offset(&src, ratio.span().start),
                    format!("`{}` is not an aspect ratio", ratio.get_ref()),
                )
                .with_hint("write width:height with small whole numbers, e.g. \"1:1\" or \"4:5\""),
            );
            Ok((1, 1))
        }
    }
}

/// A template problem, located in the template file (tera reports ` --> name:line:col`).
pub fn template_error(theme_dir: &Path, template: &str, e: &tera::Error) -> Diagnostic {
    let mut text = e.to_string();
    let mut source: &dyn std::error::Error = e;
    while let Some(inner) = source.source() {
        text = format!("{text}\n{inner}");
        source = inner;
    }
    let mut name = template.to_string();
    let mut pos = Pos::START;
    if let Some(loc) = text.lines().find_map(|l| l.trim().strip_prefix("--> ")) {
        let mut parts = loc.rsplitn(3, ':');
        let col = parts.next().and_then(|c| c.parse().ok());
        let line = parts.next().and_then(|l| l.parse().ok());
        if let (Some(line), Some(col), Some(file)) = (line, col, parts.next()) {
            name = file.to_string();
            pos = Pos::new(line, col);
        }
    }
    let message = text
        .lines()
        .map(|l| l.trim().trim_start_matches("error: "))
        .find(|l| !l.is_empty())
        .unwrap_or("unknown problem")
        .to_string();
    Diagnostic::error(
        theme_dir.join("templates").join(name),
        pos,
        format!("template error: {message}"),
    )
    .with_hint(format!("the template says:\n{}", text.trim()))
}

fn read_tree(dir: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    for entry in WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_ignored_name(&e.file_name().to_string_lossy()))
    {
        let entry = entry.map_err(std::io::Error::other)?;
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap_or(entry.path())
                .to_path_buf();
            out.push((rel, std::fs::read(entry.path())?));
        }
    }
    Ok(out)
}

pub fn register_filters(tera: &mut Tera) {
    // `{{ "2027-01-12" | long_date }}` → "12 January 2027".
    tera.register_filter("long_date", |value: &str, _: Kwargs, _: &State| match value
        .parse::<Date>()
    {
        Ok(d) => d.strftime("%-d %B %Y").to_string(),
        Err(_) => value.to_string(),
    });
}
