//! The forges the bot lives on, GitHub and GitLab, behind one closed enum over shared types.
//!
//! The workflow (`crate::workflow`) speaks only this module's language: a change request
//! (GitHub pull request, GitLab merge request) with its comments (notes), reactions (award
//! emoji), the repository's issues (the drift issue), named checks (check runs or commit statuses), the commenter's permission, a
//! deployment record and the git remote to clone and push. Each forge's adapter maps that onto
//! its own API ([`github`]: octocrab, [`gitlab`]: reqwest) and owns its quirks: pagination,
//! rate limits (`403`/`429` with `Retry-After`, retried a bounded number of times), the check
//! run → commit status fallback when a token may not create check runs, annotation batching.
//!
//! There is no trait on purpose: two forges, known at compile time, matched exhaustively, so a
//! capability added to one is a compile error until the other has it too.

pub mod github;
pub mod gitlab;

use crate::checks::CheckResult;
use crate::conversation::{Permission, PostedComment, PostedIssue, Reaction};
use crate::event::PullRequest;
use crate::git::GitRemote;
use crate::settings::Settings;

/// A forge API call that failed, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{forge} {what}: {message}")]
pub struct ForgeError {
    /// `GitHub` or `GitLab`.
    pub forge: &'static str,
    /// What was being done (`POST /repos/acme/shop/issues/7/comments`, `reading settings`).
    pub what: String,
    /// HTTP status, when the forge answered.
    pub status: Option<u16>,
    /// What went wrong and, where possible, what to do (`set NOMAD_SPEC_GITLAB_TOKEN`).
    pub message: String,
}

impl ForgeError {
    /// The forge refused for lack of permission (401/403 that is not a rate limit).
    pub fn is_forbidden(&self) -> bool {
        matches!(self.status, Some(401) | Some(403))
    }

    /// The thing asked for does not exist (404).
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }
}

/// Which forge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeKind {
    GitHub,
    GitLab,
}

/// How a named check is delivered: a GitHub check run with annotations, or a commit status
/// (GitHub without `checks: write`, and always on GitLab) whose description is the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckDelivery {
    /// A check run, created or updated in place (found by name on the head).
    CheckRun { id: u64 },
    /// A commit status with the check's name as its context.
    CommitStatus,
}

/// The state of a deployment record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentState {
    InProgress,
    Success,
    Failure,
}

/// The retry policy of every client (`crate::http::retry`), here for the forges' callers.
pub use crate::settings::RetryPolicy;

/// One forge, chosen from the CI environment.
#[derive(Debug)]
pub enum Forge {
    GitHub(github::GitHub),
    GitLab(gitlab::GitLab),
}

impl Forge {
    /// The forge's client from the CI job's settings (`GITHUB_*` or `CI_*` variables).
    pub fn from_settings(kind: ForgeKind, settings: &Settings) -> Result<Forge, ForgeError> {
        match kind {
            ForgeKind::GitHub => github::GitHub::from_settings(settings).map(Forge::GitHub),
            ForgeKind::GitLab => gitlab::GitLab::from_settings(settings).map(Forge::GitLab),
        }
    }

    /// Which forge this is.
    pub fn kind(&self) -> ForgeKind {
        match self {
            Forge::GitHub(_) => ForgeKind::GitHub,
            Forge::GitLab(_) => ForgeKind::GitLab,
        }
    }

    /// The login the bot's comments are written by (GitHub Actions' token:
    /// `github-actions[bot]`; GitLab: the write token's user).
    pub async fn bot_login(&self) -> Result<String, ForgeError> {
        match self {
            Forge::GitHub(f) => f.bot_login().await,
            Forge::GitLab(f) => f.bot_login().await,
        }
    }

    /// The change request, as the forge has it now.
    pub async fn pull_request(&self, number: u64) -> Result<PullRequest, ForgeError> {
        match self {
            Forge::GitHub(f) => f.pull_request(number).await,
            Forge::GitLab(f) => f.pull_request(number).await,
        }
    }

    /// Every comment (note) on the change request, oldest first, all pages.
    pub async fn comments(&self, number: u64) -> Result<Vec<PostedComment>, ForgeError> {
        match self {
            Forge::GitHub(f) => f.comments(number).await,
            Forge::GitLab(f) => f.comments(number).await,
        }
    }

    /// Posts a comment; returns its id.
    pub async fn create_comment(&self, number: u64, body: &str) -> Result<u64, ForgeError> {
        match self {
            Forge::GitHub(f) => f.create_comment(number, body).await,
            Forge::GitLab(f) => f.create_comment(number, body).await,
        }
    }

    /// Replaces a comment's body.
    pub async fn edit_comment(&self, number: u64, id: u64, body: &str) -> Result<(), ForgeError> {
        match self {
            Forge::GitHub(f) => f.edit_comment(number, id, body).await,
            Forge::GitLab(f) => f.edit_comment(number, id, body).await,
        }
    }

    /// Reacts to a comment (idempotent: reacting twice leaves one reaction).
    pub async fn react(
        &self,
        number: u64,
        comment_id: u64,
        reaction: Reaction,
    ) -> Result<(), ForgeError> {
        match self {
            Forge::GitHub(f) => f.react(number, comment_id, reaction).await,
            Forge::GitLab(f) => f.react(number, comment_id, reaction).await,
        }
    }

