//! The bot's run (`nomad-spec ci`): one CI event, from the trigger to the forge's comments,
//! commits, checks and deploys.
//!
//! ```text
//! CI environment ──▶ forge + trigger ──▶ conversation run ──▶ report
//! (GITHUB_* or CI_*)  (detect, event)     (conversation.rs)     (runner: summary, outputs)
//! ```
//!
//! [`detect`] tells GitHub Actions from GitLab CI; [`trigger_from_env`] reads the event the
//! way each forge delivers it (GitHub: `GITHUB_EVENT_NAME` + the payload file; GitLab: the
//! `CI_*` variables, or the note event in the `TRIGGER_PAYLOAD` file of a triggered
//! pipeline). Change-request triggers go to [`conversation`], which is the same code for both
//! forges. A push to the default branch reports on the change request it merged when there is
//! one, and otherwise deploys the job files it changed ([`push`]); a manual run checks the job
//! files of its ref and reports in the job summary; a scheduled run compares the default
//! branch's job files with the cluster and keeps the drift issue ([`drift`]); a command on
//! the drift issue deploys or adopts a drifted job ([`drift_command`]).
//! [`dry_run`] prints what a run would do without calling anything.

pub mod checkout;
pub mod conversation;
pub mod deploying;
pub mod drift;
pub mod drift_command;
pub mod drift_issue;
pub mod dry_run;
pub mod failure;
pub mod image_workflow;
pub mod images;
pub mod push;
pub mod registry;
pub mod remembering;
pub mod runner;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

pub use runner::Runner;

use crate::event::{self, Trigger};
use crate::forge::{Forge, ForgeKind};
use crate::settings::{BotSettings, Settings, BOT_LOGIN};
use failure::UserError;

/// What a run did, for the log, the job summary and the step outputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// The event, in words.
    pub trigger: String,
    /// The job file's path in the repository.
    pub spec_path: Option<String>,
    /// The Nomad job id, once deployed.
    pub job_id: Option<String>,
    /// Where the conversation stands after the run (`awaiting-answers`, `healthy`, ...), or
    /// `ignored`.
    pub verdict: String,
    /// Commits pushed.
    pub commits: Vec<String>,
    /// What happened, line by line.
    pub log: Vec<String>,
    /// Long Markdown the status comment may have to cut (check findings, the plan): the job
    /// summary carries it whole.
    pub details: String,
}

impl RunReport {
    /// An empty report for `trigger`.
    pub fn new(trigger: impl Into<String>) -> RunReport {
        RunReport { trigger: trigger.into(), ..Default::default() }
    }

    /// The job summary's Markdown.
    pub fn summary_markdown(&self) -> String {
        use crate::markdown::escape;
        let mut text =
            format!("## nomad-spec\n\n**{}**: {}\n", escape(&self.trigger), self.verdict);
        if let Some(path) = &self.spec_path {
            text.push_str(&format!("\n- job file: `{}`\n", path.replace('`', "'")));
        }
        if let Some(job) = &self.job_id {
            text.push_str(&format!("- Nomad job: `{}`\n", job.replace('`', "'")));
        }
        for commit in &self.commits {
            text.push_str(&format!("- pushed {commit}\n"));
        }
        for line in &self.log {
            text.push_str(&format!("- {}\n", escape(line)));
        }
        if !self.details.is_empty() {
            text.push('\n');
            text.push_str(&self.details);
        }
        text
    }
}

/// Which forge's CI this is, from its predefined variables.
pub fn detect(vars: &BTreeMap<String, String>) -> Option<ForgeKind> {
    if vars.get("GITHUB_ACTIONS").is_some_and(|v| v == "true")
        || vars.contains_key("GITHUB_EVENT_NAME")
    {
        Some(ForgeKind::GitHub)
    } else if vars.contains_key("GITLAB_CI") || vars.contains_key("CI_API_V4_URL") {
        Some(ForgeKind::GitLab)
    } else {
        None
    }
}

/// Largest event payload read: GitHub sends at most 25 MB.
const MAX_PAYLOAD_BYTES: u64 = 25 * 1024 * 1024;

/// The run's event could not be read: a variable the forge sets is missing, or the payload is
/// unreadable or not what the forge sends. The input of the run is wrong, not the run, so
/// `ci` exits with the usage code; it is the context of the error that says why.
#[derive(Debug)]
pub struct UnreadableEvent;

