//! CI events → one `Trigger` (pure): what happened, in the bot's terms.
//!
//! On GitHub the event is `GITHUB_EVENT_NAME` plus the webhook payload in the file at
//! `GITHUB_EVENT_PATH`. This module reads only the fields the bot needs, tolerates every other
//! field being absent or new, and decides between acting and ignoring with a reason a person
//! can read in the log. Everything downstream sees only `Trigger`.
//!
//! A payload that is not what the forge sends (not JSON, cut short, a field of the wrong type
//! or missing, a comment longer than the forge allows) is an [`EventError`] naming the field;
//! the payload is data from outside, so nothing here panics on it.
//!
//! The same payloads reach `nomad-spec serve` as webhook deliveries (the event name is then the
//! `X-GitHub-Event` header). A trigger serializes, so the server can keep the work it accepted
//! in a queue other replicas can read.

pub mod gitlab;

use serde::{Deserialize, Serialize};

/// A repository, as `owner/name` plus what the bot needs to know of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// `owner/name`.
    pub full_name: String,
    /// The default branch (deploys happen from it).
    pub default_branch: String,
}

/// A pull request, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    /// Login of the author.
    pub author: String,
    /// Commit at the head of the PR branch.
    pub head_sha: String,
    /// Branch name at the head.
    pub head_ref: String,
    /// Branch the PR merges into.
    pub base_ref: String,
    /// The head lives in another repository (a fork, or a deleted one): no pushes, no
    /// secrets, no deploys.
    pub from_fork: bool,
    pub draft: bool,
}

/// Why a pull request event fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PullRequestAction {
    Opened,
    /// New commits were pushed.
    Synchronize,
    Reopened,
    ReadyForReview,
}

/// A comment on a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: u64,
    /// Login of the commenter (permission is checked later, against the API).
    pub author: String,
    pub body: String,
    /// The comment was edited rather than created (its answers are read again).
    pub edited: bool,
    /// The commenter is a bot account (the bot never answers itself).
    pub from_bot: bool,
    /// Who caused the event (GitHub's `sender`): the author for a new comment, the editor for
    /// an edit (a person ticking boxes in the bot's status comment).
    pub sender: String,
}

/// What happened, in the bot's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// A pull request was opened or changed: analyze, ask, generate, check.
    PullRequestChanged {
        repository: Repository,
        pull_request: PullRequest,
        action: PullRequestAction,
    },
    /// A pull request was merged: deploy what it committed.
    PullRequestMerged {
        repository: Repository,
        pull_request: PullRequest,
        /// The merge commit on the base branch.
        merge_sha: String,
    },
    /// Someone commented on a pull request: answers and commands.
    PullRequestComment { repository: Repository, pull_request_number: u64, comment: Comment },
    /// Someone wrote a `/nomad-spec` command in a comment on an issue that is no change
    /// request: the drift issue's `deploy JOB` and `adopt JOB`. A comment with no command
    /// line, or by a bot, is [`Trigger::Ignored`] instead.
    IssueComment { repository: Repository, issue_number: u64, comment: Comment },
    /// Commits landed on the default branch: deploy changed job files.
    PushToDefaultBranch {
        repository: Repository,
        /// The new head of the branch.
        after: String,
        /// Files added or modified by the pushed commits, as the payload lists them.
        changed_files: Vec<String>,
    },
    /// A scheduled run: compare the default branch's job files with the cluster and keep the
    /// drift issue up to date.
    Schedule { repository: Repository },
    /// A person started the workflow by hand.
    Manual { repository: Repository, git_ref: String, inputs: Vec<(String, String)> },
    /// The image pipeline the bot proposed (issue 17) finished for a commit pushed to the
    /// default branch: GitHub's `workflow_run` of [`IMAGE_WORKFLOW_PATH`], GitLab's pipeline
    /// with [`IMAGE_JOB_PREFIX`] jobs. The bot pins and deploys that commit's images once it
    /// has seen them in the registry; a failed build is reported and deploys nothing.
    ImagesBuilt {
        repository: Repository,
        /// The commit the images were built from.
        commit: String,
        /// Every image job succeeded.
        succeeded: bool,
        /// How it ended, in the forge's word (`success`, `failure`, `cancelled`, `failed`).
        outcome: String,
    },
    /// Nothing to do; the reason goes to the log.
    Ignored { reason: String },
}

