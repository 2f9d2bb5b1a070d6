//! Git operations (git2): clone a repository into a temporary directory.
//!
//! Only what the analyzer needs today: `nomad-spec analyze --path <git URL>` clones the
//! repository, analyzes the checkout and removes it. Commit and push come with the bot.

use anyhow::Context;

/// Whether `--path` names a git repository to clone rather than a local folder: an
/// `https://`, `http://`, `ssh://`, `git://` or `file://` URL, an scp-like `git@host:path`, or
/// a path ending in `.git`.
pub fn is_git_url(path: &str) -> bool {
    let schemes = ["https://", "http://", "ssh://", "git://", "file://"];
    schemes.iter().any(|s| path.starts_with(s))
        || path.starts_with("git@")
        || path.trim_end_matches('/').ends_with(".git")
}

/// The repository's name as its URL gives it (`https://host/o/shop.git` → `shop`).
pub fn repository_name(url: &str) -> Option<String> {
    let last = url.trim_end_matches('/').rsplit(['/', ':']).next()?;
    let name = last.strip_suffix(".git").unwrap_or(last);
    (!name.is_empty()).then(|| name.to_string())
}

/// Clones `url` (default branch, full history is not needed but libgit2 fetches it) into a new
/// temporary directory, removed when the returned guard is dropped.
pub fn clone_to_temp(url: &str) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("nomad-spec-clone-")
        .tempdir()
        .context("cannot create a temporary directory for the clone")?;
    git2::Repository::clone(url, dir.path()).with_context(|| format!("cannot clone {url}"))?;
    Ok(dir)
}

/// Who the bot commits as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

/// A commit, as far as the bot cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub sha: String,
    pub author_name: String,
    pub author_email: String,
    /// First line of the message.
    pub subject: String,
}

/// How a push ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The branch now points at this commit.
    Pushed { commit: String },
    /// Someone pushed meanwhile (not a fast-forward): sync and reapply.
    NonFastForward,
    /// The remote refused the ref (branch protection, a hook); `message` is the remote's words.
    Rejected { message: String, protected: bool },
}

/// A clone of the repository in a temporary folder, removed when dropped.
pub struct Workspace {
    dir: tempfile::TempDir,
    remote: crate::forge::GitRemote,
}

impl Workspace {
    /// Clones `remote` and checks out `git_ref` (`refs/heads/feature`, `refs/pull/7/head`)
    /// as a detached head.
    pub fn clone(remote: &crate::forge::GitRemote, git_ref: &str) -> anyhow::Result<Workspace> {
        let _ = (remote, git_ref);
        anyhow::bail!("not built yet")
    }

    /// The checkout's folder.
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The checked-out commit.
    pub fn head(&self) -> anyhow::Result<String> {
        let _ = &self.remote;
        anyhow::bail!("not built yet")
    }

    /// The newest commit on the checked-out history that changed `path`.
    pub fn last_commit_touching(&self, path: &str) -> anyhow::Result<Option<CommitInfo>> {
        let _ = path;
        anyhow::bail!("not built yet")
    }

    /// Writes `content` to `path` and commits it on the head as `identity`; `None` when the
    /// file already had that content (nothing committed).
    pub fn commit_file(
        &mut self,
        path: &str,
        content: &str,
        message: &str,
        identity: &Identity,
    ) -> anyhow::Result<Option<String>> {
        let _ = (path, content, message, identity);
        anyhow::bail!("not built yet")
    }

    /// Pushes the head to `refs/heads/<branch>` (never forced), with the remote's push options.
    pub fn push(&mut self, branch: &str) -> anyhow::Result<PushOutcome> {
        let _ = branch;
        anyhow::bail!("not built yet")
    }

    /// Fetches `refs/heads/<branch>` and resets the checkout to it (dropping local commits);
    /// returns the new head.
    pub fn sync_to(&mut self, branch: &str) -> anyhow::Result<String> {
        let _ = branch;
        anyhow::bail!("not built yet")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_urls() {
        for url in [
            "https://github.com/o/r",
            "git@github.com:o/r.git",
            "file:///tmp/r",
            "/srv/repos/r.git",
            "ssh://git@host/r",
        ] {
            assert!(is_git_url(url), "{url}");
        }
        for path in [".", "./repo", "/home/me/project", "C:/work"] {
            assert!(!is_git_url(path), "{path}");
        }
    }

    #[test]
    fn repository_names() {
        assert_eq!(repository_name("https://github.com/o/shop.git").as_deref(), Some("shop"));
        assert_eq!(repository_name("git@github.com:o/shop").as_deref(), Some("shop"));
        assert_eq!(repository_name("file:///srv/shop.git/").as_deref(), Some("shop"));
        assert_eq!(repository_name("git@host:").as_deref(), None);
    }

    #[test]
    fn clone_of_a_missing_repository_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/missing.git", dir.path().display());
        let err = clone_to_temp(&url).unwrap_err();
        assert!(format!("{err:#}").contains("cannot clone"), "{err:#}");
    }
}
