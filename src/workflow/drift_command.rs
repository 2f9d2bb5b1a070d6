//! The drift issue's commands: `/nomad-spec deploy JOB` puts the file's version of a drifted
//! job back on the cluster, `/nomad-spec adopt JOB` opens a change request that writes the
//! cluster's version into the file. Both come as a comment on the ONE drift issue
//! ([`super::drift_issue`]) by a person with write access.
//!
//! The comment is read back from the forge by its id (its author and text), never taken from
//! the event: a GitLab trigger payload can be sent by anyone holding the trigger token.
//! A command on any other issue gets no reply at all: people quote commands in bug reports and
//! discussions, and a bot that answered on every issue would be noise anyone could cause. The
//! log says why nothing was done. On the drift issue, a person without write access gets one
//! reply saying so and nothing is done. Every reply carries [`answered_marker`] of the comment
//! it answers, so a replayed event (the same comment delivered twice, or edited later) finds
//! its answer and does nothing new: no second deploy, no second change request.
//!
//! `deploy` plans, registers and watches the file's job the way a merge deploys
//! (`nomad::deploy`: `EnforceIndex` with the plan's `JobModifyIndex`, so a job changed on the
//! cluster meanwhile is refused, not overwritten; no fixes; reverted to its last stable
//! version when it does not become healthy), then compares again and updates the issue (closed
//! when every job matches). `adopt` applies `nomad::adopt::adoption` to the file in place
//! (comments and layout kept) on the branch `nomad-spec/adopt-JOB`; a second `adopt` of the
//! same job adds to that branch, and its open change request is the one the reply names.

use std::fmt::Write as _;

use anyhow::Context as _;

use super::drift::{keep_issue, survey_default_branch, Surveyed};
use super::drift_issue::find_drift_issue;
use super::failure::problem_text;
use super::{commit_identity, RunReport, Runner};
use crate::command::{parse_commands, Command, PREFIX};
use crate::conversation::PostedComment;
use crate::event::{Comment, Repository};
use crate::forge::Forge;
use crate::git::{Identity, PushOutcome, Workspace};
use crate::jobspec::parse::ParseOptions;
use crate::markdown::{code, escape};
use crate::nomad::adopt::{adoption, edit_in_words, Adoption};
use crate::nomad::deploy::{deploy, verdict_line, DeployOptions, GiveUp, Outcome};
use crate::nomad::drift::{DriftReport, DriftState, JobDrift};
use crate::nomad::job_file::JobFile;
use crate::nomad::{NomadClient, NomadError};
use crate::settings::Settings;

/// The hidden line in a reply that says which comment it answers.
pub fn answered_marker(comment_id: u64) -> String {
    format!("<!-- nomad-spec:answered {comment_id} -->")
}

/// Whether the bot already answered comment `comment_id` among `comments`.
pub fn already_answered(comments: &[PostedComment], bot_login: &str, comment_id: u64) -> bool {
    let marker = answered_marker(comment_id);
    comments
        .iter()
        .filter(|c| c.author.eq_ignore_ascii_case(bot_login))
        .any(|c| c.body.lines().any(|line| line.trim() == marker))
}

/// The branch an adoption of `job` is written on.
pub fn adopt_branch(job: &str) -> String {
    format!("nomad-spec/adopt-{job}")
}

