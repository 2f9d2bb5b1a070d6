//! What the benchmarks share: the corpus job files and the median of timings.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

// Where the corpus is (`NOMAD_SPEC_CORPUS`, else `../shared/corpus`), as the tests find it.
#[path = "../../tests/common/corpus.rs"]
pub mod corpus;

pub fn job_files(root: &Path) -> Vec<(String, String)> {
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

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Every corpus job file as (path under `nomad-jobs/`, text), sorted; exits with a message
/// when there is no corpus.
pub fn corpus_job_files() -> Vec<(String, String)> {
    let corpus = corpus::locate().unwrap_or_else(|why| {
        eprintln!("{why}: set {} to the shared corpus folder", corpus::CORPUS_VARIABLE);
        std::process::exit(2);
    });
    job_files(&corpus.join("nomad-jobs"))
}
