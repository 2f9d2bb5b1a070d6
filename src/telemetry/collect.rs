//! The `tracing` layer that keeps a run's spans in the process: each span of the
//! [`TARGET`](super::TARGET) target gets an OpenTelemetry trace and span id, its fields as
//! attributes, its wall-clock start and its duration; closed spans and the scores given during
//! the run wait in a [`Collected`] store until the run ends, when they are printed or exported.
//!
//! Values are kept as given: redaction happens once, where the spans leave the process
//! (`super::Redactor`), so no stage has to remember it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// An attribute's value, as OTLP types it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// Yes or no.
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(text) => f.write_str(text),
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A span that has ended.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedSpan {
    /// The trace it belongs to (one per run).
    pub trace_id: [u8; 16],
    /// Its own id.
    pub span_id: [u8; 8],
    /// The span it ran in; `None` for the run's root.
    pub parent: Option<[u8; 8]>,
    /// What it was (`analyze`, `llm answers`).
    pub name: String,
    /// When it started.
    pub start: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// Its attributes, by name.
    pub attributes: BTreeMap<String, Value>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// An outcome scored on a run's trace (deploy healthy, fix iterations, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// The trace scored.
    pub trace_id: [u8; 16],
    /// The score's name (`deploy_healthy`).
    pub name: String,
    /// Its value.
    pub value: f64,
    /// What it means, in words.
    pub comment: String,
}

/// The spans and scores of the process so far.
#[derive(Debug, Default)]
pub struct Collected {
    spans: Mutex<Vec<FinishedSpan>>,
    scores: Mutex<Vec<Score>>,
}

impl Collected {
    /// Takes every finished span and score, leaving the store empty.
    pub fn take(&self) -> (Vec<FinishedSpan>, Vec<Score>) {
        let spans = self.spans.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        let scores = self.scores.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        (spans, scores)
    }
}

/// A span still open: what it will be once closed.
struct Open {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    start: SystemTime,
    started: Instant,
    attributes: BTreeMap<String, Value>,
    error: Option<String>,
}

/// The layer; install it with a filter on [`super::TARGET`].
pub struct SpanLayer {
    store: Arc<Collected>,
}

impl SpanLayer {
    /// A layer filling `store`.
    pub fn new(store: Arc<Collected>) -> SpanLayer {
        SpanLayer { store }
    }
}

/// Random ids, as OpenTelemetry wants them (W3C trace context: not all zero).
fn random_id<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom as _;
    let mut id = [0u8; N];
    if ring::rand::SystemRandom::new().fill(&mut id).is_err() || id.iter().all(|b| *b == 0) {
        // No system randomness: ids from the clock still tell this run's spans apart.
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(1)
            .to_le_bytes();
        for (at, byte) in id.iter_mut().enumerate() {
            *byte = nanos[at % nanos.len()] ^ (at as u8).wrapping_add(1);
        }
    }
    id
}

/// Fields into attributes.
struct Fields<'a>(&'a mut BTreeMap<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), Value::Text(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0
            .insert(field.name().to_string(), Value::Int(i64::try_from(value).unwrap_or(i64::MAX)));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), Value::Float(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::Bool(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_string(), Value::Text(format!("{value:?}")));
    }
}

