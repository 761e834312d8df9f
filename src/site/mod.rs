//! The build as a whole: config → content → register → theme → rendered files → output folder.
//!
//! `check` runs every stage but the last, so it finds the same problems as `build` and writes
//! nothing. Both collect every diagnostic before deciding whether to stop.

pub mod output;

use std::path::{Path, PathBuf};
use std::time::Instant;

use jiff::civil::Date;

use crate::config::Config;
use crate::diag::Diagnostics;
use crate::register::Register;
use crate::render::{self, OutputFile, theme};
pub use output::{OutputError, WriteReport};

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub root: PathBuf,
    /// Overrides `output_dir` (relative paths are taken from the current directory).
    pub output: Option<PathBuf>,
    pub base_url: Option<String>,
    /// The date availability is judged on; by default today in the scheme's time zone, or the
    /// day of `SOURCE_DATE_EPOCH` when set (for reproducible builds).
    pub today: Option<Date>,
}

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// Problems in the content, config or theme: exit code 1.
    #[error("{}", .0.summary())]
    Content(Diagnostics),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// What a successful check or build found, for the summary line.
#[derive(Debug)]
pub struct Outcome {
    pub diagnostics: Diagnostics,
    pub mentors: usize,
    pub handbook_sections: usize,
    pub pages: usize,
    pub files: Vec<OutputFile>,
    pub output_dir: PathBuf,
    pub written: Option<WriteReport>,
    pub elapsed: std::time::Duration,
}

/// Everything up to rendering, shared by `check` and `build`.
pub fn render(
    opts: &BuildOptions,
) -> Result<(Config, Register, Vec<OutputFile>, Diagnostics), SiteError> {
    let root = &opts.root;
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SiteError::Read { path, source }
    };
    let mut diags = Diagnostics::new();
    let mut config =
        match Config::load(root).map_err(read_err(&root.join(crate::config::FILE_NAME)))? {
            Ok(c) => c,
            Err(d) => return Err(SiteError::Content(d)),
        };
    if let Some(url) = &opts.base_url {
        if !crate::config::is_http_url(url) {
            diags.push(
                crate::diag::Diagnostic::error(
                    "--base-url",
                    crate::diag::Pos::START,
                    format!("`{url}` is not an http(s) address"),
                )
                .with_hint("e.g. --base-url https://mentors.example.org"),
            );
            return Err(SiteError::Content(diags));
        }
        config.base_url = url.trim_end_matches('/').to_string();
    }
    let tree = crate::content::load(root, &mut diags)
        .map_err(read_err(&root.join(crate::content::CONTENT_DIR)))?;
    let register = crate::register::build(&config, tree, &mut diags);
    let theme =
        theme::load(root, &config.theme, &mut diags).map_err(read_err(&root.join("themes")))?;
    if diags.has_errors() {
        return Err(SiteError::Content(diags));
    }
    let Some(theme) = theme else {
        return Err(SiteError::Content(diags));
    };
    let today = opts.today.unwrap_or_else(|| today(&config));
    match render::site(&config, &register, &theme, today) {
        Ok(files) => Ok((config, register, files, diags)),
        Err(errors) => {
            diags.extend(errors);
            Err(SiteError::Content(diags))
        }
    }
}

/// Validate and render in memory; write nothing.
pub fn check(opts: &BuildOptions) -> Result<Outcome, SiteError> {
    let start = Instant::now();
    let (config, register, files, diagnostics) = render(opts)?;
    Ok(outcome(
        opts,
        &config,
        &register,
        files,
        diagnostics,
        None,
        start,
    ))
}

/// Check, render and write the site.
pub fn build(opts: &BuildOptions) -> Result<Outcome, SiteError> {
    let start = Instant::now();
    let (config, register, files, diagnostics) = render(opts)?;
    let out_dir = output_dir(opts, &config);
    guard_output_dir(&opts.root, &out_dir)?;
    let report = output::write(&out_dir, &files)?;
    Ok(outcome(
        opts,
        &config,
        &register,
        files,
        diagnostics,
        Some(report),
        start,
    ))
}

fn outcome(
    opts: &BuildOptions,
    config: &Config,
    register: &Register,
    files: Vec<OutputFile>,
    diagnostics: Diagnostics,
    written: Option<WriteReport>,
    start: Instant,
) -> Outcome {
    Outcome {
        diagnostics,
        mentors: register.mentors.len(),
        handbook_sections: register.handbook.len(),
        pages: register.pages.len(),
        files,
        output_dir: output_dir(opts, config),
        written,
        elapsed: start.elapsed(),
    }
}

pub fn output_dir(opts: &BuildOptions, config: &Config) -> PathBuf {
    match &opts.output {
        Some(p) => p.clone(),
        None => opts.root.join(&config.output_dir),
    }
}

/// The output folder may not be the root itself, hold it, or be one of its source folders.
fn guard_output_dir(root: &Path, out: &Path) -> Result<(), OutputError> {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (root, out) = (abs(root), abs(out));
    let sources = ["content", "themes"].map(|d| root.join(d));
    if root.starts_with(&out) || sources.iter().any(|s| out.starts_with(s)) {
        return Err(OutputError::NotOurs(out));
    }
    Ok(())
}

/// Today in the scheme's time zone (or the day of `SOURCE_DATE_EPOCH`).
pub fn today(config: &Config) -> Date {
    let tz = config.scheme.time_zone.clone();
    let from_env = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|secs| jiff::Timestamp::from_second(secs).ok());
    from_env
        .unwrap_or_else(jiff::Timestamp::now)
        .to_zoned(tz)
        .date()
}
