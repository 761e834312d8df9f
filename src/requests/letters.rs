//! Composing the lifecycle's emails from the theme's templates: which facts each kind is given,
//! who it goes to, and the signed links it carries. Nothing is sent here; what is composed is
//! stored in the outbox with the change that caused it.

use jiff::civil::Date;
use serde::Serialize;
use tera::Context;

use super::directory::Contact;
use super::kinds::{MailKind, Recipient};
use super::store::{NewMail, StoredRequest};
use crate::config::Config;
use crate::mail::{self, MailError, SiteFacts, Templates};

/// How long a mentor's respond link stays valid.
pub const RESPOND_DAYS: i64 = 60;
/// How long a mentee's withdraw link stays valid.
pub const WITHDRAW_DAYS: i64 = 180;
/// How long a mentee's feedback link stays valid.
pub const FEEDBACK_DAYS: i64 = 60;
/// How long a mentor's sessions link outlives the window (corrections, a late record).
pub const SESSIONS_GRACE_DAYS: i64 = 60;

/// Signs the links that mail carries.
pub struct Links {
    /// Where the service answers, without a trailing slash.
    pub base: String,
    secret: Vec<u8>,
}

impl Links {
    pub fn new(config: &Config, secret: Vec<u8>) -> Links {
        let base = if config.requests.url.is_empty() {
            config.base_url.clone()
        } else {
            config.requests.url.clone()
        };
        Links { base, secret }
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// `<service>/requests/<id>/<action>?t=<token valid for `days` from `now`>`.
    pub fn link(&self, id: &str, action: &str, days: i64, now: i64) -> String {
        self.link_signed(id, action, action, days, now)
    }

    /// The same, with the token signed for `signed_for` (the action bound to more, such as
    /// the block of a match's sessions) rather than the bare `action`.
    pub fn link_signed(
        &self,
        id: &str,
        action: &str,
        signed_for: &str,
        days: i64,
        now: i64,
    ) -> String {
        let token = super::sign(&self.secret, id, signed_for, now + days * 24 * 3600);
        format!("{}/requests/{id}/{action}?t={token}", self.base)
    }
}

/// The theme's email templates with the scheme's facts.
pub struct Letters {
    templates: Templates,
    site: SiteFacts,
    from: String,
    admin: String,
}

/// One mail to compose: its kind, who it goes to and where a reply should go.
pub type Addressed = (MailKind, Recipient, Option<String>);

/// A request as templates (emails and the service's pages) see it.
#[derive(Serialize)]
pub struct RequestFacts<'a> {
    id: &'a str,
    name: &'a str,
    email: &'a str,
    mode: &'a str,
    message: &'a str,
    respond_by: &'a str,
    /// `Monday 30 November 2026`.
    respond_by_long: String,
}

impl RequestFacts<'_> {
    pub fn of(r: &StoredRequest) -> RequestFacts<'_> {
        RequestFacts {
            id: &r.id,
            name: &r.name,
            email: &r.email,
            mode: &r.mode,
            message: &r.message,
            respond_by: &r.respond_by,
            respond_by_long: long_date(&r.respond_by),
        }
    }
}

/// `2026-11-30` → `Monday 30 November 2026`; anything else as it is.
pub fn long_date(iso: &str) -> String {
    iso.parse::<Date>().map_or_else(
        |_| iso.to_string(),
        |d| d.strftime("%A %-d %B %Y").to_string(),
    )
}

#[derive(Serialize)]
struct MentorFacts<'a> {
    name: &'a str,
    url: &'a str,
    /// Only in the mails that give a match its contact details.
    email: &'a str,
    phone: Option<&'a str>,
}

