//! The `JobSpec` model: serde types mirroring Nomad's job API JSON.
//!
//! One value of these types is the single source of truth for a job: it is rendered to HCL
//! (`jobspec::render`), sent to Nomad's HTTP API unchanged (`nomad`), and produced from a job
//! file (`jobspec::parse`). Field names follow the API (`PascalCase`, durations in nanoseconds).
//! Every field is optional so partial jobs deserialize; unknown fields are ignored. This file
//! owns only types and small accessors, no behaviour.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Nanoseconds, as Nomad's API carries durations.
pub type Nanos = i64;

/// One second in Nomad's duration unit.
pub const SECOND: Nanos = 1_000_000_000;

/// The `{"Job": ...}` envelope of register, plan and validate requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobEnvelope {
    pub job: JobSpec,
}

/// A Nomad job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobSpec {
    #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `service`, `batch`, `system` or `sysbatch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datacenters: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_pool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all_at_once: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<Constraint>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinities: Option<Vec<Affinity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_groups: Option<Vec<TaskGroup>>,
    /// Set by Nomad; sent back as `JobModifyIndex` to register with `EnforceIndex`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_modify_index: Option<u64>,
    /// Set by Nomad.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Set by Nomad.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stable: Option<bool>,
    /// Set by Nomad: `pending`, `running` or `dead`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Set by Nomad.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<bool>,
}

/// A task group: tasks placed together, scaled together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroup {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<Constraint>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinities: Option<Vec<Affinity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<Network>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<Service>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, VolumeRequest>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reschedule_policy: Option<ReschedulePolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_disk: Option<EphemeralDisk>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, String>>,
    pub tasks: Vec<Task>,
}

/// A task: one process run by a driver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Task {
    pub name: String,
    pub driver: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Driver configuration (`image`, `ports`, `args`, ...), free-form as in the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<Service>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub templates: Option<Vec<Template>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault: Option<Vault>,
    /// Nomad 1.11+ `secret` blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<Secret>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<Vec<VolumeMount>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<Constraint>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_timeout: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<bool>,
}

/// Group network: mode and ports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Network {
    /// `bridge`, `host`, `none` or `cni/<name>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_ports: Option<Vec<Port>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_ports: Option<Vec<Port>>,
}

/// A named port: static when in `ReservedPorts`, dynamic when in `DynamicPorts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Port {
    pub label: String,
    /// The static host port (0 for dynamic ports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
    /// The port inside the task's network namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_network: Option<String>,
}

/// A service registration (Consul or Nomad).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Service {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_label: Option<String>,
    /// `consul` or `nomad`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<Check>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_name: Option<String>,
}

/// A service health check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Check {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `http`, `tcp`, `grpc` or `script`.
    pub r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Nanos>,
    #[serde(rename = "GRPCService", skip_serializing_if = "Option::is_none")]
    pub grpc_service: Option<String>,
    #[serde(rename = "GRPCUseTLS", skip_serializing_if = "Option::is_none")]
    pub grpc_use_tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
}

/// Task resources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    /// CPU in MHz.
    #[serde(rename = "CPU", skip_serializing_if = "Option::is_none")]
    pub cpu: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<i64>,
    #[serde(rename = "MemoryMB", skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<i64>,
    /// Memory oversubscription ceiling (`memory_max`).
    #[serde(rename = "MemoryMaxMB", skip_serializing_if = "Option::is_none")]
    pub memory_max_mb: Option<i64>,
}

/// Group restart policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Nanos>,
    /// `delay` or `fail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// Group reschedule policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReschedulePolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_function: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unlimited: Option<bool>,
}

/// Rolling update strategy (job or group level).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateStrategy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<i64>,
    /// `checks`, `task_states` or `manual`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_healthy_time: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy_deadline: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_deadline: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_revert: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_promote: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stagger: Option<Nanos>,
}

/// A placement constraint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Constraint {
    #[serde(rename = "LTarget", skip_serializing_if = "Option::is_none")]
    pub l_target: Option<String>,
    #[serde(rename = "RTarget", skip_serializing_if = "Option::is_none")]
    pub r_target: Option<String>,
    /// `=`, `!=`, `>`, `regexp`, `set_contains`, `distinct_hosts`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operand: Option<String>,
}

/// A placement preference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Affinity {
    #[serde(rename = "LTarget", skip_serializing_if = "Option::is_none")]
    pub l_target: Option<String>,
    #[serde(rename = "RTarget", skip_serializing_if = "Option::is_none")]
    pub r_target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}

/// A group volume request (host or CSI).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `host` or `csi`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_alloc: Option<bool>,
}

/// A task's mount of a group volume.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeMount {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// A consul-template rendered into the task directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Template {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded_tmpl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_path: Option<String>,
    /// `restart`, `signal`, `noop` or `script`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_signal: Option<String>,
    /// Load the rendered file as environment variables (`env = true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envvars: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_delim: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right_delim: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perms: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub splay: Option<Nanos>,
}

/// A task's Vault access.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Vault {
    /// Workload identity role (Nomad 1.7+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Legacy token policies (before workload identity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_signal: Option<String>,
    /// Expose `VAULT_TOKEN` to the task (a boolean; Nomad has no `env { }` map here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<bool>,
}

/// A Nomad 1.11+ task `secret` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Secret {
    pub name: String,
    /// `vault`, `nomad` or a custom provider.
    pub provider: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
}

/// Task lifecycle hook (init and sidecar tasks).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Lifecycle {
    /// `prestart`, `poststart` or `poststop`.
    pub hook: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<bool>,
}

/// Group ephemeral disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EphemeralDisk {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky: Option<bool>,
    #[serde(rename = "SizeMB", skip_serializing_if = "Option::is_none")]
    pub size_mb: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrate: Option<bool>,
}

impl JobSpec {
    /// The job's ID, falling back to its name.
    pub fn id_or_name(&self) -> Option<&str> {
        self.id.as_deref().or(self.name.as_deref())
    }

    /// The task groups, empty when none.
    pub fn groups(&self) -> &[TaskGroup] {
        self.task_groups.as_deref().unwrap_or(&[])
    }

    /// The task groups, for changes.
    pub fn groups_mut(&mut self) -> &mut Vec<TaskGroup> {
        self.task_groups.get_or_insert_with(Vec::new)
    }
}

impl TaskGroup {
    /// Maps the port labelled `label` to container port `to`, adding it as a dynamic port of
    /// the first network (created when there is none) when the group has no such port.
    pub fn set_port_to(&mut self, label: &str, to: i64) {
        let networks = self.networks.get_or_insert_with(Vec::new);
        let existing = networks
            .iter_mut()
            .flat_map(|n| {
                n.reserved_ports.iter_mut().flatten().chain(n.dynamic_ports.iter_mut().flatten())
            })
            .find(|p| p.label == label);
        match existing {
            Some(port) => port.to = Some(to),
            None => {
                if networks.is_empty() {
                    networks.push(Default::default());
                }
                networks[0].dynamic_ports.get_or_insert_with(Vec::new).push(Port {
                    label: label.to_string(),
                    to: Some(to),
                    ..Default::default()
                });
            }
        }
    }
}
