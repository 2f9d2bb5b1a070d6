//! A fake OpenTelemetry collector: `POST /v1/traces` in OTLP/HTTP's JSON encoding, on
//! loopback. It is as strict as a collector about the shape (hex ids of the right length,
//! times as decimal strings, typed attribute values, a known content type) and keeps every
//! span it accepted, so tests read back the trace a run exported. The decoding is shared with
//! the fake LangFuse's OTLP endpoint ([`decode`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{json, Value};

use crate::server::LoopbackServer;

/// One span as the collector received it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// The parent's span id; `None` for a root.
    pub parent: Option<String>,
    /// The span's name.
    pub name: String,
    /// Start and end, in nanoseconds since the epoch.
    pub start: u128,
    /// End.
    pub end: u128,
    /// Attributes with their values unwrapped (`{"stringValue": "x"}` → `"x"`, an
    /// `intValue` string → a number).
    pub attributes: BTreeMap<String, Value>,
    /// The status message of a failed span.
    pub error: Option<String>,
    /// The resource's `service.name`.
    pub service: String,
}

impl ReceivedSpan {
    /// An attribute as text (numbers and booleans written out).
    pub fn text(&self, key: &str) -> Option<String> {
        self.attributes.get(key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

fn hex_of(value: Option<&Value>, digits: usize, what: &str) -> Result<String, String> {
    let text = value.and_then(Value::as_str).ok_or_else(|| format!("{what} is missing"))?;
    if text.len() != digits || !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{what} `{text}` is not {digits} hex digits"));
    }
    if text.chars().all(|c| c == '0') {
        return Err(format!("{what} is all zeros"));
    }
    Ok(text.to_lowercase())
}

fn nanos_of(value: Option<&Value>, what: &str) -> Result<u128, String> {
    // The protobuf JSON mapping writes 64-bit numbers as strings; a number is accepted too.
    match value {
        Some(Value::String(text)) => {
            text.parse().map_err(|_| format!("{what} `{text}` is not a number"))
        }
        Some(Value::Number(n)) => {
            n.as_u64().map(u128::from).ok_or_else(|| format!("{what} is not whole"))
        }
        _ => Err(format!("{what} is missing")),
    }
}

fn attribute_value(value: &Value) -> Result<Value, String> {
    let object = value.as_object().ok_or("an attribute value is not an object")?;
    let (kind, inner) = object.iter().next().ok_or("an attribute value is empty")?;
    match kind.as_str() {
        "stringValue" => Ok(inner.clone()),
        "boolValue" | "doubleValue" => Ok(inner.clone()),
        "intValue" => match inner {
            Value::String(text) => text
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("intValue `{text}` is not a whole number")),
            Value::Number(_) => Ok(inner.clone()),
            _ => Err("intValue is neither a string nor a number".into()),
        },
        "arrayValue" | "kvlistValue" | "bytesValue" => Ok(inner.clone()),
        other => Err(format!("unknown attribute value kind `{other}`")),
    }
}

fn attributes_of(list: Option<&Value>) -> Result<BTreeMap<String, Value>, String> {
    let mut out = BTreeMap::new();
    for item in list.and_then(Value::as_array).into_iter().flatten() {
        let key = item["key"].as_str().ok_or("an attribute has no key")?;
        out.insert(key.to_string(), attribute_value(&item["value"])?);
    }
    Ok(out)
}

/// The spans of an `ExportTraceServiceRequest` in JSON, or what is wrong with it.
pub fn decode(body: &str) -> Result<Vec<ReceivedSpan>, String> {
    let request: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let resources = request["resourceSpans"].as_array().ok_or("no resourceSpans array")?;
    let mut spans = Vec::new();
    for resource in resources {
        let resource_attributes = attributes_of(resource.pointer("/resource/attributes"))?;
        let service = resource_attributes
            .get("service.name")
            .and_then(Value::as_str)
            .unwrap_or("unknown_service")
            .to_string();
        let scopes = resource["scopeSpans"].as_array().ok_or("no scopeSpans array")?;
        for scope in scopes {
            for span in scope["spans"].as_array().ok_or("no spans array")? {
                let parent = match span.get("parentSpanId") {
                    None => None,
                    Some(Value::String(s)) if s.is_empty() => None,
                    Some(value) => Some(hex_of(Some(value), 16, "parentSpanId")?),
                };
                let name = span["name"].as_str().ok_or("a span has no name")?.to_string();
                let start = nanos_of(span.get("startTimeUnixNano"), "startTimeUnixNano")?;
                let end = nanos_of(span.get("endTimeUnixNano"), "endTimeUnixNano")?;
                if end < start {
                    return Err(format!("span `{name}` ends before it starts"));
                }
                let error = (span.pointer("/status/code").and_then(Value::as_u64) == Some(2))
                    .then(|| span.pointer("/status/message").and_then(Value::as_str))
                    .map(|m| m.unwrap_or_default().to_string());
                spans.push(ReceivedSpan {
                    trace_id: hex_of(span.get("traceId"), 32, "traceId")?,
                    span_id: hex_of(span.get("spanId"), 16, "spanId")?,
                    parent,
                    name,
                    start,
                    end,
                    attributes: attributes_of(span.get("attributes"))?,
                    error,
                    service: service.clone(),
                });
            }
        }
    }
    Ok(spans)
}

/// The refusal of a body that is not JSON by its content type (protobuf is not decoded
/// here); `None` for JSON.
pub(crate) fn not_json(headers: &HeaderMap) -> Option<Response> {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/json") {
        None
    } else {
        let message = format!("unsupported content type `{content_type}`");
        Some((StatusCode::UNSUPPORTED_MEDIA_TYPE, message).into_response())
    }
}

