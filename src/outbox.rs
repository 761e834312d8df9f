//! The outbox worker: takes due mail from the store, sends it, and records the outcome.
//! A temporary failure (a refused connection, a 4xx answer) is retried with exponential
//! backoff; after the last attempt, or on a permanent failure, the mail is marked failed and
//! shown by `mentorsite requests list`. Mentor addresses are looked up when sending.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::mail::{self, Mailer};
use crate::web::requests::Service;

/// Attempts before a mail is given up on (about 4 hours of retries in all).
pub const MAX_ATTEMPTS: i64 = 8;

/// Seconds to wait after the `attempt`-th failure: 1, 2, 4 … minutes, at most 6 hours.
/// `MENTORSITE_RETRY_BASE_SECONDS` replaces the first minute (tests use 1).
pub fn backoff(attempt: i64) -> i64 {
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| {
        std::env::var("MENTORSITE_RETRY_BASE_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|v| *v > 0)
            .unwrap_or(60)
    });
    (base << (attempt - 1).clamp(0, 12)).min(6 * 3600)
}

/// Run until `stop` turns true; the mail in hand is finished first.
pub async fn run(service: Arc<Service>, mailer: Mailer, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let sent = send_due(&service, &mailer).await;
        if sent > 0 {
            continue;
        }
        let now = service.now();
        let wait = match service.store.next_due() {
            Ok(Some(at)) => (at - now).clamp(0, 30),
            _ => 30,
        };
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(wait as u64)) => {}
            () = service.wake.notified() => {}
            _ = stop.changed() => {}
        }
    }
}

/// Send what is due now; returns how many mails were handled.
pub async fn send_due(service: &Service, mailer: &Mailer) -> usize {
    let due = match service.store.due(service.now(), 20) {
        Ok(d) => d,
        Err(e) => {
            crate::log::event("outbox_error", &[("error", &e.to_string())]);
            return 0;
        }
    };
    let count = due.len();
    for m in due {
        let outcome = match service.address_of(&m.recipient) {
            Some(to) => {
                let msg = mail::message(
                    &service.config.email.from,
                    &to,
                    m.reply_to.as_deref(),
                    &m.message_id,
                    &m.subject,
                    &m.text_body,
                    &m.html_body,
                );
                match msg {
                    Ok(msg) => mailer.send(msg).await,
                    Err(e) => Err(e),
                }
            }
            None => Err(mail::SendError {
                temporary: false,
                message: "the mentor is no longer on the register".into(),
            }),
        };
        let id = m.id.to_string();
        let attempt = m.attempts + 1;
        let result = match outcome {
            Ok(()) => {
                crate::log::event(
                    "mail_sent",
                    &[("mail", &id), ("request", &m.request_id), ("kind", &m.kind)],
                );
                service.store.mark_sent(m.id, service.now())
            }
            Err(e) => {
                let retry = (e.temporary && attempt < MAX_ATTEMPTS)
                    .then(|| service.now() + backoff(attempt));
                let event = if retry.is_some() {
                    "mail_retry"
                } else {
                    "mail_failed"
                };
                crate::log::event(
                    event,
                    &[
                        ("mail", &id),
                        ("request", &m.request_id),
                        ("kind", &m.kind),
                        ("attempt", &attempt.to_string()),
                    ],
                );
                service.store.mark_attempt_failed(m.id, &e.message, retry)
            }
        };
        if let Err(e) = result {
            crate::log::event("outbox_error", &[("mail", &id), ("error", &e.to_string())]);
        }
    }
    count
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
}
