//! The outbox worker: claims due mail from the store, sends it, and records the outcome.
//!
//! Each mail is claimed with a lease before it is sent, so any number of processes on one
//! database send it once; a holder that dies leaves it to be claimed again when the lease
//! ends, with the same Message-ID (at least once, never lost). A temporary failure (a refused
//! connection, a silent server, a 4xx answer) is retried with exponential backoff; after the
//! last attempt, or on a permanent failure, the mail is marked failed for
//! `mentorsite requests list` and `requests resend`.
//!
//! The store is only touched on blocking threads. When it cannot be written (full, locked,
//! read-only), the worker backs off as it does for SMTP, probing with a small write, and a
//! mail sent whose outcome could not be recorded is remembered and recorded first: it is never
//! sent again by this process.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::mail::{self, Mailer, SendError};
use crate::requests::desk::Clock;
use crate::requests::directory::Directory;
use crate::requests::store::{Mail, MailQueue, Store, StoreError};

/// Attempts before a mail is given up on (about 4 hours of retries in all).
pub const MAX_ATTEMPTS: i64 = 8;
/// Mails claimed at once (and sent side by side, over the pool's connections).
const BATCH: usize = 32;
/// The longest the worker sleeps with nothing due: mail stored by another process (or requeued
/// by `requests resend`) is found within this.
const IDLE_POLL: Duration = Duration::from_secs(5);
/// While idle, the store is probed with a small write this often, so `/healthz` learns of a
/// full disk before a mentee does.
const PROBE_EVERY: Duration = Duration::from_secs(30);
/// The longest wait between two probes of a store that could not be written.
const STORAGE_WAIT_MAX: Duration = Duration::from_secs(15);
/// After a stop signal, how long a send in progress may go on.
const STOP_GRACE: Duration = Duration::from_secs(4);

/// Seconds to wait after the `attempt`-th failure: 1, 2, 4 … minutes, at most 6 hours.
/// `MENTORSITE_RETRY_BASE_SECONDS` replaces the first minute (tests use 1).
pub fn backoff(attempt: i64) -> i64 {
    (env_seconds("MENTORSITE_RETRY_BASE_SECONDS", 60) << (attempt - 1).clamp(0, 12)).min(6 * 3600)
}

/// How long a claim lasts: longer than any send may take (the SMTP limit), so a live holder
/// keeps its mail; a dead one's mail is free again after this. `MENTORSITE_LEASE_SECONDS`
/// shortens it (tests of a kill -9).
pub fn lease(send_limit: Duration) -> i64 {
    let floor = send_limit.as_secs() as i64 * 2 + 30;
    env_seconds("MENTORSITE_LEASE_SECONDS", floor.max(120))
}

fn env_seconds(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &i64| *v > 0)
        .unwrap_or(default)
}

/// What the worker needs: the store, the directory for addresses, a mailer and a clock.
pub struct Outbox {
    pub store: Arc<Store>,
    pub directory: Arc<Directory>,
    pub queue: Arc<MailQueue>,
    pub mailer: Mailer,
    pub from: String,
    pub clock: Clock,
    /// A name for this process's claims (unique per worker).
    owner: String,
    lease: i64,
    /// Mails sent whose outcome the store would not take yet: recorded before anything else.
    unrecorded: Vec<(i64, i64)>,
}

/// One pass's result.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub failed: usize,
}

impl Outbox {
    pub fn new(
        store: Arc<Store>,
        directory: Arc<Directory>,
        queue: Arc<MailQueue>,
        mailer: Mailer,
        from: String,
        clock: Clock,
    ) -> Outbox {
        let limit = mailer.limit();
        Outbox {
            store,
            directory,
            queue,
            mailer,
            from,
            clock,
            owner: uuid::Uuid::new_v4().simple().to_string(),
            lease: lease(limit),
            unrecorded: Vec::new(),
        }
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Run until `stop` turns true. A send in progress gets [`STOP_GRACE`] to finish; after
    /// that it is dropped, and its lease hands it to the next process.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut storage_wait = Duration::from_secs(1);
        let mut last_probe = tokio::time::Instant::now();
        loop {
            if *stop.borrow() {
                return;
            }
            let pass = {
                let pass = self.pass();
                tokio::pin!(pass);
                tokio::select! {
                    p = &mut pass => p,
                    _ = stop.changed() => {
                        // Let the send in hand finish (and be recorded) if it can, then go.
                        let _ = tokio::time::timeout(STOP_GRACE, &mut pass).await;
                        return;
                    }
                }
            };
            let wait = match pass {
                Ok(p) if p.sent + p.failed > 0 => {
                    storage_wait = Duration::from_secs(1);
                    continue;
                }
                Ok(_) => {
                    storage_wait = Duration::from_secs(1);
                    if last_probe.elapsed() >= PROBE_EVERY {
                        last_probe = tokio::time::Instant::now();
                        let (store, now) = (self.store.clone(), self.now());
                        let _ = blocking(move || store.probe_write(now)).await;
                    }
                    let store = self.store.clone();
                    let next = blocking(move || store.next_due()).await;
                    let now = self.now();
                    match next {
                        Ok(Some(at)) => Duration::from_secs((at - now).clamp(0, 5) as u64),
                        _ => IDLE_POLL,
                    }
                }
                // The store cannot be written: wait longer each time, up to STORAGE_WAIT_MAX,
                // then probe. The cap is short because a probe is one small write, and
                // `/healthz` (and every mentee) waits for it to learn the fault has passed.
                Err(_) => {
                    let wait = storage_wait;
                    storage_wait = (storage_wait * 2).min(STORAGE_WAIT_MAX);
                    wait
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait.min(IDLE_POLL)) => {}
                () = self.queue.rung() => {}
                _ = stop.changed() => {}
            }
            if storage_wait > Duration::from_secs(1) {
                // In a storage fault: learn whether it has passed with one small write.
                let (store, now) = (self.store.clone(), self.now());
                let _ = blocking(move || store.probe_write(now)).await;
            }
        }
    }

