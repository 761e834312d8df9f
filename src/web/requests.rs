//! `POST /requests` and `GET /healthz`.
//!
//! A post is checked for what HTTP alone can tell (origin, rate, size, robots, the fields),
//! then handed to the desk, which stores the request and its three emails in one transaction
//! and wakes the outbox. The mentee is sent on to the site's `requests/sent/` page.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::WebError;
use super::pages::MentorLink;
use super::{App, blocking};
use crate::requests::desk::{PENDING_PER_MENTEE, Refused};
use crate::requests::{self, Form};

/// The most a form post may weigh: room for every field at its longest in any script (a
/// 4,000-character message of four-byte characters, percent-encoded, is 48 KiB).
pub const MAX_BODY: usize = 64 * 1024;
/// Past [`MAX_BODY`], a post is still read up to this, so the form can be shown again with
/// what was typed; beyond it, nothing of it is kept.
pub const HARD_BODY: usize = 256 * 1024;
/// How long `/healthz` waits for the database to answer a read.
const HEALTH_WAIT: Duration = Duration::from_secs(2);

pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    let store = app.desk.store.clone();
    let read = tokio::time::timeout(HEALTH_WAIT, blocking(move || store.ping())).await;
    let problem = match read {
        Err(_) => Some("the request database did not answer within 2 s".to_string()),
        Ok(Err(e)) => Some(e.fault.reason().to_string()),
        Ok(Ok(())) => app
            .desk
            .store
            .health
            .fault()
            .map(|(fault, _)| fault.reason().to_string()),
    };
    // Under `--follow`, the commit whose register is in use: the site's build says which it
    // published, so a maintainer sees that both halves agree.
    let content = app.follow.get().map(|f| f.follower.serving());
    let (status, mut body) = match problem {
        None => (StatusCode::OK, serde_json::json!({"status": "ok"})),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "unavailable", "reason": reason}),
        ),
    };
    if let Some(sha) = content {
        body["content"] = serde_json::Value::String(sha);
    }
    (status, axum::Json(body)).into_response()
}

pub async fn submit(State(app): State<Arc<App>>, req: Request) -> Response {
    let json = wants_json(req.headers());
    match take(&app, req).await {
        Ok(Some(s)) if json => {
            let body = serde_json::json!({"status": "stored", "id": s.id, "respond_by": s.respond_by.to_string()});
            (StatusCode::CREATED, axum::Json(body)).into_response()
        }
        // A robot is answered as if its post were taken.
        Ok(None) if json => (
            StatusCode::CREATED,
            axum::Json(serde_json::json!({"status": "stored"})),
        )
            .into_response(),
        Ok(s) => sent(&app, s.as_ref()),
        Err(e) => e.shown_with(&app.pages, json).into_response(),
    }
}

