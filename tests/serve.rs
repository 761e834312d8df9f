//! `mentorsite serve` over real HTTP on a loopback port.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Site;

/// The running server; killed if the test fails before stopping it.
struct Server {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(site: &Site) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_mentorsite"))
        .args(["serve", "--port", "0", "--root"])
        .arg(site.root())
        .env("SOURCE_DATE_EPOCH", common::TODAY_EPOCH)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let (tx, lines) = mpsc::channel();
    // Owned by `Server` from here on, so a failed assertion still kills the process.
    let mut server = Server {
        child,
        addr: String::new(),
        lines,
    };
    let stdout = server.child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = server
            .lines
            .recv_timeout(left)
            .expect("serve printed its address in time");
        if let Some(rest) = line.strip_prefix("Serving the site at http://") {
            server.addr = rest.split('/').next().unwrap().to_string();
            assert!(server.addr.starts_with("127.0.0.1:"), "{}", server.addr);
            return server;
        }
    }
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    (status, text)
}

#[test]
fn serve_builds_and_serves_the_demo_then_stops_on_ctrl_c() {
    let site = Site::demo();
    let server = start(&site);
    let (status, home) = get(&server.addr, "/");
    assert_eq!(status, 200);
    assert!(home.contains("Find a peer mentor"));
    let (status, profile) = get(&server.addr, "/mentors/siobhan-ni-bhriain/");
    assert_eq!(status, 200);
    assert!(profile.contains("Siobhán Ní Bhriain"));
    let (status, css) = get(&server.addr, "/static/style.css");
    assert_eq!(status, 200);
    assert!(css.contains("prefers-color-scheme"));
    let (status, missing) = get(&server.addr, "/mentors/nobody/");
    assert_eq!(status, 404);
    assert!(missing.contains("We could not find that page"));

    // A request sent from a profile is stored and its emails land in the outbox folder.
    let body = "mentor=amara-okafor&name=Sam+Lee&email=sam%40example.net&message=Hello+there&mode=video&consent=yes";
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /requests HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len(),
        a = server.addr
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    assert!(
        answer.to_lowercase().contains("location: /requests/sent/"),
        "{answer}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let emails = loop {
        let n = std::fs::read_dir(site.path("outbox"))
            .map(|d| d.count())
            .unwrap_or(0);
        if n >= 3 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(emails, 3, "mentor, admin and mentee emails in outbox/");
    assert!(site.path("data/requests.sqlite").is_file());

    // Ctrl-C (SIGINT) stops it cleanly.
    let pid = server.child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // The reader thread ends when stdout closes; wait for it, bounded.
    let mut said = Vec::new();
    while let Ok(line) = server.lines.recv_timeout(Duration::from_secs(5)) {
        said.push(line);
    }
    assert!(said.iter().any(|l| l == "Stopped."), "{said:?}");
}
