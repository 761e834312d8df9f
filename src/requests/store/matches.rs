//! After the match: the mentor's session records, how a match ended, its extensions and the
//! mentee's feedback. Every change here is one immediate transaction with the mail it causes,
//! as for requests; a form posted twice (its token hash already in `used_tokens`) changes
//! nothing the second time.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{
    NewMail, REQUEST_COLUMNS, Status, Store, StoreError, StoredRequest, Transition, insert_mails,
    parse_status, request_row,
};

/// How a match came to an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// The sessions offered were all recorded.
    SessionsUsed,
    /// The window closed first.
    WindowEnded,
    /// The mentor pressed "we have finished".
    Mentor,
    /// The mentee used their withdraw link.
    Mentee,
}

impl Ended {
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::SessionsUsed => "sessions_used",
            Ended::WindowEnded => "window_ended",
            Ended::Mentor => "mentor",
            Ended::Mentee => "mentee",
        }
    }

    pub fn parse(s: &str) -> Option<Ended> {
        [
            Ended::SessionsUsed,
            Ended::WindowEnded,
            Ended::Mentor,
            Ended::Mentee,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }

    /// Ended by one side before the sessions or the window ran out.
    pub fn is_early(self) -> bool {
        matches!(self, Ended::Mentor | Ended::Mentee)
    }

    /// In the admin's words, for `requests show`.
    pub fn describe(self) -> &'static str {
        match self {
            Ended::SessionsUsed => "the sessions offered were used",
            Ended::WindowEnded => "the window ended",
            Ended::Mentor => "the mentor said they had finished",
            Ended::Mentee => "the mentee ended it",
        }
    }
}

/// One session as the mentor recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub id: i64,
    /// `YYYY-MM-DD`, in the scheme's time zone.
    pub held_on: String,
    pub minutes: u32,
    pub mode: String,
    /// For the scheme's team only.
    pub note: Option<String>,
    pub concern: bool,
    pub recorded_at: i64,
    pub corrected_at: Option<i64>,
}

/// A session record as posted and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub held_on: String,
    pub minutes: u32,
    pub mode: String,
    pub note: Option<String>,
    pub concern: bool,
}

/// A match (an accepted or completed request) with its terms and sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchRecord {
    pub request: StoredRequest,
    /// When the mentor accepted.
    pub answered_at: Option<i64>,
    /// The last day of the window, once extended; `None`: the scheme's window from the accept.
    pub window_ends: Option<String>,
    /// Sessions allowed, once extended; `None`: the scheme's `sessions_offered`.
    pub sessions_allowed: Option<u32>,
    pub extended: u32,
    pub ended: Option<Ended>,
    pub nudged_at: Option<i64>,
    /// Oldest first, by the day they were held.
    pub sessions: Vec<Session>,
}

/// What recording a session did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored (with the concern mail, if any); `completed` when it used the last session.
    Done {
        completed: bool,
    },
    /// This form was posted before: nothing changed.
    Already,
    /// The match is not running.
    Blocked(Status),
    NotFound,
}

/// What correcting a session did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionChange {
    /// Changed; `concern_raised` when the concern box was newly ticked (the admin is mailed).
    Done {
        concern_raised: bool,
    },
    Already,
    /// Recorded more than a week ago: not changed. A concern box newly ticked on it still
    /// reaches the admin (`concern_raised`).
    TooLate {
        concern_raised: bool,
    },
    NotFound,
    Blocked(Status),
}

/// The mentee's feedback at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Feedback {
    /// How helpful, 1 to 5.
    pub helpful: u8,
    pub helped: Option<String>,
    pub more_sessions: bool,
    pub another_mentor: bool,
    pub given_at: i64,
}

/// One match as the programme report sees it: no names, no notes, no feedback text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchFacts {
    pub answered_at: i64,
    pub status: Status,
    pub ended: Option<Ended>,
    pub extended: u32,
    pub sessions: u32,
    pub first_session: Option<String>,
    pub concerns: u32,
    pub helpful: Option<u8>,
}

const MATCH_COLUMNS: &str =
    "answered_at, window_ends, sessions_allowed, extended, ended_how, nudged_at";

const SESSION_COLUMNS: &str =
    "id, held_on, minutes, mode, note, concern, recorded_at, corrected_at";

fn session_row(r: &rusqlite::Row) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        held_on: r.get(1)?,
        minutes: r.get(2)?,
        mode: r.get(3)?,
        note: r.get(4)?,
        concern: r.get(5)?,
        recorded_at: r.get(6)?,
        corrected_at: r.get(7)?,
    })
}

