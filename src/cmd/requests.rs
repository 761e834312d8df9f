use std::process::ExitCode;

use mentorsite::requests::store::Store;

use crate::cli::RequestsCommand;

pub fn run(cmd: RequestsCommand) -> ExitCode {
    let root = match &cmd {
        RequestsCommand::List { root }
        | RequestsCommand::Show { root, .. }
        | RequestsCommand::Export { root, .. }
        | RequestsCommand::Purge { root, .. }
        | RequestsCommand::Sweep { root }
        | RequestsCommand::Report { root, .. } => root.root.clone(),
    };
    if matches!(cmd, RequestsCommand::Sweep { .. }) {
        return sweep(&root);
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
        RequestsCommand::List { .. } => list(&store),
        RequestsCommand::Show { id, .. } => show(&store, &id),
        RequestsCommand::Export { .. } => export(&store),
        RequestsCommand::Purge { email, .. } => purge(&store, &email),
        RequestsCommand::Sweep { .. } => unreachable!("handled above"),
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

fn list(store: &Store) -> Result {
    let requests = store.list()?;
    println!(
        "{:<20}  {:<16}  {:<9}  {:<10}  mentor",
        "id", "received (UTC)", "status", "answer by"
    );
    for r in &requests {
        println!(
            "{:<20}  {:<16}  {:<9}  {:<10}  {}",
            r.id,
            date(r.created_at),
            r.status,
            r.respond_by,
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
                "  mail {} of request {} to the {} after {} attempts: {}",
                m.id,
                m.request_id,
                m.kind,
                m.attempts,
                m.last_error.unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(store: &Store, id: &str) -> Result {
    let Some(r) = store.get(id)? else {
        eprintln!("error: no request with id {id} (see `mentorsite requests list`)");
        return Ok(ExitCode::from(super::FAILURE));
    };
    println!("Request   {}", r.id);
    println!("Received  {} UTC", date(r.created_at));
    println!("Mentor    {}", r.mentor);
    println!("Status    {} (answer by {})", r.status, r.respond_by);
    println!("Mentee    {} <{}>", r.name, r.email);
    println!("Meets by  {}", r.mode);
    println!("\n{}\n", r.message);
    println!("Emails:");
    for m in store.mails_of(id)? {
        let state = match m.status.as_str() {
            "sent" => "sent".to_string(),
            "failed" => format!("FAILED: {}", m.last_error.unwrap_or_default()),
            _ if m.attempts > 0 => format!(
                "retrying after {} attempts: {}",
                m.attempts,
                m.last_error.unwrap_or_default()
            ),
            _ => "waiting to be sent".to_string(),
        };
        println!("  to the {:<7} {}", m.kind, state);
    }
    Ok(ExitCode::SUCCESS)
}

fn export(store: &Store) -> Result {
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    w.write_record([
        "id",
        "received_utc",
        "mentor",
        "status",
        "respond_by",
        "name",
        "email",
        "mode",
        "message",
    ])?;
    for r in store.list()? {
        w.write_record([
            &r.id,
            &date(r.created_at),
            &r.mentor,
            &r.status,
            &r.respond_by,
            &r.name,
            &r.email,
            &r.mode,
            &r.message,
        ])?;
    }
    w.flush()?;
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
    let figures = report::figures(&rows, &cx);
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

/// Reminders, lapse and retention, once, for a cron job. Emails are queued for the running
/// endpoint to send.
fn sweep(root: &std::path::Path) -> ExitCode {
    let Ok(secret) = std::env::var("MENTORSITE_SECRET") else {
        eprintln!(
            "error: MENTORSITE_SECRET is not set: reminders carry signed links. Use the endpoint's value."
        );
        return ExitCode::from(super::FAILURE);
    };
    let opts = mentorsite::site::BuildOptions {
        root: root.to_path_buf(),
        ..Default::default()
    };
    let prepared = match mentorsite::site::prepare(&opts) {
        Ok(p) => p,
        Err(e) => return super::report_error(e, root),
    };
    let mode = mentorsite::web::server::MailMode::Configured;
    let root = root.to_path_buf();
    super::block_on(async move {
        let (service, _) = match mentorsite::web::server::service(
            &root,
            prepared,
            secret.into_bytes(),
            mode,
            Vec::new(),
        ) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(super::FAILURE);
            }
        };
        match mentorsite::web::sweep::sweep(&service) {
            Ok(r) => {
                println!(
                    "Sweep: {} reminded, {} lapsed, {} purged under the retention rule.",
                    r.reminded, r.lapsed, r.purged
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(super::FAILURE)
            }
        }
    })
}
