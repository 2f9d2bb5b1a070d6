//! The GitHub adapter: the forge contract over GitHub's REST API (octocrab's raw calls, so
//! status codes and headers stay visible).
//!
//! It owns GitHub's quirks: `Link` pagination, rate limits (`429`, or `403` with
//! `x-ratelimit-remaining: 0`, waited out under the retry policy every client shares,
//! `crate::http::retry`), 5xx retried only where a second try cannot duplicate anything (a
//! comment is looked for before it is posted again), check runs with at most 50 annotations
//! per request, the fall back to commit statuses when the token may not write checks, and the
//! collaborator permission read as a raw string (octocrab's typed call rejects
//! `write`/`read`/`none`).
//! Every failure becomes a [`ForgeError`] carrying GitHub's own `message`, never the token.
//! REST reference: <https://docs.github.com/en/rest> (API version 2022-11-28).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{json, Value};

use super::{CheckDelivery, DeploymentState, ForgeError, RetryPolicy};
use crate::checks::{CheckResult, CheckStatus};
use crate::conversation::{Permission, PostedComment, PostedIssue, Reaction};
use crate::event::PullRequest;
use crate::git::GitRemote;
use crate::http::retry::{self, Repeat, Transience};
use crate::jobspec::{Diagnostic, Severity};
use crate::settings::{GitHubSettings, Settings};

const FORGE: &str = "GitHub";
/// GitHub accepts at most this many annotations per check-run request.
const ANNOTATIONS_PER_REQUEST: usize = 50;
/// GitHub's limit on a check run's `output.summary` and `output.text`.
const MAX_OUTPUT_CHARS: usize = 65_535;
/// GitHub's limit on a commit status or deployment status description.
const MAX_DESCRIPTION_CHARS: usize = 140;
/// A guard against a `Link` header that never ends (100 items a page: a million comments).
const MAX_PAGES: usize = 10_000;

/// The GitHub client for one repository.
pub struct GitHub {
    /// Built on first use (octocrab needs a running Tokio runtime to build); boxed, so the
    /// `Forge` enum stays small.
    client: OnceLock<Box<octocrab::Octocrab>>,
    api_url: String,
    /// `owner/name`.
    repository: String,
    bot_login: String,
    remote: GitRemote,
    retry: RetryPolicy,
    /// How long one request may go unanswered.
    request_timeout: Duration,
    /// Set when the token was refused on check runs: the rest of the run uses commit statuses.
    checks_forbidden: AtomicBool,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub")
            .field("api_url", &self.api_url)
            .field("repository", &self.repository)
            .field("bot_login", &self.bot_login)
            .field("remote", &self.remote)
            .field("retry", &self.retry)
            .field("checks_forbidden", &self.checks_forbidden.load(Ordering::Relaxed))
            .finish()
    }
}

/// An HTTP method the adapter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    Post,
    Patch,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
        }
    }
}

/// What GitHub answered.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    reason: Option<&'static str>,
    retry_after: Option<String>,
    ratelimit_remaining: Option<String>,
    ratelimit_reset: Option<String>,
    link: Option<String>,
    body: String,
}

fn config_error(what: &str, message: String) -> ForgeError {
    ForgeError { forge: FORGE, what: what.to_string(), status: None, message }
}

/// What a settings error is called on GitHub.
const READING_SETTINGS: &str = "reading the GitHub settings";

impl GitHub {
    /// The client for the repository `settings` name (see [`GitHubSettings`]).
    pub fn new(settings: GitHubSettings) -> Result<GitHub, ForgeError> {
        let GitHubSettings { api_url, server_url, owner, name, token, bot_login, calls } = settings;
        // Checked here so a bad URL is a settings error; the client itself is built on first
        // use, inside the async runtime its connection pool needs.
        octocrab::Octocrab::builder().base_uri(api_url.as_str()).map_err(|err| {
            config_error(
                READING_SETTINGS,
                format!(
                    "GITHUB_API_URL `{api_url}` is not usable: {}",
                    crate::http::error_chain(&err)
                ),
            )
        })?;
        let remote = GitRemote {
            url: format!("{server_url}/{owner}/{name}.git"),
            username: "x-access-token".into(),
            token,
            push_options: Vec::new(),
            ca_file: None,
        };
        Ok(GitHub {
            client: OnceLock::new(),
            api_url,
            repository: format!("{owner}/{name}"),
            bot_login,
            remote,
            retry: calls.retry,
            request_timeout: calls.request_timeout,
            checks_forbidden: AtomicBool::new(false),
        })
    }

    /// The client from `settings`, a setting that cannot be used being a [`ForgeError`].
    pub fn from_settings(settings: &Settings) -> Result<GitHub, ForgeError> {
        let typed =
            settings.github().map_err(|err| config_error(READING_SETTINGS, err.to_string()))?;
        GitHub::new(typed)
    }

    /// Replaces the retry policy (tests use short waits).
    pub fn set_retry_policy(&mut self, policy: RetryPolicy) {
        self.retry = policy;
    }

    /// The configured login: an Actions token cannot ask `GET /user` who it is.
    pub async fn bot_login(&self) -> Result<String, ForgeError> {
        Ok(self.bot_login.clone())
    }

