//! A scripted fake of an OpenAI-compatible LLM server: `/v1/chat/completions` and
//! `/v1/models` on loopback.
//!
//! A [`Script`] is a list of [`Rule`]s; each request gets the reply of the first rule whose
//! conditions match (the task, read from `response_format.json_schema.name` or the
//! `nomad-spec-task:` marker of the system prompt; substrings of the request; whether it asks
//! for `json_schema`) and that has uses left. Replies can be answers or faults: truncated
//! JSON, a 429 with `Retry-After`, a stall, a 400, an HTML page. Every request is recorded so
//! tests can assert what was sent.

use crate::server::LoopbackServer;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// What a rule answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A chat completion whose message content is this JSON, serialized.
    Json(Value),
    /// A chat completion whose message content is this text as is (truncated JSON, prose).
    Content(String),
    /// An error status with an OpenAI-style JSON error body and an optional `Retry-After`.
    Status {
        /// The HTTP status.
        status: u16,
        /// Seconds for `Retry-After`.
        retry_after: Option<u64>,
    },
    /// Waits this long, then answers with the JSON (a stalled server).
    Stall(Duration, Value),
    /// A non-OpenAI server: an HTML page with this status.
    Html(u16),
}

/// One scripted reply and when it applies.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Only for this task.
    pub task: Option<String>,
    /// Only when the request body contains every one of these texts.
    pub contains: Vec<String>,
    /// Only when the request asks (true) or does not ask (false) for `json_schema` output.
    pub json_schema: Option<bool>,
    /// How many requests it answers; `None` for all.
    pub times: Option<usize>,
    /// The reply.
    pub reply: Reply,
}

impl Rule {
    /// A rule for every request of `task`.
    pub fn task(task: &str, reply: Reply) -> Rule {
        Rule {
            task: Some(task.into()),
            contains: Vec::new(),
            json_schema: None,
            times: None,
            reply,
        }
    }

    /// A rule for every request.
    pub fn any(reply: Reply) -> Rule {
        Rule { task: None, contains: Vec::new(), json_schema: None, times: None, reply }
    }

    /// Only when the request contains `text` (and the texts of earlier calls).
    pub fn containing(mut self, text: &str) -> Rule {
        self.contains.push(text.into());
        self
    }

    /// Only for requests asking (or not) for `json_schema` output.
    pub fn json_schema(mut self, asked: bool) -> Rule {
        self.json_schema = Some(asked);
        self
    }

    /// At most `n` requests.
    pub fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }
}

/// The rules, first match wins; with none matching the fake answers 500 and says so.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// The rules in order.
    pub rules: Vec<Rule>,
}

impl Script {
    /// A script of these rules.
    pub fn new(rules: Vec<Rule>) -> Script {
        Script { rules }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The request path.
    pub path: String,
    /// The task it was for, if it named one.
    pub task: Option<String>,
    /// The body as text.
    pub body: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

struct Shared {
    rules: Mutex<Vec<(Rule, usize)>>,
    requests: Mutex<Vec<Recorded>>,
}

/// A running fake LLM; dropping it stops the server.
pub struct FakeLlm {
    server: LoopbackServer,
    shared: Arc<Shared>,
}

impl FakeLlm {
    /// Starts the fake on a free loopback port.
    pub fn start(script: Script) -> anyhow::Result<FakeLlm> {
        FakeLlm::start_on("127.0.0.1:0", script)
    }

    /// Starts the fake on the given address.
    pub fn start_on(listen: &str, script: Script) -> anyhow::Result<FakeLlm> {
        let shared = Arc::new(Shared {
            rules: Mutex::new(script.rules.into_iter().map(|r| (r, 0)).collect()),
            requests: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let server = LoopbackServer::start(listen, app, "fake LLM")?;
        Ok(FakeLlm { server, shared })
    }

    /// The base URL to put in `NOMAD_SPEC_LLM_BASE_URL` (`http://127.0.0.1:PORT/v1`).
    pub fn url(&self) -> String {
        format!("{}/v1", self.server.url())
    }

    /// The fault switch in front of this fake: play a 500, a rate limit, silence, ...
    pub fn faults(&self) -> &crate::faults::FaultSwitch {
        self.server.faults()
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// The task a request is for: the schema's name, else the system prompt's marker.
fn task_of(body: &Value) -> Option<String> {
    if let Some(name) = body.pointer("/response_format/json_schema/name").and_then(Value::as_str) {
        return Some(name.to_string());
    }
    let system = body.pointer("/messages/0/content").and_then(Value::as_str)?;
    let rest = system.split("nomad-spec-task:").nth(1)?;
    rest.split_whitespace().next().map(String::from)
}

fn completion(content: String) -> Response {
    let tokens = |text: &str| (text.len() / 4) as u64 + 1;
    let body = json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": "fake",
        "choices": [{
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": content},
        }],
        "usage": {"prompt_tokens": 100, "completion_tokens": tokens(&content),
                  "total_tokens": 100 + tokens(&content)},
    });
    axum::Json(body).into_response()
}

fn error(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {"message": message, "type": "fake", "code": status.as_u16()}});
    (status, axum::Json(body)).into_response()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let text = String::from_utf8_lossy(&body).to_string();
    let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let task = task_of(&parsed);
    let authorization =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(String::from);
    if let Ok(mut requests) = shared.requests.lock() {
        requests.push(Recorded {
            path: path.clone(),
            task: task.clone(),
            body: text.clone(),
            authorization,
        });
    }
    match (method, path.as_str()) {
        (Method::GET, "/v1/models") => {
            return axum::Json(json!({"object": "list", "data": [
                {"id": "fake", "object": "model", "owned_by": "nomad-spec-tests"}
            ]}))
            .into_response();
        }
        (Method::POST, "/v1/chat/completions") => {}
        _ => return error(404, &format!("no route {path}")),
    }
    let asks_schema =
        parsed.pointer("/response_format/type").and_then(Value::as_str) == Some("json_schema");
    let reply = {
        let Ok(mut rules) = shared.rules.lock() else { return error(500, "poisoned") };
        let found = rules.iter_mut().find(|(rule, used)| {
            rule.times.is_none_or(|n| *used < n)
                && rule.task.as_ref().is_none_or(|t| task.as_ref() == Some(t))
                && rule.contains.iter().all(|c| text.contains(c.as_str()))
                && rule.json_schema.is_none_or(|asked| asked == asks_schema)
        });
        match found {
            Some((rule, used)) => {
                *used += 1;
                rule.reply.clone()
            }
            None => return error(500, &format!("the fake LLM has no scripted reply for {task:?}")),
        }
    };
    match reply {
        Reply::Json(value) => completion(value.to_string()),
        Reply::Content(text) => completion(text),
        Reply::Status { status, retry_after } => {
            let mut response = error(status, "scripted failure");
            if let Some(seconds) = retry_after {
                if let Ok(value) = seconds.to_string().parse() {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            response
        }
        Reply::Stall(duration, value) => {
            tokio::time::sleep(duration).await;
            completion(value.to_string())
        }
        Reply::Html(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
            let page = "<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>";
            (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
        }
    }
}
