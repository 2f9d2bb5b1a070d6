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
