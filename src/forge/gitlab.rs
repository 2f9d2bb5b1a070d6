//! GitLab adapter: the forge calls of the bot over GitLab's REST API v4 (reqwest).
//!
//! It owns how the bot's words map onto GitLab: a change request is a merge request (numbered
//! by its `iid`), comments are its notes (system notes skipped), reactions are award emoji,
//! checks are commit statuses (`nomad-spec/plan`, ...), the deploy record is a deployment of
//! an environment, and the commenter's permission is their member access level. Every call
//! goes to `CI_API_V4_URL` with the project access token from `NOMAD_SPEC_GITLAB_TOKEN` in
//! `PRIVATE-TOKEN`: the job token (`CI_JOB_TOKEN`) may not write notes, statuses or read
//! members, and one credential fails one way. Pushes go to `CI_SERVER_URL` with the same
//! token and the `ci.skip` push option, so the bot's own commits start no pipeline.
//!
//! Rate limits (`429`), server errors (`5xx`) and broken connections are retried under the
//! retry policy every client shares (`crate::http::retry`), waiting what `Retry-After` (or
//! `RateLimit-Reset`) says; a call that would create something twice (posting a note) is
//! retried only after a refusal (`429`, no connection), which comes before anything is done.
//! Errors name the call (`POST /projects/7/merge_requests/3/notes`), GitLab's `message` and
//! what to do; the token never appears in one.
//!
//! API pages: <https://docs.gitlab.com/api/notes/>, <https://docs.gitlab.com/api/emoji_reactions/>,
//! <https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit>,
//! <https://docs.gitlab.com/api/members/>, <https://docs.gitlab.com/api/deployments/>,
//! <https://docs.gitlab.com/api/merge_requests/>, <https://docs.gitlab.com/api/rest/#pagination>.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use super::{CheckDelivery, DeploymentState, ForgeError, RetryPolicy};
use crate::checks::{CheckResult, CheckStatus};
use crate::conversation::{Permission, PostedComment, PostedIssue, Reaction};
use crate::event::PullRequest;
use crate::git::GitRemote;
use crate::http::retry::{self, Repeat, Transience};
use crate::settings::{GitLabSettings, Secret, Settings, GITLAB_TOKEN};

/// A CI/CD variable that cannot be used, as a forge error.
fn settings_error(message: String) -> ForgeError {
    ForgeError {
        forge: "GitLab",
        what: "reading the CI/CD variables".into(),
        status: None,
        message,
    }
}

/// GitLab refuses a commit status description or target URL longer than this.
const STATUS_TEXT_LIMIT: usize = 255;
/// Notes are read 100 a page; more pages than this is a loop, not a merge request.
const MAX_PAGES: u32 = 200;

/// The GitLab client of one project, from the CI job's variables.
pub struct GitLab {
    /// `CI_API_V4_URL` without a trailing slash.
    api: String,
    /// The project's id (or URL-encoded path) as it goes into API paths.
    project: String,
    token: Secret,
    configured_login: Option<String>,
    login: OnceCell<String>,
    http: reqwest::Client,
    retry: RetryPolicy,
    remote: GitRemote,
}

impl std::fmt::Debug for GitLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitLab")
            .field("api", &self.api)
            .field("project", &self.project)
            .field("token", &self.token)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

