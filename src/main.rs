//! `mentorsite`: parse the command line and hand over to the subcommand.

mod cli;
mod cmd;

use std::process::ExitCode;

use clap::Parser;

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
