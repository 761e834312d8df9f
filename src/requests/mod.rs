//! Mentee requests, from the form to the outbox: the form as posted → a checked request
//! (here, with the working-day deadline and the signed tokens of the links), the lifecycle's
//! rules ([`desk`]), the mails they compose ([`letters`]) for the mentors of the [`directory`],
//! and the SQLite [`store`] that keeps requests and their mail together. After a match, the
//! mentor's session records and the mentee's feedback are checked in [`sessions`].

pub mod desk;
pub mod directory;
pub mod export;
pub mod kinds;
pub mod letters;
pub mod report;
pub mod sessions;
pub mod store;

pub use kinds::{MailKind, Recipient, Status};

use std::collections::BTreeMap;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The form as posted: every field optional, so a bad post is answered field by field.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Form {
    pub mentor: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub message: Option<String>,
    pub mode: Option<String>,
    pub consent: Option<String>,
    /// The honeypot: hidden from people, filled in by some robots.
    pub website: Option<String>,
    /// Milliseconds since the epoch when the page's script ran; absent without JavaScript.
    pub form_age: Option<String>,
}

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valid {
    pub mentor: String,
    pub name: String,
    pub email: String,
    pub mode: String,
    pub message: String,
}

/// What is wrong with a form, by field, in words for the mentee.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FormErrors(pub BTreeMap<&'static str, String>);

/// The form's fields in the order a person meets them on the page.
pub const FIELD_ORDER: &[&str] = &["mentor", "name", "email", "mode", "message", "consent"];

/// One line of an error summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError<'a> {
    pub field: &'a str,
    pub text: &'a str,
}

impl FormErrors {
    /// The problems in the order of the fields on the page (an error summary reads top to
    /// bottom, as the form does).
    pub fn in_form_order(&self) -> Vec<FieldError<'_>> {
        let rank = |f: &str| {
            FIELD_ORDER
                .iter()
                .position(|o| *o == f)
                .unwrap_or(usize::MAX)
        };
        let mut list: Vec<FieldError> = self
            .0
            .iter()
            .map(|(field, text)| FieldError { field, text })
            .collect();
        list.sort_by_key(|e| rank(e.field));
        list
    }
}

pub const MODES: &[&str] = &["video", "phone", "in person", "no preference"];
pub const MAX_NAME: usize = 100;
pub const MAX_MESSAGE: usize = 4000;
/// A person cannot read a profile and fill in the form faster than this.
pub const MIN_FORM_MILLIS: i64 = 3000;

/// Is this post from a robot (honeypot filled, or sent faster than anyone types)? Such posts
/// are answered as if accepted and then dropped, so the robot learns nothing.
pub fn looks_automated(form: &Form, now_millis: i64) -> bool {
    if form
        .website
        .as_deref()
        .is_some_and(|w| !w.trim().is_empty())
    {
        return true;
    }
    let started = form
        .form_age
        .as_deref()
        .and_then(|a| a.trim().parse::<i64>().ok());
    // A clock that disagrees (an age below zero) proves nothing; only a too-quick post counts.
    started.is_some_and(|t| (0..MIN_FORM_MILLIS).contains(&(now_millis - t)))
}

/// Check a form. Values that go into mail headers (name, email) may not hold control
/// characters: a line break in a display name would let a post add headers.
pub fn validate(form: &Form) -> Result<Valid, FormErrors> {
    let mut errors = BTreeMap::new();
    let text = |v: &Option<String>| v.as_deref().unwrap_or("").trim().to_string();

    let mentor = text(&form.mentor);
    if mentor.is_empty() {
        errors.insert("mentor", "This form does not say which mentor it is for. Please go back to the mentor's page and try again.".to_string());
    }
    let name = text(&form.name);
    if name.is_empty() {
        errors.insert("name", "Please tell us your name.".to_string());
    } else if name.chars().any(char::is_control) {
        errors.insert(
            "name",
            "Your name contains characters that cannot be sent in an email. Please type it again."
                .to_string(),
        );
    } else if name.chars().count() > MAX_NAME {
        errors.insert(
            "name",
            format!("Please keep your name to {MAX_NAME} characters or fewer."),
        );
    }
    let email = text(&form.email);
    match crate::address::check(&email) {
        Ok(_) => {}
        Err(crate::address::Problem::Empty) => {
            errors.insert(
                "email",
                "Please give your email address, so the mentor's answer can reach you.".to_string(),
            );
        }
        Err(p) => {
            errors.insert("email", p.message().to_string());
        }
    }
    let message = form
        .message
        .as_deref()
        .unwrap_or("")
        .trim()
        .replace("\r\n", "\n");
    if message.is_empty() {
        errors.insert(
            "message",
            "Please write a few words about what you would like to talk about.".to_string(),
        );
    } else if message
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        errors.insert("message", "Your message contains characters that cannot be sent. Please type it again rather than pasting it.".to_string());
    } else if message.chars().count() > MAX_MESSAGE {
        errors.insert(
            "message",
            format!(
                "Please keep your message to {} characters or fewer (it is {} now). You can say more when you meet.",
                thousands(MAX_MESSAGE),
                thousands(message.chars().count())
            ),
        );
    }
    let mode = text(&form.mode).to_lowercase();
    let mode = if mode.is_empty() {
        "no preference".to_string()
    } else {
        mode
    };
    if !MODES.contains(&mode.as_str()) {
        errors.insert(
            "mode",
            "Please choose how you would like to meet.".to_string(),
        );
    }
    let consent = text(&form.consent).to_lowercase();
    if !matches!(consent.as_str(), "yes" | "on" | "true") {
        errors.insert("consent", "Please tick the box to agree that your details are shared with the mentor and the scheme's team.".to_string());
    }
    if errors.is_empty() {
        Ok(Valid {
            mentor,
            name,
            email,
            mode,
            message,
        })
    } else {
        Err(FormErrors(errors))
    }
}

