//! The lifecycle's rules on the repository's demo scheme, with an in-memory store and an
//! in-memory mailer: no HTTP, no SMTP.

use std::sync::atomic::{AtomicI64, Ordering};

use super::*;
use crate::mail::Mailer;
use crate::outbox::Outbox;
use crate::requests::store::MailState;

/// Monday 23 November 2026, 10:00 UTC.
const MONDAY: i64 = 1_795_428_000;
const DAY: i64 = 24 * 3600;

struct World {
    desk: Desk,
    clock: Arc<AtomicI64>,
    sent: Arc<std::sync::Mutex<Vec<lettre::Message>>>,
}

fn world() -> World {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let prepared = crate::site::prepare(&crate::site::BuildOptions {
        root: root.to_path_buf(),
        ..Default::default()
    })
    .expect("the demo scheme prepares");
    let config = &prepared.config;
    let directory = Arc::new(Directory::new(
        &prepared.register,
        &config.base_url,
        &config.scheme.admin_email,
    ));
    let clock = Arc::new(AtomicI64::new(MONDAY));
    let c = clock.clone();
    let desk = Desk::new(
        root,
        config,
        directory,
        Arc::new(Store::in_memory().unwrap()),
        b"a test key of at least thirty-two bytes".to_vec(),
        Arc::new(move || c.load(Ordering::SeqCst)),
    )
    .unwrap();
    World {
        desk,
        clock,
        sent: Arc::default(),
    }
}

impl World {
    fn at(&self, t: i64) {
        self.clock.store(t, Ordering::SeqCst);
    }

    fn outbox(&self, mailer: Mailer) -> Outbox {
        let d = &self.desk;
        Outbox::new(
            d.store.clone(),
            d.directory.clone(),
            d.queue.clone(),
            mailer,
            "Scheme <no-reply@example.org>".into(),
            d.clock(),
        )
    }

