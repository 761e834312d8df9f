//! The request service: `POST /requests` and `GET /healthz`.
//!
//! A post is checked (origin, rate, size, robots, fields, mentor), then the request and its
//! three emails are stored in one transaction, the outbox worker is woken, and the mentee is
//! sent on to the site's `requests/sent/` page. Handlers never send mail themselves.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jiff::civil::Date;
use serde::Serialize;
use tera::Context;
use tokio::sync::Notify;

use crate::config::Config;
use crate::mail::{self, SiteFacts, Templates};
use crate::register::Register;
use crate::render::theme::Theme;
use crate::render::views::{self, SiteView};
use crate::requests::store::{NewMail, Store, StoredRequest};
use crate::requests::{self, Form, FormErrors};

/// The most a form post may weigh.
pub const MAX_BODY: usize = 16 * 1024;
/// Requests one address may make in a day.
pub const PER_EMAIL_PER_DAY: i64 = 5;
/// Requests one mentee may have waiting for an answer at once.
pub const PENDING_PER_MENTEE: i64 = 3;

/// What the service knows of a mentor: looked up by slug, never taken from the form.
#[derive(Debug, Clone)]
pub struct Contact {
    pub name: String,
    pub email: String,
    pub url: String,
    pub accepting: bool,
    pub away_until: Option<Date>,
    /// Private: given to a mentee only when the mentor accepts.
    pub phone: Option<String>,
    pub capacity: Option<u32>,
}

pub type Clock = Box<dyn Fn() -> i64 + Send + Sync>;

pub struct Service {
    pub config: Config,
    pub directory: RwLock<BTreeMap<String, Contact>>,
    pub store: Store,
    pub wake: Notify,
    pub(crate) secret: Vec<u8>,
    pub(crate) emails: Templates,
    pub(crate) theme: Theme,
    pub(crate) site: SiteView,
    clock: Clock,
    per_ip: DefaultKeyedRateLimiter<String>,
    /// Origins whose pages may post (config plus, under `serve`, the local address).
    origins: Vec<String>,
    /// Where the site is, for the redirect after a request: `base_url`, or "" under `serve`
    /// (the same origin as the form).
    pub site_base: String,
}

impl Service {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        root: &Path,
        config: Config,
        register: &Register,
        theme: Theme,
        store: Store,
        secret: Vec<u8>,
        clock: Clock,
        extra_origins: Vec<String>,
    ) -> Result<Service, mail::MailError> {
        let emails = Templates::load(root, &config.theme)?;
        let today = jiff::Timestamp::from_second(clock())
            .unwrap_or_else(|_| jiff::Timestamp::now())
            .to_zoned(config.scheme.time_zone.clone())
            .date();
        let base = views::base_path(&config.base_url);
        let site = views::site(
            &config,
            register,
            today,
            crate::render::asset_urls(&theme, &base),
        );
        let per_minute = std::env::var("MENTORSITE_RATE_PER_MINUTE")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .and_then(NonZeroU32::new)
            .unwrap_or(NonZeroU32::new(10).expect("ten"));
        let mut origins = config.requests.allowed_origins.clone();
        origins.extend(extra_origins);
        let site_base = config.base_url.clone();
        let mut service = Service {
            directory: RwLock::new(directory(&config, register)),
            config,
            store,
            wake: Notify::new(),
            secret,
            emails,
            theme,
            site,
            clock,
            per_ip: RateLimiter::keyed(Quota::per_minute(per_minute)),
            origins,
            site_base: String::new(),
        };
        service.site_base = site_base;
        Ok(service)
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    pub fn today(&self) -> Date {
        jiff::Timestamp::from_second(self.now())
            .unwrap_or_else(|_| jiff::Timestamp::now())
            .to_zoned(self.config.scheme.time_zone.clone())
            .date()
    }

    /// Replace the mentors' contact details (at start, and when the content changes).
    pub fn reload(&self, register: &Register) {
        *self.directory.write().unwrap_or_else(|e| e.into_inner()) =
            directory(&self.config, register);
    }

    /// Allow `n` posts a minute from one client (the default is 10, or
    /// `MENTORSITE_RATE_PER_MINUTE`).
    pub fn set_rate_per_minute(&mut self, n: NonZeroU32) {
        self.per_ip = RateLimiter::keyed(Quota::per_minute(n));
    }

    /// The mentee's link to withdraw `id` (valid 180 days).
    pub fn withdraw_url(&self, id: &str) -> String {
        self.link(id, "withdraw", 180)
    }

    /// A fresh link for the mentor to answer `id` (valid 60 days).
    pub fn respond_url(&self, id: &str) -> String {
        self.link(id, "respond", 60)
    }

    /// `<service>/requests/<id>/<action>?t=<token valid for `days`>`.
    fn link(&self, id: &str, action: &str, days: i64) -> String {
        let base = if self.config.requests.url.is_empty() {
            &self.config.base_url
        } else {
            &self.config.requests.url
        };
        let token = requests::sign(&self.secret, id, action, self.now() + days * 24 * 3600);
        format!("{base}/requests/{id}/{action}?t={token}")
    }

    /// The address behind a stored recipient: `mentor:<slug>`, `admin`, or an address.
    pub fn address_of(&self, recipient: &str) -> Option<String> {
        if let Some(slug) = recipient.strip_prefix("mentor:") {
            let dir = self.directory.read().unwrap_or_else(|e| e.into_inner());
            return dir.get(slug).map(|c| c.email.clone());
        }
        if recipient == "admin" {
            return Some(self.config.scheme.admin_email.clone());
        }
        Some(recipient.to_string())
    }
}

