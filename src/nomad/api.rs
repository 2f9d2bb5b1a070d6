//! Response types of Nomad's HTTP API: what nomad-spec reads back from a cluster.
//!
//! Only the fields the engine uses are typed; everything else is ignored. Every field has a
//! default, and explicit `null`s (which Nomad sends for empty lists and maps) read as the
//! default too, so partial or older responses still deserialize. Requests are built from the
//! `JobSpec` model or raw job JSON in `client`; this file owns no behaviour beyond small
//! accessors.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::jobspec::features::NomadFeatures;

/// Reads `null` as the type's default (Nomad sends `null` for empty lists, maps and strings).
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads a list, keeping only the entries that fit `T`: documentation samples elide nested
/// diff objects as `"..."`, which carry nothing to show.
fn lenient_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> Deserialize<'a>,
{
    let values: Option<Vec<Value>> = Option::deserialize(deserializer)?;
    Ok(values
        .unwrap_or_default()
        .into_iter()
        .filter_map(|value| serde_json::from_value(value).ok())
        .collect())
}

/// `GET /v1/agent/self`: the agent's configuration and membership.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AgentSelf {
    #[serde(deserialize_with = "nullable")]
    pub config: Value,
    #[serde(deserialize_with = "nullable")]
    pub member: AgentMember,
}

/// The agent's gossip membership (`member` in `/v1/agent/self`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentMember {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub tags: BTreeMap<String, String>,
}

impl AgentSelf {
    /// The Nomad version: `config.Version` is a string in old agents and an object
    /// (`{"Version": "1.9.3", ...}`) in newer ones.
    pub fn version(&self) -> Option<String> {
        match self.config.get("Version") {
            Some(Value::String(version)) if !version.is_empty() => Some(version.clone()),
            Some(Value::Object(fields)) => {
                let version = fields.get("Version")?.as_str()?;
                let pre = fields.get("Prerelease").and_then(Value::as_str).unwrap_or("");
                Some(if pre.is_empty() { version.to_string() } else { format!("{version}-{pre}") })
            }
            _ => self.member.tags.get("build").cloned(),
        }
    }

    /// What the agent's Nomad can run, from its [`version`](AgentSelf::version).
    pub fn features(&self) -> Result<NomadFeatures, String> {
        let version = self.version().ok_or("the agent did not say its version")?;
        NomadFeatures::parse(&version)
    }
}

/// `POST /v1/jobs`, `POST /v1/job/:id/revert`, `DELETE /v1/job/:id`: what was registered.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RegisterResponse {
    #[serde(rename = "EvalID", deserialize_with = "nullable")]
    pub eval_id: String,
    pub eval_create_index: u64,
    pub job_modify_index: u64,
    #[serde(deserialize_with = "nullable")]
    pub warnings: String,
}

/// `POST /v1/validate/job`: Nomad's own validation of a job.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ValidateResponse {
    pub driver_config_validated: bool,
    #[serde(deserialize_with = "nullable")]
    pub validation_errors: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub warnings: String,
    #[serde(deserialize_with = "nullable")]
    pub error: String,
}

