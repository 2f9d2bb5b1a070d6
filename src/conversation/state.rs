//! The conversation's rules (pure): `apply(checkpoint, event) -> (checkpoint, actions)`.
//!
//! An [`Event`] is what happened, with what the workflow learned around it (the commenter's
//! permission, the job file's hash on the branch, whether the PR is a fork, the builder's
//! questions). An [`Action`] is what the bot should do about it; the workflow performs the
//! actions in order and saves the returned checkpoint in the status comment. Results of the
//! bot's own actions come back as events ([`Event::SpecCommitted`], [`Event::ChecksFinished`],
//! [`Event::DeployFinished`]), so every decision is made here and tested without a network.
//!
//! The rules, from the pull-request bot issue:
//! - drafts are analyzed but get no comment until ready for review;
//! - answers and commands count only from people with write, maintain or admin permission;
//!   anyone else gets one polite refusal, once per person, and is ignored afterwards;
//! - a fork gets the analysis and the questions, and the proposed file as a suggestion in the
//!   comment: never a commit, a deploy or a secret;
//! - when a person edited the job file since the bot's last commit, the bot stops rewriting it
//!   and only checks it (and says so); `/nomad-spec generate` takes it back;
//! - an event applied twice changes nothing the second time (its [`Event::id`] is remembered);
//! - an edited reply replaces the answers that comment gave before;
//! - unknown commands get the help; `reset` forgets the answers;
//! - only a merge whose checks passed deploys; a fixable failure gets a fix commit and a
//!   redeploy up to the limit, then a rollback.

use super::answers::{read_checkboxes, read_reply, LineResult, Reading};
use super::checkpoint::{
    sha256_hex, AnswerRecord, Checkpoint, DeployRecord, EventStamp, Owner, Stage, TrackedQuestion,
    KEPT_EVENTS,
};
use crate::checks::CheckStatus;
use crate::command::{help_markdown, Command, PREFIX};
use crate::event::Trigger;
use crate::jobspec::answers::{Answers, Question};

/// Most questions the status comment numbers and the checkpoint keeps.
pub const MAX_QUESTIONS: usize = 50;

/// A person's permission on the repository, as the collaborator permission endpoint says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Admin,
    Maintain,
    Write,
    Triage,
    Read,
    None,
}

impl Permission {
    /// Reads the endpoint's `permission` (or `role_name`) string; anything unknown is `None`.
    pub fn from_api(text: &str) -> Permission {
        match text.trim().to_ascii_lowercase().as_str() {
            "admin" => Permission::Admin,
            "maintain" => Permission::Maintain,
            "write" | "push" => Permission::Write,
            "triage" => Permission::Triage,
            "read" | "pull" => Permission::Read,
            _ => Permission::None,
        }
    }

    /// Whether answers and commands from this person count.
    pub fn may_drive(self) -> bool {
        matches!(self, Permission::Admin | Permission::Maintain | Permission::Write)
    }
}

/// Who did something, with the permission the workflow looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Login.
    pub login: String,
    /// Permission on the repository.
    pub permission: Permission,
}

/// How a deploy ended, as the Nomad engine's verdict says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployOutcome {
    /// All allocations healthy.
    Healthy,
    /// The deploy failed.
    Failed {
        /// The diagnosis in words ("OOM killed: memory 256 MB is too small").
        diagnosis: String,
        /// The engine knows a change of the job file that should fix it.
        fixable: bool,
    },
}

