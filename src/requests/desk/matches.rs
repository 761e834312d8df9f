//! The desk after the match: session records (and the concern box), the end of a match (the
//! sessions used, the window ended, either side), the first-session nudge, the mentee's
//! feedback and `requests extend`. The same rules as requests: signed tokens bound to the
//! request and the action, each form's token used once, the change and its mail stored in one
//! transaction, then the outbox woken.

use jiff::civil::Date;

use super::super::letters::{
    self, AfterFacts, Extras, FEEDBACK_DAYS, FeedbackFacts, SESSIONS_GRACE_DAYS, SessionFacts,
};
use super::super::sessions::{self, CORRECT_DAYS, FeedbackForm, MatchView, SessionForm, Terms};
use super::super::store::{Ended, MatchRecord, NewSession, Recorded, SessionChange, Transition};
use super::{
    Addressed, Desk, Done, MailKind, Problem, Recipient, Status, StoreError, SweepReport,
    TokenError,
};

/// What the mentor asked of the sessions page.
#[derive(Debug, Clone, Copy)]
pub enum SessionAction<'a> {
    Record(&'a SessionForm),
    Correct(i64, &'a SessionForm),
    /// "We have finished."
    Finish,
}

impl SessionAction<'_> {
    /// The word its token is signed for (with the form's nonce after it). "We have finished"
    /// is bound to the match's block of sessions too (`block`, its extension count), so a
    /// form from before `requests extend` cannot end the new block.
    pub fn action(&self, block: u32) -> String {
        match self {
            SessionAction::Record(_) => "record".into(),
            SessionAction::Correct(id, _) => format!("correct-{id}"),
            SessionAction::Finish => for_block("finish", block),
        }
    }
}

/// `word` bound to block `block` of a match's sessions. The first block keeps the plain word,
/// so the links sent before blocks were bound still work for it.
fn for_block(word: &str, block: u32) -> String {
    if block == 0 {
        word.to_string()
    } else {
        format!("{word}-b{block}")
    }
}

/// What a post to the sessions page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOutcome {
    /// A session stored; `concern` when the admin was mailed; `completed` when it was the last.
    Recorded {
        concern: bool,
        completed: bool,
    },
    Corrected {
        concern: bool,
    },
    Finished,
    /// The same form was posted before: nothing changed.
    Already,
}

/// A form nonce: letters and digits only, so it cannot change what the token is bound to.
fn nonce_ok(n: &str) -> bool {
    !n.is_empty() && n.len() <= 40 && n.chars().all(|c| c.is_ascii_alphanumeric())
}

impl Desk {
    /// A match's window and sessions: as extended, or the scheme's from the day of the accept.
    pub fn terms(&self, m: &MatchRecord) -> Terms {
        Terms::of(
            m,
            self.rules.sessions_offered,
            self.rules.window_months,
            &self.rules.time_zone,
        )
    }

    /// The last day of a window that opens on `day`.
    fn window_from(&self, day: Date) -> Date {
        sessions::window_from(day, self.rules.window_months)
    }

    /// The match as its pages show it.
    pub fn match_view(&self, m: &MatchRecord) -> MatchView {
        MatchView::of(m, self.terms(m), self.today(), self.now())
    }

    /// The scheme's meeting modes, as the session form offers them.
    pub fn meeting_modes(&self) -> &[String] {
        &self.rules.meeting_modes
    }

    /// The mentor's sessions link, valid until `SESSIONS_GRACE_DAYS` after the window ends.
    fn sessions_url_until(&self, id: &str, window_ends: Date) -> String {
        let days = self
            .today()
            .until(window_ends)
            .map_or(0, |s| i64::from(s.get_days()));
        self.links.link(
            id,
            "sessions",
            days.max(0) + SESSIONS_GRACE_DAYS,
            self.now(),
        )
    }

    /// The sessions link for a match made today (the accept).
    pub(super) fn first_sessions_url(&self, id: &str) -> String {
        self.sessions_url_until(id, self.window_from(self.today()))
    }

    /// The sessions link for match `id` as it stands: what every sessions page carries.
    pub fn sessions_url(&self, id: &str) -> Result<String, Problem> {
        let m = self.store.match_record(id)?.ok_or(Problem::NotFound)?;
        Ok(self.sessions_url_until(id, self.terms(&m).window_ends))
    }

