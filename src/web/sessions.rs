//! The links after a match: `GET /requests/{id}/sessions` shows the mentor the sessions so far
//! and the forms (record, correct, "we have finished") and changes nothing; `POST` acts, each
//! form with its own single-use token. `GET`/`POST …/feedback` are the mentee's, on the same
//! rules. HTTP only: the desk checks, stores and queues the mail.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::respond::{TokenQuery, page_context, problem};
use super::{App, blocking};
use crate::requests::desk::{Done, Problem, SessionAction, SessionOutcome};
use crate::requests::sessions::{FeedbackForm, Problems, SessionForm, SessionView};
use crate::requests::store::MatchRecord;

/// Every field of every form on the sessions page.
#[derive(Debug, Default, Deserialize)]
pub struct SessionsPost {
    #[serde(default)]
    t: String,
    #[serde(default)]
    n: String,
    #[serde(default)]
    intent: String,
    #[serde(default)]
    session: String,
    date: Option<String>,
    minutes: Option<String>,
    mode: Option<String>,
    note: Option<String>,
    concern: Option<String>,
}

impl SessionsPost {
    fn form(&self) -> SessionForm {
        SessionForm {
            date: self.date.clone(),
            minutes: self.minutes.clone(),
            mode: self.mode.clone(),
            note: self.note.clone(),
            concern: self.concern.clone(),
        }
    }
}

/// A session form's values as the page shows them again.
#[derive(Debug, Clone, Default, Serialize)]
struct Kept {
    date: String,
    minutes: String,
    mode: String,
    note: String,
    concern: bool,
}

impl Kept {
    fn of(f: &SessionForm) -> Kept {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        Kept {
            date: s(&f.date),
            minutes: s(&f.minutes),
            mode: s(&f.mode),
            note: s(&f.note),
            concern: f.concern.is_some(),
        }
    }

    fn of_session(s: &SessionView) -> Kept {
        Kept {
            date: s.held_on.clone(),
            minutes: s.minutes.to_string(),
            mode: s.mode.clone(),
            note: s.note.clone(),
            concern: s.concern,
        }
    }
}

#[derive(Serialize)]
struct FormTokens {
    t: String,
    n: String,
    f: Kept,
    errs: Problems,
    open: bool,
}

#[derive(Serialize)]
struct Row {
    s: SessionView,
    fix: Option<FormTokens>,
}

/// What a post left to show: the outcome, or the form it came from with its problems.
#[derive(Default)]
struct Shown {
    done: Option<&'static str>,
    concern: bool,
    /// `(session being corrected, or None for a new record; values; problems)`.
    invalid: Option<(Option<i64>, Kept, Problems)>,
    /// A correction that could not be made, as typed, for the mentor to send the team.
    typed: Option<Kept>,
}

/// The page's token expiry: the link's, carried by its `t`.
fn expiry_of(token: &str, fallback: i64) -> i64 {
    token
        .split('.')
        .next()
        .and_then(|e| e.parse().ok())
        .unwrap_or(fallback)
}

