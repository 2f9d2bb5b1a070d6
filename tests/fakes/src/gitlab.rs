//! A stateful fake of a self-managed GitLab: the REST API v4 calls the bot makes, token
//! checks, and real git smart-HTTP over bare repositories, on one loopback port.
//!
//! It owns GitLab's state for one project (and the forks merge requests come from): users and
//! their access levels, access tokens, merge requests with `refs/merge-requests/<iid>/head`,
//! notes, award emoji, commit statuses, deployments, issues (the drift issue, and notes on them),
//! protected branches, the push options every push carried, counts of writes by kind, and
//! scripted faults (`429` with `Retry-After`, `500`). The API answers under `/api/v4` in the
//! shapes of GitLab's REST API pages (cited at each handler); git is served under
//! `/<namespace>/<project>.git/` by `git http-backend` ([`crate::git_http`]) after HTTP basic
//! auth with a token as the password, as `CI_SERVER_URL` would be. The bot is pointed at it
//! through `CI_API_V4_URL` and `CI_SERVER_URL`; [`FakeGitLab::mr_pipeline_vars`] and its
//! siblings give the variables of a GitLab CI job that reflect the fake's state.
//!
//! Authentication: `PRIVATE-TOKEN: <token>` or `Authorization: Bearer <token>` acts as the
//! token's user; `JOB-TOKEN` (the job token) may read the project but write nothing; anything
//! else is `401 Unauthorized`. Git needs a token as the basic-auth password (any user name,
//! `oauth2` or `gitlab-ci-token` by custom) and Developer access to push.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::git_http::{self, git};
use crate::server::LoopbackServer;

/// GitLab's words when a push to a protected branch is refused.
pub const PROTECTED_BRANCH_MESSAGE: &str =
    "You are not allowed to push code to protected branches on this project.";

/// Access levels (<https://docs.gitlab.com/api/members/#roles>).
pub const GUEST: u32 = 10;
pub const REPORTER: u32 = 20;
pub const DEVELOPER: u32 = 30;
pub const MAINTAINER: u32 = 40;
pub const OWNER: u32 = 50;

/// A project (the main one, or a fork a merge request comes from).
#[derive(Debug, Clone)]
pub struct Project {
    pub id: u64,
    /// `acme/shop`.
    pub path: String,
    pub default_branch: String,
    /// The bare repository.
    pub bare: PathBuf,
    /// Branches pushes may not touch.
    pub protected: Vec<String>,
}

/// A user (people and project access token bots).
#[derive(Debug, Clone)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub bot: bool,
}

/// A merge request of the main project.
#[derive(Debug, Clone)]
pub struct MergeRequest {
    pub id: u64,
    pub iid: u64,
    pub source_project_id: u64,
    pub source_branch: String,
    pub target_branch: String,
    pub title: String,
    pub description: String,
    pub author_id: u64,
    /// `opened`, `merged` or `closed`.
    pub state: String,
    pub draft: bool,
    /// Head of the source branch.
    pub sha: String,
    /// Head of the target branch when the merge request was opened.
    pub base_sha: String,
    pub merge_commit_sha: Option<String>,
    pub merged_by: Option<u64>,
    pub created_at: String,
}

/// What a note is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noteable {
    MergeRequest(u64),
    Issue(u64),
}

/// A note (comment).
#[derive(Debug, Clone)]
pub struct Note {
    pub id: u64,
    pub on: Noteable,
    pub author_id: u64,
    pub body: String,
    /// GitLab's own notes ("added 1 commit").
    pub system: bool,
    pub created_at: String,
    pub updated_at: String,
    /// `create` or `update`: what the last change to it was, for its webhook event.
    pub last_action: String,
}

/// An issue of the main project.
#[derive(Debug, Clone)]
pub struct Issue {
    pub iid: u64,
    pub title: String,
    pub description: String,
    pub author_id: u64,
    /// `opened` or `closed`.
    pub state: String,
    pub updated_at: String,
}

/// An award emoji on a note.
#[derive(Debug, Clone)]
pub struct Award {
    pub id: u64,
    pub note_id: u64,
    pub user_id: u64,
    pub name: String,
}

/// A commit status.
#[derive(Debug, Clone)]
pub struct CommitStatus {
    pub id: u64,
    pub sha: String,
    pub name: String,
    /// `pending`, `running`, `success`, `failed`, `canceled` or `skipped`.
    pub state: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub author_id: u64,
}

/// A deployment.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: u64,
    pub iid: u64,
    pub environment: String,
    pub sha: String,
    pub git_ref: String,
    /// `running`, `success`, `failed` or `canceled`.
    pub status: String,
    pub user_id: u64,
    /// Every status it had, in order.
    pub history: Vec<String>,
}

/// A scripted failure of the next API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `429 Too Many Requests` with `Retry-After` seconds (and `RateLimit-*` headers).
    RateLimited { retry_after: u64 },
    /// `500 Internal Server Error`.
    ServerError,
}

/// Everything the fake GitLab knows.
#[derive(Debug, Default)]
pub struct GitLabState {
    /// Where the bare repositories live (`<root>/<path>.git`).
    pub root: PathBuf,
    /// The first project is the main one.
    pub projects: Vec<Project>,
    pub users: Vec<User>,
    /// (project id, user id) → access level.
    pub members: BTreeMap<(u64, u64), u32>,
    /// Access token → user id.
    pub tokens: BTreeMap<String, u64>,
    /// The CI job token of the main project.
    pub job_token: String,
    pub merge_requests: Vec<MergeRequest>,
    /// Issues of the main project.
    pub issues: Vec<Issue>,
    pub notes: Vec<Note>,
    pub awards: Vec<Award>,
    /// Every status set, oldest first (GitLab shows the latest per name).
    pub statuses: Vec<CommitStatus>,
    pub deployments: Vec<Deployment>,
    /// Writes by kind (`note_created`, `note_edited`, `award`, `status`,
    /// `deployment_created`, `deployment_updated`, `merge_request_created`).
    pub writes: BTreeMap<String, u32>,
    /// Faults to answer the next API requests with, in order.
    pub faults: VecDeque<Fault>,
    /// `METHOD /api/v4/...` of every API request, in order.
    pub requests: Vec<String>,
    next_id: u64,
    clock: u64,
}

impl GitLabState {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A timestamp that grows with every call, in GitLab's format.
    fn now(&mut self) -> String {
        self.clock += 1;
        let n = self.clock;
        format!(
            "2025-03-0{}T{:02}:{:02}:{:02}.000Z",
            1 + n / 86_400 % 9,
            n / 3600 % 24,
            n / 60 % 60,
            n % 60
        )
    }

    fn count(&mut self, kind: &str) {
        *self.writes.entry(kind.to_string()).or_default() += 1;
    }

    /// The main project.
    pub fn project(&self) -> &Project {
        &self.projects[0]
    }

    fn project_by(&self, key: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id.to_string() == key || p.path == key)
    }

    fn user(&self, id: u64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    fn user_named(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username.eq_ignore_ascii_case(username))
    }

    fn level(&self, project: u64, user: u64) -> u32 {
        self.members.get(&(project, user)).copied().unwrap_or(0)
    }

    fn merge_request(&self, iid: u64) -> Option<&MergeRequest> {
        self.merge_requests.iter().find(|mr| mr.iid == iid)
    }

    fn next_iid(&self) -> u64 {
        let mrs = self.merge_requests.iter().map(|mr| mr.iid);
        mrs.max().unwrap_or(0) + 1
    }

    /// Reads every open merge request's head again after a push (GitLab does it on push).
    fn refresh_merge_requests(&mut self) {
        let main = self.project().clone();
        for index in 0..self.merge_requests.len() {
            let mr = &self.merge_requests[index];
            if mr.state != "opened" {
                continue;
            }
            let Some(source) = self.projects.iter().find(|p| p.id == mr.source_project_id) else {
                continue;
            };
            if let Ok(head) = git_http::head_of(&source.bare, &mr.source_branch) {
                if head != mr.sha {
                    let _ = publish_head(&main.bare, &source.bare, &mr.source_branch, mr.iid);
                    self.merge_requests[index].sha = head;
                }
            }
        }
    }
}

type Shared = Arc<Mutex<GitLabState>>;

/// A running fake GitLab with one project.
pub struct FakeGitLab {
    server: LoopbackServer,
    state: Shared,
    /// Holds the repositories and payload files; removed on drop.
    _root: tempfile::TempDir,
}

impl FakeGitLab {
    /// Starts a fake GitLab on a free loopback port with the project `path` (`acme/shop`),
    /// whose `default_branch` holds the files of `seed` in one commit.
    pub fn start(path: &str, default_branch: &str, seed: &Path) -> anyhow::Result<FakeGitLab> {
        FakeGitLab::start_on("127.0.0.1:0", path, default_branch, seed)
    }

    /// Starts it on `listen`.
    pub fn start_on(
        listen: &str,
        path: &str,
        default_branch: &str,
        seed: &Path,
    ) -> anyhow::Result<FakeGitLab> {
        if path.split('/').count() < 2 || path.split('/').any(|part| part.is_empty()) {
            bail!("a project path is `namespace/name`, not {path:?}");
        }
        let root = tempfile::tempdir().context("cannot create the fake GitLab's folder")?;
        let bare = root.path().join("repos").join(format!("{path}.git"));
        git_http::init_bare(&bare, default_branch)?;
        install_push_option_log(&bare)?;
        git_http::commit_tree(&bare, default_branch, seed, "Initial commit", "Administrator")?;
        let mut state = GitLabState {
            root: root.path().to_path_buf(),
            next_id: 40,
            job_token: "glcbt-fake-job-token".into(),
            ..GitLabState::default()
        };
        let id = state.id();
        state.projects.push(Project {
            id,
            path: path.to_string(),
            default_branch: default_branch.to_string(),
            bare,
            protected: Vec::new(),
        });
        let state = Arc::new(Mutex::new(state));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let server = LoopbackServer::start(listen, app, "fake GitLab")?;
        Ok(FakeGitLab { server, state, _root: root })
    }

