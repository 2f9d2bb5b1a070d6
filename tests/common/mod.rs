//! Shared test support: where the real-world corpus lives, and its job files; the real binary
//! run with only the environment a test gives it.
//!
//! The corpus (`shared/corpus` beside the repository) is data nobody here wrote; tests read it
//! in place and never copy it. `NOMAD_SPEC_CORPUS` points elsewhere. A missing corpus fails the
//! test with a message saying so, rather than letting a corpus test pass on nothing.

#![allow(dead_code)]

pub mod bot;

use std::path::{Path, PathBuf};

/// The corpus folder.
pub fn corpus_dir() -> PathBuf {
    let candidates = [
        std::env::var_os("NOMAD_SPEC_CORPUS").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")),
        Some(PathBuf::from("/work/shared/corpus")),
    ];
    candidates.into_iter().flatten().find(|p| p.join("nomad-jobs").is_dir()).unwrap_or_else(|| {
        panic!("the shared corpus was not found: set NOMAD_SPEC_CORPUS to its folder")
    })
}

/// Every job file (`*.nomad`, `*.hcl`) below `dir`, sorted.
pub fn job_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "hcl" || e == "nomad") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The corpus's Nomad job files.
pub fn corpus_job_files() -> Vec<PathBuf> {
    job_files(&corpus_dir().join("nomad-jobs"))
}

/// The folders directly below `dir`, sorted (empty when it cannot be read).
pub fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Runs the real binary in `dir` with none of the caller's environment but `PATH` (`HOME` is
/// `dir`): `limits`, then `vars`, so that a test sets exactly what the run sees.
pub fn run_isolated<'a>(
    dir: &Path,
    args: &[&str],
    limits: &[(&str, &str)],
    vars: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .envs(limits.iter().copied())
        .envs(vars)
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"))
}