/// The GitHub workflow of the image pipeline, whose completed runs are [`Trigger::ImagesBuilt`].
pub const IMAGE_WORKFLOW_PATH: &str = ".github/workflows/nomad-spec-images.yml";

/// The prefix of the GitLab jobs of the image pipeline that push an image (the jobs that only
/// build for a merge request end in `-check`).
pub const IMAGE_JOB_PREFIX: &str = "nomad-spec-image-";

/// The payload could not be read as the event it claims to be.
#[derive(Debug, thiserror::Error)]
#[error("the `{event}` event is not what the forge sends: {detail}")]
pub struct EventError {
    /// `GITHUB_EVENT_NAME`.
    pub event: String,
    /// What was wrong.
    pub detail: String,
}

/// Turns a GitHub event name and its JSON payload into a trigger.
pub fn from_github(event_name: &str, payload: &str) -> Result<Trigger, EventError> {
    let error = |detail: String| EventError { event: event_name.to_string(), detail };
    match event_name {
        "pull_request" | "pull_request_target" => {
            let p: PullRequestPayload = read(payload).map_err(error)?;
            Ok(pull_request_trigger(p))
        }
        "issue_comment" => {
            let p: IssueCommentPayload = read(payload).map_err(error)?;
            if let Some(body) = &p.comment.body {
                within(body, MAX_GITHUB_COMMENT_CHARS, "comment.body").map_err(error)?;
            }
            Ok(comment_trigger(p))
        }
        "push" => {
            let p: PushPayload = read(payload).map_err(error)?;
            Ok(push_trigger(p))
        }
        "schedule" => {
            let p: SchedulePayload = read(payload).map_err(error)?;
            Ok(Trigger::Schedule { repository: p.repository.into() })
        }
        "workflow_run" => {
            let p: WorkflowRunPayload = read(payload).map_err(error)?;
            Ok(workflow_run_trigger(p))
        }
        "workflow_dispatch" => {
            let p: DispatchPayload = read(payload).map_err(error)?;
            let inputs = p
                .inputs
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    let value = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, value)
                })
                .collect();
            Ok(Trigger::Manual { repository: p.repository.into(), git_ref: p.r#ref, inputs })
        }
        other => Ok(Trigger::Ignored {
            reason: format!("the `{other}` event is not one nomad-spec acts on"),
        }),
    }
}

/// Reads a payload as `T`; the error names the field that was wrong (`pull_request.number`),
/// or the place where the JSON stops being JSON.
pub(crate) fn read<'a, T: Deserialize<'a>>(payload: &'a str) -> Result<T, String> {
    // Every payload is an object; serde would also read a struct from a list, field by field,
    // and then name `[0]` as the wrong field.
    match payload.trim_start().chars().next() {
        Some('{') => {}
        Some(other) => {
            return Err(format!("the payload is not a JSON object: it starts with `{other}`"))
        }
        None => return Err("the payload is empty".to_string()),
    }
    let mut json = serde_json::Deserializer::from_str(payload);
    let value = serde_path_to_error::deserialize(&mut json).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            inner.to_string()
        } else {
            format!("field `{path}`: {inner}")
        }
    })?;
    json.end().map_err(|err| format!("after the payload: {err}"))?;
    Ok(value)
}

/// Most characters in a GitHub comment: GitHub refuses a longer one, so a longer body is not
/// a payload GitHub sent.
pub const MAX_GITHUB_COMMENT_CHARS: usize = 65_536;

