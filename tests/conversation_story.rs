//! The whole pull-request story through the conversation's pure core, saved and loaded
//! through the status comment between every step the way CI runs do: opened → questions → answer reply
//! → generated → checks → merged → deploy → OOM → fix → healthy, plus replays, an unauthorized
//! commenter, a fork, a human edit and a corrupted checkpoint.

use nomad_spec::checks::CheckStatus;
use nomad_spec::conversation::{
    apply, decode, find_status_comment, render, Action, Actor, BranchFacts, Checkpoint,
    CheckpointError, DeployOutcome, Event, Owner, Permission, PostedComment, Reaction, Stage,
    StatusInput, STATUS_MARKER,
};
use nomad_spec::jobspec::answers::Question;

const BOT: &str = "nomad-spec[bot]";
const SPEC: &str = "deploy/shop.nomad.hcl";

/// The PR as the forge holds it: the status comment is the only storage.
#[derive(Default)]
struct PullRequest {
    status_comment: Option<String>,
}

impl PullRequest {
    /// Loads the checkpoint like a run does, applies the event, saves when told to.
    fn run(&mut self, event: &Event) -> (Checkpoint, Vec<Action>) {
        let current = match &self.status_comment {
            None => Checkpoint::new(),
            Some(body) => decode(body)
                .unwrap_or_else(|err| Checkpoint::rebuilt_from(&BranchFacts::default(), &err)),
        };
        let (next, actions) = apply(&current, event);
        // Saved when told to, and whenever the state changed once a status comment exists.
        let changed = self.status_comment.is_some() && next != current;
        if actions.contains(&Action::UpsertStatusComment) || changed {
            self.status_comment = Some(render(&StatusInput {
                checkpoint: &next,
                services: &[],
                checks: &[],
                plan: None,
                decisions: &[],
                proposed_file: None,
                diagram: None,
                notes: &[],
                prompts: &[],
            }));
        }
        (next, actions)
    }

    fn checkpoint(&self) -> Checkpoint {
        decode(self.status_comment.as_deref().unwrap_or_default()).unwrap_or_default()
    }
}

fn questions() -> Vec<Question> {
    let q = |key: &str, default: &str, needs_answer: bool| Question {
        key: key.into(),
        prompt: format!("What is {key}?"),
        default: default.into(),
        reason: "guessed".into(),
        needs_answer,
    };
    vec![
        q("image.api", "shop-api:latest", true),
        q("memory.api", "256", false),
        q("deploy.db", "true", false),
    ]
}

fn opened(head: &str) -> Event {
    Event::PullRequestChanged {
        head_sha: head.into(),
        draft: false,
        from_fork: false,
        questions: questions(),
        spec_path: SPEC.into(),
        spec_file_hash: None,
    }
}

fn pushed(head: &str, spec_file_hash: &str) -> Event {
    Event::PullRequestChanged {
        head_sha: head.into(),
        draft: false,
        from_fork: false,
        questions: questions(),
        spec_path: SPEC.into(),
        spec_file_hash: Some(spec_file_hash.into()),
    }
}

fn maintainer() -> Actor {
    Actor { login: "alice".into(), permission: Permission::Write }
}

fn reply(id: u64, actor: Actor, body: &str) -> Event {
    Event::Comment {
        comment_id: id,
        actor,
        body: body.into(),
        from_bot: false,
        advised: Vec::new(),
    }
}

fn kinds(actions: &[Action]) -> Vec<&'static str> {
    actions
        .iter()
        .map(|a| match a {
            Action::UpsertStatusComment => "upsert",
            Action::Reply { .. } => "reply",
            Action::React { .. } => "react",
            Action::CommitSpec { .. } => "commit",
            Action::SuggestSpec => "suggest",
            Action::RunChecks => "checks",
            Action::Explain => "explain",
            Action::Deploy { .. } => "deploy",
            Action::Rollback { .. } => "rollback",
            Action::Nothing { .. } => "nothing",
        })
        .collect()
}

