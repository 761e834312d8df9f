//! The build as a whole: config → content → register → theme → rendered files → output folder.
//!
//! `check` runs every stage but the last, so it finds the same problems as `build` and writes
//! nothing. Both collect every diagnostic before deciding whether to stop.

pub mod fingerprint;
pub mod output;
mod walk;

use std::path::{Path, PathBuf};
use std::time::Instant;

use jiff::civil::Date;

use crate::config::Config;
use crate::diag::Diagnostics;
use crate::images;
use crate::register::Register;
use crate::render::{self, Collect, OutputFile, RenderError, Sink, theme};
use crate::sink::WriteError;
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
    /// Parsed content kept between builds (`serve`).
    pub content_cache: Option<std::sync::Arc<crate::content::Cache>>,
    /// Bios checked in an earlier build (`serve`).
    pub register_cache: Option<std::sync::Arc<crate::register::Cache>>,
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
    /// How many files the site has.
    pub files: usize,
    pub output_dir: PathBuf,
    pub written: Option<WriteReport>,
    /// Headshots processed this run, and found in the cache.
    pub headshots_processed: usize,
    pub headshots_cached: usize,
    pub elapsed: std::time::Duration,
    /// Nothing had changed since the last clean build: nothing was read, rendered or written.
    pub up_to_date: bool,
}

/// Everything up to rendering, shared by `check`, `build` and `serve`.
pub struct Prepared {
    pub config: Config,
    pub register: Register,
    pub theme: theme::Theme,
    pub diagnostics: Diagnostics,
    pub today: Date,
    pub headshots: crate::images::Processed,
}

/// Load and validate config, content and theme; every problem is collected.
pub fn prepare(opts: &BuildOptions) -> Result<Prepared, SiteError> {
    prepare_with(opts, None)
}

/// [`prepare`], reusing front matter an earlier build parsed.
fn prepare_with(
    opts: &BuildOptions,
    front: Option<&crate::content::FrontMemo>,
) -> Result<Prepared, SiteError> {
    let root = &opts.root;
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SiteError::Read { path, source }
    };
    let mut diags = Diagnostics::new();
    let config_path = root.join(crate::config::FILE_NAME);
    let mut config = match Config::load(root).map_err(read_err(&config_path))? {
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
    let content_dir = root.join(crate::content::CONTENT_DIR);
    let t = Instant::now();
    let tree = crate::content::load_cached(root, &mut diags, opts.content_cache.as_deref(), front)
        .map_err(read_err(&content_dir))?;
    crate::log::phase("content", t);
    let t = Instant::now();
    let register =
        crate::register::build_cached(&config, tree, &mut diags, opts.register_cache.as_deref());
    crate::log::phase("register", t);
    let theme =
        theme::load(root, &config.theme, &mut diags).map_err(read_err(&root.join("themes")))?;
    match theme {
        Some(theme) if !diags.has_errors() => {
            let today = opts.today.unwrap_or_else(|| today(&config));
            Ok(Prepared {
                config,
                register,
                theme,
                diagnostics: diags,
                today,
                headshots: crate::images::Processed::default(),
            })
        }
        theme => {
            // Every problem in one run: the photos are checked too, those of bios with errors
            // included, so a broken photo is not found only after the bios are fixed.
            let aspect = theme.map_or(DEFAULT_ASPECT, |t| t.headshot_aspect);
            let settings = headshot_settings(&config, aspect);
            images::process(root, &register, &settings, images::Mode::Check, &mut diags);
            Err(SiteError::Content(diags))
        }
    }
}

/// The crop used when the theme cannot be read (only for checking photos).
const DEFAULT_ASPECT: (u32, u32) = (1, 1);

fn headshot_settings(config: &Config, aspect: (u32, u32)) -> images::Settings {
    images::Settings {
        sizes: config.images.sizes.clone(),
        formats: config.images.formats.clone(),
        quality: config.images.quality,
        aspect,
    }
}

/// Process (or, for `check`, verify) the headshots; problems become warnings.
pub fn process_headshots(opts: &BuildOptions, prepared: &mut Prepared, mode: images::Mode) {
    let settings = headshot_settings(&prepared.config, prepared.theme.headshot_aspect);
    prepared.headshots = images::process(
        &opts.root,
        &prepared.register,
        &settings,
        mode,
        &mut prepared.diagnostics,
    );
}

/// Render `prepared` into `sink`, folding template problems into the diagnostics.
pub fn render_into(prepared: &mut Prepared, sink: &dyn Sink) -> Result<usize, SiteError> {
    render_with(prepared, sink, None).map(|r| r.files)
}

