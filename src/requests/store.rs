//! The request store: one SQLite file (WAL), migrations embedded, and the outbox of emails.
//!
//! A request and every email it causes are written in one transaction before the mentee gets
//! an answer, so nothing is lost if the mail server, the network or the process fails later.
//!
//! Two connections: the writer, and a reader for pages and `/healthz`, which in WAL mode is
//! never blocked by a writer, here or in another process. Every wait is bounded: the
//! in-process queue for the writer and SQLite's busy wait for another process's lock. A write
//! that fails for want of storage (locked, full, read-only, corrupt) is recorded in
//! [`Health`], which `/healthz` reports, and logged once a minute while it lasts.

use std::path::Path;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use serde::Serialize;

use super::kinds::{MailKind, Recipient, Status, address_key};

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
    // Addresses kept normalised beside the typed one, so a mentee's other requests are found
    // through an index; an index for every per-request query; the outbox's claim.
    r"
ALTER TABLE requests ADD COLUMN email_key TEXT NOT NULL DEFAULT '';
UPDATE requests SET email_key = lower(trim(email));
DROP INDEX requests_email;
CREATE INDEX requests_email_key ON requests (email_key, created_at);
CREATE INDEX requests_mentor_status ON requests (mentor, status);
CREATE INDEX requests_status ON requests (status, created_at);
CREATE INDEX requests_closed ON requests (closed_at) WHERE closed_at IS NOT NULL;
ALTER TABLE requests ADD COLUMN unreached_at INTEGER;
CREATE INDEX outbox_request ON outbox (request_id);
ALTER TABLE outbox ADD COLUMN claim TEXT;
CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);
",
    // After the match: the terms of a match once extended (NULL: the scheme's, counted from
    // the accept), how it ended, the nudge, the mentor's session records and the mentee's
    // feedback. Both tables go with their request (retention, erasure).
    r"
ALTER TABLE requests ADD COLUMN window_ends TEXT;
ALTER TABLE requests ADD COLUMN sessions_allowed INTEGER;
ALTER TABLE requests ADD COLUMN extended INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN ended_how TEXT;
ALTER TABLE requests ADD COLUMN nudged_at INTEGER;
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id   TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    held_on      TEXT NOT NULL,
    minutes      INTEGER NOT NULL,
    mode         TEXT NOT NULL,
    note         TEXT,
    concern      INTEGER NOT NULL DEFAULT 0,
    recorded_at  INTEGER NOT NULL,
    corrected_at INTEGER
);
CREATE INDEX sessions_request ON sessions (request_id, held_on);
CREATE TABLE feedback (
    request_id     TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    block          INTEGER NOT NULL DEFAULT 0,
    helpful        INTEGER NOT NULL,
    helped         TEXT,
    more_sessions  INTEGER NOT NULL DEFAULT 0,
    another_mentor INTEGER NOT NULL DEFAULT 0,
    given_at       INTEGER NOT NULL,
    PRIMARY KEY (request_id, block)
);
",
];

/// How long SQLite waits for another process's write lock before giving up.
pub const BUSY_WAIT: Duration = Duration::from_secs(3);
/// How long a write waits for the writer connection inside this process.
pub const QUEUE_WAIT: Duration = Duration::from_secs(5);
/// The error for a write that waited too long for this process's writer.
fn overloaded() -> StoreError {
    StoreError {
        fault: Fault::Overloaded,
        source: rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("waited too long for this process's writer".into()),
        ),
    }
}

/// How often a lasting storage fault is logged.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// What a state change found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The request moved to the new state; its emails are queued.
    Done,
    /// It was already in that state (a repeated click): nothing changed.
    Already,
    /// It is in another state, which this action cannot leave.
    Blocked(Status),
    NotFound,
}

/// What an accept with the mentor's capacity in mind did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    Answered(Transition),
    /// The mentor already has as many running matches as they offered: nothing changed.
    Full,
}

/// Why the store could not do what was asked, in the terms an operator acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Another process holds the write lock for longer than [`BUSY_WAIT`].
    Locked,
    /// The disk (or the quota) is full.
    Full,
    /// The file or its folder cannot be written.
    ReadOnly,
    /// The file is damaged or is not a database.
    Corrupt,
    /// Reading or writing the file failed.
    Io,
    /// This process's writer stayed busy for longer than [`QUEUE_WAIT`].
    Overloaded,
    /// Anything else: a bug or a constraint, not the storage.
    Other,
}

