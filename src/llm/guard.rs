//! Guardrails around the LLM: what may go in, and what may come out.
//!
//! In: repository text, comments and logs are fenced as untrusted data ([`untrusted`]), and
//! secret values are redacted before anything is sent ([`redact_text`], [`redact_spec`]): the
//! LLM sees environment variable names, never their values. Out: a proposed change to a job
//! is a [`Change`] naming one field of the allow-list ([`Field`]), as the answer schemas
//! shape it; [`apply_changes`] checks each against its bounds and turns it into the job-spec
//! engine's edits (`jobspec::edit`, the same edits the fix rules make), applies them to a copy
//! of the `JobSpec`, then renders and validates the whole job. The LLM's text never becomes
//! HCL: only typed values reach the model and the edits, which write the file. Pure: no I/O.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::analyze::source::{holds_secret, looks_secret, mask_secret_shapes};
use crate::jobspec::edit::{self, ConstraintText, Edit};
use crate::jobspec::render::{render_job, RenderOptions};
use crate::jobspec::validate::{is_valid, validate_source};
use crate::jobspec::{Check, JobSpec, Severity, Task, TaskGroup};

/// What replaces a secret value in anything sent to the LLM.
pub const REDACTED: &str = "[redacted]";

/// Memory a change may set, in MB.
pub const MEMORY_MB: std::ops::RangeInclusive<i64> = 16..=65536;
/// CPU a change may set, in MHz.
pub const CPU_MHZ: std::ops::RangeInclusive<i64> = 10..=64000;
/// Instances a change may set.
pub const COUNT: std::ops::RangeInclusive<i64> = 1..=100;

/// Fences text from the repository, a comment or a log as data, labelled with where it came
/// from. A closing (or opening) fence inside the text is escaped, so the text cannot end the
/// fence early and pose as instructions.
pub fn untrusted(source: &str, text: &str) -> String {
    static FENCE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)<(/?)(untrusted)").unwrap_or_else(|_| unreachable!("fixed pattern"))
    });
    let source: String = source
        .chars()
        .map(|c| if c == '"' || c == '<' || c == '>' || c.is_control() { '_' } else { c })
        .collect();
    let body = FENCE.replace_all(text, "&lt;${1}${2}");
    format!("<untrusted source=\"{source}\">\n{body}\n</untrusted>")
}

/// Redacts secret-looking values in free text (logs, READMEs): the values of
/// `NAME=value`/`NAME: value` pairs whose name or value looks secret, bearer tokens, passwords
/// in URLs, well-known token shapes, and every value in `known` (environment values of the
/// job), longest first.
pub fn redact_text(text: &str, known: &[String]) -> String {
    static PAIR: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?i)\b([A-Z][A-Z0-9_.-]*)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;]+)"#)
            .unwrap_or_else(|_| unreachable!("fixed pattern"))
    });
    static BEARER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(bearer|token)(\s+)[A-Za-z0-9._~+/=-]{8,}")
            .unwrap_or_else(|_| unreachable!("fixed pattern"))
    });
    static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"://([^:/@\s]+):[^@/\s]+@").unwrap_or_else(|_| unreachable!("fixed pattern"))
    });
    let mut out = text.to_string();
    let mut known: Vec<&String> = known.iter().filter(|v| v.chars().count() >= 4).collect();
    known.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for value in known {
        out = out.replace(value.as_str(), REDACTED);
    }
    out = BEARER.replace_all(&out, format!("${{1}}${{2}}{REDACTED}")).into_owned();
    out = PAIR
        .replace_all(&out, |caps: &regex::Captures| {
            let name = caps[1].replace(['.', '-'], "_");
            if holds_secret(&name, caps[3].trim_matches(['"', '\''])) {
                format!("{}{}{REDACTED}", &caps[1], &caps[2])
            } else {
                caps[0].to_string()
            }
        })
        .into_owned();
    out = URL_PASSWORD.replace_all(&out, format!("://${{1}}:{REDACTED}@")).into_owned();
    // Token shapes (`ghp_...`, `AKIA...`, a JWT, a private key) wherever they stand.
    mask_secret_shapes(&out, REDACTED).unwrap_or(out)
}

