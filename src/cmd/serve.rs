use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mentorsite::live::{self, Builder, Live};
use mentorsite::service::{self, MailMode};
use mentorsite::site::{self, BuildOptions};

use crate::cli::ServeArgs;

pub fn run(args: ServeArgs) -> ExitCode {
    let opts = BuildOptions {
        root: args.root.root,
        ..BuildOptions::default()
    };
    let builder = Builder::new(opts.clone());
    let (files, first) = match builder.build() {
        Ok(built) => built,
        Err(e) => return super::report_error(e, &opts.root),
    };
    super::print_warnings(&first.warnings, &opts.root);
    println!(
        "Built {} in {} ms.",
        site::counts(&first.register),
        first.elapsed.as_millis()
    );
    let prepared = match site::prepare(&opts) {
        Ok(p) => p,
        Err(e) => return super::report_error(e, &opts.root),
    };
    let base_path = mentorsite::render::views::base_path(&prepared.config.base_url);
    let live = Live::new(files, base_path.clone());
    let outbox = opts.root.join(&prepared.config.email.outbox_dir);
    let endpoint_db = prepared.config.requests.database.clone();
    let mut prepared = prepared;
    // The token key: MENTORSITE_SECRET when it is set, so links in mail keep working across
    // restarts (trying the lifecycle with MENTORSITE_NOW means restarting); otherwise a
    // throwaway one, whose links stop working when this session ends.
    let secret = match std::env::var("MENTORSITE_SECRET") {
        Ok(s) if s.len() >= super::endpoint::MIN_SECRET => s.into_bytes(),
        Ok(_) => {
            eprintln!(
                "error: MENTORSITE_SECRET is too short: use at least {} random characters (e.g. `openssl rand -hex 32`), or unset it for a throwaway key",
                super::endpoint::MIN_SECRET
            );
            return ExitCode::from(super::FAILURE);
        }
        Err(_) => format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
        .into_bytes(),
    };
    let addr = SocketAddr::new(args.bind, args.port);
    super::block_on(async move {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "error: cannot listen on {addr}: {e} (is another server using the port? try --port)"
                );
                return ExitCode::from(super::FAILURE);
            }
        };
        let local = listener.local_addr().unwrap_or(addr);
        let own_origin = format!("http://{local}");
        // Every link the service writes (in the emails in the outbox folder, on its pages)
        // points here, so accept, decline and withdraw can be tried on this machine.
        let base_url = format!("{own_origin}{}", base_path.trim_end_matches('/'));
        prepared.config.base_url = base_url.clone();
        prepared.config.requests.url = String::new();
        let endpoint = match service::endpoint(
            &opts.root,
            prepared,
            secret,
            MailMode::OutboxFolder,
            vec![own_origin],
        ) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(super::FAILURE);
            }
        };
        println!("Serving the site at http://{local}{base_path} (press Ctrl-C to stop)");
        println!(
            "Requests are stored in {} and emails written to {}",
            endpoint_db.display(),
            outbox.display()
        );
        println!("Watching content/, themes/ and site.toml: saved changes reload the page.");

        // The watcher rebuilds on its own thread and tells open tabs to reload.
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (root, stop, live, directory) = (
                opts.root.clone(),
                stop.clone(),
                live.clone(),
                endpoint.desk().directory.clone(),
            );
            std::thread::spawn(move || {
                let watched =
                    live::watch(&root, stop, |paths| match builder.rebuild(&live, &paths) {
                        Ok(done) => {
                            directory.reload(&done.register, &base_url);
                            report(&paths, &done);
                        }
                        Err(problems) => {
                            eprint!("{problems}");
                            eprintln!(
                                "The last good site is still served; the page shows these problems."
                            );
                        }
                    });
                if let Err(e) = watched {
                    eprintln!(
                        "warning: cannot watch the files for changes ({e}); restart `serve` after editing"
                    );
                }
            })
        };
        let app = mentorsite::web::router(endpoint.app.clone()).merge(live::router(live.clone()));
        let closing = live.clone();
        let on_stop: Box<dyn FnOnce() + Send> = Box::new(move || closing.close());
        let result = service::run(listener, app, endpoint, None, Some(on_stop)).await;
        stop.store(true, Ordering::Relaxed);
        let _ = watcher.join();
        super::stopped(result)
    })
}

fn report(paths: &[std::path::PathBuf], done: &live::Rebuilt) {
    if super::quiet() {
        return;
    }
    for p in paths {
        mentorsite::log::detail("source_changed", &[("path", &p.display().to_string())]);
    }
    // An editor's temporary file is gone by now: name what was saved or deleted.
    let named: Vec<&std::path::PathBuf> = paths
        .iter()
        .filter(|p| p.exists() || p.extension().is_some())
        .collect();
    let what = match named.as_slice() {
        [one] => one
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        many => format!("{} files", many.len()),
    };
    let warnings = done.warnings.warning_count();
    println!(
        "{what} changed: rebuilt in {} ms ({} rendered, {} reused){}{}",
        done.elapsed.as_millis(),
        done.rendered,
        done.reused,
        if done.changed {
            ""
        } else {
            "; the site is the same"
        },
        if warnings > 0 {
            format!("; {warnings} warnings (see `mentorsite check`)")
        } else {
            String::new()
        }
    );
}