/// What happened, with what the workflow learned around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The pull request was opened, pushed to, reopened or marked ready
    /// (`Trigger::PullRequestChanged`), and analyzed.
    PullRequestChanged {
        /// Head commit.
        head_sha: String,
        /// Drafts are analyzed but not commented on.
        draft: bool,
        /// The head is in a fork.
        from_fork: bool,
        /// Every question the builder asks with no answers given, so numbers stay stable.
        questions: Vec<Question>,
        /// Where the job file goes.
        spec_path: String,
        /// sha256 of the job file on the head, when it exists there.
        spec_file_hash: Option<String>,
    },
    /// A reply on the pull request (`Trigger::PullRequestComment`), created or edited.
    Comment {
        /// Comment id.
        comment_id: u64,
        /// Its author.
        actor: Actor,
        /// Markdown body.
        body: String,
        /// The comment was written by a bot account.
        from_bot: bool,
        /// The LLM's reading of a free-form reply the rules could not use, as `(key, value)`
        /// answers (the workflow asks it; empty without an LLM). Applied like `set`, and said
        /// back to the commenter. Not part of the event's id: the same comment is the same
        /// event whatever the LLM says.
        advised: Vec<(String, String)>,
    },
    /// A person edited the bot's status comment (ticked boxes). On GitHub this is an
    /// `issue_comment` `edited` event on the bot's own comment whose `sender` is a person.
    StatusCommentEdited {
        /// The person who edited (the event's sender).
        actor: Actor,
        /// The new body.
        body: String,
    },
    /// The workflow committed the job file after [`Action::CommitSpec`].
    SpecCommitted {
        /// The new commit.
        commit: String,
        /// sha256 of the committed content.
        spec_hash: String,
    },
    /// The checks of a head finished after [`Action::RunChecks`].
    ChecksFinished {
        /// The head checked.
        head_sha: String,
        /// Each check's status.
        statuses: Vec<CheckStatus>,
    },
    /// The pull request was merged (`Trigger::PullRequestMerged`).
    Merged {
        /// The merge commit.
        merge_sha: String,
    },
    /// A deploy finished after [`Action::Deploy`].
    DeployFinished {
        /// The commit deployed.
        commit: String,
        /// How it went.
        outcome: DeployOutcome,
        /// The configured fix limit.
        max_fix_iterations: u32,
    },
}

impl Event {
    /// A content-derived id: the same event delivered twice has the same id, an edited comment
    /// a new one.
    pub fn id(&self) -> String {
        match self {
            Event::PullRequestChanged { head_sha, draft, from_fork, .. } => {
                format!("pr:{head_sha}:draft={draft}:fork={from_fork}")
            }
            Event::Comment { comment_id, body, .. } => {
                format!("comment:{comment_id}:{}", &sha256_hex(body.as_bytes())[..16])
            }
            Event::StatusCommentEdited { actor, body } => {
                format!("status-edit:{}:{}", actor.login, &sha256_hex(body.as_bytes())[..16])
            }
            Event::SpecCommitted { commit, .. } => format!("committed:{commit}"),
            Event::ChecksFinished { head_sha, statuses } => {
                format!("checks:{head_sha}:{statuses:?}")
            }
            Event::Merged { merge_sha } => format!("merged:{merge_sha}"),
            Event::DeployFinished { commit, outcome, .. } => {
                let kind = match outcome {
                    DeployOutcome::Healthy => "healthy",
                    DeployOutcome::Failed { .. } => "failed",
                };
                format!("deploy:{commit}:{kind}")
            }
        }
    }

    /// The event's kind, for logs and the checkpoint.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::PullRequestChanged { .. } => "pull_request",
            Event::Comment { .. } => "comment",
            Event::StatusCommentEdited { .. } => "status_comment_edited",
            Event::SpecCommitted { .. } => "spec_committed",
            Event::ChecksFinished { .. } => "checks_finished",
            Event::Merged { .. } => "merged",
            Event::DeployFinished { .. } => "deploy_finished",
        }
    }
}

/// What the workflow learned around a trigger, to turn it into an [`Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learned {
    /// The bot's own login (its status comment is written by it).
    pub bot_login: String,
    /// Who caused the event (GitHub's `sender`), with the permission looked up for them.
    pub sender: Actor,
    /// The builder's questions for the head's analysis, with no answers given.
    pub questions: Vec<Question>,
    /// Where the job file goes.
    pub spec_path: String,
    /// sha256 of the job file on the head, when it exists.
    pub spec_file_hash: Option<String>,
}

