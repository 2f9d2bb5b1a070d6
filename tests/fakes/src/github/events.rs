//! Webhook payloads built from the fake's current state, for `GITHUB_EVENT_NAME` and the file
//! at `GITHUB_EVENT_PATH`: `pull_request`, `issue_comment`, `push` and `workflow_run`, shaped like the payloads
//! in the shared corpus (https://docs.github.com/en/webhooks/webhook-events-and-payloads).

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::objects::{self, Site};
use super::FakeGitHub;
use crate::git_http;

/// A commit id of zeros: a branch created or deleted by the push.
pub const NO_COMMIT: &str = "0000000000000000000000000000000000000000";

impl FakeGitHub {
    fn site(&self) -> Site {
        Site {
            server: self.url(),
            api: self.url(),
            repository: self.repository(),
            default_branch: self.default_branch(),
        }
    }

    /// `(event name, payload)` of a `pull_request` event for pull request `number` as it is
    /// now: `opened`, `synchronize`, `reopened`, `ready_for_review`, `closed` (merged or not,
    /// as the fake has it) ...
    pub fn pull_request_event(
        &self,
        number: u64,
        action: &str,
    ) -> anyhow::Result<(String, String)> {
        let pull = self.pull(number).with_context(|| format!("no pull request #{number}"))?;
        let site = self.site();
        let base_sha = git_http::head_of(&self.bare_path(), &pull.base_ref).unwrap_or_default();
        let mut state = self.shared.lock();
        let author = state.user(&pull.author);
        let owner_login = state.owner().to_string();
        let owner = state.user(&owner_login);
        let sender = if action == "closed" { owner.clone() } else { author.clone() };
        let mut payload = json!({
            "action": action,
            "number": number,
            "pull_request": objects::pull(&site, &pull, &author, &base_sha, &owner),
            "repository": objects::repository(&site, &site.repository, &owner),
            "sender": objects::user(&site, &sender),
        });
        if action == "synchronize" {
            payload["after"] = json!(pull.head_sha);
        }
        Ok(("pull_request".into(), payload.to_string()))
    }

    /// `(event name, payload)` of an `issue_comment` event (`created`, `edited`, `deleted`)
    /// for comment `comment_id`, on a pull request or a plain issue (then `issue` has no
    /// `pull_request`); `edited` carries the previous body under `changes`.
    pub fn issue_comment_event(
        &self,
        comment_id: u64,
        action: &str,
    ) -> anyhow::Result<(String, String)> {
        let site = self.site();
        let comment = {
            let state = self.shared.lock();
            state.comments.iter().find(|c| c.id == comment_id).cloned()
        };
        let comment = comment.with_context(|| format!("no comment {comment_id}"))?;
        // A plain issue's comment carries the issue; a pull request's, its issue side.
        let plain = self.shared.lock().issues.get(&comment.number).cloned();
        let pull = match plain {
            Some(_) => None,
            None => Some(self.pull(comment.number).context("the comment's pull request is gone")?),
        };
        let mut state = self.shared.lock();
        let issue = match (&plain, &pull) {
            (Some(issue), _) => {
                let author = state.user(&issue.author);
                objects::plain_issue(&site, issue, &author)
            }
            (None, Some(pull)) => {
                let author = state.user(&pull.author);
                objects::issue(&site, pull, &author)
            }
            (None, None) => bail!("comment {comment_id} is on nothing"),
        };
        let commenter = state.user(&comment.author);
        let owner_login = state.owner().to_string();
        let owner = state.user(&owner_login);
        let reactions: Vec<&super::Reaction> =
            state.reactions.iter().filter(|r| r.comment_id == comment_id).collect();
        let mut payload = json!({
            "action": action,
            "issue": issue,
            "comment": objects::comment(&site, &comment, &commenter, &reactions),
            "repository": objects::repository(&site, &site.repository, &owner),
            "sender": objects::user(&site, &commenter),
        });
        if action == "edited" {
            let from = comment.previous_body.clone().unwrap_or_default();
            payload["changes"] = json!({ "body": { "from": from } });
        }
        Ok(("issue_comment".into(), payload.to_string()))
    }

