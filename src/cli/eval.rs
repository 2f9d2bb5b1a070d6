//! `nomad-spec eval`: how well analysis and generation do on a dataset of repositories with
//! expected answers, with or without the LLM, so two prompt versions or two models can be
//! compared on the same data.
//!
//! A dataset is a folder of cases, one sub-folder each holding an `expected.toml`:
//!
//! ```toml
//! path = "../../../fixtures/repos/flask-postgres"  # the repository, relative to this file
//! service = "api"                  # the service the fields describe (default: the first)
//! language = "python"              # the analyzer's language, or "none"
//! ports = [8000]                   # container ports of the generated job's group
//! image = "postgres:16-alpine"     # the image the generated task runs
//! health = "http:/healthz"         # the job's check: "http:PATH", "tcp", "grpc" or "none"
//! secrets = ["DATABASE_URL"]       # environment variables treated as secrets
//! dependencies = ["db"]            # services it depends on
//! memory_min = 1024                # the task's memory is at least this (MB)
//! ```
//!
//! A dataset may also (or only) hold app files, `*.toml` directly in its folder
//! (`datasets/apps`): each names an app of the shared corpus and what a job that really runs
//! it must contain (`datasets/apps/README.md`); the report then adds a per-app deployability
//! score (`cli::whole_app`, `cli::deployability`), judged on the rules' jobs (the LLM does not
//! take part). The corpus is `--corpus` or `NOMAD_SPEC_CORPUS`, else `../shared/corpus`.
//!
//! Every field but `path` is optional; only the fields given are scored. The case's service is
//! always deployed (`deploy.SERVICE=true`), everything else takes the rules' defaults. With
//! `--llm on`, the LLM reviews each case's jobs the way `generate` and the bot have it do
//! (`generation::refine_jobs`: the `refine` task, each change guarded on its own), and the
//! report puts the figures of the rules alone and with the LLM's accepted changes side by
//! side, saying which figure the LLM lowers, if any; it adds the LLM's calls, tokens and
//! latency. `--prompt-version TASK=V` uses
//! `prompts/TASK.V.md` (under `--prompts`) instead of the shipped prompt of that task.
//!
//! Exit codes: 0 the report was printed; 2 the dataset, a case, an app file, the corpus or a
//! prompt cannot be read, or `--llm on` without an LLM configured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::analyze::Format;
use crate::analyze::{self, Analysis, Options};
use crate::generation::refine_jobs;
use crate::jobspec::answers::Answers;
use crate::jobspec::build::{build, Generated};
use crate::jobspec::config::Config;
use crate::jobspec::render::{render_job, RenderOptions};
use crate::jobspec::validate::{is_valid, validate_source};
use crate::jobspec::{JobSpec, TaskGroup};
use crate::llm::prompt::Prompt;
use crate::llm::Client;
use crate::settings::Settings;

/// Largest case or prompt file read.
const MAX_CASE_FILE_BYTES: u64 = 1024 * 1024;

/// Whether the LLM takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// The rules alone.
    Off,
    /// The rules, then the LLM's `refine` (needs NOMAD_SPEC_LLM_BASE_URL).
    On,
}

/// Arguments of `nomad-spec eval`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit codes: 0 report printed; 2 unreadable dataset, case or prompt, or \
    --llm on without an LLM configured.")]
pub struct Args {
    /// Folder of cases, each a sub-folder with an `expected.toml`.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Let the LLM refine each job.
    #[arg(long, value_enum, default_value_t = Switch::Off)]
    pub llm: Switch,
    /// Use prompt version V of TASK (`prompts/TASK.V.md`); repeatable.
    #[arg(long = "prompt-version", value_name = "TASK=V")]
    pub prompt_versions: Vec<String>,
    /// Where `--prompt-version` finds prompt files.
    #[arg(long, default_value = "prompts")]
    pub prompts: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The shared corpus that holds the apps of app files (default: $NOMAD_SPEC_CORPUS, else
    /// ../shared/corpus).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
}

/// One case's `expected.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    path: PathBuf,
    service: Option<String>,
    language: Option<String>,
    ports: Option<Vec<u16>>,
    image: Option<String>,
    health: Option<String>,
    secrets: Option<Vec<String>>,
    dependencies: Option<Vec<String>>,
    memory_min: Option<i64>,
}

