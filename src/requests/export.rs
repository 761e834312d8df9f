//! `mentorsite requests export --csv`: every request as CSV, safe to open in a spreadsheet.
//!
//! A mentee types the name and the message, so a cell could begin `=HYPERLINK(…)` or
//! `@SUM(…)`, which Excel, LibreOffice and Google Sheets run as a formula when the file is
//! opened. Following OWASP's rule for CSV injection, a cell that begins with `=`, `+`, `-`,
//! `@`, a tab or a carriage return (or their full-width forms) gets a `'` in front: the
//! spreadsheet shows the text as typed, with the quote hidden, and runs nothing.

use std::borrow::Cow;
use std::io::Write;

use super::store::{Feedback, MatchRecord, StoredRequest};

/// The characters that make a spreadsheet read a cell as a formula.
const TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// `cell` as a spreadsheet will show it, never evaluate it.
pub fn inert(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(TRIGGERS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The first nine columns are as they always were; the match's come after them, so a script
/// that reads by position keeps working.
pub const HEADER: [&str; 16] = [
    "id",
    "received_utc",
    "mentor",
    "status",
    "respond_by",
    "name",
    "email",
    "mode",
    "message",
    "sessions_held",
    "sessions",
    "ended",
    "extended",
    "feedback_helpful",
    "feedback_helped",
    "feedback_asks",
];

/// Write `requests` as CSV, a header first, every cell made [`inert`].
/// `matches` holds, for each request in order, its match record and feedback, if any. The
/// sessions column lists each as `date minutes mode`, `concern` where one was raised; the
/// mentor's notes (the scheme team's) stay in `requests show`.
pub fn write_csv(
    out: impl Write,
    requests: &[StoredRequest],
    matches: &[(Option<MatchRecord>, Option<Feedback>)],
    received: impl Fn(i64) -> String,
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    for (i, r) in requests.iter().enumerate() {
        let (m, f) = matches
            .get(i)
            .map_or((None, None), |(m, f)| (m.as_ref(), f.as_ref()));
        let sessions = m.map_or_else(String::new, |m| {
            m.sessions
                .iter()
                .map(|s| {
                    format!(
                        "{} {}min {}{}",
                        s.held_on,
                        s.minutes,
                        s.mode,
                        if s.concern { " concern" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        });
        let held = m.map_or_else(String::new, |m| m.sessions.len().to_string());
        let ended = m.and_then(|m| m.ended).map_or("", |e| e.as_str());
        let extended = m.map_or_else(String::new, |m| m.extended.to_string());
        let helpful = f.map_or_else(String::new, |f| f.helpful.to_string());
        let helped = f.and_then(|f| f.helped.clone()).unwrap_or_default();
        let asks = f.map_or_else(String::new, |f| {
            let mut a = Vec::new();
            if f.more_sessions {
                a.push("more sessions");
            }
            if f.another_mentor {
                a.push("another mentor");
            }
            a.join("; ")
        });
        let cells = [
            r.id.as_str(),
            &received(r.created_at),
            &r.mentor,
            r.status.as_str(),
            &r.respond_by,
            &r.name,
            &r.email,
            &r.mode,
            &r.message,
            &held,
            &sessions,
            ended,
            &extended,
            &helpful,
            &helped,
            &asks,
        ];
        w.write_record(cells.iter().map(|c| inert(c).into_owned()))?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::Status;

    #[test]
    fn formulas_are_shown_never_run() {
        for (typed, written) in [
            (
                "=HYPERLINK(\"http://x.example\",\"click\")",
                "'=HYPERLINK(\"http://x.example\",\"click\")",
            ),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
            ("+1 555 0100", "'+1 555 0100"),
            ("-2+3", "'-2+3"),
            ("\tindent", "'\tindent"),
            ("＝1+1", "'＝1+1"),
            ("Sam Lee", "Sam Lee"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(inert(typed), written, "{typed}");
        }
    }

    #[test]
    fn the_file_reads_back_with_each_cell_inert() {
        let r = StoredRequest {
            id: "r1".into(),
            created_at: 0,
            mentor: "amara-okafor".into(),
            name: "=cmd|' /C calc'!A0".into(),
            email: "sam@example.net".into(),
            mode: "video".into(),
            message: "Line one,\n\"quoted\"\n@line three".into(),
            status: Status::Pending,
            respond_by: "2026-11-30".into(),
        };
        let mut out = Vec::new();
        write_csv(&mut out, &[r], &[], |_| "1970-01-01 00:00".into()).unwrap();
        let text = String::from_utf8(out).unwrap();
        insta::assert_snapshot!(text);
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let row = rd.records().next().unwrap().unwrap();
        assert_eq!(&row[5], "'=cmd|' /C calc'!A0");
        assert_eq!(
            &row[8], "Line one,\n\"quoted\"\n@line three",
            "only the first character counts"
        );
    }
}