fn oom() -> DeployOutcome {
    DeployOutcome::Failed { diagnosis: "OOM killed at 256 MB".into(), fixable: true }
}

/// The story: each event, the stage after it, and the kinds of actions it asks for.
fn story() -> Vec<(Event, Stage, Vec<&'static str>)> {
    use Stage::*;
    vec![
        (opened("h1"), AwaitingAnswers, vec!["upsert"]),
        (
            reply(11, maintainer(), "1: ghcr.io/acme/api:1.4\nthanks!"),
            Generated,
            vec!["react", "commit", "checks", "upsert"],
        ),
        (
            Event::SpecCommitted { commit: "b1".into(), spec_hash: "hash1".into() },
            Generated,
            vec!["nothing"],
        ),
        (pushed("b1", "hash1"), Generated, vec!["nothing"]),
        (pushed("h2", "hash1"), Generated, vec!["commit", "checks", "upsert"]),
        (
            Event::ChecksFinished {
                head_sha: "b1".into(),
                statuses: vec![CheckStatus::Success, CheckStatus::Skipped],
            },
            Checked,
            vec!["upsert"],
        ),
        (Event::Merged { merge_sha: "m1".into() }, Deploying, vec!["deploy", "upsert"]),
        (
            Event::DeployFinished { commit: "m1".into(), outcome: oom(), max_fix_iterations: 2 },
            Deploying,
            vec!["commit", "deploy", "upsert", "reply"],
        ),
        (
            Event::SpecCommitted { commit: "f1".into(), spec_hash: "hash2".into() },
            Deploying,
            vec!["nothing"],
        ),
        (
            Event::DeployFinished {
                commit: "f1".into(),
                outcome: DeployOutcome::Healthy,
                max_fix_iterations: 2,
            },
            Healthy,
            vec!["upsert", "reply"],
        ),
    ]
}

#[test]
fn the_whole_story_then_every_event_replayed() {
    let mut pr = PullRequest::default();
    for (i, (event, stage, expected)) in story().into_iter().enumerate() {
        let (next, actions) = pr.run(&event);
        assert_eq!(kinds(&actions), expected, "step {i}: {event:?}");
        assert_eq!(next.stage, stage, "step {i}");
        // A second delivery of the same event: same checkpoint, nothing to do.
        let (again, actions) = apply(&next, &event);
        assert_eq!(again, next, "step {i} replayed");
        assert_eq!(kinds(&actions), vec!["nothing"], "step {i} replayed");
    }
    let end = pr.checkpoint();
    assert_eq!(end.stage, Stage::Healthy);
    assert_eq!(end.fix_iterations, 1);
    assert_eq!(
        end.answers.for_service("api").and_then(|s| s.image.as_deref()),
        Some("ghcr.io/acme/api:1.4")
    );
    let record = end.deploy.expect("a deploy record");
    assert_eq!((record.commit.as_str(), record.attempts), ("f1", 2));
    assert_eq!(end.questions[0].answered_by.as_deref(), Some("alice"));
    // The whole story re-applied to its end state changes nothing.
    for (event, _, _) in story() {
        let (same, actions) = apply(&pr.checkpoint(), &event);
        assert_eq!(same, pr.checkpoint());
        assert_eq!(kinds(&actions), vec!["nothing"]);
    }
}

#[test]
fn the_commit_explains_the_answers() {
    let (c, _) = apply(&Checkpoint::new(), &opened("h1"));
    let (_, actions) = apply(&c, &reply(11, maintainer(), "image.api = ghcr.io/acme/api:1.4"));
    let message = actions.iter().find_map(|a| match a {
        Action::CommitSpec { path, message } => Some((path.clone(), message.clone())),
        _ => None,
    });
    let (path, message) = message.expect("a commit");
    assert_eq!(path, SPEC);
    assert!(message.contains("image.api = ghcr.io/acme/api:1.4 (by alice)"), "{message}");
}

