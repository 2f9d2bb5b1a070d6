//! Shared test support: where the real-world corpus lives, and its job files; the real binary
//! run with only the environment a test gives it.
//!
//! The corpus (`shared/corpus` beside the repository, or `NOMAD_SPEC_CORPUS`) is data nobody
//! here wrote; tests read it in place and never copy it. Where it is found, and what a test
//! does without it (skip, saying so, or fail under `NOMAD_SPEC_REQUIRE_CORPUS`), is
//! [`corpus`]'s.

#![allow(dead_code)]

pub mod bot;
pub mod corpus;
pub mod serve;

use std::path::{Path, PathBuf};

/// The corpus folder for the test running now; `None` when there is none, after saying on
/// stderr that the test skipped (a test returns at once then).
pub fn corpus_dir() -> Option<PathBuf> {
    corpus::for_test()
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

/// The Nomad job files of the corpus at `corpus`.
pub fn corpus_job_files(corpus: &Path) -> Vec<PathBuf> {
    job_files(&corpus.join("nomad-jobs"))
}

/// Commits the files of folder `dir` in a new git repository, clones that bare beside it as
/// `<dir>.git`, and returns the bare one's `file://` URL (a git URL to `--path`).
pub fn bare_repository(dir: &Path) -> String {
    let git = |cwd: &Path, args: &[&str]| {
        let output = std::process::Command::new("git")
            .args(["-c", "user.name=test", "-c", "user.email=test@example.invalid"])
            .args(args)
            .current_dir(cwd)
            .output()
            .unwrap_or_else(|e| panic!("cannot run git: {e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "git {args:?}: {stderr}");
    };
    git(dir, &["init", "-q"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "the app"]);
    let bare = dir.with_extension("git");
    let parent = dir.parent().unwrap_or(dir);
    git(
        parent,
        &["clone", "-q", "--bare", &dir.display().to_string(), &bare.display().to_string()],
    );
    format!("file://{}", bare.display())
}

/// The folders directly below `dir`, sorted (empty when it cannot be read).
pub fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Every file under `root` as (relative path, text): a fixture repository to commit to a
/// fake forge.
pub fn files_of(root: &Path) -> Vec<(String, String)> {
    let mut pending = vec![root.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                files.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    files
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
