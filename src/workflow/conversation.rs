//! One run of the pull-request conversation on a forge: load the checkpoint from the status
//! comment, learn what the event needs (permission, the branch's job file, the analysis),
//! apply the conversation's rules, perform the actions, save the checkpoint.
//!
//! Every decision is `conversation::apply`'s; this file only performs what it asks and feeds
//! the results back (`SpecCommitted`, `ChecksFinished`, `DeployFinished`). The forge is
//! reached only through `crate::forge::Forge`, git only through `crate::git::Workspace`, so
//! GitHub and GitLab runs are this same code.
//!
//! Writes are kept few and idempotent: the status comment is created once and edited only
//! when the checkpoint changed (a replayed event changes nothing, so it writes nothing); a
//! commit is made only when the file's content changes; a push is never forced (an author's
//! push in between is fetched, and the file regenerated on top, a bounded number of times).

use std::collections::VecDeque;
use std::path::Path;

use anyhow::Context;

use super::checkout;
use super::deploying::{self, DeployAttempt};
use super::images::{self, Proposal};
use super::{RunReport, Runner};
use crate::analyze::Analysis;
use crate::checks::{self, CheckResult, CheckStatus, FileChecks};
use crate::conversation::{
    apply, decode, find_status_comment, render, sha256_hex, Action, Actor, BranchFacts, CheckBrief,
    Checkpoint, DeployOutcome, Event, FoundService, Learned, Owner, Permission, Stage, StatusInput,
};
use crate::event::{Repository, Trigger};
use crate::forge::{DeploymentState, Forge};
use crate::generation::Prepared;
use crate::git::{Identity, NameSource, PushOutcome, Workspace};
use crate::jobspec::answers::{Answers, Question};
use crate::jobspec::build::{Decision, Generated};
use crate::jobspec::parse::MAX_SOURCE_BYTES;
use crate::nomad::fix::{Fix, FixPolicy};
use crate::nomad::job_file::JobFile;
use crate::settings::{BotSettings, Settings};
use crate::telemetry;
use tracing::Instrument as _;

/// Pushes tried before giving up when someone keeps pushing to the branch.
const PUSH_ATTEMPTS: u32 = 3;

/// What started the conversation run.
pub enum Start<'a> {
    /// A trigger about a change request (opened, changed, commented on, merged).
    Trigger(&'a Trigger),
    /// A push to the default branch that merged change request `number` as `merge_sha`.
    MergedByPush { number: u64, merge_sha: String, repository: Repository },
}

/// The state of one run.
struct Run<'a> {
    forge: &'a Forge,
    runner: &'a Runner,
    bot: &'a BotSettings,
    settings: &'a Settings,
    number: u64,
    repository: Repository,
    /// The branch the bot pushes to (the PR head, or the default branch after a merge).
    branch: String,
    workspace: Workspace,
    identity: Identity,
    /// The analysis, configuration and cluster context every build of this run starts from.
    prepared: Prepared,
    /// The primary job file, relative to the repository.
    spec_path: String,
    /// The image pipeline for the services nothing publishes, committed with the job file.
    proposal: Proposal,
    checkpoint: Checkpoint,
    status_comment: Option<u64>,
    status_dirty: bool,
    /// The jobs built in this run, with the answers they were built from.
    generated: Option<(Answers, Generated)>,
    checks: Vec<CheckResult>,
    /// The Nomad plan of the job file, as Markdown.
    plan: Option<String>,
    proposed_file: Option<String>,
    pending_fix: Option<Box<Fix>>,
    deployment: Option<u64>,
    /// A fix went to a pull request because the default branch is protected.
    fix_pull_request: Option<u64>,
    /// What the last rollback did, told in the next reply.
    rollback_note: Option<String>,
    /// Nothing more of the current batch is done (the answers do not build a job).
    halted: bool,
    /// Memory, when it is on: pushed back when the run ends.
    memory: Option<super::remembering::PrMemory>,
    /// What the status comment says about memory itself (it could not be read or pushed).
    memory_note: Option<String>,
    report: RunReport,
}

/// Runs the conversation for a change-request trigger.
pub async fn run(
    forge: &Forge,
    runner: &Runner,
    bot: &BotSettings,
    settings: &Settings,
    start: Start<'_>,
) -> anyhow::Result<RunReport> {
    // The status comment's footer names the prompts this run's LLM tasks used, whichever
    // client of the run asked.
    crate::llm::prompt::recording_used(converse(forge, runner, bot, settings, start)).await
}

