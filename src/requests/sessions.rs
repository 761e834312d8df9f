//! After the match, as forms: the mentor's session record and the mentee's feedback, as
//! posted → checked values, and a match as its pages show it. Problems are named by a code
//! per field (`future`, `too_long`, …); the theme's templates put them into words.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::letters::long_date;
use super::store::{Ended, Feedback, MatchRecord, NewSession};

/// The longest session a record may claim, in minutes.
pub const MAX_MINUTES: u32 = 480;
/// The longest note or feedback answer.
pub const MAX_TEXT: usize = 2000;
/// How long after recording a session its record can be corrected.
pub const CORRECT_DAYS: i64 = 7;

/// What is wrong with a posted form: a code per field.
pub type Problems = BTreeMap<&'static str, &'static str>;

/// The session form as posted: every field optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SessionForm {
    pub date: Option<String>,
    pub minutes: Option<String>,
    pub mode: Option<String>,
    pub note: Option<String>,
    pub concern: Option<String>,
}

fn ticked(v: &Option<String>) -> bool {
    matches!(
        v.as_deref().map(|s| s.trim().to_lowercase()).as_deref(),
        Some("yes" | "on" | "true")
    )
}

/// Free text as stored: trimmed, line ends made `\n`; `Err` with a code when too long or
/// holding control characters.
fn free_text(v: &Option<String>) -> Result<Option<String>, &'static str> {
    let t = v.as_deref().unwrap_or("").trim().replace("\r\n", "\n");
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("bad_characters");
    }
    if t.chars().count() > MAX_TEXT {
        return Err("too_long");
    }
    Ok(Some(t))
}

/// `YYYY-MM-DD` exactly, as the date field sends it: the parser alone also takes a time after
/// the day (`2026-11-23T00:00`) and the basic form (`20261123`).
fn is_iso_day(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// Check a session record: held on a date from the match to `today` (both in the scheme's
/// time zone), for 1 to [`MAX_MINUTES`] minutes, in one of the scheme's `modes`.
pub fn check_session(
    form: &SessionForm,
    today: Date,
    matched_on: Date,
    modes: &[String],
) -> Result<NewSession, Problems> {
    let mut problems = Problems::new();
    let date = form.date.as_deref().unwrap_or("").trim();
    let held_on = if date.is_empty() {
        problems.insert("date", "missing");
        None
    } else {
        match date.parse::<Date>() {
            _ if !is_iso_day(date) => {
                problems.insert("date", "invalid");
                None
            }
            Err(_) => {
                problems.insert("date", "invalid");
                None
            }
            Ok(d) if d > today => {
                problems.insert("date", "future");
                None
            }
            Ok(d) if d < matched_on => {
                problems.insert("date", "before_match");
                None
            }
            Ok(d) => Some(d),
        }
    };
    let minutes = form.minutes.as_deref().unwrap_or("").trim();
    let minutes = match minutes.parse::<u32>() {
        _ if minutes.is_empty() => {
            problems.insert("minutes", "missing");
            0
        }
        Ok(m) if (1..=MAX_MINUTES).contains(&m) => m,
        _ => {
            problems.insert("minutes", "invalid");
            0
        }
    };
    let typed = form.mode.as_deref().unwrap_or("").trim();
    let mode = modes
        .iter()
        .find(|m| m.eq_ignore_ascii_case(typed))
        .cloned();
    if mode.is_none() {
        problems.insert("mode", "missing");
    }
    let note = free_text(&form.note).unwrap_or_else(|code| {
        problems.insert("note", code);
        None
    });
    match (held_on, mode) {
        (Some(d), Some(mode)) if problems.is_empty() => Ok(NewSession {
            held_on: d.to_string(),
            minutes,
            mode,
            note,
            concern: ticked(&form.concern),
        }),
        _ => Err(problems),
    }
}

/// The feedback form as posted.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FeedbackForm {
    pub helpful: Option<String>,
    pub helped: Option<String>,
    pub more_sessions: Option<String>,
    pub another_mentor: Option<String>,
}

/// Check the mentee's feedback: a score from 1 to 5 is needed, the rest is optional.
pub fn check_feedback(form: &FeedbackForm) -> Result<Feedback, Problems> {
    let mut problems = Problems::new();
    let helpful = match form.helpful.as_deref().map(str::trim).map(str::parse::<u8>) {
        Some(Ok(n)) if (1..=5).contains(&n) => n,
        _ => {
            problems.insert("helpful", "missing");
            0
        }
    };
    let helped = free_text(&form.helped).unwrap_or_else(|code| {
        problems.insert("helped", code);
        None
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Feedback {
        helpful,
        helped,
        more_sessions: ticked(&form.more_sessions),
        another_mentor: ticked(&form.another_mentor),
        given_at: 0,
    })
}

/// A match's terms as the desk works them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub matched_on: Date,
    /// The last day of the window.
    pub window_ends: Date,
    pub allowed: u32,
}

impl Terms {
    /// A match's terms: as extended, or `sessions_offered` within `window_months` of the day
    /// the mentor accepted, in the scheme's time zone (a match accepted before the terms were
    /// stored has them this way too).
    pub fn of(
        m: &MatchRecord,
        sessions_offered: u32,
        window_months: u32,
        tz: &jiff::tz::TimeZone,
    ) -> Terms {
        let matched_on = super::local_date(m.answered_at.unwrap_or(m.request.created_at), tz);
        let window_ends = m
            .window_ends
            .as_deref()
            .and_then(|w| w.parse::<Date>().ok())
            .unwrap_or_else(|| window_from(matched_on, window_months));
        Terms {
            matched_on,
            window_ends,
            allowed: m.sessions_allowed.unwrap_or(sessions_offered),
        }
    }
}

