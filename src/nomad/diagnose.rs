//! Why a deployment failed, from Nomad's own signals: evidence in, a `Diagnosis` out.
//!
//! The evidence is what `watch` gathered (task events, exit codes, `oom_killed`, the tail of
//! stderr, placement metrics, API errors); the diagnosis names a category, says whether a
//! deterministic fix exists for it, and explains it in words a reviewer can check. This
//! file also words placement failures for `plan`. Pure: no I/O.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::api::{AllocMetric, TaskEvent};

/// What kind of failure a deployment hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// A task was killed for using more memory than it was given.
    OutOfMemory,
    /// The image does not exist (wrong name or tag).
    ImageNotFound,
    /// The registry refused to serve the image without credentials.
    ImageUnauthorized,
    /// No node had enough free memory.
    MemoryExhausted,
    /// No node had enough free CPU.
    CpuExhausted,
    /// A static port is already taken on every fitting node.
    PortCollision,
    /// A constraint filtered out every node.
    ConstraintFiltered,
    /// No node is ready in the job's datacenters or node pool.
    NoNodesAvailable,
    /// Placement failed for another reason (quota, devices, volumes).
    PlacementFailed,
    /// The tasks ran but their health checks kept failing.
    HealthCheckFailing,
    /// The allocations did not become healthy before the update's `healthy_deadline`.
    UnhealthyByDeadline,
    /// A task exited with an error soon after starting.
    CrashOnStart,
    /// A template could not be rendered.
    TemplateFailure,
    /// A Vault secret could not be read.
    VaultSecretFailure,
    /// The task driver is missing or failing on the nodes.
    DriverUnavailable,
    /// The Nomad token may not do what the deployment needs.
    PermissionDenied,
    /// Nomad could not be reached.
    NomadUnreachable,
    /// None of the known signals matched.
    Unknown,
}

impl Category {
    /// Whether `fix` has a deterministic change for this kind of failure.
    pub fn fixable(self) -> bool {
        matches!(
            self,
            Category::OutOfMemory
                | Category::PortCollision
                | Category::ConstraintFiltered
                | Category::HealthCheckFailing
                | Category::UnhealthyByDeadline
        )
    }

