//! Export: a run's spans as OTLP/HTTP in its JSON encoding (the protobuf JSON mapping: hex
//! trace and span ids, times in nanoseconds as strings, typed attribute values), posted to
//! LangFuse's OTLP endpoint (Basic auth, `x-langfuse-ingestion-version: 4`) and to any
//! collector the `OTEL_EXPORTER_OTLP_*` variables name; the run's scores go to LangFuse's
//! scores API. One attempt each, within the export timeout: a run is never held up or failed
//! by its traces, and a collector that is down costs one note.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::{json, Value as Json};

use super::collect::{FinishedSpan, Score, Value};
use super::Redaction;
use crate::http::shown_address;
use crate::settings::TraceSettings;

/// OTLP's span kinds: a generation calls a server, every other span is internal.
const KIND_INTERNAL: u8 = 1;
const KIND_CLIENT: u8 = 3;
/// OTLP's status code for a failed span.
const STATUS_ERROR: u8 = 2;

fn nanos(time: SystemTime) -> String {
    time.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0).to_string()
}

fn attribute(key: &str, value: &Value, redaction: &Redaction) -> Json {
    let value = match value {
        Value::Text(text) => json!({"stringValue": redaction.redact(text)}),
        // int64 is a string in the protobuf JSON mapping.
        Value::Int(n) => json!({"intValue": n.to_string()}),
        Value::Float(x) => json!({"doubleValue": x}),
        Value::Bool(b) => json!({"boolValue": b}),
    };
    json!({"key": key, "value": value})
}

/// The `ExportTraceServiceRequest` of `spans`, redacted.
pub fn request(
    spans: &[FinishedSpan],
    scores: &[Score],
    service_name: &str,
    redaction: &Redaction,
) -> Json {
    let spans: Vec<Json> = spans
        .iter()
        .map(|span| {
            let mut attributes: Vec<Json> = span
                .attributes
                .iter()
                .map(|(key, value)| attribute(key, value, redaction))
                .collect();
            if span.parent.is_none() {
                // A collector without LangFuse's scores API still sees the outcomes.
                for score in scores.iter().filter(|s| s.trace_id == span.trace_id) {
                    let key = format!("nomad_spec.score.{}", score.name);
                    attributes.push(attribute(&key, &Value::Float(score.value), redaction));
                }
            }
            let generation = span.attributes.contains_key("gen_ai.request.model");
            let end = span.start + span.duration;
            let mut out = json!({
                "traceId": super::hex(&span.trace_id),
                "spanId": super::hex(&span.span_id),
                "name": redaction.redact(&span.name),
                "kind": if generation { KIND_CLIENT } else { KIND_INTERNAL },
                "startTimeUnixNano": nanos(span.start),
                "endTimeUnixNano": nanos(end),
                "attributes": attributes,
            });
            if let Some(parent) = span.parent {
                out["parentSpanId"] = json!(super::hex(&parent));
            }
            if let Some(error) = &span.error {
                out["status"] = json!({"code": STATUS_ERROR, "message": redaction.redact(error)});
            }
            out
        })
        .collect();
    json!({
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": service_name}},
                {"key": "service.version", "value": {"stringValue": env!("CARGO_PKG_VERSION")}},
            ]},
            "scopeSpans": [{
                "scope": {"name": "nomad-spec", "version": env!("CARGO_PKG_VERSION")},
                "spans": spans,
            }],
        }],
    })
}

/// LangFuse's `POST /api/public/scores` bodies for `scores`.
pub fn score_bodies(scores: &[Score], redaction: &Redaction) -> Vec<Json> {
    scores
        .iter()
        .map(|score| {
            json!({
                "traceId": super::hex(&score.trace_id),
                "name": score.name,
                "value": score.value,
                "dataType": "NUMERIC",
                "comment": redaction.redact(&score.comment),
            })
        })
        .collect()
}

