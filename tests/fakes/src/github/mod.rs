//! A stateful fake of GitHub: the REST endpoints the PR bot uses, git smart-HTTP on the same
//! server, and webhook payloads built from its state.
//!
//! It owns one repository (a real bare git repository under a temporary folder) with its pull
//! requests, issue comments, reactions, collaborators' permissions, check runs (annotations
//! accumulate across updates, as on GitHub), commit statuses and deployments, and answers in
//! GitHub's JSON shapes ([`objects`]) with GitHub's rules: pagination with `Link` headers,
//! 422 `Validation Failed` for impossible requests, 401 `Bad credentials` for a wrong token.
//! Tests drive it through [`FakeGitHub`] (set up people, pull requests and comments; read back
//! what the bot did; count every write so a duplicate comment shows) and script faults (rate
//! limits, 5xx, a token without `checks: write`, a protected default branch).
//!
//! Not here: the GraphQL API, issues that are not pull requests, forks as repositories of
//! their own (a fork PR's head lives only under `refs/pull/N/head`, as GitHub serves it).

mod api;
mod app;
mod events;
pub mod objects;

pub use events::NO_COMMIT;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{bail, Context};

use crate::git_http;
use crate::server::LoopbackServer;

/// The token the fake accepts unless told otherwise; distinctive, so a test can prove it never
/// reaches an error message or a comment.
pub const DEFAULT_TOKEN: &str = "ghs_FakeGitHubToken0123456789abcdefXYZ";

/// GitHub's message when a push to a protected branch is refused.
pub fn protected_branch_message(branch: &str) -> String {
    format!("GH006: Protected branch update failed for refs/heads/{branch}.")
}

/// How the fake is set up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `owner/name`.
    pub repository: String,
    /// The only token accepted (REST: `Authorization: Bearer|token`, git: basic password).
    pub token: String,
    /// Who the token belongs to: the author of everything the bot writes (a `Bot`).
    pub bot_login: String,
    /// The repository's default branch.
    pub default_branch: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            repository: "acme/shop".into(),
            token: DEFAULT_TOKEN.into(),
            bot_login: "github-actions[bot]".into(),
            default_branch: "main".into(),
        }
    }
}

/// A GitHub account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub login: String,
    pub id: u64,
    /// `type: Bot` rather than `User`.
    pub bot: bool,
}

/// A pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: String,
    /// Login of the author.
    pub author: String,
    pub head_ref: String,
    pub head_sha: String,
    /// `owner/name` of the head's repository; another one for a fork.
    pub head_repo: String,
    pub base_ref: String,
    pub draft: bool,
    /// `open` or `closed`.
    pub state: String,
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An issue that is not a pull request (issues and pull requests share their numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    /// Login of the author.
    pub author: String,
    /// `open` or `closed`.
    pub state: String,
    pub created_at: String,
    pub updated_at: String,
}

/// An issue comment on a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    /// The pull request's number.
    pub number: u64,
    pub author: String,
    pub body: String,
    /// The body before the last edit (an `edited` webhook carries it).
    pub previous_body: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A reaction to a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub id: u64,
    pub comment_id: u64,
    pub login: String,
    /// `+1`, `confused`, ...
    pub content: String,
}

/// One check-run annotation, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub path: String,
    pub start_line: u64,
    pub end_line: u64,
    /// `notice`, `warning` or `failure`.
    pub level: String,
    pub message: String,
    pub title: Option<String>,
}

/// A check run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    pub conclusion: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    /// Every annotation sent, across the create and all updates.
    pub annotations: Vec<Annotation>,
    pub created_at: String,
}

/// A commit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    pub id: u64,
    pub sha: String,
    /// `error`, `failure`, `pending` or `success`.
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub creator: String,
    pub created_at: String,
}

/// A deployment with its statuses, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: u64,
    pub sha: String,
    /// The `ref` it was asked for.
    pub git_ref: String,
    pub environment: String,
    pub description: Option<String>,
    pub creator: String,
    pub statuses: Vec<DeploymentStatus>,
    pub created_at: String,
}

