//! A push to the default branch that changed job files without a change request the bot
//! talked about (a direct push, a merge done elsewhere): each changed job file is deployed
//! with the Nomad engine's own loop (plan, register with `EnforceIndex`, watch, fix, retry,
//! revert when it gives up), its fixes are committed to the default branch (or proposed as a
//! change request when the branch is protected), and each deploy is recorded on the forge.
//!
//! There is no conversation to report in, so the job summary and the forge's deployment
//! records say what happened.

use std::sync::Arc;

use super::checkout::{job_files_in, repository_config};
use super::failure::UserError;
use super::{llm_client, RunReport, Runner};
use crate::event::Repository;
use crate::forge::{DeploymentState, Forge};
use crate::git::{Identity, PushOutcome, Workspace};
use crate::jobspec::parse::{ParseOptions, MAX_SOURCE_BYTES};
use crate::nomad::deploy::{deploy, verdict_line, DeployOptions, GiveUp, Outcome};
use crate::nomad::fix::FixPolicy;
use crate::nomad::job_file::JobFile;
use crate::nomad::NomadClient;
use crate::settings::{BotSettings, Settings};

/// Deploys the job files `after` changed on the default branch. `changed` lists them when the
/// event did (GitHub); otherwise they are read from git since `before` (GitLab).
pub async fn deploy_pushed(
    forge: &Forge,
    runner: &Runner,
    bot: &BotSettings,
    settings: &Settings,
    repository: &Repository,
    after: &str,
    changed: &[String],
) -> anyhow::Result<RunReport> {
    let branch = repository.default_branch.clone();
    let mut report =
        RunReport::new(format!("push of {} to {branch}", after.get(..12).unwrap_or(after)));
    let mut workspace = Workspace::clone(&forge.git_remote(), &format!("refs/heads/{branch}"))?;
    let changed: Vec<String> = if changed.is_empty() {
        match settings.var("CI_COMMIT_BEFORE_SHA") {
            Some(before) => workspace.changed_files(before)?,
            None => Vec::new(),
        }
    } else {
        changed.to_vec()
    };
    let all_jobs = job_files_in(workspace.path());
    let jobs: Vec<String> = changed.into_iter().filter(|f| all_jobs.contains(f)).collect();
    if jobs.is_empty() {
        report.verdict = "ignored".into();
        report.log.push("the push changed no job file (`*.nomad.hcl`, `*.nomad`)".into());
        return Ok(report);
    }
    if !bot.auto_deploy {
        report.verdict = "not-deployed".into();
        report.log.push(format!(
            "auto-deploy is off ({}=false): not deploying {}",
            crate::settings::AUTO_DEPLOY,
            jobs.join(", ")
        ));
        return Ok(report);
    }
    let Some(client) = NomadClient::configured(settings).map_err(UserError::of)? else {
        return Err(UserError::of(anyhow::anyhow!(
            "the push changed {} but NOMAD_ADDR is not set: nothing was deployed",
            jobs.join(", ")
        )));
    };
    let conventions = repository_config(workspace.path(), bot)?;
    let options = DeployOptions {
        fix: true,
        max_fix_iterations: bot.max_fix_iterations,
        on_give_up: GiveUp::Revert,
        policy: FixPolicy::for_conventions(&conventions),
        llm: llm_client(settings, runner).map(Arc::new),
        ..Default::default()
    };
    let identity = super::commit_identity(bot);
    let mut all_healthy = true;
    for path in &jobs {
        runner.group(&format!("deploy {path}"));
        let deployment = match forge.start_deployment(after, &branch, &bot.environment).await {
            Ok(id) => Some(id),
            Err(err) => {
                runner.warn(&format!("could not record the deployment: {err}"));
                None
            }
        };
        let mut file = JobFile::read(&workspace.path().join(path))?;
        let original = file.text.clone();
        let (job, _) =
            file.to_job(Some(&client), &ParseOptions::default()).await.map_err(|err| {
                // Nomad failing is not the file's fault; a file that does not parse is.
                if err.downcast_ref::<crate::nomad::NomadError>().is_some() {
                    err
                } else {
                    UserError::of(err.context(format!("{path} cannot be deployed")))
                }
            })?;
        let mut progress = |line: &str| runner.log(line);
        let outcome = deploy(&client, job, Some(&mut file), &options, &mut progress).await;
        runner.end_group(&format!("deploy {path}"));
        let (state, line) = match &outcome {
            Ok(done) if done.outcome == Outcome::Healthy => {
                report.job_id.get_or_insert(done.job.clone());
                (DeploymentState::Success, format!("{path}: healthy"))
            }
            Ok(done) => {
                report.job_id.get_or_insert(done.job.clone());
                let last =
                    done.attempts.last().map(|a| verdict_line(&a.verdict)).unwrap_or_default();
                let rollback = done.rollback.clone().unwrap_or_default();
                (DeploymentState::Failure, format!("{path}: {last}; {rollback}"))
            }
            Err(err) => (DeploymentState::Failure, format!("{path}: {err}")),
        };
        all_healthy &= state == DeploymentState::Success;
        runner.log(&line);
        report.log.push(line.clone());
        if let Some(id) = deployment {
            if let Err(err) = forge.update_deployment(id, state, &line).await {
                runner.warn(&format!("could not update the deployment: {err}"));
            }
        }
        if file.text != original {
            let fixes: Vec<String> = match &outcome {
                Ok(done) => done.fixes().map(|f| f.explanation.clone()).collect(),
                Err(_) => Vec::new(),
            };
            let message = format!(
                "nomad-spec: fix {path}\n\nThe deploy of {after} failed; what was changed:\n- {}\n",
                fixes.join("\n- ")
            );
            commit_fix(
                forge,
                &mut workspace,
                &branch,
                path,
                &file.text,
                &message,
                &identity,
                &mut report,
            )
            .await?;
        }
        report.spec_path.get_or_insert(path.clone());
    }
    report.verdict = if all_healthy { "healthy" } else { "failed" }.into();
    Ok(report)
}

