//! Git operations (git2): the clone the analyzer reads and the PR bot's workspace.
//!
//! `nomad-spec analyze --path <git URL>` clones into a temporary folder ([`clone_to_temp`]).
//! The bot works in a [`Workspace`]: a clone over HTTP(S) with the forge's token, checked out
//! at the pull request's head, where it commits the generated file and pushes it, never
//! forced. A workspace fetches the one ref it works on, and only its last commit: most runs
//! read the files alone. What needs history (who last changed a file, what a push changed
//! since its "before" commit) deepens the clone as far as it must, so a shallow clone never
//! changes an answer. A push that lost a race comes back as [`PushOutcome::NonFastForward`] and one the
//! remote refused (branch protection, a hook) as [`PushOutcome::Rejected`]; the bounded retry
//! loop belongs to the workflow. Over HTTP(S) libgit2 speaks through [`http`], reqwest over
//! rustls; the token only travels as that transport's basic auth, and every message from
//! libgit2 or the remote is scrubbed of it before it becomes an error.

mod http;

use std::cell::{Cell, RefCell};
use std::path::{Component, Path};

use anyhow::{anyhow, bail, Context};
use git2::{AutotagOption, ErrorCode, FetchOptions, PushOptions, RemoteCallbacks, Repository};

use crate::settings::Secret;

/// Whether `--path` names a git repository to clone rather than a local folder: an
/// `https://`, `http://`, `ssh://`, `git://` or `file://` URL, an scp-like `git@host:path`, or
/// a path ending in `.git`.
pub fn is_git_url(path: &str) -> bool {
    let schemes = ["https://", "http://", "ssh://", "git://", "file://"];
    schemes.iter().any(|s| path.starts_with(s))
        || path.starts_with("git@")
        || path.trim_end_matches('/').ends_with(".git")
}