impl std::fmt::Display for UnreadableEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the CI event cannot be read")
    }
}

/// The trigger the CI environment describes.
pub fn trigger_from_env(kind: ForgeKind, settings: &Settings) -> anyhow::Result<Trigger> {
    let vars = settings.vars();
    match kind {
        ForgeKind::GitHub => {
            let name = vars
                .get("GITHUB_EVENT_NAME")
                .context("GITHUB_EVENT_NAME is not set: is this a GitHub Actions run?")?;
            let path = vars.get("GITHUB_EVENT_PATH").context(
                "GITHUB_EVENT_PATH is not set: GitHub Actions sets it to the payload file",
            )?;
            let payload = crate::file::read_text(Path::new(path), MAX_PAYLOAD_BYTES)
                .context("cannot read the event payload (GITHUB_EVENT_PATH)")?;
            Ok(event::from_github(name, &payload)?)
        }
        ForgeKind::GitLab => {
            // A file variable holds a path; a plain variable (set by hand) holds the JSON.
            let payload = match vars.get("TRIGGER_PAYLOAD") {
                None => None,
                Some(value) if value.trim_start().starts_with('{') => Some(value.clone()),
                Some(path) => Some(
                    crate::file::read_text(Path::new(path), MAX_PAYLOAD_BYTES)
                        .context("cannot read TRIGGER_PAYLOAD")?,
                ),
            };
            // Read on its own rather than with the rest of `BotSettings`, so that a malformed
            // bot setting is reported on the change request the trigger names.
            let bot_login = settings.var(BOT_LOGIN);
            Ok(event::gitlab::from_gitlab(vars, payload.as_deref(), bot_login)?)
        }
    }
}

/// Runs the bot for the CI job `settings` describe. A run that fails says so on the change
/// request it was about, when there is one ([`failure`]): in full when the person can fix it,
/// as a pointer to the run's log otherwise.
pub async fn run(settings: &Settings, runner: &Runner) -> anyhow::Result<RunReport> {
    let kind = detect(settings.vars()).context(
        "this does not look like a CI run: neither GITHUB_ACTIONS/GITHUB_EVENT_NAME nor \
         GITLAB_CI is set (try `nomad-spec ci --dry-run` to see what a run would do)",
    )?;
    let trigger = trigger_from_env(kind, settings).context(UnreadableEvent)?;
    run_trigger(kind, settings, runner, &trigger).await
}

/// Runs the bot for `trigger` on `kind`'s forge, whose repository and token `settings` name as
/// a CI job's would: the CI run once it has read its event, and `nomad-spec serve` for each
/// webhook delivery.
pub async fn run_trigger(
    kind: ForgeKind,
    settings: &Settings,
    runner: &Runner,
    trigger: &Trigger,
) -> anyhow::Result<RunReport> {
    // Under `ci` a child of the command's span; under `serve`, where each delivery runs on
    // its own task, the root of the delivery's trace.
    let span = tracing::info_span!(target: crate::telemetry::TARGET, "run", otel.name = "run");
    tracing::Instrument::instrument(run_traced(kind, settings, runner, trigger), span).await
}

async fn run_traced(
    kind: ForgeKind,
    settings: &Settings,
    runner: &Runner,
    trigger: &Trigger,
) -> anyhow::Result<RunReport> {
    runner.log(&format!("trigger: {}", describe(trigger)));
    trace_trigger(kind, trigger);
    let forge = Forge::from_settings(kind, settings)?;
    let mut change_request = change_request_of(trigger);
    let result = handle(&forge, runner, settings, trigger, &mut change_request).await;
    if let (Err(err), Some(number)) = (&result, change_request) {
        failure::report(&forge, number, err, settings, runner).await;
    }
    if let Some(number) = change_request {
        crate::telemetry::run_attribute("nomad_spec.change_request", number);
    }
    match &result {
        Ok(report) => {
            crate::telemetry::run_attribute("nomad_spec.verdict", report.verdict.as_str())
        }
        Err(_) => crate::telemetry::run_attribute("nomad_spec.verdict", "error"),
    }
    result
}

