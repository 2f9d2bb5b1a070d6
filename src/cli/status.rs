//! `nomad-spec status`: a job's state on Nomad in a few lines.
//!
//! This file owns the command's arguments and exit codes; the summary is `nomad::status`.

use std::process::ExitCode;

use crate::nomad::status::{render_status, JobStatus};
use crate::nomad::{NomadClient, NomadError};
use crate::settings::Settings;

use super::deploy::ReportFormat;
use super::{exit_code_of, runtime};

/// Arguments of `nomad-spec status`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit codes:
  0  the summary was printed
  1  the job does not exist in the namespace
  2  usage error
  4  Nomad is unreachable
  5  permission denied: NOMAD_TOKEN may not read the job
  7  Nomad answered with an error or an unreadable response
  8  Nomad did not answer in time")]
pub struct Args {
    /// The job's ID.
    pub job: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Runs `nomad-spec status`.
pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let client = NomadClient::from_settings(settings)?;
    let result = runtime()?.block_on(JobStatus::read(&client, &args.job));
    let status = match result {
        Ok(status) => status,
        Err(err) => {
            eprintln!("error: {err}");
            let code = match err {
                NomadError::NotFound { .. } => 1,
                other => exit_code_of(&other),
            };
            return Ok(ExitCode::from(code));
        }
    };
    match args.format {
        ReportFormat::Text => print!("{}", render_status(&status)),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&status)?),
    }
    Ok(ExitCode::SUCCESS)
}
