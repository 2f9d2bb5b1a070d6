//! `nomad-spec check FILE`: a job file against the cluster, as named checks.
//!
//! This file owns the command: it runs `nomad-spec/validate` (the job spec rules),
//! `nomad-spec/secrets` (Vault), `nomad-spec/routes` (Fabio) and `nomad-spec/plan` (when
//! `NOMAD_ADDR` is set), each as a [`CheckResult`], and prints them for a person or as JSON.
//! The checks are run by `crate::checks::run` (the same the PR bot posts). Every service is
//! optional: a check whose service is not configured or not reachable is skipped and says why.
//!
//! Exit codes: 0 nothing failed (skipped checks allowed), 1 a check failed, 2 usage error or
//! unreadable file.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use crate::checks::run::check_file;
use crate::checks::{CheckResult, CheckStatus};
use crate::jobspec::config::Config;
use crate::jobspec::Severity;
use crate::nomad::job_file::JobFile;
use crate::settings::Settings;

use super::runtime;

/// Arguments of `nomad-spec check`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Services, all optional (a check whose service is not configured is skipped):
    Vault   VAULT_ADDR, VAULT_TOKEN, ...        nomad-spec/secrets
    Fabio   FABIO_ADMIN_ADDR (default http://localhost:9998)   nomad-spec/routes
    Nomad   NOMAD_ADDR, NOMAD_TOKEN, ...        nomad-spec/plan
    Consul  CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN (conventions: Fabio hostname suffix)
The working directory's .nomad-spec.toml ([fabio] tag_prefix, hostname_suffix) wins over
Consul's conventions.

Exit codes:
    0  no check failed (skipped checks allowed)
    1  a check failed
    2  usage error or unreadable job file")]
pub struct Args {
    #[command(flatten)]
    pub job: super::JobFileArgs,
    /// How to print the results.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Report route conflicts as warnings instead of failing the routes check.
    #[arg(long)]
    pub lenient_routes: bool,
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// One block per check, for a person.
    Text,
    /// A JSON array of results, for machines.
    Json,
}

/// Runs `nomad-spec check`.
pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let options = args.job.parse_options()?;
    let file = JobFile::read(&args.job.file)?;
    let config = Config::load_from_repository(Path::new("."))?;
    let results = runtime()?
        .block_on(check_file(&file, &options, settings, &config, !args.lenient_routes))
        .results;
    match args.format {
        CheckFormat::Text => print!("{}", render_text_results(&results)),
        CheckFormat::Json => println!("{}", serde_json::to_string_pretty(&results)?),
    }
    let failed = results.iter().any(|r| r.status == CheckStatus::Failure);
    Ok(ExitCode::from(u8::from(failed)))
}

/// One block per check: `name: status`, the summary, then the annotations.
pub fn render_text_results(results: &[CheckResult]) -> String {
    let mut out = String::new();
    for result in results {
        let status = match result.status {
            CheckStatus::Success => "ok",
            CheckStatus::Failure => "FAILED",
            CheckStatus::Skipped => "skipped",
        };
        let _ = writeln!(out, "{}: {status}", result.name);
        let _ = writeln!(out, "  {}", result.summary);
        for d in &result.annotations {
            let severity = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let _ =
                writeln!(out, "  {}:{}:{}: {severity}: {}", d.file, d.line, d.column, d.message);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobspec::Diagnostic;

    #[test]
    fn text_has_one_block_per_check() {
        let results = vec![
            CheckResult {
                name: "nomad-spec/routes".into(),
                status: CheckStatus::Failure,
                summary: "1 route conflict(s) with other services".into(),
                annotations: vec![Diagnostic::error("web.hcl", 10, 15, "route tag clash")],
            },
            CheckResult::skipped("nomad-spec/plan", "Nomad is not configured"),
        ];
        insta::assert_snapshot!(render_text_results(&results), @r"
        nomad-spec/routes: FAILED
          1 route conflict(s) with other services
          web.hcl:10:15: error: route tag clash

        nomad-spec/plan: skipped
          Nomad is not configured
        ");
    }
}
