//! Where the shared corpus lives, for every test and benchmark that reads it: the integration
//! tests (`tests/common`), the unit tests (`src/lib.rs`), the fakes' tests and the benchmarks
//! all include this one file.
//!
//! The corpus is data nobody here wrote, kept outside the repository: `NOMAD_SPEC_CORPUS`
//! names its folder, else it is `shared/corpus` beside the repository. A clone of the
//! repository alone has none: a corpus test then skips, saying so on stderr (and what to set),
//! and every other test runs. Where the corpus must be there (CI sets
//! `NOMAD_SPEC_REQUIRE_CORPUS=1`), a missing corpus fails the test instead, so CI never passes
//! on nothing.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// The variable naming the corpus folder.
pub const CORPUS_VARIABLE: &str = "NOMAD_SPEC_CORPUS";

/// The variable under which a missing corpus is a failure, not a skip.
pub const REQUIRE_VARIABLE: &str = "NOMAD_SPEC_REQUIRE_CORPUS";

/// The corpus folder, or why there is none. A folder is the corpus when it holds
/// `nomad-jobs/`. `NOMAD_SPEC_CORPUS`, when set, is the only place looked at: a wrong value is
/// a mistake to report, not a reason to look elsewhere.
pub fn locate() -> Result<PathBuf, String> {
    let is_corpus = |dir: &Path| dir.join("nomad-jobs").is_dir();
    if let Some(named) = std::env::var_os(CORPUS_VARIABLE) {
        let named = PathBuf::from(named);
        return if is_corpus(&named) {
            Ok(named)
        } else {
            Err(format!(
                "{CORPUS_VARIABLE}={} holds no corpus (no nomad-jobs folder)",
                named.display()
            ))
        };
    }
    // Each crate of the workspace sees its own manifest folder; the repository is the one
    // that holds the workspace's Cargo.lock.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repository =
        manifest.ancestors().find(|dir| dir.join("Cargo.lock").is_file()).unwrap_or(manifest);
    let beside = repository.join("../shared/corpus");
    if is_corpus(&beside) {
        return Ok(beside);
    }
    Err(format!("no corpus: {CORPUS_VARIABLE} is not set and {} does not exist", beside.display()))
}

/// Whether a missing corpus fails the tests (`NOMAD_SPEC_REQUIRE_CORPUS` set to anything but
/// empty or `0`).
pub fn required() -> bool {
    std::env::var(REQUIRE_VARIABLE).is_ok_and(|value| !value.is_empty() && value != "0")
}

/// The corpus for the test running now; without one, `None` after a line on stderr saying
/// that this test skipped and what to set. It panics instead where the corpus is required, or
/// when `NOMAD_SPEC_CORPUS` names a folder that is no corpus. The line is written past the
/// test harness's capture, so a plain `cargo test` shows it too.
pub fn for_test() -> Option<PathBuf> {
    match locate() {
        Ok(dir) => Some(dir),
        Err(why) if required() => {
            panic!("{why}; {REQUIRE_VARIABLE} is set, so the corpus tests cannot skip")
        }
        Err(why) if std::env::var_os(CORPUS_VARIABLE).is_some() => panic!("{why}"),
        Err(why) => {
            // The harness runs each test on a thread named after it.
            let thread = std::thread::current();
            let test = thread.name().unwrap_or("a corpus test");
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {why}; set {CORPUS_VARIABLE} to the corpus folder to run it"
            );
            None
        }
    }
}