impl Event {
    /// The conversation event for a trigger, or `None` when the trigger is no PR conversation
    /// (pushes, manual runs, ignored events: the workflow handles or logs those itself).
    pub fn from_trigger(trigger: &Trigger, learned: &Learned) -> Option<Event> {
        match trigger {
            Trigger::PullRequestChanged { pull_request, .. } => Some(Event::PullRequestChanged {
                head_sha: pull_request.head_sha.clone(),
                draft: pull_request.draft,
                from_fork: pull_request.from_fork,
                questions: learned.questions.clone(),
                spec_path: learned.spec_path.clone(),
                spec_file_hash: learned.spec_file_hash.clone(),
            }),
            Trigger::PullRequestMerged { merge_sha, .. } => {
                Some(Event::Merged { merge_sha: merge_sha.clone() })
            }
            Trigger::PullRequestComment { comment, .. } => {
                let own = comment.author.eq_ignore_ascii_case(&learned.bot_login);
                let by_person = !learned.sender.login.eq_ignore_ascii_case(&learned.bot_login);
                if own && comment.edited && by_person {
                    return Some(Event::StatusCommentEdited {
                        actor: learned.sender.clone(),
                        body: comment.body.clone(),
                    });
                }
                let permission = if comment.author.eq_ignore_ascii_case(&learned.sender.login) {
                    learned.sender.permission
                } else {
                    // The permission looked up is someone else's: trust nothing.
                    Permission::None
                };
                Some(Event::Comment {
                    advised: Vec::new(),
                    comment_id: comment.id,
                    actor: Actor { login: comment.author.clone(), permission },
                    body: comment.body.clone(),
                    from_bot: comment.from_bot || own,
                })
            }
            Trigger::PushToDefaultBranch { .. }
            | Trigger::ImagesBuilt { .. }
            | Trigger::Schedule { .. }
            | Trigger::Manual { .. }
            | Trigger::IssueComment { .. }
            | Trigger::Ignored { .. } => None,
        }
    }
}

/// A reaction on a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// Understood and done.
    PlusOne,
    /// Nothing in it could be used.
    Confused,
}

impl Reaction {
    /// The name GitHub's reactions API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Reaction::PlusOne => "+1",
            Reaction::Confused => "confused",
        }
    }
}

/// What the bot should do; the workflow performs these in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Render the status comment from the new checkpoint and create or edit it.
    UpsertStatusComment,
    /// Post a reply (Markdown, already escaped).
    Reply {
        /// The reply.
        text: String,
    },
    /// React to a comment.
    React {
        /// The comment.
        comment_id: u64,
        /// The reaction.
        reaction: Reaction,
    },
    /// Generate the job file from `checkpoint.answers` and commit it to the PR branch (or, while
    /// deploying, to the default branch); nothing is committed when the content is unchanged.
    /// The workflow then applies [`Event::SpecCommitted`].
    CommitSpec {
        /// The job file.
        path: String,
        /// The commit message.
        message: String,
    },
    /// Generate the job file and show it in the status comment as a suggestion (forks).
    SuggestSpec,
    /// Run the checks on the current head; the workflow then applies [`Event::ChecksFinished`].
    RunChecks,
    /// Explain the job file in a reply.
    Explain,
    /// Deploy the job file at this commit; the workflow then applies [`Event::DeployFinished`].
    Deploy {
        /// The commit whose job file is deployed.
        commit: String,
    },
    /// Revert the job to its last stable version on Nomad.
    Rollback {
        /// Why, for the log and the deployment status.
        reason: String,
    },
    /// Nothing to do; the reason goes to the log.
    Nothing {
        /// Why.
        reason: String,
    },
}

fn nothing(reason: impl Into<String>) -> Vec<Action> {
    vec![Action::Nothing { reason: reason.into() }]
}

