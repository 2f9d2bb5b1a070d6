//! The five tasks the LLM advises on, each from the rules' result to a better one or to the
//! rules' result with a note.
//!
//! A task renders its prompt (`prompts/<task>.md`) with redacted, fenced inputs, asks the
//! client for an answer fitting its schema, and passes that answer through the guardrails:
//! `answers` through `Answers::set` and a list of keys the LLM may not touch, `diagnose`
//! through `guard::apply_changes` (all its changes or none), `refine` through
//! `guard::apply_each` (each change on its own), `questions` through the answer grammar. When
//! anything fails (not configured, timeout, garbage, a rejected change) the [`Advice`] has no
//! value and its note says why; the caller keeps what the rules decided. What memory holds
//! reaches two prompts as data, redacted: `diagnose` sees the earlier failures most like the
//! one asked about, `refine` the jobs kept as healthy for the same stacks.

use serde::Serialize;
use serde_json::{json, Value};

use super::client::{Ask, Client};
use super::guard::{self, apply_changes, apply_each, Change, Patched};
use super::prompt::{Prompt, Source};
use crate::analyze::source::looks_secret;
use crate::analyze::Analysis;
use crate::jobspec::answers::{Answers, Question};
use crate::jobspec::build::build;
use crate::jobspec::config::Config;
use crate::jobspec::parse::{parse_job_spec, ParseOptions};
use crate::jobspec::render::{render_job, RenderOptions};
use crate::jobspec::validate::{is_valid, validate_source};
use crate::jobspec::JobSpec;
use crate::memory::{Episode, GoodJob};

/// What the LLM advised: a value that passed the guardrails, or none, and notes for the
/// report either way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice<T> {
    /// The advised value; `None` means the rules' result stands.
    pub value: Option<T>,
    /// What happened ("LLM skipped: not configured", what was rejected and why).
    pub notes: Vec<String>,
    /// The prompt the advised value came from ([`Prompt::id`]: `refine@1`), when there is a
    /// value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
}

impl<T> Advice<T> {
    fn skipped(note: String) -> Advice<T> {
        Advice { value: None, notes: vec![note], prompt: None }
    }

    fn rejected(why: impl std::fmt::Display) -> Advice<T> {
        Advice::skipped(format!("LLM answer rejected: {why}; the rules' result stands"))
    }
}

/// The note every task gives when no LLM is configured.
pub const NOT_CONFIGURED: &str = "LLM skipped: not configured";

/// Keys of the answer grammar that say where the job runs: only a person sets those, with
/// `/nomad-spec set`, never the LLM reading a reply.
const PLACEMENT_KEYS: [&str; 4] = ["job", "datacenters", "namespace", "node_pool"];

/// The answer grammar, for the prompts.
const KEYS: &str = "deploy.SERVICE, image.SERVICE, count.SERVICE, cpu.SERVICE, memory.SERVICE, \
    memory_max.SERVICE, class.SERVICE, hostname.SERVICE, route_port.SERVICE, \
    static_port.SERVICE[.CONTAINER_PORT], volume.SERVICE./PATH, owner.SERVICE, \
    endpoint.SERVICE, env.SERVICE.VAR, secret.VAR";