/// Every environment value of the job's tasks: they are redacted from logs before sending.
pub fn secret_values(spec: &JobSpec) -> Vec<String> {
    spec.groups()
        .iter()
        .flat_map(|g| &g.tasks)
        .flat_map(|t| t.env.iter().flatten())
        .map(|(_, value)| value.clone())
        .collect()
}

/// The job as Nomad's API JSON with environment values and template bodies replaced by
/// [`REDACTED`]: names stay, so the LLM can reason about them.
pub fn redact_spec(spec: &JobSpec) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    match (key.as_str(), item) {
                        ("Env", Value::Object(env)) => {
                            for value in env.values_mut() {
                                *value = Value::String(REDACTED.into());
                            }
                        }
                        ("EmbeddedTmpl", item) => *item = Value::String(REDACTED.into()),
                        (_, item) => walk(item),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(spec).unwrap_or(Value::Null);
    walk(&mut value);
    value
}

/// Checks an image reference (`[registry[:port]/]path[:tag][@sha256:digest]`).
pub fn check_image(image: &str) -> Result<(), String> {
    static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
        let component = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
        let registry = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?/)";
        let pattern = format!(
            r"^{registry}?{component}(?:/{component})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(?:@sha256:[a-f0-9]{{64}})?$"
        );
        Regex::new(&pattern).unwrap_or_else(|_| unreachable!("fixed pattern"))
    });
    if image.len() > 255 || !REFERENCE.is_match(image) {
        return Err(format!(
            "`{}` is not a valid image reference (like `ghcr.io/acme/api:1.4`)",
            image.chars().take(80).collect::<String>()
        ));
    }
    Ok(())
}

/// The fields of a job the LLM may change: the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// A task's image (`value`).
    Image,
    /// The container port (`value`) of a group's port label (`name`).
    Port,
    /// A task's non-secret environment variable `name` set to `value`.
    Env,
    /// A task's memory in MB (`value`).
    Memory,
    /// A task's CPU in MHz (`value`).
    Cpu,
    /// The path (`value`) of the group's HTTP health checks.
    HealthCheck,
    /// The group's instance count (`value`).
    Count,
    /// A group constraint on attribute `name`, `value` being `OPERATOR VALUE`.
    Constraint,
}

/// The allow-list's names, as the answer schemas list them.
pub const FIELDS: [&str; 8] =
    ["image", "port", "env", "memory", "cpu", "health_check", "count", "constraint"];

/// Constraint operators a change may use.
const OPERATORS: [&str; 10] =
    ["=", "!=", ">", ">=", "<", "<=", "regexp", "version", "semver", "set_contains"];

/// One change the LLM proposes, as its answer schemas shape it (strings throughout, so the
/// schema stays simple enough for servers that enforce it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Which field; outside the allow-list means the whole answer is rejected.
    pub field: String,
    /// The task group.
    pub group: String,
    /// The task (empty: the group's only task).
    #[serde(default)]
    pub task: String,
    /// The port label, environment variable or constraint attribute.
    #[serde(default)]
    pub name: String,
    /// The new value.
    pub value: String,
    /// Why, for a reviewer.
    #[serde(default)]
    pub reason: String,
}

/// The JSON schema of a [`Change`].
pub fn change_schema() -> Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["field", "group", "task", "name", "value", "reason"],
        "properties": {
            "field": {"type": "string", "enum": FIELDS},
            "group": {"type": "string", "maxLength": 128},
            "task": {"type": "string", "maxLength": 128},
            "name": {"type": "string", "maxLength": 128},
            "value": {"type": "string", "maxLength": 256},
            "reason": {"type": "string", "maxLength": 400}
        }
    })
}

