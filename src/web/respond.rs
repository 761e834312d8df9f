//! The mentor's answer: `GET /requests/{id}/respond` shows the request with Accept and Decline
//! buttons and changes nothing (mail scanners open every link); `POST …/accept` and
//! `POST …/decline` act. Each button carries its own token, bound to the request and the
//! action, with an expiry; a token is recorded when used, and a second click is harmless.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tera::Context;

use super::requests::{MentorFacts, RequestFacts, Service};
use crate::mail::{self, SiteFacts};
use crate::requests::store::{NewMail, StoredRequest, Transition};
use crate::requests::{self, TokenError};

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    t: String,
}

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    t: String,
    #[serde(default)]
    note: String,
}

/// The longest note a mentor may add to a decline.
const MAX_NOTE: usize = 1000;

/// A page telling the mentor how things stand.
struct Outcome {
    status: StatusCode,
    title: String,
    message: String,
}

fn outcome(status: StatusCode, title: impl Into<String>, message: impl Into<String>) -> Outcome {
    Outcome {
        status,
        title: title.into(),
        message: message.into(),
    }
}

fn token_problem(e: TokenError) -> Outcome {
    match e {
        TokenError::Expired => outcome(
            StatusCode::GONE,
            "This link has expired",
            "The link in your email is no longer valid. If you still want to answer, please write to the scheme's team.",
        ),
        TokenError::Malformed | TokenError::BadSignature => outcome(
            StatusCode::FORBIDDEN,
            "This link is not valid",
            "The link may have been cut short or changed when it was copied. Please open it straight from your email.",
        ),
    }
}

fn closed(r: &StoredRequest) -> Option<Outcome> {
    match r.status.as_str() {
        "lapsed" => Some(outcome(
            StatusCode::GONE,
            "This request has lapsed",
            format!(
                "It was not answered by {}, so the mentee has been told and can choose someone else. Nothing more is needed from you.",
                r.respond_by
            ),
        )),
        "withdrawn" => Some(outcome(
            StatusCode::GONE,
            "This request was withdrawn",
            "The mentee withdrew their request. Nothing more is needed from you.",
        )),
        _ => None,
    }
}

/// Check `token` for `action` on request `id` and load it; otherwise what to tell the reader.
fn authorised(s: &Service, id: &str, action: &str, token: &str) -> Result<StoredRequest, Outcome> {
    requests::verify(&s.secret, token, id, action, s.now()).map_err(token_problem)?;
    s.store.get(id).ok().flatten().ok_or_else(|| {
        outcome(
            StatusCode::NOT_FOUND,
            "We could not find this request",
            "It may have been removed under the scheme's retention rules.",
        )
    })
}

/// `GET /requests/{id}/respond?t=…`: read-only.
pub async fn page(
    State(s): State<Arc<Service>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let now = s.now();
    let r = match authorised(&s, &id, "respond", &q.t) {
        Ok(r) => r,
        Err(o) => return render_outcome(&s, o),
    };
    if let Some(o) = closed(&r) {
        return render_outcome(&s, o);
    }
    if r.status != "pending" {
        return render_outcome(&s, already(&r));
    }
    let expires =
        q.t.split('.')
            .next()
            .and_then(|e| e.parse().ok())
            .unwrap_or(now);
    let mut ctx = base_context(&s, &r);
    ctx.insert(
        "accept_token",
        &requests::sign(&s.secret, &id, "accept", expires),
    );
    ctx.insert(
        "decline_token",
        &requests::sign(&s.secret, &id, "decline", expires),
    );
    ctx.insert(
        "accept_action",
        &format!("{}/requests/{id}/accept", action_base(&s)),
    );
    ctx.insert(
        "decline_action",
        &format!("{}/requests/{id}/decline", action_base(&s)),
    );
    match s.theme.tera.render("respond.html", &ctx) {
        Ok(html) => (StatusCode::OK, [("cache-control", "no-store")], Html(html)).into_response(),
        Err(e) => template_failed(&e),
    }
}

