//! Fabio routes: the routing table of a running Fabio, the `urlprefix-` tags of a job file, and
//! the conflicts between the two (the `nomad-spec/routes` check).
//!
//! This module owns reading `/api/routes` from Fabio's admin address (`FABIO_ADMIN_ADDR`,
//! default `http://localhost:9998`), reading route tags from a parsed job with their lines in
//! the source, and the pure conflict rules. A tag conflicts with a route of *another* service
//! when it is an exact duplicate (same host and path, or the same TCP listener), when the paths
//! overlap on the same host (one a prefix of the other, as Fabio matches by prefix), or when the
//! host is already routed to another service. A route already owned by the same service is an
//! update. In strict mode (the default) a conflict fails the check, which blocks deploy.
//! It does not register or change routes: Fabio reads them from Consul's catalog.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::checks::{CheckResult, CheckStatus, ROUTES};
use crate::http::retry::{self, Repeat, RetryPolicy, Transience};
use crate::http::shown_address;
use crate::jobspec::parse::{parse_job, LineIndex, ParseOptions};
use crate::jobspec::Diagnostic;
use crate::settings::FabioSettings;

/// The tag prefix Fabio watches unless configured otherwise.
pub const DEFAULT_TAG_PREFIX: &str = "urlprefix-";

/// One entry of Fabio's routing table, as `/api/routes` returns it (fields of Fabio's
/// `admin/api/routes.go` `apiRoute`; `src` is `host/path`, `dst` the instance URL).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct FabioRoute {
    /// Consul service name.
    pub service: String,
    /// Host the route matches (empty: any host; `:PORT` for a TCP listener).
    pub host: String,
    /// Path prefix the route matches.
    pub path: String,
    /// `host/path` as written in the tag.
    pub src: String,
    /// Target instance.
    pub dst: String,
    /// Options after the route (`strip=/api`, `proto=tcp`).
    pub opts: String,
    /// Share of traffic.
    pub weight: f64,
    /// Tags of the registration.
    pub tags: Option<Vec<String>>,
    /// The route command (`route add svc host/path dst`).
    pub cmd: String,
}

/// A `urlprefix-` tag of the job file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTag {
    /// The service block's name (what Fabio shows as `service`).
    pub service: String,
    /// Host part (empty: any host; `:PORT` for a TCP listener).
    pub host: String,
    /// Path part (empty for TCP listeners).
    pub path: String,
    /// Options after the first space (`strip=/api`, `redirect=301,https://x/`, `proto=tcp`).
    pub options: BTreeMap<String, String>,
    /// The whole tag, for messages.
    pub tag: String,
    /// 1-based line of the tag in the job file (0 when not found).
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// How a tag meets an existing route of another service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConflictKind {
    /// Same host and path (or the same TCP listener).
    Duplicate,
    /// Same host, and one path is a prefix of the other.
    PathOverlap,
    /// The host is already routed to another service.
    HostnameCollision,
}

/// What the job's tags do to Fabio's routing table.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteFinding {
    /// The tag meets a route of another service.
    Conflict {
        /// Index of the tag in the list given to [`find_conflicts`].
        tag: usize,
        kind: ConflictKind,
        /// The other service.
        service: String,
        /// Its route (`host/path`).
        src: String,
    },
    /// The tag's route already belongs to this service: deploying updates it.
    Update {
        /// Index of the tag.
        tag: usize,
    },
}

/// Splits a route tag's value (without the prefix) into host, path and options.
///
/// Grammar (Fabio's `urlprefix-` tags): `[host][/path][ opt=value ...]`; `:PORT` as host is a
/// TCP (or SNI) listener. Returns `None` when neither a host nor a path is given.
pub fn split_route(value: &str) -> Option<(String, String, BTreeMap<String, String>)> {
    let mut words = value.split_whitespace();
    let target = words.next()?;
    let options = words
        .map(|word| match word.split_once('=') {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (word.to_string(), String::new()),
        })
        .collect();
    let (host, path) = match target.find('/') {
        Some(slash) => (&target[..slash], &target[slash..]),
        None => (target, ""),
    };
    if host.is_empty() && path.is_empty() {
        return None;
    }
    Some((host.to_ascii_lowercase(), path.to_string(), options))
}

