//! `nomad-spec ci`: the pull-request bot, run by a GitHub Action step or a GitLab CI job.
//!
//! This file owns the command's arguments, exit codes and what the runner shows (job summary,
//! step outputs, a masked token); the run itself is `workflow::run`, and `--dry-run` is
//! `workflow::dry_run`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::settings::Settings;
use crate::workflow::{self, dry_run, Runner};

/// Arguments of `nomad-spec ci`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads the CI environment as the forge sets it:
    GitHub Actions  GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_TOKEN,
                    GITHUB_API_URL, GITHUB_SERVER_URL (GitHub Enterprise works the same)
    GitLab CI       CI_PIPELINE_SOURCE, CI_MERGE_REQUEST_IID, CI_PROJECT_ID, CI_API_V4_URL,
                    CI_SERVER_URL, ..., TRIGGER_PAYLOAD (comment pipelines),
                    NOMAD_SPEC_GITLAB_TOKEN (a project access token for notes and pushes)
The bot's own settings (all optional): NOMAD_SPEC_PATH, NOMAD_SPEC_AUTO_DEPLOY,
NOMAD_SPEC_MAX_FIX_ITERATIONS, NOMAD_SPEC_ENVIRONMENT, NOMAD_SPEC_BOT_LOGIN,
NOMAD_SPEC_COMMIT_NAME, NOMAD_SPEC_COMMIT_EMAIL. Services: NOMAD_ADDR (plan, deploy),
VAULT_ADDR, CONSUL_HTTP_ADDR, FABIO_ADMIN_ADDR, NOMAD_SPEC_LLM_BASE_URL (all optional).

Exit codes:
    0  the event was handled (or ignored, with the reason in the log)
    1  the run failed (the forge, git or a setting said no; the log says why, and so does a
       comment on the change request when the run was about one)
    2  usage error, or an event the run cannot read (a missing variable, a payload that is
       not what the forge sends: the message names the field)")]
pub struct Args {
    /// Print the trigger and every action the bot would take, calling nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: the checkout to analyze instead of cloning.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
}

/// Runs `nomad-spec ci`.
pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    if args.dry_run {
        print!("{}", dry_run::plan(settings, &args.path)?);
        return Ok(ExitCode::SUCCESS);
    }
    let runner = Runner::from_vars(settings.vars());
    for secret in settings.secret_values() {
        runner.mask(secret);
    }
    let result = super::runtime()?.block_on(workflow::run(settings, &runner));
    match result {
        Ok(report) => {
            runner.summary(&report.summary_markdown());
            runner.outputs(&[
                ("spec-path", report.spec_path.as_deref().unwrap_or("")),
                ("job-id", report.job_id.as_deref().unwrap_or("")),
                ("verdict", &report.verdict),
            ]);
            runner.log(&format!("nomad-spec: {} → {}", report.trigger, report.verdict));
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            runner.summary(&format!("## nomad-spec\n\nThe run failed: {err:#}\n"));
            runner.outputs(&[("verdict", "error")]);
            eprintln!("error: {err:#}");
            let input = err.downcast_ref::<workflow::UnreadableEvent>().is_some();
            Ok(ExitCode::from(if input { super::EXIT_USAGE } else { 1 }))
        }
    }
}
