//! `POST /requests` and `/healthz` through the real router, without a socket (oneshot), over
//! the doctors fixture: every status a mentee or a script can meet.

mod common;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Site;
use mentorsite::mail::Mailer;
use mentorsite::outbox::Outbox;
use mentorsite::requests::desk::{Desk, SweepReport};
use mentorsite::requests::directory::Directory;
use mentorsite::requests::store::Store;
use mentorsite::requests::{Recipient, Status};
use mentorsite::site::{BuildOptions, prepare};
use mentorsite::web::pages::Pages;
use mentorsite::web::{App, router};
use tower::ServiceExt;

/// 2026-11-23 10:00 UTC, a Monday.
const NOW: i64 = 1_795_428_000;
const ORIGIN: &str = "https://mentors.example.org";

struct Harness {
    app: Arc<App>,
    _site: Site,
    clock: Arc<AtomicI64>,
    /// Milliseconds past the clock's second.
    millis: Arc<AtomicI64>,
}

impl Harness {
    /// Set the service's clock to `date` at `time` UTC.
    fn at(&self, stamp: &str) {
        let t: jiff::Timestamp = stamp.parse().unwrap();
        self.clock.store(t.as_second(), Ordering::SeqCst);
    }

    fn desk(&self) -> &Arc<Desk> {
        &self.app.desk
    }

    /// Send every mail due, to memory (as the outbox worker would).
    async fn deliver(&self) -> Vec<lettre::Message> {
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
        sent.lock().unwrap().clone()
    }
}

fn harness() -> Harness {
    harness_with_rate(100)
}

fn harness_with_rate(per_minute: u32) -> Harness {
    harness_with(per_minute, Vec::new())
}

fn harness_with(per_minute: u32, trusted_proxies: Vec<std::net::IpAddr>) -> Harness {
    let clock = Arc::new(AtomicI64::new(NOW));
    let site = Site::fixture("doctors");
    site.write(
        "site.toml",
        &site.read("site.toml").replace(
            "admin_email = \"admin@example.org\"",
            "admin_email = \"admin@example.org\"\nholidays = [\"2026-12-25\", \"2026-12-28\", \"2027-01-01\"]",
        ),
    );
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
    let (c2, millis) = (clock.clone(), Arc::new(AtomicI64::new(0)));
    let m = millis.clone();
    let desk = Desk::new(
        site.root(),
        config,
        directory,
        Arc::new(Store::in_memory().unwrap()),
        KEY.to_vec(),
        Arc::new(move || c.load(Ordering::SeqCst)),
    )
    .expect("desk")
    .with_millis(Arc::new(move || {
        c2.load(Ordering::SeqCst) * 1000 + m.load(Ordering::SeqCst)
    }));
    let pages = Pages::new(config, &prepared.register, prepared.theme, desk.today());
    let mut app = App::new(
        Arc::new(desk),
        pages,
        prepared.config.requests.allowed_origins.clone(),
    );
    app.set_rate_per_minute(NonZeroU32::new(per_minute).unwrap());
    let app = app.trust_proxies(trusted_proxies);
    Harness {
        app: Arc::new(app),
        _site: site,
        clock,
        millis,
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut all: Vec<(&str, &str)> = vec![
        ("mentor", "dr-ada-bundle"),
        ("name", "Sam Lee"),
        ("email", "sam@example.net"),
        (
            "message",
            "I am back after a year away and nervous about nights.",
        ),
        ("mode", "video"),
        ("consent", "yes"),
    ];
    for (k, v) in pairs {
        all.retain(|(key, _)| key != k);
        if !v.is_empty() || *k == "website" {
            all.push((k, v));
        }
    }
    serde_urlencoded::to_string(all).unwrap()
}

async fn post(
    h: &Harness,
    body: String,
    headers: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
    post_from(h, "192.0.2.10", body, headers).await
}

/// Post as the peer `peer` (the address the connection comes from).
async fn post_from(
    h: &Harness,
    peer: &str,
    body: String,
    headers: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
    let mut req = Request::post("/requests")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    let mut has_origin = false;
    for (k, v) in headers {
        has_origin |= k.eq_ignore_ascii_case("origin") || k.eq_ignore_ascii_case("referer");
        req = req.header(*k, *v);
    }
    if !has_origin {
        req = req.header(header::ORIGIN, ORIGIN);
    }
    let mut req = req.body(Body::from(body)).unwrap();
    let peer: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    let res = router(h.app.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    (status, location, text_of(res).await)
}

#[tokio::test]
async fn a_good_request_is_stored_with_its_three_emails_then_303() {
    let h = harness();
    let (status, location, _) = post(&h, form(&[]), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some("/requests/sent/"),
        "the service's own page, which names the mentor"
    );
    let stored = h.desk().store.list().unwrap();
    assert_eq!(stored.len(), 1);
    let r = &stored[0];
    assert_eq!(
        (r.mentor.as_str(), r.status.as_str()),
        ("dr-ada-bundle", "pending")
    );
    assert_eq!(
        r.respond_by, "2026-11-30",
        "5 working days from Monday 23 November"
    );
    let mails = h.desk().store.mails_of(&r.id).unwrap();
    let kinds: Vec<&str> = mails.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["mentor", "admin", "mentee"]);
    assert_eq!(
        mails[0].recipient.to_string(),
        "mentor:dr-ada-bundle",
        "looked up when sending, never from the form"
    );
    assert_eq!(mails[1].recipient.to_string(), "admin");
    assert_eq!(mails[2].recipient.to_string(), "sam@example.net");
    assert!(mails[0].text_body.contains("nervous about nights"));
    assert!(
        mails[0].text_body.contains("/requests/") && mails[0].text_body.contains("/respond?t=")
    );
    assert_eq!(mails[0].reply_to.as_deref(), Some("sam@example.net"));
    let ack = &mails[2];
    for typed in ["nervous", "Sam Lee"] {
        assert!(
            !ack.text_body.contains(typed)
                && !ack.html_body.contains(typed)
                && !ack.subject.contains(typed),
            "the acknowledgement repeats {typed}"
        );
    }
    assert!(
        ack.text_body.contains("Monday 30 November 2026"),
        "{}",
        ack.text_body
    );
}

#[tokio::test]
async fn scripts_get_json() {
    let h = harness();
    let (status, _, body) = post(&h, form(&[]), &[("accept", "application/json")]).await;
    assert_eq!(status, StatusCode::CREATED);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "stored");
    assert_eq!(v["respond_by"], "2026-11-30");
    let (status, _, body) = post(
        &h,
        form(&[("email", "not-an-address")]),
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "invalid");
    assert!(
        v["fields"]["email"]
            .as_str()
            .unwrap()
            .starts_with("This address has no @")
    );
}