    /// Send everything due, to memory.
    fn deliver(&self) -> usize {
        let mut outbox = self.outbox(Mailer::Memory(self.sent.clone()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut n = 0;
        loop {
            let pass = rt.block_on(outbox.pass()).unwrap();
            if pass.sent == 0 {
                return n;
            }
            n += pass.sent;
        }
    }
}

fn valid(email: &str) -> Valid {
    Valid {
        mentor: "amara-okafor".into(),
        name: "Sam Lee".into(),
        email: email.into(),
        mode: "video".into(),
        message: "I am back after a year away.".into(),
    }
}

fn token(w: &World, id: &str, action: &str) -> String {
    w.desk.sign(id, action, MONDAY + 30 * DAY)
}

#[test]
fn a_request_is_answered_once_and_the_other_answer_is_refused() {
    let w = world();
    let s = w.desk.submit(&valid("sam@example.net")).unwrap();
    assert_eq!(s.respond_by.to_string(), "2026-11-30");
    assert_eq!(w.deliver(), 3, "mentor, admin, mentee");
    let accept = token(&w, &s.id, "accept");
    let done = w.desk.answer(&s.id, Answer::Accept, &accept).unwrap();
    assert!(matches!(done, Done::Changed(r) if r.status == Status::Accepted));
    assert!(matches!(
        w.desk.answer(&s.id, Answer::Accept, &accept).unwrap(),
        Done::Already(_)
    ));
    let decline = token(&w, &s.id, "decline");
    assert!(matches!(
        w.desk.answer(&s.id, Answer::Decline { note: None }, &decline),
        Err(Problem::AnsweredOtherwise(r)) if r.status == Status::Accepted
    ));
    assert!(matches!(
        w.desk.answer(&s.id, Answer::Accept, &decline),
        Err(Problem::Token(TokenError::BadSignature))
    ));
    assert_eq!(
        w.deliver(),
        3,
        "the mentee, the mentor and the admin told once"
    );
}

#[test]
fn limits_refuse_without_storing() {
    let w = world();
    for _ in 0..PENDING_PER_MENTEE {
        w.desk.submit(&valid("sam@example.net")).unwrap();
    }
    assert!(matches!(
        w.desk.submit(&valid("SAM@example.NET")),
        Err(Refused::PendingLimit)
    ));
    let mut unknown = valid("x@example.net");
    unknown.mentor = "nobody".into();
    assert!(matches!(
        w.desk.submit(&unknown),
        Err(Refused::UnknownMentor)
    ));
    assert_eq!(w.desk.store.list().unwrap().len(), 3);
}

#[test]
fn a_mentor_never_reached_holds_the_deadline_and_the_admin_is_told_once() {
    let w = world();
    let s = w.desk.submit(&valid("sam@example.net")).unwrap();
    // The mentor's mail fails for good; the others go.
    let claimed = w.desk.store.claim(MONDAY, 60, "c", 10).unwrap();
    for m in &claimed {
        if m.kind == MailKind::Mentor {
            w.desk
                .store
                .mark_failed(m.id, "c", "550 no such user", None)
                .unwrap();
        } else {
            w.desk.store.mark_sent(m.id, MONDAY).unwrap();
        }
    }
    w.at(MONDAY + 10 * DAY); // well past the deadline
    let report = w.desk.sweep().unwrap();
    assert_eq!(
        (report.lapsed, report.unreached, report.reminded),
        (0, 1, 0)
    );
    assert_eq!(w.desk.sweep().unwrap().unreached, 0, "once");
    assert_eq!(
        w.desk.store.get(&s.id).unwrap().unwrap().status,
        Status::Pending
    );
    // The admin fixes the address and resends: a new deadline from today.
    let requeued = w.desk.resend(Resend::AllFailed).unwrap();
    assert_eq!(requeued, vec![(s.id.clone(), MailKind::Mentor)]);
    let r = w.desk.store.get(&s.id).unwrap().unwrap();
    assert_eq!(
        r.respond_by, "2026-12-10",
        "five working days from Thursday 3 December"
    );
    w.deliver();
    let mails = w.desk.store.mails_of(&s.id).unwrap();
    assert!(
        mails.iter().all(|m| m.state == MailState::Sent),
        "{mails:#?}"
    );
    w.at(MONDAY + 18 * DAY);
    assert_eq!(w.desk.sweep().unwrap().lapsed, 1);
}

#[test]
fn mail_still_retrying_holds_the_deadline_too() {
    let w = world();
    let s = w.desk.submit(&valid("sam@example.net")).unwrap();
    w.at(MONDAY + 10 * DAY);
    assert_eq!(w.desk.sweep().unwrap(), SweepReport::default());
    assert_eq!(
        w.desk.store.get(&s.id).unwrap().unwrap().status,
        Status::Pending
    );
}

/// Sam's request to Amara, as the email tests compose it.
fn sample_request() -> StoredRequest {
    StoredRequest {
        id: "0123456789abcdef0123".into(),
        created_at: MONDAY,
        mentor: "amara-okafor".into(),
        name: "Sam Lee".into(),
        email: "sam@example.net".into(),
        mode: "video".into(),
        message: "I am back after a year away.\n\nNights worry me most.".into(),
        status: Status::Pending,
        respond_by: "2026-11-30".into(),
    }
}

/// Every kind of email the lifecycle sends, as the demo theme writes it.
#[test]
fn every_email_kind_reads_as_written() {
    let w = world();
    let r = sample_request();
    let contact = w.desk.directory.get("amara-okafor");
    let all: Vec<Addressed> = MailKind::ALL
        .iter()
        .map(|k| (*k, Recipient::Admin, None))
        .collect();
    let extras = Extras {
        note: Some("I am away until March; Dr Bundle may suit you."),
        respond_url: Some(
            "https://requests.example.org/requests/0123456789abcdef0123/respond?t=TOKEN",
        ),
        withdraw_url: Some(
            "https://requests.example.org/requests/0123456789abcdef0123/withdraw?t=TOKEN",
        ),
    };
    let mails = w
        .desk
        .letters
        .compose(&r, contact.as_ref(), &all, &extras)
        .unwrap();
    let mut text = String::new();
    for m in &mails {
        text.push_str(&format!(
            "===== {} =====\nMessage-ID: {}\nSubject: {}\n\n{}\n",
            m.kind, m.message_id, m.subject, m.text_body
        ));
    }
    insta::assert_snapshot!("every_email_kind", text);
    for m in &mails {
        let title = format!("<title>{}</title>", m.subject.replace('\'', "&#39;"));
        assert!(
            m.html_body.contains(&title),
            "{}: the HTML part is titled with its subject\n{}",
            m.kind,
            &m.html_body[..m.html_body.len().min(300)]
        );
        assert_eq!(
            m.text_body.matches("withdraw the request").count(),
            usize::from(m.kind == MailKind::Mentee),
            "{}: the withdraw paragraph once, in the acknowledgement",
            m.kind
        );
    }
    // Only the mails that put a match in touch carry the mentor's private address.
    let private = contact.unwrap().email;
    for m in &mails {
        let shares = matches!(
            m.kind,
            MailKind::AcceptedMentee | MailKind::AcceptedMentor | MailKind::AcceptedAdmin
        );
        if !shares {
            assert!(!m.text_body.contains(&private), "{}", m.kind);
            assert!(!m.html_body.contains(&private), "{}", m.kind);
        }
    }
}

/// Every kind, as the mailer writes it, through SpamAssassin's local rules (no network
/// tests): each must score 0 or below. Skipped, saying so, where SpamAssassin is not
/// installed, except in CI (`.ci/run` installs it), where that is a failure.
#[test]
fn every_email_kind_scores_zero_or_below_in_spamassassin() {
    let sa = std::process::Command::new("spamassassin")
        .arg("--version")
        .output();
    if !sa.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "spamassassin is not installed (Debian: apt install spamassassin)"
        );
        eprintln!("skipped: spamassassin is not installed (Debian: apt install spamassassin)");
        return;
    }
    let w = world();
    let r = sample_request();
    let contact = w.desk.directory.get("amara-okafor");
    let all: Vec<Addressed> = MailKind::ALL
        .iter()
        .map(|k| {
            let to = match k.as_str() {
                s if s.ends_with("mentee") => Recipient::Mentee(r.email.clone()),
                s if s.ends_with("admin") => Recipient::Admin,
                _ => Recipient::Mentor(r.mentor.clone()),
            };
            (*k, to, None)
        })
        .collect();
    let extras = Extras {
        note: Some("I am away until March; another mentor may suit you better."),
        respond_url: Some(
            "https://mentors.example.org/requests/0123456789abcdef0123/respond?t=1796000000.abc",
        ),
        withdraw_url: Some(
            "https://mentors.example.org/requests/0123456789abcdef0123/withdraw?t=1796000000.def",
        ),
    };
    let mails = w
        .desk
        .letters
        .compose(&r, contact.as_ref(), &all, &extras)
        .unwrap();
    let from = "Returners' Peer Mentoring <no-reply@example.org>".to_string();
    let mut mbox = Vec::new();
    for m in &mails {
        let to = w.desk.directory.address_of(&m.recipient).unwrap();
        // As the outbox sends it: later mails answer the first to the same person.
        let first = crate::mail::message_id(&r.id, m.recipient.role(), &from);
        let message = crate::mail::message(&crate::mail::Letter {
            from: &from,
            to: &to,
            reply_to: m.reply_to.as_deref(),
            message_id: &m.message_id,
            in_reply_to: (first != m.message_id).then_some(first.as_str()),
            subject: &m.subject,
            text: &m.text_body,
            html: &m.html_body,
        })
        .unwrap();
        mbox.extend_from_slice(b"From mentorsite@example.org Mon Nov 23 10:00:00 2026\n");
        let text = String::from_utf8(message.formatted())
            .unwrap()
            .replace("\r\n", "\n");
        for line in text.lines() {
            if line.starts_with("From ") {
                mbox.push(b'>');
            }
            mbox.extend_from_slice(line.as_bytes());
            mbox.push(b'\n');
        }
        mbox.push(b'\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.mbox");
    std::fs::write(&path, &mbox).unwrap();
    let out = std::process::Command::new("spamassassin")
        .args(["-L", "-t", "--mbox"])
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let scores: Vec<(String, f64)> = report
        .split("\nFrom mentorsite@example.org ")
        .filter_map(|msg| {
            let status = msg.split("X-Spam-Status: ").nth(1)?;
            let score: f64 = status
                .split("score=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            let subject = msg.split("\nSubject: ").nth(1)?.lines().next()?.to_string();
            let details = msg
                .split("Content analysis details:")
                .nth(1)
                .unwrap_or("")
                .lines()
                .take(20)
                .collect::<Vec<_>>()
                .join("\n");
            Some((format!("{subject}\n{details}"), score))
        })
        .collect();
    assert_eq!(
        scores.len(),
        mails.len(),
        "a score for every mail:\n{report}"
    );
    let over: Vec<String> = scores
        .iter()
        .filter(|(_, s)| *s > 0.0)
        .map(|(what, s)| format!("{s}: {what}"))
        .collect();
    assert!(
        over.is_empty(),
        "mails scoring above 0:\n{}",
        over.join("\n\n")
    );
}