    fn lock(&self) -> MutexGuard<'_, GitLabState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `http://127.0.0.1:PORT`, the value of `CI_SERVER_URL`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The fault switch in front of this fake: play a 500, a rate limit, silence, ...
    pub fn faults(&self) -> &crate::faults::FaultSwitch {
        self.server.faults()
    }

    /// `http://127.0.0.1:PORT/api/v4`, the value of `CI_API_V4_URL`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.server.url())
    }

    /// The main project.
    pub fn project(&self) -> Project {
        self.lock().project().clone()
    }

    /// The clone URL of the main project (no credentials).
    pub fn clone_url(&self) -> String {
        format!("{}/{}.git", self.url(), self.project().path)
    }

    /// The CI job token of the main project.
    pub fn job_token(&self) -> String {
        self.lock().job_token.clone()
    }

    /// Adds a person with `access_level` on the project (`None`: not a member); returns a
    /// personal access token of theirs.
    pub fn add_user(&self, username: &str, access_level: Option<u32>) -> String {
        let mut state = self.lock();
        let id = state.id();
        state.users.push(User {
            id,
            username: username.to_string(),
            name: username.to_string(),
            bot: false,
        });
        let project = state.project().id;
        if let Some(level) = access_level {
            state.members.insert((project, id), level);
        }
        let token = format!("glpat-{username}-{id}");
        state.tokens.insert(token.clone(), id);
        token
    }

    /// Adds a project access token with `access_level`: its bot user is
    /// `project_<id>_bot_<suffix>`. Returns (bot username, token).
    pub fn add_project_access_token(&self, access_level: u32) -> (String, String) {
        let mut state = self.lock();
        let id = state.id();
        let project = state.project().id;
        let username = format!("project_{project}_bot_{:x}", 0x5eed_u64 * id);
        state.users.push(User {
            id,
            username: username.clone(),
            name: "nomad-spec".into(),
            bot: true,
        });
        state.members.insert((project, id), access_level);
        let token = format!("glpat-bot{id}-fake");
        state.tokens.insert(token.clone(), id);
        (username, token)
    }

    /// A token of `username` (their first).
    pub fn token_of(&self, username: &str) -> Option<String> {
        let state = self.lock();
        let user = state.user_named(username)?.id;
        state.tokens.iter().find(|(_, id)| **id == user).map(|(token, _)| token.clone())
    }

    /// Commits the files of `files` to `branch` of the main project as `author` (cutting the
    /// branch from the default branch when it is new); returns the new head.
    pub fn commit_to_branch(
        &self,
        branch: &str,
        files: &Path,
        message: &str,
        author: &str,
    ) -> anyhow::Result<String> {
        let project = self.project();
        if git_http::head_of(&project.bare, branch).is_err() {
            let base = git_http::head_of(&project.bare, &project.default_branch)?;
            git(&project.bare, &["update-ref", &format!("refs/heads/{branch}"), &base])?;
        }
        let head = git_http::commit_tree(&project.bare, branch, files, message, author)?;
        self.lock().refresh_merge_requests();
        Ok(head)
    }

    /// Opens a merge request by `author` from a new branch `branch` (cut from the default
    /// branch) carrying the files of `files` in one commit; returns its iid.
    pub fn open_merge_request(
        &self,
        author: &str,
        branch: &str,
        files: &Path,
        title: &str,
    ) -> anyhow::Result<u64> {
        let project = self.project();
        let base = git_http::head_of(&project.bare, &project.default_branch)?;
        git(&project.bare, &["update-ref", &format!("refs/heads/{branch}"), &base])?;
        git_http::commit_tree(&project.bare, branch, files, title, author)?;
        self.record_merge_request(author, project.id, branch, title, base)
    }

    /// Opens a merge request by `author` from their fork (`<author>/<name>`, created here)
    /// whose `branch` carries the files of `files`; returns its iid.
    pub fn open_fork_merge_request(
        &self,
        author: &str,
        branch: &str,
        files: &Path,
        title: &str,
    ) -> anyhow::Result<u64> {
        let main = self.project();
        let name = main.path.rsplit('/').next().unwrap_or("project");
        let fork_path = format!("{author}/{name}");
        let root = self.lock().root.clone();
        let fork_bare = root.join("repos").join(format!("{fork_path}.git"));
        if let Some(parent) = fork_bare.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let main_bare = main.bare.to_string_lossy().to_string();
        let fork_text = fork_bare.to_string_lossy().to_string();
        git(&root, &["clone", "--quiet", "--bare", &main_bare, &fork_text])?;
        git(&fork_bare, &["config", "http.receivepack", "true"])?;
        let base = git_http::head_of(&main.bare, &main.default_branch)?;
        git(&fork_bare, &["update-ref", &format!("refs/heads/{branch}"), &base])?;
        git_http::commit_tree(&fork_bare, branch, files, title, author)?;
        let fork_id = {
            let mut state = self.lock();
            let id = state.id();
            state.projects.push(Project {
                id,
                path: fork_path,
                default_branch: main.default_branch.clone(),
                bare: fork_bare,
                protected: Vec::new(),
            });
            if let Some(user) = state.user_named(author).map(|u| u.id) {
                state.members.insert((id, user), OWNER);
            }
            id
        };
        self.record_merge_request(author, fork_id, branch, title, base)
    }

    fn record_merge_request(
        &self,
        author: &str,
        source_project_id: u64,
        branch: &str,
        title: &str,
        base_sha: String,
    ) -> anyhow::Result<u64> {
        let mut state = self.lock();
        let author_id = state.user_named(author).map(|u| u.id).context("no such user")?;
        let main = state.project().clone();
        let source = state
            .projects
            .iter()
            .find(|p| p.id == source_project_id)
            .context("no such project")?
            .clone();
        let iid = state.next_iid();
        let sha = publish_head(&main.bare, &source.bare, branch, iid)?;
        let id = state.id();
        let created_at = state.now();
        state.merge_requests.push(MergeRequest {
            id,
            iid,
            source_project_id,
            source_branch: branch.to_string(),
            target_branch: main.default_branch.clone(),
            title: title.to_string(),
            description: String::new(),
            author_id,
            state: "opened".into(),
            draft: title.to_ascii_lowercase().starts_with("draft:"),
            sha,
            base_sha,
            merge_commit_sha: None,
            merged_by: None,
            created_at,
        });
        Ok(iid)
    }

    /// Adds a commit with the files of `files` to the merge request's source branch; returns
    /// the new head.
    pub fn push_to_merge_request(
        &self,
        iid: u64,
        files: &Path,
        message: &str,
    ) -> anyhow::Result<String> {
        let (source, branch, author) = {
            let state = self.lock();
            let mr = state.merge_request(iid).context("no such merge request")?;
            let source = state.projects.iter().find(|p| p.id == mr.source_project_id);
            let author = state.user(mr.author_id).map(|u| u.username.clone());
            (source.context("no source project")?.clone(), mr.source_branch.clone(), author)
        };
        let author = author.unwrap_or_else(|| "someone".into());
        let head = git_http::commit_tree(&source.bare, &branch, files, message, &author)?;
        self.lock().refresh_merge_requests();
        Ok(head)
    }

    /// Marks a merge request draft or ready.
    pub fn set_draft(&self, iid: u64, draft: bool) {
        let mut state = self.lock();
        if let Some(mr) = state.merge_requests.iter_mut().find(|mr| mr.iid == iid) {
            mr.draft = draft;
        }
    }

    /// `author` writes a note on merge request `iid`; returns its id.
    pub fn post_note(&self, author: &str, iid: u64, body: &str) -> anyhow::Result<u64> {
        let mut state = self.lock();
        let author_id = state.user_named(author).map(|u| u.id).context("no such user")?;
        state.merge_request(iid).context("no such merge request")?;
        Ok(add_note(&mut state, Noteable::MergeRequest(iid), author_id, body, false))
    }

    /// GitLab writes a system note on merge request `iid` ("added 1 commit").
    pub fn post_system_note(&self, iid: u64, body: &str) -> u64 {
        let mut state = self.lock();
        let author = state.merge_request(iid).map(|mr| mr.author_id).unwrap_or_default();
        add_note(&mut state, Noteable::MergeRequest(iid), author, body, true)
    }

    /// Opens an issue (by the first user); returns its iid.
    pub fn add_issue(&self, title: &str) -> u64 {
        let mut state = self.lock();
        let author_id = state.users.first().map(|u| u.id).unwrap_or_default();
        let iid = state.issues.len() as u64 + 1;
        let now = state.now();
        state.issues.push(Issue {
            iid,
            title: title.to_string(),
            description: String::new(),
            author_id,
            state: "opened".into(),
            updated_at: now,
        });
        iid
    }

    /// The main project's issues, by iid.
    pub fn issues(&self) -> Vec<Issue> {
        self.lock().issues.clone()
    }

    /// `author` writes a note on issue `iid`; returns its id.
    pub fn post_issue_note(&self, author: &str, iid: u64, body: &str) -> anyhow::Result<u64> {
        let mut state = self.lock();
        let author_id = state.user_named(author).map(|u| u.id).context("no such user")?;
        Ok(add_note(&mut state, Noteable::Issue(iid), author_id, body, false))
    }

    /// The note's author edits it.
    pub fn edit_note(&self, note_id: u64, body: &str) -> anyhow::Result<()> {
        let mut state = self.lock();
        let now = state.now();
        let note = state.notes.iter_mut().find(|n| n.id == note_id).context("no such note")?;
        note.body = body.to_string();
        note.updated_at = now;
        note.last_action = "update".into();
        Ok(())
    }

    /// Merges merge request `iid` as `by` with a merge commit on the target branch (protected
    /// or not, as a maintainer's merge); returns the merge commit.
    pub fn merge(&self, iid: u64, by: &str) -> anyhow::Result<String> {
        let (main, mr, by_id, by_name) = {
            let state = self.lock();
            let mr = state.merge_request(iid).context("no such merge request")?.clone();
            if mr.state != "opened" {
                bail!("merge request !{iid} is {}", mr.state);
            }
            let user = state.user_named(by).context("no such user")?;
            (state.project().clone(), mr, user.id, user.name.clone())
        };
        let work = tempfile::tempdir().context("cannot create a merge folder")?;
        let clone = work.path().join("merge");
        let bare = main.bare.to_string_lossy().to_string();
        let clone_text = clone.to_string_lossy().to_string();
        git(work.path(), &["clone", "--quiet", "--branch", &mr.target_branch, &bare, &clone_text])?;
        let head_ref = format!("refs/merge-requests/{iid}/head");
        git(&clone, &["fetch", "--quiet", "origin", &head_ref])?;
        let message = format!(
            "Merge branch '{}' into '{}'\n\n{}\n\nSee merge request {}!{iid}",
            mr.source_branch, mr.target_branch, mr.title, main.path
        );
        let email = format!("{by}@users.noreply.example");
        git(
            &clone,
            &[
                "-c",
                &format!("user.name={by_name}"),
                "-c",
                &format!("user.email={email}"),
                "merge",
                "--quiet",
                "--no-ff",
                "-m",
                &message,
                "FETCH_HEAD",
            ],
        )?;
        let merge = git(&clone, &["rev-parse", "HEAD"])?.trim().to_string();
        // Fetched from the server side, so no push hook (protection, push options) runs.
        git(
            &main.bare,
            &["fetch", "--quiet", &clone_text, &format!("HEAD:refs/fake/merge-{iid}")],
        )?;
        git(&main.bare, &["update-ref", &format!("refs/heads/{}", mr.target_branch), &merge])?;
        git(&main.bare, &["update-ref", "-d", &format!("refs/fake/merge-{iid}")])?;
        let mut state = self.lock();
        if let Some(mr) = state.merge_requests.iter_mut().find(|m| m.iid == iid) {
            mr.state = "merged".into();
            mr.merge_commit_sha = Some(merge.clone());
            mr.merged_by = Some(by_id);
        }
        Ok(merge)
    }

    /// Protects `branch` of the main project: pushes to it are refused with GitLab's words.
    pub fn protect_branch(&self, branch: &str) -> anyhow::Result<()> {
        let mut state = self.lock();
        let project = &mut state.projects[0];
        git_http::protect_branch(
            &project.bare,
            branch,
            &format!("GitLab: {PROTECTED_BRANCH_MESSAGE}"),
        )?;
        project.protected.push(branch.to_string());
        Ok(())
    }

    /// The head of `branch` in the main project.
    pub fn head_of(&self, branch: &str) -> anyhow::Result<String> {
        git_http::head_of(&self.project().bare, branch)
    }

    /// A merge request as the fake has it.
    pub fn merge_request(&self, iid: u64) -> Option<MergeRequest> {
        self.lock().merge_request(iid).cloned()
    }

    /// Merge requests opened by `username`, oldest first.
    pub fn merge_requests_by(&self, username: &str) -> Vec<MergeRequest> {
        let state = self.lock();
        let Some(user) = state.user_named(username).map(|u| u.id) else { return Vec::new() };
        state.merge_requests.iter().filter(|mr| mr.author_id == user).cloned().collect()
    }

    /// The non-system notes of merge request `iid` as (author username, body), oldest first.
    pub fn notes(&self, iid: u64) -> Vec<(String, String)> {
        let state = self.lock();
        state
            .notes
            .iter()
            .filter(|n| n.on == Noteable::MergeRequest(iid) && !n.system)
            .map(|n| {
                let author = state.user(n.author_id).map(|u| u.username.clone());
                (author.unwrap_or_default(), n.body.clone())
            })
            .collect()
    }

    /// The notes on issue `iid` as (author username, body), oldest first, system notes left
    /// out.
    pub fn issue_notes(&self, iid: u64) -> Vec<(String, String)> {
        let state = self.lock();
        state
            .notes
            .iter()
            .filter(|n| n.on == Noteable::Issue(iid) && !n.system)
            .map(|n| {
                let author = state.user(n.author_id).map(|u| u.username.clone());
                (author.unwrap_or_default(), n.body.clone())
            })
            .collect()
    }

    /// A note by id.
    pub fn note(&self, id: u64) -> Option<Note> {
        self.lock().notes.iter().find(|n| n.id == id).cloned()
    }

    /// The award emoji on a note as (username, emoji name).
    pub fn awards(&self, note_id: u64) -> Vec<(String, String)> {
        let state = self.lock();
        state
            .awards
            .iter()
            .filter(|a| a.note_id == note_id)
            .map(|a| {
                let user = state.user(a.user_id).map(|u| u.username.clone());
                (user.unwrap_or_default(), a.name.clone())
            })
            .collect()
    }

    /// The latest commit status of each name on `sha`, by name.
    pub fn statuses(&self, sha: &str) -> BTreeMap<String, CommitStatus> {
        let state = self.lock();
        let mut latest = BTreeMap::new();
        for status in state.statuses.iter().filter(|s| s.sha == sha) {
            latest.insert(status.name.clone(), status.clone());
        }
        latest
    }

    /// Every deployment, oldest first.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.lock().deployments.clone()
    }

    /// How many writes of `kind` were made (see [`GitLabState::writes`]).
    pub fn writes(&self, kind: &str) -> u32 {
        self.lock().writes.get(kind).copied().unwrap_or(0)
    }

    /// The push options of every push accepted over HTTP by the main project, oldest first.
    pub fn push_options(&self) -> Vec<Vec<String>> {
        let log = std::fs::read_to_string(self.project().bare.join(PUSH_OPTION_LOG));
        log.unwrap_or_default()
            .lines()
            .map(|line| line.split('\t').filter(|o| !o.is_empty()).map(str::to_string).collect())
            .collect()
    }

    /// `METHOD /api/v4/...` of every API request so far.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// The next `count` API requests fail with `fault`.
    pub fn fail_next(&self, count: usize, fault: Fault) {
        let mut state = self.lock();
        state.faults.extend(std::iter::repeat_n(fault, count));
    }

    /// Changes the state directly.
    pub fn change(&self, f: impl FnOnce(&mut GitLabState)) {
        f(&mut self.lock());
    }

    /// The variables every job of the main project has, with the bot's write token when a
    /// project access token exists.
    fn job_vars(&self, project: &Project) -> BTreeMap<String, String> {
        let state = self.lock();
        let (namespace, name) = project.path.rsplit_once('/').unwrap_or(("", &project.path));
        let mut vars = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            vars.insert(k.to_string(), v.to_string());
        };
        set("CI", "true");
        set("GITLAB_CI", "true");
        set("CI_SERVER_URL", &self.url());
        set("CI_API_V4_URL", &self.api_url());
        set("CI_PROJECT_ID", &project.id.to_string());
        set("CI_PROJECT_PATH", &project.path);
        set("CI_PROJECT_NAMESPACE", namespace);
        set("CI_PROJECT_NAME", name);
        set("CI_PROJECT_URL", &format!("{}/{}", self.url(), project.path));
        set("CI_DEFAULT_BRANCH", &project.default_branch);
        set("CI_JOB_TOKEN", &state.job_token);
        // Project variables are not given to pipelines that run in a fork.
        if project.id == state.project().id {
            let bot = state.users.iter().find(|u| u.bot).map(|u| u.id);
            if let Some(token) =
                state.tokens.iter().find(|(_, id)| Some(**id) == bot).map(|(t, _)| t.clone())
            {
                set("NOMAD_SPEC_GITLAB_TOKEN", &token);
            }
        }
        vars
    }

    /// The variables of the merge request pipeline of `iid` now (a fork's runs in the fork,
    /// without the project's variables, as GitLab does by default).
    pub fn mr_pipeline_vars(&self, iid: u64) -> anyhow::Result<BTreeMap<String, String>> {
        let (mr, main, source, author) = {
            let state = self.lock();
            let mr = state.merge_request(iid).context("no such merge request")?.clone();
            let source = state.projects.iter().find(|p| p.id == mr.source_project_id).cloned();
            let author = state.user(mr.author_id).map(|u| u.username.clone()).unwrap_or_default();
            (mr, state.project().clone(), source.context("no source project")?, author)
        };
        let mut vars = self.job_vars(&source);
        let mut set = |k: &str, v: String| {
            vars.insert(k.to_string(), v);
        };
        set("CI_PIPELINE_SOURCE", "merge_request_event".into());
        set("CI_COMMIT_SHA", mr.sha.clone());
        set("CI_COMMIT_REF_NAME", mr.source_branch.clone());
        set("CI_MERGE_REQUEST_ID", mr.id.to_string());
        set("CI_MERGE_REQUEST_IID", mr.iid.to_string());
        set("CI_MERGE_REQUEST_PROJECT_ID", main.id.to_string());
        set("CI_MERGE_REQUEST_PROJECT_PATH", main.path.clone());
        set("CI_MERGE_REQUEST_PROJECT_URL", format!("{}/{}", self.url(), main.path));
        set("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", source.id.to_string());
        set("CI_MERGE_REQUEST_SOURCE_PROJECT_PATH", source.path.clone());
        set("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", mr.source_branch.clone());
        set("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", mr.target_branch.clone());
        set("CI_MERGE_REQUEST_DIFF_BASE_SHA", mr.base_sha.clone());
        set("CI_MERGE_REQUEST_TITLE", mr.title.clone());
        set("CI_MERGE_REQUEST_DRAFT", mr.draft.to_string());
        set("CI_MERGE_REQUEST_EVENT_TYPE", "detached".into());
        set("GITLAB_USER_LOGIN", author);
        Ok(vars)
    }

    /// The variables of the pipeline on the default branch now (after a merge: its merge
    /// commit, `CI_COMMIT_BEFORE_SHA` its first parent), started by `user`.
    pub fn default_branch_pipeline_vars(
        &self,
        user: &str,
    ) -> anyhow::Result<BTreeMap<String, String>> {
        let main = self.project();
        let head = git_http::head_of(&main.bare, &main.default_branch)?;
        let before = git(&main.bare, &["rev-parse", &format!("{head}^1")])
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "0".repeat(40));
        let mut vars = self.job_vars(&main);
        vars.insert("CI_PIPELINE_SOURCE".into(), "push".into());
        vars.insert("CI_COMMIT_SHA".into(), head);
        vars.insert("CI_COMMIT_BEFORE_SHA".into(), before);
        vars.insert("CI_COMMIT_BRANCH".into(), main.default_branch.clone());
        vars.insert("CI_COMMIT_REF_NAME".into(), main.default_branch);
        vars.insert("GITLAB_USER_LOGIN".into(), user.into());
        Ok(vars)
    }

    /// The variables of the pipeline a comment webhook starts for note `note_id` through the
    /// trigger API: the note event is written to a file named by `TRIGGER_PAYLOAD`.
    pub fn note_pipeline_vars(&self, note_id: u64) -> anyhow::Result<BTreeMap<String, String>> {
        let payload = self.note_event(note_id)?;
        self.trigger_vars(&format!("note-{note_id}"), &payload)
    }

    /// The variables of a pipeline the trigger API starts on the default branch with
    /// `payload` in the file `TRIGGER_PAYLOAD` names (`trigger-payload-<name>.json`).
    fn trigger_vars(&self, name: &str, payload: &str) -> anyhow::Result<BTreeMap<String, String>> {
        let file = self.lock().root.join(format!("trigger-payload-{name}.json"));
        std::fs::write(&file, payload).context("cannot write the trigger payload")?;
        let main = self.project();
        let head = git_http::head_of(&main.bare, &main.default_branch)?;
        let mut vars = self.job_vars(&main);
        vars.insert("CI_PIPELINE_SOURCE".into(), "trigger".into());
        vars.insert("CI_COMMIT_SHA".into(), head);
        vars.insert("CI_COMMIT_BRANCH".into(), main.default_branch.clone());
        vars.insert("CI_COMMIT_REF_NAME".into(), main.default_branch);
        vars.insert("TRIGGER_PAYLOAD".into(), file.to_string_lossy().to_string());
        Ok(vars)
    }

    /// The pipeline webhook's body for the pipeline of `sha` on the default branch that ran
    /// `jobs` (`(name, status)`: `success`, `failed`, `running`, ...), finished as `status`
    /// (<https://docs.gitlab.com/user/project/integrations/webhook_events/#pipeline-events>).
    pub fn pipeline_event(&self, sha: &str, status: &str, jobs: &[(&str, &str)]) -> String {
        let state = self.lock();
        let main = state.project();
        let base = self.url();
        let builds: Vec<serde_json::Value> = jobs
            .iter()
            .enumerate()
            .map(|(i, (name, job_status))| {
                json!({
                    "id": 9000 + i, "stage": "build", "name": name, "status": job_status,
                    "allow_failure": false, "manual": false, "environment": null,
                })
            })
            .collect();
        json!({
            "object_kind": "pipeline",
            "object_attributes": {
                "id": 700 + jobs.len(), "iid": 1,
                "ref": main.default_branch, "tag": false, "sha": sha,
                "before_sha": "0".repeat(40), "source": "push", "status": status,
                "detailed_status": status, "stages": ["build"],
                "url": format!("{base}/{}/-/pipelines/700", main.path),
            },
            "merge_request": null,
            "user": { "id": 1, "name": "dev", "username": "dev" },
            "project": {
                "id": main.id,
                "name": main.path.rsplit('/').next(),
                "web_url": format!("{base}/{}", main.path),
                "path_with_namespace": main.path,
                "default_branch": main.default_branch,
            },
            "builds": builds,
        })
        .to_string()
    }

    /// The variables of the pipeline a pipeline webhook starts through the trigger API, its
    /// body (`payload`, from [`FakeGitLab::pipeline_event`]) in the file `TRIGGER_PAYLOAD`
    /// names.
    pub fn pipeline_trigger_vars(&self, payload: &str) -> anyhow::Result<BTreeMap<String, String>> {
        // Named by its content, so that each event keeps its own file for a replay.
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        payload.hash(&mut hasher);
        self.trigger_vars(&format!("pipeline-{:016x}", hasher.finish()), payload)
    }

    /// The comment webhook's body for note `note_id`
    /// (<https://docs.gitlab.com/user/project/integrations/webhook_events/#comment-events>).
    pub fn note_event(&self, note_id: u64) -> anyhow::Result<String> {
        let state = self.lock();
        let note = state.notes.iter().find(|n| n.id == note_id).context("no such note")?;
        let main = state.project();
        let user = state.user(note.author_id).context("the note has no author")?;
        let base = self.url();
        let project = json!({
            "id": main.id,
            "name": main.path.rsplit('/').next(),
            "description": "",
            "web_url": format!("{base}/{}", main.path),
            "avatar_url": null,
            "git_ssh_url": format!("git@127.0.0.1:{}.git", main.path),
            "git_http_url": format!("{base}/{}.git", main.path),
            "namespace": main.path.split('/').next(),
            "visibility_level": 0,
            "path_with_namespace": main.path,
            "default_branch": main.default_branch,
            "homepage": format!("{base}/{}", main.path),
            "url": format!("{base}/{}.git", main.path),
            "http_url": format!("{base}/{}.git", main.path),
        });
        let (noteable_type, noteable_id, url) = match note.on {
            Noteable::MergeRequest(iid) => {
                let id = state.merge_request(iid).map(|mr| mr.id).unwrap_or_default();
                (
                    "MergeRequest",
                    id,
                    format!("{base}/{}/-/merge_requests/{iid}#note_{}", main.path, note.id),
                )
            }
            Noteable::Issue(iid) => {
                ("Issue", iid, format!("{base}/{}/-/issues/{iid}#note_{}", main.path, note.id))
            }
        };
        let mut event = json!({
            "object_kind": "note",
            "event_type": "note",
            "user": {
                "id": user.id,
                "name": user.name,
                "username": user.username,
                "avatar_url": null,
                "email": "[REDACTED]",
            },
            "project_id": main.id,
            "project": project,
            "repository": {
                "name": main.path.rsplit('/').next(),
                "url": format!("{base}/{}.git", main.path),
                "description": "",
                "homepage": format!("{base}/{}", main.path),
            },
            "object_attributes": {
                "id": note.id,
                "note": note.body,
                "noteable_type": noteable_type,
                "author_id": note.author_id,
                "created_at": note.created_at,
                "updated_at": note.updated_at,
                "project_id": main.id,
                "attachment": null,
                "line_code": null,
                "commit_id": "",
                "noteable_id": noteable_id,
                "system": note.system,
                "st_diff": null,
                "action": note.last_action,
                "url": url,
            },
        });
        match note.on {
            Noteable::MergeRequest(iid) => {
                let mr = state.merge_request(iid).context("no such merge request")?;
                event["merge_request"] = json!({
                    "id": mr.id,
                    "iid": mr.iid,
                    "title": mr.title,
                    "description": mr.description,
                    "state": mr.state,
                    "source_branch": mr.source_branch,
                    "target_branch": mr.target_branch,
                    "source_project_id": mr.source_project_id,
                    "target_project_id": main.id,
                    "author_id": mr.author_id,
                    "draft": mr.draft,
                    "work_in_progress": mr.draft,
                    "merge_status": "can_be_merged",
                    "detailed_merge_status": if mr.state == "opened" { "mergeable" } else { "not_open" },
                    "last_commit": {
                        "id": mr.sha,
                        "message": mr.title,
                        "title": mr.title,
                        "url": format!("{base}/{}/-/commit/{}", main.path, mr.sha),
                    },
                });
            }
            Noteable::Issue(iid) => {
                let title = state.issues.iter().find(|i| i.iid == iid).map(|i| i.title.clone());
                event["issue"] = json!({
                    "id": 9000 + iid,
                    "iid": iid,
                    "title": title,
                    "state": "opened",
                    "project_id": main.id,
                });
            }
        }
        Ok(event.to_string())
    }
}