/// [`render_into`] with a memo of the last build's pages (`serve`): unchanged pages are
/// reused rather than rendered.
pub fn render_with(
    prepared: &mut Prepared,
    sink: &dyn Sink,
    memo: Option<&render::Memo>,
) -> Result<render::Rendered, SiteError> {
    let bios = render::take_bios(&mut prepared.register);
    let p = &*prepared;
    match render::site(
        &p.config,
        &p.register,
        bios,
        &p.theme,
        p.today,
        &p.headshots,
        sink,
        memo,
    ) {
        Ok(rendered) => Ok(rendered),
        Err(RenderError::Templates(problems)) => {
            let mut diags = std::mem::take(&mut prepared.diagnostics);
            diags.extend(problems);
            Err(SiteError::Content(diags))
        }
        Err(RenderError::Sink(e)) => Err(SiteError::Output(match e.downcast::<WriteError>() {
            Ok(w) => OutputError::from(*w),
            Err(e) => OutputError::Io {
                path: p.config.output_dir.clone(),
                source: std::io::Error::other(e),
            },
        })),
    }
}

/// Render in memory and keep every file: for tests and tools that want the bytes.
pub fn render_to_memory(opts: &BuildOptions) -> Result<Vec<OutputFile>, SiteError> {
    let mut prepared = prepare(opts)?;
    process_headshots(opts, &mut prepared, images::Mode::Build);
    let sink = Collect::default();
    render_into(&mut prepared, &sink)?;
    Ok(sink.into_files())
}

/// Validate and render, discarding the pages; write nothing.
pub fn check(opts: &BuildOptions) -> Result<Outcome, SiteError> {
    let start = Instant::now();
    let mut prepared = prepare(opts)?;
    process_headshots(opts, &mut prepared, images::Mode::Check);
    let files = render_into(&mut prepared, &Discard)?;
    Ok(outcome(opts, prepared, files, None, start))
}

/// Check, render and write the site; when nothing it reads has changed since the last clean
/// build and its output is as that build left it, do nothing ([`fingerprint`]).
pub fn build(opts: &BuildOptions) -> Result<Outcome, SiteError> {
    let start = Instant::now();
    // What this build reads, stamped before any of it is read.
    let inputs = inputs_of(opts);
    crate::log::phase("inputs", start);
    if let Some(i) = &inputs
        && let Some(outcome) = unchanged(opts, &i.hash, &i.out, &i.shown, start)
    {
        return Ok(outcome);
    }
    fingerprint::forget(&opts.root);
    // A build in a process of its own reuses the front matter the last one parsed (`serve`
    // keeps whole documents in memory instead).
    let front_file = opts.root.join(crate::content::FRONT_MEMO_FILE);
    let front = (opts.content_cache.is_none() && inputs.is_some())
        .then(|| crate::content::FrontMemo::load(&front_file));
    let mut prepared = prepare_with(opts, front.as_ref())?;
    // Where to write is settled before anything is written, the headshot cache included.
    let target = match &opts.output {
        Some(p) => output::Target::new(p),
        None => output::Target {
            path: opts.root.join(&prepared.config.output_dir),
            given: format!(
                "output_dir = \"{}\" (site.toml)",
                prepared.config.output_dir.display()
            ),
        },
    };
    let t = Instant::now();
    let writer = output::DiskWriter::open(&opts.root, &target)?;
    crate::log::phase("output.open", t);
    let t = Instant::now();
    if let Some(front) = front {
        // Best effort: a memo that cannot be written only costs the next build its reuse.
        // Dropped once saved, before the render's peak.
        let _ = front.save(&front_file);
    }
    crate::log::phase("front.save", t);
    let t = Instant::now();
    process_headshots(opts, &mut prepared, images::Mode::Build);
    crate::log::phase("headshots", t);
    // Pages the last build left in the output folder, by what they were made from.
    let t = Instant::now();
    let memo_file = opts.root.join(MEMO_FILE);
    let memo = inputs
        .as_ref()
        .map(|i| render::Memo::load(&memo_file, i.salt.clone()));
    crate::log::phase("memo.load", t);
    let t = Instant::now();
    let rendered = render_with(&mut prepared, &writer, memo.as_ref())?;
    crate::log::phase("render", t);
    crate::log::detail(
        "rendered",
        &[
            ("made", &rendered.rendered.to_string()),
            ("reused", &rendered.reused.to_string()),
        ],
    );
    let files = rendered.files;
    let t = Instant::now();
    let out = writer.dir().to_path_buf();
    let (report, stamps) = writer.finish_stamped()?;
    crate::log::phase("finish", t);
    let t = Instant::now();
    let outcome = outcome(opts, prepared, files, Some(report), start);
    crate::log::phase("outcome", t);
    let t = Instant::now();
    if let Some(memo) = &memo {
        memo.settle(&stamps);
        // A memo that cannot be saved only costs the next build its reuse.
        let _ = memo.save(&memo_file);
    }
    crate::log::phase("memo.save", t);
    let t = Instant::now();
    if let Some(i) = inputs
        && !outcome.diagnostics.has_errors()
    {
        let record = fingerprint::Record {
            inputs: i.hash,
            outputs: fingerprint::outputs_of(&out, &stamps),
            mentors: outcome.mentors,
            handbook_sections: outcome.handbook_sections,
            pages: outcome.pages,
            files: outcome.files,
            warnings: outcome
                .diagnostics
                .clone()
                .into_iter()
                .map(|d| (&d).into())
                .collect(),
        };
        // A record that cannot be written only costs the next build its shortcut.
        let _ = fingerprint::save(&opts.root, &record);
    }
    crate::log::phase("fingerprint.save", t);
    crate::log::phase("build", start);
    Ok(outcome)
}

