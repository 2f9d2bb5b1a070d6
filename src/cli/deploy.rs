//! `nomad-spec deploy`: plan, register, watch until healthy or failed, optionally fix the
//! file and try again, and roll back when giving up.
//!
//! This file owns the command's arguments, exit codes and output; the loop itself is
//! `nomad::deploy`. Also home of what `plan` and `status` share with it: the note on which
//! parser read the file, and the report formats. The exit code of each Nomad error kind is
//! the CLI's (`cli/mod.rs`).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::jobspec::config::Config;
use crate::memory::store::record::{groups_of, learn_from_deploy, Run};
use crate::memory::store::{today, Opened};
use crate::memory::Context;
use crate::nomad::deploy::{deploy, verdict_line, DeployOptions, DeployReport, GiveUp, Outcome};
use crate::nomad::fix::FixPolicy;
use crate::nomad::job_file::{JobFile, ParsedBy};
use crate::nomad::watch::WatchOptions;
use crate::nomad::{NomadClient, NomadError};
use crate::settings::Settings;

use super::{exit_code_of, runtime};

/// Deploy: the job is healthy.
pub const EXIT_HEALTHY: u8 = 0;
/// Deploy: the job failed and the loop gave up.
pub const EXIT_FAILED: u8 = 1;
/// Deploy: the job was neither healthy nor failed by the deadline.
pub const EXIT_TIMED_OUT: u8 = 6;

/// Arguments of `nomad-spec deploy`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Nomad is configured as for the nomad command: NOMAD_ADDR, NOMAD_TOKEN, NOMAD_NAMESPACE, \
NOMAD_REGION, NOMAD_CACERT, NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY, NOMAD_TLS_SERVER_NAME, \
NOMAD_SKIP_VERIFY. With --fix and an LLM configured (NOMAD_SPEC_LLM_BASE_URL, see \
prompts/README.md), failures the rules have no fix for are diagnosed by the LLM, whose \
allow-listed changes are checked before they are applied. A fix never removes the \
constraint that `architecture` in the current directory's .nomad-spec.toml sets.

Exit codes:
  0  the job is healthy
  1  the job failed (after any fixes) and nomad-spec gave up
  2  usage error or unreadable job file
  3  the job was changed on Nomad since it was planned; nothing was registered
  4  Nomad is unreachable
  5  permission denied: NOMAD_TOKEN may not do this
  6  not healthy by the deadline
  7  Nomad answered with an error (5xx, 404) or an unreadable response
  8  Nomad did not answer in time")]
pub struct Args {
    #[command(flatten)]
    pub job: super::JobFileArgs,
    /// After a fixable failure, fix the file in place and deploy again.
    #[arg(long)]
    pub fix: bool,
    /// At most this many fixes.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub max_fix_iterations: u32,
    /// How long one attempt may take to become healthy (90s, 5m, 1h).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub deadline: Duration,
    /// What to do with the job when giving up.
    #[arg(long, value_enum, default_value_t = GiveUp::Revert)]
    pub on_give_up: GiveUp,
    /// Most memory a fix may give a task, in MB.
    #[arg(long, default_value_t = 8192, value_name = "MB")]
    pub max_memory: i64,
    /// A path the application serves its health endpoint on: evidence for correcting the
    /// path of a check that keeps failing; repeatable.
    #[arg(long = "health-path", value_name = "PATH")]
    pub health_paths: Vec<String>,
    /// Output format of the final report on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Neither use nor add to memory (a fix remembered from earlier runs, the episodes of this
    /// one); `NOMAD_SPEC_MEMORY=off` does the same for every command.
    #[arg(long)]
    pub no_memory: bool,
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// A duration as Go writes it (`90s`, `5m`, `1h30m`, `500ms`): the settings' reading.
pub use crate::settings::parse_duration;

/// Tells the user which parser read the file when it was not Nomad's.
pub(crate) fn note_parser(parsed_by: &ParsedBy) {
    if let ParsedBy::Local { reason } = parsed_by {
        eprintln!("note: parsed with nomad-spec's own HCL parser ({reason})");
    }
}

/// Runs `nomad-spec deploy`.
pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let options = args.job.parse_options()?;
    let mut file = JobFile::read(&args.job.file)?;
    let client = NomadClient::from_settings(settings)?;
    // The LLM advises on failures the rules cannot fix; a bad setting only skips it.
    let llm = if args.fix {
        crate::llm::Client::configured(settings).unwrap_or_else(|err| {
            eprintln!("note: LLM skipped: {err:#}");
            None
        })
    } else {
        None
    };
    // What the repository's conventions pin, a fix keeps; read only when fixes may be made.
    let conventions =
        if args.fix { Config::load_from_repository(Path::new("."))? } else { Config::default() };
    let mut deploy_options = DeployOptions {
        fix: args.fix,
        max_fix_iterations: args.max_fix_iterations,
        watch: WatchOptions { deadline: args.deadline, ..WatchOptions::default() },
        on_give_up: args.on_give_up,
        policy: FixPolicy {
            max_memory_mb: args.max_memory,
            known_health_paths: args.health_paths.clone(),
            ..FixPolicy::for_conventions(&conventions)
        },
        llm: llm.map(std::sync::Arc::new),
        memory: None,
        stacks: std::collections::BTreeMap::new(),
    };
    let mut memory = if args.no_memory { None } else { DeployMemory::open(settings) };
    if let Some(memory) = &memory {
        memory.prepare(&mut deploy_options);
    }
    let live = std::io::stderr().is_terminal();
    let result = runtime()?.block_on(async {
        let (job, parsed_by) = file.to_job(Some(&client), &options).await?;
        note_parser(&parsed_by);
        if let Some(memory) = &memory {
            deploy_options.stacks = Run::stacks_of(&memory.analysis, &groups_of(&job));
        }
        let mut progress = |line: &str| {
            if live {
                eprintln!("  {line}");
            } else {
                tracing::info!("{line}");
            }
        };
        let report =
            deploy(&client, job.clone(), Some(&mut file), &deploy_options, &mut progress).await?;
        if let Some(memory) = &mut memory {
            for note in memory.learn(&report, &job, &args.job.file).await {
                progress(&note);
            }
        }
        anyhow::Ok(report)
    });
    let report = match result {
        Ok(report) => report,
        Err(err) => match err.downcast_ref::<NomadError>() {
            Some(nomad) => {
                eprintln!("error: {nomad}");
                return Ok(ExitCode::from(exit_code_of(nomad)));
            }
            None => return Err(err),
        },
    };
    match args.format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Text => print!("{}", render_report(&report)),
    }
    Ok(ExitCode::from(match report.outcome {
        Outcome::Healthy => EXIT_HEALTHY,
        Outcome::Failed => EXIT_FAILED,
        Outcome::TimedOut => EXIT_TIMED_OUT,
    }))
}

