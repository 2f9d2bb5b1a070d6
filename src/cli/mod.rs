//! The command line: one file per subcommand, each with its `Args` and a `run` function.
//!
//! This module owns argument definitions, dispatch and logging set-up; the work itself is in
//! the library modules the commands call.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::nomad::NomadError;
use crate::settings::Settings;

pub mod analyze;
pub mod check;
pub mod ci;
pub mod deploy;
pub mod deployability;
pub mod drift;
pub mod eval;
pub mod fmt;
pub mod generate;
pub mod memory;
pub mod optimize;
pub mod parse;
pub mod plan;
pub mod serve;
pub mod status;
pub mod validate;
pub mod whole_app;

/// A job file and its HCL variables, as `plan`, `deploy` and `check` take them.
#[derive(Debug, clap::Args)]
pub struct JobFileArgs {
    /// The job file: HCL (parsed by Nomad when reachable) or JSON (with or without {"Job":}).
    pub file: std::path::PathBuf,
    /// Set an HCL variable (NAME=VALUE); repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read HCL variables from a file; repeatable.
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<std::path::PathBuf>,
}

impl JobFileArgs {
    /// The `--var` pairs and var files as parse options.
    pub fn parse_options(&self) -> anyhow::Result<crate::jobspec::parse::ParseOptions> {
        let vars = self
            .vars
            .iter()
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) if !name.trim().is_empty() => {
                    Ok((name.trim().to_string(), value.to_string()))
                }
                _ => anyhow::bail!("--var {pair:?} is not NAME=VALUE"),
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(crate::jobspec::parse::ParseOptions { vars, var_files: self.var_files.clone() })
    }
}

/// Exit code for usage errors and unreadable input.
pub const EXIT_USAGE: u8 = 2;
/// The job was changed on Nomad since it was planned; nothing was registered.
pub const EXIT_CONFLICT: u8 = 3;
/// Nomad could not be reached or did not answer in time.
pub const EXIT_UNREACHABLE: u8 = 4;
/// The token may not do what the command needs.
pub const EXIT_PERMISSION_DENIED: u8 = 5;
/// Nomad answered with an error (5xx, 404, ...) or with a body nomad-spec cannot read.
pub const EXIT_NOMAD_ERROR: u8 = 7;
/// Nomad accepted the connection but did not answer in time.
pub const EXIT_NOMAD_SLOW: u8 = 8;

/// The exit code for a Nomad error, as `deploy` and `status` give it (`plan` uses 255 for all
/// of them, like `nomad job plan`).
pub(crate) fn exit_code_of(err: &NomadError) -> u8 {
    match err {
        NomadError::Conflict { .. } => EXIT_CONFLICT,
        NomadError::Unreachable { .. } => EXIT_UNREACHABLE,
        NomadError::Timeout { .. } => EXIT_NOMAD_SLOW,
        NomadError::PermissionDenied { .. } => EXIT_PERMISSION_DENIED,
        NomadError::Config(_) => EXIT_USAGE,
        NomadError::NotFound { .. }
        | NomadError::Server { .. }
        | NomadError::BadResponse { .. } => EXIT_NOMAD_ERROR,
    }
}

/// A runtime for one command.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// From a Dockerfile to a healthy Nomad job.
#[derive(Debug, Parser)]
#[command(name = "nomad-spec", version, about, long_about = None)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print the run's spans as a tree with their timings on stderr when it ends.
    #[arg(long, global = true)]
    pub trace: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a repository and report its services, ports, env, health checks and dependencies.
    Analyze(analyze::Args),
    /// Generate a Nomad job file from a repository (asks questions at a terminal).
    Generate(generate::Args),
    /// Parse an HCL2 job file into Nomad's API JSON (like `nomad job run -output`).
    Parse(parse::Args),
    /// Rewrite job files in canonical `nomad fmt` layout.
    Fmt(fmt::Args),
    /// Check job files for syntax errors and Nomad's semantic rules.
    Validate(validate::Args),
    /// Check a job file against the cluster: validate, Vault secrets, Fabio routes, plan.
    Check(check::Args),
    /// Measure analysis and generation against a dataset of repositories with expected answers.
    Eval(eval::Args),
    /// Search a better prompt for an LLM task on a dataset; promote it only if it wins on
    /// held-back cases.
    Optimize(optimize::Args),
    /// Show what Nomad would do with a job file (needs NOMAD_ADDR).
    Plan(plan::Args),
    /// Register a job file, watch it until healthy or failed, optionally fix and retry.
    Deploy(deploy::Args),
    /// Summarize a job running on Nomad.
    Status(status::Args),
    /// Compare the repository's job files with the cluster: in sync, differs, missing, no file.
    Drift(drift::Args),
    /// See and edit memory: what earlier runs learned (list, show, forget, export, import).
    Memory(memory::Args),
    /// Run the pull-request bot for this CI event (GitHub Actions or GitLab CI).
    Ci(ci::Args),
    /// Serve the pull-request bot to many repositories from webhooks (GitHub App, GitLab).
    Serve(serve::Args),
}