fn directory(config: &Config, register: &Register) -> BTreeMap<String, Contact> {
    let base = &config.base_url;
    register
        .mentors
        .iter()
        .map(|m| {
            let contact = Contact {
                name: m.name.clone(),
                email: m.email.clone(),
                url: format!("{base}/mentors/{}/", m.slug),
                accepting: m.accepting,
                away_until: m.away_until,
                phone: m.phone.clone(),
                capacity: m.capacity,
            };
            (m.slug.clone(), contact)
        })
        .collect()
}

pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/requests", post(submit))
        .route("/requests/{id}/respond", get(super::respond::page))
        .route("/requests/{id}/accept", post(super::respond::accept))
        .route("/requests/{id}/decline", post(super::respond::decline))
        .route(
            "/requests/{id}/withdraw",
            get(super::respond::withdraw_page).post(super::respond::withdraw),
        )
        .route("/healthz", get(healthz))
        .with_state(service)
}

async fn healthz(State(s): State<Arc<Service>>) -> Response {
    match s.store.ping() {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "database unavailable"})),
        )
            .into_response(),
    }
}

/// Why a post was not taken, as the mentee will read it.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    message: String,
    errors: FormErrors,
    form: Option<Form>,
    mentor: Option<Contact>,
}

impl Refusal {
    fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Refusal {
            status,
            code,
            title,
            message: message.into(),
            errors: FormErrors::default(),
            form: None,
            mentor: None,
        }
    }
}

async fn submit(State(s): State<Arc<Service>>, req: Request) -> Response {
    let json = wants_json(req.headers());
    match accept(&s, req).await {
        Ok(Accepted::Stored { id, respond_by }) => {
            if json {
                let body = serde_json::json!({"status": "stored", "id": id, "respond_by": respond_by.to_string()});
                (StatusCode::CREATED, axum::Json(body)).into_response()
            } else {
                sent(&s)
            }
        }
        Ok(Accepted::Dropped) => {
            if json {
                (
                    StatusCode::CREATED,
                    axum::Json(serde_json::json!({"status": "stored"})),
                )
                    .into_response()
            } else {
                sent(&s)
            }
        }
        Err(r) if json => refusal_json(r),
        Err(r) => refusal_page(&s, r),
    }
}

enum Accepted {
    Stored { id: String, respond_by: Date },
    Dropped,
}

