//! `nomad-spec generate`: analyze a repository, settle the open questions, write job files.
//!
//! At a terminal (stdin and stdout both TTYs, and no `--no-questions`) it shows what it found,
//! asks "What would you like to deploy?" and then each open question with its default (Enter
//! accepts). Otherwise it uses the defaults and lists them on stderr, the ones that need a
//! real answer flagged. With an LLM configured, it reviews the jobs the rules built (the
//! `refine` task, unless `NOMAD_SPEC_LLM_REFINE=off`): its accepted changes are made and are
//! decisions; what the guardrails refused is said with `--verbose`. Then it writes one file per
//! job and prints why each decision was made.
//!
//! `--path` is a folder or a git URL, cloned into a temporary folder as `analyze` does; the
//! clone is gone when the command ends, so its files go to stdout unless `-o` says where.
//! On stdout, several files are told apart by a line `# ==> PATH <==` before each one (as
//! `head` does for several files): the text between two such lines is one whole file.
//!
//! Overwriting: a file is replaced only when nomad-spec wrote it and nobody changed it since
//! (its header checksum still matches; see `jobspec::render::Provenance`). A file a person wrote
//! or edited is never overwritten without `--force`.
//!
//! Exit codes: 0 files written (or unchanged); 1 no deployable service; 2 usage, unreadable
//! input, or a file that would be overwritten.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::analyze::{self, Analysis};
use crate::generation::{prepare, record_remembered, Prepared};
use crate::git::{repository_name, NameSource};
use crate::jobspec::answers::{Answers, Question};
use crate::jobspec::build::{self, render_files, BuildError, Generated, GeneratedFile};
use crate::jobspec::config::Config;
use crate::jobspec::parse::MAX_SOURCE_BYTES;
use crate::jobspec::render::{self, Provenance};
use crate::memory::learn;
use crate::memory::store::record::{learn_answers, Run};
use crate::memory::store::{today, Opened};
use crate::memory::Context as Learned;
use crate::settings::Settings;

/// Arguments of `nomad-spec generate`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit codes: 0 files written or unchanged; 1 no deployable service \
    found; 2 usage error, unreadable or invalid input, or a file that would be overwritten \
    (a file nomad-spec did not write, or one edited since: see --force).")]
pub struct Args {
    /// Repository to analyze: a folder, or a git URL (https://, git@, file://, or a path
    /// ending in .git) to clone into a temporary folder first.
    #[arg(long, default_value = ".")]
    pub path: String,
    /// Output file (one job only), directory, or `-` for stdout. Default: the `output` pattern
    /// of .nomad-spec.toml (`deploy/{job}.nomad.hcl`) under --path; stdout when --path is a
    /// git URL. On stdout, several jobs' files each follow a line `# ==> PATH <==`.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Answers file (.toml, .yaml, .yml or .json).
    #[arg(long)]
    pub answers: Option<PathBuf>,
    /// One more answer, KEY=VALUE (repeatable; wins over the answers file).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Ask nothing: use the defaults and say which on stderr.
    #[arg(long)]
    pub no_questions: bool,
    /// What to deploy, in words ("the api and the worker"); picks services it names.
    #[arg(long)]
    pub prompt: Option<String>,
    /// Conventions file (default: .nomad-spec.toml under --path, when present).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Overwrite job files that nomad-spec did not write or that were edited since.
    #[arg(long)]
    pub force: bool,
    /// Use a saved analysis (`nomad-spec analyze --format json`) instead of reading --path.
    #[arg(long, value_name = "FILE")]
    pub analysis: Option<PathBuf>,
    /// Neither use memory's answers nor remember this run's; `NOMAD_SPEC_MEMORY=off` does the
    /// same for every command.
    #[arg(long)]
    pub no_memory: bool,
}

/// Analyzes `root` and renders its job files with the given answers and no questions.
pub fn generate_text(
    root: &Path,
    answers: &Answers,
    config: &Config,
) -> anyhow::Result<(Generated, Vec<GeneratedFile>)> {
    let analysis = analyze::analyze(root, &analyze::Options::default());
    let repository = repository_name(NameSource::Folder(root));
    let generated = build::build(&analysis, answers, config, &repository)?;
    let files = render_files(&generated, config, &repository)?;
    Ok((generated, files))
}