/// The route tags of a parsed job (the API's `Job` object), with their place in `source`.
/// Tags with unresolved interpolations (`urlprefix-${meta.host}/`) cannot be compared and are
/// returned separately, as findings.
pub fn route_tags(job: &Value, source: &str, prefix: &str) -> (Vec<RouteTag>, Vec<String>) {
    let index = LineIndex::new(source);
    let job_name = text(job, "Name").or_else(|| text(job, "ID")).unwrap_or_default();
    let mut tags = Vec::new();
    let mut unresolved = Vec::new();
    let mut searched_from: BTreeMap<String, usize> = BTreeMap::new();
    for group in array(job, "TaskGroups") {
        let group_name = text(group, "Name").unwrap_or_default();
        let mut services: Vec<(&Value, &str)> =
            array(group, "Services").iter().map(|s| (s, "")).collect();
        for task in array(group, "Tasks") {
            let task_name = text(task, "Name").unwrap_or_default();
            services.extend(array(task, "Services").iter().map(|s| (s, task_name)));
        }
        for (service, task_name) in services {
            let name = service_name(service, job_name, group_name, task_name);
            for tag in array(service, "Tags").iter().filter_map(Value::as_str) {
                let Some(value) = tag.strip_prefix(prefix) else { continue };
                if tag.contains("${") {
                    unresolved.push(tag.to_string());
                    continue;
                }
                let Some((host, path, options)) = split_route(value) else {
                    unresolved.push(tag.to_string());
                    continue;
                };
                // The same tag may appear in several services; each occurrence gets the next
                // place it is written in the file.
                let quoted = format!("\"{tag}\"");
                let from = searched_from.get(tag).copied().unwrap_or(0);
                let (line, column) = match source.get(from..).and_then(|rest| rest.find(&quoted)) {
                    Some(found) => {
                        searched_from.insert(tag.to_string(), from + found + quoted.len());
                        index.position(from + found)
                    }
                    None => (0, 0),
                };
                tags.push(RouteTag {
                    service: name.clone(),
                    host,
                    path,
                    options,
                    tag: tag.to_string(),
                    line,
                    column,
                });
            }
        }
    }
    (tags, unresolved)
}

/// A service's name as Nomad registers it: the default `JOB-GROUP[-TASK]` and the runtime
/// variables Nomad resolves in names.
fn service_name(service: &Value, job: &str, group: &str, task: &str) -> String {
    let name = match text(service, "Name") {
        Some(name) if !name.is_empty() => name.to_string(),
        _ if task.is_empty() => format!("{job}-{group}"),
        _ => format!("{job}-{group}-{task}"),
    };
    let base =
        if task.is_empty() { format!("{job}-{group}") } else { format!("{job}-{group}-{task}") };
    [
        ("${NOMAD_JOB_NAME}", job),
        ("${JOB}", job),
        ("${NOMAD_GROUP_NAME}", group),
        ("${TASKGROUP}", group),
        ("${GROUP}", group),
        ("${NOMAD_TASK_NAME}", task),
        ("${TASK}", task),
        ("${BASE}", &base),
    ]
    .iter()
    .fold(name, |name, (variable, value)| name.replace(variable, value))
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// The host and path of a route from Fabio, read from `src` when `host`/`path` are empty
/// (older Fabio versions only fill `src`).
fn route_target(route: &FabioRoute) -> (String, String) {
    if !route.host.is_empty() || !route.path.is_empty() {
        return (route.host.to_ascii_lowercase(), route.path.clone());
    }
    split_route(&route.src).map(|(host, path, _)| (host, path)).unwrap_or_default()
}

/// Compares the job's tags with Fabio's routes. Pure: one finding per tag and other
/// service/route (instances of one route are not repeated), updates once per tag.
pub fn find_conflicts(tags: &[RouteTag], routes: &[FabioRoute]) -> Vec<RouteFinding> {
    let mut findings = Vec::new();
    for (index, tag) in tags.iter().enumerate() {
        let mut seen = BTreeSet::new();
        let mut update = false;
        for route in routes {
            let (host, path) = route_target(route);
            let kind = if host == tag.host && path == tag.path {
                Some(ConflictKind::Duplicate)
            } else if host == tag.host
                && (path.starts_with(&tag.path) || tag.path.starts_with(&path))
            {
                Some(ConflictKind::PathOverlap)
            } else if host == tag.host && !host.is_empty() {
                Some(ConflictKind::HostnameCollision)
            } else {
                None
            };
            let Some(kind) = kind else { continue };
            if route.service == tag.service {
                update = true;
                continue;
            }
            let src =
                if route.src.is_empty() { format!("{host}{path}") } else { route.src.clone() };
            if seen.insert((kind, route.service.clone(), src.clone())) {
                findings.push(RouteFinding::Conflict {
                    tag: index,
                    kind,
                    service: route.service.clone(),
                    src,
                });
            }
        }
        if update {
            findings.push(RouteFinding::Update { tag: index });
        }
    }
    findings
}

/// A host name under `suffix` that no route uses: `SERVICE.SUFFIX`, then `SERVICE-2.SUFFIX`...
pub fn suggest_hostname(service: &str, suffix: &str, routes: &[FabioRoute]) -> String {
    let suffix = suffix.trim_start_matches('.');
    let used: BTreeSet<String> = routes.iter().map(|route| route_target(route).0).collect();
    let mut candidate = format!("{service}.{suffix}");
    let mut n = 2;
    while used.contains(&candidate) {
        candidate = format!("{service}-{n}.{suffix}");
        n += 1;
    }
    candidate
}

/// Why Fabio's routing table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FabioError {
    /// The admin address cannot take the API's path.
    #[error("FABIO_ADMIN_ADDR={0:?} is not a URL like http://fabio:9998")]
    Address(String),
    /// Nothing answered, or too slowly.
    #[error("Fabio at {url} is not reachable: {reason}")]
    Unreachable { url: String, reason: String },
    /// Fabio answered with an error status.
    #[error("Fabio at {url} answered {status}{tries}")]
    Status { url: String, status: u16, tries: retry::Tries },
    /// The answer was the text routing table (an old Fabio, or not the admin API).
    #[error(
        "Fabio at {url} answered with a text table instead of JSON; FABIO_ADMIN_ADDR must be \
         Fabio's admin address (ui.addr, port 9998 by default) of a version with /api/routes"
    )]
    TextTable { url: String },
    /// The answer was JSON of another shape.
    #[error("Fabio at {url} answered JSON that is not a list of routes: {reason}")]
    Shape { url: String, reason: String },
}

