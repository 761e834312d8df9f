//! `POST /requests` and `/healthz` through the real router, without a socket (oneshot), over
//! the doctors fixture: every status a mentee or a script can meet.

mod common;

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Site;
use mentorsite::requests::store::Store;
use mentorsite::site::{BuildOptions, prepare};
use mentorsite::web::requests::{Service, router};
use tower::ServiceExt;

/// 2026-11-23 10:00 UTC, a Monday.
const NOW: i64 = 1_795_428_000;
const ORIGIN: &str = "https://mentors.example.org";

struct Harness {
    service: Arc<Service>,
    _site: Site,
}

fn harness() -> Harness {
    harness_with_rate(100)
}

fn harness_with_rate(per_minute: u32) -> Harness {
    let site = Site::fixture("doctors");
    let prepared = prepare(&BuildOptions {
        root: site.root().to_path_buf(),
        ..BuildOptions::default()
    })
    .expect("fixture prepares");
    let mut service = Service::new(
        site.root(),
        prepared.config,
        &prepared.register,
        prepared.theme,
        Store::in_memory().unwrap(),
        b"a test key of at least thirty-two bytes".to_vec(),
        Box::new(|| NOW),
        Vec::new(),
    )
    .expect("service");
    service.set_rate_per_minute(NonZeroU32::new(per_minute).unwrap());
    Harness {
        service: Arc::new(service),
        _site: site,
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
    let res = router(h.service.clone())
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        location,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn a_good_request_is_stored_with_its_three_emails_then_303() {
    let h = harness();
    let (status, location, _) = post(&h, form(&[]), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some("https://mentors.example.org/requests/sent/")
    );
    let stored = h.service.store.list().unwrap();
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
    let mails = h.service.store.mails_of(&r.id).unwrap();
    let kinds: Vec<&str> = mails.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["mentor", "admin", "mentee"]);
    assert_eq!(
        mails[0].recipient, "mentor:dr-ada-bundle",
        "looked up when sending, never from the form"
    );
    assert_eq!(mails[1].recipient, "admin");
    assert_eq!(mails[2].recipient, "sam@example.net");
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
            .starts_with("This does not look like an email address")
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
    assert!(h.service.store.list().unwrap().is_empty());
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
    assert!(h.service.store.list().unwrap().is_empty());
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
    assert!(h.service.store.list().unwrap().is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let h = harness();
    let (status, _, page) = post(&h, form(&[("message", &"x".repeat(20_000))]), &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(page.contains("Your request is too long"));
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
    assert!(page.contains("Please wait a minute and try again"));
}

#[tokio::test]
async fn too_many_requests_from_one_mentee_429() {
    let h = harness();
    for i in 0..5 {
        let (status, _, _) = post(&h, form(&[("message", &format!("request {i}"))]), &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (status, _, page) = post(
        &h,
        form(&[("email", "SAM@example.net".to_lowercase().as_str())]),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("You have sent several requests today"));
    assert_eq!(h.service.store.list().unwrap().len(), 5);
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
    assert_eq!(h.service.store.list().unwrap().len(), 1);
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
    assert!(h.service.store.list().unwrap().is_empty());
    // A person who took their time is stored; so is one without JavaScript (no form_age).
    let patient = (NOW * 1000 - 60_000).to_string();
    post(&h, form(&[("form_age", &patient)]), &[]).await;
    post(&h, form(&[("message", "no script")]), &[]).await;
    assert_eq!(h.service.store.list().unwrap().len(), 2);
}

#[tokio::test]
async fn healthz_checks_the_database() {
    let h = harness();
    let res = router(h.service.clone())
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
    h.service.reload(&again.register);
    assert_eq!(
        post(&h, form(&[("message", "after")]), &[]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.service.address_of("mentor:dr-ada-bundle"),
        None,
        "queued mail for her now fails"
    );
}
