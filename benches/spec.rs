//! Job spec engine speed (issue 3, Performance): render + validate of a generated job (target
//! well under 1 ms), and `fmt --check` + `validate` over every corpus job file (target under
//! 1 s in total).
//!
//! A plain `Instant` loop, no harness: `cargo bench --bench spec`. The generated job is the
//! one `generate --no-questions` builds for `fixtures/repos/multi-service` (four services);
//! the corpus is found through `NOMAD_SPEC_CORPUS`, `../shared/corpus` or
//! `/work/shared/corpus`. Figures are written down in `bench/README.md`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nomad_spec::cli::generate::generate_text;
use nomad_spec::spec::answers::Answers;
use nomad_spec::spec::config::Config;
use nomad_spec::spec::format::format_hcl;
use nomad_spec::spec::render::{render_job, RenderOptions};
use nomad_spec::spec::validate::validate_source;

const ROUNDS: usize = 200;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn corpus_jobs() -> Vec<(String, String)> {
    let candidates = [
        std::env::var_os("NOMAD_SPEC_CORPUS").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")),
        Some(PathBuf::from("/work/shared/corpus")),
    ];
    let Some(root) = candidates.into_iter().flatten().find(|d| d.join("nomad-jobs").is_dir())
    else {
        return Vec::new();
    };
    let mut pending = vec![root.join("nomad-jobs")];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                files.push((path.display().to_string(), text));
            }
        }
    }
    files
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos/multi-service");
    let generated = match generate_text(&repo, &Answers::default(), &Config::default()) {
        Ok((generated, _)) => generated,
        Err(err) => {
            eprintln!("cannot generate the job to measure: {err:#}");
            std::process::exit(2);
        }
    };
    let job = &generated.jobs[0].spec;
    let samples = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            let text = render_job(job, &RenderOptions::default()).unwrap_or_default();
            let diagnostics = validate_source(&text, "job.nomad.hcl");
            std::hint::black_box(diagnostics);
            start.elapsed()
        })
        .collect();
    println!(
        "render + validate of a generated {}-group job: median {:.1} µs over {ROUNDS} runs \
         (target well under 1 ms)",
        job.groups().len(),
        median(samples).as_secs_f64() * 1e6
    );

    let files = corpus_jobs();
    if files.is_empty() {
        eprintln!("no corpus found: set NOMAD_SPEC_CORPUS to the shared corpus directory");
        std::process::exit(2);
    }
    let passes = (0..5)
        .map(|_| {
            let start = Instant::now();
            for (name, text) in &files {
                std::hint::black_box(format_hcl(text, name).ok());
                std::hint::black_box(validate_source(text, name));
            }
            start.elapsed()
        })
        .collect();
    println!(
        "fmt --check + validate over {} corpus job files: median {:.1} ms over 5 passes \
         (target under 1 s)",
        files.len(),
        median(passes).as_secs_f64() * 1e3
    );
}
