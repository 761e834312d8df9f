//! The links in mail: `GET /requests/{id}/respond` shows the mentor the request with Accept and
//! Decline buttons and changes nothing (mail scanners open every link); `POST …/accept` and
//! `POST …/decline` act. `GET`/`POST …/withdraw` are the mentee's, on the same rules. Each
//! button carries its own token, bound to the request and the action, with an expiry.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::WebError;
use super::pages::MentorLink;
use super::{App, blocking};
use crate::requests::desk::{Answer, Done, MAX_NOTE, Problem};
use crate::requests::letters::RequestFacts;
use crate::requests::store::StoredRequest;
use crate::requests::{Status, TokenError};

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    pub(super) t: String,
}

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    t: String,
    #[serde(default)]
    note: String,
}

/// `GET /requests/{id}/respond?t=…`: read-only.
pub async fn page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let desk = app.desk.clone();
    let (i, t) = (id.clone(), q.t.clone());
    let r = match blocking(move || desk.open(&i, "respond", &t)).await {
        Ok(r) => r,
        Err(p) => return problem(&app, p, false).into_response(),
    };
    match r.status {
        Status::Lapsed | Status::Withdrawn | Status::Completed => {
            return problem(&app, Problem::Closed(Box::new(r)), false).into_response();
        }
        Status::Accepted | Status::Declined => return answered(&app, &Done::Already(r)),
        Status::Pending => {}
    }
    // The buttons' tokens expire with the link's.
    let expires =
        q.t.split('.')
            .next()
            .and_then(|e| e.parse().ok())
            .unwrap_or_else(|| app.desk.now());
    let base = app.desk.service_base();
    let mut ctx = page_context(&app, &r);
    ctx.insert("accept_token", &app.desk.sign(&id, "accept", expires));
    ctx.insert("decline_token", &app.desk.sign(&id, "decline", expires));
    ctx.insert("accept_action", &format!("{base}/requests/{id}/accept"));
    ctx.insert("decline_action", &format!("{base}/requests/{id}/decline"));
    app.pages.render(StatusCode::OK, "respond.html", &ctx)
}

