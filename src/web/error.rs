//! One error type for every refusal the service answers with. A client's mistake (a bad form,
//! a stale link) is answered in words for the person and not logged; the service's own trouble
//! (storage, templates) is logged by its code and answered generically, with what the mentee
//! typed kept so nothing is lost.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::pages::{MentorLink, Pages};
use crate::requests::{Form, FormErrors};

/// Which page shows the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// `request_problem.html`: the form again, with messages and what was typed.
    Form,
    /// `respond_outcome.html`: a title and a message, for the links in mail.
    Link,
}

pub struct WebError {
    pub status: StatusCode,
    /// A word for scripts (`"error"` in JSON) and the log.
    pub code: &'static str,
    pub title: String,
    pub message: String,
    pub fields: FormErrors,
    /// What the mentee typed, shown again.
    pub kept: Option<Form>,
    /// The message typed, shown to copy (when sending the form again cannot work: the
    /// mentor is not taking requests, or has gone).
    pub copy: Option<String>,
    pub mentor: Option<MentorLink>,
    /// Seconds after which trying again may work (503).
    pub retry_after: Option<u32>,
    shown: Shown,
    json: bool,
    pages: Option<Arc<Pages>>,
}

impl WebError {
    fn new(
        shown: Shown,
        status: StatusCode,
        code: &'static str,
        title: &str,
        message: String,
    ) -> Self {
        WebError {
            status,
            code,
            title: title.to_string(),
            message,
            fields: FormErrors::default(),
            kept: None,
            copy: None,
            mentor: None,
            retry_after: None,
            shown,
            json: false,
            pages: None,
        }
    }

    /// A refused form post.
    pub fn form(
        status: StatusCode,
        code: &'static str,
        title: &str,
        message: impl Into<String>,
    ) -> Self {
        WebError::new(Shown::Form, status, code, title, message.into())
    }

    /// A link from an email that cannot be followed.
    pub fn link(
        status: StatusCode,
        code: &'static str,
        title: &str,
        message: impl Into<String>,
    ) -> Self {
        WebError::new(Shown::Link, status, code, title, message.into())
    }

    pub fn keep(mut self, form: Form) -> Self {
        self.kept = Some(form);
        self
    }

    /// Keep the message to copy, without the form (which would be refused again).
    pub fn keep_to_copy(mut self, form: &Form) -> Self {
        self.copy = form
            .message
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        self
    }

    pub fn with_fields(mut self, fields: FormErrors) -> Self {
        self.fields = fields;
        self
    }

    pub fn with_mentor(mut self, mentor: Option<MentorLink>) -> Self {
        self.mentor = mentor;
        self
    }

    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Answer as JSON (`json`) or as a page of the theme.
    pub fn shown_with(mut self, pages: &Arc<Pages>, json: bool) -> Self {
        self.pages = Some(pages.clone());
        self.json = json;
        self
    }
}

#[derive(Serialize)]
struct FormValues<'a> {
    mentor: &'a str,
    name: &'a str,
    email: &'a str,
    message: &'a str,
    mode: &'a str,
    consent: bool,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            crate::log::event(
                "web_error",
                &[("status", self.status.as_str()), ("error", self.code)],
            );
        }
        let mut response = match (&self.pages, self.json) {
            (_, true) => {
                let body = serde_json::json!({
                    "status": "refused",
                    "error": self.code,
                    "message": self.message,
                    "fields": self.fields.0,
                });
                (self.status, axum::Json(body)).into_response()
            }
            (None, false) => {
                (self.status, format!("{}\n\n{}\n", self.title, self.message)).into_response()
            }
            (Some(pages), false) if self.shown == Shown::Link => {
                pages.outcome(self.status, &self.title, &self.message)
            }
            (Some(pages), false) => {
                let mut ctx = pages.context();
                ctx.insert("title", &self.title);
                ctx.insert("message", &self.message);
                ctx.insert("errors", &self.fields.0);
                ctx.insert("error_list", &self.fields.in_form_order());
                if let Some(m) = &self.mentor {
                    ctx.insert("mentor", m);
                }
                if let Some(c) = &self.copy {
                    ctx.insert("copy", c);
                }
                if let Some(f) = &self.kept {
                    fn text(v: &Option<String>) -> &str {
                        v.as_deref().unwrap_or("")
                    }
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
                ctx.insert("action", &pages.form_action);
                pages.render(self.status, "request_problem.html", &ctx)
            }
        };
        if let Some(secs) = self.retry_after
            && let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        response
    }
}