/// `fakes gitlab`: serve a fake GitLab by hand.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8929")]
    pub listen: String,
    /// The project's path.
    #[arg(long, default_value = "acme/shop")]
    pub project: String,
    /// Its default branch.
    #[arg(long, default_value = "main")]
    pub default_branch: String,
    /// Folder whose files make the first commit (without it, a README).
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// A person NAME:LEVEL (10 guest, 20 reporter, 30 developer, 40 maintainer, 50 owner;
    /// 0 for no membership); repeatable.
    #[arg(long = "user", value_name = "NAME:LEVEL")]
    pub users: Vec<String>,
}

impl ServeArgs {
    /// Starts the fake with a project access token for the bot (Developer); returns it and
    /// the text telling a person how to point nomad-spec at it.
    pub fn start(&self) -> anyhow::Result<(FakeGitLab, String)> {
        let readme = tempfile::tempdir().context("cannot create a seed folder")?;
        let seed = match &self.seed {
            Some(seed) => seed.clone(),
            None => {
                std::fs::write(readme.path().join("README.md"), "# A project\n")?;
                readme.path().to_path_buf()
            }
        };
        let gitlab =
            FakeGitLab::start_on(&self.listen, &self.project, &self.default_branch, &seed)?;
        let mut text = format!("fake GitLab listening on {}\n", gitlab.url());
        for user in &self.users {
            let (name, level) = user
                .split_once(':')
                .with_context(|| format!("--user {user:?} is not NAME:LEVEL"))?;
            let level: u32 =
                level.parse().with_context(|| format!("--user {user:?}: LEVEL is a number"))?;
            let token = gitlab.add_user(name, (level > 0).then_some(level));
            text.push_str(&format!("user {name} (access level {level}): token {token}\n"));
        }
        let (bot, token) = gitlab.add_project_access_token(DEVELOPER);
        let project = gitlab.project();
        text.push_str(&format!(
            "bot {bot}\nexport CI_API_V4_URL={}\nexport CI_SERVER_URL={}\n\
             export CI_PROJECT_ID={}\nexport CI_PROJECT_PATH={}\nexport CI_DEFAULT_BRANCH={}\n\
             export NOMAD_SPEC_GITLAB_TOKEN={token}",
            gitlab.api_url(),
            gitlab.url(),
            project.id,
            project.path,
            project.default_branch
        ));
        Ok((gitlab, text))
    }
}