    /// A token for one of the sessions page's forms: `(nonce, token)`, valid until `expires`.
    /// The nonce makes each form's token its own, so a form posted twice acts once.
    pub fn form_token(
        &self,
        m: &MatchRecord,
        action: &SessionAction<'_>,
        expires: i64,
    ) -> (String, String) {
        let nonce = super::super::new_id();
        let signed_for = format!("{}.{nonce}", action.action(m.extended));
        let token = self.sign(&m.request.id, &signed_for, expires);
        (nonce, token)
    }

    /// Check `token`, signed for `signed_for(block)`, against match `id` as it is now
    /// (`found`), and return the match. A token for an earlier block of the match (before
    /// `requests extend`) is `EarlierBlock`; an unknown id is a bad token, as for requests.
    fn verify_match(
        &self,
        id: &str,
        found: Option<MatchRecord>,
        token: &str,
        signed_for: impl Fn(u32) -> String,
    ) -> Result<MatchRecord, Problem> {
        let secret = self.links.secret();
        let now = self.now();
        let block = found.as_ref().map_or(0, |m| m.extended);
        let verify = |b: u32| super::super::verify(secret, token, id, &signed_for(b), now);
        match verify(block) {
            Ok(()) => found.ok_or(Problem::NotFound),
            Err(TokenError::BadSignature) => {
                let earlier = (0..block).any(|b| {
                    !matches!(
                        verify(b),
                        Err(TokenError::BadSignature | TokenError::Malformed)
                    )
                });
                match found {
                    Some(m) if earlier => Err(Problem::EarlierBlock(Box::new(m.request))),
                    _ => Err(Problem::Token(TokenError::BadSignature)),
                }
            }
            Err(e) => Err(Problem::Token(e)),
        }
    }

    /// Check the sessions link and load the match (running or completed).
    pub fn open_match(&self, id: &str, token: &str) -> Result<MatchRecord, Problem> {
        let r = self.open(id, "sessions", token)?;
        if !matches!(r.status, Status::Accepted | Status::Completed) {
            return Err(Problem::Closed(Box::new(r)));
        }
        self.store.match_record(id)?.ok_or(Problem::NotFound)
    }

    /// Record, correct or finish, from a form of the sessions page (`token` and `nonce` are
    /// the form's). Returns what was done and the match as it is now.
    pub fn sessions_post(
        &self,
        id: &str,
        action: SessionAction<'_>,
        token: &str,
        nonce: &str,
    ) -> Result<(SessionOutcome, MatchRecord), Problem> {
        if !nonce_ok(nonce) {
            return Err(Problem::Token(super::super::TokenError::Malformed));
        }
        let found = self.store.match_record(id)?;
        let m = self.verify_match(id, found, token, |block| {
            format!("{}.{nonce}", action.action(block))
        })?;
        let r = m.request.clone();
        let token_hash = blake3::hash(token.as_bytes()).to_hex().to_string();
        // A form posted again is "sent already" before anything else: the last session
        // posted twice has completed the match by the second post.
        if self.store.token_used(&token_hash)? {
            return Ok((SessionOutcome::Already, m));
        }
        if !matches!(r.status, Status::Accepted | Status::Completed) {
            return Err(Problem::Closed(Box::new(r)));
        }
        let terms = self.terms(&m);
        let now = self.now();
        let outcome = match action {
            SessionAction::Finish => match self.end(id, Ended::Mentor, Some(&token_hash))? {
                Done::Changed(_) => SessionOutcome::Finished,
                Done::Already(_) => SessionOutcome::Already,
            },
            SessionAction::Record(form) => {
                if r.status != Status::Accepted {
                    return Err(Problem::Closed(Box::new(r)));
                }
                let s = self.check(form, terms)?;
                // The count as the page shows it after this record.
                let held = m.sessions.len() as u32 + 1;
                let concern = self.concern_mails(&m, &s, held, nonce)?;
                let mut after = self.after(&m, terms, Ended::SessionsUsed);
                after.held += 1;
                let completion = self.completion_mails(&m, &after)?;
                match self.store.record_session(
                    id,
                    &s,
                    &token_hash,
                    terms.allowed,
                    &concern,
                    &completion,
                    now,
                )? {
                    Recorded::Done { completed } => {
                        crate::log::event("session_recorded", &[("request", id)]);
                        if s.concern {
                            crate::log::event("concern_raised", &[("request", id)]);
                        }
                        if completed {
                            crate::log::event("match_completed", &[("request", id)]);
                        }
                        self.queue.wake();
                        SessionOutcome::Recorded {
                            concern: s.concern,
                            completed,
                        }
                    }
                    Recorded::Already => SessionOutcome::Already,
                    Recorded::Blocked(status) => {
                        return Err(Problem::Closed(Box::new(super::StoredRequest {
                            status,
                            ..r
                        })));
                    }
                    Recorded::NotFound => return Err(Problem::NotFound),
                }
            }
            SessionAction::Correct(session_id, form) => {
                let s = self.check(form, terms)?;
                let held = m.sessions.len() as u32;
                let concern = self.concern_mails(&m, &s, held, nonce)?;
                let since = now - CORRECT_DAYS * 24 * 3600;
                match self.store.correct_session(
                    id,
                    session_id,
                    &s,
                    &token_hash,
                    since,
                    &concern,
                    now,
                )? {
                    SessionChange::Done { concern_raised } => {
                        crate::log::event("session_corrected", &[("request", id)]);
                        if concern_raised {
                            crate::log::event("concern_raised", &[("request", id)]);
                            self.queue.wake();
                        }
                        SessionOutcome::Corrected {
                            concern: concern_raised,
                        }
                    }
                    SessionChange::Already => SessionOutcome::Already,
                    SessionChange::TooLate { concern_raised } => {
                        if concern_raised {
                            crate::log::event("concern_raised", &[("request", id)]);
                            self.queue.wake();
                        }
                        return Err(Problem::TooLate {
                            concern: concern_raised,
                        });
                    }
                    SessionChange::NotFound => return Err(Problem::NotFound),
                    SessionChange::Blocked(status) => {
                        return Err(Problem::Closed(Box::new(super::StoredRequest {
                            status,
                            ..r
                        })));
                    }
                }
            }
        };
        let after = self.store.match_record(id)?.ok_or(Problem::NotFound)?;
        Ok((outcome, after))
    }

