//! The analyzer: a repository tree in, an [`Analysis`] out.
//!
//! It reads files only (no network, no execution). The walk (`walk`) decides which files are
//! read at all; parsers for each kind of evidence live in their own files (`dockerfile`,
//! `compose`, `manifest`, `source`, `descriptors`) and this module assembles their findings
//! into services. Nothing here panics on bad input: what cannot be read becomes a `Note`.

use std::path::Path;

pub mod compose;
pub mod descriptors;
pub mod dockerfile;
pub mod interpolate;
pub mod manifest;
mod model;
pub mod resources;
pub mod source;
pub mod walk;

pub use model::*;

/// Bounds and switches of one analysis.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Walk bounds.
    pub limits: walk::Limits,
}

/// Analyzes the repository at `root`.
pub fn analyze(root: &Path, options: &Options) -> Analysis {
    let mut notes = Vec::new();
    let files = walk::RepoFiles::walk(root, &options.limits, &mut notes);
    let _ = files;
    Analysis { services: Vec::new(), notes }
}