pub async fn accept(
    State(s): State<Arc<Service>>,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Response {
    answer(&s, &id, "accept", &f.t, None)
}

pub async fn decline(
    State(s): State<Arc<Service>>,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Response {
    let note = f.note.trim().replace("\r\n", "\n");
    if note.chars().count() > MAX_NOTE
        || note
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return render_outcome(
            &s,
            outcome(
                StatusCode::BAD_REQUEST,
                "Please shorten your note",
                format!(
                    "A note can be up to {MAX_NOTE} characters of plain text. Please go back and try again."
                ),
            ),
        );
    }
    answer(
        &s,
        &id,
        "decline",
        &f.t,
        (!note.is_empty()).then_some(note.as_str()),
    )
}

fn answer(s: &Service, id: &str, action: &str, token: &str, note: Option<&str>) -> Response {
    let now = s.now();
    let r = match authorised(s, id, action, token) {
        Ok(r) => r,
        Err(o) => return render_outcome(s, o),
    };
    if let Some(o) = closed(&r) {
        return render_outcome(s, o);
    }
    let to = if action == "accept" {
        "accepted"
    } else {
        "declined"
    };
    let mails = match compose(s, &r, to, note) {
        Ok(m) => m,
        Err(e) => {
            crate::log::event("request_error", &[("request", id), ("error", &e)]);
            return render_outcome(
                s,
                outcome(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side",
                    "Your answer was not recorded. Please try again in a few minutes.",
                ),
            );
        }
    };
    let token_hash = blake3::hash(token.as_bytes()).to_hex().to_string();
    match s.store.answer(id, to, note, &token_hash, &mails, now) {
        Ok(Transition::Done) => {
            crate::log::event(
                if to == "accepted" {
                    "request_accepted"
                } else {
                    "request_declined"
                },
                &[("request", id)],
            );
            s.wake.notify_one();
            let r = s.store.get(id).ok().flatten().unwrap_or(r);
            render_outcome(s, done(&r))
        }
        Ok(Transition::Already) => render_outcome(s, already(&r)),
        Ok(Transition::Blocked(state)) if state == "accepted" => render_outcome(
            s,
            outcome(
                StatusCode::CONFLICT,
                "You have already accepted this request",
                "The mentee has your contact details. If you can no longer mentor them, please write to the scheme's team, who will help them find someone else.",
            ),
        ),
        Ok(Transition::Blocked(state)) if state == "declined" => render_outcome(
            s,
            outcome(
                StatusCode::CONFLICT,
                "You declined this request earlier",
                "The mentee has been told and pointed to other mentors. If you would like to mentor them after all, please write to the scheme's team.",
            ),
        ),
        Ok(Transition::Blocked(_)) => render_outcome(s, closed(&r).unwrap_or_else(|| already(&r))),
        Ok(Transition::NotFound) => render_outcome(
            s,
            outcome(
                StatusCode::NOT_FOUND,
                "We could not find this request",
                "It may have been removed.",
            ),
        ),
        Err(e) => {
            crate::log::event(
                "request_error",
                &[("request", id), ("error", &e.to_string())],
            );
            render_outcome(
                s,
                outcome(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side",
                    "Your answer was not recorded. Please try again in a few minutes.",
                ),
            )
        }
    }
}

fn done(r: &StoredRequest) -> Outcome {
    if r.status == "accepted" {
        outcome(
            StatusCode::OK,
            "Thank you for accepting",
            format!(
                "We have sent {} your contact details and told the scheme's team. They will be in touch to arrange a first conversation.",
                r.name
            ),
        )
    } else {
        outcome(
            StatusCode::OK,
            "Thank you for letting us know",
            format!(
                "We have told {} kindly and pointed them to other mentors. Thank you for answering.",
                r.name
            ),
        )
    }
}

fn already(r: &StoredRequest) -> Outcome {
    let verb = if r.status == "accepted" {
        "accepted"
    } else {
        "declined"
    };
    outcome(
        StatusCode::OK,
        format!("You have {verb} this request"),
        "Your answer is recorded; nothing more is needed.",
    )
}

/// The emails an answer causes.
fn compose(
    s: &Service,
    r: &StoredRequest,
    to: &str,
    note: Option<&str>,
) -> Result<Vec<NewMail>, String> {
    let contact_email = s
        .directory
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&r.mentor)
        .map(|c| c.email.clone())
        .ok_or("the mentor is no longer on the register")?;
    let admin = s.config.scheme.admin_email.clone();
    let mentor = format!("mentor:{}", r.mentor);
    let list: Vec<(&'static str, String, Option<String>)> = if to == "accepted" {
        vec![
            ("accepted_mentee", r.email.clone(), Some(contact_email)),
            ("accepted_mentor", mentor, Some(r.email.clone())),
            ("accepted_admin", "admin".into(), None),
        ]
    } else {
        vec![
            ("declined_mentee", r.email.clone(), Some(admin)),
            ("declined_admin", "admin".into(), None),
        ]
    };
    mails(s, r, &list, note, None)
}