    /// A person's permission on the repository, from the forge's API (never from the event):
    /// GitHub's collaborator permission endpoint, GitLab's member access level.
    pub async fn permission(&self, login: &str) -> Result<Permission, ForgeError> {
        match self {
            Forge::GitHub(f) => f.permission(login).await,
            Forge::GitLab(f) => f.permission(login).await,
        }
    }

    /// Reports a named check on `head_sha`, updating the one already there for that name.
    /// `details` is Markdown shown with the check (the plan, say).
    pub async fn report_check(
        &self,
        head_sha: &str,
        check: &CheckResult,
        details: &str,
    ) -> Result<CheckDelivery, ForgeError> {
        match self {
            Forge::GitHub(f) => f.report_check(head_sha, check, details).await,
            Forge::GitLab(f) => f.report_check(head_sha, check, details).await,
        }
    }

    /// Starts a deployment record of `sha` to `environment`; returns its id.
    pub async fn start_deployment(
        &self,
        sha: &str,
        git_ref: &str,
        environment: &str,
    ) -> Result<u64, ForgeError> {
        match self {
            Forge::GitHub(f) => f.start_deployment(sha, git_ref, environment).await,
            Forge::GitLab(f) => f.start_deployment(sha, git_ref, environment).await,
        }
    }

    /// Moves a deployment record to `state`, with a description.
    pub async fn update_deployment(
        &self,
        id: u64,
        state: DeploymentState,
        description: &str,
    ) -> Result<(), ForgeError> {
        match self {
            Forge::GitHub(f) => f.update_deployment(id, state, description).await,
            Forge::GitLab(f) => f.update_deployment(id, state, description).await,
        }
    }

    /// Opens a change request from `head` into `base` (a fix when `base` is protected);
    /// returns its number (GitLab: iid).
    pub async fn open_change_request(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<u64, ForgeError> {
        match self {
            Forge::GitHub(f) => f.open_change_request(head, base, title, body).await,
            Forge::GitLab(f) => f.open_change_request(head, base, title, body).await,
        }
    }

    /// The change request that was merged as `sha` on the default branch, if any (GitHub:
    /// `GET /repos/{o}/{r}/commits/{sha}/pulls`; GitLab:
    /// `GET /projects/:id/repository/commits/:sha/merge_requests`), so a push pipeline after a
    /// merge can report on the merged change request.
    pub async fn merged_change_request(&self, sha: &str) -> Result<Option<u64>, ForgeError> {
        match self {
            Forge::GitHub(f) => f.merged_change_request(sha).await,
            Forge::GitLab(f) => f.merged_change_request(sha).await,
        }
    }

    /// Every issue of the repository, open and closed, pull requests left out.
    pub async fn issues(&self) -> Result<Vec<PostedIssue>, ForgeError> {
        match self {
            Forge::GitHub(f) => f.issues().await,
            Forge::GitLab(f) => f.issues().await,
        }
    }

    /// Every comment (note) on an issue that is no change request, oldest first, all pages
    /// (GitHub: the same issue comments as a pull request's; GitLab: the issue's notes).
    pub async fn issue_comments(&self, number: u64) -> Result<Vec<PostedComment>, ForgeError> {
        match self {
            Forge::GitHub(f) => f.comments(number).await,
            Forge::GitLab(f) => f.issue_comments(number).await,
        }
    }

    /// Posts a comment on an issue that is no change request; returns its id.
    pub async fn create_issue_comment(&self, number: u64, body: &str) -> Result<u64, ForgeError> {
        match self {
            Forge::GitHub(f) => f.create_comment(number, body).await,
            Forge::GitLab(f) => f.create_issue_comment(number, body).await,
        }
    }

    /// Opens an issue; returns its number (GitLab: iid).
    pub async fn create_issue(&self, title: &str, body: &str) -> Result<u64, ForgeError> {
        match self {
            Forge::GitHub(f) => f.create_issue(title, body).await,
            Forge::GitLab(f) => f.create_issue(title, body).await,
        }
    }

    /// Replaces an issue's body; opens or closes it when `open` says.
    pub async fn edit_issue(
        &self,
        number: u64,
        body: &str,
        open: Option<bool>,
    ) -> Result<(), ForgeError> {
        match self {
            Forge::GitHub(f) => f.edit_issue(number, body, open).await,
            Forge::GitLab(f) => f.edit_issue(number, body, open).await,
        }
    }

    /// The repository's git remote with push credentials.
    pub fn git_remote(&self) -> GitRemote {
        match self {
            Forge::GitHub(f) => f.git_remote(),
            Forge::GitLab(f) => f.git_remote(),
        }
    }

    /// How a comment names a change request so the forge links it: `#7` on GitHub, `!7` on
    /// GitLab (where `#7` is an issue).
    pub fn change_request_reference(&self, number: u64) -> String {
        match self {
            Forge::GitHub(_) => format!("#{number}"),
            Forge::GitLab(_) => format!("!{number}"),
        }
    }

    /// The ref under which the base repository serves a change request's head, also for forks
    /// (`refs/pull/7/head`, `refs/merge-requests/7/head`).
    pub fn change_request_ref(&self, number: u64) -> String {
        match self {
            Forge::GitHub(_) => format!("refs/pull/{number}/head"),
            Forge::GitLab(_) => format!("refs/merge-requests/{number}/head"),
        }
    }
}