/// Renders the task's prompt and asks; the answer with the prompt's id, or the note to
/// give. The generation span the task runs in ([`traced`]) gets the prompt's name and version,
/// what was sent and answered, and the tokens of the calls made; a run recording the prompts
/// it uses ([`super::prompt::recording_used`]) gets the label when the LLM answered.
async fn consult(
    client: Option<&Client>,
    task: &str,
    values: &[(&str, &str)],
    (schema, constrained): (Value, Value),
) -> Result<(Value, String), String> {
    use crate::telemetry::attribute;
    let client = client.ok_or_else(|| NOT_CONFIGURED.to_string())?;
    let mut prompt =
        client.prompt_for_run(task).await.map_err(|e| format!("LLM skipped: {e:#}"))?;
    let mut rendered = prompt.render(values);
    if let (Err(err), Source::Langfuse { .. }) = (&rendered, &prompt.source) {
        // A version edited in LangFuse that no longer fits the task: the shipped one does.
        tracing::warn!("LangFuse prompt `{task}` version {} not used: {err:#}", prompt.version);
        attribute("nomad_spec.prompt.refused", format!("version {}: {err:#}", prompt.version));
        prompt = Prompt::builtin(task).map_err(|e| format!("LLM skipped: {e:#}"))?;
        rendered = prompt.render(values);
    }
    let text = rendered.map_err(|e| format!("LLM skipped: {e:#}"))?;
    attribute("nomad_spec.prompt.name", prompt.name.as_str());
    attribute("nomad_spec.prompt.version", prompt.version.as_str());
    attribute("nomad_spec.prompt.source", prompt.source.to_string());
    if let (Source::Langfuse { .. }, Ok(version)) = (&prompt.source, prompt.version.parse::<u64>())
    {
        // LangFuse links the generation to its prompt version by these two.
        attribute("langfuse.observation.prompt.name", prompt.name.as_str());
        attribute("langfuse.observation.prompt.version", version);
    }
    attribute("langfuse.observation.input", text.as_str());
    let constrained = Some(constrained).filter(|c| *c != schema);
    let id = prompt.id();
    let version = prompt.version.clone();
    let ask = Ask { task: task.into(), version, prompt: text, schema, constrained };
    let before = client.calls().len();
    let answer = client.ask(&ask).await;
    let calls = client.calls();
    let made = calls.get(before..).unwrap_or_default();
    let input: u64 = made.iter().map(|c| c.prompt_tokens).sum();
    let output: u64 = made.iter().map(|c| c.completion_tokens).sum();
    attribute("gen_ai.usage.input_tokens", input);
    attribute("gen_ai.usage.output_tokens", output);
    attribute("nomad_spec.llm.calls", made.len() as u64);
    attribute("nomad_spec.llm.latency_ms", made.iter().map(|c| c.latency_ms).sum::<u64>());
    match &answer {
        Ok(value) => {
            attribute("langfuse.observation.output", value.to_string());
            super::prompt::record_use(&prompt);
        }
        Err(err) => attribute("nomad_spec.llm.error", err.to_string()),
    }
    answer
        .map(|value| (value, id))
        .map_err(|err| format!("LLM skipped: {err}; the rules' result stands"))
}

/// Runs one task as a generation span of the run's trace (when an LLM is configured): the
/// model and task, and the guard's verdict on the answer (accepted, rejected and why, or
/// skipped and why).
async fn traced<T>(
    client: Option<&Client>,
    task: &str,
    advice: impl std::future::Future<Output = Advice<T>>,
) -> Advice<T> {
    use crate::telemetry::{attribute, failed, TARGET};
    use tracing::Instrument as _;
    let Some(client) = client else { return advice.await };
    let model = client.settings().model.as_str();
    let span = tracing::info_span!(
        target: TARGET,
        "generation",
        otel.name = %format!("llm {task}"),
        langfuse.observation.type = "generation",
        gen_ai.operation.name = "chat",
        gen_ai.request.model = model,
        langfuse.observation.model.name = model,
        nomad_spec.llm.task = task,
    );
    async {
        let advice = advice.await;
        let notes = advice.notes.join("; ");
        let verdict = if advice.value.is_some() {
            "accepted"
        } else if notes.contains("rejected") {
            "rejected"
        } else {
            "skipped"
        };
        attribute("nomad_spec.guard.verdict", verdict);
        attribute("nomad_spec.guard.notes", notes.as_str());
        if verdict == "rejected" {
            failed(&notes);
        }
        advice
    }
    .instrument(span)
    .await
}

fn json_text(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The analysis as the LLM sees it: services, ports, health, dependencies and environment
/// variable names (never their values), fenced as untrusted.
pub fn analysis_for_prompt(analysis: &Analysis) -> String {
    let services: Vec<Value> = analysis
        .services
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "path": s.path,
                "image": s.image,
                "language": s.language,
                "framework": s.framework,
                "role": s.role,
                "ports": s.ports.iter().map(|p| p.container).collect::<Vec<_>>(),
                "health": s.health,
                "env": s.env.iter().map(|v| json!({"name": v.name, "secret": v.secret}))
                    .collect::<Vec<_>>(),
                "depends_on": s.depends_on,
                "resources": {"cpu": s.resources.cpu, "memory": s.resources.memory},
            })
        })
        .collect();
    guard::untrusted("analysis", &guard::redact_text(&json_text(&services), &[]))
}