    /// The category's name in kebab case, as it appears in JSON and messages.
    pub fn name(self) -> &'static str {
        match self {
            Category::OutOfMemory => "out-of-memory",
            Category::ImageNotFound => "image-not-found",
            Category::ImageUnauthorized => "image-unauthorized",
            Category::MemoryExhausted => "memory-exhausted",
            Category::CpuExhausted => "cpu-exhausted",
            Category::PortCollision => "port-collision",
            Category::ConstraintFiltered => "constraint-filtered",
            Category::NoNodesAvailable => "no-nodes-available",
            Category::PlacementFailed => "placement-failed",
            Category::HealthCheckFailing => "health-check-failing",
            Category::UnhealthyByDeadline => "unhealthy-by-deadline",
            Category::CrashOnStart => "crash-on-start",
            Category::TemplateFailure => "template-failure",
            Category::VaultSecretFailure => "vault-secret-failure",
            Category::DriverUnavailable => "driver-unavailable",
            Category::PermissionDenied => "permission-denied",
            Category::NomadUnreachable => "nomad-unreachable",
            Category::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a task group asks of a node, read from the job for explanations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupDemand {
    /// Sum of the tasks' `MemoryMB`.
    pub memory_mb: Option<i64>,
    /// Sum of the tasks' `CPU`.
    pub cpu_mhz: Option<i64>,
    /// Static ports: label → host port.
    pub static_ports: BTreeMap<String, i64>,
}

impl GroupDemand {
    /// The demand of group `group` in a job's API JSON (empty when the group is unknown).
    pub fn of(job: &Value, group: &str) -> GroupDemand {
        let Some(group) = job
            .get("TaskGroups")
            .and_then(Value::as_array)
            .and_then(|groups| groups.iter().find(|g| g.get("Name") == Some(&Value::from(group))))
        else {
            return GroupDemand::default();
        };
        let tasks = group.get("Tasks").and_then(Value::as_array).cloned().unwrap_or_default();
        let sum = |key: &str| {
            let values: Vec<i64> =
                tasks.iter().filter_map(|t| t.get("Resources")?.get(key)?.as_i64()).collect();
            (!values.is_empty()).then(|| values.iter().sum())
        };
        let mut static_ports = BTreeMap::new();
        for network in group.get("Networks").and_then(Value::as_array).into_iter().flatten() {
            for port in network.get("ReservedPorts").and_then(Value::as_array).into_iter().flatten()
            {
                if let (Some(label), Some(value)) = (
                    port.get("Label").and_then(Value::as_str),
                    port.get("Value").and_then(Value::as_i64),
                ) {
                    static_ports.insert(label.to_string(), value);
                }
            }
        }
        GroupDemand { memory_mb: sum("MemoryMB"), cpu_mhz: sum("CPU"), static_ports }
    }
}

/// Everything `watch` learned about a failure.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evidence {
    /// The task group that failed.
    pub group: String,
    /// The task that failed (empty for placement failures).
    pub task: String,
    /// The allocation the task events come from.
    pub alloc_id: String,
    /// The failing task's events, oldest first.
    pub events: Vec<TaskEvent>,
    /// The last non-zero exit code seen.
    pub exit_code: Option<i64>,
    /// Whether the kernel's OOM killer ended the task.
    pub oom_killed: bool,
    /// The last lines of the task's stderr.
    pub stderr_tail: Vec<String>,
    /// Placement metrics when allocations could not be placed.
    pub placement: Option<AllocMetric>,
    /// What the group asks of a node.
    pub demand: GroupDemand,
    /// The deployment's status description (`Failed due to unhealthy allocations`).
    pub deployment_description: String,
    /// Set when the allocation was marked unhealthy by its deployment.
    pub unhealthy: bool,
    /// An error talking to Nomad itself.
    pub api_error: Option<ApiFailure>,
}

impl Evidence {
    /// The evidence in words, a fact a line: the task's events, its last exit code, the OOM
    /// killer, the deployment's description, placement metrics and the tail of stderr.
    pub fn in_words(&self) -> Vec<String> {
        let mut lines = vec![format!("group: {}, task: {}", self.group, self.task)];
        for event in &self.events {
            let mut line = format!("event {}: {}", event.r#type, event.display_message);
            if event.exit_code != 0 {
                line.push_str(&format!(" (exit code {})", event.exit_code));
            }
            for text in [&event.driver_error, &event.setup_error, &event.validation_error] {
                if !text.is_empty() {
                    line.push_str(&format!(" [{text}]"));
                }
            }
            lines.push(line);
        }
        if let Some(code) = self.exit_code {
            lines.push(format!("last exit code: {code}"));
        }
        if self.oom_killed {
            lines.push("killed by the OOM killer".into());
        }
        if !self.deployment_description.is_empty() {
            lines.push(format!("deployment: {}", self.deployment_description));
        }
        if let Some(placement) = &self.placement {
            let text = serde_json::to_string_pretty(placement).unwrap_or_default();
            lines.push(format!("placement: {text}"));
        }
        if !self.stderr_tail.is_empty() {
            lines.push("stderr (last lines):".into());
            lines.extend(self.stderr_tail.iter().cloned());
        }
        lines
    }
}

/// A failure of the API rather than of the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ApiFailure {
    /// Nomad did not answer; the message says where and why.
    Unreachable(String),
    /// The token may not do something; the message says what.
    PermissionDenied(String),
}

impl ApiFailure {
    /// The API failures a diagnosis reports (unreachable, timed out, permission denied);
    /// other errors are not about the deployment and stay errors.
    pub fn from_error(err: &super::client::NomadError) -> Option<ApiFailure> {
        use super::client::NomadError;
        match err {
            NomadError::Unreachable { .. } | NomadError::Timeout { .. } => {
                Some(ApiFailure::Unreachable(err.to_string()))
            }
            NomadError::PermissionDenied { .. } => {
                Some(ApiFailure::PermissionDenied(err.to_string()))
            }
            _ => None,
        }
    }
}

/// A failure, classified and explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub category: Category,
    /// Whether `fix` may try a change (the fix may still find nothing to change).
    pub fixable: bool,
    /// The failure in words, with the evidence that supports it.
    pub explanation: String,
    /// The task group concerned (empty when the whole job is).
    pub group: String,
    /// The task concerned (empty when not one task).
    pub task: String,
    /// The signal the category was read from (an event text, a metric), for reviewers.
    pub signal: String,
}

