//! A fake LangFuse project on loopback: its OTLP traces endpoint
//! (`POST /api/public/otel/v1/traces`), prompt management (`GET /api/public/v2/prompts/{name}`
//! by label or version, `POST /api/public/v2/prompts` to create a version) and scores
//! (`POST /api/public/scores`), every one behind Basic auth with the project's public key as
//! user and secret key as password, as LangFuse checks them.
//!
//! Prompts keep LangFuse's rules: versions count up from 1 per name, a label is on one
//! version at a time (creating a version with a label takes it from the others), and
//! `latest` is always on the newest. Everything received is kept for tests to read back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::otlp::{accepted, decode, not_json, ReceivedSpan};
use crate::server::LoopbackServer;

/// One version of a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptVersion {
    /// The prompt's name (the task).
    pub name: String,
    /// 1, 2, ...
    pub version: u64,
    /// The text.
    pub prompt: String,
    /// Its labels (`production`, `latest`, ...).
    pub labels: Vec<String>,
}

/// A score as received.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedScore {
    /// The trace scored.
    pub trace_id: String,
    /// The score's name.
    pub name: String,
    /// Its value.
    pub value: f64,
    /// Its comment.
    pub comment: Option<String>,
}

#[derive(Default)]
struct Project {
    prompts: Vec<PromptVersion>,
    spans: Vec<ReceivedSpan>,
    scores: Vec<ReceivedScore>,
    /// `x-langfuse-ingestion-version` of each traces request.
    ingestion_versions: Vec<Option<String>>,
    prompt_fetches: Vec<String>,
}

struct Shared {
    authorization: String,
    state: Mutex<Project>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Project> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running fake LangFuse; dropping it stops the server.
pub struct FakeLangfuse {
    server: LoopbackServer,
    shared: Arc<Shared>,
}

impl FakeLangfuse {
    /// Starts a project whose keys are `public_key` and `secret_key`.
    pub fn start(public_key: &str, secret_key: &str) -> anyhow::Result<FakeLangfuse> {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{public_key}:{secret_key}"));
        let shared = Arc::new(Shared {
            authorization: format!("Basic {basic}"),
            state: Mutex::new(Project::default()),
        });
        let app = axum::Router::new()
            .route("/api/public/otel/v1/traces", post(traces))
            .route("/api/public/v2/prompts", post(create_prompt))
            .route("/api/public/v2/prompts/{name}", get(prompt))
            .route("/api/public/scores", post(score))
            .with_state(shared.clone());
        let server = LoopbackServer::start("127.0.0.1:0", app, "fake LangFuse")?;
        Ok(FakeLangfuse { server, shared })
    }

    /// `http://127.0.0.1:PORT`, for `LANGFUSE_HOST`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The fault switch in front of this fake.
    pub fn faults(&self) -> &crate::faults::FaultSwitch {
        self.server.faults()
    }

    /// Creates a version of prompt `name` with `labels`, as a person does in LangFuse's UI;
    /// returns its version number.
    pub fn put_prompt(&self, name: &str, text: &str, labels: &[&str]) -> u64 {
        let labels = labels.iter().map(|l| l.to_string()).collect();
        add_version(&mut self.shared.lock(), name, text, labels).version
    }

    /// Every version of every prompt, oldest first.
    pub fn prompts(&self) -> Vec<PromptVersion> {
        self.shared.lock().prompts.clone()
    }

    /// Every span received.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.shared.lock().spans.clone()
    }

    /// Every score received.
    pub fn scores(&self) -> Vec<ReceivedScore> {
        self.shared.lock().scores.clone()
    }

    /// The `x-langfuse-ingestion-version` header of each traces request.
    pub fn ingestion_versions(&self) -> Vec<Option<String>> {
        self.shared.lock().ingestion_versions.clone()
    }

    /// The prompt requests served, as `name?query`.
    pub fn prompt_fetches(&self) -> Vec<String> {
        self.shared.lock().prompt_fetches.clone()
    }
}