/// One scored field of one case.
#[derive(Debug, Clone, Serialize)]
pub struct FieldScore {
    /// The field (`ports`).
    pub field: String,
    /// What `expected.toml` says.
    pub expected: String,
    /// What the tool produced.
    pub actual: String,
    /// Whether they agree.
    pub ok: bool,
}

/// One case's results.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// The same case scored on the rules' jobs, before the LLM's changes (`--llm on` only).
    #[serde(skip)]
    pub rules: Option<Box<CaseReport>>,
    /// The case folder's name.
    pub name: String,
    /// The fields scored.
    pub fields: Vec<FieldScore>,
    /// Generated jobs that validate.
    pub valid_jobs: usize,
    /// Generated jobs.
    pub jobs: usize,
    /// What happened (build errors, LLM notes).
    pub notes: Vec<String>,
}

/// A field's accuracy over the dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Accuracy {
    /// Cases where it matched.
    pub matched: usize,
    /// Cases that score it.
    pub total: usize,
}

/// The LLM's cost over the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Usage {
    /// HTTP calls made.
    pub calls: usize,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Sum of the calls' latencies.
    pub latency_ms: u64,
}

/// The figures of some cases: accuracy per field and spec validity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Accuracy per field.
    pub accuracy: BTreeMap<String, Accuracy>,
    /// Jobs that validate.
    pub valid_jobs: usize,
    /// Jobs generated.
    pub jobs: usize,
}

impl Figures {
    /// The figures of `cases`.
    pub fn of<'a>(cases: impl IntoIterator<Item = &'a CaseReport>) -> Figures {
        let mut figures = Figures::default();
        for case in cases {
            for field in &case.fields {
                let entry = figures.accuracy.entry(field.field.clone()).or_default();
                entry.total += 1;
                entry.matched += usize::from(field.ok);
            }
            figures.valid_jobs += case.valid_jobs;
            figures.jobs += case.jobs;
        }
        figures
    }

    /// The figures `with` is lower on than these (a field matched fewer times, fewer valid
    /// jobs), by name.
    pub fn lowered_by(&self, with: &Figures) -> Vec<String> {
        let mut lowered: Vec<String> = self
            .accuracy
            .iter()
            .filter(|(name, a)| with.accuracy.get(*name).map_or(0, |b| b.matched) < a.matched)
            .map(|(name, _)| name.clone())
            .collect();
        if with.valid_jobs < self.valid_jobs {
            lowered.push("spec validity".into());
        }
        lowered
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The dataset folder.
    pub dataset: String,
    /// `on` or `off`.
    pub llm: String,
    /// Prompt version per task, when the LLM is on.
    pub prompts: BTreeMap<String, String>,
    /// Accuracy per field.
    pub accuracy: BTreeMap<String, Accuracy>,
    /// Jobs that validate, over all cases.
    pub valid_jobs: usize,
    /// Jobs generated, over all cases.
    pub jobs: usize,
    /// The LLM's calls, tokens and latency (zero when off).
    pub usage: Usage,
    /// Every case.
    pub cases: Vec<CaseReport>,
    /// Per app file: whether the generated jobs would really run the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployability: Option<super::deployability::Report>,
    /// With the LLM on: the figures of the rules alone, before its changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<Figures>,
    /// With the LLM on: the figures its changes lower (none means it lowers no figure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lowered: Option<Vec<String>>,
}

