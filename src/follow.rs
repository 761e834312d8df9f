//! `mentorsite endpoint --follow`: the request service follows the repository the admins push
//! to, so one push updates both halves of the scheme.
//!
//! The site root is a git clone. A follow fetches its branch from `origin`; a new commit is
//! checked out and checked exactly as `mentorsite check` does. Only a clean register replaces
//! the one in use (one swap, between requests); a commit that fails the check is undone in the
//! working tree, the last good register stays, and the admin inbox is told once per commit,
//! with each problem's file, line and column.
//!
//! Git is the `git` program, not a library: it is on every server and in every CI image, it
//! already knows the deploy key or token the machine was given (`GIT_SSH_COMMAND`, a
//! credential helper, an `https://token@…` remote), and it adds nothing to the build. Every
//! call has a time limit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::requests::directory::Directory;
use crate::site::{self, BuildOptions, SiteError};

/// The longest one git command may take (a fetch over a slow link included).
const GIT_LIMIT: Duration = Duration::from_secs(60);
/// A request for an unknown mentor makes the service follow at most this often.
pub const UNKNOWN_MENTOR_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(
        "{root} is not a git clone ({detail}); `endpoint --follow` needs the site root to be one (git clone <repository> {root})"
    )]
    NotAClone { root: String, detail: String },
    #[error("git {args}: {detail}")]
    Git { args: String, detail: String },
}

/// What a follow found.
#[derive(Debug)]
pub enum Followed {
    /// The branch has not moved.
    Unchanged,
    /// A new commit passed the check and is in use.
    Updated { from: String, to: String },
    /// A new commit failed the check: the last good register stays. `first` is true the first
    /// time this commit is seen (the admin is told then, and only then).
    Rejected {
        commit: String,
        problems: String,
        first: bool,
    },
}

pub struct Follower {
    root: PathBuf,
    branch: String,
    /// The commit in use.
    serving: RwLock<String>,
    /// The last commit refused and reported, so each bad push is reported once.
    reported: Mutex<Option<String>>,
    /// When a request for an unknown mentor last made the service follow.
    last_forced: Mutex<Option<Instant>>,
    /// One follow at a time.
    busy: Mutex<()>,
    directory: Arc<Directory>,
    /// Paths under the root that hold the service's own state (the request database, the
    /// outbox folder): a commit that tracks any of them is never checked out, or `reset`
    /// would overwrite (or, going back, delete) them.
    state: Vec<String>,
}

impl Follower {
    /// Follow the clone at `root`, whose checked-out commit is in use now. `state` lists the
    /// service's own files and folders (absolute, or relative to `root`); those inside the
    /// root must never be in a commit.
    pub fn new(
        root: &Path,
        directory: Arc<Directory>,
        state: &[PathBuf],
    ) -> Result<Follower, FollowError> {
        let not_a_clone = |e: FollowError| FollowError::NotAClone {
            root: root.display().to_string(),
            detail: e.to_string(),
        };
        let serving = git(root, &["rev-parse", "HEAD"]).map_err(not_a_clone)?;
        let branch = git(root, &["rev-parse", "--abbrev-ref", "HEAD"]).map_err(not_a_clone)?;
        if branch == "HEAD" {
            return Err(FollowError::NotAClone {
                root: root.display().to_string(),
                detail: "no branch is checked out (a detached HEAD)".into(),
            });
        }
        git(root, &["remote", "get-url", "origin"]).map_err(not_a_clone)?;
        Ok(Follower {
            root: root.to_path_buf(),
            branch,
            serving: RwLock::new(serving),
            reported: Mutex::new(None),
            last_forced: Mutex::new(None),
            busy: Mutex::new(()),
            directory,
            state: state
                .iter()
                .filter_map(|p| {
                    let rel = if p.is_absolute() {
                        p.strip_prefix(root).ok()?
                    } else {
                        p.as_path()
                    };
                    Some(rel.to_string_lossy().replace('\\', "/"))
                })
                .filter(|p| !p.is_empty())
                .collect(),
        })
    }