async fn take(app: &Arc<App>, req: Request) -> Result<Option<requests::desk::Submitted>, WebError> {
    let (parts, body) = req.into_parts();
    if !origin_allowed(&parts.headers, &app.origins) {
        crate::log::event("request_refused", &[("reason", "origin")]);
        return Err(WebError::form(
            StatusCode::FORBIDDEN,
            "origin",
            "This form cannot be sent from here",
            "Requests can only be sent from the scheme's own pages. Please open the mentor's page on the scheme's site and send it from there.",
        ));
    }
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = client_address(peer, &parts.headers, &app.trusted_proxies);
    app.forget_idle_clients();
    let too_many = |form: Option<Form>| {
        crate::log::event("request_refused", &[("reason", "rate")]);
        let e = WebError::form(
            StatusCode::TOO_MANY_REQUESTS,
            "rate",
            "Too many requests at once",
            "We have received several requests from your connection in the last minute. Everything you typed is kept below: please wait a minute and send it again.",
        )
        .retry_after(60);
        match form {
            Some(f) => e.keep(f),
            None => e,
        }
    };
    let too_large = |kept: &str| {
        WebError::form(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "Your request is too long",
            format!(
                "Please shorten your message (it can be up to {} characters) and send it again.{kept}",
                requests::thousands(requests::MAX_MESSAGE)
            ),
        )
    };
    let bytes = axum::body::to_bytes(body, HARD_BODY)
        .await
        .map_err(|_| too_large(""))?;
    let form: Form = match serde_urlencoded::from_bytes(&bytes) {
        Ok(form) => form,
        Err(_) => {
            if app.invalid_posts.check_key(&client).is_err() {
                return Err(too_many(None));
            }
            return Err(WebError::form(
                StatusCode::BAD_REQUEST,
                "malformed",
                "We could not read your request",
                "Please go back to the mentor's page and send the form again.",
            ));
        }
    };
    if requests::looks_automated(&form, app.desk.now_millis()) {
        crate::log::event("request_dropped", &[("reason", "automated")]);
        return Ok(None);
    }
    let mentor = form
        .mentor
        .as_deref()
        .and_then(|slug| app.desk.directory.get(slug.trim()))
        .map(|c| MentorLink {
            name: c.name,
            url: c.url,
        });
    if bytes.len() > MAX_BODY {
        if app.invalid_posts.check_key(&client).is_err() {
            return Err(too_many(Some(form)).with_mentor(mentor));
        }
        let fields = requests::validate(&form).err().unwrap_or_default();
        return Err(too_large(" Everything you typed is kept below.")
            .with_fields(fields)
            .keep(form)
            .with_mentor(mentor));
    }
    let valid = match requests::validate(&form) {
        Ok(valid) => valid,
        Err(errors) => {
            if app.invalid_posts.check_key(&client).is_err() {
                return Err(too_many(Some(form)).with_mentor(mentor));
            }
            return Err(WebError::form(
                StatusCode::BAD_REQUEST,
                "invalid",
                "Please check your request",
                "Some of what you wrote needs another look. Everything you typed is kept below.",
            )
            .with_fields(errors)
            .keep(form)
            .with_mentor(mentor));
        }
    };
    if app.valid_posts.check_key(&client).is_err() {
        return Err(too_many(Some(form)).with_mentor(mentor));
    }
    let desk = app.desk.clone();
    let v = valid.clone();
    let refused = match blocking(move || desk.submit(&v)).await {
        Ok(s) => return Ok(Some(s)),
        Err(refused) => refused,
    };
    // A mentor the service does not know may be one pushed a moment ago: under `--follow`,
    // follow once (at most once a minute) and try again before saying no.
    if let (Refused::UnknownMentor, Some(hook)) = (&refused, app.follow.get())
        && hook.follower.may_follow_for_unknown_mentor()
    {
        let follower = hook.follower.clone();
        let followed = blocking(move || follower.follow()).await;
        crate::log::event(
            "followed_for_unknown_mentor",
            &[(
                "outcome",
                if matches!(followed, Ok(crate::follow::Followed::Updated { .. })) {
                    "updated"
                } else {
                    "unchanged"
                },
            )],
        );
        // A push that was not taken is reported by the follow loop.
        hook.wake.notify_one();
        let desk = app.desk.clone();
        return match blocking(move || desk.submit(&valid)).await {
            Ok(s) => Ok(Some(s)),
            Err(again) => Err(refusal(again, form, mentor)),
        };
    }
    Err(refusal(refused, form, mentor))
}

/// The desk's refusal in words for the mentee.
fn refusal(r: Refused, form: Form, mentor: Option<MentorLink>) -> WebError {
    let link = |c: &requests::directory::Contact| {
        Some(MentorLink {
            name: c.name.clone(),
            url: c.url.clone(),
        })
    };
    match r {
        Refused::UnknownMentor => WebError::form(
            StatusCode::NOT_FOUND,
            "unknown_mentor",
            "We could not find that mentor",
            "The mentor may have left the scheme since the page was made. Please choose a mentor from the register.",
        )
        .keep_to_copy(&form),
        Refused::NotAccepting(c) => WebError::form(
            StatusCode::CONFLICT,
            "not_accepting",
            "This mentor is not taking requests just now",
            format!(
                "{} is not taking new mentees at the moment. Your message has not been sent; please choose another mentor from the register.",
                c.name
            ),
        )
        .keep_to_copy(&form)
        .with_mentor(link(&c)),
        Refused::Full(c) => WebError::form(
            StatusCode::CONFLICT,
            "full",
            "This mentor has as many mentees as they can take",
            format!(
                "{} is mentoring as many people as they can just now. Your message has not been sent; please choose another mentor from the register.",
                c.name
            ),
        )
        .keep_to_copy(&form)
        .with_mentor(link(&c)),
        Refused::PendingLimit => {
            crate::log::event("request_refused", &[("reason", "pending_limit")]);
            WebError::form(
                StatusCode::TOO_MANY_REQUESTS,
                "pending_limit",
                "You already have requests waiting",
                format!(
                    "You have {PENDING_PER_MENTEE} requests waiting for an answer. Please wait for one of those mentors to reply (or withdraw a request from the link in its email) before sending another."
                ),
            )
            .keep_to_copy(&form)
        }
        Refused::DailyLimit => {
            crate::log::event("request_refused", &[("reason", "email_rate")]);
            WebError::form(
                StatusCode::TOO_MANY_REQUESTS,
                "email_rate",
                "You have sent several requests today",
                "To give every mentor time to answer, please wait for replies to the requests you have already sent, or write to the scheme's team.",
            )
            .keep_to_copy(&form)
        }
        Refused::Unavailable(e) => WebError::form(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "We could not save your request just now",
            "Our request service is having trouble saving requests, so yours has not been sent yet. Everything you typed is kept below: please try again in a few minutes.",
        )
        .retry_after(if e.fault.is_storage() { 120 } else { 30 })
        .keep(form)
        .with_mentor(mentor),
        Refused::Template(e) => {
            crate::log::event("template_error", &[("error", &e.to_string())]);
            WebError::form(
                StatusCode::INTERNAL_SERVER_ERROR,
                "template",
                "We could not save your request",
                "Something went wrong on our side and your request was not sent. Everything you typed is kept below: please try again in a few minutes.",
            )
            .keep(form)
            .with_mentor(mentor)
        }
    }
}