/// What a repository's name is read from.
#[derive(Debug, Clone, Copy)]
pub enum NameSource<'a> {
    /// A clone URL (`https://host/o/shop.git`, `git@host:o/shop`).
    CloneUrl(&'a str),
    /// The forge's `owner/name` (`acme/shop`).
    FullName(&'a str),
    /// A checkout on disk (`.`): the folder's own name.
    Folder(&'a Path),
}

/// The repository's short name, which names its job by default: `shop` for
/// `https://host/o/shop.git`, `acme/shop` or a folder `shop`; `app` when the source names
/// nothing.
pub fn repository_name(source: NameSource<'_>) -> String {
    let name = match source {
        NameSource::CloneUrl(url) => url
            .trim_end_matches('/')
            .rsplit(['/', ':'])
            .next()
            .map(|last| last.strip_suffix(".git").unwrap_or(last).to_string()),
        NameSource::FullName(full_name) => full_name.rsplit('/').next().map(str::to_string),
        NameSource::Folder(path) => {
            // `.` and `..` have no name of their own: the folder they stand for has.
            let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            absolute.file_name().and_then(|name| name.to_str()).map(str::to_string)
        }
    };
    name.filter(|name| !name.is_empty()).unwrap_or_else(|| "app".to_string())
}

/// Clones `url` (default branch, full history is not needed but libgit2 fetches it) into a new
/// temporary directory, removed when the returned guard is dropped.
pub fn clone_to_temp(url: &str) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("nomad-spec-clone-")
        .tempdir()
        .context("cannot create a temporary directory for the clone")?;
    http::register();
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

/// Where a workspace keeps the commit it was asked to check out (a pull request's head may be
/// no branch at all: `refs/pull/7/head`, `refs/merge-requests/7/head`).
const CHECKOUT_REF: &str = "refs/remotes/origin/nomad-spec-head";

/// How many commits of history a workspace holds: the last commit first, then more at each
/// deepening, then all of it.
const DEPTHS: [i32; 3] = [1, 16, 256];

/// libgit2's depth for "fetch the rest of the history" (`GIT_FETCH_DEPTH_UNSHALLOW`).
const UNSHALLOW: i32 = i32::MAX;

/// A git remote to clone and push over HTTP(S), with its credentials: the forge builds it
/// for the repository the change request merges into. `token` is a [`Secret`]: `Debug`
/// prints `***`, and every text from libgit2 or the remote is scrubbed of it.
#[derive(Clone, PartialEq, Eq)]
pub struct GitRemote {
    /// Clone URL without credentials (`https://github.com/acme/shop.git`).
    pub url: String,
    /// User name for HTTP basic auth (`x-access-token` on GitHub, `oauth2` on GitLab).
    pub username: String,
    /// The token, used as the password.
    pub token: Secret,
    /// Push options sent with every push (`ci.skip` on GitLab, so a bot push does not start
    /// another pipeline).
    pub push_options: Vec<String>,
    /// A PEM bundle of the private CA that signed the server's certificate, trusted beside the
    /// public roots (`CI_SERVER_TLS_CA_FILE` on a self-managed GitLab); `None` for the public
    /// roots alone.
    pub ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for GitRemote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRemote")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("token", &self.token)
            .field("push_options", &self.push_options)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// How a workspace's temporary folder is named: this, then random letters.
const WORKSPACE_PREFIX: &str = "nomad-spec-workspace-";

/// Removes the workspaces in `folder` (the temporary folder) last changed longer than
/// `older_than` ago: a process killed mid-run (a replica of `serve` stopped by its scheduler)
/// leaves its clone behind, and a long-lived host would fill up. A run lasts minutes, so a
/// bound of hours never touches a clone in use. Returns what was removed; a folder that cannot
/// be read or removed is left as it is.
pub fn sweep_stale_workspaces(
    folder: &Path,
    older_than: std::time::Duration,
) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let now = std::time::SystemTime::now();
    let mut removed = Vec::new();
    let named = |entry: &std::fs::DirEntry| {
        entry.file_name().to_str().is_some_and(|name| name.starts_with(WORKSPACE_PREFIX))
    };
    for entry in entries.flatten().filter(named) {
        // Not followed: a link named like a workspace is not one.
        let Ok(meta) = entry.metadata() else { continue };
        let age = meta.modified().ok().and_then(|changed| now.duration_since(changed).ok());
        if meta.is_dir() && age.is_some_and(|age| age > older_than) {
            let path = entry.path();
            if std::fs::remove_dir_all(&path).is_ok() {
                removed.push(path);
            }
        }
    }
    removed
}

/// A clone of the repository in a temporary folder, removed when dropped.
///
/// The checkout is always a detached head; branches live on the remote only, so pushing to a
/// branch that does not exist yet (a fix PR's branch) is the same as pushing to one that does.
/// Every call blocks on the network or the disk (run it off the async executor).
pub struct Workspace {
    dir: tempfile::TempDir,
    remote: GitRemote,
    /// The refspecs of the last fetch, which a deepening fetches again.
    fetched: Vec<String>,
    /// How much history the fetches ask for: an index in [`DEPTHS`], or `None` for all of it.
    depth: Cell<Option<usize>>,
}

impl Workspace {
    /// Clones `remote` and checks out `git_ref` (`refs/heads/feature`, `refs/pull/7/head`; a
    /// bare name is a branch) as a detached head.
    pub fn clone(remote: &GitRemote, git_ref: &str) -> anyhow::Result<Workspace> {
        let git_ref = qualified_ref(git_ref)?;
        let dir = tempfile::Builder::new()
            .prefix(WORKSPACE_PREFIX)
            .tempdir()
            .context("cannot create a temporary directory for the clone")?;
        let repo = Repository::init(dir.path())
            .with_context(|| format!("cannot create a repository in {}", dir.path().display()))?;
        let mut refspecs = vec![format!("+{git_ref}:{CHECKOUT_REF}")];
        if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
            refspecs.push(format!("+{git_ref}:{}", tracking_ref(branch)));
        }
        // libgit2 fetches a local path's history whole or not at all.
        let depth = shallow_capable(&remote.url).then_some(0);
        let workspace =
            Workspace { dir, remote: remote.clone(), fetched: refspecs, depth: Cell::new(depth) };
        repo.remote("origin", &remote.url).map_err(|err| {
            anyhow!("{} is not a usable git remote: {}", remote.url, workspace.scrub(err.message()))
        })?;
        workspace.fetch(&repo, &workspace.fetched, &git_ref, workspace.fetch_depth())?;
        let commit = repo
            .refname_to_id(CHECKOUT_REF)
            .map_err(|_| anyhow!("{} has no {git_ref} to check out", remote.url))?;
        workspace.check_out(&repo, commit)?;
        Ok(workspace)
    }

    /// The checkout's folder.
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The checked-out commit.
    pub fn head(&self) -> anyhow::Result<String> {
        let repo = self.open()?;
        let head = head_commit(&repo)?.id();
        Ok(head.to_string())
    }

    /// The newest commit on the checked-out history that changed `path`: as `git log -1 --
    /// path` counts it, a commit whose version of the path (content, mode, or presence)
    /// differs from each of its parents', so a merge that only brought a side branch's change
    /// in names that side branch's commit.
    pub fn last_commit_touching(&self, path: &str) -> anyhow::Result<Option<CommitInfo>> {
        let relative = checkout_path(path)?;
        loop {
            let repo = self.open()?;
            match last_touching(&repo, &relative, false)? {
                Touching::Commit(info) => return Ok(Some(info)),
                Touching::Never => return Ok(None),
                Touching::HistoryCut if self.deepen(&repo)? => {}
                Touching::HistoryCut => {
                    // All of the remote's history is here and the walk still ends early (a
                    // force push left the checkout off the branch): its oldest commits are
                    // where the history starts, as in a full clone of that commit.
                    return match last_touching(&repo, &relative, true)? {
                        Touching::Commit(info) => Ok(Some(info)),
                        _ => Ok(None),
                    };
                }
            }
        }
    }

    /// Files added or modified between commit `before` and the head (`git diff --name-only
    /// --diff-filter=AM before HEAD`), sorted; every file of the head when `before` is not in
    /// the history (a new branch, a force push, GitLab's all-zero "before").
    pub fn changed_files(&self, before: &str) -> anyhow::Result<Vec<String>> {
        let before = git2::Oid::from_str(before).ok().filter(|id| !id.is_zero());
        let mut repo = self.open()?;
        // A commit the shallow clone has not fetched yet is not one the history lacks.
        while before.is_some_and(|id| repo.find_commit(id).is_err()) && self.deepen(&repo)? {
            repo = self.open()?;
        }
        let head = head_commit(&repo)?;
        let new_tree = head.tree().context("cannot read the head's tree")?;
        let old_tree =
            before.and_then(|id| repo.find_commit(id).ok()).and_then(|commit| commit.tree().ok());
        let diff = repo
            .diff_tree_to_tree(old_tree.as_ref(), Some(&new_tree), None)
            .context("cannot compare the commits")?;
        let mut files: Vec<String> = diff
            .deltas()
            .filter(|d| matches!(d.status(), git2::Delta::Added | git2::Delta::Modified))
            .filter_map(|d| d.new_file().path().map(|p| p.to_string_lossy().replace('\\', "/")))
            .collect();
        files.sort();
        files.dedup();
        Ok(files)
    }

    /// Writes `content` to `path` and commits it on the head as `identity`; `None` when the
    /// file already had that content (nothing committed).
    ///
    /// `path` is relative to the checkout, uses `/`, and may not leave it: `..`, absolute
    /// paths, `.git` and symbolic links on the way are refused.
    pub fn commit_file(
        &mut self,
        path: &str,
        content: &str,
        message: &str,
        identity: &Identity,
    ) -> anyhow::Result<Option<String>> {
        self.commit_files(&[(path.to_string(), content.to_string())], message, identity)
    }

    /// Writes every `(path, content)` of `files` and commits them together on the head as
    /// `identity` (a job file and the pipeline that builds its image belong in one commit);
    /// `None` when no file changed. Paths follow [`Workspace::commit_file`]'s rules.
    pub fn commit_files(
        &mut self,
        files: &[(String, String)],
        message: &str,
        identity: &Identity,
    ) -> anyhow::Result<Option<String>> {
        let mut staged = Vec::new();
        for (path, content) in files {
            let relative = checkout_path(path)?;
            refuse_symlinks(self.dir.path(), &relative)?;
            let file = self.dir.path().join(&relative);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create the folder for {relative}"))?;
            }
            std::fs::write(&file, content).with_context(|| format!("cannot write {relative}"))?;
            staged.push(relative);
        }

        let repo = self.open()?;
        let head = head_commit(&repo)?;
        let mut index = repo.index().context("cannot read the checkout's index")?;
        for relative in &staged {
            index
                .add_path(Path::new(relative))
                .with_context(|| format!("cannot stage {relative}"))?;
        }
        index.write().context("cannot write the checkout's index")?;
        let tree_id = index.write_tree().context("cannot write the tree to commit")?;
        if tree_id == head.tree_id() {
            return Ok(None);
        }
        let tree = repo.find_tree(tree_id).context("cannot read the tree to commit")?;
        let signature =
            git2::Signature::now(&identity.name, &identity.email).with_context(|| {
                format!("`{} <{}>` cannot sign a commit", identity.name, identity.email)
            })?;
        let commit = repo
            .commit(Some("HEAD"), &signature, &signature, message, &tree, &[&head])
            .with_context(|| format!("cannot commit {}", staged.join(", ")))?;
        Ok(Some(commit.to_string()))
    }

    /// Pushes the head to `refs/heads/<branch>` (never forced), with the remote's push options.
    /// The branch need not exist on the remote yet.
    pub fn push(&mut self, branch: &str) -> anyhow::Result<PushOutcome> {
        let refname = branch_ref(branch)?;
        let repo = self.open()?;
        let head = head_commit(&repo)?.id().to_string();
        push_to(&repo, &self.remote, "HEAD", &refname, head)
    }

    /// Fetches `refs/heads/<branch>` and resets the checkout to it (dropping local commits);
    /// returns the new head.
    pub fn sync_to(&mut self, branch: &str) -> anyhow::Result<String> {
        let refname = branch_ref(branch)?;
        let tracking = tracking_ref(branch);
        let repo = self.open()?;
        // A stale tracking ref must not pass for the branch when the remote has lost it.
        if let Ok(mut stale) = repo.find_reference(&tracking) {
            stale.delete().with_context(|| format!("cannot drop the stale {tracking}"))?;
        }
        self.fetched = vec![format!("+{refname}:{tracking}")];
        self.fetch(&repo, &self.fetched, &refname, self.fetch_depth())?;
        let commit = repo
            .refname_to_id(&tracking)
            .map_err(|_| anyhow!("{} has no branch {branch}", self.remote.url))?;
        self.check_out(&repo, commit)?;
        Ok(commit.to_string())
    }

    fn open(&self) -> anyhow::Result<Repository> {
        Repository::open(self.dir.path())
            .with_context(|| format!("cannot open the checkout in {}", self.dir.path().display()))
    }

    /// The depth a fetch asks for now (libgit2's 0: no limit).
    fn fetch_depth(&self) -> i32 {
        self.depth.get().map_or(0, |at| DEPTHS[at])
    }

    /// Fetches more of the last fetched refs' history: the next of [`DEPTHS`], then the rest.
    /// False when the whole history is here already.
    fn deepen(&self, repo: &Repository) -> anyhow::Result<bool> {
        let Some(at) = self.depth.get() else { return Ok(false) };
        let (next, depth) = match DEPTHS.get(at + 1) {
            Some(depth) => (Some(at + 1), *depth),
            None => (None, UNSHALLOW),
        };
        self.fetch(repo, &self.fetched, "more history", depth)?;
        self.depth.set(next);
        Ok(true)
    }

    /// Fetches `refspecs` from origin with `depth` commits of history (0: all); `what` names
    /// the ref in errors.
    fn fetch(
        &self,
        repo: &Repository,
        refspecs: &[String],
        what: &str,
        depth: i32,
    ) -> anyhow::Result<()> {
        fetch_from(repo, &self.remote, refspecs, what, depth)
    }

    /// Makes the checkout exactly `commit`'s tree, with a detached head on it.
    fn check_out(&self, repo: &Repository, commit: git2::Oid) -> anyhow::Result<()> {
        let object = repo
            .find_object(commit, Some(git2::ObjectType::Commit))
            .with_context(|| format!("{commit} is not a commit"))?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        // The files as committed: no end-of-line or `ident` filters, whose `.gitattributes`
        // lookups cost two path resolutions per file.
        checkout.force().disable_filters(true);
        repo.checkout_tree(&object, Some(&mut checkout))
            .with_context(|| format!("cannot check out {commit}"))?;
        repo.set_head_detached(commit).with_context(|| format!("cannot move the head to {commit}"))
    }

    /// `text` without the token.
    fn scrub(&self, text: &str) -> String {
        self.remote.token.redact(text)
    }
}

