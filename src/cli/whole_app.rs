//! Generating a whole app the way an operator would deploy it, and judging it against its app
//! file: the one place `nomad-spec eval`, `tests/deployability.rs` and `benches/apps.rs` share.
//!
//! "The whole app" is: the app folder analyzed (its folder name is the repository's name), the
//! app file's answers plus `deploy.SERVICE=true` for every service the analysis calls a
//! database, cache or queue, no questions asked, the default configuration, every job rendered
//! as a file and read back with the project's own parser into Nomad's API JSON. The judging
//! itself is pure and lives in `cli::deployability`; this file reads the disk.
//!
//! The apps live in the shared corpus (`<corpus>/apps/<app>`), never in this repository. The
//! corpus is `--corpus`, else `NOMAD_SPEC_CORPUS`, else `../shared/corpus` beside the current
//! folder or beside the repository that holds the dataset.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::deployability::{self, AppFile, AppReport, Expectation, Score, WholeApp};
use crate::analyze::{self, Options};
use crate::jobspec::answers::Answers;
use crate::jobspec::build::{build, render_files};
use crate::jobspec::config::Config;
use crate::jobspec::parse::{parse_job, ParseOptions};
use crate::jobspec::validate::{is_valid, validate_source};

/// A whole-app generation: what the judge reads, and what happened on the way.
#[derive(Debug, Clone, Default)]
pub struct Generation {
    /// The parsed jobs, decisions and open questions.
    pub app: WholeApp,
    /// Jobs rendered.
    pub jobs: usize,
    /// Rendered jobs that validate.
    pub valid_jobs: usize,
    /// Build errors and jobs that do not parse back.
    pub notes: Vec<String>,
}

/// Generates the whole app in `root` with `answers` (`KEY`, `VALUE` pairs as `--set` takes
/// them). An answer that does not fit is an error; a build that fails is a note (the app then
/// has no job, and every expectation says so).
pub fn generate_whole_app(root: &Path, answers: &[(String, String)]) -> anyhow::Result<Generation> {
    anyhow::ensure!(root.is_dir(), "{} is not a folder", root.display());
    let name = root
        .file_name()
        .and_then(|n| n.to_str())
        .map(String::from)
        .ok_or_else(|| anyhow::anyhow!("{} has no folder name", root.display()))?;
    let options = Options { root_name: Some(name.clone()), ..Options::default() };
    let analysis = analyze::analyze(root, &options);
    let mut given = Answers::default();
    for (key, value) in answers {
        given.set(&format!("{key}={value}")).with_context(|| format!("answer {key}={value}"))?;
    }
    for service in analysis.services.iter().filter(|s| s.role.is_backing()) {
        let key = format!("deploy.{}", service.name);
        if !answers.iter().any(|(k, _)| *k == key) {
            given.set(&format!("{key}=true")).with_context(|| format!("answer {key}=true"))?;
        }
    }
    let config = Config::default();
    let mut generation = Generation::default();
    let generated = match build(&analysis, &given, &config, &name) {
        Ok(generated) => generated,
        Err(err) => {
            generation.notes.push(format!("no job: {err}"));
            return Ok(generation);
        }
    };
    let files = render_files(&generated, &config, &name)?;
    generation.jobs = files.len();
    for file in &files {
        if is_valid(&validate_source(&file.text, &file.path)) {
            generation.valid_jobs += 1;
        }
        match parse_job(&file.text, &file.path, &ParseOptions::default()) {
            Ok(job) => generation.app.jobs.push(job),
            Err(diagnostics) => {
                let first = diagnostics.first().map(ToString::to_string).unwrap_or_default();
                generation.notes.push(format!("{} does not parse back: {first}", file.path));
            }
        }
    }
    generation.app.decisions = generated.decisions;
    generation.app.questions = generated.unanswered;
    Ok(generation)
}

/// The app files of a dataset folder: its `*.toml` files, sorted.
pub fn app_files(dataset: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dataset)
        .with_context(|| format!("cannot read the dataset {}", dataset.display()))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The shared corpus that holds the apps: `explicit`, else `NOMAD_SPEC_CORPUS`, else
