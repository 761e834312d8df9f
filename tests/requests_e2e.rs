//! The request service end to end: the real `mentorsite endpoint` on 127.0.0.1, real HTTP,
//! and a real SMTP server on another loopback port (a small one written here, speaking the
//! protocol lettre speaks). Every wait is bounded; every process started is stopped.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::smtp::{SmtpSink, free_port, to_of};
use common::{Running, Site};

/// The doctors fixture, sending through SMTP on `smtp_port` without TLS.
fn site(smtp_port: u16) -> Site {
    let site = Site::fixture("doctors");
    let toml = site.read("site.toml")
        + &format!(
            "\n[email]\nfrom = \"Fixture Scheme <no-reply@example.org>\"\ntransport = \"smtp\"\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nusername = \"\"\ntls = \"none\"\n"
        );
    site.write("site.toml", &toml);
    site
}

fn start_endpoint(site: &Site) -> Running {
    start_endpoint_at(site, None)
}

/// Start the endpoint; with `now`, its clock starts at that RFC 3339 instant (`MENTORSITE_NOW`).
fn start_endpoint_at(site: &Site, now: Option<&str>) -> Running {
    let root = site.root().to_str().unwrap();
    let mut cmd = common::mentorsite(&["endpoint", "--port", "0", "--root", root])
        .env(
            "MENTORSITE_SECRET",
            "an end-to-end test key, thirty-two bytes or more",
        )
        .env("MENTORSITE_RETRY_BASE_SECONDS", "1")
        // A process killed while it holds a mail frees it after this (in production, two
        // minutes past the SMTP limit).
        .env("MENTORSITE_LEASE_SECONDS", "3")
        .env("MENTORSITE_RATE_PER_MINUTE", "1000");
    if let Some(now) = now {
        cmd = cmd.env("MENTORSITE_NOW", now);
    }
    cmd.serve("Request service listening at ")
}

/// POST the form over real HTTP; returns the status code.
fn post_request(url: &str, message: &str) -> u16 {
    let body = serde_urlencoded::to_string([
        ("mentor", "dr-ada-bundle"),
        ("name", "Sam Lee"),
        ("email", "sam@mentee.example.net"),
        ("message", message),
        ("mode", "phone"),
        ("consent", "yes"),
    ])
    .unwrap();
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /requests HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://mentors.example.org\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response[9..12].parse().unwrap()
}

#[test]
fn a_request_reaches_mentor_admin_and_mentee_over_smtp() {
    let sink = SmtpSink::start(0);
    let site = site(sink.port);
    let ep = start_endpoint(&site);
    assert_eq!(
        post_request(&ep.url, "Hoping to talk about my return to anaesthetics."),
        303
    );
    let mails = sink.wait_for(3, Duration::from_secs(20));
    assert_eq!(mails.len(), 3, "three mails: {mails:#?}");
    let mut to: Vec<String> = mails.iter().map(|m| to_of(m)).collect();
    to.sort();
    assert_eq!(
        to,
        [
            "ada@private.example.net",
            "admin@example.org",
            "sam@mentee.example.net"
        ]
    );
    let for_mentor = mails
        .iter()
        .find(|m| to_of(m) == "ada@private.example.net")
        .unwrap();
    assert!(for_mentor.contains("Reply-To: sam@mentee.example.net"));
    assert!(for_mentor.contains("Message-ID: <"));
    assert!(for_mentor.contains("multipart/alternative"));
    assert!(for_mentor.contains("Hoping to talk about"));
    let ack = mails
        .iter()
        .find(|m| to_of(m) == "sam@mentee.example.net")
        .unwrap();
    assert!(
        !ack.contains("Hoping to talk") && !ack.contains("Sam Lee"),
        "no free text in the acknowledgement"
    );

    // The container's and systemd's health check sees it well.
    let health =
        common::mentorsite(&["healthcheck", "--url", &format!("{}/healthz", ep.url)]).run();
    assert_eq!(health.code, 0, "{}", health.stderr);
    assert!(health.stdout.starts_with("ok: "), "{}", health.stdout);

    // The log carries ids, never names, addresses or message text.
    std::thread::sleep(Duration::from_millis(300));
    let log = ep.log.lock().unwrap().clone();
    assert!(
        log.contains("event=request_stored") && log.contains("event=mail_sent"),
        "{log}"
    );
    for private in [
        "Sam Lee",
        "Sam_Lee",
        "sam@mentee",
        "ada@private",
        "Hoping",
        "anaesthetics",
    ] {
        assert!(!log.contains(private), "{private} in the log:\n{log}");
    }
}

