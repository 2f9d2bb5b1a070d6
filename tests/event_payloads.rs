//! Issue 13, malformed event payloads: every GitHub payload of the corpus that the bot reads,
//! mutated (cut short, a field it reads given another type or dropped, the comment inflated to
//! 1 MB), is a clear error that names the field, never a panic; and `ci` and `ci --dry-run`
//! exit with 2 on it, saying the event cannot be read.
//!
//! The mutations are made on the corpus files in memory (the corpus is read in place, never
//! copied into the repository); the binary cases write the mutated payload to a temporary file,
//! as GitHub Actions does with `GITHUB_EVENT_PATH`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use nomad_spec::event::from_github;
use serde_json::Value;

/// The fields the trigger parser reads, per event: JSON pointer, and whether it must be there
/// when the object holding it is.
const READ: &[(&str, &[(&str, bool)])] = &[
    (
        "pull_request",
        &[
            ("/action", true),
            ("/pull_request", true),
            ("/pull_request/number", true),
            ("/pull_request/title", false),
            ("/pull_request/user", true),
            ("/pull_request/user/login", true),
            ("/pull_request/user/type", false),
            ("/pull_request/head", true),
            ("/pull_request/head/ref", true),
            ("/pull_request/head/sha", true),
            ("/pull_request/head/repo", false),
            ("/pull_request/base/ref", true),
            ("/pull_request/base/sha", true),
            ("/pull_request/draft", false),
            ("/pull_request/merged", false),
            ("/pull_request/merge_commit_sha", false),
            ("/repository", true),
            ("/repository/full_name", true),
            ("/repository/default_branch", false),
        ],
    ),
    (
        "issue_comment",
        &[
            ("/action", true),
            ("/issue", true),
            ("/issue/number", true),
            ("/comment", true),
            ("/comment/id", true),
            ("/comment/user/login", true),
            ("/comment/body", false),
            ("/repository/full_name", true),
            ("/sender", false),
            ("/sender/login", true),
        ],
    ),
    (
        "push",
        &[
            ("/ref", true),
            ("/after", true),
            ("/deleted", false),
            ("/commits", false),
            ("/commits/0/added", false),
            ("/commits/0/modified", false),
            ("/repository/full_name", true),
        ],
    ),
    ("workflow_dispatch", &[("/ref", true), ("/inputs", false), ("/repository/full_name", true)]),
];

/// The corpus payloads of the events the bot reads: (event, file name, payload).
fn payloads() -> Vec<(String, String, Value)> {
    let Some(corpus) = common::corpus_dir() else { return Vec::new() };
    let root = corpus.join("github-events");
    let mut found = Vec::new();
    for (event, _) in READ {
        let dir = root.join(event);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a corpus entry").path())
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a corpus payload is text");
            let json: Value = serde_json::from_str(&text).expect("a corpus payload is JSON");
            let name = file.file_name().expect("a file name").to_string_lossy().into_owned();
            found.push((event.to_string(), name, json));
        }
    }
    assert!(found.len() >= 20, "expected the corpus payloads, found {}", found.len());
    found
}

/// `/commits/0/added` → `commits[0].added`, as the error names a field.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        if part.parse::<usize>().is_ok() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// The value in another JSON type.
fn retyped(value: &Value) -> Value {
    match value {
        Value::String(_) => Value::from(12345),
        Value::Number(_) => Value::from("12345"),
        Value::Bool(_) => Value::from("yes"),
        Value::Null | Value::Array(_) => Value::from(true),
        Value::Object(_) => Value::from("an object was here"),
    }
}

