//! Fixes: a diagnosis and the job in, a changed job and a reviewable explanation out, or the
//! reason there is no safe fix.
//!
//! A fix is a short list of `Edit`s (raise a task's memory, make a static port dynamic,
//! remove a constraint, lengthen a health deadline, correct a check path, and the other
//! fields of the LLM's allow-list). The rules propose fixes for the failures they know
//! ([`propose_fix`]); a fix the LLM proposed and the guardrails accepted becomes the same
//! kind of `Fix` ([`advised_fix`]), marked as the LLM's. The same edits apply to the typed
//! `JobSpec`, to the job's API JSON (what is re-registered), and to the user's file: HCL is
//! edited in place with `hcl-edit`, so comments and layout survive; JSON files are rewritten.
//! Pure: text and values in, text and values out.

use std::fmt::Write as _;
use std::sync::LazyLock;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::{Decorate, Decorated, Ident};
use regex::Regex;
use serde::Serialize;
use serde_json::{json, Value};

use super::diagnose::{Category, Diagnosis};
use crate::jobspec::{Constraint, JobSpec, Nanos, Port, UpdateStrategy, SECOND};
use crate::llm::guard::{Change, Field};
use crate::llm::tasks::AdvisedDiagnosis;

/// Nomad's default `MemoryMB` when a task sets none.
const DEFAULT_MEMORY_MB: i64 = 300;
/// Nomad's default `healthy_deadline`.
const DEFAULT_HEALTHY_DEADLINE: Nanos = 300 * SECOND;

/// Bounds on what a fix may change.
#[derive(Debug, Clone, Serialize)]
pub struct FixPolicy {
    /// Memory is never raised above this (MB).
    pub max_memory_mb: i64,
    /// `healthy_deadline` is never raised above this.
    pub max_healthy_deadline: Nanos,
    /// Health-check paths the analyzer found evidence for (routes, Dockerfile HEALTHCHECK).
    pub known_health_paths: Vec<String>,
}

impl Default for FixPolicy {
    fn default() -> Self {
        FixPolicy {
            max_memory_mb: 8192,
            max_healthy_deadline: 15 * 60 * SECOND,
            known_health_paths: Vec::new(),
        }
    }
}

/// One change to a job, addressed by group and task names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "edit", rename_all = "kebab-case")]
pub enum Edit {
    /// Set a task's `memory` (and `memory_max` when it has one).
    SetMemory { group: String, task: String, memory_mb: i64, memory_max_mb: Option<i64> },
    /// Turn a static port into a dynamic one mapped to the same container port.
    PortToDynamic { group: String, label: String, to: i64 },
    /// Remove a constraint (job level when `group` is empty, task level when `task` is set).
    RemoveConstraint { group: String, task: String, constraint: ConstraintText },
    /// Set `healthy_deadline` (and `progress_deadline`) of the group's update block, or of
    /// the job's when `group` is empty.
    SetHealthyDeadline { group: String, healthy_deadline: Nanos, progress_deadline: Option<Nanos> },
    /// Change a service check's HTTP path.
    SetCheckPath { group: String, old_path: String, new_path: String },
    /// Set a task's `cpu` (MHz).
    SetCpu { group: String, task: String, cpu_mhz: i64 },
    /// Set the `image` of a task's driver config.
    SetImage { group: String, task: String, image: String },
    /// Set one environment variable of a task (never a secret: those come from Vault).
    SetEnv { group: String, task: String, name: String, value: String },
    /// Set the port inside the task (`to`) of a group's port label, adding a dynamic port
    /// with that label when the group has none.
    SetPortTo { group: String, label: String, to: i64 },
    /// Set a group's `count`.
    SetCount { group: String, count: i64 },
    /// Add a constraint to a group.
    AddConstraint { group: String, constraint: ConstraintText },
}

/// A constraint as the three strings Nomad prints (`${attr.cpu.arch} = arm64`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConstraintText {
    pub attribute: String,
    pub operator: String,
    pub value: String,
}

impl ConstraintText {
    fn of(constraint: &Constraint) -> ConstraintText {
        ConstraintText {
            attribute: constraint.l_target.clone().unwrap_or_default(),
            operator: constraint.operand.clone().unwrap_or_else(|| "=".into()),
            value: constraint.r_target.clone().unwrap_or_default(),
        }
    }

    /// The form Nomad uses as a key of `ConstraintFiltered`.
    pub fn nomad_key(&self) -> String {
        format!("{} {} {}", self.attribute, self.operator, self.value)
    }
}

/// A proposed fix: the changed job, the edits, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Fix {
    /// The job with the edits applied.
    #[serde(skip)]
    pub spec: JobSpec,
    pub edits: Vec<Edit>,
    /// What was wrong, what changes, and why that should help; for a reviewer.
    pub explanation: String,
    /// Who proposed it.
    pub origin: FixOrigin,
}

/// Who proposed a fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum FixOrigin {
    /// nomad-spec's deterministic rules.
    Rules,
    /// The LLM, for a failure the rules had no fix for; `category` is its diagnosis.
    Llm { category: String },
}

/// Why no fix is proposed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotFixable(pub String);

/// Proposes a fix for a diagnosis, within the policy's bounds.
pub fn propose_fix(
    diagnosis: &Diagnosis,
    spec: &JobSpec,
    policy: &FixPolicy,
) -> Result<Fix, NotFixable> {
    if !diagnosis.fixable {
        return Err(NotFixable(format!(
            "{} failures have no automatic fix: {}",
            diagnosis.category, diagnosis.explanation
        )));
    }
    let (edits, explanation) = match diagnosis.category {
        Category::OutOfMemory => raise_memory(diagnosis, spec, policy)?,
        Category::PortCollision => dynamic_port(diagnosis, spec)?,
        Category::ConstraintFiltered => remove_constraint(diagnosis, spec)?,
        Category::UnhealthyByDeadline => lengthen_deadline(diagnosis, spec, policy)?,
        Category::HealthCheckFailing => fix_check(diagnosis, spec, policy)?,
        other => return Err(NotFixable(format!("{other} failures have no automatic fix"))),
    };
    let mut changed = spec.clone();
    for edit in &edits {
        apply_to_spec(&mut changed, edit);
    }
    Ok(Fix { spec: changed, edits, explanation, origin: FixOrigin::Rules })
}

/// The LLM's diagnosis as a fix: its changes (already through the guardrails: allow-list,
/// bounds, a valid job) as edits of the job, within the policy's bounds. The edits must
/// change the typed job exactly as the guardrails' patch did, so what is written into the
/// file is what was checked; otherwise there is no fix. The explanation starts with
/// "LLM diagnosis" so a reviewer knows where it came from.
pub fn advised_fix(
    advised: &AdvisedDiagnosis,
    spec: &JobSpec,
    policy: &FixPolicy,
) -> Result<Fix, NotFixable> {
    let Some(patched) = &advised.fix else {
        return Err(NotFixable(format!(
            "the LLM diagnosed `{}` without proposing a change",
            advised.category
        )));
    };
    let mut edits = Vec::new();
    for (index, change) in patched.changes.iter().enumerate() {
        let more = edits_for_change(spec, change).map_err(|why| {
            NotFixable(format!("the LLM's change {} ({}): {why}", index + 1, change.field))
        })?;
        edits.extend(more);
    }
    for edit in &edits {
        if let Edit::SetMemory { task, memory_mb, .. } = edit {
            if *memory_mb > policy.max_memory_mb {
                return Err(NotFixable(format!(
                    "the LLM would give task \"{task}\" {memory_mb} MB, more than the {} MB \
                     nomad-spec ever gives automatically",
                    policy.max_memory_mb
                )));
            }
        }
    }
    let mut changed = spec.clone();
    for edit in &edits {
        apply_to_spec(&mut changed, edit);
    }
    if changed != patched.spec {
        return Err(NotFixable(
            "the LLM's changes cannot be written as edits of the job (a check without a path, \
             or a field in a shape nomad-spec does not edit)"
                .into(),
        ));
    }
    let explanation = format!(
        "LLM diagnosis (`{}`): {} Changes: {}. Proposed by the LLM for a failure nomad-spec's \
         rules had no fix for, and accepted by its guardrails (allow-listed fields, bounds, a \
         valid job); review it like any other change.",
        advised.category,
        advised.explanation.trim(),
        patched.applied.join("; ")
    );
    Ok(Fix {
        spec: changed,
        edits,
        explanation,
        origin: FixOrigin::Llm { category: advised.category.clone() },
    })
}

