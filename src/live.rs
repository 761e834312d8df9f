//! `serve`'s live site: the last good build held in memory, rebuilt when a source file
//! changes, and every open tab told to reload (server-sent events). A build that fails
//! leaves the last good site in place and shows its problems over every page, with the same
//! `path:line:col` messages as `check`, until a save fixes them.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tokio::sync::broadcast;

use crate::render::{Memo, OutputFile, Sink, SinkError};
use crate::site::{self, BuildOptions, SiteError};

/// Where the browser listens for changes, and the script that listens.
pub const EVENTS_PATH: &str = "/__mentorsite/events";
pub const SCRIPT_PATH: &str = "/__mentorsite/live.js";

/// How long the watcher waits for a burst of file events (an editor's write-then-rename, a
/// `git checkout`) to end before rebuilding once.
pub const QUIET: Duration = Duration::from_millis(20);

/// One file of the site as served: bytes, or a processed headshot in the image cache.
#[derive(Clone)]
pub enum Body {
    Bytes(Arc<[u8]>),
    File(PathBuf),
}

impl PartialEq for Body {
    fn eq(&self, other: &Body) -> bool {
        match (self, other) {
            (Body::Bytes(a), Body::Bytes(b)) => Arc::ptr_eq(a, b) || a == b,
            (Body::File(a), Body::File(b)) => a == b,
            _ => false,
        }
    }
}

/// The site's files by path relative to the output root, with `/` separators.
pub type Files = HashMap<String, Body>;

/// A [`Sink`] that keeps the site in memory.
#[derive(Default)]
pub struct MemorySink(Mutex<Files>);

impl MemorySink {
    pub fn into_files(self) -> Files {
        self.0.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, path: &Path, body: Body) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(crate::diag::display_path(path), body);
    }
}

impl Sink for MemorySink {
    fn put(&self, file: OutputFile) -> Result<(), SinkError> {
        self.insert(&file.path, Body::Bytes(Arc::from(file.bytes)));
        Ok(())
    }

    fn put_shared(&self, path: PathBuf, bytes: Arc<[u8]>) -> Result<(), SinkError> {
        self.insert(&path, Body::Bytes(bytes));
        Ok(())
    }

    fn copy(&self, path: PathBuf, from: &Path) -> Result<(), SinkError> {
        self.insert(&path, Body::File(from.to_path_buf()));
        Ok(())
    }
}

/// The site being served and the problems of the last build, if it failed.
pub struct Live {
    files: RwLock<Arc<Files>>,
    problems: RwLock<Option<String>>,
    changes: broadcast::Sender<u64>,
    generation: Mutex<u64>,
    closing: tokio::sync::watch::Sender<bool>,
    /// The path the site lives under (`/`, or `/mentoring/` for a base URL with a path).
    pub base_path: String,
}

impl Live {
    pub fn new(files: Files, base_path: String) -> Arc<Live> {
        let (changes, _) = broadcast::channel(16);
        Arc::new(Live {
            files: RwLock::new(Arc::new(files)),
            problems: RwLock::new(None),
            changes,
            generation: Mutex::new(0),
            closing: tokio::sync::watch::channel(false).0,
            base_path,
        })
    }