fn questions_for_prompt(asked: &[Question]) -> String {
    let asked: Vec<Value> = asked
        .iter()
        .map(
            |q| json!({"key": q.key, "prompt": q.prompt, "default": q.default, "reason": q.reason}),
        )
        .collect();
    guard::untrusted("questions", &guard::redact_text(&json_text(&asked), &[]))
}

// ---------------------------------------------------------------------------------------
// answers

/// A free-form reply understood: the answers with the reply's assignments applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswersPatch {
    /// The answers after the assignments.
    pub answers: Answers,
    /// The `KEY=VALUE` assignments applied, in order.
    pub applied: Vec<String>,
    /// Parts of the reply the LLM could not map.
    pub unclear: Vec<String>,
}

/// The schema of the answers task.
/// The schema of the answers task for `analysis`: each assignment's key is one the answer
/// grammar accepts for these services, never a placement key (`job`, `datacenters`, ...,
/// which only a person sets); what a pattern cannot say (a secret-looking variable, a value
/// the builder refuses) is still checked after.
pub fn answers_schema_for(analysis: &Analysis) -> Value {
    let services: Vec<&str> = analysis.services.iter().map(|s| s.name.as_str()).collect();
    let mut keys = Vec::new();
    for service in &analysis.services {
        // Every kind of the grammar but those whose key goes on past the service (a path, a
        // variable) or names no service: the patterns below take those.
        let kinds = crate::conversation::answers::KEY_KINDS;
        for kind in kinds.iter().filter(|k| !matches!(**k, "volume" | "env" | "secret")) {
            keys.push(format!("{kind}.{}", service.name));
        }
        for port in &service.ports {
            keys.push(format!("static_port.{}.{}", service.name, port.container));
        }
    }
    let names = services.iter().map(|s| regex::escape(s)).collect::<Vec<_>>().join("|");
    let variable = "[A-Za-z_][A-Za-z0-9_]{0,127}";
    let mut forms = vec![json!({"type": "string", "pattern": format!("^secret\\.{variable}$")})];
    if !services.is_empty() {
        forms.push(json!({"type": "string", "enum": keys}));
        forms.push(json!({"type": "string", "pattern": format!("^env\\.({names})\\.{variable}$")}));
        forms.push(json!({"type": "string", "maxLength": 200, "pattern": format!("^volume\\.({names})\\./[^\\s]*$")}));
    }
    let mut schema = answers_schema();
    schema["properties"]["assignments"]["items"]["properties"]["key"] = json!({"anyOf": forms});
    schema
}

/// The schema of the answers task.
pub fn answers_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["assignments", "unclear"],
        "properties": {
            "assignments": {
                "type": "array",
                "maxItems": 40,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["key", "value"],
                    "properties": {
                        "key": {"type": "string", "maxLength": 200},
                        "value": {"type": "string", "maxLength": 300}
                    }
                }
            },
            "unclear": {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 300}}
        }
    })
}

/// Turns a free-form reply into `KEY=VALUE` assignments on top of `answers`. Every
/// assignment goes through `Answers::set`; one that names a placement key or puts a value
/// into a secret-looking variable rejects the whole answer.
pub async fn answers(
    client: Option<&Client>,
    analysis: &Analysis,
    asked: &[Question],
    reply: &str,
    answers: &Answers,
) -> Advice<AnswersPatch> {
    let advice = read_reply(client, analysis, asked, reply, answers);
    traced(client, "answers", advice).await
}