fn add_note(
    state: &mut GitLabState,
    on: Noteable,
    author_id: u64,
    body: &str,
    system: bool,
) -> u64 {
    let id = state.id();
    let now = state.now();
    state.notes.push(Note {
        id,
        on,
        author_id,
        body: body.to_string(),
        system,
        created_at: now.clone(),
        updated_at: now,
        last_action: "create".into(),
    });
    id
}

/// Where the `post-receive` hook logs push options, inside the bare repository.
const PUSH_OPTION_LOG: &str = "push-options.log";

/// Installs a `post-receive` hook that appends the options of each push accepted over HTTP
/// (where `REMOTE_USER` is set; the fake's own commits are not pushes), tab-separated, as one
/// line to [`PUSH_OPTION_LOG`] (hooks see them as `GIT_PUSH_OPTION_<n>`).
fn install_push_option_log(bare: &Path) -> anyhow::Result<()> {
    let hooks = bare.join("hooks");
    std::fs::create_dir_all(&hooks).context("cannot create the hooks folder")?;
    let log = bare.join(PUSH_OPTION_LOG).to_string_lossy().replace('\'', "'\\''");
    let script = format!(
        "#!/bin/sh\n[ -n \"$REMOTE_USER\" ] || exit 0\nline=''\ni=0\nwhile [ \"$i\" -lt \"${{GIT_PUSH_OPTION_COUNT:-0}}\" ]; do\n  \
         eval \"value=\\$GIT_PUSH_OPTION_$i\"\n  line=\"$line$value\t\"\n  i=$((i + 1))\ndone\n\
         printf '%s\\n' \"$line\" >> '{log}'\n"
    );
    let hook = hooks.join("post-receive");
    std::fs::write(&hook, script).context("cannot write the post-receive hook")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))
            .context("cannot make the hook executable")?;
    }
    Ok(())
}