/// `../shared/corpus` beside the current folder, else beside the repository holding `dataset`
/// (`<repository>/datasets/apps`).
pub fn find_corpus(explicit: Option<&Path>, dataset: &Path) -> anyhow::Result<PathBuf> {
    if let Some(dir) = explicit {
        anyhow::ensure!(
            dir.join("apps").is_dir(),
            "the corpus {} has no apps folder",
            dir.display()
        );
        return Ok(dir.to_path_buf());
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("NOMAD_SPEC_CORPUS") {
        candidates.push(PathBuf::from(dir));
    }
    candidates.push(PathBuf::from("../shared/corpus"));
    if let Some(repository) = dataset.parent().and_then(Path::parent) {
        candidates.push(repository.join("../shared/corpus"));
    }
    candidates.iter().find(|dir| dir.join("apps").is_dir()).cloned().ok_or_else(|| {
        let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
        anyhow::anyhow!(
            "the corpus with the apps was not found (looked in {}): set NOMAD_SPEC_CORPUS or \
             --corpus to the shared corpus folder",
            looked.join(", ")
        )
    })
}

/// Largest app file read: far above any real one.
const MAX_APP_FILE_BYTES: u64 = 1024 * 1024;

/// Reads an app file.
pub fn read_app_file(path: &Path) -> anyhow::Result<AppFile> {
    let text = crate::file::read_text(path, MAX_APP_FILE_BYTES)?;
    AppFile::parse(&text, &path.display().to_string())
}

/// Generates and judges the app of one app file.
pub fn evaluate_app(path: &Path, corpus: &Path) -> anyhow::Result<AppReport> {
    let file = read_app_file(path)?;
    let root = corpus.join("apps").join(&file.app);
    anyhow::ensure!(
        root.is_dir(),
        "{}: app `{}` is not a folder under {}",
        path.display(),
        file.app,
        corpus.join("apps").display()
    );
    let generation = generate_whole_app(&root, &file.answers)
        .with_context(|| format!("{}: cannot generate `{}`", path.display(), file.app))?;
    let judgements = deployability::judge(&file, &generation.app);
    let mut notes = generation.notes;
    notes.extend(citation_problems(&root, &file));
    Ok(AppReport {
        app: file.app.clone(),
        file: path.display().to_string(),
        score: Score::of(&judgements),
        valid_jobs: generation.valid_jobs,
        jobs: generation.jobs,
        judgements,
        notes,
    })
}

/// Judges every app file of `dataset`.
pub fn evaluate_apps(
    dataset: &Path,
    corpus: Option<&Path>,
) -> anyhow::Result<deployability::Report> {
    let files = app_files(dataset)?;
    anyhow::ensure!(!files.is_empty(), "{}: no app file (*.toml)", dataset.display());
    let corpus = find_corpus(corpus, dataset)?;
    let apps =
        files.iter().map(|file| evaluate_app(file, &corpus)).collect::<anyhow::Result<_>>()?;
    Ok(deployability::Report::new(apps))
}

/// Citations (`at`) that do not point at lines of the app: a file that is not there, a line
/// past its end, or text that is not `PATH:LINE[-LINE]` (several separated by `, `).
pub fn citation_problems(root: &Path, file: &AppFile) -> Vec<String> {
    file.expectations.iter().flat_map(|e| citation_problems_of(root, e)).collect()
}

fn citation_problems_of(root: &Path, expectation: &Expectation) -> Vec<String> {
    let mut problems = Vec::new();
    for citation in expectation.at.split(", ") {
        let problem = match citation.rsplit_once(':') {
            None => Some("is not PATH:LINE".to_string()),
            Some((path, lines)) => {
                let (first, last) = lines.split_once('-').unwrap_or((lines, lines));
                match (first.parse::<usize>(), last.parse::<usize>()) {
                    (Ok(first), Ok(last)) if first >= 1 && first <= last => {
                        match std::fs::read_to_string(root.join(path)) {
                            Err(err) => Some(format!("cannot be read: {err}")),
                            Ok(text) if text.lines().count() < last => Some(format!(
                                "{path} has {} lines, fewer than {last}",
                                text.lines().count()
                            )),
                            Ok(_) => None,
                        }
                    }
                    _ => Some("is not PATH:LINE or PATH:FIRST-LAST".to_string()),
                }
            }
        };
        if let Some(problem) = problem {
            problems
                .push(format!("line {}: the citation `{citation}` {problem}", expectation.line));
        }
    }
    problems
}
