//! `nomad-spec check` and `generate` with no service configured: they work and say what they
//! skipped; exit codes 0 (nothing failed), 1 (a check failed), 2 (usage).

use std::path::Path;
use std::process::{Command, Output};

mod common;

/// Runs the binary in `dir` with every service's settings removed from its environment.
fn run(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nomad-spec"));
    command.current_dir(dir).args(args);
    for var in ["NOMAD_ADDR", "CONSUL_HTTP_ADDR", "VAULT_ADDR", "FABIO_ADMIN_ADDR"] {
        command.env_remove(var);
    }
    command.output().unwrap_or_else(|e| panic!("run: {e}"))
}

/// A corpus job file without `urlprefix-` tags (so Fabio is not asked) that validates.
fn untagged_corpus_job(corpus: &Path) -> std::path::PathBuf {
    common::corpus_job_files(corpus)
        .into_iter()
        .find(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            !text.contains("urlprefix-")
                && nomad_spec::jobspec::validate::validate_source(&text, "x")
                    .iter()
                    .all(|d| d.severity != nomad_spec::jobspec::Severity::Error)
                && text.contains("job \"")
        })
        .unwrap_or_else(|| panic!("no untagged valid job in the corpus"))
}

#[test]
fn check_with_nothing_configured_says_what_it_skipped() {
    let Some(corpus) = common::corpus_dir() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let job = untagged_corpus_job(&corpus);
    let out = run(dir.path(), &["check", job.to_str().unwrap_or_default()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("nomad-spec/validate: ok"), "{stdout}");
    assert!(stdout.contains("nomad-spec/secrets: skipped"), "{stdout}");
    assert!(stdout.contains("nomad-spec/routes: ok\n  the job has no urlprefix- tags"), "{stdout}");
    assert!(
        stdout.contains(
            "nomad-spec/plan: skipped\n  Nomad is not configured (NOMAD_ADDR is not set)"
        ),
        "{stdout}"
    );
}

#[test]
fn check_json_is_an_array_of_named_results() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("bad.hcl"),
        "job \"x\" {\n  group \"g\" {\n    count = -1\n  }\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = run(dir.path(), &["check", "--format", "json", "bad.hcl"]);
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    let names: Vec<&str> =
        json.as_array().into_iter().flatten().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(
        names,
        ["nomad-spec/validate", "nomad-spec/secrets", "nomad-spec/routes", "nomad-spec/plan"]
    );
    assert_eq!(json[0]["status"], "failure", "{json}");
    assert_eq!(json[0]["annotations"][0]["file"], "bad.hcl", "{json}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn check_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run(dir.path(), &["check", "missing.hcl"]).status.code(), Some(2));
    assert_eq!(run(dir.path(), &["check"]).status.code(), Some(2));
}

#[test]
fn generate_with_nothing_configured_says_what_it_skipped() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let analysis =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/generate/app-database.json");
    let out = run(
        dir.path(),
        &[
            "generate",
            "--no-questions",
            "-o",
            "-",
            "--analysis",
            analysis.to_str().unwrap_or_default(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "note: Consul is not configured (CONSUL_HTTP_ADDR): conventions and service lookups skipped"
        ),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("job \""));
}