impl Fault {
    pub fn reason(self) -> &'static str {
        match self {
            Fault::Locked => "the request database is locked by another process",
            Fault::Full => "the disk holding the request database is full",
            Fault::ReadOnly => "the request database cannot be written (read-only)",
            Fault::Corrupt => "the request database is damaged",
            Fault::Io => "the request database cannot be read or written (I/O error)",
            Fault::Overloaded => "the request database is too busy",
            Fault::Other => "the request database refused the change",
        }
    }

    /// A fault of the storage itself, which lasts until someone (or time) fixes it.
    pub fn is_storage(self) -> bool {
        self != Fault::Other
    }

    fn of(e: &rusqlite::Error) -> Fault {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Fault::Locked,
            Some(ErrorCode::DiskFull) => Fault::Full,
            Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
                Fault::ReadOnly
            }
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => Fault::Corrupt,
            Some(ErrorCode::SystemIoFailure) => Fault::Io,
            _ => Fault::Other,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", fault.reason())]
pub struct StoreError {
    pub fault: Fault,
    source: rusqlite::Error,
}

impl StoreError {
    /// The same error again, for each request of a batch that failed as one.
    fn again(&self) -> StoreError {
        let source = match &self.source {
            rusqlite::Error::SqliteFailure(e, message) => rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error {
                    code: e.code,
                    extended_code: e.extended_code,
                },
                message.clone(),
            ),
            other => rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
                Some(other.to_string()),
            ),
        };
        StoreError {
            fault: self.fault,
            source,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(source: rusqlite::Error) -> Self {
        StoreError {
            fault: Fault::of(&source),
            source,
        }
    }
}

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
    pub status: Status,
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

/// When a request was answered, reminded of and closed, and the mentor's note.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub answered_at: Option<i64>,
    /// The mentor's note with a decline.
    pub note: Option<String>,
    pub reminded_at: Option<i64>,
    pub closed_at: Option<i64>,
}

/// Where a mail is in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailState {
    Pending,
    Sent,
    Failed,
}

impl MailState {
    fn parse(s: &str) -> Option<MailState> {
        match s {
            "pending" => Some(MailState::Pending),
            "sent" => Some(MailState::Sent),
            "failed" => Some(MailState::Failed),
            _ => None,
        }
    }
}

/// One email waiting in (or done with) the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub id: i64,
    pub request_id: String,
    pub kind: MailKind,
    pub recipient: Recipient,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub reply_to: Option<String>,
    pub message_id: String,
    pub state: MailState,
    /// Attempts begun, counting one in progress.
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    /// The claim under which this process holds it, if it does.
    pub claim: Option<String>,
}

/// A mail to queue with a request or a change of state.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub kind: MailKind,
    pub recipient: Recipient,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub reply_to: Option<String>,
    pub message_id: String,
}

/// What a new request's checks need, counted inside the transaction that stores it, so two
/// posts at once cannot both slip under a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// The mentor's accepted, open requests.
    pub mentor_accepted: i64,
    /// This address's requests waiting for an answer.
    pub pending_from_address: i64,
    /// This address's requests since the `since` given.
    pub recent_from_address: i64,
}

/// A pending request as the sweep sees it.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub request: StoredRequest,
    pub reminded_at: Option<i64>,
    pub unreached_at: Option<i64>,
    /// Where the request's own mail to its mentor is.
    pub mentor_mail: Option<MailState>,
}

/// Which failed mail to send again.
#[derive(Debug, Clone, Copy)]
pub enum Resend<'a> {
    Request(&'a str),
    AllFailed,
}

/// The outbox worker's doorbell: rung when mail is stored, so it need not poll for it.
#[derive(Default)]
pub struct MailQueue {
    bell: tokio::sync::Notify,
}

impl MailQueue {
    pub fn wake(&self) {
        self.bell.notify_one();
    }

    pub async fn rung(&self) {
        self.bell.notified().await;
    }
}

/// The last storage fault, while it lasts.
#[derive(Default)]
pub struct Health {
    state: Mutex<Option<FaultState>>,
}

struct FaultState {
    fault: Fault,
    message: String,
    since: Instant,
    logged: Instant,
}

impl Health {
    /// The fault, if the last write failed for want of storage.
    pub fn fault(&self) -> Option<(Fault, String)> {
        self.state
            .lock()
            .as_ref()
            .map(|s| (s.fault, s.message.clone()))
    }