/// Runs one parsed command line with the settings `main` read from the environment, as one
/// trace: the command is its root span.
pub fn run(cli: Cli, settings: &Settings) -> anyhow::Result<ExitCode> {
    let name = command_name(&cli.command);
    let root = tracing::info_span!(
        target: crate::telemetry::TARGET,
        "nomad-spec",
        otel.name = %format!("nomad-spec {name}"),
        langfuse.trace.name = %format!("nomad-spec {name}"),
        nomad_spec.command = name,
    );
    let _entered = root.enter();
    let result = run_command(cli, settings);
    if let Err(err) = &result {
        crate::telemetry::failed(&format!("{err:#}"));
    }
    result
}

/// The subcommand's name, as the trace calls it.
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Analyze(_) => "analyze",
        Command::Generate(_) => "generate",
        Command::Parse(_) => "parse",
        Command::Fmt(_) => "fmt",
        Command::Validate(_) => "validate",
        Command::Check(_) => "check",
        Command::Eval(_) => "eval",
        Command::Optimize(_) => "optimize",
        Command::Plan(_) => "plan",
        Command::Deploy(_) => "deploy",
        Command::Status(_) => "status",
        Command::Drift(_) => "drift",
        Command::Ci(_) => "ci",
        Command::Serve(_) => "serve",
        Command::Memory(_) => "memory",
    }
}

fn run_command(cli: Cli, settings: &Settings) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Generate(args) => generate::run(args, settings),
        Command::Parse(args) => parse::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Check(args) => check::run(args, settings),
        Command::Eval(args) => eval::run(args, settings),
        Command::Optimize(args) => optimize::run(args, settings),
        Command::Plan(args) => plan::run(args, settings),
        Command::Deploy(args) => deploy::run(args, settings),
        Command::Status(args) => status::run(args, settings),
        Command::Drift(args) => drift::run(args, settings),
        Command::Memory(args) => memory::run(args, settings),
        Command::Ci(args) => ci::run(args, settings),
        Command::Serve(args) => serve::run(args, settings),
    }
}

/// Accepts Nomad's single-dash `-var` and `-var-file` anywhere on the line by rewriting them
/// to their `--` forms, since `-v` (verbose) would otherwise claim `-var`.
pub fn nomad_style_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut after_separator = false;
    args.into_iter()
        .map(|arg| {
            if after_separator {
                return arg;
            }
            match arg.to_str() {
                Some("--") => {
                    after_separator = true;
                    arg
                }
                Some("-var") => "--var".into(),
                Some("-var-file") => "--var-file".into(),
                Some(s) if s.starts_with("-var=") || s.starts_with("-var-file=") => {
                    format!("-{s}").into()
                }
                _ => arg,
            }
        })
        .collect()
}