pub async fn accept(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Response {
    let desk = app.desk.clone();
    let found = blocking(move || {
        let done = desk.answer(&id, Answer::Accept, &f.t)?;
        // The mentor's way to record sessions, from the confirmation on.
        let link = desk.sessions_url(&id).ok();
        Ok::<_, Problem>((done, link))
    })
    .await;
    match found {
        Ok((done, link)) => answered_with(&app, &done, link.as_deref()),
        Err(p) => problem(&app, p, false).into_response(),
    }
}

pub async fn decline(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Response {
    let desk = app.desk.clone();
    let answer = move || {
        let note = Some(f.note.as_str());
        desk.answer(&id, Answer::Decline { note }, &f.t)
    };
    match blocking(answer).await {
        Ok(done) => answered(&app, &done),
        Err(p) => problem(&app, p, false).into_response(),
    }
}

/// `GET /requests/{id}/withdraw?t=…`: the mentee's own link; shows a confirmation button and
/// changes nothing.
pub async fn withdraw_page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let desk = app.desk.clone();
    let (i, t) = (id.clone(), q.t.clone());
    let r = match blocking(move || desk.open(&i, "withdraw", &t)).await {
        Ok(r) => r,
        Err(p) => return problem(&app, p, true).into_response(),
    };
    if r.status.is_closed() {
        return problem(&app, Problem::Closed(Box::new(r)), true).into_response();
    }
    let mut ctx = page_context(&app, &r);
    ctx.insert("token", &q.t);
    ctx.insert(
        "action",
        &format!("{}/requests/{id}/withdraw", app.desk.service_base()),
    );
    app.pages.render(StatusCode::OK, "withdraw.html", &ctx)
}

/// `POST /requests/{id}/withdraw`: the mentor and the admin are told.
pub async fn withdraw(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Response {
    let desk = app.desk.clone();
    match blocking(move || desk.withdraw(&id, &f.t)).await {
        Ok(Done::Changed(r) | Done::Already(r)) if r.status == Status::Completed => {
            // The words are the theme's (`match_ended.html`).
            let ctx = page_context(&app, &r);
            app.pages.render(StatusCode::OK, "match_ended.html", &ctx)
        }
        Ok(Done::Changed(_)) => app.pages.outcome(
            StatusCode::OK,
            "Your request is withdrawn",
            "We have told the mentor and the scheme's team. You are welcome to choose another mentor whenever you are ready.",
        ),
        Ok(Done::Already(_)) => app.pages.outcome(
            StatusCode::OK,
            "Your request is withdrawn",
            "It was withdrawn already; nothing more is needed.",
        ),
        Err(p) => problem(&app, p, true).into_response(),
    }
}

pub(super) fn page_context(app: &App, r: &StoredRequest) -> tera::Context {
    let mut ctx = app.pages.context();
    ctx.insert("request", &RequestFacts::of(r));
    ctx.insert("status", r.status.as_str());
    if let Some(c) = app.desk.directory.get(&r.mentor) {
        ctx.insert(
            "mentor",
            &MentorLink {
                name: c.name,
                url: c.url,
            },
        );
    }
    ctx
}

/// The mentor's answer was recorded (now or before).
fn answered(app: &App, done: &Done) -> Response {
    answered_with(app, done, None)
}

/// The same, with the sessions link for a mentor who accepted.
fn answered_with(app: &App, done: &Done, sessions_url: Option<&str>) -> Response {
    let (title, message) = match done {
        Done::Changed(r) if r.status == Status::Accepted => (
            "Thank you for accepting".to_string(),
            format!(
                "We have sent {} your contact details and told the scheme's team. They will be in touch to arrange a first conversation.",
                r.name
            ),
        ),
        Done::Changed(r) => (
            "Thank you for letting us know".to_string(),
            format!(
                "We have told {} kindly and pointed them to other mentors. Thank you for answering.",
                r.name
            ),
        ),
        Done::Already(r) => (
            format!("You have {} this request", r.status),
            "Your answer is recorded; nothing more is needed.".to_string(),
        ),
    };
    let accepted = match done {
        Done::Changed(r) | Done::Already(r) => r.status == Status::Accepted,
    };
    let mut ctx = app.pages.context();
    ctx.insert("title", &title);
    ctx.insert("message", &message);
    ctx.insert(
        "sessions_url",
        &sessions_url.filter(|_| accepted).unwrap_or(""),
    );
    app.pages
        .render(StatusCode::OK, "respond_outcome.html", &ctx)
}

/// Why a link's action was not carried out, for the mentor or (`mentee`) the mentee.
pub(super) fn problem(app: &App, p: Problem, mentee: bool) -> WebError {
    let e = match p {
        Problem::Token(TokenError::Expired) => WebError::link(
            StatusCode::GONE,
            "expired",
            "This link has expired",
            "The link in your email is no longer valid. If you still want to answer, please write to the scheme's team.",
        ),
        Problem::Token(TokenError::Malformed | TokenError::BadSignature) => WebError::link(
            StatusCode::FORBIDDEN,
            "bad_token",
            "This link is not valid",
            "The link may have been cut short or changed when it was copied. Please open it straight from your email.",
        ),
        Problem::NotFound => WebError::link(
            StatusCode::NOT_FOUND,
            "not_found",
            "We could not find this request",
            "It may have been removed under the scheme's retention rules.",
        ),
        Problem::BadNote => WebError::link(
            StatusCode::BAD_REQUEST,
            "bad_note",
            "Please shorten your note",
            format!(
                "A note can be up to {MAX_NOTE} characters of plain text. Please go back and try again."
            ),
        ),
        Problem::AnsweredOtherwise(r) if r.status == Status::Accepted => WebError::link(
            StatusCode::CONFLICT,
            "accepted",
            "You have already accepted this request",
            "The mentee has your contact details. If you can no longer mentor them, please write to the scheme's team, who will help them find someone else.",
        ),
        Problem::AnsweredOtherwise(_) => WebError::link(
            StatusCode::CONFLICT,
            "declined",
            "You declined this request earlier",
            "The mentee has been told and pointed to other mentors. If you would like to mentor them after all, please write to the scheme's team.",
        ),
        Problem::Full(r) => WebError::link(
            StatusCode::CONFLICT,
            "full",
            "You are mentoring as many people as you offered",
            format!(
                "So this request is not accepted yet. If you can take on {} as well, please write to the scheme's team; or decline it from the link in your email, and we will tell them kindly and point them to other mentors.",
                r.name
            ),
        ),
        Problem::Closed(r) => closed(&r, mentee),
        // The sessions and feedback pages show these beside their forms; a page that could
        // not be loaded again to do so says it plainly.
        Problem::Invalid(_) => WebError::link(
            StatusCode::BAD_REQUEST,
            "invalid",
            "Please check the form",
            "Nothing was changed. Please go back and check what you entered.",
        ),
        Problem::TooLate { concern: true } => WebError::link(
            StatusCode::CONFLICT,
            "too_late",
            "That record can no longer be corrected",
            "Records can be corrected for a week. We have emailed the scheme's team about your concern; please write to them to change the record.",
        ),
        Problem::TooLate { .. } => WebError::link(
            StatusCode::CONFLICT,
            "too_late",
            "That record can no longer be corrected",
            "Records can be corrected for a week. Please write to the scheme's team to change an older one.",
        ),
        Problem::EarlierBlock(_) if mentee => WebError::link(
            StatusCode::CONFLICT,
            "earlier_block",
            "This link is from before your mentoring was extended",
            "Nothing was changed. We send a new feedback link each time the mentoring ends: please use the one in the newest email from us.",
        ),
        Problem::EarlierBlock(_) => WebError::link(
            StatusCode::CONFLICT,
            "earlier_block",
            "This form is from before the sessions were extended",
            "Nothing was changed. Please open your sessions link again (the newest email about this match has it) and use the form there.",
        ),
        Problem::Unavailable(_) | Problem::Template(_) => WebError::link(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Something went wrong on our side",
            "Nothing was changed. Please try the link again in a few minutes.",
        )
        .retry_after(120),
    };
    e.shown_with(&app.pages, false)
}

fn closed(r: &StoredRequest, mentee: bool) -> WebError {
    let gone =
        |code, title: &str, message: String| WebError::link(StatusCode::GONE, code, title, message);
    match (r.status, mentee) {
        (Status::Lapsed, false) => gone(
            "lapsed",
            "This request has lapsed",
            format!(
                "It was not answered by {}, so the mentee has been told and can choose someone else. Nothing more is needed from you.",
                r.respond_by
            ),
        ),
        (Status::Lapsed, true) => gone(
            "lapsed",
            "This request has lapsed",
            "It was not answered in time, so there is nothing to withdraw. You are welcome to choose another mentor.".into(),
        ),
        (Status::Withdrawn, false) => gone(
            "withdrawn",
            "This request was withdrawn",
            "The mentee withdrew their request. Nothing more is needed from you.".into(),
        ),
        (Status::Withdrawn, true) => gone(
            "withdrawn",
            "This request was withdrawn",
            "Nothing more is needed.".into(),
        ),
        (Status::Completed, true) => gone(
            "completed",
            "Your mentoring has ended",
            "There is nothing to withdraw. You are welcome to choose another mentor whenever you are ready.".into(),
        ),
        (Status::Completed, false) => gone(
            "completed",
            "This mentoring has ended",
            "Thank you: nothing more is needed. If you would both like more sessions, please write to the scheme's team.".into(),
        ),
        (Status::Accepted, true) => WebError::link(
            StatusCode::CONFLICT,
            "running",
            "Your mentoring is still going",
            "The feedback form opens when it ends: we will email you a new link then.",
        ),
        (Status::Declined, true) => gone(
            "declined",
            "This request is closed",
            "The mentor was not able to take you on, so there is nothing to withdraw. You are welcome to choose another mentor.".into(),
        ),
        _ => gone("closed", "This request is closed", "Nothing more is needed.".into()),
    }
}