async fn converse(
    forge: &Forge,
    runner: &Runner,
    bot: &BotSettings,
    settings: &Settings,
    start: Start<'_>,
) -> anyhow::Result<RunReport> {
    let bot_login = forge.bot_login().await?;
    let (number, repository, known_pr) = match &start {
        Start::Trigger(Trigger::PullRequestChanged { repository, pull_request, .. })
        | Start::Trigger(Trigger::PullRequestMerged { repository, pull_request, .. }) => {
            (pull_request.number, repository.clone(), Some(pull_request.clone()))
        }
        Start::Trigger(Trigger::PullRequestComment { repository, pull_request_number, .. }) => {
            (*pull_request_number, repository.clone(), None)
        }
        Start::MergedByPush { number, repository, .. } => (*number, repository.clone(), None),
        Start::Trigger(_) => anyhow::bail!("not a change-request trigger"),
    };
    let pr = match known_pr {
        Some(pr) => pr,
        None => forge.pull_request(number).await?,
    };
    let merged = matches!(
        start,
        Start::Trigger(Trigger::PullRequestMerged { .. }) | Start::MergedByPush { .. }
    );

    // Clone what the event is about: the merged default branch, the PR head, or (a fork, which
    // the token cannot push to) the head the base repository keeps for it.
    let remote = forge.git_remote();
    let (git_ref, branch) = if merged {
        (format!("refs/heads/{}", repository.default_branch), repository.default_branch.clone())
    } else if pr.from_fork {
        (forge.change_request_ref(number), String::new())
    } else {
        (format!("refs/heads/{}", pr.head_ref), pr.head_ref.clone())
    };
    runner.group(&format!("clone {git_ref}"));
    let workspace = {
        let _span = telemetry::stage("clone").entered();
        Workspace::clone(&remote, &git_ref)
            .with_context(|| format!("cannot check out {git_ref} of {}", repository.full_name))?
    };
    runner.end_group(&format!("clone {git_ref}"));

    let repository_name = crate::git::repository_name(NameSource::FullName(&repository.full_name));
    let config = checkout::repository_config(workspace.path(), bot)?;
    let mut analysis = async {
        let analysis = checkout::analyze_checkout(workspace.path(), &repository_name);
        telemetry::attribute("nomad_spec.services", analysis.services.len() as u64);
        analysis
    }
    .instrument(telemetry::stage("analyze"))
    .await;
    // Services nothing publishes get the image pipeline's image (issue 17).
    let registry = images::registry_path(forge.kind(), &repository, settings);
    let proposal = if images::enabled(settings)? {
        images::propose(
            forge.kind(),
            registry,
            &repository.default_branch,
            &mut analysis,
            &config,
            workspace.path(),
        )
    } else {
        images::none(forge.kind(), registry, &repository.default_branch)
    };
    let mut prepared = crate::generation::prepare(analysis, config, repository_name, settings)
        .instrument(telemetry::stage("prepare"))
        .await;
    for note in &prepared.notes {
        runner.log(&format!("note: {note}"));
    }
    // What earlier runs of this repository learned, on its memory ref (issue 14).
    let identity = super::commit_identity(bot);
    // A fork's run reads memory but never pushes it: its token may not, and nothing it does
    // is deployed.
    let mut memory = super::remembering::open(
        settings,
        &remote,
        &identity,
        (&repository.full_name, number),
        merged || !pr.from_fork,
        runner,
    )
    .await;
    if let Some(memory) = &mut memory {
        let recalled = memory.recalled(&prepared.analysis, runner).await;
        prepared.with_memory(recalled, memory.cluster());
    }

    // The questions for this head, with no answers given, so numbers stay stable.
    let (questions, spec_path, _) = prepared.questions_and_path();
    let spec_file_hash = read_in(workspace.path(), &spec_path).map(|t| sha256_hex(t.as_bytes()));
    let facts = BranchFacts {
        spec_path: spec_file_hash.as_ref().map(|_| spec_path.clone()),
        spec_hash: spec_file_hash.clone(),
        // The bot never deletes a job file, so an absent one was not last touched by it (and
        // the history, which a shallow clone would fetch to find who removed it, is not read).
        last_commit_by_bot: match spec_file_hash {
            Some(_) => workspace
                .last_commit_touching(&spec_path)?
                .filter(|c| c.author_email.eq_ignore_ascii_case(&identity.email))
                .map(|c| c.sha),
            None => None,
        },
    };

    let comments = forge.comments(number).await?;
    let status = find_status_comment(&comments, &bot_login);
    let checkpoint = match status {
        None => Checkpoint::for_branch(&facts),
        Some(comment) => match decode(&comment.body) {
            Ok(checkpoint) => checkpoint,
            Err(err) => {
                runner.warn(&format!("the status comment's state was not usable: {err}"));
                Checkpoint::rebuilt_from(&facts, &err)
            }
        },
    };

    // A comment is read back from the forge, never trusted from the event: a GitLab trigger
    // payload can be sent by anyone holding the trigger token.
    let confirmed;
    let start_trigger = match &start {
        Start::Trigger(Trigger::PullRequestComment {
            repository,
            pull_request_number,
            comment,
        }) => {
            let Some(posted) = comments.iter().find(|c| c.id == comment.id) else {
                let mut report = RunReport::new(format!("comment {} on #{number}", comment.id));
                report.verdict = "ignored".into();
                report.log.push(format!(
                    "comment {} is not on change request #{number} (deleted, or not real)",
                    comment.id
                ));
                return Ok(report);
            };
            let mut comment = comment.clone();
            if !posted.author.eq_ignore_ascii_case(&comment.author) {
                comment.sender = posted.author.clone();
            }
            comment.author = posted.author.clone();
            comment.body = posted.body.clone();
            confirmed = Trigger::PullRequestComment {
                repository: repository.clone(),
                pull_request_number: *pull_request_number,
                comment,
            };
            Some(&confirmed)
        }
        Start::Trigger(trigger) => Some(*trigger),
        Start::MergedByPush { .. } => None,
    };
    let event = match (&start, start_trigger) {
        (Start::MergedByPush { merge_sha, .. }, _) => {
            Event::Merged { merge_sha: merge_sha.clone() }
        }
        (Start::Trigger(_), None) => anyhow::bail!("no trigger to start from"),
        (Start::Trigger(_), Some(trigger)) => {
            let sender = sender_of(forge, trigger, &bot_login).await?;
            let learned = Learned {
                bot_login: bot_login.clone(),
                sender,
                questions: questions.clone(),
                spec_path: spec_path.clone(),
                spec_file_hash,
            };
            match Event::from_trigger(trigger, &learned) {
                Some(event) => event,
                None => anyhow::bail!("the trigger is not part of a conversation"),
            }
        }
    };
    for note in prepared.answers(&checkpoint.answers).1 {
        runner.log(&format!("note: {note}"));
    }
    let mut event = event;
    // A run the bot's own comment started says nothing about an earlier failure.
    let caused_by_bot = match &event {
        Event::Comment { actor, from_bot, .. } => {
            *from_bot || actor.login.eq_ignore_ascii_case(&bot_login)
        }
        Event::StatusCommentEdited { actor, .. } => actor.login.eq_ignore_ascii_case(&bot_login),
        _ => false,
    };
    let analysis = &prepared.analysis;
    async {
        telemetry::attribute("nomad_spec.questions", questions.len() as u64);
        advise_on_reply(&mut event, &checkpoint, analysis, &questions, settings, runner).await;
        sharpen_questions(&mut event, &checkpoint, analysis, settings, runner).await;
    }
    .instrument(telemetry::stage("questions"))
    .await;
    if let Event::Merged { merge_sha } = &event {
        // The job waits for the merge's images before anything is deployed; a replayed merge
        // did its waiting already.
        let replayed = checkpoint.events.iter().any(|e| e.id == event.id());
        if bot.auto_deploy && !replayed {
            let awaited = proposal.awaited(&workspace)?;
            if !awaited.is_empty() {
                return images::hold_merge(forge, runner, number, merge_sha, &awaited).await;
            }
        }
    }
    if let Event::Merged { .. } = event {
        if !bot.auto_deploy {
            let mut report = RunReport::new(format!("change request #{number} merged"));
            report.verdict = "not-deployed".into();
            report.log.push(format!(
                "auto-deploy is off ({}=false): not deploying",
                crate::settings::AUTO_DEPLOY
            ));
            return Ok(report);
        }
    }

    let mut run = Run {
        forge,
        runner,
        bot,
        settings,
        number,
        repository,
        branch,
        workspace,
        identity,
        prepared,
        spec_path,
        proposal,
        status_comment: status.map(|c| c.id),
        checkpoint,
        status_dirty: false,
        generated: None,
        checks: Vec::new(),
        plan: None,
        proposed_file: None,
        pending_fix: None,
        deployment: None,
        fix_pull_request: None,
        rollback_note: None,
        halted: false,
        memory,
        memory_note: None,
        report: RunReport::new(format!("{} on change request #{number}", event.kind())),
    };
    run.report.spec_path = Some(run.spec_path.clone());
    let loaded = run.checkpoint.clone();
    let replayed = loaded.events.iter().any(|e| e.id == event.id());
    if matches!(event, Event::PullRequestChanged { .. }) && !replayed {
        // A new head: the checks kept for the old one no longer say anything.
        run.checkpoint.checks.clear();
    }
    run.drive(event).await?;
    score_corrections(&loaded, &run.checkpoint);
    if run.checkpoint.answers != loaded.answers && !run.halted {
        // New answers that build no job are said now, not at the commit they would block.
        if let Err(err) = run.build_jobs() {
            run.cannot_generate(&err).await?;
        }
    }
    // Memory is pushed before the status comment is written, so that a push that failed is
    // said there; only answers this run took are learned.
    if let Some(memory) = run.memory.take() {
        let answers = &run.checkpoint.answers;
        let taken = (*answers != loaded.answers).then_some(answers);
        run.memory_note = memory.finish(taken, &run.prepared.analysis, runner).await;
        run.status_dirty |= run.memory_note.is_some();
    }
    if run.checkpoint != loaded {
        run.status_dirty = true;
    }
    run.save().await?;
    run.finish_deployment().await;
    if !caused_by_bot {
        super::failure::mark_solved(forge, number, &comments, &bot_login, runner).await;
    }
    run.report.verdict = stage_name(run.checkpoint.stage).to_string();
    Ok(run.report)
}