    /// `GET /repos/{o}/{r}/pulls/{n}`.
    pub async fn pull_request(&self, number: u64) -> Result<PullRequest, ForgeError> {
        let path = format!("{}/pulls/{number}", self.repo_path());
        let answer = self.send(Verb::Get, &path, None, Repeat::Safe).await?;
        let pull: PullBody = self.parse(Verb::Get, &path, &answer)?;
        Ok(pull.normalize())
    }

    /// The pull request merged as `sha`: `GET /repos/{o}/{r}/commits/{sha}/pulls`, the one
    /// whose merge commit it is.
    pub async fn merged_change_request(&self, sha: &str) -> Result<Option<u64>, ForgeError> {
        let path = format!("{}/commits/{sha}/pulls", self.repo_path());
        let answer = self.send(Verb::Get, &path, None, Repeat::Safe).await?;
        let pulls: Vec<MergedBody> = self.parse(Verb::Get, &path, &answer)?;
        Ok(pulls.into_iter().find(|p| p.merge_commit_sha.as_deref() == Some(sha)).map(|p| p.number))
    }

    /// Every issue comment of the pull request, oldest first, following `Link: rel="next"`.
    pub async fn comments(&self, number: u64) -> Result<Vec<PostedComment>, ForgeError> {
        let path = format!("{}/issues/{number}/comments?per_page=100", self.repo_path());
        let comments: Vec<CommentBody> = self.all_pages(&path).await?;
        Ok(comments.into_iter().map(CommentBody::posted).collect())
    }

    /// `POST /repos/{o}/{r}/issues/{n}/comments`; returns the new comment's id.
    ///
    /// A 5xx may come after GitHub stored the comment, so it is not simply sent again: before
    /// each later try the newest comment is looked at, and when it is the bot's with this very
    /// body, that is the answer. That makes the call safe to repeat.
    pub async fn create_comment(&self, number: u64, body: &str) -> Result<u64, ForgeError> {
        let path = format!("{}/issues/{number}/comments", self.repo_path());
        let request = json!({ "body": body });
        let tried = AtomicBool::new(false);
        let attempt = || async {
            if tried.swap(true, Ordering::Relaxed) {
                let comments = self.comments(number).await.map_err(|e| (e, Transience::Final))?;
                if let Some(last) = comments.last() {
                    if last.author == self.bot_login && last.body == body {
                        return Ok(None);
                    }
                }
            }
            self.send_once(Verb::Post, &path, Some(&request)).await.map(Some)
        };
        let (result, tries) =
            retry::call(&self.retry, Repeat::Safe, attempt, || self.out_of_time(Verb::Post, &path))
                .await;
        match result.map_err(|err| self.gave_up(err, tries))? {
            Some(answer) => {
                let created: IdBody = self.parse(Verb::Post, &path, &answer)?;
                Ok(created.id)
            }
            None => {
                let comments = self.comments(number).await?;
                let posted =
                    comments.iter().rev().find(|c| c.author == self.bot_login && c.body == body);
                posted.map(|c| c.id).ok_or_else(|| {
                    self.error(Verb::Post, &path, None, "the comment posted is gone".into())
                })
            }
        }
    }

    /// `PATCH /repos/{o}/{r}/issues/comments/{id}`.
    pub async fn edit_comment(&self, _number: u64, id: u64, body: &str) -> Result<(), ForgeError> {
        let path = format!("{}/issues/comments/{id}", self.repo_path());
        self.send(Verb::Patch, &path, Some(&json!({ "body": body })), Repeat::Safe).await?;
        Ok(())
    }

    /// `POST /repos/{o}/{r}/issues/comments/{id}/reactions`: 201 when new, 200 when the bot
    /// had already reacted so; both are success.
    pub async fn react(&self, _number: u64, id: u64, reaction: Reaction) -> Result<(), ForgeError> {
        let path = format!("{}/issues/comments/{id}/reactions", self.repo_path());
        let request = json!({ "content": reaction.as_str() });
        self.send(Verb::Post, &path, Some(&request), Repeat::Safe).await?;
        Ok(())
    }

    /// `GET /repos/{o}/{r}/collaborators/{login}/permission`. The fine-grained `role_name`
    /// wins when it is a standard role (`permission` folds maintain into write and triage
    /// into read); a custom role falls back to `permission`. Not a collaborator (404) is
    /// [`Permission::None`].
    pub async fn permission(&self, login: &str) -> Result<Permission, ForgeError> {
        let path = format!("{}/collaborators/{}/permission", self.repo_path(), segment(login));
        let answer = match self.send(Verb::Get, &path, None, Repeat::Safe).await {
            Ok(answer) => answer,
            Err(err) if err.is_not_found() => return Ok(Permission::None),
            Err(err) => return Err(err),
        };
        let body: PermissionBody = self.parse(Verb::Get, &path, &answer)?;
        Ok(read_permission(body.role_name.as_deref(), body.permission.as_deref()))
    }