/// What GitLab answered, read whole.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl GitLab {
    /// The client of the project `settings` name (see [`GitLabSettings`]).
    pub fn new(settings: GitLabSettings) -> Result<GitLab, ForgeError> {
        let GitLabSettings { api, server, project, path, token, bot_login, ca_file, calls } =
            settings;
        crate::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(calls.request_timeout))
            .timeout(calls.request_timeout)
            .user_agent(concat!("nomad-spec/", env!("CARGO_PKG_VERSION")));
        if let Some(file) = &ca_file {
            builder = crate::http::trust_ca_bundle(builder, file, "CI_SERVER_TLS_CA_FILE")
                .map_err(settings_error)?;
        }
        let http = builder
            .build()
            .map_err(|err| settings_error(format!("cannot build the HTTP client: {err}")))?;
        let remote = GitRemote {
            url: format!("{server}/{path}.git"),
            username: "oauth2".into(),
            token: token.clone(),
            push_options: vec!["ci.skip".into()],
            ca_file,
        };
        Ok(GitLab {
            api,
            project,
            token,
            configured_login: bot_login,
            login: OnceCell::new(),
            http,
            retry: calls.retry,
            remote,
        })
    }

    /// The client from `settings`, a setting that cannot be used being a [`ForgeError`].
    pub fn from_settings(settings: &Settings) -> Result<GitLab, ForgeError> {
        GitLab::new(settings.gitlab().map_err(|err| settings_error(err.to_string()))?)
    }

    /// The same client with another retry policy (tests wait less).
    pub fn with_retry(mut self, retry: RetryPolicy) -> GitLab {
        self.retry = retry;
        self
    }

    /// The write token's user (`GET /user`), asked once; or `NOMAD_SPEC_BOT_LOGIN`.
    pub async fn bot_login(&self) -> Result<String, ForgeError> {
        if let Some(login) = &self.configured_login {
            return Ok(login.clone());
        }
        self.login
            .get_or_try_init(|| async {
                #[derive(Deserialize)]
                struct User {
                    username: String,
                }
                let user: User = self.read(Method::GET, "/user", &[]).await?;
                Ok(user.username)
            })
            .await
            .cloned()
    }

    /// The merge request `iid` as GitLab has it now.
    pub async fn pull_request(&self, number: u64) -> Result<PullRequest, ForgeError> {
        let path = format!("/projects/{}/merge_requests/{number}", self.project);
        let mr: MergeRequest = self.read(Method::GET, &path, &[]).await?;
        let head_sha = mr.sha.ok_or_else(|| ForgeError {
            forge: "GitLab",
            what: format!("GET {path}"),
            status: None,
            message: format!("merge request !{number} has no commits yet"),
        })?;
        Ok(PullRequest {
            number: mr.iid,
            title: mr.title,
            author: mr.author.username,
            head_sha,
            head_ref: mr.source_branch,
            base_ref: mr.target_branch,
            from_fork: mr.source_project_id != mr.target_project_id,
            draft: mr.draft.or(mr.work_in_progress).unwrap_or(false),
        })
    }

    /// Every note of the merge request, oldest first, all pages; system notes ("added 1
    /// commit") are not comments and are left out.
    pub async fn comments(&self, number: u64) -> Result<Vec<PostedComment>, ForgeError> {
        self.notes(&format!("/projects/{}/merge_requests/{number}/notes", self.project)).await
    }

    /// Posts a note; returns its id.
    pub async fn create_comment(&self, number: u64, body: &str) -> Result<u64, ForgeError> {
        let path = format!("/projects/{}/merge_requests/{number}/notes", self.project);
        self.create_note(&path, body).await
    }

    /// Every note of issue `iid` (`GET /projects/:id/issues/:iid/notes`), oldest first,
    /// system notes left out.
    pub async fn issue_comments(&self, iid: u64) -> Result<Vec<PostedComment>, ForgeError> {
        self.notes(&format!("/projects/{}/issues/{iid}/notes", self.project)).await
    }

    /// Posts a note on issue `iid` (`POST /projects/:id/issues/:iid/notes`); returns its id.
    pub async fn create_issue_comment(&self, iid: u64, body: &str) -> Result<u64, ForgeError> {
        self.create_note(&format!("/projects/{}/issues/{iid}/notes", self.project), body).await
    }

    /// The notes at `path` (a merge request's or an issue's), oldest first, all pages, system
    /// notes left out.
    async fn notes(&self, path: &str) -> Result<Vec<PostedComment>, ForgeError> {
        #[derive(Deserialize)]
        struct Note {
            id: u64,
            body: String,
            author: Author,
            #[serde(default)]
            system: bool,
        }
        let mut comments = Vec::new();
        let mut page = 1u32;
        loop {
            let query = [
                ("sort", "asc".to_string()),
                ("order_by", "created_at".to_string()),
                ("per_page", "100".to_string()),
                ("page", page.to_string()),
            ];
            let answer = self.call(Method::GET, path, &query, None, Repeat::Safe).await?;
            let notes: Vec<Note> = self.decode(Method::GET, path, &answer)?;
            comments.extend(notes.into_iter().filter(|n| !n.system).map(|n| PostedComment {
                id: n.id,
                author: n.author.username,
                body: n.body,
            }));
            match next_page(&answer, page) {
                Some(next) => page = next,
                None => break,
            }
        }
        Ok(comments)
    }

    /// Posts a note at `path`; returns its id.
    async fn create_note(&self, path: &str, body: &str) -> Result<u64, ForgeError> {
        let answer = self
            .call(Method::POST, path, &[], Some(json!({ "body": body })), Repeat::OnlyWhenRefused)
            .await?;
        let note: Id = self.decode(Method::POST, path, &answer)?;
        Ok(note.id)
    }

    /// Replaces a note's body.
    pub async fn edit_comment(&self, number: u64, id: u64, body: &str) -> Result<(), ForgeError> {
        let path = format!("/projects/{}/merge_requests/{number}/notes/{id}", self.project);
        let answer =
            self.call(Method::PUT, &path, &[], Some(json!({ "body": body })), Repeat::Safe).await?;
        self.decode::<Id>(Method::PUT, &path, &answer).map(|_| ())
    }

    /// Awards `thumbsup` or `confused` to a note; an emoji already awarded is success.
    pub async fn react(&self, number: u64, id: u64, reaction: Reaction) -> Result<(), ForgeError> {
        let name = match reaction {
            Reaction::PlusOne => "thumbsup",
            Reaction::Confused => "confused",
        };
        let path =
            format!("/projects/{}/merge_requests/{number}/notes/{id}/award_emoji", self.project);
        let answer = self
            .call(Method::POST, &path, &[], Some(json!({ "name": name })), Repeat::Safe)
            .await?;
        // GitLab answers an award given twice with `404 Award Emoji Name has already been
        // taken` (lib/api/award_emoji.rb).
        if answer.status == 404 && answer.body.contains("has already been taken") {
            return Ok(());
        }
        self.decode::<Id>(Method::POST, &path, &answer).map(|_| ())
    }

    /// A person's access level on the project (inherited from groups included): Owner →
    /// Admin, Maintainer → Maintain, Developer → Write, Reporter and below → Read; not a
    /// member (or no such user) → None.
    pub async fn permission(&self, login: &str) -> Result<Permission, ForgeError> {
        #[derive(Deserialize)]
        struct User {
            id: u64,
            username: String,
        }
        let users: Vec<User> =
            self.read(Method::GET, "/users", &[("username", login.to_string())]).await?;
        let Some(user) = users.into_iter().find(|u| u.username.eq_ignore_ascii_case(login)) else {
            return Ok(Permission::None);
        };
        let path = format!("/projects/{}/members/all/{}", self.project, user.id);
        let answer = self.call(Method::GET, &path, &[], None, Repeat::Safe).await?;
        if answer.status == 404 {
            return Ok(Permission::None);
        }
        #[derive(Deserialize)]
        struct Member {
            access_level: u32,
        }
        let member: Member = self.decode(Method::GET, &path, &answer)?;
        Ok(match member.access_level {
            50.. => Permission::Admin,
            40..=49 => Permission::Maintain,
            30..=39 => Permission::Write,
            // Reporter (20), Guest (10), Minimal access (5), Planner (15): may read.
            1..=29 => Permission::Read,
            _ => Permission::None,
        })
    }

    /// Sets the commit status named after the check on `head_sha`; the summary is its
    /// description (shortened to GitLab's 255 characters). GitLab keeps one status per name
    /// and sha, so a second report replaces the first. `details` has no place in a status:
    /// the bot's note carries it.
    pub async fn report_check(
        &self,
        head_sha: &str,
        check: &CheckResult,
        _details: &str,
    ) -> Result<CheckDelivery, ForgeError> {
        let state = match check.status {
            CheckStatus::Success => "success",
            CheckStatus::Failure => "failed",
            CheckStatus::Skipped => "skipped",
        };
        let path = format!("/projects/{}/statuses/{head_sha}", self.project);
        let body = json!({
            "state": state,
            "name": check.name,
            "description": shorten(&check.summary, STATUS_TEXT_LIMIT),
        });
        let answer = self.call(Method::POST, &path, &[], Some(body), Repeat::Safe).await?;
        self.decode::<Id>(Method::POST, &path, &answer)?;
        Ok(CheckDelivery::CommitStatus)
    }

    /// Creates a running deployment of `sha` to `environment` (created by GitLab on first use).
    pub async fn start_deployment(
        &self,
        sha: &str,
        git_ref: &str,
        environment: &str,
    ) -> Result<u64, ForgeError> {
        let path = format!("/projects/{}/deployments", self.project);
        let git_ref = git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref);
        let body = json!({
            "environment": environment,
            "sha": sha,
            "ref": git_ref,
            "tag": false,
            "status": "running",
        });
        let answer =
            self.call(Method::POST, &path, &[], Some(body), Repeat::OnlyWhenRefused).await?;
        let deployment: Id = self.decode(Method::POST, &path, &answer)?;
        Ok(deployment.id)
    }

    /// Moves a deployment to `running`, `success` or `failed`. GitLab deployments have no
    /// description; the bot's note says what happened.
    pub async fn update_deployment(
        &self,
        id: u64,
        state: DeploymentState,
        _description: &str,
    ) -> Result<(), ForgeError> {
        let status = match state {
            DeploymentState::InProgress => "running",
            DeploymentState::Success => "success",
            DeploymentState::Failure => "failed",
        };
        let path = format!("/projects/{}/deployments/{id}", self.project);
        let answer = self
            .call(Method::PUT, &path, &[], Some(json!({ "status": status })), Repeat::Safe)
            .await?;
        self.decode::<Id>(Method::PUT, &path, &answer).map(|_| ())
    }

    /// Opens a merge request from `head` into `base`; when one is open already (GitLab
    /// answers `409`), returns that one's iid.
    pub async fn open_change_request(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<u64, ForgeError> {
        let path = format!("/projects/{}/merge_requests", self.project);
        let request = json!({
            "source_branch": head,
            "target_branch": base,
            "title": title,
            "description": body,
        });
        let answer = self.call(Method::POST, &path, &[], Some(request), Repeat::Safe).await?;
        if answer.status == 409 {
            #[derive(Deserialize)]
            struct Open {
                iid: u64,
            }
            let query = [
                ("state", "opened".to_string()),
                ("source_branch", head.to_string()),
                ("target_branch", base.to_string()),
            ];
            let open: Vec<Open> = self.read(Method::GET, &path, &query).await?;
            return open.first().map(|mr| mr.iid).ok_or_else(|| {
                self.failure(Method::POST, &path, &answer, "and no open one was found")
            });
        }
        #[derive(Deserialize)]
        struct Created {
            iid: u64,
        }
        let created: Created = self.decode(Method::POST, &path, &answer)?;
        Ok(created.iid)
    }

    /// The merged merge request that brought `sha` (its merge, squash or head commit).
    pub async fn merged_change_request(&self, sha: &str) -> Result<Option<u64>, ForgeError> {
        #[derive(Deserialize)]
        struct Related {
            iid: u64,
            state: String,
            merge_commit_sha: Option<String>,
            squash_commit_sha: Option<String>,
        }
        let path = format!("/projects/{}/repository/commits/{sha}/merge_requests", self.project);
        let related: Vec<Related> = self.read(Method::GET, &path, &[]).await?;
        let merged: Vec<&Related> = related.iter().filter(|mr| mr.state == "merged").collect();
        let exact = merged.iter().find(|mr| {
            mr.merge_commit_sha.as_deref() == Some(sha)
                || mr.squash_commit_sha.as_deref() == Some(sha)
        });
        Ok(exact.or(merged.first()).map(|mr| mr.iid))
    }

    /// Every issue of the project, open and closed (`GET /projects/:id/issues`, all pages).
    pub async fn issues(&self) -> Result<Vec<PostedIssue>, ForgeError> {
        #[derive(Deserialize)]
        struct Issue {
            iid: u64,
            description: Option<String>,
            /// `opened` or `closed`.
            state: String,
            author: Author,
        }
        let path = format!("/projects/{}/issues", self.project);
        let mut issues = Vec::new();
        let mut page = 1u32;
        loop {
            let query = [
                ("scope", "all".to_string()),
                ("state", "all".to_string()),
                ("per_page", "100".to_string()),
                ("page", page.to_string()),
            ];
            let answer = self.call(Method::GET, &path, &query, None, Repeat::Safe).await?;
            let listed: Vec<Issue> = self.decode(Method::GET, &path, &answer)?;
            issues.extend(listed.into_iter().map(|i| PostedIssue {
                number: i.iid,
                author: i.author.username,
                open: i.state == "opened",
                body: i.description.unwrap_or_default(),
            }));
            match next_page(&answer, page) {
                Some(next) => page = next,
                None => break,
            }
        }
        Ok(issues)
    }

    /// `POST /projects/:id/issues`; returns the new issue's iid.
    pub async fn create_issue(&self, title: &str, body: &str) -> Result<u64, ForgeError> {
        #[derive(Deserialize)]
        struct Created {
            iid: u64,
        }
        let path = format!("/projects/{}/issues", self.project);
        let request = json!({ "title": title, "description": body });
        let answer =
            self.call(Method::POST, &path, &[], Some(request), Repeat::OnlyWhenRefused).await?;
        let created: Created = self.decode(Method::POST, &path, &answer)?;
        Ok(created.iid)
    }

    /// `PUT /projects/:id/issues/:iid`: a new description, and reopened or closed when `open`
    /// says.
    pub async fn edit_issue(
        &self,
        number: u64,
        body: &str,
        open: Option<bool>,
    ) -> Result<(), ForgeError> {
        let path = format!("/projects/{}/issues/{number}", self.project);
        let mut request = json!({ "description": body });
        if let Some(open) = open {
            request["state_event"] = json!(if open { "reopen" } else { "close" });
        }
        let answer = self.call(Method::PUT, &path, &[], Some(request), Repeat::Safe).await?;
        self.decode::<Id>(Method::PUT, &path, &answer).map(|_| ())
    }

    /// `{CI_SERVER_URL}/{project path}.git`, user `oauth2`, the write token, `ci.skip`.
    pub fn git_remote(&self) -> GitRemote {
        self.remote.clone()
    }

    /// A call whose 2xx answer is decoded as `T`.
    async fn read<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ForgeError> {
        let answer = self.call(method.clone(), path, query, None, Repeat::Safe).await?;
        self.decode(method, path, &answer)
    }

    /// Sends a call under the retry policy (rate limits, server errors and broken
    /// connections tried again as `repeat` allows); any other answer (4xx included) is
    /// returned for the caller to read.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
        repeat: Repeat,
    ) -> Result<Answer, ForgeError> {
        let attempt = || self.send_once(method.clone(), path, query, body.as_ref());
        let out_of_time = || ForgeError {
            forge: "GitLab",
            what: format!("{method} {path}"),
            status: None,
            message: retry::no_answer_within(&self.retry),
        };
        let (result, tries) = retry::call(&self.retry, repeat, attempt, out_of_time).await;
        result.map_err(|mut err| {
            err.message.push_str(&tries.to_string());
            err
        })
    }

    /// One try: an answer that may pass (`429`, `5xx`) or no answer is an error saying what
    /// it means for trying again; any other answer is returned.
    async fn send_once(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, (ForgeError, Transience)> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.api))
            .header("PRIVATE-TOKEN", self.token.as_str());
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let transport = |err: reqwest::Error| {
            let transience = retry::transport_transience(&err);
            let error = ForgeError {
                forge: "GitLab",
                what: format!("{method} {path}"),
                status: None,
                message: self.redact(&format!(
                    "no answer from {}: {}",
                    crate::http::shown_address(&self.api),
                    crate::http::error_chain(&err.without_url())
                )),
            };
            (error, transience)
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(transport)?;
        let answer = Answer { status, headers, body };
        let asked = retry::asked_wait_in(&answer.headers, Some("ratelimit-reset"));
        match retry::status_transience(status, asked) {
            Transience::Final => Ok(answer),
            transience => Err((self.failure(method, path, &answer, ""), transience)),
        }
    }

    /// A 2xx answer decoded as `T`, or the error GitLab's answer describes.
    fn decode<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        answer: &Answer,
    ) -> Result<T, ForgeError> {
        if !(200..300).contains(&answer.status) {
            return Err(self.failure(method, path, answer, ""));
        }
        serde_json::from_str(&answer.body).map_err(|err| ForgeError {
            forge: "GitLab",
            what: format!("{method} {path}"),
            status: Some(answer.status),
            message: format!("the answer is not what GitLab sends: {err}"),
        })
    }

    /// The error for a refused call: GitLab's `message` (or `error`), what to do about it,
    /// and `more`.
    fn failure(&self, method: Method, path: &str, answer: &Answer, more: &str) -> ForgeError {
        let mut said = gitlab_message(&answer.body);
        if answer.status >= 500 {
            // GitLab's own words for a failure are often just "500 Internal Server Error";
            // a proxy's are anything: the status says which it was.
            said = format!("HTTP {}: {said}", answer.status);
        }
        let advice = match answer.status {
            401 => format!(
                "; the token in {GITLAB_TOKEN} was refused: is it expired, revoked or mistyped?"
            ),
            403 => format!(
                "; the token in {GITLAB_TOKEN} needs the Developer role (or above) on this \
                 project and the `api` scope"
            ),
            429 => "; GitLab's rate limit".into(),
            _ => String::new(),
        };
        let more = if more.is_empty() { String::new() } else { format!(" ({more})") };
        ForgeError {
            forge: "GitLab",
            what: format!("{method} {path}"),
            status: Some(answer.status),
            message: self.redact(&format!("{said}{advice}{more}")),
        }
    }

    /// The text with the token masked, should GitLab ever echo it.
    fn redact(&self, text: &str) -> String {
        self.token.redact(text)
    }
}