/// Outcomes a prompt's effect is judged by, as scores on the run's trace: answers a person
/// gave again with another value (a reading, the LLM's or the rules', that was wrong), and a
/// generated job file a person took over by editing it.
fn score_corrections(loaded: &Checkpoint, now: &Checkpoint) {
    let earlier = &loaded.answer_log;
    let added = now.answer_log.get(earlier.len()..).unwrap_or_default();
    let corrected = added
        .iter()
        .flat_map(|record| &record.pairs)
        .filter(|(key, value)| {
            earlier.iter().flat_map(|r| &r.pairs).any(|(k, v)| k == key && v != value)
        })
        .count();
    if corrected > 0 {
        let comment = "answers given again with another value";
        telemetry::score("answers_corrected", corrected as f64, comment);
    }
    if loaded.owner == Owner::Bot && now.owner == Owner::Human {
        telemetry::score("edited_by_hand", 1.0, "a person edited the generated job file");
    }
}

/// A free-form reply the rules cannot use, from someone who may answer, while questions are
/// open: the LLM (when one is configured) reads it into answers, which the conversation applies
/// like `set` and says back. A replayed comment is not read again, so a replay stays a no-op
/// whatever the LLM would say now.
async fn advise_on_reply(
    event: &mut Event,
    checkpoint: &Checkpoint,
    analysis: &Analysis,
    questions: &[Question],
    settings: &Settings,
    runner: &Runner,
) {
    let id = event.id();
    let Event::Comment { body, actor, from_bot: false, advised, .. } = event else { return };
    let replayed = checkpoint.events.iter().any(|e| e.id == id);
    if replayed
        || !checkpoint.stage.before_merge()
        || !actor.permission.may_drive()
        || checkpoint.questions.is_empty()
    {
        return;
    }
    let reading = crate::conversation::read_reply(body, &checkpoint.questions);
    let usable = !reading.applied().is_empty() || !reading.commands().is_empty();
    if usable && reading.not_understood().next().is_none() {
        return;
    }
    let Some(client) = super::llm_client(settings, runner) else { return };
    let advice =
        crate::llm::tasks::answers(Some(&client), analysis, questions, body, &checkpoint.answers)
            .await;
    for note in &advice.notes {
        runner.log(&format!("llm: {note}"));
    }
    if let Some(patch) = advice.value {
        *advised = patch
            .applied
            .iter()
            .filter_map(|a| a.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
    }
}

/// A new head of a pull request that is not a draft: the LLM (when one is configured) words
/// the builder's questions for this repository and may add ones they missed; keys and
/// defaults stay the engine's. A replayed event is not sent again.
async fn sharpen_questions(
    event: &mut Event,
    checkpoint: &Checkpoint,
    analysis: &Analysis,
    settings: &Settings,
    runner: &Runner,
) {
    let id = event.id();
    let Event::PullRequestChanged { draft: false, questions, .. } = event else { return };
    if questions.is_empty() || checkpoint.events.iter().any(|e| e.id == id) {
        return;
    }
    let Some(client) = super::llm_client(settings, runner) else { return };
    let advice = crate::llm::tasks::questions(Some(&client), analysis, questions).await;
    for note in &advice.notes {
        runner.log(&format!("llm: {note}"));
    }
    if let Some(sharper) = advice.value {
        *questions = sharper;
    }
}

/// Who caused a comment event, with the permission the forge gives them (never the event's
/// own claim). Other events need no permission.
async fn sender_of(forge: &Forge, trigger: &Trigger, bot_login: &str) -> anyhow::Result<Actor> {
    let Trigger::PullRequestComment { comment, .. } = trigger else {
        return Ok(Actor { login: String::new(), permission: Permission::None });
    };
    let login = comment.sender.clone();
    let is_bot = comment.from_bot && comment.sender == comment.author
        || login.eq_ignore_ascii_case(bot_login);
    let permission = if is_bot || login.is_empty() {
        Permission::None
    } else {
        forge.permission(&login).await?
    };
    Ok(Actor { login, permission })
}

/// A file of the pull request's checkout; nothing when it is missing, not a regular file (a
/// link to `/dev/zero` in the branch) or larger than a job file may be.
fn read_in(root: &Path, relative: &str) -> Option<String> {
    crate::file::read_text(&root.join(relative), MAX_SOURCE_BYTES as u64).ok()
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::New => "new",
        Stage::AwaitingAnswers => "awaiting-answers",
        Stage::Generated => "generated",
        Stage::Checked => "checked",
        Stage::ChecksFailed => "checks-failed",
        Stage::Merged => "merged",
        Stage::Deploying => "deploying",
        Stage::Healthy => "healthy",
        Stage::Failed => "failed",
        Stage::GaveUp => "rolled-back",
    }
}

