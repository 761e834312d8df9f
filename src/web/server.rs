//! Running the request service: open the store, start the outbox worker, serve HTTP until
//! Ctrl-C or SIGTERM, then finish the request in hand and stop the worker cleanly.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use tokio::sync::watch;

use super::requests::Service;
use crate::config::Transport;
use crate::mail::Mailer;
use crate::requests::store::Store;
use crate::site::Prepared;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the request database {path}: {source}")]
    Store {
        path: String,
        source: crate::requests::store::StoreError,
    },
    #[error("{0}")]
    Mail(#[from] crate::mail::MailError),
    #[error("cannot set up email: {0}")]
    Mailer(String),
    #[error("{0}")]
    Clock(String),
}

/// Which mail transport: `[email]` as configured, or always the outbox folder (`serve`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MailMode {
    Configured,
    OutboxFolder,
}

/// Build the service and its mailer from a prepared site.
pub fn service(
    root: &Path,
    prepared: Prepared,
    secret: Vec<u8>,
    mode: MailMode,
    extra_origins: Vec<String>,
) -> Result<(Arc<Service>, Mailer), StartError> {
    let config = prepared.config;
    let db = root.join(&config.requests.database);
    let store = Store::open(&db).map_err(|source| StartError::Store {
        path: db.display().to_string(),
        source,
    })?;
    let mailer = if mode == MailMode::OutboxFolder || config.email.transport == Transport::File {
        Mailer::file(&root.join(&config.email.outbox_dir))
            .map_err(|e| StartError::Mailer(e.to_string()))?
    } else {
        let password = std::env::var("MENTORSITE_SMTP_PASSWORD").ok();
        Mailer::smtp(&config.email.smtp, password).map_err(|e| StartError::Mailer(e.to_string()))?
    };
    let clock = clock_from_env()?;
    let mut service = Service::new(
        root,
        config,
        &prepared.register,
        prepared.theme,
        store,
        secret,
        clock,
        extra_origins,
    )?;
    if mode == MailMode::OutboxFolder {
        // `serve`: the site and the service share one local origin.
        service.site_base = crate::render::views::base_path(&service.config.base_url)
            .trim_end_matches('/')
            .to_string();
    }
    Ok((Arc::new(service), mailer))
}

/// The service's clock: the real time, or, when `MENTORSITE_NOW` holds an RFC 3339 instant,
/// a clock that starts there and keeps ticking. That is for trying the lifecycle (reminders,
/// lapse) without waiting a week, and for the end-to-end tests; never set it in production.
pub fn clock_from_env() -> Result<super::requests::Clock, StartError> {
    let Ok(text) = std::env::var("MENTORSITE_NOW") else {
        return Ok(Box::new(|| jiff::Timestamp::now().as_second()));
    };
    let start: jiff::Timestamp = text.trim().parse().map_err(|e| {
        StartError::Clock(format!(
            "MENTORSITE_NOW={text:?} is not an RFC 3339 instant such as 2026-11-23T09:00:00Z: {e}"
        ))
    })?;
    let offset = start.as_second() - jiff::Timestamp::now().as_second();
    crate::log::event("clock_override", &[("now", &start.to_string())]);
    Ok(Box::new(move || {
        jiff::Timestamp::now().as_second() + offset
    }))
}

/// Serve `app` on `listener` with the outbox worker beside it, until a stop signal. With a
/// `root`, mentors' contact details are reloaded when the content changes; `on_stop` runs
/// when the signal comes.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    service: Arc<Service>,
    mailer: Mailer,
    root: Option<std::path::PathBuf>,
    on_stop: Option<Box<dyn FnOnce() + Send>>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(crate::outbox::run(service.clone(), mailer, stop_rx.clone()));
    if let Some(root) = root {
        tokio::spawn(watch_content(root, service.clone(), stop_rx.clone()));
    }
    tokio::spawn(sweep_every(service.clone(), stop_rx));
    let app = app.layer(axum::middleware::from_fn(crate::log::access));
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        // Let long-lived responses (serve's reload events) end, so the server can.
        if let Some(f) = on_stop {
            f();
        }
    })
    .await;
    let _ = stop_tx.send(true);
    service.wake.notify_one();
    let _ = worker.await;
    served
}

/// Run the sweep (reminders, lapse, retention) at start and every ten minutes.
async fn sweep_every(service: Arc<Service>, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = super::sweep::sweep(&service) {
            crate::log::event("sweep_error", &[("error", &e.to_string())]);
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(600)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Every 30 seconds, reload the register if anything under `content/` changed. A register with
/// errors is not loaded: the last good one stays (and `check` says what is wrong).
async fn watch_content(
    root: std::path::PathBuf,
    service: Arc<Service>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last = fingerprint(&root);
    loop {
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
            _ = stop.changed() => return,
        }
        let now = fingerprint(&root);
        if now == last {
            continue;
        }
        last = now;
        let opts = crate::site::BuildOptions {
            root: root.clone(),
            ..Default::default()
        };
        match tokio::task::spawn_blocking(move || crate::site::prepare(&opts)).await {
            Ok(Ok(prepared)) => {
                service.reload(&prepared.register);
                let n = prepared.register.mentors.len().to_string();
                crate::log::event("register_reloaded", &[("mentors", &n)]);
            }
            _ => crate::log::event(
                "register_reload_failed",
                &[("hint", "run_mentorsite_check")],
            ),
        }
    }
}

/// Files, sizes and modification times under `content/`, folded into one number.
fn fingerprint(root: &Path) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for e in walkdir::WalkDir::new(root.join(crate::content::CONTENT_DIR))
        .sort_by_file_name()
        .into_iter()
        .flatten()
    {
        let stamp = e.metadata().ok().map_or(0, |m| {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as u64);
            t ^ m.len()
        });
        for b in e
            .path()
            .to_string_lossy()
            .bytes()
            .chain(stamp.to_le_bytes())
        {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
