//! `nomad-spec optimize`: a better prompt for an LLM task, searched on a dataset and proven
//! on cases it was not chosen on.
//!
//! The dataset's cases are split (by `--seed`) into a training part and a held-back part.
//! The current prompt (LangFuse's under the label when configured, else the shipped one) is
//! scored on both with `eval`'s metric. Candidates are then scored on the training part:
//! instructions the LLM proposes from the current prompt's failures (`propose` task, up to
//! `--trials`), each added ahead of the prompt, and sets of few-shot demos bootstrapped from
//! the training cases the current prompt got wholly right. The best candidate on training
//! is scored on the held-back part, and promoted only if it beats the current prompt there
//! too: a candidate that only wins on the cases it was chosen on is refused. A promoted
//! prompt is written as `prompts/TASK.N.md` (the next version), or created in LangFuse with
//! `--label` when LangFuse is configured.
//!
//! Only `refine` can be optimized today: `eval`'s metric scores the jobs it refines, and the
//! other tasks have no dataset of their own yet.
//!
//! Exit codes: 0 a better prompt was written; 1 no candidate beat the current prompt on the
//! held-back cases (nothing written); 2 unreadable dataset, too few cases, no LLM, or a task
//! that cannot be optimized.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::eval::{accuracy, case_folders, run_case, CaseReport};
use crate::llm::prompt::{Prompt, Source};
use crate::llm::{tasks, Client};
use crate::settings::Settings;

/// Arguments of `nomad-spec optimize`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit codes: 0 a better prompt was written; 1 nothing beat the current \
    prompt on the held-back cases; 2 unreadable dataset, too few cases, no LLM, or a task that \
    cannot be optimized.")]
pub struct Args {
    /// The task whose prompt is optimized (`refine`).
    #[arg(long)]
    pub task: String,
    /// The dataset `eval` reads: sub-folders with an `expected.toml`.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Instruction variants to ask the LLM for.
    #[arg(long, default_value_t = 3)]
    pub trials: usize,
    /// Chooses the split and the demos; the same seed gives the same search.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where prompt versions are written (as `TASK.N.md`).
    #[arg(long, default_value = "prompts")]
    pub prompts: PathBuf,
    /// The LangFuse label a promoted version gets, when LangFuse is configured.
    #[arg(long, default_value = "candidate")]
    pub label: String,
}

/// Tasks `eval`'s metric scores.
const OPTIMIZABLE: [&str; 1] = ["refine"];

/// Demos in one few-shot set.
const DEMOS_PER_SET: usize = 2;

/// A prompt tried, with its scores.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// What it is, in words (`current`, `instruction 2`, `demos: a, b`).
    pub label: String,
    /// The prompt.
    pub prompt: Prompt,
    /// eval's metric on the training cases.
    pub train: f64,
    /// eval's metric on the held-back cases, when scored there.
    pub held_out: Option<f64>,
}

/// A small deterministic generator (splitmix64): the split and the demo sets follow the
/// seed, so a search can be repeated.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for at in (1..items.len()).rev() {
            let other = (self.next() % (at as u64 + 1)) as usize;
            items.swap(at, other);
        }
    }
}

/// The training and held-back cases for `seed`: a third held back (at least one), the rest
/// for training, each part in name order.
pub fn split(cases: &[PathBuf], seed: u64) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut shuffled = cases.to_vec();
    Draw(seed).shuffle(&mut shuffled);
    let held = cases.len().div_ceil(3).max(1).min(cases.len().saturating_sub(1));
    let mut held_out = shuffled.split_off(shuffled.len() - held);
    shuffled.sort();
    held_out.sort();
    (shuffled, held_out)
}

/// Runs `nomad-spec optimize`.
pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    match optimize(&args, settings) {
        Ok(promoted) => Ok(ExitCode::from(if promoted { 0 } else { 1 })),
        Err(err) => {
            eprintln!("nomad-spec optimize: {err:#}");
            Ok(ExitCode::from(super::EXIT_USAGE))
        }
    }
}