async fn read_reply(
    client: Option<&Client>,
    analysis: &Analysis,
    asked: &[Question],
    reply: &str,
    answers: &Answers,
) -> Advice<AnswersPatch> {
    let services: Vec<String> = analysis
        .services
        .iter()
        .map(|s| {
            let ports: Vec<String> = s.ports.iter().map(|p| p.container.to_string()).collect();
            format!("- {} (ports: {})", s.name, ports.join(", "))
        })
        .collect();
    let reply = guard::untrusted("reply", &guard::redact_text(reply, &[]));
    let values = [
        ("keys", KEYS),
        ("services", &services.join("\n")),
        ("questions", &questions_for_prompt(asked)),
        ("reply", &reply),
    ];
    let (answer, prompt) =
        match consult(client, "answers", &values, (answers_schema(), answers_schema_for(analysis)))
            .await
        {
            Ok(answered) => answered,
            Err(note) => return Advice::skipped(note),
        };
    let mut patched = answers.clone();
    let mut applied = Vec::new();
    for item in answer["assignments"].as_array().into_iter().flatten() {
        let key = item["key"].as_str().unwrap_or_default().trim();
        let value = item["value"].as_str().unwrap_or_default();
        let (kind, rest) = key.split_once('.').unwrap_or((key, ""));
        if PLACEMENT_KEYS.contains(&kind) {
            return Advice::rejected(format!(
                "`{key}` says where the job runs, which only `/nomad-spec set` may change"
            ));
        }
        let variable = rest.rsplit('.').next().unwrap_or_default();
        if kind == "env" && looks_secret(variable) {
            return Advice::rejected(format!(
                "`{key}` would put a secret value in the job; secrets are Vault references \
                 (`secret.{variable}=path#key`)"
            ));
        }
        let assignment = format!("{key}={value}");
        if let Err(err) = patched.set(&assignment) {
            return Advice::rejected(err);
        }
        applied.push(assignment);
    }
    // The answers as a whole must still build valid jobs: a service the repository does not
    // have, or a combination the builder refuses, rejects the answer.
    if !applied.is_empty() {
        if let Err(why) = builds_valid_jobs(analysis, &patched) {
            return Advice::rejected(why);
        }
    }
    let unclear = answer["unclear"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    let mut notes = vec![format!("LLM read the reply: {} assignment(s)", applied.len())];
    if applied.is_empty() {
        notes.push("the reply changed nothing".into());
    }
    let value = Some(AnswersPatch { answers: patched, applied, unclear });
    Advice { value, notes, prompt: Some(prompt) }
}

fn builds_valid_jobs(analysis: &Analysis, answers: &Answers) -> Result<(), String> {
    let generated = build(analysis, answers, &Config::default(), "llm-check")
        .map_err(|err| format!("the answers do not build a job: {err}"))?;
    for job in &generated.jobs {
        let text = render_job(&job.spec, &RenderOptions::default())
            .map_err(|err| format!("the job cannot be rendered: {err}"))?;
        let diagnostics = validate_source(&text, &job.path);
        if !is_valid(&diagnostics) {
            let errors: Vec<String> = diagnostics.iter().map(|d| d.message.clone()).collect();
            return Err(format!("the job would not be valid: {}", errors.join("; ")));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// diagnose

/// A failure the rules did not know, diagnosed by the LLM.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdvisedDiagnosis {
    /// The kind of failure (one of the schema's list).
    pub category: String,
    /// What went wrong, citing the evidence.
    pub explanation: String,
    /// The fix, when the LLM proposed changes and they passed the guardrails.
    #[serde(skip)]
    pub fix: Option<Patched>,
    /// The changes made, one line each.
    pub applied: Vec<String>,
}

/// Categories the diagnose task may name.
const DIAGNOSE_CATEGORIES: [&str; 12] = [
    "out-of-memory",
    "image-not-found",
    "crash-on-start",
    "health-check-failing",
    "wrong-port",
    "missing-configuration",
    "dependency-unavailable",
    "bad-command",
    "permission-error",
    "placement-failed",
    "resource-starvation",
    "other",
];

/// The schema of the diagnose task for `spec`: its changes can name only what the guard
/// accepts on this job ([`guard::change_schema_for`]).
pub fn diagnose_schema_for(spec: &JobSpec) -> Value {
    let mut schema = diagnose_schema();
    schema["properties"]["changes"]["items"] = guard::change_schema_for(spec);
    schema
}

/// The schema of the diagnose task.
pub fn diagnose_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["category", "explanation", "changes"],
        "properties": {
            "category": {"type": "string", "enum": DIAGNOSE_CATEGORIES},
            "explanation": {"type": "string", "maxLength": 1200},
            "changes": {"type": "array", "maxItems": 8, "items": guard::change_schema()}
        }
    })
}

/// The evidence in words, secrets redacted, fenced as untrusted.
fn evidence_for_prompt(failure: &FailureTold, spec: &JobSpec) -> String {
    let text = guard::redact_text(&failure.evidence.join("\n"), &guard::secret_values(spec));
    guard::untrusted("nomad evidence and task logs", &text)
}

fn spec_for_prompt(spec: &JobSpec) -> String {
    guard::untrusted("job", &json_text(&guard::redact_spec(spec)))
}

