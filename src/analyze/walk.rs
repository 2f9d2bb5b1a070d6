//! The repository walk: which files the analyzer may read, and reading them safely.
//!
//! Respects `.gitignore` and `.dockerignore`, never follows a symlink out of the repository or
//! into a loop, skips binary files and files over the size bound, and bounds depth and file
//! count. Every skip that a person might care about becomes a `Note`. The walk only lists
//! files (name and size); contents are read on demand by the parsers through [`read_text`],
//! which is where binary files and invalid UTF-8 are found.
//!
//! [`read_text`]: RepoFiles::read_text

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::WalkBuilder;

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
    root_name: Option<String>,
    /// Files in sorted path order.
    pub files: Vec<RepoFile>,
}

/// Folders that hold fetched dependencies or version-control data, never the project's own
/// deployment facts; skipping them keeps a repository without a `.gitignore` fast to read.
const NEVER_READ_DIRS: [&str; 5] = [".git", ".hg", ".svn", "node_modules", "__pycache__"];

/// Files that tell how the repository is deployed; `.dockerignore` keeps them out of an image
/// but they are still evidence for the analyzer.
fn is_deployment_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "dockerfile"
        || lower.starts_with("dockerfile.")
        || lower.ends_with(".dockerfile")
        || lower.starts_with("compose.")
        || lower.starts_with("docker-compose")
        || lower == ".env"
        || lower == ".dockerignore"
}

/// How many notes of one kind are listed one by one before they are summarized.
const NOTES_PER_KIND: usize = 10;

/// Notes of one kind (large file, outside symlink, ...), listed up to a bound then counted.
#[derive(Default)]
struct NoteBudget {
    counts: BTreeMap<&'static str, usize>,
}

impl NoteBudget {
    fn push(&mut self, kind: &'static str, notes: &mut Vec<Note>, note: Note) {
        let count = self.counts.entry(kind).or_default();
        *count += 1;
        if *count <= NOTES_PER_KIND {
            notes.push(note);
        }
    }

    fn summarize(self, notes: &mut Vec<Note>) {
        for (kind, count) in self.counts {
            if count > NOTES_PER_KIND {
                notes.push(Note::general(format!(
                    "{} more files skipped: {kind}",
                    count - NOTES_PER_KIND
                )));
            }
        }
    }
}

impl RepoFiles {
    /// Lists the readable files below `root`.
    pub fn walk(root: &Path, limits: &Limits, notes: &mut Vec<Note>) -> RepoFiles {
        let mut listing =
            RepoFiles { root: root.to_path_buf(), root_name: None, files: Vec::new() };
        let canonical_root = match root.canonicalize() {
            Ok(path) => path,
            Err(err) => {
                notes.push(Note::general(format!("cannot read {}: {err}", root.display())));
                return listing;
            }
        };
        let depth_hit = Arc::new(AtomicBool::new(false));
        let mut builder = WalkBuilder::new(root);
        builder
            .hidden(false)
            .parents(false)
            .ignore(false)
            .git_global(false)
            .git_exclude(false)
            .git_ignore(true)
            .require_git(false)
            .follow_links(false)
            .sort_by_file_name(|a, b| a.cmp(b));
        let max_depth = limits.max_depth;
        let depth_flag = Arc::clone(&depth_hit);
        builder.filter_entry(move |entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            if is_dir && NEVER_READ_DIRS.iter().any(|d| entry.file_name() == *d) {
                return false;
            }
            if entry.depth() > max_depth {
                depth_flag.store(true, Ordering::Relaxed);
                return false;
            }
            true
        });