/// One status of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentStatus {
    pub id: u64,
    /// `queued`, `in_progress`, `success`, `failure`, `error`, `inactive` or `pending`.
    pub state: String,
    pub description: Option<String>,
    pub creator: String,
}

/// A scripted failure for the next requests under a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `429` with `Retry-After: 1` (a secondary rate limit).
    TooManyRequests,
    /// `403` with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` one second ahead (the
    /// primary rate limit is used up).
    RateLimitExhausted,
    /// `500` with GitHub's JSON `{"message": "Server Error"}`.
    ServerError,
    /// `502` with an HTML body, as GitHub's front end answers when the API is unreachable.
    BadGateway,
}

#[derive(Debug, Clone)]
struct FaultRule {
    path_prefix: String,
    remaining: u32,
    fault: Fault,
}

/// Everything the fake knows.
/// A commit someone else pushes while the bot is between its fetch and its push.
#[derive(Debug, Clone)]
struct RacingCommit {
    /// A branch name, or a full ref (`refs/nomad-spec/memory`).
    branch: String,
    files: Vec<(String, String)>,
    message: String,
    author: String,
    /// Lands only before a push that updates this full ref (else before the next push).
    only_before: Option<String>,
}

#[derive(Debug)]
struct GitHubState {
    settings: Settings,
    users: BTreeMap<String, User>,
    /// Collaborators' roles (`admin`, `maintain`, `write`, `triage`, `read`, `none`).
    permissions: BTreeMap<String, String>,
    pulls: BTreeMap<u64, Pull>,
    issues: BTreeMap<u64, Issue>,
    comments: Vec<Comment>,
    reactions: Vec<Reaction>,
    check_runs: Vec<CheckRun>,
    statuses: Vec<CommitStatus>,
    deployments: Vec<Deployment>,
    faults: Vec<FaultRule>,
    /// The token may not touch check runs (a workflow without `checks: write`).
    checks_forbidden: bool,
    /// Successful write requests by kind (`create_comment`, ...).
    writes: BTreeMap<String, u64>,
    /// Every request as `METHOD /path?query`.
    requests: Vec<String>,
    /// A person's commit that lands just before the next push is received, so that push
    /// loses the race (`race_next_push`).
    racing_commit: Option<RacingCommit>,
    next_id: u64,
    next_user_id: u64,
    /// Seconds since the fake's epoch; every write moves it on, so timestamps order.
    clock: u64,
    /// A GitHub App installed on the repository (`install_app`).
    app: Option<app::App>,
}

impl GitHubState {
    fn new(settings: Settings) -> GitHubState {
        let mut state = GitHubState {
            settings,
            users: BTreeMap::new(),
            permissions: BTreeMap::new(),
            pulls: BTreeMap::new(),
            issues: BTreeMap::new(),
            comments: Vec::new(),
            reactions: Vec::new(),
            check_runs: Vec::new(),
            statuses: Vec::new(),
            deployments: Vec::new(),
            faults: Vec::new(),
            checks_forbidden: false,
            writes: BTreeMap::new(),
            requests: Vec::new(),
            racing_commit: None,
            next_id: 1_000_001,
            next_user_id: 100,
            clock: 0,
            app: None,
        };
        // github-actions[bot]'s real account id, so payloads look like the ones in the corpus.
        let bot = state.settings.bot_login.clone();
        state.users.insert(bot.clone(), User { login: bot, id: 41898282, bot: true });
        let owner = state.owner().to_string();
        state.user(&owner);
        state
    }

    fn owner(&self) -> &str {
        self.settings.repository.split('/').next().unwrap_or_default()
    }

    fn bot(&self) -> String {
        self.settings.bot_login.clone()
    }

    /// The account `login`, created on first sight.
    fn user(&mut self, login: &str) -> User {
        if let Some(user) = self.users.get(login) {
            return user.clone();
        }
        self.next_user_id += 1;
        let user =
            User { login: login.to_string(), id: self.next_user_id, bot: login.ends_with("[bot]") };
        self.users.insert(login.to_string(), user.clone());
        user
    }

