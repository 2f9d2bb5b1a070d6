//! Issue 13, "resources and crashes": hostile input from a pull request never takes the runner
//! down. Each case below once took gigabytes, never returned, or panicked; now each ends with a
//! clear error or note that names the file (and line), through the library and through the
//! binary a CI job runs. Time is not asserted here (the figures are in `bench/README.md`); a
//! case that regressed would exhaust the machine or hang instead of failing politely.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use nomad_spec::analyze::{analyze, Options};
use nomad_spec::jobspec::parse::{parse_job, ParseOptions};
use nomad_spec::jobspec::validate::validate_source;

fn write(root: &Path, rel: &str, text: impl AsRef<[u8]>) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

fn nomad_spec(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(args)
        .current_dir(dir)
        .env_remove("NOMAD_ADDR")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `${A:-` `levels` times, then `x`, then `}` as many times.
fn nested_default(levels: usize) -> String {
    format!("{}x{}", "${A:-".repeat(levels), "}".repeat(levels))
}

#[test]
fn compose_interpolation_nested_deep_is_kept_as_written_with_a_note() {
    // 20,000 levels took 7 GB and 35 s; 50,000 more than 22 GB.
    for levels in [20_000, 50_000] {
        let dir = tempfile::tempdir().unwrap();
        let value = nested_default(levels);
        write(
            dir.path(),
            "compose.yaml",
            format!("services:\n  web:\n    image: nginx:1.27\n    environment:\n      B: \"{value}\"\n"),
        );
        let analysis = analyze(dir.path(), &Options::default());
        let note = analysis.notes.iter().find(|n| n.message.contains("not substituted"));
        let note = note.unwrap_or_else(|| panic!("no note: {:#?}", analysis.notes));
        assert_eq!((note.file.as_deref(), note.line), (Some("compose.yaml"), Some(5)));
        assert!(note.message.contains("nested more than 32 levels"), "{}", note.message);
        let web = &analysis.services[0];
        let b = web.env.iter().find(|e| e.name == "B").expect("B is still in the service");
        assert!(b.default.as_deref() == Some(value.as_str()), "{levels}: B is not as written");
    }
}

#[test]
fn ci_dry_run_on_a_pull_request_with_the_nested_value_plans_the_run() {
    // The same value through the bot: one file of a pull request could take the runner down.
    let dir = tempfile::tempdir().unwrap();
    let value = nested_default(20_000);
    write(
        dir.path(),
        "compose.yaml",
        format!(
            "services:\n  web:\n    image: nginx:1.27\n    environment:\n      B: \"{value}\"\n"
        ),
    );
    let Some(corpus) = common::corpus_dir() else { return };
    let payload = corpus.join("github-events/pull_request/opened.payload.json");
    let out = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(["ci", "--dry-run", "--path", "."])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &payload)
        .env("GITHUB_REPOSITORY", "octo-org/octo-repo")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains(": 1 service(s)"), "{stdout}");
}

/// 400 bytes that ask for a million 4 KB strings.
const FORMAT_BOMB: &str = r#"locals {
  pad = [for i in range(1000) : [for j in range(1000) : format("%04096d", j)]]
}

job "bomb" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "docker"
      config {
        image = "nginx:1.27"
      }
      env {
        N = length(local.pad)
      }
    }
  }
}
"#;

const BOMB_MESSAGE: &str = "the expressions of this file produce more than 64 MiB of values";

#[test]
fn hcl_evaluation_stops_at_its_memory_budget_with_the_place() {
    // This reached 7 GB in 7 s before the step limit stopped it.
    let err = parse_job(FORMAT_BOMB, "bomb.nomad.hcl", &ParseOptions::default()).unwrap_err();
    let first = &err[0];
    assert_eq!((first.file.as_str(), first.line, first.column), ("bomb.nomad.hcl", 2, 57));
    assert!(first.message.starts_with(BOMB_MESSAGE), "{first}");
    let diagnostics = validate_source(FORMAT_BOMB, "bomb.nomad.hcl");
    assert!(diagnostics.iter().any(|d| d.line == 2 && d.message.starts_with(BOMB_MESSAGE)));
}

#[test]
fn parse_and_validate_report_the_budget_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bomb.nomad.hcl", FORMAT_BOMB);
    let expected = format!("bomb.nomad.hcl:2:57: error: {BOMB_MESSAGE}");
    let parsed = nomad_spec(&["parse", "bomb.nomad.hcl"], dir.path());
    assert_eq!(parsed.status.code(), Some(1), "{}", text(&parsed.stderr));
    assert!(text(&parsed.stderr).contains(&expected), "{}", text(&parsed.stderr));
    let validated = nomad_spec(&["validate", "bomb.nomad.hcl"], dir.path());
    assert_eq!(validated.status.code(), Some(1), "{}", text(&validated.stderr));
    assert!(text(&validated.stdout).contains(&expected), "{}", text(&validated.stdout));
}

