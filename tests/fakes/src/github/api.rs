//! The fake GitHub's HTTP side: authentication, scripted faults, git smart-HTTP, and the REST
//! endpoints the bot uses, each answering as the REST reference says
//! (https://docs.github.com/en/rest, API version 2022-11-28).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Value};

use super::objects::{self, Site};
use super::{
    Annotation, CheckRun, Comment, CommitStatus, Deployment, DeploymentStatus, Fault, GitHubState,
    Issue, Pull, Reaction, Shared,
};
use crate::git_http;

const DOCS: &str = "https://docs.github.com/rest";

/// Everything one REST request carries, with the repository part of the path split off.
struct Call<'a> {
    shared: &'a Shared,
    method: Method,
    /// The path below the API root (`/repos/acme/shop/pulls/1`).
    path: String,
    query: BTreeMap<String, String>,
    body: Bytes,
    site: Site,
}

impl Call<'_> {
    /// The request body as JSON; `Err` is GitHub's 400 for a body that does not parse.
    fn json(&self) -> Result<Value, Refusal> {
        if self.body.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(&self.body)
            .map_err(|_| Box::new(message(StatusCode::BAD_REQUEST, "Problems parsing JSON")))
    }

    fn per_page(&self) -> usize {
        let asked = self.query.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(30);
        asked.clamp(1, 100)
    }

    fn page(&self) -> usize {
        self.query.get("page").and_then(|v| v.parse().ok()).unwrap_or(1).max(1)
    }
}

/// An error answer, boxed: a request the endpoint refuses before touching the state.
type Refusal = Box<Response>;

/// GitHub's error body: `{"message", "documentation_url", "status"}`.
pub(super) fn message(status: StatusCode, text: &str) -> Response {
    let body = json!({
        "message": text,
        "documentation_url": DOCS,
        "status": status.as_u16().to_string(),
    });
    (status, Json(body)).into_response()
}

fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not Found")
}

/// 422 with a plain message (`No commit found for SHA: ...`, `Invalid request. ...`).
fn unprocessable(text: &str) -> Response {
    message(StatusCode::UNPROCESSABLE_ENTITY, text)
}

/// 422 `Validation Failed` with GitHub's `errors` list.
fn validation_failed(errors: Value) -> Response {
    let body = json!({
        "message": "Validation Failed",
        "errors": errors,
        "documentation_url": DOCS,
        "status": "422",
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

pub(super) fn created(body: Value) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

pub(super) fn ok(body: Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

pub(super) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The token a request carries: `Authorization: Bearer T`, `token T`, or basic auth with the
/// token as password (any user name, as git sends it).
fn presented_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "token" => Some(rest.trim().to_string()),
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
            let text = String::from_utf8(decoded).ok()?;
            text.split_once(':').map(|(_, password)| password.to_string())
        }
        _ => None,
    }
}

/// Every request: logged, authenticated, maybe failed on script, then git or REST.
pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (repository, token, default_branch) = {
        let mut state = shared.lock();
        state.requests.push(format!("{method} {uri}"));
        let s = &state.settings;
        (s.repository.clone(), s.token.clone(), s.default_branch.clone())
    };
    let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    let server = format!("http://{host}");
    let presented = presented_token(&headers);
    // A GitHub App's own endpoints take its JWT, not a token.
    if let Some(answer) = super::app::route(&shared, &method, uri.path(), presented.as_deref()) {
        return answer;
    }
    // The fake's token, or an installation token an App was given.
    let valid = presented.as_deref() == Some(token.as_str())
        || presented.as_deref().is_some_and(|presented| {
            shared.lock().app.as_ref().is_some_and(|app| app.accepts(presented))
        });

    let git_prefix = format!("/{repository}.git/");
    if uri.path().starts_with(&git_prefix) && git_http::is_git_path(uri.path()) {
        // https://docs.github.com/en/get-started/git-basics/about-remote-repositories: HTTPS
        // remotes take the token as the password; a request without one is challenged so
        // git and libgit2 retry with credentials.
        if !valid {
            let mut response = message(StatusCode::UNAUTHORIZED, "Invalid username or token.");
            response
                .headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Basic realm=\"GitHub\""));
            return response;
        }
        if uri.path().ends_with("/git-receive-pack") {
            if let Err(err) = shared.land_racing_commit(&git_http::pushed_refs(&body)) {
                return message(StatusCode::INTERNAL_SERVER_ERROR, &format!("{err:#}"));
            }
        }
        let bot = shared.lock().bot();
        return git_http::serve(
            &shared.git_root,
            uri.path(),
            &method,
            uri.query(),
            &headers,
            body,
            &bot,
        )
        .await;
    }

    // GitHub Enterprise Server serves the API under /api/v3.
    let (api, path) = match uri.path().strip_prefix("/api/v3") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            (format!("{server}/api/v3"), rest.to_string())
        }
        _ => (server.clone(), uri.path().to_string()),
    };
    let mut response = rest_api(
        &shared,
        valid,
        presented.is_some(),
        method,
        path,
        &uri,
        body,
        Site { server, api, repository, default_branch },
    );
    let headers = response.headers_mut();
    if !headers.contains_key("x-ratelimit-remaining") {
        let reset = (unix_now() + 3600).to_string();
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("5000"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("4999"));
        headers.insert("x-ratelimit-used", HeaderValue::from_static("1"));
        headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
        if let Ok(value) = HeaderValue::from_str(&reset) {
            headers.insert("x-ratelimit-reset", value);
        }
    }
    response
}

#[allow(clippy::too_many_arguments)]
fn rest_api(
    shared: &Shared,
    authenticated: bool,
    presented: bool,
    method: Method,
    path: String,
    uri: &Uri,
    body: Bytes,
    site: Site,
) -> Response {
    // https://docs.github.com/en/rest/overview/troubleshooting-the-rest-api#401-unauthorized
    if !authenticated {
        let text = if presented { "Bad credentials" } else { "Requires authentication" };
        return message(StatusCode::UNAUTHORIZED, text);
    }
    if let Some(fault) = take_fault(&mut shared.lock(), &path) {
        return fault_response(fault);
    }
    let query =
        Query::<BTreeMap<String, String>>::try_from_uri(uri).map(|q| q.0).unwrap_or_default();
    let call = Call { shared, method, path, query, body, site };
    route(&call)
}

