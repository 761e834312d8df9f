use std::net::SocketAddr;
use std::process::ExitCode;

use mentorsite::service::{self, MailMode};
use mentorsite::site::{self, BuildOptions};

use crate::cli::EndpointArgs;

/// The shortest token key accepted, in bytes.
const MIN_SECRET: usize = 32;

pub fn run(args: EndpointArgs) -> ExitCode {
    let root = args.root.root;
    let secret = match std::env::var("MENTORSITE_SECRET") {
        Ok(s) if s.len() >= MIN_SECRET => s.into_bytes(),
        Ok(_) => {
            eprintln!(
                "error: MENTORSITE_SECRET is too short: use at least {MIN_SECRET} random characters (e.g. `openssl rand -hex 32`)"
            );
            return ExitCode::from(super::FAILURE);
        }
        Err(_) => {
            eprintln!(
                "error: MENTORSITE_SECRET is not set: the endpoint signs the mentors' respond links with it. Set it to a long random value (e.g. `openssl rand -hex 32`) and keep it the same across restarts."
            );
            return ExitCode::from(super::FAILURE);
        }
    };
    let opts = BuildOptions {
        root: root.clone(),
        ..BuildOptions::default()
    };
    let prepared = match site::prepare(&opts) {
        Ok(p) => p,
        Err(e) => return super::report_error(e, &root),
    };
    super::print_warnings(&prepared.diagnostics, &root);
    let addr = SocketAddr::new(args.bind, args.port);
    super::block_on(async move {
        // Inside the runtime: the SMTP transport's connection pool starts a task.
        let endpoint =
            match service::endpoint(&root, prepared, secret, MailMode::Configured, Vec::new()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(super::FAILURE);
                }
            };
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return ExitCode::from(super::FAILURE);
            }
        };
        let local = listener.local_addr().unwrap_or(addr);
        println!(
            "Request service listening at http://{local}/ (POST /requests, GET /healthz); press Ctrl-C to stop"
        );
        let app = mentorsite::web::standalone(endpoint.app.clone());
        super::stopped(service::run(listener, app, endpoint, Some(root), None).await)
    })
}
