//! One structured line per event on standard error: `ts=… event=… key=value …`. Only ids,
//! counts and paths go in: never names, addresses, message text or tokens (tests read the log
//! to check).
//!
//! `--quiet` keeps only problems (events named `…_error` or `…_failed`); `--verbose` adds the
//! detail lines (every file `serve` answers, each rebuild's numbers).

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Quiet = 0,
    Normal = 1,
    Verbose = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Normal as u8);

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Level::Quiet,
        1 => Level::Normal,
        _ => Level::Verbose,
    }
}

fn is_problem(kind: &str) -> bool {
    kind.ends_with("_error") || kind.ends_with("_failed")
}

/// Write `ts=<unix seconds> event=<kind> key=value …` (problems even when quiet).
pub fn event(kind: &str, fields: &[(&str, &str)]) {
    if level() >= Level::Normal || is_problem(kind) {
        write(kind, fields);
    }
}

/// An event for `--verbose` only.
pub fn detail(kind: &str, fields: &[(&str, &str)]) {
    if level() >= Level::Verbose {
        write(kind, fields);
    }
}

/// `phase name=… ms=…` with `--verbose`: how long a stage of a build took since `since`, for
/// benchmarks that want to know where the time goes.
pub fn phase(name: &str, since: std::time::Instant) {
    if level() >= Level::Verbose {
        let ms = format!("{:.1}", since.elapsed().as_secs_f64() * 1000.0);
        // The process's peak memory so far (Linux), to see which stage sets it.
        let peak = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .map(|v| v.trim().trim_end_matches(" kB").to_string())
            })
            .unwrap_or_default();
        write("phase", &[("name", name), ("ms", &ms), ("peak_kb", &peak)]);
    }
}

fn write(kind: &str, fields: &[(&str, &str)]) {
    let _ = std::io::stderr()
        .lock()
        .write_all(line(kind, fields).as_bytes());
}

fn line(kind: &str, fields: &[(&str, &str)]) -> String {
    let mut line = format!("ts={} event={kind}", jiff::Timestamp::now().as_second());
    for (k, v) in fields {
        line.push(' ');
        line.push_str(k);
        line.push('=');
        line.push_str(&v.replace(char::is_whitespace, "_"));
    }
    line.push('\n');
    line
}

/// The HTTP access log: one line per request answered, with the method, the path (never the
/// query, which carries tokens), the status and the time taken. The request service's routes
/// log at the normal level; `serve`'s static files only with `--verbose`.
pub async fn access(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let start = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let ms = format!("{:.1}", start.elapsed().as_secs_f64() * 1000.0);
    let fields = [
        ("method", method.as_str()),
        ("path", path.as_str()),
        ("status", status.as_str()),
        ("ms", ms.as_str()),
    ];
    if path.starts_with("/requests") || path == "/healthz" {
        event("http", &fields);
    } else {
        detail("http", &fields);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_key_value_pairs_without_spaces_in_values() {
        let l = line("mail_sent", &[("mail", "12"), ("note", "two words")]);
        assert!(
            l.contains(" event=mail_sent mail=12 note=two_words\n"),
            "{l}"
        );
    }

    #[test]
    fn problems_are_errors_and_failures() {
        assert!(is_problem("sweep_error") && is_problem("mail_failed"));
        assert!(!is_problem("mail_sent") && !is_problem("request_refused"));
    }
}