/// Makes `refs/merge-requests/<iid>/head` of the main repository point at `branch` of the
/// source repository (fetched from a fork); returns that commit.
fn publish_head(main: &Path, source: &Path, branch: &str, iid: u64) -> anyhow::Result<String> {
    let target = format!("refs/merge-requests/{iid}/head");
    let source_text = source.to_string_lossy().to_string();
    git(main, &["fetch", "--quiet", &source_text, &format!("+refs/heads/{branch}:{target}")])?;
    Ok(git(main, &["rev-parse", &target])?.trim().to_string())
}

// ---------------------------------------------------------------------------------------------
// HTTP

async fn handle(State(state): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let path = parts.uri.path().to_string();
    if let Some(api_path) = path.strip_prefix("/api/v4/") {
        return api(&state, &parts.method, api_path, &parts.uri, &parts.headers, &body);
    }
    if git_http::is_git_path(&path) {
        return git_request(&state, &parts.method, &parts.uri, &parts.headers, body).await;
    }
    message(StatusCode::NOT_FOUND, "404 Not Found")
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "message": text }))).into_response()
}

fn error(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "error": text }))).into_response()
}

/// Who a request acts as.
#[derive(Clone, Copy)]
enum Caller {
    User(u64),
    /// The job token: reads of its project only.
    Job,
}

fn caller(state: &GitLabState, headers: &HeaderMap) -> Option<Caller> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let token = header("private-token")
        .or_else(|| header("authorization").and_then(|v| v.strip_prefix("Bearer ")).map(str::trim));
    if let Some(token) = token {
        return state.tokens.get(token).map(|id| Caller::User(*id));
    }
    match header("job-token") {
        Some(token) if token == state.job_token => Some(Caller::Job),
        _ => None,
    }
}

/// The request's parameters: the query string, then a JSON or form body over it.
fn params(uri: &Uri, headers: &HeaderMap, body: &Bytes) -> BTreeMap<String, Value> {
    let mut params: BTreeMap<String, Value> = Query::<BTreeMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
        .unwrap_or_default();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/json") {
        if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) {
            params.extend(fields);
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let text = String::from_utf8_lossy(body);
        if let Ok(uri) = format!("/?{text}").parse::<Uri>() {
            if let Ok(form) = Query::<BTreeMap<String, String>>::try_from_uri(&uri) {
                params.extend(form.0.into_iter().map(|(k, v)| (k, Value::String(v))));
            }
        }
    }
    params
}

fn text(params: &BTreeMap<String, Value>, name: &str) -> Option<String> {
    match params.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&segment[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

fn api(
    shared: &Shared,
    method: &Method,
    path: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let mut state = shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    state.requests.push(format!("{method} /api/v4/{path}"));
    if let Some(fault) = state.faults.pop_front() {
        return match fault {
            // https://docs.gitlab.com/security/rate_limits/#headers
            Fault::RateLimited { retry_after } => {
                let reset = 1_700_000_000 + retry_after;
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [
                        ("Retry-After", retry_after.to_string()),
                        ("RateLimit-Limit", "600".to_string()),
                        ("RateLimit-Remaining", "0".to_string()),
                        ("RateLimit-Reset", reset.to_string()),
                    ],
                    "Retry later\n",
                )
                    .into_response()
            }
            Fault::ServerError => {
                message(StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error")
            }
        };
    }
    let Some(who) = caller(&state, headers) else {
        return message(StatusCode::UNAUTHORIZED, "401 Unauthorized");
    };
    let params = params(uri, headers, body);
    let segments: Vec<String> = path.split('/').map(percent_decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let get = *method == Method::GET;
    if !get && matches!(who, Caller::Job) {
        return message(StatusCode::FORBIDDEN, "403 Forbidden");
    }
    match segments.as_slice() {
        ["user"] => match who {
            Caller::User(id) => match state.user(id) {
                Some(user) => Json(user_json(user)).into_response(),
                None => message(StatusCode::UNAUTHORIZED, "401 Unauthorized"),
            },
            Caller::Job => message(StatusCode::FORBIDDEN, "403 Forbidden"),
        },
        ["users"] if get => list_users(&state, &params),
        ["projects", key, rest @ ..] => {
            let Some(project) = state.project_by(key).cloned() else {
                return message(StatusCode::NOT_FOUND, "404 Project Not Found");
            };
            let level = match who {
                Caller::User(id) => state.level(project.id, id),
                Caller::Job if project.id == state.project().id => REPORTER,
                Caller::Job => 0,
            };
            // A private project is invisible to non-members.
            if level == 0 {
                return message(StatusCode::NOT_FOUND, "404 Project Not Found");
            }
            let user = match who {
                Caller::User(id) => id,
                Caller::Job => 0,
            };
            project_api(&mut state, method, &project, user, level, rest, &params)
        }
        _ => message(StatusCode::NOT_FOUND, "404 Not Found"),
    }
}

fn project_api(
    state: &mut GitLabState,
    method: &Method,
    project: &Project,
    user: u64,
    level: u32,
    rest: &[&str],
    params: &BTreeMap<String, Value>,
) -> Response {
    let number = |s: &str| s.parse::<u64>().ok();
    match (method.as_str(), rest) {
        ("GET", []) => Json(json!({
            "id": project.id,
            "path_with_namespace": project.path,
            "default_branch": project.default_branch,
            "http_url_to_repo": format!("/{}.git", project.path),
        }))
        .into_response(),
        ("GET", ["merge_requests"]) => list_merge_requests(state, params),
        ("POST", ["merge_requests"]) => create_merge_request(state, project, user, level, params),
        ("GET", ["merge_requests", iid]) => {
            match number(iid).and_then(|i| state.merge_request(i)) {
                Some(mr) => Json(mr_json(state, mr)).into_response(),
                None => message(StatusCode::NOT_FOUND, "404 Not found"),
            }
        }
        (_, ["merge_requests", iid, "notes", ..])
            if number(iid).and_then(|i| state.merge_request(i)).is_none() =>
        {
            message(StatusCode::NOT_FOUND, "404 Not found")
        }
        ("GET", ["merge_requests", iid, "notes"]) => {
            list_notes(state, Noteable::MergeRequest(number(iid).unwrap_or(0)), params)
        }
        ("POST", ["merge_requests", iid, "notes"]) => create_note(
            state,
            Noteable::MergeRequest(number(iid).unwrap_or(0)),
            user,
            level,
            params,
        ),
        ("PUT", ["merge_requests", iid, "notes", note]) => {
            edit_note(state, number(iid).unwrap_or(0), number(note).unwrap_or(0), user, params)
        }
        ("GET", ["merge_requests", iid, "notes", note, "award_emoji"]) => {
            let note = note_on(state, number(iid).unwrap_or(0), number(note).unwrap_or(0));
            match note {
                Some(note) => {
                    let awards: Vec<Value> = state
                        .awards
                        .iter()
                        .filter(|a| a.note_id == note)
                        .map(|a| award_json(state, a))
                        .collect();
                    Json(awards).into_response()
                }
                None => message(StatusCode::NOT_FOUND, "404 Not found"),
            }
        }
        ("POST", ["merge_requests", iid, "notes", note, "award_emoji"]) => {
            award(state, number(iid).unwrap_or(0), number(note).unwrap_or(0), user, params)
        }
        (_, ["issues", iid, "notes"])
            if !state.issues.iter().any(|i| Some(i.iid) == number(iid)) =>
        {
            message(StatusCode::NOT_FOUND, "404 Not found")
        }
        ("GET", ["issues", iid, "notes"]) => {
            list_notes(state, Noteable::Issue(number(iid).unwrap_or(0)), params)
        }
        ("POST", ["issues", iid, "notes"]) => {
            create_note(state, Noteable::Issue(number(iid).unwrap_or(0)), user, level, params)
        }
        ("GET", ["issues"]) => list_issues(state, params),
        ("POST", ["issues"]) => create_issue(state, user, level, params),
        ("PUT", ["issues", iid]) => edit_issue(state, number(iid).unwrap_or(0), level, params),
        ("GET", ["members", "all", member]) => {
            let member = number(member).unwrap_or(0);
            match (state.user(member), state.members.get(&(project.id, member))) {
                (Some(user), Some(level)) => {
                    let mut body = user_json(user);
                    body["access_level"] = json!(level);
                    body["created_at"] = json!("2025-01-01T00:00:00.000Z");
                    body["expires_at"] = Value::Null;
                    body["membership_state"] = json!("active");
                    Json(body).into_response()
                }
                _ => message(StatusCode::NOT_FOUND, "404 Not found"),
            }
        }
        ("POST", ["statuses", sha]) => set_status(state, project, user, level, sha, params),
        ("GET", ["repository", "commits", sha, "statuses"]) => {
            let statuses: Vec<Value> = state
                .statuses
                .iter()
                .filter(|s| s.sha == *sha)
                .map(|s| status_json(state, s))
                .collect();
            Json(statuses).into_response()
        }
        ("GET", ["repository", "commits", sha, "merge_requests"]) => {
            merge_requests_of_commit(state, project, sha)
        }
        ("GET", ["deployments"]) => {
            let all: Vec<Value> =
                state.deployments.iter().map(|d| deployment_json(state, d)).collect();
            Json(all).into_response()
        }
        ("POST", ["deployments"]) => create_deployment(state, user, level, params),
        ("PUT", ["deployments", id]) => {
            update_deployment(state, number(id).unwrap_or(0), level, params)
        }
        _ => message(StatusCode::NOT_FOUND, "404 Not Found"),
    }
}

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": "active",
        "locked": false,
        "bot": user.bot,
        "avatar_url": null,
        "web_url": format!("/{}", user.username),
    })
}

