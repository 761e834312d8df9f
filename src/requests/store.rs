//! The request store: one SQLite file (WAL), migrations embedded, and the outbox of emails.
//!
//! A request and every email it causes are written in one transaction before the mentee gets
//! an answer, so nothing is lost if the mail server, the network or the process fails later.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// Schema versions, applied in order; `PRAGMA user_version` records how far a file has come.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE requests (
    id          TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    mentor      TEXT NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    mode        TEXT NOT NULL,
    message     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending',
    respond_by  TEXT NOT NULL,
    closed_at   INTEGER
);
CREATE INDEX requests_email ON requests (email, created_at);
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id      TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    reply_to        TEXT,
    message_id      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
",
    r"
ALTER TABLE requests ADD COLUMN answered_at INTEGER;
ALTER TABLE requests ADD COLUMN note TEXT;
ALTER TABLE requests ADD COLUMN reminded_at INTEGER;
CREATE TABLE used_tokens (
    hash    TEXT PRIMARY KEY,
    used_at INTEGER NOT NULL
);
",
];

/// What a state change found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The request moved to the new state; its emails are queued.
    Done,
    /// It was already in that state (a repeated click): nothing changed.
    Already,
    /// It is in another state, which this action cannot leave.
    Blocked(String),
    NotFound,
}

#[derive(Debug, thiserror::Error)]
#[error("request store: {0}")]
pub struct StoreError(#[from] rusqlite::Error);

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRequest {
    pub id: String,
    pub created_at: i64,
    pub mentor: String,
    pub name: String,
    pub email: String,
    pub mode: String,
    pub message: String,
    pub status: String,
    pub respond_by: String,
}

/// One request as the programme report sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub created_at: i64,
    pub mentor: String,
    pub status: String,
    /// When the mentor accepted or declined.
    pub answered_at: Option<i64>,
}

/// One email waiting in (or done with) the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mail {
    pub id: i64,
    pub request_id: String,
    /// `mentor`, `admin` or `mentee`.
    pub kind: String,
    /// `mentor:<slug>` and `admin` are looked up when sending; a mentee's own address as is.
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub reply_to: Option<String>,
    pub message_id: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
}

/// A mail to queue with a new request.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub kind: &'static str,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub reply_to: Option<String>,
    pub message_id: String,
}

pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Open (creating if need be) the database at `path`, in WAL mode, migrated.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        Store::init(Connection::open(path)?)
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> Result<Store, StoreError> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Store, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let tx = conn.transaction()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Store a request and its emails together: both or neither.
    pub fn insert(&self, r: &StoredRequest, mails: &[NewMail], now: i64) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO requests (id, created_at, mentor, name, email, mode, message, status, respond_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![r.id, r.created_at, r.mentor, r.name, r.email, r.mode, r.message, r.status, r.respond_by],
        )?;
        insert_mails(&tx, &r.id, mails, now)?;
        tx.commit()?;
        Ok(())
    }

    /// How many requests this address has made since `since` (for the per-mentee limit).
    pub fn requests_by_email_since(&self, email: &str, since: i64) -> Result<i64, StoreError> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM requests WHERE email = ?1 AND created_at >= ?2",
            params![email, since],
            |r| r.get(0),
        )?)
    }

    /// Mails due now, oldest first.
    pub fn due(&self, now: i64, limit: usize) -> Result<Vec<Mail>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {MAIL_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1
             ORDER BY next_attempt_at, id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![now, limit as i64], mail_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the next pending mail is due, if any.
    pub fn next_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn().query_row(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'",
            [],
            |r| r.get::<_, Option<i64>>(0),
        )?)
    }

    pub fn mark_sent(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
            params![id, now],
        )?;
        Ok(())
    }

    /// Record a failed attempt: try again at `retry_at`, or give up (`None`).
    pub fn mark_attempt_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<(), StoreError> {
        match retry_at {
            Some(at) => self.conn().execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
                params![id, error, at],
            )?,
            None => self.conn().execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, status = 'failed' WHERE id = ?1",
                params![id, error],
            )?,
        };
        Ok(())
    }

    pub fn list(&self) -> Result<Vec<StoredRequest>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {REQUEST_COLUMNS} FROM requests ORDER BY created_at DESC, id"
        ))?;
        let rows = stmt.query_map([], request_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// What the programme report needs of every request still held: no names, no addresses,
    /// no messages.
    pub fn outcomes(&self) -> Result<Vec<Outcome>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT created_at, mentor, status, answered_at FROM requests ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Outcome {
                created_at: r.get(0)?,
                mentor: r.get(1)?,
                status: r.get(2)?,
                answered_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn get(&self, id: &str) -> Result<Option<StoredRequest>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1"),
                params![id],
                request_row,
            )
            .optional()?)
    }

    pub fn mails_of(&self, request_id: &str) -> Result<Vec<Mail>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {MAIL_COLUMNS} FROM outbox WHERE request_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![request_id], mail_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Mails that gave up, for `requests list`.
    pub fn failed_mails(&self) -> Result<Vec<Mail>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {MAIL_COLUMNS} FROM outbox WHERE status = 'failed' ORDER BY id"
        ))?;
        let rows = stmt.query_map([], mail_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Move a pending request to `to` (`accepted` or `declined`) and queue `mails`, in one
    /// transaction; `token_hash` is recorded as used. A second click is `Already`.
    pub fn answer(
        &self,
        id: &str,
        to: &str,
        note: Option<&str>,
        token_hash: &str,
        mails: &[NewMail],
        now: i64,
    ) -> Result<Transition, StoreError> {
        self.transition(id, to, &["pending"], mails, now, |tx| {
            tx.execute(
                "UPDATE requests SET status = ?2, answered_at = ?3, note = ?4,
                        closed_at = CASE WHEN ?2 = 'accepted' THEN NULL ELSE ?3 END
                 WHERE id = ?1 AND status = 'pending'",
                params![id, to, now, note],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO used_tokens (hash, used_at) VALUES (?1, ?2)",
                params![token_hash, now],
            )?;
            Ok(())
        })
    }

    /// In one immediate transaction: a request already in state `to` is `Already`; one in a
    /// state of `from` is changed by `update` and gets `mails` queued (`Done`); any other is
    /// `Blocked`. `update` runs in every case (an answer records its token even when it
    /// changes nothing), so its `UPDATE` must itself be conditional on the state.
    fn transition(
        &self,
        id: &str,
        to: &str,
        from: &[&str],
        mails: &[NewMail],
        now: i64,
        update: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
    ) -> Result<Transition, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let outcome = match status_of(&tx, id)?.as_deref() {
            None => Transition::NotFound,
            Some(s) if s == to => Transition::Already,
            Some(s) if from.contains(&s) => Transition::Done,
            Some(other) => Transition::Blocked(other.to_string()),
        };
        update(&tx)?;
        if outcome == Transition::Done {
            insert_mails(&tx, id, mails, now)?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    /// Pending requests, oldest first (for the sweep).
    pub fn pending(&self) -> Result<Vec<(StoredRequest, Option<i64>)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            &format!("SELECT {REQUEST_COLUMNS}, reminded_at FROM requests WHERE status = 'pending' ORDER BY created_at, id"),
        )?;
        let rows = stmt.query_map([], |r| Ok((request_row(r)?, r.get::<_, Option<i64>>(9)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Mark a pending request reminded and queue `mails`, once: `false` if another sweep (or
    /// an answer) got there first.
    pub fn remind(&self, id: &str, mails: &[NewMail], now: i64) -> Result<bool, StoreError> {
        self.update_once(
            "UPDATE requests SET reminded_at = ?2 WHERE id = ?1 AND status = 'pending' AND reminded_at IS NULL",
            id,
            mails,
            now,
        )
    }

    /// Lapse a pending request and queue `mails`, once.
    pub fn lapse(&self, id: &str, mails: &[NewMail], now: i64) -> Result<bool, StoreError> {
        self.update_once(
            "UPDATE requests SET status = 'lapsed', closed_at = ?2 WHERE id = ?1 AND status = 'pending'",
            id,
            mails,
            now,
        )
    }

    /// Run a conditional `update` (`?1` the id, `?2` now) and, if it changed the request, queue
    /// `mails`, in one immediate transaction: of two sweeps at once, only one wins.
    fn update_once(
        &self,
        update: &str,
        id: &str,
        mails: &[NewMail],
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let changed = tx.execute(update, params![id, now])? == 1;
        if changed {
            insert_mails(&tx, id, mails, now)?;
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Delete requests closed before `before` (and their emails): the retention rule.
    pub fn purge_closed_before(&self, before: i64) -> Result<usize, StoreError> {
        Ok(self.conn().execute(
            "DELETE FROM requests WHERE closed_at IS NOT NULL AND closed_at < ?1",
            params![before],
        )?)
    }

    /// Erase every request from `email` (and its emails): an erasure request. Returns how many.
    pub fn purge_email(&self, email: &str) -> Result<usize, StoreError> {
        Ok(self.conn().execute(
            "DELETE FROM requests WHERE lower(email) = lower(?1)",
            params![email],
        )?)
    }

    /// Withdraw a pending or accepted request (the mentee's choice) and queue `mails`.
    pub fn withdraw(
        &self,
        id: &str,
        mails: &[NewMail],
        now: i64,
    ) -> Result<Transition, StoreError> {
        self.transition(
            id,
            "withdrawn",
            &["pending", "accepted"],
            mails,
            now,
            |tx| {
                tx.execute(
                    "UPDATE requests SET status = 'withdrawn', closed_at = ?2
                 WHERE id = ?1 AND status IN ('pending', 'accepted')",
                    params![id, now],
                )?;
                Ok(())
            },
        )
    }

    /// How many requests from `email` are waiting for an answer.
    pub fn pending_by_email(&self, email: &str) -> Result<i64, StoreError> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM requests WHERE lower(email) = lower(?1) AND status = 'pending'",
            params![email],
            |r| r.get(0),
        )?)
    }

    /// Has this token been used before?
    pub fn token_used(&self, token_hash: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM used_tokens WHERE hash = ?1",
                params![token_hash],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Requests accepted by a mentor and not closed: their current mentees.
    pub fn accepted_count(&self, mentor: &str) -> Result<i64, StoreError> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM requests WHERE mentor = ?1 AND status = 'accepted'",
            params![mentor],
            |r| r.get(0),
        )?)
    }

    /// Liveness: the database answers.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}

/// A request's status, read inside the caller's transaction.
fn status_of(tx: &rusqlite::Transaction, id: &str) -> rusqlite::Result<Option<String>> {
    tx.query_row(
        "SELECT status FROM requests WHERE id = ?1",
        params![id],
        |r| r.get(0),
    )
    .optional()
}

fn insert_mails(
    tx: &rusqlite::Transaction,
    request_id: &str,
    mails: &[NewMail],
    now: i64,
) -> rusqlite::Result<()> {
    for m in mails {
        tx.execute(
            "INSERT INTO outbox (request_id, kind, recipient, subject, text_body, html_body, reply_to, message_id, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![request_id, m.kind, m.recipient, m.subject, m.text_body, m.html_body, m.reply_to, m.message_id, now],
        )?;
    }
    Ok(())
}

/// The columns [`request_row`] reads, in its order.
const REQUEST_COLUMNS: &str =
    "id, created_at, mentor, name, email, mode, message, status, respond_by";

/// The columns [`mail_row`] reads, in its order.
const MAIL_COLUMNS: &str = "id, request_id, kind, recipient, subject, text_body, html_body, reply_to, \
     message_id, status, attempts, next_attempt_at, last_error";

fn request_row(r: &rusqlite::Row) -> rusqlite::Result<StoredRequest> {
    Ok(StoredRequest {
        id: r.get(0)?,
        created_at: r.get(1)?,
        mentor: r.get(2)?,
        name: r.get(3)?,
        email: r.get(4)?,
        mode: r.get(5)?,
        message: r.get(6)?,
        status: r.get(7)?,
        respond_by: r.get(8)?,
    })
}

fn mail_row(r: &rusqlite::Row) -> rusqlite::Result<Mail> {
    Ok(Mail {
        id: r.get(0)?,
        request_id: r.get(1)?,
        kind: r.get(2)?,
        recipient: r.get(3)?,
        subject: r.get(4)?,
        text_body: r.get(5)?,
        html_body: r.get(6)?,
        reply_to: r.get(7)?,
        message_id: r.get(8)?,
        status: r.get(9)?,
        attempts: r.get(10)?,
        next_attempt_at: r.get(11)?,
        last_error: r.get(12)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str) -> StoredRequest {
        StoredRequest {
            id: id.into(),
            created_at: 100,
            mentor: "amara-okafor".into(),
            name: "Sam".into(),
            email: "sam@example.net".into(),
            mode: "video".into(),
            message: "Hello".into(),
            status: "pending".into(),
            respond_by: "2026-11-30".into(),
        }
    }

    fn mail(kind: &'static str) -> NewMail {
        NewMail {
            kind,
            recipient: "admin".into(),
            subject: "s".into(),
            text_body: "t".into(),
            html_body: "h".into(),
            reply_to: None,
            message_id: format!("<{kind}@x>"),
        }
    }

    #[test]
    fn request_and_mails_go_in_together_and_retry_then_fail() {
        let s = Store::in_memory().unwrap();
        s.insert(&request("r1"), &[mail("mentor"), mail("admin")], 100)
            .unwrap();
        assert_eq!(s.get("r1").unwrap().unwrap().mentor, "amara-okafor");
        let due = s.due(100, 10).unwrap();
        assert_eq!(due.len(), 2);
        s.mark_attempt_failed(due[0].id, "refused", Some(160))
            .unwrap();
        assert_eq!(s.due(100, 10).unwrap().len(), 1, "retry waits");
        assert_eq!(s.next_due().unwrap(), Some(100));
        s.mark_sent(due[1].id, 101).unwrap();
        assert_eq!(s.due(200, 10).unwrap().len(), 1, "retry due");
        s.mark_attempt_failed(due[0].id, "refused again", None)
            .unwrap();
        assert_eq!(s.failed_mails().unwrap().len(), 1);
        assert_eq!(s.next_due().unwrap(), None);
    }

    #[test]
    fn a_duplicate_id_stores_nothing() {
        let s = Store::in_memory().unwrap();
        s.insert(&request("r1"), &[mail("mentor")], 100).unwrap();
        assert!(s.insert(&request("r1"), &[mail("admin")], 100).is_err());
        assert_eq!(
            s.mails_of("r1").unwrap().len(),
            1,
            "the failed insert left no mail behind"
        );
    }

    #[test]
    fn answering_is_once_and_guards_other_states() {
        let s = Store::in_memory().unwrap();
        s.insert(&request("r1"), &[], 100).unwrap();
        assert_eq!(
            s.answer("r1", "accepted", None, "t1", &[mail("mentee")], 200)
                .unwrap(),
            Transition::Done
        );
        assert!(s.token_used("t1").unwrap());
        assert_eq!(
            s.answer("r1", "accepted", None, "t2", &[mail("mentee")], 201)
                .unwrap(),
            Transition::Already
        );
        assert_eq!(
            s.answer("r1", "declined", None, "t3", &[], 202).unwrap(),
            Transition::Blocked("accepted".into())
        );
        assert_eq!(
            s.mails_of("r1").unwrap().len(),
            1,
            "one acceptance, one set of mails"
        );
        assert_eq!(s.accepted_count("amara-okafor").unwrap(), 1);
        assert_eq!(
            s.answer("nope", "accepted", None, "t4", &[], 1).unwrap(),
            Transition::NotFound
        );
    }

    #[test]
    fn migrations_run_once_on_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/requests.sqlite");
        Store::open(&path)
            .unwrap()
            .insert(&request("r1"), &[], 1)
            .unwrap();
        let again = Store::open(&path).unwrap();
        assert_eq!(again.list().unwrap().len(), 1);
    }
}