/// Earlier failures from memory, as data: each its summary (category, stack, where, the fix
/// and how it ended), the diagnosis and the last lines of stderr. Episodes are kept redacted;
/// the job's own secret values are taken out again in case one reached an episode since.
fn episodes_for_prompt(episodes: &[Episode], spec: &JobSpec) -> String {
    let shown: Vec<String> = episodes
        .iter()
        .map(|episode| {
            let mut lines = vec![
                format!("- {}", episode.summary()),
                format!("  diagnosis: {}", episode.explanation),
            ];
            let tail = &episode.stderr[episode.stderr.len().saturating_sub(STDERR_LINES)..];
            lines.extend(tail.iter().map(|line| format!("  stderr: {line}")));
            lines.join("\n")
        })
        .collect();
    memory_for_prompt("earlier failures from memory", &shown, spec)
}

/// Entries from memory as one fenced block of data, redacted again with `spec`'s secret
/// values; `(none)` without any.
fn memory_for_prompt(source: &str, entries: &[String], spec: &JobSpec) -> String {
    if entries.is_empty() {
        return "(none)".to_string();
    }
    let text = guard::redact_text(&entries.join("\n"), &guard::secret_values(spec));
    guard::untrusted(source, &text)
}

/// The lines of an earlier failure's stderr a prompt shows.
const STDERR_LINES: usize = 5;

/// The longest job text an example shows (about 2,000 tokens).
const EXAMPLE_JOB_CHARS: usize = 8_000;

/// Jobs memory kept as healthy, as data: where each ran, what its analysis found and the job
/// (redacted as the reviewed job is; one over [`EXAMPLE_JOB_CHARS`] is named, not shown). A
/// kept job that no longer reads as a job is left out.
fn good_jobs_for_prompt(examples: &[GoodJob], spec: &JobSpec) -> String {
    let shown: Vec<String> = examples
        .iter()
        .filter_map(|good| {
            let job: JobSpec = serde_json::from_value(good.job.clone()).ok()?;
            let mut job = json_text(&guard::redact_spec(&job));
            if job.len() > EXAMPLE_JOB_CHARS {
                job = format!("({} characters, too long to show)", job.len());
            }
            Some(format!(
                "- healthy in {} ({}, {}); stacks: {}\n  analysis: {}\n  job: {job}",
                good.context.repository,
                good.context.cluster,
                good.context.date,
                good.stacks.join(", "),
                good.analysis,
            ))
        })
        .collect();
    memory_for_prompt("healthy jobs from memory", &shown, spec)
}

fn changes_of(answer: &Value) -> Result<Vec<Change>, String> {
    serde_json::from_value(answer["changes"].clone())
        .map_err(|err| format!("the changes do not have the expected shape: {err}"))
}

/// A failed deploy as the LLM is told of it. The deploy loop makes it from Nomad's evidence
/// and the rules' diagnosis (`nomad::diagnose::Diagnosis::told`): the advisor needs nothing
/// of Nomad's own types.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureTold {
    /// The rules' category (`unknown` when they recognised nothing).
    pub category: String,
    /// Whether the LLM is asked about failures of this category at all.
    pub asked: bool,
    /// The evidence in words, a fact a line (secrets are redacted here, against the job).
    pub evidence: Vec<String>,
}

/// Asks the LLM about a failure the rules have no fix for; for a failure the LLM is not asked
/// about (`asked` false) it is not asked. Callers ask only once the rules' own fix (if any)
/// was refused. A proposed fix passes the allow-list, its bounds and a validation of the
/// whole job, or the whole answer is rejected.
/// `similar` are the earlier failures memory holds most like this one, shown as data.
pub async fn diagnose(
    client: Option<&Client>,
    failure: &FailureTold,
    spec: &JobSpec,
    similar: &[Episode],
) -> Advice<AdvisedDiagnosis> {
    traced(client, "diagnose", diagnose_failure(client, failure, spec, similar)).await
}

