//! The HTTP face of the fake: Nomad's `/v1` routes, blocking queries, ACL tokens,
//! namespaces and regions, and the injected faults.
//!
//! One handler routes every request, so the concerns every Nomad endpoint shares (the fault
//! table, region and ACL checks, the `X-Nomad-*` headers, the request log) are written once.
//! Answers are JSON, errors are plain text with Nomad's status codes and wording.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use super::cluster::{ApiError, Cluster, JobKey, RequestRecord, WriteOutcome};
use super::variables::{LockClock, LockOperation, VarError};
use super::{job, plan, render};

/// The cluster shared between the HTTP handlers, the timer and the test's handle.
pub(crate) struct Shared {
    cluster: Mutex<Cluster>,
    changed: watch::Sender<u64>,
    /// Blocking queries parked until the index moves (or their wait ends).
    parked: AtomicUsize,
}

/// Counts a blocking query as parked while it lives, including when its client hangs up.
struct Parked<'a>(&'a AtomicUsize);

impl<'a> Parked<'a> {
    fn new(counter: &'a AtomicUsize) -> Parked<'a> {
        counter.fetch_add(1, Ordering::SeqCst);
        Parked(counter)
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    pub fn new(cluster: Cluster) -> Shared {
        let index = cluster.index;
        Shared {
            cluster: Mutex::new(cluster),
            changed: watch::Sender::new(index),
            parked: AtomicUsize::new(0),
        }
    }

    /// How many blocking queries are waiting for a change right now.
    pub fn parked(&self) -> usize {
        self.parked.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, Cluster> {
        // A panic while holding the lock leaves the state usable; keep serving it.
        self.cluster.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the cluster.
    pub fn read<R>(&self, f: impl FnOnce(&Cluster) -> R) -> R {
        f(&self.lock())
    }

    /// Changes the cluster and wakes blocking queries when the index moved.
    pub fn write<R>(&self, f: impl FnOnce(&mut Cluster) -> R) -> R {
        let (result, before, after) = {
            let mut cluster = self.lock();
            let before = cluster.index;
            let result = f(&mut cluster);
            (result, before, cluster.index)
        };
        // Bookkeeping (the request log, the fault table) does not move the index and must
        // not wake every blocking query.
        if after != before {
            self.changed.send_replace(after);
        }
        result
    }

    /// Advances the simulation one step, waking blocking queries only when something changed.
    pub fn advance(&self) -> bool {
        let (changed, index) = {
            let mut cluster = self.lock();
            let changed = cluster.advance();
            (changed, cluster.index)
        };
        if changed {
            self.changed.send_replace(index);
        }
        changed
    }
}

/// The query string, decoded.
struct Query(BTreeMap<String, String>);

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        let mut map = BTreeMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(percent_decode(key), percent_decode(value));
        }
        Query(map)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v == "true" || v == "1")
    }

    fn namespace(&self) -> String {
        self.get("namespace").unwrap_or("default").to_string()
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a Go duration as Nomad's `wait` parameter takes it (`5s`, `100ms`, `1m30s`).
pub(super) fn parse_wait(text: &str) -> Option<Duration> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let seconds = match unit {
            "ns" => number / 1e9,
            "us" | "µs" => number / 1e6,
            "ms" => number / 1e3,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            _ => return None,
        };
        total = total.checked_add(Duration::try_from_secs_f64(seconds).ok()?)?;
    }
    Some(total)
}

/// What a handler answers before the common headers are added.
enum Answer {
    Json {
        index: u64,
        body: Value,
    },
    Text {
        status: u16,
        body: String,
        index: u64,
    },
    /// 409 with the conflicting object, as the variables endpoints answer.
    Conflict {
        index: u64,
        body: Value,
    },
}

impl From<ApiError> for Answer {
    fn from(error: ApiError) -> Answer {
        Answer::Text { status: error.status, body: error.text, index: 0 }
    }
}

type Reply = Result<Answer, ApiError>;