fn take_fault(state: &mut GitHubState, path: &str) -> Option<Fault> {
    let rule = state
        .faults
        .iter_mut()
        .find(|rule| rule.remaining > 0 && path.starts_with(&rule.path_prefix))?;
    rule.remaining -= 1;
    Some(rule.fault)
}

/// https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
fn fault_response(fault: Fault) -> Response {
    match fault {
        Fault::TooManyRequests => {
            let mut response = message(
                StatusCode::TOO_MANY_REQUESTS,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            );
            response.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
            response
        }
        Fault::RateLimitExhausted => {
            let mut response =
                message(StatusCode::FORBIDDEN, "API rate limit exceeded for installation ID 1.");
            let headers = response.headers_mut();
            headers.insert("x-ratelimit-limit", HeaderValue::from_static("5000"));
            headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            headers.insert("x-ratelimit-used", HeaderValue::from_static("5000"));
            if let Ok(value) = HeaderValue::from_str(&(unix_now() + 1).to_string()) {
                headers.insert("x-ratelimit-reset", value);
            }
            response
        }
        Fault::ServerError => message(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"),
        Fault::BadGateway => (
            StatusCode::BAD_GATEWAY,
            [("content-type", "text/html")],
            "<html><body><h1>502 Bad Gateway</h1></body></html>\n",
        )
            .into_response(),
    }
}

fn route(call: &Call) -> Response {
    let decoded: Vec<String> = call.path.trim_matches('/').split('/').map(decode).collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    match (call.method.as_str(), segments.as_slice()) {
        // An Actions token is an installation token: it has no user behind it.
        ("GET", ["user"]) => {
            message(StatusCode::FORBIDDEN, "Resource not accessible by integration")
        }
        (_, ["repos", owner, name, rest @ ..])
            if format!("{owner}/{name}").eq_ignore_ascii_case(&call.site.repository) =>
        {
            repository_route(call, rest)
        }
        _ => not_found(),
    }
}

fn number(text: &str) -> Option<u64> {
    text.parse().ok()
}

fn repository_route(call: &Call, rest: &[&str]) -> Response {
    let checks_forbidden = call.shared.lock().checks_forbidden;
    let touches_checks = matches!(rest, ["check-runs", ..] | ["commits", _, "check-runs"]);
    if checks_forbidden && touches_checks {
        return message(StatusCode::FORBIDDEN, "Resource not accessible by integration");
    }
    let result = match (call.method.as_str(), rest) {
        ("GET", []) => Ok(get_repository(call)),
        ("GET", ["pulls"]) => Ok(list_pulls(call)),
        ("POST", ["pulls"]) => Ok(create_pull(call)),
        ("GET", ["pulls", n]) => number(n).map(|n| get_pull(call, n)).ok_or(()),
        ("GET", ["issues"]) => Ok(list_issues(call)),
        ("POST", ["issues"]) => Ok(create_issue(call)),
        ("GET", ["issues", n]) => number(n).map(|n| get_issue(call, n)).ok_or(()),
        ("PATCH", ["issues", n]) => number(n).map(|n| update_issue(call, n)).ok_or(()),
        ("GET", ["issues", n, "comments"]) => number(n).map(|n| list_comments(call, n)).ok_or(()),
        ("POST", ["issues", n, "comments"]) => number(n).map(|n| create_comment(call, n)).ok_or(()),
        ("GET", ["issues", "comments", id]) => number(id).map(|id| get_comment(call, id)).ok_or(()),
        ("PATCH", ["issues", "comments", id]) => {
            number(id).map(|id| update_comment(call, id)).ok_or(())
        }
        ("GET", ["issues", "comments", id, "reactions"]) => {
            number(id).map(|id| list_reactions(call, id)).ok_or(())
        }
        ("POST", ["issues", "comments", id, "reactions"]) => {
            number(id).map(|id| create_reaction(call, id)).ok_or(())
        }
        ("GET", ["collaborators", login, "permission"]) => Ok(permission(call, login)),
        ("POST", ["check-runs"]) => Ok(create_check_run(call)),
        ("GET", ["check-runs", id]) => number(id).map(|id| get_check_run(call, id)).ok_or(()),
        ("PATCH", ["check-runs", id]) => number(id).map(|id| update_check_run(call, id)).ok_or(()),
        ("GET", ["check-runs", id, "annotations"]) => {
            number(id).map(|id| list_annotations(call, id)).ok_or(())
        }
        ("GET", ["commits", git_ref, "check-runs"]) => Ok(list_check_runs(call, git_ref)),
        ("GET", ["commits", sha, "pulls"]) => Ok(commit_pulls(call, sha)),
        ("POST", ["statuses", sha]) => Ok(create_status(call, sha)),
        ("GET", ["commits", git_ref, "statuses"]) => Ok(list_statuses(call, git_ref)),
        ("POST", ["deployments"]) => Ok(create_deployment(call)),
        ("GET", ["deployments"]) => Ok(list_deployments(call)),
        ("POST", ["deployments", id, "statuses"]) => {
            number(id).map(|id| create_deployment_status(call, id)).ok_or(())
        }
        ("GET", ["deployments", id, "statuses"]) => {
            number(id).map(|id| list_deployment_statuses(call, id)).ok_or(())
        }
        _ => Err(()),
    };
    result.unwrap_or_else(|()| not_found())
}

/// One page of `items` and the `Link` header GitHub sends with it
/// (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api).
fn page_of<T: Clone>(call: &Call, items: &[T]) -> (Vec<T>, Option<String>) {
    let per_page = call.per_page();
    let page = call.page();
    let last = items.len().div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    let slice = items[start..end].to_vec();
    if last == 1 {
        return (slice, None);
    }
    let link_to = |n: usize| {
        let mut query: Vec<String> = call
            .query
            .iter()
            .filter(|(k, _)| k.as_str() != "page" && k.as_str() != "per_page")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        query.push(format!("per_page={per_page}"));
        query.push(format!("page={n}"));
        format!("<{}{}?{}>", call.site.api, call.path, query.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page.min(last + 1) - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
    }
    (slice, Some(links.join(", ")))
}

/// Percent-decodes a path segment (`renovate%5Bbot%5D`); a malformed escape stays as sent.
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn paged(body: Value, link: Option<String>) -> Response {
    let mut response = ok(body);
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert("link", link);
    }
    response
}

/// The commit `git_ref` (a sha, a branch, or any revision) names in the repository.
fn resolve(call: &Call, git_ref: &str) -> Option<String> {
    let bare = &call.shared.bare;
    if git_ref.starts_with('-') {
        return None;
    }
    git_http::git(bare, &["rev-parse", "--verify", "--quiet", &format!("{git_ref}^{{commit}}")])
        .ok()
        .map(|s| s.trim().to_string())
}

fn pull_json(call: &Call, state: &mut GitHubState, pull: &Pull) -> Value {
    let author = state.user(&pull.author);
    let owner_login = state.owner().to_string();
    let owner = state.user(&owner_login);
    let base_sha = git_http::head_of(&call.shared.bare, &pull.base_ref).unwrap_or_default();
    objects::pull(&call.site, pull, &author, &base_sha, &owner)
}

/// https://docs.github.com/en/rest/repos/repos#get-a-repository
fn get_repository(call: &Call) -> Response {
    let mut state = call.shared.lock();
    let owner_login = state.owner().to_string();
    let owner = state.user(&owner_login);
    let mut body = objects::repository(&call.site, &call.site.repository, &owner);
    body["permissions"] =
        json!({"admin": false, "maintain": false, "push": true, "triage": true, "pull": true});
    ok(body)
}

/// https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request
fn get_pull(call: &Call, number: u64) -> Response {
    call.shared.follow_heads();
    let mut state = call.shared.lock();
    let Some(pull) = state.pulls.get(&number).cloned() else { return not_found() };
    ok(pull_json(call, &mut state, &pull))
}

/// https://docs.github.com/en/rest/pulls/pulls#list-pull-requests: `state` (open), `head`
/// (`user:ref-name`; an unqualified name is not a filter), `base`, newest first.
fn list_pulls(call: &Call) -> Response {
    call.shared.follow_heads();
    let mut state = call.shared.lock();
    let wanted_state = call.query.get("state").map(String::as_str).unwrap_or("open");
    let head = call.query.get("head").and_then(|h| h.split_once(':'));
    let base = call.query.get("base");
    let mut pulls: Vec<Pull> = state
        .pulls
        .values()
        .filter(|p| wanted_state == "all" || p.state == wanted_state)
        .filter(|p| match head {
            Some((owner, branch)) => {
                p.head_ref == branch
                    && p.head_repo.split('/').next().is_some_and(|o| o.eq_ignore_ascii_case(owner))
            }
            None => true,
        })
        .filter(|p| base.is_none_or(|b| &p.base_ref == b))
        .cloned()
        .collect();
    pulls.reverse();
    let (page, link) = page_of(call, &pulls);
    let body: Vec<Value> = page.iter().map(|p| pull_json(call, &mut state, p)).collect();
    paged(Value::Array(body), link)
}

/// The pull requests a commit belongs to: those whose head it is, and those it merged
/// (https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit).
fn commit_pulls(call: &Call, sha: &str) -> Response {
    call.shared.follow_heads();
    let mut state = call.shared.lock();
    let pulls: Vec<Pull> = state
        .pulls
        .values()
        .filter(|p| p.head_sha == sha || p.merge_commit_sha.as_deref() == Some(sha))
        .cloned()
        .collect();
    let body: Vec<Value> = pulls.iter().map(|p| pull_json(call, &mut state, p)).collect();
    ok(Value::Array(body))
}

/// https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request
fn create_pull(call: &Call) -> Response {
    let input = match call.json() {
        Ok(input) => input,
        Err(response) => return *response,
    };
    let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_string);
    let (Some(head), Some(base)) = (text("head"), text("base")) else {
        return unprocessable("Invalid request.\n\n\"head\" and \"base\" are required.");
    };
    let Some(title) = text("title") else {
        return unprocessable("Invalid request.\n\n\"title\" wasn't supplied.");
    };
    let bare = &call.shared.bare;
    let owner = call.site.repository.split('/').next().unwrap_or_default().to_string();
    let head_branch = match head.split_once(':') {
        Some((head_owner, branch)) if head_owner.eq_ignore_ascii_case(&owner) => branch.to_string(),
        Some(_) => String::new(),
        None => head.clone(),
    };
    let invalid = |field: &str| {
        validation_failed(json!([{"resource": "PullRequest", "field": field, "code": "invalid"}]))
    };
    let Ok(head_sha) = git_http::head_of(bare, &head_branch) else { return invalid("head") };
    let Ok(base_sha) = git_http::head_of(bare, &base) else { return invalid("base") };
    let mut state = call.shared.lock();
    let repository = state.settings.repository.clone();
    let exists = state.pulls.values().any(|p| {
        p.state == "open"
            && p.head_ref == head_branch
            && p.base_ref == base
            && p.head_repo == repository
    });
    if exists {
        return validation_failed(json!([{
            "resource": "PullRequest",
            "code": "custom",
            "message": format!("A pull request already exists for {owner}:{head_branch}."),
        }]));
    }
    let nothing_new =
        git_http::git(bare, &["merge-base", "--is-ancestor", &head_sha, &base_sha]).is_ok();
    if nothing_new {
        return validation_failed(json!([{
            "resource": "PullRequest",
            "code": "custom",
            "message": format!("No commits between {base} and {head_branch}"),
        }]));
    }
    let number = state.next_number();
    if git_http::git(bare, &["update-ref", &format!("refs/pull/{number}/head"), &head_sha]).is_err()
    {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Server Error");
    }
    let now = state.now();
    let pull = Pull {
        number,
        title,
        body: text("body").unwrap_or_default(),
        author: state.bot(),
        head_ref: head_branch,
        head_sha,
        head_repo: repository,
        base_ref: base,
        draft: input.get("draft").and_then(Value::as_bool).unwrap_or(false),
        state: "open".into(),
        merged: false,
        merge_commit_sha: None,
        created_at: now.clone(),
        updated_at: now,
    };
    state.pulls.insert(number, pull.clone());
    state.count("create_pull");
    created(pull_json(call, &mut state, &pull))
}