#[test]
fn mail_server_down_at_submit_then_up_every_mail_arrives_once() {
    let port = free_port();
    let site = site(port);
    let ep = start_endpoint(&site);
    assert_eq!(
        post_request(&ep.url, "Sent while the mail server is down."),
        303,
        "stored even so"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let listed = common::mentorsite(&[
        "requests",
        "show",
        "--root",
        site.root().to_str().unwrap(),
        "x",
    ])
    .run();
    assert_eq!(listed.code, 2, "an unknown id is an error");
    let list =
        common::mentorsite(&["requests", "list", "--root", site.root().to_str().unwrap()]).run();
    assert!(list.stdout.contains("dr-ada-bundle"), "{}", list.stdout);

    let sink = SmtpSink::start(port);
    let mails = sink.wait_for(3, Duration::from_secs(30));
    assert_eq!(mails.len(), 3, "all three after the retries");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.mails().len(), 3, "each mail exactly once");
    let log = ep.log.lock().unwrap().clone();
    assert!(log.contains("event=mail_retry"), "{log}");
}

#[test]
fn killed_between_storing_and_sending_the_mail_still_goes_after_a_restart() {
    let port = free_port();
    let site = site(port);
    let first = start_endpoint(&site);
    assert_eq!(
        post_request(&first.url, "Stored, then the process dies."),
        303
    );
    // SIGKILL: perhaps after the outbox claimed the mail, never after it was sent. A claim held
    // by the dead process ends with its lease.
    drop(first);
    let sink = SmtpSink::start(port);
    let second = start_endpoint(&site);
    let mails = sink.wait_for(3, Duration::from_secs(30));
    assert_eq!(
        mails.len(),
        3,
        "the restarted service sends what was stored"
    );
    drop(second);
}

/// One HTTP/1.1 exchange with the endpoint; returns the status and the whole response.
fn http(url: &str, method: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let body = serde_urlencoded::to_string(form).unwrap();
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://mentors.example.org\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    (response[9..12].parse().unwrap(), response)
}

/// The plain-text part of a mail as the reader sees it (quoted-printable or base64 undone).
fn text_of(mail: &str) -> String {
    use base64::Engine;
    let start = mail
        .find("Content-Type: text/plain")
        .expect("a text/plain part");
    let part = &mail[start..];
    let (head, rest) = part.split_once("\r\n\r\n").unwrap();
    let body = rest.split("\r\n--").next().unwrap();
    if head.contains("quoted-printable") {
        let joined = body.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 3 <= bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    } else if head.contains("base64") {
        let compact: String = body.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .unwrap();
        String::from_utf8(bytes).unwrap()
    } else {
        body.to_string()
    }
}

/// The path and query of the first link in `text` under the public address that contains
/// `/requests/`.
fn link_in(text: &str, action: &str) -> String {
    let at = text
        .find(&format!("/{action}?t="))
        .unwrap_or_else(|| panic!("a {action} link in:\n{text}"));
    let start = text[..at].rfind("https://mentors.example.org").unwrap()
        + "https://mentors.example.org".len();
    let end = text[at..]
        .find(char::is_whitespace)
        .map_or(text.len(), |e| at + e);
    text[start..end].to_string()
}

/// The value of the hidden `t` field in the form posting to `action`.
fn token_in_form(page: &str, action: &str) -> String {
    let form = page
        .find(&format!("/{action}\""))
        .unwrap_or_else(|| panic!("a form for {action} in:\n{page}"));
    let rest = &page[form..];
    let v = rest.find("name=\"t\" value=\"").unwrap() + "name=\"t\" value=\"".len();
    rest[v..v + rest[v..].find('"').unwrap()].to_string()
}

fn mails_to<'a>(mails: &'a [String], to: &str) -> Vec<&'a String> {
    mails.iter().filter(|m| to_of(m) == to).collect()
}