/// The JSON schema of a change to `spec`: one form per field of the allow-list, each naming
/// only the groups, tasks and port labels the job has and the values its bounds allow, so a
/// server that enforces the schema (vLLM guided decoding, llama.cpp grammars) can only write
/// changes [`apply_changes`] may accept. What a pattern cannot say (a number's range, a
/// variable that looks secret) is still checked by `apply_changes`.
pub fn change_schema_for(spec: &JobSpec) -> Value {
    use serde_json::json;
    let groups: Vec<&str> = spec.groups().iter().map(|g| g.name.as_str()).collect();
    let tasks_of = |only: &dyn Fn(&Task) -> bool| -> Vec<String> {
        let mut names: Vec<String> = spec
            .groups()
            .iter()
            .flat_map(|g| g.tasks.iter())
            .filter(|t| only(t))
            .map(|t| t.name.clone())
            .collect();
        names.sort();
        names.dedup();
        // An empty task is the group's only task.
        names.insert(0, String::new());
        names
    };
    let labels: Vec<String> = {
        let mut labels: Vec<String> = spec
            .groups()
            .iter()
            .flat_map(|g| g.networks.iter().flatten())
            .flat_map(|n| n.dynamic_ports.iter().flatten().chain(n.reserved_ports.iter().flatten()))
            .map(|p| p.label.clone())
            .collect();
        labels.sort();
        labels.dedup();
        labels
    };
    let digits = |n: usize| json!({"type": "string", "pattern": format!("^[0-9]{{1,{n}}}$")});
    let operators = OPERATORS.iter().map(|o| regex::escape(o)).collect::<Vec<_>>().join("|");
    let form = |field: &str, task: Value, name: Value, value: Value| {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["field", "group", "task", "name", "value", "reason"],
            "properties": {
                "field": {"type": "string", "enum": [field]},
                "group": {"type": "string", "enum": groups},
                "task": task,
                "name": name,
                "value": value,
                "reason": {"type": "string", "maxLength": 400}
            }
        })
    };
    let any_task = json!({"type": "string", "enum": tasks_of(&|_| true)});
    let image_task = json!({"type": "string", "enum": tasks_of(&|t| t.driver == "docker" || t.driver == "podman")});
    let no_name = json!({"type": "string", "enum": [""]});
    let forms = vec![
        form(
            "image",
            image_task,
            no_name.clone(),
            json!({"type": "string", "maxLength": 255, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$"}),
        ),
        form("memory", any_task.clone(), no_name.clone(), digits(5)),
        form("cpu", any_task.clone(), no_name.clone(), digits(5)),
        form("count", any_task.clone(), no_name.clone(), digits(3)),
        form("port", any_task.clone(), json!({"type": "string", "enum": labels}), digits(5)),
        form(
            "env",
            any_task.clone(),
            json!({"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"}),
            json!({"type": "string", "maxLength": 256}),
        ),
        form(
            "health_check",
            any_task.clone(),
            no_name,
            json!({"type": "string", "maxLength": 200, "pattern": "^/[^\\s\"]*$"}),
        ),
        form(
            "constraint",
            any_task,
            json!({"type": "string", "pattern": r"^\$\{(attr|node|meta)\.[A-Za-z0-9_.-]{1,118}\}$"}),
            json!({"type": "string", "maxLength": 256, "pattern": format!("^({operators}) .+$")}),
        ),
    ];
    json!({"anyOf": forms})
}

/// Why an LLM answer was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub String);

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A job with the LLM's changes applied, and what each change did.
#[derive(Debug, Clone, PartialEq)]
pub struct Patched {
    /// The changed job (rendered and validated).
    pub spec: JobSpec,
    /// One line per change: what changed and the LLM's reason.
    pub applied: Vec<String>,
    /// The same changes, each as what it changed, the new value and the LLM's reason (what a
    /// decision records).
    pub made: Vec<Made>,
    /// The edits the changes stand for, in order: what was applied to `spec`, and what a fix
    /// applies to the registered job and writes into the user's file.
    pub edits: Vec<Edit>,
}

/// One change made: what it changed (`memory of `api``), the new value (`512 MB`) and the
/// LLM's reason (may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// What the change changed.
    pub subject: String,
    /// The new value, in words.
    pub value: String,
    /// Why, in the LLM's words (text from outside: escape it where it is shown).
    pub reason: String,
}