fn comment_json(call: &Call, state: &mut GitHubState, comment: &Comment) -> Value {
    let author = state.user(&comment.author);
    let reactions: Vec<&Reaction> =
        state.reactions.iter().filter(|r| r.comment_id == comment.id).collect();
    objects::comment(&call.site, comment, &author, &reactions)
}

/// https://docs.github.com/en/rest/issues/comments#list-issue-comments: oldest first.
fn list_comments(call: &Call, number: u64) -> Response {
    let mut state = call.shared.lock();
    if !state.has_issue_or_pull(number) {
        return not_found();
    }
    let comments: Vec<Comment> =
        state.comments.iter().filter(|c| c.number == number).cloned().collect();
    let (page, link) = page_of(call, &comments);
    let body: Vec<Value> = page.iter().map(|c| comment_json(call, &mut state, c)).collect();
    paged(Value::Array(body), link)
}

const MAX_COMMENT: usize = 65_536;

fn comment_body(call: &Call) -> Result<String, Refusal> {
    let input = call.json()?;
    let Some(body) = input.get("body").and_then(Value::as_str) else {
        return Err(Box::new(unprocessable("Invalid request.\n\n\"body\" wasn't supplied.")));
    };
    if body.chars().count() > MAX_COMMENT {
        return Err(Box::new(validation_failed(json!([{
            "resource": "IssueComment",
            "code": "custom",
            "field": "body",
            "message": format!("body is too long (maximum is {MAX_COMMENT} characters)"),
        }]))));
    }
    Ok(body.to_string())
}