/// A file kept on a ref of its own (`refs/nomad-spec/memory`), on no branch: the ref points at
/// a commit whose tree holds that file alone, each version's parent the one it replaced. The
/// bot keeps memory there in CI, where nothing else survives between runs.
///
/// A push is compare-and-swap: the new commit's parent is the version fetched, and the push is
/// never forced, so it lands only while the remote ref still points at that version (libgit2
/// refuses to push over a commit it has not fetched, and the remote checks the old value it was
/// told). Losing comes back as [`PushOutcome::NonFastForward`]: fetch again, merge, retry.
/// Every call blocks on the network or the disk.
pub struct FileOnRef {
    /// A bare repository holding what was fetched and the commits made.
    dir: tempfile::TempDir,
    remote: GitRemote,
    git_ref: String,
    path: String,
}

/// One version of a [`FileOnRef`]: the commit the ref pointed at and the file's bytes there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersion {
    pub commit: String,
    /// `None` when that commit holds no such file.
    pub content: Option<Vec<u8>>,
}

/// Where a [`FileOnRef`] keeps the version it fetched, and what it pushes.
const FETCHED_REF: &str = "refs/remotes/origin/nomad-spec-file";
const OUTGOING_REF: &str = "refs/nomad-spec/outgoing";

impl FileOnRef {
    /// `path` on `git_ref` (a full ref, `refs/...`) of `remote`; nothing is fetched yet.
    pub fn new(remote: &GitRemote, git_ref: &str, path: &str) -> anyhow::Result<FileOnRef> {
        if !git_ref.starts_with("refs/") || !git2::Reference::is_valid_name(git_ref) {
            bail!("`{git_ref}` is not a full git ref (refs/...)");
        }
        let path = checkout_path(path)?;
        let dir = tempfile::Builder::new()
            .prefix("nomad-spec-ref-")
            .tempdir()
            .context("cannot create a temporary directory for the ref")?;
        let repo = Repository::init_bare(dir.path())
            .with_context(|| format!("cannot create a repository in {}", dir.path().display()))?;
        repo.remote("origin", &remote.url).map_err(|err| {
            anyhow!(
                "{} is not a usable git remote: {}",
                remote.url,
                remote.token.redact(err.message())
            )
        })?;
        Ok(FileOnRef { dir, remote: remote.clone(), git_ref: git_ref.to_string(), path })
    }