/// Applies one event: the next checkpoint and what to do.
pub fn apply(checkpoint: &Checkpoint, event: &Event) -> (Checkpoint, Vec<Action>) {
    let id = event.id();
    if checkpoint.events.iter().any(|e| e.id == id) {
        return (checkpoint.clone(), nothing(format!("event {id} was already handled")));
    }
    let mut next = checkpoint.clone();
    let actions = match event {
        Event::PullRequestChanged { head_sha, draft, spec_file_hash, .. }
            if !draft
                && next.bot_commit.as_deref() == Some(head_sha.as_str())
                && next.spec_hash.is_some()
                && next.spec_hash == *spec_file_hash
                && matches!(
                    next.stage,
                    Stage::Generated | Stage::Checked | Stage::ChecksFailed
                ) =>
        {
            // The push of the bot's own commit: it was checked when it was made.
            nothing("the head is the bot's own commit, already being checked")
        }
        Event::PullRequestChanged {
            head_sha: _,
            draft,
            from_fork,
            questions,
            spec_path,
            spec_file_hash,
        } => pull_request_changed(
            &mut next,
            *draft,
            *from_fork,
            questions,
            spec_path,
            spec_file_hash.as_deref(),
        ),
        Event::Comment { comment_id, actor, body, from_bot, advised } => {
            if *from_bot {
                nothing("comments by bots are not read")
            } else {
                let mut reading = read_reply(body, &next.questions);
                let advised_here = !advised.is_empty() && actor.permission.may_drive();
                if advised_here {
                    // The LLM's reading stands for the lines the rules could not use.
                    reading.lines.retain(|l| !matches!(l, LineResult::NotUnderstood { .. }));
                    reading.lines.extend(advised.iter().map(|(key, value)| LineResult::Applied {
                        key: key.clone(),
                        value: value.clone(),
                    }));
                }
                let mut actions = comment(&mut next, *comment_id, actor, &reading);
                if advised_here {
                    let read: Vec<String> = advised
                        .iter()
                        .map(|(k, v)| crate::markdown::code(&format!("{k} = {v}")))
                        .collect();
                    actions.push(Action::Reply {
                        text: format!(
                            "I read your reply as {} (with the help of the LLM). If that is not \
                             what you meant, `{PREFIX} set KEY=VALUE` corrects it.",
                            read.join(", ")
                        ),
                    });
                }
                actions
            }
        }
        Event::StatusCommentEdited { actor, body } => {
            let reading = read_checkboxes(body, &next.questions);
            comment(&mut next, 0, actor, &reading)
        }
        Event::SpecCommitted { commit, spec_hash } => {
            next.bot_commit = Some(commit.clone());
            next.spec_hash = Some(spec_hash.clone());
            next.owner = Owner::Bot;
            if let Some(record) = next.deploy.as_mut().filter(|_| next.stage == Stage::Deploying) {
                record.commit = commit.clone();
            }
            nothing("recorded the bot's commit")
        }
        Event::ChecksFinished { head_sha: _, statuses } => checks_finished(&mut next, statuses),
        Event::Merged { merge_sha } => merged(&mut next, merge_sha),
        Event::DeployFinished { commit, outcome, max_fix_iterations } => {
            deploy_finished(&mut next, commit, outcome, *max_fix_iterations)
        }
    };
    next.events.push(EventStamp { id, kind: event.kind().to_string() });
    if next.events.len() > KEPT_EVENTS {
        let excess = next.events.len() - KEPT_EVENTS;
        next.events.drain(..excess);
    }
    (next, actions)
}

fn pull_request_changed(
    next: &mut Checkpoint,
    draft: bool,
    from_fork: bool,
    questions: &[Question],
    spec_path: &str,
    spec_file_hash: Option<&str>,
) -> Vec<Action> {
    if !next.stage.before_merge() {
        return nothing("the pull request is already merged");
    }
    next.fork = from_fork;
    next.spec_path = Some(spec_path.to_string());
    // The checkpoint carries every question it shows; past this many, keys still answer.
    next.questions = questions.iter().take(MAX_QUESTIONS).map(TrackedQuestion::new).collect();
    recompute_answers(next);
    let mut actions = Vec::new();
    if let Some(hash) = spec_file_hash {
        if next.owner == Owner::Bot && next.spec_hash.as_deref() != Some(hash) {
            next.owner = Owner::Human;
            actions.push(Action::Reply {
                text: format!(
                    "{} was changed by a person since my last commit, so I will not rewrite it: \
                     I only check it from now on. `{PREFIX} generate` hands it back to me.",
                    crate::markdown::code(spec_path)
                ),
            });
        }
    }
    if draft {
        next.stage = if next.open_questions().next().is_some() {
            Stage::AwaitingAnswers
        } else {
            Stage::New
        };
        return nothing("draft pull request: analyzed, no comment until it is ready for review");
    }
    actions.extend(advance(next, "analyzed the pull request"));
    actions
}