        let mut budget = NoteBudget::default();
        let mut count_hit = false;
        for result in builder.build() {
            let entry = match result {
                Ok(entry) => entry,
                Err(err) => {
                    budget.push("unreadable", notes, Note::general(format!("cannot read: {err}")));
                    continue;
                }
            };
            let Some(file_type) = entry.file_type() else { continue };
            // The root itself, even when it is a symlink to the repository.
            if file_type.is_dir() || entry.depth() == 0 {
                continue;
            }
            let Ok(relative) = entry.path().strip_prefix(root) else { continue };
            let Some(rel) = relative_path(relative) else {
                budget.push(
                    "file name is not UTF-8",
                    notes,
                    Note::general(format!(
                        "skipped {}: file name is not UTF-8",
                        relative.to_string_lossy()
                    )),
                );
                continue;
            };
            if listing.files.len() >= limits.max_files {
                count_hit = true;
                break;
            }
            let size = if file_type.is_symlink() {
                match symlink_target(entry.path(), &canonical_root) {
                    Ok(size) => size,
                    Err(why) => {
                        budget.push("symlink", notes, Note::file(&rel, why));
                        continue;
                    }
                }
            } else if file_type.is_file() {
                match entry.metadata() {
                    Ok(meta) => meta.len(),
                    Err(err) => {
                        budget.push("unreadable", notes, Note::file(&rel, format!("{err}")));
                        continue;
                    }
                }
            } else {
                // Sockets, fifos and devices hold nothing to analyze.
                continue;
            };
            if size > limits.max_file_bytes {
                budget.push(
                    "over the size bound",
                    notes,
                    Note::file(
                        &rel,
                        format!(
                            "skipped: {size} bytes is over the {} byte bound for one file",
                            limits.max_file_bytes
                        ),
                    ),
                );
                continue;
            }
            listing.files.push(RepoFile { path: rel, size });
        }
        budget.summarize(notes);
        if depth_hit.load(Ordering::Relaxed) {
            notes.push(Note::general(format!(
                "folders deeper than {max_depth} levels were not read (depth bound)"
            )));
        }
        if count_hit {
            notes.push(Note::general(format!(
                "stopped listing files after {} (file count bound); the rest of the repository \
                 was not read",
                limits.max_files
            )));
        }
        listing.files.sort_by(|a, b| a.path.cmp(&b.path));
        listing.apply_dockerignore(notes);
        listing
    }

    /// Drops files that a `.dockerignore` keeps out of the build context below it, except the
    /// deployment files themselves.
    fn apply_dockerignore(&mut self, notes: &mut Vec<Note>) {
        let ignore_files: Vec<String> = self
            .files
            .iter()
            .filter(|f| file_name(&f.path) == ".dockerignore")
            .map(|f| f.path.clone())
            .collect();
        let mut matchers: Vec<(String, Gitignore)> = Vec::new();
        for rel in ignore_files {
            let Some(text) = self.read_text(&rel, notes) else { continue };
            let dir = parent_dir(&rel).to_string();
            let base = if dir == "." { self.root.clone() } else { self.root.join(&dir) };
            let mut builder = GitignoreBuilder::new(&base);
            for line in text.lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                // `.dockerignore` patterns are anchored at the build context, unlike
                // `.gitignore` ones which match at any depth.
                let (negate, pattern) = match line.strip_prefix('!') {
                    Some(rest) => ("!", rest),
                    None => ("", line),
                };
                let pattern = pattern.trim_start_matches("./");
                let anchored = if pattern.starts_with('/') || pattern.starts_with("**") {
                    format!("{negate}{pattern}")
                } else {
                    format!("{negate}/{pattern}")
                };
                if let Err(err) = builder.add_line(None, &anchored) {
                    notes.push(Note::file(&rel, format!("pattern `{line}` not understood: {err}")));
                }
            }
            match builder.build() {
                Ok(matcher) => matchers.push((dir, matcher)),
                Err(err) => notes.push(Note::file(&rel, format!("not understood: {err}"))),
            }
        }
        if matchers.is_empty() {
            return;
        }
        let root = self.root.clone();
        self.files.retain(|file| {
            if is_deployment_file(file_name(&file.path)) {
                return true;
            }
            !matchers.iter().any(|(dir, matcher)| {
                let inside = dir == "." || file.path.starts_with(&format!("{dir}/"));
                inside
                    && matcher.matched_path_or_any_parents(root.join(&file.path), false).is_ignore()
            })
        });
    }

    /// The analyzed root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reads a listed file as UTF-8 text; invalid text or an I/O error becomes a note.
    pub fn read_text(&self, rel: &str, notes: &mut Vec<Note>) -> Option<String> {
        let Some(listed) = self.get(rel) else {
            notes.push(Note::file(rel, "not read: not in the repository listing"));
            return None;
        };
        let mut bytes = Vec::with_capacity(listed.size as usize);
        // Opened as a regular file only: a file swapped for a FIFO since the listing is
        // refused, not waited on.
        let (file, _) = match crate::file::open(&self.root.join(rel)) {
            Ok(opened) => opened,
            Err(err) => {
                notes.push(Note::file(rel, format!("cannot read: {}", err.reason())));
                return None;
            }
        };
        // The listing bounded the size; a file that grew since is cut at the same bound.
        let read = file.take(listed.size.max(1) * 2 + 4096).read_to_end(&mut bytes);
        if let Err(err) = read {
            notes.push(Note::file(rel, format!("cannot read: {err}")));
            return None;
        }
        let sniff = &bytes[..bytes.len().min(8192)];
        if sniff.contains(&0) {
            notes.push(Note::file(rel, "skipped: binary file"));
            return None;
        }
        match String::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(err) => {
                let valid = err.utf8_error().valid_up_to();
                let line = err.as_bytes()[..valid].iter().filter(|b| **b == b'\n').count() + 1;
                notes.push(Note::line(
                    rel,
                    u32::try_from(line).unwrap_or(u32::MAX),
                    format!("not read: invalid UTF-8 at byte {valid}"),
                ));
                None
            }
        }
    }

    /// Files whose path is `dir` itself or below it (`""` or `"."` for all).
    pub fn under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a RepoFile> + 'a {
        let prefix = if dir.is_empty() || dir == "." { String::new() } else { format!("{dir}/") };
        // Paths sharing a prefix are contiguous in sorted order: start there, stop after.
        let start = self.files.partition_point(|f| f.path.as_str() < prefix.as_str());
        self.files[start..].iter().take_while(move |f| f.path.starts_with(&prefix))
    }

    /// Whether the file exists in the listing.
    pub fn contains(&self, rel: &str) -> bool {
        self.get(rel).is_some()
    }

    /// The listed file at `rel`.
    pub fn get(&self, rel: &str) -> Option<&RepoFile> {
        self.files.binary_search_by(|f| f.path.as_str().cmp(rel)).ok().map(|i| &self.files[i])
    }

    /// Names the repository when the root folder's name is not its name (a clone).
    pub fn set_root_name(&mut self, name: &str) {
        self.root_name = Some(name.to_string());
    }

    /// The name of the analyzed folder itself (the repository name, usually).
    pub fn root_name(&self) -> Option<String> {
        if let Some(name) = &self.root_name {
            return Some(name.clone());
        }
        let canonical = self.root.canonicalize().ok()?;
        canonical.file_name().and_then(|n| n.to_str()).map(str::to_string)
    }
}