/// `Err` naming `field` when `text` is longer than `max` characters, which the forge allows.
pub(crate) fn within(text: &str, max: usize, field: &str) -> Result<(), String> {
    // Counting stops at the bound, so a huge body costs no more than a long one.
    if text.chars().nth(max).is_some() {
        return Err(format!(
            "field `{field}` is longer than {max} characters, more than the forge allows"
        ));
    }
    Ok(())
}

fn pull_request_trigger(p: PullRequestPayload) -> Trigger {
    let repository: Repository = p.repository.into();
    let merged = p.pull_request.merged.unwrap_or(false);
    let merge_sha = p.pull_request.merge_commit_sha.clone();
    let pull_request = p.pull_request.normalize(&repository.full_name);
    let action = match p.action.as_str() {
        "opened" => PullRequestAction::Opened,
        "synchronize" => PullRequestAction::Synchronize,
        "reopened" => PullRequestAction::Reopened,
        "ready_for_review" => PullRequestAction::ReadyForReview,
        "closed" if merged => {
            if pull_request.base_ref != repository.default_branch {
                return Trigger::Ignored {
                    reason: format!(
                        "pull request #{} was merged into `{}`, not the default branch `{}`",
                        pull_request.number, pull_request.base_ref, repository.default_branch
                    ),
                };
            }
            return match merge_sha {
                Some(merge_sha) => {
                    Trigger::PullRequestMerged { repository, pull_request, merge_sha }
                }
                None => Trigger::Ignored {
                    reason: format!(
                        "pull request #{} is merged but the payload has no merge commit",
                        pull_request.number
                    ),
                },
            };
        }
        "closed" => {
            return Trigger::Ignored {
                reason: format!("pull request #{} was closed without merging", pull_request.number),
            }
        }
        other => {
            return Trigger::Ignored {
                reason: format!(
                    "pull request action `{other}` does not change what nomad-spec would do"
                ),
            }
        }
    };
    Trigger::PullRequestChanged { repository, pull_request, action }
}

/// A completed run of the image workflow for a push to the default branch; any other run (a
/// pull request's build, another workflow, one still running) builds nothing the bot deploys.
fn workflow_run_trigger(p: WorkflowRunPayload) -> Trigger {
    let repository: Repository = p.repository.into();
    let run = p.workflow_run;
    if run.path.split('@').next() != Some(IMAGE_WORKFLOW_PATH) {
        return Trigger::Ignored {
            reason: format!("the workflow `{}` is not the image pipeline", run.path),
        };
    }
    if p.action != "completed" {
        return Trigger::Ignored {
            reason: format!("the image workflow's run is `{}`, not completed", p.action),
        };
    }
    if run.event != "push" || run.head_branch.as_deref() != Some(&repository.default_branch) {
        return Trigger::Ignored {
            reason: format!(
                "the image workflow ran for a `{}` event on `{}`; only pushes to `{}` publish",
                run.event,
                run.head_branch.as_deref().unwrap_or("no branch"),
                repository.default_branch
            ),
        };
    }
    let outcome = run.conclusion.unwrap_or_else(|| "unknown".to_string());
    Trigger::ImagesBuilt {
        repository,
        commit: run.head_sha,
        succeeded: outcome == "success",
        outcome,
    }
}

fn comment_trigger(p: IssueCommentPayload) -> Trigger {
    let edited = match p.action.as_str() {
        "created" => false,
        "edited" => true,
        other => {
            return Trigger::Ignored {
                reason: format!("comment action `{other}` carries no answer"),
            }
        }
    };
    let from_bot =
        p.comment.user.r#type.as_deref() == Some("Bot") || p.comment.user.login.ends_with("[bot]");
    let number = p.issue.number;
    let comment = Comment {
        id: p.comment.id,
        author: p.comment.user.login.clone(),
        body: p.comment.body.unwrap_or_default(),
        edited,
        from_bot,
        sender: p.sender.map(|s| s.login).unwrap_or_else(|| p.comment.user.login.clone()),
    };
    let repository = p.repository.into();
    if p.issue.pull_request.is_some() {
        return Trigger::PullRequestComment { repository, pull_request_number: number, comment };
    }
    issue_comment_trigger(repository, number, comment)
}