    /// The ref's current version on the remote; `None` when the remote has no such ref.
    pub fn fetch(&self) -> anyhow::Result<Option<FileVersion>> {
        let repo = self.open()?;
        // A version fetched before must not pass for the ref when the remote has lost it.
        if let Ok(mut stale) = repo.find_reference(FETCHED_REF) {
            stale.delete().with_context(|| format!("cannot drop the stale {FETCHED_REF}"))?;
        }
        // The whole history of the ref, not its last commit: libgit2 cannot push a commit on
        // a shallow one whose own parent it lacks ("object not found"), which every version
        // after the second is. The versions are one small file each, stored as deltas.
        let refspecs = [format!("+{}:{FETCHED_REF}", self.git_ref)];
        fetch_from(&repo, &self.remote, &refspecs, &self.git_ref, 0)?;
        let Ok(id) = repo.refname_to_id(FETCHED_REF) else { return Ok(None) };
        let commit = repo
            .find_commit(id)
            .with_context(|| format!("{} of {} is not a commit", self.git_ref, self.remote.url))?;
        let content = match entry_at(&commit, &self.path)? {
            None => None,
            Some((blob, _)) => Some(
                repo.find_blob(blob)
                    .with_context(|| format!("{} of {} is no file", self.path, self.git_ref))?
                    .content()
                    .to_vec(),
            ),
        };
        Ok(Some(FileVersion { commit: id.to_string(), content }))
    }