    /// The commit whose register is in use.
    pub fn serving(&self) -> String {
        self.serving.read().clone()
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// Fetch, and take the branch's new commit if it passes the check. Blocking.
    pub fn follow(&self) -> Result<Followed, FollowError> {
        let _one = self.busy.lock();
        git(&self.root, &["fetch", "--quiet", "origin", &self.branch])?;
        let tip = git(&self.root, &["rev-parse", "FETCH_HEAD"])?;
        let from = self.serving();
        if tip == from {
            return Ok(Followed::Unchanged);
        }
        // A commit that carries the service's own files (a database committed by mistake) is
        // refused before anything in the working tree changes.
        let mut args = vec!["ls-tree", "-r", "--name-only", tip.as_str(), "--"];
        let patterns: Vec<String> = self
            .state
            .iter()
            .flat_map(|p| {
                [
                    p.clone(),
                    format!("{p}-wal"),
                    format!("{p}-shm"),
                    format!("{p}-journal"),
                ]
            })
            .collect();
        args.extend(patterns.iter().map(String::as_str));
        let tracked = git(&self.root, &args)?;
        if !tracked.is_empty() {
            let first = self.reported.lock().as_deref() != Some(tip.as_str());
            let files: Vec<&str> = tracked.lines().collect();
            return Ok(Followed::Rejected {
                problems: format!(
                    "{}: error: the commit holds the request service's own data ({}), which the \
service keeps beside the content and would lose if it took this commit\n  = help: remove it \
from the repository (`git rm -r --cached {}`), add it to .gitignore, commit and push\n",
                    files[0],
                    files.join(", "),
                    self.state.join(" ")
                ),
                commit: tip,
                first,
            });
        }
        git(&self.root, &["reset", "--quiet", "--hard", &tip])?;
        let opts = BuildOptions {
            root: self.root.clone(),
            ..BuildOptions::default()
        };
        let checked = site::check(&opts).and_then(|_| site::prepare(&opts));
        match checked {
            Ok(prepared) => {
                self.directory
                    .reload(&prepared.register, &prepared.config.base_url);
                *self.serving.write() = tip.clone();
                Ok(Followed::Updated { from, to: tip })
            }
            Err(e) => {
                // The working tree goes back to what is served, so a restart serves it too.
                git(&self.root, &["reset", "--quiet", "--hard", &from])?;
                let problems = match e {
                    SiteError::Content(diags) => diags.render_report(&self.root),
                    other => other.to_string(),
                };
                let first = self.reported.lock().as_deref() != Some(tip.as_str());
                Ok(Followed::Rejected {
                    commit: tip,
                    problems,
                    first,
                })
            }
        }
    }

    /// Record that the admin was told of `commit` (after the mail went).
    pub fn reported(&self, commit: &str) {
        *self.reported.lock() = Some(commit.to_string());
    }

    /// Whether a request for an unknown mentor may make the service follow now (at most
    /// once a [`UNKNOWN_MENTOR_EVERY`]); if so, the time is taken.
    pub fn may_follow_for_unknown_mentor(&self) -> bool {
        let mut last = self.last_forced.lock();
        if last.is_some_and(|t| t.elapsed() < UNKNOWN_MENTOR_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

/// Clone `repository` (its `branch`, or its default one) into `root`, which must not exist
/// yet: the first start of a container or a server, given `MENTORSITE_REPOSITORY`.
pub fn clone_into(root: &Path, repository: &str, branch: Option<&str>) -> Result<(), FollowError> {
    let parent = root.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| FollowError::Git {
        args: "clone".into(),
        detail: format!("cannot create {}: {e}", parent.display()),
    })?;
    let target = root.to_string_lossy().to_string();
    let mut args = vec!["clone", "--quiet"];
    if let Some(b) = branch {
        args.extend(["--branch", b]);
    }
    args.extend(["--", repository, target.as_str()]);
    // The repository's address may hold a token: errors name the folder, not the address.
    git(parent, &args).map_err(|e| match e {
        FollowError::Git { detail, .. } => FollowError::Git {
            args: format!("clone (MENTORSITE_REPOSITORY) into {target}"),
            detail: detail.replace(repository, "<MENTORSITE_REPOSITORY>"),
        },
        other => other,
    })?;
    Ok(())
}

/// Run `git -C root args…`, bounded by [`GIT_LIMIT`]; its trimmed standard output.
fn git(root: &Path, args: &[&str]) -> Result<String, FollowError> {
    let failed = |detail: String| FollowError::Git {
        args: args.join(" "),
        detail,
    };
    let mut child = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        // Never wait for a password on a terminal nobody watches.
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run git ({e}); install git")))?;
    let deadline = Instant::now() + GIT_LIMIT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!(
                    "no answer within {} s",
                    GIT_LIMIT.as_secs()
                )));
            }
            Err(e) => return Err(failed(e.to_string())),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// The email that tells the admin a push was not taken.
pub fn rejection_letter(commit: &str, branch: &str, problems: &str) -> (String, String) {
    let short = &commit[..commit.len().min(10)];
    let subject = format!("A push to {branch} was not taken by the request service ({short})");
    let text = format!(
        "The request service fetched commit {commit} of {branch}, and `mentorsite check` found \
problems in it, so the service goes on using the last commit that passed. The site's own build \
fails at the same step, so the published register has not changed either.\n\n\
Fix each problem below, commit and push; the service takes the next commit that passes.\n\n\
{problems}\n\
You get this email once for each commit that is not taken.\n"
    );
    (subject, text)
}
