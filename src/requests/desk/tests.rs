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

/// A match two sessions in, with a concern and feedback, as the mails after it see it.
fn sample_after() -> crate::requests::letters::AfterFacts {
    use crate::requests::letters::{AfterFacts, FeedbackFacts, SessionFacts};
    AfterFacts {
        held: 2,
        allowed: 4,
        window_ends: "2027-05-23".into(),
        window_ends_long: "Sunday 23 May 2027".into(),
        ended: "sessions_used",
        session: Some(SessionFacts {
            held_on: "2026-12-14".into(),
            held_on_long: "Monday 14 December 2026".into(),
            minutes: 60,
            mode: "video".into(),
            note: "They mentioned feeling unsafe on nights; please call me.".into(),
        }),
        feedback: Some(FeedbackFacts {
            helpful: 4,
            helped: "Someone who had been there before.".into(),
            more_sessions: true,
            another_mentor: false,
        }),
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
        sessions_url: Some(
            "https://requests.example.org/requests/0123456789abcdef0123/sessions?t=TOKEN",
        ),
        feedback_url: Some(
            "https://requests.example.org/requests/0123456789abcdef0123/feedback?t=TOKEN",
        ),
        after: Some(&sample_after()),
        occasion: None,
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
    // The mentor's session note (the concern mail's) never reaches a mentee; the mentee's
    // feedback text only the admin's copy of it.
    for m in &mails {
        let to_mentee = m.kind.as_str().ends_with("mentee");
        let note = m.text_body.contains("unsafe on nights");
        assert!(!(to_mentee && note), "{}", m.kind);
        assert_eq!(note, m.kind == MailKind::ConcernAdmin, "{}", m.kind);
        assert_eq!(
            m.text_body.contains("been there before"),
            m.kind == MailKind::FeedbackAdmin,
            "{}",
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
        sessions_url: Some(
            "https://mentors.example.org/requests/0123456789abcdef0123/sessions?t=1796000000.ghi",
        ),
        feedback_url: Some(
            "https://mentors.example.org/requests/0123456789abcdef0123/feedback?t=1796000000.jkl",
        ),
        after: Some(&sample_after()),
        occasion: None,
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
            urgent: m.kind.is_urgent(),
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

// After the match.

use super::matches::{SessionAction, SessionOutcome};
use crate::requests::sessions::{FeedbackForm, SessionForm};
use crate::requests::store::Ended;

/// A request from `email` to `mentor`, accepted at MONDAY; its mail delivered.
fn matched(w: &World, mentor: &str, email: &str) -> String {
    let mut v = valid(email);
    v.mentor = mentor.into();
    let s = w.desk.submit(&v).unwrap();
    let t = token(w, &s.id, "accept");
    w.desk.answer(&s.id, Answer::Accept, &t).unwrap();
    w.deliver();
    s.id
}

fn session(date: &str, concern: bool) -> SessionForm {
    SessionForm {
        date: Some(date.into()),
        minutes: Some("60".into()),
        mode: Some("video".into()),
        note: Some("Talked about nights; a note for the team only.".into()),
        concern: concern.then(|| "yes".into()),
    }
}

/// Post `action` as the page's form would, with a token and nonce of its own.
fn post(
    w: &World,
    id: &str,
    action: SessionAction<'_>,
) -> Result<(SessionOutcome, crate::requests::store::MatchRecord), Problem> {
    let m = w.desk.store.match_record(id).unwrap().unwrap();
    let (n, t) = w.desk.form_token(&m, &action, w.desk.now() + 30 * DAY);
    w.desk.sessions_post(id, action, &t, &n)
}

/// The kinds of every mail queued for `id`, in order.
fn kinds(w: &World, id: &str) -> Vec<MailKind> {
    w.desk
        .store
        .mails_of(id)
        .unwrap()
        .iter()
        .map(|m| m.kind)
        .collect()
}

#[test]
fn sessions_are_recorded_a_concern_mails_the_admin_once_and_the_last_completes() {
    let w = world();
    let id = matched(&w, "amara-okafor", "sam@example.net");
    let mentee = kinds(&w, &id).len();
    w.at(MONDAY + 2 * DAY);
    let (done, m) = post(
        &w,
        &id,
        SessionAction::Record(&session("2026-11-24", false)),
    )
    .unwrap();
    assert_eq!(
        done,
        SessionOutcome::Recorded {
            concern: false,
            completed: false
        }
    );
    assert_eq!(m.sessions.len(), 1);
    assert_eq!(kinds(&w, &id).len(), mentee, "no mail for a plain record");

    // A concern: the admin is mailed at once, marked urgent, with the note; the same form
    // posted again records nothing and mails nothing.
    let form = session("2026-11-25", true);
    let action = SessionAction::Record(&form);
    let m = w.desk.store.match_record(&id).unwrap().unwrap();
    let (n, t) = w.desk.form_token(&m, &action, MONDAY + 30 * DAY);
    let (done, _) = w.desk.sessions_post(&id, action, &t, &n).unwrap();
    assert_eq!(
        done,
        SessionOutcome::Recorded {
            concern: true,
            completed: false
        }
    );
    let (again, m) = w.desk.sessions_post(&id, action, &t, &n).unwrap();
    assert_eq!(again, SessionOutcome::Already);
    assert_eq!(m.sessions.len(), 2);
    let mails = w.desk.store.mails_of(&id).unwrap();
    let concerns: Vec<_> = mails
        .iter()
        .filter(|m| m.kind == MailKind::ConcernAdmin)
        .collect();
    assert_eq!(concerns.len(), 1, "the admin mailed once");
    assert!(
        concerns[0].text_body.contains("Sessions so far: 2 of 4"),
        "counting the record it came with, as the page does: {}",
        concerns[0].text_body
    );
    assert_eq!(concerns[0].recipient, Recipient::Admin);
    assert!(concerns[0].text_body.contains("Talked about nights"));
    assert!(MailKind::ConcernAdmin.is_urgent());
    w.deliver();
    let sent = w.sent.lock().unwrap();
    let urgent = sent
        .iter()
        .find(|m| String::from_utf8_lossy(&m.formatted()).contains("Please act today"))
        .expect("the concern went");
    assert!(String::from_utf8_lossy(&urgent.formatted()).contains("Importance: high"));
    drop(sent);

    // Correcting the concern record (box still ticked) mails nothing more.
    let sid = m.sessions[1].id;
    let (done, _) = post(
        &w,
        &id,
        SessionAction::Correct(sid, &session("2026-11-25", true)),
    )
    .unwrap();
    assert_eq!(done, SessionOutcome::Corrected { concern: false });
    assert_eq!(
        kinds(&w, &id)
            .iter()
            .filter(|k| **k == MailKind::ConcernAdmin)
            .count(),
        1
    );

    // Sessions three and four: the fourth completes the match; both are thanked.
    post(
        &w,
        &id,
        SessionAction::Record(&session("2026-11-24", false)),
    )
    .unwrap();
    let last = session("2026-11-25", false);
    let action = SessionAction::Record(&last);
    let record = w.desk.store.match_record(&id).unwrap().unwrap();
    let (n, t) = w.desk.form_token(&record, &action, MONDAY + 30 * DAY);
    let (done, m) = w.desk.sessions_post(&id, action, &t, &n).unwrap();
    // Posted twice (a double click), the second is "sent already", not "ended".
    let (again, _) = w.desk.sessions_post(&id, action, &t, &n).unwrap();
    assert_eq!(again, SessionOutcome::Already);
    assert_eq!(
        done,
        SessionOutcome::Recorded {
            concern: false,
            completed: true
        }
    );
    assert_eq!(m.request.status, Status::Completed);
    assert_eq!(m.ended, Some(Ended::SessionsUsed));
    let k = kinds(&w, &id);
    for kind in [
        MailKind::CompletedMentee,
        MailKind::CompletedMentor,
        MailKind::CompletedAdmin,
    ] {
        assert_eq!(k.iter().filter(|x| **x == kind).count(), 1, "{kind}");
    }
    // No mentee mail holds the mentor's note.
    for m in w.desk.store.mails_of(&id).unwrap() {
        if matches!(m.recipient, Recipient::Mentee(_)) {
            assert!(!m.text_body.contains("Talked about nights"), "{}", m.kind);
            assert!(!m.html_body.contains("Talked about nights"), "{}", m.kind);
        }
    }
    // A completed match takes no more records.
    assert!(matches!(
        post(
            &w,
            &id,
            SessionAction::Record(&session("2026-11-26", false))
        ),
        Err(Problem::Closed(_))
    ));
}

#[test]
fn a_session_is_dated_in_the_scheme_s_time_zone_across_the_clock_change() {
    let w = world();
    let id = matched(&w, "amara-okafor", "sam@example.net");
    // 23:30 UTC on Saturday 27 March 2027 is still the 27th in London (GMT)...
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_second();
    w.at(at("2027-03-27T23:30:00Z"));
    assert!(matches!(
        post(&w, &id, SessionAction::Record(&session("2027-03-28", false))),
        Err(Problem::Invalid(p)) if p["date"] == "future"
    ));
    // ...but 23:30 UTC on Sunday the 28th, after the clocks went forward, is Monday the 29th.
    w.at(at("2027-03-28T23:30:00Z"));
    let (done, m) = post(
        &w,
        &id,
        SessionAction::Record(&session("2027-03-29", false)),
    )
    .unwrap();
    assert!(matches!(done, SessionOutcome::Recorded { .. }));
    assert_eq!(m.sessions[0].held_on, "2027-03-29");
    // And none before the match.
    assert!(matches!(
        post(&w, &id, SessionAction::Record(&session("2026-11-22", false))),
        Err(Problem::Invalid(p)) if p["date"] == "before_match"
    ));
}

#[test]
fn a_token_for_another_request_or_action_is_refused() {
    let w = world();
    let a = matched(&w, "amara-okafor", "sam@example.net");
    let b = matched(&w, "amara-okafor", "kim@example.net");
    let link_a = w.desk.sign(&a, "sessions", MONDAY + 30 * DAY);
    assert!(w.desk.open_match(&a, &link_a).is_ok());
    assert!(matches!(
        w.desk.open_match(&b, &link_a),
        Err(Problem::Token(TokenError::BadSignature))
    ));
    let respond = w.desk.sign(&a, "respond", MONDAY + 30 * DAY);
    assert!(matches!(
        w.desk.open_match(&a, &respond),
        Err(Problem::Token(TokenError::BadSignature))
    ));
    // A record form's token does not finish, nor record on another request.
    let form = session("2026-11-23", false);
    let m = w.desk.store.match_record(&a).unwrap().unwrap();
    let (n, t) = w
        .desk
        .form_token(&m, &SessionAction::Record(&form), MONDAY + 30 * DAY);
    assert!(matches!(
        w.desk.sessions_post(&a, SessionAction::Finish, &t, &n),
        Err(Problem::Token(TokenError::BadSignature))
    ));
    assert!(matches!(
        w.desk
            .sessions_post(&b, SessionAction::Record(&form), &t, &n),
        Err(Problem::Token(TokenError::BadSignature))
    ));
    // The sessions link does not open the feedback form.
    assert!(matches!(
        w.desk.open_feedback(&a, &link_a),
        Err(Problem::Token(TokenError::BadSignature))
    ));
    assert!(
        w.desk
            .store
            .match_record(&a)
            .unwrap()
            .unwrap()
            .sessions
            .is_empty()
    );
}

#[test]
fn the_nudge_goes_once_after_first_session_days_and_the_window_end_completes() {
    let w = world();
    let id = matched(&w, "amara-okafor", "sam@example.net");
    // 21 working days after Monday 23 November, with 25 and 28 December off: 23 December
    // is the 22nd day... count it the way the sweep does.
    let holidays = w.desk.rules.holidays.clone();
    let match_day: Date = "2026-11-23".parse().unwrap();
    let nudge_day = crate::requests::add_working_days(match_day, 21, &holidays);
    let noon = |d: Date| {
        d.at(12, 0, 0, 0)
            .to_zoned(w.desk.rules.time_zone.clone())
            .unwrap()
            .timestamp()
            .as_second()
    };
    w.at(noon(nudge_day.yesterday().unwrap()));
    assert_eq!(w.desk.sweep().unwrap().nudged, 0, "not yet");
    w.at(noon(nudge_day));
    assert_eq!(w.desk.sweep().unwrap().nudged, 1);
    assert_eq!(w.desk.sweep().unwrap().nudged, 0, "once");
    let nudge = w
        .desk
        .store
        .mails_of(&id)
        .unwrap()
        .into_iter()
        .find(|m| m.kind == MailKind::NudgeMentor)
        .unwrap();
    assert!(
        nudge
            .text_body
            .contains(&format!("/requests/{id}/sessions?t="))
    );

    // The window is six months from the match: it ends on 23 May 2027. The day after, the
    // sweep completes the match with the sessions unused; both are thanked.
    w.at(noon("2027-05-23".parse().unwrap()));
    assert_eq!(w.desk.sweep().unwrap().ended, 0);
    w.at(noon("2027-05-24".parse().unwrap()));
    assert_eq!(w.desk.sweep().unwrap().ended, 1);
    assert_eq!(w.desk.sweep().unwrap().ended, 0, "once");
    let m = w.desk.store.match_record(&id).unwrap().unwrap();
    assert_eq!(
        (m.request.status, m.ended),
        (Status::Completed, Some(Ended::WindowEnded))
    );
    assert!(kinds(&w, &id).contains(&MailKind::CompletedMentee));
}

#[test]
fn capacity_counts_running_matches_only() {
    let w = world();
    // José Manuel takes one mentee at a time.
    let first = matched(&w, "jose-manuel-ortega", "sam@example.net");
    let mut v = valid("kim@example.net");
    v.mentor = "jose-manuel-ortega".into();
    assert!(matches!(w.desk.submit(&v), Err(Refused::Full(_))));
    post(&w, &first, SessionAction::Finish).unwrap();
    assert!(w.desk.submit(&v).is_ok(), "free again once the match ended");
}

#[test]
fn the_mentee_ends_a_match_gives_feedback_once_and_extend_opens_it_again() {
    let w = world();
    let id = matched(&w, "amara-okafor", "sam@example.net");
    post(
        &w,
        &id,
        SessionAction::Record(&session("2026-11-23", false)),
    )
    .unwrap();
    let withdraw = token(&w, &id, "withdraw");
    let done = w.desk.withdraw(&id, &withdraw).unwrap();
    assert!(matches!(done, Done::Changed(r) if r.status == Status::Completed));
    let m = w.desk.store.match_record(&id).unwrap().unwrap();
    assert_eq!(m.ended, Some(Ended::Mentee));
    let feedback_link = w
        .desk
        .store
        .mails_of(&id)
        .unwrap()
        .into_iter()
        .find(|m| m.kind == MailKind::CompletedMentee)
        .unwrap()
        .text_body;
    let t = feedback_link
        .split("/feedback?t=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let form = FeedbackForm {
        helpful: Some("5".into()),
        helped: Some("Being listened to.".into()),
        more_sessions: Some("yes".into()),
        another_mentor: None,
    };
    assert!(matches!(
        w.desk.give_feedback(&id, &t, &FeedbackForm::default()),
        Err(Problem::Invalid(_))
    ));
    assert!(matches!(
        w.desk.give_feedback(&id, &t, &form),
        Ok(Done::Changed(_))
    ));
    assert!(matches!(
        w.desk.give_feedback(&id, &t, &form),
        Ok(Done::Already(_))
    ));
    let stored = w.desk.store.feedback_of(&id).unwrap().unwrap();
    assert_eq!((stored.helpful, stored.more_sessions), (5, true));
    let admin = w
        .desk
        .store
        .mails_of(&id)
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == MailKind::FeedbackAdmin)
        .collect::<Vec<_>>();
    assert_eq!(admin.len(), 1);
    assert!(admin[0].text_body.contains("Being listened to."));

    // Extend: four more sessions, a new window from today, both told.
    w.at(MONDAY + 40 * DAY);
    let m = w.desk.extend(&id).unwrap();
    assert_eq!(m.request.status, Status::Accepted);
    let terms = w.desk.terms(&m);
    assert_eq!(terms.allowed, 8);
    assert_eq!(terms.window_ends.to_string(), "2027-07-02");
    assert_eq!(m.extended, 1);
    let k = kinds(&w, &id);
    assert!(k.contains(&MailKind::ExtendedMentor) && k.contains(&MailKind::ExtendedMentee));
    // While it runs again, the first block's feedback link takes nothing.
    let second = FeedbackForm {
        helpful: Some("3".into()),
        ..FeedbackForm::default()
    };
    assert!(matches!(
        w.desk.open_feedback(&id, &t),
        Err(Problem::EarlierBlock(_))
    ));
    assert!(matches!(
        w.desk.give_feedback(&id, &t, &second),
        Err(Problem::EarlierBlock(_))
    ));
    // Nor does a link for this block before it ends.
    let early = w.desk.sign(&id, "feedback-b1", w.desk.now() + DAY);
    assert!(matches!(
        w.desk.give_feedback(&id, &early, &second),
        Err(Problem::Closed(r)) if r.status == Status::Accepted
    ));
    assert_eq!(w.desk.store.feedback_of(&id).unwrap().unwrap().helpful, 5);
    let ids: Vec<String> = w
        .desk
        .store
        .mails_of(&id)
        .unwrap()
        .iter()
        .map(|m| m.message_id.clone())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "every Message-ID its own: {ids:#?}"
    );
    // Ending again thanks both again, with Message-IDs of their own.
    post(&w, &id, SessionAction::Finish).unwrap();
    let ids: Vec<String> = w
        .desk
        .store
        .mails_of(&id)
        .unwrap()
        .iter()
        .map(|m| m.message_id.clone())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:#?}");
    // The second block's end asks for feedback again, with a link of its own, and it is
    // taken; the first block's link still takes nothing.
    assert!(!w.desk.has_feedback(&id).unwrap());
    let thanks = w
        .desk
        .store
        .mails_of(&id)
        .unwrap()
        .into_iter()
        .rfind(|m| m.kind == MailKind::CompletedMentee)
        .unwrap()
        .text_body;
    let t2 = thanks
        .split("/feedback?t=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_ne!(t2, t);
    assert!(matches!(
        w.desk.give_feedback(&id, &t, &second),
        Err(Problem::EarlierBlock(_))
    ));
    assert!(matches!(
        w.desk.give_feedback(&id, &t2, &second),
        Ok(Done::Changed(_))
    ));
    assert_eq!(w.desk.store.feedback_of(&id).unwrap().unwrap().helpful, 3);
    // A request never matched cannot be extended.
    let s = w.desk.submit(&valid("lee@example.net")).unwrap();
    assert!(matches!(w.desk.extend(&s.id), Err(Problem::Closed(_))));
}

#[test]
fn a_completed_match_goes_with_its_sessions_and_feedback_under_the_retention_rule() {
    let w = world();
    let id = matched(&w, "amara-okafor", "sam@example.net");
    post(&w, &id, SessionAction::Record(&session("2026-11-23", true))).unwrap();
    post(&w, &id, SessionAction::Finish).unwrap();
    w.at(MONDAY + 300 * DAY);
    assert_eq!(w.desk.sweep().unwrap().purged, 0, "kept for retention_days");
    w.at(MONDAY + 366 * DAY);
    assert_eq!(w.desk.sweep().unwrap().purged, 1);
    assert!(w.desk.store.match_record(&id).unwrap().is_none());
    assert!(w.desk.store.session_counts().unwrap().is_empty());
    assert!(w.desk.store.match_facts().unwrap().is_empty());
}

#[test]
fn a_finish_form_acts_once_and_not_on_the_block_after_an_extend() {
    let w = world();
    let id = matched(&w, "amara-okafor", "sam@example.net");
    let thanked = |w: &World| {
        kinds(w, &id)
            .iter()
            .filter(|k| **k == MailKind::CompletedMentee)
            .count()
    };
    let m = w.desk.store.match_record(&id).unwrap().unwrap();
    let (n, t) = w
        .desk
        .form_token(&m, &SessionAction::Finish, MONDAY + 30 * DAY);
    // A second finish form from the same page, never posted.
    let (n2, t2) = w
        .desk
        .form_token(&m, &SessionAction::Finish, MONDAY + 30 * DAY);
    let (done, _) = w
        .desk
        .sessions_post(&id, SessionAction::Finish, &t, &n)
        .unwrap();
    assert_eq!(done, SessionOutcome::Finished);
    let (again, _) = w
        .desk
        .sessions_post(&id, SessionAction::Finish, &t, &n)
        .unwrap();
    assert_eq!(again, SessionOutcome::Already);
    assert_eq!(thanked(&w), 1);

    // Extended, the match runs again: neither old form ends the new block.
    w.at(MONDAY + DAY);
    w.desk.extend(&id).unwrap();
    for (n, t) in [(&n, &t), (&n2, &t2)] {
        assert!(matches!(
            w.desk.sessions_post(&id, SessionAction::Finish, t, n),
            Err(Problem::EarlierBlock(_))
        ));
    }
    let m = w.desk.store.match_record(&id).unwrap().unwrap();
    assert_eq!(m.request.status, Status::Accepted);
    assert_eq!(thanked(&w), 1, "no second thank-you from an old form");
    // Running, it is not extended again.
    assert!(matches!(
        w.desk.extend(&id),
        Err(Problem::Closed(r)) if r.status == Status::Accepted
    ));
    let m = w.desk.store.match_record(&id).unwrap().unwrap();
    assert_eq!((m.extended, w.desk.terms(&m).allowed), (1, 8));

    // The new page's form ends it, once.
    let (n, t) = w
        .desk
        .form_token(&m, &SessionAction::Finish, MONDAY + 30 * DAY);
    let (done, _) = w
        .desk
        .sessions_post(&id, SessionAction::Finish, &t, &n)
        .unwrap();
    assert_eq!(done, SessionOutcome::Finished);
    let (again, _) = w
        .desk
        .sessions_post(&id, SessionAction::Finish, &t, &n)
        .unwrap();
    assert_eq!(again, SessionOutcome::Already);
    assert_eq!(thanked(&w), 2);
}
