use std::net::SocketAddr;
use std::process::ExitCode;

use mentorsite::service::{self, MailMode};
use mentorsite::site::{self, BuildOptions};

use crate::cli::EndpointArgs;

/// The shortest token key accepted, in bytes.
pub(super) const MIN_SECRET: usize = 32;

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
    // First start of a container or a server: clone the scheme's repository into the root.
    if args.follow
        && !root.join("site.toml").exists()
        && let Ok(repository) = std::env::var("MENTORSITE_REPOSITORY")
    {
        let branch = std::env::var("MENTORSITE_BRANCH").ok();
        if root.exists() && std::fs::read_dir(&root).is_ok_and(|mut d| d.next().is_some()) {
            eprintln!(
                "error: {} is not empty and has no site.toml: clone the scheme's repository there, or give an empty folder",
                root.display()
            );
            return ExitCode::from(super::FAILURE);
        }
        if root.exists() {
            let _ = std::fs::remove_dir(&root);
        }
        println!(
            "Cloning the scheme's repository into {} ...",
            root.display()
        );
        if let Err(e) = mentorsite::follow::clone_into(&root, &repository, branch.as_deref()) {
            eprintln!("error: {e}");
            return ExitCode::from(super::FAILURE);
        }
    }
    let opts = BuildOptions {
        root: root.clone(),
        ..BuildOptions::default()
    };
    let prepared = match site::prepare(&opts) {
        Ok(p) => p,
        Err(e) => return super::report_error(e, &root),
    };
    super::print_warnings(&prepared.diagnostics, &root);
    let endpoint_follow_minutes = prepared.config.requests.follow_minutes;
    let endpoint_from = prepared.config.email.from.clone();
    let endpoint_admin = prepared.config.scheme.admin_email.clone();
    let endpoint_state = vec![
        prepared.config.requests.database.clone(),
        prepared.config.email.outbox_dir.clone(),
    ];
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
        let follow_every = std::time::Duration::from_secs(u64::from(endpoint_follow_minutes) * 60);
        let watched = if args.follow {
            let follower = match mentorsite::follow::Follower::new(
                &root,
                endpoint.desk().directory.clone(),
                &endpoint_state,
            ) {
                Ok(f) => std::sync::Arc::new(f),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(super::FAILURE);
                }
            };
            let secret = std::env::var("MENTORSITE_WEBHOOK_SECRET")
                .ok()
                .map(String::into_bytes);
            if secret.is_none() {
                println!(
                    "MENTORSITE_WEBHOOK_SECRET is not set: POST /hooks/push is off; following every {} minutes.",
                    endpoint_follow_minutes
                );
            }
            println!(
                "Following {} of {} (serving commit {}).",
                follower.branch(),
                root.display(),
                follower.serving()
            );
            let hook = mentorsite::web::hooks::FollowHook::new(
                follower,
                secret,
                endpoint.outbox.mailer.clone(),
                endpoint_from.clone(),
                endpoint_admin.clone(),
                follow_every,
            );
            let _ = endpoint.app.follow.set(std::sync::Arc::new(hook));
            // The follow loop replaces the folder watch.
            None
        } else {
            Some(root)
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
        super::stopped(service::run(listener, app, endpoint, watched, None).await)
    })
}