fn render_sessions(
    app: &App,
    status: StatusCode,
    m: &MatchRecord,
    expires: i64,
    shown: Shown,
) -> Response {
    let desk = &app.desk;
    let id = &m.request.id;
    let view = desk.match_view(m);
    let link = match desk.sessions_url(id) {
        Ok(l) => l,
        Err(p) => return problem(app, p, false).into_response(),
    };
    let mut ctx = page_context(app, &m.request);
    let tokens = |action: SessionAction<'_>, f: Kept, errs: Problems, open: bool| {
        let (n, t) = desk.form_token(m, &action, expires);
        FormTokens {
            t,
            n,
            f,
            errs,
            open,
        }
    };
    let blank = SessionForm::default();
    let (new_f, new_errs) = match &shown.invalid {
        Some((None, kept, errs)) => (kept.clone(), errs.clone()),
        _ => (Kept::default(), Problems::new()),
    };
    let rows: Vec<Row> = view
        .sessions
        .iter()
        .map(|s| {
            let fix = s.correctable.then(|| match &shown.invalid {
                Some((Some(sid), kept, errs)) if *sid == s.id => tokens(
                    SessionAction::Correct(s.id, &blank),
                    kept.clone(),
                    errs.clone(),
                    true,
                ),
                _ => tokens(
                    SessionAction::Correct(s.id, &blank),
                    Kept::of_session(s),
                    Problems::new(),
                    false,
                ),
            });
            Row { s: s.clone(), fix }
        })
        .collect();
    ctx.insert("match", &view);
    ctx.insert("rows", &rows);
    ctx.insert("modes", desk.meeting_modes());
    ctx.insert(
        "record",
        &tokens(SessionAction::Record(&blank), new_f, new_errs, false),
    );
    ctx.insert(
        "finish",
        &tokens(
            SessionAction::Finish,
            Kept::default(),
            Problems::new(),
            false,
        ),
    );
    ctx.insert(
        "action",
        &format!("{}/requests/{id}/sessions", desk.service_base()),
    );
    ctx.insert("link", &link);
    ctx.insert("done", &shown.done.unwrap_or(""));
    ctx.insert("concern", &shown.concern);
    ctx.insert("typed", &shown.typed);
    ctx.insert("errors", &shown.invalid.is_some());
    app.pages.render(status, "sessions.html", &ctx)
}

/// `GET /requests/{id}/sessions?t=…`: read-only.
pub async fn page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let desk = app.desk.clone();
    let t = q.t.clone();
    match blocking(move || desk.open_match(&id, &t)).await {
        Ok(m) => {
            let expires = expiry_of(&q.t, app.desk.now());
            render_sessions(&app, StatusCode::OK, &m, expires, Shown::default())
        }
        Err(p) => problem(&app, p, false).into_response(),
    }
}

