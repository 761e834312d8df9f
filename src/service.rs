//! Running the request service as one process: open the store, build the desk, start the
//! outbox worker, the sweep timer and (for `endpoint`) the content reload beside the HTTP
//! server, and stop them all within [`STOP_WITHIN`] of Ctrl-C or SIGTERM, mid-send or not.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::sync::watch;

use crate::config::Transport;
use crate::follow::Followed;
use crate::mail::Mailer;
use crate::outbox::Outbox;
use crate::requests::desk::Desk;
use crate::requests::directory::Directory;
use crate::requests::store::{Store, StoreError};
use crate::site::Prepared;
use crate::web::App;
use crate::web::pages::Pages;

/// After a stop signal the process is gone within this, whatever is in flight.
pub const STOP_WITHIN: Duration = Duration::from_secs(8);
/// How often the sweep runs inside the service.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the request database {path}: {source}")]
    Store { path: String, source: StoreError },
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

/// Open the store at `[requests] database` under `root`.
pub fn open_store(root: &Path, config: &crate::config::Config) -> Result<Arc<Store>, StartError> {
    let db = root.join(&config.requests.database);
    Store::open(&db)
        .map(Arc::new)
        .map_err(|source| StartError::Store {
            path: db.display().to_string(),
            source,
        })
}

/// The desk over a prepared site: what `requests sweep` and `requests resend` need, with no
/// HTTP and no mailer.
pub fn desk(root: &Path, prepared: &Prepared, secret: Vec<u8>) -> Result<Desk, StartError> {
    let config = &prepared.config;
    let store = open_store(root, config)?;
    let directory = Arc::new(Directory::new(
        &prepared.register,
        &config.base_url,
        &config.scheme.admin_email,
    ));
    let (clock, millis) = crate::requests::desk::clock_from_env().map_err(StartError::Clock)?;
    Ok(Desk::new(root, config, directory, store, secret, clock)?.with_millis(millis))
}

/// Everything the service runs.
pub struct Endpoint {
    pub app: Arc<App>,
    pub outbox: Outbox,
}

impl Endpoint {
    pub fn desk(&self) -> &Arc<Desk> {
        &self.app.desk
    }
}

/// Build the service and its mailer from a prepared site.
pub fn endpoint(
    root: &Path,
    prepared: Prepared,
    secret: Vec<u8>,
    mode: MailMode,
    extra_origins: Vec<String>,
) -> Result<Endpoint, StartError> {
    let desk = Arc::new(desk(root, &prepared, secret)?);
    let config = prepared.config;
    let mailer = if mode == MailMode::OutboxFolder || config.email.transport == Transport::File {
        Mailer::file(&root.join(&config.email.outbox_dir))
            .map_err(|e| StartError::Mailer(e.to_string()))?
    } else {
        let password = std::env::var("MENTORSITE_SMTP_PASSWORD").ok();
        Mailer::smtp(&config.email.smtp, password).map_err(|e| StartError::Mailer(e.to_string()))?
    };
    let mut pages = Pages::new(&config, &prepared.register, prepared.theme, desk.today());
    if mode == MailMode::OutboxFolder {
        // `serve`: the site and the service share one local origin.
        pages.site_base = crate::render::views::base_path(&config.base_url)
            .trim_end_matches('/')
            .to_string();
    }
    let mut origins = config.requests.allowed_origins.clone();
    origins.extend(extra_origins);
    let outbox = Outbox::new(
        desk.store.clone(),
        desk.directory.clone(),
        desk.queue.clone(),
        mailer,
        config.email.from.clone(),
        desk.clock(),
    );
    Ok(Endpoint {
        app: Arc::new(
            App::new(desk, pages, origins).trust_proxies(config.requests.trusted_proxies.clone()),
        ),
        outbox,
    })
}