/// The edits one allow-listed change stands for, with names resolved the way the
/// guardrails resolve them (an empty task is the group's only task).
fn edits_for_change(spec: &JobSpec, change: &Change) -> Result<Vec<Edit>, String> {
    let field = Field::parse(&change.field)?;
    let (name, value) = (change.name.trim(), change.value.trim());
    let group = spec
        .groups()
        .iter()
        .find(|g| g.name == change.group)
        .ok_or_else(|| format!("no group `{}`", change.group))?;
    let task = || {
        if change.task.is_empty() && group.tasks.len() == 1 {
            return Ok(&group.tasks[0]);
        }
        group
            .tasks
            .iter()
            .find(|t| t.name == change.task)
            .ok_or_else(|| format!("no task `{}` in group `{}`", change.task, group.name))
    };
    let number =
        |text: &str| text.parse::<i64>().map_err(|_| format!("`{text}` is not a whole number"));
    let group_name = group.name.clone();
    Ok(match field {
        Field::Image => vec![Edit::SetImage {
            group: group_name,
            task: task()?.name.clone(),
            image: value.to_string(),
        }],
        Field::Memory => {
            let task = task()?;
            let memory_mb = number(value)?;
            let max = task.resources.as_ref().and_then(|r| r.memory_max_mb);
            vec![Edit::SetMemory {
                group: group_name,
                task: task.name.clone(),
                memory_mb,
                memory_max_mb: max.filter(|&max| max < memory_mb).map(|_| memory_mb),
            }]
        }
        Field::Cpu => vec![Edit::SetCpu {
            group: group_name,
            task: task()?.name.clone(),
            cpu_mhz: number(value)?,
        }],
        Field::Env => vec![Edit::SetEnv {
            group: group_name,
            task: task()?.name.clone(),
            name: name.to_string(),
            value: value.to_string(),
        }],
        Field::Port => {
            vec![Edit::SetPortTo { group: group_name, label: name.to_string(), to: number(value)? }]
        }
        Field::Count => vec![Edit::SetCount { group: group_name, count: number(value)? }],
        Field::HealthCheck => {
            let task_services = group.tasks.iter().flat_map(|t| t.services.iter().flatten());
            let mut old_paths: Vec<String> = Vec::new();
            for check in group
                .services
                .iter()
                .flatten()
                .chain(task_services)
                .flat_map(|s| s.checks.iter().flatten())
                .filter(|c| c.r#type == "http")
            {
                let old = check.path.clone().unwrap_or_default();
                if old != value && !old_paths.contains(&old) {
                    old_paths.push(old);
                }
            }
            old_paths
                .into_iter()
                .map(|old_path| Edit::SetCheckPath {
                    group: group_name.clone(),
                    old_path,
                    new_path: value.to_string(),
                })
                .collect()
        }
        Field::Constraint => {
            let (operator, target) = value.split_once(' ').unwrap_or((value, ""));
            vec![Edit::AddConstraint {
                group: group_name,
                constraint: ConstraintText {
                    attribute: name.to_string(),
                    operator: operator.to_string(),
                    value: target.trim().to_string(),
                },
            }]
        }
    })
}

fn find_group<'a>(
    spec: &'a JobSpec,
    group: &str,
) -> Result<&'a crate::jobspec::TaskGroup, NotFixable> {
    spec.groups()
        .iter()
        .find(|g| g.name == group)
        .or_else(|| if spec.groups().len() == 1 { spec.groups().first() } else { None })
        .ok_or_else(|| NotFixable(format!("the job has no task group \"{group}\"")))
}

fn raise_memory(
    diagnosis: &Diagnosis,
    spec: &JobSpec,
    policy: &FixPolicy,
) -> Result<(Vec<Edit>, String), NotFixable> {
    let group = find_group(spec, &diagnosis.group)?;
    let task = group
        .tasks
        .iter()
        .find(|t| t.name == diagnosis.task)
        .or_else(|| if group.tasks.len() == 1 { group.tasks.first() } else { None })
        .ok_or_else(|| NotFixable(format!("the group has no task \"{}\"", diagnosis.task)))?;
    let resources = task.resources.clone().unwrap_or_default();
    let current = resources.memory_mb.unwrap_or(DEFAULT_MEMORY_MB);
    if current >= policy.max_memory_mb {
        return Err(NotFixable(format!(
            "task \"{}\" already has {current} MB, the most nomad-spec will give it \
             ({} MB); look for a memory leak or raise the limit by hand",
            task.name, policy.max_memory_mb
        )));
    }
    // Double small tasks, add half to large ones, in 64 MB steps.
    let raised = if current < 1024 { current * 2 } else { current + current / 2 };
    let memory_mb = (((raised + 63) / 64) * 64).min(policy.max_memory_mb);
    let memory_max_mb =
        resources.memory_max_mb.filter(|&max| max > 0).map(|max| max.max(memory_mb * 2));
    let mut explanation = format!(
        "Task \"{}\" in group \"{}\" was OOM-killed with memory = {current} MB. Raised memory \
         to {memory_mb} MB",
        task.name, group.name
    );
    if let Some(max) = memory_max_mb {
        let _ = write!(explanation, " and memory_max to {max} MB so it stays above memory");
    }
    let _ =
        write!(explanation, " (at most {} MB are ever given automatically).", policy.max_memory_mb);
    Ok((
        vec![Edit::SetMemory {
            group: group.name.clone(),
            task: task.name.clone(),
            memory_mb,
            memory_max_mb,
        }],
        explanation,
    ))
}

fn dynamic_port(diagnosis: &Diagnosis, spec: &JobSpec) -> Result<(Vec<Edit>, String), NotFixable> {
    let group = find_group(spec, &diagnosis.group)?;
    let statics: Vec<&Port> =
        group.networks.iter().flatten().flat_map(|n| n.reserved_ports.iter().flatten()).collect();
    // The scheduler names the port: "network: reserved port collision http=80".
    let named = diagnosis
        .signal
        .split("port collision")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pair| pair.split('=').next())
        .map(str::to_string);
    let colliding: Vec<&Port> = match &named {
        Some(label) => statics.iter().copied().filter(|p| &p.label == label).collect(),
        None => statics.clone(),
    };
    if colliding.is_empty() {
        return Err(NotFixable(format!(
            "group \"{}\" has no static port{} to make dynamic",
            group.name,
            named.map(|l| format!(" \"{l}\"")).unwrap_or_default()
        )));
    }
    let mut edits = Vec::new();
    let mut explanation = String::new();
    for port in colliding {
        let value = port.value.unwrap_or_default();
        let to = port.to.filter(|&to| to > 0).unwrap_or(value);
        edits.push(Edit::PortToDynamic {
            group: group.name.clone(),
            label: port.label.clone(),
            to,
        });
        let _ = write!(
            explanation,
            "Static port \"{}\" = {value} in group \"{}\" is already taken on every node that \
             fits. Made it dynamic (Nomad picks a free host port) mapped to port {to} inside \
             the task, so the application still listens where it did; services find it \
             through the port label. ",
            port.label, group.name
        );
    }
    Ok((edits, explanation.trim_end().to_string()))
}

fn remove_constraint(
    diagnosis: &Diagnosis,
    spec: &JobSpec,
) -> Result<(Vec<Edit>, String), NotFixable> {
    let filtered: Vec<&str> = diagnosis.signal.split(", ").collect();
    let mut scopes: Vec<(String, String, &Vec<Constraint>)> = Vec::new();
    if let Some(constraints) = &spec.constraints {
        scopes.push((String::new(), String::new(), constraints));
    }
    for group in spec.groups() {
        if let Some(constraints) = &group.constraints {
            scopes.push((group.name.clone(), String::new(), constraints));
        }
        for task in &group.tasks {
            if let Some(constraints) = &task.constraints {
                scopes.push((group.name.clone(), task.name.clone(), constraints));
            }
        }
    }
    let mut edits = Vec::new();
    for (group, task, constraints) in scopes {
        for constraint in constraints {
            let text = ConstraintText::of(constraint);
            if filtered.contains(&text.nomad_key().as_str()) {
                edits.push(Edit::RemoveConstraint {
                    group: group.clone(),
                    task: task.clone(),
                    constraint: text,
                });
            }
        }
    }
    if edits.is_empty() {
        return Err(NotFixable(format!(
            "the constraint that filtered every node ({}) is not in the job file; it may come \
             from the cluster (node pool, datacenter) and needs a person to decide",
            diagnosis.signal
        )));
    }
    let removed: Vec<String> = edits
        .iter()
        .filter_map(|e| match e {
            Edit::RemoveConstraint { constraint, .. } => {
                Some(format!("`{}`", constraint.nomad_key()))
            }
            _ => None,
        })
        .collect();
    let explanation = format!(
        "No node satisfies constraint {}, so nothing could be placed ({}). Removed it; if \
         the job really needs it (an image built only for that platform, say), revert this \
         change and add matching nodes instead.",
        removed.join(" and "),
        diagnosis.explanation
    );
    Ok((edits, explanation))
}

/// The update block that governs a group and whether it is the group's own.
fn effective_update(spec: &JobSpec, group: &str) -> (String, UpdateStrategy) {
    let own = spec.groups().iter().find(|g| g.name == group).and_then(|g| g.update.clone());
    match (own, &spec.update) {
        (Some(update), _) if update.healthy_deadline.is_some() => (group.to_string(), update),
        (_, Some(update)) if update.healthy_deadline.is_some() => (String::new(), update.clone()),
        (Some(update), _) => (group.to_string(), update),
        (None, _) => (group.to_string(), UpdateStrategy::default()),
    }
}

