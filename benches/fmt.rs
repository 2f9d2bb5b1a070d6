//! Formatting speed over the corpus job files (issue 3, Performance: `fmt --check` and
//! `validate` over all of `corpus/nomad-jobs` under one second in total).
//!
//! A plain `Instant` loop, no harness: `cargo bench --bench fmt`. Prints the median time per
//! file for each file, then the total of one pass over the whole directory. The corpus is
//! found through `NOMAD_SPEC_CORPUS`, else `../shared/corpus` beside the repository.
//!
//! Measured 2026-11-24 on a shared 2-core machine under heavy load (bench profile without
//! LTO): 325 files, 498 KiB; median 35.8 µs per file, slowest 0.73 ms; one `fmt --check`
//! pass over the whole directory 37 ms (hcl-edit's grammar check included).

mod common;

use std::time::{Duration, Instant};

use nomad_spec::jobspec::format::format_hcl;

/// Timed repetitions per file; the median is reported.
const ROUNDS: usize = 15;

fn main() {
    let files = common::corpus_job_files();
    let bytes: usize = files.iter().map(|(_, text)| text.len()).sum();

    let mut medians = Vec::with_capacity(files.len());
    for (name, text) in &files {
        let samples = (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                let result = format_hcl(text, name);
                let elapsed = start.elapsed();
                std::hint::black_box(result).ok();
                elapsed
            })
            .collect();
        let median = common::median(samples);
        println!("{:>10.1} µs  {name}", median.as_secs_f64() * 1e6);
        medians.push(median);
    }

    let start = Instant::now();
    let mut unformatted = 0;
    for (name, text) in &files {
        if format_hcl(text, name).map_or(true, |formatted| formatted != *text) {
            unformatted += 1;
        }
    }
    let pass = start.elapsed();

    let sum: Duration = medians.iter().sum();
    println!();
    println!("files: {}  ({} KiB)", files.len(), bytes / 1024);
    println!("median per file: {:.1} µs", common::median(medians.clone()).as_secs_f64() * 1e6);
    println!("sum of per-file medians: {:.2} ms", sum.as_secs_f64() * 1e3);
    println!(
        "one `fmt --check` pass over the corpus: {:.2} ms ({unformatted} files would change)",
        pass.as_secs_f64() * 1e3
    );
}