/// What else a mail may say.
#[derive(Default)]
pub struct Extras<'a> {
    pub note: Option<&'a str>,
    pub respond_url: Option<&'a str>,
    pub withdraw_url: Option<&'a str>,
    /// The mentor's session records.
    pub sessions_url: Option<&'a str>,
    /// The mentee's feedback form.
    pub feedback_url: Option<&'a str>,
    /// The match, for the mails sent after it.
    pub after: Option<&'a AfterFacts>,
    /// What makes this mail unlike an earlier one of its kind for the same request (a second
    /// concern, an end after an extension): part of its Message-ID.
    pub occasion: Option<&'a str>,
}

/// A match as the mails after it see it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AfterFacts {
    /// Sessions recorded.
    pub held: u32,
    /// Sessions allowed in all.
    pub allowed: u32,
    pub window_ends: String,
    /// `Friday 14 May 2027`.
    pub window_ends_long: String,
    /// How it ended: `sessions_used`, `window_ended`, `mentor`, `mentee`; "" while running.
    pub ended: &'static str,
    /// The session a concern was raised in (to the admin only).
    pub session: Option<SessionFacts>,
    pub feedback: Option<FeedbackFacts>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionFacts {
    pub held_on: String,
    pub held_on_long: String,
    pub minutes: u32,
    pub mode: String,
    /// The mentor's note for the scheme's team: never in a mentee's mail.
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FeedbackFacts {
    pub helpful: u8,
    pub helped: String,
    pub more_sessions: bool,
    pub another_mentor: bool,
}

impl Letters {
    pub fn new(templates: Templates, config: &Config, root: &std::path::Path) -> Letters {
        Letters {
            templates,
            site: SiteFacts::of(config, root),
            from: config.email.from.clone(),
            admin: config.scheme.admin_email.clone(),
        }
    }

    pub fn admin(&self) -> &str {
        &self.admin
    }

    /// Compose `list` for request `r` with mentor `contact` (if still on the register).
    pub fn compose(
        &self,
        r: &StoredRequest,
        contact: Option<&Contact>,
        list: &[Addressed],
        extras: &Extras<'_>,
    ) -> Result<Vec<NewMail>, MailError> {
        let mut ctx = Context::new();
        ctx.insert("site", &self.site);
        ctx.insert("request", &RequestFacts::of(r));
        ctx.insert("note", &extras.note.unwrap_or(""));
        ctx.insert("respond_url", &extras.respond_url.unwrap_or(""));
        ctx.insert("withdraw_url", &extras.withdraw_url.unwrap_or(""));
        ctx.insert("sessions_url", &extras.sessions_url.unwrap_or(""));
        ctx.insert("feedback_url", &extras.feedback_url.unwrap_or(""));
        let none = AfterFacts::default();
        ctx.insert("after", extras.after.unwrap_or(&none));
        list.iter()
            .map(|(kind, to, reply_to)| {
                let shares = shares_contact(*kind);
                let mut ctx = ctx.clone();
                ctx.insert(
                    "mentor",
                    &MentorFacts {
                        name: contact.map_or(r.mentor.as_str(), |c| c.name.as_str()),
                        url: contact.map_or("", |c| c.url.as_str()),
                        email: contact.filter(|_| shares).map_or("", |c| c.email.as_str()),
                        phone: contact.filter(|_| shares).and_then(|c| c.phone.as_deref()),
                    },
                );
                let c = self.templates.compose(kind.as_str(), &ctx)?;
                let id_word = match extras.occasion {
                    Some(o) if kind.repeats() => format!("{}.{o}", kind.as_str()),
                    _ => kind.as_str().to_string(),
                };
                Ok(NewMail {
                    kind: *kind,
                    recipient: to.clone(),
                    subject: c.subject,
                    text_body: c.text,
                    html_body: c.html,
                    reply_to: reply_to.clone(),
                    message_id: mail::message_id(&r.id, &id_word, &self.from),
                })
            })
            .collect()
    }
}

/// The mails that put a mentor and a mentee in touch carry the mentor's private details.
fn shares_contact(kind: MailKind) -> bool {
    matches!(
        kind,
        MailKind::AcceptedMentee | MailKind::AcceptedMentor | MailKind::AcceptedAdmin
    )
}