async fn diagnose_failure(
    client: Option<&Client>,
    failure: &FailureTold,
    spec: &JobSpec,
    similar: &[Episode],
) -> Advice<AdvisedDiagnosis> {
    if !failure.asked {
        return Advice::skipped(format!(
            "LLM not asked: the rules recognised the failure ({})",
            failure.category
        ));
    }
    let fields = guard::FIELDS.join(", ");
    let rules_said = match failure.category.as_str() {
        "unknown" => "The rules did not recognise the failure.".to_string(),
        category => {
            format!("The rules saw `{category}` but found no cause in the job they could fix.")
        }
    };
    let values = [
        ("fields", fields.as_str()),
        ("rules", &rules_said),
        ("job", &spec_for_prompt(spec)),
        ("evidence", &evidence_for_prompt(failure, spec)),
        ("memory", &episodes_for_prompt(similar, spec)),
    ];
    let (answer, prompt) =
        match consult(client, "diagnose", &values, (diagnose_schema(), diagnose_schema_for(spec)))
            .await
        {
            Ok(answered) => answered,
            Err(note) => return Advice::skipped(note),
        };
    let changes = match changes_of(&answer) {
        Ok(changes) => changes,
        Err(why) => return Advice::rejected(why),
    };
    let fix = if changes.is_empty() {
        None
    } else {
        match apply_changes(spec, &changes) {
            Ok(patched) => Some(patched),
            Err(why) => return Advice::rejected(why),
        }
    };
    let category = answer["category"].as_str().unwrap_or("other").to_string();
    let explanation = answer["explanation"].as_str().unwrap_or_default().to_string();
    let applied = fix.as_ref().map(|f| f.applied.clone()).unwrap_or_default();
    let note = match &fix {
        Some(_) => format!("LLM diagnosed `{category}` and proposed {} change(s)", applied.len()),
        None => format!("LLM diagnosed `{category}` without a fix"),
    };
    Advice {
        value: Some(AdvisedDiagnosis { category, explanation, fix, applied }),
        notes: vec![note],
        prompt: Some(prompt),
    }
}

// ---------------------------------------------------------------------------------------
// questions

/// The schema of the questions task.
pub fn questions_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["questions"],
        "properties": {
            "questions": {
                "type": "array",
                "maxItems": 40,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["key", "prompt", "default", "reason", "new"],
                    "properties": {
                        "key": {"type": "string", "maxLength": 200},
                        "prompt": {"type": "string", "maxLength": 300},
                        "default": {"type": "string", "maxLength": 300},
                        "reason": {"type": "string", "maxLength": 400},
                        "new": {"type": "boolean"}
                    }
                }
            }
        }
    })
}

/// Rewords the rules' questions for this repository and adds ones they missed. A reworded
/// question keeps the rules' key and default (the engine decides defaults); a new one must be
/// a valid `KEY=VALUE` of the grammar with its default, outside the placement keys, and not a
/// secret value. An invalid question rejects the whole answer.
pub async fn questions(
    client: Option<&Client>,
    analysis: &Analysis,
    asked: &[Question],
) -> Advice<Vec<Question>> {
    traced(client, "questions", word_questions(client, analysis, asked)).await
}

async fn word_questions(
    client: Option<&Client>,
    analysis: &Analysis,
    asked: &[Question],
) -> Advice<Vec<Question>> {
    let values = [
        ("keys", KEYS),
        ("analysis", &analysis_for_prompt(analysis)),
        ("questions", &questions_for_prompt(asked)),
    ];
    let (answer, prompt) =
        match consult(client, "questions", &values, (questions_schema(), questions_schema())).await
        {
            Ok(answered) => answered,
            Err(note) => return Advice::skipped(note),
        };
    let mut out: Vec<Question> = asked.to_vec();
    let mut reworded = 0;
    let mut added = 0;
    for item in answer["questions"].as_array().into_iter().flatten() {
        let text = |name: &str| item[name].as_str().unwrap_or_default().trim().to_string();
        let (key, prompt, default, reason) =
            (text("key"), text("prompt"), text("default"), text("reason"));
        if prompt.is_empty() {
            return Advice::rejected(format!("question `{key}` has no prompt"));
        }
        if let Some(known) = out.iter_mut().find(|q| q.key == key) {
            known.prompt = prompt;
            if !reason.is_empty() {
                known.reason = reason;
            }
            reworded += 1;
            continue;
        }
        let (kind, rest) = key.split_once('.').unwrap_or((&key, ""));
        if PLACEMENT_KEYS.contains(&kind) {
            return Advice::rejected(format!("question `{key}` is about where the job runs"));
        }
        if kind == "env" && looks_secret(rest.rsplit('.').next().unwrap_or_default()) {
            return Advice::rejected(format!("question `{key}` asks for a secret value"));
        }
        if let Err(err) = Answers::default().set(&format!("{key}={default}")) {
            return Advice::rejected(format!("new question `{key}`: {err}"));
        }
        out.push(Question { key, prompt, default, reason, needs_answer: false });
        added += 1;
    }
    let note = format!("LLM reworded {reworded} question(s) and added {added}");
    Advice { value: Some(out), notes: vec![note], prompt: Some(prompt) }
}