/// An issue or a pull request as the issues endpoints show it.
fn issue_or_pull_json(call: &Call, state: &mut GitHubState, number: u64) -> Option<Value> {
    if let Some(issue) = state.issues.get(&number).cloned() {
        let author = state.user(&issue.author);
        return Some(objects::plain_issue(&call.site, &issue, &author));
    }
    let pull = state.pulls.get(&number).cloned()?;
    let author = state.user(&pull.author);
    Some(objects::issue(&call.site, &pull, &author))
}

/// https://docs.github.com/en/rest/issues/issues#list-repository-issues: pull requests are
/// listed too; `state` is `open` (the default), `closed` or `all`.
fn list_issues(call: &Call) -> Response {
    let wanted = call.query.get("state").map(String::as_str).unwrap_or("open");
    if !matches!(wanted, "open" | "closed" | "all") {
        return validation_failed(
            json!([{"resource": "Issue", "field": "state", "code": "invalid"}]),
        );
    }
    let mut state = call.shared.lock();
    let mut numbers: Vec<(u64, String)> = state
        .issues
        .values()
        .map(|i| (i.number, i.state.clone()))
        .chain(state.pulls.values().map(|p| (p.number, p.state.clone())))
        .filter(|(_, s)| wanted == "all" || s == wanted)
        .collect();
    // Newest first, as GitHub sorts by creation by default.
    numbers.sort_by_key(|n| std::cmp::Reverse(n.0));
    let numbers: Vec<u64> = numbers.into_iter().map(|(n, _)| n).collect();
    let (page, link) = page_of(call, &numbers);
    let body: Vec<Value> =
        page.iter().filter_map(|n| issue_or_pull_json(call, &mut state, *n)).collect();
    paged(Value::Array(body), link)
}

/// https://docs.github.com/en/rest/issues/issues#create-an-issue
fn create_issue(call: &Call) -> Response {
    let input = match call.json() {
        Ok(input) => input,
        Err(response) => return *response,
    };
    let Some(title) = input.get("title").and_then(Value::as_str).filter(|t| !t.is_empty()) else {
        return validation_failed(
            json!([{"resource": "Issue", "field": "title", "code": "missing_field"}]),
        );
    };
    let body = input.get("body").and_then(Value::as_str).unwrap_or_default().to_string();
    if body.chars().count() > MAX_COMMENT {
        return validation_failed(json!([{"resource": "Issue", "field": "body", "code": "custom",
            "message": format!("body is too long (maximum is {MAX_COMMENT} characters)")}]));
    }
    let mut state = call.shared.lock();
    let number = state.next_number();
    let now = state.now();
    let issue = Issue {
        number,
        title: title.to_string(),
        body,
        author: state.bot(),
        state: "open".into(),
        created_at: now.clone(),
        updated_at: now,
    };
    state.issues.insert(number, issue);
    state.count("create_issue");
    let body = issue_or_pull_json(call, &mut state, number).unwrap_or(Value::Null);
    created(body)
}

/// https://docs.github.com/en/rest/issues/issues#get-an-issue
fn get_issue(call: &Call, number: u64) -> Response {
    let mut state = call.shared.lock();
    match issue_or_pull_json(call, &mut state, number) {
        Some(body) => ok(body),
        None => not_found(),
    }
}

/// https://docs.github.com/en/rest/issues/issues#update-an-issue (issues only here: the bot
/// never edits a pull request through this endpoint).
fn update_issue(call: &Call, number: u64) -> Response {
    let input = match call.json() {
        Ok(input) => input,
        Err(response) => return *response,
    };
    let new_state = input.get("state").and_then(Value::as_str);
    if new_state.is_some_and(|s| !matches!(s, "open" | "closed")) {
        return validation_failed(
            json!([{"resource": "Issue", "field": "state", "code": "invalid"}]),
        );
    }
    let mut state = call.shared.lock();
    let now = state.now();
    let Some(issue) = state.issues.get_mut(&number) else { return not_found() };
    if let Some(body) = input.get("body").and_then(Value::as_str) {
        issue.body = body.to_string();
    }
    if let Some(title) = input.get("title").and_then(Value::as_str) {
        issue.title = title.to_string();
    }
    if let Some(new_state) = new_state {
        issue.state = new_state.to_string();
    }
    issue.updated_at = now;
    state.count("update_issue");
    let body = issue_or_pull_json(call, &mut state, number).unwrap_or(Value::Null);
    ok(body)
}

/// https://docs.github.com/en/rest/issues/comments#create-an-issue-comment
fn create_comment(call: &Call, number: u64) -> Response {
    let body = match comment_body(call) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let mut state = call.shared.lock();
    if !state.has_issue_or_pull(number) {
        return not_found();
    }
    let id = state.id();
    let now = state.now();
    let comment = Comment {
        id,
        number,
        author: state.bot(),
        body,
        previous_body: None,
        created_at: now.clone(),
        updated_at: now,
    };
    state.comments.push(comment.clone());
    state.count("create_comment");
    created(comment_json(call, &mut state, &comment))
}

/// https://docs.github.com/en/rest/issues/comments#get-an-issue-comment
fn get_comment(call: &Call, id: u64) -> Response {
    let mut state = call.shared.lock();
    let Some(comment) = state.comments.iter().find(|c| c.id == id).cloned() else {
        return not_found();
    };
    ok(comment_json(call, &mut state, &comment))
}