    /// Reports a check on `head_sha`: a check run (updated in place when one of that name is
    /// there without annotations), or, once GitHub refused check runs to this token, a commit
    /// status for the rest of the run.
    pub async fn report_check(
        &self,
        head_sha: &str,
        check: &CheckResult,
        details: &str,
    ) -> Result<CheckDelivery, ForgeError> {
        if !self.checks_forbidden.load(Ordering::Relaxed) {
            match self.check_run(head_sha, check, details).await {
                Ok(id) => return Ok(CheckDelivery::CheckRun { id }),
                Err(err) if err.status == Some(403) => {
                    tracing::info!(
                        "GitHub refused check runs ({}); reporting commit statuses instead. \
                         Give the workflow `permissions: checks: write` for annotations.",
                        err.message
                    );
                    self.checks_forbidden.store(true, Ordering::Relaxed);
                }
                Err(err) => return Err(err),
            }
        }
        let path = format!("{}/statuses/{}", self.repo_path(), segment(head_sha));
        let (state, description) = commit_status(check);
        let request = json!({ "state": state, "context": check.name, "description": description });
        self.send(Verb::Post, &path, Some(&request), Repeat::Safe).await?;
        Ok(CheckDelivery::CommitStatus)
    }

    /// Creates or updates the check run named `check.name` on `head_sha`, then sends the
    /// annotations beyond the first 50 in further updates (GitHub appends them).
    ///
    /// A run of that name already there is updated in place when it has no annotations; one
    /// that has some is superseded by a new run (GitHub shows the newest run of a name),
    /// because annotations cannot be removed and appending would show stale ones.
    async fn check_run(
        &self,
        head_sha: &str,
        check: &CheckResult,
        details: &str,
    ) -> Result<u64, ForgeError> {
        let list = format!(
            "{}/commits/{}/check-runs?check_name={}&filter=latest",
            self.repo_path(),
            segment(head_sha),
            query_value(&check.name)
        );
        let answer = self.send(Verb::Get, &list, None, Repeat::Safe).await?;
        let found: CheckRunList = self.parse(Verb::Get, &list, &answer)?;
        let reusable = found
            .check_runs
            .iter()
            .find(|run| run.name == check.name && run.output.annotations_count.unwrap_or(0) == 0)
            .map(|run| run.id);

        let annotations: Vec<Value> = check.annotations.iter().map(annotation).collect();
        let mut batches = annotations.chunks(ANNOTATIONS_PER_REQUEST);
        let title = check_title(check);
        let summary = check_summary(check, details);
        let mut request = json!({
            "name": check.name,
            "status": "completed",
            "conclusion": conclusion(check.status),
            "output": {
                "title": title,
                "summary": summary,
                "annotations": batches.next().unwrap_or_default(),
            },
        });
        let id = match reusable {
            Some(id) => {
                let path = format!("{}/check-runs/{id}", self.repo_path());
                self.send(Verb::Patch, &path, Some(&request), Repeat::Safe).await?;
                id
            }
            None => {
                request["head_sha"] = json!(head_sha);
                let path = format!("{}/check-runs", self.repo_path());
                let answer =
                    self.send(Verb::Post, &path, Some(&request), Repeat::OnlyWhenRefused).await?;
                let created: IdBody = self.parse(Verb::Post, &path, &answer)?;
                created.id
            }
        };
        let path = format!("{}/check-runs/{id}", self.repo_path());
        for batch in batches {
            let more = json!({
                "output": { "title": title, "summary": summary, "annotations": batch },
            });
            self.send(Verb::Patch, &path, Some(&more), Repeat::Safe).await?;
        }
        Ok(id)
    }

    /// `POST /repos/{o}/{r}/deployments` for `sha` (no auto-merge, no required contexts: the
    /// bot's own checks decided already), then an `in_progress` status; returns its id.
    pub async fn start_deployment(
        &self,
        sha: &str,
        git_ref: &str,
        environment: &str,
    ) -> Result<u64, ForgeError> {
        let path = format!("{}/deployments", self.repo_path());
        let short = sha.get(..12).unwrap_or(sha);
        let request = json!({
            "ref": sha,
            "environment": environment,
            "auto_merge": false,
            "required_contexts": [],
            "description": description(&format!("nomad-spec deploys {git_ref} ({short})")),
        });
        // A retried create after a 5xx could leave two records: refused requests only.
        let answer = self.send(Verb::Post, &path, Some(&request), Repeat::OnlyWhenRefused).await?;
        let created: IdBody = self.parse(Verb::Post, &path, &answer)?;
        self.update_deployment(created.id, DeploymentState::InProgress, "deploying").await?;
        Ok(created.id)
    }

    /// `POST /repos/{o}/{r}/deployments/{id}/statuses`.
    pub async fn update_deployment(
        &self,
        id: u64,
        state: DeploymentState,
        description_text: &str,
    ) -> Result<(), ForgeError> {
        let path = format!("{}/deployments/{id}/statuses", self.repo_path());
        let state = match state {
            DeploymentState::InProgress => "in_progress",
            DeploymentState::Success => "success",
            DeploymentState::Failure => "failure",
        };
        let request = json!({ "state": state, "description": description(description_text) });
        self.send(Verb::Post, &path, Some(&request), Repeat::Safe).await?;
        Ok(())
    }

