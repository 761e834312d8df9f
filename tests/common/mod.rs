//! Test helpers: fixture sites copied into a temporary folder, and the real `mentorsite`
//! binary run over them with a small chainable builder.
#![allow(dead_code)]

pub mod smtp;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// 2026-11-22 12:00 UTC: the day every test build is judged on (`away_until` and so on).
pub const TODAY_EPOCH: &str = "1795348800";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A site root in a temporary folder, removed when dropped.
pub struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    /// Copy `tests/fixtures/<layer>` for each layer in order (later layers overwrite earlier
    /// files), then the repository's `themes/`.
    pub fn from_layers(layers: &[&str]) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        for layer in layers {
            copy_tree(&repo().join("tests/fixtures").join(layer), dir.path());
        }
        copy_tree(&repo().join("themes"), &dir.path().join("themes"));
        Site { dir }
    }

    pub fn fixture(name: &str) -> Site {
        Site::from_layers(&[name])
    }

    /// The repository's own demo scheme.
    pub fn demo() -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        for part in ["content", "themes"] {
            copy_tree(&repo().join(part), &dir.path().join(part));
        }
        std::fs::copy(repo().join("site.toml"), dir.path().join("site.toml")).unwrap();
        Site { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path(rel)).unwrap();
    }

    /// `mentorsite <args> --root <this site>`.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        let root = self.root().to_str().unwrap().to_string();
        all.extend(["--root", &root]);
        mentorsite(&all).run()
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub struct Cmd {
    cmd: Command,
}

pub fn mentorsite(args: &[&str]) -> Cmd {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mentorsite"));
    cmd.args(args).env("SOURCE_DATE_EPOCH", TODAY_EPOCH);
    Cmd { cmd }
}

impl Cmd {
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Start a server and wait (at most 30 s) for the line beginning with `ready` that names
    /// its address. Its standard output lines arrive on `lines`, its log collects in `log`.
    pub fn serve(mut self, ready: &str) -> Running {
        let child = self
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mentorsite");
        let (tx, lines) = mpsc::channel();
        // Owned by `Running` from here on, so a failed assertion still kills the process.
        let mut running = Running {
            child,
            url: String::new(),
            lines,
            log: Arc::new(Mutex::new(String::new())),
        };
        let mut stderr = running.child.stderr.take().unwrap();
        let log = running.log.clone();
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
        let stdout = running.child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = running
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no `{ready}` line within 30 s: {}", running.log()));
            if let Some(rest) = line.strip_prefix(ready) {
                let url = rest.split_whitespace().next().unwrap_or_default();
                running.url = url.trim_end_matches('/').to_string();
                return running;
            }
        }
    }

    pub fn run(mut self) -> Output {
        let out = self.cmd.output().expect("run mentorsite");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Every file under `dir`, relative path → bytes, sorted.
pub fn read_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// A server started by [`Cmd::serve`]; killed when dropped.
pub struct Running {
    pub child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub lines: mpsc::Receiver<String>,
    pub log: Arc<Mutex<String>>,
}

impl Running {
    /// `127.0.0.1:<port>`
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Stop as a service manager does (SIGTERM), so what it sent is recorded; killed if it
    /// is not gone within 10 s.
    #[allow(dead_code)]
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