/// https://docs.github.com/en/rest/issues/comments#update-an-issue-comment
fn update_comment(call: &Call, id: u64) -> Response {
    let body = match comment_body(call) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let mut state = call.shared.lock();
    let now = state.now();
    let Some(comment) = state.comments.iter_mut().find(|c| c.id == id) else {
        return not_found();
    };
    comment.previous_body = Some(std::mem::replace(&mut comment.body, body));
    comment.updated_at = now;
    let comment = comment.clone();
    state.count("edit_comment");
    ok(comment_json(call, &mut state, &comment))
}

const REACTIONS: [&str; 8] = ["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"];

/// https://docs.github.com/en/rest/reactions/reactions#list-reactions-for-an-issue-comment
fn list_reactions(call: &Call, id: u64) -> Response {
    let mut state = call.shared.lock();
    if !state.comments.iter().any(|c| c.id == id) {
        return not_found();
    }
    let reactions: Vec<Reaction> =
        state.reactions.iter().filter(|r| r.comment_id == id).cloned().collect();
    let (page, link) = page_of(call, &reactions);
    let body: Vec<Value> = page
        .iter()
        .map(|r| {
            let by = state.user(&r.login);
            objects::reaction(&call.site, r, &by)
        })
        .collect();
    paged(Value::Array(body), link)
}

/// https://docs.github.com/en/rest/reactions/reactions#create-reaction-for-an-issue-comment:
/// 200 with the existing reaction when this user already reacted so, 201 when new.
fn create_reaction(call: &Call, id: u64) -> Response {
    let input = match call.json() {
        Ok(input) => input,
        Err(response) => return *response,
    };
    let content = input.get("content").and_then(Value::as_str).unwrap_or_default().to_string();
    if !REACTIONS.contains(&content.as_str()) {
        return validation_failed(json!([{
            "resource": "Reaction", "code": "invalid", "field": "content",
        }]));
    }
    let mut state = call.shared.lock();
    if !state.comments.iter().any(|c| c.id == id) {
        return not_found();
    }
    let bot = state.bot();
    let by = state.user(&bot);
    state.count("create_reaction");
    let existing = state
        .reactions
        .iter()
        .find(|r| r.comment_id == id && r.login == bot && r.content == content)
        .cloned();
    if let Some(reaction) = existing {
        return ok(objects::reaction(&call.site, &reaction, &by));
    }
    let reaction = Reaction { id: state.id(), comment_id: id, login: bot, content };
    state.reactions.push(reaction.clone());
    created(objects::reaction(&call.site, &reaction, &by))
}

/// https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user:
/// `permission` holds the legacy base role (maintain → write, triage → read), `role_name`
/// the real one; someone who is not a collaborator is 404.
fn permission(call: &Call, login: &str) -> Response {
    let mut state = call.shared.lock();
    let Some(role) = state.permissions.get(login).cloned() else { return not_found() };
    let base = match role.as_str() {
        "admin" => "admin",
        "maintain" | "write" => "write",
        "triage" | "read" => "read",
        _ => "none",
    };
    let at_least = |r: &[&str]| r.contains(&role.as_str());
    let user = state.user(login);
    let mut user_json = objects::user(&call.site, &user);
    user_json["permissions"] = json!({
        "admin": at_least(&["admin"]),
        "maintain": at_least(&["admin", "maintain"]),
        "push": at_least(&["admin", "maintain", "write"]),
        "triage": at_least(&["admin", "maintain", "write", "triage"]),
        "pull": at_least(&["admin", "maintain", "write", "triage", "read"]),
    });
    user_json["role_name"] = json!(role);
    ok(json!({ "permission": base, "role_name": role, "user": user_json }))
}

const CONCLUSIONS: [&str; 8] = [
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
];
const MAX_OUTPUT: usize = 65_535;
const MAX_ANNOTATIONS: usize = 50;

/// The output and status fields of a check-run create or update, validated.
struct CheckRunInput {
    status: Option<String>,
    conclusion: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    text: Option<String>,
    annotations: Vec<Annotation>,
}

/// Validates a check run's body as GitHub does: conclusion with `completed`, output title and
/// summary, 65535 characters per text, at most 50 annotations per request.
fn check_run_input(input: &Value, creating: bool) -> Result<CheckRunInput, Refusal> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let status = text(input, "status");
    if let Some(status) = &status {
        if !["queued", "in_progress", "completed"].contains(&status.as_str()) {
            return Err(Box::new(unprocessable(&format!(
                "Invalid request.\n\n{status:?} is not a member of [\"queued\", \"in_progress\", \"completed\"]."
            ))));
        }
    }
    let conclusion = text(input, "conclusion");
    if let Some(conclusion) = &conclusion {
        if !CONCLUSIONS.contains(&conclusion.as_str()) {
            return Err(Box::new(unprocessable(&format!(
                "Invalid request.\n\n{conclusion:?} is not a valid conclusion."
            ))));
        }
    }
    if creating && status.as_deref() == Some("completed") && conclusion.is_none() {
        return Err(Box::new(unprocessable(
            "Invalid request.\n\n\"conclusion\" is required when \"status\" is \"completed\".",
        )));
    }
    let mut result = CheckRunInput {
        status,
        conclusion,
        title: None,
        summary: None,
        text: None,
        annotations: Vec::new(),
    };
    let Some(output) = input.get("output").filter(|o| !o.is_null()) else { return Ok(result) };
    let (title, summary) = (text(output, "title"), text(output, "summary"));
    if title.is_none() || summary.is_none() {
        return Err(Box::new(unprocessable(
            "Invalid request.\n\n\"title\", \"summary\" weren't supplied.",
        )));
    }
    for value in [&summary, &text(output, "text")].into_iter().flatten() {
        let length = value.chars().count();
        if length > MAX_OUTPUT {
            return Err(Box::new(unprocessable(&format!(
                "Invalid request.\n\nOnly {MAX_OUTPUT} characters are allowed; {length} were supplied."
            ))));
        }
    }
    let annotations = output.get("annotations").and_then(Value::as_array).cloned();
    let annotations = annotations.unwrap_or_default();
    if annotations.len() > MAX_ANNOTATIONS {
        return Err(Box::new(unprocessable(&format!(
            "Invalid request.\n\nOnly {MAX_ANNOTATIONS} annotations are allowed per request; {} were supplied.",
            annotations.len()
        ))));
    }
    for a in &annotations {
        let line = |key: &str| a.get(key).and_then(Value::as_u64);
        let level = text(a, "annotation_level").unwrap_or_default();
        let (Some(path), Some(start_line), Some(end_line), Some(message)) =
            (text(a, "path"), line("start_line"), line("end_line"), text(a, "message"))
        else {
            return Err(Box::new(unprocessable(
                "Invalid request.\n\nAn annotation needs \"path\", \"start_line\", \"end_line\", \"annotation_level\" and \"message\".",
            )));
        };
        if !["notice", "warning", "failure"].contains(&level.as_str()) {
            return Err(Box::new(unprocessable(&format!(
                "Invalid request.\n\n{level:?} is not a member of [\"notice\", \"warning\", \"failure\"]."
            ))));
        }
        result.annotations.push(Annotation {
            path,
            start_line,
            end_line,
            level,
            message,
            title: text(a, "title"),
        });
    }
    result.title = title;
    result.summary = summary;
    result.text = text(output, "text");
    Ok(result)
}

