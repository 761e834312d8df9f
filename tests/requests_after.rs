//! After the match, through the real router (oneshot) over the doctors fixture: the sessions
//! page and its forms, the concern, the end, the feedback form, and every refusal. GET never
//! changes anything; a token for another request or action is refused.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Site;
use mentorsite::mail::Mailer;
use mentorsite::outbox::Outbox;
use mentorsite::requests::desk::{Answer, Desk};
use mentorsite::requests::directory::Directory;
use mentorsite::requests::store::Store;
use mentorsite::requests::{MailKind, Status, Valid};
use mentorsite::site::{BuildOptions, prepare};
use mentorsite::web::pages::Pages;
use mentorsite::web::{App, router};
use tower::ServiceExt;

/// Monday 23 November 2026, 10:00 UTC.
const MONDAY: i64 = 1_795_428_000;
const DAY: i64 = 24 * 3600;
const KEY: &[u8] = b"a router test key of at least thirty-two bytes";

struct Harness {
    app: Arc<App>,
    _site: Site,
    clock: Arc<AtomicI64>,
}

fn harness() -> Harness {
    let clock = Arc::new(AtomicI64::new(MONDAY));
    let site = Site::fixture("doctors");
    let prepared = prepare(&BuildOptions {
        root: site.root().to_path_buf(),
        ..BuildOptions::default()
    })
    .expect("fixture prepares");
    let config = &prepared.config;
    let directory = Arc::new(Directory::new(
        &prepared.register,
        &config.base_url,
        &config.scheme.admin_email,
    ));
    let c = clock.clone();
    let desk = Desk::new(
        site.root(),
        config,
        directory,
        Arc::new(Store::in_memory().unwrap()),
        KEY.to_vec(),
        Arc::new(move || c.load(Ordering::SeqCst)),
    )
    .expect("desk");
    let pages = Pages::new(config, &prepared.register, prepared.theme, desk.today());
    let app = App::new(
        Arc::new(desk),
        pages,
        config.requests.allowed_origins.clone(),
    );
    Harness {
        app: Arc::new(app),
        _site: site,
        clock,
    }
}

impl Harness {
    fn desk(&self) -> &Arc<Desk> {
        &self.app.desk
    }

    fn at(&self, t: i64) {
        self.clock.store(t, Ordering::SeqCst);
    }