    fn check(&self, form: &SessionForm, terms: Terms) -> Result<NewSession, Problem> {
        sessions::check_session(
            form,
            self.today(),
            terms.matched_on,
            &self.rules.meeting_modes,
        )
        .map_err(Problem::Invalid)
    }

    /// The match's facts for the mails after it.
    fn after(&self, m: &MatchRecord, terms: Terms, ended: Ended) -> AfterFacts {
        AfterFacts {
            held: m.sessions.len() as u32,
            allowed: terms.allowed,
            window_ends: terms.window_ends.to_string(),
            window_ends_long: letters::long_date(&terms.window_ends.to_string()),
            ended: ended.as_str(),
            session: None,
            feedback: None,
        }
    }

    /// The admin's mail for a concern raised in session `s`, with `held` sessions recorded
    /// counting it (empty when the box is not ticked; the store queues it only when it is).
    fn concern_mails(
        &self,
        m: &MatchRecord,
        s: &NewSession,
        held: u32,
        nonce: &str,
    ) -> Result<Vec<super::super::store::NewMail>, Problem> {
        if !s.concern {
            return Ok(Vec::new());
        }
        let terms = self.terms(m);
        let mut after = self.after(m, terms, Ended::SessionsUsed);
        after.ended = "";
        after.held = held;
        after.session = Some(SessionFacts {
            held_on: s.held_on.clone(),
            held_on_long: letters::long_date(&s.held_on),
            minutes: s.minutes,
            mode: s.mode.clone(),
            note: s.note.clone().unwrap_or_default(),
        });
        let mentor = self.directory.get(&m.request.mentor);
        let list: [Addressed; 1] = [(
            MailKind::ConcernAdmin,
            Recipient::Admin,
            mentor.as_ref().map(|c| c.email.clone()),
        )];
        let extras = Extras {
            after: Some(&after),
            occasion: Some(nonce),
            ..Extras::default()
        };
        self.letters
            .compose(&m.request, mentor.as_ref(), &list, &extras)
            .map_err(Problem::Template)
    }

    /// The thanks to both and the admin's note when a match ends, with the mentee's feedback
    /// link.
    fn completion_mails(
        &self,
        m: &MatchRecord,
        after: &AfterFacts,
    ) -> Result<Vec<super::super::store::NewMail>, Problem> {
        let r = &m.request;
        let feedback = self.links.link_signed(
            &r.id,
            "feedback",
            &for_block("feedback", m.extended),
            FEEDBACK_DAYS,
            self.now(),
        );
        let list: [Addressed; 3] = [
            (
                MailKind::CompletedMentee,
                Recipient::Mentee(r.email.clone()),
                Some(self.letters.admin().to_string()),
            ),
            (
                MailKind::CompletedMentor,
                Recipient::Mentor(r.mentor.clone()),
                None,
            ),
            (MailKind::CompletedAdmin, Recipient::Admin, None),
        ];
        let block = format!("block{}", m.extended);
        let extras = Extras {
            feedback_url: Some(&feedback),
            after: Some(after),
            occasion: Some(&block),
            ..Extras::default()
        };
        let mentor = self.directory.get(&r.mentor);
        self.letters
            .compose(r, mentor.as_ref(), &list, &extras)
            .map_err(Problem::Template)
    }

