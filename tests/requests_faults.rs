//! The request service's faults with real processes on 127.0.0.1: two endpoints sharing one
//! database, an SMTP server that never greets, SIGTERM mid-send, and a 5xx that fails a mail
//! for good until `requests resend --failed`. Every wait is bounded; every process started is
//! stopped (killed when dropped).

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::smtp::{SmtpSink, free_port};
use common::{Running, Site};

const SECRET: &str = "a fault-injection test key, thirty-two bytes or more";
const MENTOR: &str = "ada@private.example.net";

/// A server that accepts every connection and never says a word (holding the sockets open).
struct SilentServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    accepted: Arc<Mutex<usize>>,
}

impl SilentServer {
    fn start(port: u16) -> SilentServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind silent port");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(Mutex::new(0));
        let (s, a) = (stop.clone(), accepted.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        held.push(stream);
                        *a.lock().unwrap() += 1;
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            // Listener and sockets are dropped here, freeing the port.
        });
        SilentServer {
            stop,
            thread: Some(thread),
            accepted,
        }
    }

    /// Stop listening, close every socket and wait for the port to be free.
    fn shut(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.shut();
    }
}

/// The doctors fixture, sending through SMTP on `smtp_port` without TLS; `extra` lines go under
/// `[email.smtp]`.
fn site(smtp_port: u16, extra: &str) -> Site {
    let site = Site::fixture("doctors");
    let toml = site.read("site.toml")
        + &format!(
            "\n[email]\nfrom = \"Fixture Scheme <no-reply@example.org>\"\ntransport = \"smtp\"\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nusername = \"\"\ntls = \"none\"\n{extra}"
        );
    site.write("site.toml", &toml);
    site
}

/// Start the endpoint on `port` (0: any) with the test environment plus `env`.
fn start_endpoint(site: &Site, port: u16, env: &[(&str, &str)]) -> Running {
    let root = site.root().to_str().unwrap();
    let port = port.to_string();
    let mut cmd = common::mentorsite(&["endpoint", "--port", &port, "--root", root])
        .env("MENTORSITE_SECRET", SECRET)
        .env("MENTORSITE_RETRY_BASE_SECONDS", "1")
        .env("MENTORSITE_RATE_PER_MINUTE", "1000");
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.serve("Request service listening at ")
}

/// One HTTP/1.1 exchange on a fresh connection (read bounded to 15 s): status and whole answer.
fn http(url: &str, head: &str, body: &str) -> std::io::Result<(u16, String)> {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    write!(
        s,
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let code = response
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {response:?}")))?;
    Ok((code, response))
}

fn form(email: &str, message: &str) -> String {
    serde_urlencoded::to_string([
        ("mentor", "dr-ada-bundle"),
        ("name", "Sam Lee"),
        ("email", email),
        ("message", message),
        ("mode", "phone"),
        ("consent", "yes"),
    ])
    .unwrap()
}

const FORM_HEAD: &str = "POST /requests HTTP/1.1\r\nOrigin: https://mentors.example.org\r\nContent-Type: application/x-www-form-urlencoded";

/// POST the form over real HTTP from `email`: status and the whole answer.
fn post(url: &str, email: &str, message: &str) -> (u16, String) {
    http(url, FORM_HEAD, &form(email, message)).expect("POST /requests")
}

/// POST the form from `email`; returns the status code.
fn post_request(url: &str, email: &str, message: &str) -> u16 {
    post(url, email, message).0
}

/// GET /healthz: status and answer.
fn healthz(url: &str) -> (u16, String) {
    http(url, "GET /healthz HTTP/1.1", "").expect("GET /healthz")
}

fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    mail.lines().find_map(|l| l.strip_prefix(name))
}

fn to_of(mail: &str) -> String {
    header(mail, "To: ").unwrap_or_default().to_string()
}

/// Wait (bounded) until `f` holds.
fn wait_until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn requests_list(site: &Site) -> String {
    common::mentorsite(&["requests", "list", "--root", site.root().to_str().unwrap()])
        .run()
        .stdout
}