/// The run's trace says which forge, repository and event it was about.
fn trace_trigger(kind: ForgeKind, trigger: &Trigger) {
    use crate::telemetry::run_attribute;
    run_attribute("nomad_spec.forge", format!("{kind:?}"));
    run_attribute("nomad_spec.event", describe(trigger));
    let repository = match trigger {
        Trigger::PullRequestChanged { repository, .. }
        | Trigger::PullRequestMerged { repository, .. }
        | Trigger::PullRequestComment { repository, .. }
        | Trigger::IssueComment { repository, .. }
        | Trigger::PushToDefaultBranch { repository, .. }
        | Trigger::Manual { repository, .. }
        | Trigger::ImagesBuilt { repository, .. }
        | Trigger::Schedule { repository } => Some(repository.full_name.as_str()),
        Trigger::Ignored { .. } => None,
    };
    if let Some(repository) = repository {
        run_attribute("nomad_spec.repository", repository);
        // LangFuse groups a repository's runs as one session.
        run_attribute("session.id", repository);
    }
}

/// The change request a trigger is about, when it names one.
pub fn change_request_of(trigger: &Trigger) -> Option<u64> {
    match trigger {
        Trigger::PullRequestChanged { pull_request, .. }
        | Trigger::PullRequestMerged { pull_request, .. } => Some(pull_request.number),
        Trigger::PullRequestComment { pull_request_number, .. } => Some(*pull_request_number),
        Trigger::PushToDefaultBranch { .. }
        | Trigger::ImagesBuilt { .. }
        | Trigger::Schedule { .. }
        | Trigger::Manual { .. }
        // An issue is no change request: the drift issue's commands answer on it themselves.
        | Trigger::IssueComment { .. }
        | Trigger::Ignored { .. } => None,
    }
}

/// Handles one trigger; `change_request` learns the change request a push merged.
async fn handle(
    forge: &Forge,
    runner: &Runner,
    settings: &Settings,
    trigger: &Trigger,
    change_request: &mut Option<u64>,
) -> anyhow::Result<RunReport> {
    let bot = settings.bot().map_err(UserError::of)?;
    let report = match trigger {
        Trigger::Ignored { reason } => {
            let mut report = RunReport::new("ignored event");
            report.verdict = "ignored".into();
            report.log.push(reason.clone());
            report
        }
        Trigger::PullRequestChanged { .. }
        | Trigger::PullRequestMerged { .. }
        | Trigger::PullRequestComment { .. } => {
            let start = conversation::Start::Trigger(trigger);
            conversation::run(forge, runner, &bot, settings, start).await?
        }
        Trigger::PushToDefaultBranch { repository, after, changed_files } => {
            match forge.merged_change_request(after).await? {
                Some(number) => {
                    *change_request = Some(number);
                    let start = conversation::Start::MergedByPush {
                        number,
                        merge_sha: after.clone(),
                        repository: repository.clone(),
                    };
                    conversation::run(forge, runner, &bot, settings, start).await?
                }
                None => {
                    push::deploy_pushed(
                        forge,
                        runner,
                        &bot,
                        settings,
                        repository,
                        after,
                        changed_files,
                    )
                    .await?
                }
            }
        }
        Trigger::ImagesBuilt { repository, commit, succeeded, outcome } => {
            let merged = forge.merged_change_request(commit).await?;
            *change_request = merged;
            images::images_built(
                forge, runner, &bot, settings, repository, commit, *succeeded, outcome, merged,
            )
            .await?
        }
        Trigger::Schedule { repository } => {
            drift::scheduled(forge, runner, settings, repository).await?
        }
        Trigger::IssueComment { repository, issue_number, comment } => {
            drift_command::commanded(forge, runner, settings, repository, *issue_number, comment)
                .await?
        }
        Trigger::Manual { git_ref, .. } => {
            manual_check(forge, runner, &bot, settings, git_ref).await?
        }
    };
    Ok(report)
}

/// Who the bot's commits are by.
pub fn commit_identity(bot: &BotSettings) -> crate::git::Identity {
    crate::git::Identity { name: bot.commit_name.clone(), email: bot.commit_email.clone() }
}