/// The client a post is counted against. Behind a proxy every post comes from the proxy, so
/// when the peer is one of `trusted` the client is the last address in `X-Forwarded-For`
/// that is not itself a trusted proxy (the ones before it are the client's to write, and
/// prove nothing). From any other peer the header is ignored. IPv6 clients are counted by
/// their /64 network (one household or phone has a whole one), IPv4 in IPv6 as IPv4.
pub fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), canonical);
    let client = if trusted.contains(&peer) {
        let hops: Vec<Option<IpAddr>> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| hop.trim().parse::<IpAddr>().ok().map(canonical))
            .collect();
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            match hop {
                Some(ip) if trusted.contains(&ip) => continue,
                Some(ip) => client = ip,
                // The proxy wrote something that is not an address: trust none of it.
                None => {}
            }
            break;
        }
        client
    } else {
        peer
    };
    match client {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
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

/// `GET /requests`: what a reloaded error page (or a restored tab) asks for. Nothing was
/// sent by it; the page says so and leads back.
pub async fn form_home(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    WebError::form(
        StatusCode::OK,
        "form_home",
        "Requests are sent from a mentor's page",
        "If you were sending a request and did not see a page saying it was sent, it has not been sent. Please open the mentor's page and send it again; what you write there is only sent when you press the button.",
    )
    .shown_with(&app.pages, wants_json(&headers))
    .into_response()
}

pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

/// The cookie that tells the "sent" page which request it is about: the request's id and a
/// token for it, signed, good for an hour, sent only to that page and never to a script.
const SENT_COOKIE: &str = "mentorsite_sent";
const SENT_SECONDS: i64 = 3600;

/// See the mentee on to the "sent" page (the service's own, so it can name the mentor and the
/// date; nothing about the request is in its address).
fn sent(app: &App, submitted: Option<&requests::desk::Submitted>) -> Response {
    let location = format!("{}/sent/", app.pages.form_action);
    let mut response = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location);
    if let Some(s) = submitted {
        let token = app.desk.sign(&s.id, "sent", app.desk.now() + SENT_SECONDS);
        // `Secure` when the page is on https: the form's own address, or the site's when the
        // form posts to the same origin.
        let action = &app.pages.form_action;
        let on_https = action.starts_with("https:")
            || (action.starts_with('/') && app.pages.site_base.starts_with("https:"));
        let secure = if on_https { "; Secure" } else { "" };
        response = response.header(
            header::SET_COOKIE,
            format!(
                "{SENT_COOKIE}={}~{token}; Path=/requests/sent/; Max-Age={SENT_SECONDS}; HttpOnly; SameSite=Lax{secure}",
                s.id
            ),
        );
    }
    response
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::SEE_OTHER.into_response())
}

/// `GET /requests/sent/`: "your request is on its way", naming the mentor and the date they
/// will answer by when the cookie set with the redirect says which request it was; the
/// general page otherwise (a robot's post, an old bookmark, cookies off).
pub async fn sent_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{SENT_COOKIE}="))
                .map(str::to_string)
        });
    let request = match cookie.as_deref().and_then(|c| c.split_once('~')) {
        Some((id, token)) => {
            let (desk, id, token) = (app.desk.clone(), id.to_string(), token.to_string());
            blocking(move || desk.open(&id, "sent", &token).ok()).await
        }
        None => None,
    };
    let mut ctx = app.pages.context();
    if let Some(r) = request {
        let mentor = app.desk.directory.get(&r.mentor);
        ctx.insert(
            "sent",
            &serde_json::json!({
                "mentor": mentor.as_ref().map_or(r.mentor.as_str(), |m| m.name.as_str()),
                "mentor_url": mentor.as_ref().map(|m| m.url.as_str()),
                "respond_by_long": crate::requests::letters::long_date(&r.respond_by),
            }),
        );
    }
    app.pages.render(StatusCode::OK, "sent.html", &ctx)
}