    /// The number the next issue or pull request gets: they share one sequence.
    fn next_number(&self) -> u64 {
        let pulls = self.pulls.keys().next_back().copied().unwrap_or(0);
        let issues = self.issues.keys().next_back().copied().unwrap_or(0);
        pulls.max(issues) + 1
    }

    /// Whether `number` is an issue or a pull request (both take comments).
    fn has_issue_or_pull(&self, number: u64) -> bool {
        self.pulls.contains_key(&number) || self.issues.contains_key(&number)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn now(&mut self) -> String {
        self.clock += 1;
        objects::timestamp(self.clock)
    }

    fn count(&mut self, kind: &str) {
        *self.writes.entry(kind.to_string()).or_default() += 1;
    }
}

struct Shared {
    state: Mutex<GitHubState>,
    /// Folder holding `owner/name.git`.
    git_root: PathBuf,
    /// The repository itself.
    bare: PathBuf,
}

impl Shared {
    /// Lands the racing commit, if one is waiting for a push that updates one of `pushed` (the
    /// refs the push names; called after the client read the refs and before the push is
    /// received, so the push's old value is stale).
    fn land_racing_commit(&self, pushed: &[String]) -> anyhow::Result<()> {
        let race = {
            let mut state = self.lock();
            let waiting = state.racing_commit.as_ref().map(|race| &race.only_before);
            match waiting {
                None => return Ok(()),
                Some(Some(target)) if !pushed.contains(target) => return Ok(()),
                Some(_) => state.racing_commit.take(),
            }
        };
        let Some(race) = race else { return Ok(()) };
        let folder = tempfile::tempdir().context("cannot create a folder for the racing commit")?;
        for (path, content) in &race.files {
            let target = folder.path().join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, content)?;
        }
        git_http::commit_tree(
            &self.bare,
            &race.branch,
            folder.path(),
            &race.message,
            &race.author,
        )?;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, GitHubState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Moves every open same-repository pull request's head to its branch's tip (GitHub does
    /// this on every push) and keeps `refs/pull/N/head` in step.
    fn follow_heads(&self) {
        let bare = &self.bare;
        let mut state = self.lock();
        let full_name = state.settings.repository.clone();
        for pull in state.pulls.values_mut() {
            if pull.state != "open" || pull.head_repo != full_name {
                continue;
            }
            if let Ok(sha) = git_http::head_of(bare, &pull.head_ref) {
                if sha != pull.head_sha {
                    let pull_ref = format!("refs/pull/{}/head", pull.number);
                    if git_http::git(bare, &["update-ref", &pull_ref, &sha]).is_ok() {
                        pull.head_sha = sha;
                    }
                }
            }
        }
    }
}

/// A running fake GitHub; stops (and deletes its repository) when dropped.
pub struct FakeGitHub {
    server: LoopbackServer,
    shared: Arc<Shared>,
    _git_root: tempfile::TempDir,
}

impl FakeGitHub {
    /// Starts a fake GitHub with the default settings (`acme/shop`, branch `main`) on a free
    /// loopback port, with an empty repository.
    pub fn start() -> anyhow::Result<FakeGitHub> {
        FakeGitHub::start_on("127.0.0.1:0", Settings::default())
    }

    /// Starts a fake GitHub on `listen`.
    pub fn start_on(listen: &str, settings: Settings) -> anyhow::Result<FakeGitHub> {
        let Some((owner, name)) = settings.repository.split_once('/') else {
            bail!("the repository {:?} is not owner/name", settings.repository);
        };
        if owner.is_empty() || name.is_empty() || name.contains('/') {
            bail!("the repository {:?} is not owner/name", settings.repository);
        }
        let git_root = tempfile::tempdir().context("cannot create the fake GitHub's folder")?;
        let bare = git_root.path().join(format!("{}.git", settings.repository));
        git_http::init_bare(&bare, &settings.default_branch)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(GitHubState::new(settings)),
            git_root: git_root.path().to_path_buf(),
            bare,
        });
        let app = axum::Router::new().fallback(api::handle).with_state(shared.clone());
        let server = LoopbackServer::start(listen, app, "fake GitHub")?;
        Ok(FakeGitHub { server, shared, _git_root: git_root })
    }

