//! `mentorsite serve` over real HTTP on a loopback port.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Running, Site};

fn start(site: &Site) -> Running {
    start_with(site, None)
}

/// `serve`, with `MENTORSITE_SECRET` set to `secret` when given.
fn start_with(site: &Site, secret: Option<&str>) -> Running {
    let root = site.root().to_str().unwrap();
    let mut cmd = common::mentorsite(&["serve", "--port", "0", "--root", root]);
    if let Some(s) = secret {
        cmd = cmd.env("MENTORSITE_SECRET", s);
    }
    let server = cmd.serve("Serving the site at ");
    assert!(server.addr().starts_with("127.0.0.1:"), "{}", server.url);
    server
}

/// Ctrl-C (SIGINT), then wait at most 10 s for the server to stop.
fn interrupt(server: &mut Running) -> std::process::ExitStatus {
    let pid = server.child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "serve did not stop within 10 s");
        std::thread::sleep(Duration::from_millis(50));
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
    let secret = "a-key-for-this-test-only-0123456789abcdef";
    let server = start_with(&site, Some(secret));
    let (status, home) = get(server.addr(), "/");
    assert_eq!(status, 200);
    assert!(home.contains("Find a peer mentor"));
    let (status, profile) = get(server.addr(), "/mentors/siobhan-ni-bhriain/");
    assert_eq!(status, 200);
    assert!(profile.contains("Siobhán Ní Bhriain"));
    let (status, css) = get(server.addr(), "/static/style.css");
    assert_eq!(status, 200);
    assert!(css.contains("prefers-color-scheme"));
    let (status, missing) = get(server.addr(), "/mentors/nobody/");
    assert_eq!(status, 404);
    assert!(missing.contains("We could not find that page"));

    // A request sent from a profile is stored and its emails land in the outbox folder.
    let body = "mentor=amara-okafor&name=Sam+Lee&email=sam%40example.net&message=Hello+there&mode=video&consent=yes";
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /requests HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len(),
        a = server.addr()
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
    // Their links point at this server, so the mentor's answer can be tried here.
    // A file may be listed before it is fully written: read again (bounded) until the
    // mentor's mail, link and all, is there.
    let own = format!("http://{}/requests/", server.addr());
    let deadline = Instant::now() + Duration::from_secs(10);
    let (all, respond) = loop {
        let mut all = String::new();
        for e in std::fs::read_dir(site.path("outbox")).unwrap() {
            let raw = std::fs::read_to_string(e.unwrap().path()).unwrap_or_default();
            all.push_str(&raw.replace("=\r\n", "").replace("=3D", "="));
        }
        let respond = all
            .split(&own)
            .skip(1)
            .map(|rest| {
                rest.split(|c: char| c.is_whitespace() || c == '"' || c == '<')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .find(|link| link.contains("/respond?t="));
        match respond {
            Some(link) => break (all, link),
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            None => panic!("no respond link to {own} in the emails:\n{all}"),
        }
    };
    assert!(
        !all.contains("mentors.example.org/requests/"),
        "no production links"
    );
    let (status, page) = get(server.addr(), &format!("/requests/{respond}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Accept"), "{page}");

    // Ctrl-C (SIGINT) stops it cleanly.
    let mut server = server;
    let status = interrupt(&mut server);
    assert!(status.success(), "{status:?}");
    // The reader thread ends when stdout closes; wait for it, bounded.
    let mut said = Vec::new();
    while let Ok(line) = server.lines.recv_timeout(Duration::from_secs(5)) {
        said.push(line);
    }
    assert!(said.iter().any(|l| l == "Stopped."), "{said:?}");

    // With the same MENTORSITE_SECRET the link still works after a restart; with the
    // throwaway key of a session without it, it does not.
    for (secret, expected) in [(Some(secret), 200), (None, 403)] {
        let mut again = start_with(&site, secret);
        let (status, page) = get(again.addr(), &format!("/requests/{respond}"));
        assert_eq!(status, expected, "{secret:?}: {page}");
        interrupt(&mut again);
    }
}

/// Listen to the reload events; each `data:` line arrives on the channel.
fn events(addr: &str) -> mpsc::Receiver<String> {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /__mentorsite/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(s).lines().map_while(Result::ok) {
            if let Some(data) = line.strip_prefix("data:")
                && tx.send(data.trim().to_string()).is_err()
            {
                return;
            }
        }
    });
    // The subscription is made when the response starts; give it a moment.
    std::thread::sleep(Duration::from_millis(200));
    rx
}