// ---------------------------------------------------------------------------------------
// explain

/// The schema of the explain task.
pub fn explain_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["explanation"],
        "properties": {"explanation": {"type": "string", "maxLength": 1500}}
    })
}

/// A short plain-language explanation of a job file or a plan's text; `label` says what it
/// is (`deploy/shop.nomad.hcl`, `plan of shop`). The text's environment values are redacted
/// when it parses as a job.
pub async fn explain(client: Option<&Client>, label: &str, text: &str) -> Advice<String> {
    traced(client, "explain", explain_text(client, label, text)).await
}

async fn explain_text(client: Option<&Client>, label: &str, text: &str) -> Advice<String> {
    let known = parse_job_spec(text, label, &ParseOptions::default())
        .map(|spec| guard::secret_values(&spec))
        .unwrap_or_default();
    let subject = guard::untrusted(label, &guard::redact_text(text, &known));
    let (answer, prompt) = match consult(
        client,
        "explain",
        &[("subject", &subject)],
        (explain_schema(), explain_schema()),
    )
    .await
    {
        Ok(answered) => answered,
        Err(note) => return Advice::skipped(note),
    };
    let explanation = answer["explanation"].as_str().unwrap_or_default().trim().to_string();
    if explanation.is_empty() {
        return Advice::rejected("the explanation is empty");
    }
    let notes = vec!["LLM explained the job".into()];
    Advice { value: Some(explanation), notes, prompt: Some(prompt) }
}

// ---------------------------------------------------------------------------------------
// refine

/// The schema of the refine task.
/// The schema of the propose task: instructions for another task's prompt.
pub fn propose_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["instructions"],
        "properties": {
            "instructions": {"type": "array", "maxItems": 8, "items": {"type": "string", "maxLength": 1200}}
        }
    })
}

/// Proposes up to `count` instructions that would make `prompt` answer right more often,
/// from the cases it got wrong (`optimize`). An instruction with a placeholder is refused:
/// it would change what the prompt is filled with, not how it guides.
pub async fn propose(
    client: Option<&Client>,
    prompt: &super::prompt::Prompt,
    failures: &str,
    count: usize,
) -> Advice<Vec<String>> {
    traced(client, "propose", propose_instructions(client, prompt, failures, count)).await
}

async fn propose_instructions(
    client: Option<&Client>,
    prompt: &super::prompt::Prompt,
    failures: &str,
    count: usize,
) -> Advice<Vec<String>> {
    let count_text = count.to_string();
    let values = [
        ("task", prompt.name.as_str()),
        ("count", count_text.as_str()),
        ("prompt", &guard::untrusted("prompt", &prompt.body)),
        ("failures", &guard::untrusted("scores", &guard::redact_text(failures, &[]))),
    ];
    let schema = propose_schema();
    let asked = consult(client, "propose", &values, (schema.clone(), schema)).await;
    let (answer, prompt) = match asked {
        Ok(answered) => answered,
        Err(note) => return Advice::skipped(note),
    };
    let mut instructions = Vec::new();
    for text in answer["instructions"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        let text = text.trim();
        if text.contains("{{") || text.contains("}}") {
            return Advice::rejected(format!("an instruction holds a placeholder: `{text}`"));
        }
        if !text.is_empty() && !instructions.iter().any(|i: &String| i == text) {
            instructions.push(text.to_string());
        }
    }
    instructions.truncate(count);
    let note = format!("LLM proposed {} instruction(s)", instructions.len());
    Advice { value: Some(instructions), notes: vec![note], prompt: Some(prompt) }
}

/// The schema of the refine task for `spec` (see [`diagnose_schema_for`]).
pub fn refine_schema_for(spec: &JobSpec) -> Value {
    let mut schema = refine_schema();
    schema["properties"]["changes"]["items"] = guard::change_schema_for(spec);
    schema
}