#[tokio::test]
async fn a_bad_form_is_shown_again_with_what_was_typed() {
    let h = harness();
    let (status, _, page) = post(
        &h,
        form(&[
            ("name", ""),
            ("consent", ""),
            ("message", "Keep <this> & that"),
        ]),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("<h1>Please check your request</h1>"));
    assert!(page.contains("Please tell us your name."));
    assert!(page.contains("Please tick the box to agree"));
    assert!(
        page.contains(">Keep &lt;this&gt; &amp; that</textarea>"),
        "the message is kept, escaped"
    );
    assert!(
        page.contains("value=\"sam@example.net\""),
        "the email is kept"
    );
    assert!(
        page.contains("value=\"video\" checked"),
        "the choice is kept"
    );
    assert!(h.desk().store.list().unwrap().is_empty());
}

#[tokio::test]
async fn header_injection_in_any_header_bound_field_is_refused() {
    let h = harness();
    for (field, value) in [
        ("name", "Sam\r\nBcc: victim@example.org"),
        ("email", "sam@example.net\r\nBcc: victim@example.org"),
        ("email", "sam@example.net\nTo: victim@example.org"),
        ("mode", "video\r\nBcc: victim@example.org"),
        ("mentor", "dr-ada-bundle\r\nBcc: victim@example.org"),
    ] {
        let (status, _, _) = post(&h, form(&[(field, value)]), &[]).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{field}: {status}"
        );
    }
    assert!(h.desk().store.list().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_mentor_404_and_mentors_not_taking_requests_409() {
    let h = harness();
    let (status, _, page) = post(&h, form(&[("mentor", "nobody")]), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("We could not find that mentor"));
    for slug in ["cara-paused", "bob-crlf"] {
        let (status, _, page) = post(&h, form(&[("mentor", slug)]), &[]).await;
        assert_eq!(status, StatusCode::CONFLICT, "{slug}");
        assert!(
            page.contains("is not taking new mentees at the moment"),
            "{slug}"
        );
    }
    assert!(h.desk().store.list().unwrap().is_empty());
}

#[tokio::test]
async fn lengths_are_counted_in_characters_in_any_script_and_nothing_typed_is_lost() {
    let h = harness();
    // 1,900 Chinese characters, and 4,000 four-byte ones (48 KB once encoded), are taken.
    for (i, message) in ["请".repeat(1900), "𝄞".repeat(4000)].iter().enumerate() {
        let email = format!("script{i}@example.net");
        let (status, _, page) =
            post(&h, form(&[("email", &email), ("message", message)]), &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{i}: {page}");
    }
    // One character over: the field says so, in characters, and keeps the text.
    let over = "ع".repeat(4001);
    let (status, _, page) = post(&h, form(&[("message", &over)]), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("to 4,000 characters or fewer (it is 4,001 now)"),
        "{page}"
    );
    assert!(page.contains(&format!(">{over}</textarea>")));
    // Past the body limit: 413, and still the form with everything typed.
    let huge = "x".repeat(100_000);
    let (status, _, page) = post(&h, form(&[("message", &huge)]), &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(page.contains("Your request is too long"));
    assert!(page.contains("Everything you typed is kept below"));
    assert!(page.contains(&format!(">{huge}</textarea>")));
    assert!(page.contains("value=\"sam@example.net\""));
    // Far past it, nothing can be kept, and the page says only what to do.
    let (status, _, page) = post(&h, form(&[("message", &"x".repeat(300_000))]), &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!page.contains("kept below"));
    assert_eq!(h.desk().store.list().unwrap().len(), 2);
}

#[test]
fn numbers_in_messages_have_thousands_separators() {
    use mentorsite::requests::thousands;
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(4000), "4,000");
    assert_eq!(thousands(1234567), "1,234,567");
}

#[tokio::test]
async fn too_many_posts_from_one_client_429() {
    let h = harness_with_rate(2);
    for _ in 0..2 {
        assert_ne!(
            post(&h, form(&[("mentor", "nobody")]), &[]).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    let (status, _, page) = post(&h, form(&[]), &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("please wait a minute and send it again"));
}

#[tokio::test]
async fn a_mentee_may_have_three_requests_waiting_and_five_a_day() {
    let h = harness();
    for i in 0..3 {
        let (status, _, _) = post(&h, form(&[("message", &format!("request {i}"))]), &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (status, _, page) = post(&h, form(&[("message", "a fourth")]), &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("You already have requests waiting"));
    // Once answered they no longer wait; the daily limit still holds.
    for r in h.desk().store.list().unwrap() {
        h.desk()
            .store
            .answer(&r.id, Status::Declined, None, &r.id, &[], NOW)
            .unwrap();
    }
    for i in 3..5 {
        let (status, _, _) = post(&h, form(&[("message", &format!("request {i}"))]), &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (status, _, page) = post(&h, form(&[("message", "a sixth")]), &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("You have sent several requests today"));
    // The same address in other capitals, or with spaces, is the same mentee.
    for variant in ["Sam@Example.NET", " SAM@example.net "] {
        let (status, _, _) = post(&h, form(&[("email", variant), ("message", "again")]), &[]).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{variant}");
    }
    assert_eq!(h.desk().store.list().unwrap().len(), 5);
}

#[tokio::test]
async fn other_origins_are_refused_and_a_missing_origin_is_judged_as_browsers_send_it() {
    let h = harness();
    let (status, _, page) = post(&h, form(&[]), &[("origin", "https://evil.example")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Requests can only be sent from the scheme"));
    assert_eq!(
        post(&h, form(&[]), &[("origin", "null")]).await.0,
        StatusCode::FORBIDDEN
    );
    // Origin stripped by a privacy tool: the Referer decides.
    assert_eq!(
        post(&h, form(&[]), &[("referer", "https://evil.example/page")])
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            &h,
            form(&[("message", "via referer")]),
            &[(
                "referer",
                "https://mentors.example.org/mentors/dr-ada-bundle/"
            )]
        )
        .await
        .0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(h.desk().store.list().unwrap().len(), 1);
}

#[tokio::test]
async fn robots_are_answered_as_if_accepted_and_nothing_is_stored() {
    let h = harness();
    let (status, location, _) = post(&h, form(&[("website", "http://spam.example")]), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.unwrap().ends_with("/requests/sent/"));
    let too_quick = (NOW * 1000 - 500).to_string();
    assert_eq!(
        post(&h, form(&[("form_age", &too_quick)]), &[]).await.0,
        StatusCode::SEE_OTHER
    );
    assert!(h.desk().store.list().unwrap().is_empty());
    // A person who took their time is stored; so is one without JavaScript (no form_age).
    let patient = (NOW * 1000 - 60_000).to_string();
    post(&h, form(&[("form_age", &patient)]), &[]).await;
    post(&h, form(&[("message", "no script")]), &[]).await;
    assert_eq!(h.desk().store.list().unwrap().len(), 2);
}

#[tokio::test]
async fn healthz_checks_the_database() {
    let h = harness();
    let res = router(h.app.clone())
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
    assert_eq!(&body[..], br#"{"status":"ok"}"#);
}

#[tokio::test]
async fn a_reloaded_register_changes_who_can_be_requested() {
    let h = harness();
    assert_eq!(
        post(&h, form(&[("message", "before")]), &[]).await.0,
        StatusCode::SEE_OTHER
    );
    // The admin removes the bio; the service reloads the register.
    h._site.remove("content/mentors/dr-ada-bundle/index.md");
    let again = prepare(&BuildOptions {
        root: h._site.root().to_path_buf(),
        ..BuildOptions::default()
    })
    .unwrap();
    h.desk()
        .directory
        .reload(&again.register, "https://mentors.example.org");
    assert_eq!(
        post(&h, form(&[("message", "after")]), &[]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.desk()
            .directory
            .address_of(&Recipient::Mentor("dr-ada-bundle".into())),
        None,
        "queued mail for her now fails"
    );
}

// ---- The mentor's answer (issue 6) --------------------------------------------------------

const KEY: &[u8] = b"a test key of at least thirty-two bytes";

/// A response's body as text (at most 1 MiB).
async fn text_of(res: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

async fn get(h: &Harness, uri: &str) -> (StatusCode, String) {
    let res = router(h.app.clone())
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    (res.status(), text_of(res).await)
}

async fn answer(
    h: &Harness,
    id: &str,
    action: &str,
    token: &str,
    note: &str,
) -> (StatusCode, String) {
    let body = serde_urlencoded::to_string([("t", token), ("note", note)]).unwrap();
    let req = Request::post(format!("/requests/{id}/{action}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let res = router(h.app.clone()).oneshot(req).await.unwrap();
    (res.status(), text_of(res).await)
}

/// Store a request; return its id and the respond link's path from the mentor's email.
async fn requested(h: &Harness, message: &str) -> (String, String) {
    assert_eq!(
        post(h, form(&[("message", message)]), &[]).await.0,
        StatusCode::SEE_OTHER
    );
    let r = h
        .desk()
        .store
        .list()
        .unwrap()
        .into_iter()
        .find(|r| r.message == message)
        .unwrap();
    // The mentor has the request: only then is their silence an answer.
    h.deliver().await;
    let mail = &h.desk().store.mails_of(&r.id).unwrap()[0];
    let start = mail.text_body.find("/requests/").unwrap();
    let link = mail.text_body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    (r.id, link)
}

fn hidden_tokens(page: &str) -> Vec<String> {
    page.match_indices("name=\"t\" value=\"")
        .map(|(i, m)| page[i + m.len()..].split('"').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_respond_page_shows_the_request_and_changes_nothing() {
    let h = harness();
    let (id, link) = requested(&h, "Please be my mentor").await;
    for _ in 0..3 {
        let (status, page) = get(&h, &link).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Sam Lee would like you to mentor them"));
        assert!(page.contains("Please be my mentor"));
        assert_eq!(
            hidden_tokens(&page).len(),
            2,
            "an accept and a decline button"
        );
    }
    assert_eq!(
        h.desk().store.get(&id).unwrap().unwrap().status.as_str(),
        "pending",
        "GET never changes state"
    );
    assert_eq!(
        h.desk().store.mails_of(&id).unwrap().len(),
        3,
        "and queues nothing"
    );
}

#[tokio::test]
async fn accepting_sends_contact_details_and_a_second_click_is_harmless() {
    let h = harness();
    let (id, link) = requested(&h, "accept me").await;
    let page = get(&h, &link).await.1;
    let tokens = hidden_tokens(&page);
    let (status, page) = answer(&h, &id, "accept", &tokens[0], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Thank you for accepting"));
    assert_eq!(
        h.desk().store.get(&id).unwrap().unwrap().status.as_str(),
        "accepted"
    );
    let mails = h.desk().store.mails_of(&id).unwrap();
    let to_mentee = mails
        .iter()
        .find(|m| m.kind.as_str() == "accepted_mentee")
        .unwrap();
    assert_eq!(to_mentee.recipient.to_string(), "sam@example.net");
    assert!(
        to_mentee.text_body.contains("ada@private.example.net"),
        "the mentor's email"
    );
    assert!(to_mentee.text_body.contains("07700 900001"), "and phone");
    assert!(to_mentee.html_body.contains("<p"), "HTML from the layout");
    assert!(
        mails
            .iter()
            .any(|m| m.kind.as_str() == "accepted_admin" && m.recipient == Recipient::Admin)
    );
    assert!(mails.iter().any(|m| m.kind.as_str() == "accepted_mentor"));

    let (status, page) = answer(&h, &id, "accept", &tokens[0], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("You have accepted this request"));
    assert_eq!(
        h.desk().store.mails_of(&id).unwrap().len(),
        mails.len(),
        "nothing sent twice"
    );

    let (status, page) = answer(&h, &id, "decline", &tokens[1], "").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("You have already accepted this request"));
    // The respond page now says how things stand.
    assert!(
        get(&h, &link)
            .await
            .1
            .contains("You have accepted this request")
    );
}

#[tokio::test]
async fn declining_tells_the_mentee_kindly_with_the_note() {
    let h = harness();
    let (id, link) = requested(&h, "decline me").await;
    let tokens = hidden_tokens(&get(&h, &link).await.1);
    let (status, page) = answer(
        &h,
        &id,
        "decline",
        &tokens[1],
        "Try Bob, who knows nights well.",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Thank you for letting us know"));
    let mails = h.desk().store.mails_of(&id).unwrap();
    let to_mentee = mails
        .iter()
        .find(|m| m.kind.as_str() == "declined_mentee")
        .unwrap();
    assert!(
        to_mentee
            .text_body
            .contains("Try Bob, who knows nights well.")
    );
    assert!(
        to_mentee.text_body.contains("https://mentors.example.org/"),
        "a link back to the register"
    );
    assert!(
        !to_mentee.text_body.contains("ada@private"),
        "no contact details on a decline"
    );
    let (status, _) = answer(&h, &id, "accept", &tokens[0], "").await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an accept after a decline is refused"
    );
}

#[tokio::test]
async fn every_token_misuse_is_refused() {
    let h = harness();
    let (id, link) = requested(&h, "tokens").await;
    let (other, _) = requested(&h, "another").await;
    let tokens = hidden_tokens(&get(&h, &link).await.1);
    let respond_token = link.split("t=").nth(1).unwrap().to_string();
    let mut tampered = tokens[0].clone();
    tampered.pop();
    tampered.push(if tokens[0].ends_with('A') { 'B' } else { 'A' });
    for (what, request, action, token, expected) in [
        (
            "tampered",
            id.as_str(),
            "accept",
            tampered.as_str(),
            StatusCode::FORBIDDEN,
        ),
        (
            "another request's",
            other.as_str(),
            "accept",
            tokens[0].as_str(),
            StatusCode::FORBIDDEN,
        ),
        (
            "another action's",
            id.as_str(),
            "decline",
            tokens[0].as_str(),
            StatusCode::FORBIDDEN,
        ),
        (
            "the email link's",
            id.as_str(),
            "accept",
            respond_token.as_str(),
            StatusCode::FORBIDDEN,
        ),
        (
            "garbage",
            id.as_str(),
            "accept",
            "not-a-token",
            StatusCode::FORBIDDEN,
        ),
    ] {
        let (status, page) = answer(&h, request, action, token, "").await;
        assert_eq!(status, expected, "{what} token");
        assert!(page.contains("This link is not valid"), "{what}");
    }
    let expired = mentorsite::requests::sign(KEY, &id, "accept", NOW - 1);
    let (status, page) = answer(&h, &id, "accept", &expired, "").await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("This link has expired"));
    let (status, _) = get(
        &h,
        &format!(
            "/requests/{id}/respond?t={}",
            mentorsite::requests::sign(KEY, &id, "respond", NOW - 1)
        ),
    )
    .await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(
        h.desk().store.get(&id).unwrap().unwrap().status.as_str(),
        "pending",
        "no misuse changed anything"
    );
}

#[tokio::test]
async fn a_mentor_at_capacity_gets_no_more_requests() {
    let h = harness();
    h._site.write(
        "content/mentors/dr-ada-bundle/index.md",
        &h._site
            .read("content/mentors/dr-ada-bundle/index.md")
            .replace("grade:", "capacity: 1\ngrade:"),
    );
    let again = prepare(&BuildOptions {
        root: h._site.root().to_path_buf(),
        ..BuildOptions::default()
    })
    .unwrap();
    h.desk()
        .directory
        .reload(&again.register, "https://mentors.example.org");
    let (id, link) = requested(&h, "first mentee").await;
    let tokens = hidden_tokens(&get(&h, &link).await.1);
    assert_eq!(
        answer(&h, &id, "accept", &tokens[0], "").await.0,
        StatusCode::OK
    );
    let (status, _, page) = post(&h, form(&[("email", "other@example.net")]), &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("mentoring as many people as they can"));
}

#[tokio::test]
async fn two_waiting_requests_to_a_mentor_with_room_for_one_cannot_both_be_accepted() {
    let h = harness();
    h._site.write(
        "content/mentors/dr-ada-bundle/index.md",
        &h._site
            .read("content/mentors/dr-ada-bundle/index.md")
            .replace("grade:", "capacity: 1\ngrade:"),
    );
    let again = prepare(&BuildOptions {
        root: h._site.root().to_path_buf(),
        ..BuildOptions::default()
    })
    .unwrap();
    h.desk()
        .directory
        .reload(&again.register, "https://mentors.example.org");
    // Both are taken: neither is accepted yet.
    let (first, link1) = requested(&h, "first mentee").await;
    let (second, link2) = requested(&h, "second mentee").await;
    let one = hidden_tokens(&get(&h, &link1).await.1);
    let two = hidden_tokens(&get(&h, &link2).await.1);
    assert_eq!(
        answer(&h, &first, "accept", &one[0], "").await.0,
        StatusCode::OK
    );
    let (status, page) = answer(&h, &second, "accept", &two[0], "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(
        page.contains("You are mentoring as many people as you offered"),
        "{page}"
    );
    let r = h.desk().store.get(&second).unwrap().unwrap();
    assert_eq!(r.status.as_str(), "pending", "not accepted");
    assert_eq!(
        kinds(&h, &second).len(),
        3,
        "no mail: only the three at submit"
    );
    // The decline still works.
    let (status, page) = answer(&h, &second, "decline", &two[1], "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        h.desk()
            .store
            .get(&second)
            .unwrap()
            .unwrap()
            .status
            .as_str(),
        "declined"
    );
}

// ---- Reminders and lapse (issue 6) --------------------------------------------------------

fn kinds(h: &Harness, id: &str) -> Vec<String> {
    h.desk()
        .store
        .mails_of(id)
        .unwrap()
        .into_iter()
        .map(|m| m.kind.as_str().to_string())
        .collect()
}

#[tokio::test]
async fn a_reminder_on_the_third_working_day_and_lapse_after_the_fifth() {
    let h = harness(); // Monday 23 November 2026
    let (id, link) = requested(&h, "waiting").await;
    assert_eq!(
        h.desk().store.get(&id).unwrap().unwrap().respond_by,
        "2026-11-30"
    );
    h.at("2026-11-25T16:00:00Z"); // Wednesday: too early
    assert_eq!(h.desk().sweep().unwrap(), SweepReport::default());
    h.at("2026-11-26T08:00:00Z"); // Thursday: the reminder day
    assert_eq!(h.desk().sweep().unwrap().reminded, 1);
    assert_eq!(h.desk().sweep().unwrap().reminded, 0, "once");
    let reminder = h
        .desk()
        .store
        .mails_of(&id)
        .unwrap()
        .into_iter()
        .find(|m| m.kind.as_str() == "reminder_mentor")
        .unwrap();
    assert_eq!(reminder.recipient.to_string(), "mentor:dr-ada-bundle");
    assert!(
        reminder.text_body.contains("/respond?t="),
        "with a fresh link"
    );
    h.at("2026-11-30T22:00:00Z"); // the deadline day itself: still time
    assert_eq!(h.desk().sweep().unwrap().lapsed, 0);
    h.at("2026-12-01T00:30:00Z"); // Tuesday: lapsed
    assert_eq!(h.desk().sweep().unwrap().lapsed, 1);
    assert_eq!(h.desk().sweep().unwrap().lapsed, 0, "once");
    assert_eq!(
        h.desk().store.get(&id).unwrap().unwrap().status.as_str(),
        "lapsed"
    );
    let k = kinds(&h, &id);
    for kind in ["lapsed_mentee", "lapsed_mentor", "lapsed_admin"] {
        assert_eq!(k.iter().filter(|x| *x == kind).count(), 1, "{kind}: {k:?}");
    }
    let lapsed_note = h
        .desk()
        .store
        .mails_of(&id)
        .unwrap()
        .into_iter()
        .find(|m| m.kind.as_str() == "lapsed_mentee")
        .unwrap();
    assert_eq!(lapsed_note.recipient.to_string(), "sam@example.net");
    assert!(
        lapsed_note
            .text_body
            .contains("https://mentors.example.org/"),
        "pointed back to the register"
    );
    // Answering a lapsed request says so.
    let (status, page) = get(&h, &link).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("This request has lapsed"));
}

#[tokio::test]
async fn the_deadline_skips_bank_holidays() {
    let h = harness();
    h.at("2026-12-22T10:00:00Z"); // Tuesday before Christmas
    let (id, _) = requested(&h, "christmas").await;
    // 23, 24, (25 holiday, weekend, 28 holiday), 29, 30, 31.
    assert_eq!(
        h.desk().store.get(&id).unwrap().unwrap().respond_by,
        "2026-12-31"
    );
    // The reminder comes after 3 working days: 23, 24, then 29 (the 25th to 28th are not).
    h.at("2026-12-28T12:00:00Z");
    assert_eq!(
        h.desk().sweep().unwrap().reminded,
        0,
        "not on the bank holiday"
    );
    h.at("2026-12-29T09:00:00Z");
    assert_eq!(h.desk().sweep().unwrap().reminded, 1);
    h.at("2026-12-31T23:59:00Z");
    assert_eq!(
        h.desk().sweep().unwrap().lapsed,
        0,
        "the last day is still in time"
    );
    h.at("2027-01-01T12:00:00Z");
    assert_eq!(
        h.desk().sweep().unwrap().lapsed,
        1,
        "lapsed on New Year's Day"
    );
}

#[test]
fn two_sweeps_at_once_send_each_reminder_once() {
    let site = Site::fixture("doctors");
    let db = site.path("data/requests.sqlite");
    let make = || {
        let prepared = prepare(&BuildOptions {
            root: site.root().to_path_buf(),
            ..BuildOptions::default()
        })
        .unwrap();
        let config = &prepared.config;
        let directory = Arc::new(Directory::new(
            &prepared.register,
            &config.base_url,
            &config.scheme.admin_email,
        ));
        Arc::new(
            Desk::new(
                site.root(),
                config,
                directory,
                Arc::new(Store::open(&db).unwrap()),
                KEY.to_vec(),
                Arc::new(|| NOW + 4 * 24 * 3600),
            )
            .unwrap(),
        )
    };
    let (a, b) = (make(), make());
    // Five requests made on Monday, stored through the first service's store directly.
    for i in 0..5 {
        let r = mentorsite::requests::store::StoredRequest {
            id: format!("req{i}"),
            created_at: NOW,
            mentor: "dr-ada-bundle".into(),
            name: "Sam".into(),
            email: format!("sam{i}@example.net"),
            mode: "video".into(),
            message: "hello".into(),
            status: Status::Pending,
            respond_by: "2026-11-30".into(),
        };
        a.store
            .insert(&r, &[], NOW, |_| None::<()>)
            .unwrap()
            .unwrap();
    }
    let (ta, tb) = (a.clone(), b.clone());
    let one = std::thread::spawn(move || ta.sweep().unwrap());
    let two = std::thread::spawn(move || tb.sweep().unwrap());
    let total = one.join().unwrap().reminded + two.join().unwrap().reminded;
    assert_eq!(total, 5, "between them, each request reminded once");
    for i in 0..5 {
        let reminders = a.store.mails_of(&format!("req{i}")).unwrap().len();
        assert_eq!(reminders, 1, "req{i}");
    }
}

#[tokio::test]
async fn the_mentee_can_withdraw_and_the_mentor_and_admin_are_told() {
    let h = harness();
    let (id, _) = requested(&h, "withdraw me").await;
    let ack = h
        .desk()
        .store
        .mails_of(&id)
        .unwrap()
        .into_iter()
        .find(|m| m.kind.as_str() == "mentee")
        .unwrap();
    let start = ack.text_body.find("/requests/").unwrap();
    let link = ack.text_body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(link.contains("/withdraw?t="), "{link}");
    let (status, page) = get(&h, &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Withdraw your request to Ada Lovelace-Byron?"));
    assert_eq!(
        h.desk().store.get(&id).unwrap().unwrap().status.as_str(),
        "pending",
        "GET changes nothing"
    );
    let token = link.split("t=").nth(1).unwrap();
    let (status, page) = answer(&h, &id, "withdraw", token, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your request is withdrawn"));
    assert_eq!(
        h.desk().store.get(&id).unwrap().unwrap().status.as_str(),
        "withdrawn"
    );
    let k = kinds(&h, &id);
    assert!(
        k.contains(&"withdrawn_mentor".to_string()) && k.contains(&"withdrawn_admin".to_string()),
        "{k:?}"
    );
    assert_eq!(
        answer(&h, &id, "withdraw", token, "").await.0,
        StatusCode::OK,
        "a second click is harmless"
    );
    // The mentor's link now says so (410), and a mentor's token cannot withdraw.
    let (_, respond) = requested(&h, "another").await;
    let other_id = h
        .desk()
        .store
        .list()
        .unwrap()
        .into_iter()
        .find(|r| r.message == "another")
        .unwrap()
        .id;
    let respond_token = respond.split("t=").nth(1).unwrap();
    assert_eq!(
        answer(&h, &other_id, "withdraw", respond_token, "").await.0,
        StatusCode::FORBIDDEN
    );
    let token = h.desk().sign(&id, "respond", NOW + 24 * 3600);
    let (status, page) = get(&h, &format!("/requests/{id}/respond?t={token}")).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("This request was withdrawn"));
}

#[tokio::test]
async fn addresses_with_a_name_quotes_or_a_literal_are_refused_and_the_text_kept() {
    let h = harness();
    for (address, says) in [
        (
            "Free money <victim@x.example>",
            "without a name or angle brackets",
        ),
        (
            "\"a,b\"@x.example",
            "Addresses with quotation marks cannot be used here",
        ),
        ("a@[127.0.0.1]", "not a number in brackets"),
        ("a@b.example, c@d.example", "Please give one address"),
    ] {
        let (status, _, page) = post(
            &h,
            form(&[("email", address), ("message", "Kept, every word.")]),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{address}");
        assert!(page.contains(says), "{address}: {says}");
        assert!(page.contains(">Kept, every word.</textarea>"), "{address}");
    }
    assert!(h.desk().store.list().unwrap().is_empty());
}

#[tokio::test]
async fn a_mentee_fixing_a_form_ten_times_is_not_locked_out() {
    let h = harness_with_rate(10);
    for _ in 0..10 {
        let (status, _, _) = post(&h, form(&[("consent", "")]), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, location, _) = post(&h, form(&[]), &[]).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the eleventh post, right at last"
    );
    assert!(location.is_some());
}

#[tokio::test]
async fn junk_is_limited_apart_and_the_429_keeps_the_text() {
    let h = harness_with_rate(2);
    for _ in 0..6 {
        assert_eq!(
            post(&h, form(&[("consent", "")]), &[]).await.0,
            StatusCode::BAD_REQUEST
        );
    }
    let (status, _, page) = post(
        &h,
        form(&[("consent", ""), ("message", "Still here.")]),
        &[],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "three times the valid allowance"
    );
    assert!(page.contains(">Still here.</textarea>"), "the text is kept");
    // Junk did not use up the allowance of real requests.
    for i in 0..2 {
        let email = format!("sam{i}@example.net");
        let (status, _, _) = post(&h, form(&[("email", &email)]), &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "valid post {i}");
    }
    let (status, _, page) = post(&h, form(&[("message", "Kept too.")]), &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains(">Kept too.</textarea>"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_mentee_is_counted_alone() {
    let proxy: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let h = harness_with(2, vec![proxy]);
    let junk = || form(&[("consent", "")]);
    let from_a = [("x-forwarded-for", "203.0.113.5")];
    for _ in 0..6 {
        post_from(&h, "127.0.0.1", junk(), &from_a).await;
    }
    assert_eq!(
        post_from(&h, "127.0.0.1", junk(), &from_a).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "the junk sender is limited"
    );
    // A spoofed first hop does not help: the proxy appends the real peer.
    let spoofed = [("x-forwarded-for", "198.51.100.99, 203.0.113.5")];
    assert_eq!(
        post_from(&h, "127.0.0.1", junk(), &spoofed).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let from_b = [("x-forwarded-for", "198.51.100.7")];
    let (status, _, _) = post_from(&h, "127.0.0.1", form(&[]), &from_b).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "another mentee behind the same proxy"
    );
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let h = harness_with(2, vec!["127.0.0.1".parse().unwrap()]);
    for i in 0..2 {
        let email = format!("sam{i}@example.net");
        let xff = format!("203.0.113.{i}");
        let (status, _, _) = post_from(
            &h,
            "192.0.2.50",
            form(&[("email", &email)]),
            &[("x-forwarded-for", &xff)],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (status, _, _) = post_from(
        &h,
        "192.0.2.50",
        form(&[("email", "sam9@example.net")]),
        &[("x-forwarded-for", "203.0.113.200")],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "counted against the peer"
    );
}

#[tokio::test]
async fn the_form_age_is_measured_in_milliseconds() {
    let h = harness();
    let loaded = NOW * 1000 + 900;
    // 100 ms after the page loaded, across a second's edge: a robot.
    h.millis.store(1000, Ordering::SeqCst);
    let (status, _, _) = post(&h, form(&[("form_age", &loaded.to_string())]), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "answered as if taken");
    assert!(h.desk().store.list().unwrap().is_empty(), "and dropped");
    // 2.9 s: still too quick; 3.5 s: a person.
    h.clock.store(NOW + 3, Ordering::SeqCst);
    h.millis.store(800, Ordering::SeqCst);
    post(&h, form(&[("form_age", &loaded.to_string())]), &[]).await;
    assert!(
        h.desk().store.list().unwrap().is_empty(),
        "2.9 s is dropped"
    );
    h.millis.store(1400 - 1000, Ordering::SeqCst);
    h.clock.store(NOW + 4, Ordering::SeqCst);
    post(&h, form(&[("form_age", &loaded.to_string())]), &[]).await;
    assert_eq!(h.desk().store.list().unwrap().len(), 1, "3.5 s is kept");
}

/// The error summary's lines, in the order shown.
fn summary(page: &str) -> Vec<String> {
    let start = page.find("What to change").expect("a summary");
    let list = &page[start..start + page[start..].find("</ul>").unwrap()];
    list.split("<li><a href=\"#req-")
        .skip(1)
        .map(|l| l.split('"').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_error_summary_follows_the_form_top_to_bottom_every_time() {
    let h = harness();
    let bad = form(&[
        ("name", ""),
        ("email", "nope"),
        ("mode", "carrier pigeon"),
        ("message", ""),
        ("consent", ""),
    ]);
    for _ in 0..5 {
        let (status, _, page) = post(&h, bad.clone(), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            summary(&page),
            ["name", "email", "mode", "message", "consent"],
            "the order of the fields on the page"
        );
    }
}

/// Send `method uri` with `content_type` and `body` to `app`; status, headers, body.
async fn send(
    app: axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, text_of(res).await)
}

#[tokio::test]
async fn a_reloaded_error_page_leads_back_and_sends_nothing() {
    let h = harness();
    let (status, page) = get(&h, "/requests").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<h1>Requests are sent from a mentor&#39;s page</h1>"),
        "{page}"
    );
    assert!(page.contains("it has not been sent"));
    assert!(
        page.contains(">All mentors</a>"),
        "a way back to the register"
    );
    assert!(h.desk().store.list().unwrap().is_empty());
}

/// Method, address, headers, body; the status and the page's title expected.
type Case<'a> = (
    &'a str,
    &'a str,
    Vec<(&'a str, &'a str)>,
    &'a str,
    StatusCode,
    &'a str,
);

#[tokio::test]
async fn every_refusal_on_every_route_is_the_theme_s_page_or_json() {
    let h = harness();
    let app = || router(h.app.clone());
    let form_type = ("content-type", "application/x-www-form-urlencoded");
    let cases: [Case; 6] = [
        (
            "PUT",
            "/requests",
            vec![form_type],
            "",
            StatusCode::METHOD_NOT_ALLOWED,
            "This page cannot be opened like that",
        ),
        (
            "GET",
            "/requests/abc/accept",
            vec![],
            "",
            StatusCode::METHOD_NOT_ALLOWED,
            "This page cannot be opened like that",
        ),
        (
            "DELETE",
            "/requests/abc/withdraw",
            vec![],
            "",
            StatusCode::METHOD_NOT_ALLOWED,
            "This page cannot be opened like that",
        ),
        (
            "POST",
            "/requests/abc/accept",
            vec![("content-type", "text/plain")],
            "t=x",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This link or form is not complete",
        ),
        (
            "POST",
            "/requests/abc/decline",
            vec![form_type],
            "t=a&t=b",
            StatusCode::UNPROCESSABLE_ENTITY,
            "This link or form is not complete",
        ),
        (
            "POST",
            "/requests/abc/withdraw",
            vec![],
            "",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This link or form is not complete",
        ),
    ];
    for (method, uri, headers, body, status, title) in cases {
        let (got, hdrs, page) = send(app(), method, uri, &headers, body).await;
        assert_eq!(got, status, "{method} {uri}: {page}");
        assert!(
            hdrs[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{method} {uri}"
        );
        assert!(
            page.contains(&format!("<h1>{title}</h1>")),
            "{method} {uri}: {page}"
        );
        assert!(page.contains("</html>"), "the theme's whole page");
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(
                hdrs.contains_key(header::ALLOW),
                "{method} {uri} says what is allowed"
            );
        }
        let mut json_headers = headers.clone();
        json_headers.push(("accept", "application/json"));
        let (got, _, body) = send(app(), method, uri, &json_headers, body).await;
        assert_eq!(got, status);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{body}"));
        assert_eq!(v["status"], "refused", "{method} {uri}");
    }
    // The service alone answers any other address with the theme's 404.
    let (status, _, page) = send(
        mentorsite::web::standalone(h.app.clone()),
        "GET",
        "/wp-login.php",
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        page.contains("<h1>There is nothing at this address</h1>"),
        "{page}"
    );
}

#[tokio::test]
async fn the_sent_page_names_the_mentor_and_the_answer_date_for_its_own_request_only() {
    let h = harness();
    let req = Request::post("/requests")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, ORIGIN)
        .body(Body::from(form(&[])))
        .unwrap();
    let res = router(h.app.clone()).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/requests/sent/");
    let cookie = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("Path=/requests/sent/")
            && cookie.contains("Secure"),
        "{cookie}"
    );
    let value = cookie.split(';').next().unwrap().to_string();
    let page_with = |cookie: Option<String>| {
        let app = router(h.app.clone());
        async move {
            let mut req = Request::get("/requests/sent/");
            if let Some(c) = cookie {
                req = req.header(header::COOKIE, c);
            }
            let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            text_of(res).await
        }
    };
    let page = page_with(Some(format!("theme=dark; {value}"))).await;
    assert!(
        page.contains(">Ada Lovelace-Byron</a>, and the scheme"),
        "{page}"
    );
    assert!(
        page.contains("will answer by <strong>Monday 30 November 2026</strong>"),
        "{page}"
    );
    let generic = page_with(None).await;
    assert!(generic.contains("the mentor you chose"), "{generic}");
    assert!(!generic.contains("Ada Lovelace-Byron"));
    // Another request's id with this token, or a forged token: the general page.
    let (id, token) = value.split_once('=').unwrap().1.split_once('~').unwrap();
    let forged = page_with(Some(format!("mentorsite_sent={id}~{token}x"))).await;
    assert!(!forged.contains("Ada Lovelace-Byron"));
    let swapped = page_with(Some(format!("mentorsite_sent=other{id}~{token}"))).await;
    assert!(!swapped.contains("Ada Lovelace-Byron"));
}

/// A page's `<main>`, the part a theme fills, for snapshots.
fn main_of(page: &str) -> String {
    let Some(start) = page.find("<main") else {
        return format!("(not a page of the theme)\n{page}");
    };
    let end = page.find("</main>").expect("</main>") + "</main>".len();
    page[start..end]
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn every_page_a_mentee_meets_on_a_refusal_reads_as_written() {
    let h = harness_with_rate(3);
    let mut shown = String::new();
    let mut show = |what: &str, status: StatusCode, page: &str| {
        shown.push_str(&format!(
            "===== {what}: {} =====\n{}\n\n",
            status.as_u16(),
            main_of(page)
        ));
    };
    let typed = [("message", "Kept <exactly> as typed.")];
    let (s, _, p) = post(
        &h,
        form(&[
            ("name", ""),
            ("email", "Sam <sam@x.example>"),
            ("consent", ""),
        ]),
        &[],
    )
    .await;
    show("invalid fields", s, &p);
    let (s, _, p) = post(&h, form(&typed), &[("origin", "https://evil.example")]).await;
    show("another site's form", s, &p);
    let (s, _, p) = post(&h, form(&[("message", &"x".repeat(70_000))]), &[]).await;
    let p = p.replace(&"x".repeat(70_000), "x… (70,000 of them)");
    show("over the size limit", s, &p);
    let (s, _, p) = post(&h, form(&[("mentor", "nobody"), typed[0]]), &[]).await;
    show("unknown mentor", s, &p);
    let (s, _, p) = post(&h, form(&[("mentor", "cara-paused"), typed[0]]), &[]).await;
    show("mentor not taking requests", s, &p);
    // Three valid posts use up this client's minute; the fourth is refused with its text kept.
    post(&h, form(&[("email", "third@example.net")]), &[]).await;
    let (s, _, p) = post(&h, form(&typed), &[]).await;
    show("too many a minute", s, &p);
    let (s, p) = get(&h, "/requests").await;
    show("the form's address opened again", s, &p);
    insta::assert_snapshot!("refusal_pages", shown);
}

#[tokio::test]
async fn the_per_mentee_limits_read_as_written() {
    let h = harness();
    let mut shown = String::new();
    for i in 0..4 {
        let (s, _, p) = post(&h, form(&[("message", &format!("Request {i}"))]), &[]).await;
        if i == 3 {
            shown.push_str(&format!(
                "===== three waiting: {} =====\n{}\n\n",
                s.as_u16(),
                main_of(&p)
            ));
        }
    }
    insta::assert_snapshot!("pending_limit_page", shown);
}
