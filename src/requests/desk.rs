//! The request desk: the lifecycle's rules as plain functions of a store, a clock, the mentor
//! directory and the mail queue. Submit, answer, withdraw, sweep and resend (and, after a
//! match, in `desk/matches.rs`: sessions, the end, feedback, extend) each check what they are
//! given, compose the mails the change causes and store both in one transaction, then wake
//! the outbox. No HTTP here: the web handlers, the CLI and the tests all call these.

use std::sync::Arc;

use jiff::civil::Date;

use super::directory::{Contact, Directory};
use super::kinds::{MailKind, Recipient, Status};
use super::letters::{self, Addressed, Extras, Letters, Links};
use super::store::{Accepted, MailQueue, Resend, Store, StoreError, StoredRequest, Transition};
use super::{TokenError, Valid};
use crate::config::Config;
use crate::mail::{MailError, Templates};

/// Requests one address may make in a day.
pub const PER_EMAIL_PER_DAY: i64 = 5;
/// Requests one mentee may have waiting for an answer at once.
pub const PENDING_PER_MENTEE: i64 = 3;
/// The longest note a mentor may add to a decline.
pub const MAX_NOTE: usize = 1000;

/// Seconds since the epoch, now.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;
/// Milliseconds since the epoch, now (for the form's age, which is measured in them).
pub type MillisClock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The scheme's rules for deadlines, from `[scheme]` and `[requests]`.
struct Rules {
    time_zone: jiff::tz::TimeZone,
    holidays: Vec<Date>,
    response_working_days: u32,
    reminder_working_days: u32,
    retention_days: u32,
    sessions_offered: u32,
    window_months: u32,
    first_session_days: u32,
    meeting_modes: Vec<String>,
}

pub struct Desk {
    pub store: Arc<Store>,
    pub directory: Arc<Directory>,
    pub queue: Arc<MailQueue>,
    clock: Clock,
    millis: MillisClock,
    letters: Letters,
    links: Links,
    rules: Rules,
}

/// A request taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub id: String,
    pub respond_by: Date,
}

/// Why a request was not taken.
#[derive(Debug)]
pub enum Refused {
    UnknownMentor,
    NotAccepting(Contact),
    Full(Contact),
    PendingLimit,
    DailyLimit,
    /// The store cannot take it now (full disk, lock, …): try again later.
    Unavailable(StoreError),
    /// A theme's email template failed: nothing was stored.
    Template(MailError),
}

/// Why a link's action was not carried out.
#[derive(Debug)]
pub enum Problem {
    Token(TokenError),
    NotFound,
    /// The request is closed (lapsed, withdrawn, declined) for this action.
    Closed(Box<StoredRequest>),
    /// The mentor answered the other way before.
    AnsweredOtherwise(Box<StoredRequest>),
    /// The mentor already has as many running matches as they offered to take on.
    Full(Box<StoredRequest>),
    BadNote,
    /// A session record or feedback that does not pass its checks: a code per field.
    Invalid(super::sessions::Problems),
    /// A session recorded more than a week ago can no longer be corrected; `concern` when the
    /// concern box ticked on the correction was mailed to the admin all the same.
    TooLate {
        concern: bool,
    },
    /// A form or link from an earlier block of the match's sessions (before it was extended).
    EarlierBlock(Box<StoredRequest>),
    Unavailable(StoreError),
    Template(MailError),
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        Problem::Unavailable(e)
    }
}

/// What an answer or a withdrawal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// The change was made and its mails queued; the request as it is now.
    Changed(StoredRequest),
    /// It had been made before: nothing changed.
    Already(StoredRequest),
}

/// The mentor's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    Accept,
    Decline { note: Option<&'a str> },
}

impl Answer<'_> {
    pub fn action(self) -> &'static str {
        match self {
            Answer::Accept => "accept",
            Answer::Decline { .. } => "decline",
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub reminded: usize,
    pub lapsed: usize,
    /// Requests whose mentor could not be reached: held, and the admin told.
    pub unreached: usize,
    pub purged: usize,
    /// Mentors reminded to record a first session.
    pub nudged: usize,
    /// Matches whose window ended.
    pub ended: usize,
}