/// An evaluation: the scheduler's decision about a job change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Evaluation {
    #[serde(rename = "ID", deserialize_with = "nullable")]
    pub id: String,
    #[serde(rename = "JobID", deserialize_with = "nullable")]
    pub job_id: String,
    #[serde(deserialize_with = "nullable")]
    pub namespace: String,
    #[serde(deserialize_with = "nullable")]
    pub r#type: String,
    #[serde(deserialize_with = "nullable")]
    pub triggered_by: String,
    /// `pending`, `complete`, `failed`, `blocked` or `canceled`.
    #[serde(deserialize_with = "nullable")]
    pub status: String,
    #[serde(deserialize_with = "nullable")]
    pub status_description: String,
    pub job_modify_index: u64,
    #[serde(rename = "DeploymentID", deserialize_with = "nullable")]
    pub deployment_id: String,
    /// The evaluation created to place what could not be placed now.
    #[serde(deserialize_with = "nullable")]
    pub blocked_eval: String,
    #[serde(deserialize_with = "nullable")]
    pub next_eval: String,
    #[serde(deserialize_with = "nullable")]
    pub previous_eval: String,
    /// Per task group: why allocations could not be placed.
    #[serde(rename = "FailedTGAllocs", deserialize_with = "nullable")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    #[serde(deserialize_with = "nullable")]
    pub queued_allocations: BTreeMap<String, i64>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// The scheduler's placement metrics for one task group (`FailedTGAllocs`, `Metrics`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocMetric {
    pub nodes_evaluated: i64,
    pub nodes_filtered: i64,
    pub nodes_in_pool: i64,
    #[serde(deserialize_with = "nullable")]
    pub nodes_available: BTreeMap<String, i64>,
    #[serde(deserialize_with = "nullable")]
    pub class_filtered: BTreeMap<String, i64>,
    /// Constraint (as Nomad prints it, e.g. `${attr.cpu.arch} = arm64`) → nodes filtered.
    #[serde(deserialize_with = "nullable")]
    pub constraint_filtered: BTreeMap<String, i64>,
    pub nodes_exhausted: i64,
    #[serde(deserialize_with = "nullable")]
    pub class_exhausted: BTreeMap<String, i64>,
    /// Resource dimension (`memory`, `cpu`, `network: reserved port collision`, ...) → nodes.
    #[serde(deserialize_with = "nullable")]
    pub dimension_exhausted: BTreeMap<String, i64>,
    #[serde(deserialize_with = "nullable")]
    pub quota_exhausted: Vec<String>,
    pub coalesced_failures: i64,
}

/// A deployment: the rollout of one job version.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Deployment {
    #[serde(rename = "ID", deserialize_with = "nullable")]
    pub id: String,
    #[serde(rename = "JobID", deserialize_with = "nullable")]
    pub job_id: String,
    pub job_version: u64,
    pub job_modify_index: u64,
    /// `running`, `paused`, `failed`, `successful`, `cancelled`, `blocked`, ...
    #[serde(deserialize_with = "nullable")]
    pub status: String,
    #[serde(deserialize_with = "nullable")]
    pub status_description: String,
    #[serde(deserialize_with = "nullable")]
    pub task_groups: BTreeMap<String, DeploymentGroup>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// One task group's progress in a deployment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeploymentGroup {
    pub auto_revert: bool,
    pub promoted: bool,
    pub desired_canaries: i64,
    pub desired_total: i64,
    pub placed_allocs: i64,
    pub healthy_allocs: i64,
    pub unhealthy_allocs: i64,
}

/// An allocation as listed (`/v1/job/:id/allocations`, `/v1/allocations`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocationStub {
    #[serde(rename = "ID", deserialize_with = "nullable")]
    pub id: String,
    #[serde(rename = "EvalID", deserialize_with = "nullable")]
    pub eval_id: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(rename = "JobID", deserialize_with = "nullable")]
    pub job_id: String,
    pub job_version: u64,
    #[serde(deserialize_with = "nullable")]
    pub task_group: String,
    #[serde(rename = "NodeID", deserialize_with = "nullable")]
    pub node_id: String,
    #[serde(deserialize_with = "nullable")]
    pub node_name: String,
    #[serde(rename = "DeploymentID", deserialize_with = "nullable")]
    pub deployment_id: String,
    /// `run`, `stop` or `evict`.
    #[serde(deserialize_with = "nullable")]
    pub desired_status: String,
    /// `pending`, `running`, `complete`, `failed`, `lost` or `unknown`.
    #[serde(deserialize_with = "nullable")]
    pub client_status: String,
    #[serde(deserialize_with = "nullable")]
    pub client_description: String,
    #[serde(deserialize_with = "nullable")]
    pub deployment_status: Option<AllocDeploymentStatus>,
    #[serde(deserialize_with = "nullable")]
    pub task_states: BTreeMap<String, TaskState>,
    #[serde(rename = "FollowupEvalID", deserialize_with = "nullable")]
    pub followup_eval_id: String,
    pub create_index: u64,
    pub modify_index: u64,
}