/// Handles a command comment on issue `issue_number`.
pub async fn commanded(
    forge: &Forge,
    runner: &Runner,
    settings: &Settings,
    repository: &Repository,
    issue_number: u64,
    comment: &Comment,
) -> anyhow::Result<RunReport> {
    let mut report = RunReport::new(format!("comment {} on issue #{issue_number}", comment.id));
    // Nothing is posted when nothing is done: the log says why.
    let mut nothing = |verdict: &str, why: String| {
        runner.log(&why);
        report.verdict = verdict.into();
        report.log.push(why);
        Ok(report.clone())
    };
    if parse_commands(&comment.body).is_empty() {
        return nothing(
            "ignored",
            format!("the comment holds no `{PREFIX}` command outside code and quotes"),
        );
    }
    let bot_login = forge.bot_login().await?;
    let issues = forge.issues().await?;
    let drift_issue = find_drift_issue(&issues, &bot_login).map(|issue| issue.number);
    if drift_issue != Some(issue_number) {
        return nothing(
            "ignored",
            format!(
                "issue #{issue_number} is not the drift issue; `{PREFIX} deploy` and `adopt` \
                 act only there, and the bot does not answer on other issues"
            ),
        );
    }
    // The comment is read back from the forge, never trusted from the event: a GitLab trigger
    // payload can be sent by anyone holding the trigger token.
    let comments = forge.issue_comments(issue_number).await?;
    let Some(posted) = comments.iter().find(|c| c.id == comment.id) else {
        return nothing(
            "ignored",
            format!(
                "comment {} is not on issue #{issue_number} (deleted, or not real)",
                comment.id
            ),
        );
    };
    if posted.author.eq_ignore_ascii_case(&bot_login) {
        return nothing("ignored", "the comment is the bot's own".into());
    }
    if already_answered(&comments, &bot_login, comment.id) {
        return nothing(
            "already-answered",
            format!("comment {} was answered already; nothing new", comment.id),
        );
    }
    let commands = parse_commands(&posted.body);
    if commands.is_empty() {
        return nothing("ignored", "the comment holds no command any more".into());
    }
    let author = &posted.author;
    let permission = forge.permission(author).await?;
    let answer = if !permission.may_drive() {
        report.verdict = "refused".into();
        report.log.push(format!("{author} may not drive the bot ({permission:?})"));
        format!(
            "Thanks, {}! Only people with write access to this repository can deploy or adopt \
             a job, so nothing was done. A maintainer can repeat the command.",
            escape(author)
        )
    } else {
        match carry_out(forge, runner, settings, repository, &commands, &mut report).await {
            Ok(answer) => answer,
            Err(err) => {
                // No answered marker: the next delivery of the comment tries again.
                let text = problem_text(&err, settings);
                if let Err(post) = forge.create_issue_comment(issue_number, &text).await {
                    runner.warn(&format!("could not say so on issue #{issue_number}: {post}"));
                }
                return Err(err);
            }
        }
    };
    let body = format!("{}\n{answer}", answered_marker(comment.id));
    forge.create_issue_comment(issue_number, &body).await?;
    report.log.push(format!("answered comment {} on issue #{issue_number}", comment.id));
    Ok(report)
}

/// Carries out the comment's commands in order; returns the reply.
async fn carry_out(
    forge: &Forge,
    runner: &Runner,
    settings: &Settings,
    repository: &Repository,
    commands: &[Result<Command, crate::command::ParseError>],
    report: &mut RunReport,
) -> anyhow::Result<String> {
    let mut paragraphs = Vec::new();
    let mut surveyed: Option<Option<Surveyed>> = None;
    let mut deployed = false;
    for command in commands {
        let job = match command {
            Ok(Command::Deploy { job } | Command::Adopt { job }) => job,
            Ok(other) => {
                paragraphs.push(format!(
                    "`{PREFIX} {}` acts on a pull request; on this issue only `{PREFIX} deploy \
                     JOB` and `{PREFIX} adopt JOB` do something.",
                    command_word(other)
                ));
                continue;
            }
            Err(err) => {
                paragraphs
                    .push(format!("I did not understand a command: {}", escape(&err.to_string())));
                continue;
            }
        };
        if surveyed.is_none() {
            surveyed = Some(survey_default_branch(forge, runner, settings, repository).await?);
        }
        let Some(Some(current)) = &surveyed else {
            paragraphs.push(format!(
                "`{}` has no job file (`*.nomad.hcl`, `*.nomad`): nothing to deploy or adopt.",
                repository.default_branch.replace('`', "'")
            ));
            continue;
        };
        let Some(found) = current.drift.jobs.iter().find(|j| &j.job == job) else {
            paragraphs.push(unknown_job(job, &current.drift));
            continue;
        };
        let paragraph = match command {
            Ok(Command::Deploy { .. }) => {
                let (paragraph, registered) = deploy_job(runner, current, found).await?;
                deployed |= registered;
                paragraph
            }
            _ => adopt_job(forge, settings, repository, current, found).await?,
        };
        report.log.push(paragraph.clone());
        paragraphs.push(paragraph);
    }
    report.verdict = "answered".into();
    if deployed {
        // The cluster changed: the issue says what is left (closed when nothing is).
        if let Some(after) = survey_default_branch(forge, runner, settings, repository).await? {
            let done = keep_issue(forge, &after.drift).await?;
            runner.log(&done);
            report.log.push(done);
            if !after.drift.has_drift() {
                paragraphs.push("Every job matches its file now; this issue is closed.".into());
            }
        }
    }
    Ok(paragraphs.join("\n\n"))
}