const MENTEE: &str = "sam@mentee.example.net";
const MENTOR: &str = "ada@private.example.net";
const ADMIN: &str = "admin@example.org";

/// Monday 23 November 2026: the request goes in; the answer is due Monday 30 November and the
/// reminder goes on the third working day, Thursday 26 November.
const MONDAY: &str = "2026-11-23T10:00:00Z";
const THURSDAY: &str = "2026-11-26T09:00:00Z";
const NEXT_TUESDAY: &str = "2026-12-01T09:00:00Z";

#[test]
fn journey_request_reminder_accept_and_the_mentee_gets_the_contact() {
    let sink = SmtpSink::start(0);
    let site = site(sink.port);

    let monday = start_endpoint_at(&site, Some(MONDAY));
    assert_eq!(
        post_request(&monday.url, "Could we talk about returning to work?"),
        303
    );
    let mails = sink.wait_for(3, Duration::from_secs(20));
    assert_eq!(mails.len(), 3, "{mails:#?}");
    let first = text_of(mails_to(&mails, MENTOR)[0]);
    assert!(
        first.contains("Monday 30 November 2026"),
        "the respond-by date:\n{first}"
    );
    monday.stop();

    // Thursday: the service starts, sweeps, and reminds the mentor once.
    let thursday = start_endpoint_at(&site, Some(THURSDAY));
    let mails = sink.wait_for(4, Duration::from_secs(20));
    assert_eq!(mails.len(), 4, "a reminder: {mails:#?}");
    let reminder = text_of(&mails[3]);
    assert_eq!(to_of(&mails[3]), MENTOR);
    assert!(reminder.contains("gentle reminder"), "{reminder}");
    assert!(reminder.contains("Monday 30 November 2026"), "{reminder}");

    // The mentor opens the link in the reminder, then accepts from the page.
    let respond = link_in(&reminder, "respond");
    let (status, page) = http(&thursday.url, "GET", &respond, &[]);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Could we talk about returning to work?"));
    let id = respond.split('/').nth(2).unwrap().to_string();
    let token = token_in_form(&page, "accept");
    let (status, page) = http(
        &thursday.url,
        "POST",
        &format!("/requests/{id}/accept"),
        &[("t", &token)],
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Thank you for accepting"), "{page}");

    let mails = sink.wait_for(7, Duration::from_secs(20));
    assert_eq!(mails.len(), 7, "accept mails: {mails:#?}");
    let news = &mails[4..];
    let for_mentee: Vec<&String> = news.iter().filter(|m| to_of(m) == MENTEE).collect();
    assert_eq!(for_mentee.len(), 1);
    let contact = text_of(for_mentee[0]);
    assert!(contact.contains("has accepted your request"), "{contact}");
    assert!(contact.contains(MENTOR), "the mentor's address: {contact}");
    assert!(
        contact.contains("Email: ada@private.example.net"),
        "{contact}"
    );
    assert!(
        contact.contains("/handbook/"),
        "a link to the handbook: {contact}"
    );
    assert!(
        news.iter()
            .any(|m| to_of(m) == MENTOR && text_of(m).contains(MENTEE)),
        "the mentor gets the mentee's address: {:#?}",
        news.iter().map(|m| text_of(m)).collect::<Vec<_>>()
    );
    assert!(news.iter().any(|m| to_of(m) == ADMIN), "the admin is told");

    // The access log has a line per request, by path: never the query and its token.
    std::thread::sleep(Duration::from_millis(200));
    let log = thursday.log.lock().unwrap().clone();
    assert!(
        log.contains(&format!(
            "event=http method=POST path=/requests/{id}/accept status=200"
        )),
        "{log}"
    );
    assert!(log.contains(&format!(
        "event=http method=GET path=/requests/{id}/respond status=200"
    )));
    let token_sig = token.split('.').nth(1).unwrap();
    assert!(!log.contains(token_sig), "no token in the log");
    assert!(!log.contains("?t="), "no query in the log");

    // A second accept changes nothing and sends nothing.
    let (status, _) = http(
        &thursday.url,
        "POST",
        &format!("/requests/{id}/accept"),
        &[("t", &token)],
    );
    assert!(status == 200 || status == 409, "{status}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.mails().len(), 7, "no more mail");
    thursday.stop();
}

#[test]
fn journey_request_lapses_and_everyone_is_told() {
    let sink = SmtpSink::start(0);
    let site = site(sink.port);

    let monday = start_endpoint_at(&site, Some(MONDAY));
    assert_eq!(
        post_request(&monday.url, "Hoping for a chat about less than full time."),
        303
    );
    let mails = sink.wait_for(3, Duration::from_secs(20));
    assert_eq!(mails.len(), 3, "{mails:#?}");
    let respond = link_in(&text_of(mails_to(&mails, MENTOR)[0]), "respond");
    monday.stop();

    // Stopped as on a restart (a kill -9 may leave sent mail unrecorded; that case, sent
    // again after the lease, is tested on its own).
    let thursday = start_endpoint_at(&site, Some(THURSDAY));
    assert_eq!(
        sink.wait_for(4, Duration::from_secs(20)).len(),
        4,
        "the reminder"
    );
    thursday.stop();

    // Tuesday after the deadline: the request lapses and mentee, mentor and admin are told.
    let tuesday = start_endpoint_at(&site, Some(NEXT_TUESDAY));
    let mails = sink.wait_for(7, Duration::from_secs(20));
    assert_eq!(mails.len(), 7, "three lapse mails: {mails:#?}");
    let lapse = &mails[4..];
    let mut to: Vec<String> = lapse.iter().map(|m| to_of(m)).collect();
    to.sort();
    assert_eq!(to, [MENTOR, ADMIN, MENTEE], "sorted: mentor, admin, mentee");
    let for_mentee = text_of(lapse.iter().find(|m| to_of(m) == MENTEE).unwrap());
    assert!(for_mentee.contains("it has lapsed"), "{for_mentee}");
    assert!(
        for_mentee.contains("https://mentors.example.org/"),
        "a way back to the register: {for_mentee}"
    );

    // The mentor's old link now says the request has lapsed.
    let (status, page) = http(&tuesday.url, "GET", &respond, &[]);
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("lapsed"), "{page}");
    let list =
        common::mentorsite(&["requests", "list", "--root", site.root().to_str().unwrap()]).run();
    assert!(list.stdout.contains("lapsed"), "{}", list.stdout);

    // Another start on the same day sends nothing again.
    tuesday.stop();
    let again = start_endpoint_at(&site, Some(NEXT_TUESDAY));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.mails().len(), 7, "each lapse mail once");
    again.stop();
}

