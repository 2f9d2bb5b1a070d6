//! Fixes: which failure gets which edit of the job, within the policy's bounds, and the words
//! that explain it to a reviewer; or the reason there is no safe fix.
//!
//! The rules propose fixes for the failures they know ([`propose_fix`]): raise a task's
//! memory, make a static port dynamic, remove a constraint no node satisfies (never one the
//! repository's conventions set: for those the person is told what to do instead), lengthen
//! a health deadline, correct a check path. A fix the LLM proposed and its guardrails
//! accepted becomes the same kind of `Fix` ([`advised_fix`]), marked as the LLM's. A fix is a
//! list of [`Edit`]s, the job-spec engine's one description of a change, which the deploy
//! loop and the bot apply to the registered job and write into the user's file. Pure: values
//! in, values out.

use std::fmt::Write as _;

use serde::Serialize;

use super::diagnose::{Category, Diagnosis};
use crate::jobspec::config::{Architecture, Config};
use crate::jobspec::edit::{self, ConstraintText, Edit};
use crate::jobspec::render::duration;
use crate::jobspec::{Constraint, JobSpec, Nanos, Port, TaskGroup, UpdateStrategy, SECOND};
use crate::memory::learn::Recalled;
use crate::memory::Lesson;

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
    /// The CPU architecture the repository's conventions pin its jobs to (`architecture` in
    /// .nomad-spec.toml): its images are built for it, so no fix removes that constraint.
    pub architecture: Option<Architecture>,
}

impl FixPolicy {
    /// The default bounds, keeping what the repository's conventions pin.
    pub fn for_conventions(config: &Config) -> FixPolicy {
        FixPolicy { architecture: config.architecture, ..FixPolicy::default() }
    }
}

impl Default for FixPolicy {
    fn default() -> Self {
        FixPolicy {
            max_memory_mb: 8192,
            max_healthy_deadline: 15 * 60 * SECOND,
            known_health_paths: Vec::new(),
            architecture: None,
        }
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
    /// Memory: the fix that made a job healthy after the same failure on similar evidence,
    /// tried before the rules' step; `episode` is the memory entry it comes from.
    Memory { episode: String },
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
        Category::ConstraintFiltered => remove_constraint(diagnosis, spec, policy)?,
        Category::UnhealthyByDeadline => lengthen_deadline(diagnosis, spec, policy)?,
        Category::HealthCheckFailing => fix_check(diagnosis, spec, policy)?,
        other => return Err(NotFixable(format!("{other} failures have no automatic fix"))),
    };
    Ok(Fix { spec: edited(spec, &edits), edits, explanation, origin: FixOrigin::Rules })
}

