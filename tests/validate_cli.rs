//! `nomad-spec validate` as CI runs it: text and JSON output, the summary line, and the exit
//! codes (0 valid with warnings allowed, 1 invalid, 2 unreadable input).

use std::path::Path;
use std::process::{Command, Output};

fn nomad_spec(args: &[&str], dir: &Path) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_nomad-spec")).args(args).current_dir(dir).output() {
        Ok(output) => output,
        Err(err) => panic!("cannot run nomad-spec: {err}"),
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    if let Err(err) = std::fs::write(dir.join(name), text) {
        panic!("cannot write {name}: {err}");
    }
}

const VALID_WITH_WARNING: &str = r#"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "web"
      port = "http"

      check {
        type     = "tcp"
        interval = "5s"
        timeout  = "10s"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }
    }
  }
}
"#;

const INVALID: &str = r#"job "web" {
  type = "daemon"

  group "app" {
    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      resources {
        memory = 4
      }
    }
  }
}
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
    write(dir.path(), "ok.nomad.hcl", VALID_WITH_WARNING);
    write(dir.path(), "bad.nomad.hcl", INVALID);
    dir
}

#[test]
fn text_output_lists_findings_and_a_summary() {
    let dir = setup();
    let output = nomad_spec(&["validate", "ok.nomad.hcl", "bad.nomad.hcl"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(String::from_utf8_lossy(&output.stdout), @r#"
    ok.nomad.hcl:16:20: warning: check timeout (10s) is longer than its interval (5s): checks will overlap
    bad.nomad.hcl:2:10: error: job type "daemon" is not one of "service", "batch", "system", "sysbatch"
    bad.nomad.hcl:10:18: error: the task config uses port "http", which is not declared; the group has no network block; declare it there: `network { port "http" {} }`
    bad.nomad.hcl:14:18: error: memory 4 MB is below Nomad's minimum of 10 MB
    2 files checked: 1 valid, 1 invalid (3 errors, 1 warning)
    "#);
}

#[test]
fn warnings_alone_exit_0() {
    let dir = setup();
    let output = nomad_spec(&["validate", "ok.nomad.hcl"], dir.path());
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn json_output_has_one_entry_per_file() {
    let dir = setup();
    let output =
        nomad_spec(&["validate", "--format", "json", "ok.nomad.hcl", "bad.nomad.hcl"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON: {e}: {}", String::from_utf8_lossy(&output.stdout)));
    assert_eq!(report["errors"], 3);
    assert_eq!(report["warnings"], 1);
    assert_eq!(report["files"][0]["file"], "ok.nomad.hcl");
    assert_eq!(report["files"][0]["valid"], true);
    assert_eq!(report["files"][1]["valid"], false);
    insta::assert_json_snapshot!(report["files"][1]["diagnostics"][0], @r#"
    {
      "file": "bad.nomad.hcl",
      "line": 2,
      "column": 10,
      "severity": "error",
      "message": "job type \"daemon\" is not one of \"service\", \"batch\", \"system\", \"sysbatch\""
    }
    "#);
}

#[test]
fn an_unreadable_file_exits_2_after_checking_the_others() {
    let dir = setup();
    let output = nomad_spec(&["validate", "missing.nomad.hcl", "ok.nomad.hcl"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read missing.nomad.hcl"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("1 file checked: 1 valid"), "{stdout}");
}

#[test]
fn a_bad_format_is_a_usage_error() {
    let dir = setup();
    let output = nomad_spec(&["validate", "--format", "xml", "ok.nomad.hcl"], dir.path());
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_dash_reads_the_job_from_stdin() {
    use std::io::Write;
    use std::process::Stdio;
    let dir = setup();
    let mut child = match Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(["validate", "-"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => panic!("cannot run nomad-spec: {err}"),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(INVALID.as_bytes()).unwrap_or_else(|e| panic!("cannot write stdin: {e}"));
    }
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("nomad-spec failed: {e}"));
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("-:2:10: error: job type \"daemon\""), "{stdout}");
}