async fn accept(s: &Service, req: Request) -> Result<Accepted, Refusal> {
    let (parts, body) = req.into_parts();
    if !origin_allowed(&parts.headers, &s.origins) {
        crate::log::event("request_refused", &[("reason", "origin")]);
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "origin",
            "This form cannot be sent from here",
            "Requests can only be sent from the scheme's own pages. Please open the mentor's page on the scheme's site and send it from there.",
        ));
    }
    let client = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string());
    if s.per_ip.check_key(&client).is_err() {
        crate::log::event("request_refused", &[("reason", "rate")]);
        return Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate",
            "Too many requests at once",
            "We have received several requests from your connection in the last minute. Please wait a minute and try again.",
        ));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "Your request is too long",
            "Please shorten your message (it can be up to 4,000 characters) and send it again.",
        )
    })?;
    let form: Form = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "We could not read your request",
            "Please go back to the mentor's page and send the form again.",
        )
    })?;
    if requests::looks_automated(&form, s.now() * 1000) {
        crate::log::event("request_dropped", &[("reason", "automated")]);
        return Ok(Accepted::Dropped);
    }
    let contact = form.mentor.as_deref().and_then(|slug| {
        s.directory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(slug.trim())
            .cloned()
    });
    let valid = match requests::validate(&form) {
        Ok(v) => v,
        Err(errors) => {
            let mut r = Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "Please check your request",
                "Some of what you wrote needs another look. Everything you typed is kept below.",
            );
            r.errors = errors;
            r.form = Some(form);
            r.mentor = contact;
            return Err(r);
        }
    };
    let Some(mentor) = contact else {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "unknown_mentor",
            "We could not find that mentor",
            "The mentor may have left the scheme since the page was made. Please choose a mentor from the register.",
        ));
    };
    let today = s.today();
    if !mentor.accepting || mentor.away_until.is_some_and(|d| d > today) {
        let mut r = Refusal::new(
            StatusCode::CONFLICT,
            "not_accepting",
            "This mentor is not taking requests just now",
            format!(
                "{} is not taking new mentees at the moment. Your message has not been sent; please choose another mentor from the register.",
                mentor.name
            ),
        );
        r.mentor = Some(mentor);
        return Err(r);
    }
    let full = mentor.capacity.is_some_and(|c| {
        s.store
            .accepted_count(form.mentor.as_deref().unwrap_or("").trim())
            .unwrap_or(0)
            >= i64::from(c)
    });
    if full {
        let mut r = Refusal::new(
            StatusCode::CONFLICT,
            "full",
            "This mentor has as many mentees as they can take",
            format!(
                "{} is mentoring as many people as they can just now. Your message has not been sent; please choose another mentor from the register.",
                mentor.name
            ),
        );
        r.mentor = Some(mentor);
        return Err(r);
    }
    if s.store.pending_by_email(&valid.email).unwrap_or(0) >= PENDING_PER_MENTEE {
        crate::log::event("request_refused", &[("reason", "pending_limit")]);
        return Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "pending_limit",
            "You already have requests waiting",
            format!(
                "You have {PENDING_PER_MENTEE} requests waiting for an answer. Please wait for one of those mentors to reply (or withdraw a request from the link in its email) before sending another."
            ),
        ));
    }
    let since = s.now() - 24 * 3600;
    if s.store
        .requests_by_email_since(&valid.email, since)
        .unwrap_or(0)
        >= PER_EMAIL_PER_DAY
    {
        crate::log::event("request_refused", &[("reason", "email_rate")]);
        return Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "email_rate",
            "You have sent several requests today",
            "To give every mentor time to answer, please wait for replies to the requests you have already sent, or write to the scheme's team.",
        ));
    }
    store(s, &valid, &mentor, today).map_err(|e| {
        crate::log::event("request_error", &[("error", &e)]);
        let mut r = Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store",
            "We could not save your request",
            "Something went wrong on our side and your request was not sent. Everything you typed is kept below: please try again in a few minutes.",
        );
        r.form = Some(form);
        r.mentor = Some(mentor.clone());
        r
    })
}

#[derive(Serialize)]
pub(crate) struct RequestFacts<'a> {
    pub(crate) id: &'a str,
    pub(crate) name: &'a str,
    pub(crate) email: &'a str,
    pub(crate) mode: &'a str,
    pub(crate) message: &'a str,
    pub(crate) respond_by: String,
    pub(crate) respond_by_long: String,
}

#[derive(Serialize)]
pub(crate) struct MentorFacts<'a> {
    pub(crate) name: &'a str,
    pub(crate) url: &'a str,
}