/// Moves a pre-merge conversation forward: ask, generate, or check a person's file.
fn advance(next: &mut Checkpoint, why: &str) -> Vec<Action> {
    if next.owner == Owner::Human {
        next.stage = Stage::Generated;
        return vec![Action::RunChecks, Action::UpsertStatusComment];
    }
    if next.open_questions().next().is_some() {
        next.stage = Stage::AwaitingAnswers;
        return vec![Action::UpsertStatusComment];
    }
    generate(next, why)
}

fn generate(next: &mut Checkpoint, why: &str) -> Vec<Action> {
    next.stage = Stage::Generated;
    if next.fork {
        return vec![Action::SuggestSpec, Action::UpsertStatusComment];
    }
    let path = next.spec_path.clone().unwrap_or_else(|| "deploy/job.nomad.hcl".to_string());
    let mut message = format!("nomad-spec: generate {path}\n\n{why}.\n");
    if !next.answer_log.is_empty() {
        message.push_str("\nAnswers:\n");
        for record in &next.answer_log {
            for (key, value) in &record.pairs {
                message.push_str(&format!("- {key} = {value} (by {})\n", record.author));
            }
        }
    }
    vec![Action::CommitSpec { path, message }, Action::RunChecks, Action::UpsertStatusComment]
}

/// Re-derives `answers` and each question's answer from the answer log.
fn recompute_answers(next: &mut Checkpoint) {
    let mut answers = Answers::default();
    for q in &mut next.questions {
        q.answer = None;
        q.answered_by = None;
        q.comment_id = None;
    }
    for record in &next.answer_log {
        for (key, value) in &record.pairs {
            // Every pair passed `set` when it was read; a pair a newer engine refuses is skipped.
            if answers.set(&format!("{key}={value}")).is_err() {
                continue;
            }
            if let Some(q) = next.questions.iter_mut().find(|q| &q.key == key) {
                q.answer = Some(value.clone());
                q.answered_by = Some(record.author.clone());
                q.comment_id = Some(record.comment_id);
            }
        }
    }
    next.answers = answers;
}