/// A command's word, as written after the prefix.
fn command_word(command: &Command) -> &'static str {
    match command {
        Command::Help => "help",
        Command::Generate => "generate",
        Command::Accept => "accept",
        Command::Set { .. } => "set",
        Command::Plan => "plan",
        Command::Validate => "validate",
        Command::Explain => "explain",
        Command::Status => "status",
        Command::Fix => "fix",
        Command::Rollback => "rollback",
        Command::Reset => "reset",
        Command::Deploy { .. } => "deploy",
        Command::Adopt { .. } => "adopt",
    }
}

/// The reply to a job the comparison does not know: the jobs that drifted.
pub fn unknown_job(job: &str, drift: &DriftReport) -> String {
    let drifted: Vec<String> = drift
        .jobs
        .iter()
        .filter(|j| matches!(j.state, DriftState::Differs { .. } | DriftState::Missing))
        .map(|j| code(&j.job))
        .collect();
    let mut text = format!("No job file of this repository describes a job named {}.", code(job));
    if drifted.is_empty() {
        text.push_str(" No job drifted from its file.");
    } else {
        let _ = write!(text, " The jobs that drifted: {}.", drifted.join(", "));
    }
    text
}

/// The job file a drift entry names, as the survey read it.
fn file_of<'a>(surveyed: &'a Surveyed, drift: &JobDrift) -> Option<(&'a str, &'a JobFile)> {
    let name = drift.file.as_deref()?;
    surveyed.files.iter().find(|(n, _)| n == name).map(|(n, f)| (n.as_str(), f))
}

/// Deploys the file's version of a drifted job; the reply, and whether anything was
/// registered.
async fn deploy_job(
    runner: &Runner,
    surveyed: &Surveyed,
    drift: &JobDrift,
) -> anyhow::Result<(String, bool)> {
    let job = code(&drift.job);
    let (path, file) = match (&drift.state, file_of(surveyed, drift)) {
        (DriftState::InSync, _) => {
            return Ok((format!("{job} already matches its file: nothing was deployed."), false))
        }
        (DriftState::NoFile { .. }, _) | (_, None) => {
            return Ok((
                format!(
                    "{job} has no job file in this repository: nothing to deploy. Stop it on \
                     the cluster, or add its file back."
                ),
                false,
            ))
        }
        (DriftState::Differs { .. } | DriftState::Missing, Some(found)) => found,
    };
    let client = &surveyed.client;
    let (job_json, _) = file.to_job(Some(client), &ParseOptions::default()).await?;
    let options = DeployOptions { fix: false, on_give_up: GiveUp::Revert, ..Default::default() };
    let mut progress = |line: &str| runner.log(line);
    runner.group(&format!("deploy {path}"));
    let outcome = deploy(client, job_json, None, &options, &mut progress).await;
    runner.end_group(&format!("deploy {path}"));
    let path = code(path);
    match outcome {
        Ok(done) if done.outcome == Outcome::Healthy => {
            Ok((format!("Deployed the file's version of {job} ({path}): it runs healthy."), true))
        }
        Ok(done) => {
            let last = done.attempts.last().map(|a| verdict_line(&a.verdict)).unwrap_or_default();
            let rollback = done.rollback.unwrap_or_else(|| "it was left as it is".into());
            Ok((
                format!(
                    "Deployed the file's version of {job} ({path}), but it did not become \
                     healthy: {}. Then {}.",
                    escape(&last),
                    escape(&rollback)
                ),
                done.attempts.iter().any(|a| a.registered_version.is_some()),
            ))
        }
        Err(NomadError::Conflict { .. }) => Ok((
            format!(
                "{job} changed on the cluster while its file's version was being deployed, so \
                 nothing was overwritten. Comment again to deploy the file over the new version."
            ),
            false,
        )),
        Err(err) => Err(err).context(format!("cannot deploy {}", drift.job)),
    }
}