#[test]
fn two_services_on_one_database_send_each_mail_once() {
    let sink = SmtpSink::start(0);
    let site = site(sink.port, "");
    let a = start_endpoint(&site, free_port(), &[]);
    let b = start_endpoint(&site, free_port(), &[]);
    assert_ne!(a.url, b.url);
    for i in 0..20 {
        let ep = if i % 2 == 0 { &a } else { &b };
        let email = format!("mentee{i}@mentee.example.net");
        let status = post_request(&ep.url, &email, &format!("Request number {i}."));
        assert_eq!(status, 303, "request {i}: a: {}\nb: {}", a.log(), b.log());
    }
    let mails = sink.wait_for(60, Duration::from_secs(60));
    assert_eq!(
        mails.len(),
        60,
        "all sixty mails\na: {}\nb: {}",
        a.log(),
        b.log()
    );
    std::thread::sleep(Duration::from_secs(3));
    let mails = sink.mails();
    assert_eq!(mails.len(), 60, "each mail exactly once");
    let ids: Vec<&str> = mails
        .iter()
        .map(|m| header(m, "Message-ID: ").expect("a Message-ID").trim())
        .collect();
    let distinct: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), 60, "distinct Message-IDs: {ids:#?}");
    // Both processes did some of the sending? Not required; but each mail went once.
    for i in 0..20 {
        let to = format!("mentee{i}@mentee.example.net");
        assert_eq!(
            mails.iter().filter(|m| to_of(m) == to).count(),
            1,
            "one acknowledgement to {to}"
        );
    }
}

#[test]
fn a_silent_smtp_server_is_retried_then_delivery_when_a_real_one_answers_and_sigterm_exits() {
    let port = free_port();
    let mut silent = SilentServer::start(port);
    let site = site(port, "timeout_seconds = 2\n");
    let env = [("MENTORSITE_LEASE_SECONDS", "3")];
    let mut first = start_endpoint(&site, 0, &env);
    assert_eq!(
        post_request(
            &first.url,
            "sam@mentee.example.net",
            "Sent to a silent server."
        ),
        303
    );
    assert!(
        wait_until(Duration::from_secs(30), || first
            .log()
            .contains("event=mail_retry")),
        "a retry after the timeout: {}",
        first.log()
    );
    assert!(*silent.accepted.lock().unwrap() > 0, "it did connect");

    // SIGTERM, likely mid-send (the next attempt is 1 s after the first): out within 10 s.
    let pid = first.child.id();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let sent_at = Instant::now();
    let mut exited = None;
    while sent_at.elapsed() < Duration::from_secs(10) {
        if let Some(status) = first.child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status =
        exited.unwrap_or_else(|| panic!("still running 10 s after SIGTERM; log:\n{}", first.log()));
    assert!(
        status.success(),
        "exit {status:?} after SIGTERM: {}",
        first.log()
    );
    let mut stdout = Vec::new();
    while let Ok(l) = first.lines.recv_timeout(Duration::from_millis(500)) {
        stdout.push(l);
    }
    assert!(
        stdout.iter().any(|l| l.contains("Stopped.")),
        "Stopped. on stdout: {stdout:?}"
    );
    assert!(!first.log().contains("event=mail_sent"));
    drop(first);

    // A real server on the same port now; a new endpoint delivers all three.
    silent.shut();
    let sink = SmtpSink::start(port);
    let second = start_endpoint(&site, 0, &env);
    let mails = sink.wait_for(3, Duration::from_secs(30));
    assert_eq!(mails.len(), 3, "three mails: {}", second.log());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.mails().len(), 3, "each once");
}

#[test]
fn a_5xx_fails_for_good_and_resend_failed_sends_it() {
    let sink = SmtpSink::start_rejecting(0, Some(MENTOR));
    let site = site(sink.port, "");
    let ep = start_endpoint(&site, 0, &[]);
    assert_eq!(
        post_request(
            &ep.url,
            "sam@mentee.example.net",
            "The mentor's server says no."
        ),
        303
    );
    let mut list = String::new();
    assert!(
        wait_until(Duration::from_secs(20), || {
            list = requests_list(&site);
            list.contains("FAILED after")
        }),
        "FAILED in the list:\n{list}\nlog:\n{}",
        ep.log()
    );
    assert!(ep.log().contains("event=mail_failed"), "{}", ep.log());
    let mails = sink.wait_for(2, Duration::from_secs(10));
    assert_eq!(mails.len(), 2, "admin and mentee still get theirs");
    assert!(mails.iter().all(|m| to_of(m) != MENTOR));
    // Failed for good: no retry comes.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.mails().len(), 2);

    sink.reject.store(false, Ordering::Relaxed);
    let resend = common::mentorsite(&[
        "requests",
        "resend",
        "--failed",
        "--root",
        site.root().to_str().unwrap(),
    ])
    .env("MENTORSITE_SECRET", SECRET)
    .run();
    assert_eq!(resend.code, 0, "{resend:?}");
    assert!(resend.stdout.contains("queued"), "{resend:?}");

    let mails = sink.wait_for(3, Duration::from_secs(20));
    assert_eq!(mails.len(), 3, "the mentor's mail: {}", ep.log());
    std::thread::sleep(Duration::from_secs(3));
    let mails = sink.mails();
    assert_eq!(
        mails.iter().filter(|m| to_of(m) == MENTOR).count(),
        1,
        "the mentor's mail exactly once"
    );
    assert_eq!(mails.len(), 3);
    assert!(!requests_list(&site).contains("FAILED after"));
}