/// A client of Fabio's admin API.
#[derive(Debug, Clone)]
pub struct FabioClient {
    base: Url,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl FabioClient {
    /// A client of the admin API at `settings`' address.
    pub fn new(settings: FabioSettings) -> Result<FabioClient, FabioError> {
        let FabioSettings { address: base, calls } = settings;
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3).min(calls.request_timeout))
            .timeout(calls.request_timeout)
            .user_agent(concat!("nomad-spec/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| FabioError::Unreachable {
                url: shown_address(base.as_str()),
                reason: err.to_string(),
            })?;
        Ok(FabioClient { base, http, retry: calls.retry })
    }

    /// The admin address in use.
    pub fn address(&self) -> &Url {
        &self.base
    }

    /// The current routing table (`GET /api/routes`), under the retry policy.
    pub async fn routes(&self) -> Result<Vec<FabioRoute>, FabioError> {
        let url = self
            .base
            .join("api/routes")
            .map_err(|_| FabioError::Address(shown_address(self.base.as_str())))?;
        let shown = shown_address(url.as_str());
        let out_of_time = || FabioError::Unreachable {
            url: shown.clone(),
            reason: retry::no_answer_within(&self.retry),
        };
        let attempt = || self.routes_once(url.clone(), &shown);
        let (result, tries) = retry::call(&self.retry, Repeat::Safe, attempt, out_of_time).await;
        let body = result.map_err(|err| match err {
            FabioError::Status { url, status, .. } => FabioError::Status { url, status, tries },
            other => other,
        })?;
        parse_routes(&body).map_err(|err| match err {
            None => FabioError::TextTable { url: shown.clone() },
            Some(reason) => FabioError::Shape { url: shown.clone(), reason },
        })
    }

    /// One try: the body of a success; a failure says what it means for trying again.
    async fn routes_once(&self, url: Url, shown: &str) -> Result<String, (FabioError, Transience)> {
        let unreachable = |err: reqwest::Error| {
            let transience = retry::transport_transience(&err);
            let reason = super::consul::transport_reason(&err.without_url());
            (FabioError::Unreachable { url: shown.to_string(), reason }, transience)
        };
        let response = self.http.get(url).send().await.map_err(unreachable)?;
        let status = response.status();
        let asked = retry::asked_wait_in(response.headers(), None);
        let body = response.text().await.map_err(unreachable)?;
        if !status.is_success() {
            let status = status.as_u16();
            let error = FabioError::Status {
                url: shown.to_string(),
                status,
                tries: retry::Tries::default(),
            };
            return Err((error, retry::status_transience(status, asked)));
        }
        Ok(body)
    }
}