/// The schema of the refine task.
pub fn refine_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["changes"],
        "properties": {
            "changes": {"type": "array", "maxItems": 12, "items": guard::change_schema()}
        }
    })
}

/// Proposes allow-listed changes to a generated job, each with a reason; each change is
/// guarded on its own (the allow-list, its bounds, the job still valid), the refused ones said
/// in the notes; the answer is rejected when no change is accepted.
/// `examples` are jobs memory kept as healthy for the same stacks, shown as data.
pub async fn refine(
    client: Option<&Client>,
    analysis: &Analysis,
    spec: &JobSpec,
    examples: &[GoodJob],
) -> Advice<Patched> {
    traced(client, "refine", refine_job(client, analysis, spec, examples)).await
}

async fn refine_job(
    client: Option<&Client>,
    analysis: &Analysis,
    spec: &JobSpec,
    examples: &[GoodJob],
) -> Advice<Patched> {
    let fields = guard::FIELDS.join(", ");
    let values = [
        ("fields", fields.as_str()),
        ("analysis", &analysis_for_prompt(analysis)),
        ("job", &spec_for_prompt(spec)),
        ("examples", &good_jobs_for_prompt(examples, spec)),
    ];
    let (answer, prompt) = match consult(
        client,
        "refine",
        &values,
        (refine_schema(), refine_schema_for(spec)),
    )
    .await
    {
        Ok(answered) => answered,
        Err(note) => return Advice::skipped(note),
    };
    let changes = match changes_of(&answer) {
        Ok(changes) => changes,
        Err(why) => return Advice::rejected(why),
    };
    if changes.is_empty() {
        return Advice::skipped("LLM proposed no change".into());
    }
    // A review's changes are independent suggestions: one the guardrails refuse does not
    // take the others with it (a fix's changes, by contrast, stand or fall together).
    let (patched, refused) = apply_each(spec, &changes);
    let refused: Vec<String> = refused.iter().map(|why| format!("refused {why}")).collect();
    let Some(patched) = patched else { return Advice::rejected(refused.join("; ")) };
    let mut notes = vec![format!(
        "LLM proposed {} change(s), {} accepted",
        changes.len(),
        patched.applied.len()
    )];
    notes.extend(refused);
    Advice { value: Some(patched), notes, prompt: Some(prompt) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_without_an_llm_says_it_was_skipped() {
        let runtime = tokio::runtime::Builder::new_current_thread().build();
        let Ok(runtime) = runtime else { panic!("no runtime") };
        let analysis = Analysis::default();
        let spec = JobSpec::default();
        let unknown = FailureTold { category: "unknown".into(), asked: true, evidence: Vec::new() };
        runtime.block_on(async {
            let notes = [
                answers(None, &analysis, &[], "512 megs", &Answers::default()).await.notes,
                diagnose(None, &unknown, &spec, &[]).await.notes,
                questions(None, &analysis, &[]).await.notes,
                explain(None, "x.nomad.hcl", "job \"x\" {}").await.notes,
                refine(None, &analysis, &spec, &[]).await.notes,
            ];
            for note in notes {
                assert_eq!(note, vec![NOT_CONFIGURED.to_string()]);
            }
        });
    }

    #[test]
    fn every_schema_uses_only_what_the_validator_knows() {
        fn keywords(value: &Value, out: &mut Vec<String>) {
            if let Value::Object(map) = value {
                for (key, item) in map {
                    out.push(key.clone());
                    if key == "properties" {
                        if let Value::Object(props) = item {
                            props.values().for_each(|p| keywords(p, out));
                        }
                    } else {
                        keywords(item, out);
                    }
                }
            }
        }
        let known = [
            "type",
            "required",
            "properties",
            "additionalProperties",
            "items",
            "enum",
            "minimum",
            "maximum",
            "maxLength",
            "maxItems",
            "pattern",
            "anyOf",
        ];
        for schema in [
            answers_schema(),
            diagnose_schema(),
            questions_schema(),
            explain_schema(),
            refine_schema(),
            propose_schema(),
        ] {
            let mut found = Vec::new();
            keywords(&schema, &mut found);
            for keyword in found {
                assert!(known.contains(&keyword.as_str()), "unsupported keyword `{keyword}`");
            }
        }
    }
}