    /// `POST /repos/{o}/{r}/pulls`; when one is already open for `head` (422 "A pull request
    /// already exists"), that one's number: opening twice is harmless.
    pub async fn open_change_request(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<u64, ForgeError> {
        let path = format!("{}/pulls", self.repo_path());
        let request = json!({ "title": title, "head": head, "base": base, "body": body });
        // Safe to repeat: a second create of the same head answers "already exists".
        match self.send(Verb::Post, &path, Some(&request), Repeat::Safe).await {
            Ok(answer) => {
                let created: NumberBody = self.parse(Verb::Post, &path, &answer)?;
                Ok(created.number)
            }
            Err(err) if err.status == Some(422) && err.message.contains("already exists") => {
                let list = format!(
                    "{}/pulls?head={}&base={}&state=open",
                    self.repo_path(),
                    query_value(&format!("{}:{head}", self.owner())),
                    query_value(base)
                );
                let answer = self.send(Verb::Get, &list, None, Repeat::Safe).await?;
                let open: Vec<NumberBody> = self.parse(Verb::Get, &list, &answer)?;
                open.first().map(|pull| pull.number).ok_or(err)
            }
            Err(err) => Err(err),
        }
    }

    /// Every issue of the repository, open and closed (`GET /repos/{o}/{r}/issues?state=all`,
    /// all pages); pull requests, which GitHub lists among issues, are left out.
    pub async fn issues(&self) -> Result<Vec<PostedIssue>, ForgeError> {
        let path = format!("{}/issues?state=all&per_page=100", self.repo_path());
        let issues: Vec<IssueBody> = self.all_pages(&path).await?;
        Ok(issues.into_iter().filter(|i| i.pull_request.is_none()).map(IssueBody::posted).collect())
    }

    /// `POST /repos/{o}/{r}/issues`; returns the new issue's number. Not repeated on a 5xx:
    /// the caller finds the issue by its marker on the next run instead of opening two.
    pub async fn create_issue(&self, title: &str, body: &str) -> Result<u64, ForgeError> {
        let path = format!("{}/issues", self.repo_path());
        let request = json!({ "title": title, "body": body });
        let answer = self.send(Verb::Post, &path, Some(&request), Repeat::OnlyWhenRefused).await?;
        let created: NumberBody = self.parse(Verb::Post, &path, &answer)?;
        Ok(created.number)
    }

    /// `PATCH /repos/{o}/{r}/issues/{n}`: a new body, and opened or closed when `open` says.
    pub async fn edit_issue(
        &self,
        number: u64,
        body: &str,
        open: Option<bool>,
    ) -> Result<(), ForgeError> {
        let path = format!("{}/issues/{number}", self.repo_path());
        let mut request = json!({ "body": body });
        if let Some(open) = open {
            request["state"] = json!(if open { "open" } else { "closed" });
        }
        self.send(Verb::Patch, &path, Some(&request), Repeat::Safe).await?;
        Ok(())
    }

    /// The repository's clone URL with `x-access-token` and the token.
    pub fn git_remote(&self) -> GitRemote {
        self.remote.clone()
    }

    /// The octocrab client, built on first use.
    fn client(&self) -> Result<&octocrab::Octocrab, ForgeError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let what = "building the GitHub client";
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(config_error(what, "GitHub calls need a Tokio runtime".into()));
        }
        crate::tls::install_crypto_provider();
        let built = octocrab::Octocrab::builder()
            .base_uri(self.api_url.as_str())
            .and_then(|builder| {
                builder
                    .personal_token(self.remote.token.as_str().to_string())
                    .set_connect_timeout(Some(Duration::from_secs(15).min(self.request_timeout)))
                    .set_read_timeout(Some(self.request_timeout))
                    .set_write_timeout(Some(self.request_timeout))
                    .build()
            })
            .map_err(|err| config_error(what, self.scrub(&crate::http::error_chain(&err))))?;
        Ok(self.client.get_or_init(|| Box::new(built)))
    }

    fn owner(&self) -> &str {
        self.repository.split('/').next().unwrap_or_default()
    }

    fn repo_path(&self) -> String {
        let (owner, name) = self.repository.split_once('/').unwrap_or((&self.repository, ""));
        format!("/repos/{}/{}", segment(owner), segment(name))
    }

    /// Every page of a list, following `Link: rel="next"` (only its path and query: the
    /// token goes to the configured API host and nowhere else).
    async fn all_pages<T: serde::de::DeserializeOwned>(
        &self,
        first: &str,
    ) -> Result<Vec<T>, ForgeError> {
        let mut items = Vec::new();
        let mut next = Some(first.to_string());
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(self.error(
                    Verb::Get,
                    first,
                    None,
                    format!("more than {MAX_PAGES} pages; stopped following `Link`"),
                ));
            }
            let answer = self.send(Verb::Get, &path, None, Repeat::Safe).await?;
            let page: Vec<T> = self.parse(Verb::Get, &path, &answer)?;
            items.extend(page);
            next = answer.link.as_deref().and_then(next_link).and_then(|url| path_and_query(&url));
        }
        Ok(items)
    }

    /// Sends one request under the retry policy: rate limits are waited out, 5xx and broken
    /// connections tried again when `repeat` allows; a non-2xx answer becomes a
    /// [`ForgeError`] saying how many tries were made.
    async fn send(
        &self,
        verb: Verb,
        path: &str,
        body: Option<&Value>,
        repeat: Repeat,
    ) -> Result<Answer, ForgeError> {
        let attempt = || self.send_once(verb, path, body);
        let (result, tries) =
            retry::call(&self.retry, repeat, attempt, || self.out_of_time(verb, path)).await;
        result.map_err(|err| self.gave_up(err, tries))
    }

    /// One try; a non-2xx answer or a transport failure says what it means for trying again.
    async fn send_once(
        &self,
        verb: Verb,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, (ForgeError, Transience)> {
        let client = self.client().map_err(|err| (err, Transience::Final))?;
        let response = match verb {
            Verb::Get => client._get(path).await,
            Verb::Post => client._post(path, body).await,
            Verb::Patch => client._patch(path, body).await,
        };
        let transport = |err: &(dyn std::error::Error + 'static), status| {
            let message = format!(
                "no answer from {}: {}",
                crate::http::shown_address(&self.api_url),
                self.scrub(&crate::http::error_chain(err))
            );
            (self.error(verb, path, status, message), retry::transport_transience(err))
        };
        let response = response.map_err(|err| transport(&err, None))?;
        let header = |name: &str| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
        };
        let mut answer = Answer {
            status: response.status().as_u16(),
            reason: response.status().canonical_reason(),
            retry_after: header("retry-after"),
            ratelimit_remaining: header("x-ratelimit-remaining"),
            ratelimit_reset: header("x-ratelimit-reset"),
            link: header("link"),
            body: String::new(),
        };
        let status = answer.status;
        answer.body =
            client.body_to_string(response).await.map_err(|err| transport(&err, Some(status)))?;
        if (200..300).contains(&answer.status) {
            return Ok(answer);
        }
        let transience = transience(&answer, SystemTime::now());
        Err((self.answer_error(verb, path, &answer), transience))
    }

    /// The error after the last try, saying how many there were.
    fn gave_up(&self, mut err: ForgeError, tries: retry::Tries) -> ForgeError {
        err.message.push_str(&tries.to_string());
        err
    }

    /// The error of a call that took longer than the retry policy's total time.
    fn out_of_time(&self, verb: Verb, path: &str) -> ForgeError {
        self.error(verb, path, None, retry::no_answer_within(&self.retry))
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        verb: Verb,
        path: &str,
        answer: &Answer,
    ) -> Result<T, ForgeError> {
        serde_json::from_str(&answer.body).map_err(|err| {
            self.error(
                verb,
                path,
                Some(answer.status),
                format!("the answer is not what GitHub sends: {err}"),
            )
        })
    }

    fn answer_error(&self, verb: Verb, path: &str, answer: &Answer) -> ForgeError {
        let message = error_message(answer);
        self.error(verb, path, Some(answer.status), self.scrub(&message))
    }

    fn error(&self, verb: Verb, path: &str, status: Option<u16>, message: String) -> ForgeError {
        let path = path.split('?').next().unwrap_or(path);
        ForgeError { forge: FORGE, what: format!("{} {path}", verb.as_str()), status, message }
    }

    /// Removes the token from text that came from elsewhere (a server may echo a header).
    fn scrub(&self, text: &str) -> String {
        self.remote.token.redact(text)
    }
}