impl Made {
    /// `subject: value (reason)`, one line.
    fn line(&self) -> String {
        let line = format!("{}: {}", self.subject, self.value);
        if self.reason.is_empty() {
            line
        } else {
            format!("{line} ({})", self.reason)
        }
    }
}

/// Checks every change against the allow-list and its bounds, turns it into the job-spec
/// engine's edits and applies them to a copy of `spec`, then validates the rendered result.
/// One bad change rejects the whole answer.
pub fn apply_changes(spec: &JobSpec, changes: &[Change]) -> Result<Patched, Rejection> {
    let mut patched = Patched::unchanged(spec);
    for (index, change) in changes.iter().enumerate() {
        // Each change reads the job as the changes before it left it.
        let (made, edits) = edits_of(&patched.spec, change)
            .map_err(|why| Rejection(format!("change {} ({}): {why}", index + 1, change.field)))?;
        patched.add(made, edits);
    }
    validated(&patched.spec)?;
    Ok(patched)
}

/// Like [`apply_changes`], but each change on its own: a change is made when it passes the
/// guardrails and leaves the job (as the changes accepted before it left it) valid, and a
/// refused one leaves the others standing. The job with the accepted changes (none when
/// every change was refused), and why each refused one was.
pub fn apply_each(spec: &JobSpec, changes: &[Change]) -> (Option<Patched>, Vec<Rejection>) {
    let mut patched = Patched::unchanged(spec);
    let mut refused = Vec::new();
    for (index, change) in changes.iter().enumerate() {
        let tried = edits_of(&patched.spec, change).and_then(|(made, edits)| {
            let mut changed = patched.spec.clone();
            for edit in &edits {
                edit::spec::apply(&mut changed, edit);
            }
            validated(&changed).map_err(|why| why.0)?;
            Ok((made, edits))
        });
        match tried {
            Ok((made, edits)) => patched.add(made, edits),
            Err(why) => {
                refused.push(Rejection(format!("change {} ({}): {why}", index + 1, change.field)))
            }
        }
    }
    let patched = Some(patched).filter(|p| !p.made.is_empty());
    (patched, refused)
}

impl Patched {
    /// `spec` with no change yet.
    fn unchanged(spec: &JobSpec) -> Patched {
        Patched { spec: spec.clone(), applied: Vec::new(), made: Vec::new(), edits: Vec::new() }
    }

    /// Applies `edits`, the change `made` stands for.
    fn add(&mut self, made: Made, edits: Vec<Edit>) {
        for edit in &edits {
            edit::spec::apply(&mut self.spec, edit);
        }
        self.edits.extend(edits);
        self.applied.push(made.line());
        self.made.push(made);
    }
}

/// `spec` renders and validates, or why not.
fn validated(spec: &JobSpec) -> Result<(), Rejection> {
    let text = render_job(spec, &RenderOptions::default())
        .map_err(|err| Rejection(format!("the changed job cannot be rendered: {err}")))?;
    let diagnostics = validate_source(&text, "llm-patch.nomad.hcl");
    if !is_valid(&diagnostics) {
        let errors: Vec<String> = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.message.clone())
            .collect();
        return Err(Rejection(format!("the changed job is not valid: {}", errors.join("; "))));
    }
    Ok(())
}

