//! Reading a job in Nomad's API JSON: the defaults Nomad fills in, the resources a group
//! asks for, its constraints, update strategy and restart policy, and the validation errors
//! Nomad would answer with.
//!
//! Jobs are kept as `serde_json::Value` on purpose: the fake must accept every field a real
//! client sends and hand it back unchanged, which a typed model would lose.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{json, Map, Value};

/// Fields Nomad sets itself; they never make two job versions differ.
const SERVER_FIELDS: &[&str] = &[
    "Version",
    "Stable",
    "Status",
    "StatusDescription",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "SubmitTime",
];

/// A string field of a JSON object, empty when absent.
pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// The task groups of a job.
pub(crate) fn groups(job: &Value) -> &[Value] {
    array(job, "TaskGroups")
}

/// The tasks of a group.
pub(crate) fn tasks(group: &Value) -> &[Value] {
    array(group, "Tasks")
}

/// The job type, `service` when unset.
pub(crate) fn job_type(job: &Value) -> &str {
    match str_field(job, "Type") {
        "" => "service",
        other => other,
    }
}

/// Whether the job is periodic or parameterized: a template Nomad launches children from.
pub(crate) fn is_template(job: &Value) -> bool {
    ["Periodic", "ParameterizedJob"].iter().any(|k| job.get(*k).is_some_and(|v| !v.is_null()))
}

/// The group's desired count (Nomad's API default is 1).
pub(crate) fn count(group: &Value) -> usize {
    group.get("Count").and_then(Value::as_u64).unwrap_or(1) as usize
}

/// Fills in what Nomad's canonicalization fills in, keeping every field the client sent.
pub(crate) fn canonicalize(job: &mut Value, namespace: &str, region: &str) {
    let Some(object) = job.as_object_mut() else { return };
    let id = object.get("ID").and_then(Value::as_str).unwrap_or("").to_string();
    let defaults = [
        ("Name", json!(id)),
        ("Namespace", json!(namespace)),
        ("Region", json!(region)),
        ("Type", json!("service")),
        ("Priority", json!(50)),
        ("AllAtOnce", json!(false)),
        ("Datacenters", json!(["*"])),
        ("NodePool", json!("default")),
        ("Stop", json!(false)),
        ("ParentID", json!("")),
        ("Meta", Value::Null),
        ("Constraints", Value::Null),
        ("Affinities", Value::Null),
        ("Update", Value::Null),
        ("Periodic", Value::Null),
        ("ParameterizedJob", Value::Null),
        ("Payload", Value::Null),
    ];
    for (key, default) in defaults {
        let missing = match object.get(key) {
            None => true,
            Some(Value::String(s)) => s.is_empty() && key != "ParentID",
            Some(Value::Null) => !default.is_null(),
            Some(_) => false,
        };
        if missing {
            object.insert(key.to_string(), default);
        }
    }
    if let Some(Value::Array(groups)) = object.get_mut("TaskGroups") {
        for group in groups {
            if let Some(group) = group.as_object_mut() {
                group.entry("Count").or_insert(json!(1));
            }
        }
    }
}

/// The job without the fields Nomad sets, for "did the spec change?" comparisons.
pub(crate) fn spec_of(job: &Value) -> Value {
    let mut spec = job.clone();
    if let Some(object) = spec.as_object_mut() {
        for key in SERVER_FIELDS {
            object.remove(*key);
        }
    }
    spec
}

/// Nomad's validation errors for a job, in its wording; empty when the job is valid.
pub(crate) fn validation_errors(job: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    if !job.is_object() {
        return vec!["job must be a JSON object".to_string()];
    }
    let id = str_field(job, "ID");
    if id.is_empty() {
        errors.push("Missing job ID".to_string());
    } else if id.contains(' ') {
        errors.push("Job ID contains a space".to_string());
    }
    if !matches!(job_type(job), "service" | "batch" | "system" | "sysbatch") {
        errors.push(format!("Invalid job type: {:?}", job_type(job)));
    }
    if groups(job).is_empty() {
        errors.push("Missing job task groups".to_string());
    }
    let mut seen = BTreeSet::new();
    for (i, group) in groups(job).iter().enumerate() {
        let name = str_field(group, "Name");
        if name.is_empty() {
            errors.push(format!("Job task group {} missing name", i + 1));
            continue;
        }
        if !seen.insert(name) {
            errors.push(format!("Job task group {} redefines '{name}' from group {i}", i + 1));
        }
        let mut group_errors = Vec::new();
        if group.get("Count").and_then(Value::as_i64).is_some_and(|c| c < 0) {
            group_errors.push("Task group count can't be negative".to_string());
        }
        if tasks(group).is_empty() {
            group_errors.push("Missing tasks for task group".to_string());
        }
        for task in tasks(group) {
            let task_name = str_field(task, "Name");
            let mut task_errors = Vec::new();
            if task_name.is_empty() {
                task_errors.push("Missing task name".to_string());
            }
            if str_field(task, "Driver").is_empty() {
                task_errors.push("Missing task driver".to_string());
            }
            if let Some(resources) = task.get("Resources") {
                if let Some(cpu) = resources.get("CPU").and_then(Value::as_i64) {
                    if cpu < 1 {
                        task_errors.push(format!("minimum CPU value is 1; got {cpu}"));
                    }
                }
                if let Some(memory) = resources.get("MemoryMB").and_then(Value::as_i64) {
                    if memory < 10 {
                        task_errors.push(format!("minimum MemoryMB value is 10; got {memory}"));
                    }
                }
            }
            if !task_errors.is_empty() {
                group_errors.push(format!(
                    "Task {task_name} validation failed: {}",
                    multierror(&task_errors)
                ));
            }
        }
        if !group_errors.is_empty() {
            errors.push(format!(
                "Task group {name} validation failed: {}",
                multierror(&group_errors)
            ));
        }
    }
    errors
}