/// The single entry point of the fake's HTTP server.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = Query::parse(uri.query());
    let fault = shared.write(|c| c.take_fault(method.as_str(), &path));
    let answer = match fault {
        Some(fault) => {
            if fault.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
            }
            match fault.status {
                Some(status) => Answer::Text { status, body: fault.body, index: 0 },
                None => route(&shared, &method, &path, &query, &headers, &body)
                    .await
                    .unwrap_or_else(Answer::from),
            }
        }
        None => route(&shared, &method, &path, &query, &headers, &body)
            .await
            .unwrap_or_else(Answer::from),
    };
    let (status, index, content_type, body) = match answer {
        Answer::Json { index, body } => (200, index, "application/json", body.to_string()),
        Answer::Text { status, body, index } => (status, index, "text/plain; charset=utf-8", body),
        Answer::Conflict { index, body } => (409, index, "application/json", body.to_string()),
    };
    shared.write(|c| {
        c.requests.push(RequestRecord {
            method: method.to_string(),
            path: path.clone(),
            query: uri.query().unwrap_or("").to_string(),
            status,
        })
    });
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&index.max(1).to_string()) {
        headers.insert("x-nomad-index", value);
    }
    headers.insert("x-nomad-knownleader", HeaderValue::from_static("true"));
    headers.insert("x-nomad-lastcontact", HeaderValue::from_static("0"));
    response
}

/// The secret the request carries, from `X-Nomad-Token` or `Authorization: Bearer`.
fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(token) = headers.get("x-nomad-token").and_then(|v| v.to_str().ok()) {
        return Some(token.to_string());
    }
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
}

/// Checks the request's token against the namespace it touches (`None`: any valid token).
fn authorize(
    cluster: &Cluster,
    headers: &HeaderMap,
    namespace: Option<&str>,
) -> Result<(), ApiError> {
    if cluster.scenario.tokens.is_empty() {
        return Ok(());
    }
    let Some(secret) = token_of(headers) else {
        return Err(ApiError::new(403, "Permission denied"));
    };
    let Some(token) = cluster.scenario.tokens.iter().find(|t| t.secret == secret) else {
        return Err(ApiError::new(403, "ACL token not found"));
    };
    match namespace {
        Some(ns) if !token.allows(ns) => Err(ApiError::new(403, "Permission denied")),
        _ => Ok(()),
    }
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(400, format!("failed to decode request body: {e}")))
}

fn write_answer(outcome: WriteOutcome) -> Answer {
    Answer::Json {
        index: outcome.index,
        body: json!({
            "EvalID": outcome.eval_id,
            "EvalCreateIndex": outcome.eval_create_index,
            "JobModifyIndex": outcome.job_modify_index,
            "Warnings": outcome.warnings,
            "Index": outcome.index,
            "LastContact": 0,
            "KnownLeader": false,
        }),
    }
}

/// Runs a read, blocking while its index is not past `?index=` (at most `?wait=`).
async fn blocking(
    shared: &Shared,
    query: &Query,
    read: impl Fn(&Cluster) -> Result<(u64, Value), ApiError>,
) -> Reply {
    let min_index: u64 = query.get("index").and_then(|i| i.parse().ok()).unwrap_or(0);
    let wait = query
        .get("wait")
        .and_then(parse_wait)
        .unwrap_or(Duration::from_secs(300))
        .min(Duration::from_secs(600));
    let deadline = Instant::now() + wait;
    let mut changes = shared.changed.subscribe();
    loop {
        changes.borrow_and_update();
        let (index, body) = shared.read(&read)?;
        if min_index == 0 || index > min_index {
            return Ok(Answer::Json { index, body });
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Answer::Json { index, body });
        }
        let _parked = Parked::new(&shared.parked);
        match tokio::time::timeout(deadline - now, changes.changed()).await {
            Ok(Ok(())) => continue,
            _ => return Ok(Answer::Json { index, body }),
        }
    }
}

/// The largest index among some objects, or the table's when there are none.
fn max_index(indexes: impl Iterator<Item = u64>, table: u64) -> u64 {
    indexes.max().unwrap_or(table).max(1)
}

async fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Reply {
    let region = shared.read(|c| c.scenario.region.clone());
    if let Some(wanted) = query.get("region") {
        if wanted != region {
            return Err(ApiError::new(500, "No path to region"));
        }
    }
    let segments: Vec<String> =
        path.trim_start_matches('/').split('/').map(percent_decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let namespace = query.namespace();
    let get = method == Method::GET;
    let write = method == Method::POST || method == Method::PUT;
    if segments.first() != Some(&"v1") {
        return Err(ApiError::new(404, "Invalid URL path"));
    }
    if segments[1..] == ["status", "leader"] && get {
        return Ok(Answer::Json { index: 0, body: json!("127.0.0.1:4647") });
    }
    match &segments[1..] {
        ["agent", "self"] if get => {
            shared.read(|c| authorize(c, headers, None))?;
            Ok(Answer::Json { index: 0, body: shared.read(agent_self) })
        }
        ["jobs"] if get => {
            let all = namespace == "*";
            if !all {
                shared.read(|c| authorize(c, headers, Some(&namespace)))?;
            } else {
                shared.read(|c| authorize(c, headers, None))?;
            }
            let prefix = query.get("prefix").unwrap_or("").to_string();
            let token = token_of(headers);
            blocking(shared, query, |c| {
                let visible = |ns: &str| {
                    c.scenario.tokens.is_empty()
                        || c.scenario
                            .tokens
                            .iter()
                            .any(|t| Some(&t.secret) == token.as_ref() && t.allows(ns))
                };
                let stubs: Vec<Value> = c
                    .jobs
                    .keys()
                    .filter(|(ns, id)| {
                        (all || *ns == namespace) && id.starts_with(&prefix) && visible(ns)
                    })
                    .filter_map(|key| render::job_stub(c, key))
                    .collect();
                Ok((c.tables.jobs.max(c.tables.allocs).max(1), json!(stubs)))
            })
            .await
        }
        ["jobs"] if write => register(shared, query, headers, body, None),
        ["jobs", "parse"] if write => {
            shared.read(|c| authorize(c, headers, None))?;
            Err(ApiError::new(
                501,
                "the fake Nomad cannot parse HCL: parse the job file locally and send its JSON",
            ))
        }
        ["validate", "job"] if write => {
            shared.read(|c| authorize(c, headers, Some(&namespace)))?;
            let request = parse_body(body)?;
            let job_value = request.get("Job").cloned().unwrap_or(Value::Null);
            if job_value.is_null() {
                return Err(ApiError::new(400, "Job must be specified"));
            }
            let errors = job::validation_errors(&job_value);
            let error = if errors.is_empty() { String::new() } else { job::multierror(&errors) };
            let warnings =
                shared.read(|c| job::warnings(&job_value, c.scenario.memory_oversubscription));
            Ok(Answer::Json {
                index: 0,
                body: json!({
                    "DriverConfigValidated": true,
                    "ValidationErrors": if errors.is_empty() { Value::Null } else { json!(errors) },
                    "Error": error,
                    "Warnings": warnings,
                }),
            })
        }
        ["job", id] if write => register(shared, query, headers, body, Some(id)),
        ["job", id] if get => {
            let key = (namespace.clone(), id.to_string());
            shared.read(|c| authorize(c, headers, Some(&namespace)))?;
            blocking(shared, query, |c| {
                let job =
                    render::job(c, &key).ok_or_else(|| ApiError::new(404, "job not found"))?;
                let index = max_index(
                    c.allocs
                        .iter()
                        .filter(|a| a.namespace == key.0 && a.job_id == key.1)
                        .map(|a| a.modify_index),
                    0,
                )
                .max(c.jobs.get(&key).map(|r| r.modify_index).unwrap_or(0));
                Ok((index, job))
            })
            .await
        }
        ["job", id] if method == Method::DELETE => {
            shared.read(|c| authorize(c, headers, Some(&namespace)))?;
            let purge = query.flag("purge");
            let outcome = shared.write(|c| c.stop(&namespace, id, purge))?;
            let mut answer = write_answer(outcome);
            if let Answer::Json { body, .. } = &mut answer {
                if let Some(object) = body.as_object_mut() {
                    object.insert("VolumeEvalID".into(), json!(""));
                    object.insert("VolumeEvalIndex".into(), json!(0));
                }
            }
            Ok(answer)
        }
        ["job", id, "plan"] if write => {
            shared.read(|c| authorize(c, headers, Some(&namespace)))?;
            let request = parse_body(body)?;
            let job_value = request.get("Job").cloned().unwrap_or(Value::Null);
            if job_value.is_null() {
                return Err(ApiError::new(400, "Job must be specified"));
            }
            if job::str_field(&job_value, "ID") != *id {
                return Err(ApiError::new(400, "Job ID does not match"));
            }
            let with_diff = request.get("Diff").and_then(Value::as_bool).unwrap_or(false);
            let ns = job_namespace(&job_value, &namespace);
            shared.read(|c| authorize(c, headers, Some(&ns)))?;
            let body = shared.read(|c| plan::plan(c, &ns, job_value, with_diff))?;
            Ok(Answer::Json { index: shared.read(|c| c.index), body })
        }
        ["job", id, "revert"] if write => {
            shared.read(|c| authorize(c, headers, Some(&namespace)))?;
            let request = parse_body(body)?;
            let version = request
                .get("JobVersion")
                .and_then(Value::as_u64)
                .ok_or_else(|| ApiError::new(400, "JobVersion must be specified"))?;
            let enforce = request.get("EnforcePriorVersion").and_then(Value::as_u64);
            let outcome = shared.write(|c| c.revert(&namespace, id, version, enforce, false))?;
            Ok(write_answer(outcome))
        }
        ["job", id, what] if get => {
            shared.read(|c| authorize(c, headers, Some(&namespace)))?;
            let key: JobKey = (namespace.clone(), id.to_string());
            let what = what.to_string();
            let all = query.flag("all");
            let diffs = query.flag("diffs");
            blocking(shared, query, |c| job_read(c, &key, &what, all, diffs)).await
        }
        ["evaluation", id] if get => {
            let id = id.to_string();
            let related = query.flag("related");
            check_object_namespace(shared, headers, |c| {
                c.evals.iter().find(|e| e.id == id).map(|e| e.namespace.clone())
            })?;
            blocking(shared, query, |c| {
                let eval = c
                    .evals
                    .iter()
                    .find(|e| e.id == id)
                    .ok_or_else(|| ApiError::new(404, "eval not found"))?;
                Ok((eval.modify_index, render::eval(c, eval, related)))
            })
            .await
        }
        ["evaluation", id, "allocations"] if get => {
            let id = id.to_string();
            check_object_namespace(shared, headers, |c| {
                c.evals.iter().find(|e| e.id == id).map(|e| e.namespace.clone())
            })?;
            blocking(shared, query, |c| {
                let allocs: Vec<_> = c.allocs.iter().filter(|a| a.eval_id == id).collect();
                let index = max_index(allocs.iter().map(|a| a.modify_index), c.tables.allocs);
                Ok((
                    index,
                    json!(allocs.iter().map(|a| render::alloc_stub(c, a)).collect::<Vec<_>>()),
                ))
            })
            .await
        }
        ["deployment", "fail", id] if write => {
            let id = id.to_string();
            check_object_namespace(shared, headers, |c| {
                c.deployments.iter().find(|d| d.id == id).map(|d| d.namespace.clone())
            })?;
            let (eval_id, index, reverted) = shared.write(|c| c.fail_deployment(&id))?;
            Ok(Answer::Json {
                index,
                body: json!({
                    "EvalID": eval_id,
                    "EvalCreateIndex": index,
                    "DeploymentModifyIndex": index,
                    "RevertedJobVersion": reverted,
                    "Index": index,
                }),
            })
        }
        ["deployment", "allocations", id] if get => {
            let id = id.to_string();
            check_object_namespace(shared, headers, |c| {
                c.deployments.iter().find(|d| d.id == id).map(|d| d.namespace.clone())
            })?;
            blocking(shared, query, |c| {
                let allocs: Vec<_> = c.allocs.iter().filter(|a| a.deployment_id == id).collect();
                let index = max_index(allocs.iter().map(|a| a.modify_index), c.tables.allocs);
                Ok((
                    index,
                    json!(allocs.iter().map(|a| render::alloc_stub(c, a)).collect::<Vec<_>>()),
                ))
            })
            .await
        }
        ["deployment", id] if get => {
            let id = id.to_string();
            check_object_namespace(shared, headers, |c| {
                c.deployments.iter().find(|d| d.id == id).map(|d| d.namespace.clone())
            })?;
            blocking(shared, query, |c| {
                let d = c
                    .deployments
                    .iter()
                    .find(|d| d.id == id)
                    .ok_or_else(|| ApiError::new(404, "deployment not found"))?;
                Ok((d.modify_index, render::deployment(d)))
            })
            .await
        }
        ["allocation", id] if get => {
            let id = id.to_string();
            check_object_namespace(shared, headers, |c| {
                c.allocs.iter().find(|a| a.id == id).map(|a| a.namespace.clone())
            })?;
            blocking(shared, query, |c| {
                let alloc = c
                    .allocs
                    .iter()
                    .find(|a| a.id == id)
                    .ok_or_else(|| ApiError::new(404, "alloc not found"))?;
                Ok((alloc.modify_index, render::alloc_full(c, alloc)))
            })
            .await
        }
        ["allocation", id, "checks"] if get => {
            let id = id.to_string();
            check_object_namespace(shared, headers, |c| {
                c.allocs.iter().find(|a| a.id == id).map(|a| a.namespace.clone())
            })?;
            let body = shared.read(|c| {
                let alloc = c
                    .allocs
                    .iter()
                    .find(|a| a.id == id)
                    .ok_or_else(|| ApiError::new(404, "alloc not found"))?;
                Ok::<Value, ApiError>(render::alloc_checks(c, alloc))
            })?;
            Ok(Answer::Json { index: 0, body })
        }
        ["operator", "scheduler", "configuration"] if get => {
            shared.read(|c| authorize(c, headers, None))?;
            let body = shared.read(|c| {
                json!({
                    "SchedulerConfig": {
                        "SchedulerAlgorithm": "binpack",
                        "MemoryOversubscriptionEnabled": c.scenario.memory_oversubscription,
                        "RejectJobRegistration": false,
                        "PauseEvalBroker": false,
                        "PreemptionConfig": {
                            "SystemSchedulerEnabled": true,
                            "SysBatchSchedulerEnabled": false,
                            "BatchSchedulerEnabled": false,
                            "ServiceSchedulerEnabled": false,
                        },
                        "CreateIndex": 1,
                        "ModifyIndex": 1,
                    },
                    "Index": 1,
                    "KnownLeader": true,
                    "LastContact": 0,
                })
            });
            Ok(Answer::Json { index: 1, body })
        }
        ["nodes"] if get => {
            shared.read(|c| authorize(c, headers, None))?;
            let body =
                shared.read(|c| json!(c.nodes.iter().map(render::node_stub).collect::<Vec<_>>()));
            Ok(Answer::Json { index: 1, body })
        }
        ["node", id] if get => {
            shared.read(|c| authorize(c, headers, None))?;
            let body = shared.read(|c| {
                c.nodes
                    .iter()
                    .find(|n| n.id == *id)
                    .map(render::node)
                    .ok_or_else(|| ApiError::new(404, "node not found"))
            })?;
            Ok(Answer::Json { index: 1, body })
        }
        ["namespaces"] if get => {
            shared.read(|c| authorize(c, headers, None))?;
            let body = shared.read(|c| {
                json!(c
                    .scenario
                    .namespaces
                    .iter()
                    .map(|ns| {
                        json!({
                            "Name": ns, "Description": "", "Quota": "", "Meta": null,
                            "CreateIndex": 1, "ModifyIndex": 1,
                        })
                    })
                    .collect::<Vec<_>>())
            });
            Ok(Answer::Json { index: 1, body })
        }
        ["evaluations"] | ["deployments"] | ["allocations"] if get => {
            let all = namespace == "*";
            shared.read(|c| authorize(c, headers, (!all).then_some(namespace.as_str())))?;
            let what = segments[1].to_string();
            let in_scope = move |ns: &str| all || ns == namespace;
            blocking(shared, query, |c| {
                let (index, items): (u64, Vec<Value>) = match what.as_str() {
                    "evaluations" => (
                        c.tables.evals,
                        c.evals
                            .iter()
                            .filter(|e| in_scope(&e.namespace))
                            .map(|e| render::eval(c, e, false))
                            .collect(),
                    ),
                    "deployments" => (
                        c.tables.deployments,
                        c.deployments
                            .iter()
                            .filter(|d| in_scope(&d.namespace))
                            .map(render::deployment)
                            .collect(),
                    ),
                    _ => (
                        c.tables.allocs,
                        c.allocs
                            .iter()
                            .filter(|a| in_scope(&a.namespace))
                            .map(|a| render::alloc_stub(c, a))
                            .collect(),
                    ),
                };
                Ok((index.max(1), json!(items)))
            })
            .await
        }
        ["client", "fs", "logs", id] if get => {
            let id = id.to_string();
            check_object_namespace(shared, headers, |c| {
                c.allocs.iter().find(|a| a.id == id).map(|a| a.namespace.clone())
            })?;
            logs(shared, &id, query)
        }
        ["vars"] if get => {
            let all = namespace == "*";
            shared.read(|c| authorize(c, headers, (!all).then_some(namespace.as_str())))?;
            let management = shared.read(|c| is_management(c, headers));
            let prefix = query.get("prefix").unwrap_or("").to_string();
            let ns = (!all).then_some(namespace.clone());
            shared.write(expire_locks);
            let (index, list) = shared
                .read(|c| (c.index, json!(c.variables.list(ns.as_deref(), &prefix, management))));
            Ok(Answer::Json { index, body: list })
        }
        ["var", rest @ ..] if !rest.is_empty() => {
            variable(shared, method, &rest.join("/"), query, headers, body, &namespace)
        }
        _ if known_path(&segments[1..]) => Err(ApiError::new(405, "Invalid method")),
        _ => Err(ApiError::new(404, "Invalid URL path")),
    }
}

/// Whether a path (after `/v1`) is one the fake serves with some method.
fn known_path(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["agent", "self"]
            | ["status", "leader"]
            | ["jobs"]
            | ["jobs", "parse"]
            | ["validate", "job"]
            | ["job", _]
            | ["job", _, _]
            | ["evaluation", _]
            | ["evaluation", _, "allocations"]
            | ["evaluations"]
            | ["deployment", _]
            | ["deployment", "allocations", _]
            | ["deployment", "fail", _]
            | ["deployments"]
            | ["allocation", _]
            | ["allocation", _, "checks"]
            | ["allocations"]
            | ["nodes"]
            | ["node", _]
            | ["namespaces"]
            | ["operator", "scheduler", "configuration"]
            | ["client", "fs", "logs", _]
            | ["vars"]
    )
}

