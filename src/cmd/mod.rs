//! One file per subcommand: wiring only, the work is in the library.

pub mod build;
pub mod check;
pub mod endpoint;
pub mod healthcheck;
pub mod new;
pub mod requests;
pub mod serve;

use std::process::ExitCode;

use mentorsite::diag::Diagnostics;
use mentorsite::site::SiteError;

/// Exit codes, as the README promises.
pub const OK: u8 = 0;
pub const CONTENT_ERRORS: u8 = 1;
pub const FAILURE: u8 = 2;

/// Print diagnostics (to stderr, each with its source line from under `root`) and map a site
/// error to its exit code.
pub fn report_error(err: SiteError, root: &std::path::Path) -> ExitCode {
    match err {
        SiteError::Content(diags) => {
            eprint!("{}", diags.render_report(root));
            ExitCode::from(CONTENT_ERRORS)
        }
        other => {
            eprintln!("error: {other}");
            ExitCode::from(FAILURE)
        }
    }
}

/// Warnings, unless `--quiet`.
pub fn print_warnings(diags: &Diagnostics, root: &std::path::Path) {
    if !diags.is_empty() && !quiet() {
        eprint!("{}", diags.render_report(root));
    }
}

/// Run a future on a fresh multi-threaded runtime.
pub fn block_on<F: std::future::Future<Output = ExitCode>>(f: F) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => {
            let code = rt.block_on(f);
            // Work still on a blocking thread (a database wait) is bounded; do not wait for it.
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
            code
        }
        Err(e) => {
            eprintln!("error: cannot start the server: {e}");
            ExitCode::from(FAILURE)
        }
    }
}

/// `site.toml` under `root`, or the exit code after printing why not.
pub fn load_config(root: &std::path::Path) -> Result<mentorsite::config::Config, ExitCode> {
    match mentorsite::config::Config::load(root) {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(diags)) => {
            eprint!("{}", diags.render_report(root));
            Err(ExitCode::from(CONTENT_ERRORS))
        }
        Err(e) => {
            eprintln!(
                "error: cannot read {}: {e}",
                root.join(mentorsite::config::FILE_NAME).display()
            );
            Err(ExitCode::from(FAILURE))
        }
    }
}

/// The exit code once a server has stopped.
pub fn stopped(result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => {
            println!("Stopped.");
            ExitCode::from(OK)
        }
        Err(e) => {
            eprintln!("error: the server stopped: {e}");
            ExitCode::from(FAILURE)
        }
    }
}

/// `--quiet`: say only what went wrong.
pub fn quiet() -> bool {
    mentorsite::log::level() == mentorsite::log::Level::Quiet
}