/// The error of `payload` as `event`, or a panic naming what should have failed.
fn error(event: &str, payload: &str, what: &str) -> String {
    match from_github(event, payload) {
        Ok(trigger) => panic!("{what}: read as {trigger:?}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn every_mutation_of_a_corpus_payload_is_an_error_naming_the_field() {
    let mut checked = 0;
    for (event, name, json) in payloads() {
        let text = serde_json::to_string_pretty(&json).expect("JSON prints");
        let fields = READ.iter().find(|(e, _)| *e == event).map(|(_, f)| *f).unwrap_or(&[]);
        assert!(from_github(&event, &text).is_ok(), "{event}/{name} as recorded");

        // Cut short anywhere: the JSON ends too early.
        let trimmed = text.trim_end();
        for cut in
            [1, trimmed.len() / 4, trimmed.len() / 2, trimmed.len() * 3 / 4, trimmed.len() - 1]
        {
            let mut at = cut;
            while !trimmed.is_char_boundary(at) {
                at -= 1;
            }
            let err = error(&event, &trimmed[..at], &format!("{event}/{name} cut at {at}"));
            assert!(err.contains("EOF while parsing"), "{event}/{name} cut at {at}: {err}");
            checked += 1;
        }

        for (pointer, required) in fields {
            let Some(value) = json.pointer(pointer) else { continue };
            let what = format!("{event}/{name} {pointer}");
            // Another type: the error names the field.
            let mut changed = json.clone();
            if let Some(slot) = changed.pointer_mut(pointer) {
                *slot = retyped(value);
            }
            let err = error(&event, &changed.to_string(), &format!("{what} retyped"));
            let field = dotted(pointer);
            assert!(err.contains(&format!("field `{field}`: invalid type")), "{what}: {err}");
            checked += 1;

            // Dropped: an error naming it when it is required.
            let (parent, last) = pointer.rsplit_once('/').expect("a pointer has a slash");
            let mut dropped = json.clone();
            let holder =
                if parent.is_empty() { Some(&mut dropped) } else { dropped.pointer_mut(parent) };
            if let Some(Value::Object(map)) = holder {
                map.remove(last);
            }
            let result = from_github(&event, &dropped.to_string());
            if *required {
                let err = result.map(|t| format!("{t:?}")).expect_err(&what);
                let err = err.to_string();
                assert!(err.contains(&format!("missing field `{last}`")), "{what}: {err}");
                if !parent.is_empty() {
                    let holder = dotted(parent);
                    assert!(err.contains(&format!("field `{holder}`: ")), "{what}: {err}");
                }
            } else {
                assert!(result.is_ok(), "{what} dropped: {result:?}");
            }
            checked += 1;
        }

        // A whole payload of the wrong shape.
        for wrong in ["[]", "\"text\"", "42", "null", "{} {}"] {
            error(&event, wrong, &format!("{event} as {wrong}"));
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} mutations were checked");
}

#[test]
fn a_comment_longer_than_github_allows_is_an_error() {
    for (event, name, mut json) in payloads().into_iter().filter(|(e, ..)| e == "issue_comment") {
        json["comment"]["body"] = Value::from(format!("/nomad-spec plan {}", "x".repeat(1 << 20)));
        let err = error(&event, &json.to_string(), &name);
        assert!(
            err.ends_with(
                "field `comment.body` is longer than 65536 characters, more than the forge allows"
            ),
            "{name}: {err}"
        );
        json["comment"]["body"] = Value::from("é".repeat(65_536));
        assert!(from_github(&event, &json.to_string()).is_ok(), "{name}: a comment at the bound");
    }
}

/// `nomad-spec ci` (with `--dry-run` or not) on `payload` as `event`, calling nothing.
fn ci(event: &str, payload: &Path, dry_run: bool) -> Output {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos/nginx-static");
    let mut command = Command::new(env!("CARGO_BIN_EXE_nomad-spec"));
    command.arg("ci");
    if dry_run {
        command.arg("--dry-run").arg("--path").arg(&fixture);
    }
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_EVENT_PATH", payload)
        .env("GITHUB_REPOSITORY", "octo-org/octo-repo")
        // Pointing nowhere: a run that got past reading the event would fail another way.
        .env("GITHUB_API_URL", "http://127.0.0.1:9")
        .env("GITHUB_SERVER_URL", "http://127.0.0.1:9")
        .env("GITHUB_TOKEN", "never-used")
        .output()
        .expect("the binary runs")
}

#[test]
fn ci_and_its_dry_run_exit_with_2_on_a_payload_that_is_not_what_github_sends() {
    let Some(corpus) = common::corpus_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sample = |event: &str, name: &str| {
        let file = corpus.join("github-events").join(event).join(name);
        let text = std::fs::read_to_string(&file).expect("a corpus payload");
        serde_json::from_str::<Value>(&text).expect("JSON")
    };
    let opened = sample("pull_request", "opened.payload.json");
    let comment = sample("issue_comment", "created.payload.json");
    let push = sample("push", "payload.json");
    let mut cases: Vec<(&str, String, String)> = Vec::new();
    let text = opened.to_string();
    cases.push(("pull_request", text[..text.len() / 2].to_string(), "EOF while parsing".into()));
    let mut wrong = opened.clone();
    wrong["pull_request"]["number"] = Value::from("two");
    cases.push(("pull_request", wrong.to_string(), "field `pull_request.number`".into()));
    let mut missing = push.clone();
    missing.as_object_mut().expect("an object").remove("after");
    cases.push(("push", missing.to_string(), "missing field `after`".into()));
    let mut long = comment.clone();
    long["comment"]["body"] = Value::from("y".repeat(1 << 20));
    cases.push(("issue_comment", long.to_string(), "field `comment.body` is longer".into()));
    let mut wrong = comment.clone();
    wrong["comment"]["user"] = Value::from(7);
    cases.push(("issue_comment", wrong.to_string(), "field `comment.user`".into()));
    cases.push(("pull_request", "[1, 2]".into(), "the payload is not a JSON object".into()));

    for (i, (event, payload, needle)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("event-{i}.json"));
        std::fs::write(&file, payload).unwrap();
        for dry_run in [false, true] {
            let out = ci(event, &file, dry_run);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("case {i} ({event}, dry run {dry_run})");
            assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
            assert!(stderr.contains("error: the CI event cannot be read: "), "{what}: {stderr}");
            assert!(stderr.contains(needle.as_str()), "{what}: {stderr}");
            assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        }
    }
    // A payload file that is not a file at all: the same code.
    for dry_run in [false, true] {
        let out = ci("pull_request", dir.path(), dry_run);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("it is a directory, not a regular file"), "{stderr}");
    }
}