/// Writes the cluster's version of a drifted job into its file on the adopt branch and opens
/// (or finds) the change request; the reply.
async fn adopt_job(
    forge: &Forge,
    settings: &Settings,
    repository: &Repository,
    surveyed: &Surveyed,
    drift: &JobDrift,
) -> anyhow::Result<String> {
    let job = code(&drift.job);
    let path = match (&drift.state, drift.file.as_deref()) {
        (DriftState::InSync, _) => {
            return Ok(format!("{job} already matches its file: there is nothing to adopt."))
        }
        (DriftState::Missing, _) => {
            return Ok(format!(
                "{job} is not on the cluster: there is nothing to adopt. `{PREFIX} deploy` of \
                 it registers the file's job."
            ))
        }
        (DriftState::NoFile { .. }, _) | (_, None) => {
            return Ok(format!("{job} has no job file in this repository to write into."))
        }
        (DriftState::Differs { .. }, Some(path)) => path,
    };
    let client = &surveyed.client;
    let bot = settings.bot()?;
    let identity = commit_identity(&bot);
    let base = &repository.default_branch;
    let mut workspace = Workspace::clone(&forge.git_remote(), &format!("refs/heads/{base}"))?;
    let wanted = write_adoption(&mut workspace, path, client, &drift.job, &identity).await?;
    if wanted.edits.is_empty() {
        let text = format!(
            "The file {} already holds what can be written of {job}'s version on the cluster.",
            code(path)
        );
        return Ok(with_not_adopted(text, &wanted));
    }
    let branch = adopt_branch(&drift.job);
    let mut written = wanted.clone();
    match workspace.push(&branch)? {
        PushOutcome::Pushed { .. } => {}
        PushOutcome::NonFastForward => {
            // The branch is there from an earlier adopt: the adoption goes on top of it.
            workspace.sync_to(&branch)?;
            written = write_adoption(&mut workspace, path, client, &drift.job, &identity).await?;
            if !written.edits.is_empty() {
                match workspace.push(&branch)? {
                    PushOutcome::Pushed { .. } => {}
                    other => anyhow::bail!("cannot push the adoption to {branch}: {other:?}"),
                }
            }
        }
        PushOutcome::Rejected { message, .. } => {
            anyhow::bail!("the push of the adoption to {branch} was refused: {message}")
        }
    }
    let title = format!("nomad-spec: adopt the cluster's version of {}", drift.job);
    let body = change_request_body(&drift.job, path, &wanted);
    let number = forge.open_change_request(&branch, base, &title, &body).await?;
    let reference = forge.change_request_reference(number);
    let what = if written.edits.is_empty() { "already writes" } else { "writes" };
    let text = format!(
        "{reference} {what} the cluster's version of {job} into {}:\n\n{}",
        code(path),
        edits_list(&wanted)
    );
    Ok(with_not_adopted(text, &wanted))
}

/// Reads the job file at `path` in the checkout, applies the cluster's version of `job` to
/// it and commits; the adoption that was written (no edits: nothing to write, no commit).
async fn write_adoption(
    workspace: &mut Workspace,
    path: &str,
    client: &NomadClient,
    job: &str,
    identity: &Identity,
) -> anyhow::Result<Adoption> {
    let mut file = JobFile::read(&workspace.path().join(path))?;
    let (file_job, _) = file.to_job(Some(client), &ParseOptions::default()).await?;
    let cluster_job = client
        .for_job(&file_job)
        .job_definition(job)
        .await
        .with_context(|| format!("cannot read job {job} from the cluster"))?;
    let wanted = adoption(&file_job, &cluster_job);
    if wanted.edits.is_empty() {
        return Ok(wanted);
    }
    file.write_edits(&wanted.edits)?;
    let message = format!(
        "nomad-spec: adopt the cluster's version of {job}\n\nWhat was changed on the cluster by \
         hand, written into {path}:\n\n{}",
        wanted.edits.iter().map(|e| format!("- {}\n", edit_in_words(e))).collect::<String>()
    );
    workspace.commit_file(path, &file.text, &message, identity)?;
    Ok(wanted)
}