fn check_run_json(call: &Call, state: &mut GitHubState, run: &CheckRun) -> Value {
    let bot = state.bot();
    let app_owner = state.user(&bot);
    objects::check_run(&call.site, run, &app_owner)
}

/// https://docs.github.com/en/rest/checks/runs#create-a-check-run
fn create_check_run(call: &Call) -> Response {
    let input = match call.json() {
        Ok(input) => input,
        Err(response) => return *response,
    };
    let Some(name) = input.get("name").and_then(Value::as_str).map(str::to_string) else {
        return unprocessable("Invalid request.\n\n\"name\" wasn't supplied.");
    };
    let Some(head_sha) = input.get("head_sha").and_then(Value::as_str).map(str::to_string) else {
        return unprocessable("Invalid request.\n\n\"head_sha\" wasn't supplied.");
    };
    if resolve(call, &head_sha).as_deref() != Some(head_sha.as_str()) {
        return unprocessable(&format!("No commit found for SHA: {head_sha}"));
    }
    let fields = match check_run_input(&input, true) {
        Ok(fields) => fields,
        Err(response) => return *response,
    };
    let mut state = call.shared.lock();
    let run = CheckRun {
        id: state.id(),
        name,
        head_sha,
        status: fields.status.unwrap_or_else(|| "queued".into()),
        conclusion: fields.conclusion,
        title: fields.title,
        summary: fields.summary,
        text: fields.text,
        annotations: fields.annotations,
        created_at: state.now(),
    };
    state.check_runs.push(run.clone());
    state.count("create_check_run");
    created(check_run_json(call, &mut state, &run))
}

/// https://docs.github.com/en/rest/checks/runs#update-a-check-run: annotations are appended.
fn update_check_run(call: &Call, id: u64) -> Response {
    let input = match call.json() {
        Ok(input) => input,
        Err(response) => return *response,
    };
    let fields = match check_run_input(&input, false) {
        Ok(fields) => fields,
        Err(response) => return *response,
    };
    let mut state = call.shared.lock();
    let Some(run) = state.check_runs.iter_mut().find(|r| r.id == id) else {
        return not_found();
    };
    if let Some(status) = fields.status {
        run.status = status;
    }
    if let Some(conclusion) = fields.conclusion {
        // A conclusion completes the run.
        run.status = "completed".into();
        run.conclusion = Some(conclusion);
    }
    if fields.title.is_some() {
        run.title = fields.title;
        run.summary = fields.summary;
        run.text = fields.text;
    }
    run.annotations.extend(fields.annotations);
    let run = run.clone();
    state.count("update_check_run");
    ok(check_run_json(call, &mut state, &run))
}

/// https://docs.github.com/en/rest/checks/runs#get-a-check-run
fn get_check_run(call: &Call, id: u64) -> Response {
    let mut state = call.shared.lock();
    let Some(run) = state.check_runs.iter().find(|r| r.id == id).cloned() else {
        return not_found();
    };
    ok(check_run_json(call, &mut state, &run))
}

/// https://docs.github.com/en/rest/checks/runs#list-check-run-annotations
fn list_annotations(call: &Call, id: u64) -> Response {
    let state = call.shared.lock();
    let Some(run) = state.check_runs.iter().find(|r| r.id == id) else { return not_found() };
    let (page, link) = page_of(call, &run.annotations);
    let run = CheckRun { annotations: page, ..run.clone() };
    paged(objects::annotations(&run), link)
}

/// https://docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference:
/// `check_name`, `status`, `filter` (`latest`, the default: the newest run of each name).
fn list_check_runs(call: &Call, git_ref: &str) -> Response {
    let Some(sha) = resolve(call, git_ref) else {
        return unprocessable(&format!("No commit found for SHA: {git_ref}"));
    };
    let mut state = call.shared.lock();
    let name = call.query.get("check_name");
    let status = call.query.get("status");
    let latest = call.query.get("filter").is_none_or(|f| f == "latest");
    let mut runs: Vec<CheckRun> = state
        .check_runs
        .iter()
        .rev()
        .filter(|r| r.head_sha == sha)
        .filter(|r| name.is_none_or(|n| &r.name == n))
        .filter(|r| status.is_none_or(|s| &r.status == s))
        .cloned()
        .collect();
    if latest {
        let mut seen = std::collections::BTreeSet::new();
        runs.retain(|r| seen.insert(r.name.clone()));
    }
    let total = runs.len();
    let (page, link) = page_of(call, &runs);
    let check_runs: Vec<Value> = page.iter().map(|r| check_run_json(call, &mut state, r)).collect();
    paged(json!({ "total_count": total, "check_runs": check_runs }), link)
}

const MAX_DESCRIPTION: usize = 140;

/// https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
fn create_status(call: &Call, sha: &str) -> Response {
    let input = match call.json() {
        Ok(input) => input,
        Err(response) => return *response,
    };
    let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_string);
    let state_name = text("state").unwrap_or_default();
    if !["error", "failure", "pending", "success"].contains(&state_name.as_str()) {
        return validation_failed(json!([{
            "resource": "Status", "code": "custom", "field": "state",
            "message": "state is not included in the list",
        }]));
    }
    let description = text("description");
    if description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        return validation_failed(json!([{
            "resource": "Status", "code": "custom", "field": "description",
            "message": format!("description is too long (maximum is {MAX_DESCRIPTION} characters)"),
        }]));
    }
    if resolve(call, sha).as_deref() != Some(sha) {
        return unprocessable(&format!("No commit found for SHA: {sha}"));
    }
    let mut state = call.shared.lock();
    let status = CommitStatus {
        id: state.id(),
        sha: sha.to_string(),
        state: state_name,
        context: text("context").unwrap_or_else(|| "default".into()),
        description,
        target_url: text("target_url"),
        creator: state.bot(),
        created_at: state.now(),
    };
    state.statuses.push(status.clone());
    state.count("create_status");
    let creator = state.user(&status.creator);
    created(objects::status(&call.site, &status, &creator))
}

