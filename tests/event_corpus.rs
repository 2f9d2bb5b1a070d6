//! Every GitHub webhook payload in the corpus is either acted on or ignored with a reason.
//!
//! The folder name is the event name (`GITHUB_EVENT_NAME`); the table says what the bot must
//! make of each file, so a change in the trigger rules shows up here file by file.

mod common;

use nomad_spec::event::{from_github, Trigger};

/// What a payload must become.
fn kind(trigger: &Trigger) -> &'static str {
    match trigger {
        Trigger::PullRequestChanged { .. } => "changed",
        Trigger::PullRequestMerged { .. } => "merged",
        Trigger::PullRequestComment { .. } => "comment",
        Trigger::IssueComment { .. } => "issue comment",
        Trigger::PushToDefaultBranch { .. } => "push",
        Trigger::ImagesBuilt { .. } => "images-built",
        Trigger::Schedule { .. } => "schedule",
        Trigger::Manual { .. } => "manual",
        Trigger::Ignored { .. } => "ignored",
    }
}

/// Expected outcome per corpus file (path under `github-events/`). Files not listed must be
/// ignored with a reason.
const EXPECTED: &[(&str, &str)] = &[
    ("pull_request/opened.payload.json", "changed"),
    ("pull_request/opened.with-null-body.json", "changed"),
    ("pull_request/opened.with-organization.payload.json", "changed"),
    ("pull_request/reopened.payload.json", "changed"),
    ("pull_request/reopened.with-organization.payload.json", "changed"),
    ("pull_request/synchronize.payload.json", "changed"),
    ("pull_request/ready_for_review.payload.json", "changed"),
    ("pull_request/ready_for_review.with-installation.payload.json", "changed"),
    ("pull_request/ready_for_review.with-organization.payload.json", "changed"),
    ("workflow_dispatch/payload.json", "manual"),
    // Pushes to the default branch; whether they touch a job file is the workflow's call.
    ("push/with-new-branch.payload.json", "push"),
    ("push/with-no-username-committer.payload.json", "push"),
];

#[test]
fn every_corpus_payload_is_acted_on_or_ignored_with_a_reason() {
    let Some(corpus) = common::corpus_dir() else { return };
    let dir = corpus.join("github-events");
    let mut seen = 0;
    let mut problems = Vec::new();
    for event_dir in std::fs::read_dir(&dir).expect("corpus folder is readable") {
        let event_dir = event_dir.expect("corpus entry").path();
        let event = event_dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        for file in std::fs::read_dir(&event_dir).expect("event folder is readable") {
            let path = file.expect("corpus entry").path();
            let rel = format!(
                "{event}/{}",
                path.file_name().and_then(|n| n.to_str()).unwrap_or_default()
            );
            let payload = std::fs::read_to_string(&path).expect("payload is text");
            seen += 1;
            let expected = EXPECTED.iter().find(|(f, _)| *f == rel).map_or("ignored", |(_, k)| *k);
            match from_github(&event, &payload) {
                Ok(trigger) => {
                    let got = kind(&trigger);
                    if got != expected {
                        problems.push(format!("{rel}: expected {expected}, got {trigger:?}"));
                    }
                    if let Trigger::Ignored { reason } = &trigger {
                        assert!(!reason.is_empty(), "{rel}: ignored without a reason");
                    }
                }
                Err(err) => problems.push(format!("{rel}: {err}")),
            }
        }
    }
    assert!(seen >= 50, "expected the whole corpus, read {seen} payloads");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