/// A full allocation (`/v1/allocation/:id`), with its placement metrics.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Allocation {
    #[serde(flatten)]
    pub stub: AllocationStub,
    #[serde(deserialize_with = "nullable")]
    pub metrics: AllocMetric,
}

/// An allocation's health in its deployment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocDeploymentStatus {
    /// `None` while the health is not yet known.
    pub healthy: Option<bool>,
    pub canary: bool,
}

/// One task's state inside an allocation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskState {
    /// `pending`, `running` or `dead`.
    #[serde(deserialize_with = "nullable")]
    pub state: String,
    pub failed: bool,
    pub restarts: u64,
    #[serde(deserialize_with = "nullable")]
    pub events: Vec<TaskEvent>,
}

/// One event in a task's life (`Received`, `Driver Failure`, `Terminated`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskEvent {
    #[serde(deserialize_with = "nullable")]
    pub r#type: String,
    /// Unix nanoseconds.
    pub time: i64,
    #[serde(deserialize_with = "nullable")]
    pub display_message: String,
    #[serde(deserialize_with = "nullable")]
    pub message: String,
    /// Free-form details; Nomad sends strings (`"oom_killed": "true"`, `"exit_code": "137"`).
    #[serde(deserialize_with = "nullable")]
    pub details: BTreeMap<String, Value>,
    pub exit_code: i64,
    pub signal: i64,
    pub fails_task: bool,
    #[serde(deserialize_with = "nullable")]
    pub driver_error: String,
    #[serde(deserialize_with = "nullable")]
    pub driver_message: String,
    #[serde(deserialize_with = "nullable")]
    pub download_error: String,
    #[serde(deserialize_with = "nullable")]
    pub setup_error: String,
    #[serde(deserialize_with = "nullable")]
    pub validation_error: String,
    #[serde(deserialize_with = "nullable")]
    pub vault_error: String,
    #[serde(deserialize_with = "nullable")]
    pub kill_error: String,
    #[serde(deserialize_with = "nullable")]
    pub kill_reason: String,
    #[serde(deserialize_with = "nullable")]
    pub restart_reason: String,
}

impl TaskEvent {
    /// A detail as text, whether Nomad sent it as a string, number or boolean.
    pub fn detail(&self, key: &str) -> Option<String> {
        match self.details.get(key)? {
            Value::String(text) => Some(text.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// The most specific human-readable text the event carries.
    pub fn text(&self) -> &str {
        [
            &self.display_message,
            &self.driver_error,
            &self.download_error,
            &self.setup_error,
            &self.validation_error,
            &self.vault_error,
            &self.kill_error,
            &self.message,
            &self.restart_reason,
        ]
        .into_iter()
        .find(|text| !text.is_empty())
        .map_or("", |text| text.as_str())
    }
}

/// `PUT /v1/job/:id/plan`: what the scheduler would do.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PlanResponse {
    /// Pass back as `JobModifyIndex` with `EnforceIndex` to register exactly this plan.
    pub job_modify_index: u64,
    #[serde(deserialize_with = "nullable")]
    pub diff: Option<JobDiff>,
    #[serde(deserialize_with = "nullable")]
    pub annotations: Option<PlanAnnotations>,
    #[serde(rename = "FailedTGAllocs", deserialize_with = "nullable")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    #[serde(deserialize_with = "nullable")]
    pub warnings: String,
    #[serde(deserialize_with = "nullable")]
    pub created_evals: Vec<Evaluation>,
}

/// The scheduler's annotations of a plan.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PlanAnnotations {
    #[serde(rename = "DesiredTGUpdates", deserialize_with = "nullable")]
    pub desired_tg_updates: BTreeMap<String, DesiredUpdates>,
}

/// Per task group: how many allocations each kind of change touches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DesiredUpdates {
    pub ignore: u64,
    pub place: u64,
    pub migrate: u64,
    pub stop: u64,
    pub in_place_update: u64,
    pub destructive_update: u64,
    pub canary: u64,
    pub preemptions: u64,
}