    /// Commits `content` as the file's new version on `parent` (the version fetched last, or
    /// `None` when the ref did not exist) and pushes it to the ref, unless the ref moved.
    pub fn push(
        &self,
        parent: Option<&str>,
        content: &[u8],
        message: &str,
        identity: &Identity,
    ) -> anyhow::Result<PushOutcome> {
        let repo = self.open()?;
        let blob = repo.blob(content).context("cannot store the file's new version")?;
        let mut tree = repo.treebuilder(None).context("cannot build a tree")?;
        let (folders, name) = match self.path.rsplit_once('/') {
            Some((folders, name)) => (Some(folders), name),
            None => (None, self.path.as_str()),
        };
        tree.insert(name, blob, git2::FileMode::Blob.into())
            .with_context(|| format!("cannot put {} in a tree", self.path))?;
        let mut tree_id = tree.write().context("cannot write a tree")?;
        for folder in folders.map(|f| f.rsplit('/').collect::<Vec<_>>()).unwrap_or_default() {
            let mut outer = repo.treebuilder(None).context("cannot build a tree")?;
            outer
                .insert(folder, tree_id, git2::FileMode::Tree.into())
                .with_context(|| format!("cannot put {folder} in a tree"))?;
            tree_id = outer.write().context("cannot write a tree")?;
        }
        let tree = repo.find_tree(tree_id).context("cannot read the tree to commit")?;
        let parents = match parent {
            None => Vec::new(),
            Some(parent) => {
                let id = git2::Oid::from_str(parent)
                    .with_context(|| format!("`{parent}` is not a commit id"))?;
                vec![repo.find_commit(id).with_context(|| format!("{parent} was not fetched"))?]
            }
        };
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let signature =
            git2::Signature::now(&identity.name, &identity.email).with_context(|| {
                format!("`{} <{}>` cannot sign a commit", identity.name, identity.email)
            })?;
        let commit = repo
            .commit(None, &signature, &signature, message, &tree, &parents)
            .with_context(|| format!("cannot commit {}", self.path))?;
        repo.reference(OUTGOING_REF, commit, true, "nomad-spec: the version to push")
            .context("cannot point a ref at the version to push")?;
        push_to(&repo, &self.remote, OUTGOING_REF, &self.git_ref, commit.to_string())
    }

    fn open(&self) -> anyhow::Result<Repository> {
        Repository::open_bare(self.dir.path())
            .with_context(|| format!("cannot open the repository in {}", self.dir.path().display()))
    }
}

/// Fetches `refspecs` from `repo`'s origin with `depth` commits of history (0: all); `what`
/// names the ref in errors.
fn fetch_from(
    repo: &Repository,
    remote: &GitRemote,
    refspecs: &[String],
    what: &str,
    depth: i32,
) -> anyhow::Result<()> {
    http::register();
    let mut origin = repo.find_remote("origin").context("the repository has no origin")?;
    let session = Session::default();
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(session.callbacks())
        .download_tags(AutotagOption::None)
        .update_fetchhead(false)
        .depth(depth);
    let (result, refused) =
        http::with_credentials(remote, || origin.fetch(refspecs, Some(&mut options), None));
    session.credentials_refused.set(refused);
    drop(options);
    result.map_err(|err| {
        network_error(remote, &session, &err, &format!("cannot fetch {what} from {}", remote.url))
    })
}

/// Pushes `local` (a ref or `HEAD` of `repo`, at `commit`) to `refname` on origin, never
/// forced, with the remote's push options.
fn push_to(
    repo: &Repository,
    remote: &GitRemote,
    local: &str,
    refname: &str,
    commit: String,
) -> anyhow::Result<PushOutcome> {
    http::register();
    let mut origin = repo.find_remote("origin").context("the repository has no origin")?;
    let session = Session::default();
    let push_options: Vec<&str> = remote.push_options.iter().map(String::as_str).collect();
    let mut options = PushOptions::new();
    options.remote_callbacks(session.callbacks());
    options.remote_push_options(&push_options);
    // No `+`: a push that is not a fast-forward fails instead of rewriting history.
    let (result, refused) = http::with_credentials(remote, || {
        origin.push(&[format!("{local}:{refname}")], Some(&mut options))
    });
    session.credentials_refused.set(refused);
    drop(options);
    match result {
        Ok(()) => {}
        Err(err) if err.code() == ErrorCode::NotFastForward => {
            return Ok(PushOutcome::NonFastForward)
        }
        Err(err) => {
            return Err(network_error(
                remote,
                &session,
                &err,
                &format!("cannot push to {refname} of {}", remote.url),
            ))
        }
    }
    let status = session
        .ref_updates
        .borrow()
        .iter()
        .find(|(name, _)| *name == refname)
        .and_then(|(_, status)| status.clone());
    Ok(match status {
        None => PushOutcome::Pushed { commit },
        Some(status) => {
            let remote_text = session.remote_text.borrow();
            match rejection(refname, &status, &remote_text) {
                PushOutcome::Rejected { message, protected } => {
                    PushOutcome::Rejected { message: remote.token.redact(&message), protected }
                }
                other => other,
            }
        }
    })
}