/// `4000` → `4,000`, as the form's messages write numbers.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// The date of `ts` (seconds) in `tz`: a request sent at 23:30 UTC on a summer Saturday was
/// sent on Sunday in London.
pub fn local_date(ts: i64, tz: &TimeZone) -> Date {
    jiff::Timestamp::from_second(ts)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(tz.clone())
        .date()
}

/// The date `n` working days after `start`, skipping weekends and `holidays`.
pub fn add_working_days(start: Date, n: u32, holidays: &[Date]) -> Date {
    let mut day = start;
    let mut left = n;
    while left > 0 {
        day = day.tomorrow().unwrap_or(day);
        if is_working_day(day, holidays) {
            left -= 1;
        }
    }
    day
}

/// How many working days after `start` `end` is: 0 for the same day (or a weekend day's
/// answer to a Friday request), 1 for the next working day, and so on.
pub fn working_days_between(start: Date, end: Date, holidays: &[Date]) -> u32 {
    let mut n = 0;
    let mut day = start;
    while day < end {
        day = match day.tomorrow() {
            Ok(d) => d,
            Err(_) => break,
        };
        if is_working_day(day, holidays) {
            n += 1;
        }
    }
    n
}

pub fn is_working_day(day: Date, holidays: &[Date]) -> bool {
    !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) && !holidays.contains(&day)
}

type HmacSha256 = Hmac<Sha256>;

/// A token for one action on one request, valid until `expires` (seconds since the epoch):
/// `<expires>.<base64url HMAC-SHA256 of "request|action|expires">`.
pub fn sign(secret: &[u8], request_id: &str, action: &str, expires: i64) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("{request_id}|{action}|{expires}").as_bytes());
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{expires}.{sig}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
}

/// Check a token for `request_id` and `action` at time `now`, in constant time.
pub fn verify(
    secret: &[u8],
    token: &str,
    request_id: &str,
    action: &str,
    now: i64,
) -> Result<(), TokenError> {
    let (expires, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let expires: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| TokenError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("{request_id}|{action}|{expires}").as_bytes());
    mac.verify_slice(&sig)
        .map_err(|_| TokenError::BadSignature)?;
    if now > expires {
        return Err(TokenError::Expired);
    }
    Ok(())
}