/// What an error answer means for trying again.
///
/// Rate limits (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api):
/// a `429`, a `403` with `Retry-After`, or a `403` with `x-ratelimit-remaining: 0` is a refusal,
/// waited out for `Retry-After` seconds, else until `x-ratelimit-reset`. Any other `403` is a
/// refusal of the token and final. A 5xx may have done the work.
fn transience(answer: &Answer, now: SystemTime) -> Transience {
    let exhausted = answer.ratelimit_remaining.as_deref().map(str::trim) == Some("0");
    let reset = if exhausted { answer.ratelimit_reset.as_deref() } else { None };
    let asked = retry::asked_wait(answer.retry_after.as_deref(), reset, now);
    match answer.status {
        403 if asked.is_none() => Transience::Final,
        403 => Transience::Refused { wait: asked },
        status => retry::status_transience(status, asked),
    }
}

/// GitHub's `message`, with the `errors` list's messages (or `field code`) after it; for an
/// answer that is not JSON, the status and the start of the text.
fn error_message(answer: &Answer) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<Value>,
    }
    let status_words = || match answer.reason {
        Some(reason) => format!("HTTP {} {reason}", answer.status),
        None => format!("HTTP {}", answer.status),
    };
    let Ok(body) = serde_json::from_str::<ErrorBody>(&answer.body) else {
        let text: String = answer.body.trim().chars().take(200).collect();
        return if text.is_empty() || text.starts_with('<') {
            status_words()
        } else {
            format!("{}: {text}", status_words())
        };
    };
    let mut message = body.message.unwrap_or_else(status_words);
    let details: Vec<String> = body
        .errors
        .iter()
        .filter_map(|error| match error {
            Value::String(text) => Some(text.clone()),
            Value::Object(fields) => match fields.get("message").and_then(Value::as_str) {
                Some(text) => Some(text.to_string()),
                None => {
                    let word = |key: &str| fields.get(key).and_then(Value::as_str).unwrap_or("");
                    let text = format!("{} {} {}", word("resource"), word("field"), word("code"));
                    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    (!text.is_empty()).then_some(text)
                }
            },
            _ => None,
        })
        .collect();
    if !details.is_empty() {
        message = format!("{message}: {}", details.join("; "));
    }
    message
}