    fn track<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        let mut state = self.state.lock();
        match &result {
            Ok(_) => {
                if let Some(s) = state.take() {
                    let secs = s.since.elapsed().as_secs().to_string();
                    crate::log::event("store_recovered", &[("after_seconds", &secs)]);
                }
            }
            Err(e) if e.fault.is_storage() => match state.as_mut() {
                Some(s) if s.fault == e.fault => {
                    if s.logged.elapsed() >= LOG_EVERY {
                        s.logged = Instant::now();
                        let secs = s.since.elapsed().as_secs().to_string();
                        crate::log::event(
                            "store_unavailable",
                            &[("reason", e.fault.reason()), ("for_seconds", &secs)],
                        );
                    }
                }
                _ => {
                    crate::log::event(
                        "store_unavailable",
                        &[
                            ("reason", e.fault.reason()),
                            ("error", &e.source.to_string()),
                        ],
                    );
                    let now = Instant::now();
                    *state = Some(FaultState {
                        fault: e.fault,
                        message: e.source.to_string(),
                        since: now,
                        logged: now,
                    });
                }
            },
            Err(_) => {}
        }
        result
    }
}

pub struct Store {
    writer: Mutex<Connection>,
    /// Requests waiting to be committed by whichever thread takes the writer next.
    batch: Mutex<Vec<std::sync::Arc<Job>>>,
    /// `None` for an in-memory database (which has no log).
    _checkpointer: Option<Checkpointer>,
    /// `None` for an in-memory database, which only one connection can see.
    reader: Option<Mutex<Connection>>,
    pub health: Health,
}

impl Store {
    /// Open (creating if need be) the database at `path`, in WAL mode, migrated.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let writer = Connection::open(path)?;
        let store = Store::init(writer)?;
        let reader = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        reader.busy_timeout(Duration::from_secs(1))?;
        // Checkpoints (copying the log back into the file, with an fsync) run beside the
        // writer on a connection of their own, not inside whichever request's commit
        // happens to cross the threshold: that commit, and every request queued behind it,
        // would wait for the disk.
        store
            .writer
            .lock()
            .pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = Checkpointer::start(path)?;
        Ok(Store {
            reader: Some(Mutex::new(reader)),
            _checkpointer: Some(checkpointer),
            ..store
        })
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> Result<Store, StoreError> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Store, StoreError> {
        conn.busy_timeout(BUSY_WAIT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if (version as usize) < MIGRATIONS.len() {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // Read again under the lock: another process may have migrated meanwhile.
            let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            }
            tx.commit()?;
        }
        Ok(Store {
            writer: Mutex::new(conn),
            batch: Mutex::new(Vec::new()),
            _checkpointer: None,
            reader: None,
            health: Health::default(),
        })
    }