fn lengthen_deadline(
    diagnosis: &Diagnosis,
    spec: &JobSpec,
    policy: &FixPolicy,
) -> Result<(Vec<Edit>, String), NotFixable> {
    let group = find_group(spec, &diagnosis.group)?;
    let (scope, update) = effective_update(spec, &group.name);
    let current = update.healthy_deadline.unwrap_or(DEFAULT_HEALTHY_DEADLINE);
    if current >= policy.max_healthy_deadline {
        return Err(NotFixable(format!(
            "healthy_deadline is already {}; the allocations are not slow to start but \
             unhealthy: {}",
            format_duration(current),
            diagnosis.explanation
        )));
    }
    let healthy_deadline = (current * 2).max(60 * SECOND).min(policy.max_healthy_deadline);
    // Nomad requires progress_deadline > healthy_deadline (0 disables it).
    let progress_deadline = match update.progress_deadline {
        Some(0) => None,
        Some(progress) if progress > healthy_deadline => None,
        _ => Some(healthy_deadline + 5 * 60 * SECOND),
    };
    let mut explanation = format!(
        "The allocations of group \"{}\" did not become healthy within healthy_deadline = {}. \
         Lengthened it to {}",
        group.name,
        format_duration(current),
        format_duration(healthy_deadline)
    );
    if let Some(progress) = progress_deadline {
        let _ = write!(explanation, " and progress_deadline to {}", format_duration(progress));
    }
    explanation.push_str(" to give a slow start the time it needs.");
    Ok((
        vec![Edit::SetHealthyDeadline { group: scope, healthy_deadline, progress_deadline }],
        explanation,
    ))
}

fn fix_check(
    diagnosis: &Diagnosis,
    spec: &JobSpec,
    policy: &FixPolicy,
) -> Result<(Vec<Edit>, String), NotFixable> {
    let group = find_group(spec, &diagnosis.group)?;
    let services = group
        .services
        .iter()
        .flatten()
        .chain(group.tasks.iter().flat_map(|t| t.services.iter().flatten()));
    let http_paths: Vec<String> = services
        .flat_map(|s| s.checks.iter().flatten())
        .filter(|c| c.r#type == "http")
        .filter_map(|c| c.path.clone())
        .collect();
    for old_path in &http_paths {
        if let Some(new_path) = policy.known_health_paths.iter().find(|p| !http_paths.contains(p)) {
            let explanation = format!(
                "The HTTP check on {old_path} of group \"{}\" keeps failing, and the \
                 application serves its health endpoint on {new_path} (found in the \
                 repository). Changed the check path to {new_path}.",
                group.name
            );
            return Ok((
                vec![Edit::SetCheckPath {
                    group: group.name.clone(),
                    old_path: old_path.clone(),
                    new_path: new_path.clone(),
                }],
                explanation,
            ));
        }
    }
    let (_, update) = effective_update(spec, &group.name);
    let deadline = update.healthy_deadline.unwrap_or(DEFAULT_HEALTHY_DEADLINE);
    if deadline < 60 * SECOND {
        return lengthen_deadline(diagnosis, spec, policy);
    }
    Err(NotFixable(format!(
        "the health checks of group \"{}\" keep failing and nomad-spec has no evidence of a \
         better check path; look at the application's logs ({})",
        group.name, diagnosis.explanation
    )))
}

/// A duration as Nomad's HCL writes it: `10m`, `90s`, `1h30m`.
pub fn format_duration(nanos: Nanos) -> String {
    let mut seconds = nanos / SECOND;
    if seconds == 0 {
        return format!("{}ms", nanos / 1_000_000);
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] {
        if seconds >= size {
            let _ = write!(out, "{}{unit}", seconds / size);
            seconds %= size;
        }
    }
    out
}

/// Applies an edit to the typed job.
pub fn apply_to_spec(spec: &mut JobSpec, edit: &Edit) {
    match edit {
        Edit::SetMemory { group, task, memory_mb, memory_max_mb } => {
            for t in spec
                .groups_mut()
                .iter_mut()
                .filter(|g| &g.name == group)
                .flat_map(|g| g.tasks.iter_mut())
                .filter(|t| &t.name == task)
            {
                let resources = t.resources.get_or_insert_with(Default::default);
                resources.memory_mb = Some(*memory_mb);
                if memory_max_mb.is_some() {
                    resources.memory_max_mb = *memory_max_mb;
                }
            }
        }
        Edit::PortToDynamic { group, label, to } => {
            for g in spec.groups_mut().iter_mut().filter(|g| &g.name == group) {
                for network in g.networks.iter_mut().flatten() {
                    let Some(reserved) = network.reserved_ports.as_mut() else { continue };
                    let Some(at) = reserved.iter().position(|p| &p.label == label) else {
                        continue;
                    };
                    let mut port = reserved.remove(at);
                    port.value = None;
                    port.to = Some(*to);
                    network.dynamic_ports.get_or_insert_with(Vec::new).push(port);
                }
            }
        }
        Edit::RemoveConstraint { group, task, constraint } => {
            let keep = |c: &Constraint| &ConstraintText::of(c) != constraint;
            if group.is_empty() {
                if let Some(list) = spec.constraints.as_mut() {
                    list.retain(keep);
                }
                return;
            }
            for g in spec.groups_mut().iter_mut().filter(|g| &g.name == group) {
                if task.is_empty() {
                    if let Some(list) = g.constraints.as_mut() {
                        list.retain(keep);
                    }
                }
                for t in g.tasks.iter_mut().filter(|t| &t.name == task) {
                    if let Some(list) = t.constraints.as_mut() {
                        list.retain(keep);
                    }
                }
            }
        }
        Edit::SetHealthyDeadline { group, healthy_deadline, progress_deadline } => {
            let update = if group.is_empty() {
                Some(spec.update.get_or_insert_with(Default::default))
            } else {
                spec.groups_mut()
                    .iter_mut()
                    .find(|g| &g.name == group)
                    .map(|g| g.update.get_or_insert_with(Default::default))
            };
            if let Some(update) = update {
                update.healthy_deadline = Some(*healthy_deadline);
                if progress_deadline.is_some() {
                    update.progress_deadline = *progress_deadline;
                }
            }
        }
        Edit::SetCheckPath { group, old_path, new_path } => {
            for g in spec.groups_mut().iter_mut().filter(|g| &g.name == group) {
                let task_services =
                    g.tasks.iter_mut().flat_map(|t| t.services.iter_mut().flatten());
                for service in g.services.iter_mut().flatten().chain(task_services) {
                    for check in service.checks.iter_mut().flatten() {
                        if check.path.as_deref() == Some(old_path) {
                            check.path = Some(new_path.clone());
                        }
                    }
                }
            }
        }
        Edit::SetCpu { group, task, cpu_mhz } => {
            for t in tasks_mut(spec, group, task) {
                t.resources.get_or_insert_with(Default::default).cpu = Some(*cpu_mhz);
            }
        }
        Edit::SetImage { group, task, image } => {
            for t in tasks_mut(spec, group, task) {
                t.config.get_or_insert_with(Default::default).insert("image".into(), json!(image));
            }
        }
        Edit::SetEnv { group, task, name, value } => {
            for t in tasks_mut(spec, group, task) {
                t.env.get_or_insert_with(Default::default).insert(name.clone(), value.clone());
            }
        }
        Edit::SetPortTo { group, label, to } => {
            for g in spec.groups_mut().iter_mut().filter(|g| &g.name == group) {
                g.set_port_to(label, *to);
            }
        }
        Edit::SetCount { group, count } => {
            for g in spec.groups_mut().iter_mut().filter(|g| &g.name == group) {
                g.count = Some(*count);
            }
        }
        Edit::AddConstraint { group, constraint } => {
            for g in spec.groups_mut().iter_mut().filter(|g| &g.name == group) {
                g.constraints.get_or_insert_with(Vec::new).push(Constraint {
                    l_target: Some(constraint.attribute.clone()),
                    operand: Some(constraint.operator.clone()),
                    r_target: Some(constraint.value.clone()),
                });
            }
        }
    }
}

/// The tasks named `task` in groups named `group`.
fn tasks_mut<'a>(
    spec: &'a mut JobSpec,
    group: &'a str,
    task: &'a str,
) -> impl Iterator<Item = &'a mut crate::jobspec::Task> {
    spec.groups_mut()
        .iter_mut()
        .filter(move |g| g.name == group)
        .flat_map(|g| g.tasks.iter_mut())
        .filter(move |t| t.name == task)
}

fn named_mut<'a>(
    list: Option<&'a mut Value>,
    name: &'a str,
) -> impl Iterator<Item = &'a mut Value> {
    list.and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(move |item| item.get("Name").and_then(Value::as_str) == Some(name))
}

