//! Job spec engine speed (issue 3, Performance): render + validate of a generated job (target
//! well under 1 ms), and `fmt --check` + `validate` over every corpus job file (target under
//! 1 s in total).
//!
//! A plain `Instant` loop, no harness: `cargo bench --bench spec`. The generated job is the
//! one `generate --no-questions` builds for `fixtures/repos/multi-service` (four services);
//! the corpus is found through `NOMAD_SPEC_CORPUS`, else `../shared/corpus` beside the
//! repository. Figures are written down in `bench/README.md`.

mod common;

use std::path::Path;
use std::time::Instant;

use nomad_spec::cli::generate::generate_text;
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::config::Config;
use nomad_spec::jobspec::format::format_hcl;
use nomad_spec::jobspec::render::{render_job, RenderOptions};
use nomad_spec::jobspec::validate::validate_source;

const ROUNDS: usize = 200;

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
        common::median(samples).as_secs_f64() * 1e6
    );

    let files = common::corpus_job_files();
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
        common::median(passes).as_secs_f64() * 1e3
    );
}