/// Whether the request's token may see locks: ACLs off, or a token for every namespace
/// (the fake's management token).
fn is_management(cluster: &Cluster, headers: &HeaderMap) -> bool {
    if cluster.scenario.tokens.is_empty() {
        return true;
    }
    let secret = token_of(headers);
    cluster
        .scenario
        .tokens
        .iter()
        .any(|t| Some(&t.secret) == secret.as_ref() && t.namespaces.iter().any(|ns| ns == "*"))
}

/// The lock clock at this moment, from the scenario's `lock_second_ms`.
fn lock_clock(cluster: &Cluster) -> LockClock {
    LockClock {
        now: std::time::Instant::now(),
        second: Duration::from_millis(cluster.scenario.timing.lock_second_ms.max(1)),
    }
}

/// Removes the locks whose time is over, as Nomad's server does on its own timer.
fn expire_locks(cluster: &mut Cluster) {
    let clock = lock_clock(cluster);
    let mut index = cluster.index;
    if cluster.variables.expire_locks(&clock, &mut index) {
        cluster.index = index;
    }
}

/// `GET`, `PUT` (plain, `?cas=`, or a lock operation) and `DELETE` of `/v1/var/:path`.
fn variable(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &Query,
    headers: &HeaderMap,
    body: &Bytes,
    namespace: &str,
) -> Reply {
    shared.read(|c| authorize(c, headers, Some(namespace)))?;
    shared.write(expire_locks);
    let cas = match query.get("cas") {
        None => None,
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|err| ApiError::new(400, format!("can not parse cas: {err}")))?,
        ),
    };
    let operation = [
        ("lock-acquire", LockOperation::Acquire),
        ("lock-renew", LockOperation::Renew),
        ("lock-release", LockOperation::Release),
    ]
    .into_iter()
    .find(|(name, _)| query.0.contains_key(*name))
    .map(|(_, operation)| operation);
    let answer = |result: Result<Value, VarError>, index: u64| match result {
        Ok(body) => Ok(Answer::Json { index, body }),
        Err(VarError::Conflict(body)) => Ok(Answer::Conflict { index, body }),
        Err(VarError::Api(err)) => Err(err),
    };
    match *method {
        Method::GET => {
            let management = shared.read(|c| is_management(c, headers));
            let (index, found) =
                shared.read(|c| (c.index, c.variables.get(namespace, path, management)));
            Ok(Answer::Json { index, body: found? })
        }
        Method::PUT | Method::POST => {
            let request = parse_body(body)?;
            if operation.is_some() && cas.is_some() {
                return Err(ApiError::new(400, "CAS can't be used with lock operations"));
            }
            let (result, index) = shared.write(|c| {
                let clock = lock_clock(c);
                let mut index = c.index;
                let result = match operation {
                    Some(operation) => {
                        c.variables.lock(operation, namespace, path, &request, &clock, &mut index)
                    }
                    None => c.variables.put(namespace, path, &request, cas, &clock, &mut index),
                };
                c.index = index;
                (result, index)
            });
            answer(result, index)
        }
        Method::DELETE => {
            let (result, index) = shared.write(|c| {
                let clock = lock_clock(c);
                let mut index = c.index;
                let result = c.variables.delete(namespace, path, cas, &clock, &mut index);
                c.index = index;
                (result, index)
            });
            match result {
                Ok(()) => Ok(Answer::Text { status: 204, body: String::new(), index }),
                Err(VarError::Conflict(body)) => Ok(Answer::Conflict { index, body }),
                Err(VarError::Api(err)) => Err(err),
            }
        }
        _ => Err(ApiError::new(405, "Invalid method")),
    }
}