fn constraint_matches(value: &Value, wanted: &ConstraintText) -> bool {
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let operand = Some(text("Operand")).filter(|o| !o.is_empty()).unwrap_or_else(|| "=".into());
    text("LTarget") == wanted.attribute
        && operand == wanted.operator
        && text("RTarget") == wanted.value
}

/// Applies an edit to a job in Nomad's API JSON (the `Job` object), keeping every field the
/// typed model does not know.
pub fn apply_to_json(job: &mut Value, edit: &Edit) {
    match edit {
        Edit::SetMemory { group, task, memory_mb, memory_max_mb } => {
            for g in named_mut(job.get_mut("TaskGroups"), group) {
                for t in named_mut(g.get_mut("Tasks"), task) {
                    if !t.get("Resources").is_some_and(Value::is_object) {
                        t["Resources"] = json!({});
                    }
                    t["Resources"]["MemoryMB"] = json!(memory_mb);
                    if let Some(max) = memory_max_mb {
                        t["Resources"]["MemoryMaxMB"] = json!(max);
                    }
                }
            }
        }
        Edit::PortToDynamic { group, label, to } => {
            for g in named_mut(job.get_mut("TaskGroups"), group) {
                let Some(networks) = g.get_mut("Networks").and_then(Value::as_array_mut) else {
                    continue;
                };
                for network in networks {
                    let Some(reserved) =
                        network.get_mut("ReservedPorts").and_then(Value::as_array_mut)
                    else {
                        continue;
                    };
                    let Some(at) = reserved
                        .iter()
                        .position(|p| p.get("Label").and_then(Value::as_str) == Some(label))
                    else {
                        continue;
                    };
                    let mut port = reserved.remove(at);
                    port["Value"] = json!(0);
                    port["To"] = json!(to);
                    if !network.get("DynamicPorts").is_some_and(Value::is_array) {
                        network["DynamicPorts"] = json!([]);
                    }
                    if let Some(dynamic) = network["DynamicPorts"].as_array_mut() {
                        dynamic.push(port);
                    }
                }
            }
        }
        Edit::RemoveConstraint { group, task, constraint } => {
            let retain = |holder: &mut Value| {
                if let Some(list) = holder.get_mut("Constraints").and_then(Value::as_array_mut) {
                    list.retain(|c| !constraint_matches(c, constraint));
                }
            };
            if group.is_empty() {
                retain(job);
                return;
            }
            for g in named_mut(job.get_mut("TaskGroups"), group) {
                if task.is_empty() {
                    retain(g);
                } else {
                    for t in named_mut(g.get_mut("Tasks"), task) {
                        retain(t);
                    }
                }
            }
        }
        Edit::SetHealthyDeadline { group, healthy_deadline, progress_deadline } => {
            let set = |holder: &mut Value| {
                if !holder.get("Update").is_some_and(Value::is_object) {
                    holder["Update"] = json!({});
                }
                holder["Update"]["HealthyDeadline"] = json!(healthy_deadline);
                if let Some(progress) = progress_deadline {
                    holder["Update"]["ProgressDeadline"] = json!(progress);
                }
            };
            if group.is_empty() {
                set(job);
                // Nomad copies the job's update block into each group when registering.
                for g in
                    job.get_mut("TaskGroups").and_then(Value::as_array_mut).into_iter().flatten()
                {
                    if g.get("Update").is_some_and(Value::is_object) {
                        set(g);
                    }
                }
            } else {
                for g in named_mut(job.get_mut("TaskGroups"), group) {
                    set(g);
                }
            }
        }
        Edit::SetCheckPath { group, old_path, new_path } => {
            for g in named_mut(job.get_mut("TaskGroups"), group) {
                let mut services: Vec<&mut Value> = Vec::new();
                let (group_services, tasks) = split_services_tasks(g);
                services.extend(group_services.into_iter().flatten());
                for t in tasks.into_iter().flatten() {
                    if let Some(list) = t.get_mut("Services").and_then(Value::as_array_mut) {
                        services.extend(list.iter_mut());
                    }
                }
                for service in services {
                    for check in service
                        .get_mut("Checks")
                        .and_then(Value::as_array_mut)
                        .into_iter()
                        .flatten()
                    {
                        if check.get("Path").and_then(Value::as_str) == Some(old_path) {
                            check["Path"] = json!(new_path);
                        }
                    }
                }
            }
        }
        Edit::SetCpu { group, task, cpu_mhz } => {
            for t in json_tasks_mut(job, group, task) {
                object_at(t, "Resources")["CPU"] = json!(cpu_mhz);
            }
        }
        Edit::SetImage { group, task, image } => {
            for t in json_tasks_mut(job, group, task) {
                object_at(t, "Config")["image"] = json!(image);
            }
        }
        Edit::SetEnv { group, task, name, value } => {
            for t in json_tasks_mut(job, group, task) {
                object_at(t, "Env")[name.as_str()] = json!(value);
            }
        }
        Edit::SetPortTo { group, label, to } => {
            for g in named_mut(job.get_mut("TaskGroups"), group) {
                if g.get("Networks").and_then(Value::as_array).is_none_or(Vec::is_empty) {
                    g["Networks"] = json!([{}]);
                }
                let Some(networks) = g.get_mut("Networks").and_then(Value::as_array_mut) else {
                    continue;
                };
                let existing = networks
                    .iter_mut()
                    .flat_map(|n| {
                        let Some(object) = n.as_object_mut() else { return Vec::new() };
                        object
                            .iter_mut()
                            .filter(|(key, _)| *key == "ReservedPorts" || *key == "DynamicPorts")
                            .filter_map(|(_, ports)| ports.as_array_mut())
                            .flat_map(|ports| ports.iter_mut())
                            .collect::<Vec<_>>()
                    })
                    .find(|p| p.get("Label").and_then(Value::as_str) == Some(label));
                match existing {
                    Some(port) => port["To"] = json!(to),
                    None => {
                        let first = &mut networks[0];
                        if !first.get("DynamicPorts").is_some_and(Value::is_array) {
                            first["DynamicPorts"] = json!([]);
                        }
                        if let Some(dynamic) = first["DynamicPorts"].as_array_mut() {
                            dynamic.push(json!({"Label": label, "Value": 0, "To": to}));
                        }
                    }
                }
            }
        }
        Edit::SetCount { group, count } => {
            for g in named_mut(job.get_mut("TaskGroups"), group) {
                g["Count"] = json!(count);
            }
        }
        Edit::AddConstraint { group, constraint } => {
            for g in named_mut(job.get_mut("TaskGroups"), group) {
                if !g.get("Constraints").is_some_and(Value::is_array) {
                    g["Constraints"] = json!([]);
                }
                if let Some(list) = g["Constraints"].as_array_mut() {
                    list.push(json!({
                        "LTarget": constraint.attribute,
                        "RTarget": constraint.value,
                        "Operand": constraint.operator,
                    }));
                }
            }
        }
    }
}

/// The tasks named `task` in groups named `group` of a job's API JSON.
fn json_tasks_mut<'a>(
    job: &'a mut Value,
    group: &'a str,
    task: &'a str,
) -> impl Iterator<Item = &'a mut Value> {
    named_mut(job.get_mut("TaskGroups"), group)
        .flat_map(move |g| named_mut(g.get_mut("Tasks"), task))
}

/// The object under `key`, made an empty object first when it is missing or not one.
fn object_at<'a>(holder: &'a mut Value, key: &str) -> &'a mut Value {
    if !holder.get(key).is_some_and(Value::is_object) {
        holder[key] = json!({});
    }
    &mut holder[key]
}

/// The group's services and tasks, borrowed together.
fn split_services_tasks(
    group: &mut Value,
) -> (Option<std::slice::IterMut<'_, Value>>, Option<std::slice::IterMut<'_, Value>>) {
    let Some(object) = group.as_object_mut() else { return (None, None) };
    let mut services = None;
    let mut tasks = None;
    for (key, value) in object.iter_mut() {
        match key.as_str() {
            "Services" => services = value.as_array_mut().map(|list| list.iter_mut()),
            "Tasks" => tasks = value.as_array_mut().map(|list| list.iter_mut()),
            _ => {}
        }
    }
    (services, tasks)
}

/// Why an edit could not be written into an HCL file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct WriteBackError {
    pub file: String,
    pub message: String,
}

/// Applies edits to an HCL job file's text, changing only the attributes and blocks the
/// edits name; everything else (comments, alignment, blank lines) is kept byte for byte.
pub fn apply_to_hcl(source: &str, file: &str, edits: &[Edit]) -> Result<String, WriteBackError> {
    let fail = |message: String| WriteBackError { file: file.to_string(), message };
    let mut body: Body = source
        .parse()
        .map_err(|err| fail(format!("cannot be edited: it does not parse as HCL: {err}")))?;
    let job = body
        .blocks_mut()
        .find(|b| b.has_ident("job"))
        .ok_or_else(|| fail("has no job block".into()))?;
    for edit in edits {
        edit_hcl_job(&mut job.body, edit).map_err(fail)?;
    }
    Ok(body.to_string())
}

