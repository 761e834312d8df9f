//! The request service end to end: the real `mentorsite endpoint` on 127.0.0.1, real HTTP,
//! and a real SMTP server on another loopback port (a small one written here, speaking the
//! protocol lettre speaks). Every wait is bounded; every process started is stopped.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::Site;

/// A minimal SMTP server that keeps every message it accepts.
struct SmtpSink {
    port: u16,
    mails: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl SmtpSink {
    fn start(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind SMTP port");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (mails.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let m = m.clone();
                        std::thread::spawn(move || session(stream, &m));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        SmtpSink { port, mails, stop }
    }

    fn mails(&self) -> Vec<String> {
        self.mails.lock().unwrap().clone()
    }

    /// Wait (bounded) until `n` mails have arrived.
    fn wait_for(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let mails = self.mails();
            if mails.len() >= n || Instant::now() > deadline {
                return mails;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn session(stream: TcpStream, mails: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let _ = out.write_all(b"220 sink.test ESMTP\r\n");
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if cmd.starts_with("EHLO") {
            b"250-sink.test\r\n250 8BITMIME\r\n"
        } else if cmd.starts_with("DATA") {
            let _ = out.write_all(b"354 go ahead\r\n");
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).unwrap_or(0) == 0 {
                    return;
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            mails.lock().unwrap().push(data);
            b"250 queued\r\n"
        } else if cmd.starts_with("QUIT") {
            let _ = out.write_all(b"221 bye\r\n");
            return;
        } else {
            b"250 OK\r\n"
        };
        let _ = out.write_all(reply);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The doctors fixture, sending through SMTP on `smtp_port` without TLS.
fn site(smtp_port: u16) -> Site {
    let site = Site::fixture("doctors");
    let toml = site.read("site.toml")
        + &format!(
            "\n[email]\nfrom = \"Fixture Scheme <no-reply@example.org>\"\ntransport = \"smtp\"\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nusername = \"\"\ntls = \"none\"\n"
        );
    site.write("site.toml", &toml);
    site
}

/// The running endpoint, killed if a test fails before stopping it.
struct Endpoint {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_endpoint(site: &Site) -> Endpoint {
    let child = Command::new(env!("CARGO_BIN_EXE_mentorsite"))
        .args(["endpoint", "--port", "0", "--root"])
        .arg(site.root())
        .env(
            "MENTORSITE_SECRET",
            "an end-to-end test key, thirty-two bytes or more",
        )
        .env("MENTORSITE_RETRY_BASE_SECONDS", "1")
        .env("MENTORSITE_RATE_PER_MINUTE", "1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start endpoint");
    let log = Arc::new(Mutex::new(String::new()));
    let mut ep = Endpoint {
        child,
        url: String::new(),
        log: log.clone(),
    };
    let mut stderr = ep.child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            log.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let stdout = ep.child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("endpoint printed its address in time");
        if let Some(rest) = line.strip_prefix("Request service listening at ") {
            ep.url = rest
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches('/')
                .to_string();
            return ep;
        }
    }
}

/// POST the form over real HTTP; returns the status code.
fn post_request(url: &str, message: &str) -> u16 {
    let body = serde_urlencoded::to_string([
        ("mentor", "dr-ada-bundle"),
        ("name", "Sam Lee"),
        ("email", "sam@mentee.example.net"),
        ("message", message),
        ("mode", "phone"),
        ("consent", "yes"),
    ])
    .unwrap();
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /requests HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://mentors.example.org\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response[9..12].parse().unwrap()
}

fn to_of(mail: &str) -> String {
    mail.lines()
        .find_map(|l| l.strip_prefix("To: "))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_request_reaches_mentor_admin_and_mentee_over_smtp() {
    let sink = SmtpSink::start(0);
    let site = site(sink.port);
    let ep = start_endpoint(&site);
    assert_eq!(
        post_request(&ep.url, "Hoping to talk about my return to anaesthetics."),
        303
    );
    let mails = sink.wait_for(3, Duration::from_secs(20));
    assert_eq!(mails.len(), 3, "three mails: {mails:#?}");
    let mut to: Vec<String> = mails.iter().map(|m| to_of(m)).collect();
    to.sort();
    assert_eq!(
        to,
        [
            "ada@private.example.net",
            "admin@example.org",
            "sam@mentee.example.net"
        ]
    );
    let for_mentor = mails
        .iter()
        .find(|m| to_of(m) == "ada@private.example.net")
        .unwrap();
    assert!(for_mentor.contains("Reply-To: sam@mentee.example.net"));
    assert!(for_mentor.contains("Message-ID: <"));
    assert!(for_mentor.contains("multipart/alternative"));
    assert!(for_mentor.contains("Hoping to talk about"));
    let ack = mails
        .iter()
        .find(|m| to_of(m) == "sam@mentee.example.net")
        .unwrap();
    assert!(
        !ack.contains("Hoping to talk") && !ack.contains("Sam Lee"),
        "no free text in the acknowledgement"
    );

    // The log carries ids, never names, addresses or message text.
    std::thread::sleep(Duration::from_millis(300));
    let log = ep.log.lock().unwrap().clone();
    assert!(
        log.contains("event=request_stored") && log.contains("event=mail_sent"),
        "{log}"
    );
    for private in [
        "Sam Lee",
        "Sam_Lee",
        "sam@mentee",
        "ada@private",
        "Hoping",
        "anaesthetics",
    ] {
        assert!(!log.contains(private), "{private} in the log:\n{log}");
    }
}

#[test]
fn mail_server_down_at_submit_then_up_every_mail_arrives_once() {
    let port = free_port();
    let site = site(port);
    let ep = start_endpoint(&site);
    assert_eq!(
        post_request(&ep.url, "Sent while the mail server is down."),
        303,
        "stored even so"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let listed = common::mentorsite(&[
        "requests",
        "show",
        "--root",
        site.root().to_str().unwrap(),
        "x",
    ])
    .run();
    assert_eq!(listed.code, 2, "an unknown id is an error");
    let list =
        common::mentorsite(&["requests", "list", "--root", site.root().to_str().unwrap()]).run();
    assert!(list.stdout.contains("dr-ada-bundle"), "{}", list.stdout);

    let sink = SmtpSink::start(port);
    let mails = sink.wait_for(3, Duration::from_secs(30));
    assert_eq!(mails.len(), 3, "all three after the retries");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.mails().len(), 3, "each mail exactly once");
    let log = ep.log.lock().unwrap().clone();
    assert!(log.contains("event=mail_retry"), "{log}");
}

#[test]
fn killed_between_storing_and_sending_the_mail_still_goes_after_a_restart() {
    let port = free_port();
    let site = site(port);
    let first = start_endpoint(&site);
    assert_eq!(
        post_request(&first.url, "Stored, then the process dies."),
        303
    );
    drop(first); // SIGKILL: no chance to send anything
    let sink = SmtpSink::start(port);
    let second = start_endpoint(&site);
    let mails = sink.wait_for(3, Duration::from_secs(30));
    assert_eq!(
        mails.len(),
        3,
        "the restarted service sends what was stored"
    );
    drop(second);
}