impl Field {
    /// The field a change names, or why it is not on the allow-list.
    pub fn parse(name: &str) -> Result<Field, String> {
        serde_json::from_value(Value::String(name.to_string()))
            .map_err(|_| format!("`{name}` is outside the allow-list ({})", FIELDS.join(", ")))
    }
}

fn number(value: &str, range: std::ops::RangeInclusive<i64>, unit: &str) -> Result<i64, String> {
    let n: i64 =
        value.trim().parse().map_err(|_| format!("`{value}` is not a whole number of {unit}"))?;
    if !range.contains(&n) {
        return Err(format!("{n} {unit} is outside {}..={} {unit}", range.start(), range.end()));
    }
    Ok(n)
}

fn plain(value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(format!("the value is longer than {max} characters or has control characters"));
    }
    Ok(())
}

/// The group a change names.
fn group_of<'a>(spec: &'a JobSpec, group: &str) -> Result<&'a TaskGroup, String> {
    spec.groups().iter().find(|g| g.name == group).ok_or_else(|| format!("no group `{group}`"))
}

/// The group and task a change names; an empty task is the group's only task.
fn task_of<'a>(
    spec: &'a JobSpec,
    group: &str,
    task: &str,
) -> Result<(&'a TaskGroup, &'a Task), String> {
    let known: Vec<&str> = spec.groups().iter().map(|g| g.name.as_str()).collect();
    let group = spec
        .groups()
        .iter()
        .find(|g| g.name == group)
        .ok_or_else(|| format!("no group `{group}` (groups: {})", known.join(", ")))?;
    if task.is_empty() && group.tasks.len() == 1 {
        return Ok((group, &group.tasks[0]));
    }
    let names: Vec<&str> = group.tasks.iter().map(|t| t.name.as_str()).collect();
    let task = group
        .tasks
        .iter()
        .find(|t| t.name == task)
        .ok_or_else(|| format!("no task `{task}` (tasks: {})", names.join(", ")))?;
    Ok((group, task))
}