#[test]
fn an_edited_reply_replaces_its_answers() {
    let (c, _) = apply(&Checkpoint::new(), &opened("h1"));
    let (c, _) = apply(&c, &reply(11, maintainer(), "1: ghcr.io/acme/api:1.4\n2: 512"));
    let (c, _) = apply(&c, &reply(11, maintainer(), "1: ghcr.io/acme/api:1.5"));
    assert_eq!(c.answer_log.len(), 1);
    assert_eq!(c.questions[0].answer.as_deref(), Some("ghcr.io/acme/api:1.5"));
    assert_eq!(c.questions[1].answer, None, "the edit withdrew the memory answer");
    assert_eq!(c.answers.for_service("api").and_then(|s| s.memory), None);
}

#[test]
fn drafts_are_analyzed_but_not_nagged() {
    let draft = Event::PullRequestChanged {
        head_sha: "h1".into(),
        draft: true,
        from_fork: false,
        questions: questions(),
        spec_path: SPEC.into(),
        spec_file_hash: None,
    };
    let (c, actions) = apply(&Checkpoint::new(), &draft);
    assert_eq!(kinds(&actions), vec!["nothing"]);
    assert_eq!(c.stage, Stage::AwaitingAnswers);
    let (_, actions) = apply(&c, &opened("h1"));
    assert_eq!(kinds(&actions), vec!["upsert"], "ready for review: now it comments");
}

#[test]
fn an_unauthorized_commenter_is_refused_once() {
    let (c, _) = apply(&Checkpoint::new(), &opened("h1"));
    let stranger = Actor { login: "mallory".into(), permission: Permission::Read };
    let (c1, actions) = apply(&c, &reply(20, stranger.clone(), "/nomad-spec accept"));
    assert_eq!(kinds(&actions), vec!["reply"]);
    assert_eq!(c1.answer_log, c.answer_log);
    let (c2, actions) =
        apply(&c1, &reply(21, stranger.clone(), "1: evil/image\n/nomad-spec generate"));
    assert_eq!(kinds(&actions), vec!["nothing"]);
    assert_eq!((c2.stage, c2.answer_log.len()), (Stage::AwaitingAnswers, 0));
    // Chatter without answers or commands is not refused at all.
    let other = Actor { login: "bob".into(), permission: Permission::Triage };
    let (_, actions) = apply(&c2, &reply(22, other, "Nice work!"));
    assert_eq!(kinds(&actions), vec!["nothing"]);
}

#[test]
fn a_fork_gets_a_suggestion_and_never_a_commit_or_deploy() {
    let fork = Event::PullRequestChanged {
        head_sha: "h1".into(),
        draft: false,
        from_fork: true,
        questions: questions(),
        spec_path: SPEC.into(),
        spec_file_hash: None,
    };
    let (c, actions) = apply(&Checkpoint::new(), &fork);
    assert_eq!(kinds(&actions), vec!["upsert"]);
    let (c, actions) = apply(&c, &reply(11, maintainer(), "/nomad-spec accept"));
    assert_eq!(kinds(&actions), vec!["react", "suggest", "upsert"]);
    let (c, actions) = apply(&c, &Event::Merged { merge_sha: "m1".into() });
    assert_eq!(kinds(&actions), vec!["nothing"]);
    let (_, actions) = apply(&c, &reply(12, maintainer(), "/nomad-spec rollback\n/nomad-spec fix"));
    assert!(!kinds(&actions).iter().any(|k| ["commit", "deploy", "rollback"].contains(k)));
}

