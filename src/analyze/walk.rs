//! The repository walk: which files the analyzer may read, and reading them safely.
//!
//! Respects `.gitignore` and `.dockerignore`, never follows a symlink out of the repository or
//! into a loop, skips binary files and files over the size bound, and bounds depth and file
//! count. Every skip that a person might care about becomes a `Note`.

use std::path::{Path, PathBuf};

use super::Note;

/// Walk bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest folder level read below the root.
    pub max_depth: usize,
    /// Most files listed.
    pub max_files: usize,
    /// Largest file read, in bytes.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 16, max_files: 100_000, max_file_bytes: 1024 * 1024 }
    }
}

/// One file of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFile {
    /// Path relative to the root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// The files of a repository that the analyzer may read.
#[derive(Debug, Clone)]
pub struct RepoFiles {
    root: PathBuf,
    /// Files in sorted path order.
    pub files: Vec<RepoFile>,
}

impl RepoFiles {
    /// Lists the readable files below `root`.
    pub fn walk(root: &Path, limits: &Limits, notes: &mut Vec<Note>) -> RepoFiles {
        let _ = (limits, notes);
        RepoFiles { root: root.to_path_buf(), files: Vec::new() }
    }

    /// The analyzed root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reads a listed file as UTF-8 text; invalid text or an I/O error becomes a note.
    pub fn read_text(&self, rel: &str, notes: &mut Vec<Note>) -> Option<String> {
        let _ = (rel, notes);
        None
    }

    /// Files whose path is `dir` itself or below it (`""` or `"."` for all).
    pub fn under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a RepoFile> + 'a {
        let prefix = if dir.is_empty() || dir == "." { String::new() } else { format!("{dir}/") };
        self.files.iter().filter(move |f| f.path.starts_with(&prefix))
    }

    /// Whether the file exists in the listing.
    pub fn contains(&self, rel: &str) -> bool {
        self.files.binary_search_by(|f| f.path.as_str().cmp(rel)).is_ok()
    }
}