/// A new request id: random, so ids cannot be guessed from one another.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..20].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Form {
        Form {
            mentor: Some("amara-okafor".into()),
            name: Some("Sam Lee".into()),
            email: Some("sam@example.net".into()),
            message: Some("I am back after leave.".into()),
            mode: Some("video".into()),
            consent: Some("yes".into()),
            ..Form::default()
        }
    }

    #[test]
    fn a_good_form_passes() {
        let v = validate(&good()).unwrap();
        assert_eq!(v.name, "Sam Lee");
        assert_eq!(v.mode, "video");
    }

    #[test]
    fn every_problem_is_named_in_plain_words() {
        let e = validate(&Form::default()).unwrap_err();
        let fields: Vec<&str> = e.0.keys().copied().collect();
        assert_eq!(fields, ["consent", "email", "mentor", "message", "name"]);
        assert_eq!(e.0["name"], "Please tell us your name.");
    }

    #[test]
    fn header_injection_is_refused_in_every_header_bound_field() {
        for (field, value) in [
            ("name", "Sam\r\nBcc: victim@example.org"),
            ("name", "Sam\nX"),
            ("email", "sam@example.net\r\nBcc: victim@example.org"),
            ("email", "sam@example.net\u{0}"),
            ("message", "hi\u{7}there"),
        ] {
            let mut f = good();
            match field {
                "name" => f.name = Some(value.into()),
                "email" => f.email = Some(value.into()),
                _ => f.message = Some(value.into()),
            }
            let e = validate(&f).unwrap_err();
            assert!(e.0.contains_key(field), "{field}: {value:?}");
        }
        // Line breaks in the message body are fine: they never reach a header.
        let mut f = good();
        f.message = Some("line one\r\nline two".into());
        assert_eq!(validate(&f).unwrap().message, "line one\nline two");
    }

    #[test]
    fn robots_are_spotted() {
        let mut f = good();
        assert!(!looks_automated(&f, 10_000));
        f.form_age = Some("9000".into());
        assert!(
            looks_automated(&f, 10_000),
            "a second after the page loaded"
        );
        f.form_age = Some("1000".into());
        assert!(!looks_automated(&f, 10_000));
        f.form_age = Some("20000".into());
        assert!(
            !looks_automated(&f, 10_000),
            "a clock ahead of ours proves nothing"
        );
        f.website = Some("http://spam.example".into());
        assert!(looks_automated(&f, 10_000));
    }

    #[test]
    fn local_dates_follow_the_clocks() {
        let london = TimeZone::get("Europe/London").unwrap();
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_second();
        // Summer time: 23:30 UTC on Saturday 24 October 2026 is already Sunday in London.
        assert_eq!(
            local_date(at("2026-10-24T23:30:00Z"), &london).to_string(),
            "2026-10-25"
        );
        // After the clocks go back (25 October), 23:30 UTC is still the same day.
        assert_eq!(
            local_date(at("2026-10-26T23:30:00Z"), &london).to_string(),
            "2026-10-26"
        );
        // The clocks go forward on 28 March 2027: 23:30 UTC on the 27th is still the 27th.
        assert_eq!(
            local_date(at("2027-03-27T23:30:00Z"), &london).to_string(),
            "2027-03-27"
        );
        assert_eq!(
            local_date(at("2027-03-28T23:30:00Z"), &london).to_string(),
            "2027-03-29"
        );
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let d = |s: &str| s.parse::<Date>().unwrap();
        assert_eq!(
            add_working_days(d("2026-11-23"), 5, &[]),
            d("2026-11-30"),
            "Monday → Monday"
        );
        assert_eq!(
            add_working_days(d("2026-11-27"), 5, &[]),
            d("2026-12-04"),
            "Friday → Friday"
        );
        assert_eq!(
            add_working_days(d("2026-11-28"), 1, &[]),
            d("2026-11-30"),
            "Saturday → Monday"
        );
        let xmas = [d("2026-12-25"), d("2026-12-28")];
        assert_eq!(add_working_days(d("2026-12-22"), 5, &xmas), d("2026-12-31"));
    }

    #[test]
    fn working_days_between_counts_what_add_working_days_adds() {
        let d = |s: &str| s.parse::<Date>().unwrap();
        let xmas = [d("2026-12-25"), d("2026-12-28")];
        assert_eq!(
            working_days_between(d("2026-11-23"), d("2026-11-23"), &[]),
            0
        );
        assert_eq!(
            working_days_between(d("2026-11-27"), d("2026-11-29"), &[]),
            0,
            "Friday to Sunday"
        );
        assert_eq!(
            working_days_between(d("2026-11-27"), d("2026-11-30"), &[]),
            1
        );
        for start in ["2026-12-18", "2026-12-22", "2026-12-24", "2026-12-26"] {
            for n in 0..8 {
                let end = add_working_days(d(start), n, &xmas);
                assert_eq!(
                    working_days_between(d(start), end, &xmas),
                    n,
                    "{start} + {n}"
                );
            }
        }
    }

    #[test]
    fn tokens_bind_request_action_and_time() {
        let key = b"secret";
        let t = sign(key, "r1", "accept", 1000);
        assert_eq!(verify(key, &t, "r1", "accept", 999), Ok(()));
        assert_eq!(
            verify(key, &t, "r1", "accept", 1001),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify(key, &t, "r2", "accept", 999),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(key, &t, "r1", "decline", 999),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(b"other", &t, "r1", "accept", 999),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(key, &t.replace("1000.", "9999."), "r1", "accept", 999),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(key, "nonsense", "r1", "accept", 1),
            Err(TokenError::Malformed)
        );
    }
}