fn comment(
    next: &mut Checkpoint,
    comment_id: u64,
    actor: &Actor,
    reading: &Reading,
) -> Vec<Action> {
    let previous = next.answer_log.iter().any(|r| r.comment_id == comment_id);
    if reading.is_empty() && !previous {
        return nothing("the comment neither answers nor commands");
    }
    if !actor.permission.may_drive() {
        if next.refused.contains(&actor.login) {
            return nothing(format!("{} was already told they may not drive the bot", actor.login));
        }
        next.refused.push(actor.login.clone());
        return vec![Action::Reply {
            text: format!(
                "Thanks, {}! Only people with write access to this repository can answer my \
                 questions or give me commands, so I will not act on your comments. A \
                 maintainer can repeat them.",
                crate::markdown::escape(&actor.login)
            ),
        }];
    }

    let mut actions = Vec::new();
    let mut replies: Vec<String> = Vec::new();
    let mut pairs = reading.applied();
    let mut wants_generate = false;
    let mut answers_changed = false;
    for command in reading.commands() {
        match command {
            Command::Help => replies.push(help_markdown()),
            Command::Generate => {
                next.owner = Owner::Bot;
                wants_generate = true;
            }
            Command::Accept => {
                for q in &next.questions {
                    if q.answer.is_none() && !pairs.iter().any(|(k, _)| k == &q.key) {
                        pairs.push((q.key.clone(), q.default.clone()));
                    }
                }
                wants_generate = true;
            }
            // `set` pairs come back as answers; nothing else to do.
            Command::Set { .. } => {}
            Command::Plan | Command::Validate => actions.push(Action::RunChecks),
            Command::Explain => actions.push(Action::Explain),
            Command::Status => actions.push(Action::UpsertStatusComment),
            Command::Fix => actions.extend(fix_command(next)),
            Command::Rollback => actions.extend(rollback_command(next, &actor.login)),
            // They act on a job that drifted from its file, which no pull request is about.
            Command::Deploy { job } | Command::Adopt { job } => replies.push(format!(
                "`{PREFIX} deploy` and `{PREFIX} adopt` act on a job on the cluster that drifted \
                 from its file, not on a pull request; nothing was done with {}.",
                crate::markdown::code(&job)
            )),
            Command::Reset => {
                next.answer_log.clear();
                answers_changed = true;
                if next.stage.before_merge() {
                    next.stage = Stage::AwaitingAnswers;
                }
            }
        }
    }

    // This comment's answers replace what it said before (an edit); an emptied comment withdraws.
    let position = next.answer_log.iter().position(|r| r.comment_id == comment_id);
    let record = AnswerRecord { comment_id, author: actor.login.clone(), pairs: pairs.clone() };
    match (position, pairs.is_empty()) {
        (Some(at), false) => next.answer_log[at] = record,
        (Some(at), true) => {
            next.answer_log.remove(at);
        }
        (None, false) => next.answer_log.push(record),
        (None, true) => {}
    }
    answers_changed |= !pairs.is_empty() || position.is_some();
    if answers_changed {
        recompute_answers(next);
        // The rebuild notice asked people to answer again; now someone has.
        next.rebuilt_because = None;
    }

    if let Some(mut text) = reading.not_understood_markdown() {
        // A command that was not understood gets the list of commands with it.
        let bad_command = reading.not_understood().any(
            |l| matches!(l, LineResult::NotUnderstood { line, .. } if line.starts_with(PREFIX)),
        );
        if bad_command {
            text.push('\n');
            text.push_str(&help_markdown());
        }
        replies.push(text);
    }

    if next.stage.before_merge() && (answers_changed || wants_generate) {
        if next.owner == Owner::Human {
            if answers_changed {
                replies.push(format!(
                    "I recorded the answers, but a person edited the job file, so I will not \
                     rewrite it. `{PREFIX} generate` regenerates it with the answers."
                ));
            }
            actions.push(Action::UpsertStatusComment);
        } else if wants_generate && next.open_questions().next().is_none() {
            let why = format!("requested by {}", actor.login);
            actions.extend(generate(next, &why));
        } else {
            let why = format!("answers by {}", actor.login);
            actions.extend(advance(next, &why));
        }
    } else if answers_changed {
        actions.push(Action::UpsertStatusComment);
    }

    let understood = reading.lines.len() > reading.not_understood().count();
    if comment_id != 0 && !reading.is_empty() {
        let reaction = if understood { Reaction::PlusOne } else { Reaction::Confused };
        actions.insert(0, Action::React { comment_id, reaction });
    }
    actions.extend(replies.into_iter().map(|text| Action::Reply { text }));
    dedup(actions)
}

/// Keeps the first of repeated actions (two commands asking for the same thing).
fn dedup(actions: Vec<Action>) -> Vec<Action> {
    let mut out: Vec<Action> = Vec::new();
    for action in actions {
        if !out.contains(&action) {
            out.push(action);
        }
    }
    out
}

fn fix_command(next: &mut Checkpoint) -> Vec<Action> {
    if next.fork {
        return vec![Action::Reply { text: "Pull requests from forks are never deployed.".into() }];
    }
    if !matches!(next.stage, Stage::Failed | Stage::GaveUp) {
        return vec![Action::Reply { text: "There is no failed deploy to fix.".into() }];
    }
    next.owner = Owner::Bot;
    let diagnosis = next.deploy.as_ref().and_then(|d| d.diagnosis.clone()).unwrap_or_default();
    fix_and_redeploy(next, &diagnosis)
}