/// Runs `nomad-spec generate`.
pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let source = super::analyze::PathRepository::open(&args.path)?;
    let root = source.root();
    // A clone is temporary: what is generated from it can only be printed.
    let output = args.output.clone().or_else(|| source.is_clone().then(|| PathBuf::from("-")));
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::load_from_repository(root)?,
    };
    let mut given = match &args.answers {
        Some(path) => Answers::load(path)?,
        None => Answers::default(),
    };
    for assignment in &args.set {
        given.set(assignment).with_context(|| format!("--set {assignment}"))?;
    }
    let analyzing = crate::telemetry::stage("analyze").entered();
    let analysis = match &args.analysis {
        Some(path) => load_analysis(path)?,
        None => analyze::analyze(root, &source.options()),
    };
    // The cluster is optional: what it adds and what was skipped is said on stderr.
    let repository = source
        .name_from_url()
        .map_or_else(|| repository_name(NameSource::Folder(root)), str::to_string);
    let runtime = super::runtime()?;
    let mut prepared = runtime.block_on(prepare(analysis, config, repository, settings));
    drop(analyzing);
    let (mut answers, suggested) = prepared.answers(&given);
    for note in prepared.notes.iter().chain(&suggested) {
        eprintln!("note: {note}");
    }
    // Memory answers what people answered before (never a secret), under the person's answers.
    let mut memory = if args.no_memory { None } else { Opened::from_settings(settings) };
    let (remembered, remembered_questions) = match &memory {
        Some(opened) => {
            if let Some(note) = &opened.note {
                eprintln!("note: {note}");
            }
            // Only what the analysis needs is recalled: every preference, what failures taught
            // its stacks, and the healthy jobs of its stacks for the LLM's review.
            let (recalled, note) =
                runtime.block_on(opened.recall(&learn::answer_recalls(&prepared.analysis)));
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            prepared.with_examples(&recalled);
            prepared.remembered(&recalled, &opened.cluster, &answers)
        }
        None => (Vec::new(), Vec::new()),
    };
    for note in learn::apply(&remembered, &mut answers) {
        eprintln!("note: {note}");
    }
    let Prepared { analysis, config, repository, .. } = &prepared;
    let interactive =
        !args.no_questions && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let stdin = std::io::stdin();
    let mut terminal = Conversation::new(stdin.lock(), std::io::stdout());

    if interactive {
        print!("{}", summary_table(analysis));
    }
    let prompt = match &args.prompt {
        Some(prompt) => Some(prompt.clone()),
        None if interactive && !analysis.services.is_empty() => terminal.ask_what_to_deploy()?,
        None => None,
    };
    let llm = crate::llm::Client::configured(settings).unwrap_or_else(|err| {
        eprintln!("note: LLM skipped: {err:#}");
        None
    });
    if let Some(prompt) = prompt.filter(|p| !p.trim().is_empty()) {
        // The LLM, when one is configured, reads the request as answers; the rules below
        // (services named in it) stand when it is absent, down, or its answer is rejected.
        let advice = runtime.block_on(crate::llm::tasks::answers(
            llm.as_ref(),
            analysis,
            &[],
            &prompt,
            &answers,
        ));
        for note in &advice.notes {
            eprintln!("note: {note}");
        }
        if let Some(patch) = advice.value.filter(|patch| !patch.applied.is_empty()) {
            eprintln!("the LLM read the request as: {}", patch.applied.join(", "));
            answers = patch.answers;
        } else {
            let picked = select_from_prompt(&prompt, analysis, &mut answers);
            let message = if picked.is_empty() {
                "the answer names no service; using the defaults".to_string()
            } else {
                format!("deploying what it names: {}", picked.join(", "))
            };
            eprintln!("{message}");
        }
    }

    let conversation = interactive.then_some(&mut terminal);
    let generating = crate::telemetry::stage("generate").entered();
    let built = build_asking(analysis, &mut answers, config, repository, conversation)?;
    drop(generating);
    let mut generated = match built {
        Ok(generated) => generated,
        Err(BuildError::NothingToDeploy(message)) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(1));
        }
        Err(err) => return Err(err.into()),
    };
    record_remembered(&mut generated, &remembered, &remembered_questions);
    // The LLM reviews the rules' jobs: its accepted changes are decisions below; what it
    // proposed and the guardrails refused is said with --verbose (and in the trace).
    let refining = prepared.refine(&mut generated, llm.as_ref(), settings);
    for note in runtime.block_on(refining) {
        tracing::info!("{note}");
    }
    if let Some(opened) = &mut memory {
        // What the person answered (not what memory or the cluster suggested) is learned.
        let run = Run {
            context: Learned {
                repository: repository.clone(),
                cluster: opened.cluster.clone(),
                date: today(),
            },
            run: format!("generate {}", root.display()),
            stacks: Default::default(),
        };
        learn_answers(&mut opened.memory, &given, analysis, &run);
        if let Some(note) = runtime.block_on(opened.save()) {
            eprintln!("note: {note}");
        }
    }
    if !interactive {
        report_defaults(&generated.unanswered);
    }

    let files = prepared.render(&generated)?;
    let to_stdout = output.as_deref() == Some(Path::new("-"));
    let targets = targets(root, output.as_deref(), &files)?;
    let mut out = std::io::stdout().lock();
    for (file, target) in files.iter().zip(&targets) {
        match target {
            None => {
                if files.len() > 1 {
                    writeln!(out, "{}", stdout_file_marker(&file.path))?;
                }
                out.write_all(file.text.as_bytes())?
            }
            Some(target) => {
                let written = write_file(target, &file.text, args.force)?;
                let verb = if written { "wrote" } else { "unchanged" };
                eprintln!("{verb} {}", target.display());
            }
        }
    }
    // With `-o -` the job text owns stdout; the explanation goes to stderr.
    let decisions = explain(&generated);
    if to_stdout {
        eprint!("{decisions}");
    } else {
        write!(out, "{decisions}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The line before each file when several go to stdout (`# ==> deploy/shop.nomad.hcl <==`):
/// an HCL comment, so the stream still reads as HCL, that names the file after it.
pub fn stdout_file_marker(path: &str) -> String {
    format!("# ==> {path} <==")
}

/// Reads a saved analysis.
pub fn load_analysis(path: &Path) -> anyhow::Result<Analysis> {
    // An analysis of the largest repository the walk lists is a few megabytes.
    let text = crate::file::read_text(path, 64 * 1024 * 1024)?;
    serde_json::from_str(&text).map_err(|err| {
        anyhow::anyhow!(
            "{}:{}:{}: not an analysis: {err}",
            path.display(),
            err.line(),
            err.column()
        )
    })
}

/// Questions and answers over a reader and a writer (the terminal, or a script in tests),
/// each question asked once.
pub struct Conversation<R, W> {
    input: R,
    output: W,
    open: bool,
    asked: Vec<String>,
}

impl<R: BufRead, W: Write> Conversation<R, W> {
    /// A conversation reading answers from `input` and writing questions to `output`.
    pub fn new(input: R, output: W) -> Self {
        Conversation { input, output, open: true, asked: Vec::new() }
    }

    /// Reads one line after a prompt; `None` once the input has ended.
    fn read(&mut self, prompt: &str) -> anyhow::Result<Option<String>> {
        if !self.open {
            return Ok(None);
        }
        write!(self.output, "{prompt}")?;
        self.output.flush()?;
        let mut line = String::new();
        let read = self.input.read_line(&mut line).context("cannot read the answer")?;
        if read == 0 {
            // End of input: the remaining questions keep their defaults.
            self.open = false;
            writeln!(self.output)?;
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\n', '\r']).to_string()))
    }

    /// Asks "What would you like to deploy?".
    pub fn ask_what_to_deploy(&mut self) -> anyhow::Result<Option<String>> {
        self.read("What would you like to deploy? (Enter: the defaults) ")
    }

    /// Asks the questions not asked yet; true when an answer changed something.
    pub fn ask_new_questions(
        &mut self,
        questions: &[Question],
        answers: &mut Answers,
    ) -> anyhow::Result<bool> {
        let mut changed = false;
        for question in questions {
            if !self.open {
                break;
            }
            if self.asked.contains(&question.key) {
                continue;
            }
            self.asked.push(question.key.clone());
            loop {
                let flag = if question.needs_answer { " (needs an answer)" } else { "" };
                writeln!(
                    self.output,
                    "\n{}{flag}\n  default: {}  ({})",
                    question.prompt,
                    show(&question.default),
                    question.reason
                )?;
                let Some(line) = self.read(&format!("{} = ", question.key))? else {
                    return Ok(changed);
                };
                if line.trim().is_empty() {
                    break;
                }
                match answers.set(&format!("{}={line}", question.key)) {
                    Ok(()) => {
                        changed = true;
                        break;
                    }
                    Err(err) => writeln!(self.output, "  {err}")?,
                }
            }
        }
        Ok(changed)
    }
}

/// Builds the jobs, asking the open questions through `conversation` (when there is one)
/// until an answer raises no new question.
pub fn build_asking<R: BufRead, W: Write>(
    analysis: &Analysis,
    answers: &mut Answers,
    config: &Config,
    repository: &str,
    mut conversation: Option<&mut Conversation<R, W>>,
) -> anyhow::Result<Result<Generated, BuildError>> {
    loop {
        let generated = match build::build(analysis, answers, config, repository) {
            Ok(generated) => generated,
            Err(err) => return Ok(Err(err)),
        };
        let changed = match conversation.as_deref_mut() {
            Some(conversation) => conversation.ask_new_questions(&generated.unanswered, answers)?,
            None => false,
        };
        if !changed {
            return Ok(Ok(generated));
        }
    }
}

fn show(default: &str) -> &str {
    if default.is_empty() {
        "(none)"
    } else {
        default
    }
}

/// Marks the services a free-text answer names as deployed and the others as not, leaving
/// explicit answers alone; "all" or "everything" deploys every service. Returns the picked
/// names (empty when the text names nothing, and then nothing changes).
pub fn select_from_prompt(prompt: &str, analysis: &Analysis, answers: &mut Answers) -> Vec<String> {
    let text = prompt.to_lowercase();
    let all = ["all", "everything"].iter().any(|word| mentions(&text, word));
    let picked: Vec<String> = analysis
        .services
        .iter()
        .filter(|service| all || mentions(&text, &service.name.to_lowercase()))
        .map(|service| service.name.clone())
        .collect();
    if picked.is_empty() {
        return picked;
    }
    for service in &analysis.services {
        let already = answers.for_service(&service.name).and_then(|a| a.deploy).is_some();
        if !already {
            let deploy = picked.contains(&service.name);
            // The names come from the analysis, so the assignment always parses.
            let _ = answers.set(&format!("deploy.{}={deploy}", service.name));
        }
    }
    picked
}

/// `word` appears in `text` with no name character on either side.
fn mentions(text: &str, word: &str) -> bool {
    let is_name_char = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    text.match_indices(word).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + word.len()..].chars().next();
        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
    })
}