/// Runs `nomad-spec eval`.
pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let report = match evaluate(&args, settings) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("nomad-spec eval: {err:#}");
            return Ok(ExitCode::from(2));
        }
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print!("{}", text(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

fn client(args: &Args, settings: &Settings) -> anyhow::Result<Option<Client>> {
    if args.llm == Switch::Off {
        anyhow::ensure!(args.prompt_versions.is_empty(), "--prompt-version needs --llm on");
        return Ok(None);
    }
    let mut client = Client::configured(settings)?.ok_or_else(|| {
        anyhow::anyhow!("--llm on, but no LLM is configured (set NOMAD_SPEC_LLM_BASE_URL)")
    })?;
    for choice in &args.prompt_versions {
        let (task, version) = choice
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--prompt-version `{choice}` is not TASK=V"))?;
        let file = args.prompts.join(format!("{task}.{version}.md"));
        let text = crate::file::read_text(&file, MAX_CASE_FILE_BYTES)?;
        let prompt = Prompt::parse(&text, &file.display().to_string())?;
        anyhow::ensure!(
            prompt.name == task && prompt.version == version,
            "{}: its front matter says {} version {}, not {task} version {version}",
            file.display(),
            prompt.name,
            prompt.version
        );
        client = client.with_prompt(prompt);
    }
    Ok(Some(client))
}

/// The case folders of a dataset (those holding an `expected.toml`), in name order.
pub fn case_folders(dataset: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dataset)
        .with_context(|| format!("cannot read the dataset {}", dataset.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join("expected.toml").is_file())
        .collect();
    cases.sort();
    Ok(cases)
}

/// eval's metric over some cases: the share of scored fields that matched, and of generated
/// jobs that validate, together (1.0 when nothing is scored).
pub fn accuracy(reports: &[CaseReport]) -> f64 {
    let fields = reports.iter().flat_map(|r| &r.fields);
    let (matched, total) = fields.fold((0, 0), |(m, t), f| (m + usize::from(f.ok), t + 1));
    let valid: usize = reports.iter().map(|r| r.valid_jobs).sum();
    let jobs: usize = reports.iter().map(|r| r.jobs).sum();
    if total + jobs == 0 {
        return 1.0;
    }
    (matched + valid) as f64 / (total + jobs) as f64
}

/// Runs every case of the dataset (with the LLM `settings` configure, when `--llm on`).
pub fn evaluate(args: &Args, settings: &Settings) -> anyhow::Result<Report> {
    let client = client(args, settings)?;
    let cases = case_folders(&args.dataset)?;
    let apps = !super::whole_app::app_files(&args.dataset)?.is_empty();
    anyhow::ensure!(
        !cases.is_empty() || apps,
        "{}: no case (a folder with expected.toml) and no app file (*.toml)",
        args.dataset.display()
    );
    let deployability = if apps {
        Some(super::whole_app::evaluate_apps(&args.dataset, args.corpus.as_deref())?)
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime for the LLM")?;
    let mut reports = Vec::new();
    for case in &cases {
        reports.push(run_case(case, client.as_ref(), &runtime)?);
    }
    let Figures { accuracy, valid_jobs, jobs } = Figures::of(&reports);
    let rules = client
        .as_ref()
        .map(|_| Figures::of(reports.iter().map(|r| r.rules.as_deref().unwrap_or(r))));
    let with_llm = Figures { accuracy: accuracy.clone(), valid_jobs, jobs };
    let lowered = rules.as_ref().map(|rules| rules.lowered_by(&with_llm));
    let mut usage = Usage::default();
    let mut prompts = BTreeMap::new();
    if let Some(client) = &client {
        for call in client.calls() {
            usage.calls += 1;
            usage.prompt_tokens += call.prompt_tokens;
            usage.completion_tokens += call.completion_tokens;
            usage.latency_ms += call.latency_ms;
        }
        // `refine` is the only task eval runs.
        prompts.insert("refine".to_string(), client.prompt("refine")?.version);
    }
    Ok(Report {
        dataset: args.dataset.display().to_string(),
        llm: if client.is_some() { "on" } else { "off" }.into(),
        prompts,
        accuracy,
        valid_jobs,
        jobs,
        usage,
        cases: reports,
        deployability,
        rules,
        lowered,
    })
}

/// Scores one case: the rules' jobs, reviewed by the LLM when `client` is given (with the
/// rules' own score kept beside, in `rules`).
pub fn run_case(
    case: &Path,
    client: Option<&Client>,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<CaseReport> {
    let file = case.join("expected.toml");
    let text = crate::file::read_text(&file, MAX_CASE_FILE_BYTES)?;
    let expected: Expected =
        toml::from_str(&text).with_context(|| format!("{} is not a valid case", file.display()))?;
    let root = case.join(&expected.path);
    anyhow::ensure!(root.is_dir(), "{}: `path` {} is not a folder", file.display(), root.display());
    let name = case.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let analysis = analyze::analyze(&root, &Options::default());
    let mut notes = Vec::new();
    let Some(service) =
        expected.service.clone().or_else(|| analysis.services.first().map(|s| s.name.clone()))
    else {
        notes.push("the analyzer found no service".into());
        return Ok(score(&name, &expected, &analysis, None, 0, 0, notes));
    };
    let mut answers = Answers::default();
    if let Err(err) = answers.set(&format!("deploy.{service}=true")) {
        notes.push(format!("cannot deploy `{service}`: {err}"));
    }
    let repository =
        root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or(name.clone());
    let built = match build(&analysis, &answers, &Config::default(), &repository) {
        Ok(generated) => Some(generated),
        Err(err) => {
            notes.push(format!("no job: {err}"));
            None
        }
    };
    let jobs = |generated: &Generated| -> Vec<JobSpec> {
        generated.jobs.iter().map(|job| job.spec.clone()).collect()
    };
    let (Some(client), Some(mut generated)) = (client, built.clone()) else {
        let jobs = built.as_ref().map(jobs).unwrap_or_default();
        return Ok(score_jobs(&name, &expected, &analysis, &service, &jobs, notes));
    };
    let rules = score_jobs(&name, &expected, &analysis, &service, &jobs(&generated), Vec::new());
    let decided = generated.decisions.len();
    notes.extend(runtime.block_on(refine_jobs(&mut generated, &analysis, &[], Some(client))));
    for made in generated.decisions.get(decided..).unwrap_or_default() {
        notes.push(format!("LLM changed {}: {} — {}", made.subject, made.choice, made.reason));
    }
    let mut report = score_jobs(&name, &expected, &analysis, &service, &jobs(&generated), notes);
    report.rules = Some(Box::new(rules));
    Ok(report)
}

/// Scores `jobs`, the jobs made for the case's `service`.
fn score_jobs(
    name: &str,
    expected: &Expected,
    analysis: &Analysis,
    service: &str,
    jobs: &[JobSpec],
    notes: Vec<String>,
) -> CaseReport {
    let valid = jobs
        .iter()
        .filter(|job| {
            render_job(job, &RenderOptions::default())
                .is_ok_and(|text| is_valid(&validate_source(&text, "eval.nomad.hcl")))
        })
        .count();
    let group = jobs
        .iter()
        .flat_map(|j| j.groups())
        .find(|g| g.name == service || g.tasks.iter().any(|t| t.name == service));
    score(name, expected, analysis, group.map(|g| (g, service)), valid, jobs.len(), notes)
}

fn list<T: ToString>(items: &[T]) -> String {
    let mut items: Vec<String> = items.iter().map(ToString::to_string).collect();
    items.sort();
    items.dedup();
    if items.is_empty() {
        return "(none)".into();
    }
    items.join(",")
}

fn health_of(group: &TaskGroup) -> String {
    let task_services = group.tasks.iter().flat_map(|t| t.services.iter().flatten());
    let check = group
        .services
        .iter()
        .flatten()
        .chain(task_services)
        .flat_map(|s| s.checks.iter().flatten())
        .next();
    match check {
        None => "none".into(),
        Some(check) if check.r#type == "http" => {
            format!("http:{}", check.path.as_deref().unwrap_or("/"))
        }
        Some(check) => check.r#type.clone(),
    }
}

fn score(
    name: &str,
    expected: &Expected,
    analysis: &Analysis,
    group: Option<(&TaskGroup, &str)>,
    valid_jobs: usize,
    jobs: usize,
    notes: Vec<String>,
) -> CaseReport {
    let service_name = group.map(|(_, s)| s.to_string()).or_else(|| expected.service.clone());
    let service = analysis
        .services
        .iter()
        .find(|s| Some(&s.name) == service_name.as_ref())
        .or_else(|| analysis.services.first());
    let task = group.and_then(|(g, s)| g.tasks.iter().find(|t| t.name == s).or(g.tasks.first()));
    let missing = || "(no job)".to_string();
    let mut fields = Vec::new();
    let mut field = |field: &str, expected: String, actual: String, ok: bool| {
        fields.push(FieldScore { field: field.into(), expected, actual, ok });
    };
    if let Some(language) = &expected.language {
        let actual = service
            .and_then(|s| s.language)
            .and_then(|l| serde_json::to_value(l).ok())
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "none".into());
        let ok = &actual == language;
        field("language", language.clone(), actual, ok);
    }
    if let Some(ports) = &expected.ports {
        let actual = group
            .map(|(g, _)| {
                let to: Vec<i64> = g
                    .networks
                    .iter()
                    .flatten()
                    .flat_map(|n| {
                        n.reserved_ports.iter().flatten().chain(n.dynamic_ports.iter().flatten())
                    })
                    .filter_map(|p| p.to.or(p.value))
                    .collect();
                list(&to)
            })
            .unwrap_or_else(missing);
        let wanted = list(ports);
        let ok = actual == wanted;
        field("ports", wanted, actual, ok);
    }
    if let Some(image) = &expected.image {
        let actual = task
            .and_then(|t| t.config.as_ref())
            .and_then(|c| c.get("image"))
            .and_then(|v| v.as_str())
            .map(String::from)
            .unwrap_or_else(missing);
        let ok = &actual == image;
        field("image", image.clone(), actual, ok);
    }
    if let Some(health) = &expected.health {
        let actual = group.map(|(g, _)| health_of(g)).unwrap_or_else(missing);
        let ok = &actual == health;
        field("health", health.clone(), actual, ok);
    }
    if let Some(secrets) = &expected.secrets {
        let found: Vec<&str> = service
            .map(|s| s.env.iter().filter(|v| v.secret).map(|v| v.name.as_str()).collect())
            .unwrap_or_default();
        let (wanted, actual) = (list(secrets), list(&found));
        let ok = wanted == actual;
        field("secrets", wanted, actual, ok);
    }
    if let Some(dependencies) = &expected.dependencies {
        let found = service.map(|s| s.depends_on.clone()).unwrap_or_default();
        let (wanted, actual) = (list(dependencies), list(&found));
        let ok = wanted == actual;
        field("dependencies", wanted, actual, ok);
    }
    if let Some(minimum) = expected.memory_min {
        let memory = task.and_then(|t| t.resources.as_ref()).and_then(|r| r.memory_mb);
        let actual = memory.map(|m| m.to_string()).unwrap_or_else(missing);
        field("memory_min", format!(">= {minimum}"), actual, memory.is_some_and(|m| m >= minimum));
    }
    CaseReport { name: name.into(), fields, valid_jobs, jobs, notes, rules: None }
}

/// `3/4 75%`.
fn figure(matched: usize, total: usize) -> String {
    format!("{matched}/{total} {}", percent(matched, total))
}

fn percent(matched: usize, total: usize) -> String {
    if total == 0 {
        return "-".into();
    }
    format!("{:.0}%", matched as f64 * 100.0 / total as f64)
}

/// The report for a person.
fn text(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "dataset {} (LLM {})", report.dataset, report.llm);
    for (task, version) in &report.prompts {
        let _ = writeln!(out, "prompt {task} version {version}");
    }
    for case in &report.cases {
        let _ = writeln!(out, "\n{}  ({} of {} jobs valid)", case.name, case.valid_jobs, case.jobs);
        for f in &case.fields {
            let mark = if f.ok { "ok  " } else { "MISS" };
            let _ =
                writeln!(out, "  {mark} {:<13} expected {}, got {}", f.field, f.expected, f.actual);
        }
        for note in &case.notes {
            let _ = writeln!(out, "  note: {note}");
        }
    }
    match &report.rules {
        None => {
            let _ = writeln!(out, "\naccuracy");
            for (name, a) in &report.accuracy {
                let _ = writeln!(out, "  {name:<13} {}", figure(a.matched, a.total));
            }
            let _ = writeln!(out, "spec validity {}", figure(report.valid_jobs, report.jobs));
        }
        Some(rules) => {
            // Side by side: what the rules reach, and with the LLM's accepted changes.
            let _ = writeln!(out, "\naccuracy        {:<14} with the LLM", "rules");
            for (name, a) in &report.accuracy {
                let before = rules.accuracy.get(name).cloned().unwrap_or_default();
                let (before, after) =
                    (figure(before.matched, before.total), figure(a.matched, a.total));
                let _ = writeln!(out, "  {name:<13} {before:<14} {after}");
            }
            let (before, after) =
                (figure(rules.valid_jobs, rules.jobs), figure(report.valid_jobs, report.jobs));
            let _ = writeln!(out, "spec validity   {before:<14} {after}");
        }
    }
    match report.lowered.as_deref() {
        Some([]) => {
            let _ = writeln!(out, "the LLM's changes lower no figure");
        }
        Some(lowered) => {
            let _ = writeln!(out, "the LLM's changes lower: {}", lowered.join(", "));
        }
        None => {}
    }
    if let Some(deployability) = &report.deployability {
        out.push_str(&deployability.text());
    }
    let u = &report.usage;
    let _ = writeln!(
        out,
        "LLM {} calls, {} prompt + {} completion tokens, {} ms",
        u.calls, u.prompt_tokens, u.completion_tokens, u.latency_ms
    );
    out
}
