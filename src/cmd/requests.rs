use std::process::ExitCode;

use mentorsite::requests::store::{MailState, Resend, Store};

use crate::cli::RequestsCommand;

pub fn run(cmd: RequestsCommand) -> ExitCode {
    let root = match &cmd {
        RequestsCommand::List { root }
        | RequestsCommand::Show { root, .. }
        | RequestsCommand::Export { root, .. }
        | RequestsCommand::Purge { root, .. }
        | RequestsCommand::Sweep { root }
        | RequestsCommand::Resend { root, .. }
        | RequestsCommand::Extend { root, .. }
        | RequestsCommand::Report { root, .. } => root.root.clone(),
    };
    match cmd {
        RequestsCommand::Sweep { .. } => return sweep(&root),
        RequestsCommand::Resend { id, .. } => return resend(&root, id.as_deref()),
        RequestsCommand::Extend { id, .. } => return extend(&root, &id),
        _ => {}
    }
    let config = match super::load_config(&root) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let path = root.join(&config.requests.database);
    if !path.exists() {
        eprintln!(
            "error: no request database at {} yet: no request has been received",
            path.display()
        );
        return ExitCode::from(super::FAILURE);
    }
    let store = match Store::open(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::FAILURE);
        }
    };
    let result = match cmd {
        RequestsCommand::Report { output, .. } => report(&root, &config, &store, &output),
        RequestsCommand::List { .. } => list(&root, &config, &store),
        RequestsCommand::Show { id, .. } => show(&store, &config, &id),
        RequestsCommand::Export { .. } => export(&store),
        RequestsCommand::Purge { email, .. } => purge(&store, &email),
        RequestsCommand::Sweep { .. }
        | RequestsCommand::Resend { .. }
        | RequestsCommand::Extend { .. } => {
            unreachable!("handled above")
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::FAILURE)
        }
    }
}

type Result = std::result::Result<ExitCode, Box<dyn std::error::Error>>;

fn date(ts: i64) -> String {
    jiff::Timestamp::from_second(ts).map_or_else(
        |_| ts.to_string(),
        |t| t.strftime("%Y-%m-%d %H:%M").to_string(),
    )
}