/// Authorizes a request for an object by the object's own namespace; unknown objects pass
/// through so the read answers 404.
fn check_object_namespace(
    shared: &Shared,
    headers: &HeaderMap,
    namespace_of: impl FnOnce(&Cluster) -> Option<String>,
) -> Result<(), ApiError> {
    shared.read(|c| {
        let namespace = namespace_of(c);
        authorize(c, headers, namespace.as_deref())
    })
}

/// The namespace a job is written to: its own, else the request's.
fn job_namespace(job_value: &Value, request_namespace: &str) -> String {
    match job::str_field(job_value, "Namespace") {
        "" => request_namespace.to_string(),
        ns => ns.to_string(),
    }
}

fn register(
    shared: &Shared,
    query: &Query,
    headers: &HeaderMap,
    body: &Bytes,
    path_id: Option<&str>,
) -> Reply {
    let request = parse_body(body)?;
    let job_value = request.get("Job").cloned().unwrap_or(Value::Null);
    if !job_value.is_object() {
        return Err(ApiError::new(400, "Job must be specified"));
    }
    let id = job::str_field(&job_value, "ID");
    if id.is_empty() {
        return Err(ApiError::new(400, "Job ID hasn't been provided"));
    }
    if let Some(path_id) = path_id {
        if id != path_id {
            return Err(ApiError::new(400, "Job ID does not match name"));
        }
    }
    let namespace = job_namespace(&job_value, &query.namespace());
    shared.read(|c| authorize(c, headers, Some(&namespace)))?;
    let key = (namespace.clone(), id.to_string());
    shared.write(|c| *c.register_calls.entry(key).or_default() += 1);
    let enforce = request.get("EnforceIndex").and_then(Value::as_bool).unwrap_or(false);
    let enforce_index =
        enforce.then(|| request.get("JobModifyIndex").and_then(Value::as_u64).unwrap_or(0));
    let outcome =
        shared.write(|c| c.register(&namespace, job_value, enforce_index, "job-register"))?;
    Ok(write_answer(outcome))
}