fn fix_and_redeploy(next: &mut Checkpoint, diagnosis: &str) -> Vec<Action> {
    next.fix_iterations += 1;
    next.stage = Stage::Deploying;
    let commit = match next.deploy.as_mut() {
        Some(record) => {
            record.attempts += 1;
            record.verdict = None;
            record.commit.clone()
        }
        None => String::new(),
    };
    let path = next.spec_path.clone().unwrap_or_default();
    let message = format!(
        "nomad-spec: fix {path}\n\nThe deploy failed: {diagnosis}\nFix attempt {}.\n",
        next.fix_iterations
    );
    vec![
        Action::CommitSpec { path, message },
        Action::Deploy { commit },
        Action::UpsertStatusComment,
    ]
}

fn rollback_command(next: &mut Checkpoint, login: &str) -> Vec<Action> {
    if next.fork || next.stage.before_merge() {
        return vec![Action::Reply { text: "Nothing of this pull request was deployed.".into() }];
    }
    let reason = format!("rollback requested by {login}");
    if let Some(record) = next.deploy.as_mut() {
        record.verdict = Some(reason.clone());
    }
    vec![Action::Rollback { reason }, Action::UpsertStatusComment]
}

fn checks_finished(next: &mut Checkpoint, statuses: &[CheckStatus]) -> Vec<Action> {
    if !matches!(next.stage, Stage::Generated | Stage::Checked | Stage::ChecksFailed) {
        return nothing("checks finished, but no job file is waiting for them");
    }
    next.stage =
        if statuses.contains(&CheckStatus::Failure) { Stage::ChecksFailed } else { Stage::Checked };
    vec![Action::UpsertStatusComment]
}

fn merged(next: &mut Checkpoint, merge_sha: &str) -> Vec<Action> {
    if next.fork {
        return nothing("pull requests from forks never deploy");
    }
    let refusal = match next.stage {
        Stage::Checked => None,
        Stage::ChecksFailed => Some("its checks failed"),
        Stage::New | Stage::AwaitingAnswers => Some("no job file was generated"),
        Stage::Generated => Some("its checks never finished"),
        _ => return nothing("this merge was already handled"),
    };
    if let Some(why) = refusal {
        return vec![Action::Reply { text: format!("Merged, but I will not deploy: {why}.") }];
    }
    next.stage = Stage::Deploying;
    next.fix_iterations = 0;
    next.deploy = Some(DeployRecord {
        commit: merge_sha.to_string(),
        attempts: 1,
        verdict: None,
        diagnosis: None,
    });
    vec![Action::Deploy { commit: merge_sha.to_string() }, Action::UpsertStatusComment]
}

