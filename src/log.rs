//! One structured line per event on standard error: `event=… key=value …`. Only ids and
//! counts go in: never names, addresses or message text (a test reads the log to check).

use std::io::Write;

/// Write `ts=<unix seconds> event=<kind> key=value …`.
pub fn event(kind: &str, fields: &[(&str, &str)]) {
    let mut line = format!("ts={} event={kind}", jiff::Timestamp::now().as_second());
    for (k, v) in fields {
        line.push(' ');
        line.push_str(k);
        line.push('=');
        line.push_str(&v.replace(char::is_whitespace, "_"));
    }
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
