use std::net::SocketAddr;
use std::process::ExitCode;

use mentorsite::site::{self, BuildOptions};

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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the server: {e}");
            return ExitCode::from(super::FAILURE);
        }
    };
    let addr = SocketAddr::new(args.bind, args.port);
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e} (is another server using the port? try --port)");
                return ExitCode::from(super::FAILURE);
            }
        };
        let local = listener.local_addr().unwrap_or(addr);
        println!("Serving the site at http://{local}/ (press Ctrl-C to stop)");
        let app = mentorsite::web::site_router(&outcome.output_dir);
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            Ok(()) => {
                println!("Stopped.");
                ExitCode::from(super::OK)
            }
            Err(e) => {
                eprintln!("error: the server stopped: {e}");
                ExitCode::from(super::FAILURE)
            }
        }
    })
}