/// Sends the spans and scores where `settings` say; the notes say what could not be sent.
pub async fn export(
    spans: &[FinishedSpan],
    scores: &[Score],
    settings: &TraceSettings,
    redaction: &Redaction,
) -> Vec<String> {
    if spans.is_empty() || !settings.exported() {
        return Vec::new();
    }
    crate::tls::install_crypto_provider();
    let client = match reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(1)))
        .user_agent(concat!("nomad-spec/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(err) => return vec![format!("traces not sent: cannot build an HTTP client: {err}")],
    };
    let body = request(spans, scores, &settings.service_name, redaction);
    let mut notes = Vec::new();
    if let Some(langfuse) = &settings.langfuse {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            langfuse.public_key,
            langfuse.secret_key.as_str()
        ));
        let authorization = format!("Basic {basic}");
        let url = langfuse.traces_url();
        let sent = client
            .post(&url)
            .header("authorization", &authorization)
            .header("x-langfuse-ingestion-version", "4")
            .json(&body)
            .send()
            .await;
        let mut note = outcome(&url, sent, redaction);
        if note.is_none() {
            let url = format!("{}/api/public/scores", langfuse.host);
            for score in score_bodies(scores, redaction) {
                let sent =
                    client.post(&url).header("authorization", &authorization).json(&score).send();
                note = outcome(&url, sent.await, redaction);
                if note.is_some() {
                    break;
                }
            }
        }
        notes.extend(note);
    }
    if let Some(collector) = &settings.collector {
        let mut post = client.post(&collector.traces_url).json(&body);
        for (name, value) in &collector.headers {
            post = post.header(name.as_str(), value.as_str());
        }
        notes.extend(outcome(&collector.traces_url, post.send().await, redaction));
    }
    notes
}

/// A note when a post did not go through.
fn outcome(
    url: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
    redaction: &Redaction,
) -> Option<String> {
    let shown = shown_address(url);
    let why = match sent {
        Ok(response) if response.status().is_success() => return None,
        Ok(response) => format!("HTTP {}", response.status().as_u16()),
        Err(err) if err.is_timeout() => "no answer in time".to_string(),
        Err(err) => crate::http::error_chain(&err.without_url()),
    };
    Some(redaction.redact(&format!("traces not sent to {shown}: {why}")))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;

    #[test]
    fn spans_are_encoded_in_otlp_json_redacted() {
        let mut attributes = BTreeMap::new();
        attributes.insert("gen_ai.request.model".into(), Value::Text("qwen".into()));
        attributes.insert("gen_ai.usage.input_tokens".into(), Value::Int(12));
        attributes.insert("prompt".into(), Value::Text("password=hunter2hunter2".into()));
        let root = FinishedSpan {
            trace_id: [0xab; 16],
            span_id: [1; 8],
            parent: None,
            name: "nomad-spec ci".into(),
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(2),
            duration: Duration::from_millis(5),
            attributes: BTreeMap::new(),
            error: None,
        };
        let llm = FinishedSpan {
            span_id: [2; 8],
            parent: Some([1; 8]),
            name: "llm answers".into(),
            attributes,
            error: Some("rejected".into()),
            ..root.clone()
        };
        let score = Score {
            trace_id: [0xab; 16],
            name: "deploy_healthy".into(),
            value: 1.0,
            comment: "healthy".into(),
        };
        let body = request(
            &[root, llm],
            std::slice::from_ref(&score),
            "nomad-spec",
            &Redaction::new(vec!["hunter2hunter2".into()]),
        );
        let spans = &body["resourceSpans"][0]["scopeSpans"][0]["spans"];
        assert_eq!(spans[0]["traceId"], "abababababababababababababababab");
        assert_eq!(spans[0]["startTimeUnixNano"], "2000000000");
        assert_eq!(spans[0]["endTimeUnixNano"], "2005000000");
        assert_eq!(spans[0]["kind"], 1);
        assert!(spans[0].get("parentSpanId").is_none());
        assert_eq!(
            spans[0]["attributes"][0],
            json!({"key": "nomad_spec.score.deploy_healthy", "value": {"doubleValue": 1.0}})
        );
        assert_eq!(spans[1]["parentSpanId"], "0101010101010101");
        assert_eq!(spans[1]["kind"], 3);
        assert_eq!(spans[1]["status"], json!({"code": 2, "message": "rejected"}));
        let text = body.to_string();
        assert!(text.contains(r#"{"key":"gen_ai.usage.input_tokens","value":{"intValue":"12"}}"#));
        assert!(!text.contains("hunter2"), "{text}");
        let scores = score_bodies(&[score], &Redaction::new(vec!["hunter2hunter2".into()]));
        assert_eq!(scores[0]["traceId"], "abababababababababababababababab");
        assert_eq!(scores[0]["dataType"], "NUMERIC");
    }
}