/// A failed network operation in words: a refused token says so (and nothing else about the
/// token); anything else keeps libgit2's message, scrubbed.
fn network_error(
    remote: &GitRemote,
    session: &Session,
    err: &git2::Error,
    doing: &str,
) -> anyhow::Error {
    if session.credentials_refused.get() {
        anyhow!(
            "authentication failed for {}: the server refused the token of user `{}`",
            remote.url,
            remote.username
        )
    } else if err.message().contains("invalid peer certificate") && remote.ca_file.is_none() {
        anyhow!(
            "{doing}: {}; the server's certificate is not signed by a CA this machine trusts: \
             add the CA to the system's certificates or name its PEM bundle in SSL_CERT_FILE \
             (a GitLab runner's CI_SERVER_TLS_CA_FILE is trusted without that)",
            remote.token.redact(err.message())
        )
    } else {
        anyhow!("{doing}: {}", remote.token.redact(err.message()))
    }
}

/// What one network operation saw through libgit2's callbacks and the HTTP transport.
#[derive(Default)]
struct Session {
    /// The server answered the token with a 401.
    credentials_refused: Cell<bool>,
    /// What the remote wrote on its side band (`remote: error: GH006: ...`).
    remote_text: RefCell<String>,
    /// Each ref the push reported on, with the remote's reason when it refused it.
    ref_updates: RefCell<Vec<(String, Option<String>)>>,
}

impl Session {
    fn callbacks(&self) -> RemoteCallbacks<'_> {
        let mut callbacks = RemoteCallbacks::new();
        callbacks.sideband_progress(move |data| {
            self.remote_text.borrow_mut().push_str(&String::from_utf8_lossy(data));
            true
        });
        callbacks.push_update_reference(move |refname, status| {
            self.ref_updates.borrow_mut().push((refname.to_string(), status.map(str::to_string)));
            Ok(())
        });
        callbacks
    }
}

/// Whether a remote's transport can fetch part of the history: libgit2's local transport
/// (a path, `file://`) cannot.
fn shallow_capable(url: &str) -> bool {
    let scp_like = url.split_once(':').is_some_and(|(host, _)| host.contains('@'));
    (url.contains("://") && !url.starts_with("file://")) || scp_like
}

/// What the walk for the last commit that touched a path found.
enum Touching {
    Commit(CommitInfo),
    /// No commit of the history touched it.
    Never,
    /// The walk reached a commit whose parents the shallow clone has not fetched.
    HistoryCut,
}

/// The newest commit from the head that changed `relative` (see
/// [`Workspace::last_commit_touching`]); with `cut_is_root`, commits whose parents were not
/// fetched count as the first commits of the history.
fn last_touching(repo: &Repository, relative: &str, cut_is_root: bool) -> anyhow::Result<Touching> {
    let cut = if cut_is_root { Vec::new() } else { shallow_commits(repo)? };
    let head = head_commit(repo)?;
    let mut walk = repo.revwalk().context("cannot walk the history")?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
        .context("cannot sort the history")?;
    walk.push(head.id()).context("cannot walk the history from the head")?;
    for id in walk {
        let id = id.context("cannot read the history")?;
        if cut.contains(&id) {
            return Ok(Touching::HistoryCut);
        }
        let commit = repo.find_commit(id).with_context(|| format!("cannot read commit {id}"))?;
        let here = entry_at(&commit, relative)?;
        let touched = if commit.parent_count() == 0 {
            here.is_some()
        } else {
            let mut differs_from_all = true;
            for parent in commit.parents() {
                if entry_at(&parent, relative)? == here {
                    differs_from_all = false;
                    break;
                }
            }
            differs_from_all
        };
        if touched {
            return Ok(Touching::Commit(commit_info(&commit)));
        }
    }
    Ok(Touching::Never)
}

/// The commits whose parents a shallow clone has not fetched (git's `.git/shallow`).
fn shallow_commits(repo: &Repository) -> anyhow::Result<Vec<git2::Oid>> {
    let file = repo.path().join("shallow");
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", file.display())),
    };
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            git2::Oid::from_str(line.trim())
                .with_context(|| format!("{}: `{line}` is not a commit id", file.display()))
        })
        .collect()
}

/// What a ref the remote refused with `status` means for the bot: lost a race (the branch
/// moved between the remote's advertisement and the update, or a concurrent push held its
/// lock), or a refusal to report in the remote's words.
fn rejection(refname: &str, status: &str, remote_text: &str) -> PushOutcome {
    let status_lower = status.to_lowercase();
    let text_lower = remote_text.to_lowercase();
    // receive-pack's words: `non-fast-forward`, `failed to lock`, `cannot lock ref '...': is
    // at X but expected Y` (as the status, or on the side band under `failed to update ref`),
    // and newer gits' `incorrect old value provided` / `reference already exists`.
    let lost_race = [
        "non-fast-forward",
        "fetch first",
        "failed to lock",
        "cannot lock ref",
        "incorrect old value",
        "reference already exists",
    ]
    .iter()
    .any(|sign| status_lower.contains(sign))
        || (status_lower.contains("failed to update ref")
            && (text_lower.contains("cannot lock ref") || text_lower.contains("but expected")));
    if lost_race {
        return PushOutcome::NonFastForward;
    }
    let lines: Vec<&str> = remote_text
        .split(['\n', '\r'])
        .map(str::trim)
        // Progress counters (`Resolving deltas: 100% (3/3)`) say nothing about the refusal.
        .filter(|line| !line.is_empty() && !line.contains("% ("))
        .collect();
    let mut message = lines.join("\n");
    if !message.is_empty() {
        message.push('\n');
    }
    message.push_str(&format!("{refname}: {status}"));
    let lower = message.to_lowercase();
    // GitHub: `GH006: Protected branch update failed`, rulesets `GH013: Repository rule
    // violations`; GitLab: `You are not allowed to push code to protected branches`, and any
    // refusal by a pre-receive hook, which is where forges enforce branch protection.
    let protected = ["protected", "gh006", "gh013", "pre-receive hook declined"]
        .iter()
        .any(|sign| lower.contains(sign));
    PushOutcome::Rejected { message, protected }
}