/// Wait (bounded) for the next reload signal.
fn reload_within(rx: &mpsc::Receiver<String>, what: &str) {
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("no reload signal within 10 s after {what}"));
}

/// Save a file the way editors do: write a temporary file beside it, then rename it over.
fn save(site: &Site, rel: &str, text: &str) {
    let path = site.path(rel);
    let tmp = path.with_file_name(".tmp-save");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

#[test]
fn serve_rebuilds_on_save_reloads_the_tab_and_shows_problems_over_the_last_good_site() {
    let site = Site::demo();
    let server = start(&site);
    let (_, page) = get(server.addr(), "/mentors/grace-obi/");
    assert!(
        page.contains("<script src=\"/__mentorsite/live.js\"></script></body>"),
        "the reload script is in every page served"
    );
    let rx = events(server.addr());

    // An edit: the page is rebuilt and the tab told to reload.
    let bio = "content/mentors/grace-obi.md";
    let good = site.read(bio);
    save(&site, bio, &good.replace("Grace Obi", "Grace Obi-Mensah"));
    reload_within(&rx, "an edit");
    let (status, page) = get(server.addr(), "/mentors/grace-obi/");
    assert_eq!(status, 200);
    assert!(
        page.contains("Grace Obi-Mensah"),
        "the rebuilt page is served"
    );
    let (_, home) = get(server.addr(), "/");
    assert!(
        home.contains("Grace Obi-Mensah"),
        "and the register with it"
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "one save, one reload"
    );

    // A broken bio: the problems show over the last good page, as `check` words them.
    let broken = good.replace("name: Grace Obi", "name: Grace Obi\nname: Again");
    save(&site, bio, &broken);
    reload_within(&rx, "a broken save");
    let check = site.run(&["check"]);
    let first_line = check.stderr.lines().next().unwrap().to_string();
    assert!(
        first_line.starts_with("content/mentors/grace-obi.md:"),
        "{first_line}"
    );
    let (status, page) = get(server.addr(), "/mentors/grace-obi/");
    assert_eq!(status, 200, "the last good site is still served");
    assert!(page.contains("Grace Obi-Mensah"), "the last good page");
    assert!(
        page.contains("id=\"mentorsite-problems\""),
        "the problems panel"
    );
    assert!(
        page.contains(&first_line),
        "the same message as check: {first_line}\n{page}"
    );
    let (_, other) = get(server.addr(), "/handbook/");
    assert!(other.contains("mentorsite-problems"), "on every page");

    // Fixed: the panel goes.
    save(&site, bio, &good);
    reload_within(&rx, "the fix");
    let (_, page) = get(server.addr(), "/mentors/grace-obi/");
    assert!(!page.contains("mentorsite-problems"));
    assert!(page.contains("Grace Obi") && !page.contains("Grace Obi-Mensah"));

    // Deleted: the page is gone, and the register no longer lists it.
    site.remove(bio);
    reload_within(&rx, "a deletion");
    let (status, _) = get(server.addr(), "/mentors/grace-obi/");
    assert_eq!(status, 404);
    let (_, home) = get(server.addr(), "/");
    assert!(!home.contains("/mentors/grace-obi/"));

    // A template edit renders every page again.
    let base = "themes/default/templates/base.html";
    let template = site.read(base);
    save(
        &site,
        base,
        &template.replace("not an emergency service", "not a crisis line"),
    );
    reload_within(&rx, "a template edit");
    for path in ["/", "/mentors/amara-okafor/", "/handbook/"] {
        let (_, page) = get(server.addr(), path);
        assert!(page.contains("not a crisis line"), "{path} re-rendered");
    }

    // An editor's swap file changes nothing and reloads nothing.
    std::fs::write(site.path("content/mentors/.amara-okafor.md.swp"), "x").unwrap();
    assert!(
        rx.recv_timeout(Duration::from_millis(800)).is_err(),
        "no reload for a swap file"
    );

    // Ctrl-C stops it, even with a tab listening for reloads.
    let mut server = server;
    assert!(interrupt(&mut server).success());
}