/// The job sub-resources: versions, allocations, evaluations, deployments, summary.
fn job_read(
    c: &Cluster,
    key: &JobKey,
    what: &str,
    all: bool,
    diffs: bool,
) -> Result<(u64, Value), ApiError> {
    let not_found = || ApiError::new(404, "job not found");
    let of_job = |ns: &str, job_id: &str| ns == key.0 && job_id == key.1;
    match what {
        "versions" => {
            let record =
                c.jobs.get(key).ok_or_else(|| ApiError::new(404, "job versions not found"))?;
            let versions: Vec<Value> = record.versions.iter().rev().cloned().collect();
            let diffs = if diffs {
                json!(versions
                    .windows(2)
                    .map(|pair| plan::version_diff(&pair[1], &pair[0]))
                    .collect::<Vec<_>>())
            } else {
                Value::Null
            };
            Ok((
                record.modify_index,
                json!({
                    "Versions": versions, "Diffs": diffs, "Index": record.modify_index,
                    "KnownLeader": true, "LastContact": 0,
                }),
            ))
        }
        "allocations" => {
            let allocs: Vec<_> = c
                .allocs
                .iter()
                .filter(|a| of_job(&a.namespace, &a.job_id))
                .filter(|a| all || c.jobs.get(key).is_none_or(|r| r.create_index <= a.create_index))
                .collect();
            let index = max_index(allocs.iter().map(|a| a.modify_index), c.tables.allocs);
            Ok((index, json!(allocs.iter().map(|a| render::alloc_stub(c, a)).collect::<Vec<_>>())))
        }
        "evaluations" => {
            let evals: Vec<_> =
                c.evals.iter().filter(|e| of_job(&e.namespace, &e.job_id)).collect();
            let index = max_index(evals.iter().map(|e| e.modify_index), c.tables.evals);
            Ok((index, json!(evals.iter().map(|e| render::eval(c, e, false)).collect::<Vec<_>>())))
        }
        "deployments" => {
            let deployments: Vec<_> =
                c.deployments.iter().rev().filter(|d| of_job(&d.namespace, &d.job_id)).collect();
            let index = max_index(deployments.iter().map(|d| d.modify_index), c.tables.deployments);
            Ok((
                index,
                json!(deployments.iter().map(|d| render::deployment(d)).collect::<Vec<_>>()),
            ))
        }
        "deployment" => {
            let latest = c.deployments.iter().rev().find(|d| of_job(&d.namespace, &d.job_id));
            match latest {
                Some(d) => Ok((d.modify_index, render::deployment(d))),
                None => Ok((c.tables.deployments.max(1), Value::Null)),
            }
        }
        "summary" => {
            let summary = render::job_summary(c, key).ok_or_else(not_found)?;
            let index = summary.get("ModifyIndex").and_then(Value::as_u64).unwrap_or(1);
            Ok((index, summary))
        }
        _ => Err(ApiError::new(404, "Invalid URL path")),
    }
}