/// The LLM's diagnosis of a failure the rules had no fix for, as a fix: `edits` are its
/// changes, already through the guardrails (allow-list, bounds, a valid job), and `applied`
/// says each change in a line. The edits stay within the policy's bounds, or there is no
/// fix. The explanation starts with "LLM diagnosis" so a reviewer knows where it came from.
pub fn advised_fix(
    category: &str,
    explanation: &str,
    edits: &[Edit],
    applied: &[String],
    spec: &JobSpec,
    policy: &FixPolicy,
) -> Result<Fix, NotFixable> {
    for edit in edits {
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
    let explanation = format!(
        "LLM diagnosis (`{category}`): {} Changes: {}. Proposed by the LLM for a failure \
         nomad-spec's rules had no fix for, and accepted by its guardrails (allow-listed \
         fields, bounds, a valid job); review it like any other change.",
        explanation.trim(),
        applied.join("; ")
    );
    Ok(Fix {
        spec: edited(spec, edits),
        edits: edits.to_vec(),
        explanation,
        origin: FixOrigin::Llm { category: category.to_string() },
    })
}

/// The fix a remembered episode teaches, for this job: its memory size or health deadline set
/// on the failing task or group at once, instead of stepping up to it. Refused when the job
/// has as much already, when it is above the policy's bounds, or when the lesson belongs to
/// the other job alone (a port, a constraint, a check path this repository shows no evidence
/// of). The explanation starts with the episode: where and when the same failure was fixed.
pub fn remembered_fix(
    diagnosis: &Diagnosis,
    spec: &JobSpec,
    policy: &FixPolicy,
    recalled: &Recalled<'_>,
) -> Result<Fix, NotFixable> {
    let sentence = recalled.sentence();
    let (edits, change) = match &recalled.episode.fix {
        Some(Lesson::Memory { memory_mb }) => {
            let (edits, _) = raise_memory(diagnosis, spec, policy)?;
            let Some(Edit::SetMemory { group, task, memory_max_mb, .. }) = edits.first() else {
                return Err(NotFixable("the job has no task to give memory".into()));
            };
            let current = find_group(spec, group)?
                .tasks
                .iter()
                .find(|t| &t.name == task)
                .and_then(|t| t.resources.as_ref())
                .and_then(|r| r.memory_mb)
                .unwrap_or(DEFAULT_MEMORY_MB);
            if *memory_mb <= current || *memory_mb > policy.max_memory_mb {
                return Err(NotFixable(format!(
                    "{sentence}, but task \"{task}\" has {current} MB already (or that is above \
                     the {} MB given automatically)",
                    policy.max_memory_mb
                )));
            }
            let memory_max_mb = memory_max_mb.map(|max| max.max(memory_mb * 2));
            let change = format!(
                "Raised the memory of task \"{task}\" in group \"{group}\" from {current} MB to \
                 {memory_mb} MB at once"
            );
            let edit = Edit::SetMemory {
                group: group.clone(),
                task: task.clone(),
                memory_mb: *memory_mb,
                memory_max_mb,
            };
            (vec![edit], change)
        }
        Some(Lesson::HealthyDeadline { seconds }) => {
            let group = find_group(spec, &diagnosis.group)?;
            let (scope, update) = effective_update(spec, &group.name);
            let current = update.healthy_deadline.unwrap_or(DEFAULT_HEALTHY_DEADLINE);
            let healthy_deadline = seconds.saturating_mul(SECOND);
            if healthy_deadline <= current || healthy_deadline > policy.max_healthy_deadline {
                return Err(NotFixable(format!(
                    "{sentence}, but group \"{}\" waits {} already (or that is above the \
                     bound)",
                    group.name,
                    duration(current)
                )));
            }
            let progress_deadline = match update.progress_deadline {
                Some(0) => None,
                Some(progress) if progress > healthy_deadline => None,
                _ => Some(healthy_deadline + 5 * 60 * SECOND),
            };
            let change = format!(
                "Set healthy_deadline of group \"{}\" to {} at once",
                group.name,
                duration(healthy_deadline)
            );
            (
                vec![Edit::SetHealthyDeadline {
                    group: scope,
                    healthy_deadline,
                    progress_deadline,
                }],
                change,
            )
        }
        Some(lesson) => {
            return Err(NotFixable(format!(
                "{sentence}, a change that belongs to that job ({lesson})"
            )))
        }
        None => return Err(NotFixable(format!("{sentence} with no fix"))),
    };
    let explanation = format!(
        "{sentence}, and the job was healthy after it. {change}. If it is not enough, the \
         rules step up from there."
    );
    Ok(Fix {
        spec: edited(spec, &edits),
        edits,
        explanation,
        origin: FixOrigin::Memory { episode: recalled.episode.id.clone() },
    })
}

/// The job with the edits applied.
fn edited(spec: &JobSpec, edits: &[Edit]) -> JobSpec {
    let mut changed = spec.clone();
    for edit in edits {
        edit::spec::apply(&mut changed, edit);
    }
    changed
}

/// The group named `group`, or the job's only group.
fn find_group<'a>(spec: &'a JobSpec, group: &str) -> Result<&'a TaskGroup, NotFixable> {
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

