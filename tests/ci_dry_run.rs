//! `nomad-spec ci --dry-run`: the trigger derived from a real event and every action the bot
//! would take, with nothing called (no forge, no git remote, no Nomad is configured, so any
//! call would fail the run). Every GitHub webhook sample of the corpus is either planned or
//! ignored with a reason, and GitLab's variables are read the same way.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

fn dry_run(vars: &[(&str, &str)]) -> Output {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos/nginx-static");
    Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(["ci", "--dry-run", "--path"])
        .arg(&fixture)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

fn github(event: &str, file: &Path) -> Output {
    let path = file.display().to_string();
    dry_run(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", event),
        ("GITHUB_EVENT_PATH", &path),
        // Pointing nowhere: a dry run that called anything would fail.
        ("GITHUB_API_URL", "http://127.0.0.1:9"),
        ("GITHUB_SERVER_URL", "http://127.0.0.1:9"),
        ("GITHUB_TOKEN", "never-used"),
        ("NOMAD_ADDR", "http://127.0.0.1:9"),
    ])
}

fn stdout(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{text}{err}");
    text
}

fn sample(corpus: &Path, event: &str, name: &str) -> std::path::PathBuf {
    corpus.join("github-events").join(event).join(name)
}

#[test]
fn an_opened_pull_request_would_get_the_status_comment() {
    let Some(corpus) = common::corpus_dir() else { return };
    let opened = sample(&corpus, "pull_request", "opened.payload.json");
    let out = stdout(&github("pull_request", &opened));
    assert!(out.contains("trigger: change request #2 Opened"), "{out}");
    assert!(out.contains("1. create or edit the status comment"), "{out}");
    assert!(out.contains("conversation afterwards: AwaitingAnswers"), "{out}");
}

#[test]
fn a_merge_without_a_checked_job_file_is_refused_and_says_so() {
    let Some(corpus) = common::corpus_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let closed = sample(&corpus, "pull_request", "closed.payload.json");
    let text = std::fs::read_to_string(closed).unwrap();
    let mut payload: serde_json::Value = serde_json::from_str(&text).unwrap();
    payload["pull_request"]["merged"] = true.into();
    payload["pull_request"]["merge_commit_sha"] = "0123456789abcdef0123456789abcdef01234567".into();
    let base = payload["repository"]["default_branch"].clone();
    payload["pull_request"]["base"]["ref"] = base;
    let file = dir.path().join("merged.json");
    std::fs::write(&file, payload.to_string()).unwrap();
    let out = stdout(&github("pull_request", &file));
    assert!(out.contains("merged as 0123456789ab"), "{out}");
    // A fresh conversation has no checked job file: the merge is refused, and said so.
    assert!(out.contains("reply: Merged, but I will not deploy"), "{out}");
}

#[test]
fn every_corpus_event_is_planned_or_ignored_with_a_reason() {
    let Some(corpus) = common::corpus_dir() else { return };
    let root = corpus.join("github-events");
    let mut seen = 0;
    for folder in common::subfolders(&root) {
        let event = folder.file_name().unwrap().to_string_lossy().to_string();
        let mut files: Vec<_> =
            std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let output = github(&event, &file);
            let text = String::from_utf8_lossy(&output.stdout).to_string();
            let err = String::from_utf8_lossy(&output.stderr).to_string();
            if output.status.success() {
                assert!(
                    text.contains("would do") || text.contains("would check"),
                    "{}: {text}",
                    file.display()
                );
            } else {
                // A payload that is not what GitHub sends is an error naming the event.
                assert!(err.contains(&format!("`{event}`")), "{}: {err}", file.display());
            }
            seen += 1;
        }
    }
    assert!(seen >= 20, "only {seen} payloads");
}

#[test]
fn a_gitlab_merge_request_pipeline_is_read_from_its_variables() {
    let vars: BTreeMap<&str, &str> = [
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "merge_request_event"),
        ("CI_API_V4_URL", "http://127.0.0.1:9/api/v4"),
        ("CI_SERVER_URL", "http://127.0.0.1:9"),
        ("CI_PROJECT_ID", "7"),
        ("CI_PROJECT_PATH", "acme/shop"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_MERGE_REQUEST_IID", "3"),
        ("CI_MERGE_REQUEST_PROJECT_ID", "7"),
        ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "7"),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "add-app"),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "89abcdef0123456789abcdef0123456789abcdef"),
        ("CI_COMMIT_SHA", "89abcdef0123456789abcdef0123456789abcdef"),
        ("CI_MERGE_REQUEST_TITLE", "Add the shop"),
        ("GITLAB_USER_LOGIN", "dev"),
    ]
    .into_iter()
    .collect();
    let vars: Vec<(&str, &str)> = vars.into_iter().collect();
    let out = stdout(&dry_run(&vars));
    assert!(out.contains("forge:   GitLab"), "{out}");
    assert!(out.contains("change request #3"), "{out}");
    assert!(out.contains("create or edit the status comment"), "{out}");
}

#[test]
fn without_a_ci_event_it_says_what_to_set() {
    let output = dry_run(&[]);
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("GITHUB_EVENT_NAME") && err.contains("GitLab"), "{err}");
}

#[test]
fn a_schedule_would_compare_the_job_files_and_keep_the_drift_issue() {
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("schedule.json");
    std::fs::write(
        &payload,
        r#"{"schedule": "17 * * * *", "repository": {"full_name": "acme/shop", "default_branch": "main"}}"#,
    )
    .unwrap();
    let out = stdout(&github("schedule", &payload));
    assert!(out.contains("trigger: scheduled drift check of main"), "{out}");
    assert!(out.contains("would compare the job files of main with the cluster"), "{out}");
}