/// `POST /requests/{id}/sessions`: record, correct or finish.
pub async fn post(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Form(f): Form<SessionsPost>,
) -> Response {
    let desk = app.desk.clone();
    let form = f.form();
    let correcting = f.session.trim().parse::<i64>().ok();
    let intent = f.intent.clone();
    let (t, n, i) = (f.t.clone(), f.n.clone(), id.clone());
    let kept = Kept::of(&form);
    let done = blocking(move || {
        let action = match (intent.as_str(), correcting) {
            ("finish", _) => SessionAction::Finish,
            ("correct", Some(sid)) => SessionAction::Correct(sid, &form),
            _ => SessionAction::Record(&form),
        };
        let result = desk.sessions_post(&i, action, &t, &n);
        // The match as it is now, for a page that shows a refusal with the form again.
        let m = match &result {
            Err(Problem::Invalid(_) | Problem::TooLate { .. }) => {
                desk.store.match_record(&i).ok().flatten()
            }
            _ => None,
        };
        (result, m)
    })
    .await;
    let expires = expiry_of(&f.t, app.desk.now());
    let correcting = (f.intent == "correct").then_some(correcting).flatten();
    match done {
        (Ok((outcome, m)), _) => {
            let shown = match outcome {
                SessionOutcome::Recorded { concern, completed } => Shown {
                    done: Some(if completed { "completed" } else { "recorded" }),
                    concern,
                    ..Shown::default()
                },
                SessionOutcome::Corrected { concern } => Shown {
                    done: Some("corrected"),
                    concern,
                    ..Shown::default()
                },
                SessionOutcome::Finished => Shown {
                    done: Some("finished"),
                    ..Shown::default()
                },
                SessionOutcome::Already => Shown {
                    done: Some("already"),
                    ..Shown::default()
                },
            };
            render_sessions(&app, StatusCode::OK, &m, expires, shown)
        }
        (Err(Problem::Invalid(errs)), Some(m)) => {
            let shown = Shown {
                invalid: Some((correcting, kept, errs)),
                ..Shown::default()
            };
            render_sessions(&app, StatusCode::BAD_REQUEST, &m, expires, shown)
        }
        (Err(Problem::TooLate { concern }), Some(m)) => {
            let shown = Shown {
                done: Some("too_late"),
                concern,
                typed: Some(kept),
                ..Shown::default()
            };
            render_sessions(&app, StatusCode::CONFLICT, &m, expires, shown)
        }
        (Err(p), _) => problem(&app, p, false).into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct FeedbackPost {
    #[serde(default)]
    t: String,
    helpful: Option<String>,
    helped: Option<String>,
    more_sessions: Option<String>,
    another_mentor: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct FeedbackKept {
    helpful: String,
    helped: String,
    more_sessions: bool,
    another_mentor: bool,
}

fn render_feedback(
    app: &App,
    status: StatusCode,
    r: &crate::requests::store::StoredRequest,
    token: &str,
    done: &str,
    kept: FeedbackKept,
    errors: Problems,
) -> Response {
    let mut ctx = page_context(app, r);
    ctx.insert("token", token);
    ctx.insert(
        "action",
        &format!("{}/requests/{}/feedback", app.desk.service_base(), r.id),
    );
    ctx.insert("done", done);
    ctx.insert("kept", &kept);
    ctx.insert("errors", &errors);
    app.pages.render(status, "feedback.html", &ctx)
}

/// `GET /requests/{id}/feedback?t=…`: the mentee's form; changes nothing.
pub async fn feedback_page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let desk = app.desk.clone();
    let t = q.t.clone();
    let found = blocking(move || {
        let r = desk.open_feedback(&id, &t)?;
        let given = desk.has_feedback(&id)?;
        Ok::<_, Problem>((r, given))
    })
    .await;
    match found {
        Ok((r, given)) => {
            let done = if given { "already" } else { "" };
            render_feedback(
                &app,
                StatusCode::OK,
                &r,
                &q.t,
                done,
                FeedbackKept::default(),
                Problems::new(),
            )
        }
        Err(p) => problem(&app, p, true).into_response(),
    }
}

/// `POST /requests/{id}/feedback`: stored once, and mailed to the admin.
pub async fn feedback(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Form(f): Form<FeedbackPost>,
) -> Response {
    let desk = app.desk.clone();
    let form = FeedbackForm {
        helpful: f.helpful.clone(),
        helped: f.helped.clone(),
        more_sessions: f.more_sessions.clone(),
        another_mentor: f.another_mentor.clone(),
    };
    let kept = FeedbackKept {
        helpful: f.helpful.clone().unwrap_or_default(),
        helped: f.helped.clone().unwrap_or_default(),
        more_sessions: f.more_sessions.is_some(),
        another_mentor: f.another_mentor.is_some(),
    };
    let t = f.t.clone();
    let i = id.clone();
    let result = blocking(move || {
        let r = desk.give_feedback(&i, &t, &form);
        let request = match &r {
            Err(Problem::Invalid(_)) => desk.store.get(&i).ok().flatten(),
            _ => None,
        };
        (r, request)
    })
    .await;
    match result {
        (Ok(Done::Changed(r)), _) => render_feedback(
            &app,
            StatusCode::OK,
            &r,
            &f.t,
            "given",
            FeedbackKept::default(),
            Problems::new(),
        ),
        (Ok(Done::Already(r)), _) => render_feedback(
            &app,
            StatusCode::OK,
            &r,
            &f.t,
            "already",
            FeedbackKept::default(),
            Problems::new(),
        ),
        (Err(Problem::Invalid(errs)), Some(r)) => {
            render_feedback(&app, StatusCode::BAD_REQUEST, &r, &f.t, "", kept, errs)
        }
        (Err(p), _) => problem(&app, p, true).into_response(),
    }
}