/// Memory for one `deploy`: the store the settings name, and the stacks of the repository in
/// the current directory (the one whose conventions the fixes keep), by group.
struct DeployMemory {
    opened: Opened,
    analysis: crate::analyze::Analysis,
    repository: String,
}

impl DeployMemory {
    /// The memory the settings name; `None` when it is off. A store that cannot be read is
    /// said on stderr and the deploy goes on without it.
    fn open(settings: &Settings) -> Option<DeployMemory> {
        let opened = Opened::from_settings(settings)?;
        if let Some(note) = &opened.note {
            eprintln!("note: {note}");
        }
        let root = Path::new(".");
        let analysis = crate::analyze::analyze(root, &crate::analyze::Options::default());
        let repository = crate::git::repository_name(crate::git::NameSource::Folder(root));
        Some(DeployMemory { opened, analysis, repository })
    }

    /// Gives the loop what memory knows.
    fn prepare(&self, options: &mut DeployOptions) {
        options.memory = Some(std::sync::Arc::new(self.opened.clone()));
    }

    /// Keeps what the deploy taught and saves it; what happened, in lines.
    async fn learn(
        &mut self,
        report: &DeployReport,
        job: &serde_json::Value,
        path: &Path,
    ) -> Vec<String> {
        // The job as last deployed: the original with every fix applied.
        let mut last = job.clone();
        for fix in report.fixes() {
            for edit in &fix.edits {
                crate::jobspec::edit::json::apply(&mut last, edit);
            }
        }
        let run = Run {
            context: Context {
                repository: self.repository.clone(),
                cluster: self.opened.cluster.clone(),
                date: today(),
            },
            run: format!("deploy {}", path.display()),
            stacks: Run::stacks_of(&self.analysis, &groups_of(&last)),
        };
        let memory = &mut self.opened.memory;
        let mut notes = learn_from_deploy(memory, report, &last, &run, &self.opened.embedder).await;
        notes.extend(self.opened.save().await);
        notes
    }
}

/// The deploy report for a terminal.
pub fn render_report(report: &DeployReport) -> String {
    let mut out = String::new();
    let fixes = report.fixes().count();
    let headline = match report.outcome {
        Outcome::Healthy if fixes == 0 => "healthy".to_string(),
        Outcome::Healthy => format!("healthy after {fixes} fix(es)"),
        Outcome::Failed => "failed".to_string(),
        Outcome::TimedOut => "timed out".to_string(),
    };
    out.push_str(&format!("job {}: {headline}\n", report.job));
    for (number, attempt) in report.attempts.iter().enumerate() {
        out.push_str(&format!("attempt {}: {}\n", number + 1, verdict_line(&attempt.verdict)));
        if let Some(fix) = &attempt.fix {
            out.push_str(&format!("  fix: {}\n", fix.explanation));
        }
        if let Some(reason) = &attempt.no_fix {
            out.push_str(&format!("  no fix: {reason}\n"));
        }
        for note in &attempt.llm_notes {
            out.push_str(&format!("  llm: {note}\n"));
        }
    }
    if let Some(reason) = &report.gave_up {
        out.push_str(&format!("gave up: {reason}\n"));
    }
    if let Some(action) = &report.rollback {
        out.push_str(&format!("then: {action}\n"));
    }
    for warning in &report.write_back_warnings {
        out.push_str(&format!("warning: the file was not updated: {warning}\n"));
    }
    out
}