    /// End a running match because one side said so; both are thanked. `token_hash`: the
    /// form's, which acts once.
    pub(super) fn end(
        &self,
        id: &str,
        ended: Ended,
        token_hash: Option<&str>,
    ) -> Result<Done, Problem> {
        let m = self.store.match_record(id)?.ok_or(Problem::NotFound)?;
        let terms = self.terms(&m);
        let after = self.after(&m, terms, ended);
        let mails = self.completion_mails(&m, &after)?;
        let r = m.request.clone();
        match self
            .store
            .finish(id, ended, token_hash, &mails, self.now())?
        {
            Transition::Done => {
                crate::log::event(
                    "match_completed",
                    &[("request", id), ("ended", ended.as_str())],
                );
                self.queue.wake();
                Ok(Done::Changed(super::StoredRequest {
                    status: Status::Completed,
                    ..r
                }))
            }
            Transition::Already => Ok(Done::Already(r)),
            Transition::Blocked(status) => Err(Problem::Closed(Box::new(super::StoredRequest {
                status,
                ..r
            }))),
            Transition::NotFound => Err(Problem::NotFound),
        }
    }

    /// The sweep's part after the match: a window that has ended completes its match; a
    /// match with no session recorded `first_session_days` working days after the accept
    /// gets one friendly nudge to the mentor.
    pub(super) fn sweep_matches(&self, report: &mut SweepReport) -> Result<(), StoreError> {
        let today = self.today();
        let now = self.now();
        for m in self.store.running()? {
            let id = m.request.id.clone();
            let terms = self.terms(&m);
            if today > terms.window_ends {
                let after = self.after(&m, terms, Ended::WindowEnded);
                let mails = match self.completion_mails(&m, &after) {
                    Ok(mails) => mails,
                    Err(e) => {
                        log_problem(&id, &e);
                        continue;
                    }
                };
                if self.store.end_window(&id, &mails, now)? {
                    report.ended += 1;
                    crate::log::event(
                        "match_completed",
                        &[("request", &id), ("ended", "window_ended")],
                    );
                }
                continue;
            }
            let waited =
                super::super::working_days_between(terms.matched_on, today, &self.rules.holidays);
            if m.sessions.is_empty()
                && m.nudged_at.is_none()
                && waited >= self.rules.first_session_days
            {
                let url = self.sessions_url_until(&id, terms.window_ends);
                let after = self.after(&m, terms, Ended::SessionsUsed);
                let after = AfterFacts { ended: "", ..after };
                let list: [Addressed; 1] = [(
                    MailKind::NudgeMentor,
                    Recipient::Mentor(m.request.mentor.clone()),
                    Some(self.letters.admin().to_string()),
                )];
                let extras = Extras {
                    sessions_url: Some(&url),
                    after: Some(&after),
                    ..Extras::default()
                };
                let mentor = self.directory.get(&m.request.mentor);
                match self
                    .letters
                    .compose(&m.request, mentor.as_ref(), &list, &extras)
                {
                    Ok(mails) => {
                        if self.store.nudge(&id, &mails, now)? {
                            report.nudged += 1;
                            crate::log::event("match_nudged", &[("request", &id)]);
                        }
                    }
                    Err(e) => log_problem(&id, &Problem::Template(e)),
                }
            }
        }
        Ok(())
    }

    /// Check the feedback link and load the request: the link is for the block of sessions
    /// that ended, and the form is open only while the match is completed (a match extended
    /// runs again, and asks again when it ends).
    pub fn open_feedback(&self, id: &str, token: &str) -> Result<super::StoredRequest, Problem> {
        Ok(self.feedback_match(id, token)?.request)
    }

    fn feedback_match(&self, id: &str, token: &str) -> Result<MatchRecord, Problem> {
        let found = self.store.match_record(id)?;
        let m = self.verify_match(id, found, token, |block| for_block("feedback", block))?;
        if m.request.status != Status::Completed {
            return Err(Problem::Closed(Box::new(m.request)));
        }
        Ok(m)
    }