    /// Send every mail due, to memory; the messages as sent.
    async fn deliver(&self) -> Vec<String> {
        let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
        let d = self.desk();
        let mut outbox = Outbox::new(
            d.store.clone(),
            d.directory.clone(),
            d.queue.clone(),
            Mailer::Memory(sent.clone()),
            "Scheme <no-reply@example.org>".into(),
            d.clock(),
        );
        while outbox.pass().await.unwrap().sent > 0 {}
        sent.lock()
            .unwrap()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.formatted()).into_owned())
            .collect()
    }

    /// A request to Ada, accepted through the router; the sessions link's path from the
    /// accept page.
    async fn matched(&self, email: &str) -> (String, String) {
        let s = self
            .desk()
            .submit(&Valid {
                mentor: "dr-ada-bundle".into(),
                name: "Sam Lee".into(),
                email: email.into(),
                mode: "video".into(),
                message: "Back after a year away.".into(),
            })
            .unwrap();
        let t = self.desk().sign(&s.id, "accept", MONDAY + 30 * DAY);
        let (status, page) = self.post(&s.id, "accept", &[("t", &t)]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Thank you for accepting"), "{page}");
        let link = path_of_link(&page, "sessions");
        (s.id, link)
    }

    async fn get(&self, uri: &str) -> (StatusCode, String) {
        let res = router(self.app.clone())
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        (res.status(), text_of(res).await)
    }

    async fn post(&self, id: &str, action: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let body = serde_urlencoded::to_string(form).unwrap();
        let req = Request::post(format!("/requests/{id}/{action}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let res = router(self.app.clone()).oneshot(req).await.unwrap();
        (res.status(), text_of(res).await)
    }

    /// The first mail of `kind` queued for request `id`.
    fn mail(&self, id: &str, kind: MailKind) -> mentorsite::requests::store::Mail {
        let mails = self.desk().store.mails_of(id).unwrap();
        mails
            .into_iter()
            .find(|m| m.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} mail for {id}"))
    }

    fn kinds(&self, id: &str) -> Vec<MailKind> {
        self.desk()
            .store
            .mails_of(id)
            .unwrap()
            .iter()
            .map(|m| m.kind)
            .collect()
    }
}

async fn text_of(res: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The path and query of the first `/requests/…/{action}?t=…` link in `text`.
fn path_of_link(text: &str, action: &str) -> String {
    let at = text
        .find(&format!("/{action}?t="))
        .unwrap_or_else(|| panic!("a {action} link in:\n{text}"));
    let start = text[..at].rfind("/requests/").unwrap();
    let end = text[at..]
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .map_or(text.len(), |e| at + e);
    text[start..end].replace("&amp;", "&")
}

/// The hidden fields of the form whose `intent` is `intent` (the first such form).
fn form_fields(page: &str, intent: &str) -> Vec<(String, String)> {
    let at = page
        .find(&format!("name=\"intent\" value=\"{intent}\""))
        .unwrap_or_else(|| panic!("a {intent} form in:\n{page}"));
    let start = page[..at].rfind("<form").unwrap();
    let end = at + page[at..].find("</form>").unwrap();
    let form = &page[start..end];
    form.match_indices("<input type=\"hidden\" name=\"")
        .map(|(i, m)| {
            let rest = &form[i + m.len()..];
            let name = rest.split('"').next().unwrap().to_string();
            let v = rest.find("value=\"").unwrap() + "value=\"".len();
            let value = rest[v..].split('"').next().unwrap().to_string();
            (name, value)
        })
        .collect()
}

fn with<'a>(
    hidden: &'a [(String, String)],
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut all: Vec<(&str, &str)> = hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(more);
    all
}

/// A page's `<main>`, for snapshots, with tokens and nonces made stable.
fn main_of(page: &str) -> String {
    let start = page.find("<main").expect("<main");
    let end = page.find("</main>").expect("</main>") + "</main>".len();
    let mut out: Vec<String> = Vec::new();
    for line in page[start..end].lines().map(str::trim_end) {
        if line.trim().is_empty() {
            continue;
        }
        let mut l = line.to_string();
        for marker in ["?t=", "name=\"t\" value=\"", "name=\"n\" value=\""] {
            if let Some(i) = l.find(marker) {
                let from = i + marker.len();
                let to = l[from..]
                    .find(|c: char| c == '"' || c == '<' || c.is_whitespace())
                    .map_or(l.len(), |e| from + e);
                l.replace_range(from..to, "TOKEN");
            }
        }
        out.push(l);
    }
    out.join("\n")
}

fn session<'a>(date: &'a str, minutes: &'a str, mode: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("date", date), ("minutes", minutes), ("mode", mode)]
}

#[tokio::test]
async fn the_sessions_page_records_a_concern_mails_the_admin_once_and_get_changes_nothing() {
    let h = harness();
    let (id, link) = h.matched("sam@example.net").await;
    let confirmation = h.mail(&id, MailKind::AcceptedMentor);
    assert!(
        confirmation
            .text_body
            .contains(&format!("/requests/{id}/sessions?t=")),
        "the accept confirmation carries the sessions link"
    );
    let before = h.kinds(&id);

    // GET, twice: the page, and nothing changes.
    h.at(MONDAY + 3 * DAY);
    let (status, page) = h.get(&link).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("0 of 4 sessions, until Sunday 23 May 2027"),
        "{page}"
    );
    let (_, again) = h.get(&link).await;
    assert_eq!(main_of(&page), main_of(&again));
    assert_eq!(h.kinds(&id), before);
    assert!(
        h.desk()
            .store
            .match_record(&id)
            .unwrap()
            .unwrap()
            .sessions
            .is_empty()
    );

    // A date in the future: 400, the form again with what was typed.
    let record = form_fields(&page, "record");
    let (status, shown) = h
        .post(
            &id,
            "sessions",
            &with(&record, &session("2026-11-27", "45", "Video")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{shown}");
    assert!(shown.contains("today at the latest"), "{shown}");
    assert!(shown.contains("value=\"45\""), "kept: {shown}");
    assert!(
        h.desk()
            .store
            .match_record(&id)
            .unwrap()
            .unwrap()
            .sessions
            .is_empty()
    );

    // The session with a concern and a note: recorded, the admin mailed at once.
    let record = form_fields(&shown, "record");
    let mut fields = session("2026-11-25", "50", "Video");
    fields.push(("note", "Worried about their sleep; please call me."));
    fields.push(("concern", "yes"));
    let (status, thanks) = h.post(&id, "sessions", &with(&record, &fields)).await;
    assert_eq!(status, StatusCode::OK, "{thanks}");
    assert!(thanks.contains("the session is recorded"), "{thanks}");
    assert!(thanks.contains("We have emailed the scheme"), "{thanks}");
    assert!(thanks.contains("1 of 4 sessions"), "{thanks}");
    assert!(
        thanks.contains(&format!("/requests/{id}/sessions?t=")),
        "the thank-you page carries the link"
    );
    // The same form again (a double click): nothing more.
    let (status, twice) = h.post(&id, "sessions", &with(&record, &fields)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(twice.contains("This was sent already"), "{twice}");
    let m = h.desk().store.match_record(&id).unwrap().unwrap();
    assert_eq!(m.sessions.len(), 1);
    let sent = h.deliver().await;
    let concern: Vec<&String> = sent
        .iter()
        .filter(|m| m.contains("Please act today"))
        .collect();
    assert_eq!(concern.len(), 1, "the admin mailed once");
    assert!(concern[0].contains("To: admin@example.org"));
    assert!(concern[0].contains("Importance: high"));
    assert!(concern[0].contains("Reply-To: ada@private.example.net"));
    for m in &sent {
        if m.contains("To: sam@example.net") {
            assert!(!m.contains("Worried about their sleep"), "{m}");
        }
    }

    // A correction from the same page, within the week.
    let fix = form_fields(&thanks, "correct");
    let (status, fixed) = h
        .post(
            &id,
            "sessions",
            &with(&fix, &session("2026-11-24", "55", "Phone")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{fixed}");
    assert!(fixed.contains("the record is corrected"), "{fixed}");
    let s = &h.desk().store.match_record(&id).unwrap().unwrap().sessions[0];
    assert_eq!(
        (s.held_on.as_str(), s.minutes, s.mode.as_str()),
        ("2026-11-24", 55, "phone")
    );
    assert!(!s.concern);
    // A week and a day later, no more.
    h.at(MONDAY + 12 * DAY);
    let (_, later) = h.get(&link).await;
    assert!(
        !later.contains("name=\"intent\" value=\"correct\""),
        "{later}"
    );
    let (status, _) = h
        .post(
            &id,
            "sessions",
            &with(&fix, &session("2026-11-24", "60", "Phone")),
        )
        .await;
    assert!(
        status == StatusCode::CONFLICT || status == StatusCode::OK,
        "{status}"
    );
    assert_eq!(
        h.desk().store.match_record(&id).unwrap().unwrap().sessions[0].minutes,
        55,
        "unchanged"
    );
}

#[tokio::test]
async fn we_have_finished_ends_the_match_and_the_feedback_form_stores_and_mails_once() {
    let h = harness();
    let (id, link) = h.matched("sam@example.net").await;
    h.at(MONDAY + 2 * DAY);
    let (_, page) = h.get(&link).await;
    let record = form_fields(&page, "record");
    h.post(
        &id,
        "sessions",
        &with(&record, &session("2026-11-24", "60", "Video")),
    )
    .await;
    let finish = form_fields(&page, "finish");
    let (status, done) = h.post(&id, "sessions", &with(&finish, &[])).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("the mentoring has ended"), "{done}");
    assert_eq!(
        h.desk().store.get(&id).unwrap().unwrap().status,
        Status::Completed
    );
    // Capacity follows reality: the match no longer counts.
    let k = h.kinds(&id);
    for kind in [
        MailKind::CompletedMentee,
        MailKind::CompletedMentor,
        MailKind::CompletedAdmin,
    ] {
        assert!(k.contains(&kind), "{kind}");
    }
    let thanks = h.mail(&id, MailKind::CompletedMentee);
    let feedback = path_of_link(&thanks.text_body, "feedback");

    // The feedback form: GET changes nothing; a post without a score is shown again.
    let (status, form) = h.get(&feedback).await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert!(
        form.contains("How was your mentoring with Ada Lovelace-Byron?"),
        "{form}"
    );
    assert!(h.desk().store.feedback_of(&id).unwrap().is_none());
    let t = feedback.split("?t=").nth(1).unwrap();
    let (status, again) = h
        .post(&id, "feedback", &[("t", t), ("helped", "Being heard.")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        again.contains("Please choose how helpful it was"),
        "{again}"
    );
    assert!(again.contains("Being heard."), "kept: {again}");
    let answers = [
        ("t", t),
        ("helpful", "4"),
        ("helped", "Being heard."),
        ("another_mentor", "yes"),
    ];
    let (status, thanks) = h.post(&id, "feedback", &answers).await;
    assert_eq!(status, StatusCode::OK, "{thanks}");
    assert!(thanks.contains("Thank you for your feedback"), "{thanks}");
    let (_, twice) = h.post(&id, "feedback", &answers).await;
    assert!(twice.contains("We have your answers already"), "{twice}");
    let f = h.desk().store.feedback_of(&id).unwrap().unwrap();
    assert_eq!(
        (f.helpful, f.another_mentor, f.more_sessions),
        (4, true, false)
    );
    let sent = h.deliver().await;
    let to_admin: Vec<&String> = sent
        .iter()
        .filter(|m| m.contains("Subject: Feedback from Sam Lee"))
        .collect();
    assert_eq!(to_admin.len(), 1);
    assert!(to_admin[0].contains("To: admin@example.org"));

    // The sessions page after the end: no forms to record, the link still shows the record.
    let (status, ended) = h.get(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !ended.contains("name=\"intent\" value=\"record\""),
        "{ended}"
    );
}

#[tokio::test]
async fn a_token_for_another_request_or_action_is_refused_and_changes_nothing() {
    let h = harness();
    let (a, link_a) = h.matched("sam@example.net").await;
    let (b, _) = h.matched("kim@example.net").await;
    let t_a = link_a.split("?t=").nth(1).unwrap().to_string();
    // A's sessions link on B's page.
    let (status, _) = h.get(&format!("/requests/{b}/sessions?t={t_a}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A respond token on the sessions page; a sessions token on the feedback form.
    let respond = h.desk().sign(&a, "respond", MONDAY + 30 * DAY);
    let (status, _) = h.get(&format!("/requests/{a}/sessions?t={respond}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h.get(&format!("/requests/{a}/feedback?t={t_a}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A's record form posted to B, and as a finish.
    let (_, page) = h.get(&link_a).await;
    let record = form_fields(&page, "record");
    let (status, _) = h
        .post(
            &b,
            "sessions",
            &with(&record, &session("2026-11-23", "60", "Video")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut as_finish = record.clone();
    for (k, v) in &mut as_finish {
        if k == "intent" {
            *v = "finish".into();
        }
    }
    let (status, _) = h.post(&a, "sessions", &with(&as_finish, &[])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The sessions link itself (not a form's token) does not post.
    let (status, _) = h
        .post(
            &a,
            "sessions",
            &[("t", t_a.as_str()), ("n", "x"), ("intent", "record")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for id in [&a, &b] {
        let m = h.desk().store.match_record(id).unwrap().unwrap();
        assert!(m.sessions.is_empty());
        assert_eq!(m.request.status, Status::Accepted);
    }
    // An expired link is gone.
    h.at(MONDAY + 400 * DAY);
    let (status, _) = h.get(&link_a).await;
    assert_eq!(status, StatusCode::GONE);
}

#[tokio::test]
async fn a_pending_request_has_no_sessions_page() {
    let h = harness();
    let s = h
        .desk()
        .submit(&Valid {
            mentor: "dr-ada-bundle".into(),
            name: "Sam Lee".into(),
            email: "sam@example.net".into(),
            mode: "video".into(),
            message: "Hello.".into(),
        })
        .unwrap();
    let t = h.desk().sign(&s.id, "sessions", MONDAY + 30 * DAY);
    let (status, _) = h.get(&format!("/requests/{}/sessions?t={t}", s.id)).await;
    assert_eq!(status, StatusCode::GONE);
    // Declined, it stays closed.
    let d = h.desk().sign(&s.id, "decline", MONDAY + 30 * DAY);
    h.desk()
        .answer(&s.id, Answer::Decline { note: None }, &d)
        .unwrap();
    let (status, _) = h.get(&format!("/requests/{}/sessions?t={t}", s.id)).await;
    assert_eq!(status, StatusCode::GONE);
}

#[tokio::test]
async fn the_pages_after_the_match_read_as_written() {
    let h = harness();
    let (id, link) = h.matched("sam@example.net").await;
    let mut shown = String::new();
    let mut show = |what: &str, status: StatusCode, page: &str| {
        shown.push_str(&format!(
            "===== {what}: {} =====\n{}\n\n",
            status.as_u16(),
            main_of(page)
        ));
    };
    h.at(MONDAY + 2 * DAY);
    let (status, page) = h.get(&link).await;
    show("sessions, none yet", status, &page);
    let record = form_fields(&page, "record");
    let (status, bad) = h
        .post(
            &id,
            "sessions",
            &with(&record, &session("2026-11-20", "0", "")),
        )
        .await;
    show("sessions, a bad record", status, &bad);
    let mut fields = session("2026-11-24", "60", "Video");
    fields.push(("concern", "yes"));
    let (status, thanks) = h.post(&id, "sessions", &with(&record, &fields)).await;
    show("sessions, recorded with a concern", status, &thanks);
    let finish = form_fields(&thanks, "finish");
    let (status, done) = h.post(&id, "sessions", &with(&finish, &[])).await;
    show("sessions, finished", status, &done);
    let thanks_mail = h.mail(&id, MailKind::CompletedMentee);
    let feedback = path_of_link(&thanks_mail.text_body, "feedback");
    let (status, form) = h.get(&feedback).await;
    show("feedback form", status, &form);
    let t = feedback.split("?t=").nth(1).unwrap();
    let (status, given) = h.post(&id, "feedback", &[("t", t), ("helpful", "5")]).await;
    show("feedback given", status, &given);
    // Request ids differ each run.
    insta::assert_snapshot!("pages_after_the_match", shown.replace(&id, "ID"));
}

#[tokio::test]
async fn the_mentee_s_withdraw_link_ends_a_running_match_and_both_are_thanked() {
    let h = harness();
    let (id, _) = h.matched("sam@example.net").await;
    let ack = h.mail(&id, MailKind::Mentee);
    let withdraw = path_of_link(&ack.text_body, "withdraw");
    let (status, page) = h.get(&withdraw).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("End your mentoring with Ada Lovelace-Byron?"),
        "{page}"
    );
    assert!(page.contains("End my mentoring"), "{page}");
    assert_eq!(
        h.desk().store.get(&id).unwrap().unwrap().status,
        Status::Accepted,
        "GET changes nothing"
    );
    let t = withdraw.split("?t=").nth(1).unwrap();
    let (status, done) = h.post(&id, "withdraw", &[("t", t)]).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("Your mentoring has ended"), "{done}");
    let m = h.desk().store.match_record(&id).unwrap().unwrap();
    assert_eq!(m.request.status, Status::Completed);
    assert_eq!(m.ended, Some(mentorsite::requests::store::Ended::Mentee));
    let k = h.kinds(&id);
    for kind in [
        MailKind::CompletedMentee,
        MailKind::CompletedMentor,
        MailKind::CompletedAdmin,
    ] {
        assert_eq!(k.iter().filter(|x| **x == kind).count(), 1, "{kind}");
    }
    let (status, again) = h.get(&withdraw).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(again.contains("Your mentoring has ended"), "{again}");
}

#[tokio::test]
async fn the_sessions_page_counts_days_in_the_scheme_s_time_zone_across_the_clock_change() {
    let h = harness();
    let (id, link) = h.matched("sam@example.net").await;
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_second();
    // 23:30 UTC on Saturday 27 March 2027 is 23:30 on the 27th in London (GMT)...
    h.at(at("2027-03-27T23:30:00Z"));
    let (_, page) = h.get(&link).await;
    assert!(page.contains("max=\"2027-03-27\""), "{page}");
    let record = form_fields(&page, "record");
    let (status, refused) = h
        .post(
            &id,
            "sessions",
            &with(&record, &session("2027-03-28", "60", "video")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains("today at the latest"), "{refused}");
    // ...and 23:30 UTC on Sunday the 28th, after the clocks went forward, is 00:30 on Monday.
    h.at(at("2027-03-28T23:30:00Z"));
    let (_, page) = h.get(&link).await;
    assert!(page.contains("max=\"2027-03-29\""), "{page}");
    let record = form_fields(&page, "record");
    let (status, done) = h
        .post(
            &id,
            "sessions",
            &with(&record, &session("2027-03-29", "60", "video")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("Monday 29 March 2027"), "{done}");
}

#[tokio::test]
async fn after_an_extend_the_old_finish_form_and_feedback_link_say_so_and_change_nothing() {
    let h = harness();
    let (id, link) = h.matched("sam@example.net").await;
    let (_, page) = h.get(&link).await;
    let finish = form_fields(&page, "finish");
    let (status, done) = h.post(&id, "sessions", &with(&finish, &[])).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let thanks = h.mail(&id, MailKind::CompletedMentee);
    let feedback = path_of_link(&thanks.text_body, "feedback");
    h.at(MONDAY + DAY);
    h.desk().extend(&id).unwrap();
    let mails = h.kinds(&id).len();

    let (status, refused) = h.post(&id, "sessions", &with(&finish, &[])).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused.contains("This form is from before the sessions were extended"),
        "{refused}"
    );
    let (status, refused) = h.get(&feedback).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused.contains("This link is from before your mentoring was extended"),
        "{refused}"
    );
    let t = feedback.split("?t=").nth(1).unwrap();
    let (status, _) = h.post(&id, "feedback", &[("t", t), ("helpful", "4")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        h.desk().store.get(&id).unwrap().unwrap().status,
        Status::Accepted
    );
    assert!(h.desk().store.feedback_of(&id).unwrap().is_none());
    assert_eq!(h.kinds(&id).len(), mails, "no mail");
}

#[tokio::test]
async fn a_concern_ticked_on_a_correction_too_late_still_mails_the_admin_and_keeps_what_was_typed()
{
    let h = harness();
    let (id, link) = h.matched("sam@example.net").await;
    h.at(MONDAY + DAY);
    let (_, page) = h.get(&link).await;
    let record = form_fields(&page, "record");
    let (status, _) = h
        .post(
            &id,
            "sessions",
            &with(&record, &session("2026-11-24", "60", "Video")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The page with the correction form, left open for more than a week.
    let (_, page) = h.get(&link).await;
    let fix = form_fields(&page, "correct");
    h.at(MONDAY + 10 * DAY);
    let mut typed = session("2026-11-24", "45", "Video");
    typed.extend([("note", "They said they feel unsafe."), ("concern", "yes")]);
    let (status, shown) = h.post(&id, "sessions", &with(&fix, &typed)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{shown}");
    assert!(
        shown.contains("That record can no longer be corrected"),
        "{shown}"
    );
    assert!(
        shown.contains("We have emailed the scheme's team about your concern"),
        "{shown}"
    );
    assert!(
        shown.contains("They said they feel unsafe."),
        "kept: {shown}"
    );
    let concerns = |h: &Harness| {
        h.kinds(&id)
            .iter()
            .filter(|k| **k == MailKind::ConcernAdmin)
            .count()
    };
    assert_eq!(concerns(&h), 1, "the concern reached the admin");
    let m = h.desk().store.match_record(&id).unwrap().unwrap();
    assert_eq!(m.sessions[0].minutes, 60, "the record itself unchanged");
    // Posted again, nothing more.
    let (_, again) = h.post(&id, "sessions", &with(&fix, &typed)).await;
    assert!(again.contains("This was sent already"), "{again}");
    assert_eq!(concerns(&h), 1);
}