    /// `http://127.0.0.1:PORT`: both `GITHUB_API_URL` and `GITHUB_SERVER_URL`. The API also
    /// answers under `/api/v3` as GitHub Enterprise Server does.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The fault switch in front of this fake: play a 500, a rate limit, silence, ...
    pub fn faults(&self) -> &crate::faults::FaultSwitch {
        self.server.faults()
    }

    /// `owner/name`.
    pub fn repository(&self) -> String {
        self.shared.lock().settings.repository.clone()
    }

    /// The token the fake accepts.
    pub fn token(&self) -> String {
        self.shared.lock().settings.token.clone()
    }

    /// The bot's login (the token's owner).
    pub fn bot_login(&self) -> String {
        self.shared.lock().bot()
    }

    /// The bodies of the bot's comments on issue or pull request `number`, oldest first.
    pub fn bot_comments(&self, number: u64) -> Vec<String> {
        let bot = self.bot_login();
        self.comments(number).into_iter().filter(|c| c.author == bot).map(|c| c.body).collect()
    }

    /// Installs a GitHub App on the repository: its id, its slug (the bot comments as
    /// `<slug>[bot]` when the fake's `bot_login` says so), its private key (PEM; the fake keeps
    /// only the public half) and the installation's id.
    pub fn install_app(
        &self,
        id: u64,
        slug: &str,
        private_key_pem: &str,
        installation: u64,
    ) -> anyhow::Result<()> {
        let public_key = app::public_key_of(private_key_pem)?;
        self.shared.lock().app = Some(app::App {
            id,
            slug: slug.to_string(),
            public_key,
            installation,
            tokens: Vec::new(),
        });
        Ok(())
    }

    /// How many installation tokens the App was given.
    pub fn app_tokens_issued(&self) -> usize {
        self.shared.lock().app.as_ref().map_or(0, |app| app.tokens.len())
    }

    /// The repository's default branch.
    pub fn default_branch(&self) -> String {
        self.shared.lock().settings.default_branch.clone()
    }

