use std::net::SocketAddr;
use std::process::ExitCode;

use mentorsite::site::{self, BuildOptions};
use mentorsite::web::server::{self, MailMode};

use crate::cli::ServeArgs;

pub fn run(args: ServeArgs) -> ExitCode {
    let opts = BuildOptions {
        root: args.root.root,
        ..BuildOptions::default()
    };
    let outcome = match site::build(&opts) {
        Ok(o) => o,
        Err(e) => return super::report_error(e),
    };
    super::print_warnings(&outcome.diagnostics);
    println!(
        "Built {} in {} ms.",
        outcome.counts(),
        outcome.elapsed.as_millis()
    );
    let prepared = match site::prepare(&opts) {
        Ok(p) => p,
        Err(e) => return super::report_error(e),
    };
    let outbox = opts.root.join(&prepared.config.email.outbox_dir);
    // A throwaway token key: respond links from this session stop working when it ends.
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
    .into_bytes();
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
        let (service, mailer) = match server::service(
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
        println!("Serving the site at http://{local}/ (press Ctrl-C to stop)");
        println!(
            "Requests are stored in {} and emails written to {}",
            service.config.requests.database.display(),
            outbox.display()
        );
        let app = mentorsite::web::requests::router(service.clone())
            .merge(mentorsite::web::site_router(&outcome.output_dir));
        super::stopped(server::run(listener, app, service, mailer, Some(opts.root.clone())).await)
    })
}