/// Serve `app` on `listener` with the outbox worker and the sweep beside it, until a stop
/// signal. With a `root`, mentors' contact details are reloaded when the content changes;
/// `on_stop` runs when the signal comes.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    endpoint: Endpoint,
    root: Option<PathBuf>,
    on_stop: Option<Box<dyn FnOnce() + Send>>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let desk = endpoint.app.desk.clone();
    let worker = tokio::spawn(endpoint.outbox.run(stop_rx.clone()));
    if let Some(root) = root {
        tokio::spawn(watch_content(root, desk.clone(), stop_rx.clone()));
    }
    tokio::spawn(sweep_every(desk.clone(), stop_rx.clone()));
    if let Some(hook) = endpoint.app.follow.get() {
        tokio::spawn(follow_every(hook.clone(), stop_rx.clone()));
    }
    let app = app.layer(axum::middleware::from_fn(crate::log::access));
    let (signalled_tx, mut signalled) = watch::channel(false);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = signalled_tx.send(true);
        // Let long-lived responses (serve's reload events) end, so the server can.
        if let Some(f) = on_stop {
            f();
        }
    })
    .into_future();
    tokio::pin!(server);
    // Serve until the signal, then give connections in hand a bounded time to finish.
    let served = tokio::select! {
        r = &mut server => r,
        _ = signalled.wait_for(|s| *s) => {
            let _ = stop_tx.send(true);
            match tokio::time::timeout(STOP_WITHIN / 2, &mut server).await {
                Ok(r) => r,
                Err(_) => {
                    crate::log::event("stop_forced", &[("reason", "connections_still_open")]);
                    Ok(())
                }
            }
        }
    };
    let _ = stop_tx.send(true);
    if tokio::time::timeout(STOP_WITHIN / 2, worker).await.is_err() {
        crate::log::event("stop_forced", &[("reason", "mail_in_flight")]);
    }
    served
}

/// Run the sweep (reminders, lapse, retention) at start and every ten minutes.
async fn sweep_every(desk: Arc<Desk>, mut stop: watch::Receiver<bool>) {
    loop {
        let d = desk.clone();
        match tokio::task::spawn_blocking(move || d.sweep()).await {
            Ok(Err(e)) => crate::log::event("sweep_error", &[("error", &e.to_string())]),
            Err(e) => crate::log::event("sweep_error", &[("error", &e.to_string())]),
            Ok(Ok(_)) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// `endpoint --follow`: follow at start, every `[requests] follow_minutes`, and when a push
/// hook (or a request for an unknown mentor) rings. A push that is not taken is reported to
/// the admin once; if that mail cannot go now, it is tried again at the next follow.
async fn follow_every(hook: Arc<crate::web::hooks::FollowHook>, mut stop: watch::Receiver<bool>) {
    let every = follow_interval(hook.every);
    loop {
        let follower = hook.follower.clone();
        match tokio::task::spawn_blocking(move || follower.follow()).await {
            Ok(Ok(Followed::Updated { from, to })) => {
                crate::log::event("content_followed", &[("from", &from), ("to", &to)]);
            }
            Ok(Ok(Followed::Rejected {
                commit,
                problems,
                first,
            })) => {
                crate::log::event("content_rejected", &[("commit", &commit)]);
                if first {
                    report_rejected(&hook, &commit, &problems).await;
                }
            }
            Ok(Ok(Followed::Unchanged)) => {}
            Ok(Err(e)) => crate::log::event("follow_failed", &[("error", &e.to_string())]),
            Err(e) => crate::log::event("follow_failed", &[("error", &e.to_string())]),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = hook.wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// `[requests] follow_minutes`; tests shorten it with `MENTORSITE_FOLLOW_SECONDS`.
fn follow_interval(configured: Duration) -> Duration {
    std::env::var("MENTORSITE_FOLLOW_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s: &u64| *s > 0)
        .map_or(configured, Duration::from_secs)
}

async fn report_rejected(hook: &crate::web::hooks::FollowHook, commit: &str, problems: &str) {
    let (subject, text) = crate::follow::rejection_letter(commit, hook.follower.branch(), problems);
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body><pre style=\"white-space: pre-wrap\">{}</pre></body></html>",
        crate::render::escape(&subject),
        crate::render::escape(&text)
    );
    let message_id = crate::mail::message_id(
        &commit[..commit.len().min(12)],
        "content_rejected",
        &hook.from,
    );
    let letter = crate::mail::Letter {
        from: &hook.from,
        to: &hook.admin,
        reply_to: None,
        message_id: &message_id,
        in_reply_to: None,
        subject: &subject,
        text: &text,
        html: &html,
        urgent: false,
    };
    let sent = match crate::mail::message(&letter) {
        Ok(m) => hook.mailer.send(m).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(()) => {
            hook.follower.reported(commit);
            crate::log::event("content_rejected_reported", &[("commit", commit)]);
        }
        Err(e) => crate::log::event(
            "content_rejected_unreported",
            &[("commit", commit), ("error", &e.message)],
        ),
    }
}

/// Every 30 seconds, reload the register if anything under `content/` changed. A register with
/// errors is not loaded: the last good one stays (and `check` says what is wrong).
async fn watch_content(root: PathBuf, desk: Arc<Desk>, mut stop: watch::Receiver<bool>) {
    let mut last = fingerprint(&root);
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(30)) => {}
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
                desk.directory
                    .reload(&prepared.register, &prepared.config.base_url);
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