    fn files(&self) -> Arc<Files> {
        self.files.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn problems(&self) -> Option<String> {
        self.problems
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Serve `files` from now on and clear any problems; tabs reload if anything changed.
    /// Returns whether it did.
    pub fn publish(&self, files: Files) -> bool {
        let had_problems = self
            .problems
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_some();
        let changed = *self.files() != files;
        if changed {
            *self.files.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(files);
        }
        if changed || had_problems {
            self.notify();
        }
        changed || had_problems
    }

    /// Keep the last good site and show `problems` over it.
    pub fn fail(&self, problems: String) {
        *self.problems.write().unwrap_or_else(|e| e.into_inner()) = Some(problems);
        self.notify();
    }

    /// End every open event stream: the server is stopping.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    fn notify(&self) {
        let mut g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        *g += 1;
        // Nobody listening is fine.
        let _ = self.changes.send(*g);
    }
}

/// The site from memory, the reload events and the script, for `serve`.
pub fn router(live: Arc<Live>) -> Router {
    Router::new()
        .route(EVENTS_PATH, get(events))
        .route(SCRIPT_PATH, get(script))
        .fallback(get(file))
        .with_state(live)
}

async fn events(
    State(live): State<Arc<Live>>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = live.changes.subscribe();
    let closing = live.closing.subscribe();
    let stream = futures_util::stream::unfold((rx, closing), |(mut rx, mut closing)| async move {
        loop {
            if *closing.borrow() {
                return None;
            }
            tokio::select! {
                got = rx.recv() => match got {
                    Ok(n) => {
                        let event = Event::default().event("reload").data(n.to_string());
                        return Some((Ok(event), (rx, closing)));
                    }
                    // Missed some: one reload covers them all.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = closing.changed() => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

const SCRIPT: &str = r#"// mentorsite serve: reload this tab when the site is rebuilt.
(() => {
  const source = new EventSource("/__mentorsite/events");
  source.addEventListener("reload", () => window.location.reload());
})();
"#;

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        SCRIPT,
    )
        .into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("webp") => "image/webp",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("xml") => "application/xml",
        Some("txt") => "text/plain; charset=utf-8",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

async fn file(State(live): State<Arc<Live>>, uri: Uri) -> Response {
    let path = uri.path();
    let Some(rel) = path.strip_prefix(live.base_path.as_str()) else {
        if path == "/" {
            return Redirect::temporary(&live.base_path).into_response();
        }
        return not_found(&live);
    };
    let files = live.files();
    let rel = if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_string()
    };
    match files.get(&rel) {
        Some(body) => send(&live, &rel, body, StatusCode::OK).await,
        None if !rel.contains('.') && files.contains_key(&format!("{rel}/index.html")) => {
            Redirect::permanent(&format!("{path}/")).into_response()
        }
        None => not_found(&live),
    }
}

fn not_found(live: &Live) -> Response {
    let files = live.files();
    match files.get("404.html") {
        Some(Body::Bytes(b)) => html(live, b, StatusCode::NOT_FOUND),
        _ => (StatusCode::NOT_FOUND, "Not found").into_response(),
    }
}

async fn send(live: &Live, rel: &str, body: &Body, status: StatusCode) -> Response {
    let bytes: Arc<[u8]> = match body {
        Body::Bytes(b) => b.clone(),
        Body::File(from) => match tokio::fs::read(from).await {
            Ok(b) => Arc::from(b),
            Err(_) => return not_found(live),
        },
    };
    if rel.ends_with(".html") {
        return html(live, &bytes, status);
    }
    let mut response = (status, bytes.to_vec()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(rel)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An HTML page with the reload script, and the problems panel while a build is failing.
fn html(live: &Live, bytes: &[u8], status: StatusCode) -> Response {
    let page = String::from_utf8_lossy(bytes);
    let mut extra = format!("<script src=\"{SCRIPT_PATH}\"></script>");
    if let Some(problems) = live.problems() {
        extra.push_str(&overlay(&problems));
    }
    let page = match page.rfind("</body>") {
        Some(at) => format!("{}{extra}{}", &page[..at], &page[at..]),
        None => format!("{page}{extra}"),
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}

/// The panel shown over every page while the sources have errors. Its colours are fixed so
/// it reads the same over the light and the dark theme (contrast 15:1 and more).
pub fn overlay(problems: &str) -> String {
    let text = crate::render::escape(problems);
    format!(
        "<section id=\"mentorsite-problems\" role=\"alert\" aria-labelledby=\"mentorsite-problems-title\" \
         style=\"position:fixed;left:0;right:0;bottom:0;max-height:60vh;overflow:auto;z-index:2147483647;\
         background:#fff;color:#1a1a1a;border-top:6px solid #b3261e;padding:1rem 1.25rem;\
         font:16px/1.45 system-ui,sans-serif;box-shadow:0 -4px 16px rgba(0,0,0,.3)\">\
         <h2 id=\"mentorsite-problems-title\" style=\"margin:0 0 .5rem;font-size:1.15rem;color:#8c1d18\">\
         The site was not rebuilt: fix these problems and save</h2>\
         <p style=\"margin:0 0 .5rem\">You are seeing the last version that built. This page reloads by itself.</p>\
         <pre style=\"white-space:pre-wrap;margin:0;font:14px/1.45 ui-monospace,monospace;color:#1a1a1a\">{text}</pre>\
         </section>"
    )
}

/// What one rebuild did, for the terminal and the log.
pub struct Rebuilt {
    pub register: crate::register::Register,
    pub warnings: crate::diag::Diagnostics,
    pub rendered: usize,
    pub reused: usize,
    pub files: usize,
    pub changed: bool,
    pub elapsed: Duration,
}

/// Builds the site into memory, keeping what it can between builds.
pub struct Builder {
    opts: BuildOptions,
    memo: Memo,
}

impl Builder {
    pub fn new(mut opts: BuildOptions) -> Builder {
        opts.content_cache.get_or_insert_with(Default::default);
        opts.register_cache.get_or_insert_with(Default::default);
        // File events name absolute paths.
        if let Ok(root) = std::path::absolute(&opts.root) {
            opts.root = root;
        }
        Builder {
            opts,
            memo: Memo::default(),
        }
    }

    /// Build everything into memory: the first build, before [`Live::new`].
    pub fn build(&self) -> Result<(Files, Rebuilt), SiteError> {
        let start = Instant::now();
        let mut prepared = site::prepare(&self.opts)?;
        site::process_headshots(&self.opts, &mut prepared, crate::images::Mode::Build);
        let sink = MemorySink::default();
        let rendered = site::render_with(&mut prepared, &sink, Some(&self.memo))?;
        let files = sink.into_files();
        let rebuilt = Rebuilt {
            register: prepared.register,
            warnings: prepared.diagnostics,
            rendered: rendered.rendered,
            reused: rendered.reused,
            files: files.len(),
            changed: true,
            elapsed: start.elapsed(),
        };
        Ok((files, rebuilt))
    }

    /// Rebuild after `paths` changed and publish the result (or its problems) to `live`.
    /// A change to `site.toml` or the theme renders every page again.
    pub fn rebuild(&self, live: &Live, paths: &[PathBuf]) -> Result<Rebuilt, String> {
        let root = &self.opts.root;
        if paths.iter().any(|p| {
            p.starts_with(root.join("themes")) || p == &root.join(crate::config::FILE_NAME)
        }) {
            self.memo.clear();
            // How bios are checked depends on the config.
            if let Some(cache) = &self.opts.register_cache {
                cache.clear();
            }
        }
        match self.build() {
            Ok((files, mut rebuilt)) => {
                rebuilt.changed = live.publish(files);
                Ok(rebuilt)
            }
            Err(SiteError::Content(diags)) => {
                // The page's panel has the problems' lines; the terminal shows the source too.
                live.fail(diags.errors().render_text());
                Err(diags.errors().render_report(root))
            }
            Err(other) => {
                let text = format!("error: {other}\n");
                live.fail(text.clone());
                Err(text)
            }
        }
    }
}

/// Is a change to `path` one the site is made from? Editor leftovers (swap and backup files)
/// and everything outside `content/`, `themes/` and `site.toml` are not.
pub fn is_source(root: &Path, path: &Path) -> bool {
    if path == root.join(crate::config::FILE_NAME) {
        return true;
    }
    let Some(rel) = ["content", "themes"]
        .iter()
        .find_map(|dir| path.strip_prefix(root.join(dir)).ok())
    else {
        return false;
    };
    !rel.iter()
        .any(|part| crate::content::is_ignored_name(&part.to_string_lossy()))
}

/// Watch `content/`, `themes/` and `site.toml` under `root` until `stop`; after each burst of
/// changes, call `on_change` once with the paths that changed.
pub fn watch(
    root: &Path,
    stop: Arc<AtomicBool>,
    mut on_change: impl FnMut(Vec<PathBuf>),
) -> notify::Result<()> {
    use notify::{EventKind, RecursiveMode, Watcher, event::AccessKind, event::AccessMode};
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = tx.send(event);
    })?;
    // The root without recursion (for `site.toml`, which editors replace rather than rewrite),
    // and the two source folders with it.
    watcher.watch(&root, RecursiveMode::NonRecursive)?;
    for dir in ["content", "themes"] {
        let dir = root.join(dir);
        if dir.is_dir() {
            watcher.watch(&dir, RecursiveMode::Recursive)?;
        }
    }
    let relevant = |event: &notify::Event| match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    let mut pending: Vec<PathBuf> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let wait = if pending.is_empty() {
            Duration::from_millis(200)
        } else {
            QUIET
        };
        match rx.recv_timeout(wait) {
            Ok(Ok(event)) if relevant(&event) => {
                pending.extend(event.paths.into_iter().filter(|p| is_source(&root, p)));
            }
            Ok(_) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if !pending.is_empty() {
                    pending.sort();
                    pending.dedup();
                    on_change(std::mem::take(&mut pending));
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_content_themes_and_the_config_but_not_editor_leftovers() {
        let root = Path::new("/site");
        let yes = [
            "/site/site.toml",
            "/site/content/mentors/jo.md",
            "/site/content/mentors/jo/headshot.jpg",
            "/site/themes/default/templates/base.html",
        ];
        let no = [
            "/site/public/index.html",
            "/site/data/requests.sqlite",
            "/site/outbox/1.eml",
            "/site/.cache/headshots/x.webp",
            "/site/content/mentors/.jo.md.swp",
            "/site/content/mentors/jo.md~",
            "/site/site.toml~",
            "/elsewhere/content/x.md",
        ];
        for p in yes {
            assert!(is_source(root, Path::new(p)), "{p}");
        }
        for p in no {
            assert!(!is_source(root, Path::new(p)), "{p}");
        }
    }

    #[test]
    fn the_overlay_escapes_what_it_shows() {
        let html = overlay("content/mentors/x.md:2:7: error: `<script>` & more");
        assert!(html.contains("x.md:2:7: error: `&lt;script&gt;` &amp; more"));
        assert!(html.contains("role=\"alert\""));
    }

    #[test]
    fn publishing_the_same_files_again_sends_no_reload() {
        let live = Live::new(Files::new(), "/".into());
        let mut rx = live.changes.subscribe();
        let mut files = Files::new();
        files.insert("index.html".into(), Body::Bytes(Arc::from(&b"one"[..])));
        assert!(live.publish(files.clone()));
        assert_eq!(rx.try_recv().ok(), Some(1));
        assert!(!live.publish(files.clone()), "same bytes: no reload");
        assert!(rx.try_recv().is_err());
        live.fail("content/x.md:1:1: error: bad\n".into());
        assert_eq!(rx.try_recv().ok(), Some(2), "a failure reloads, to show it");
        assert!(live.publish(files), "fixed: reload to clear the panel");
        assert_eq!(rx.try_recv().ok(), Some(3));
        assert_eq!(live.problems(), None);
    }
}