fn block_mut<'a>(body: &'a mut Body, ident: &str, label: &str) -> Result<&'a mut Block, String> {
    body.blocks_mut()
        .find(|b| b.has_ident(ident) && b.labels.first().map(|l| l.as_str()) == Some(label))
        .ok_or_else(|| format!("has no {ident} \"{label}\" block"))
}

/// The text of a literal or simple template expression (`"${attr.cpu.arch}"` → `${attr.cpu.arch}`).
fn expression_text(expr: &Expression) -> String {
    if let Some(text) = expr.as_str() {
        return text.to_string();
    }
    let mut plain = expr.clone();
    plain.decor_mut().clear();
    let text = plain.to_string();
    text.trim().trim_matches('"').to_string()
}

/// Sets an attribute, keeping its decoration (indent, alignment, trailing comment); a new
/// attribute is indented like its siblings (or one step in from the closing brace).
fn set_attribute(body: &mut Body, key: &str, value: Expression) {
    if let Some(mut attr) = body.get_attribute_mut(key) {
        let decor = attr.value_mut().decor().clone();
        let mut value = value;
        *value.decor_mut() = decor;
        *attr.value_mut() = value;
        return;
    }
    let mut attribute = Attribute::new(Decorated::new(Ident::new(key)), value);
    // A one-line block (`port "http" { static = 80 }`) keeps its own spacing.
    if !body.prefer_oneline() {
        attribute.decor_mut().set_prefix(child_indent(body));
        // Lined up with the attributes above it when they share an `=` column.
        if let Some(column) = trailing_equals_column(body).filter(|&c| c > key.len()) {
            attribute.key.decor_mut().set_suffix(" ".repeat(column - key.len()));
        }
    }
    body.push(attribute);
}

/// The column of `=` (counted from the key's start) shared by the run of attributes that
/// ends the body, if they share one.
fn trailing_equals_column(body: &Body) -> Option<usize> {
    let mut column = None;
    for index in (0..body.len()).rev() {
        let Some(Structure::Attribute(attribute)) = body.get(index) else { break };
        let suffix: &str = attribute.key.decor().suffix().map_or(" ", |suffix| suffix);
        if !suffix.chars().all(|c| c == ' ') {
            return None;
        }
        let at = attribute.key.as_str().len() + suffix.len();
        match column {
            None => column = Some(at),
            Some(shared) if shared != at => return None,
            Some(_) => {}
        }
        // A blank line or a comment above ends the run.
        if attribute.decor().prefix().is_some_and(|p| p.contains('\n') || p.contains('#')) {
            break;
        }
    }
    column
}

/// The indentation of a body's children: that of an existing child, else one step in from
/// the closing brace.
fn child_indent(body: &Body) -> String {
    let existing = body.iter().find_map(|s| {
        let prefix = match s {
            Structure::Attribute(a) => a.decor().prefix(),
            Structure::Block(b) => b.decor().prefix(),
        }?;
        let text: &str = prefix;
        Some(text.rsplit('\n').next().unwrap_or(text).to_string())
    });
    existing.unwrap_or_else(|| {
        let closing: &str = body.decor().suffix().map_or("", |suffix| suffix);
        format!("{}  ", closing.rsplit('\n').next().unwrap_or(closing))
    })
}

/// Adds an empty block (with an optional label) at `at`, or at the end, indented like its
/// siblings and with its closing brace lined up with its first line.
fn new_block<'a>(
    body: &'a mut Body,
    ident: &str,
    label: Option<&str>,
    at: Option<usize>,
) -> &'a mut Block {
    let indent = child_indent(body);
    // Blocks set apart by a blank line in this body get one too.
    let spaced = body.iter().skip(1).any(|s| {
        matches!(s, Structure::Block(b) if b.decor().prefix().is_some_and(|p| p.starts_with('\n')))
    });
    let mut block = match label {
        Some(label) => Block::builder(Decorated::new(Ident::new(ident))).label(label).build(),
        None => Block::new(Decorated::new(Ident::new(ident))),
    };
    let prefix = if spaced { format!("\n{indent}") } else { indent.clone() };
    block.decor_mut().set_prefix(prefix);
    block.body.decor_mut().set_suffix(indent);
    let at = at.unwrap_or(body.len()).min(body.len());
    body.insert(at, block);
    match body.get_mut(at).and_then(Structure::as_block_mut) {
        Some(block) => block,
        None => unreachable!("the block was inserted above"),
    }
}

fn remove_attribute(body: &mut Body, key: &str) {
    body.remove_attribute(key);
}

fn child_block<'a>(body: &'a mut Body, ident: &str) -> &'a mut Block {
    if !body.blocks().any(|b| b.has_ident(ident)) {
        new_block(body, ident, None, None);
    }
    // Present: either found or just pushed.
    let position = body.iter().position(|s| matches!(s, Structure::Block(b) if b.has_ident(ident)));
    match position.and_then(|at| body.get_mut(at)).and_then(Structure::as_block_mut) {
        Some(block) => block,
        None => unreachable!("the block was pushed above"),
    }
}