/// The URL of `rel="next"` in a `Link` header
/// (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api).
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let url = pieces.next()?.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = pieces.any(|param| {
            let param = param.trim();
            param.strip_prefix("rel=").is_some_and(|rel| {
                rel.trim_matches('"').split_whitespace().any(|word| word == "next")
            })
        });
        is_next.then(|| url.to_string())
    })
}

/// `/path?query` of an absolute URL.
fn path_and_query(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_string(),
    })
}

/// Percent-encodes one path segment (a login such as `renovate[bot]`, a sha).
fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

/// Percent-encodes a query value.
fn query_value(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn read_permission(role_name: Option<&str>, permission: Option<&str>) -> Permission {
    const STANDARD: [&str; 6] = ["admin", "maintain", "write", "triage", "read", "none"];
    match role_name.map(|r| r.trim().to_ascii_lowercase()) {
        Some(role) if STANDARD.contains(&role.as_str()) => Permission::from_api(&role),
        _ => Permission::from_api(permission.unwrap_or("none")),
    }
}

fn conclusion(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Success => "success",
        CheckStatus::Failure => "failure",
        CheckStatus::Skipped => "neutral",
    }
}

/// The check run's headline: the summary's first line, short.
fn check_title(check: &CheckResult) -> String {
    let first = check.summary.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    if first.is_empty() {
        return match check.status {
            CheckStatus::Success => "Passed".into(),
            CheckStatus::Failure => "Failed".into(),
            CheckStatus::Skipped => "Skipped".into(),
        };
    }
    shorten(first, 120)
}

/// The summary and the details, within GitHub's 65535 characters (cut with a note).
fn check_summary(check: &CheckResult, details: &str) -> String {
    let mut text = check.summary.trim().to_string();
    if !details.trim().is_empty() {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(details.trim_end());
    }
    if text.chars().count() <= MAX_OUTPUT_CHARS {
        return text;
    }
    let note = "\n\n… (cut here: GitHub shows at most 65535 characters of a check's summary)";
    let keep = MAX_OUTPUT_CHARS - note.chars().count();
    let mut cut: String = text.chars().take(keep).collect();
    cut.push_str(note);
    cut
}

/// One diagnostic as a check-run annotation: level from severity, the line (0, the whole
/// file, becomes 1), the column when known.
fn annotation(diagnostic: &Diagnostic) -> Value {
    let line = diagnostic.line.max(1);
    let level = match diagnostic.severity {
        Severity::Error => "failure",
        Severity::Warning => "warning",
    };
    let path = diagnostic.file.trim_start_matches("./");
    let mut value = json!({
        "path": path,
        "start_line": line,
        "end_line": line,
        "annotation_level": level,
        "message": diagnostic.message,
    });
    if diagnostic.line > 0 && diagnostic.column > 0 {
        value["start_column"] = json!(diagnostic.column);
        value["end_column"] = json!(diagnostic.column);
    }
    value
}

/// A commit status for a check: `success` or `failure`, and for a skipped check `success`
/// with a description starting `skipped:`. GitHub's states are error, failure, pending and
/// success; a check that could not run (an optional service not configured) must neither
/// block a merge (`failure`, `error`) nor wait forever (`pending`).
fn commit_status(check: &CheckResult) -> (&'static str, String) {
    let summary = check.summary.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    match check.status {
        CheckStatus::Success => ("success", description(summary)),
        CheckStatus::Failure => ("failure", description(summary)),
        CheckStatus::Skipped => ("success", description(&format!("skipped: {summary}"))),
    }
}

/// A status description within GitHub's 140 characters.
fn description(text: &str) -> String {
    shorten(text.trim(), MAX_DESCRIPTION_CHARS)
}

/// `text` cut to at most `max` characters, ending with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

#[derive(Deserialize)]
struct Login {
    login: String,
}

#[derive(Deserialize)]
struct PullBody {
    number: u64,
    title: Option<String>,
    /// Null for a deleted account.
    user: Option<Login>,
    draft: Option<bool>,
    head: BranchBody,
    base: BranchBody,
}

#[derive(Deserialize)]
struct MergedBody {
    number: u64,
    merge_commit_sha: Option<String>,
}

#[derive(Deserialize)]
struct BranchBody {
    r#ref: String,
    sha: String,
    /// Null when the head's repository was deleted.
    repo: Option<RepoBody>,
}

#[derive(Deserialize)]
struct RepoBody {
    full_name: String,
}

impl PullBody {
    fn normalize(self) -> PullRequest {
        let same_repository = match (&self.head.repo, &self.base.repo) {
            (Some(head), Some(base)) => head.full_name.eq_ignore_ascii_case(&base.full_name),
            _ => false,
        };
        PullRequest {
            number: self.number,
            title: self.title.unwrap_or_default(),
            author: self.user.map(|u| u.login).unwrap_or_else(|| "ghost".into()),
            head_sha: self.head.sha,
            head_ref: self.head.r#ref,
            base_ref: self.base.r#ref,
            from_fork: !same_repository,
            draft: self.draft.unwrap_or(false),
        }
    }
}