/// A tmpfs of `size` mounted on a fresh temporary folder, unmounted when dropped; `None` where
/// this process may not mount (it needs root or CAP_SYS_ADMIN).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Tmpfs { dir })
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Write `name` until the disk says it is full.
    fn fill(&self, name: &str) {
        let mut f = std::fs::File::create(self.path(name)).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        loop {
            if let Err(e) = f.write_all(&chunk).and_then(|()| f.sync_all()) {
                assert_eq!(e.raw_os_error(), Some(28), "ENOSPC, not {e}");
                return;
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// `site` with its request database at `db`.
fn with_database(site: &Site, db: &std::path::Path) {
    let toml = site.read("site.toml") + &format!("\n[requests]\ndatabase = {:?}\n", db);
    site.write("site.toml", &toml);
}

#[test]
fn a_full_disk_holds_mail_without_resending_answers_503_and_recovers() {
    let Some(disk) = Tmpfs::mount("4m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)");
        return;
    };
    let sink = SmtpSink::start(0);
    let site = site(sink.port, "");
    with_database(&site, &disk.path("requests.sqlite"));
    // A short lease: a send this process forgot would be claimed and sent again within seconds.
    let ep = start_endpoint(&site, 0, &[("MENTORSITE_LEASE_SECONDS", "2")]);

    // The sink holds its "250" for three seconds; the disk fills between send and record.
    sink.hold_ms.store(3000, Ordering::Relaxed);
    assert_eq!(post_request(&ep.url, "a@mentee.example.net", "First."), 303);
    assert_eq!(sink.wait_for(3, Duration::from_secs(20)).len(), 3);
    disk.fill("filler");
    sink.hold_ms.store(0, Ordering::Relaxed);

    let (code, page) = post(
        &ep.url,
        "b@mentee.example.net",
        "Typed while the disk was full.",
    );
    assert_eq!(code, 503, "{page}");
    assert!(page.contains("Retry-After: 120") || page.contains("retry-after: 120"));
    assert!(page.contains("try again in a few minutes"), "{page}");
    assert!(
        page.contains("Typed while the disk was full."),
        "kept: {page}"
    );
    let (code, health) = healthz(&ep.url);
    assert_eq!(code, 503, "{health}");
    assert!(health.contains("disk holding the request database is full"));

    // Nothing is sent again while the disk stays full, and the log stays short.
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(sink.mails().len(), 3, "no resend: {}", ep.log());
    let log = ep.log();
    assert_eq!(
        log.matches("event=store_unavailable").count(),
        1,
        "one line per fault per minute:\n{log}"
    );
    assert!(log.lines().count() < 20, "a bounded log:\n{log}");

    // Room again: the service finds out by itself, records what it sent, and takes requests.
    std::fs::remove_file(disk.path("filler")).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || healthz(&ep.url).0 == 200),
        "healthy again: {}",
        ep.log()
    );
    assert!(ep.log().contains("event=store_recovered"), "{}", ep.log());
    assert_eq!(post_request(&ep.url, "b@mentee.example.net", "Again."), 303);
    let mails = sink.wait_for(6, Duration::from_secs(20));
    assert_eq!(mails.len(), 6, "{}", ep.log());
    std::thread::sleep(Duration::from_secs(4));
    let mails = sink.mails();
    let ids: HashSet<&str> = mails
        .iter()
        .filter_map(|m| header(m, "Message-ID: "))
        .collect();
    assert_eq!(
        (mails.len(), ids.len()),
        (6, 6),
        "each mail once: {}",
        ep.log()
    );
    let list = requests_list(&site);
    assert!(!list.contains("FAILED") && !list.contains("due"), "{list}");
}