/// Logs go to stderr so that stdout stays machine-readable. When `traced` (`--trace`, or a
/// trace exporter configured) the run's spans are also kept, in the store returned, for
/// [`finish_traces`]; untraced runs pay nothing for them.
pub fn init_logging(
    verbose: u8,
    traced: bool,
) -> Option<std::sync::Arc<crate::telemetry::Collected>> {
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // `RUST_LOG` takes `LEVEL` and `TARGET=LEVEL` directives (`warn,nomad_spec::git=debug`);
    // one it cannot read leaves the default. Targets, not `EnvFilter`: its span and field
    // filters would bring a regex engine that builds a full DFA for every pattern compiled.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse::<tracing_subscriber::filter::Targets>().ok())
        .unwrap_or_else(|| default.parse().unwrap_or_default());
    // The trace's own events carry unredacted values: they are for the span layer only.
    let not_trace = filter_fn(|meta| meta.target() != crate::telemetry::TARGET);
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter)
        .with_filter(not_trace);
    let store = traced.then(std::sync::Arc::<crate::telemetry::Collected>::default);
    let spans = store.as_ref().map(|store| {
        crate::telemetry::SpanLayer::new(store.clone())
            .with_filter(filter_fn(|meta| meta.target() == crate::telemetry::TARGET))
    });
    let _ = tracing_subscriber::registry().with(log).with(spans).try_init();
    store
}

/// Whether a command's spans are kept: `--trace`, or somewhere to send them.
pub fn traced(cli: &Cli, settings: &Settings) -> bool {
    cli.trace || settings.traces().map(|t| t.exported()).unwrap_or(true)
}

/// How often a long-running command (`serve`) sends the spans finished so far.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// For a command that runs until stopped (`serve`): sends the finished spans every few
/// seconds from a thread of its own, so they neither wait for the exit nor pile up in memory.
/// A note that repeats (a collector that stays down) is said once.
pub fn flush_traces_periodically(
    store: std::sync::Arc<crate::telemetry::Collected>,
    settings: Settings,
) {
    let exported = settings.traces().map(|t| t.exported()).unwrap_or(false);
    if !exported {
        return;
    }
    let spawned = std::thread::Builder::new().name("trace export".into()).spawn(move || {
        let mut said: Option<Vec<String>> = None;
        loop {
            std::thread::sleep(FLUSH_EVERY);
            let notes = export_traces(&store, false, &settings);
            if !notes.is_empty() && said.as_ref() != Some(&notes) {
                for note in &notes {
                    eprintln!("note: {note}");
                }
            }
            said = Some(notes);
        }
    });
    if let Err(err) = spawned {
        eprintln!("note: traces are sent at exit only: cannot start the export thread: {err}");
    }
}

/// The end of a traced command: the tree on stderr with `--trace`, the export where the
/// settings say, and one note for whatever could not be sent (the run's result stands).
pub fn finish_traces(
    store: &std::sync::Arc<crate::telemetry::Collected>,
    print: bool,
    settings: &Settings,
) {
    for note in export_traces(store, print, settings) {
        eprintln!("note: {note}");
    }
}

/// Prints (with `print`) and sends the finished spans; the notes say what could not be sent.
fn export_traces(
    store: &std::sync::Arc<crate::telemetry::Collected>,
    print: bool,
    settings: &Settings,
) -> Vec<String> {
    let mut notes = Vec::new();
    let traces = match settings.traces() {
        Ok(traces) => traces,
        Err(err) => {
            // Still printed with `--trace`; sent nowhere.
            notes.push(format!("traces not sent: {err}"));
            crate::settings::TraceSettings::from_vars(&Default::default())
                .unwrap_or_else(|_| unreachable!("no variables, no error"))
        }
    };
    let mut known: Vec<String> = settings.secret_values().iter().map(|s| s.to_string()).collect();
    if let Some(collector) = &traces.collector {
        known.extend(collector.headers.iter().map(|(_, v)| v.as_str().to_string()));
    }
    let redaction =
        crate::telemetry::Redaction::new(known).with_rule(crate::llm::guard::redact_text);
    notes.extend(crate::telemetry::finish(store, print, &traces, &redaction));
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_options(
        vars: &[String],
        var_files: &[std::path::PathBuf],
    ) -> anyhow::Result<crate::jobspec::parse::ParseOptions> {
        let args = JobFileArgs {
            file: "job.hcl".into(),
            vars: vars.to_vec(),
            var_files: var_files.to_vec(),
        };
        args.parse_options()
    }

    #[test]
    fn vars_must_be_pairs() {
        let options = parse_options(&["image=web:1".into(), "empty=".into()], &[]).unwrap();
        assert_eq!(
            options.vars,
            vec![("image".into(), "web:1".into()), ("empty".into(), String::new())]
        );
        assert!(parse_options(&["novalue".into()], &[]).is_err());
    }
}
