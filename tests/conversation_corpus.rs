//! Recorded GitHub webhook payloads, through `event::from_github`, `Event::from_trigger` and
//! `apply`: every one is handled without panic, strangers never drive the bot, and a second
//! delivery of any of them changes nothing.

mod common;

use std::path::{Path, PathBuf};

use nomad_spec::conversation::{
    apply, Action, Actor, Checkpoint, Event, Learned, Permission, Stage,
};
use nomad_spec::event::{self, Trigger};
use nomad_spec::jobspec::answers::Question;

fn payloads(corpus: &Path, event_name: &str) -> Vec<PathBuf> {
    let dir = corpus.join("github-events").join(event_name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no payloads in {}", dir.display());
    files
}

fn learned(sender: &str, permission: Permission) -> Learned {
    Learned {
        bot_login: "nomad-spec[bot]".into(),
        sender: Actor { login: sender.into(), permission },
        questions: vec![Question {
            key: "image.api".into(),
            prompt: "Which image runs api?".into(),
            default: "api:latest".into(),
            reason: "no registry found".into(),
            needs_answer: true,
        }],
        spec_path: "deploy/api.nomad.hcl".into(),
        spec_file_hash: None,
    }
}

/// Each payload as a conversation event, with the sender looked up as `permission`.
/// With `comment_body`, every comment payload's body is replaced by it first.
fn events(
    corpus: &Path,
    permission: Permission,
    comment_body: Option<&str>,
) -> Vec<(PathBuf, Option<Event>)> {
    let mut out = Vec::new();
    for name in ["pull_request", "issue_comment"] {
        for path in payloads(corpus, name) {
            let mut text = std::fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            if let (Some(body), Ok(mut value)) =
                (comment_body, serde_json::from_str::<serde_json::Value>(&text))
            {
                if value.get("comment").is_some() {
                    value["comment"]["body"] = body.into();
                    // The recorded comments are on issues; these are put on a pull request.
                    value["issue"]["pull_request"] = serde_json::json!({});
                    text = value.to_string();
                }
            }
            let sender = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["sender"]["login"].as_str().map(String::from))
                .unwrap_or_default();
            let trigger = event::from_github(name, &text)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            let conversation = Event::from_trigger(&trigger, &learned(&sender, permission));
            if let Trigger::Ignored { .. } = trigger {
                assert_eq!(conversation, None, "{}", path.display());
            }
            out.push((path, conversation));
        }
    }
    out
}

fn asking() -> Checkpoint {
    let mut c = Checkpoint::new();
    c.stage = Stage::AwaitingAnswers;
    c
}

#[test]
fn every_payload_is_applied_and_replays_change_nothing() {
    let Some(corpus) = common::corpus_dir() else { return };
    let mut handled = 0;
    for (path, event) in events(&corpus, Permission::Write, None) {
        let Some(event) = event else { continue };
        handled += 1;
        let (next, _) = apply(&asking(), &event);
        let (again, actions) = apply(&next, &event);
        assert_eq!(again, next, "{}", path.display());
        assert!(
            actions.iter().all(|a| matches!(a, Action::Nothing { .. })),
            "{}: {actions:?}",
            path.display()
        );
    }
    assert!(handled >= 5, "only {handled} payloads became conversation events");
}

#[test]
fn strangers_from_the_corpus_never_drive_the_bot() {
    let Some(corpus) = common::corpus_dir() else { return };
    for (body, expected_replies) in [(None, 0), (Some("/nomad-spec accept\n1: evil/image"), 1)] {
        let mut checkpoint = asking();
        let (mut replies, mut comments) = (0, 0);
        for (path, event) in events(&corpus, Permission::Read, body) {
            let Some(event @ Event::Comment { .. }) = event else { continue };
            comments += 1;
            let (next, actions) = apply(&checkpoint, &event);
            for action in &actions {
                match action {
                    Action::Reply { .. } => replies += 1,
                    Action::Nothing { .. } => {}
                    other => panic!("{}: a stranger caused {other:?}", path.display()),
                }
            }
            assert_eq!(next.answer_log, checkpoint.answer_log, "{}", path.display());
            checkpoint = next;
        }
        // Prose ("You are totally right!") is not refused; commands are, once per person.
        assert_eq!(replies, expected_replies, "{body:?}");
        if body.is_some() {
            assert!(comments >= 3, "only {comments} comment events");
        }
    }
}