/// A job-level diff (`Diff` of a plan, `Diffs` of job versions).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobDiff {
    /// `Added`, `Deleted`, `Edited` or `None`.
    #[serde(deserialize_with = "nullable")]
    pub r#type: String,
    #[serde(rename = "ID", deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "lenient_list")]
    pub fields: Vec<FieldDiff>,
    #[serde(deserialize_with = "lenient_list")]
    pub objects: Vec<ObjectDiff>,
    #[serde(deserialize_with = "lenient_list")]
    pub task_groups: Vec<TaskGroupDiff>,
}

/// A task group's diff, with the scheduler's update counts.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroupDiff {
    #[serde(deserialize_with = "nullable")]
    pub r#type: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "lenient_list")]
    pub fields: Vec<FieldDiff>,
    #[serde(deserialize_with = "lenient_list")]
    pub objects: Vec<ObjectDiff>,
    #[serde(deserialize_with = "lenient_list")]
    pub tasks: Vec<TaskDiff>,
    /// `create`, `destroy`, `in-place update`, `create/destroy update`, `canary`, `ignore`, ...
    #[serde(deserialize_with = "nullable")]
    pub updates: BTreeMap<String, u64>,
}

/// A task's diff.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskDiff {
    #[serde(deserialize_with = "nullable")]
    pub r#type: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "lenient_list")]
    pub fields: Vec<FieldDiff>,
    #[serde(deserialize_with = "lenient_list")]
    pub objects: Vec<ObjectDiff>,
    /// `forces create`, `forces destroy`, `forces in-place update`, `forces create/destroy update`.
    #[serde(deserialize_with = "nullable")]
    pub annotations: Vec<String>,
}

/// A nested block's diff (`Resources`, `Service`, `Constraint`, ...).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ObjectDiff {
    #[serde(deserialize_with = "nullable")]
    pub r#type: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "lenient_list")]
    pub fields: Vec<FieldDiff>,
    #[serde(deserialize_with = "lenient_list")]
    pub objects: Vec<ObjectDiff>,
}

/// One field's change.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FieldDiff {
    #[serde(deserialize_with = "nullable")]
    pub r#type: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub old: String,
    #[serde(deserialize_with = "nullable")]
    pub new: String,
    #[serde(deserialize_with = "nullable")]
    pub annotations: Vec<String>,
}

/// One entry of `GET /v1/jobs`: the fields `drift` reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobStub {
    #[serde(rename = "ID", deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "nullable")]
    pub namespace: String,
    /// `pending`, `running` or `dead`.
    #[serde(deserialize_with = "nullable")]
    pub status: String,
    pub stop: bool,
    /// The job's meta (Nomad sends it with `meta=true` since 1.6; older ones never do, so
    /// their jobs never name a repository here).
    #[serde(deserialize_with = "nullable")]
    pub meta: BTreeMap<String, String>,
}

/// `GET /v1/job/:id`: the fields of a registered job that status and deploy read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobInfo {
    #[serde(rename = "ID", deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub namespace: String,
    #[serde(deserialize_with = "nullable")]
    pub r#type: String,
    /// `pending`, `running` or `dead`.
    #[serde(deserialize_with = "nullable")]
    pub status: String,
    #[serde(deserialize_with = "nullable")]
    pub status_description: String,
    pub version: u64,
    pub stable: bool,
    pub stop: bool,
    pub job_modify_index: u64,
    pub modify_index: u64,
    /// The job's task groups, read only for their `Update` blocks.
    #[serde(deserialize_with = "nullable")]
    pub task_groups: Vec<Value>,
    #[serde(deserialize_with = "nullable")]
    pub update: Value,
}