/// A Dockerfile exposing ports 1 to 10,000, one by one.
fn wide_expose(dir: &Path) {
    let ports: Vec<String> = (1..=10_000).map(|p| p.to_string()).collect();
    write(dir, "Dockerfile", format!("FROM nginx:1.27\nEXPOSE {}\n", ports.join(" ")));
}

#[test]
fn analyze_reads_a_dockerfile_exposing_ten_thousand_ports() {
    // This panicked (exit 101, "Formatting argument out of range") on the 48,000-character cell.
    let dir = tempfile::tempdir().unwrap();
    wide_expose(dir.path());
    let out = nomad_spec(&["analyze", "--path", "."], dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout, text(&out.stderr));
    assert!(stdout.contains(" 2/tcp 3/tcp 4/tcp"), "{stdout}");
    assert!(stdout.contains("Dockerfile:2: EXPOSE: 9900 more ports left out"), "{stdout}");
    assert!(stdout.lines().all(|l| l.chars().count() < 500), "{stdout}");
}

#[test]
fn generate_takes_at_most_a_hundred_ports_from_expose() {
    // This wrote a 2.7 MB job with 10,000 ports.
    let dir = tempfile::tempdir().unwrap();
    wide_expose(dir.path());
    let out = nomad_spec(&["generate", "--path", ".", "--no-questions", "-o", "-"], dir.path());
    let job = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ports = job.lines().filter(|l| l.trim_start().starts_with("port \"")).count();
    assert!((1..=100).contains(&ports), "{ports} ports in\n{}", &job[..job.len().min(2000)]);
    assert!(job.len() < 200_000, "a {} byte job", job.len());
}

const SMALL_JOB: &str = r#"job "web" {
  datacenters = ["dc1"]
  group "web" {
    task "web" {
      driver = "docker"
      config {
        image = "nginx:1.27"
      }
    }
  }
}
"#;

/// A FIFO nobody writes to: opening it to read waits for a writer forever.
#[cfg(unix)]
fn fifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn readers_refuse_devices_fifos_and_folders() {
    // `parse|fmt|validate /dev/zero`, `generate --answers /dev/zero` and a FIFO never returned.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fifo(&root.join("a-fifo"));
    std::fs::create_dir(root.join("folder.nomad.hcl")).unwrap();
    let device = "cannot read /dev/zero: it is a character device, not a regular file";
    let a_fifo = "cannot read a-fifo: it is a FIFO (named pipe), not a regular file";
    let cases: &[(&[&str], &str)] = &[
        (&["parse", "/dev/zero"], device),
        (&["fmt", "/dev/zero"], device),
        (&["validate", "/dev/zero"], device),
        (&["parse", "a-fifo"], a_fifo),
        (&["fmt", "--check", "a-fifo"], a_fifo),
        (&["validate", "a-fifo"], a_fifo),
        (&["parse", "folder.nomad.hcl"], "it is a directory, not a regular file"),
        (&["generate", "--path", ".", "--no-questions", "--answers", "/dev/zero"], device),
        (&["generate", "--path", ".", "--no-questions", "--config", "a-fifo"], a_fifo),
        (&["generate", "--path", ".", "--no-questions", "--analysis", "/dev/zero"], device),
    ];
    for (args, message) in cases {
        let out = nomad_spec(args, root);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[cfg(unix)]
#[test]
fn a_job_file_reading_a_fifo_or_a_device_gets_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fifo(&root.join("a-fifo"));
    std::os::unix::fs::symlink("/dev/zero", root.join("zero")).unwrap();
    let job = SMALL_JOB.replace(
        "image = \"nginx:1.27\"",
        "image = \"nginx:1.27\"\n        args  = [file(\"a-fifo\"), file(\"zero\")]",
    );
    write(root, "web.nomad.hcl", &job);
    let out = nomad_spec(&["parse", "web.nomad.hcl"], root);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "web.nomad.hcl:8:18: error: in call to file(): cannot read \"a-fifo\" (resolved to \
             ./a-fifo): it is a FIFO (named pipe), not a regular file"
        ),
        "{stderr}"
    );
    // A var file is named on the command line: the same rule.
    write(root, "ok.nomad.hcl", SMALL_JOB);
    let out = nomad_spec(&["parse", "ok.nomad.hcl", "-var-file", "a-fifo"], root);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("a-fifo:0:0: error: cannot read the var file: it is a FIFO"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn a_repository_whose_settings_file_is_a_fifo_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM nginx:1.27\nEXPOSE 80\n");
    fifo(&dir.path().join(".nomad-spec.toml"));
    let out = nomad_spec(&["generate", "--path", ".", "--no-questions", "-o", "-"], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(".nomad-spec.toml: it is a FIFO (named pipe)"), "{stderr}");
}

#[test]
fn stdin_is_still_read() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "web.nomad.hcl", SMALL_JOB);
    let stdin = std::fs::File::open(dir.path().join("web.nomad.hcl")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(["parse", "-"])
        .stdin(stdin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"ID\": \"web\""), "{}", text(&out.stdout));
}