/// `GET /users?username=` (<https://docs.gitlab.com/api/users/#list-users>).
fn list_users(state: &GitLabState, params: &BTreeMap<String, Value>) -> Response {
    let wanted = text(params, "username");
    let users: Vec<Value> = state
        .users
        .iter()
        .filter(|u| wanted.as_deref().is_none_or(|w| u.username.eq_ignore_ascii_case(w)))
        .map(user_json)
        .collect();
    Json(users).into_response()
}

/// A merge request as `GET /projects/:id/merge_requests/:iid` shows it
/// (<https://docs.gitlab.com/api/merge_requests/#get-single-mr>).
fn mr_json(state: &GitLabState, mr: &MergeRequest) -> Value {
    let main = state.project();
    let author = state.user(mr.author_id).map(user_json).unwrap_or(Value::Null);
    json!({
        "id": mr.id,
        "iid": mr.iid,
        "project_id": main.id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": mr.created_at,
        "updated_at": mr.created_at,
        "merged_by": mr.merged_by.and_then(|id| state.user(id)).map(user_json),
        "merge_user": mr.merged_by.and_then(|id| state.user(id)).map(user_json),
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "author": author,
        "source_project_id": mr.source_project_id,
        "target_project_id": main.id,
        "draft": mr.draft,
        "work_in_progress": mr.draft,
        "merge_status": "can_be_merged",
        "detailed_merge_status": if mr.state == "opened" { "mergeable" } else { "not_open" },
        "sha": mr.sha,
        "merge_commit_sha": mr.merge_commit_sha,
        "squash_commit_sha": null,
        "diff_refs": { "base_sha": mr.base_sha, "head_sha": mr.sha, "start_sha": mr.base_sha },
        "references": { "short": format!("!{}", mr.iid), "full": format!("{}!{}", main.path, mr.iid) },
        "web_url": format!("/{}/-/merge_requests/{}", main.path, mr.iid),
    })
}

/// `GET /projects/:id/merge_requests?state=&source_branch=&target_branch=`.
fn list_merge_requests(state: &GitLabState, params: &BTreeMap<String, Value>) -> Response {
    let filter = |name: &str| text(params, name).filter(|v| v != "all");
    let (wanted_state, source, target) =
        (filter("state"), filter("source_branch"), filter("target_branch"));
    let mrs: Vec<Value> = state
        .merge_requests
        .iter()
        .rev()
        .filter(|mr| wanted_state.as_deref().is_none_or(|s| mr.state == s))
        .filter(|mr| source.as_deref().is_none_or(|s| mr.source_branch == s))
        .filter(|mr| target.as_deref().is_none_or(|t| mr.target_branch == t))
        .map(|mr| mr_json(state, mr))
        .collect();
    Json(mrs).into_response()
}

fn issue_json(state: &GitLabState, issue: &Issue) -> Value {
    json!({
        "id": 9000 + issue.iid,
        "iid": issue.iid,
        "project_id": state.project().id,
        "title": issue.title,
        "description": if issue.description.is_empty() { Value::Null } else { json!(issue.description) },
        "state": issue.state,
        "author": state.user(issue.author_id).map(user_json).unwrap_or(Value::Null),
        "updated_at": issue.updated_at,
        "web_url": format!("/{}/-/issues/{}", state.project().path, issue.iid),
    })
}

/// `GET /projects/:id/issues` (<https://docs.gitlab.com/api/issues/#list-project-issues>):
/// `state` is `opened`, `closed` or `all` (the default); newest first; one page here.
fn list_issues(state: &GitLabState, params: &BTreeMap<String, Value>) -> Response {
    let wanted = text(params, "state").filter(|s| s != "all");
    let issues: Vec<Value> = state
        .issues
        .iter()
        .rev()
        .filter(|i| wanted.as_deref().is_none_or(|s| i.state == s))
        .map(|i| issue_json(state, i))
        .collect();
    Json(issues).into_response()
}

/// `POST /projects/:id/issues` (<https://docs.gitlab.com/api/issues/#new-issue>).
fn create_issue(
    state: &mut GitLabState,
    user: u64,
    level: u32,
    params: &BTreeMap<String, Value>,
) -> Response {
    if level < GUEST {
        return message(StatusCode::FORBIDDEN, "403 Forbidden");
    }
    let Some(title) = text(params, "title").filter(|t| !t.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "title is missing");
    };
    let iid = state.issues.iter().map(|i| i.iid).max().unwrap_or(0) + 1;
    let now = state.now();
    let issue = Issue {
        iid,
        title,
        description: text(params, "description").unwrap_or_default(),
        author_id: user,
        state: "opened".into(),
        updated_at: now,
    };
    state.issues.push(issue.clone());
    state.count("issue_created");
    (StatusCode::CREATED, Json(issue_json(state, &issue))).into_response()
}

/// `PUT /projects/:id/issues/:iid` (<https://docs.gitlab.com/api/issues/#edit-an-issue>):
/// `state_event` is `close` or `reopen`; editing needs Reporter or the author.
fn edit_issue(
    state: &mut GitLabState,
    iid: u64,
    level: u32,
    params: &BTreeMap<String, Value>,
) -> Response {
    if level < REPORTER {
        return message(StatusCode::FORBIDDEN, "403 Forbidden");
    }
    let event = text(params, "state_event");
    if event.as_deref().is_some_and(|e| !matches!(e, "close" | "reopen")) {
        return error(StatusCode::BAD_REQUEST, "state_event does not have a valid value");
    }
    let now = state.now();
    let Some(issue) = state.issues.iter_mut().find(|i| i.iid == iid) else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    if let Some(description) = text(params, "description") {
        issue.description = description;
    }
    if let Some(title) = text(params, "title") {
        issue.title = title;
    }
    match event.as_deref() {
        Some("close") => issue.state = "closed".into(),
        Some("reopen") => issue.state = "opened".into(),
        _ => {}
    }
    issue.updated_at = now;
    let issue = issue.clone();
    state.count("issue_updated");
    Json(issue_json(state, &issue)).into_response()
}