/// The last component of a `/`-separated relative path.
pub fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

/// The folder of a `/`-separated relative path, `.` for the root.
pub fn parent_dir(rel: &str) -> &str {
    match rel.rfind('/') {
        Some(i) => &rel[..i],
        None => ".",
    }
}

/// Joins a folder (`.` for the root) and a relative path, resolving `.` and `..`; `None` when
/// the result leaves the root.
pub fn join(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    let start = if rel.starts_with('/') { "" } else { dir };
    for part in start.split('/').chain(rel.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(if parts.is_empty() { ".".to_string() } else { parts.join("/") })
}

fn relative_path(relative: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for component in relative.components() {
        parts.push(component.as_os_str().to_str()?);
    }
    Some(parts.join("/"))
}

/// Size of the file a symlink points at, or why it is not followed.
fn symlink_target(link: &Path, canonical_root: &Path) -> Result<u64, String> {
    let target = match link.canonicalize() {
        Ok(target) => target,
        Err(err) if err.raw_os_error() == Some(40) => {
            return Err("skipped: symlink loop".to_string());
        }
        Err(err) => return Err(format!("skipped: broken symlink ({err})")),
    };
    if !target.starts_with(canonical_root) {
        return Err(format!(
            "skipped: symlink points outside the repository (to {})",
            target.display()
        ));
    }
    let meta = std::fs::metadata(&target).map_err(|err| format!("skipped: {err}"))?;
    if meta.is_dir() {
        // The folder it points at is inside the repository and is read there; following it
        // would only list the same files twice.
        return Err("skipped: symlink to a folder inside the repository".to_string());
    }
    if let Some(kind) = crate::file::not_regular(&meta) {
        // A FIFO would make the read wait forever, a device never end.
        return Err(format!("skipped: symlink to {kind}, not a regular file"));
    }
    Ok(meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_resolves_dots_and_refuses_to_leave_the_root() {
        let cases = [
            (".", "backend", Some("backend")),
            (".", "./backend/", Some("backend")),
            ("app", "../web", Some("web")),
            ("app", ".", Some("app")),
            (".", ".", Some(".")),
            (".", "../outside", None),
            ("a/b", "../../..", None),
        ];
        for (dir, rel, expected) in cases {
            assert_eq!(join(dir, rel).as_deref(), expected, "{dir} + {rel}");
        }
    }

    #[test]
    fn under_lists_a_folder_and_nothing_beside_it() {
        let listing = RepoFiles {
            root: PathBuf::from("/r"),
            root_name: None,
            files: ["a.txt", "api-gw/x", "api/x", "api/y/z", "apib", "b/api/x"]
                .iter()
                .map(|p| RepoFile { path: p.to_string(), size: 1 })
                .collect(),
        };
        let under = |dir| listing.under(dir).map(|f| f.path.as_str()).collect::<Vec<_>>();
        assert_eq!(under("api"), ["api/x", "api/y/z"]);
        assert_eq!(under("b"), ["b/api/x"]);
        assert_eq!(under("."), ["a.txt", "api-gw/x", "api/x", "api/y/z", "apib", "b/api/x"]);
        assert!(under("c").is_empty());
    }

    #[test]
    fn names_and_parents() {
        assert_eq!(file_name("a/b/Dockerfile"), "Dockerfile");
        assert_eq!(file_name("Dockerfile"), "Dockerfile");
        assert_eq!(parent_dir("a/b/Dockerfile"), "a/b");
        assert_eq!(parent_dir("Dockerfile"), ".");
    }

    #[test]
    fn walk_lists_files_and_respects_ignore_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("svc/dist")).unwrap();
        std::fs::write(root.join(".gitignore"), "ignored.txt\n").unwrap();
        std::fs::write(root.join("ignored.txt"), "x").unwrap();
        std::fs::write(root.join("svc/.dockerignore"), "dist\nDockerfile\n").unwrap();
        std::fs::write(root.join("svc/Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(root.join("svc/dist/bundle.js"), "x").unwrap();
        std::fs::write(root.join("svc/main.go"), "package main\n").unwrap();
        let mut notes = Vec::new();
        let files = RepoFiles::walk(root, &Limits::default(), &mut notes);
        let paths: Vec<&str> = files.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, [".gitignore", "svc/.dockerignore", "svc/Dockerfile", "svc/main.go"]);
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn bounds_give_one_note_each() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        std::fs::write(root.join("a/b/c/deep.txt"), "x").unwrap();
        for i in 0..30 {
            std::fs::write(root.join(format!("f{i:02}.txt")), "x").unwrap();
        }
        let limits = Limits { max_depth: 2, max_files: 5, max_file_bytes: 1024 };
        let mut notes = Vec::new();
        let files = RepoFiles::walk(root, &limits, &mut notes);
        assert_eq!(files.files.len(), 5);
        let messages: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("depth bound")));
        assert!(messages.iter().any(|m| m.contains("file count bound")));
    }

    #[test]
    fn read_text_notes_binary_and_invalid_utf8() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bin.dat"), b"abc\0def").unwrap();
        std::fs::write(dir.path().join("latin1.txt"), b"line one\ncaf\xe9\n").unwrap();
        let mut notes = Vec::new();
        let files = RepoFiles::walk(dir.path(), &Limits::default(), &mut notes);
        assert_eq!(files.read_text("bin.dat", &mut notes), None);
        assert_eq!(files.read_text("latin1.txt", &mut notes), None);
        assert_eq!(notes[0].message, "skipped: binary file");
        assert_eq!(notes[1].file.as_deref(), Some("latin1.txt"));
        assert_eq!(notes[1].line, Some(2));
        assert!(notes[1].message.contains("invalid UTF-8"));
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_links_to_them_are_never_opened() {
        // Reading a FIFO nobody writes to never returns; the walk must not list one, even
        // behind a symlink, and a listed file swapped for one is refused when read.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        let made = std::process::Command::new("mkfifo").arg(root.join("fifo")).status().unwrap();
        assert!(made.success());
        std::os::unix::fs::symlink("fifo", root.join("compose.yaml")).unwrap();
        let mut notes = Vec::new();
        let files = RepoFiles::walk(root, &Limits::default(), &mut notes);
        let paths: Vec<&str> = files.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["Dockerfile"]);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].file.as_deref(), Some("compose.yaml"));
        assert_eq!(notes[0].message, "skipped: symlink to a FIFO (named pipe), not a regular file");
        std::fs::remove_file(root.join("Dockerfile")).unwrap();
        std::fs::rename(root.join("fifo"), root.join("Dockerfile")).unwrap();
        assert_eq!(files.read_text("Dockerfile", &mut notes), None);
        assert_eq!(notes[1].message, "cannot read: it is a FIFO (named pipe), not a regular file");
    }
}