/// What one change does to `spec` (what it changes and the new value), and the edits it
/// stands for; or why it is refused.
fn edits_of(spec: &JobSpec, change: &Change) -> Result<(Made, Vec<Edit>), String> {
    let made = |subject: String, value: String| Made {
        subject,
        value,
        reason: change.reason.trim().chars().take(400).collect(),
    };
    let field = Field::parse(&change.field)?;
    let (group, task, name, value) =
        (change.group.as_str(), change.task.as_str(), change.name.trim(), change.value.trim());
    match field {
        Field::Image => {
            check_image(value)?;
            let (g, t) = task_of(spec, group, task)?;
            if t.driver != "docker" && t.driver != "podman" {
                return Err(format!("task `{}` uses driver `{}`, not an image", t.name, t.driver));
            }
            let edit =
                Edit::SetImage { group: g.name.clone(), task: t.name.clone(), image: value.into() };
            Ok((made(format!("image of `{}`", t.name), value.into()), vec![edit]))
        }
        Field::Memory => {
            let n = number(value, MEMORY_MB, "MB")?;
            let (g, t) = task_of(spec, group, task)?;
            // A ceiling below the new memory would be refused by Nomad: it rises with it.
            let max = t.resources.as_ref().and_then(|r| r.memory_max_mb);
            let edit = Edit::SetMemory {
                group: g.name.clone(),
                task: t.name.clone(),
                memory_mb: n,
                memory_max_mb: max.filter(|&max| max < n).map(|_| n),
            };
            Ok((made(format!("memory of `{}`", t.name), format!("{n} MB")), vec![edit]))
        }
        Field::Cpu => {
            let n = number(value, CPU_MHZ, "MHz")?;
            let (g, t) = task_of(spec, group, task)?;
            let edit = Edit::SetCpu { group: g.name.clone(), task: t.name.clone(), cpu_mhz: n };
            Ok((made(format!("cpu of `{}`", t.name), format!("{n} MHz")), vec![edit]))
        }
        Field::Env => {
            if !Regex::new(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$").is_ok_and(|re| re.is_match(name)) {
                return Err(format!("`{name}` is not an environment variable name"));
            }
            if looks_secret(name) {
                return Err(format!(
                    "`{name}` looks secret: secrets come from Vault answers, never from the LLM"
                ));
            }
            plain(value, 256)?;
            let (g, t) = task_of(spec, group, task)?;
            let edit = Edit::SetEnv {
                group: g.name.clone(),
                task: t.name.clone(),
                name: name.into(),
                value: value.into(),
            };
            Ok((made(format!("env {name} of `{}`", t.name), value.into()), vec![edit]))
        }
        Field::Port => {
            let to = number(value, 1..=65535, "(port)")?;
            let g = group_of(spec, group)?;
            if !Regex::new(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$").is_ok_and(|re| re.is_match(name)) {
                return Err(format!("`{name}` is not a port label"));
            }
            let edit = Edit::SetPortTo { group: g.name.clone(), label: name.into(), to };
            let subject = format!("port `{name}` of group `{group}`");
            Ok((made(subject, format!("container port {to}")), vec![edit]))
        }
        Field::HealthCheck => {
            let ok = value.starts_with('/')
                && value.len() <= 200
                && !value.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"');
            if !ok {
                return Err(format!("`{value}` is not an HTTP path like `/health`"));
            }
            let g = group_of(spec, group)?;
            let task_services = g.tasks.iter().flat_map(|t| t.services.iter().flatten());
            let checks: Vec<&Check> = g
                .services
                .iter()
                .flatten()
                .chain(task_services)
                .flat_map(|s| s.checks.iter().flatten())
                .filter(|c| c.r#type == "http")
                .collect();
            if checks.is_empty() {
                return Err(format!("group `{group}` has no HTTP check whose path could change"));
            }
            // One edit per path the checks have now; a check already on the path needs none.
            let mut old_paths: Vec<&str> = Vec::new();
            for path in checks.iter().filter_map(|c| c.path.as_deref()) {
                if path != value && !old_paths.contains(&path) {
                    old_paths.push(path);
                }
            }
            let edits = old_paths
                .into_iter()
                .map(|old_path| Edit::SetCheckPath {
                    group: g.name.clone(),
                    old_path: old_path.into(),
                    new_path: value.into(),
                })
                .collect();
            Ok((made(format!("health check path of group `{group}`"), value.into()), edits))
        }
        Field::Count => {
            let n = number(value, COUNT, "instances")?;
            let g = group_of(spec, group)?;
            let edit = Edit::SetCount { group: g.name.clone(), count: n };
            Ok((made(format!("count of group `{group}`"), n.to_string()), vec![edit]))
        }
        Field::Constraint => {
            let attribute_ok =
                ["${attr.", "${node.", "${meta."].iter().any(|prefix| name.starts_with(prefix))
                    && name.ends_with('}')
                    && name.len() <= 128;
            if !attribute_ok {
                return Err(format!("`{name}` is not a node attribute like `${{attr.cpu.arch}}`"));
            }
            let (operator, target) = value.split_once(' ').unwrap_or((value, ""));
            if !OPERATORS.contains(&operator) {
                return Err(format!(
                    "`{operator}` is not a constraint operator ({})",
                    OPERATORS.join(" ")
                ));
            }
            let target = target.trim();
            plain(target, 128)?;
            let g = group_of(spec, group)?;
            let edit = Edit::AddConstraint {
                group: g.name.clone(),
                constraint: ConstraintText {
                    attribute: name.into(),
                    operator: operator.into(),
                    value: target.into(),
                },
            };
            let subject = format!("constraint on group `{group}`");
            Ok((made(subject, format!("{name} {operator} {target}")), vec![edit]))
        }
    }
}

#[cfg(test)]
mod tests;