#[test]
fn a_human_edit_stops_rewriting_until_generate() {
    let mut pr = PullRequest::default();
    for (event, _, _) in story().into_iter().take(3) {
        pr.run(&event);
    }
    let (c, actions) = pr.run(&pushed("h2", "edited-by-bob"));
    assert_eq!(c.owner, Owner::Human);
    assert_eq!(kinds(&actions), vec!["reply", "checks", "upsert"]);
    assert!(pr.status_comment.as_deref().unwrap_or_default().contains("edited by a person"));
    // Answers are recorded but the file is not rewritten.
    let (c, actions) = pr.run(&reply(30, maintainer(), "memory.api: 512"));
    assert_eq!(kinds(&actions), vec!["react", "upsert", "reply"]);
    assert_eq!(c.owner, Owner::Human);
    // Another push keeps it a person's file, with no second notice.
    let (_, actions) = pr.run(&pushed("h3", "edited-again"));
    assert_eq!(kinds(&actions), vec!["checks", "upsert"]);
    // `generate` takes it back.
    let (c, actions) = pr.run(&reply(31, maintainer(), "/nomad-spec generate"));
    assert_eq!(c.owner, Owner::Bot);
    assert_eq!(kinds(&actions), vec!["react", "commit", "checks", "upsert"]);
}

#[test]
fn commands_reset_help_and_unknown() {
    let (c, _) = apply(&Checkpoint::new(), &opened("h1"));
    let (c, _) = apply(&c, &reply(11, maintainer(), "1: ghcr.io/acme/api:1.4"));
    let (c, actions) = apply(&c, &reply(12, maintainer(), "/nomad-spec reset"));
    assert_eq!(kinds(&actions), vec!["react", "upsert"]);
    assert!(c.answer_log.is_empty() && c.questions.iter().all(|q| q.answer.is_none()));
    assert_eq!(c.stage, Stage::AwaitingAnswers);
    let (_, actions) = apply(&c, &reply(13, maintainer(), "/nomad-spec help"));
    assert_eq!(kinds(&actions), vec!["react", "reply"]);
    let (_, actions) = apply(&c, &reply(14, maintainer(), "/nomad-spec deploy-now"));
    assert_eq!(
        actions[0],
        Action::React { comment_id: 14, reaction: Reaction::Confused },
        "{actions:?}"
    );
    let Action::Reply { text } = &actions[1] else { panic!("{actions:?}") };
    assert!(text.contains("unknown command") && text.contains("/nomad-spec accept"), "{text}");
}

#[test]
fn drift_commands_on_a_pull_request_change_nothing_and_say_so() {
    let (c, _) = apply(&Checkpoint::new(), &opened("h1"));
    let (after, actions) = apply(&c, &reply(15, maintainer(), "/nomad-spec deploy web"));
    assert_eq!(kinds(&actions), vec!["react", "reply"]);
    let Action::Reply { text } = &actions[1] else { panic!("{actions:?}") };
    assert!(text.contains("not on a pull request") && text.contains("web"), "{text}");
    assert_eq!(after.stage, c.stage);
    assert_eq!(after.answer_log, c.answer_log);
}

#[test]
fn unparseable_answers_get_a_specific_reply() {
    let (c, _) = apply(&Checkpoint::new(), &opened("h1"));
    let (c, actions) = apply(&c, &reply(11, maintainer(), "2: a lot\n9: x"));
    assert_eq!(c.answer_log.len(), 0);
    let Action::Reply { text } = actions.last().expect("a reply") else { panic!("{actions:?}") };
    assert!(text.contains("expected a whole number") && text.contains("2: 256"), "{text}");
    assert!(text.contains("no question 9"), "{text}");
}

#[test]
fn fixes_run_out_then_roll_back() {
    let mut pr = PullRequest::default();
    for (event, _, _) in story().into_iter().take(7) {
        pr.run(&event);
    }
    let (_, actions) = pr.run(&Event::DeployFinished {
        commit: "m1".into(),
        outcome: oom(),
        max_fix_iterations: 1,
    });
    assert_eq!(kinds(&actions), vec!["commit", "deploy", "upsert", "reply"]);
    let (c, actions) = pr.run(&Event::DeployFinished {
        commit: "m1-fix".into(),
        outcome: oom(),
        max_fix_iterations: 1,
    });
    assert_eq!(kinds(&actions), vec!["rollback", "upsert", "reply"]);
    assert_eq!(c.stage, Stage::GaveUp);
    // A person can ask for another try.
    let (c, actions) = pr.run(&reply(40, maintainer(), "/nomad-spec fix"));
    assert_eq!(kinds(&actions), vec!["react", "commit", "deploy", "upsert"]);
    assert_eq!((c.stage, c.fix_iterations), (Stage::Deploying, 2));
}

