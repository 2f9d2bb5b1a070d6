//! The scheduled run: the default branch's job files compared with the cluster, and the ONE
//! drift issue kept up to date.
//!
//! A clone of the default branch gives the job files; `nomad::drift::survey` plans each and
//! lists the cluster's jobs that name the repository; [`super::drift_issue`] decides
//! whether the issue is opened, edited, reopened, closed or left alone, and this file does it
//! on the forge. A repository with no job file asks nothing of Nomad or of the forge's issues.
//! The drift issue's commands (`super::drift_command`) compare and keep the issue the same
//! way, through [`survey_default_branch`] and [`keep_issue`].

use anyhow::Context as _;

use super::drift_issue::{find_drift_issue, next_step, IssueStep};
use super::{checkout, RunReport, Runner};
use crate::event::Repository;
use crate::forge::Forge;
use crate::git::{repository_name, NameSource, Workspace};
use crate::jobspec::parse::ParseOptions;
use crate::nomad::drift::{render_markdown, survey, DriftReport};
use crate::nomad::job_file::JobFile;
use crate::nomad::NomadClient;
use crate::settings::Settings;

/// Compares the default branch's job files with the cluster and keeps the drift issue.
pub async fn scheduled(
    forge: &Forge,
    runner: &Runner,
    settings: &Settings,
    repository: &Repository,
) -> anyhow::Result<RunReport> {
    let branch = &repository.default_branch;
    let mut report = RunReport::new(format!("scheduled drift check of {branch}"));
    let Some(surveyed) = survey_default_branch(forge, runner, settings, repository).await? else {
        report.verdict = "no-job-files".into();
        report.log.push("no job file (`*.nomad.hcl`, `*.nomad`) in the repository".into());
        return Ok(report);
    };
    let done = keep_issue(forge, &surveyed.drift).await?;
    runner.log(&done);
    report.log.push(done);
    report.verdict = if surveyed.drift.has_drift() { "drift" } else { "in-sync" }.into();
    report.details = render_markdown(&surveyed.drift);
    Ok(report)
}

/// The default branch's job files, compared with the cluster: the checkout they were read
/// from, the Nomad client that compared them, and the report.
pub struct Surveyed {
    /// A clone of the default branch.
    pub workspace: Workspace,
    /// The job files, by their path in the repository.
    pub files: Vec<(String, JobFile)>,
    /// The cluster they were compared with.
    pub client: NomadClient,
    /// The comparison.
    pub drift: DriftReport,
}

/// Clones the default branch and compares its job files with the cluster; `None` when the
/// repository has no job file (then neither Nomad nor the forge's issues are asked anything).
pub async fn survey_default_branch(
    forge: &Forge,
    runner: &Runner,
    settings: &Settings,
    repository: &Repository,
) -> anyhow::Result<Option<Surveyed>> {
    let branch = &repository.default_branch;
    let workspace = Workspace::clone(&forge.git_remote(), &format!("refs/heads/{branch}"))?;
    let relative = checkout::job_files_in(workspace.path());
    if relative.is_empty() {
        return Ok(None);
    }
    let files = relative
        .iter()
        .map(|name| Ok((name.clone(), JobFile::read(&workspace.path().join(name))?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let client = NomadClient::from_settings(settings)
        .context("a drift check compares the job files with a Nomad cluster")?;
    // Jobs generated here name the repository's short name, as `generate` wrote it.
    let own_name = repository_name(NameSource::FullName(&repository.full_name));
    let drift = survey(&client, &files, &ParseOptions::default(), &[own_name]).await?;
    runner.log(&format!("drift: {}", drift.summary()));
    Ok(Some(Surveyed { workspace, files, client, drift }))
}

/// Brings the drift issue in line with `drift` (opened, edited, reopened, closed or left
/// alone); says what was done.
pub async fn keep_issue(forge: &Forge, drift: &DriftReport) -> anyhow::Result<String> {
    let bot_login = forge.bot_login().await?;
    let issues = forge.issues().await?;
    let existing = find_drift_issue(&issues, &bot_login);
    let done = match next_step(existing, drift) {
        IssueStep::Open { title, body } => {
            let number = forge.create_issue(&title, &body).await?;
            format!("opened the drift issue #{number}")
        }
        IssueStep::Edit { number, body } => {
            forge.edit_issue(number, &body, None).await?;
            format!("updated the drift issue #{number}")
        }
        IssueStep::Reopen { number, body } => {
            forge.edit_issue(number, &body, Some(true)).await?;
            format!("reopened the drift issue #{number}")
        }
        IssueStep::Close { number, body } => {
            forge.edit_issue(number, &body, Some(false)).await?;
            format!("closed the drift issue #{number}: every job matches its file")
        }
        IssueStep::Nothing => match existing {
            Some(issue) => format!("the drift issue #{} already says this", issue.number),
            None => "no drift and no drift issue".to_string(),
        },
    };
    Ok(done)
}