/// `git_ref` as a full ref name: a bare name is a branch.
fn qualified_ref(git_ref: &str) -> anyhow::Result<String> {
    let full = if git_ref.starts_with("refs/") {
        git_ref.to_string()
    } else {
        format!("refs/heads/{git_ref}")
    };
    if !git2::Reference::is_valid_name(&full) {
        bail!("`{git_ref}` is not a valid git ref");
    }
    Ok(full)
}

/// `refs/heads/<branch>`, once `branch` is known to be a valid branch name.
fn branch_ref(branch: &str) -> anyhow::Result<String> {
    let full = format!("refs/heads/{branch}");
    if branch.is_empty() || branch.starts_with("refs/") || !git2::Reference::is_valid_name(&full) {
        bail!("`{branch}` is not a valid branch name");
    }
    Ok(full)
}

fn tracking_ref(branch: &str) -> String {
    format!("refs/remotes/origin/{branch}")
}

fn head_commit(repo: &Repository) -> anyhow::Result<git2::Commit<'_>> {
    repo.head()
        .and_then(|head| head.peel_to_commit())
        .context("the checkout has no commit checked out")
}

/// `path` as a clean relative path inside the checkout (`deploy/job.nomad.hcl`), or an error
/// saying why it would leave it.
fn checkout_path(path: &str) -> anyhow::Result<String> {
    let mut parts = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => {
                let part = part
                    .to_str()
                    .with_context(|| format!("the path `{path}` is not valid UTF-8"))?;
                if part.eq_ignore_ascii_case(".git") {
                    bail!("the path `{path}` points into the repository's .git folder");
                }
                parts.push(part);
            }
            Component::CurDir => {}
            Component::ParentDir => {
                bail!("the path `{path}` leaves the checkout (`..` is not allowed)")
            }
            Component::RootDir | Component::Prefix(_) => {
                bail!("the path `{path}` is absolute; give it relative to the repository")
            }
        }
    }
    if parts.is_empty() {
        bail!("the path `{path}` names no file in the repository");
    }
    Ok(parts.join("/"))
}

/// Refuses to write through a symbolic link committed in the repository: a pull request could
/// point `deploy` at a folder outside the checkout.
fn refuse_symlinks(root: &Path, relative: &str) -> anyhow::Result<()> {
    let mut at = root.to_path_buf();
    for part in relative.split('/') {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let shown = at.strip_prefix(root).unwrap_or(&at).display().to_string();
                bail!("cannot write {relative}: {shown} is a symbolic link in the repository");
            }
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => {
                return Err(err).with_context(|| format!("cannot inspect {}", at.display()))
            }
        }
    }
    Ok(())
}

/// The tree entry (id and mode) `commit` has at `path`, `None` when it has none.
fn entry_at(commit: &git2::Commit<'_>, path: &str) -> anyhow::Result<Option<(git2::Oid, i32)>> {
    let tree = commit.tree().with_context(|| format!("cannot read the tree of {}", commit.id()))?;
    match tree.get_path(Path::new(path)) {
        Ok(entry) => Ok(Some((entry.id(), entry.filemode()))),
        Err(err) if err.code() == ErrorCode::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot look up {path} in {}", commit.id())),
    }
}