    /// Run `f` on the writer, waiting at most [`QUEUE_WAIT`] for it; the outcome is tracked.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let result = match self.writer.try_lock_for(QUEUE_WAIT) {
            Some(mut conn) => f(&mut conn).map_err(StoreError::from),
            None => Err(overloaded()),
        };
        self.health.track(result)
    }

    /// Run `f` on the reader (the writer for an in-memory database).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        match &self.reader {
            Some(r) => Ok(f(&r.lock())?),
            None => self.write(|c| f(c)),
        }
    }

    /// Store a request and its emails together, both or neither, if `admit` (shown the
    /// counts, taken in the same transaction) returns `None`; otherwise its refusal.
    ///
    /// Requests posted at once are committed together (group commit): each goes in its own
    /// savepoint, so one refused or failing request leaves the others, and the whole batch
    /// costs one write of the log instead of one each.
    pub fn insert<R: Send + 'static>(
        &self,
        r: &StoredRequest,
        mails: &[NewMail],
        since: i64,
        admit: impl FnOnce(Counts) -> Option<R> + Send + 'static,
    ) -> Result<Result<(), R>, StoreError> {
        let (r, mails) = (r.clone(), mails.to_vec());
        let refusal = std::sync::Arc::new(Mutex::new(None));
        let outcome = refusal.clone();
        let job = Job::new(Box::new(move |tx| {
            let key = address_key(&r.email);
            let counts = Counts {
                mentor_accepted: tx
                    .prepare_cached(MENTOR_ACCEPTED)?
                    .query_row(params![r.mentor], |x| x.get(0))?,
                pending_from_address: tx
                    .prepare_cached(PENDING_FROM_ADDRESS)?
                    .query_row(params![key], |x| x.get(0))?,
                recent_from_address: tx
                    .prepare_cached(RECENT_FROM_ADDRESS)?
                    .query_row(params![key, since], |x| x.get(0))?,
            };
            if let Some(refused) = admit(counts) {
                *outcome.lock() = Some(refused);
                return Ok(());
            }
            tx.prepare_cached(
                "INSERT INTO requests (id, created_at, mentor, name, email, email_key, mode, message, status, respond_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                r.id,
                r.created_at,
                r.mentor,
                r.name,
                r.email,
                key,
                r.mode,
                r.message,
                r.status.as_str(),
                r.respond_by
            ])?;
            insert_mails(tx, &r.id, &mails, r.created_at)
        }));
        let result = self.commit_together(job);
        let result = self.health.track(result);
        result.map(|()| match refusal.lock().take() {
            Some(refused) => Err(refused),
            None => Ok(()),
        })
    }

    /// Queue `job`, then either find it done by another thread's batch or take the writer
    /// and commit every queued job in one transaction.
    fn commit_together(&self, job: std::sync::Arc<Job>) -> Result<(), StoreError> {
        self.batch.lock().push(job.clone());
        match self.writer.try_lock_for(QUEUE_WAIT) {
            Some(mut conn) => {
                // Jobs are taken only under the writer, and a batch finishes before the
                // writer is let go: this job is either done or still queued.
                if !job.is_done() {
                    let jobs = std::mem::take(&mut *self.batch.lock());
                    run_batch(&mut conn, &jobs);
                }
            }
            None => {
                if job.cancel() {
                    return Err(overloaded());
                }
                // Taken by a batch that is running now: its result is coming.
            }
        }
        job.wait()
    }

    /// Claim up to `limit` due mails for `lease` seconds under `claim`. Each is counted as an
    /// attempt and is not due again until the lease ends, so any number of processes can claim
    /// at once and each mail goes to one of them. A holder that dies leaves its mail to be
    /// claimed again when the lease ends: delivery is at least once, with the same Message-ID.
    pub fn claim(
        &self,
        now: i64,
        lease: i64,
        claim: &str,
        limit: usize,
    ) -> Result<Vec<Mail>, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut mails = {
                let mut stmt = tx.prepare_cached(&format!(
                    "UPDATE outbox SET next_attempt_at = ?1 + ?2, claim = ?3, attempts = attempts + 1
                     WHERE id IN ({DUE} LIMIT ?4)
                     RETURNING {MAIL_COLUMNS}"
                ))?;
                let rows = stmt.query_map(params![now, lease, claim, limit as i64], mail_row)?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            tx.commit()?;
            mails.sort_by_key(|m| (m.next_attempt_at, m.id));
            Ok(mails)
        })
    }

    /// When the next pending mail is due (or its lease ends), if any.
    pub fn next_due(&self) -> Result<Option<i64>, StoreError> {
        self.read(|c| {
            c.query_row(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
        })
    }

    /// The mail went: whoever holds it now, it is not to be sent again.
    pub fn mark_sent(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.mark_all_sent(&[(id, now)])
    }

    /// Several mails went (`(id, when)`), recorded in one transaction.
    pub fn mark_all_sent(&self, sent: &[(i64, i64)]) -> Result<(), StoreError> {
        self.write(|c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE outbox SET status = 'sent', sent_at = ?2, claim = NULL, last_error = NULL
                     WHERE id = ?1 AND status = 'pending'",
                )?;
                for (id, at) in sent {
                    stmt.execute(params![id, at])?;
                }
            }
            tx.commit()
        })
    }

    /// Record a failed attempt under `claim`: try again at `retry_at`, or give up (`None`).
    /// A claim that has lapsed (and perhaps been taken by another process) changes nothing.
    pub fn mark_failed(
        &self,
        id: i64,
        claim: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<(), StoreError> {
        self.write(|c| {
            match retry_at {
                Some(at) => c
                    .prepare_cached(
                        "UPDATE outbox SET last_error = ?3, next_attempt_at = ?4, claim = NULL
                     WHERE id = ?1 AND claim = ?2 AND status = 'pending'",
                    )?
                    .execute(params![id, claim, error, at])?,
                None => c
                    .prepare_cached(
                        "UPDATE outbox SET last_error = ?3, status = 'failed', claim = NULL
                     WHERE id = ?1 AND claim = ?2 AND status = 'pending'",
                    )?
                    .execute(params![id, claim, error])?,
            };
            Ok(())
        })
    }

    /// Put failed mail back in the queue, due now, with its attempts counted afresh. A pending
    /// request whose mentor had not been reached gets `respond_by` as its new deadline (the
    /// mentor cannot answer mail that never came). Returns the mails requeued.
    pub fn resend(
        &self,
        which: Resend<'_>,
        now: i64,
        respond_by: &str,
    ) -> Result<Vec<(String, MailKind)>, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let (filter, id) = match which {
                Resend::Request(id) => ("AND request_id = ?2", id),
                Resend::AllFailed => ("AND ?2 = ?2", ""),
            };
            let requeued = {
                let mut stmt = tx.prepare(&format!(
                    "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?1,
                            claim = NULL
                     WHERE status = 'failed' {filter}
                     RETURNING request_id, kind"
                ))?;
                let rows = stmt.query_map(params![now, id], |r| {
                    Ok((r.get::<_, String>(0)?, parse_kind(r, 1)?))
                })?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            for (request, kind) in &requeued {
                if kind.reaches_mentor_first() {
                    tx.execute(
                        "UPDATE requests SET respond_by = ?2, reminded_at = NULL, unreached_at = NULL
                         WHERE id = ?1 AND status = 'pending'",
                        params![request, respond_by],
                    )?;
                }
            }
            tx.commit()?;
            Ok(requeued)
        })
    }

    pub fn list(&self) -> Result<Vec<StoredRequest>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {REQUEST_COLUMNS} FROM requests ORDER BY created_at DESC, id"
            ))?;
            let rows = stmt.query_map([], request_row)?;
            rows.collect()
        })
    }

    /// What the programme report needs of every request still held: no names, no addresses,
    /// no messages.
    pub fn outcomes(&self) -> Result<Vec<Outcome>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
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
            rows.collect()
        })
    }

    pub fn get(&self, id: &str) -> Result<Option<StoredRequest>, StoreError> {
        self.read(|c| {
            c.prepare_cached(GET_REQUEST)?
                .query_row(params![id], request_row)
                .optional()
        })
    }

    /// The ids that begin with `prefix` (at most `limit`), for a short id typed by an admin.
    pub fn ids_starting(&self, prefix: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        // Ids are lowercase hex: anything else matches nothing, and LIKE's wildcards never
        // reach the query.
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(Vec::new());
        }
        let upper = format!("{prefix}\u{10ffff}");
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id FROM requests WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![prefix, upper, limit as i64], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// What happened to a request after it was made, as `requests show` tells it.
    pub fn history(&self, id: &str) -> Result<Option<History>, StoreError> {
        self.read(|c| {
            c.query_row(
                "SELECT answered_at, note, reminded_at, closed_at FROM requests WHERE id = ?1",
                params![id],
                |r| {
                    Ok(History {
                        answered_at: r.get(0)?,
                        note: r.get(1)?,
                        reminded_at: r.get(2)?,
                        closed_at: r.get(3)?,
                    })
                },
            )
            .optional()
        })
    }

    pub fn mails_of(&self, request_id: &str) -> Result<Vec<Mail>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(MAILS_OF)?;
            let rows = stmt.query_map(params![request_id], mail_row)?;
            rows.collect()
        })
    }

    /// Mails that gave up, for `requests list`.
    pub fn failed_mails(&self) -> Result<Vec<Mail>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {MAIL_COLUMNS} FROM outbox WHERE status = 'failed' ORDER BY id"
            ))?;
            let rows = stmt.query_map([], mail_row)?;
            rows.collect()
        })
    }

    /// Move a pending request to `to` (accepted or declined) and queue `mails`, in one
    /// transaction; `token_hash` is recorded as used. A second click is `Already`.
    pub fn answer(
        &self,
        id: &str,
        to: Status,
        note: Option<&str>,
        token_hash: &str,
        mails: &[NewMail],
        now: i64,
    ) -> Result<Transition, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let outcome = answer_in(&tx, id, to, note, token_hash, mails, now)?;
            tx.commit()?;
            Ok(outcome)
        })
    }

    /// Accept a pending request as [`Store::answer`] does, unless its mentor already has
    /// `capacity` running matches: then nothing changes (the token stays unused, so the
    /// mentor can accept once a match has ended).
    pub fn accept_within(
        &self,
        id: &str,
        capacity: Option<u32>,
        token_hash: &str,
        mails: &[NewMail],
        now: i64,
    ) -> Result<Accepted, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let full: bool = match capacity {
                None => false,
                Some(cap) => tx
                    .prepare_cached(
                        "SELECT r.status = 'pending' AND
                                (SELECT COUNT(*) FROM requests o
                                 WHERE o.mentor = r.mentor AND o.status = 'accepted') >= ?2
                         FROM requests r WHERE r.id = ?1",
                    )?
                    .query_row(params![id, cap], |r| r.get(0))
                    .optional()?
                    .unwrap_or(false),
            };
            if full {
                return Ok(Accepted::Full);
            }
            let outcome = answer_in(&tx, id, Status::Accepted, None, token_hash, mails, now)?;
            tx.commit()?;
            Ok(Accepted::Answered(outcome))
        })
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
            Status::Withdrawn,
            &[Status::Pending, Status::Accepted],
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

    /// In one immediate transaction: a request already in state `to` is `Already`; one in a
    /// state of `from` is changed by `update` and gets `mails` queued (`Done`); any other is
    /// `Blocked`. `update` runs in every case (an answer records its token even when it
    /// changes nothing), so its `UPDATE` must itself be conditional on the state.
    fn transition(
        &self,
        id: &str,
        to: Status,
        from: &[Status],
        mails: &[NewMail],
        now: i64,
        update: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
    ) -> Result<Transition, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let outcome = transition_in(&tx, id, to, from, mails, now, update)?;
            tx.commit()?;
            Ok(outcome)
        })
    }

    /// Pending requests, oldest first, with what the sweep needs to judge them.
    pub fn waiting(&self) -> Result<Vec<Waiting>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(WAITING)?;
            let rows = stmt.query_map([], |r| {
                Ok(Waiting {
                    request: request_row(r)?,
                    reminded_at: r.get(9)?,
                    unreached_at: r.get(10)?,
                    mentor_mail: r
                        .get::<_, Option<String>>(11)?
                        .and_then(|s| MailState::parse(&s)),
                })
            })?;
            rows.collect()
        })
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

    /// Record that a pending request's mentor was never reached and queue `mails` (to the
    /// admin), once.
    pub fn unreached(&self, id: &str, mails: &[NewMail], now: i64) -> Result<bool, StoreError> {
        self.update_once(
            "UPDATE requests SET unreached_at = ?2 WHERE id = ?1 AND status = 'pending' AND unreached_at IS NULL",
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
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let changed = tx.execute(update, params![id, now])? == 1;
            if changed {
                insert_mails(&tx, id, mails, now)?;
            }
            tx.commit()?;
            Ok(changed)
        })
    }

    /// Delete requests closed before `before` (and their emails): the retention rule.
    pub fn purge_closed_before(&self, before: i64) -> Result<usize, StoreError> {
        self.write(|c| {
            c.execute(
                "DELETE FROM requests WHERE closed_at IS NOT NULL AND closed_at < ?1",
                params![before],
            )
        })
    }

    /// Erase every request from `email` (and its emails): an erasure request. Returns how many.
    pub fn purge_email(&self, email: &str) -> Result<usize, StoreError> {
        self.write(|c| {
            c.execute(
                "DELETE FROM requests WHERE email_key = ?1",
                params![address_key(email)],
            )
        })
    }

    /// Has this token been used before?
    pub fn token_used(&self, token_hash: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT 1 FROM used_tokens WHERE hash = ?1")?
                    .query_row(params![token_hash], |_| Ok(()))
                    .optional()?
                    .is_some(),
            )
        })
    }

    /// Liveness: the database can be read (on the reader, so a writer waiting elsewhere does
    /// not hold it up).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM heartbeat", [], |_| Ok(())))
    }

    /// A small real write, to learn whether the store can be written (after a fault, and now
    /// and then while idle, so `/healthz` knows before a mentee does).
    pub fn probe_write(&self, now: i64) -> Result<(), StoreError> {
        self.write(|c| {
            c.prepare_cached("INSERT OR REPLACE INTO heartbeat (id, at) VALUES (1, ?1)")?
                .execute(params![now])?;
            Ok(())
        })
    }
}

