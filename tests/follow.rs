//! `mentorsite endpoint --follow`: the real service following a git clone of a local bare
//! repository on loopback, with pushes from an admin's clone, signed and unsigned push hooks,
//! and a real SMTP sink. Every wait is bounded; every process started is stopped.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::smtp::{SmtpSink, to_of};
use common::{Running, Site};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SECRET: &str = "a webhook secret for the follow tests";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Scheme Admin",
            "-c",
            "user.email=admin@example.org",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The origin (bare), the admin's clone (the doctors fixture, mail to `smtp_port`) and the
/// service's clone of it.
struct Repos {
    _origin: tempfile::TempDir,
    origin: std::path::PathBuf,
    admin: Site,
    service: tempfile::TempDir,
}

impl Repos {
    fn new(smtp_port: u16) -> Repos {
        let origin_dir = tempfile::tempdir().unwrap();
        let origin = origin_dir.path().join("scheme.git");
        std::fs::create_dir_all(&origin).unwrap();
        git(&origin, &["init", "--quiet", "--bare"]);
        let admin = Site::fixture("doctors");
        let toml = admin.read("site.toml")
            + &format!(
                "\n[email]\nfrom = \"Fixture Scheme <no-reply@example.org>\"\ntransport = \"smtp\"\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nusername = \"\"\ntls = \"none\"\n"
            );
        admin.write("site.toml", &toml);
        admin.write(".gitignore", "/data\n/outbox\n/public\n");
        git(admin.root(), &["init", "--quiet", "-b", "main"]);
        git(admin.root(), &["add", "-A"]);
        git(admin.root(), &["commit", "--quiet", "-m", "The scheme"]);
        git(
            admin.root(),
            &["remote", "add", "origin", origin.to_str().unwrap()],
        );
        git(admin.root(), &["push", "--quiet", "origin", "main"]);
        let service = tempfile::tempdir().unwrap();
        git(
            service.path(),
            &["clone", "--quiet", origin.to_str().unwrap(), "site"],
        );
        Repos {
            _origin: origin_dir,
            origin,
            admin,
            service,
        }
    }

    fn service_root(&self) -> std::path::PathBuf {
        self.service.path().join("site")
    }

    /// Commit everything in the admin's clone and push it; the new commit.
    fn push(&self, message: &str) -> String {
        git(self.admin.root(), &["add", "-A"]);
        git(self.admin.root(), &["commit", "--quiet", "-m", message]);
        git(self.admin.root(), &["push", "--quiet", "origin", "main"]);
        let sha = git(self.admin.root(), &["rev-parse", "HEAD"]);
        assert_eq!(git(&self.origin, &["rev-parse", "main"]), sha);
        sha
    }

    fn start(&self, env: &[(&str, &str)]) -> Running {
        self.start_at(&self.service_root(), env)
    }

    fn start_at(&self, root: &Path, env: &[(&str, &str)]) -> Running {
        let mut cmd = common::mentorsite(&[
            "endpoint",
            "--follow",
            "--port",
            "0",
            "--root",
            root.to_str().unwrap(),
        ])
        .env(
            "MENTORSITE_SECRET",
            "a follow test key, thirty-two bytes or more",
        )
        .env("MENTORSITE_RETRY_BASE_SECONDS", "1")
        .env("MENTORSITE_RATE_PER_MINUTE", "1000");
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd.serve("Request service listening at ")
    }
}

const NEW_MENTOR: &str = "---\nname: Noor Haddad\nheadshot: false\nemail: noor@private.example.net\ngrade: consultant\nspecialty: Anaesthetics\nmeeting: [video]\n---\n\nJoined this week.\n";

/// One HTTP/1.1 exchange; the status and the body.
fn http(url: &str, head: &str, body: &[u8]) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "{head}Host: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn request_for(url: &str, mentor: &str) -> u16 {
    let body = serde_urlencoded::to_string([
        ("mentor", mentor),
        ("name", "Sam Lee"),
        ("email", "sam@mentee.example.net"),
        ("message", "Hoping to talk about coming back."),
        ("mode", "video"),
        ("consent", "yes"),
    ])
    .unwrap();
    http(
        url,
        "POST /requests HTTP/1.1\r\nOrigin: https://mentors.example.org\r\nContent-Type: application/x-www-form-urlencoded\r\n",
        body.as_bytes(),
    )
    .0
}

fn content_of(url: &str) -> String {
    let (status, body) = http(url, "GET /healthz HTTP/1.1\r\n", b"");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["content"].as_str().unwrap_or_default().to_string()
}