    /// The environment a GitHub Actions job would see for this repository.
    pub fn vars(&self) -> BTreeMap<String, String> {
        let state = self.shared.lock();
        [
            ("GITHUB_API_URL", self.url()),
            ("GITHUB_SERVER_URL", self.url()),
            ("GITHUB_REPOSITORY", state.settings.repository.clone()),
            ("GITHUB_TOKEN", state.settings.token.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The clone URL without credentials.
    pub fn clone_url(&self) -> String {
        format!("{}/{}.git", self.url(), self.repository())
    }

    /// The bare repository on disk.
    pub fn bare_path(&self) -> PathBuf {
        self.shared.bare.clone()
    }

    /// Commits every file under `files` on top of `branch` (created from the default branch
    /// when missing) as `author`; returns the commit id.
    pub fn commit_tree(
        &self,
        branch: &str,
        files: &Path,
        message: &str,
        author: &str,
    ) -> anyhow::Result<String> {
        let bare = self.bare_path();
        let default_branch = self.default_branch();
        if branch != default_branch && git_http::head_of(&bare, branch).is_err() {
            if let Ok(base) = git_http::head_of(&bare, &default_branch) {
                git_http::git(&bare, &["update-ref", &format!("refs/heads/{branch}"), &base])?;
            }
        }
        git_http::commit_tree(&bare, branch, files, message, author)
    }

    /// Commits `files` (path, content) on top of `branch` (created from the default branch
    /// when missing) as `author`; returns the commit id.
    pub fn commit(
        &self,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
        author: &str,
    ) -> anyhow::Result<String> {
        let folder = tempfile::tempdir().context("cannot create a folder for the files")?;
        for (path, content) in files {
            let target = folder.path().join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, content)
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
        self.commit_tree(branch, folder.path(), message, author)
    }

    /// The next push received (from anyone) finds `branch` moved by this commit of `author`,
    /// made just before: the pusher lost a race, as when a person pushes while the bot works.
    pub fn race_next_push(
        &self,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
        author: &str,
    ) {
        self.shared.lock().racing_commit = Some(RacingCommit {
            branch: branch.to_string(),
            files: files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect(),
            message: message.to_string(),
            author: author.to_string(),
            only_before: None,
        });
    }

    /// The next push that updates `full_ref` (`refs/nomad-spec/memory`) finds it moved by a
    /// commit of `files` on top of it, made after the pusher read the refs: its old value is
    /// stale, and the push is refused as GitHub refuses it (`cannot lock ref`). Another run
    /// that pushed the same ref first.
    pub fn race_next_push_to(
        &self,
        full_ref: &str,
        files: &[(&str, &str)],
        message: &str,
        author: &str,
    ) {
        self.shared.lock().racing_commit = Some(RacingCommit {
            branch: full_ref.to_string(),
            files: files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect(),
            message: message.to_string(),
            author: author.to_string(),
            only_before: Some(full_ref.to_string()),
        });
    }

    /// The commit `branch` points at.
    pub fn head_of(&self, branch: &str) -> anyhow::Result<String> {
        git_http::head_of(&self.bare_path(), branch)
    }

    /// `path` at `branch`, or `None`.
    pub fn read_file(&self, branch: &str, path: &str) -> Option<String> {
        git_http::read_file(&self.bare_path(), branch, path)
    }

    /// Commit subjects of `branch`, newest first.
    pub fn log_subjects(&self, branch: &str) -> anyhow::Result<Vec<String>> {
        git_http::log_subjects(&self.bare_path(), branch)
    }

    /// Makes the default branch protected: pushes to it are refused with GitHub's `GH006`.
    pub fn protect_default_branch(&self) -> anyhow::Result<()> {
        let branch = self.default_branch();
        git_http::protect_branch(&self.bare_path(), &branch, &protected_branch_message(&branch))
    }

    /// Adds a person with a role on the repository: `admin`, `maintain`, `write`, `triage`,
    /// `read` or `none`. People never added are not collaborators (404).
    pub fn add_user(&self, login: &str, role: &str) {
        let mut state = self.shared.lock();
        state.user(login);
        state.permissions.insert(login.to_string(), role.to_string());
    }

    /// Opens a pull request from `head_branch` (which must exist) into the default branch;
    /// returns its number. `refs/pull/N/head` points at the head, as on GitHub.
    pub fn open_pull_request(
        &self,
        head_branch: &str,
        title: &str,
        author: &str,
    ) -> anyhow::Result<u64> {
        let bare = self.bare_path();
        let sha = git_http::head_of(&bare, head_branch)
            .with_context(|| format!("the branch {head_branch} does not exist"))?;
        let repository = self.repository();
        self.add_pull(&bare, head_branch, &sha, &repository, title, author)
    }

    /// Opens a pull request from a fork (`fork` is its `owner/name`) whose head commit adds
    /// `files` on top of the default branch; returns its number. The commit exists in the base
    /// repository only under `refs/pull/N/head`.
    pub fn open_fork_pull_request(
        &self,
        fork: &str,
        head_branch: &str,
        files: &[(&str, &str)],
        title: &str,
        author: &str,
    ) -> anyhow::Result<u64> {
        let bare = self.bare_path();
        let scratch = format!("fake-github-fork-{}", self.shared.lock().id());
        let sha = self.commit(&scratch, files, title, author)?;
        git_http::git(&bare, &["update-ref", "-d", &format!("refs/heads/{scratch}")])?;
        self.add_pull(&bare, head_branch, &sha, fork, title, author)
    }

    fn add_pull(
        &self,
        bare: &Path,
        head_ref: &str,
        head_sha: &str,
        head_repo: &str,
        title: &str,
        author: &str,
    ) -> anyhow::Result<u64> {
        let mut state = self.shared.lock();
        state.user(author);
        let number = state.next_number();
        git_http::git(bare, &["update-ref", &format!("refs/pull/{number}/head"), head_sha])?;
        let now = state.now();
        let pull = Pull {
            number,
            title: title.to_string(),
            body: String::new(),
            author: author.to_string(),
            head_ref: head_ref.to_string(),
            head_sha: head_sha.to_string(),
            head_repo: head_repo.to_string(),
            base_ref: state.settings.default_branch.clone(),
            draft: false,
            state: "open".into(),
            merged: false,
            merge_commit_sha: None,
            created_at: now.clone(),
            updated_at: now,
        };
        state.pulls.insert(number, pull);
        Ok(number)
    }

    /// Marks a pull request draft or ready.
    pub fn set_draft(&self, number: u64, draft: bool) {
        if let Some(pull) = self.shared.lock().pulls.get_mut(&number) {
            pull.draft = draft;
        }
    }

    /// Merges a pull request the way GitHub's merge button does: a merge commit of its head
    /// on the base branch (allowed even when the branch is protected); returns its id.
    pub fn merge_pull_request(&self, number: u64) -> anyhow::Result<String> {
        self.shared.follow_heads();
        let bare = self.bare_path();
        let pull =
            self.shared.lock().pulls.get(&number).cloned().context("no such pull request")?;
        if pull.state != "open" {
            bail!("pull request #{number} is {}", pull.state);
        }
        let base = git_http::head_of(&bare, &pull.base_ref)?;
        let work = tempfile::tempdir().context("cannot create a work folder")?;
        let dir = work.path();
        let bare_url = bare.to_string_lossy().to_string();
        git_http::git(dir, &["init", "--quiet"])?;
        git_http::git(dir, &["remote", "add", "origin", &bare_url])?;
        let pull_ref = format!("refs/pull/{number}/head");
        git_http::git(dir, &["fetch", "--quiet", "origin", &base, &pull_ref])?;
        git_http::git(dir, &["checkout", "--quiet", "--detach", &base])?;
        let owner = pull.head_repo.split('/').next().unwrap_or_default();
        let message = format!(
            "Merge pull request #{number} from {owner}/{}\n\n{}",
            pull.head_ref, pull.title
        );
        git_http::git(
            dir,
            &[
                "-c",
                "user.name=GitHub",
                "-c",
                "user.email=noreply@github.com",
                "merge",
                "--quiet",
                "--no-ff",
                "-m",
                &message,
                &pull.head_sha,
            ],
        )?;
        let sha = git_http::git(dir, &["rev-parse", "HEAD"])?.trim().to_string();
        // A scratch ref first (hooks guard only branches), then the branch moves inside the
        // bare repository, past the protected-branch hook as GitHub's own merge does.
        let scratch = format!("refs/fake-github/merge-{number}");
        git_http::git(dir, &["push", "--quiet", "origin", &format!("HEAD:{scratch}")])?;
        git_http::git(&bare, &["update-ref", &format!("refs/heads/{}", pull.base_ref), &sha])?;
        git_http::git(&bare, &["update-ref", "-d", &scratch])?;
        let mut state = self.shared.lock();
        let now = state.now();
        if let Some(pull) = state.pulls.get_mut(&number) {
            pull.state = "closed".into();
            pull.merged = true;
            pull.merge_commit_sha = Some(sha.clone());
            pull.updated_at = now;
        }
        Ok(sha)
    }

    /// Posts a comment on a pull request or an issue as `login`; returns its id.
    pub fn post_comment(&self, number: u64, login: &str, body: &str) -> anyhow::Result<u64> {
        let mut state = self.shared.lock();
        if !state.pulls.contains_key(&number) && !state.issues.contains_key(&number) {
            bail!("there is no pull request or issue #{number}");
        }
        state.user(login);
        let id = state.id();
        let now = state.now();
        state.comments.push(Comment {
            id,
            number,
            author: login.to_string(),
            body: body.to_string(),
            previous_body: None,
            created_at: now.clone(),
            updated_at: now,
        });
        Ok(id)
    }

    /// Replaces a comment's body (a person editing it, ticking a box say).
    pub fn edit_comment(&self, id: u64, body: &str) -> anyhow::Result<()> {
        let mut state = self.shared.lock();
        let now = state.now();
        let comment =
            state.comments.iter_mut().find(|c| c.id == id).context("there is no such comment")?;
        comment.previous_body = Some(std::mem::replace(&mut comment.body, body.to_string()));
        comment.updated_at = now;
        Ok(())
    }

    /// A pull request as the fake has it now.
    pub fn pull(&self, number: u64) -> Option<Pull> {
        self.shared.follow_heads();
        self.shared.lock().pulls.get(&number).cloned()
    }

    /// Pull requests opened by the bot, oldest first.
    pub fn pulls_by_bot(&self) -> Vec<Pull> {
        let state = self.shared.lock();
        let bot = state.bot();
        state.pulls.values().filter(|p| p.author == bot).cloned().collect()
    }

    /// The issues (not pull requests), by number.
    pub fn issues(&self) -> Vec<Issue> {
        self.shared.lock().issues.values().cloned().collect()
    }

    /// Opens an issue as `login` would; returns its number.
    pub fn open_issue(&self, login: &str, title: &str, body: &str) -> u64 {
        let mut state = self.shared.lock();
        state.user(login);
        let number = state.next_number();
        let now = state.now();
        let issue = Issue {
            number,
            title: title.to_string(),
            body: body.to_string(),
            author: login.to_string(),
            state: "open".into(),
            created_at: now.clone(),
            updated_at: now,
        };
        state.issues.insert(number, issue);
        number
    }

    /// The comments on a pull request, oldest first.
    pub fn comments(&self, number: u64) -> Vec<Comment> {
        self.shared.lock().comments.iter().filter(|c| c.number == number).cloned().collect()
    }

    /// The reactions to a comment, oldest first.
    pub fn reactions(&self, comment_id: u64) -> Vec<Reaction> {
        let state = self.shared.lock();
        state.reactions.iter().filter(|r| r.comment_id == comment_id).cloned().collect()
    }

    /// The check runs on a commit, oldest first.
    pub fn check_runs(&self, sha: &str) -> Vec<CheckRun> {
        self.shared.lock().check_runs.iter().filter(|c| c.head_sha == sha).cloned().collect()
    }

    /// The commit statuses on a commit, oldest first.
    pub fn statuses(&self, sha: &str) -> Vec<CommitStatus> {
        self.shared.lock().statuses.iter().filter(|s| s.sha == sha).cloned().collect()
    }

    /// Every deployment, oldest first.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.shared.lock().deployments.clone()
    }

    /// Successful write requests by kind: `create_comment`, `edit_comment`, `create_reaction`,
    /// `create_check_run`, `update_check_run`, `create_status`, `create_deployment`,
    /// `create_deployment_status`, `create_pull`.
    pub fn writes(&self) -> BTreeMap<String, u64> {
        self.shared.lock().writes.clone()
    }

    /// How many successful writes of `kind` there were.
    pub fn write_count(&self, kind: &str) -> u64 {
        self.shared.lock().writes.get(kind).copied().unwrap_or(0)
    }

    /// Every request as `METHOD /path?query`, in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.lock().requests.clone()
    }

    /// The next `count` requests whose path starts with `path_prefix` (`/repos/acme/shop/issues`,
    /// without any `/api/v3`) answer with `fault`.
    pub fn fail_next(&self, count: u32, path_prefix: &str, fault: Fault) {
        self.shared.lock().faults.push(FaultRule {
            path_prefix: path_prefix.to_string(),
            remaining: count,
            fault,
        });
    }

    /// Takes `checks: write` (and read) away from the token: every check-run request answers
    /// 403 `Resource not accessible by integration`, as for a workflow without that permission.
    pub fn forbid_check_runs(&self, forbidden: bool) {
        self.shared.lock().checks_forbidden = forbidden;
    }
}