impl<S> Layer<S> for SpanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = span.parent().and_then(|parent| {
            parent.extensions().get::<Open>().map(|open| (open.trace_id, open.span_id))
        });
        let mut attributes = BTreeMap::new();
        attrs.record(&mut Fields(&mut attributes));
        let open = Open {
            trace_id: parent.map(|(trace, _)| trace).unwrap_or_else(random_id::<16>),
            span_id: random_id::<8>(),
            parent: parent.map(|(_, span)| span),
            start: SystemTime::now(),
            started: Instant::now(),
            attributes,
            error: None,
        };
        span.extensions_mut().insert(open);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(open) = extensions.get_mut::<Open>() {
            values.record(&mut Fields(&mut open.attributes));
        }
    }

    /// Events of the target say something about a span: an attribute of the span they are in
    /// (`attribute`), of the run's root (`run_attribute`), a failure (`error`), or a score.
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let Some(span) = ctx.event_span(event) else { return };
        let text = |key: &str| fields.get(key).map(ToString::to_string);
        if let Some(name) = text("score") {
            let trace_id = span.extensions().get::<Open>().map(|open| open.trace_id);
            let value = match fields.get("value") {
                Some(Value::Float(x)) => *x,
                Some(Value::Int(n)) => *n as f64,
                Some(Value::Bool(b)) => f64::from(u8::from(*b)),
                _ => return,
            };
            if let (Some(trace_id), Ok(mut scores)) = (trace_id, self.store.scores.lock()) {
                let comment = text("comment").unwrap_or_default();
                scores.push(Score { trace_id, name, value, comment });
            }
            return;
        }
        let target =
            if fields.contains_key("run_attribute") { span.scope().last() } else { Some(span) };
        let Some(target) = target else { return };
        let mut extensions = target.extensions_mut();
        let Some(open) = extensions.get_mut::<Open>() else { return };
        if let Some(message) = text("error") {
            open.error = Some(message);
        }
        let key = text("attribute").or_else(|| text("run_attribute"));
        if let (Some(key), Some(value)) = (key, fields.remove("value")) {
            open.attributes.insert(key, value);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(mut open) = span.extensions_mut().remove::<Open>() else { return };
        // A name known only at run time (`llm answers`), as tracing-opentelemetry reads it.
        let name = match open.attributes.remove("otel.name") {
            Some(name) => name.to_string(),
            None => span.name().to_string(),
        };
        let finished = FinishedSpan {
            trace_id: open.trace_id,
            span_id: open.span_id,
            parent: open.parent,
            name,
            start: open.start,
            duration: open.started.elapsed(),
            attributes: open.attributes,
            error: open.error,
        };
        if let Ok(mut spans) = self.store.spans.lock() {
            spans.push(finished);
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::telemetry::{attribute, failed, run_attribute, score, stage, TARGET};

    #[test]
    fn spans_nest_keep_their_fields_and_events_land_where_they_say() {
        let store = Arc::new(Collected::default());
        let subscriber = tracing_subscriber::registry().with(SpanLayer::new(store.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let root =
                tracing::info_span!(target: TARGET, "nomad-spec", otel.name = "nomad-spec ci");
            let _root = root.enter();
            {
                let _checks = stage("checks").entered();
                let _plan = stage("nomad-spec/plan").entered();
                attribute("nomad_spec.check.status", "Failure");
                failed("the plan cannot be made");
                run_attribute("nomad_spec.verdict", "checks-failed");
                score("deploy_healthy", 0.0, "OOM");
            }
            attribute("count", 3u64);
        });
        let (spans, scores) = store.take();
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["nomad-spec/plan", "checks", "nomad-spec ci"]);
        let (plan, checks, root) = (&spans[0], &spans[1], &spans[2]);
        assert_eq!(root.parent, None);
        assert_eq!(checks.parent, Some(root.span_id));
        assert_eq!(plan.parent, Some(checks.span_id));
        assert!(spans.iter().all(|s| s.trace_id == root.trace_id));
        assert_eq!(plan.attributes["nomad_spec.check.status"], Value::Text("Failure".into()));
        assert_eq!(plan.error.as_deref(), Some("the plan cannot be made"));
        assert_eq!(root.attributes["nomad_spec.verdict"], Value::Text("checks-failed".into()));
        assert_eq!(root.attributes["count"], Value::Int(3));
        assert!(!root.attributes.contains_key("otel.name"));
        assert_eq!(scores.len(), 1);
        assert_eq!((scores[0].name.as_str(), scores[0].value), ("deploy_healthy", 0.0));
        assert_eq!(scores[0].trace_id, root.trace_id);
        assert!(store.take().0.is_empty(), "taken once");
    }
}
