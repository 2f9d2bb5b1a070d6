//! `nomad-spec plan`: what Nomad would do with a job file, for a terminal or a PR comment.
//!
//! This file owns the command's arguments and exit codes (those of `nomad job plan`); the
//! report and its renderings are `nomad::plan`.

use std::process::ExitCode;

use crate::nomad::job_file::JobFile;
use crate::nomad::plan::{render_markdown, render_text, PlanReport, EXIT_ERROR};
use crate::nomad::NomadClient;
use crate::settings::Settings;

use super::deploy::note_parser;
use super::runtime;

/// Arguments of `nomad-spec plan`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Nomad is configured as for the nomad command (NOMAD_ADDR, NOMAD_TOKEN, NOMAD_NAMESPACE, ...).

Exit codes (as for `nomad job plan`):
    0  no changes
    1  changes: allocations would be created, destroyed or updated
  255  error (Nomad unreachable, permission denied, unreadable job file, ...)")]
pub struct Args {
    #[command(flatten)]
    pub job: super::JobFileArgs,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

/// Output formats of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// For a terminal.
    Text,
    /// For a pull-request comment.
    Markdown,
    /// The report as JSON.
    Json,
}

/// Runs `nomad-spec plan`.
pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    match plan(&args, settings) {
        Ok(code) => Ok(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            Ok(ExitCode::from(EXIT_ERROR))
        }
    }
}

fn plan(args: &Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let options = args.job.parse_options()?;
    let file = JobFile::read(&args.job.file)?;
    let client = NomadClient::from_settings(settings)?;
    let report = runtime()?.block_on(async {
        let (job, parsed_by) = file.to_job(Some(&client), &options).await?;
        note_parser(&parsed_by);
        let response = client.for_job(&job).plan(&job).await?;
        anyhow::Ok(PlanReport::new(&job, &response))
    })?;
    match args.format {
        PlanFormat::Text => print!("{}", render_text(&report)),
        PlanFormat::Markdown => print!("{}", render_markdown(&report)),
        PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(ExitCode::from(report.exit_code()))
}