#[test]
fn a_merge_with_failed_checks_does_not_deploy() {
    let mut pr = PullRequest::default();
    for (event, _, _) in story().into_iter().take(5) {
        pr.run(&event);
    }
    pr.run(&Event::ChecksFinished { head_sha: "b1".into(), statuses: vec![CheckStatus::Failure] });
    let (c, actions) = pr.run(&Event::Merged { merge_sha: "m1".into() });
    assert_eq!(kinds(&actions), vec!["reply"]);
    assert_eq!(c.stage, Stage::ChecksFailed);
}

#[test]
fn a_corrupted_checkpoint_is_rebuilt_and_said_so() {
    let mut pr = PullRequest::default();
    for (event, _, _) in story().into_iter().take(3) {
        pr.run(&event);
    }
    let body = pr.status_comment.clone().unwrap_or_default();
    let tampered = body.replace("generated", "healthy");
    assert_eq!(decode(&tampered), Err(CheckpointError::Tampered));
    let corrupted = body.replace("\"stage\"", "\"stage");
    assert!(matches!(decode(&corrupted), Err(CheckpointError::Corrupted(_))));

    pr.status_comment = Some(tampered);
    let (c, actions) = pr.run(&pushed("h2", "hash1"));
    assert!(c.questions.iter().all(|q| q.answer.is_none()), "answers are asked again");
    assert!(c.rebuilt_because.is_some());
    assert_eq!(c.owner, Owner::Human, "the branch cannot show the bot wrote the file");
    assert_eq!(c.stage, Stage::Generated, "a person's file is only checked");
    assert!(kinds(&actions).contains(&"upsert"));
    let shown = pr.status_comment.clone().unwrap_or_default();
    assert!(shown.contains("could not trust my saved state"), "{shown}");
    assert_eq!(decode(&shown).map(|c| c.rebuilt_because.is_some()), Ok(true));
}

#[test]
fn the_status_comment_is_found_among_quotes() {
    let mut pr = PullRequest::default();
    pr.run(&opened("h1"));
    let body = pr.status_comment.clone().unwrap_or_default();
    let comments = vec![
        PostedComment {
            id: 3,
            author: "mallory".into(),
            body: body.replace("awaiting", "healthy"),
        },
        PostedComment { id: 4, author: BOT.into(), body: body.clone() },
        PostedComment { id: 5, author: "alice".into(), body: format!("> {STATUS_MARKER}\n1: x") },
    ];
    let found = find_status_comment(&comments, BOT).map(|c| c.id);
    assert_eq!(found, Some(4));
}

#[test]
fn a_new_pull_request_keeps_a_job_file_the_bot_committed_before() {
    let facts = BranchFacts {
        spec_path: Some(SPEC.into()),
        spec_hash: Some("hash-from-last-pr".into()),
        last_commit_by_bot: Some("c0ffee".into()),
    };
    let (c, _) = apply(&Checkpoint::for_branch(&facts), &pushed("h1", "hash-from-last-pr"));
    assert_eq!((c.owner, c.stage), (Owner::Bot, Stage::AwaitingAnswers));
    let facts = BranchFacts { last_commit_by_bot: None, ..facts };
    let (c, actions) = apply(&Checkpoint::for_branch(&facts), &pushed("h1", "hash-from-last-pr"));
    assert_eq!((c.owner, c.stage), (Owner::Human, Stage::Generated));
    assert_eq!(kinds(&actions), vec!["checks", "upsert"], "a person's file: no takeover notice");
}