    /// Record what is owed, then claim what is due and send it, side by side.
    pub async fn pass(&mut self) -> Result<Pass, StoreError> {
        self.record_owed().await?;
        let (store, now, lease, owner) = (
            self.store.clone(),
            self.now(),
            self.lease,
            self.owner.clone(),
        );
        let claimed = blocking(move || store.claim(now, lease, &owner, BATCH)).await?;
        let sends = claimed.iter().map(|m| self.send(m));
        let outcomes = futures_util::future::join_all(sends).await;
        let mut pass = Pass::default();
        for (m, outcome) in claimed.iter().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    pass.sent += 1;
                    log_mail("mail_sent", m, None);
                    self.unrecorded.push((m.id, self.now()));
                }
                Err(e) => {
                    pass.failed += 1;
                    let retry = (e.temporary && m.attempts < MAX_ATTEMPTS)
                        .then(|| self.now() + backoff(m.attempts));
                    let event = if retry.is_some() {
                        "mail_retry"
                    } else {
                        "mail_failed"
                    };
                    log_mail(event, m, Some(&e.message));
                    let (store, id, owner, message) =
                        (self.store.clone(), m.id, self.owner.clone(), e.message);
                    // A failure not recorded only means the mail is tried again when its
                    // lease ends: nothing is lost or sent twice by leaving it.
                    let _ = blocking(move || store.mark_failed(id, &owner, &message, retry)).await;
                }
            }
        }
        self.record_owed().await?;
        Ok(pass)
    }

    /// Record mails sent whose outcome is not yet stored.
    async fn record_owed(&mut self) -> Result<(), StoreError> {
        if self.unrecorded.is_empty() {
            return Ok(());
        }
        let (store, owed) = (self.store.clone(), self.unrecorded.clone());
        blocking(move || store.mark_all_sent(&owed)).await?;
        self.unrecorded.clear();
        Ok(())
    }

    async fn send(&self, m: &Mail) -> Result<(), SendError> {
        let Some(to) = self.directory.address_of(&m.recipient) else {
            return Err(SendError {
                temporary: false,
                message: "the mentor is no longer on the register".into(),
            });
        };
        // The first mail to this person about this request starts the thread; later ones
        // answer it.
        let first = mail::message_id(&m.request_id, m.recipient.role(), &self.from);
        let message = mail::message(&mail::Letter {
            from: &self.from,
            to: &to,
            reply_to: m.reply_to.as_deref(),
            message_id: &m.message_id,
            in_reply_to: (first != m.message_id).then_some(first.as_str()),
            subject: &m.subject,
            text: &m.text_body,
            html: &m.html_body,
            urgent: m.kind.is_urgent(),
        })?;
        self.mailer.send(message).await
    }
}

fn log_mail(event: &str, m: &Mail, error: Option<&str>) {
    let (id, attempt) = (m.id.to_string(), m.attempts.to_string());
    let mut fields = vec![
        ("mail", id.as_str()),
        ("request", m.request_id.as_str()),
        ("kind", m.kind.as_str()),
        ("attempt", attempt.as_str()),
    ];
    let redacted = error.map(redact);
    if let Some(e) = &redacted {
        fields.push(("error", e));
    }
    crate::log::event(event, &fields);
}

/// A server's answer with any address in it replaced: logs never carry addresses.
fn redact(message: &str) -> String {
    message
        .split_inclusive(char::is_whitespace)
        .map(|w| if w.contains('@') { "<address> " } else { w })
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// Run store work on a blocking thread, off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        assert_eq!(backoff(1), 60);
        assert_eq!(backoff(2), 120);
        assert_eq!(backoff(3), 240);
        assert_eq!(backoff(20), 6 * 3600);
    }

    #[test]
    fn addresses_never_reach_the_log() {
        assert_eq!(
            redact("550 5.1.1 <sam@example.net>: no such user"),
            "550 5.1.1 <address> no such user"
        );
    }

    #[test]
    fn a_lease_outlasts_the_slowest_send() {
        assert!(lease(Duration::from_secs(30)) > 30);
        assert_eq!(lease(Duration::from_secs(300)), 630);
    }
}