const MENTOR_ACCEPTED: &str =
    "SELECT COUNT(*) FROM requests WHERE mentor = ?1 AND status = 'accepted'";
// `+status`: without it SQLite may walk every pending request through `requests_status`
// (measured: stored requests per second fell by half as pending requests grew to 13,000).
const PENDING_FROM_ADDRESS: &str =
    "SELECT COUNT(*) FROM requests WHERE email_key = ?1 AND +status = 'pending'";
const RECENT_FROM_ADDRESS: &str =
    "SELECT COUNT(*) FROM requests WHERE email_key = ?1 AND created_at >= ?2";
const DUE: &str = "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1
     ORDER BY next_attempt_at, id";
const GET_REQUEST: &str =
    "SELECT id, created_at, mentor, name, email, mode, message, status, respond_by
     FROM requests WHERE id = ?1";
const MAILS_OF: &str =
    "SELECT id, request_id, kind, recipient, subject, text_body, html_body, reply_to,
     message_id, status, attempts, next_attempt_at, last_error, claim
     FROM outbox WHERE request_id = ?1 ORDER BY id";
const WAITING: &str =
    "SELECT r.id, r.created_at, r.mentor, r.name, r.email, r.mode, r.message, r.status,
     r.respond_by, r.reminded_at, r.unreached_at,
     (SELECT o.status FROM outbox o WHERE o.request_id = r.id AND o.kind = 'mentor'
      ORDER BY o.id DESC LIMIT 1)
     FROM requests r WHERE r.status = 'pending' ORDER BY r.created_at, r.id";

