//! GitHub's JSON objects as the REST API and webhooks send them (users, repositories, pull
//! requests, comments, reactions, check runs, statuses, deployments), built from the fake's
//! state. Shapes follow the REST reference (https://docs.github.com/en/rest) and the webhook
//! payloads in the shared corpus; fields the bot never reads are kept where they are cheap, so
//! a client that needs them finds them.

use serde_json::{json, Value};

use super::{
    Annotation, CheckRun, Comment, CommitStatus, Deployment, DeploymentStatus, Issue, Pull,
    Reaction, User,
};

/// Where the fake is reached and for which repository: every URL in an object is built from
/// it, so links work against the fake.
#[derive(Debug, Clone)]
pub struct Site {
    /// `http://127.0.0.1:PORT` (the web and git host).
    pub server: String,
    /// `http://127.0.0.1:PORT` or `.../api/v3`, as the request came in.
    pub api: String,
    /// `owner/name`.
    pub repository: String,
    pub default_branch: String,
}

impl Site {
    fn repo_api(&self) -> String {
        format!("{}/repos/{}", self.api, self.repository)
    }

    fn repo_html(&self) -> String {
        format!("{}/{}", self.server, self.repository)
    }
}

/// `2024-05-01T12:00:00Z` plus `seconds`.
pub fn timestamp(seconds: u64) -> String {
    let total = 12 * 3600 + seconds;
    let (days, rest) = (total / 86_400, total % 86_400);
    // May has 31 days; a fake that runs longer than that wraps into later months loosely.
    let (month, day) = (5 + days / 31, 1 + days % 31);
    format!(
        "2024-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

/// A user object (`type: Bot` for bots).
pub fn user(site: &Site, user: &User) -> Value {
    json!({
        "login": user.login,
        "id": user.id,
        "node_id": format!("MDQ6VXNlcj{}", user.id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", user.id),
        "gravatar_id": "",
        "url": format!("{}/users/{}", site.api, user.login),
        "html_url": format!("{}/{}", site.server, user.login),
        "type": if user.bot { "Bot" } else { "User" },
        "site_admin": false,
    })
}

/// A repository object; `full_name` may be a fork's.
pub fn repository(site: &Site, full_name: &str, owner: &User) -> Value {
    let name = full_name.split('/').nth(1).unwrap_or(full_name);
    let fork = full_name != site.repository;
    let id = 186_853_002u64 + full_name.bytes().map(u64::from).sum::<u64>();
    json!({
        "id": id,
        "node_id": format!("MDEwOlJlcG9zaXRvcnk{id}"),
        "name": name,
        "full_name": full_name,
        "private": false,
        "owner": user(site, owner),
        "html_url": format!("{}/{}", site.server, full_name),
        "description": null,
        "fork": fork,
        "url": format!("{}/repos/{}", site.api, full_name),
        "git_url": format!("git://{}/{}.git", site.server.trim_start_matches("http://"), full_name),
        "clone_url": format!("{}/{}.git", site.server, full_name),
        "created_at": "2024-05-01T00:00:00Z",
        "updated_at": "2024-05-01T00:00:00Z",
        "pushed_at": "2024-05-01T00:00:00Z",
        "default_branch": site.default_branch,
        "archived": false,
        "disabled": false,
        "visibility": "public",
    })
}

fn author_association(author: &str, site: &Site) -> &'static str {
    if site.repository.split('/').next() == Some(author) {
        "OWNER"
    } else {
        "CONTRIBUTOR"
    }
}

/// A pull request object (`GET /repos/{o}/{r}/pulls/{n}`).
pub fn pull(site: &Site, pull: &Pull, author: &User, base_sha: &str, owner: &User) -> Value {
    let head_owner = pull.head_repo.split('/').next().unwrap_or_default();
    let head_owner = if pull.head_repo == site.repository {
        owner.clone()
    } else {
        User { login: head_owner.to_string(), id: author.id, bot: false }
    };
    let n = pull.number;
    let api = site.repo_api();
    json!({
        "url": format!("{api}/pulls/{n}"),
        "id": 279_147_000 + n,
        "node_id": format!("MDExOlB1bGxSZXF1ZXN0{n}"),
        "html_url": format!("{}/pull/{n}", site.repo_html()),
        "diff_url": format!("{}/pull/{n}.diff", site.repo_html()),
        "patch_url": format!("{}/pull/{n}.patch", site.repo_html()),
        "issue_url": format!("{api}/issues/{n}"),
        "comments_url": format!("{api}/issues/{n}/comments"),
        "statuses_url": format!("{api}/statuses/{}", pull.head_sha),
        "number": n,
        "state": pull.state,
        "locked": false,
        "title": pull.title,
        "user": user(site, author),
        "body": if pull.body.is_empty() { Value::Null } else { json!(pull.body) },
        "created_at": pull.created_at,
        "updated_at": pull.updated_at,
        "closed_at": if pull.state == "closed" { json!(pull.updated_at) } else { Value::Null },
        "merged_at": if pull.merged { json!(pull.updated_at) } else { Value::Null },
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "labels": [],
        "draft": pull.draft,
        "head": {
            "label": format!("{}:{}", head_owner.login, pull.head_ref),
            "ref": pull.head_ref,
            "sha": pull.head_sha,
            "user": user(site, &head_owner),
            "repo": repository(site, &pull.head_repo, &head_owner),
        },
        "base": {
            "label": format!("{}:{}", owner.login, pull.base_ref),
            "ref": pull.base_ref,
            "sha": base_sha,
            "user": user(site, owner),
            "repo": repository(site, &site.repository, owner),
        },
        "author_association": author_association(&pull.author, site),
        "merged": pull.merged,
        "mergeable": if pull.state == "open" { json!(true) } else { Value::Null },
        "comments": 0,
        "commits": 1,
    })
}

/// The reaction counts every comment carries.
fn reaction_rollup(site: &Site, comment_id: u64, reactions: &[&Reaction]) -> Value {
    let count = |content: &str| reactions.iter().filter(|r| r.content == content).count();
    json!({
        "url": format!("{}/issues/comments/{comment_id}/reactions", site.repo_api()),
        "total_count": reactions.len(),
        "+1": count("+1"), "-1": count("-1"), "laugh": count("laugh"),
        "hooray": count("hooray"), "confused": count("confused"), "heart": count("heart"),
        "rocket": count("rocket"), "eyes": count("eyes"),
    })
}

/// An issue comment object.
pub fn comment(site: &Site, comment: &Comment, author: &User, reactions: &[&Reaction]) -> Value {
    let api = site.repo_api();
    json!({
        "url": format!("{api}/issues/comments/{}", comment.id),
        "html_url": format!("{}/pull/{}#issuecomment-{}", site.repo_html(), comment.number, comment.id),
        "issue_url": format!("{api}/issues/{}", comment.number),
        "id": comment.id,
        "node_id": format!("MDEyOklzc3VlQ29tbWVudD{}", comment.id),
        "user": user(site, author),
        "created_at": comment.created_at,
        "updated_at": comment.updated_at,
        "author_association": author_association(&comment.author, site),
        "body": comment.body,
        "reactions": reaction_rollup(site, comment.id, reactions),
        "performed_via_github_app": null,
    })
}

/// The issue side of a pull request, as `issue_comment` webhooks carry it.
pub fn issue(site: &Site, pull: &Pull, author: &User) -> Value {
    let api = site.repo_api();
    let n = pull.number;
    json!({
        "url": format!("{api}/issues/{n}"),
        "html_url": format!("{}/pull/{n}", site.repo_html()),
        "id": 444_500_000 + n,
        "node_id": format!("MDU6SXNzdWU{n}"),
        "number": n,
        "title": pull.title,
        "user": user(site, author),
        "labels": [],
        "state": pull.state,
        "locked": false,
        "assignee": null,
        "assignees": [],
        "comments": 0,
        "created_at": pull.created_at,
        "updated_at": pull.updated_at,
        "closed_at": if pull.state == "closed" { json!(pull.updated_at) } else { Value::Null },
        "author_association": author_association(&pull.author, site),
        "draft": pull.draft,
        "pull_request": {
            "url": format!("{api}/pulls/{n}"),
            "html_url": format!("{}/pull/{n}", site.repo_html()),
            "diff_url": format!("{}/pull/{n}.diff", site.repo_html()),
            "patch_url": format!("{}/pull/{n}.patch", site.repo_html()),
            "merged_at": if pull.merged { json!(pull.updated_at) } else { Value::Null },
        },
        "body": if pull.body.is_empty() { Value::Null } else { json!(pull.body) },
    })
}

/// An issue that is not a pull request.
pub fn plain_issue(site: &Site, issue: &Issue, author: &User) -> Value {
    let api = site.repo_api();
    let n = issue.number;
    json!({
        "url": format!("{api}/issues/{n}"),
        "html_url": format!("{}/issues/{n}", site.repo_html()),
        "id": 444_500_000 + n,
        "node_id": format!("MDU6SXNzdWU{n}"),
        "number": n,
        "title": issue.title,
        "user": user(site, author),
        "labels": [],
        "state": issue.state,
        "locked": false,
        "assignee": null,
        "assignees": [],
        "comments": 0,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_at": if issue.state == "closed" { json!(issue.updated_at) } else { Value::Null },
        "author_association": author_association(&issue.author, site),
        "body": if issue.body.is_empty() { Value::Null } else { json!(issue.body) },
    })
}

/// A reaction object.
pub fn reaction(site: &Site, reaction: &Reaction, by: &User) -> Value {
    json!({
        "id": reaction.id,
        "node_id": format!("MDg6UmVhY3Rpb2{}", reaction.id),
        "user": user(site, by),
        "content": reaction.content,
        "created_at": "2024-05-01T12:00:00Z",
    })
}

fn annotation(a: &Annotation) -> Value {
    json!({
        "path": a.path,
        "start_line": a.start_line,
        "end_line": a.end_line,
        "annotation_level": a.level,
        "message": a.message,
        "title": a.title,
        "raw_details": null,
        "blob_href": "",
    })
}

/// The annotations of a check run (`GET .../check-runs/{id}/annotations`).
pub fn annotations(run: &CheckRun) -> Value {
    Value::Array(run.annotations.iter().map(annotation).collect())
}

/// A check-run object.
pub fn check_run(site: &Site, run: &CheckRun, app_owner: &User) -> Value {
    let api = site.repo_api();
    json!({
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": format!("MDg6Q2hlY2tSdW4{}", run.id),
        "external_id": "",
        "url": format!("{api}/check-runs/{}", run.id),
        "html_url": format!("{}/runs/{}", site.repo_html(), run.id),
        "details_url": format!("{}/runs/{}", site.repo_html(), run.id),
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": run.created_at,
        "completed_at": if run.status == "completed" { json!(run.created_at) } else { Value::Null },
        "output": {
            "title": run.title,
            "summary": run.summary,
            "text": run.text,
            "annotations_count": run.annotations.len(),
            "annotations_url": format!("{api}/check-runs/{}/annotations", run.id),
        },
        "name": run.name,
        "check_suite": { "id": 5_000_000 + run.id },
        "app": {
            "id": 15368,
            "slug": "github-actions",
            "name": "GitHub Actions",
            "owner": user(site, app_owner),
        },
        "pull_requests": [],
    })
}

/// A commit status object.
pub fn status(site: &Site, status: &CommitStatus, creator: &User) -> Value {
    json!({
        "url": format!("{}/statuses/{}", site.repo_api(), status.sha),
        "avatar_url": null,
        "id": status.id,
        "node_id": format!("MDEzOlN0YXR1c0NvbnRleHQ{}", status.id),
        "state": status.state,
        "description": status.description,
        "target_url": status.target_url,
        "context": status.context,
        "created_at": status.created_at,
        "updated_at": status.created_at,
        "creator": user(site, creator),
    })
}

/// A deployment object.
pub fn deployment(site: &Site, deployment: &Deployment, creator: &User) -> Value {
    let api = site.repo_api();
    json!({
        "url": format!("{api}/deployments/{}", deployment.id),
        "id": deployment.id,
        "node_id": format!("MDEwOkRlcGxveW1lbnQ{}", deployment.id),
        "sha": deployment.sha,
        "ref": deployment.git_ref,
        "task": "deploy",
        "payload": {},
        "original_environment": deployment.environment,
        "environment": deployment.environment,
        "description": deployment.description,
        "creator": user(site, creator),
        "created_at": deployment.created_at,
        "updated_at": deployment.created_at,
        "statuses_url": format!("{api}/deployments/{}/statuses", deployment.id),
        "repository_url": api,
        "transient_environment": false,
        "production_environment": deployment.environment == "production",
    })
}

/// A deployment status object.
pub fn deployment_status(
    site: &Site,
    deployment: &Deployment,
    status: &DeploymentStatus,
    creator: &User,
) -> Value {
    let api = site.repo_api();
    json!({
        "url": format!("{api}/deployments/{}/statuses/{}", deployment.id, status.id),
        "id": status.id,
        "node_id": format!("MDE2OkRlcGxveW1lbnRTdGF0dXM{}", status.id),
        "state": status.state,
        "creator": user(site, creator),
        "description": status.description.clone().unwrap_or_default(),
        "environment": deployment.environment,
        "target_url": "",
        "log_url": "",
        "created_at": deployment.created_at,
        "updated_at": deployment.created_at,
        "deployment_url": format!("{api}/deployments/{}", deployment.id),
        "repository_url": api,
    })
}