fn sessions_of(c: &Connection, id: &str) -> rusqlite::Result<Vec<Session>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE request_id = ?1 ORDER BY held_on, id"
    ))?;
    let rows = stmt.query_map(params![id], session_row)?;
    rows.collect()
}

/// A request row followed by [`MATCH_COLUMNS`], sessions not yet read.
fn match_row(r: &rusqlite::Row) -> rusqlite::Result<MatchRecord> {
    Ok(MatchRecord {
        request: request_row(r)?,
        answered_at: r.get(9)?,
        window_ends: r.get(10)?,
        sessions_allowed: r.get(11)?,
        extended: r.get(12)?,
        ended: r
            .get::<_, Option<String>>(13)?
            .as_deref()
            .and_then(Ended::parse),
        nudged_at: r.get(14)?,
        sessions: Vec::new(),
    })
}

/// Mark a form's token used; `false` if it was used before.
fn use_token(c: &Connection, token_hash: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(
        c.prepare_cached("INSERT OR IGNORE INTO used_tokens (hash, used_at) VALUES (?1, ?2)")?
            .execute(params![token_hash, now])?
            == 1,
    )
}

/// Has this form's token been used?
fn token_seen(c: &Connection, token_hash: &str) -> rusqlite::Result<bool> {
    Ok(
        c.prepare_cached("SELECT 1 FROM used_tokens WHERE hash = ?1")?
            .query_row(params![token_hash], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

fn status_of(c: &Connection, id: &str) -> rusqlite::Result<Option<Status>> {
    c.prepare_cached("SELECT status FROM requests WHERE id = ?1")?
        .query_row(params![id], |r| parse_status(r, 0))
        .optional()
}

/// How many times the match was extended: the block of sessions it is on.
fn block_of(c: &Connection, id: &str) -> rusqlite::Result<Option<u32>> {
    c.prepare_cached("SELECT extended FROM requests WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()
}

impl Store {
    /// A request with its match terms and sessions.
    pub fn match_record(&self, id: &str) -> Result<Option<MatchRecord>, StoreError> {
        self.read(|c| {
            let found = c
                .prepare_cached(&format!(
                    "SELECT {REQUEST_COLUMNS}, {MATCH_COLUMNS} FROM requests WHERE id = ?1"
                ))?
                .query_row(params![id], match_row)
                .optional()?;
            match found {
                Some(mut m) => {
                    m.sessions = sessions_of(c, id)?;
                    Ok(Some(m))
                }
                None => Ok(None),
            }
        })
    }

    /// Matches still running, oldest first, for the sweep.
    pub fn running(&self) -> Result<Vec<MatchRecord>, StoreError> {
        self.read(|c| {
            let mut list: Vec<MatchRecord> = {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {REQUEST_COLUMNS}, {MATCH_COLUMNS} FROM requests
                     WHERE status = 'accepted' ORDER BY created_at, id"
                ))?;
                let rows = stmt.query_map([], match_row)?;
                rows.collect::<Result<_, _>>()?
            };
            for m in &mut list {
                m.sessions = sessions_of(c, &m.request.id)?;
            }
            Ok(list)
        })
    }

    /// Record a session on a running match, once per form (`token_hash`). `concern_mails` go
    /// with a ticked concern; when the sessions recorded reach those allowed (`allowed` unless
    /// the match was extended), the match is completed and `completion_mails` go too.
    #[allow(clippy::too_many_arguments)]
    pub fn record_session(
        &self,
        id: &str,
        session: &NewSession,
        token_hash: &str,
        allowed: u32,
        concern_mails: &[NewMail],
        completion_mails: &[NewMail],
        now: i64,
    ) -> Result<Recorded, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let outcome = match status_of(&tx, id)? {
                None => Recorded::NotFound,
                Some(Status::Accepted) => {
                    if use_token(&tx, token_hash, now)? {
                        tx.execute(
                            "INSERT INTO sessions (request_id, held_on, minutes, mode, note, concern, recorded_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            params![
                                id,
                                session.held_on,
                                session.minutes,
                                session.mode,
                                session.note,
                                session.concern,
                                now
                            ],
                        )?;
                        if session.concern {
                            insert_mails(&tx, id, concern_mails, now)?;
                        }
                        let completed = tx.execute(
                            "UPDATE requests SET status = 'completed', closed_at = ?2, ended_how = 'sessions_used'
                             WHERE id = ?1 AND status = 'accepted'
                               AND (SELECT COUNT(*) FROM sessions WHERE request_id = ?1)
                                   >= COALESCE(sessions_allowed, ?3)",
                            params![id, now, allowed],
                        )? == 1;
                        if completed {
                            insert_mails(&tx, id, completion_mails, now)?;
                        }
                        Recorded::Done { completed }
                    } else {
                        Recorded::Already
                    }
                }
                // Posted twice at once, the last session's second post finds the match
                // completed by the first: it was sent already.
                Some(_) if token_seen(&tx, token_hash)? => Recorded::Already,
                Some(other) => Recorded::Blocked(other),
            };
            tx.commit()?;
            Ok(outcome)
        })
    }

    /// Correct session `session_id` of match `id`, if it was recorded at or after `since` (a
    /// week ago). Ticking the concern box afresh queues `concern_mails`, even on a record too
    /// old to correct: a concern always reaches the admin.
    #[allow(clippy::too_many_arguments)]
    pub fn correct_session(
        &self,
        id: &str,
        session_id: i64,
        session: &NewSession,
        token_hash: &str,
        since: i64,
        concern_mails: &[NewMail],
        now: i64,
    ) -> Result<SessionChange, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let status = status_of(&tx, id)?;
            let old: Option<(bool, i64)> = tx
                .prepare_cached(
                    "SELECT concern, recorded_at FROM sessions WHERE id = ?1 AND request_id = ?2",
                )?
                .query_row(params![session_id, id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let outcome = match (status, old) {
                (None, _) | (_, None) => SessionChange::NotFound,
                (Some(Status::Accepted | Status::Completed), Some((was_concern, at))) => {
                    let concern_raised = session.concern && !was_concern;
                    if !use_token(&tx, token_hash, now)? {
                        SessionChange::Already
                    } else if at < since {
                        if concern_raised {
                            insert_mails(&tx, id, concern_mails, now)?;
                        }
                        SessionChange::TooLate { concern_raised }
                    } else {
                        tx.execute(
                            "UPDATE sessions SET held_on = ?2, minutes = ?3, mode = ?4, note = ?5,
                                    concern = ?6, corrected_at = ?7
                             WHERE id = ?1",
                            params![
                                session_id,
                                session.held_on,
                                session.minutes,
                                session.mode,
                                session.note,
                                session.concern,
                                now
                            ],
                        )?;
                        if concern_raised {
                            insert_mails(&tx, id, concern_mails, now)?;
                        }
                        SessionChange::Done { concern_raised }
                    }
                }
                (Some(other), Some(_)) => SessionChange::Blocked(other),
            };
            tx.commit()?;
            Ok(outcome)
        })
    }

    /// Complete a running match because one side ended it, and queue `mails`. With a form's
    /// `token_hash` ("we have finished"), the form acts once: posted again it is `Already`.
    pub fn finish(
        &self,
        id: &str,
        ended: Ended,
        token_hash: Option<&str>,
        mails: &[NewMail],
        now: i64,
    ) -> Result<Transition, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let status = status_of(&tx, id)?;
            let fresh = match (status, token_hash) {
                (Some(_), Some(h)) => use_token(&tx, h, now)?,
                _ => true,
            };
            let outcome = match status {
                None => Transition::NotFound,
                Some(_) if !fresh => Transition::Already,
                Some(Status::Accepted) => {
                    tx.execute(
                        "UPDATE requests SET status = 'completed', closed_at = ?2, ended_how = ?3
                         WHERE id = ?1 AND status = 'accepted'",
                        params![id, now, ended.as_str()],
                    )?;
                    insert_mails(&tx, id, mails, now)?;
                    Transition::Done
                }
                Some(Status::Completed) => Transition::Already,
                Some(other) => Transition::Blocked(other),
            };
            tx.commit()?;
            Ok(outcome)
        })
    }

    /// Complete a running match whose window has ended and queue `mails`, once.
    pub fn end_window(&self, id: &str, mails: &[NewMail], now: i64) -> Result<bool, StoreError> {
        self.update_once(
            "UPDATE requests SET status = 'completed', closed_at = ?2, ended_how = 'window_ended'
             WHERE id = ?1 AND status = 'accepted'",
            id,
            mails,
            now,
        )
    }

    /// Mark a running match with no session recorded nudged and queue `mails`, once.
    pub fn nudge(&self, id: &str, mails: &[NewMail], now: i64) -> Result<bool, StoreError> {
        self.update_once(
            "UPDATE requests SET nudged_at = ?2
             WHERE id = ?1 AND status = 'accepted' AND nudged_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM sessions WHERE request_id = ?1)",
            id,
            mails,
            now,
        )
    }

    /// Another block on a completed match: `add` more sessions (on top of `allowed`, the
    /// scheme's, unless the match was extended before) until `window_ends`; the match runs
    /// again. `Done`, or `Blocked` (a match still running, a request that never became one).
    #[allow(clippy::too_many_arguments)]
    pub fn extend(
        &self,
        id: &str,
        window_ends: &str,
        add: u32,
        allowed: u32,
        mails: &[NewMail],
        now: i64,
    ) -> Result<Transition, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let outcome = match status_of(&tx, id)? {
                None => Transition::NotFound,
                Some(Status::Completed) => {
                    tx.execute(
                        "UPDATE requests SET status = 'accepted', closed_at = NULL, ended_how = NULL,
                                window_ends = ?2,
                                sessions_allowed = COALESCE(sessions_allowed, ?3) + ?4,
                                extended = extended + 1
                         WHERE id = ?1",
                        params![id, window_ends, allowed, add],
                    )?;
                    insert_mails(&tx, id, mails, now)?;
                    Transition::Done
                }
                Some(other) => Transition::Blocked(other),
            };
            tx.commit()?;
            Ok(outcome)
        })
    }

    /// Store the mentee's feedback on a completed match's `block` of sessions, once for each
    /// block (a match extended and ended again asks again), and queue `mails` with it. A match
    /// running again, or ended again since, is `Blocked`.
    pub fn give_feedback(
        &self,
        id: &str,
        block: u32,
        feedback: &Feedback,
        mails: &[NewMail],
        now: i64,
    ) -> Result<Transition, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let outcome = match status_of(&tx, id)? {
                None => Transition::NotFound,
                Some(Status::Completed) if block_of(&tx, id)? == Some(block) => {
                    let stored = tx.execute(
                        "INSERT OR IGNORE INTO feedback (request_id, block, helpful, helped, more_sessions, another_mentor, given_at)
                         VALUES (?1, ?7, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            id,
                            feedback.helpful,
                            feedback.helped,
                            feedback.more_sessions,
                            feedback.another_mentor,
                            now,
                            block
                        ],
                    )? == 1;
                    if stored {
                        insert_mails(&tx, id, mails, now)?;
                        Transition::Done
                    } else {
                        Transition::Already
                    }
                }
                Some(other) => Transition::Blocked(other),
            };
            tx.commit()?;
            Ok(outcome)
        })
    }

    /// The mentee's latest feedback on a match, if any.
    pub fn feedback_of(&self, id: &str) -> Result<Option<Feedback>, StoreError> {
        self.feedback_where(id, "ORDER BY block DESC LIMIT 1")
    }

    /// The mentee's feedback on the match's current block of sessions, if given.
    pub fn feedback_on_this_block(&self, id: &str) -> Result<Option<Feedback>, StoreError> {
        self.feedback_where(
            id,
            "AND block = (SELECT extended FROM requests WHERE id = ?1)",
        )
    }

    fn feedback_where(&self, id: &str, tail: &str) -> Result<Option<Feedback>, StoreError> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT helpful, helped, more_sessions, another_mentor, given_at
                 FROM feedback WHERE request_id = ?1 {tail}"
            ))?
            .query_row(params![id], |r| {
                Ok(Feedback {
                    helpful: r.get(0)?,
                    helped: r.get(1)?,
                    more_sessions: r.get(2)?,
                    another_mentor: r.get(3)?,
                    given_at: r.get(4)?,
                })
            })
            .optional()
        })
    }

    /// Sessions recorded, by request id, for `requests list` and the export.
    pub fn session_counts(&self) -> Result<std::collections::BTreeMap<String, u32>, StoreError> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT request_id, COUNT(*) FROM sessions GROUP BY request_id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    /// Every match held (accepted at some point, and not declined), for the report.
    pub fn match_facts(&self) -> Result<Vec<MatchFacts>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT r.answered_at, r.status, r.ended_how, r.extended,
                        (SELECT COUNT(*) FROM sessions s WHERE s.request_id = r.id),
                        (SELECT MIN(held_on) FROM sessions s WHERE s.request_id = r.id),
                        (SELECT COUNT(*) FROM sessions s WHERE s.request_id = r.id AND s.concern),
                        (SELECT helpful FROM feedback f WHERE f.request_id = r.id
                         ORDER BY f.block DESC LIMIT 1)
                 FROM requests r
                 WHERE r.answered_at IS NOT NULL AND r.status IN ('accepted', 'completed', 'withdrawn')
                 ORDER BY r.answered_at, r.id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(MatchFacts {
                    answered_at: r.get(0)?,
                    status: parse_status(r, 1)?,
                    ended: r
                        .get::<_, Option<String>>(2)?
                        .as_deref()
                        .and_then(Ended::parse),
                    extended: r.get(3)?,
                    sessions: r.get(4)?,
                    first_session: r.get(5)?,
                    concerns: r.get(6)?,
                    helpful: r.get(7)?,
                })
            })?;
            rows.collect()
        })
    }
}
