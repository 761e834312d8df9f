//! The command line: what each subcommand takes. Shared flags are defined once.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "mentorsite",
    version,
    about = "A peer-mentoring scheme's register, handbook and request service"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Say only what went wrong
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more: every file `serve` answers, each rebuild's numbers
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the static site into the output folder
    Build(BuildArgs),
    /// Check site.toml, every bio and page, and the theme; write nothing
    Check(CheckArgs),
    /// Build the site and serve it on this computer while you edit
    Serve(ServeArgs),
    /// Run the request service (production): POST /requests, GET /healthz
    Endpoint(EndpointArgs),
    /// Ask a running endpoint whether it is well (for container and service health checks)
    Healthcheck(HealthcheckArgs),
    /// See and export the requests received
    #[command(subcommand)]
    Requests(RequestsCommand),
    /// Create something new from a commented template
    #[command(subcommand)]
    New(NewCommand),
}

#[derive(Debug, Args)]
pub struct RootArg {
    /// The site's folder, holding site.toml, content/ and themes/
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub root: RootArg,
    /// Where to write the site (default: `output_dir` from site.toml, under the root)
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Publish under another address than `base_url` (e.g. a preview)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub root: RootArg,
    /// How to print problems
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub root: RootArg,
    /// The address to listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// The port to listen on (0 picks a free one)
    #[arg(long, value_name = "N", default_value_t = 1111)]
    pub port: u16,
}

#[derive(Debug, Args)]
pub struct EndpointArgs {
    #[command(flatten)]
    pub root: RootArg,
    /// The address to listen on (put a TLS-terminating proxy in front)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// The port to listen on
    #[arg(long, value_name = "N", default_value_t = 8080)]
    pub port: u16,
    /// Keep the site root (a git clone) at the tip of its branch: at start, every
    /// `[requests] follow_minutes`, and at once on a push hook (POST /hooks/push, signed with
    /// MENTORSITE_WEBHOOK_SECRET)
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The endpoint's health address
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:8080/healthz"
    )]
    pub url: String,
}

#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// Every request, newest first, and any email that could not be sent
    List {
        #[command(flatten)]
        root: RootArg,
    },
    /// One request in full, with its emails
    Show {
        /// The request's id (from `requests list`)
        id: String,
        #[command(flatten)]
        root: RootArg,
    },
    /// Write an HTML report with charts for the programme manager (no mentee details)
    Report {
        #[command(flatten)]
        root: RootArg,
        /// Where to write the page
        #[arg(
            long,
            short,
            value_name = "FILE",
            default_value = "requests-report.html"
        )]
        output: std::path::PathBuf,
    },
    /// Send due reminders, lapse overdue requests, purge old ones (for cron; idempotent)
    Sweep {
        #[command(flatten)]
        root: RootArg,
    },
    /// Send again mail that failed for good: one request's, or every failed mail
    #[command(group(clap::ArgGroup::new("which").required(true).args(["id", "failed"])))]
    Resend {
        /// The request's id (from `requests list`)
        id: Option<String>,
        /// Every mail that failed for good
        #[arg(long)]
        failed: bool,
        #[command(flatten)]
        root: RootArg,
    },
    /// Another block of `sessions_offered` sessions for a match, in a new window; both are told
    Extend {
        /// The match's request id (from `requests list`)
        id: String,
        #[command(flatten)]
        root: RootArg,
    },
    /// Erase every request from one email address (a data-subject erasure request)
    Purge {
        /// The mentee's email address
        #[arg(long, value_name = "ADDRESS")]
        email: String,
        #[command(flatten)]
        root: RootArg,
    },
    /// Every request as CSV on standard output
    Export {
        /// Write CSV (the only format)
        #[arg(long, required = true)]
        csv: bool,
        #[command(flatten)]
        root: RootArg,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum NewCommand {
    /// Write content/mentors/<slug>.md with every field explained
    Mentor {
        /// The mentor's full name, in quotes
        name: String,
        #[command(flatten)]
        root: RootArg,
    },
}
