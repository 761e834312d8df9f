//! `mentorsite requests export --csv`: every request as CSV, safe to open in a spreadsheet.
//!
//! A mentee types the name and the message, so a cell could begin `=HYPERLINK(…)` or
//! `@SUM(…)`, which Excel, LibreOffice and Google Sheets run as a formula when the file is
//! opened. Following OWASP's rule for CSV injection, a cell that begins with `=`, `+`, `-`,
//! `@`, a tab or a carriage return (or their full-width forms) gets a `'` in front: the
//! spreadsheet shows the text as typed, with the quote hidden, and runs nothing.

use std::borrow::Cow;
use std::io::Write;

use super::store::StoredRequest;

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

pub const HEADER: [&str; 9] = [
    "id",
    "received_utc",
    "mentor",
    "status",
    "respond_by",
    "name",
    "email",
    "mode",
    "message",
];

/// Write `requests` as CSV, a header first, every cell made [`inert`].
pub fn write_csv(
    out: impl Write,
    requests: &[StoredRequest],
    received: impl Fn(i64) -> String,
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    for r in requests {
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
        write_csv(&mut out, &[r], |_| "1970-01-01 00:00".into()).unwrap();
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