/// Wait (at most `within`) until `/healthz` names `sha`.
fn wait_for_content(ep: &Running, sha: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while content_of(&ep.url) != sha {
        assert!(
            Instant::now() < deadline,
            "still serving {} after {within:?}, not {sha}; log:\n{}",
            content_of(&ep.url),
            ep.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn github_hook(url: &str, body: &[u8], secret: &str) -> u16 {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    http(
        url,
        &format!(
            "POST /hooks/push HTTP/1.1\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: sha256={hex}\r\n"
        ),
        body,
    )
    .0
}

#[test]
fn a_push_and_a_signed_hook_bring_a_new_mentor_who_can_be_requested() {
    let sink = SmtpSink::start(0);
    let repos = Repos::new(sink.port);
    let first = git(repos.admin.root(), &["rev-parse", "HEAD"]);
    // A long period: only the hook can make it follow in time.
    let ep = repos.start(&[
        ("MENTORSITE_WEBHOOK_SECRET", SECRET),
        ("MENTORSITE_FOLLOW_SECONDS", "3600"),
    ]);
    wait_for_content(&ep, &first, Duration::from_secs(10));

    repos
        .admin
        .write("content/mentors/noor-haddad.md", NEW_MENTOR);
    let second = repos.push("Add Noor Haddad");
    let body = br#"{"ref":"refs/heads/main","after":"..."}"#;

    // A wrong signature, and none at all: 401, and nothing changes.
    assert_eq!(github_hook(&ep.url, body, "not the secret"), 401);
    let (status, _) = http(
        &ep.url,
        "POST /hooks/push HTTP/1.1\r\nContent-Type: application/json\r\n",
        body,
    );
    assert_eq!(status, 401);
    let (status, _) = http(
        &ep.url,
        "POST /hooks/push HTTP/1.1\r\nX-Gitlab-Token: not the secret\r\n",
        body,
    );
    assert_eq!(status, 401);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        content_of(&ep.url),
        first,
        "an unsigned hook changes nothing"
    );
    assert!(
        !ep.log().contains("refs/heads/main"),
        "the body is never logged"
    );

    // The signed hook: 202, and the service follows.
    assert_eq!(github_hook(&ep.url, body, SECRET), 202);
    wait_for_content(&ep, &second, Duration::from_secs(30));
    assert_eq!(request_for(&ep.url, "noor-haddad"), 303);
    let mails = sink.wait_for(3, Duration::from_secs(20));
    assert!(
        mails.iter().any(|m| to_of(m) == "noor@private.example.net"),
        "the new mentor is mailed at their address: {mails:#?}"
    );
    // GitLab's form of the hook works too.
    let (status, _) = http(
        &ep.url,
        &format!("POST /hooks/push HTTP/1.1\r\nX-Gitlab-Token: {SECRET}\r\n"),
        body,
    );
    assert_eq!(status, 202);
    ep.stop();
}

#[test]
fn a_broken_push_keeps_the_last_good_register_and_the_admin_is_told_once() {
    let sink = SmtpSink::start(0);
    let repos = Repos::new(sink.port);
    let good = git(repos.admin.root(), &["rev-parse", "HEAD"]);
    let ep = repos.start(&[
        ("MENTORSITE_WEBHOOK_SECRET", SECRET),
        ("MENTORSITE_FOLLOW_SECONDS", "3600"),
    ]);
    wait_for_content(&ep, &good, Duration::from_secs(10));
    repos.admin.write(
        "content/mentors/noor-haddad.md",
        "---\nname: Noor Haddad\nemail: [noor@private.example.net\n---\n\nBroken.\n",
    );
    let bad = repos.push("Add Noor, with a typo");
    for _ in 0..3 {
        assert_eq!(github_hook(&ep.url, b"{}", SECRET), 202);
        std::thread::sleep(Duration::from_millis(700));
    }
    let mails = sink.wait_for(1, Duration::from_secs(20));
    // Give further (wrong) mails time to arrive.
    std::thread::sleep(Duration::from_secs(2));
    let mails_now = sink.mails();
    assert_eq!(
        mails_now.len(),
        1,
        "told once, not once per attempt: {mails:#?}"
    );
    let mail = &mails_now[0];
    assert_eq!(to_of(mail), "admin@example.org");
    let text = mail.replace("=\r\n", "").replace("=3D", "=");
    assert!(text.contains(&bad), "names the commit");
    assert!(
        text.contains("content/mentors/noor-haddad.md:3:"),
        "names the file, line and column:\n{text}"
    );
    assert_eq!(content_of(&ep.url), good, "the last good register stays");
    assert_eq!(
        git(&repos.service_root(), &["rev-parse", "HEAD"]),
        good,
        "the working tree is back at what is served"
    );
    assert_eq!(request_for(&ep.url, "dr-ada-bundle"), 303, "requests go on");
    ep.stop();
}

#[test]
fn the_periodic_follow_finds_a_push_without_a_hook_and_a_paused_mentor_stops_taking_requests() {
    let sink = SmtpSink::start(0);
    let repos = Repos::new(sink.port);
    // No webhook secret: the hook route is off, and only the period follows.
    let ep = repos.start(&[("MENTORSITE_FOLLOW_SECONDS", "1")]);
    let (status, _) = http(
        &ep.url,
        &format!("POST /hooks/push HTTP/1.1\r\nX-Gitlab-Token: {SECRET}\r\n"),
        b"{}",
    );
    assert_eq!(status, 404, "no secret, no hook");
    assert_eq!(request_for(&ep.url, "dr-ada-bundle"), 303);
    let bio = repos.admin.read("content/mentors/dr-ada-bundle/index.md");
    repos.admin.write(
        "content/mentors/dr-ada-bundle/index.md",
        &bio.replace("headshot: false", "headshot: false\naccepting: false"),
    );
    let paused = repos.push("Pause Ada while she is on leave");
    wait_for_content(&ep, &paused, Duration::from_secs(30));
    assert_eq!(
        request_for(&ep.url, "dr-ada-bundle"),
        409,
        "a paused mentor takes no more requests"
    );
    ep.stop();
}

#[test]
fn a_request_for_a_mentor_pushed_but_not_followed_is_not_lost() {
    let sink = SmtpSink::start(0);
    let repos = Repos::new(sink.port);
    let first = git(repos.admin.root(), &["rev-parse", "HEAD"]);
    let ep = repos.start(&[("MENTORSITE_FOLLOW_SECONDS", "3600")]);
    wait_for_content(&ep, &first, Duration::from_secs(10));
    repos
        .admin
        .write("content/mentors/noor-haddad.md", NEW_MENTOR);
    let second = repos.push("Add Noor Haddad");
    // The site is published with Noor before the service has followed: a mentee's request
    // makes it follow, and is taken.
    assert_eq!(request_for(&ep.url, "noor-haddad"), 303);
    assert_eq!(content_of(&ep.url), second);
    let mails = sink.wait_for(3, Duration::from_secs(20));
    assert!(mails.iter().any(|m| to_of(m) == "noor@private.example.net"));
    // A slug that is on no commit is still 404, and does not make it fetch again at once.
    assert_eq!(request_for(&ep.url, "nobody-at-all"), 404);
    ep.stop();
}

#[test]
fn the_first_start_clones_the_repository_into_an_empty_volume() {
    let sink = SmtpSink::start(0);
    let repos = Repos::new(sink.port);
    let sha = git(repos.admin.root(), &["rev-parse", "HEAD"]);
    let volume = tempfile::tempdir().unwrap();
    let root = volume.path().join("scheme");
    let ep = repos.start_at(
        &root,
        &[
            ("MENTORSITE_REPOSITORY", repos.origin.to_str().unwrap()),
            ("MENTORSITE_FOLLOW_SECONDS", "3600"),
        ],
    );
    assert_eq!(content_of(&ep.url), sha);
    assert!(root.join("site.toml").is_file());
    assert_eq!(request_for(&ep.url, "dr-ada-bundle"), 303);
    assert!(
        root.join("data/requests.sqlite").is_file(),
        "the database lives in the volume"
    );
    let list = common::mentorsite(&["requests", "list", "--root", root.to_str().unwrap()]).run();
    list.assert_code(0);
    assert!(
        list.stdout.starts_with(&format!("Content: commit {sha} ")),
        "requests list names the commit in use: {}",
        list.stdout
    );
    ep.stop();
    // A folder that holds something else is not cloned over.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("notes.txt"), "mine").unwrap();
    let out = common::mentorsite(&[
        "endpoint",
        "--follow",
        "--port",
        "0",
        "--root",
        other.path().to_str().unwrap(),
    ])
    .env(
        "MENTORSITE_SECRET",
        "a follow test key, thirty-two bytes or more",
    )
    .env("MENTORSITE_REPOSITORY", repos.origin.to_str().unwrap())
    .run();
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("is not empty and has no site.toml"),
        "{}",
        out.stderr
    );
}

/// The site workflow's last step, run as GitHub would run it (bash, curl, openssl), against
/// the real service: the signature it makes is one the service takes.
#[test]
fn the_site_workflow_s_hook_step_makes_the_service_follow() {
    let tools = [
        ("bash", "--version"),
        ("curl", "--version"),
        ("openssl", "version"),
    ]
    .iter()
    .all(|(t, v)| {
        Command::new(t)
            .arg(v)
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !tools {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have bash, curl and openssl (.ci/run)"
        );
        eprintln!("skipped: bash, curl or openssl is missing");
        return;
    }
    let wf: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(common::repo().join(".github/workflows/site.yml")).unwrap(),
    )
    .unwrap();
    let script = wf["jobs"]["notify"]["steps"][0]["run"]
        .as_str()
        .unwrap()
        .to_string();
    let sink = SmtpSink::start(0);
    let repos = Repos::new(sink.port);
    let ep = repos.start(&[
        ("MENTORSITE_WEBHOOK_SECRET", SECRET),
        ("MENTORSITE_FOLLOW_SECONDS", "3600"),
    ]);
    repos
        .admin
        .write("content/mentors/noor-haddad.md", NEW_MENTOR);
    let pushed = repos.push("Add Noor Haddad");
    let run = |secret: &str| {
        Command::new("bash")
            .args(["-e", "-c", &script])
            .env("MENTORSITE_SERVICE_URL", format!("{}/", ep.url))
            .env("MENTORSITE_WEBHOOK_SECRET", secret)
            .env("GITHUB_REF", "refs/heads/main")
            .env("GITHUB_SHA", &pushed)
            .output()
            .unwrap()
    };
    let wrong = run("not the secret");
    assert!(!wrong.status.success(), "a wrong secret fails the step");
    let right = run(SECRET);
    assert!(
        right.status.success(),
        "{}",
        String::from_utf8_lossy(&right.stderr)
    );
    wait_for_content(&ep, &pushed, Duration::from_secs(30));
    ep.stop();
}

/// An admin commits the service's own database by mistake: the commit is refused before the
/// working tree changes, so no stored request is lost, and the admin is told how to fix it.
/// Unsigned hooks, however many, do not use up the signed ones' allowance.
#[test]
fn a_push_that_carries_the_database_is_refused_and_nothing_stored_is_lost() {
    let sink = SmtpSink::start(0);
    let repos = Repos::new(sink.port);
    let good = git(repos.admin.root(), &["rev-parse", "HEAD"]);
    let ep = repos.start(&[
        ("MENTORSITE_WEBHOOK_SECRET", SECRET),
        ("MENTORSITE_FOLLOW_SECONDS", "3600"),
    ]);
    assert_eq!(request_for(&ep.url, "dr-ada-bundle"), 303);
    sink.wait_for(3, Duration::from_secs(20));
    let db = repos.service_root().join("data/requests.sqlite");
    let before = std::fs::metadata(&db).unwrap().len();
    // The admin's clone ignores nothing and commits a stray database file.
    repos.admin.write(".gitignore", "");
    repos
        .admin
        .write("data/requests.sqlite", "junk committed by mistake");
    let bad = repos.push("Oops: the database");
    for _ in 0..35 {
        let (status, _) = http(&ep.url, "POST /hooks/push HTTP/1.1\r\n", b"x");
        assert_eq!(status, 401);
    }
    assert_eq!(
        github_hook(&ep.url, b"{}", SECRET),
        202,
        "unsigned posts used up nothing"
    );
    let mails = sink.wait_for(4, Duration::from_secs(20));
    let notice = mails
        .iter()
        .find(|m| m.contains(&bad))
        .expect("the admin is told");
    let text = notice.replace("=\r\n", "").replace("=3D", "=");
    assert!(text.contains("data/requests.sqlite"), "{text}");
    assert!(text.contains("git rm -r --cached"), "{text}");
    assert_eq!(content_of(&ep.url), good);
    assert!(
        std::fs::metadata(&db).unwrap().len() >= before,
        "the database is untouched"
    );
    let list = common::mentorsite(&[
        "requests",
        "list",
        "--root",
        repos.service_root().to_str().unwrap(),
    ])
    .run();
    list.assert_code(0);
    assert!(list.stdout.contains("1 request"), "{}", list.stdout);
    assert_eq!(
        request_for(&ep.url, "dr-ada-bundle"),
        303,
        "and it goes on taking requests"
    );
    ep.stop();
}
