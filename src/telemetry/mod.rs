//! Traces of a run: every command is one trace, its stages spans under the root, each LLM
//! call a generation span; outcomes are scores on the trace.
//!
//! Stages open ordinary `tracing` spans with the [`TARGET`] target (`info_span!(target:
//! TARGET, "analyze")`) and say more with [`attribute`], [`run_attribute`], [`failed`] and
//! [`score`]; the [`collect`] layer keeps them in the process. When the command ends, `main`
//! hands them to [`finish`]: `--trace` prints the tree on stderr ([`tree`]), and LangFuse or an
//! OTLP collector receives them ([`otlp`], JSON over the reqwest client the other clients use:
//! no OpenTelemetry SDK in the binary). Every value leaving the process goes through one
//! [`Redaction`], the rules the LLM's requests are redacted with.
//!
//! Attribute names follow the OpenTelemetry GenAI conventions (`gen_ai.request.model`,
//! `gen_ai.usage.input_tokens`, ...) and LangFuse's own (`langfuse.observation.type`,
//! `langfuse.observation.prompt.name`, ...), so LangFuse shows generations with their prompt
//! version and any collector shows the same spans.

pub mod collect;
pub mod otlp;
pub mod tree;

use std::sync::Arc;
use std::time::Duration;

pub use collect::{Collected, FinishedSpan, Score, SpanLayer, Value};

use crate::settings::TraceSettings;

/// The `tracing` target of the spans and events that make up traces.
pub const TARGET: &str = "nomad_spec::trace";

/// What replaces a secret in an exported or printed trace (the LLM guard's word for it).
const REDACTED: &str = "[redacted]";

/// How values are redacted on their way out: the secrets the run knows, and a rule for free
/// text (the CLI gives the LLM guard's `redact_text`, which also catches secret shapes).
#[derive(Clone)]
pub struct Redaction {
    known: Vec<String>,
    rule: fn(&str, &[String]) -> String,
}

impl std::fmt::Debug for Redaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redaction({} secrets)", self.known.len())
    }
}

fn replace_known(text: &str, known: &[String]) -> String {
    let mut known: Vec<&String> = known.iter().filter(|k| !k.is_empty()).collect();
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    known.into_iter().fold(text.to_string(), |text, k| text.replace(k.as_str(), REDACTED))
}

impl Redaction {
    /// Cuts out `known` secrets.
    pub fn new(known: Vec<String>) -> Redaction {
        Redaction { known, rule: replace_known }
    }

    /// Uses `rule` (given the known secrets) for every value; it must cut the known ones.
    pub fn with_rule(mut self, rule: fn(&str, &[String]) -> String) -> Redaction {
        self.rule = rule;
        self
    }

    /// `text` redacted; the known secrets are cut whatever the rule does.
    pub fn redact(&self, text: &str) -> String {
        replace_known(&(self.rule)(text, &self.known), &self.known)
    }
}

/// Lower-case hex, as OTLP's JSON writes ids.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn emit(kind: &'static str, key: &str, value: Value) {
    // The event's field name says what it is about; `collect` reads it back.
    macro_rules! send {
        ($value:expr) => {
            match kind {
                "run_attribute" => tracing::info!(target: TARGET, run_attribute = key, value = $value),
                _ => tracing::info!(target: TARGET, attribute = key, value = $value),
            }
        };
    }
    match value {
        Value::Text(text) => send!(text.as_str()),
        Value::Int(n) => send!(n),
        Value::Float(x) => send!(x),
        Value::Bool(b) => send!(b),
    }
}

/// A stage's span (`analyze`, `checks`, `deploy`): enter it in sync code, or
/// `.instrument()` the stage's future with it.
pub fn stage(name: &str) -> tracing::Span {
    tracing::info_span!(target: TARGET, "stage", otel.name = name)
}

/// Sets an attribute of the span the caller is in.
pub fn attribute(key: &str, value: impl Into<Value>) {
    emit("attribute", key, value.into());
}

/// Sets an attribute of the run's root span (the verdict, the change request).
pub fn run_attribute(key: &str, value: impl Into<Value>) {
    emit("run_attribute", key, value.into());
}

/// Marks the span the caller is in as failed, saying why.
pub fn failed(why: &str) {
    tracing::info!(target: TARGET, error = why);
}

/// Scores the run's trace with an outcome (`deploy_healthy` 1 or 0, `fix_iterations` 2).
pub fn score(name: &str, value: f64, comment: &str) {
    tracing::info!(target: TARGET, score = name, value, comment);
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Float(x)
    }
}

/// The end of a command: prints the tree when `print`, exports when `settings` say where
/// (never longer than their timeout), and returns the notes to show once (a collector down).
pub fn finish(
    store: &Arc<Collected>,
    print: bool,
    settings: &TraceSettings,
    redaction: &Redaction,
) -> Vec<String> {
    let (spans, scores) = store.take();
    if print {
        eprint!("{}", tree::render(&spans, &scores, redaction));
    }
    if !settings.exported() || spans.is_empty() {
        return Vec::new();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return vec![format!("traces not sent: cannot start a runtime: {err}")],
    };
    // Every post has the timeout; the whole export gets a little more for the few of them.
    let limit = settings.timeout.saturating_mul(2) + Duration::from_millis(200);
    let export = otlp::export(&spans, &scores, settings, redaction);
    match runtime.block_on(async { tokio::time::timeout(limit, export).await }) {
        Ok(notes) => notes,
        Err(_) => vec![format!("traces not sent: the export took longer than {limit:?}")],
    }
}
