use std::process::ExitCode;

use mentorsite::site::{self, BuildOptions, SiteError};

use crate::cli::{CheckArgs, Format};

pub fn run(args: CheckArgs) -> ExitCode {
    let opts = BuildOptions {
        root: args.root.root,
        ..BuildOptions::default()
    };
    let result = site::check(&opts);
    if args.format == Format::Json {
        return match result {
            Ok(outcome) => {
                print!("{}", outcome.diagnostics.render_json());
                ExitCode::from(super::OK)
            }
            Err(SiteError::Content(diags)) => {
                print!("{}", diags.render_json());
                ExitCode::from(super::CONTENT_ERRORS)
            }
            Err(e) => super::report_error(e, &opts.root),
        };
    }
    match result {
        Ok(outcome) => {
            super::print_warnings(&outcome.diagnostics, &opts.root);
            if super::quiet() {
                return ExitCode::from(super::OK);
            }
            println!(
                "OK: {}; {} files would be written.",
                outcome.counts(),
                outcome.files
            );
            ExitCode::from(super::OK)
        }
        Err(e) => super::report_error(e, &opts.root),
    }
}