/// The hidden fields of the sessions page's form whose `intent` is `intent`.
fn session_form(page: &str, intent: &str) -> Vec<(String, String)> {
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
            (name, rest[v..].split('"').next().unwrap().to_string())
        })
        .collect()
}

/// Post the sessions page's `intent` form from `page` with `more` fields; the new page.
fn post_session(
    url: &str,
    id: &str,
    page: &str,
    intent: &str,
    more: &[(&str, &str)],
) -> (u16, String) {
    let hidden = session_form(page, intent);
    let mut fields: Vec<(&str, &str)> = hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    fields.extend_from_slice(more);
    http(url, "POST", &format!("/requests/{id}/sessions"), &fields)
}

/// The mentee's request to Ada, stored and accepted over HTTP on `ep`, its first `sent` mails
/// arrived; returns the request id and the sessions link from the mentor's confirmation.
fn accepted_over_http(sink: &SmtpSink, ep: &Running, sent: usize) -> (String, String) {
    assert_eq!(
        post_request(&ep.url, "Could we talk about coming back?"),
        303
    );
    let mails = sink.wait_for(sent + 3, Duration::from_secs(20));
    let respond = link_in(&text_of(mails_to(&mails[sent..], MENTOR)[0]), "respond");
    let id = respond.split('/').nth(2).unwrap().to_string();
    let (status, page) = http(&ep.url, "GET", &respond, &[]);
    assert_eq!(status, 200, "{page}");
    let token = token_in_form(&page, "accept");
    let (status, page) = http(
        &ep.url,
        "POST",
        &format!("/requests/{id}/accept"),
        &[("t", &token)],
    );
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("/requests/{id}/sessions?t=")),
        "the page links the sessions: {page}"
    );
    let mails = sink.wait_for(sent + 6, Duration::from_secs(20));
    assert_eq!(mails.len(), sent + 6, "{mails:#?}");
    let confirmation = mails[sent + 3..]
        .iter()
        .find(|m| to_of(m) == MENTOR)
        .expect("the mentor's confirmation");
    (id, link_in(&text_of(confirmation), "sessions"))
}

