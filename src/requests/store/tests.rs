use super::*;

fn request(id: &str) -> StoredRequest {
    StoredRequest {
        id: id.into(),
        created_at: 100,
        mentor: "amara-okafor".into(),
        name: "Sam".into(),
        email: "Sam@Example.net".into(),
        mode: "video".into(),
        message: "Hello".into(),
        status: Status::Pending,
        respond_by: "2026-11-30".into(),
    }
}

fn mail(kind: MailKind) -> NewMail {
    NewMail {
        kind,
        recipient: Recipient::Admin,
        subject: "s".into(),
        text_body: "t".into(),
        html_body: "h".into(),
        reply_to: None,
        message_id: format!("<{kind}@x>"),
    }
}

fn insert(s: &Store, r: &StoredRequest, mails: &[NewMail]) {
    s.insert(r, mails, 0, |_| None::<()>).unwrap().unwrap();
}

#[test]
fn request_and_mails_go_in_together_and_retry_then_fail() {
    let s = Store::in_memory().unwrap();
    insert(
        &s,
        &request("r1"),
        &[mail(MailKind::Mentor), mail(MailKind::Admin)],
    );
    assert_eq!(s.get("r1").unwrap().unwrap().mentor, "amara-okafor");
    let due = s.claim(100, 60, "c1", 10).unwrap();
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|m| m.attempts == 1));
    assert!(s.claim(100, 60, "c2", 10).unwrap().is_empty(), "claimed");
    s.mark_failed(due[0].id, "c1", "refused", Some(130))
        .unwrap();
    s.mark_sent(due[1].id, 101).unwrap();
    assert_eq!(s.next_due().unwrap(), Some(130), "the retry");
    let again = s.claim(130, 60, "c3", 10).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    s.mark_failed(again[0].id, "c3", "refused again", None)
        .unwrap();
    let failed = s.failed_mails().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].last_error.as_deref(), Some("refused again"));
    assert_eq!(s.next_due().unwrap(), None);
}

#[test]
fn a_lapsed_lease_is_claimed_again_and_the_old_holder_cannot_undo_it() {
    let s = Store::in_memory().unwrap();
    insert(&s, &request("r1"), &[mail(MailKind::Mentor)]);
    let first = s.claim(100, 60, "dead", 10).unwrap();
    assert!(s.claim(159, 60, "other", 10).unwrap().is_empty());
    let second = s.claim(160, 60, "other", 10).unwrap();
    assert_eq!(second.len(), 1, "the lease ended");
    assert_eq!(second[0].message_id, first[0].message_id, "same Message-ID");
    // The first holder wakes up and reports a failure: the new holder's claim stands.
    s.mark_failed(first[0].id, "dead", "late", None).unwrap();
    assert!(s.failed_mails().unwrap().is_empty());
    s.mark_sent(second[0].id, 161).unwrap();
    assert_eq!(s.mails_of("r1").unwrap()[0].state, MailState::Sent);
}

#[test]
fn resend_requeues_failed_mail_and_gives_the_mentor_a_new_deadline() {
    let s = Store::in_memory().unwrap();
    insert(
        &s,
        &request("r1"),
        &[mail(MailKind::Mentor), mail(MailKind::Admin)],
    );
    for m in s.claim(100, 60, "c", 10).unwrap() {
        s.mark_failed(m.id, "c", "550 no such user", None).unwrap();
    }
    let requeued = s.resend(Resend::Request("r1"), 500, "2026-12-09").unwrap();
    assert_eq!(requeued.len(), 2);
    assert_eq!(s.get("r1").unwrap().unwrap().respond_by, "2026-12-09");
    let due = s.claim(500, 60, "c", 10).unwrap();
    assert_eq!(due.len(), 2);
    assert!(
        due.iter().all(|m| m.attempts == 1),
        "attempts counted afresh"
    );
    assert!(s.resend(Resend::AllFailed, 600, "x").unwrap().is_empty());
}

#[test]
fn limits_are_counted_in_the_storing_transaction_by_normalised_address() {
    let s = Store::in_memory().unwrap();
    insert(&s, &request("r1"), &[]);
    let mut other = request("r2");
    other.email = " sam@EXAMPLE.NET".into();
    let refused = s.insert(&other, &[], 50, Some).unwrap();
    assert_eq!(
        refused,
        Err(Counts {
            mentor_accepted: 0,
            pending_from_address: 1,
            recent_from_address: 1
        })
    );
    assert!(s.get("r2").unwrap().is_none(), "a refusal stores nothing");
    assert_eq!(s.purge_email("SAM@example.net").unwrap(), 1);
}