    /// Has the feedback on this match's current block of sessions been given?
    pub fn has_feedback(&self, id: &str) -> Result<bool, Problem> {
        Ok(self.store.feedback_on_this_block(id)?.is_some())
    }

    /// The mentee's feedback: stored once, with a mail to the admin.
    pub fn give_feedback(
        &self,
        id: &str,
        token: &str,
        form: &FeedbackForm,
    ) -> Result<Done, Problem> {
        let m = self.feedback_match(id, token)?;
        let feedback = sessions::check_feedback(form).map_err(Problem::Invalid)?;
        let r = m.request.clone();
        let terms = self.terms(&m);
        let mut after = self.after(&m, terms, m.ended.unwrap_or(Ended::SessionsUsed));
        after.feedback = Some(FeedbackFacts {
            helpful: feedback.helpful,
            helped: feedback.helped.clone().unwrap_or_default(),
            more_sessions: feedback.more_sessions,
            another_mentor: feedback.another_mentor,
        });
        let list: [Addressed; 1] = [(MailKind::FeedbackAdmin, Recipient::Admin, None)];
        let extras = Extras {
            after: Some(&after),
            ..Extras::default()
        };
        let mentor = self.directory.get(&r.mentor);
        let mails = self
            .letters
            .compose(&r, mentor.as_ref(), &list, &extras)
            .map_err(Problem::Template)?;
        match self
            .store
            .give_feedback(id, m.extended, &feedback, &mails, self.now())?
        {
            Transition::Done => {
                crate::log::event("feedback_given", &[("request", id)]);
                self.queue.wake();
                Ok(Done::Changed(r))
            }
            Transition::Already => Ok(Done::Already(r)),
            Transition::Blocked(status) => Err(Problem::Closed(Box::new(super::StoredRequest {
                status,
                ..r
            }))),
            Transition::NotFound => Err(Problem::NotFound),
        }
    }

    /// `requests extend ID`: another block of `sessions_offered` sessions in a window from
    /// today on a completed match; it runs again and both are told (the mentor with a new
    /// sessions link). A match still running, or a request never matched, is `Closed`.
    pub fn extend(&self, id: &str) -> Result<MatchRecord, Problem> {
        let m = self.store.match_record(id)?.ok_or(Problem::NotFound)?;
        if m.request.status != Status::Completed {
            return Err(Problem::Closed(Box::new(m.request)));
        }
        let terms = self.terms(&m);
        let window_ends = self.window_from(self.today());
        let after = AfterFacts {
            held: m.sessions.len() as u32,
            allowed: terms.allowed + self.rules.sessions_offered,
            window_ends: window_ends.to_string(),
            window_ends_long: letters::long_date(&window_ends.to_string()),
            ended: "",
            session: None,
            feedback: None,
        };
        let url = self.sessions_url_until(id, window_ends);
        let r = &m.request;
        let list: [Addressed; 2] = [
            (
                MailKind::ExtendedMentor,
                Recipient::Mentor(r.mentor.clone()),
                Some(r.email.clone()),
            ),
            (
                MailKind::ExtendedMentee,
                Recipient::Mentee(r.email.clone()),
                Some(self.letters.admin().to_string()),
            ),
        ];
        let occasion = format!("block{}", m.extended + 1);
        let extras = Extras {
            sessions_url: Some(&url),
            after: Some(&after),
            occasion: Some(&occasion),
            ..Extras::default()
        };
        let mentor = self.directory.get(&r.mentor);
        let mails = self
            .letters
            .compose(r, mentor.as_ref(), &list, &extras)
            .map_err(Problem::Template)?;
        match self.store.extend(
            id,
            &window_ends.to_string(),
            self.rules.sessions_offered,
            terms.allowed,
            &mails,
            self.now(),
        )? {
            Transition::Done => {
                crate::log::event("match_extended", &[("request", id)]);
                self.queue.wake();
                self.store.match_record(id)?.ok_or(Problem::NotFound)
            }
            Transition::Blocked(status) => Err(Problem::Closed(Box::new(super::StoredRequest {
                status,
                ..m.request
            }))),
            Transition::Already | Transition::NotFound => Err(Problem::NotFound),
        }
    }
}

fn log_problem(id: &str, p: &Problem) {
    let error = match p {
        Problem::Template(e) => e.to_string(),
        other => format!("{other:?}"),
    };
    crate::log::event("sweep_error", &[("request", id), ("error", &error)]);
}