/// The last day of a window of `months` that opens on `day`.
pub fn window_from(day: Date, months: u32) -> Date {
    day.checked_add(jiff::Span::new().months(i64::from(months)))
        .unwrap_or(day)
}

/// A match as the sessions page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MatchView {
    pub matched_on: String,
    pub matched_on_long: String,
    pub window_ends: String,
    pub window_ends_long: String,
    pub held: u32,
    pub allowed: u32,
    /// Sessions can still be recorded.
    pub running: bool,
    pub ended: &'static str,
    pub extended: u32,
    pub sessions: Vec<SessionView>,
    /// The latest date a session can be recorded for (today), for the date field's `max`.
    pub today: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub id: i64,
    pub held_on: String,
    pub held_on_long: String,
    pub minutes: u32,
    pub mode: String,
    pub note: String,
    pub concern: bool,
    /// Recorded within the last week.
    pub correctable: bool,
}

impl MatchView {
    pub fn of(m: &MatchRecord, terms: Terms, today: Date, now: i64) -> MatchView {
        let running = m.request.status == super::Status::Accepted;
        MatchView {
            matched_on: terms.matched_on.to_string(),
            matched_on_long: long_date(&terms.matched_on.to_string()),
            window_ends: terms.window_ends.to_string(),
            window_ends_long: long_date(&terms.window_ends.to_string()),
            held: m.sessions.len() as u32,
            allowed: terms.allowed,
            running,
            ended: m.ended.map_or("", Ended::as_str),
            extended: m.extended,
            sessions: m
                .sessions
                .iter()
                .map(|s| SessionView {
                    id: s.id,
                    held_on: s.held_on.clone(),
                    held_on_long: long_date(&s.held_on),
                    minutes: s.minutes,
                    mode: s.mode.clone(),
                    note: s.note.clone().unwrap_or_default(),
                    concern: s.concern,
                    correctable: s.recorded_at >= now - CORRECT_DAYS * 24 * 3600,
                })
                .collect(),
            today: today.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn form(date: &str, minutes: &str, mode: &str) -> SessionForm {
        SessionForm {
            date: Some(date.into()),
            minutes: Some(minutes.into()),
            mode: Some(mode.into()),
            ..SessionForm::default()
        }
    }

    fn modes() -> Vec<String> {
        vec!["Video".into(), "In person".into()]
    }

    #[test]
    fn a_session_is_dated_between_the_match_and_today() {
        let (today, matched) = (d("2026-12-10"), d("2026-12-01"));
        let ok = check_session(&form("2026-12-10", "60", "video"), today, matched, &modes());
        let ok = ok.unwrap();
        assert_eq!((ok.held_on.as_str(), ok.minutes), ("2026-12-10", 60));
        assert_eq!(ok.mode, "Video", "the scheme's spelling");
        assert!(!ok.concern);
        for (date, code) in [
            ("2026-12-11", "future"),
            ("2026-11-30", "before_match"),
            ("10/12/2026", "invalid"),
            ("2026-12-05T00:00", "invalid"),
            ("20261205", "invalid"),
            ("2026-12-5", "invalid"),
            ("+002026-12-05", "invalid"),
            ("", "missing"),
        ] {
            let e = check_session(&form(date, "60", "video"), today, matched, &modes());
            assert_eq!(e.unwrap_err()["date"], code, "{date}");
        }
    }

    #[test]
    fn length_mode_and_note_are_checked() {
        let (today, matched) = (d("2026-12-10"), d("2026-12-01"));
        let e = check_session(&form("2026-12-02", "0", "fax"), today, matched, &modes());
        let e = e.unwrap_err();
        assert_eq!(e["minutes"], "invalid");
        assert_eq!(e["mode"], "missing");
        let mut f = form("2026-12-02", "45", "In person");
        f.note = Some("x".repeat(MAX_TEXT + 1));
        assert_eq!(
            check_session(&f, today, matched, &modes()).unwrap_err()["note"],
            "too_long"
        );
        f.note = Some(" Worried about them. \r\n ".into());
        f.concern = Some("yes".into());
        let ok = check_session(&f, today, matched, &modes()).unwrap();
        assert_eq!(ok.note.as_deref(), Some("Worried about them."));
        assert!(ok.concern);
    }

    #[test]
    fn feedback_needs_a_score() {
        assert_eq!(
            check_feedback(&FeedbackForm::default()).unwrap_err()["helpful"],
            "missing"
        );
        let f = FeedbackForm {
            helpful: Some("4".into()),
            helped: Some("Talking it through.".into()),
            more_sessions: Some("yes".into()),
            another_mentor: None,
        };
        let ok = check_feedback(&f).unwrap();
        assert_eq!(
            (ok.helpful, ok.more_sessions, ok.another_mentor),
            (4, true, false)
        );
        let f = FeedbackForm {
            helpful: Some("6".into()),
            ..FeedbackForm::default()
        };
        assert!(check_feedback(&f).is_err());
    }
}