#[test]
fn a_duplicate_id_stores_nothing() {
    let s = Store::in_memory().unwrap();
    insert(&s, &request("r1"), &[mail(MailKind::Mentor)]);
    assert!(
        s.insert(&request("r1"), &[mail(MailKind::Admin)], 0, |_| None::<()>)
            .is_err()
    );
    assert_eq!(
        s.mails_of("r1").unwrap().len(),
        1,
        "the failed insert left no mail behind"
    );
    assert_eq!(
        s.health.fault(),
        None,
        "a constraint is not a storage fault"
    );
}

#[test]
fn answering_is_once_and_guards_other_states() {
    let s = Store::in_memory().unwrap();
    insert(&s, &request("r1"), &[]);
    let m = [mail(MailKind::AcceptedMentee)];
    assert_eq!(
        s.answer("r1", Status::Accepted, None, "t1", &m, 200)
            .unwrap(),
        Transition::Done
    );
    assert!(s.token_used("t1").unwrap());
    assert_eq!(
        s.answer("r1", Status::Accepted, None, "t2", &m, 201)
            .unwrap(),
        Transition::Already
    );
    assert_eq!(
        s.answer("r1", Status::Declined, None, "t3", &[], 202)
            .unwrap(),
        Transition::Blocked(Status::Accepted)
    );
    assert_eq!(
        s.mails_of("r1").unwrap().len(),
        1,
        "one acceptance, one set of mails"
    );
    assert_eq!(
        s.answer("nope", Status::Accepted, None, "t4", &[], 1)
            .unwrap(),
        Transition::NotFound
    );
}

#[test]
fn migrations_run_once_on_a_file_and_a_second_connection_reads_beside_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/requests.sqlite");
    insert(&Store::open(&path).unwrap(), &request("r1"), &[]);
    let again = Store::open(&path).unwrap();
    assert_eq!(again.list().unwrap().len(), 1);
    // Another process takes the write lock and keeps it: reads still answer at once.
    let other = Connection::open(&path).unwrap();
    other
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO heartbeat VALUES (1, 0);")
        .unwrap();
    again.ping().unwrap();
    assert!(again.get("r1").unwrap().is_some());
    let started = Instant::now();
    let e = again.probe_write(1).unwrap_err();
    assert_eq!(e.fault, Fault::Locked);
    assert!(
        started.elapsed() < BUSY_WAIT * 3,
        "the busy wait is bounded"
    );
    assert_eq!(again.health.fault().map(|f| f.0), Some(Fault::Locked));
    other.execute_batch("ROLLBACK").unwrap();
    again.probe_write(2).unwrap();
    assert_eq!(again.health.fault(), None, "recovered");
}

/// Every query a request, an answer or a mail makes goes through the index meant for it: none
/// may read the whole table, nor walk a large part of it through a less selective index (the
/// planner has no statistics, so it can pick `requests_status` for "this address's pending
/// requests" and visit every pending request).
#[test]
fn every_per_request_query_uses_its_index() {
    let s = Store::in_memory().unwrap();
    let queries = [
        (
            "mentor's accepted",
            MENTOR_ACCEPTED,
            1,
            "requests_mentor_status",
        ),
        (
            "address pending",
            PENDING_FROM_ADDRESS,
            1,
            "requests_email_key",
        ),
        (
            "address recent",
            RECENT_FROM_ADDRESS,
            2,
            "requests_email_key",
        ),
        ("due mail", DUE, 1, "outbox_due"),
        ("one request", GET_REQUEST, 1, "sqlite_autoindex_requests_1"),
        ("a request's mail", MAILS_OF, 1, "outbox_request"),
        ("the sweep's pending", WAITING, 0, "requests_status"),
        (
            "answer's state",
            "SELECT status FROM requests WHERE id = ?1",
            1,
            "sqlite_autoindex_requests_1",
        ),
        (
            "used token",
            "SELECT 1 FROM used_tokens WHERE hash = ?1",
            1,
            "sqlite_autoindex_used_tokens_1",
        ),
        (
            "next due",
            "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'",
            0,
            "outbox_due",
        ),
        (
            "erasure",
            "SELECT id FROM requests WHERE email_key = ?1",
            1,
            "requests_email_key",
        ),
        (
            "retention",
            "SELECT id FROM requests WHERE closed_at IS NOT NULL AND closed_at < ?1",
            1,
            "requests_closed",
        ),
    ];
    let conn = s.writer.lock();
    for (name, sql, n, index) in queries {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let args: Vec<rusqlite::types::Value> = (0..n).map(|i| i64::from(i).into()).collect();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let full_scans: Vec<&String> = plan
            .iter()
            .filter(|step| step.starts_with("SCAN") && !step.contains("USING"))
            .collect();
        assert!(
            full_scans.is_empty(),
            "{name} reads a whole table: {plan:#?}"
        );
        assert!(
            plan.first().is_some_and(|step| step.contains(index)),
            "{name} should go through {index}: {plan:#?}"
        );
    }
    // Deleting a request deletes its mail through the outbox's request index.
    let plan: Vec<String> = conn
        .prepare("EXPLAIN QUERY PLAN DELETE FROM outbox WHERE request_id = ?1")
        .unwrap()
        .query_map(["x"], |r| r.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.iter().any(|s| s.contains("outbox_request")),
        "{plan:#?}"
    );
}