/// Removes the constraints that filtered every node, except one the repository's
/// conventions set: that one stays, and the person is told what to do instead.
fn remove_constraint(
    diagnosis: &Diagnosis,
    spec: &JobSpec,
    policy: &FixPolicy,
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
    let convention = policy.architecture.map(|arch| (arch, ConstraintText::of(&arch.constraint())));
    let mut edits = Vec::new();
    let mut kept = None;
    for (group, task, constraints) in scopes {
        for constraint in constraints {
            let text = ConstraintText::of(constraint);
            if !filtered.contains(&text.nomad_key().as_str()) {
                continue;
            }
            match &convention {
                Some((arch, set)) if *set == text => kept = Some((*arch, text)),
                _ => edits.push(Edit::RemoveConstraint {
                    group: group.clone(),
                    task: task.clone(),
                    constraint: text,
                }),
            }
        }
    }
    if let (Some((arch, constraint)), true) = (&kept, edits.is_empty()) {
        return Err(NotFixable(format!(
            "no node satisfies constraint `{}`, and no fix removes it: {}",
            constraint.nomad_key(),
            convention_alternatives(*arch)
        )));
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
    let mut explanation = format!(
        "No node satisfies constraint {}, so nothing could be placed ({}). Removed it; if \
         the job really needs it (an image built only for that platform, say), revert this \
         change and add matching nodes instead.",
        removed.join(" and "),
        diagnosis.explanation
    );
    if let Some((arch, constraint)) = kept {
        let _ = write!(
            explanation,
            " Kept `{}`: {}",
            constraint.nomad_key(),
            convention_alternatives(arch)
        );
    }
    Ok((edits, explanation))
}

/// Why the conventions' architecture constraint stays, and the two ways out a person has.
fn convention_alternatives(arch: Architecture) -> String {
    let other = match arch {
        Architecture::Amd64 => Architecture::Arm64,
        Architecture::Arm64 => Architecture::Amd64,
    };
    let (arch, other) = (arch.as_str(), other.as_str());
    format!(
        "`architecture = \"{arch}\"` in .nomad-spec.toml sets it on purpose (the images are \
         built for {arch}; on other nodes they crash with exec format errors). Either build \
         the image for {other} too (a multi-architecture image) and change `architecture`, or \
         pin the job to {arch} nodes (a node pool or datacenter that has them)."
    )
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
            duration(current),
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
        duration(current),
        duration(healthy_deadline)
    );
    if let Some(progress) = progress_deadline {
        let _ = write!(explanation, " and progress_deadline to {}", duration(progress));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobspec::edit::tests::{hcl_spec, spec, HCL};

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
        let edited = edit::hcl::apply(HCL, "web.nomad.hcl", &fix.edits).unwrap();
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
        let edited = edit::hcl::apply(HCL, "web.nomad.hcl", &fix.edits).unwrap();
        assert_eq!(similar_lines(HCL, &edited), vec!["-        static = 80"]);
    }

    #[test]
    fn filtering_constraint_is_removed() {
        let fix = fix(Category::ConstraintFiltered, "${attr.cpu.arch} = arm64");
        assert_eq!(fix.spec.constraints.as_deref(), Some(&[][..]));
        let edited = edit::hcl::apply(HCL, "web.nomad.hcl", &fix.edits).unwrap();
        assert!(!edited.contains("constraint"), "{edited}");
        assert!(
            edited.starts_with("# The web front end.\njob \"web\" {\n  datacenters = [\"dc1\"]\n")
        );
        assert!(edited.contains("    count = 2\n"));
    }

    #[test]
    fn short_deadline_is_lengthened() {
        let fix = fix(Category::UnhealthyByDeadline, "");
        let edited = edit::hcl::apply(HCL, "web.nomad.hcl", &fix.edits).unwrap();
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
        let edited = edit::hcl::apply(HCL, "web.nomad.hcl", &fix.edits).unwrap();
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
    fn expressions_are_not_overwritten() {
        let source = HCL.replace("memory = 256", "memory = var.memory");
        let fix = fix(Category::OutOfMemory, "");
        let err = edit::hcl::apply(&source, "web.nomad.hcl", &fix.edits).unwrap_err();
        assert!(err.to_string().contains("var.memory"), "{err}");
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

    fn set_env(name: &str, value: &str) -> Edit {
        Edit::SetEnv {
            group: "app".into(),
            task: "server".into(),
            name: name.into(),
            value: value.into(),
        }
    }

    fn set_memory(memory_mb: i64) -> Edit {
        Edit::SetMemory {
            group: "app".into(),
            task: "server".into(),
            memory_mb,
            memory_max_mb: None,
        }
    }

    #[test]
    fn an_llm_fix_carries_its_guarded_edits_and_says_where_it_came_from() {
        let edits = [set_env("APP_ENV", "production"), set_memory(512)];
        let applied = [
            "env APP_ENV of `server`: production (the log says so)".to_string(),
            "memory of `server`: 512 MB (the log says so)".to_string(),
        ];
        let fix = advised_fix(
            "missing-configuration",
            "The application wants APP_ENV. ",
            &edits,
            &applied,
            &hcl_spec(),
            &FixPolicy::default(),
        )
        .unwrap();
        assert_eq!(fix.edits, edits);
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
        let task = &fix.spec.groups()[0].tasks[0];
        assert_eq!(task.resources.as_ref().and_then(|r| r.memory_mb), Some(512));
        let env = task.env.clone().unwrap_or_default();
        assert_eq!(env.get("APP_ENV").map(String::as_str), Some("production"));
    }

    #[test]
    fn an_llm_fix_stays_within_the_policy() {
        let policy = FixPolicy { max_memory_mb: 1024, ..Default::default() };
        let applied = ["memory of `server`: 4096 MB".to_string()];
        let err = advised_fix("out-of-memory", "", &[set_memory(4096)], &applied, &spec(), &policy)
            .unwrap_err();
        assert_eq!(
            err.0,
            "the LLM would give task \"server\" 4096 MB, more than the 1024 MB nomad-spec ever \
             gives automatically"
        );
    }

    /// The fixture's job pinned to amd64 by the conventions, on a cluster that has only arm64
    /// nodes.
    fn pinned_by_conventions() -> (JobSpec, FixPolicy, Diagnosis) {
        let mut spec = spec();
        spec.constraints = Some(vec![Architecture::Amd64.constraint()]);
        let policy = FixPolicy { architecture: Some(Architecture::Amd64), ..Default::default() };
        let mut diagnosis = diagnosis(Category::ConstraintFiltered, "${attr.cpu.arch} = amd64");
        diagnosis.explanation = "no node satisfies the job's constraints".into();
        (spec, policy, diagnosis)
    }

    #[test]
    fn a_constraint_the_conventions_set_is_never_removed() {
        let (spec, policy, diagnosis) = pinned_by_conventions();
        let err = propose_fix(&diagnosis, &spec, &policy).unwrap_err();
        assert_eq!(
            err.0,
            "no node satisfies constraint `${attr.cpu.arch} = amd64`, and no fix removes it: \
             `architecture = \"amd64\"` in .nomad-spec.toml sets it on purpose (the images are built for amd64; on other \
             nodes they crash with exec format errors). Either build the image for arm64 too \
             (a multi-architecture image) and change `architecture`, or pin the job to amd64 \
             nodes (a node pool or datacenter that has them)."
        );
        // Without that convention the same constraint is the job's own, and is removed.
        let fix = propose_fix(&diagnosis, &spec, &FixPolicy::default()).unwrap();
        assert_eq!(fix.spec.constraints.as_deref(), Some(&[][..]));
        // A convention for the other architecture does not protect this one.
        let arm = FixPolicy { architecture: Some(Architecture::Arm64), ..Default::default() };
        assert!(propose_fix(&diagnosis, &spec, &arm).is_ok());
    }

    #[test]
    fn beside_a_kept_convention_the_job_s_own_constraints_are_removed() {
        let (mut spec, policy, mut diagnosis) = pinned_by_conventions();
        let kernel = Constraint {
            l_target: Some("${attr.kernel.name}".into()),
            operand: None,
            r_target: Some("windows".into()),
        };
        spec.groups_mut()[0].constraints = Some(vec![kernel, Architecture::Amd64.constraint()]);
        diagnosis.signal = "${attr.cpu.arch} = amd64, ${attr.kernel.name} = windows".into();
        let fix = propose_fix(&diagnosis, &spec, &policy).unwrap();
        let removed: Vec<String> = fix
            .edits
            .iter()
            .filter_map(|edit| match edit {
                Edit::RemoveConstraint { constraint, .. } => Some(constraint.nomad_key()),
                _ => None,
            })
            .collect();
        assert_eq!(removed, vec!["${attr.kernel.name} = windows".to_string()]);
        assert_eq!(fix.spec.constraints, spec.constraints, "the job's amd64 constraint stays");
        assert_eq!(fix.spec.groups()[0].constraints, Some(vec![Architecture::Amd64.constraint()]));
        assert!(
            fix.explanation.contains(
                "Kept `${attr.cpu.arch} = amd64`: `architecture = \"amd64\"` in .nomad-spec.toml"
            ),
            "{}",
            fix.explanation
        );
    }
}