impl Run<'_> {
    /// Applies `event` and performs what it asks, feeding results back, depth first.
    async fn drive(&mut self, event: Event) -> anyhow::Result<()> {
        let mut queue: VecDeque<Action> = VecDeque::new();
        let (next, actions) = apply(&self.checkpoint, &event);
        self.checkpoint = next;
        queue.extend(actions);
        while let Some(action) = queue.pop_front() {
            if let Some(feedback) = self.perform(action).await? {
                let (next, actions) = apply(&self.checkpoint, &feedback);
                self.checkpoint = next;
                for action in actions.into_iter().rev() {
                    queue.push_front(action);
                }
            }
            if self.fix_pull_request.is_some() || self.halted {
                // A fix waiting for a person to merge it, or answers that build no job:
                // nothing else of this batch applies.
                queue.clear();
            }
        }
        Ok(())
    }

    async fn perform(&mut self, action: Action) -> anyhow::Result<Option<Event>> {
        match action {
            Action::UpsertStatusComment => {
                self.status_dirty = true;
                if self.status_comment.is_none() {
                    self.save().await?;
                }
                Ok(None)
            }
            Action::Reply { mut text } => {
                if let Some(note) = self.rollback_note.take() {
                    let note = crate::markdown::escape(&note);
                    text.push_str(&format!("\n\nWhat the rollback did: {note}."));
                }
                self.forge.create_comment(self.number, &text).await?;
                Ok(None)
            }
            Action::React { comment_id, reaction } => {
                if comment_id != 0 {
                    if let Err(err) = self.forge.react(self.number, comment_id, reaction).await {
                        self.runner.warn(&format!("could not react to the comment: {err}"));
                    }
                }
                Ok(None)
            }
            Action::CommitSpec { path, message } => {
                if self.checkpoint.stage != Stage::Deploying {
                    if let Err(err) = self.generate().await {
                        return self.cannot_generate(&err).await;
                    }
                }
                self.commit_spec(&path, &message).await
            }
            Action::SuggestSpec => {
                let generated = match self.generate().await {
                    Ok(generated) => generated,
                    Err(err) => return self.cannot_generate(&err).await,
                };
                let text = self.render_primary(&generated)?;
                self.proposed_file = Some(text);
                Ok(None)
            }
            Action::RunChecks => self.run_checks().await.map(Some),
            Action::Explain => {
                let text = self.explanation().await?;
                self.forge.create_comment(self.number, &text).await?;
                Ok(None)
            }
            Action::Deploy { commit: _ } => {
                // Show "deploying" before the wait.
                self.save().await?;
                self.deploy().await.map(Some)
            }
            Action::Rollback { reason } => {
                self.rollback(&reason).await;
                Ok(None)
            }
            Action::Nothing { reason } => {
                self.runner.log(&format!("nothing to do: {reason}"));
                self.report.log.push(reason);
                Ok(None)
            }
        }
    }

    /// The answers do not build a job (an answer names a service the repository does not
    /// have, say): say so on the change request and wait for a better answer; nothing else
    /// of this batch is done.
    async fn cannot_generate(&mut self, err: &anyhow::Error) -> anyhow::Result<Option<Event>> {
        let text = format!(
            "I cannot generate the job file: {}. Correct the answer with `{} set KEY=VALUE`, \
             or start over with `{} reset`.",
            crate::markdown::escape(&format!("{err:#}")),
            crate::command::PREFIX,
            crate::command::PREFIX
        );
        self.forge.create_comment(self.number, &text).await?;
        self.checkpoint.stage = Stage::AwaitingAnswers;
        self.status_dirty = true;
        self.halted = true;
        Ok(None)
    }

    /// The jobs the conversation's answers build, reviewed by the LLM when one is configured
    /// (its accepted changes are decisions), made once per set of answers (kept for the
    /// commit message and the status comment's decisions).
    async fn generate(&mut self) -> anyhow::Result<Generated> {
        if let Some((answers, generated)) = &self.generated {
            if *answers == self.checkpoint.answers {
                return Ok(generated.clone());
            }
        }
        let mut generated = self.build_jobs()?;
        let llm = super::llm_client(self.settings, self.runner);
        let refining = self.prepared.refine(&mut generated, llm.as_ref(), self.settings);
        for note in refining.await {
            self.runner.log(&format!("llm: {note}"));
        }
        self.generated = Some((self.checkpoint.answers.clone(), generated.clone()));
        Ok(generated)
    }

    /// The jobs the answers build, built now.
    fn build_jobs(&self) -> anyhow::Result<Generated> {
        let _span = telemetry::stage("generate").entered();
        let built = self.prepared.build(&self.checkpoint.answers);
        match &built {
            Ok(generated) => {
                telemetry::attribute("nomad_spec.jobs", generated.jobs.len() as u64);
                telemetry::attribute("nomad_spec.decisions", generated.decisions.len() as u64);
            }
            Err(err) => telemetry::failed(&err.to_string()),
        }
        built.map_err(|err| anyhow::anyhow!("cannot generate the job file: {err}"))
    }

    fn render_primary(&self, generated: &Generated) -> anyhow::Result<String> {
        let files = self.prepared.render(generated)?;
        files.into_iter().next().map(|f| f.text).context("the builder made no job")
    }

    /// Commits the job file: generated from the answers on a pull request, or with the pending
    /// fix applied after a failed deploy. Returns `SpecCommitted`.
    async fn commit_spec(&mut self, path: &str, message: &str) -> anyhow::Result<Option<Event>> {
        let fixing = self.checkpoint.stage == Stage::Deploying;
        // The primary job file, and any other job the builder made (a backing service deployed
        // beside the app), each committed when its content changed. Generated files depend on
        // the answers only; a fix is applied to the file as the branch has it, after each sync.
        let generated_files: Vec<(String, String)> = if fixing {
            Vec::new()
        } else {
            let generated = self.generate().await?;
            let files = self.prepared.render(&generated)?;
            if !files.iter().any(|f| f.path == path) {
                anyhow::bail!("the builder made no job file at {path}");
            }
            files.into_iter().map(|f| (f.path, f.text)).collect()
        };
        // The image pipeline goes in the job file's commit: the file names the images it builds.
        let (pipeline, notes) = if fixing {
            (Vec::new(), Vec::new())
        } else {
            let jobs_dir = Path::new(path).parent().map(|p| p.display().to_string());
            self.proposal.files(
                &self.checkpoint.answers,
                self.workspace.path(),
                jobs_dir.as_deref().unwrap_or(""),
            )?
        };
        for note in notes {
            self.runner.log(&format!("note: {note}"));
            self.report.log.push(note);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let files = if fixing {
                vec![(path.to_string(), self.fixed_content(path)?)]
            } else {
                generated_files.clone()
            };
            let mut message = self.commit_message(message);
            if !pipeline.is_empty() {
                let paths: Vec<&str> = pipeline.iter().map(|(p, _)| p.as_str()).collect();
                message.push_str(&format!(
                    "\nWith the image pipeline ({}): it builds the images the job file names and \
                     pushes them from {}; after a merge the job file pins the merge commit's.\n",
                    paths.join(", "),
                    self.repository.default_branch
                ));
            }
            let mut committed = None;
            let mut hash = String::new();
            for (file, content) in &files {
                let file_message =
                    if file == path { message.clone() } else { message.replacen(path, file, 1) };
                let mut together = vec![(file.clone(), content.clone())];
                if file == path {
                    together.extend(pipeline.iter().cloned());
                }
                if let Some(commit) =
                    self.workspace.commit_files(&together, &file_message, &self.identity)?
                {
                    committed = Some(commit);
                }
                if file == path {
                    hash = sha256_hex(content.as_bytes());
                }
            }
            let Some(commit) = committed else {
                let head = self.workspace.head()?;
                return Ok(Some(Event::SpecCommitted { commit: head, spec_hash: hash }));
            };
            match self.workspace.push(&self.branch)? {
                PushOutcome::Pushed { commit } => {
                    self.runner.log(&format!("pushed {commit} to {}", self.branch));
                    self.checkpoint.checks.clear();
                    self.report.commits.push(commit.clone());
                    return Ok(Some(Event::SpecCommitted { commit, spec_hash: hash }));
                }
                PushOutcome::NonFastForward if attempt < PUSH_ATTEMPTS => {
                    self.runner.log(&format!(
                        "{} moved while I was committing; fetching it and trying again",
                        self.branch
                    ));
                    self.workspace.sync_to(&self.branch)?;
                    if !fixing && self.edited_by_person(path)? {
                        return self.stop_owning(path).await;
                    }
                    let _ = commit;
                }
                PushOutcome::NonFastForward => {
                    anyhow::bail!(
                        "{} kept moving: gave up pushing after {PUSH_ATTEMPTS} attempts",
                        self.branch
                    )
                }
                PushOutcome::Rejected { message: why, protected } if fixing && protected => {
                    return self.open_fix_pull_request(path, &message, &why).await;
                }
                PushOutcome::Rejected { message: why, .. } => {
                    anyhow::bail!("the push to {} was rejected: {why}", self.branch)
                }
            }
        }
    }

    /// After a racing push: whether a person changed the job file since the bot's commit.
    fn edited_by_person(&self, path: &str) -> anyhow::Result<bool> {
        let Some(text) = read_in(self.workspace.path(), path) else { return Ok(false) };
        let hash = sha256_hex(text.as_bytes());
        if self.checkpoint.spec_hash.as_deref() == Some(hash.as_str()) {
            return Ok(false);
        }
        let last = self.workspace.last_commit_touching(path)?;
        Ok(last.is_some_and(|c| !c.author_email.eq_ignore_ascii_case(&self.identity.email)))
    }

    /// A person's push changed the file: it is theirs now; check it instead of rewriting it.
    async fn stop_owning(&mut self, path: &str) -> anyhow::Result<Option<Event>> {
        self.checkpoint.owner = Owner::Human;
        self.forge
            .create_comment(
                self.number,
                &format!(
                    "Someone pushed a change to `{}` while I was about to commit it, so it is \
                     theirs now: I will only check it. `{} generate` makes it mine again.",
                    crate::markdown::escape(path),
                    crate::command::PREFIX
                ),
            )
            .await?;
        Ok(Some(Event::ChecksFinished {
            head_sha: self.workspace.head()?,
            statuses: self.run_check_statuses().await?,
        }))
    }

    fn commit_message(&self, base: &str) -> String {
        let mut message = base.trim_end().to_string();
        if let Some((_, generated)) = &self.generated {
            if !generated.decisions.is_empty() && self.pending_fix.is_none() {
                message.push_str("\n\nDecisions:\n");
                for decision in generated.decisions.iter().take(40) {
                    message.push_str(&format!(
                        "- {}: {} ({})\n",
                        decision.subject, decision.choice, decision.reason
                    ));
                }
            }
        }
        if let Some(fix) = &self.pending_fix {
            message.push_str(&format!("\n\n{}\n", fix.explanation));
        }
        message.push('\n');
        message
    }

    /// The job file with the pending fix written in, comments kept.
    fn fixed_content(&mut self, path: &str) -> anyhow::Result<String> {
        let fix = self.pending_fix.as_ref().context("a fix commit was asked with no fix")?;
        let full = self.workspace.path().join(path);
        let mut file = JobFile::read(&full)?;
        file.write_edits(&fix.edits)?;
        Ok(file.text)
    }

    /// The default branch is protected: push the fix to its own branch and open a change
    /// request for it; the deploy waits for a person to merge it.
    async fn open_fix_pull_request(
        &mut self,
        path: &str,
        message: &str,
        why: &str,
    ) -> anyhow::Result<Option<Event>> {
        let body = format!(
            "The deploy of #{} failed and `{}` is protected ({}), so here is the fix as a change \
             request.\n\n```\n{}\n```\nMerging it deploys the fix.",
            self.number,
            self.repository.default_branch,
            crate::markdown::escape(why),
            message.replace("```", "'''")
        );
        let base = self.repository.default_branch.clone();
        let number =
            super::push::propose_fix(self.forge, &mut self.workspace, &base, path, &body).await?;
        self.fix_pull_request = Some(number);
        self.checkpoint.stage = Stage::Failed;
        self.forge
            .create_comment(
                self.number,
                &format!(
                    "The deploy failed and `{}` is protected, so I opened #{number} with the fix; \
                     merging it deploys it.",
                    self.repository.default_branch
                ),
            )
            .await?;
        Ok(None)
    }

    /// Runs and reports every check on the head; returns `ChecksFinished`.
    async fn run_checks(&mut self) -> anyhow::Result<Event> {
        let statuses = self.run_check_statuses().await?;
        Ok(Event::ChecksFinished { head_sha: self.workspace.head()?, statuses })
    }

    async fn run_check_statuses(&mut self) -> anyhow::Result<Vec<CheckStatus>> {
        let path = self.spec_path.clone();
        self.runner.group("checks");
        let checked = checkout::check_in_checkout(
            self.workspace.path(),
            &path,
            self.settings,
            &self.prepared.config,
        )
        .instrument(telemetry::stage("checks"))
        .await;
        let FileChecks { mut results, plan } = checked.unwrap_or_else(|err| FileChecks {
            results: vec![CheckResult {
                name: checks::VALIDATE.into(),
                status: CheckStatus::Failure,
                summary: format!("{err:#}"),
                annotations: Vec::new(),
            }],
            plan: None,
        });
        let head = self.workspace.head()?;
        for result in &mut results {
            let details = match &plan {
                Some(markdown) if result.name == checks::PLAN => markdown.clone(),
                _ => String::new(),
            };
            self.runner.log(&format!("{}: {:?}: {}", result.name, result.status, result.summary));
            if let Err(err) = self.forge.report_check(&head, result, &details).await {
                self.runner.warn(&format!("could not report {}: {err}", result.name));
            }
        }
        self.runner.end_group("checks");
        self.report.details.push_str(&checks_markdown(&results, plan.as_deref()));
        self.checkpoint.checks = results.iter().map(CheckBrief::of).collect();
        let statuses = results.iter().map(|r| r.status).collect();
        self.checks = results;
        self.plan = plan;
        Ok(statuses)
    }

    /// The reply to `/nomad-spec explain`.
    async fn explanation(&mut self) -> anyhow::Result<String> {
        let generated = match self.generate().await {
            Ok(generated) => generated,
            Err(err) => return Ok(format!("I cannot explain the job file: {err:#}")),
        };
        let mut text = explain_decisions(&generated.decisions);
        // In plain words too, when an LLM is configured (its words are escaped like any
        // outside text).
        let path = self.spec_path.clone();
        if let Some(job) = read_in(self.workspace.path(), &path) {
            if let Some(client) = super::llm_client(self.settings, self.runner) {
                let advice = crate::llm::tasks::explain(Some(&client), &path, &job).await;
                for note in &advice.notes {
                    self.runner.log(&format!("llm: {note}"));
                }
                if let Some(words) = advice.value {
                    let words = crate::markdown::escape(&words);
                    text.push_str(&format!("\nIn plain words (from the LLM): {words}\n"));
                }
            }
        }
        Ok(text)
    }

    /// One attempt at deploying the job file on the checkout; returns `DeployFinished`.
    async fn deploy(&mut self) -> anyhow::Result<Event> {
        let path = self.spec_path.clone();
        let commit = self.workspace.head()?;
        let policy = FixPolicy::for_conventions(&self.prepared.config);
        if self.deployment.is_none() {
            match self
                .forge
                .start_deployment(&commit, &self.repository.default_branch, &self.bot.environment)
                .await
            {
                Ok(id) => self.deployment = Some(id),
                Err(err) => self.runner.warn(&format!("could not record the deployment: {err}")),
            }
        }
        // Backing services the answers deploy beside the app (their own job files) go first,
        // once each; the conversation's fixes are for the app's job file only.
        if self.checkpoint.fix_iterations == 0 {
            for other in self.other_job_files(&path) {
                self.runner.group(&format!("deploy {other}"));
                let full = self.workspace.path().join(&other);
                let attempt =
                    deploying::attempt(&full, self.settings, self.runner, &policy, None).await;
                self.runner.end_group(&format!("deploy {other}"));
                if let DeployAttempt::Failed { diagnosis, .. } = attempt {
                    return Ok(Event::DeployFinished {
                        commit,
                        outcome: DeployOutcome::Failed {
                            diagnosis: format!("{other}: {diagnosis}"),
                            fixable: false,
                        },
                        max_fix_iterations: self.bot.max_fix_iterations,
                    });
                }
            }
        }
        self.runner.group(&format!("deploy {path}"));
        let full = self.workspace.path().join(&path);
        let memory = self.memory.as_mut().map(|memory| (memory, &self.prepared.analysis));
        let attempt = deploying::attempt(&full, self.settings, self.runner, &policy, memory).await;
        self.runner.end_group(&format!("deploy {path}"));
        let healthy = matches!(attempt, DeployAttempt::Healthy { .. });
        telemetry::score(
            "deploy_healthy",
            f64::from(u8::from(healthy)),
            &format!("after {} fix iteration(s)", self.checkpoint.fix_iterations),
        );
        telemetry::score(
            "fix_iterations",
            f64::from(self.checkpoint.fix_iterations),
            "fixes committed before this attempt",
        );
        let outcome = match attempt {
            DeployAttempt::Healthy { job } => {
                self.report.job_id = Some(job);
                DeployOutcome::Healthy
            }
            DeployAttempt::Failed { job, diagnosis, fix } => {
                self.report.job_id = job;
                let fixable = fix.is_some();
                self.pending_fix = fix;
                DeployOutcome::Failed { diagnosis, fixable }
            }
        };
        if let Some(id) = self.deployment {
            let description = match &outcome {
                DeployOutcome::Healthy => "healthy".to_string(),
                DeployOutcome::Failed { diagnosis, .. } => diagnosis.clone(),
            };
            let _ =
                self.forge.update_deployment(id, DeploymentState::InProgress, &description).await;
        }
        Ok(Event::DeployFinished {
            commit,
            outcome,
            max_fix_iterations: self.bot.max_fix_iterations,
        })
    }

    /// The job files the answers build besides `primary`, that are in the checkout.
    fn other_job_files(&self, primary: &str) -> Vec<String> {
        let Ok(generated) = self.build_jobs() else { return Vec::new() };
        generated
            .jobs
            .into_iter()
            .map(|job| job.path)
            .filter(|p| p != primary && self.workspace.path().join(p).is_file())
            .collect()
    }

    async fn rollback(&mut self, reason: &str) {
        let job = self.report.job_id.clone();
        let text = match job {
            Some(job) => deploying::rollback(self.settings, &job).await,
            None => "nothing was registered, so there is nothing to roll back".to_string(),
        };
        self.runner.log(&format!("rollback ({reason}): {text}"));
        self.report.log.push(format!("rollback: {text}"));
        self.rollback_note = Some(text);
    }

    /// Moves the deployment record to its final state.
    async fn finish_deployment(&self) {
        let Some(id) = self.deployment else { return };
        let (state, description) = match self.checkpoint.stage {
            Stage::Healthy => (DeploymentState::Success, "the job runs healthy on Nomad"),
            Stage::Deploying => return,
            _ => (DeploymentState::Failure, "the deploy failed; see the pull request"),
        };
        if let Err(err) = self.forge.update_deployment(id, state, description).await {
            self.runner.warn(&format!("could not update the deployment: {err}"));
        }
    }

    /// Renders the status comment from the checkpoint and creates or edits it.
    async fn save(&mut self) -> anyhow::Result<()> {
        if !self.status_dirty {
            return Ok(());
        }
        let services = FoundService::from_analysis(&self.prepared.analysis);
        let no_decisions: Vec<Decision> = Vec::new();
        let decisions = self.generated.as_ref().map_or(&no_decisions, |(_, g)| &g.decisions);
        // Before anything is generated the diagram draws what the answers so far would build,
        // so a wrong wiring is seen while there is still a question to answer about it.
        let preview = if self.generated.is_none() { self.build_jobs().ok() } else { None };
        let drawn = self.generated.as_ref().map(|(_, g)| g).or(preview.as_ref());
        let diagram = drawn.map(|g| {
            crate::conversation::status_comment::diagram::mermaid(&self.prepared.analysis, g)
        });
        let body = render(&StatusInput {
            checkpoint: &self.checkpoint,
            services: &services,
            checks: &self.checks,
            plan: self.plan.as_deref(),
            decisions,
            proposed_file: self.proposed_file.as_deref(),
            diagram: diagram.as_deref(),
            notes: self.memory_note.as_slice(),
            prompts: &crate::llm::prompt::used(),
        });
        match self.status_comment {
            Some(id) => self.forge.edit_comment(self.number, id, &body).await?,
            None => {
                self.status_comment = Some(self.forge.create_comment(self.number, &body).await?)
            }
        }
        self.status_dirty = false;
        Ok(())
    }
}