fn list(root: &std::path::Path, config: &mentorsite::config::Config, store: &Store) -> Result {
    // The commit checked out in the site root: what `endpoint --follow` serves, so it can be
    // set beside the one the site's build published.
    if root.join(".git").exists()
        && let Ok(out) = std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["rev-parse", "HEAD"])
            .output()
        && out.status.success()
    {
        println!(
            "Content: commit {} (checked out in {})\n",
            String::from_utf8_lossy(&out.stdout).trim(),
            root.display()
        );
    }
    let requests = store.list()?;
    let held = store.session_counts()?;
    println!(
        "{:<20}  {:<16}  {:<9}  {:<10}  {:<8}  mentor",
        "id", "received (UTC)", "status", "answer by", "sessions"
    );
    for r in &requests {
        // Sessions held of those allowed, for a match; blank for a request never accepted.
        let sessions = match r.status {
            mentorsite::requests::Status::Accepted | mentorsite::requests::Status::Completed => {
                let allowed = store
                    .match_record(&r.id)?
                    .and_then(|m| m.sessions_allowed)
                    .unwrap_or(config.scheme.sessions_offered);
                format!("{}/{allowed}", held.get(&r.id).copied().unwrap_or(0))
            }
            _ => String::new(),
        };
        println!(
            "{:<20}  {:<16}  {:<9}  {:<10}  {:<8}  {}",
            r.id,
            date(r.created_at),
            r.status.as_str(),
            r.respond_by,
            sessions,
            r.mentor
        );
    }
    println!(
        "{} request{}",
        requests.len(),
        if requests.len() == 1 { "" } else { "s" }
    );
    let failed = store.failed_mails()?;
    if !failed.is_empty() {
        println!("\nEmails that could not be sent ({}):", failed.len());
        for m in failed {
            println!(
                "  request {}: {} mail to the {}, FAILED after {} attempt{}: {}",
                m.request_id,
                m.kind,
                m.recipient.role(),
                m.attempts,
                if m.attempts == 1 { "" } else { "s" },
                m.last_error.unwrap_or_default()
            );
        }
        println!(
            "Fix the cause (an address in a bio, the mail server), then send them again with `mentorsite requests resend --failed` (or `resend ID`)."
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `2026-11-23 10:00` in the scheme's time zone, as `Monday 23 November 2026, 10:00`.
fn when(ts: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_second(ts).map_or_else(
        |_| ts.to_string(),
        |t| {
            t.to_zoned(tz.clone())
                .strftime("%A %-d %B %Y, %H:%M")
                .to_string()
        },
    )
}

fn show(store: &Store, config: &mentorsite::config::Config, typed: &str) -> Result {
    let typed = typed.trim().to_lowercase();
    let ids = store.ids_starting(&typed, 6)?;
    let id = match ids.as_slice() {
        [] => {
            eprintln!(
                "error: no request with an id beginning {typed:?} (see `mentorsite requests list`)"
            );
            return Ok(ExitCode::from(super::FAILURE));
        }
        [one] => one.clone(),
        _ if ids.contains(&typed) => typed.clone(),
        many => {
            eprintln!(
                "error: {} requests have ids beginning {typed:?}: {}{}. Type more of the id.",
                if many.len() > 5 {
                    "more than 5".to_string()
                } else {
                    many.len().to_string()
                },
                many.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                if many.len() > 5 { ", …" } else { "" }
            );
            return Ok(ExitCode::from(super::FAILURE));
        }
    };
    let Some(r) = store.get(&id)? else {
        eprintln!("error: no request with id {id} (see `mentorsite requests list`)");
        return Ok(ExitCode::from(super::FAILURE));
    };
    let h = store.history(&id)?.unwrap_or_default();
    let tz = &config.scheme.time_zone;
    let answer_by = mentorsite::requests::letters::long_date(&r.respond_by);
    println!("Request     {}", r.id);
    let zone = tz
        .iana_name()
        .map(|z| format!(" ({z} time)"))
        .unwrap_or_default();
    println!("Received    {}{zone}", when(r.created_at, tz));
    println!("Mentor      {}", r.mentor);
    println!("Status      {}", r.status.describe());
    match r.status {
        mentorsite::requests::Status::Pending => {
            println!("Answer by   {answer_by}");
            if let Some(t) = h.reminded_at {
                println!("Reminded    {}", when(t, tz));
            }
        }
        mentorsite::requests::Status::Accepted | mentorsite::requests::Status::Declined => {
            if let Some(t) = h.answered_at {
                println!("Answered    {}", when(t, tz));
            }
        }
        _ => {
            if r.status == mentorsite::requests::Status::Completed
                && let Some(t) = h.answered_at
            {
                println!("Accepted    {}", when(t, tz));
            }
            if let Some(t) = h.closed_at {
                println!("Closed      {}", when(t, tz));
            }
        }
    }
    println!("Mentee      {} <{}>", r.name, r.email);
    println!("Meets by    {}", r.mode);
    println!("\nTheir message:\n\n{}\n", r.message);
    if let Some(note) = h.note.as_deref().filter(|n| !n.trim().is_empty()) {
        println!("The mentor's note with the decline:\n\n{note}\n");
    }
    show_match(store, config, &id)?;
    println!("Emails:");
    let mails = store.mails_of(&id)?;
    if mails.is_empty() {
        println!("  (none)");
    }
    for m in mails {
        let state = match m.state {
            MailState::Sent => "sent".to_string(),
            MailState::Failed => format!(
                "NOT SENT, given up: {} (send again with `mentorsite requests resend {}`)",
                m.last_error.unwrap_or_default(),
                r.id
            ),
            _ if m.attempts > 0 => format!(
                "not sent yet, trying again ({} attempt{} so far: {})",
                m.attempts,
                if m.attempts == 1 { "" } else { "s" },
                m.last_error.unwrap_or_default()
            ),
            _ => "waiting to be sent".to_string(),
        };
        println!("  - {}: {}", m.kind.describe(), state);
    }
    Ok(ExitCode::SUCCESS)
}

/// The sessions, how the match ended and the feedback, for `requests show`.
fn show_match(store: &Store, config: &mentorsite::config::Config, id: &str) -> Result {
    use mentorsite::requests::letters::long_date;
    let Some(m) = store.match_record(id)? else {
        return Ok(ExitCode::SUCCESS);
    };
    if !matches!(
        m.request.status,
        mentorsite::requests::Status::Accepted | mentorsite::requests::Status::Completed
    ) {
        return Ok(ExitCode::SUCCESS);
    }
    let tz = &config.scheme.time_zone;
    let terms = mentorsite::requests::sessions::Terms::of(
        &m,
        config.scheme.sessions_offered,
        config.scheme.window_months,
        tz,
    );
    println!(
        "Sessions    {} of {}, until {}",
        m.sessions.len(),
        terms.allowed,
        long_date(&terms.window_ends.to_string())
    );
    if m.extended > 0 {
        println!(
            "Extended    {} time{}",
            m.extended,
            if m.extended == 1 { "" } else { "s" }
        );
    }
    if let Some(e) = m.ended {
        println!("Ended       {}", e.describe());
    }
    for s in &m.sessions {
        println!(
            "  - {}: {} minutes, {}{}{}",
            long_date(&s.held_on),
            s.minutes,
            s.mode,
            if s.concern {
                ", CONCERN RAISED (the admin was emailed)"
            } else {
                ""
            },
            s.corrected_at
                .map(|t| format!(" (corrected {})", when(t, tz)))
                .unwrap_or_default()
        );
        if let Some(note) = s.note.as_deref() {
            println!("    The mentor's note for the team: {note}");
        }
    }
    match store.feedback_of(id)? {
        Some(f) => {
            println!(
                "Feedback    {} of 5, given {}",
                f.helpful,
                when(f.given_at, tz)
            );
            if let Some(h) = f.helped.as_deref() {
                println!("  What helped: {h}");
            }
            if f.more_sessions {
                println!("  Would like more sessions");
            }
            if f.another_mentor {
                println!("  Would like to try another mentor");
            }
        }
        None if m.request.status == mentorsite::requests::Status::Completed => {
            println!("Feedback    not given yet");
        }
        None => {}
    }
    println!();
    Ok(ExitCode::SUCCESS)
}

fn export(store: &Store) -> Result {
    let requests = store.list()?;
    let mut matches = Vec::with_capacity(requests.len());
    for r in &requests {
        let m = store.match_record(&r.id)?;
        let f = store.feedback_of(&r.id)?;
        matches.push((m, f));
    }
    mentorsite::requests::export::write_csv(std::io::stdout().lock(), &requests, &matches, date)?;
    Ok(ExitCode::SUCCESS)
}

fn purge(store: &Store, email: &str) -> Result {
    let n = store.purge_email(email)?;
    println!(
        "Erased {n} request{} (and their emails) from that address.",
        if n == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

/// The programme manager's report, from the store and the register's names.
fn report(
    root: &std::path::Path,
    config: &mentorsite::config::Config,
    store: &Store,
    output: &std::path::Path,
) -> Result {
    use mentorsite::requests::report;
    let opts = mentorsite::site::BuildOptions {
        root: root.to_path_buf(),
        ..Default::default()
    };
    let names: std::collections::BTreeMap<String, String> = match mentorsite::site::prepare(&opts) {
        Ok(p) => p
            .register
            .mentors
            .iter()
            .map(|m| (m.slug.clone(), m.name.clone()))
            .collect(),
        Err(_) => {
            eprintln!(
                "warning: the content has errors (see `mentorsite check`), so mentors are shown by their file names"
            );
            Default::default()
        }
    };
    let rows = store.outcomes()?;
    let cx = report::Context {
        title: &config.title,
        time_zone: &config.scheme.time_zone,
        holidays: &config.scheme.holidays,
        retention_days: config.requests.retention_days,
        names: &names,
        now: jiff::Timestamp::now().as_second(),
    };
    let mut figures = report::figures(&rows, &cx);
    figures.matches = report::match_figures(&store.match_facts()?, &cx);
    let html = report::render(&figures, &cx)?;
    std::fs::write(output, html).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    println!(
        "Wrote {} ({} request{}). It names mentors: share it with the scheme's team, do not publish it.",
        output.display(),
        figures.total,
        if figures.total == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

/// The desk for a one-off command: the site prepared and, for a command that signs links
/// (`why` says so), the token key from the environment.
fn desk(
    root: &std::path::Path,
    why: Option<&str>,
) -> std::result::Result<mentorsite::requests::desk::Desk, ExitCode> {
    let secret = match (std::env::var("MENTORSITE_SECRET"), why) {
        (Ok(secret), _) => secret,
        (Err(_), Some(why)) => {
            eprintln!("error: MENTORSITE_SECRET is not set: {why}. Use the endpoint's value.");
            return Err(ExitCode::from(super::FAILURE));
        }
        // Nothing is signed: a key of the moment will do.
        (Err(_), None) => uuid::Uuid::new_v4().simple().to_string().repeat(2),
    };
    let opts = mentorsite::site::BuildOptions {
        root: root.to_path_buf(),
        ..Default::default()
    };
    let prepared = mentorsite::site::prepare(&opts).map_err(|e| super::report_error(e, root))?;
    mentorsite::service::desk(root, &prepared, secret.into_bytes()).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(super::FAILURE)
    })
}

/// Reminders, lapse and retention, once, for a cron job. Emails are queued for the running
/// endpoint to send; no HTTP server or mail connection is needed.
fn sweep(root: &std::path::Path) -> ExitCode {
    let desk = match desk(root, Some("reminders carry signed links")) {
        Ok(d) => d,
        Err(code) => return code,
    };
    match desk.sweep() {
        Ok(r) => {
            println!(
                "Sweep: {} reminded, {} lapsed, {} held because the mentor was not reached, {} nudged to record a first session, {} ended with their window, {} purged under the retention rule.",
                r.reminded, r.lapsed, r.unreached, r.nudged, r.ended, r.purged
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::FAILURE)
        }
    }
}

/// Put failed mail back in the queue for the running endpoint to send. The mail was composed,
/// links and all, when it was first queued: nothing is signed here.
fn resend(root: &std::path::Path, id: Option<&str>) -> ExitCode {
    let desk = match desk(root, None) {
        Ok(d) => d,
        Err(code) => return code,
    };
    if let Some(id) = id {
        match desk.store.get(id) {
            Ok(Some(_)) => {}
            Ok(None) => {
                eprintln!("error: no request with id {id} (see `mentorsite requests list`)");
                return ExitCode::from(super::FAILURE);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(super::FAILURE);
            }
        }
    }
    let which = id.map_or(Resend::AllFailed, Resend::Request);
    match desk.resend(which) {
        Ok(requeued) if requeued.is_empty() => {
            println!("No failed mail to send again.");
            ExitCode::SUCCESS
        }
        Ok(requeued) => {
            for (request, kind) in &requeued {
                println!("  request {request}: {kind} mail queued again");
            }
            println!(
                "{} mail{} queued; the running endpoint sends {} within a few seconds.",
                requeued.len(),
                if requeued.len() == 1 { "" } else { "s" },
                if requeued.len() == 1 { "it" } else { "them" },
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::FAILURE)
        }
    }
}

/// `requests extend ID`: another block of sessions in a new window; the mentor (with a new
/// sessions link) and the mentee are told by the running endpoint's outbox.
fn extend(root: &std::path::Path, typed: &str) -> ExitCode {
    let desk = match desk(
        root,
        Some("the mentor's mail carries a signed sessions link"),
    ) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let typed = typed.trim().to_lowercase();
    let id = match desk.store.ids_starting(&typed, 2) {
        Ok(ids) if ids.len() == 1 => ids[0].clone(),
        Ok(ids) if ids.contains(&typed) => typed.clone(),
        Ok(ids) if ids.is_empty() => {
            eprintln!(
                "error: no request with an id beginning {typed:?} (see `mentorsite requests list`)"
            );
            return ExitCode::from(super::FAILURE);
        }
        Ok(_) => {
            eprintln!(
                "error: more than one request has an id beginning {typed:?}. Type more of the id."
            );
            return ExitCode::from(super::FAILURE);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::FAILURE);
        }
    };
    use mentorsite::requests::desk::Problem;
    match desk.extend(&id) {
        Ok(m) => {
            let terms = desk.terms(&m);
            println!(
                "Extended {id}: up to {} sessions in all ({} held so far), until {}. The mentor and the mentee are told by email.",
                terms.allowed,
                m.sessions.len(),
                mentorsite::requests::letters::long_date(&terms.window_ends.to_string())
            );
            ExitCode::SUCCESS
        }
        Err(Problem::Closed(r)) if r.status == mentorsite::requests::Status::Accepted => {
            eprintln!(
                "error: the match {id} is still running: only a completed match can be extended. Once it has ended (the sessions used, the window over, or either side finished), run this again."
            );
            ExitCode::from(super::FAILURE)
        }
        Err(Problem::Closed(r)) => {
            eprintln!(
                "error: request {id} is {}: only a completed match can be extended",
                r.status.describe()
            );
            ExitCode::from(super::FAILURE)
        }
        Err(Problem::NotFound) => {
            eprintln!("error: no request with id {id} (see `mentorsite requests list`)");
            ExitCode::from(super::FAILURE)
        }
        Err(e) => {
            eprintln!("error: {e:?}");
            ExitCode::from(super::FAILURE)
        }
    }
}