/// The warnings Nomad gives when registering, planning or validating a job, in its format
/// (`N warning(s):` and a bullet per warning); empty when there are none.
pub(crate) fn warnings(job: &Value, oversubscription: bool) -> String {
    let mut items = Vec::new();
    for group in groups(job) {
        for task in tasks(group) {
            let max = task
                .get("Resources")
                .and_then(|r| r.get("MemoryMaxMB"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if max > 0 && !oversubscription {
                items.push(format!(
                    "* Memory oversubscription is not enabled; Task \"{}.{}\" memory_max \
                     value will be ignored. Update the Scheduler Configuration to allow \
                     oversubscription.",
                    str_field(group, "Name"),
                    str_field(task, "Name")
                ));
            }
        }
    }
    if items.is_empty() {
        String::new()
    } else {
        format!("{} warning(s):\n\n{}", items.len(), items.join("\n"))
    }
}

/// Joins errors the way Go's `multierror` prints them, as Nomad's messages do.
pub(crate) fn multierror(errors: &[String]) -> String {
    let items: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
    format!("{} error(s) occurred:\n\n{}", errors.len(), items.join("\n"))
}

/// The job's datacenters (`["*"]` when unset).
pub(crate) fn datacenters(job: &Value) -> Vec<String> {
    let list: Vec<String> =
        array(job, "Datacenters").iter().filter_map(Value::as_str).map(str::to_string).collect();
    if list.is_empty() {
        vec!["*".to_string()]
    } else {
        list
    }
}

/// The job's node pool (`default` when unset).
pub(crate) fn node_pool(job: &Value) -> String {
    match str_field(job, "NodePool") {
        "" => "default".to_string(),
        pool => pool.to_string(),
    }
}

/// A placement constraint.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Constraint {
    pub l_target: String,
    pub r_target: String,
    pub operand: String,
}

impl fmt::Display for Constraint {
    /// Nomad's `Constraint.String()`, the key of `ConstraintFiltered`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operand = if self.operand.is_empty() { "=" } else { &self.operand };
        write!(f, "{} {} {}", self.l_target, operand, self.r_target)
    }
}

/// Job, group and task constraints together.
pub(crate) fn constraints(job: &Value, group: &Value) -> Vec<Constraint> {
    let mut all = Vec::new();
    let mut sources = vec![array(job, "Constraints"), array(group, "Constraints")];
    for task in tasks(group) {
        sources.push(array(task, "Constraints"));
    }
    for source in sources {
        for c in source {
            all.push(Constraint {
                l_target: str_field(c, "LTarget").to_string(),
                r_target: str_field(c, "RTarget").to_string(),
                operand: str_field(c, "Operand").to_string(),
            });
        }
    }
    all
}

/// What one allocation of a group asks of a node.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupAsk {
    pub cpu: u64,
    pub memory_mb: u64,
    pub static_ports: Vec<(String, u16)>,
    pub dynamic_ports: Vec<String>,
    pub drivers: BTreeSet<String>,
}

/// The CPU (MHz) and memory (MB) of a task, with Nomad's defaults (100 MHz, 300 MB).
pub(crate) fn task_resources(task: &Value) -> (u64, u64) {
    let resources = task.get("Resources");
    let cpu = resources.and_then(|r| r.get("CPU")).and_then(Value::as_u64).unwrap_or(100);
    let memory = resources.and_then(|r| r.get("MemoryMB")).and_then(Value::as_u64).unwrap_or(300);
    (cpu, memory)
}