/// `POST /projects/:id/merge_requests`
/// (<https://docs.gitlab.com/api/merge_requests/#create-mr>): `409` when an open one has the
/// same source branch.
fn create_merge_request(
    state: &mut GitLabState,
    project: &Project,
    user: u64,
    level: u32,
    params: &BTreeMap<String, Value>,
) -> Response {
    if level < DEVELOPER {
        return message(StatusCode::FORBIDDEN, "403 Forbidden");
    }
    let (Some(source), Some(target), Some(title)) =
        (text(params, "source_branch"), text(params, "target_branch"), text(params, "title"))
    else {
        return error(StatusCode::BAD_REQUEST, "source_branch, target_branch, title are missing");
    };
    if source == target {
        return message_list(
            StatusCode::BAD_REQUEST,
            "You can't use same project/branch for source and target",
        );
    }
    if let Some(open) = state.merge_requests.iter().find(|mr| {
        mr.state == "opened" && mr.source_branch == source && mr.source_project_id == project.id
    }) {
        let text = format!(
            "Another open merge request already exists for this source branch: !{}",
            open.iid
        );
        return message_list(StatusCode::CONFLICT, &text);
    }
    let (Ok(_), Ok(base)) =
        (git_http::head_of(&project.bare, &source), git_http::head_of(&project.bare, &target))
    else {
        return message_list(
            StatusCode::BAD_REQUEST,
            "Source branch or target branch does not exist",
        );
    };
    let iid = state.next_iid();
    let sha = match publish_head(&project.bare, &project.bare, &source, iid) {
        Ok(sha) => sha,
        Err(err) => return message(StatusCode::INTERNAL_SERVER_ERROR, &format!("{err:#}")),
    };
    let id = state.id();
    let created_at = state.now();
    state.merge_requests.push(MergeRequest {
        id,
        iid,
        source_project_id: project.id,
        source_branch: source,
        target_branch: target,
        draft: title.to_ascii_lowercase().starts_with("draft:"),
        title,
        description: text(params, "description").unwrap_or_default(),
        author_id: user,
        state: "opened".into(),
        sha,
        base_sha: base,
        merge_commit_sha: None,
        merged_by: None,
        created_at,
    });
    state.count("merge_request_created");
    let mr = state.merge_requests.last().map(|mr| mr_json(state, mr)).unwrap_or_default();
    (StatusCode::CREATED, Json(mr)).into_response()
}

fn message_list(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "message": [text] }))).into_response()
}

/// `GET /projects/:id/repository/commits/:sha/merge_requests`
/// (<https://docs.gitlab.com/api/commits/#list-merge-requests-associated-with-a-commit>):
/// the merge requests whose commits, head or merge commit it is.
fn merge_requests_of_commit(state: &GitLabState, project: &Project, sha: &str) -> Response {
    let found: Vec<Value> = state
        .merge_requests
        .iter()
        .filter(|mr| {
            if mr.sha == sha || mr.merge_commit_sha.as_deref() == Some(sha) {
                return true;
            }
            let range = format!("{}..refs/merge-requests/{}/head", mr.base_sha, mr.iid);
            git(&project.bare, &["rev-list", &range])
                .map(|list| list.lines().any(|line| line.trim() == sha))
                .unwrap_or(false)
        })
        .map(|mr| mr_json(state, mr))
        .collect();
    Json(found).into_response()
}

/// A note as the notes API shows it (<https://docs.gitlab.com/api/notes/>).
fn note_json(state: &GitLabState, note: &Note) -> Value {
    let (noteable_type, iid) = match note.on {
        Noteable::MergeRequest(iid) => ("MergeRequest", iid),
        Noteable::Issue(iid) => ("Issue", iid),
    };
    json!({
        "id": note.id,
        "type": null,
        "body": note.body,
        "attachment": null,
        "author": state.user(note.author_id).map(user_json),
        "created_at": note.created_at,
        "updated_at": note.updated_at,
        "system": note.system,
        "noteable_id": iid + 1000,
        "noteable_type": noteable_type,
        "project_id": state.project().id,
        "noteable_iid": iid,
        "resolvable": false,
        "confidential": false,
        "internal": false,
    })
}

/// `GET /projects/:id/merge_requests/:iid/notes` (or `issues/:iid/notes`), paginated by
/// `page`/`per_page` (20 by default, at most 100) with `x-next-page` & co
/// (<https://docs.gitlab.com/api/rest/#pagination>).
fn list_notes(state: &GitLabState, on: Noteable, params: &BTreeMap<String, Value>) -> Response {
    let mut notes: Vec<&Note> = state.notes.iter().filter(|n| n.on == on).collect();
    // GitLab's default is newest first.
    if text(params, "sort").as_deref() != Some("asc") {
        notes.reverse();
    }
    let per_page =
        text(params, "per_page").and_then(|v| v.parse::<usize>().ok()).unwrap_or(20).clamp(1, 100);
    let page = text(params, "page").and_then(|v| v.parse::<usize>().ok()).unwrap_or(1).max(1);
    let total = notes.len();
    let pages = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = notes
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|n| note_json(state, n))
        .collect();
    let next = if page < pages { (page + 1).to_string() } else { String::new() };
    (
        [
            ("x-page", page.to_string()),
            ("x-per-page", per_page.to_string()),
            ("x-next-page", next),
            ("x-prev-page", if page > 1 { (page - 1).to_string() } else { String::new() }),
            ("x-total", total.to_string()),
            ("x-total-pages", pages.to_string()),
        ],
        Json(slice),
    )
        .into_response()
}

/// `POST /projects/:id/merge_requests/:iid/notes` (or `issues/:iid/notes`) with `body`.
fn create_note(
    state: &mut GitLabState,
    on: Noteable,
    user: u64,
    level: u32,
    params: &BTreeMap<String, Value>,
) -> Response {
    if level < GUEST {
        return message(StatusCode::FORBIDDEN, "403 Forbidden");
    }
    let Some(body) = text(params, "body").filter(|b| !b.trim().is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "body is missing");
    };
    if body.chars().count() > 1_000_000 {
        return message(
            StatusCode::BAD_REQUEST,
            "Note is too long (maximum is 1000000 characters)",
        );
    }
    let id = add_note(state, on, user, &body, false);
    state.count("note_created");
    let note = state.notes.iter().find(|n| n.id == id).map(|n| note_json(state, n));
    (StatusCode::CREATED, Json(note.unwrap_or_default())).into_response()
}

/// `PUT /projects/:id/merge_requests/:iid/notes/:note_id`: only its author may.
fn edit_note(
    state: &mut GitLabState,
    iid: u64,
    note_id: u64,
    user: u64,
    params: &BTreeMap<String, Value>,
) -> Response {
    let Some(body) = text(params, "body") else {
        return error(StatusCode::BAD_REQUEST, "body is missing");
    };
    let now = state.now();
    let Some(note) =
        state.notes.iter_mut().find(|n| n.id == note_id && n.on == Noteable::MergeRequest(iid))
    else {
        return message(StatusCode::NOT_FOUND, "404 Note Not Found");
    };
    if note.author_id != user {
        return message(StatusCode::FORBIDDEN, "403 Forbidden");
    }
    note.body = body;
    note.updated_at = now;
    note.last_action = "update".into();
    state.count("note_edited");
    let note = state.notes.iter().find(|n| n.id == note_id).map(|n| note_json(state, n));
    Json(note.unwrap_or_default()).into_response()
}

fn note_on(state: &GitLabState, iid: u64, note_id: u64) -> Option<u64> {
    state
        .notes
        .iter()
        .find(|n| n.id == note_id && n.on == Noteable::MergeRequest(iid))
        .map(|n| n.id)
}

fn award_json(state: &GitLabState, award: &Award) -> Value {
    json!({
        "id": award.id,
        "name": award.name,
        "user": state.user(award.user_id).map(user_json),
        "created_at": "2025-03-01T00:00:00.000Z",
        "updated_at": "2025-03-01T00:00:00.000Z",
        "awardable_id": award.note_id,
        "awardable_type": "Note",
    })
}

/// `POST .../notes/:note_id/award_emoji` with `name`
/// (<https://docs.gitlab.com/api/emoji_reactions/>): the same emoji from the same user twice
/// is `404 Award Emoji Name has already been taken Not Found`, as lib/api/award_emoji.rb says.
fn award(
    state: &mut GitLabState,
    iid: u64,
    note_id: u64,
    user: u64,
    params: &BTreeMap<String, Value>,
) -> Response {
    let Some(note) = note_on(state, iid, note_id) else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    let Some(name) = text(params, "name") else {
        return error(StatusCode::BAD_REQUEST, "name is missing");
    };
    if !["thumbsup", "thumbsdown", "confused", "eyes", "rocket", "tada", "heart"]
        .contains(&name.as_str())
    {
        return message(
            StatusCode::NOT_FOUND,
            "404 Award Emoji Name is not a valid emoji name Not Found",
        );
    }
    if state.awards.iter().any(|a| a.note_id == note && a.user_id == user && a.name == name) {
        return message(
            StatusCode::NOT_FOUND,
            "404 Award Emoji Name has already been taken Not Found",
        );
    }
    let id = state.id();
    state.awards.push(Award { id, note_id: note, user_id: user, name });
    state.count("award");
    let body = state.awards.last().map(|a| award_json(state, a)).unwrap_or_default();
    (StatusCode::CREATED, Json(body)).into_response()
}

fn status_json(state: &GitLabState, status: &CommitStatus) -> Value {
    json!({
        "id": status.id,
        "sha": status.sha,
        "ref": null,
        "status": status.state,
        "name": status.name,
        "target_url": status.target_url,
        "description": status.description,
        "created_at": "2025-03-01T00:00:00.000Z",
        "started_at": null,
        "finished_at": null,
        "allow_failure": false,
        "coverage": null,
        "author": state.user(status.author_id).map(user_json),
    })
}