/// What a build with `opts` reads, hashed, and the output folder it writes.
struct Inputs {
    /// Everything ([`fingerprint::inputs`]).
    hash: String,
    /// Everything but the content ([`fingerprint::salt`]).
    salt: String,
    /// The output folder, resolved.
    out: PathBuf,
    /// The output folder as given.
    shown: PathBuf,
}

/// Where `build` keeps its memo of pages, under the root.
pub const MEMO_FILE: &str = ".cache/render.bin";

/// What a build with `opts` reads; `None` when the config cannot be read (the build will say
/// why).
fn inputs_of(opts: &BuildOptions) -> Option<Inputs> {
    let config_text = std::fs::read(opts.root.join(crate::config::FILE_NAME)).ok()?;
    let config = Config::load(&opts.root).ok()?.ok()?;
    let shown = output_dir(opts, &config);
    let out = output::resolve(&shown).ok()?;
    let settings = fingerprint::Settings {
        config_text: &config_text,
        base_url: opts.base_url.as_deref(),
        output_dir: &out,
        today: opts.today.unwrap_or_else(|| today(&config)),
    };
    Some(Inputs {
        hash: fingerprint::inputs(&opts.root, &settings).ok()?,
        salt: fingerprint::salt(&opts.root, &settings).ok()?,
        out,
        shown,
    })
}

/// The last clean build's outcome, when it read the same inputs and its output is untouched.
fn unchanged(
    opts: &BuildOptions,
    inputs: &str,
    out: &Path,
    shown: &Path,
    start: Instant,
) -> Option<Outcome> {
    let record = fingerprint::load(&opts.root)?;
    if record.inputs != inputs {
        return None;
    }
    let (outputs, files_there) = fingerprint::outputs(out).ok()?;
    if outputs != record.outputs {
        return None;
    }
    let mut warnings = Diagnostics::new();
    warnings.extend(record.warnings.into_iter().map(Into::into));
    Some(Outcome {
        diagnostics: warnings,
        mentors: record.mentors,
        handbook_sections: record.handbook_sections,
        pages: record.pages,
        files: record.files,
        output_dir: shown.to_path_buf(),
        up_to_date: true,
        written: Some(WriteReport {
            written: 0,
            unchanged: files_there,
            removed: 0,
        }),
        headshots_processed: 0,
        headshots_cached: 0,
        elapsed: start.elapsed(),
    })
}

/// A sink that drops every file (`check`).
struct Discard;

impl Sink for Discard {
    fn put(&self, _: OutputFile) -> Result<(), render::SinkError> {
        Ok(())
    }

    fn copy(&self, _: PathBuf, _: &Path) -> Result<(), render::SinkError> {
        Ok(())
    }
}

fn outcome(
    opts: &BuildOptions,
    p: Prepared,
    files: usize,
    written: Option<WriteReport>,
    start: Instant,
) -> Outcome {
    Outcome {
        mentors: p.register.mentors.len(),
        handbook_sections: p.register.handbook.len(),
        pages: p.register.pages.len(),
        output_dir: output_dir(opts, &p.config),
        headshots_processed: p.headshots.processed,
        headshots_cached: p.headshots.cached,
        diagnostics: p.diagnostics,
        files,
        written,
        elapsed: start.elapsed(),
        up_to_date: false,
    }
}

/// "26 mentors, 11 handbook sections and 2 pages".
pub fn counts(register: &Register) -> String {
    count_words(
        register.mentors.len(),
        register.handbook.len(),
        register.pages.len(),
    )
}

impl Outcome {
    /// "26 mentors, 11 handbook sections and 2 pages".
    pub fn counts(&self) -> String {
        count_words(self.mentors, self.handbook_sections, self.pages)
    }
}

fn count_words(mentors: usize, handbook_sections: usize, pages: usize) -> String {
    let n = |count: usize, one: &str, many: &str| {
        format!("{count} {}", crate::diag::plural(count, one, many))
    };
    format!(
        "{}, {} and {}",
        n(mentors, "mentor", "mentors"),
        n(handbook_sections, "handbook section", "handbook sections"),
        n(pages, "page", "pages"),
    )
}

pub fn output_dir(opts: &BuildOptions, config: &Config) -> PathBuf {
    match &opts.output {
        Some(p) => p.clone(),
        None => opts.root.join(&config.output_dir),
    }
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