/// Compose `list` (kind, recipient, reply-to) for request `r`. Templates get `site`,
/// `request`, `mentor` (with contact details), `note` and `respond_url`.
pub(crate) fn mails(
    s: &Service,
    r: &StoredRequest,
    list: &[(&'static str, String, Option<String>)],
    note: Option<&str>,
    respond_url: Option<&str>,
) -> Result<Vec<NewMail>, String> {
    let contact = s
        .directory
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&r.mentor)
        .cloned();
    #[derive(Serialize)]
    struct MentorContact<'a> {
        name: &'a str,
        url: &'a str,
        email: &'a str,
        phone: Option<&'a str>,
    }
    let mut ctx = Context::new();
    ctx.insert("site", &SiteFacts::of(&s.config));
    ctx.insert("request", &request_facts(r));
    ctx.insert(
        "mentor",
        &MentorContact {
            name: contact
                .as_ref()
                .map_or(r.mentor.as_str(), |c| c.name.as_str()),
            url: contact.as_ref().map_or("", |c| c.url.as_str()),
            email: contact.as_ref().map_or("", |c| c.email.as_str()),
            phone: contact.as_ref().and_then(|c| c.phone.as_deref()),
        },
    );
    ctx.insert("note", &note.unwrap_or(""));
    ctx.insert("respond_url", &respond_url.unwrap_or(""));
    let from = &s.config.email.from;
    list.iter()
        .map(|(kind, recipient, reply_to)| {
            let c = s.emails.compose(kind, &ctx).map_err(|e| e.to_string())?;
            Ok(NewMail {
                kind,
                recipient: recipient.clone(),
                subject: c.subject,
                text_body: c.text,
                html_body: c.html,
                reply_to: reply_to.clone(),
                message_id: mail::message_id(&r.id, kind, from),
            })
        })
        .collect()
}

fn request_facts(r: &StoredRequest) -> RequestFacts<'_> {
    let long = r.respond_by.parse::<jiff::civil::Date>().map_or_else(
        |_| r.respond_by.clone(),
        |d| d.strftime("%A %-d %B %Y").to_string(),
    );
    RequestFacts {
        id: &r.id,
        name: &r.name,
        email: &r.email,
        mode: &r.mode,
        message: &r.message,
        respond_by: r.respond_by.clone(),
        respond_by_long: long,
    }
}

fn base_context(s: &Service, r: &StoredRequest) -> Context {
    let mut ctx = Context::new();
    ctx.insert("site", &s.site);
    ctx.insert("current_url", "");
    ctx.insert("request", &request_facts(r));
    ctx.insert("status", &r.status);
    let name = s
        .directory
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&r.mentor)
        .map(|c| (c.name.clone(), c.url.clone()));
    if let Some((name, url)) = &name {
        ctx.insert("mentor", &MentorFacts { name, url });
    }
    ctx
}

fn action_base(s: &Service) -> String {
    if s.config.requests.url.is_empty() {
        s.site_base.clone()
    } else {
        s.config.requests.url.clone()
    }
}