/// Every check's findings and the plan, whole, for the job summary.
pub(super) fn checks_markdown(results: &[CheckResult], plan: Option<&str>) -> String {
    use crate::markdown::escape;
    let mut text = String::from("### Checks\n\n");
    for result in results {
        text.push_str(&format!(
            "- **{}**: {:?}: {}\n",
            escape(&result.name),
            result.status,
            escape(&result.summary)
        ));
        for a in &result.annotations {
            text.push_str(&format!(
                "  - {}:{}:{}: {}\n",
                escape(&a.file),
                a.line,
                a.column,
                escape(&a.message)
            ));
        }
    }
    if let Some(plan) = plan {
        text.push_str("\n### Plan\n\n");
        text.push_str(plan);
        text.push('\n');
    }
    text
}

/// The builder's decisions as a reply.
fn explain_decisions(decisions: &[Decision]) -> String {
    use crate::markdown::escape;
    if decisions.is_empty() {
        return "The job file follows the defaults; there is no decision to explain.".into();
    }
    let mut text = String::from("Why the job file is what it is:\n\n");
    for d in decisions {
        text.push_str(&format!(
            "- **{}**: {} ({})\n",
            escape(&d.subject),
            escape(&d.choice),
            escape(&d.reason)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::conversation::checkpoint::AnswerRecord;
    use crate::telemetry::{Collected, SpanLayer, TARGET};

    fn record(pairs: &[(&str, &str)]) -> AnswerRecord {
        AnswerRecord {
            comment_id: 1,
            author: "alice".into(),
            pairs: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    /// The scores `score_corrections` gives going from `loaded` to `now`, by name.
    fn scores(loaded: &Checkpoint, now: &Checkpoint) -> Vec<(String, f64)> {
        let store = Arc::new(Collected::default());
        let subscriber = tracing_subscriber::registry().with(SpanLayer::new(store.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let _run = tracing::info_span!(target: TARGET, "run").entered();
            score_corrections(loaded, now);
        });
        store.take().1.into_iter().map(|s| (s.name, s.value)).collect()
    }

    #[test]
    fn answers_given_again_and_a_file_taken_over_are_scored() {
        let mut loaded = Checkpoint::default();
        loaded.answer_log.push(record(&[("image.api", "ghcr.io/acme/api:1"), ("count.api", "2")]));
        let mut now = loaded.clone();
        now.answer_log.push(record(&[("image.api", "ghcr.io/acme/api:2"), ("count.api", "2")]));
        now.answer_log.push(record(&[("memory.api", "512")]));
        assert_eq!(scores(&loaded, &now), [("answers_corrected".to_string(), 1.0)]);
        let mut taken = loaded.clone();
        taken.owner = Owner::Human;
        assert_eq!(scores(&loaded, &taken), [("edited_by_hand".to_string(), 1.0)]);
        assert!(scores(&loaded, &loaded).is_empty(), "nothing new, nothing scored");
    }
}