fn score(
    cases: &[PathBuf],
    client: &Client,
    prompt: &Prompt,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<(f64, Vec<CaseReport>)> {
    let client = client.clone_with_prompt(prompt.clone());
    let reports = cases
        .iter()
        .map(|case| run_case(case, Some(&client), runtime))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((accuracy(&reports), reports))
}

/// What the current prompt got wrong, for the `propose` task.
fn failures(reports: &[CaseReport]) -> String {
    let mut lines = Vec::new();
    for report in reports {
        for field in report.fields.iter().filter(|f| !f.ok) {
            lines.push(format!(
                "- {}: {} expected {}, got {}",
                report.name, field.field, field.expected, field.actual
            ));
        }
        if report.valid_jobs < report.jobs {
            lines.push(format!("- {}: a job does not validate", report.name));
        }
    }
    if lines.is_empty() {
        "(none: every scored field matched)".into()
    } else {
        lines.join("\n")
    }
}

/// A demo from a case the current prompt got wholly right: what it did there.
fn demo(report: &CaseReport) -> String {
    let llm: Vec<&str> =
        report.notes.iter().filter(|n| n.starts_with("LLM")).map(String::as_str).collect();
    let did = if llm.is_empty() { "no change".to_string() } else { llm.join("; ") };
    format!("- a repository like `{}`: {did}", report.name)
}

/// `prompt` with text put ahead of its body.
fn variant(prompt: &Prompt, ahead: &str) -> Prompt {
    Prompt { body: format!("{ahead}\n\n{}", prompt.body), ..prompt.clone() }
}

fn optimize(args: &Args, settings: &Settings) -> anyhow::Result<bool> {
    anyhow::ensure!(
        OPTIMIZABLE.contains(&args.task.as_str()),
        "`{}` cannot be optimized: eval's metric scores only {}",
        args.task,
        OPTIMIZABLE.join(", ")
    );
    let client = Client::configured(settings)?
        .ok_or_else(|| anyhow::anyhow!("no LLM is configured (set NOMAD_SPEC_LLM_BASE_URL)"))?;
    let cases = case_folders(&args.dataset)?;
    anyhow::ensure!(
        cases.len() >= 2,
        "{}: {} case(s); optimize needs at least 2 to hold one back",
        args.dataset.display(),
        cases.len()
    );
    let (train, held_out) = split(&cases, args.seed);
    let names = |cases: &[PathBuf]| -> String {
        let names: Vec<String> = cases
            .iter()
            .map(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
            .collect();
        names.join(", ")
    };
    println!("training cases: {}", names(&train));
    println!("held-back cases: {}", names(&held_out));
    let runtime = super::runtime()?;
    let current = runtime.block_on(client.prompt_for_run(&args.task))?;
    let (train_score, train_reports) = score(&train, &client, &current, &runtime)?;
    let (held_score, _) = score(&held_out, &client, &current, &runtime)?;
    let mut candidates = Vec::new();

    // Instructions the LLM proposes from the failures.
    if args.trials > 0 {
        let advice = runtime.block_on(tasks::propose(
            Some(&client),
            &current,
            &failures(&train_reports),
            args.trials,
        ));
        for note in &advice.notes {
            eprintln!("note: {note}");
        }
        for (at, instruction) in advice.value.unwrap_or_default().iter().enumerate() {
            let ahead = format!("Guidance learned from earlier answers: {instruction}");
            candidates.push((format!("instruction {}", at + 1), variant(&current, &ahead)));
        }
    }
    // Few-shot demo sets from the training cases the current prompt got wholly right.
    let mut right: Vec<&CaseReport> = train_reports
        .iter()
        .filter(|r| r.fields.iter().all(|f| f.ok) && r.valid_jobs == r.jobs)
        .collect();
    let mut draw = Draw(args.seed ^ 0xD3_0D3);
    draw.shuffle(&mut right);
    for (at, set) in right.chunks(DEMOS_PER_SET).take(2).enumerate() {
        let demos: Vec<String> = set.iter().map(|r| demo(r)).collect();
        let ahead =
            format!("Examples from cases the current prompt got right:\n{}", demos.join("\n"));
        let shown: Vec<&str> = set.iter().map(|r| r.name.as_str()).collect();
        candidates
            .push((format!("demos {} ({})", at + 1, shown.join(", ")), variant(&current, &ahead)));
    }

    let mut scored = vec![Candidate {
        label: format!("current ({} version {})", current.source, current.version),
        prompt: current.clone(),
        train: train_score,
        held_out: Some(held_score),
    }];
    for (label, prompt) in candidates {
        let (train, _) = score(&train, &client, &prompt, &runtime)?;
        scored.push(Candidate { label, prompt, train, held_out: None });
    }
    // The best on training, ties to the earlier (simpler) candidate; it alone is tried on the
    // held-back cases, so they stay unseen by the search.
    let best = (1..scored.len()).filter(|&at| scored[at].train > train_score).fold(
        None::<usize>,
        |best, at| match best {
            Some(b) if scored[b].train >= scored[at].train => Some(b),
            _ => Some(at),
        },
    );
    if let Some(at) = best {
        let (held, _) = score(&held_out, &client, &scored[at].prompt, &runtime)?;
        scored[at].held_out = Some(held);
    }
    println!("\n{:<40} {:>9} {:>9}", "candidate", "training", "held-back");
    for candidate in &scored {
        let held = candidate.held_out.map_or("-".to_string(), |h| format!("{:.3}", h));
        println!("{:<40} {:>9.3} {held:>9}", candidate.label, candidate.train);
    }
    let Some(at) = best else {
        println!("\nno candidate beat the current prompt on the training cases: nothing promoted");
        return Ok(false);
    };
    let chosen = &scored[at];
    let held = chosen.held_out.unwrap_or(0.0);
    if held <= held_score {
        println!(
            "\nrefused: {} wins on training ({:.3} > {:.3}) but not on the held-back cases \
             ({held:.3} <= {held_score:.3}): nothing promoted",
            chosen.label, chosen.train, train_score
        );
        return Ok(false);
    }
    println!(
        "\nchosen: {}, gain {:+.3} on the held-back cases ({held_score:.3} -> {held:.3})",
        chosen.label,
        held - held_score
    );
    promote(args, settings, &current, chosen, &runtime)?;
    Ok(true)
}

/// Writes the chosen prompt as the next version: in LangFuse with the label when it is
/// configured, else as `prompts/TASK.N.md`.
fn promote(
    args: &Args,
    settings: &Settings,
    current: &Prompt,
    chosen: &Candidate,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let message = format!("nomad-spec optimize: {} (seed {})", chosen.label, args.seed);
    if let Some(langfuse) = settings.langfuse()? {
        let prompts = crate::llm::langfuse::LangfusePrompts::new(langfuse)?;
        let labels = [args.label.as_str()];
        let version =
            runtime.block_on(prompts.create(&args.task, &chosen.prompt.body, &labels, &message))?;
        println!("created {} version {version} in LangFuse, labelled `{}`", args.task, args.label);
        return Ok(());
    }
    let version = next_version(&args.prompts, &args.task, current)?;
    let path = args.prompts.join(format!("{}.{version}.md", args.task));
    let text = format!("---\nname: {}\nversion: {version}\n---\n{}", args.task, chosen.prompt.body);
    std::fs::create_dir_all(&args.prompts)
        .with_context(|| format!("cannot create {}", args.prompts.display()))?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "wrote {} (try it: nomad-spec eval --llm on --prompt-version {}={version})",
        path.display(),
        args.task
    );
    Ok(())
}

/// One more than every numbered version of `task`: the files `TASK.N.md` in `folder` and the
/// current prompt's own.
fn next_version(folder: &Path, task: &str, current: &Prompt) -> anyhow::Result<u64> {
    let mut highest = current.version.parse::<u64>().unwrap_or(0);
    if matches!(current.source, Source::Langfuse { .. }) {
        highest = 0;
    }
    if let Ok(entries) = std::fs::read_dir(folder) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let number = name
                .strip_prefix(&format!("{task}."))
                .and_then(|rest| rest.strip_suffix(".md"))
                .and_then(|n| n.parse::<u64>().ok());
            highest = highest.max(number.unwrap_or(0));
        }
    }
    Ok(highest.max(Prompt::builtin(task)?.version.parse().unwrap_or(1)) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_follows_the_seed_and_holds_a_third_back() {
        let cases: Vec<PathBuf> = (1..=6).map(|n| PathBuf::from(format!("case{n}"))).collect();
        let (train, held) = split(&cases, 7);
        assert_eq!((train.len(), held.len()), (4, 2));
        assert_eq!(
            split(&cases, 7),
            (train.clone(), held.clone()),
            "the same seed, the same split"
        );
        let mut all: Vec<PathBuf> = train.into_iter().chain(held).collect();
        all.sort();
        assert_eq!(all, cases);
        let two = [PathBuf::from("a"), PathBuf::from("b")];
        assert_eq!(split(&two, 1).1.len(), 1);
    }
}