/// What a collector answers to a request it took (an empty partial success).
pub(crate) fn accepted() -> Response {
    axum::Json(json!({"partialSuccess": {}})).into_response()
}

struct Shared {
    /// A header the collector requires (`OTEL_EXPORTER_OTLP_HEADERS`), name and value.
    required: Option<(String, String)>,
    spans: Mutex<Vec<ReceivedSpan>>,
}

/// A running fake collector; dropping it stops the server.
pub struct FakeCollector {
    server: LoopbackServer,
    shared: Arc<Shared>,
}

impl FakeCollector {
    /// Starts a collector that takes traces from anyone.
    pub fn start() -> anyhow::Result<FakeCollector> {
        FakeCollector::start_with(None)
    }

    /// Starts a collector that answers 401 unless the request carries header `name: value`.
    pub fn requiring(name: &str, value: &str) -> anyhow::Result<FakeCollector> {
        FakeCollector::start_with(Some((name.to_lowercase(), value.to_string())))
    }

    fn start_with(required: Option<(String, String)>) -> anyhow::Result<FakeCollector> {
        let shared = Arc::new(Shared { required, spans: Mutex::new(Vec::new()) });
        let app = axum::Router::new().route("/v1/traces", post(traces)).with_state(shared.clone());
        let server = LoopbackServer::start("127.0.0.1:0", app, "fake OTLP collector")?;
        Ok(FakeCollector { server, shared })
    }

    /// `http://127.0.0.1:PORT`, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The fault switch in front of this fake.
    pub fn faults(&self) -> &crate::faults::FaultSwitch {
        self.server.faults()
    }

    /// Every span accepted so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.shared.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

async fn traces(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some((name, value)) = &shared.required {
        if headers.get(name.as_str()).and_then(|v| v.to_str().ok()) != Some(value.as_str()) {
            return (StatusCode::UNAUTHORIZED, "missing or wrong credentials").into_response();
        }
    }
    if let Some(refused) = not_json(&headers) {
        return refused;
    }
    match decode(&String::from_utf8_lossy(&body)) {
        Ok(spans) => {
            if let Ok(mut kept) = shared.spans.lock() {
                kept.extend(spans);
            }
            accepted()
        }
        Err(why) => (StatusCode::BAD_REQUEST, why).into_response(),
    }
}