impl Desk {
    pub fn new(
        root: &std::path::Path,
        config: &Config,
        directory: Arc<Directory>,
        store: Arc<Store>,
        secret: Vec<u8>,
        clock: Clock,
    ) -> Result<Desk, MailError> {
        let kinds: Vec<&str> = MailKind::ALL.iter().map(|k| k.as_str()).collect();
        let templates = Templates::load(root, &config.theme, &kinds)?;
        let seconds = clock.clone();
        Ok(Desk {
            store,
            directory,
            queue: Arc::new(MailQueue::default()),
            clock,
            millis: Arc::new(move || seconds() * 1000),
            letters: Letters::new(templates, config, root),
            links: Links::new(config, secret),
            rules: Rules {
                time_zone: config.scheme.time_zone.clone(),
                holidays: config.scheme.holidays.clone(),
                response_working_days: config.scheme.response_working_days,
                reminder_working_days: config.scheme.reminder_working_days,
                retention_days: config.requests.retention_days,
                sessions_offered: config.scheme.sessions_offered,
                window_months: config.scheme.window_months,
                first_session_days: config.scheme.first_session_days,
                meeting_modes: config.scheme.meeting_modes.clone(),
            },
        })
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Now in milliseconds: by the clock given to [`Desk::with_millis`], or the seconds
    /// clock's whole seconds.
    pub fn now_millis(&self) -> i64 {
        (self.millis)()
    }

    /// Measure milliseconds with `millis` (which must agree with the seconds clock).
    pub fn with_millis(mut self, millis: MillisClock) -> Desk {
        self.millis = millis;
        self
    }

    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// Today in the scheme's time zone.
    pub fn today(&self) -> Date {
        super::local_date(self.now(), &self.rules.time_zone)
    }

    /// Where the service's links point, without a trailing slash.
    pub fn service_base(&self) -> &str {
        &self.links.base
    }

    /// A token for `action` on `id`, valid until `expires`.
    pub fn sign(&self, id: &str, action: &str, expires: i64) -> String {
        super::sign(self.links.secret(), id, action, expires)
    }

    fn deadline_from(&self, day: Date) -> Date {
        super::add_working_days(day, self.rules.response_working_days, &self.rules.holidays)
    }

    /// Take a checked request for the mentor it names: refused if the mentor is unknown, not
    /// taking requests or full, or the mentee is over a limit; otherwise stored with its three
    /// mails (mentor, admin, mentee) in one transaction, and the outbox woken.
    pub fn submit(&self, v: &Valid) -> Result<Submitted, Refused> {
        let mentor = self
            .directory
            .get(&v.mentor)
            .ok_or(Refused::UnknownMentor)?;
        let today = self.today();
        if !mentor.available(today) {
            return Err(Refused::NotAccepting(mentor));
        }
        let now = self.now();
        let respond_by = self.deadline_from(today);
        let request = StoredRequest {
            id: super::new_id(),
            created_at: now,
            mentor: v.mentor.clone(),
            name: v.name.clone(),
            email: v.email.clone(),
            mode: v.mode.clone(),
            message: v.message.clone(),
            status: Status::Pending,
            respond_by: respond_by.to_string(),
        };
        let list: [Addressed; 3] = [
            (
                MailKind::Mentor,
                Recipient::Mentor(v.mentor.clone()),
                Some(v.email.clone()),
            ),
            (MailKind::Admin, Recipient::Admin, None),
            (
                MailKind::Mentee,
                Recipient::Mentee(v.email.clone()),
                Some(self.letters.admin().to_string()),
            ),
        ];
        let respond = self
            .links
            .link(&request.id, "respond", letters::RESPOND_DAYS, now);
        let withdraw = self
            .links
            .link(&request.id, "withdraw", letters::WITHDRAW_DAYS, now);
        let extras = Extras {
            respond_url: Some(&respond),
            withdraw_url: Some(&withdraw),
            ..Extras::default()
        };
        let mails = self
            .letters
            .compose(&request, Some(&mentor), &list, &extras)
            .map_err(Refused::Template)?;
        let capacity = mentor.capacity;
        let admitted = self
            .store
            .insert(&request, &mails, now - 24 * 3600, move |c| {
                if capacity.is_some_and(|cap| c.mentor_accepted >= i64::from(cap)) {
                    Some(Refused::Full(mentor))
                } else if c.pending_from_address >= PENDING_PER_MENTEE {
                    Some(Refused::PendingLimit)
                } else if c.recent_from_address >= PER_EMAIL_PER_DAY {
                    Some(Refused::DailyLimit)
                } else {
                    None
                }
            })
            .map_err(Refused::Unavailable)?;
        admitted?;
        crate::log::event(
            "request_stored",
            &[("request", &request.id), ("mentor", &v.mentor)],
        );
        self.queue.wake();
        Ok(Submitted {
            id: request.id,
            respond_by,
        })
    }

    /// Check `token` for `action` on `id` and load the request: what the link pages show.
    pub fn open(&self, id: &str, action: &str, token: &str) -> Result<StoredRequest, Problem> {
        super::verify(self.links.secret(), token, id, action, self.now())
            .map_err(Problem::Token)?;
        self.store.get(id)?.ok_or(Problem::NotFound)
    }

    /// The mentor accepts or declines. Accepting sends the mentee the mentor's contact details
    /// and tells the admin; declining tells the mentee kindly (with the mentor's note) and the
    /// admin. A repeated click is `Already`; a lapsed or withdrawn request is `Closed`.
    pub fn answer(&self, id: &str, answer: Answer<'_>, token: &str) -> Result<Done, Problem> {
        let note = match answer {
            Answer::Decline { note } => note.map(str::trim).filter(|n| !n.is_empty()),
            Answer::Accept => None,
        };
        let note = note.map(|n| n.replace("\r\n", "\n"));
        if note.as_deref().is_some_and(|n| {
            n.chars().count() > MAX_NOTE
                || n.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
        }) {
            return Err(Problem::BadNote);
        }
        let r = self.open(id, answer.action(), token)?;
        if matches!(r.status, Status::Lapsed | Status::Withdrawn) {
            return Err(Problem::Closed(Box::new(r)));
        }
        let mentor = self.directory.get(&r.mentor);
        let mentee = Recipient::Mentee(r.email.clone());
        let (to, list): (Status, Vec<Addressed>) = match answer {
            Answer::Accept => (
                Status::Accepted,
                vec![
                    (
                        MailKind::AcceptedMentee,
                        mentee,
                        mentor.as_ref().map(|c| c.email.clone()),
                    ),
                    (
                        MailKind::AcceptedMentor,
                        Recipient::Mentor(r.mentor.clone()),
                        Some(r.email.clone()),
                    ),
                    (MailKind::AcceptedAdmin, Recipient::Admin, None),
                ],
            ),
            Answer::Decline { .. } => (
                Status::Declined,
                vec![
                    (
                        MailKind::DeclinedMentee,
                        mentee,
                        Some(self.letters.admin().to_string()),
                    ),
                    (MailKind::DeclinedAdmin, Recipient::Admin, None),
                ],
            ),
        };
        if to == Status::Accepted && mentor.is_none() {
            // Nobody to put the mentee in touch with: the mentor has left the register.
            return Err(Problem::NotFound);
        }
        let sessions_url = (to == Status::Accepted).then(|| self.first_sessions_url(&r.id));
        let extras = Extras {
            note: note.as_deref(),
            sessions_url: sessions_url.as_deref(),
            ..Extras::default()
        };
        let mails = self
            .letters
            .compose(&r, mentor.as_ref(), &list, &extras)
            .map_err(Problem::Template)?;
        let token_hash = blake3::hash(token.as_bytes()).to_hex().to_string();
        let now = self.now();
        let moved = if to == Status::Accepted {
            // Capacity is checked again here, not only at submit: two requests waiting for
            // a mentor with room for one cannot both be accepted.
            let capacity = mentor.as_ref().and_then(|c| c.capacity);
            match self
                .store
                .accept_within(id, capacity, &token_hash, &mails, now)?
            {
                Accepted::Answered(t) => t,
                Accepted::Full => {
                    crate::log::event("accept_refused_full", &[("request", id)]);
                    return Err(Problem::Full(Box::new(r)));
                }
            }
        } else {
            self.store
                .answer(id, to, note.as_deref(), &token_hash, &mails, now)?
        };
        match moved {
            Transition::Done => {
                let event = if to == Status::Accepted {
                    "request_accepted"
                } else {
                    "request_declined"
                };
                crate::log::event(event, &[("request", id)]);
                self.queue.wake();
                Ok(Done::Changed(StoredRequest { status: to, ..r }))
            }
            Transition::Already => Ok(Done::Already(StoredRequest { status: to, ..r })),
            Transition::Blocked(status @ (Status::Accepted | Status::Declined)) => {
                Err(Problem::AnsweredOtherwise(Box::new(StoredRequest {
                    status,
                    ..r
                })))
            }
            Transition::Blocked(status) => {
                Err(Problem::Closed(Box::new(StoredRequest { status, ..r })))
            }
            Transition::NotFound => Err(Problem::NotFound),
        }
    }

    /// The mentee withdraws a pending or accepted request; the mentor and the admin are told.
    pub fn withdraw(&self, id: &str, token: &str) -> Result<Done, Problem> {
        let r = self.open(id, "withdraw", token)?;
        if matches!(r.status, Status::Declined | Status::Lapsed) {
            return Err(Problem::Closed(Box::new(r)));
        }
        if matches!(r.status, Status::Accepted | Status::Completed) {
            // A match the mentee steps back from has ended: both are thanked.
            return self.end(id, super::store::Ended::Mentee, None);
        }
        let list: [Addressed; 2] = [
            (
                MailKind::WithdrawnMentor,
                Recipient::Mentor(r.mentor.clone()),
                None,
            ),
            (MailKind::WithdrawnAdmin, Recipient::Admin, None),
        ];
        let mentor = self.directory.get(&r.mentor);
        let mails = self
            .letters
            .compose(&r, mentor.as_ref(), &list, &Extras::default())
            .map_err(Problem::Template)?;
        match self.store.withdraw(id, &mails, self.now())? {
            Transition::Done => {
                crate::log::event("request_withdrawn", &[("request", id)]);
                self.queue.wake();
                Ok(Done::Changed(StoredRequest {
                    status: Status::Withdrawn,
                    ..r
                }))
            }
            Transition::Already => Ok(Done::Already(r)),
            Transition::Blocked(status) => {
                Err(Problem::Closed(Box::new(StoredRequest { status, ..r })))
            }
            Transition::NotFound => Err(Problem::NotFound),
        }
    }

    /// Reminders on the reminder day, lapse after the deadline (working days in the scheme's
    /// time zone), then the retention purge. A request whose mentor has not been reached is
    /// neither reminded nor lapsed: while its mail is retrying it waits, and once that mail has
    /// failed for good the admin is told, once. Each step is a conditional update in an
    /// immediate transaction, so sweeps are idempotent and safe when two run at once.
    pub fn sweep(&self) -> Result<SweepReport, StoreError> {
        use super::store::MailState;
        let mut report = SweepReport::default();
        let now = self.now();
        let today = self.today();
        for w in self.store.waiting()? {
            let r = &w.request;
            let Ok(respond_by) = r.respond_by.parse::<Date>() else {
                continue;
            };
            match w.mentor_mail {
                Some(MailState::Pending) => continue,
                Some(MailState::Failed) => {
                    if w.unreached_at.is_none() {
                        let list = [(MailKind::UnreachedAdmin, Recipient::Admin, None)];
                        if self
                            .queue_mails(r, &list, None, |m| self.store.unreached(&r.id, m, now))?
                        {
                            report.unreached += 1;
                            crate::log::event("request_unreached", &[("request", &r.id)]);
                        }
                    }
                    continue;
                }
                Some(MailState::Sent) | None => {}
            }
            if today > respond_by {
                let list = [
                    (
                        MailKind::LapsedMentee,
                        Recipient::Mentee(r.email.clone()),
                        Some(self.letters.admin().to_string()),
                    ),
                    (
                        MailKind::LapsedMentor,
                        Recipient::Mentor(r.mentor.clone()),
                        None,
                    ),
                    (MailKind::LapsedAdmin, Recipient::Admin, None),
                ];
                if self.queue_mails(r, &list, None, |m| self.store.lapse(&r.id, m, now))? {
                    report.lapsed += 1;
                    crate::log::event("request_lapsed", &[("request", &r.id)]);
                }
                continue;
            }
            let created = super::local_date(r.created_at, &self.rules.time_zone);
            let remind_on = super::add_working_days(
                created,
                self.rules.reminder_working_days,
                &self.rules.holidays,
            );
            if w.reminded_at.is_none() && today >= remind_on {
                let url = self
                    .links
                    .link(&r.id, "respond", letters::RESPOND_DAYS, now);
                let list = [(
                    MailKind::ReminderMentor,
                    Recipient::Mentor(r.mentor.clone()),
                    Some(r.email.clone()),
                )];
                if self.queue_mails(r, &list, Some(&url), |m| self.store.remind(&r.id, m, now))? {
                    report.reminded += 1;
                    crate::log::event("request_reminded", &[("request", &r.id)]);
                }
            }
        }
        self.sweep_matches(&mut report)?;
        let keep_from = now - i64::from(self.rules.retention_days) * 24 * 3600;
        report.purged = self.store.purge_closed_before(keep_from)?;
        if report != SweepReport::default() {
            self.queue.wake();
        }
        Ok(report)
    }

    /// Compose `list` for `r` and hand it to `store` (a conditional update); a template that
    /// fails is logged and the request left for the next sweep.
    fn queue_mails(
        &self,
        r: &StoredRequest,
        list: &[Addressed],
        respond_url: Option<&str>,
        store: impl FnOnce(&[super::store::NewMail]) -> Result<bool, StoreError>,
    ) -> Result<bool, StoreError> {
        let mentor = self.directory.get(&r.mentor);
        let extras = Extras {
            respond_url,
            ..Extras::default()
        };
        match self.letters.compose(r, mentor.as_ref(), list, &extras) {
            Ok(mails) => store(&mails),
            Err(e) => {
                crate::log::event(
                    "sweep_error",
                    &[("request", &r.id), ("error", &e.to_string())],
                );
                Ok(false)
            }
        }
    }

    /// Put mail that failed for good back in the queue. A request whose mentor had not been
    /// reached gets a new deadline counted from today. Returns the requests and kinds requeued.
    pub fn resend(&self, which: Resend<'_>) -> Result<Vec<(String, MailKind)>, StoreError> {
        let respond_by = self.deadline_from(self.today()).to_string();
        let requeued = self.store.resend(which, self.now(), &respond_by)?;
        for (request, kind) in &requeued {
            crate::log::event(
                "mail_requeued",
                &[("request", request), ("kind", kind.as_str())],
            );
        }
        if !requeued.is_empty() {
            self.queue.wake();
        }
        Ok(requeued)
    }
}

/// The service's clock: the real time, or, when `MENTORSITE_NOW` holds an RFC 3339 instant,
/// a clock that starts there and keeps ticking. That is for trying the lifecycle (reminders,
/// lapse) without waiting a week, and for the end-to-end tests; never set it in production.
pub fn clock_from_env() -> Result<(Clock, MillisClock), String> {
    let Ok(text) = std::env::var("MENTORSITE_NOW") else {
        return Ok((
            Arc::new(|| jiff::Timestamp::now().as_second()),
            Arc::new(|| jiff::Timestamp::now().as_millisecond()),
        ));
    };
    let start: jiff::Timestamp = text.trim().parse().map_err(|e| {
        format!(
            "MENTORSITE_NOW={text:?} is not an RFC 3339 instant such as 2026-11-23T09:00:00Z: {e}"
        )
    })?;
    let offset = start.as_millisecond() - jiff::Timestamp::now().as_millisecond();
    crate::log::event("clock_override", &[("now", &start.to_string())]);
    Ok((
        Arc::new(move || (jiff::Timestamp::now().as_millisecond() + offset).div_euclid(1000)),
        Arc::new(move || jiff::Timestamp::now().as_millisecond() + offset),
    ))
}

mod matches;
pub use matches::{SessionAction, SessionOutcome};

#[cfg(test)]
mod tests;