fn commit_info(commit: &git2::Commit<'_>) -> CommitInfo {
    let author = commit.author();
    CommitInfo {
        sha: commit.id().to_string(),
        author_name: String::from_utf8_lossy(author.name_bytes()).into_owned(),
        author_email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
        subject: String::from_utf8_lossy(commit.message_bytes())
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
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
    fn transports_that_fetch_part_of_the_history() {
        for url in ["https://github.com/acme/shop.git", "http://127.0.0.1:9/a.git", "git@host:a/b"]
        {
            assert!(shallow_capable(url), "{url}");
        }
        for url in ["/srv/git/shop.git", "file:///srv/git/shop.git", "../shop", "C:/repos/shop"] {
            assert!(!shallow_capable(url), "{url}");
        }
    }

    #[test]
    fn repository_names() {
        let name = repository_name;
        assert_eq!(name(NameSource::CloneUrl("https://github.com/o/shop.git")), "shop");
        assert_eq!(name(NameSource::CloneUrl("git@github.com:o/shop")), "shop");
        assert_eq!(name(NameSource::CloneUrl("file:///srv/shop.git/")), "shop");
        assert_eq!(name(NameSource::CloneUrl("git@host:")), "app");
        assert_eq!(name(NameSource::FullName("acme/shop")), "shop");
        assert_eq!(name(NameSource::FullName("acme/")), "app");
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("shop");
        std::fs::create_dir_all(folder.join("sub")).unwrap();
        assert_eq!(name(NameSource::Folder(&folder.join("sub/.."))), "shop");
        assert_eq!(name(NameSource::Folder(&folder)), "shop");
        assert_eq!(name(NameSource::Folder(Path::new("/"))), "app");
    }

    #[test]
    fn refusals_by_the_remote() {
        let main = "refs/heads/main";
        let github = "Resolving deltas: 100% (2/2), completed with 2 local objects.\r\n\
                      error: GH006: Protected branch update failed for refs/heads/main.\n\
                      error: Changes must be made through a pull request.\n";
        assert_eq!(
            rejection(main, "protected branch hook declined", github),
            PushOutcome::Rejected {
                message: "error: GH006: Protected branch update failed for refs/heads/main.\n\
                          error: Changes must be made through a pull request.\n\
                          refs/heads/main: protected branch hook declined"
                    .to_string(),
                protected: true,
            }
        );
        let gitlab = "GitLab: You are not allowed to push code to protected branches on this \
                      project.\n";
        let PushOutcome::Rejected { protected, .. } =
            rejection(main, "pre-receive hook declined", gitlab)
        else {
            panic!("a refusal");
        };
        assert!(protected);
        let PushOutcome::Rejected { message, protected } =
            rejection(main, "hook declined", "error: too big\n")
        else {
            panic!("a refusal");
        };
        assert!(!protected, "{message}");
        assert_eq!(message, "error: too big\nrefs/heads/main: hook declined");

        for (status, text) in [
            ("non-fast-forward", ""),
            ("failed to lock", ""),
            ("cannot lock ref 'refs/heads/main': is at 1111 but expected 2222", ""),
            (
                "failed to update ref",
                "error: cannot lock ref 'refs/heads/main': is at 1 but expected 2\n",
            ),
            ("incorrect old value provided", ""),
        ] {
            assert_eq!(rejection(main, status, text), PushOutcome::NonFastForward, "{status}");
        }
        let PushOutcome::Rejected { .. } =
            rejection(main, "failed to update ref", "error: disk full")
        else {
            panic!("a failed update that is no race is a refusal");
        };
    }

    #[test]
    fn paths_in_the_checkout() {
        assert_eq!(checkout_path("deploy/shop.nomad.hcl").unwrap(), "deploy/shop.nomad.hcl");
        assert_eq!(checkout_path("./deploy//shop.hcl").unwrap(), "deploy/shop.hcl");
        for (path, says) in [
            ("../x", "`..`"),
            ("a/../../x", "`..`"),
            ("/etc/passwd", "absolute"),
            (".git/config", ".git folder"),
            ("sub/.GIT/config", ".git folder"),
            (".", "names no file"),
        ] {
            let err = checkout_path(path).unwrap_err();
            assert!(format!("{err:#}").contains(says), "{path}: {err:#}");
        }
        assert_eq!(qualified_ref("main").unwrap(), "refs/heads/main");
        assert_eq!(qualified_ref("refs/pull/7/head").unwrap(), "refs/pull/7/head");
        assert!(qualified_ref("refs/pull/7/head~1").is_err());
        assert!(branch_ref("nomad-spec/fix-shop").is_ok());
        assert!(branch_ref("bad..name").is_err());
    }

    #[test]
    fn stale_workspaces_are_swept_and_nothing_else() {
        let folder = tempfile::tempdir().unwrap();
        let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(25 * 3600);
        let make = |name: &str, old: bool| {
            let path = folder.path().join(name);
            std::fs::create_dir_all(path.join(".git/objects")).unwrap();
            std::fs::write(path.join("Dockerfile"), "FROM scratch\n").unwrap();
            if old {
                std::fs::File::open(&path).unwrap().set_modified(day_ago).unwrap();
            }
            path
        };
        let stale = make("nomad-spec-workspace-Ab12Cd", true);
        let running = make("nomad-spec-workspace-Ef34Gh", false);
        let someone_elses = make("other-tool-Ij56Kl", true);
        let file = folder.path().join("nomad-spec-workspace-note");
        std::fs::write(&file, "not a folder").unwrap();
        std::fs::File::open(&file).unwrap().set_modified(day_ago).unwrap();

        let removed = sweep_stale_workspaces(folder.path(), std::time::Duration::from_secs(86400));
        assert_eq!(removed, std::slice::from_ref(&stale));
        assert!(!stale.exists());
        assert!(running.exists() && someone_elses.exists() && file.exists());
        assert!(
            sweep_stale_workspaces(&folder.path().join("missing"), Default::default()).is_empty()
        );
    }

    #[test]
    fn clone_of_a_missing_repository_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/missing.git", dir.path().display());
        let err = clone_to_temp(&url).unwrap_err();
        assert!(format!("{err:#}").contains("cannot clone"), "{err:#}");
    }
}
