//! Shared test support: where the real-world corpus lives.
//!
//! The corpus (`shared/corpus` beside the repository) is data nobody here wrote; tests read
//! it in place. `NOMAD_SPEC_CORPUS` points elsewhere. When it is missing, corpus tests skip
//! with a message, unless `NOMAD_SPEC_REQUIRE_CORPUS` is set (as `.ci/run` does), where a
//! missing corpus fails the run instead of passing it quietly.

#![allow(dead_code)]

use std::path::PathBuf;

/// The corpus folder, or `None` (with a message) when it is absent and not required.
pub fn corpus_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("NOMAD_SPEC_CORPUS").map(PathBuf::from),
        Some(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus"))),
        Some(PathBuf::from("/work/shared/corpus")),
    ];
    if let Some(found) = candidates.into_iter().flatten().find(|p| p.is_dir()) {
        return Some(found);
    }
    assert!(
        std::env::var_os("NOMAD_SPEC_REQUIRE_CORPUS").is_none(),
        "the corpus is required (NOMAD_SPEC_REQUIRE_CORPUS) but was not found: set NOMAD_SPEC_CORPUS"
    );
    eprintln!("skipped: no corpus found (set NOMAD_SPEC_CORPUS to ../shared/corpus)");
    None
}

/// A folder of the corpus, e.g. `corpus("nomad-jobs")`.
pub fn corpus(sub: &str) -> Option<PathBuf> {
    corpus_dir().map(|dir| dir.join(sub))
}