/// The services found, one line each.
pub fn summary_table(analysis: &Analysis) -> String {
    let mut rows = vec![["SERVICE", "ROLE", "SOURCE", "PORTS", "HEALTH"].map(String::from)];
    for service in &analysis.services {
        let ports: Vec<String> = service
            .ports
            .iter()
            .map(|p| format!("{}/{}", p.container, format!("{:?}", p.protocol).to_lowercase()))
            .collect();
        let health = service.health.as_ref().map_or("-".to_string(), |h| {
            format!("{:?} {}", h.kind, h.path.as_deref().unwrap_or("")).trim().to_lowercase()
        });
        let source = match (&service.image, service.source) {
            (Some(image), analyze::Source::Image) => image.clone(),
            _ => format!("build {}", service.path),
        };
        rows.push([
            service.name.clone(),
            format!("{:?}", service.role).to_lowercase(),
            source,
            if ports.is_empty() { "-".into() } else { ports.join(" ") },
            health,
        ]);
    }
    let widths: Vec<usize> =
        (0..5).map(|i| rows.iter().map(|row| row[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> =
            row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Lists the defaults used, on stderr.
fn report_defaults(questions: &[Question]) {
    if questions.is_empty() {
        return;
    }
    eprintln!(
        "no questions asked; using these defaults (answer with --set KEY=VALUE or --answers):"
    );
    for question in questions {
        let flag = if question.needs_answer { "  <- needs an answer" } else { "" };
        eprintln!("  {} = {}  ({}){flag}", question.key, show(&question.default), question.reason);
    }
}

/// Why each decision was made, grouped by subject.
pub fn explain(generated: &Generated) -> String {
    let mut out = String::from("decisions:\n");
    for decision in &generated.decisions {
        out.push_str(&format!(
            "  {}: {} — {}\n",
            decision.subject, decision.choice, decision.reason
        ));
    }
    out
}

/// Where each file goes; `None` means stdout.
fn targets(
    root: &Path,
    output: Option<&Path>,
    files: &[GeneratedFile],
) -> anyhow::Result<Vec<Option<PathBuf>>> {
    let file_name = |file: &GeneratedFile| {
        Path::new(&file.path).file_name().map(PathBuf::from).unwrap_or_default()
    };
    Ok(match output {
        None => files.iter().map(|file| Some(root.join(&file.path))).collect(),
        Some(path) if path == Path::new("-") => files.iter().map(|_| None).collect(),
        Some(path) if path.is_dir() || path.to_string_lossy().ends_with('/') => {
            files.iter().map(|file| Some(path.join(file_name(file)))).collect()
        }
        Some(path) => {
            if files.len() > 1 {
                let names: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
                anyhow::bail!(
                    "-o {} names one file but there are {} jobs ({}); give a directory",
                    path.display(),
                    files.len(),
                    names.join(", ")
                );
            }
            vec![Some(path.to_path_buf())]
        }
    })
}

/// Writes a job file unless that would replace a person's work; false when unchanged.
fn write_file(target: &Path, text: &str, force: bool) -> anyhow::Result<bool> {
    if let Ok(existing) = crate::file::read_text(target, MAX_SOURCE_BYTES as u64) {
        if existing == text {
            return Ok(false);
        }
        let provenance = render::provenance(&existing);
        if provenance != Provenance::Generated && !force {
            let why = match provenance {
                Provenance::Edited => "was edited since nomad-spec generated it",
                _ => "was not written by nomad-spec",
            };
            anyhow::bail!(
                "{} {why}; not overwriting it (use --force, or -o to write elsewhere)",
                target.display()
            );
        }
    } else if target.exists() {
        anyhow::bail!("{} exists and cannot be read as text; not overwriting it", target.display());
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(target, text).with_context(|| format!("cannot write {}", target.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{Port, Protocol, Resources, Role, Service, Source};

    fn analysis(names: &[(&str, Role)]) -> Analysis {
        let services = names
            .iter()
            .map(|(name, role)| Service {
                name: name.to_string(),
                source: Source::Image,
                path: ".".into(),
                dockerfile: None,
                build_target: None,
                image: Some(format!("{name}:1")),
                base_image: None,
                language: None,
                framework: None,
                role: *role,
                ports: vec![Port { container: 80, published: None, protocol: Protocol::Http }],
                health: None,
                env: vec![],
                volumes: vec![],
                depends_on: vec![],
                command: None,
                resources: Resources { cpu: 100, memory: 128, reason: "r".into() },
                evidence: vec![],
                ..Service::new(name, Source::Image, ".")
            })
            .collect();
        Analysis { services, notes: vec![] }
    }

    #[test]
    fn questions_are_asked_once_with_defaults_on_enter_and_retries_on_bad_values() {
        let found = analysis(&[("api", Role::App), ("db", Role::Database)]);
        let mut answers = Answers::default();
        // job: Enter; deploy.db: a bad value then yes; then the questions deploying db raises.
        let script = "\nmaybe\ntrue\n\n\nnot-a-number\n300\n";
        let mut output = Vec::new();
        let mut conversation = Conversation::new(script.as_bytes(), &mut output);
        let generated =
            build_asking(&found, &mut answers, &Config::default(), "shop", Some(&mut conversation))
                .unwrap()
                .unwrap();
        assert_eq!(generated.jobs.len(), 2, "db deployed by the answer");
        assert_eq!(answers.services["db"].deploy, Some(true));
        assert_eq!(answers.services["api"].memory, Some(300));
        assert_eq!(answers.job, None, "Enter keeps the default");
        let output = String::from_utf8(output).unwrap();
        assert!(output.contains("bad value for `deploy.db`: expected true or false"), "{output}");
        assert!(output.contains("bad value for `memory.api`"), "{output}");
        // Each question is asked once (a retry repeats only the prompt line); after the input
        // ends, the questions deploying db raised keep their defaults.
        assert_eq!(output.matches("Job name?").count(), 1, "{output}");
        assert_eq!(output.matches("deploy.db = ").count(), 2, "{output}");
        assert_eq!(output.matches("Memory for db in MB?").count(), 1, "{output}");
        assert_eq!(answers.services["db"].memory, None);
    }

    #[test]
    fn prompts_pick_services_by_name() {
        let found = analysis(&[("api", Role::App), ("web-ui", Role::App), ("db", Role::Database)]);
        let table = [
            (
                "just the api please",
                vec!["api"],
                vec![("api", true), ("web-ui", false), ("db", false)],
            ),
            ("api and db", vec!["api", "db"], vec![("api", true), ("web-ui", false), ("db", true)]),
            ("deploy everything", vec!["api", "web-ui", "db"], vec![("db", true)]),
            ("the web", vec![], vec![]),
            ("rapid", vec![], vec![]),
        ];
        for (prompt, picked, deploys) in table {
            let mut answers = Answers::default();
            assert_eq!(select_from_prompt(prompt, &found, &mut answers), picked, "{prompt}");
            for (service, deploy) in deploys {
                assert_eq!(answers.services[service].deploy, Some(deploy), "{prompt}: {service}");
            }
        }
        let mut answers = Answers::default();
        answers.set("deploy.db=true").unwrap();
        select_from_prompt("api", &found, &mut answers);
        assert_eq!(answers.services["db"].deploy, Some(true), "explicit answers win");
    }

    #[test]
    fn summary_lists_every_service() {
        let found = analysis(&[("api", Role::App), ("db", Role::Database)]);
        insta::assert_snapshot!(summary_table(&found), @r"
        SERVICE  ROLE      SOURCE  PORTS    HEALTH
        api      app       api:1   80/http  -
        db       database  db:1    80/http  -
        ");
    }
}
