//! Edits: one change to a job described once, as a value, and applied by one function per
//! target.
//!
//! An [`Edit`] names what to change (memory, a port, a constraint, a health deadline, a check
//! path, the image, an env variable, the count...), on which group, task or port label, and
//! to what value. It says nothing of who proposed it: the deploy loop's rules and the LLM's
//! guardrails both speak it. Each target has its own file and function: [`spec::apply`]
//! changes the typed `JobSpec`, [`json::apply`] a job in Nomad's API JSON (what is
//! registered, keeping every field the model does not know) and [`json::apply_to_file`] a
//! JSON job file, [`hcl::apply`] the text of an HCL job file, in place with `hcl-edit`, so
//! its comments and layout survive. An edit applied to each target changes the same job. Pure: values and text in, values and text out.

use serde::Serialize;

use super::{Constraint, Nanos};

pub mod hcl;
pub mod json;
pub mod spec;

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
    /// The constraint's three strings; a constraint without an operator means `=`, as in
    /// Nomad.
    pub fn of(constraint: &Constraint) -> ConstraintText {
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

/// Why edits could not be written into a job file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct WriteBackError {
    pub file: String,
    pub message: String,
}

#[cfg(test)]
pub(crate) mod tests;