fn add_version(
    state: &mut Project,
    name: &str,
    text: &str,
    mut labels: Vec<String>,
) -> PromptVersion {
    let version = state.prompts.iter().filter(|p| p.name == name).map(|p| p.version).max();
    let version = version.unwrap_or(0) + 1;
    if !labels.iter().any(|l| l == "latest") {
        labels.push("latest".into());
    }
    for other in state.prompts.iter_mut().filter(|p| p.name == name) {
        other.labels.retain(|l| !labels.contains(l));
    }
    let created = PromptVersion { name: name.into(), version, prompt: text.into(), labels };
    state.prompts.push(created.clone());
    created
}

fn prompt_json(prompt: &PromptVersion) -> Value {
    json!({
        "id": format!("prompt-{}-{}", prompt.name, prompt.version),
        "name": prompt.name,
        "version": prompt.version,
        "type": "text",
        "prompt": prompt.prompt,
        "config": {},
        "labels": prompt.labels,
        "tags": [],
        "commitMessage": null,
    })
}

fn refused(status: StatusCode, error: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": error, "message": message}))).into_response()
}

/// The refusal of a request without the project's Basic auth; `None` when it has it.
fn unauthorized(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let given = headers.get("authorization").and_then(|v| v.to_str().ok());
    if given == Some(shared.authorization.as_str()) {
        None
    } else {
        Some(refused(StatusCode::UNAUTHORIZED, "Unauthorized", "Invalid credentials"))
    }
}

async fn traces(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = unauthorized(&shared, &headers).or_else(|| not_json(&headers)) {
        return refusal;
    }
    let spans = match decode(&String::from_utf8_lossy(&body)) {
        Ok(spans) => spans,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    let version =
        headers.get("x-langfuse-ingestion-version").and_then(|v| v.to_str().ok()).map(String::from);
    let mut state = shared.lock();
    state.ingestion_versions.push(version);
    state.spans.extend(spans);
    accepted()
}

async fn prompt(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(refusal) = unauthorized(&shared, &headers) {
        return refusal;
    }
    let mut state = shared.lock();
    let shown: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    state.prompt_fetches.push(format!("{name}?{}", shown.join("&")));
    if query.contains_key("version") && query.contains_key("label") {
        return refused(
            StatusCode::BAD_REQUEST,
            "InvalidRequestError",
            "version or label, not both",
        );
    }
    let found = match (query.get("version"), query.get("label")) {
        (Some(version), _) => {
            let Ok(version) = version.parse::<u64>() else {
                return refused(StatusCode::BAD_REQUEST, "InvalidRequestError", "bad version");
            };
            state.prompts.iter().find(|p| p.name == name && p.version == version)
        }
        (None, label) => {
            let label = label.map(String::as_str).unwrap_or("production");
            state.prompts.iter().find(|p| p.name == name && p.labels.iter().any(|l| l == label))
        }
    };
    match found {
        Some(prompt) => axum::Json(prompt_json(prompt)).into_response(),
        None => refused(StatusCode::NOT_FOUND, "LangfuseNotFoundError", "Prompt not found"),
    }
}

async fn create_prompt(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = unauthorized(&shared, &headers) {
        return refusal;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return refused(StatusCode::BAD_REQUEST, "InvalidRequestError", "not JSON");
    };
    let (Some(name), Some(text)) = (body["name"].as_str(), body["prompt"].as_str()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "InvalidRequestError",
            "name and prompt are required",
        );
    };
    if body.get("type").is_some_and(|t| t != "text") {
        return refused(StatusCode::BAD_REQUEST, "InvalidRequestError", "only text prompts here");
    }
    let labels = body["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    let created = add_version(&mut shared.lock(), name, text, labels);
    axum::Json(prompt_json(&created)).into_response()
}

async fn score(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = unauthorized(&shared, &headers) {
        return refusal;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return refused(StatusCode::BAD_REQUEST, "InvalidRequestError", "not JSON");
    };
    let (Some(trace_id), Some(name), Some(value)) =
        (body["traceId"].as_str(), body["name"].as_str(), body["value"].as_f64())
    else {
        return refused(
            StatusCode::BAD_REQUEST,
            "InvalidRequestError",
            "traceId, name and a numeric value are required",
        );
    };
    let received = ReceivedScore {
        trace_id: trace_id.into(),
        name: name.into(),
        value,
        comment: body["comment"].as_str().map(String::from),
    };
    let mut state = shared.lock();
    let id = format!("score-{}", state.scores.len() + 1);
    state.scores.push(received);
    axum::Json(json!({"id": id})).into_response()
}