#[derive(Deserialize)]
struct CommentBody {
    id: u64,
    body: Option<String>,
    /// Null for a deleted account (GitHub shows `ghost`).
    user: Option<Login>,
}

impl CommentBody {
    fn posted(self) -> PostedComment {
        PostedComment {
            id: self.id,
            author: self.user.map(|u| u.login).unwrap_or_else(|| "ghost".into()),
            body: self.body.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct IssueBody {
    number: u64,
    body: Option<String>,
    /// `open` or `closed`.
    state: String,
    /// Null for a deleted account (GitHub shows `ghost`).
    user: Option<Login>,
    /// Present when the "issue" is a pull request.
    pull_request: Option<serde_json::Value>,
}

impl IssueBody {
    fn posted(self) -> PostedIssue {
        PostedIssue {
            number: self.number,
            author: self.user.map(|u| u.login).unwrap_or_else(|| "ghost".into()),
            open: self.state == "open",
            body: self.body.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct IdBody {
    id: u64,
}

#[derive(Deserialize)]
struct NumberBody {
    number: u64,
}

#[derive(Deserialize)]
struct PermissionBody {
    permission: Option<String>,
    role_name: Option<String>,
}

#[derive(Deserialize)]
struct CheckRunList {
    #[serde(default)]
    check_runs: Vec<CheckRunBody>,
}

#[derive(Deserialize)]
struct CheckRunBody {
    id: u64,
    name: String,
    #[serde(default)]
    output: CheckRunOutput,
}

#[derive(Deserialize, Default)]
struct CheckRunOutput {
    annotations_count: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<GitHub, String> {
        GitHub::from_settings(&Settings::from_vars(pairs.iter().copied()))
            .map_err(|e| e.to_string())
    }

    const TOKEN: &str = "ghs_UnitTestToken123";

    #[test]
    fn settings_have_defaults_and_name_what_is_missing() {
        let github = from(&[("GITHUB_REPOSITORY", "acme/shop"), ("GITHUB_TOKEN", TOKEN)]).unwrap();
        assert_eq!(github.bot_login, "github-actions[bot]");
        let remote = github.git_remote();
        assert_eq!(remote.url, "https://github.com/acme/shop.git");
        assert_eq!(remote.username, "x-access-token");
        assert_eq!(remote.token, TOKEN);
        assert!(remote.push_options.is_empty());
        assert!(!format!("{github:?}").contains(TOKEN));

        let missing_token = from(&[("GITHUB_REPOSITORY", "acme/shop"), ("GITHUB_TOKEN", " ")]);
        assert!(missing_token.unwrap_err().contains("GITHUB_TOKEN is not set"));
        let missing_repo = from(&[("GITHUB_TOKEN", TOKEN), ("GITHUB_REPOSITORY", "")]);
        assert!(missing_repo.unwrap_err().contains("GITHUB_REPOSITORY is not set"));
        let bad_repo = from(&[("GITHUB_TOKEN", TOKEN), ("GITHUB_REPOSITORY", "acme")]);
        assert!(bad_repo.unwrap_err().contains("not `owner/name`"));
        let bad_url = from(&[
            ("GITHUB_TOKEN", TOKEN),
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_API_URL", "api.example.com"),
        ]);
        assert!(bad_url.unwrap_err().contains("GITHUB_API_URL is `api.example.com`"));
        let bad_token = from(&[("GITHUB_TOKEN", "ghs_a\nb"), ("GITHUB_REPOSITORY", "acme/shop")]);
        let message = bad_token.unwrap_err();
        assert!(message.contains("GITHUB_TOKEN") && !message.contains("ghs_a"), "{message}");
    }

    #[test]
    fn enterprise_urls_and_login_are_read() {
        let github = from(&[
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_TOKEN", TOKEN),
            ("GITHUB_API_URL", "https://ghe.example.com/api/v3"),
            ("GITHUB_SERVER_URL", "https://ghe.example.com/"),
            ("NOMAD_SPEC_BOT_LOGIN", "shipit[bot]"),
        ])
        .unwrap();
        assert_eq!(github.git_remote().url, "https://ghe.example.com/acme/shop.git");
        assert_eq!(github.bot_login, "shipit[bot]");
    }

    #[test]
    fn link_header_next() {
        let header = r#"<https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=5>; rel="last""#;
        let next = next_link(header).unwrap();
        assert_eq!(
            next,
            "https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2"
        );
        assert_eq!(
            path_and_query(&next).unwrap(),
            "/repositories/1/issues/7/comments?per_page=100&page=2"
        );
        let last_page = r#"<https://x/a?page=1>; rel="prev", <https://x/a?page=1>; rel="first""#;
        assert_eq!(next_link(last_page), None);
        assert_eq!(
            path_and_query("https://ghe.example.com/api/v3/repos/a/b/pulls?page=3").unwrap(),
            "/api/v3/repos/a/b/pulls?page=3"
        );
    }

    fn check(n: usize, status: CheckStatus) -> CheckResult {
        CheckResult {
            name: "nomad-spec/validate".into(),
            status,
            summary: "3 errors in deploy/shop.nomad.hcl".into(),
            annotations: (0..n)
                .map(|i| Diagnostic::error("./deploy/shop.nomad.hcl", i as u32, 3, format!("e{i}")))
                .collect(),
        }
    }

    #[test]
    fn annotations_go_in_batches_of_fifty() {
        let annotations: Vec<Value> =
            check(120, CheckStatus::Failure).annotations.iter().map(annotation).collect();
        let sizes: Vec<usize> =
            annotations.chunks(ANNOTATIONS_PER_REQUEST).map(<[Value]>::len).collect();
        assert_eq!(sizes, [50, 50, 20]);
        assert_eq!(annotations[0]["start_line"], 1);
        assert_eq!(annotations[0]["end_line"], 1);
        assert!(annotations[0].get("start_column").is_none());
        assert_eq!(annotations[7]["start_line"], 7);
        assert_eq!(annotations[7]["start_column"], 3);
        assert_eq!(annotations[7]["path"], "deploy/shop.nomad.hcl");
        assert_eq!(annotations[7]["annotation_level"], "failure");
        let warning = Diagnostic {
            severity: Severity::Warning,
            ..check(1, CheckStatus::Success).annotations[0].clone()
        };
        assert_eq!(annotation(&warning)["annotation_level"], "warning");
    }

    #[test]
    fn statuses_and_conclusions() {
        assert_eq!(conclusion(CheckStatus::Success), "success");
        assert_eq!(conclusion(CheckStatus::Failure), "failure");
        assert_eq!(conclusion(CheckStatus::Skipped), "neutral");
        let (state, text) = commit_status(&check(0, CheckStatus::Failure));
        assert_eq!((state, text.as_str()), ("failure", "3 errors in deploy/shop.nomad.hcl"));
        let skipped = CheckResult::skipped("nomad-spec/secrets", "VAULT_ADDR is not set");
        let (state, text) = commit_status(&skipped);
        assert_eq!((state, text.as_str()), ("success", "skipped: VAULT_ADDR is not set"));
        let long = CheckResult::skipped("x", "y".repeat(500));
        let (_, text) = commit_status(&long);
        assert_eq!(text.chars().count(), MAX_DESCRIPTION_CHARS);
        assert!(text.ends_with('…'));
    }

    #[test]
    fn long_summaries_are_cut_with_a_note() {
        let text = check_summary(&check(0, CheckStatus::Failure), &"é".repeat(70_000));
        assert_eq!(text.chars().count(), MAX_OUTPUT_CHARS);
        assert!(text.ends_with("65535 characters of a check's summary)"));
        let short = check_summary(&check(0, CheckStatus::Failure), "## Plan\n");
        assert_eq!(short, "3 errors in deploy/shop.nomad.hcl\n\n## Plan");
    }

    #[test]
    fn permission_prefers_the_standard_role_name() {
        assert_eq!(read_permission(Some("maintain"), Some("write")), Permission::Maintain);
        assert_eq!(read_permission(Some("triage"), Some("read")), Permission::Triage);
        assert_eq!(read_permission(Some("security-manager"), Some("write")), Permission::Write);
        assert_eq!(read_permission(None, Some("admin")), Permission::Admin);
        assert_eq!(read_permission(None, None), Permission::None);
    }

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        let header =
            |name: &str| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        Answer {
            status,
            reason: None,
            retry_after: header("retry-after"),
            ratelimit_remaining: header("x-ratelimit-remaining"),
            ratelimit_reset: header("x-ratelimit-reset"),
            link: None,
            body: body.to_string(),
        }
    }

    #[test]
    fn what_is_retried_and_how_long_it_waits() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let refused = |s| Transience::Refused { wait: Some(Duration::from_secs(s)) };
        let of = |a: &Answer| transience(a, now);
        assert_eq!(of(&answer(429, &[("retry-after", "7")], "")), refused(7));
        assert_eq!(of(&answer(429, &[], "")), Transience::Refused { wait: None });
        let exhausted =
            answer(403, &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1700000030")], "");
        assert_eq!(of(&exhausted), refused(30));
        let forbidden = answer(403, &[("x-ratelimit-remaining", "4999")], "");
        assert_eq!(of(&forbidden), Transience::Final);
        assert_eq!(of(&answer(500, &[], "")), Transience::Failed { wait: None });
        assert_eq!(of(&answer(422, &[], "")), Transience::Final);
    }

    #[test]
    fn error_messages_carry_what_github_said() {
        let validation = answer(
            422,
            &[],
            r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:fix."},{"resource":"PullRequest","field":"head","code":"invalid"}],"documentation_url":"https://docs.github.com/rest"}"#,
        );
        assert_eq!(
            error_message(&validation),
            "Validation Failed: A pull request already exists for acme:fix.; PullRequest head invalid"
        );
        let html = Answer { reason: Some("Bad Gateway"), ..answer(502, &[], "<html>oops</html>") };
        assert_eq!(error_message(&html), "HTTP 502 Bad Gateway");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("renovate[bot]"), "renovate%5Bbot%5D");
        assert_eq!(query_value("nomad-spec/validate"), "nomad-spec%2Fvalidate");
    }
}