#[test]
fn journey_sessions_a_concern_the_last_session_and_the_mentee_s_feedback() {
    let sink = SmtpSink::start(0);
    let site = site(sink.port);
    let ep = start_endpoint_at(&site, Some(MONDAY));
    let (id, sessions) = accepted_over_http(&sink, &ep, 0);

    // The mentor opens the sessions link (twice: a GET changes nothing) and records one.
    let (status, page) = http(&ep.url, "GET", &sessions, &[]);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("0 of 4 sessions, until Sunday 23 May 2027"),
        "{page}"
    );
    let (_, _) = http(&ep.url, "GET", &sessions, &[]);
    let session = [("date", "2026-11-23"), ("minutes", "60"), ("mode", "video")];
    let (status, page) = post_session(&ep.url, &id, &page, "record", &session);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("1 of 4 sessions"), "{page}");

    // The second with a concern: the admin is mailed at once, once, marked for attention.
    let mut with_concern = session.to_vec();
    with_concern.push(("note", "They spoke of not sleeping; please call me today."));
    with_concern.push(("concern", "yes"));
    let (status, after) = post_session(&ep.url, &id, &page, "record", &with_concern);
    assert_eq!(status, 200, "{after}");
    assert!(after.contains("We have emailed the scheme"), "{after}");
    let (status, twice) = post_session(&ep.url, &id, &page, "record", &with_concern);
    assert_eq!(status, 200);
    assert!(twice.contains("This was sent already"), "{twice}");
    let mails = sink.wait_for(7, Duration::from_secs(20));
    assert_eq!(mails.len(), 7, "{mails:#?}");
    let concern = &mails[6];
    assert_eq!(to_of(concern), ADMIN);
    assert!(concern.contains("Importance: high"), "{concern}");
    assert!(
        concern.contains("Reply-To: ada@private.example.net"),
        "{concern}"
    );
    assert!(text_of(concern).contains("please call me today"));

    // Sessions three and four: the match is completed; both are thanked, the admin told.
    let (_, page) = post_session(&ep.url, &id, &after, "record", &session);
    let (status, last) = post_session(&ep.url, &id, &page, "record", &session);
    assert_eq!(status, 200, "{last}");
    assert!(last.contains("that was the last session"), "{last}");
    let mails = sink.wait_for(10, Duration::from_secs(20));
    assert_eq!(mails.len(), 10, "{mails:#?}");
    let mut to: Vec<String> = mails[7..].iter().map(|m| to_of(m)).collect();
    to.sort();
    assert_eq!(to, [MENTOR, ADMIN, MENTEE]);
    for m in mails_to(&mails, MENTEE) {
        assert!(
            !text_of(m).contains("not sleeping"),
            "the note never reaches the mentee"
        );
    }
    let thanks = text_of(mails_to(&mails[7..], MENTEE)[0]);
    assert!(thanks.contains("Thank you for taking part"), "{thanks}");
    let feedback = link_in(&thanks, "feedback");

    // The mentee's feedback: stored and mailed to the admin.
    let (status, form) = http(&ep.url, "GET", &feedback, &[]);
    assert_eq!(status, 200, "{form}");
    let t = feedback.split("?t=").nth(1).unwrap();
    let (status, done) = http(
        &ep.url,
        "POST",
        &format!("/requests/{id}/feedback"),
        &[
            ("t", t),
            ("helpful", "4"),
            ("helped", "Hearing how she managed nights."),
            ("more_sessions", "yes"),
        ],
    );
    assert_eq!(status, 200, "{done}");
    let mails = sink.wait_for(11, Duration::from_secs(20));
    assert_eq!(mails.len(), 11, "{mails:#?}");
    assert_eq!(to_of(&mails[10]), ADMIN);
    let copy = text_of(&mails[10]);
    assert!(
        copy.contains("4 out of 5") && copy.contains("more sessions"),
        "{copy}"
    );
    let root = site.root().to_str().unwrap();
    let shown = common::mentorsite(&["requests", "show", "--root", root, &id]).run();
    assert!(
        shown.stdout.contains("Sessions    4 of 4") && shown.stdout.contains("Feedback    4 of 5"),
        "{}",
        shown.stdout
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.mails().len(), 11, "nothing sent twice");
    let log = ep.log.lock().unwrap().clone();
    assert!(
        !log.contains("not sleeping") && !log.contains("Hearing how"),
        "no free text logged"
    );
    ep.stop();
}