fn deploy_finished(
    next: &mut Checkpoint,
    commit: &str,
    outcome: &DeployOutcome,
    max_fix_iterations: u32,
) -> Vec<Action> {
    if next.stage != Stage::Deploying {
        return nothing("a deploy finished, but none was running");
    }
    let Some(record) = next.deploy.as_mut() else {
        return nothing("a deploy finished, but none was recorded");
    };
    record.commit = commit.to_string();
    match outcome {
        DeployOutcome::Healthy => {
            record.verdict = Some("healthy".into());
            next.stage = Stage::Healthy;
            vec![
                Action::UpsertStatusComment,
                Action::Reply { text: "Deployed: the job runs healthy on Nomad. ✅".into() },
            ]
        }
        DeployOutcome::Failed { diagnosis, fixable } => {
            record.verdict = Some("failed".into());
            record.diagnosis = Some(diagnosis.clone());
            let shown = crate::markdown::escape(diagnosis);
            if *fixable && next.owner == Owner::Bot && next.fix_iterations < max_fix_iterations {
                let mut actions = fix_and_redeploy(next, diagnosis);
                actions.push(Action::Reply {
                    text: format!(
                        "The deploy failed: {shown}. I am pushing a fix and deploying again."
                    ),
                });
                return actions;
            }
            if *fixable && next.owner == Owner::Human {
                next.stage = Stage::Failed;
                return vec![
                    Action::UpsertStatusComment,
                    Action::Reply {
                        text: format!(
                            "The deploy failed: {shown}. The job file is a person's, so I did \
                             not change it; `{PREFIX} fix` lets me fix it."
                        ),
                    },
                ];
            }
            next.stage = Stage::GaveUp;
            let why = if *fixable {
                format!("{} fix attempts did not help", next.fix_iterations)
            } else {
                "I know no fix for this".to_string()
            };
            let reason = format!("deploy failed ({diagnosis}) and {why}");
            vec![
                Action::Rollback { reason },
                Action::UpsertStatusComment,
                Action::Reply {
                    text: format!(
                        "The deploy failed: {shown}. {why}, so I rolled the job back. \
                         `{PREFIX} fix` tries again."
                    ),
                },
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_drive() {
        let cases = [
            ("admin", true),
            ("maintain", true),
            ("write", true),
            ("push", true),
            ("triage", false),
            ("read", false),
            ("none", false),
            ("", false),
            ("ADMIN ", true),
        ];
        for (text, may) in cases {
            assert_eq!(Permission::from_api(text).may_drive(), may, "{text:?}");
        }
    }

    #[test]
    fn ids_follow_content() {
        let actor = Actor { login: "alice".into(), permission: Permission::Write };
        let comment = |body: &str| Event::Comment {
            comment_id: 7,
            actor: actor.clone(),
            body: body.into(),
            from_bot: false,
            advised: Vec::new(),
        };
        assert_eq!(comment("1: a").id(), comment("1: a").id());
        let advised = Event::Comment {
            comment_id: 7,
            actor: actor.clone(),
            body: "1: a".into(),
            from_bot: false,
            advised: vec![("image.api".into(), "x".into())],
        };
        assert_eq!(advised.id(), comment("1: a").id(), "the LLM's reading is not the event");
        assert_ne!(comment("1: a").id(), comment("1: b").id(), "an edit is a new event");
        let merged = Event::Merged { merge_sha: "m1".into() };
        assert_eq!(merged.id(), "merged:m1");
    }

    #[test]
    fn comments_become_the_right_events() {
        use crate::event::{Comment, Repository};
        let trigger = |author: &str, edited: bool| Trigger::PullRequestComment {
            repository: Repository { full_name: "acme/shop".into(), default_branch: "main".into() },
            pull_request_number: 3,
            comment: Comment {
                id: 9,
                author: author.into(),
                body: "- [x] deploy.db".into(),
                edited,
                from_bot: author.ends_with("[bot]"),
                sender: author.into(),
            },
        };
        let learned = |sender: &str, permission| Learned {
            bot_login: "nomad-spec[bot]".into(),
            sender: Actor { login: sender.into(), permission },
            questions: Vec::new(),
            spec_path: "deploy/shop.nomad.hcl".into(),
            spec_file_hash: None,
        };
        let kind = |t: &Trigger, l: &Learned| Event::from_trigger(t, l).map(|e| e.kind());
        let bot = "nomad-spec[bot]";
        let cases = [
            (trigger(bot, true), learned("alice", Permission::Write), "status_comment_edited"),
            (trigger(bot, true), learned(bot, Permission::Write), "comment"),
            (trigger("alice", false), learned("alice", Permission::Write), "comment"),
        ];
        for (t, l, expected) in cases {
            assert_eq!(kind(&t, &l), Some(expected), "{t:?} {l:?}");
        }
        // The bot's own edit is a bot comment, never read.
        let own = Event::from_trigger(&trigger(bot, true), &learned(bot, Permission::Admin));
        assert!(matches!(own, Some(Event::Comment { from_bot: true, .. })));
        // A permission looked up for someone else is not lent to the comment's author.
        let lent =
            Event::from_trigger(&trigger("mallory", true), &learned("alice", Permission::Admin));
        assert!(matches!(
            lent,
            Some(Event::Comment { actor: Actor { permission: Permission::None, .. }, .. })
        ));
    }

    #[test]
    fn old_events_are_forgotten_beyond_the_bound() {
        let mut c = Checkpoint::new();
        for i in 0..(KEPT_EVENTS + 5) {
            let event = Event::Merged { merge_sha: format!("m{i}") };
            c = apply(&c, &event).0;
        }
        assert_eq!(c.events.len(), KEPT_EVENTS);
        assert_eq!(c.events.last().map(|e| e.id.as_str()), Some("merged:m36"));
    }
}