    /// `(event name, payload)` of a `workflow_run` event: the run of the workflow at `path`
    /// for `head_sha` of `branch`, started by `event` (`push`, `pull_request`), `completed`
    /// with `conclusion` (`success`, `failure`, ...) or `requested`/`in_progress` (no
    /// conclusion yet).
    pub fn workflow_run_event(
        &self,
        action: &str,
        path: &str,
        branch: &str,
        head_sha: &str,
        event: &str,
        conclusion: Option<&str>,
    ) -> anyhow::Result<(String, String)> {
        let site = self.site();
        let mut state = self.shared.lock();
        let owner_login = state.owner().to_string();
        let owner = state.user(&owner_login);
        let repository = objects::repository(&site, &site.repository, &owner);
        let run_id = 30_433_642 + head_sha.len() as u64;
        let api = format!("{}/repos/{}", site.api, site.repository);
        let payload = json!({
            "action": action,
            "workflow_run": {
                "id": run_id,
                "name": "nomad-spec images",
                "node_id": "WFR_kwLOAAAAAAAAAAA",
                "head_branch": branch,
                "head_sha": head_sha,
                "path": path,
                "display_title": "nomad-spec images",
                "run_number": 1,
                "event": event,
                "status": if action == "completed" { "completed" } else { action },
                "conclusion": conclusion,
                "workflow_id": 161_335,
                "check_suite_id": 414_944_374,
                "url": format!("{api}/actions/runs/{run_id}"),
                "html_url": format!("{}/{}/actions/runs/{run_id}", site.server, site.repository),
                "pull_requests": [],
                "created_at": "2026-12-06T10:00:00Z",
                "updated_at": "2026-12-06T10:05:00Z",
                "run_attempt": 1,
                "run_started_at": "2026-12-06T10:00:00Z",
                "actor": objects::user(&site, &owner),
                "triggering_actor": objects::user(&site, &owner),
                "head_commit": { "id": head_sha, "tree_id": head_sha, "message": "", "timestamp": "2026-12-06T10:00:00Z" },
                "repository": repository.clone(),
                "head_repository": repository.clone(),
            },
            "workflow": { "id": 161_335, "name": "nomad-spec images", "path": path, "state": "active" },
            "repository": repository,
            "sender": objects::user(&site, &owner),
        });
        Ok(("workflow_run".into(), payload.to_string()))
    }

    /// `(event name, payload)` of a `push` of `branch` from `before` to `after` (either may be
    /// [`NO_COMMIT`]), listing each pushed commit with its added, removed and modified files as
    /// the repository has them.
    pub fn push_event(
        &self,
        branch: &str,
        before: &str,
        after: &str,
    ) -> anyhow::Result<(String, String)> {
        let site = self.site();
        let bare = self.bare_path();
        let range: Vec<String> = if after == NO_COMMIT {
            Vec::new()
        } else if before == NO_COMMIT {
            if branch == site.default_branch {
                vec![after.to_string()]
            } else {
                vec![
                    after.to_string(),
                    "--not".into(),
                    format!("refs/heads/{}", site.default_branch),
                ]
            }
        } else {
            vec![format!("{before}..{after}")]
        };
        let mut commits = Vec::new();
        if !range.is_empty() {
            let mut args = vec!["rev-list", "--reverse"];
            args.extend(range.iter().map(String::as_str));
            for sha in git_http::git(&bare, &args)?.lines() {
                commits.push(push_commit(&site, &bare, sha)?);
            }
        }
        let mut state = self.shared.lock();
        let owner_login = state.owner().to_string();
        let owner = state.user(&owner_login);
        let mut repository = objects::repository(&site, &site.repository, &owner);
        repository["master_branch"] = json!(site.default_branch);
        let payload = json!({
            "ref": format!("refs/heads/{branch}"),
            "before": before,
            "after": after,
            "created": before == NO_COMMIT,
            "deleted": after == NO_COMMIT,
            "forced": false,
            "base_ref": null,
            "compare": format!("{}/{}/compare/{}...{}", site.server, site.repository,
                &before[..before.len().min(12)], &after[..after.len().min(12)]),
            "head_commit": commits.last().cloned().unwrap_or(Value::Null),
            "commits": commits,
            "repository": repository,
            "pusher": { "name": owner.login, "email": format!("{}@users.noreply.github.com", owner.login) },
            "sender": objects::user(&site, &owner),
        });
        Ok(("push".into(), payload.to_string()))
    }
}

/// One commit of a push payload: id, message, author, and files by what happened to them
/// (compared with the first parent, as GitHub lists merge commits).
fn push_commit(site: &Site, bare: &std::path::Path, sha: &str) -> anyhow::Result<Value> {
    let meta = git_http::git(bare, &["show", "-s", "--format=%T%n%an%n%ae%n%cI%n%B", sha])?;
    let mut lines = meta.lines();
    let mut next = || lines.next().unwrap_or_default().to_string();
    let (tree, name, email, time) = (next(), next(), next(), next());
    let message: Vec<&str> = meta.lines().skip(4).collect();
    let message = message.join("\n").trim_end().to_string();
    let diff = git_http::git(
        bare,
        &[
            "diff-tree",
            "-r",
            "--no-commit-id",
            "--name-status",
            "--root",
            "-m",
            "--first-parent",
            sha,
        ],
    )?;
    let (mut added, mut removed, mut modified) = (Vec::new(), Vec::new(), Vec::new());
    for line in diff.lines() {
        let Some((status, path)) = line.split_once('\t') else { continue };
        match status.chars().next() {
            Some('A') => added.push(path.to_string()),
            Some('D') => removed.push(path.to_string()),
            Some('M' | 'T') => modified.push(path.to_string()),
            _ => bail!("unexpected diff-tree line {line:?}"),
        }
    }
    let person = json!({ "name": name, "email": email, "username": name });
    Ok(json!({
        "id": sha,
        "tree_id": tree,
        "distinct": true,
        "message": message,
        "timestamp": time,
        "url": format!("{}/{}/commit/{sha}", site.server, site.repository),
        "author": person,
        "committer": person,
        "added": added,
        "removed": removed,
        "modified": modified,
    }))
}