/// `GET /v1/client/fs/logs/:alloc`: a task's stdout or stderr, plain or as a JSON frame.
fn logs(shared: &Shared, alloc_id: &str, query: &Query) -> Reply {
    let task = query.get("task").ok_or_else(|| ApiError::new(400, "must provide task name"))?;
    let kind = query.get("type").unwrap_or("stdout");
    if kind != "stdout" && kind != "stderr" {
        return Err(ApiError::new(400, "must provide log type (stdout/stderr)"));
    }
    let origin = query.get("origin").unwrap_or("start");
    let offset: usize = query.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let text = shared.read(|c| {
        let alloc = c
            .allocs
            .iter()
            .find(|a| a.id == alloc_id)
            .ok_or_else(|| ApiError::new(404, format!("Unknown allocation \"{alloc_id}\"")))?;
        let run = alloc
            .tasks
            .iter()
            .find(|t| t.name == task)
            .ok_or_else(|| ApiError::new(404, format!("unknown task name \"{task}\"")))?;
        Ok::<String, ApiError>(if kind == "stderr" {
            run.stderr.clone()
        } else {
            run.stdout.clone()
        })
    })?;
    let bytes = text.as_bytes();
    let slice = if origin == "end" {
        &bytes[bytes.len().saturating_sub(offset)..]
    } else {
        &bytes[offset.min(bytes.len())..]
    };
    let chunk = String::from_utf8_lossy(slice).into_owned();
    if query.flag("plain") {
        return Ok(Answer::Text { status: 200, body: chunk, index: 0 });
    }
    let frame = if slice.is_empty() {
        json!({})
    } else {
        json!({
            "Data": base64(slice),
            "File": format!("alloc/logs/{task}.{kind}.0"),
            "Offset": bytes.len(),
        })
    };
    Ok(Answer::Json { index: 0, body: frame })
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn agent_self(c: &Cluster) -> Value {
    let version = &c.scenario.version;
    json!({
        "config": {
            "Region": c.scenario.region,
            "Datacenter": "dc1",
            "NodeName": "fake-nomad",
            "Version": {
                "Version": version, "VersionPrerelease": "", "VersionMetadata": "",
                "Revision": "fake",
            },
            "ACL": {"Enabled": !c.scenario.tokens.is_empty()},
            "Server": {"Enabled": true},
            "Client": {"Enabled": false},
        },
        "member": {
            "Name": format!("fake-nomad.{}", c.scenario.region),
            "Addr": "127.0.0.1",
            "Port": 4648,
            "Status": "alive",
            "Tags": {
                "role": "nomad",
                "region": c.scenario.region,
                "dc": "dc1",
                "build": version,
                "port": "4647",
                "bootstrap": "1",
            },
        },
        "stats": {"nomad": {"leader": "true", "known_regions": "1"}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_parse_like_go_durations() {
        let cases = [("5s", 5000), ("100ms", 100), ("1m30s", 90_000), ("2", 2000)];
        for (text, millis) in cases {
            assert_eq!(parse_wait(text), Some(Duration::from_millis(millis)), "{text}");
        }
        assert_eq!(parse_wait("soon"), None);
        assert_eq!(parse_wait("99999999999999999999999999h"), None);
    }

    #[test]
    fn queries_decode_percent_and_plus() {
        let query = Query::parse(Some("prefix=a%2Fb+c&namespace=&wait=5s"));
        assert_eq!(query.get("prefix"), Some("a/b c"));
        assert_eq!(query.get("namespace"), None);
        assert_eq!(query.namespace(), "default");
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b"hello\n"), "aGVsbG8K");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }
}