fn render_outcome(s: &Service, o: Outcome) -> Response {
    let mut ctx = Context::new();
    ctx.insert("site", &s.site);
    ctx.insert("current_url", "");
    ctx.insert("title", &o.title);
    ctx.insert("message", &o.message);
    match s.theme.tera.render("respond_outcome.html", &ctx) {
        Ok(html) => (o.status, [("cache-control", "no-store")], Html(html)).into_response(),
        Err(e) => template_failed(&e),
    }
}

fn template_failed(e: &tera::Error) -> Response {
    crate::log::event("template_error", &[("error", &e.to_string())]);
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side.",
    )
        .into_response()
}

/// `GET /requests/{id}/withdraw?t=…`: the mentee's own link; shows a confirmation button and
/// changes nothing.
pub async fn withdraw_page(
    State(s): State<Arc<Service>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let r = match authorised(&s, &id, "withdraw", &q.t) {
        Ok(r) => r,
        Err(o) => return render_outcome(&s, o),
    };
    if let Some(o) = closed_for_mentee(&r) {
        return render_outcome(&s, o);
    }
    let mut ctx = base_context(&s, &r);
    ctx.insert("token", &q.t);
    ctx.insert(
        "action",
        &format!("{}/requests/{id}/withdraw", action_base(&s)),
    );
    match s.theme.tera.render("withdraw.html", &ctx) {
        Ok(html) => (StatusCode::OK, [("cache-control", "no-store")], Html(html)).into_response(),
        Err(e) => template_failed(&e),
    }
}

/// `POST /requests/{id}/withdraw`: the mentor and the admin are told.
pub async fn withdraw(
    State(s): State<Arc<Service>>,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Response {
    let now = s.now();
    let r = match authorised(&s, &id, "withdraw", &f.t) {
        Ok(r) => r,
        Err(o) => return render_outcome(&s, o),
    };
    let list = [
        ("withdrawn_mentor", format!("mentor:{}", r.mentor), None),
        ("withdrawn_admin", "admin".to_string(), None),
    ];
    let m = match mails(&s, &r, &list, None, None) {
        Ok(m) => m,
        Err(e) => {
            crate::log::event("request_error", &[("request", &id), ("error", &e)]);
            return render_outcome(
                &s,
                outcome(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side",
                    "Your request was not withdrawn. Please try again in a few minutes.",
                ),
            );
        }
    };
    match s.store.withdraw(&id, &m, now) {
        Ok(Transition::Done) => {
            crate::log::event("request_withdrawn", &[("request", &id)]);
            s.wake.notify_one();
            render_outcome(
                &s,
                outcome(
                    StatusCode::OK,
                    "Your request is withdrawn",
                    "We have told the mentor and the scheme's team. You are welcome to choose another mentor whenever you are ready.",
                ),
            )
        }
        Ok(Transition::Already) => render_outcome(
            &s,
            outcome(
                StatusCode::OK,
                "Your request is withdrawn",
                "It was withdrawn already; nothing more is needed.",
            ),
        ),
        Ok(_) => render_outcome(
            &s,
            closed_for_mentee(&r).unwrap_or_else(|| {
                outcome(
                    StatusCode::GONE,
                    "This request is closed",
                    "Nothing more is needed.",
                )
            }),
        ),
        Err(e) => {
            crate::log::event(
                "request_error",
                &[("request", &id), ("error", &e.to_string())],
            );
            render_outcome(
                &s,
                outcome(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side",
                    "Your request was not withdrawn. Please try again in a few minutes.",
                ),
            )
        }
    }
}

fn closed_for_mentee(r: &StoredRequest) -> Option<Outcome> {
    match r.status.as_str() {
        "declined" => Some(outcome(
            StatusCode::GONE,
            "This request is closed",
            "The mentor was not able to take you on, so there is nothing to withdraw. You are welcome to choose another mentor.",
        )),
        "lapsed" => Some(outcome(
            StatusCode::GONE,
            "This request has lapsed",
            "It was not answered in time, so there is nothing to withdraw. You are welcome to choose another mentor.",
        )),
        "withdrawn" => Some(outcome(
            StatusCode::GONE,
            "This request was withdrawn",
            "Nothing more is needed.",
        )),
        _ => None,
    }
}