/// The adoption's edits as a Markdown list.
fn edits_list(adoption: &Adoption) -> String {
    adoption.edits.iter().map(|e| format!("- {}\n", escape(&edit_in_words(e)))).collect()
}

/// `text`, then what the adoption leaves out as a paragraph of its own (when anything).
fn with_not_adopted(text: String, adoption: &Adoption) -> String {
    if adoption.not_adopted.is_empty() {
        return text;
    }
    let mut text =
        format!("{}\n\nNot written into the file (no edit can say it):\n\n", text.trim_end());
    for line in &adoption.not_adopted {
        let _ = writeln!(text, "- {}", escape(line));
    }
    text
}

/// The change request's body: what it adopts and what it leaves out.
pub fn change_request_body(job: &str, path: &str, adoption: &Adoption) -> String {
    let text = format!(
        "Someone changed the job {} on the Nomad cluster by hand. `{PREFIX} adopt` on the \
         drift issue asked to keep those changes: this change request writes them into \
         {}, keeping the file's comments and layout. Merging it deploys the file as usual.\n\n\
         **Adopted** (a later `adopt` of the same job adds a commit here, which lists its \
         own):\n\n{}",
        code(job),
        code(path),
        edits_list(adoption)
    );
    with_not_adopted(text, adoption)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobspec::edit::Edit;

    #[test]
    fn the_event_and_the_parser_know_the_same_command_word() {
        assert_eq!(crate::event::COMMAND_WORD, PREFIX);
    }

    #[test]
    fn an_answer_is_found_by_its_marker_in_the_bots_comment_only() {
        let bot = "nomad-spec[bot]";
        let comment =
            |author: &str, body: String| PostedComment { id: 1, author: author.into(), body };
        let answered = [comment(bot, format!("{}\nDeployed.", answered_marker(12)))];
        assert!(already_answered(&answered, bot, 12));
        assert!(!already_answered(&answered, bot, 1));
        assert!(!already_answered(&answered, bot, 120));
        let forged = [comment("mallory", answered_marker(12))];
        assert!(!already_answered(&forged, bot, 12));
        let quoted = [comment(bot, format!("> {}", answered_marker(12)))];
        assert!(!already_answered(&quoted, bot, 12));
    }

    #[test]
    fn an_unknown_job_gets_the_list_of_drifted_ones() {
        let job = |name: &str, state: DriftState| JobDrift {
            job: name.into(),
            namespace: "default".into(),
            file: Some(format!("deploy/{name}.nomad.hcl")),
            state,
        };
        let drift = DriftReport {
            repositories: vec!["shop".into()],
            jobs: vec![
                job("web", DriftState::Differs { changes: vec![] }),
                job("worker", DriftState::Missing),
                job("cache", DriftState::InSync),
            ],
        };
        insta::assert_snapshot!(unknown_job("wbe", &drift), @"No job file of this repository describes a job named <code>wbe</code>. The jobs that drifted: <code>web</code>, <code>worker</code>.");
        let quiet = DriftReport { repositories: vec![], jobs: vec![] };
        insta::assert_snapshot!(unknown_job("<b>x</b>", &quiet), @"No job file of this repository describes a job named <code>&lt;b&gt;x&lt;/b&gt;</code>. No job drifted from its file.");
    }

    #[test]
    fn the_change_request_says_what_it_adopts_and_leaves_out() {
        let adoption = Adoption {
            edits: vec![
                Edit::SetCount { group: "app".into(), count: 1 },
                Edit::SetImage {
                    group: "app".into(),
                    task: "server".into(),
                    image: "web:1".into(),
                },
            ],
            not_adopted: vec!["task app/server: env DEBUG is in the file only".into()],
        };
        insta::assert_snapshot!(change_request_body("web", "deploy/web.nomad.hcl", &adoption), @r"
        Someone changed the job <code>web</code> on the Nomad cluster by hand. `/nomad-spec adopt` on the drift issue asked to keep those changes: this change request writes them into <code>deploy/web\.nomad\.hcl</code>, keeping the file's comments and layout. Merging it deploys the file as usual.

        **Adopted** (a later `adopt` of the same job adds a commit here, which lists its own):

        - group app: count 1
        - task app/server: image web:1

        Not written into the file (no edit can say it):

        - task app/server: env DEBUG is in the file only
        ");
    }
}