/// How often the checkpointer looks at the log.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// A thread that checkpoints the log (PASSIVE: it never blocks the writer, here or in another
/// process) until the store is dropped.
struct Checkpointer {
    stop: std::sync::Arc<(Mutex<bool>, parking_lot::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_millis(100))?;
        let stop = std::sync::Arc::new((Mutex::new(false), parking_lot::Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(move || {
                let (stopped, bell) = &*flag;
                let mut stopped = stopped.lock();
                while !*stopped {
                    bell.wait_for(&mut stopped, CHECKPOINT_EVERY);
                    // A failure (a full disk, say) is the writer's to report; try next time.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|e| {
                StoreError::from(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
                    Some(format!("cannot start the checkpoint thread: {e}")),
                ))
            })?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Work = Box<dyn FnOnce(&Connection) -> rusqlite::Result<()> + Send>;

/// One request's share of a group commit.
struct Job {
    work: Mutex<Option<Work>>,
    /// Queued, taken by a batch, or cancelled by its caller (who waited too long).
    state: std::sync::atomic::AtomicU8,
    result: Mutex<Option<Result<(), StoreError>>>,
    done: parking_lot::Condvar,
}

const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const CANCELLED: u8 = 2;

impl Job {
    fn new(work: Work) -> std::sync::Arc<Job> {
        std::sync::Arc::new(Job {
            work: Mutex::new(Some(work)),
            state: QUEUED.into(),
            result: Mutex::new(None),
            done: parking_lot::Condvar::new(),
        })
    }

    fn take(&self) -> Option<Work> {
        use std::sync::atomic::Ordering::AcqRel;
        let taken = self.state.compare_exchange(
            QUEUED,
            TAKEN,
            AcqRel,
            std::sync::atomic::Ordering::Acquire,
        );
        taken.ok().and_then(|_| self.work.lock().take())
    }

    /// Withdraw the job if no batch has taken it: then it never runs.
    fn cancel(&self) -> bool {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        self.state
            .compare_exchange(QUEUED, CANCELLED, AcqRel, Acquire)
            .is_ok()
    }

    fn is_done(&self) -> bool {
        self.result.lock().is_some()
    }

    fn finish(&self, result: Result<(), StoreError>) {
        *self.result.lock() = Some(result);
        self.done.notify_all();
    }

    /// The job's result. A taken job's batch holds the writer and is bounded by SQLite's
    /// busy wait, so this wait is too (with room to spare).
    fn wait(&self) -> Result<(), StoreError> {
        let deadline = Instant::now() + QUEUE_WAIT + BUSY_WAIT * 4;
        let mut result = self.result.lock();
        while result.is_none() {
            if self.done.wait_until(&mut result, deadline).timed_out() {
                return result.take().unwrap_or_else(|| Err(overloaded()));
            }
        }
        result.take().expect("checked above")
    }
}

/// Run `jobs` in one transaction, each in a savepoint of its own; every job learns its result.
fn run_batch(conn: &mut Connection, jobs: &[std::sync::Arc<Job>]) {
    let taken: Vec<(&Job, Work)> = jobs
        .iter()
        .filter_map(|j| j.take().map(|w| (&**j, w)))
        .collect();
    if taken.is_empty() {
        return;
    }
    let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = StoreError::from(e);
            for (job, _) in &taken {
                job.finish(Err(e.again()));
            }
            return;
        }
    };
    let mut outcomes = Vec::with_capacity(taken.len());
    for (job, work) in taken {
        let outcome = tx.savepoint().and_then(|sp| {
            work(&sp)?;
            sp.commit()
        });
        outcomes.push((job, outcome));
    }
    match tx.commit() {
        Ok(()) => {
            for (job, outcome) in outcomes {
                job.finish(outcome.map_err(StoreError::from));
            }
        }
        Err(e) => {
            let e = StoreError::from(e);
            for (job, _) in outcomes {
                job.finish(Err(e.again()));
            }
        }
    }
}

fn insert_mails(
    tx: &Connection,
    request_id: &str,
    mails: &[NewMail],
    now: i64,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO outbox (request_id, kind, recipient, subject, text_body, html_body, reply_to, message_id, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for m in mails {
        stmt.execute(params![
            request_id,
            m.kind.as_str(),
            m.recipient.to_string(),
            m.subject,
            m.text_body,
            m.html_body,
            m.reply_to,
            m.message_id,
            now
        ])?;
    }
    Ok(())
}

/// The columns [`request_row`] reads, in its order.
const REQUEST_COLUMNS: &str =
    "id, created_at, mentor, name, email, mode, message, status, respond_by";

/// The columns [`mail_row`] reads, in its order.
const MAIL_COLUMNS: &str = "id, request_id, kind, recipient, subject, text_body, html_body, reply_to, \
     message_id, status, attempts, next_attempt_at, last_error, claim";

/// [`Store::transition`]'s work, inside the caller's transaction.
fn transition_in(
    tx: &rusqlite::Transaction,
    id: &str,
    to: Status,
    from: &[Status],
    mails: &[NewMail],
    now: i64,
    update: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
) -> rusqlite::Result<Transition> {
    let status: Option<Status> = tx
        .prepare_cached("SELECT status FROM requests WHERE id = ?1")?
        .query_row(params![id], |r| parse_status(r, 0))
        .optional()?;
    let outcome = match status {
        None => Transition::NotFound,
        Some(s) if s == to => Transition::Already,
        Some(s) if from.contains(&s) => Transition::Done,
        Some(other) => Transition::Blocked(other),
    };
    update(tx)?;
    if outcome == Transition::Done {
        insert_mails(tx, id, mails, now)?;
    }
    Ok(outcome)
}

/// [`Store::answer`]'s work, inside the caller's transaction.
fn answer_in(
    tx: &rusqlite::Transaction,
    id: &str,
    to: Status,
    note: Option<&str>,
    token_hash: &str,
    mails: &[NewMail],
    now: i64,
) -> rusqlite::Result<Transition> {
    transition_in(tx, id, to, &[Status::Pending], mails, now, |tx| {
        tx.execute(
            "UPDATE requests SET status = ?2, answered_at = ?3, note = ?4,
                    closed_at = CASE WHEN ?2 = 'accepted' THEN NULL ELSE ?3 END
             WHERE id = ?1 AND status = 'pending'",
            params![id, to.as_str(), now, note],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO used_tokens (hash, used_at) VALUES (?1, ?2)",
            params![token_hash, now],
        )?;
        Ok(())
    })
}

fn bad_word(i: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

fn parse_status(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Status> {
    r.get::<_, String>(i)?.parse().map_err(|e| bad_word(i, e))
}

fn parse_kind(r: &rusqlite::Row, i: usize) -> rusqlite::Result<MailKind> {
    r.get::<_, String>(i)?.parse().map_err(|e| bad_word(i, e))
}

fn request_row(r: &rusqlite::Row) -> rusqlite::Result<StoredRequest> {
    Ok(StoredRequest {
        id: r.get(0)?,
        created_at: r.get(1)?,
        mentor: r.get(2)?,
        name: r.get(3)?,
        email: r.get(4)?,
        mode: r.get(5)?,
        message: r.get(6)?,
        status: parse_status(r, 7)?,
        respond_by: r.get(8)?,
    })
}

fn mail_row(r: &rusqlite::Row) -> rusqlite::Result<Mail> {
    let state: String = r.get(9)?;
    Ok(Mail {
        id: r.get(0)?,
        request_id: r.get(1)?,
        kind: parse_kind(r, 2)?,
        recipient: {
            let Ok(to) = r.get::<_, String>(3)?.parse::<Recipient>();
            to
        },
        subject: r.get(4)?,
        text_body: r.get(5)?,
        html_body: r.get(6)?,
        reply_to: r.get(7)?,
        message_id: r.get(8)?,
        state: MailState::parse(&state).ok_or_else(|| {
            bad_word(
                9,
                super::kinds::UnknownWord {
                    what: "mail state",
                    word: state.clone(),
                },
            )
        })?,
        attempts: r.get(10)?,
        next_attempt_at: r.get(11)?,
        last_error: r.get(12)?,
        claim: r.get(13)?,
    })
}

mod matches;
pub use matches::{
    Ended, Feedback, MatchFacts, MatchRecord, NewSession, Recorded, Session, SessionChange,
};

#[cfg(test)]
mod tests;