/// A comment on an issue that is no change request, on either forge: a trigger only when a
/// person wrote a `/nomad-spec` command in it; people talk on issues all day, and the bot's
/// own replies quote commands.
pub(crate) fn issue_comment_trigger(
    repository: Repository,
    issue_number: u64,
    comment: Comment,
) -> Trigger {
    if comment.from_bot {
        return Trigger::Ignored {
            reason: format!("a comment by the bot {} on issue #{issue_number}", comment.author),
        };
    }
    if !holds_command_line(&comment.body) {
        return Trigger::Ignored {
            reason: format!(
                "the comment on issue #{issue_number} holds no `{COMMAND_WORD}` command"
            ),
        };
    }
    Trigger::IssueComment { repository, issue_number, comment }
}

/// The word that starts a command line: `command::PREFIX`, which this module may not import
/// (`command` is on its floor); the workflow's tests hold the two equal.
pub const COMMAND_WORD: &str = "/nomad-spec";

/// Whether a line of `body` starts with the command word: the cheap first look that keeps
/// talk on issues out of the workflow. The workflow reads the commands properly
/// (`command::parse_commands`, which skips code and quotes).
fn holds_command_line(body: &str) -> bool {
    body.lines().any(|line| {
        line.trim()
            .strip_prefix(COMMAND_WORD)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
    })
}

