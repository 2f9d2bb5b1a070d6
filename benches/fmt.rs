//! Formatting speed over the corpus job files (issue 3, Performance: `fmt --check` and
//! `validate` over all of `corpus/nomad-jobs` under one second in total).
//!
//! A plain `Instant` loop, no harness: `cargo bench --bench fmt`. Prints the median time per
//! file for each file, then the total of one pass over the whole directory. The corpus is
//! found through `NOMAD_SPEC_CORPUS`, `../shared/corpus` or `/work/shared/corpus`.
//!
//! Measured 2026-11-24 on a shared 2-core machine under heavy load (bench profile without
//! LTO): 325 files, 498 KiB; median 35.8 µs per file, slowest 0.73 ms; one `fmt --check`
//! pass over the whole directory 37 ms (hcl-edit's grammar check included).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nomad_spec::spec::format::format_hcl;

/// Timed repetitions per file; the median is reported.
const ROUNDS: usize = 15;

fn corpus_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("NOMAD_SPEC_CORPUS").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")),
        Some(PathBuf::from("/work/shared/corpus")),
    ];
    candidates.into_iter().flatten().find(|dir| dir.join("nomad-jobs").is_dir())
}

fn job_files(root: &Path) -> Vec<(String, String)> {
    let mut pending = vec![root.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                let name = path.strip_prefix(root).unwrap_or(&path).display().to_string();
                files.push((name, text));
            }
        }
    }
    files.sort();
    files
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let Some(corpus) = corpus_dir() else {
        eprintln!("no corpus found: set NOMAD_SPEC_CORPUS to the shared corpus directory");
        std::process::exit(2);
    };
    let files = job_files(&corpus.join("nomad-jobs"));
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
        let median = median(samples);
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
    println!("median per file: {:.1} µs", median(medians.clone()).as_secs_f64() * 1e6);
    println!("sum of per-file medians: {:.2} ms", sum.as_secs_f64() * 1e3);
    println!(
        "one `fmt --check` pass over the corpus: {:.2} ms ({unformatted} files would change)",
        pass.as_secs_f64() * 1e3
    );
}