fn edit_hcl_job(job: &mut Body, edit: &Edit) -> Result<(), String> {
    match edit {
        Edit::SetMemory { group, task, memory_mb, memory_max_mb } => {
            let task = block_mut(&mut block_mut(job, "group", group)?.body, "task", task)?;
            let resources = child_block(&mut task.body, "resources");
            check_literal(&resources.body, "memory")?;
            set_attribute(&mut resources.body, "memory", Expression::from(*memory_mb));
            if let Some(max) = memory_max_mb {
                check_literal(&resources.body, "memory_max")?;
                set_attribute(&mut resources.body, "memory_max", Expression::from(*max));
            }
        }
        Edit::PortToDynamic { group, label, to } => {
            let group = block_mut(job, "group", group)?;
            let mut done = false;
            for network in group.body.blocks_mut().filter(|b| b.has_ident("network")) {
                if let Ok(port) = block_mut(&mut network.body, "port", label) {
                    remove_attribute(&mut port.body, "static");
                    if !port.body.has_attribute("to") {
                        set_attribute(&mut port.body, "to", Expression::from(*to));
                    }
                    done = true;
                }
            }
            if !done {
                return Err(format!("has no port \"{label}\" in a network block"));
            }
        }
        Edit::RemoveConstraint { group, task, constraint } => {
            let body = if group.is_empty() {
                job
            } else if task.is_empty() {
                &mut block_mut(job, "group", group)?.body
            } else {
                &mut block_mut(&mut block_mut(job, "group", group)?.body, "task", task)?.body
            };
            let matches = |block: &Block| {
                let text = |key: &str| {
                    block
                        .body
                        .get_attribute(key)
                        .map(|a| expression_text(&a.value))
                        .unwrap_or_default()
                };
                let operator =
                    Some(text("operator")).filter(|o| !o.is_empty()).unwrap_or_else(|| "=".into());
                block.has_ident("constraint")
                    && text("attribute") == constraint.attribute
                    && text("value") == constraint.value
                    && operator == constraint.operator
            };
            let at = body
                .iter()
                .position(|s| matches!(s, Structure::Block(b) if matches(b)))
                .ok_or_else(|| {
                    format!("has no constraint block for `{}`", constraint.nomad_key())
                })?;
            body.remove(at);
        }
        Edit::SetHealthyDeadline { group, healthy_deadline, progress_deadline } => {
            let holder =
                if group.is_empty() { job } else { &mut block_mut(job, "group", group)?.body };
            let update = child_block(holder, "update");
            set_attribute(
                &mut update.body,
                "healthy_deadline",
                Expression::from(format_duration(*healthy_deadline)),
            );
            if let Some(progress) = progress_deadline {
                set_attribute(
                    &mut update.body,
                    "progress_deadline",
                    Expression::from(format_duration(*progress)),
                );
            }
        }
        Edit::SetCheckPath { group, old_path, new_path } => {
            let group = block_mut(job, "group", group)?;
            let mut done = false;
            let mut visit = |services: &mut Body| {
                for service in services.blocks_mut().filter(|b| b.has_ident("service")) {
                    for check in service.body.blocks_mut().filter(|b| b.has_ident("check")) {
                        let path =
                            check.body.get_attribute("path").map(|a| expression_text(&a.value));
                        if path.as_deref() == Some(old_path.as_str()) {
                            set_attribute(
                                &mut check.body,
                                "path",
                                Expression::from(new_path.as_str()),
                            );
                            done = true;
                        }
                    }
                }
            };
            visit(&mut group.body);
            for task in group.body.blocks_mut().filter(|b| b.has_ident("task")) {
                visit(&mut task.body);
            }
            if !done {
                return Err(format!("has no check with path {old_path}"));
            }
        }
        Edit::SetCpu { group, task, cpu_mhz } => {
            let task = block_mut(&mut block_mut(job, "group", group)?.body, "task", task)?;
            let resources = child_block(&mut task.body, "resources");
            check_literal(&resources.body, "cpu")?;
            set_attribute(&mut resources.body, "cpu", Expression::from(*cpu_mhz));
        }
        Edit::SetImage { group, task, image } => {
            let task = block_mut(&mut block_mut(job, "group", group)?.body, "task", task)?;
            let config = child_block(&mut task.body, "config");
            check_string(&config.body, "image")?;
            set_attribute(&mut config.body, "image", string_expression(image));
        }
        Edit::SetEnv { group, task, name, value } => {
            let task = block_mut(&mut block_mut(job, "group", group)?.body, "task", task)?;
            if let Some(attr) = task.body.get_attribute("env") {
                return Err(format!(
                    "sets env of task \"{}\" as an expression ({}); add {name} by hand",
                    task.labels.first().map(|l| l.as_str()).unwrap_or_default(),
                    expression_text(&attr.value)
                ));
            }
            Ident::try_new(name.as_str())
                .map_err(|_| format!("cannot hold `{name}` as an env block attribute"))?;
            let env = child_block(&mut task.body, "env");
            check_string(&env.body, name)?;
            set_attribute(&mut env.body, name, string_expression(value));
        }
        Edit::SetPortTo { group, label, to } => {
            let group = block_mut(job, "group", group)?;
            let mut done = false;
            for network in group.body.blocks_mut().filter(|b| b.has_ident("network")) {
                if let Ok(port) = block_mut(&mut network.body, "port", label) {
                    check_literal(&port.body, "to")?;
                    set_attribute(&mut port.body, "to", Expression::from(*to));
                    done = true;
                    break;
                }
            }
            if !done {
                if !group.body.blocks().any(|b| b.has_ident("network")) {
                    // A new network block reads before the tasks that use its ports.
                    let first_task = group
                        .body
                        .iter()
                        .position(|s| matches!(s, Structure::Block(b) if b.has_ident("task")));
                    new_block(&mut group.body, "network", None, first_task);
                }
                let network = child_block(&mut group.body, "network");
                let port = new_block(&mut network.body, "port", Some(label), None);
                set_attribute(&mut port.body, "to", Expression::from(*to));
            }
        }
        Edit::SetCount { group, count } => {
            let group = block_mut(job, "group", group)?;
            if group.body.has_attribute("count") {
                check_literal(&group.body, "count")?;
                set_attribute(&mut group.body, "count", Expression::from(*count));
            } else {
                // The count reads first in a group, as `nomad fmt`'d files have it.
                let mut attribute =
                    Attribute::new(Decorated::new(Ident::new("count")), Expression::from(*count));
                attribute.decor_mut().set_prefix(child_indent(&group.body));
                group.body.insert(0, attribute);
            }
        }
        Edit::AddConstraint { group, constraint } => {
            let group = block_mut(job, "group", group)?;
            // Next to the group's constraints, else before its first block.
            let at = group
                .body
                .iter()
                .enumerate()
                .filter(|(_, s)| matches!(s, Structure::Block(b) if b.has_ident("constraint")))
                .last()
                .map(|(last, _)| last + 1)
                .or_else(|| group.body.iter().position(|s| matches!(s, Structure::Block(_))));
            let block = new_block(&mut group.body, "constraint", None, at);
            let mut attributes = vec![("attribute", string_expression(&constraint.attribute))];
            if constraint.operator != "=" {
                attributes.push(("operator", string_expression(&constraint.operator)));
            }
            attributes.push(("value", string_expression(&constraint.value)));
            // Aligned on `=`, as `nomad fmt` lays out a block's attributes.
            let width = attributes.iter().map(|(key, _)| key.len()).max().unwrap_or_default();
            for (key, value) in attributes {
                set_attribute(&mut block.body, key, value);
                if let Some(mut attribute) = block.body.get_attribute_mut(key) {
                    let padding = " ".repeat(width - key.len() + 1);
                    attribute.key_decor_mut().set_suffix(padding);
                }
            }
        }
    }
    Ok(())
}

/// A string value for the file: one of Nomad's runtime references on its own
/// (`${attr.kernel.name}`, `${NOMAD_PORT_http}`) is written as the interpolation Nomad's
/// documentation shows, anything else as a quoted literal whose `${` is escaped. Both read
/// back as the same text.
fn string_expression(value: &str) -> Expression {
    static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\$\{(?:(?:attr|node|meta)(?:\.[A-Za-z0-9_-]+)+|NOMAD_[A-Za-z0-9_]+)\}$")
            .unwrap_or_else(|_| unreachable!("fixed pattern"))
    });
    if REFERENCE.is_match(value) {
        if let Ok(template) = format!("\"{value}\"").parse::<Expression>() {
            return template;
        }
    }
    Expression::from(value)
}

/// Refuses to overwrite a string computed by an expression or template (`var.image`,
/// `"app:${var.tag}"`): the fix belongs where the value comes from.
fn check_string(body: &Body, key: &str) -> Result<(), String> {
    match body.get_attribute(key) {
        Some(attr) if attr.value.as_str().is_none() => Err(format!(
            "{key} is set by an expression ({}); change its source by hand",
            expression_text(&attr.value)
        )),
        _ => Ok(()),
    }
}

/// Refuses to overwrite an attribute computed by an expression (`var.memory`): the fix
/// belongs where the value comes from, which only the user knows.
fn check_literal(body: &Body, key: &str) -> Result<(), String> {
    match body.get_attribute(key) {
        Some(attr) if !attr.value.is_number() => Err(format!(
            "{key} is set by an expression ({}); change its source by hand",
            expression_text(&attr.value)
        )),
        _ => Ok(()),
    }
}

