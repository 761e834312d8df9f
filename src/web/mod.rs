//! HTTP for the request service, with axum: the router, thin handlers that turn requests into
//! calls on the [`Desk`](crate::requests::desk::Desk) and its answers into pages, and one error
//! type ([`error::WebError`]) for every refusal. Nothing here stores, composes or sends mail.

pub mod error;
pub mod hooks;
pub mod pages;
pub mod refusals;
pub mod requests;
pub mod respond;
pub mod sessions;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::requests::desk::Desk;
use pages::Pages;

/// What the handlers share.
pub struct App {
    pub desk: Arc<Desk>,
    pub pages: Arc<Pages>,
    /// Posts that passed the form's checks, per client a minute.
    valid_posts: DefaultKeyedRateLimiter<IpAddr>,
    /// Posts that did not, counted apart (three times as many allowed): a mentee fixing a
    /// form is never locked out by their own mistakes, and junk does not use up the
    /// allowance of real requests.
    invalid_posts: DefaultKeyedRateLimiter<IpAddr>,
    /// Origins whose pages may post (config plus, under `serve`, the local address).
    origins: Vec<String>,
    /// Peers whose `X-Forwarded-For` names the client (`[requests] trusted_proxies`).
    trusted_proxies: Vec<IpAddr>,
    /// Set under `endpoint --follow`.
    pub follow: std::sync::OnceLock<Arc<hooks::FollowHook>>,
}

/// The largest push hook read (GitHub's push payloads are far smaller).
const HOOK_BODY: usize = 5 * 1024 * 1024;

/// Clients a limiter remembers before it forgets the idle ones.
const CLIENTS_KEPT: usize = 10_000;

/// Invalid posts allowed for each valid one.
const INVALID_PER_VALID: u32 = 3;

impl App {
    pub fn new(desk: Arc<Desk>, pages: Pages, origins: Vec<String>) -> App {
        let per_minute = std::env::var("MENTORSITE_RATE_PER_MINUTE")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .and_then(NonZeroU32::new)
            .unwrap_or(NonZeroU32::new(10).expect("ten"));
        let (valid_posts, invalid_posts) = limiters(per_minute);
        App {
            desk,
            pages: Arc::new(pages),
            valid_posts,
            invalid_posts,
            origins,
            trusted_proxies: Vec::new(),
            follow: std::sync::OnceLock::new(),
        }
    }

    /// Allow `n` valid posts a minute from one client, and three times as many invalid
    /// ones (the default is 10, or `MENTORSITE_RATE_PER_MINUTE`).
    pub fn set_rate_per_minute(&mut self, n: NonZeroU32) {
        (self.valid_posts, self.invalid_posts) = limiters(n);
    }

    /// Keep the limiters' memory bounded: past [`CLIENTS_KEPT`] clients, forget those whose
    /// allowance has refilled (many addresses, spoofed or real, would otherwise pile up).
    pub(crate) fn forget_idle_clients(&self) {
        for limiter in [&self.valid_posts, &self.invalid_posts] {
            if limiter.len() > CLIENTS_KEPT {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }

    /// Believe `X-Forwarded-For` from these peers (the proxy in front of the service).
    pub fn trust_proxies(mut self, proxies: Vec<IpAddr>) -> App {
        self.trusted_proxies = proxies;
        self
    }
}

fn limiters(
    per_minute: NonZeroU32,
) -> (
    DefaultKeyedRateLimiter<IpAddr>,
    DefaultKeyedRateLimiter<IpAddr>,
) {
    let invalid = per_minute.saturating_mul(NonZeroU32::new(INVALID_PER_VALID).expect("three"));
    (
        RateLimiter::keyed(Quota::per_minute(per_minute)),
        RateLimiter::keyed(Quota::per_minute(invalid)),
    )
}

/// The service's routes, to merge beside the site's files (`serve`).
pub fn router(app: Arc<App>) -> Router {
    routes(&app).with_state(app)
}

/// The service alone (`endpoint`): any other address gets the theme's 404.
pub fn standalone(app: Arc<App>) -> Router {
    routes(&app).fallback(refusals::not_found).with_state(app)
}

fn routes(app: &Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/requests", get(requests::form_home).post(requests::submit))
        .route("/requests/{id}/respond", get(respond::page))
        .route("/requests/{id}/accept", post(respond::accept))
        .route("/requests/{id}/decline", post(respond::decline))
        .route(
            "/requests/{id}/withdraw",
            get(respond::withdraw_page).post(respond::withdraw),
        )
        .route(
            "/requests/{id}/sessions",
            get(sessions::page).post(sessions::post),
        )
        .route(
            "/requests/{id}/feedback",
            get(sessions::feedback_page).post(sessions::feedback),
        )
        .route("/requests/sent/", get(requests::sent_page))
        .route(
            "/hooks/push",
            post(hooks::push).layer(axum::extract::DefaultBodyLimit::max(HOOK_BODY)),
        )
        .route("/healthz", get(requests::healthz))
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            refusals::themed,
        ))
}

/// Run blocking desk work (SQLite, templates) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