#[test]
fn requests_committed_together_keep_their_own_outcomes() {
    let s = std::sync::Arc::new(Store::in_memory().unwrap());
    insert(&s, &request("r1"), &[]);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (s, barrier) = (s.clone(), barrier.clone());
            std::thread::spawn(move || {
                // One repeats a stored id (a constraint fails), one is refused by its check.
                let mut r = request(if i == 3 { "r1".into() } else { format!("g{i}") }.as_str());
                r.email = format!("g{i}@example.net");
                barrier.wait();
                s.insert(&r, &[mail(MailKind::Mentor)], 0, move |_| {
                    (i == 5).then_some("refused")
                })
            })
        })
        .collect();
    let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for (i, outcome) in outcomes.iter().enumerate() {
        match i {
            3 => assert!(
                matches!(outcome, Err(e) if e.fault == Fault::Other),
                "{outcome:?}"
            ),
            5 => assert!(matches!(outcome, Ok(Err("refused"))), "{outcome:?}"),
            _ => assert!(matches!(outcome, Ok(Ok(()))), "{i}: {outcome:?}"),
        }
    }
    for i in (0..16).filter(|i| ![3, 5].contains(i)) {
        assert!(s.get(&format!("g{i}")).unwrap().is_some(), "g{i} stored");
    }
    assert!(
        s.get("g5").unwrap().is_none(),
        "a refused request stores nothing"
    );
    let due = s.claim(10_000, 60, "w", 100).unwrap();
    assert_eq!(
        due.len(),
        14,
        "one mail for each stored request, none for the others"
    );
}

#[test]
fn a_database_from_before_sessions_is_migrated_and_its_matches_keep_going() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    {
        // The schema as the previous version left it, with one accepted request.
        let conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute(
            "INSERT INTO requests (id, created_at, mentor, name, email, email_key, mode, message, status, respond_by, answered_at)
             VALUES ('old', 100, 'amara-okafor', 'Sam', 'sam@example.net', 'sam@example.net', 'video', 'Hi', 'accepted', '2026-11-30', 200)",
            [],
        )
        .unwrap();
    }
    let s = Store::open(&path).unwrap();
    let m = s.match_record("old").unwrap().unwrap();
    assert_eq!(m.request.status, Status::Accepted);
    assert_eq!(
        (m.window_ends, m.sessions_allowed, m.extended),
        (None, None, 0)
    );
    let session = NewSession {
        held_on: "2026-12-01".into(),
        minutes: 50,
        mode: "video".into(),
        note: None,
        concern: false,
    };
    assert_eq!(
        s.record_session(
            "old",
            &session,
            "t1",
            1,
            &[],
            &[mail(MailKind::CompletedMentee)],
            300
        )
        .unwrap(),
        Recorded::Done { completed: true },
        "one session allowed: the match completes"
    );
    assert_eq!(s.get("old").unwrap().unwrap().status, Status::Completed);
    assert_eq!(
        s.record_session("old", &session, "t1", 1, &[], &[], 301)
            .unwrap(),
        Recorded::Already,
        "the same form again: sent already, though the match has ended"
    );
    // Sessions and feedback go with their request (erasure).
    let fb = Feedback {
        helpful: 3,
        helped: None,
        more_sessions: false,
        another_mentor: false,
        given_at: 0,
    };
    assert_eq!(
        s.give_feedback("old", 0, &fb, &[], 400).unwrap(),
        Transition::Done
    );
    assert_eq!(s.purge_email("SAM@example.net").unwrap(), 1);
    assert_eq!(s.session_counts().unwrap().len(), 0);
    assert!(s.feedback_of("old").unwrap().is_none());
}