/// The failures the LLM is asked about: those whose cause the rules did not find
/// (`unknown`), or found only as a symptom whose cause is in the logs (a crash at start,
/// failing health checks). The others are about the cluster, the registry or credentials,
/// which no allow-listed change of the job fixes.
pub const ASKED_OF_THE_LLM: [Category; 3] =
    [Category::Unknown, Category::CrashOnStart, Category::HealthCheckFailing];

impl Diagnosis {
    /// This failure as the LLM is told of it, with `evidence` in words.
    pub fn told(&self, evidence: &Evidence) -> crate::llm::tasks::FailureTold {
        crate::llm::tasks::FailureTold {
            category: self.category.name().to_string(),
            asked: ASKED_OF_THE_LLM.contains(&self.category),
            evidence: evidence.in_words(),
        }
    }
}

fn plural(count: i64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// The placement category and the static port (label, value) that collided, if any.
fn placement_category(metric: &AllocMetric) -> Category {
    let dims = &metric.dimension_exhausted;
    if dims.keys().any(|d| d.contains("port collision")) {
        Category::PortCollision
    } else if dims.contains_key("memory") {
        Category::MemoryExhausted
    } else if dims.contains_key("cpu") {
        Category::CpuExhausted
    } else if metric.constraint_filtered.keys().any(|c| c.contains("missing drivers")) {
        Category::DriverUnavailable
    } else if !metric.constraint_filtered.is_empty() {
        Category::ConstraintFiltered
    } else if metric.nodes_evaluated == 0 {
        Category::NoNodesAvailable
    } else {
        Category::PlacementFailed
    }
}

/// A placement failure in words: "no node has 2048 MB of memory free: memory exhausted on
/// 3 nodes; 2 nodes filtered by constraint ${attr.cpu.arch} = arm64 (5 nodes evaluated, ...)".
pub fn explain_placement(metric: &AllocMetric, demand: &GroupDemand) -> String {
    let mut headline: Option<String> = None;
    let mut details = Vec::new();
    for (dimension, &nodes) in &metric.dimension_exhausted {
        let on = plural(nodes, "node", "nodes");
        if dimension == "memory" {
            headline.get_or_insert_with(|| match demand.memory_mb {
                Some(mb) => format!("no node has {mb} MB of memory free"),
                None => "no node has enough free memory".into(),
            });
            details.push(format!("memory exhausted on {on}"));
        } else if dimension == "cpu" {
            headline.get_or_insert_with(|| match demand.cpu_mhz {
                Some(mhz) => format!("no node has {mhz} MHz of CPU free"),
                None => "no node has enough free CPU".into(),
            });
            details.push(format!("CPU exhausted on {on}"));
        } else if let Some(port) = dimension.split("port collision").nth(1) {
            let port = port.trim();
            let shown = if port.is_empty() {
                "a static port".to_string()
            } else {
                format!("static port {port}")
            };
            headline.get_or_insert_with(|| format!("no node has {shown} free"));
            details.push(format!("{shown} already in use on {on}"));
        } else {
            details.push(format!("{dimension} exhausted on {on}"));
        }
    }
    for (constraint, &nodes) in &metric.constraint_filtered {
        if constraint == "missing drivers" {
            headline.get_or_insert_with(|| "no node has the task's driver".into());
            details.push(format!("{} lack the task driver", plural(nodes, "node", "nodes")));
        } else {
            details.push(format!(
                "{} filtered by constraint {constraint}",
                plural(nodes, "node", "nodes")
            ));
        }
    }
    for (class, &nodes) in &metric.class_filtered {
        details.push(format!("{} of class {class} filtered", plural(nodes, "node", "nodes")));
    }
    for quota in &metric.quota_exhausted {
        details.push(format!("quota exhausted: {quota}"));
    }
    if headline.is_none() && !metric.constraint_filtered.is_empty() {
        headline = Some("no node satisfies the job's constraints".into());
    }
    if metric.nodes_evaluated == 0 && headline.is_none() {
        let datacenters: Vec<&str> = metric.nodes_available.keys().map(String::as_str).collect();
        headline = Some(if metric.nodes_in_pool == 0 && datacenters.is_empty() {
            "no node is available in the job's node pool".into()
        } else if datacenters.is_empty() {
            "no node is ready in the job's datacenters".into()
        } else {
            format!("no node is ready in datacenter {}", datacenters.join(", "))
        });
    }
    let mut text = headline.unwrap_or_else(|| "the scheduler could not place it".into());
    if !details.is_empty() {
        text.push_str(": ");
        text.push_str(&details.join("; "));
    }
    let unplaced = metric.coalesced_failures + 1;
    text.push_str(&format!(
        " ({} evaluated, {} unplaced)",
        plural(metric.nodes_evaluated, "node", "nodes"),
        plural(unplaced, "allocation", "allocations")
    ));
    text
}

/// Texts that say an image does not exist.
const IMAGE_MISSING: &[&str] = &[
    "manifest unknown",
    "not found",
    "repository does not exist",
    "no such image",
    "name unknown",
];

/// Texts that say the registry wants credentials.
const IMAGE_UNAUTHORIZED: &[&str] =
    &["unauthorized", "authentication required", "no basic auth credentials", "access denied"];

fn contains_any(text: &str, needles: &[&str]) -> bool {
    let text = text.to_lowercase();
    needles.iter().any(|needle| text.contains(needle))
}

fn is_oom_event(event: &TaskEvent) -> bool {
    event.detail("oom_killed").as_deref() == Some("true")
        || (event.exit_code == 137 && contains_any(event.text(), &["oom"]))
}

/// Classifies a failure from its evidence.
pub fn diagnose(evidence: &Evidence) -> Diagnosis {
    let diagnosis = |category: Category, signal: String, explanation: String| Diagnosis {
        category,
        fixable: category.fixable(),
        explanation,
        group: evidence.group.clone(),
        task: evidence.task.clone(),
        signal,
    };
    let subject = if evidence.task.is_empty() {
        format!("task group \"{}\"", evidence.group)
    } else {
        format!("task \"{}\" of group \"{}\"", evidence.task, evidence.group)
    };

    match &evidence.api_error {
        Some(ApiFailure::Unreachable(message)) => {
            return diagnosis(Category::NomadUnreachable, message.clone(), message.clone())
        }
        Some(ApiFailure::PermissionDenied(message)) => {
            return diagnosis(Category::PermissionDenied, message.clone(), message.clone())
        }
        None => {}
    }

    if let Some(metric) = &evidence.placement {
        let category = placement_category(metric);
        let words = explain_placement(metric, &evidence.demand);
        let explanation = format!("{subject} could not be placed: {words}");
        let signal = metric
            .dimension_exhausted
            .keys()
            .chain(metric.constraint_filtered.keys())
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        return diagnosis(category, signal, explanation);
    }

    let tail = stderr_tail_text(&evidence.stderr_tail);

    if evidence.oom_killed || evidence.events.iter().any(is_oom_event) {
        let memory = evidence
            .demand
            .memory_mb
            .map(|mb| format!(" (the group asks for {mb} MB)"))
            .unwrap_or_default();
        return diagnosis(
            Category::OutOfMemory,
            "Terminated: oom_killed".into(),
            format!("{subject} was killed for running out of memory, exit code 137{memory}{tail}"),
        );
    }

    for event in evidence.events.iter().rev() {
        let text = event.text();
        let lower = text.to_lowercase();
        let pulling = event.r#type == "Driver Failure"
            || !event.download_error.is_empty()
            || lower.contains("pull")
            || lower.contains("image");
        if pulling && contains_any(text, IMAGE_UNAUTHORIZED) && !lower.contains("does not exist") {
            return diagnosis(
                Category::ImageUnauthorized,
                text.to_string(),
                format!(
                    "{subject} cannot pull its image: the registry requires credentials \
                     (Nomad said: {text}). Configure registry auth for the docker driver or \
                     make the image public"
                ),
            );
        }
        if pulling && contains_any(text, IMAGE_MISSING) {
            return diagnosis(
                Category::ImageNotFound,
                text.to_string(),
                format!(
                    "{subject} cannot start: its image does not exist or is not visible to the \
                     cluster (Nomad said: {text}). Check the image name and tag, and that it \
                     was pushed"
                ),
            );
        }
        if !event.vault_error.is_empty()
            || (lower.contains("vault")
                && (lower.contains("fail") || lower.contains("error") || lower.contains("missing")))
        {
            return diagnosis(
                Category::VaultSecretFailure,
                text.to_string(),
                format!(
                    "{subject} could not read its Vault secrets (Nomad said: {text}). Check the \
                     secret path and the job's Vault role or policies"
                ),
            );
        }
        let template_failed =
            lower.contains("fail") || lower.contains("missing") || lower.contains("error");
        if (event.r#type == "Template" || lower.contains("template")) && template_failed {
            return diagnosis(
                Category::TemplateFailure,
                text.to_string(),
                format!("{subject} could not render a template (Nomad said: {text})"),
            );
        }
        if event.r#type == "Driver Failure" {
            let category = if lower.contains("not available")
                || lower.contains("not found") && lower.contains("driver")
                || lower.contains("failed to find")
            {
                Category::DriverUnavailable
            } else {
                Category::CrashOnStart
            };
            return diagnosis(
                category,
                text.to_string(),
                format!("{subject} failed in its driver (Nomad said: {text}){tail}"),
            );
        }
    }

    let unhealthy_event = evidence
        .events
        .iter()
        .rev()
        .find(|event| event.r#type == "Alloc Unhealthy")
        .map(|event| event.text().to_string());
    let crashed = evidence.events.iter().any(|e| e.r#type == "Terminated" && e.exit_code != 0)
        || evidence.exit_code.is_some_and(|code| code != 0);
    if crashed {
        let code = evidence
            .exit_code
            .or_else(|| {
                evidence.events.iter().rev().find(|e| e.r#type == "Terminated").map(|e| e.exit_code)
            })
            .unwrap_or_default();
        return diagnosis(
            Category::CrashOnStart,
            format!("Terminated: exit code {code}"),
            format!("{subject} exited with code {code} after starting{tail}"),
        );
    }
    if evidence.unhealthy || unhealthy_event.is_some() {
        let text = unhealthy_event.unwrap_or_else(|| evidence.deployment_description.clone());
        let lower = text.to_lowercase();
        let category = if lower.contains("check") || lower.contains("service") {
            Category::HealthCheckFailing
        } else if lower.contains("deadline") {
            Category::UnhealthyByDeadline
        } else {
            Category::HealthCheckFailing
        };
        let words = match category {
            Category::UnhealthyByDeadline => "did not become healthy before its healthy_deadline",
            _ => "is running but its health checks keep failing",
        };
        return diagnosis(
            category,
            text.clone(),
            format!("{subject} {words} (Nomad said: {text}){tail}"),
        );
    }
    let signal = if evidence.deployment_description.is_empty() {
        evidence.events.last().map(|e| e.text().to_string()).unwrap_or_default()
    } else {
        evidence.deployment_description.clone()
    };
    diagnosis(
        Category::Unknown,
        signal.clone(),
        format!(
            "{subject} failed for a reason nomad-spec does not recognise{}{tail}",
            if signal.is_empty() { String::new() } else { format!(" (Nomad said: {signal})") }
        ),
    )
}

fn stderr_tail_text(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("; last lines of stderr:\n    {}", lines.join("\n    "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(value: Value) -> TaskEvent {
        serde_json::from_value(value).unwrap()
    }

    fn metric(value: Value) -> AllocMetric {
        serde_json::from_value(value).unwrap()
    }

    fn with_events(events: Vec<Value>) -> Evidence {
        Evidence {
            group: "app".into(),
            task: "server".into(),
            events: events.into_iter().map(event).collect(),
            demand: GroupDemand { memory_mb: Some(256), ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn categories_from_task_events() {
        let cases: Vec<(&str, Vec<Value>, Category)> = vec![
            (
                "oom killed",
                vec![json!({"Type": "Terminated", "ExitCode": 137,
                    "Details": {"oom_killed": "true", "exit_code": "137"},
                    "DisplayMessage": "Exit Code: 137, Exit Message: \"OOM Killed\""})],
                Category::OutOfMemory,
            ),
            (
                "image not found",
                vec![json!({"Type": "Driver Failure", "FailsTask": true,
                    "DriverError": "Failed to pull `ghcr.io/acme/web:9`: Error response from daemon: manifest for ghcr.io/acme/web:9 not found: manifest unknown",
                    "DisplayMessage": "Failed to pull `ghcr.io/acme/web:9`: Error response from daemon: manifest for ghcr.io/acme/web:9 not found: manifest unknown"})],
                Category::ImageNotFound,
            ),
            (
                "image unauthorized",
                vec![json!({"Type": "Driver Failure",
                    "DisplayMessage": "Failed to pull `registry.acme/web:1`: unauthorized: authentication required"})],
                Category::ImageUnauthorized,
            ),
            (
                "pull access denied reads as missing",
                vec![json!({"Type": "Driver Failure",
                    "DisplayMessage": "Failed to pull `nosuch/image:latest`: Error response from daemon: pull access denied for nosuch/image, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"})],
                Category::ImageNotFound,
            ),
            (
                "crash on start",
                vec![
                    json!({"Type": "Started"}),
                    json!({"Type": "Terminated", "ExitCode": 1, "DisplayMessage": "Exit Code: 1"}),
                    json!({"Type": "Not Restarting", "DisplayMessage": "Exceeded allowed attempts 2 in interval 30m0s and mode is \"fail\""}),
                ],
                Category::CrashOnStart,
            ),
            (
                "template failure",
                vec![
                    json!({"Type": "Killing", "DisplayMessage": "Template failed: nomad.var.block(nomad/jobs/web): Missing: nomad.var.block(nomad/jobs/web)"}),
                ],
                Category::TemplateFailure,
            ),
            (
                "vault secret",
                vec![
                    json!({"Type": "Killing", "VaultError": "failed to derive vault token: permission denied",
                    "DisplayMessage": "failed to derive vault token: permission denied"}),
                ],
                Category::VaultSecretFailure,
            ),
            (
                "driver unavailable",
                vec![
                    json!({"Type": "Driver Failure", "DisplayMessage": "driver \"podman\" not available"}),
                ],
                Category::DriverUnavailable,
            ),
            (
                "failing checks",
                vec![
                    json!({"Type": "Started"}),
                    json!({"Type": "Alloc Unhealthy", "DisplayMessage": "Services not healthy by deadline"}),
                ],
                Category::HealthCheckFailing,
            ),
            (
                "unhealthy by deadline",
                vec![
                    json!({"Type": "Started"}),
                    json!({"Type": "Alloc Unhealthy", "DisplayMessage": "Task not running for min_healthy_time of 10s by healthy_deadline of 15s"}),
                ],
                Category::UnhealthyByDeadline,
            ),
            ("nothing recognisable", vec![json!({"Type": "Started"})], Category::Unknown),
        ];
        for (name, events, expected) in cases {
            let diagnosis = diagnose(&with_events(events));
            assert_eq!(diagnosis.category, expected, "{name}: {}", diagnosis.explanation);
            assert_eq!(diagnosis.fixable, expected.fixable(), "{name}");
        }
    }

    #[test]
    fn categories_from_placement_metrics() {
        let cases = vec![
            (
                json!({"NodesEvaluated": 3, "NodesExhausted": 3, "DimensionExhausted": {"memory": 3}}),
                Category::MemoryExhausted,
            ),
            (
                json!({"NodesEvaluated": 3, "NodesExhausted": 3, "DimensionExhausted": {"cpu": 3}}),
                Category::CpuExhausted,
            ),
            (
                json!({"NodesEvaluated": 2, "NodesExhausted": 2, "DimensionExhausted": {"network: reserved port collision http=80": 2}}),
                Category::PortCollision,
            ),
            (
                json!({"NodesEvaluated": 4, "NodesFiltered": 4, "ConstraintFiltered": {"${attr.cpu.arch} = arm64": 4}}),
                Category::ConstraintFiltered,
            ),
            (
                json!({"NodesEvaluated": 4, "NodesFiltered": 4, "ConstraintFiltered": {"missing drivers": 4}}),
                Category::DriverUnavailable,
            ),
            (
                json!({"NodesEvaluated": 0, "NodesAvailable": {"dc9": 0}}),
                Category::NoNodesAvailable,
            ),
        ];
        for (value, expected) in cases {
            let evidence = Evidence {
                group: "app".into(),
                placement: Some(metric(value.clone())),
                ..Default::default()
            };
            assert_eq!(diagnose(&evidence).category, expected, "{value}");
        }
    }

    #[test]
    fn placement_in_words() {
        let demand =
            GroupDemand { memory_mb: Some(2048), cpu_mhz: Some(500), ..Default::default() };
        let cases = vec![
            (
                json!({"NodesEvaluated": 5, "NodesFiltered": 2, "NodesExhausted": 3,
                       "DimensionExhausted": {"memory": 3},
                       "ConstraintFiltered": {"${attr.cpu.arch} = arm64": 2}}),
                "no node has 2048 MB of memory free: memory exhausted on 3 nodes; 2 nodes filtered by constraint ${attr.cpu.arch} = arm64 (5 nodes evaluated, 1 allocation unplaced)",
            ),
            (
                json!({"NodesEvaluated": 1, "NodesExhausted": 1, "CoalescedFailures": 2,
                       "DimensionExhausted": {"network: reserved port collision http=80": 1}}),
                "no node has static port http=80 free: static port http=80 already in use on 1 node (1 node evaluated, 3 allocations unplaced)",
            ),
            (
                json!({"NodesEvaluated": 3, "NodesFiltered": 3,
                       "ConstraintFiltered": {"${attr.cpu.arch} = arm64": 3}}),
                "no node satisfies the job's constraints: 3 nodes filtered by constraint ${attr.cpu.arch} = arm64 (3 nodes evaluated, 1 allocation unplaced)",
            ),
            (
                json!({"NodesEvaluated": 0, "NodesAvailable": {"dc9": 0}, "NodesInPool": 2}),
                "no node is ready in datacenter dc9 (0 nodes evaluated, 1 allocation unplaced)",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(explain_placement(&metric(value), &demand), expected);
        }
    }

    #[test]
    fn api_errors_become_evidence() {
        use crate::nomad::NomadError;
        let denied = NomadError::PermissionDenied {
            who: "the token in NOMAD_TOKEN".into(),
            action: "register job web in namespace default".into(),
        };
        let evidence =
            Evidence { api_error: ApiFailure::from_error(&denied), ..Default::default() };
        let diagnosis = diagnose(&evidence);
        assert_eq!(diagnosis.category, Category::PermissionDenied);
        assert_eq!(
            diagnosis.explanation,
            "permission denied: the token in NOMAD_TOKEN cannot register job web in namespace default"
        );
        let conflict = NomadError::Conflict { job: "web".into(), detail: "index".into() };
        assert_eq!(ApiFailure::from_error(&conflict), None);
    }

    #[test]
    fn api_failures_are_their_own_categories() {
        let unreachable = Evidence {
            api_error: Some(ApiFailure::Unreachable(
                "cannot reach Nomad at http://127.0.0.1:1".into(),
            )),
            ..Default::default()
        };
        assert_eq!(diagnose(&unreachable).category, Category::NomadUnreachable);
        let denied = Evidence {
            api_error: Some(ApiFailure::PermissionDenied("permission denied".into())),
            ..Default::default()
        };
        assert!(!diagnose(&denied).fixable);
    }

    #[test]
    fn crash_explanation_carries_exit_code_and_stderr() {
        let mut evidence = with_events(vec![json!({"Type": "Terminated", "ExitCode": 3})]);
        evidence.stderr_tail = vec!["Error: DATABASE_URL is not set".into()];
        insta::assert_snapshot!(diagnose(&evidence).explanation, @r#"
        task "server" of group "app" exited with code 3 after starting; last lines of stderr:
            Error: DATABASE_URL is not set
        "#);
    }

    #[test]
    fn group_demand_reads_the_job() {
        let job = json!({"TaskGroups": [{"Name": "app",
            "Networks": [{"ReservedPorts": [{"Label": "http", "Value": 80}]}],
            "Tasks": [{"Resources": {"MemoryMB": 256, "CPU": 100}},
                      {"Resources": {"MemoryMB": 64}}]}]});
        let demand = GroupDemand::of(&job, "app");
        assert_eq!(demand.memory_mb, Some(320));
        assert_eq!(demand.cpu_mhz, Some(100));
        assert_eq!(demand.static_ports["http"], 80);
        assert_eq!(GroupDemand::of(&job, "other"), GroupDemand::default());
    }
}