/// GitLab's words from an error body: `message` (a string, a list, or field → problems) or
/// `error`; else the body's first line.
fn gitlab_message(body: &str) -> String {
    fn flatten(value: &Value) -> String {
        match value {
            Value::String(text) => text.clone(),
            Value::Array(items) => items.iter().map(flatten).collect::<Vec<_>>().join("; "),
            Value::Object(fields) => fields
                .iter()
                .map(|(field, problems)| format!("{field} {}", flatten(problems)))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let said = parsed
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("error")))
        .map(flatten)
        .unwrap_or_else(|| body.lines().next().unwrap_or_default().to_string());
    let said = shorten(said.trim(), 300);
    if said.is_empty() {
        "GitLab gave no reason".into()
    } else {
        said
    }
}

/// `text` cut to at most `limit` characters, an ellipsis marking the cut.
/// The page after `page` that GitLab's `X-Next-Page` names, if it is a later one within
/// [`MAX_PAGES`].
fn next_page(answer: &Answer, page: u32) -> Option<u32> {
    answer
        .headers
        .get("x-next-page")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|next| *next > page && *next <= MAX_PAGES)
}

fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[derive(Deserialize)]
struct Id {
    id: u64,
}

#[derive(Deserialize)]
struct Author {
    username: String,
}

