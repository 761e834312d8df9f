//! The deployment recipes, tested as far as this machine allows: the CI workflow is valid
//! YAML and runs the README's commands; the container and systemd recipes start the binary
//! with arguments it accepts, as a non-root user, with the database on writable storage.

mod common;

use std::process::Command;

use serde_json::Value;

fn repo_file(rel: &str) -> String {
    std::fs::read_to_string(common::repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Run the binary with `args` (no secret set) and return its stderr.
fn stderr_of(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mentorsite"))
        .args(args)
        .env_remove("MENTORSITE_SECRET")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The endpoint command line must get past argument parsing: the first complaint is the
/// missing secret, not a usage error.
fn assert_endpoint_args_accepted(args: &[&str]) {
    let err = stderr_of(args);
    assert!(
        err.contains("MENTORSITE_SECRET is not set") && !err.contains("Usage:"),
        "{args:?}: {err}"
    );
}

#[test]
fn the_workflow_is_valid_yaml_and_runs_the_readme_commands() {
    let text = repo_file(".github/workflows/site.yml");
    let wf: Value = serde_saphyr::from_str(&text).expect("valid YAML");
    // YAML 1.2: `on` is a key, not the boolean true.
    let on = &wf["on"];
    assert!(on["push"].is_object(), "runs on push: {on}");
    let cron = on["schedule"][0]["cron"]
        .as_str()
        .expect("a nightly schedule");
    assert_eq!(cron.split_whitespace().count(), 5, "{cron}");
    assert!(
        cron.split_whitespace().skip(2).all(|f| f == "*"),
        "every day: {cron}"
    );

    let steps = wf["jobs"]["build"]["steps"]
        .as_array()
        .expect("build steps");
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(runs.contains(&"mentorsite check") && runs.contains(&"mentorsite build"));
    assert!(
        runs.iter().all(|r| !r.contains("cargo ")),
        "the site workflow downloads mentorsite, it does not compile it"
    );
    let env = &wf["env"];
    let version = env["MENTORSITE_VERSION"]
        .as_str()
        .expect("a pinned version");
    assert_eq!(
        version.trim_start_matches('v'),
        env!("CARGO_PKG_VERSION"),
        "the workflow pins this version's release"
    );
    // After publishing, the request service is told (when the scheme has one).
    let notify = &wf["jobs"]["notify"];
    assert_eq!(notify["needs"], "deploy");
    let script = notify["steps"][0]["run"].as_str().unwrap();
    assert!(script.contains("X-Hub-Signature-256: sha256=") && script.contains("/hooks/push"));
    assert_eq!(
        notify["steps"][0]["env"]["MENTORSITE_WEBHOOK_SECRET"],
        "${{ secrets.MENTORSITE_WEBHOOK_SECRET }}",
        "the secret is a repository secret"
    );
    let readme = repo_file("README.md");
    for run in &runs {
        for line in run.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                readme.lines().any(|r| r.trim() == line.trim()),
                "the README gives `{line}` as a command line of its own"
            );
        }
    }
    // What it publishes is what `build` writes.
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-pages-artifact"))
        })
        .expect("an upload step");
    assert_eq!(upload["with"]["path"], "public");
    let demo: toml::Value = toml::from_str(&repo_file("site.toml")).unwrap();
    let output_dir = demo
        .get("output_dir")
        .and_then(|v| v.as_str())
        .unwrap_or("public");
    assert_eq!(output_dir, "public");
    assert!(wf["jobs"]["deploy"]["needs"] == "build");
}

