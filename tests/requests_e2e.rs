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
