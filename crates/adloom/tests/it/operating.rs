//! OPERATING.md, run as written: every `sh` block, top to bottom, in one
//! shell in an empty directory, with this build's `adloom` first on the
//! `PATH`. Needs what the guide uses: curl, openssl, nginx, promtool
//! (Debian's `prometheus`), PostgreSQL's client tools and the local
//! PostgreSQL (user `postgres` on 127.0.0.1:5432), Redis and NATS, as
//! `scripts/test` provides them.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GUIDE: &str = include_str!("../../../../OPERATING.md");
/// The ports the guide names; each is given a free one for the run.
const PORTS: [u16; 5] = [8080, 8081, 8082, 8090, 8443];
/// The databases the guide makes on the local PostgreSQL.
const DATABASES: [&str; 2] = ["adloom_guide", "adloom_guide_restored"];
/// A hang guard, not a measurement: the guide takes well under a minute.
const GIVE_UP: Duration = Duration::from_secs(600);

/// The fenced blocks of a Markdown text, with their info strings.
fn blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in markdown.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_owned(), String::new())),
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a fenced block is never closed");
    blocks
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn drop_databases() {
    for db in DATABASES {
        let status = Command::new("dropdb")
            .args([
                "--if-exists",
                "--force",
                "--host",
                "127.0.0.1",
                "--username",
                "postgres",
                db,
            ])
            .status()
            .expect("dropdb (PostgreSQL's client tools) runs");
        assert!(status.success(), "dropdb {db}");
    }
}

#[test]
fn operating_guide_runs_as_written() {
    let blocks = blocks(GUIDE);
    for (info, _) in &blocks {
        assert!(
            !["bash", "shell", "console", "shell-session"].contains(&info.as_str()),
            "a `{info}` block would not be run: mark commands `sh`"
        );
    }
    let mut script = String::from("set -euo pipefail\nset -x\n");
    for (_, body) in blocks.iter().filter(|(info, _)| info == "sh") {
        script.push_str(body);
    }
    assert!(
        script.lines().count() > 50,
        "the guide's commands are there"
    );
    for port in PORTS {
        script = script.replace(&format!(":{port}"), &format!(":{}", free_port()));
    }

    drop_databases();
    let dir = tempfile::tempdir().unwrap();
    // nginx's workers run as `nobody` when the test runs as root: they
    // need to reach the directory.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_adloom")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut shell = Command::new("bash");
    shell
        .args(["-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that whatever it left running goes
        // with it.
        .process_group(0);
    for (key, _) in std::env::vars() {
        if key.starts_with("ADLOOM_") {
            shell.env_remove(key);
        }
    }
    let mut child = shell.spawn().expect("bash runs");
    let pgid = child.id() as i32;
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).ok();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > GIVE_UP {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Whatever is left of the run (servers a failed step left running).
    kill_group(pgid);
    let _ = child.wait();
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    drop_databases();
    let logs: String = ["adloom.log", "node1.log", "node2.log", "restored.log"]
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(dir.path().join(f)).ok()?;
            Some(format!("--- {f}\n{}\n", tail(&text, 40)))
        })
        .collect();
    assert!(
        status.is_some_and(|s| s.success()),
        "OPERATING.md failed ({status:?})\n--- stdout\n{}\n--- stderr (each command after +)\n{}\n{logs}",
        tail(&out, 40),
        tail(&err, 80),
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// SIGKILL to a process group.
fn kill_group(pgid: i32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
}

/// Every `adloom_*` series the guide names is one adloom exports.
#[test]
fn the_series_the_guide_names_exist() {
    let sources = include_str!("../../../adloom-engine/src/metrics.rs");
    let mut named: Vec<&str> = GUIDE
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("adloom_") && w.len() > "adloom_".len())
        .map(|w| {
            ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| w.strip_suffix(s))
                .unwrap_or(w)
        })
        .filter(|w| !DATABASES.contains(w))
        .collect();
    named.sort_unstable();
    named.dedup();
    assert!(named.len() > 10, "{named:?}");
    for series in named {
        assert!(
            sources.contains(&format!("\"{series}\"")),
            "OPERATING.md names {series}, which adloom does not export"
        );
    }
}