/// `GET /v1/job/:id/versions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobVersions {
    /// Newest first.
    #[serde(deserialize_with = "nullable")]
    pub versions: Vec<JobInfo>,
    #[serde(deserialize_with = "lenient_list")]
    pub diffs: Vec<JobDiff>,
}

/// `GET /v1/job/:id/summary`: allocations per task group and status.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobSummary {
    #[serde(rename = "JobID", deserialize_with = "nullable")]
    pub job_id: String,
    #[serde(deserialize_with = "nullable")]
    pub summary: BTreeMap<String, TaskGroupSummary>,
}

/// Allocation counts of one task group.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroupSummary {
    pub queued: u64,
    pub complete: u64,
    pub failed: u64,
    pub running: u64,
    pub starting: u64,
    pub lost: u64,
    pub unknown: u64,
}

/// An entry of `GET /v1/jobs`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobListStub {
    #[serde(rename = "ID", deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub r#type: String,
    #[serde(deserialize_with = "nullable")]
    pub status: String,
    #[serde(deserialize_with = "nullable")]
    pub job_summary: Option<JobSummary>,
    pub job_modify_index: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_read_as_defaults() {
        let eval: Evaluation = serde_json::from_str(
            r#"{"ID":"e1","FailedTGAllocs":null,"BlockedEval":null,"Status":"blocked","Extra":1}"#,
        )
        .unwrap();
        assert_eq!(eval.id, "e1");
        assert!(eval.failed_tg_allocs.is_empty());
        assert_eq!(eval.blocked_eval, "");
    }

    #[test]
    fn elided_diff_objects_are_skipped() {
        let diff: JobDiff = serde_json::from_str(
            r#"{"Type":"Added","Objects":["...",{"Type":"Added","Name":"Update","Fields":null}]}"#,
        )
        .unwrap();
        assert_eq!(diff.objects.len(), 1);
        assert_eq!(diff.objects[0].name, "Update");
    }

    #[test]
    fn agent_version_in_old_and_new_shapes() {
        let old: AgentSelf = serde_json::from_str(r#"{"config":{"Version":"0.5.5"}}"#).unwrap();
        assert_eq!(old.version().as_deref(), Some("0.5.5"));
        let new: AgentSelf = serde_json::from_str(
            r#"{"config":{"Version":{"Version":"1.9.3","Prerelease":"","Revision":"x"}}}"#,
        )
        .unwrap();
        assert_eq!(new.version().as_deref(), Some("1.9.3"));
    }

    #[test]
    fn agent_features_in_both_shapes() {
        use crate::jobspec::features::Feature;
        let new: AgentSelf = serde_json::from_str(
            r#"{"config":{"Version":{"Version":"1.9.3","Prerelease":"","Revision":"x"}}}"#,
        )
        .unwrap();
        let old: AgentSelf = serde_json::from_str(r#"{"config":{"Version":"0.9.7"}}"#).unwrap();
        let features = new.features().unwrap();
        assert!(features.has(Feature::VaultWorkloadIdentity));
        assert!(!features.has(Feature::SecretBlocks));
        let features = old.features().unwrap();
        assert!(!features.has(Feature::NativeServiceDiscovery));
        let none: AgentSelf = serde_json::from_str(r#"{"config":{}}"#).unwrap();
        assert!(none.features().is_err());
    }

    #[test]
    fn event_details_read_as_text() {
        let event: TaskEvent = serde_json::from_str(
            r#"{"Type":"Terminated","Details":{"oom_killed":"true","exit_code":137}}"#,
        )
        .unwrap();
        assert_eq!(event.detail("oom_killed").as_deref(), Some("true"));
        assert_eq!(event.detail("exit_code").as_deref(), Some("137"));
    }
}