#[test]
fn the_container_runs_the_endpoint_as_a_non_root_user_with_a_data_volume() {
    let file = repo_file("deploy/Dockerfile");
    let lines: Vec<&str> = file
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let user = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "runs as {user}");
    assert!(
        lines.contains(&r#"VOLUME ["/srv/site"]"#),
        "the clone and its database live on a volume"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("COPY content") || l.starts_with("COPY site.toml")),
        "the image holds the program, not the content"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("install") && l.contains(" git")),
        "git is in the image"
    );
    assert!(lines.contains(&"EXPOSE 8080"));

    // The command and the health check are arguments the binary accepts.
    // The last CMD is the container's command (the health check's comes before it).
    let line = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("CMD "))
        .expect("a CMD line");
    let cmd: Vec<String> = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(cmd[0], "mentorsite");
    let args: Vec<&str> = cmd[1..].iter().map(String::as_str).collect();
    assert!(args.windows(2).any(|w| w == ["--port", "8080"]));
    assert!(args.windows(2).any(|w| w == ["--bind", "0.0.0.0"]));
    assert!(
        args.contains(&"--follow"),
        "the container follows the repository"
    );
    assert!(args.windows(2).any(|w| w == ["--root", "/srv/site/scheme"]));
    assert_endpoint_args_accepted(&args);

    let health = lines
        .iter()
        .position(|l| l.starts_with("HEALTHCHECK"))
        .expect("a HEALTHCHECK");
    let health_cmd = lines[health + 1]
        .strip_prefix("CMD ")
        .expect("the health check's command on the next line");
    let health_args: Vec<String> = serde_json::from_str(health_cmd).unwrap();
    assert_eq!(health_args[..2], ["mentorsite", "healthcheck"]);
    // Against a port nobody listens on it answers "unhealthy" (and exits 1), not a usage error.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut args: Vec<String> = health_args[1..].to_vec();
    let url = args.iter().position(|a| a == "--url").unwrap() + 1;
    assert_eq!(args[url], "http://127.0.0.1:8080/healthz");
    args[url] = format!("http://127.0.0.1:{port}/healthz");
    let out = Command::new(env!("CARGO_BIN_EXE_mentorsite"))
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("unhealthy: "));

    // What the image copies exists.
    for copied in lines.iter().filter_map(|l| l.strip_prefix("COPY ")) {
        if copied.starts_with("--from") {
            continue;
        }
        let parts: Vec<&str> = copied.split_whitespace().collect();
        for src in &parts[..parts.len() - 1] {
            assert!(common::repo().join(src).exists(), "COPY {src}: missing");
        }
    }
}

#[test]
fn the_systemd_unit_is_hardened_and_starts_the_endpoint() {
    let unit = repo_file("deploy/mentorsite-endpoint.service");
    let value = |key: &str| -> Vec<&str> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .collect()
    };
    assert_eq!(value("User"), ["mentorsite"]);
    for (key, expected) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
        ("ReadWritePaths", "/srv/mentoring"),
    ] {
        assert_eq!(value(key), [expected], "{key}");
    }
    let exec = value("ExecStart")[0];
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/mentorsite"));
    let args: Vec<&str> = words.collect();
    assert!(
        args.windows(2)
            .any(|w| w == ["--root", "/srv/mentoring/scheme"]),
        "the clone is under the one writable path"
    );
    assert!(
        args.contains(&"--follow"),
        "the service follows the repository"
    );
    assert_endpoint_args_accepted(&args);

    // systemd's own checker, where the machine has it (CI installs it).
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if analyze.is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have systemd-analyze (see .ci/run)"
        );
        eprintln!("systemd-analyze is not installed here: the unit's syntax was not verified");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("mentorsite-endpoint.service");
    // `verify` insists the program exists: point it at the binary under test.
    let local = unit
        .replace(
            "/usr/local/bin/mentorsite",
            env!("CARGO_BIN_EXE_mentorsite"),
        )
        .replace("EnvironmentFile=/", "EnvironmentFile=-/");
    std::fs::write(&copy, local).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    let complaints: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("mentorsite-endpoint.service"))
        .collect();
    assert!(
        out.status.success() && complaints.is_empty(),
        "systemd-analyze verify: {said}"
    );
}

#[test]
fn the_release_workflow_builds_every_platform_on_a_version_tag() {
    let text = repo_file(".github/workflows/release.yml");
    let wf: Value = serde_saphyr::from_str(&text).expect("valid YAML");
    assert_eq!(wf["on"]["push"]["tags"][0], "v*");
    let targets: Vec<&str> = wf["jobs"]["binaries"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["target"].as_str())
        .collect();
    for t in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "aarch64-apple-darwin",
        "x86_64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        assert!(targets.contains(&t), "{t}");
    }
    let steps = wf["jobs"]["binaries"]["steps"].as_array().unwrap();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("cargo build --release --locked"))
    );
    assert!(runs.iter().any(|r| r.contains("gh release upload")));
    // The name the site workflow downloads is the name this one uploads.
    let site = repo_file(".github/workflows/site.yml");
    assert!(site.contains("mentorsite-x86_64-unknown-linux-gnu.tar.gz"));
    assert!(
        runs.iter()
            .any(|r| r.contains("name=\"mentorsite-${{ matrix.target }}\""))
    );
    let image = &wf["jobs"]["image"]["steps"];
    assert!(
        image
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["with"]["file"] == "deploy/Dockerfile"),
        "the container image is built from the recipe in deploy/"
    );
}