#[derive(Deserialize)]
struct MergeRequest {
    iid: u64,
    #[serde(default)]
    title: String,
    author: Author,
    sha: Option<String>,
    source_branch: String,
    target_branch: String,
    source_project_id: u64,
    target_project_id: u64,
    draft: Option<bool>,
    /// The older name of `draft`.
    work_in_progress: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_from_error_bodies() {
        let cases = [
            (r#"{"message": "401 Unauthorized"}"#, "401 Unauthorized"),
            (
                r#"{"message": ["Another open merge request already exists for this source branch: !3"]}"#,
                "Another open merge request already exists for this source branch: !3",
            ),
            (r#"{"message": {"name": ["has already been taken"]}}"#, "name has already been taken"),
            (
                r#"{"error": "state does not have a valid value"}"#,
                "state does not have a valid value",
            ),
            ("Retry later\n", "Retry later"),
            ("", "GitLab gave no reason"),
        ];
        for (body, expected) in cases {
            assert_eq!(gitlab_message(body), expected, "{body}");
        }
    }

    #[test]
    fn descriptions_fit_gitlab() {
        assert_eq!(shorten("short", 255), "short");
        let long = "é".repeat(300);
        let cut = shorten(&long, 255);
        assert_eq!(cut.chars().count(), 255);
        assert!(cut.ends_with('…'));
    }

    fn from(pairs: &[(&str, &str)]) -> Result<GitLab, ForgeError> {
        GitLab::from_settings(&Settings::from_vars(pairs.iter().copied()))
    }

    #[test]
    fn configuration_from_ci_variables() {
        let base = [
            ("CI_API_V4_URL", "https://gitlab.example.com/api/v4/"),
            ("CI_PROJECT_ID", "7"),
            ("CI_PROJECT_PATH", "acme/shop"),
            (GITLAB_TOKEN, "glpat-secret"),
        ];
        let gitlab = from(&base).unwrap();
        let remote = gitlab.git_remote();
        assert_eq!(remote.url, "https://gitlab.example.com/acme/shop.git");
        assert_eq!(
            (remote.username.as_str(), remote.push_options.as_slice()),
            ("oauth2", &["ci.skip".to_string()][..])
        );
        assert!(!format!("{gitlab:?}").contains("glpat-secret"));
        assert_eq!(remote.ca_file, None);

        // A self-managed instance's private CA: trusted by the API client and by git.
        let bundle = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls/ca.pem");
        let private =
            from(&[base[0], base[1], base[2], base[3], ("CI_SERVER_TLS_CA_FILE", bundle)]);
        assert_eq!(private.unwrap().git_remote().ca_file, Some(std::path::PathBuf::from(bundle)));

        let err = from(&base[..3]).unwrap_err();
        assert!(err.message.contains(GITLAB_TOKEN) && err.message.contains("`api` scope"), "{err}");
        let err = from(&base[1..]).unwrap_err();
        assert!(err.message.contains("CI_API_V4_URL"), "{err}");
        let err = from(&[("CI_API_V4_URL", "gitlab.example.com"), base[1], base[2], base[3]])
            .unwrap_err();
        assert!(err.message.contains("not an http(s) URL"), "{err}");
    }
}