/// Applies edits to a JSON job file's text (with or without the `{"Job": ...}` envelope).
pub fn apply_to_json_file(
    source: &str,
    file: &str,
    edits: &[Edit],
) -> Result<String, WriteBackError> {
    let fail = |message: String| WriteBackError { file: file.to_string(), message };
    let mut document: Value =
        serde_json::from_str(source).map_err(|err| fail(format!("is not JSON: {err}")))?;
    let job = if document.get("Job").is_some_and(Value::is_object) {
        &mut document["Job"]
    } else {
        &mut document
    };
    for edit in edits {
        apply_to_json(job, edit);
    }
    let mut text = serde_json::to_string_pretty(&document)
        .map_err(|err| fail(format!("cannot be written back: {err}")))?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nomad::diagnose::Category;

    const HCL: &str = r#"# The web front end.
job "web" {
  datacenters = ["dc1"]

  constraint {
    attribute = "${attr.cpu.arch}"
    value     = "arm64" # built for Graviton
  }

  group "app" {
    count = 2

    network {
      port "http" {
        static = 80
        to     = 8080
      }
    }

    update {
      healthy_deadline = "30s"
    }

    service {
      name = "web"
      port = "http"

      check {
        type     = "http"
        path     = "/health" # the framework default
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/web:1.4"
        ports = ["http"]
      }

      resources {
        cpu    = 200 # MHz
        memory = 256 # MB, measured locally
      }
    }
  }
}
"#;

    fn spec() -> JobSpec {
        serde_json::from_value(json!({
            "ID": "web",
            "Constraints": [{"LTarget": "${attr.cpu.arch}", "RTarget": "arm64", "Operand": "="}],
            "TaskGroups": [{
                "Name": "app",
                "Networks": [{"ReservedPorts": [{"Label": "http", "Value": 80, "To": 8080}]}],
                "Update": {"HealthyDeadline": 30_000_000_000i64},
                "Services": [{"Name": "web", "Checks": [{"Type": "http", "Path": "/health"}]}],
                "Tasks": [{"Name": "server", "Driver": "docker",
                           "Resources": {"CPU": 200, "MemoryMB": 256}}]
            }]
        }))
        .unwrap()
    }

    fn diagnosis(category: Category, signal: &str) -> Diagnosis {
        Diagnosis {
            category,
            fixable: category.fixable(),
            explanation: "explained".into(),
            group: "app".into(),
            task: "server".into(),
            signal: signal.into(),
        }
    }

    fn fix(category: Category, signal: &str) -> Fix {
        propose_fix(&diagnosis(category, signal), &spec(), &FixPolicy::default()).unwrap()
    }

    #[test]
    fn oom_raises_memory_in_file_keeping_comments() {
        let fix = fix(Category::OutOfMemory, "");
        assert_eq!(fix.spec.groups()[0].tasks[0].resources.as_ref().unwrap().memory_mb, Some(512));
        let edited = apply_to_hcl(HCL, "web.nomad.hcl", &fix.edits).unwrap();
        let diff: Vec<String> = similar_lines(HCL, &edited);
        assert_eq!(
            diff,
            vec![
                "-        memory = 256 # MB, measured locally",
                "+        memory = 512 # MB, measured locally"
            ]
        );
    }

    #[test]
    fn memory_is_bounded() {
        let policy = FixPolicy { max_memory_mb: 256, ..Default::default() };
        let err = propose_fix(&diagnosis(Category::OutOfMemory, ""), &spec(), &policy).unwrap_err();
        assert!(err.0.contains("already has 256 MB"), "{err}");
    }

    #[test]
    fn port_collision_makes_port_dynamic() {
        let fix = fix(Category::PortCollision, "network: reserved port collision http=80");
        let network = &fix.spec.groups()[0].networks.as_ref().unwrap()[0];
        assert!(network.reserved_ports.as_ref().unwrap().is_empty());
        assert_eq!(network.dynamic_ports.as_ref().unwrap()[0].to, Some(8080));
        let edited = apply_to_hcl(HCL, "web.nomad.hcl", &fix.edits).unwrap();
        assert_eq!(similar_lines(HCL, &edited), vec!["-        static = 80"]);
    }

    #[test]
    fn filtering_constraint_is_removed() {
        let fix = fix(Category::ConstraintFiltered, "${attr.cpu.arch} = arm64");
        assert_eq!(fix.spec.constraints.as_deref(), Some(&[][..]));
        let edited = apply_to_hcl(HCL, "web.nomad.hcl", &fix.edits).unwrap();
        assert!(!edited.contains("constraint"), "{edited}");
        assert!(
            edited.starts_with("# The web front end.\njob \"web\" {\n  datacenters = [\"dc1\"]\n")
        );
        assert!(edited.contains("    count = 2\n"));
    }

    #[test]
    fn short_deadline_is_lengthened() {
        let fix = fix(Category::UnhealthyByDeadline, "");
        let edited = apply_to_hcl(HCL, "web.nomad.hcl", &fix.edits).unwrap();
        insta::assert_snapshot!(similar_lines(HCL, &edited).join("\n"), @r#"
        -      healthy_deadline = "30s"
        +      healthy_deadline = "1m"
        +      progress_deadline = "6m"
        "#);
    }

    #[test]
    fn check_path_is_corrected_with_evidence_only() {
        let policy =
            FixPolicy { known_health_paths: vec!["/healthz".into()], ..Default::default() };
        let d = diagnosis(Category::HealthCheckFailing, "Services not healthy by deadline");
        let fix = propose_fix(&d, &spec(), &policy).unwrap();
        let edited = apply_to_hcl(HCL, "web.nomad.hcl", &fix.edits).unwrap();
        assert_eq!(
            similar_lines(HCL, &edited),
            vec![
                "-        path     = \"/health\" # the framework default",
                "+        path     = \"/healthz\" # the framework default"
            ]
        );
        // No evidence and a short deadline: lengthen the deadline instead.
        let fix = propose_fix(&d, &spec(), &FixPolicy::default()).unwrap();
        assert!(matches!(fix.edits[0], Edit::SetHealthyDeadline { .. }));
    }

    #[test]
    fn unfixable_categories_are_refused() {
        let d = diagnosis(Category::ImageNotFound, "manifest unknown");
        assert!(propose_fix(&d, &spec(), &FixPolicy::default()).is_err());
    }

    #[test]
    fn json_edits_keep_unknown_fields() {
        let mut job = json!({"ID": "web", "Unknown": {"kept": true}, "TaskGroups": [{"Name": "app",
            "Tasks": [{"Name": "server", "LogConfig": {"MaxFiles": 3}, "Resources": {"MemoryMB": 256}}]}]});
        apply_to_json(
            &mut job,
            &Edit::SetMemory {
                group: "app".into(),
                task: "server".into(),
                memory_mb: 512,
                memory_max_mb: None,
            },
        );
        assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"], 512);
        assert_eq!(job["Unknown"]["kept"], true);
        assert_eq!(job["TaskGroups"][0]["Tasks"][0]["LogConfig"]["MaxFiles"], 3);
    }

    #[test]
    fn expressions_are_not_overwritten() {
        let source = HCL.replace("memory = 256", "memory = var.memory");
        let fix = fix(Category::OutOfMemory, "");
        let err = apply_to_hcl(&source, "web.nomad.hcl", &fix.edits).unwrap_err();
        assert!(err.to_string().contains("var.memory"), "{err}");
    }

    #[test]
    fn durations_read_like_nomad() {
        assert_eq!(format_duration(90 * SECOND), "1m30s");
        assert_eq!(format_duration(600 * SECOND), "10m");
        assert_eq!(format_duration(3600 * SECOND), "1h");
    }

    /// The changed lines, `-` old and `+` new.
    fn similar_lines(old: &str, new: &str) -> Vec<String> {
        let old: Vec<&str> = old.lines().collect();
        let new: Vec<&str> = new.lines().collect();
        let mut start = 0;
        while start < old.len() && start < new.len() && old[start] == new[start] {
            start += 1;
        }
        let mut old_end = old.len();
        let mut new_end = new.len();
        while old_end > start && new_end > start && old[old_end - 1] == new[new_end - 1] {
            old_end -= 1;
            new_end -= 1;
        }
        old[start..old_end]
            .iter()
            .map(|l| format!("-{l}"))
            .chain(new[start..new_end].iter().map(|l| format!("+{l}")))
            .collect()
    }

    fn llm_edits() -> Vec<Edit> {
        let (group, task) = (String::from("app"), String::from("server"));
        vec![
            Edit::SetEnv {
                group: group.clone(),
                task: task.clone(),
                name: "APP_ENV".into(),
                value: "production ${not.a.template}".into(),
            },
            Edit::SetImage {
                group: group.clone(),
                task: task.clone(),
                image: "ghcr.io/acme/web:1.5".into(),
            },
            Edit::SetCpu { group: group.clone(), task, cpu_mhz: 500 },
            Edit::SetPortTo { group: group.clone(), label: "http".into(), to: 9090 },
            Edit::SetPortTo { group: group.clone(), label: "metrics".into(), to: 9100 },
            Edit::SetCount { group: group.clone(), count: 3 },
            Edit::AddConstraint {
                group,
                constraint: ConstraintText {
                    attribute: "${attr.kernel.name}".into(),
                    operator: "=".into(),
                    value: "linux".into(),
                },
            },
        ]
    }

    #[test]
    fn every_llm_field_is_written_into_the_file_keeping_comments() {
        let edited = apply_to_hcl(HCL, "web.nomad.hcl", &llm_edits()).unwrap();
        insta::assert_snapshot!(edited, @r#"
        # The web front end.
        job "web" {
          datacenters = ["dc1"]

          constraint {
            attribute = "${attr.cpu.arch}"
            value     = "arm64" # built for Graviton
          }

          group "app" {
            count = 3

            constraint {
              attribute = "${attr.kernel.name}"
              value     = "linux"
            }

            network {
              port "http" {
                static = 80
                to     = 9090
              }
              port "metrics" {
                to = 9100
              }
            }

            update {
              healthy_deadline = "30s"
            }

            service {
              name = "web"
              port = "http"

              check {
                type     = "http"
                path     = "/health" # the framework default
                interval = "10s"
                timeout  = "2s"
              }
            }

            task "server" {
              driver = "docker"

              config {
                image = "ghcr.io/acme/web:1.5"
                ports = ["http"]
              }

              resources {
                cpu    = 500 # MHz
                memory = 256 # MB, measured locally
              }

              env {
                APP_ENV = "production $${not.a.template}"
              }
            }
          }
        }
        "#);
        // What was written parses back into the job the typed edits make.
        let mut expected = spec();
        for edit in &llm_edits() {
            apply_to_spec(&mut expected, edit);
        }
        let parsed = crate::jobspec::parse::parse_job_spec(
            &edited,
            "web.nomad.hcl",
            &crate::jobspec::parse::ParseOptions::default(),
        )
        .unwrap();
        let task = &parsed.groups()[0].tasks[0];
        let want = &expected.groups()[0].tasks[0];
        assert_eq!(task.env, want.env);
        assert_eq!(task.config.as_ref().unwrap()["image"], want.config.as_ref().unwrap()["image"]);
        assert_eq!(task.resources.as_ref().unwrap().cpu, Some(500));
        assert_eq!(parsed.groups()[0].count, Some(3));
        assert_eq!(parsed.groups()[0].constraints, expected.groups()[0].constraints);
    }

    #[test]
    fn llm_edits_add_what_a_file_lacks() {
        let source = r#"job "web" {
  group "app" {
    # the only task
    task "server" {
      driver = "docker"
    }
  }
}
"#;
        let edits = vec![
            Edit::SetCount { group: "app".into(), count: 2 },
            Edit::SetPortTo { group: "app".into(), label: "http".into(), to: 8080 },
            Edit::SetEnv {
                group: "app".into(),
                task: "server".into(),
                name: "APP_ENV".into(),
                value: "production".into(),
            },
        ];
        insta::assert_snapshot!(apply_to_hcl(source, "web.nomad.hcl", &edits).unwrap(), @r#"
        job "web" {
          group "app" {
            count = 2
            network {
              port "http" {
                to = 8080
              }
            }
            # the only task
            task "server" {
              driver = "docker"
              env {
                APP_ENV = "production"
              }
            }
          }
        }
        "#);
    }

    #[test]
    fn a_new_attribute_lines_up_with_its_neighbours() {
        let source = r#"job "web" {
  group "app" {
    task "server" {
      env {
        LOG_LEVEL = "info" # quiet
        DATABASE_HOST = "db"
      }
      env_two {
        LOG_LEVEL     = "info"
        DATABASE_HOST = "db"
      }
    }
  }
}
"#;
        let set = |name: &str| Edit::SetEnv {
            group: "app".into(),
            task: "server".into(),
            name: name.into(),
            value: "x".into(),
        };
        // Not aligned: the new line gets one space.
        let edited = apply_to_hcl(source, "web.nomad.hcl", &[set("APP_ENV")]).unwrap();
        assert!(edited.contains("        DATABASE_HOST = \"db\"\n        APP_ENV = \"x\"\n"));
        // Aligned: the new line joins the column; a longer name does not move the others.
        let aligned = source.replace("LOG_LEVEL = \"info\" # quiet", "LOG_LEVEL     = \"info\"");
        let edited = apply_to_hcl(&aligned, "web.nomad.hcl", &[set("APP_ENV")]).unwrap();
        assert!(edited.contains("        DATABASE_HOST = \"db\"\n        APP_ENV       = \"x\"\n"));
        let edited = apply_to_hcl(&aligned, "web.nomad.hcl", &[set("A_VERY_LONG_NAME")]).unwrap();
        assert!(edited.contains("        LOG_LEVEL     = \"info\"\n"), "{edited}");
        assert!(edited.contains("        A_VERY_LONG_NAME = \"x\"\n"), "{edited}");
    }

    #[test]
    fn llm_edits_refuse_values_from_expressions() {
        let cases = [
            ("image = \"ghcr.io/acme/web:1.4\"", "image = var.image", "image is set by"),
            ("image = \"ghcr.io/acme/web:1.4\"", "image = \"web:${var.tag}\"", "image is set by"),
            ("cpu    = 200", "cpu    = var.cpu", "cpu is set by"),
            ("count = 2", "count = var.count", "count is set by"),
        ];
        for (from, to, expected) in cases {
            let source = HCL.replace(from, to);
            let err = apply_to_hcl(&source, "web.nomad.hcl", &llm_edits()).unwrap_err();
            assert!(err.to_string().contains(expected), "{to}: {err}");
        }
        let source = HCL.replace("driver = \"docker\"", "driver = \"docker\"\n      env = var.env");
        let err = apply_to_hcl(&source, "web.nomad.hcl", &llm_edits()).unwrap_err();
        assert!(err.to_string().contains("env of task \"server\" as an expression"), "{err}");
    }

    #[test]
    fn llm_edits_change_the_api_json_like_the_typed_job() {
        let mut job = serde_json::to_value(spec()).unwrap();
        job["Unknown"] = json!({"kept": true});
        let mut typed = spec();
        for edit in &llm_edits() {
            apply_to_json(&mut job, edit);
            apply_to_spec(&mut typed, edit);
        }
        let mut expected = serde_json::to_value(&typed).unwrap();
        expected["Unknown"] = json!({"kept": true});
        // The JSON side writes Nomad's explicit `Value: 0` for a new dynamic port.
        let new_port = &mut job["TaskGroups"][0]["Networks"][0]["DynamicPorts"][0];
        assert_eq!(new_port["Value"], 0);
        new_port.as_object_mut().unwrap().remove("Value");
        assert_eq!(job, expected);
    }

    /// The job of the HCL file above, as the typed model reads it.
    fn hcl_spec() -> JobSpec {
        crate::jobspec::parse::parse_job_spec(
            HCL,
            "web.nomad.hcl",
            &crate::jobspec::parse::ParseOptions::default(),
        )
        .unwrap()
    }

    fn advised(changes: &[(&str, &str, &str)]) -> AdvisedDiagnosis {
        let changes: Vec<Change> = changes
            .iter()
            .map(|(field, name, value)| Change {
                field: field.to_string(),
                group: "app".into(),
                task: String::new(),
                name: name.to_string(),
                value: value.to_string(),
                reason: "the log says so".into(),
            })
            .collect();
        let fix = crate::llm::guard::apply_changes(&hcl_spec(), &changes)
            .unwrap_or_else(|why| panic!("the guardrails refused: {why}"));
        AdvisedDiagnosis {
            category: "missing-configuration".into(),
            explanation: "The application wants APP_ENV.".into(),
            applied: fix.applied.clone(),
            fix: Some(fix),
        }
    }

    #[test]
    fn an_llm_fix_carries_the_guarded_changes_as_edits() {
        let advice = advised(&[("env", "APP_ENV", "production"), ("memory", "", "512")]);
        let fix = advised_fix(&advice, &hcl_spec(), &FixPolicy::default()).unwrap();
        assert_eq!(
            fix.edits,
            vec![
                Edit::SetEnv {
                    group: "app".into(),
                    task: "server".into(),
                    name: "APP_ENV".into(),
                    value: "production".into()
                },
                Edit::SetMemory {
                    group: "app".into(),
                    task: "server".into(),
                    memory_mb: 512,
                    memory_max_mb: None
                },
            ]
        );
        assert_eq!(fix.origin, FixOrigin::Llm { category: "missing-configuration".into() });
        assert!(
            fix.explanation.starts_with(
                "LLM diagnosis (`missing-configuration`): The application wants APP_ENV. \
                 Changes: env APP_ENV of `server`: production (the log says so); memory of \
                 `server`: 512 MB (the log says so)."
            ),
            "{}",
            fix.explanation
        );
        assert_eq!(Some(&fix.spec), advice.fix.as_ref().map(|f| &f.spec));
        // Every field of the allow-list becomes an edit that reproduces the guarded job.
        let every = advised(&[
            ("image", "", "ghcr.io/acme/web:1.5"),
            ("port", "http", "9090"),
            ("port", "metrics", "9100"),
            ("cpu", "", "500"),
            ("health_check", "", "/healthz"),
            ("count", "", "3"),
            ("constraint", "${attr.kernel.name}", "= linux"),
        ]);
        let fix = advised_fix(&every, &hcl_spec(), &FixPolicy::default()).unwrap();
        assert_eq!(fix.edits.len(), 7);
        let edited = apply_to_hcl(HCL, "web.nomad.hcl", &fix.edits).unwrap();
        assert!(edited.contains("path     = \"/healthz\" # the framework default"), "{edited}");
    }

    #[test]
    fn an_llm_fix_stays_within_the_policy_and_needs_a_change() {
        let advice = advised(&[("memory", "", "4096")]);
        let policy = FixPolicy { max_memory_mb: 1024, ..Default::default() };
        let err = advised_fix(&advice, &hcl_spec(), &policy).unwrap_err();
        assert_eq!(
            err.0,
            "the LLM would give task \"server\" 4096 MB, more than the 1024 MB nomad-spec ever \
             gives automatically"
        );
        let without = AdvisedDiagnosis { fix: None, ..advice.clone() };
        let err = advised_fix(&without, &hcl_spec(), &FixPolicy::default()).unwrap_err();
        assert_eq!(err.0, "the LLM diagnosed `missing-configuration` without proposing a change");
        // A patch that does not match its changes (tampered, or a shape the edits cannot
        // express) is not written anywhere.
        let mut tampered = advice;
        if let Some(patched) = tampered.fix.as_mut() {
            patched.spec.groups_mut()[0].count = Some(9);
        }
        let err = advised_fix(&tampered, &hcl_spec(), &FixPolicy::default()).unwrap_err();
        assert!(err.0.starts_with("the LLM's changes cannot be written as edits"), "{err}");
    }

    #[test]
    fn new_blocks_and_one_line_blocks_are_laid_out_like_their_neighbours() {
        let source = r#"job "web" {
  group "app" {
    network {
      port "http" { static = 80 }
    }
    task "server" {
      driver = "docker"
    }
  }
}
"#;
        let edits = vec![
            Edit::PortToDynamic { group: "app".into(), label: "http".into(), to: 80 },
            Edit::SetMemory {
                group: "app".into(),
                task: "server".into(),
                memory_mb: 512,
                memory_max_mb: Some(1024),
            },
            Edit::SetHealthyDeadline {
                group: "app".into(),
                healthy_deadline: 120 * SECOND,
                progress_deadline: None,
            },
        ];
        insta::assert_snapshot!(apply_to_hcl(source, "web.nomad.hcl", &edits).unwrap(), @r#"
        job "web" {
          group "app" {
            network {
              port "http" { to = 80 }
            }
            task "server" {
              driver = "docker"
              resources {
                memory = 512
                memory_max = 1024
              }
            }
            update {
              healthy_deadline = "2m"
            }
          }
        }
        "#);
    }
}