/// A manual run checks every job file of `git_ref` (validate, secrets, routes, plan) and
/// reports in the job summary; it writes nothing to the forge and deploys nothing.
async fn manual_check(
    forge: &Forge,
    runner: &Runner,
    bot: &BotSettings,
    settings: &Settings,
    git_ref: &str,
) -> anyhow::Result<RunReport> {
    let git_ref = if git_ref.starts_with("refs/") {
        git_ref.to_string()
    } else {
        format!("refs/heads/{git_ref}")
    };
    let workspace = crate::git::Workspace::clone(&forge.git_remote(), &git_ref)?;
    let config = checkout::repository_config(workspace.path(), bot)?;
    let mut report = RunReport::new(format!("manual check of {git_ref}"));
    let files = checkout::job_files_in(workspace.path());
    if files.is_empty() {
        report.verdict = "no-job-files".into();
        report.log.push("no job file (`*.nomad.hcl`, `*.nomad`) in the repository".into());
        return Ok(report);
    }
    let mut failed = false;
    for relative in files {
        runner.group(&format!("check {relative}"));
        let crate::checks::FileChecks { results, plan } =
            checkout::check_in_checkout(workspace.path(), &relative, settings, &config).await?;
        for result in &results {
            runner.log(&format!("{}: {:?}: {}", result.name, result.status, result.summary));
            failed |= result.status == crate::checks::CheckStatus::Failure;
        }
        runner.end_group(&format!("check {relative}"));
        report.details.push_str(&format!("#### {relative}\n\n"));
        report.details.push_str(&conversation::checks_markdown(&results, plan.as_deref()));
        report.spec_path.get_or_insert(relative);
    }
    report.verdict = if failed { "checks-failed" } else { "checked" }.into();
    Ok(report)
}

/// The LLM client when one is configured; a setting that cannot be used is a note in the log
/// and no LLM (the rules' results stand).
pub fn llm_client(settings: &Settings, runner: &Runner) -> Option<crate::llm::Client> {
    match crate::llm::Client::configured(settings) {
        Ok(client) => client,
        Err(err) => {
            runner.log(&format!("LLM skipped: {err:#}"));
            None
        }
    }
}

/// A trigger in words, for logs.
pub fn describe(trigger: &Trigger) -> String {
    match trigger {
        Trigger::PullRequestChanged { pull_request, action, .. } => {
            format!(
                "change request #{} {action:?} (head {})",
                pull_request.number,
                short(&pull_request.head_sha)
            )
        }
        Trigger::PullRequestMerged { pull_request, merge_sha, .. } => {
            format!("change request #{} merged as {}", pull_request.number, short(merge_sha))
        }
        Trigger::PullRequestComment { pull_request_number, comment, .. } => format!(
            "comment {} by {} on change request #{pull_request_number}{}",
            comment.id,
            comment.author,
            if comment.edited { " (edited)" } else { "" }
        ),
        Trigger::IssueComment { issue_number, comment, .. } => format!(
            "comment {} by {} on issue #{issue_number}{}",
            comment.id,
            comment.author,
            if comment.edited { " (edited)" } else { "" }
        ),
        Trigger::PushToDefaultBranch { repository, after, .. } => {
            format!("push of {} to {}", short(after), repository.default_branch)
        }
        Trigger::ImagesBuilt { commit, outcome, .. } => {
            format!("image build of {} ended {outcome}", short(commit))
        }
        Trigger::Schedule { repository } => {
            format!("scheduled drift check of {}", repository.default_branch)
        }
        Trigger::Manual { git_ref, .. } => format!("manual run on {git_ref}"),
        Trigger::Ignored { reason } => format!("ignored: {reason}"),
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Repository;

    #[test]
    fn odd_commit_ids_from_a_payload_are_described_without_panicking() {
        let repository =
            Repository { full_name: "acme/shop".into(), default_branch: "main".into() };
        for after in ["", "abc", "0123456789abcdef", "日本語のコミットです", "0123456789a\u{e9}bc"]
        {
            let trigger = Trigger::PushToDefaultBranch {
                repository: repository.clone(),
                after: after.into(),
                changed_files: Vec::new(),
            };
            assert!(describe(&trigger).starts_with("push of "));
        }
        assert_eq!(short("0123456789abcdef"), "0123456789ab");
    }

    #[test]
    fn the_forge_is_told_from_its_variables() {
        let vars = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert_eq!(detect(&vars(&[("GITHUB_ACTIONS", "true")])), Some(ForgeKind::GitHub));
        assert_eq!(detect(&vars(&[("GITLAB_CI", "true")])), Some(ForgeKind::GitLab));
        assert_eq!(detect(&vars(&[("CI", "true")])), None);
    }
}