#[test]
fn a_write_lock_held_elsewhere_leaves_healthz_answering_and_posts_503_until_it_goes() {
    let sink = SmtpSink::start(0);
    let site = site(sink.port, "");
    let ep = start_endpoint(&site, 0, &[]);
    assert_eq!(post_request(&ep.url, "a@mentee.example.net", "First."), 303);
    assert_eq!(sink.wait_for(3, Duration::from_secs(20)).len(), 3);

    // This test process holds the write lock, as a backup script or a stray sqlite3 shell would.
    let db = rusqlite::Connection::open(site.path("data/requests.sqlite")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (code, health) = healthz(&ep.url);
    assert!(code == 200 || code == 503, "{health}");
    let (code, page) = post(&ep.url, "b@mentee.example.net", "Typed during the lock.");
    assert_eq!(code, 503, "{page}");
    assert!(page.contains("Typed during the lock."), "kept: {page}");
    // The failed write taught the service why; it still answers at once.
    let (code, health) = healthz(&ep.url);
    assert_eq!(code, 503, "{health}");
    assert!(health.contains("locked by another process"), "{health}");
    db.execute_batch("COMMIT").unwrap();

    assert!(
        wait_until(Duration::from_secs(30), || healthz(&ep.url).0 == 200),
        "healthy again: {}",
        ep.log()
    );
    assert_eq!(post_request(&ep.url, "b@mentee.example.net", "Again."), 303);
    assert_eq!(sink.wait_for(6, Duration::from_secs(20)).len(), 6);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.mails().len(), 6, "each once: {}", ep.log());
}

#[test]
fn kill_9_in_a_burst_of_posts_loses_nothing_that_was_stored() {
    let sink = SmtpSink::start(0);
    let site = site(sink.port, "");
    let env = [("MENTORSITE_LEASE_SECONDS", "3")];
    let mut first = start_endpoint(&site, 0, &env);
    let url = first.url.clone();
    let stored = Arc::new(Mutex::new(Vec::<String>::new()));
    let posters: Vec<_> = (0..8)
        .map(|t| {
            let (url, stored) = (url.clone(), stored.clone());
            std::thread::spawn(move || {
                for i in 0..200 {
                    let email = format!("m{t}x{i}@mentee.example.net");
                    let head = format!("{FORM_HEAD}\r\nAccept: application/json");
                    match http(&url, &head, &form(&email, "A burst.")) {
                        Ok((201, body)) => {
                            let json = &body[body.find("\r\n\r\n").unwrap() + 4..];
                            let v: serde_json::Value = serde_json::from_str(json).unwrap();
                            stored
                                .lock()
                                .unwrap()
                                .push(v["id"].as_str().unwrap().into());
                        }
                        Ok((code, body)) => panic!("{code}: {body}"),
                        // The process is gone: the rest of this poster's burst goes nowhere.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(60), || stored.lock().unwrap().len()
            >= 60),
        "{}",
        first.log()
    );
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    for p in posters {
        p.join().expect("a poster panicked");
    }
    let answered = stored.lock().unwrap().clone();
    assert!(answered.len() >= 60);

    // Every request the service said it stored is in the file.
    let in_file: HashSet<String> = {
        let db = rusqlite::Connection::open(site.path("data/requests.sqlite")).unwrap();
        let mut q = db.prepare("SELECT id FROM requests").unwrap();
        q.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let missing: Vec<&String> = answered
        .iter()
        .filter(|id| !in_file.contains(*id))
        .collect();
    assert!(missing.is_empty(), "stored then lost: {missing:?}");

    // And a new process sends every stored request's mail, each Message-ID once at least.
    let second = start_endpoint(&site, 0, &env);
    let want = 3 * in_file.len();
    let mut ids = HashSet::new();
    let done = wait_until(Duration::from_secs(90), || {
        ids = sink
            .mails()
            .iter()
            .filter_map(|m| header(m, "Message-ID: ").map(str::to_string))
            .collect();
        ids.len() >= want
    });
    assert!(done, "{} of {want} mails: {}", ids.len(), second.log());
    assert_eq!(ids.len(), want);
}