#[test]
fn journey_the_window_ends_with_sessions_unused_then_extend() {
    let sink = SmtpSink::start(0);
    let site = site(sink.port);
    let monday = start_endpoint_at(&site, Some(MONDAY));
    let (id, _) = accepted_over_http(&sink, &monday, 0);
    monday.stop();

    // The day after the window's last day (Sunday 23 May 2027): the sweep completes the match.
    let after = start_endpoint_at(&site, Some("2027-05-24T09:00:00Z"));
    let mails = sink.wait_for(9, Duration::from_secs(30));
    assert_eq!(
        mails.len(),
        9,
        "three thanks: {:?}\n{}",
        mails.iter().map(|m| to_of(m)).collect::<Vec<_>>(),
        after.log()
    );
    let mut to: Vec<String> = mails[6..].iter().map(|m| to_of(m)).collect();
    to.sort();
    assert_eq!(to, [MENTOR, ADMIN, MENTEE]);
    let thanks = text_of(mails_to(&mails[6..], MENTEE)[0]);
    assert!(
        thanks.contains("the time the scheme offers has passed"),
        "{thanks}"
    );
    assert!(thanks.contains("/feedback?t="), "{thanks}");

    // The scheme team agrees another block: the mentor and the mentee are told.
    let root = site.root().to_str().unwrap();
    let extended = common::mentorsite(&["requests", "extend", "--root", root, &id])
        .env(
            "MENTORSITE_SECRET",
            "an end-to-end test key, thirty-two bytes or more",
        )
        // The endpoint's clock started here: the mail queued is due for it at once.
        .env("MENTORSITE_NOW", "2027-05-24T09:00:00Z")
        .run();
    assert_eq!(extended.code, 0, "{}", extended.stderr);
    assert!(
        extended
            .stdout
            .contains("up to 8 sessions in all (0 held so far), until Wednesday 24 November 2027"),
        "{}",
        extended.stdout
    );
    let mails = sink.wait_for(11, Duration::from_secs(30));
    assert_eq!(mails.len(), 11, "{mails:#?}");
    let for_mentor = text_of(mails_to(&mails[9..], MENTOR)[0]);
    assert!(for_mentor.contains("up to 8 in all"), "{for_mentor}");
    let sessions = link_in(&for_mentor, "sessions");
    let (status, page) = http(&after.url, "GET", &sessions, &[]);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("0 of 8 sessions, until Wednesday 24 November 2027"),
        "{page}"
    );
    assert!(
        page.contains("name=\"intent\" value=\"record\""),
        "running again"
    );
    assert_eq!(mails_to(&mails[9..], MENTEE).len(), 1);

    // Running again, it cannot be extended again: only a completed match can.
    let twice = common::mentorsite(&["requests", "extend", "--root", root, &id])
        .env(
            "MENTORSITE_SECRET",
            "an end-to-end test key, thirty-two bytes or more",
        )
        .env("MENTORSITE_NOW", "2027-05-24T09:00:00Z")
        .run();
    assert_eq!(twice.code, 2, "{}", twice.stderr);
    assert!(
        twice.stderr.contains(&format!(
            "error: the match {id} is still running: only a completed match can be extended"
        )),
        "{}",
        twice.stderr
    );
    let (_, page) = http(&after.url, "GET", &sessions, &[]);
    assert!(page.contains("0 of 8 sessions"), "unchanged: {page}");
    after.stop();
}