/// Reads `/api/routes`'s body; `Err(None)` when it is not JSON at all (the text table).
fn parse_routes(body: &str) -> Result<Vec<FabioRoute>, Option<String>> {
    let trimmed = body.trim();
    // Fabio answers `null` for an empty table in some versions.
    if trimmed == "null" {
        return Ok(Vec::new());
    }
    if !trimmed.starts_with(['[', '{']) {
        return Err(None);
    }
    serde_json::from_str::<Vec<FabioRoute>>(body).map_err(|err| Some(err.to_string()))
}

/// Runs the routes check on a job file: its tags against Fabio's table.
///
/// `client` is `None` when Fabio is not to be asked; `suffix` is the conventions' hostname
/// suffix used to suggest a free host name; `strict` makes conflicts failures (else warnings).
pub async fn check_routes(
    source: &str,
    file: &str,
    options: &ParseOptions,
    client: Option<&FabioClient>,
    prefix: &str,
    suffix: Option<&str>,
    strict: bool,
) -> CheckResult {
    let job = match parse_job(source, file, options) {
        Ok(job) => job,
        Err(_) => return CheckResult::skipped(
            ROUTES,
            "the job file does not parse (see nomad-spec/validate), so its route tags are unknown",
        ),
    };
    let (tags, unresolved) = route_tags(&job, source, prefix);
    let mut annotations: Vec<Diagnostic> = unresolved
        .iter()
        .map(|tag| {
            Diagnostic::warning(
                file,
                0,
                0,
                format!("route tag `{tag}` is resolved only at runtime and was not compared"),
            )
        })
        .collect();
    if tags.is_empty() {
        return CheckResult {
            name: ROUTES.into(),
            status: CheckStatus::Success,
            summary: format!("the job has no {prefix} tags: nothing is routed by Fabio"),
            annotations,
        };
    }
    let Some(client) = client else {
        return CheckResult::skipped(ROUTES, "Fabio is not configured (FABIO_ADMIN_ADDR)");
    };
    let routes = match client.routes().await {
        Ok(routes) => routes,
        Err(err) => return CheckResult::skipped(ROUTES, err.to_string()),
    };
    let findings = find_conflicts(&tags, &routes);
    let mut conflicts = 0;
    let mut updates = 0;
    for finding in &findings {
        match finding {
            RouteFinding::Update { .. } => updates += 1,
            RouteFinding::Conflict { tag, kind, service, src } => {
                conflicts += 1;
                let tag = &tags[*tag];
                let what = match kind {
                    ConflictKind::Duplicate => {
                        format!("duplicates the route `{src}` of `{service}`")
                    }
                    ConflictKind::PathOverlap => {
                        format!("overlaps the route `{src}` of `{service}` (one path is a prefix of the other)")
                    }
                    ConflictKind::HostnameCollision => {
                        format!("uses host `{}`, already routed to `{service}` (`{src}`)", tag.host)
                    }
                };
                let mut message = format!("route tag `{}` of `{}` {what}", tag.tag, tag.service);
                if let Some(suffix) = suffix.filter(|_| !tag.host.starts_with(':')) {
                    let free = suggest_hostname(&tag.service, suffix, &routes);
                    message.push_str(&format!("; a free host name: `{prefix}{free}{}`", tag.path));
                }
                let diagnostic = if strict {
                    Diagnostic::error(file, tag.line, tag.column, message)
                } else {
                    Diagnostic::warning(file, tag.line, tag.column, message)
                };
                annotations.push(diagnostic);
            }
        }
    }
    let status = if conflicts > 0 && strict { CheckStatus::Failure } else { CheckStatus::Success };
    let summary = match (conflicts, updates) {
        (0, 0) => format!("{} route tag(s), none used in Fabio yet", tags.len()),
        (0, _) => format!(
            "{} route tag(s), no conflict; {updates} already route to this service (an update)",
            tags.len()
        ),
        (_, _) if strict => format!(
            "{conflicts} route conflict(s) with other services: deploy is blocked (strict mode)"
        ),
        (_, _) => {
            format!("{conflicts} route conflict(s) with other services (lenient: reported only)")
        }
    };
    annotations.sort_by_key(|d| (d.line, d.column));
    CheckResult { name: ROUTES.into(), status, summary, annotations }
}

#[cfg(test)]
mod tests;