/// https://docs.github.com/en/rest/commits/statuses#list-commit-statuses-for-a-reference:
/// newest first.
fn list_statuses(call: &Call, git_ref: &str) -> Response {
    let Some(sha) = resolve(call, git_ref) else { return not_found() };
    let mut state = call.shared.lock();
    let statuses: Vec<CommitStatus> =
        state.statuses.iter().rev().filter(|s| s.sha == sha).cloned().collect();
    let (page, link) = page_of(call, &statuses);
    let body: Vec<Value> = page
        .iter()
        .map(|s| {
            let creator = state.user(&s.creator);
            objects::status(&call.site, s, &creator)
        })
        .collect();
    paged(Value::Array(body), link)
}

/// https://docs.github.com/en/rest/deployments/deployments#create-a-deployment: without
/// `required_contexts`, every commit status context on the ref must be `success` (else 409).
/// Auto-merging the default branch into the ref (`auto_merge`, default true) is not modelled.
fn create_deployment(call: &Call) -> Response {
    let input = match call.json() {
        Ok(input) => input,
        Err(response) => return *response,
    };
    let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_string);
    let Some(git_ref) = text("ref") else {
        return unprocessable("Invalid request.\n\n\"ref\" wasn't supplied.");
    };
    let Some(sha) = resolve(call, &git_ref) else {
        return validation_failed(json!([{
            "resource": "Deployment", "code": "custom", "field": "ref",
            "message": format!("No ref found for: {git_ref}"),
        }]));
    };
    let mut state = call.shared.lock();
    if input.get("required_contexts").is_none() {
        let mut latest: BTreeMap<&str, &str> = BTreeMap::new();
        for status in state.statuses.iter().filter(|s| s.sha == sha) {
            latest.insert(&status.context, &status.state);
        }
        let failing: Vec<&str> =
            latest.iter().filter(|(_, s)| **s != "success").map(|(c, _)| *c).collect();
        if !failing.is_empty() {
            return message(
                StatusCode::CONFLICT,
                &format!("Conflict: Commit status checks failed for {git_ref}."),
            );
        }
    }
    let deployment = Deployment {
        id: state.id(),
        sha,
        git_ref,
        environment: text("environment").unwrap_or_else(|| "production".into()),
        description: text("description"),
        creator: state.bot(),
        statuses: Vec::new(),
        created_at: state.now(),
    };
    state.deployments.push(deployment.clone());
    state.count("create_deployment");
    let creator = state.user(&deployment.creator);
    created(objects::deployment(&call.site, &deployment, &creator))
}

/// https://docs.github.com/en/rest/deployments/deployments#list-deployments: newest first,
/// filtered by `sha`, `ref`, `environment`.
fn list_deployments(call: &Call) -> Response {
    let mut state = call.shared.lock();
    let filter = |key: &str| call.query.get(key);
    let deployments: Vec<Deployment> = state
        .deployments
        .iter()
        .rev()
        .filter(|d| filter("sha").is_none_or(|v| &d.sha == v))
        .filter(|d| filter("ref").is_none_or(|v| &d.git_ref == v))
        .filter(|d| filter("environment").is_none_or(|v| &d.environment == v))
        .cloned()
        .collect();
    let (page, link) = page_of(call, &deployments);
    let body: Vec<Value> = page
        .iter()
        .map(|d| {
            let creator = state.user(&d.creator);
            objects::deployment(&call.site, d, &creator)
        })
        .collect();
    paged(Value::Array(body), link)
}

const DEPLOYMENT_STATES: [&str; 7] =
    ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"];

/// https://docs.github.com/en/rest/deployments/statuses#create-a-deployment-status
fn create_deployment_status(call: &Call, id: u64) -> Response {
    let input = match call.json() {
        Ok(input) => input,
        Err(response) => return *response,
    };
    let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_string);
    let state_name = text("state").unwrap_or_default();
    if !DEPLOYMENT_STATES.contains(&state_name.as_str()) {
        return validation_failed(json!([{
            "resource": "DeploymentStatus", "code": "custom", "field": "state",
            "message": "state is not included in the list",
        }]));
    }
    let description = text("description");
    if description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        return validation_failed(json!([{
            "resource": "DeploymentStatus", "code": "custom", "field": "description",
            "message": format!("description is too long (maximum is {MAX_DESCRIPTION} characters)"),
        }]));
    }
    let mut state = call.shared.lock();
    let status_id = state.id();
    let creator = state.bot();
    let Some(deployment) = state.deployments.iter_mut().find(|d| d.id == id) else {
        return not_found();
    };
    let status = DeploymentStatus { id: status_id, state: state_name, description, creator };
    deployment.statuses.push(status.clone());
    let deployment = deployment.clone();
    state.count("create_deployment_status");
    let creator = state.user(&status.creator);
    created(objects::deployment_status(&call.site, &deployment, &status, &creator))
}

/// https://docs.github.com/en/rest/deployments/statuses#list-deployment-statuses: newest first.
fn list_deployment_statuses(call: &Call, id: u64) -> Response {
    let mut state = call.shared.lock();
    let Some(deployment) = state.deployments.iter().find(|d| d.id == id).cloned() else {
        return not_found();
    };
    let statuses: Vec<DeploymentStatus> = deployment.statuses.iter().rev().cloned().collect();
    let (page, link) = page_of(call, &statuses);
    let body: Vec<Value> = page
        .iter()
        .map(|s| {
            let creator = state.user(&s.creator);
            objects::deployment_status(&call.site, &deployment, s, &creator)
        })
        .collect();
    paged(Value::Array(body), link)
}

#[cfg(test)]
mod tests {
    use super::decode;
    use crate::github::FakeGitHub;
    use serde_json::{json, Value};

    struct Client {
        http: reqwest::Client,
        github: FakeGitHub,
    }

    impl Client {
        fn new() -> Client {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let github = FakeGitHub::start().unwrap();
            github.commit("main", &[("README.md", "hi\n")], "Initial commit", "octocat").unwrap();
            github.commit("feature", &[("a.txt", "a\n")], "Add a", "dev").unwrap();
            github.open_pull_request("feature", "Add a", "dev").unwrap();
            Client { http: reqwest::Client::new(), github }
        }

