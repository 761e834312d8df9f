use std::process::ExitCode;

use mentorsite::site::{self, BuildOptions};

use crate::cli::BuildArgs;

pub fn run(args: BuildArgs) -> ExitCode {
    let opts = BuildOptions {
        root: args.root.root,
        output: args.output,
        base_url: args.base_url,
        ..BuildOptions::default()
    };
    match site::build(&opts) {
        Ok(outcome) => {
            super::print_warnings(&outcome.diagnostics, &opts.root);
            let w = outcome.written.clone().unwrap_or_default();
            if super::quiet() {
                return ExitCode::from(super::OK);
            }
            if outcome.up_to_date {
                println!(
                    "Nothing changed since the last build: {} in {} are up to date ({} files; checked in {} ms).",
                    outcome.counts(),
                    outcome.output_dir.display(),
                    outcome.files,
                    outcome.elapsed.as_millis(),
                );
                return ExitCode::from(super::OK);
            }
            println!(
                "Built {} into {} in {} ms ({} files written, {} unchanged, {} removed; headshots: {} processed, {} from the cache).",
                outcome.counts(),
                outcome.output_dir.display(),
                outcome.elapsed.as_millis(),
                w.written,
                w.unchanged,
                w.removed,
                outcome.headshots_processed,
                outcome.headshots_cached,
            );
            ExitCode::from(super::OK)
        }
        Err(e) => super::report_error(e, &opts.root),
    }
}