fn store(
    s: &Service,
    v: &requests::Valid,
    mentor: &Contact,
    today: Date,
) -> Result<Accepted, String> {
    let id = requests::new_id();
    let respond_by = requests::add_working_days(
        today,
        s.config.scheme.response_working_days,
        &s.config.scheme.holidays,
    );
    let mut ctx = Context::new();
    ctx.insert("site", &SiteFacts::of(&s.config));
    ctx.insert(
        "request",
        &RequestFacts {
            id: &id,
            name: &v.name,
            email: &v.email,
            mode: &v.mode,
            message: &v.message,
            respond_by: respond_by.to_string(),
            respond_by_long: respond_by.strftime("%A %-d %B %Y").to_string(),
        },
    );
    ctx.insert(
        "mentor",
        &MentorFacts {
            name: &mentor.name,
            url: &mentor.url,
        },
    );
    ctx.insert("respond_url", &s.respond_url(&id));
    ctx.insert("withdraw_url", &s.withdraw_url(&id));
    let from = &s.config.email.from;
    let mut mails = Vec::new();
    for (kind, recipient, reply_to) in [
        (
            "mentor",
            format!("mentor:{}", v.mentor),
            Some(v.email.clone()),
        ),
        ("admin", "admin".to_string(), None),
        (
            "mentee",
            v.email.clone(),
            Some(s.config.scheme.admin_email.clone()),
        ),
    ] {
        let composed = match s.emails.compose(kind, &ctx) {
            Ok(c) => c,
            Err(e) => return Err(e.to_string()),
        };
        mails.push(NewMail {
            kind,
            recipient,
            subject: composed.subject,
            text_body: composed.text,
            html_body: composed.html,
            reply_to,
            message_id: mail::message_id(&id, kind, from),
        });
    }
    let request = StoredRequest {
        id: id.clone(),
        created_at: s.now(),
        mentor: v.mentor.clone(),
        name: v.name.clone(),
        email: v.email.clone(),
        mode: v.mode.clone(),
        message: v.message.clone(),
        status: "pending".into(),
        respond_by: respond_by.to_string(),
    };
    s.store
        .insert(&request, &mails, s.now())
        .map_err(|e| e.to_string())?;
    crate::log::event("request_stored", &[("request", &id), ("mentor", &v.mentor)]);
    s.wake.notify_one();
    Ok(Accepted::Stored { id, respond_by })
}

/// Browsers send `Origin` on a cross-site POST and, today, on same-site form posts too. Some
/// privacy tools strip it; then the `Referer` tells. A request with neither is not from a web
/// page of another site (browsers always send one of them on a cross-site post), so it passes:
/// the rate limits still apply. `Origin: null` (sandboxed or file pages) is refused.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .map(crate::config::origin_of)
        });
    match origin {
        None => true,
        Some(o) => allowed
            .iter()
            .any(|a| a.eq_ignore_ascii_case(o.trim_end_matches('/'))),
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

fn sent(s: &Service) -> Response {
    let location = format!("{}/requests/sent/", s.site_base);
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::SEE_OTHER.into_response())
}

fn refusal_json(r: Refusal) -> Response {
    let body = serde_json::json!({
        "status": "refused",
        "error": r.code,
        "message": r.message,
        "fields": r.errors.0,
    });
    (r.status, axum::Json(body)).into_response()
}

#[derive(Serialize)]
struct FormValues {
    mentor: String,
    name: String,
    email: String,
    message: String,
    mode: String,
    consent: bool,
}

fn refusal_page(s: &Service, r: Refusal) -> Response {
    let mut ctx = Context::new();
    ctx.insert("site", &s.site);
    ctx.insert("current_url", "");
    ctx.insert("title", r.title);
    ctx.insert("message", &r.message);
    ctx.insert("errors", &r.errors.0);
    if let Some(m) = &r.mentor {
        ctx.insert(
            "mentor",
            &MentorFacts {
                name: &m.name,
                url: &m.url,
            },
        );
    }
    if let Some(f) = &r.form {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        ctx.insert(
            "form",
            &FormValues {
                mentor: text(&f.mentor),
                name: text(&f.name),
                email: text(&f.email),
                message: text(&f.message),
                mode: text(&f.mode),
                consent: f.consent.is_some(),
            },
        );
    }
    ctx.insert("action", &s.config.request_action());
    match s.theme.tera.render("request_problem.html", &ctx) {
        Ok(html) => (r.status, Html(html)).into_response(),
        Err(e) => {
            crate::log::event(
                "template_error",
                &[
                    ("template", "request_problem.html"),
                    ("error", &e.to_string()),
                ],
            );
            (r.status, format!("{}\n\n{}\n", r.title, r.message)).into_response()
        }
    }
}