        async fn send(
            &self,
            method: &str,
            path: &str,
            body: Option<Value>,
        ) -> (u16, String, Value) {
            let url = format!("{}{path}", self.github.url());
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let mut request = self.http.request(method, url).bearer_auth(self.github.token());
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let link = response
                .headers()
                .get("link")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let body = response.json().await.unwrap_or(Value::Null);
            (status, link, body)
        }
    }

    #[tokio::test]
    async fn tokens_are_checked() {
        let client = Client::new();
        let url = format!("{}/repos/acme/shop", client.github.url());
        let missing = client.http.get(&url).send().await.unwrap();
        assert_eq!(missing.status().as_u16(), 401);
        let body: Value = missing.json().await.unwrap();
        assert_eq!(body["message"], "Requires authentication");
        let wrong = client.http.get(&url).header("authorization", "token nope").send().await;
        let body: Value = wrong.unwrap().json().await.unwrap();
        assert_eq!(body["message"], "Bad credentials");
        let basic = client.http.get(&url).basic_auth("x", Some(client.github.token())).send();
        let body: Value = basic.await.unwrap().json().await.unwrap();
        assert_eq!(body["default_branch"], "main");
    }

    #[tokio::test]
    async fn pages_link_to_their_neighbours() {
        let client = Client::new();
        for i in 0..5 {
            client.github.post_comment(1, "dev", &format!("c{i}")).unwrap();
        }
        let base = format!("{}/repos/acme/shop/issues/1/comments", client.github.url());
        let (_, link, body) =
            client.send("GET", "/repos/acme/shop/issues/1/comments?per_page=2&page=2", None).await;
        assert_eq!(body.as_array().unwrap().len(), 2);
        assert_eq!(body[0]["body"], "c2");
        assert_eq!(
            link,
            format!(
                "<{base}?per_page=2&page=1>; rel=\"prev\", <{base}?per_page=2&page=3>; rel=\"next\", \
                 <{base}?per_page=2&page=3>; rel=\"last\", <{base}?per_page=2&page=1>; rel=\"first\""
            )
        );
        let (_, link, body) =
            client.send("GET", "/repos/acme/shop/issues/1/comments?per_page=2&page=3", None).await;
        assert_eq!(body.as_array().unwrap().len(), 1);
        assert!(!link.contains("next"), "{link}");
        let (_, link, _) = client.send("GET", "/repos/acme/shop/issues/1/comments", None).await;
        assert_eq!(link, "");
    }

    #[tokio::test]
    async fn check_runs_follow_githubs_rules() {
        let client = Client::new();
        let sha = client.github.head_of("feature").unwrap();
        let annotation = |i: u64| json!({"path": "a.txt", "start_line": i, "end_line": i, "annotation_level": "warning", "message": "m"});
        let output = |n: u64| json!({"title": "t", "summary": "s", "annotations": (1..=n).map(annotation).collect::<Vec<_>>()});
        let create = |output: Value| json!({"name": "lint", "head_sha": sha, "status": "completed", "conclusion": "failure", "output": output});
        let (status, _, body) =
            client.send("POST", "/repos/acme/shop/check-runs", Some(create(output(51)))).await;
        assert_eq!(status, 422, "{body}");
        let no_conclusion = json!({"name": "lint", "head_sha": sha, "status": "completed"});
        let (status, _, _) =
            client.send("POST", "/repos/acme/shop/check-runs", Some(no_conclusion)).await;
        assert_eq!(status, 422);
        let unknown = json!({"name": "lint", "head_sha": "0".repeat(40)});
        let (status, _, body) =
            client.send("POST", "/repos/acme/shop/check-runs", Some(unknown)).await;
        assert_eq!(
            (status, body["message"].as_str().unwrap()),
            (422, format!("No commit found for SHA: {}", "0".repeat(40)).as_str())
        );

        let (status, _, run) =
            client.send("POST", "/repos/acme/shop/check-runs", Some(create(output(50)))).await;
        assert_eq!(status, 201);
        let path = format!("/repos/acme/shop/check-runs/{}", run["id"]);
        let (status, _, run) =
            client.send("PATCH", &path, Some(json!({"output": output(2)}))).await;
        assert_eq!((status, &run["output"]["annotations_count"]), (200, &json!(52)));
        let (_, _, newer) =
            client.send("POST", "/repos/acme/shop/check-runs", Some(create(output(0)))).await;
        let list = format!("/repos/acme/shop/commits/{sha}/check-runs?check_name=lint");
        let (_, _, latest) = client.send("GET", &list, None).await;
        assert_eq!(latest["total_count"], 1);
        assert_eq!(latest["check_runs"][0]["id"], newer["id"]);
        let (_, _, all) = client.send("GET", &format!("{list}&filter=all"), None).await;
        assert_eq!(all["total_count"], 2);
        assert_eq!(client.github.check_runs(&sha)[0].annotations.len(), 52);
    }

    #[tokio::test]
    async fn reactions_and_statuses() {
        let client = Client::new();
        let id = client.github.post_comment(1, "dev", "hi").unwrap();
        let path = format!("/repos/acme/shop/issues/comments/{id}/reactions");
        let (first, _, _) = client.send("POST", &path, Some(json!({"content": "+1"}))).await;
        let (second, _, _) = client.send("POST", &path, Some(json!({"content": "+1"}))).await;
        let (bad, _, _) = client.send("POST", &path, Some(json!({"content": "thumbs"}))).await;
        assert_eq!((first, second, bad), (201, 200, 422));

        let sha = client.github.head_of("main").unwrap();
        let path = format!("/repos/acme/shop/statuses/{sha}");
        let long = json!({"state": "success", "context": "c", "description": "x".repeat(141)});
        let (status, _, body) = client.send("POST", &path, Some(long)).await;
        assert_eq!(status, 422, "{body}");
        let (status, _, _) = client.send("POST", &path, Some(json!({"state": "neutral"}))).await;
        assert_eq!(status, 422);
        let (status, _, _) =
            client.send("POST", &path, Some(json!({"state": "failure", "context": "c"}))).await;
        assert_eq!(status, 201);
        // Without required_contexts, a failing status blocks a deployment.
        let deploy = json!({"ref": "main", "environment": "production"});
        let (status, _, _) =
            client.send("POST", "/repos/acme/shop/deployments", Some(deploy)).await;
        assert_eq!(status, 409);
    }

    #[test]
    fn path_segments_decode() {
        assert_eq!(decode("renovate%5Bbot%5D"), "renovate[bot]");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