/// `POST /projects/:id/statuses/:sha` (<https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit>):
/// Developer or above; `state` one of six; `description` and `target_url` at most 255
/// characters; the commit must exist.
fn set_status(
    state: &mut GitLabState,
    project: &Project,
    user: u64,
    level: u32,
    sha: &str,
    params: &BTreeMap<String, Value>,
) -> Response {
    if level < DEVELOPER {
        return message(StatusCode::FORBIDDEN, "403 Forbidden");
    }
    let Some(status) = text(params, "state") else {
        return error(StatusCode::BAD_REQUEST, "state is missing");
    };
    if !["pending", "running", "success", "failed", "canceled", "skipped"]
        .contains(&status.as_str())
    {
        return error(StatusCode::BAD_REQUEST, "state does not have a valid value");
    }
    let description = text(params, "description");
    let target_url = text(params, "target_url");
    for (field, value) in [("description", &description), ("target_url", &target_url)] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 255) {
            let problem =
                json!({ "message": { field: ["is too long (maximum is 255 characters)"] } });
            return (StatusCode::BAD_REQUEST, Json(problem)).into_response();
        }
    }
    if git(&project.bare, &["cat-file", "-e", &format!("{sha}^{{commit}}")]).is_err() {
        return message(StatusCode::NOT_FOUND, "404 References for commit Not Found");
    }
    let name = text(params, "name")
        .or_else(|| text(params, "context"))
        .unwrap_or_else(|| "default".into());
    let id = state.id();
    state.statuses.push(CommitStatus {
        id,
        sha: sha.to_string(),
        name,
        state: status,
        description,
        target_url,
        author_id: user,
    });
    state.count("status");
    let body = state.statuses.last().map(|s| status_json(state, s)).unwrap_or_default();
    (StatusCode::CREATED, Json(body)).into_response()
}

fn deployment_json(state: &GitLabState, deployment: &Deployment) -> Value {
    json!({
        "id": deployment.id,
        "iid": deployment.iid,
        "ref": deployment.git_ref,
        "sha": deployment.sha,
        "status": deployment.status,
        "created_at": "2025-03-01T00:00:00.000Z",
        "updated_at": "2025-03-01T00:00:00.000Z",
        "user": state.user(deployment.user_id).map(user_json),
        "environment": { "id": 1, "name": deployment.environment, "slug": deployment.environment, "external_url": null },
        "deployable": null,
    })
}

const DEPLOYMENT_STATUSES: [&str; 4] = ["running", "success", "failed", "canceled"];

/// `POST /projects/:id/deployments` (<https://docs.gitlab.com/api/deployments/#create-a-deployment>):
/// `environment`, `sha`, `ref`, `tag` and `status` required.
fn create_deployment(
    state: &mut GitLabState,
    user: u64,
    level: u32,
    params: &BTreeMap<String, Value>,
) -> Response {
    if level < DEVELOPER {
        return message(StatusCode::FORBIDDEN, "403 Forbidden");
    }
    let missing: Vec<&str> = ["environment", "sha", "ref", "tag", "status"]
        .into_iter()
        .filter(|name| text(params, name).is_none())
        .collect();
    if !missing.is_empty() {
        return error(StatusCode::BAD_REQUEST, &format!("{} is missing", missing.join(", ")));
    }
    let status = text(params, "status").unwrap_or_default();
    if !DEPLOYMENT_STATUSES.contains(&status.as_str()) {
        return error(StatusCode::BAD_REQUEST, "status does not have a valid value");
    }
    let id = state.id();
    let iid = state.deployments.len() as u64 + 1;
    state.deployments.push(Deployment {
        id,
        iid,
        environment: text(params, "environment").unwrap_or_default(),
        sha: text(params, "sha").unwrap_or_default(),
        git_ref: text(params, "ref").unwrap_or_default(),
        history: vec![status.clone()],
        status,
        user_id: user,
    });
    state.count("deployment_created");
    let body = state.deployments.last().map(|d| deployment_json(state, d)).unwrap_or_default();
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `PUT /projects/:id/deployments/:deployment_id` with `status`.
fn update_deployment(
    state: &mut GitLabState,
    id: u64,
    level: u32,
    params: &BTreeMap<String, Value>,
) -> Response {
    if level < DEVELOPER {
        return message(StatusCode::FORBIDDEN, "403 Forbidden");
    }
    let Some(status) = text(params, "status").filter(|s| DEPLOYMENT_STATUSES.contains(&s.as_str()))
    else {
        return error(StatusCode::BAD_REQUEST, "status does not have a valid value");
    };
    let Some(deployment) = state.deployments.iter_mut().find(|d| d.id == id) else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    deployment.status = status.clone();
    deployment.history.push(status);
    state.count("deployment_updated");
    let body = state.deployments.iter().find(|d| d.id == id).map(|d| deployment_json(state, d));
    Json(body.unwrap_or_default()).into_response()
}

// ---------------------------------------------------------------------------------------------
// git smart-HTTP

/// Serves a git request after basic auth with a token as the password: `401` with
/// `WWW-Authenticate: Basic` without one (git then asks its credential helpers), `403` for a
/// push without Developer access.
async fn git_request(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let Some(at) = path.find(".git/") else {
        return (StatusCode::NOT_FOUND, "not a repository\n").into_response();
    };
    let project_path = path[..at].trim_start_matches('/').to_string();
    let push = path.ends_with("/git-receive-pack")
        || uri.query().is_some_and(|q| q.contains("service=git-receive-pack"));
    let (root, username) = {
        let state = shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(project) = state.projects.iter().find(|p| p.path == project_path).cloned() else {
            return (
                StatusCode::NOT_FOUND,
                "The project you were looking for could not be found.\n",
            )
                .into_response();
        };
        let password = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|encoded| decode_base64(encoded.trim()))
            .and_then(|pair| pair.split_once(':').map(|(_, password)| password.to_string()));
        let unauthorized = || {
            (
                StatusCode::UNAUTHORIZED,
                [("WWW-Authenticate", "Basic realm=\"GitLab\"")],
                "HTTP Basic: Access denied\n",
            )
                .into_response()
        };
        let Some(password) = password else { return unauthorized() };
        let (username, level) = if password == state.job_token {
            (
                "gitlab-ci-token".to_string(),
                if project.id == state.project().id { REPORTER } else { 0 },
            )
        } else {
            match state.tokens.get(&password).and_then(|id| state.user(*id)) {
                Some(user) => (user.username.clone(), state.level(project.id, user.id)),
                None => return unauthorized(),
            }
        };
        if level == 0 {
            return (
                StatusCode::NOT_FOUND,
                "The project you were looking for could not be found.\n",
            )
                .into_response();
        }
        if push && level < DEVELOPER {
            return (StatusCode::FORBIDDEN, "You are not allowed to push code to this project.\n")
                .into_response();
        }
        (state.root.join("repos"), username)
    };
    let response =
        git_http::serve(&root, path, method, uri.query(), headers, body, &username).await;
    if push && path.ends_with("/git-receive-pack") {
        let mut state = shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.refresh_merge_requests();
    }
    response
}

/// Standard base64 (with or without padding); `None` when it is not valid UTF-8 text.
fn decode_base64(text: &str) -> Option<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET.iter().position(|c| *c == byte)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_percent_decoding() {
        let encoded = crate::consul::encode_base64(b"oauth2:glpat-x");
        assert_eq!(decode_base64(&encoded).as_deref(), Some("oauth2:glpat-x"));
        assert_eq!(decode_base64("!!"), None);
        assert_eq!(percent_decode("acme%2Fshop"), "acme/shop");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[tokio::test]
    async fn tokens_decide_what_a_request_may_do() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let seed = tempfile::tempdir().unwrap();
        std::fs::write(seed.path().join("README.md"), "hi\n").unwrap();
        let gitlab = FakeGitLab::start("acme/shop", "main", seed.path()).unwrap();
        let dev = gitlab.add_user("dev", Some(DEVELOPER));
        let outsider = gitlab.add_user("outsider", None);
        let change = tempfile::tempdir().unwrap();
        std::fs::write(change.path().join("a.txt"), "a\n").unwrap();
        let iid = gitlab.open_merge_request("dev", "feature", change.path(), "A").unwrap();
        let project = gitlab.project().id;
        let http = reqwest::Client::new();
        let mr = format!("{}/projects/{project}/merge_requests/{iid}", gitlab.api_url());
        let notes = format!("{mr}/notes");
        let status = |r: reqwest::Response| r.status().as_u16();

        assert_eq!(status(http.get(&mr).send().await.unwrap()), 401);
        assert_eq!(status(http.get(&mr).header("PRIVATE-TOKEN", &dev).send().await.unwrap()), 200);
        assert_eq!(status(http.get(&mr).bearer_auth(&dev).send().await.unwrap()), 200);
        assert_eq!(
            status(http.get(&mr).header("PRIVATE-TOKEN", &outsider).send().await.unwrap()),
            404
        );
        // The project may also be named by its URL-encoded path.
        let by_path = format!("{}/projects/acme%2Fshop/merge_requests/{iid}", gitlab.api_url());
        assert_eq!(
            status(http.get(&by_path).header("PRIVATE-TOKEN", &dev).send().await.unwrap()),
            200
        );
        let job = gitlab.job_token();
        assert_eq!(status(http.get(&mr).header("JOB-TOKEN", &job).send().await.unwrap()), 200);
        let post = http.post(&notes).header("JOB-TOKEN", &job).json(&json!({"body": "hi"}));
        assert_eq!(status(post.send().await.unwrap()), 403);
        // A form body, as curl sends it, works like JSON.
        let post = http
            .post(&notes)
            .header("PRIVATE-TOKEN", &dev)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("body=hi%20there");
        assert_eq!(status(post.send().await.unwrap()), 201);
        assert_eq!(gitlab.notes(iid), [("dev".to_string(), "hi there".to_string())]);
    }
}
