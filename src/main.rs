//! `mentorsite`: parse the command line and hand over to the subcommand.

mod cli;
mod cmd;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the system's allocator: a build makes and drops millions of small
/// strings across threads, and glibc's malloc spent a third of a rebuild's time consolidating
/// and searching its free lists (and kept more memory from the peak). Built without its
/// transparent-huge-page advice (`no_thp`): with it, the kernel backed the heap in 2 MiB pages
/// and mimalloc gave memory back only in whole 2 MiB pieces, which put a cold build of 5,000
/// bios at 117–122 MiB rather than 85–89 (`/usr/bin/time -f %M`, three runs each).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    mentorsite::log::set_level(if cli.quiet {
        mentorsite::log::Level::Quiet
    } else if cli.verbose {
        mentorsite::log::Level::Verbose
    } else {
        mentorsite::log::Level::Normal
    });
    match cli.command {
        cli::Command::Build(args) => cmd::build::run(args),
        cli::Command::Check(args) => cmd::check::run(args),
        cli::Command::Serve(args) => cmd::serve::run(args),
        cli::Command::Endpoint(args) => cmd::endpoint::run(args),
        cli::Command::Healthcheck(args) => cmd::healthcheck::run(&args),
        cli::Command::Requests(cmd) => cmd::requests::run(cmd),
        cli::Command::New(cmd) => cmd::new::run(cmd),
    }
}