fn push_trigger(p: PushPayload) -> Trigger {
    let repository: Repository = p.repository.into();
    let Some(branch) = p.r#ref.strip_prefix("refs/heads/") else {
        return Trigger::Ignored { reason: format!("`{}` is not a branch", p.r#ref) };
    };
    if branch != repository.default_branch {
        return Trigger::Ignored {
            reason: format!(
                "push to `{branch}`; deploys happen from the default branch `{}`",
                repository.default_branch
            ),
        };
    }
    if p.deleted.unwrap_or(false) {
        return Trigger::Ignored { reason: format!("the branch `{branch}` was deleted") };
    }
    let mut changed_files: Vec<String> = p
        .commits
        .unwrap_or_default()
        .into_iter()
        .flat_map(|c| c.added.into_iter().chain(c.modified))
        .collect();
    changed_files.sort();
    changed_files.dedup();
    Trigger::PushToDefaultBranch { repository, after: p.after, changed_files }
}

#[derive(Deserialize)]
#[serde(expecting = "a repository object")]
struct RepositoryPayload {
    full_name: String,
    /// Older payloads name it `master_branch`; both may be missing in odd test payloads.
    default_branch: Option<String>,
    master_branch: Option<String>,
}

impl From<RepositoryPayload> for Repository {
    fn from(r: RepositoryPayload) -> Self {
        let default_branch =
            r.default_branch.or(r.master_branch).unwrap_or_else(|| "main".to_string());
        Repository { full_name: r.full_name, default_branch }
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a user object")]
struct UserPayload {
    login: String,
    r#type: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a pull_request event object")]
struct PullRequestPayload {
    action: String,
    pull_request: PullRequestBody,
    repository: RepositoryPayload,
}

#[derive(Deserialize)]
#[serde(expecting = "a pull request object")]
struct PullRequestBody {
    number: u64,
    title: Option<String>,
    user: UserPayload,
    head: BranchPayload,
    base: BranchPayload,
    draft: Option<bool>,
    merged: Option<bool>,
    merge_commit_sha: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a branch object (ref, sha, repo)")]
struct BranchPayload {
    r#ref: String,
    sha: String,
    /// Null when the head repository was deleted.
    repo: Option<RepoNamePayload>,
}

#[derive(Deserialize)]
#[serde(expecting = "a repository object")]
struct RepoNamePayload {
    full_name: String,
}

impl PullRequestBody {
    fn normalize(self, base_repository: &str) -> PullRequest {
        let from_fork =
            self.head.repo.as_ref().map(|r| r.full_name.as_str()) != Some(base_repository);
        PullRequest {
            number: self.number,
            title: self.title.unwrap_or_default(),
            author: self.user.login,
            head_sha: self.head.sha,
            head_ref: self.head.r#ref,
            base_ref: self.base.r#ref,
            from_fork,
            draft: self.draft.unwrap_or(false),
        }
    }
}

#[derive(Deserialize)]
#[serde(expecting = "an issue_comment event object")]
struct IssueCommentPayload {
    action: String,
    issue: IssuePayload,
    comment: CommentPayload,
    repository: RepositoryPayload,
    sender: Option<UserPayload>,
}

#[derive(Deserialize)]
#[serde(expecting = "an issue object")]
struct IssuePayload {
    number: u64,
    /// Present only when the issue is a pull request.
    pull_request: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(expecting = "a comment object")]
struct CommentPayload {
    id: u64,
    user: UserPayload,
    body: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a workflow_run event object")]
struct WorkflowRunPayload {
    action: String,
    workflow_run: WorkflowRunBody,
    repository: RepositoryPayload,
}

#[derive(Deserialize)]
#[serde(expecting = "a workflow run object")]
struct WorkflowRunBody {
    head_sha: String,
    /// Null for a run of a deleted branch.
    head_branch: Option<String>,
    /// The workflow file (`.github/workflows/x.yml`, sometimes with `@ref`).
    path: String,
    /// The event that started the run (`push`, `pull_request`).
    event: String,
    /// Null until the run completes.
    conclusion: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a push event object")]
struct PushPayload {
    r#ref: String,
    after: String,
    deleted: Option<bool>,
    commits: Option<Vec<PushCommit>>,
    repository: RepositoryPayload,
}

#[derive(Deserialize)]
#[serde(expecting = "a commit object")]
struct PushCommit {
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a workflow_dispatch event object")]
struct DispatchPayload {
    r#ref: String,
    inputs: Option<serde_json::Map<String, serde_json::Value>>,
    repository: RepositoryPayload,
}

/// `schedule`: the cron line that fired and the repository.
#[derive(Deserialize)]
struct SchedulePayload {
    repository: RepositoryPayload,
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: &str = r#""repository": {"full_name": "acme/shop", "default_branch": "main"}"#;

    fn run_payload(
        action: &str,
        path: &str,
        event: &str,
        branch: &str,
        conclusion: &str,
    ) -> String {
        format!(
            r#"{{"action": "{action}", {REPO}, "workflow_run": {{"head_sha": "c0ffee",
            "head_branch": "{branch}", "path": "{path}", "event": "{event}",
            "conclusion": {conclusion}}}}}"#
        )
    }

    #[test]
    fn the_image_workflow_finishing_a_push_is_an_image_build() {
        let parse = |payload: String| from_github("workflow_run", &payload).unwrap();
        let done =
            parse(run_payload("completed", IMAGE_WORKFLOW_PATH, "push", "main", "\"success\""));
        assert_eq!(
            done,
            Trigger::ImagesBuilt {
                repository: Repository {
                    full_name: "acme/shop".into(),
                    default_branch: "main".into()
                },
                commit: "c0ffee".into(),
                succeeded: true,
                outcome: "success".into(),
            }
        );
        let failed =
            parse(run_payload("completed", IMAGE_WORKFLOW_PATH, "push", "main", "\"failure\""));
        assert!(matches!(failed, Trigger::ImagesBuilt { succeeded: false, .. }), "{failed:?}");
        for (payload, why) in [
            (
                run_payload("completed", ".github/workflows/ci.yml", "push", "main", "\"success\""),
                "not the image pipeline",
            ),
            (
                run_payload("in_progress", IMAGE_WORKFLOW_PATH, "push", "main", "null"),
                "not completed",
            ),
            (
                run_payload(
                    "completed",
                    IMAGE_WORKFLOW_PATH,
                    "pull_request",
                    "feature",
                    "\"success\"",
                ),
                "only pushes",
            ),
            (
                run_payload("completed", IMAGE_WORKFLOW_PATH, "push", "feature", "\"success\""),
                "only pushes",
            ),
        ] {
            match parse(payload) {
                Trigger::Ignored { reason } => assert!(reason.contains(why), "{reason}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        let err = from_github("workflow_run", r#"{"action": "completed", "workflow_run": {}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("workflow_run"), "{err}");
    }

    fn pr_payload(action: &str, extra: &str) -> String {
        format!(
            r#"{{"action": "{action}", {REPO}, "pull_request": {{"number": 7, "title": "Add api",
            "user": {{"login": "dev"}}, "draft": false, {extra}
            "head": {{"ref": "feature", "sha": "abc", "repo": {{"full_name": "acme/shop"}}}},
            "base": {{"ref": "main", "sha": "def", "repo": {{"full_name": "acme/shop"}}}}}}}}"#
        )
    }

    #[test]
    fn a_schedule_is_a_drift_check_of_the_repository() {
        let payload = format!(r#"{{"schedule": "17 * * * *", {REPO}}}"#);
        let t = from_github("schedule", &payload).map_err(|e| e.to_string());
        insta::assert_debug_snapshot!(t, @r#"
        Ok(
            Schedule {
                repository: Repository {
                    full_name: "acme/shop",
                    default_branch: "main",
                },
            },
        )
        "#);
        let err = from_github("schedule", r#"{"schedule": "17 * * * *"}"#).unwrap_err();
        assert!(err.to_string().contains("repository"), "{err}");
    }

    #[test]
    fn opened_pull_request() {
        let t = from_github("pull_request", &pr_payload("opened", "")).map_err(|e| e.to_string());
        insta::assert_debug_snapshot!(t, @r#"
        Ok(
            PullRequestChanged {
                repository: Repository {
                    full_name: "acme/shop",
                    default_branch: "main",
                },
                pull_request: PullRequest {
                    number: 7,
                    title: "Add api",
                    author: "dev",
                    head_sha: "abc",
                    head_ref: "feature",
                    base_ref: "main",
                    from_fork: false,
                    draft: false,
                },
                action: Opened,
            },
        )
        "#);
    }

    #[test]
    fn merged_pull_request_deploys_and_closed_one_is_ignored() {
        let merged = pr_payload("closed", r#""merged": true, "merge_commit_sha": "m1","#);
        assert!(matches!(
            from_github("pull_request", &merged),
            Ok(Trigger::PullRequestMerged { ref merge_sha, .. }) if merge_sha == "m1"
        ));
        let closed = pr_payload("closed", r#""merged": false,"#);
        assert!(matches!(from_github("pull_request", &closed), Ok(Trigger::Ignored { .. })));
    }

    #[test]
    fn fork_head_is_marked() {
        let fork = pr_payload("opened", "").replacen(
            r#""repo": {"full_name": "acme/shop"}}"#,
            r#""repo": {"full_name": "mallory/shop"}}"#,
            1,
        );
        let Ok(Trigger::PullRequestChanged { pull_request, .. }) =
            from_github("pull_request", &fork)
        else {
            panic!("expected a pull request trigger");
        };
        assert!(pull_request.from_fork);
    }

    #[test]
    fn missing_fields_are_a_clear_error() {
        let err = from_github("pull_request", r#"{"action": "opened"}"#).map(|_| ()).unwrap_err();
        insta::assert_snapshot!(err.to_string(), @"the `pull_request` event is not what the forge sends: missing field `pull_request` at line 1 column 20");
        assert!(from_github("push", "not json").is_err());
    }

    fn issue_comment(login: &str, kind: &str, body: &str) -> String {
        let body = serde_json::to_string(body).unwrap();
        format!(
            r#"{{"action": "created", {REPO}, "issue": {{"number": 3}},
            "comment": {{"id": 1, "user": {{"login": "{login}", "type": "{kind}"}}, "body": {body}}},
            "sender": {{"login": "{login}"}}}}"#
        )
    }

    #[test]
    fn a_command_on_an_issue_is_an_issue_comment() {
        let payload = issue_comment("dev", "User", "Please fix.\n/nomad-spec deploy web\n");
        insta::assert_debug_snapshot!(from_github("issue_comment", &payload).ok(), @r#"
        Some(
            IssueComment {
                repository: Repository {
                    full_name: "acme/shop",
                    default_branch: "main",
                },
                issue_number: 3,
                comment: Comment {
                    id: 1,
                    author: "dev",
                    body: "Please fix.\n/nomad-spec deploy web\n",
                    edited: false,
                    from_bot: false,
                    sender: "dev",
                },
            },
        )
        "#);
    }

    #[test]
    fn comments_on_issues_without_a_command_or_by_a_bot_are_ignored() {
        let talk = issue_comment("dev", "User", "I think `/nomad-spec deploy web` is right");
        insta::assert_debug_snapshot!(from_github("issue_comment", &talk).ok(), @r##"
        Some(
            Ignored {
                reason: "the comment on issue #3 holds no `/nomad-spec` command",
            },
        )
        "##);
        let bot = issue_comment("nomad-spec[bot]", "Bot", "/nomad-spec deploy web");
        insta::assert_debug_snapshot!(from_github("issue_comment", &bot).ok(), @r##"
        Some(
            Ignored {
                reason: "a comment by the bot nomad-spec[bot] on issue #3",
            },
        )
        "##);
        let wrong = issue_comment("dev", "User", "x").replace(r#""number": 3"#, r#""number": "3""#);
        let err = from_github("issue_comment", &wrong).unwrap_err().to_string();
        assert!(err.contains("field `issue.number`"), "{err}");
    }

    #[test]
    fn pull_request_comment_from_a_person_and_from_a_bot() {
        let payload = |login: &str, action: &str| {
            format!(
                r#"{{"action": "{action}", {REPO}, "issue": {{"number": 7, "pull_request": {{}}}},
                "comment": {{"id": 9, "user": {{"login": "{login}", "type": "User"}}, "body": "1: x"}}}}"#
            )
        };
        let Ok(Trigger::PullRequestComment { pull_request_number, comment, .. }) =
            from_github("issue_comment", &payload("dev", "edited"))
        else {
            panic!("expected a comment trigger");
        };
        assert_eq!((pull_request_number, comment.edited, comment.from_bot), (7, true, false));
        let Ok(Trigger::PullRequestComment { comment, .. }) =
            from_github("issue_comment", &payload("nomad-spec[bot]", "created"))
        else {
            panic!("expected a comment trigger");
        };
        assert!(comment.from_bot);
        assert!(matches!(
            from_github("issue_comment", &payload("dev", "deleted")),
            Ok(Trigger::Ignored { .. })
        ));
    }

    #[test]
    fn push_to_other_branch_is_ignored() {
        let payload =
            format!(r#"{{"ref": "refs/heads/feature", "after": "x", {REPO}, "commits": []}}"#);
        assert!(matches!(from_github("push", &payload), Ok(Trigger::Ignored { .. })));
        let payload = format!(
            r#"{{"ref": "refs/heads/main", "after": "x", {REPO},
            "commits": [{{"added": ["deploy/a.nomad.hcl"], "modified": ["README.md", "deploy/a.nomad.hcl"]}}]}}"#
        );
        let Ok(Trigger::PushToDefaultBranch { changed_files, .. }) = from_github("push", &payload)
        else {
            panic!("expected a push trigger");
        };
        assert_eq!(changed_files, ["README.md", "deploy/a.nomad.hcl"]);
    }
}