/// Commits the fixed file to `branch`, or to a branch of its own with a change request when
/// `branch` is protected; a branch that moved meanwhile is fetched and the fix put on top,
/// unless someone changed the same file (then the fix is only reported).
#[allow(clippy::too_many_arguments)]
async fn commit_fix(
    forge: &Forge,
    workspace: &mut Workspace,
    branch: &str,
    path: &str,
    fixed: &str,
    message: &str,
    identity: &Identity,
    report: &mut RunReport,
) -> anyhow::Result<()> {
    let read = |workspace: &Workspace| {
        crate::file::read_text(&workspace.path().join(path), MAX_SOURCE_BYTES as u64).ok()
    };
    let before = read(workspace);
    for _ in 0..3 {
        let Some(commit) = workspace.commit_file(path, fixed, message, identity)? else {
            return Ok(());
        };
        match workspace.push(branch)? {
            PushOutcome::Pushed { .. } => {
                report.commits.push(commit);
                return Ok(());
            }
            PushOutcome::NonFastForward => {
                workspace.sync_to(branch)?;
                let now = read(workspace);
                if now != before {
                    report.log.push(format!(
                        "{path} changed on {branch} while it was deployed; the fix was not committed"
                    ));
                    return Ok(());
                }
            }
            PushOutcome::Rejected { protected: true, .. } => {
                let number = propose_fix(forge, workspace, branch, path, message).await?;
                report.log.push(format!("{branch} is protected: the fix is in #{number}"));
                return Ok(());
            }
            PushOutcome::Rejected { message: why, .. } => {
                anyhow::bail!("the push of the fix to {branch} was rejected: {why}")
            }
        }
    }
    report.log.push(format!("{branch} kept moving; the fix to {path} was not committed"));
    Ok(())
}

/// Pushes the checkout's head (a fix `base` refused, being protected) to a branch of its own
/// and opens a change request of it into `base`; returns its number.
pub(super) async fn propose_fix(
    forge: &Forge,
    workspace: &mut Workspace,
    base: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<u64> {
    let head = workspace.head()?;
    let branch = format!("nomad-spec/fix-{}", head.get(..12).unwrap_or(&head));
    match workspace.push(&branch)? {
        PushOutcome::Pushed { .. } => {}
        other => anyhow::bail!("cannot push the fix to {branch}: {other:?}"),
    }
    let title = format!("nomad-spec: fix {path}");
    Ok(forge.open_change_request(&branch, base, &title, body).await?)
}