/// The memory (MB) a task may use before it is OOM-killed: `MemoryMaxMB` (`memory_max`)
/// when it is above `MemoryMB` and the cluster allows oversubscription.
pub(crate) fn memory_limit(task: &Value, oversubscription: bool) -> u64 {
    let (_, memory) = task_resources(task);
    if !oversubscription {
        return memory;
    }
    let max = task
        .get("Resources")
        .and_then(|r| r.get("MemoryMaxMB"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    memory.max(max)
}

/// The text of a task's templates (inline content and source paths), to find what they read.
pub(crate) fn template_text(task: &Value) -> String {
    array(task, "Templates")
        .iter()
        .flat_map(|t| [str_field(t, "EmbeddedTmpl"), str_field(t, "SourcePath")])
        .collect::<Vec<_>>()
        .join("\n")
}

/// The group's healthy deadline as Go prints it (`5m0s` by default).
pub(crate) fn healthy_deadline(job: &Value, group: &Value) -> String {
    let deadline = [group.get("Update"), job.get("Update")]
        .into_iter()
        .flatten()
        .find_map(|u| u.get("HealthyDeadline").and_then(Value::as_u64))
        .unwrap_or(300_000_000_000);
    go_duration(deadline)
}

/// The resources and ports one allocation of the group needs.
pub(crate) fn group_ask(group: &Value) -> GroupAsk {
    let mut ask = GroupAsk::default();
    let mut networks: Vec<&Value> = array(group, "Networks").iter().collect();
    for task in tasks(group) {
        let (cpu, memory) = task_resources(task);
        ask.cpu += cpu;
        ask.memory_mb += memory;
        let driver = str_field(task, "Driver");
        if !driver.is_empty() {
            ask.drivers.insert(driver.to_string());
        }
        if let Some(resources) = task.get("Resources") {
            networks.extend(array(resources, "Networks"));
        }
    }
    for network in networks {
        for port in array(network, "ReservedPorts") {
            let value = port.get("Value").and_then(Value::as_u64).unwrap_or(0);
            let label = str_field(port, "Label").to_string();
            if let Ok(value) = u16::try_from(value) {
                if value > 0 {
                    ask.static_ports.push((label, value));
                }
            }
        }
        for port in array(network, "DynamicPorts") {
            ask.dynamic_ports.push(str_field(port, "Label").to_string());
        }
    }
    ask
}

/// A group's update strategy, merged over the job's, when it makes a deployment.
#[derive(Debug, Clone, Default)]
pub(crate) struct UpdateStrategy {
    /// How many allocations are replaced at a time in an update.
    pub max_parallel: u64,
    pub auto_revert: bool,
    pub canary: u64,
    /// A non-zero `progress_deadline` (the default is 10m): unhealthy allocations are
    /// replaced and only the deadline fails the deployment. With 0 the first unhealthy
    /// allocation fails it.
    pub progress_based: bool,
}

/// The update strategy of a group of a service job, or `None` when it has no deployments
/// (no `update` block, or `max_parallel = 0`).
pub(crate) fn update_strategy(job: &Value, group: &Value) -> Option<UpdateStrategy> {
    if job_type(job) != "service" {
        return None;
    }
    let job_update = job.get("Update").filter(|u| u.is_object());
    let group_update = group.get("Update").filter(|u| u.is_object());
    if job_update.is_none() && group_update.is_none() {
        return None;
    }
    let field = |key: &str| -> Option<&Value> {
        group_update
            .and_then(|u| u.get(key))
            .filter(|v| !v.is_null())
            .or_else(|| job_update.and_then(|u| u.get(key)).filter(|v| !v.is_null()))
    };
    let max_parallel = field("MaxParallel").and_then(Value::as_u64).unwrap_or(1);
    if max_parallel == 0 {
        return None;
    }
    Some(UpdateStrategy {
        max_parallel,
        auto_revert: field("AutoRevert").and_then(Value::as_bool).unwrap_or(false),
        canary: field("Canary").and_then(Value::as_u64).unwrap_or(0),
        progress_based: field("ProgressDeadline")
            .and_then(Value::as_u64)
            .unwrap_or(600_000_000_000)
            != 0,
    })
}

/// How often a failed allocation is replaced: (attempts, unlimited), from the group's
/// `ReschedulePolicy` or Nomad's defaults (service: unlimited; batch: 1; system: never).
pub(crate) fn reschedule_policy(job: &Value, group: &Value) -> (u64, bool) {
    let (attempts, unlimited) = match job_type(job) {
        "service" => (0, true),
        "batch" => (1, false),
        _ => return (0, false),
    };
    let policy = group.get("ReschedulePolicy").filter(|p| p.is_object());
    let attempts =
        policy.and_then(|p| p.get("Attempts")).and_then(Value::as_u64).unwrap_or(attempts);
    let unlimited =
        policy.and_then(|p| p.get("Unlimited")).and_then(Value::as_bool).unwrap_or(unlimited);
    (attempts, unlimited)
}

/// How many times a failed task is restarted, and the phrase Nomad uses when it gives up.
pub(crate) fn restart_policy(job: &Value, group: &Value) -> (u32, String) {
    let policy = group.get("RestartPolicy");
    let batch = matches!(job_type(job), "batch" | "sysbatch");
    let attempts = policy
        .and_then(|p| p.get("Attempts"))
        .and_then(Value::as_u64)
        .unwrap_or(if batch { 3 } else { 2 }) as u32;
    let interval_ns = policy
        .and_then(|p| p.get("Interval"))
        .and_then(Value::as_u64)
        .unwrap_or(if batch { 86_400_000_000_000 } else { 1_800_000_000_000 });
    let mode = policy.and_then(|p| p.get("Mode")).and_then(Value::as_str).unwrap_or("fail");
    let reason = format!(
        "Exceeded allowed attempts {attempts} in interval {} and mode is \"{mode}\"",
        go_duration(interval_ns)
    );
    (attempts, reason)
}

/// A duration in nanoseconds printed like Go's `time.Duration.String()` for whole seconds.
pub(crate) fn go_duration(nanos: u64) -> String {
    let total = nanos / 1_000_000_000;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// The Docker image of a task, when it has one.
pub(crate) fn image(task: &Value) -> Option<&str> {
    task.get("Config").and_then(|c| c.get("image")).and_then(Value::as_str)
}

/// Whether a task's `Env` has `NAME` (any value) or `NAME=VALUE` (that value).
pub(crate) fn has_env(task: &Value, wanted: &str) -> bool {
    let (name, value) = match wanted.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (wanted, None),
    };
    match task.get("Env").and_then(|env| env.get(name)).and_then(Value::as_str) {
        Some(actual) => value.is_none_or(|value| value == actual),
        None => false,
    }
}

/// The paths (or names, for checks without a path) of the task's and its group's checks.
pub(crate) fn check_paths(group: &Value, task: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    for service in array(group, "Services").iter().chain(array(task, "Services")) {
        for check in array(service, "Checks") {
            let path = str_field(check, "Path");
            paths.push(if path.is_empty() {
                str_field(check, "Name").to_string()
            } else {
                path.to_string()
            });
        }
    }
    paths
}

/// A job list stub's nested `JobSummary` and the `/summary` body share this shape.
pub(crate) fn summary_object(
    job_id: &str,
    namespace: &str,
    summary: Map<String, Value>,
    create_index: u64,
    modify_index: u64,
) -> Value {
    json!({
        "JobID": job_id,
        "Namespace": namespace,
        "Summary": summary,
        "Children": {"Pending": 0, "Running": 0, "Dead": 0},
        "CreateIndex": create_index,
        "ModifyIndex": modify_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_speaks_nomads_words() {
        let job = json!({"ID": "web", "TaskGroups": [{"Name": "web", "Tasks": [
            {"Name": "app", "Driver": "docker", "Resources": {"CPU": 0, "MemoryMB": 5}}
        ]}]});
        let errors = validation_errors(&job);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("Task group web validation failed: 1 error(s) occurred"));
        assert!(errors[0].contains("minimum CPU value is 1; got 0"));
        assert!(errors[0].contains("minimum MemoryMB value is 10; got 5"));
        assert!(
            validation_errors(&json!({"ID": "x"})).contains(&"Missing job task groups".to_string())
        );
    }

    #[test]
    fn required_environment_is_matched_by_name_or_value() {
        let task = json!({"Name": "app", "Env": {"APP_ENV": "production", "EMPTY": ""}});
        assert!(has_env(&task, "APP_ENV"));
        assert!(has_env(&task, "APP_ENV=production"));
        assert!(!has_env(&task, "APP_ENV=staging"));
        assert!(has_env(&task, "EMPTY="));
        assert!(!has_env(&task, "LOG_LEVEL"));
        assert!(!has_env(&json!({"Name": "app"}), "APP_ENV"));
    }

    #[test]
    fn go_durations_print_like_go() {
        assert_eq!(go_duration(1_800_000_000_000), "30m0s");
        assert_eq!(go_duration(86_400_000_000_000), "24h0m0s");
        assert_eq!(go_duration(5_000_000_000), "5s");
    }
}
