//! Edits applied to the typed `JobSpec`: what a fix is checked against (rendered and
//! validated by the LLM's guardrails) and what a reviewer is shown. Names that match nothing
//! change nothing, as in the other targets.

use serde_json::json;

use super::{ConstraintText, Edit};
use crate::jobspec::{Constraint, JobSpec, Task};

/// Applies an edit to the typed job.
pub fn apply(spec: &mut JobSpec, edit: &Edit) {
    match edit {
        Edit::SetMemory { group, task, memory_mb, memory_max_mb } => {
            for t in tasks_mut(spec, group, task) {
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
) -> impl Iterator<Item = &'a mut Task> {
    spec.groups_mut()
        .iter_mut()
        .filter(move |g| g.name == group)
        .flat_map(|g| g.tasks.iter_mut())
        .filter(move |t| t.name == task)
}
