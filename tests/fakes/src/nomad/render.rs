//! The cluster's objects in Nomad's API JSON: jobs and their list stubs, summaries,
//! evaluations, deployments and allocations (full and list stubs).
//!
//! Shapes follow Nomad's `api` package and the samples in the corpus (`nomad-api/*.json`);
//! a test in `tests/nomad_shapes.rs` checks every top-level key and its JSON type.

use serde_json::{json, Map, Value};

use super::cluster::{Alloc, Cluster, Deployment, Eval, JobKey};
use super::job::{self, str_field};
use super::lifecycle::TaskRun;
use super::placement::ClientNode;

/// A timestamp as Go's `time.Time` marshals it (RFC 3339 with nanoseconds, UTC).
pub(crate) fn rfc3339(nanos: Option<u128>) -> String {
    let Some(nanos) = nanos else { return "0001-01-01T00:00:00Z".to_string() };
    let secs = (nanos / 1_000_000_000) as i64;
    let frac = (nanos % 1_000_000_000) as u64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// A job as `GET /v1/job/:id` returns it.
pub(crate) fn job(cluster: &Cluster, key: &JobKey) -> Option<Value> {
    let record = cluster.jobs.get(key)?;
    let mut value = record.current().clone();
    if let Some(object) = value.as_object_mut() {
        object.insert("Status".into(), json!(cluster.job_status(key)));
        object.insert("ModifyIndex".into(), json!(record.modify_index));
        object.insert("JobModifyIndex".into(), json!(record.job_modify_index));
        object.insert("CreateIndex".into(), json!(record.create_index));
    }
    Some(value)
}

/// The per-group counts of a job's allocations, as in `JobSummary.Summary`.
fn group_summary(cluster: &Cluster, key: &JobKey) -> Map<String, Value> {
    let mut summary = Map::new();
    let Some(record) = cluster.jobs.get(key) else { return summary };
    for name in super::cluster::group_names(record.current()) {
        let allocs = cluster
            .allocs
            .iter()
            .filter(|a| a.namespace == key.0 && a.job_id == key.1 && a.group == name);
        let (mut running, mut starting, mut complete, mut failed, mut lost) = (0, 0, 0, 0, 0);
        for alloc in allocs {
            match alloc.client_status.as_str() {
                "running" => running += 1,
                "pending" => starting += 1,
                "complete" => complete += 1,
                "failed" => failed += 1,
                "lost" => lost += 1,
                _ => {}
            }
        }
        let queued = cluster
            .evals
            .iter()
            .rev()
            .find(|e| e.namespace == key.0 && e.job_id == key.1 && e.status == "blocked")
            .and_then(|e| e.queued.get(&name).copied())
            .unwrap_or(0);
        summary.insert(
            name,
            json!({
                "Queued": queued, "Complete": complete, "Failed": failed, "Running": running,
                "Starting": starting, "Lost": lost, "Unknown": 0,
            }),
        );
    }
    summary
}

/// `GET /v1/job/:id/summary`.
pub(crate) fn job_summary(cluster: &Cluster, key: &JobKey) -> Option<Value> {
    let record = cluster.jobs.get(key)?;
    Some(job::summary_object(
        &key.1,
        &key.0,
        group_summary(cluster, key),
        record.create_index,
        record.modify_index.max(cluster.tables.allocs),
    ))
}

/// One entry of `GET /v1/jobs`.
pub(crate) fn job_stub(cluster: &Cluster, key: &JobKey) -> Option<Value> {
    let record = cluster.jobs.get(key)?;
    let current = record.current();
    Some(json!({
        "ID": key.1,
        "ParentID": str_field(current, "ParentID"),
        "Name": str_field(current, "Name"),
        "Namespace": key.0,
        "Datacenters": current.get("Datacenters").cloned().unwrap_or(Value::Null),
        "NodePool": job::node_pool(current),
        "Multiregion": null,
        "Type": job::job_type(current),
        "Priority": current.get("Priority").cloned().unwrap_or(json!(50)),
        "Periodic": current.get("Periodic").is_some_and(|p| !p.is_null()),
        "ParameterizedJob": current.get("ParameterizedJob").is_some_and(|p| !p.is_null()),
        "Stop": current.get("Stop").and_then(Value::as_bool).unwrap_or(false),
        "Status": cluster.job_status(key),
        "StatusDescription": "",
        "JobSummary": job_summary(cluster, key),
        "CreateIndex": record.create_index,
        "ModifyIndex": record.modify_index,
        "JobModifyIndex": record.job_modify_index,
        "SubmitTime": current.get("SubmitTime").cloned().unwrap_or(json!(0)),
        "Meta": current.get("Meta").cloned().unwrap_or(Value::Null),
    }))
}

/// An evaluation; `related` adds the stubs of the evaluations linked to it.
pub(crate) fn eval(cluster: &Cluster, eval: &Eval, related: bool) -> Value {
    let mut value = json!({
        "ID": eval.id,
        "Namespace": eval.namespace,
        "Priority": eval.priority,
        "Type": eval.job_type,
        "TriggeredBy": eval.triggered_by,
        "JobID": eval.job_id,
        "JobModifyIndex": eval.job_modify_index,
        "NodeID": "",
        "NodeModifyIndex": 0,
        "DeploymentID": eval.deployment_id,
        "Status": eval.status,
        "StatusDescription": eval.status_description,
        "Wait": 0,
        "WaitUntil": eval.wait_until.map(|t| json!(rfc3339(Some(t)))).unwrap_or(Value::Null),
        "NextEval": "",
        "PreviousEval": eval.previous_eval,
        "BlockedEval": eval.blocked_eval,
        "FailedTGAllocs": eval.failed_tg_allocs,
        "ClassEligibility": null,
        "EscapedComputedClass": false,
        "QuotaLimitReached": "",
        "AnnotatePlan": false,
        "QueuedAllocations": eval.queued,
        "LeaderACL": "",
        "SnapshotIndex": eval.create_index,
        "CreateIndex": eval.create_index,
        "ModifyIndex": eval.modify_index,
        "CreateTime": eval.create_time as u64,
        "ModifyTime": eval.modify_time as u64,
    });
    if related {
        let stubs: Vec<Value> = cluster
            .evals
            .iter()
            .filter(|e| {
                e.id != eval.id
                    && (e.id == eval.previous_eval
                        || e.id == eval.blocked_eval
                        || e.previous_eval == eval.id)
            })
            .map(eval_stub)
            .collect();
        if let Some(object) = value.as_object_mut() {
            object.insert("RelatedEvals".into(), json!(stubs));
        }
    }
    value
}

fn eval_stub(eval: &Eval) -> Value {
    json!({
        "ID": eval.id,
        "Namespace": eval.namespace,
        "Priority": eval.priority,
        "Type": eval.job_type,
        "TriggeredBy": eval.triggered_by,
        "JobID": eval.job_id,
        "NodeID": "",
        "DeploymentID": eval.deployment_id,
        "Status": eval.status,
        "StatusDescription": eval.status_description,
        "WaitUntil": null,
        "NextEval": "",
        "PreviousEval": eval.previous_eval,
        "BlockedEval": eval.blocked_eval,
        "CreateIndex": eval.create_index,
        "ModifyIndex": eval.modify_index,
        "CreateTime": eval.create_time as u64,
        "ModifyTime": eval.modify_time as u64,
    })
}

/// A deployment.
pub(crate) fn deployment(d: &Deployment) -> Value {
    let groups: Map<String, Value> = d
        .groups
        .iter()
        .map(|(name, g)| {
            (
                name.clone(),
                json!({
                    "AutoRevert": g.auto_revert,
                    "AutoPromote": false,
                    "ProgressDeadline": 600_000_000_000u64,
                    "RequireProgressBy": "0001-01-01T00:00:00Z",
                    "Promoted": false,
                    "PlacedCanaries": null,
                    "DesiredCanaries": g.desired_canaries,
                    "DesiredTotal": g.desired_total,
                    "PlacedAllocs": g.placed,
                    "HealthyAllocs": g.healthy,
                    "UnhealthyAllocs": g.unhealthy,
                }),
            )
        })
        .collect();
    json!({
        "ID": d.id,
        "Namespace": d.namespace,
        "JobID": d.job_id,
        "JobVersion": d.job_version,
        "JobModifyIndex": d.job_modify_index,
        "JobSpecModifyIndex": d.job_modify_index,
        "JobCreateIndex": d.job_create_index,
        "IsMultiregion": false,
        "TaskGroups": groups,
        "Status": d.status,
        "StatusDescription": d.status_description,
        "EvalPriority": 50,
        "CreateIndex": d.create_index,
        "ModifyIndex": d.modify_index,
        "CreateTime": d.create_time as u64,
        "ModifyTime": d.modify_time as u64,
    })
}

fn task_state(task: &TaskRun) -> Value {
    json!({
        "State": task.state,
        "Failed": task.failed,
        "Restarts": task.restarts,
        "LastRestart": rfc3339(task.last_restart),
        "StartedAt": rfc3339(task.started_at),
        "FinishedAt": rfc3339(task.finished_at),
        "Events": task.events,
        "TaskHandle": null,
    })
}

fn deployment_status(alloc: &Alloc) -> Value {
    if alloc.deployment_id.is_empty() {
        return Value::Null;
    }
    json!({
        "Healthy": alloc.healthy,
        "Timestamp": rfc3339(alloc.health_time),
        "Canary": false,
        "ModifyIndex": alloc.modify_index,
    })
}

/// An allocation as listed by `/v1/job/:id/allocations` and `/v1/deployment/allocations/:id`.
pub(crate) fn alloc_stub(cluster: &Cluster, alloc: &Alloc) -> Value {
    let node = cluster.nodes.get(alloc.node);
    let task_states: Map<String, Value> =
        alloc.tasks.iter().map(|t| (t.name.clone(), task_state(t))).collect();
    json!({
        "ID": alloc.id,
        "EvalID": alloc.eval_id,
        "Name": alloc.name,
        "Namespace": alloc.namespace,
        "NodeID": node.map(|n| n.id.as_str()).unwrap_or(""),
        "NodeName": node.map(|n| n.name.as_str()).unwrap_or(""),
        "JobID": alloc.job_id,
        "JobType": job::job_type(&alloc.job),
        "JobVersion": alloc.job_version(),
        "TaskGroup": alloc.group,
        "AllocatedResources": null,
        "DesiredStatus": alloc.desired_status,
        "DesiredDescription": alloc.desired_description,
        "ClientStatus": alloc.client_status,
        "ClientDescription": alloc.client_description,
        "DesiredTransition": {
            "Migrate": null,
            "Reschedule": (alloc.reschedule != super::cluster::Reschedule::No).then_some(true),
            "ForceReschedule": null,
        },
        "TaskStates": task_states,
        "DeploymentStatus": deployment_status(alloc),
        "FollowupEvalID": alloc.followup_eval_id,
        "RescheduleTracker": if alloc.reschedule_events.is_empty() {
            Value::Null
        } else {
            json!({"Events": alloc.reschedule_events})
        },
        "PreemptedAllocations": null,
        "PreemptedByAllocation": "",
        "PreviousAllocation": alloc.previous_allocation,
        "NextAllocation": next_allocation(cluster, alloc),
        "CreateIndex": alloc.create_index,
        "ModifyIndex": alloc.modify_index,
        "CreateTime": alloc.create_time as u64,
        "ModifyTime": alloc.modify_time as u64,
    })
}

fn next_allocation(cluster: &Cluster, alloc: &Alloc) -> String {
    cluster
        .allocs
        .iter()
        .find(|a| a.previous_allocation == alloc.id)
        .map(|a| a.id.clone())
        .unwrap_or_default()
}

fn port_json(label: &str, value: u16) -> Value {
    json!({"Label": label, "Value": value, "To": 0, "HostNetwork": "default"})
}

fn networks(alloc: &Alloc, node_ip: &str) -> Value {
    let reserved: Vec<Value> = alloc
        .ports
        .iter()
        .filter(|(_, _, fixed)| *fixed)
        .map(|(label, value, _)| port_json(label, *value))
        .collect();
    let dynamic: Vec<Value> = alloc
        .ports
        .iter()
        .filter(|(_, _, fixed)| !*fixed)
        .map(|(label, value, _)| port_json(label, *value))
        .collect();
    json!([{
        "Mode": "host",
        "Device": "eth0",
        "CIDR": format!("{node_ip}/32"),
        "IP": node_ip,
        "MBits": 0,
        "ReservedPorts": if reserved.is_empty() { Value::Null } else { json!(reserved) },
        "DynamicPorts": if dynamic.is_empty() { Value::Null } else { json!(dynamic) },
    }])
}

/// An allocation as `GET /v1/allocation/:id` returns it.
pub(crate) fn alloc_full(cluster: &Cluster, alloc: &Alloc) -> Value {
    let mut value = alloc_stub(cluster, alloc);
    let node_ip = format!("10.0.0.{}", alloc.node + 10);
    let group = job::groups(&alloc.job).iter().find(|g| str_field(g, "Name") == alloc.group);
    let mut task_resources = Map::new();
    let (mut cpu_total, mut memory_total) = (0, 0);
    for task in group.map(job::tasks).unwrap_or(&[]) {
        let (cpu, memory) = job::task_resources(task);
        cpu_total += cpu;
        memory_total += memory;
        task_resources.insert(
            str_field(task, "Name").to_string(),
            json!({"CPU": cpu, "MemoryMB": memory, "DiskMB": 0, "Networks": null}),
        );
    }
    let disk = group
        .and_then(|g| g.get("EphemeralDisk"))
        .and_then(|d| d.get("SizeMB"))
        .and_then(Value::as_u64)
        .unwrap_or(300);
    let allocated_tasks: Map<String, Value> = task_resources
        .iter()
        .map(|(name, r)| {
            (
                name.clone(),
                json!({
                    "Cpu": {"CpuShares": r["CPU"], "ReservedCores": null},
                    "Memory": {"MemoryMB": r["MemoryMB"], "MemoryMaxMB": 0},
                    "Networks": null,
                    "Devices": null,
                }),
            )
        })
        .collect();
    if let Some(object) = value.as_object_mut() {
        object.insert("Job".into(), alloc.job.clone());
        object.insert(
            "Resources".into(),
            json!({
                "CPU": cpu_total, "MemoryMB": memory_total, "DiskMB": disk,
                "Networks": networks(alloc, &node_ip),
            }),
        );
        object.insert(
            "SharedResources".into(),
            json!({"CPU": 0, "MemoryMB": 0, "DiskMB": disk, "Networks": networks(alloc, &node_ip)}),
        );
        object.insert("TaskResources".into(), Value::Object(task_resources));
        object.insert(
            "AllocatedResources".into(),
            json!({
                "Tasks": allocated_tasks,
                "TaskLifecycles": null,
                "Shared": {"DiskMB": disk, "Networks": networks(alloc, &node_ip), "Ports": null},
            }),
        );
        object.insert("Metrics".into(), alloc.metrics.clone());
        object.insert("DeploymentID".into(), json!(alloc.deployment_id));
        object.insert("AllocModifyIndex".into(), json!(alloc.alloc_modify_index));
    }
    value
}

/// `GET /v1/allocation/:id/checks`: the status of the allocation's service checks, keyed by
/// check ID, as Nomad reports checks of its own service provider.
pub(crate) fn alloc_checks(cluster: &Cluster, alloc: &Alloc) -> Value {
    let mut checks = Map::new();
    let Some(group) = job::groups(&alloc.job).iter().find(|g| str_field(g, "Name") == alloc.group)
    else {
        return Value::Object(checks);
    };
    let failing: Vec<&String> = cluster
        .scenario
        .rules_for(&alloc.job_id)
        .flat_map(|rule| rule.failing_check_paths.iter())
        .collect();
    let mut services: Vec<(&Value, &str)> = Vec::new();
    for service in group.get("Services").and_then(Value::as_array).into_iter().flatten() {
        services.push((service, ""));
    }
    for task in job::tasks(group) {
        for service in task.get("Services").and_then(Value::as_array).into_iter().flatten() {
            services.push((service, str_field(task, "Name")));
        }
    }
    let running = alloc.client_status == "running";
    for (service, task) in services {
        for check in service.get("Checks").and_then(Value::as_array).into_iter().flatten() {
            let name = str_field(check, "Name");
            let path = str_field(check, "Path");
            let kind = match str_field(check, "Type") {
                "" => "tcp",
                kind => kind,
            };
            let target = if path.is_empty() { name } else { path };
            let fails = failing.iter().any(|f| f.as_str() == "*" || f.as_str() == target);
            let (status, code, output) = match (running, fails, kind) {
                (false, _, _) => ("pending", 0, String::new()),
                (true, true, "http") => {
                    ("failure", 503, format!("nomad: http: GET {path}: 503 Service Unavailable"))
                }
                (true, true, _) => ("failure", 0, format!("nomad: {kind}: connection refused")),
                (true, false, "http") => ("success", 200, "nomad: http ok".to_string()),
                (true, false, _) => ("success", 0, format!("nomad: {kind} ok")),
            };
            let id = check_id(&alloc.id, str_field(service, "Name"), name);
            checks.insert(
                id.clone(),
                json!({
                    "Check": name,
                    "Group": alloc.name,
                    "ID": id,
                    "Mode": "healthiness",
                    "Output": output,
                    "Service": str_field(service, "Name"),
                    "Status": status,
                    "StatusCode": code,
                    "Task": task,
                    "Timestamp": (alloc.modify_time / 1_000_000_000) as u64,
                }),
            );
        }
    }
    Value::Object(checks)
}

/// A stable 32-hex-digit check ID, as Nomad derives one from the allocation and check.
fn check_id(alloc_id: &str, service: &str, check: &str) -> String {
    // FNV-1a over the three names, twice with different seeds for 128 bits.
    let hash = |seed: u64| {
        let mut h = seed;
        for byte in alloc_id.bytes().chain(service.bytes()).chain(check.bytes()) {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    format!("{:016x}{:016x}", hash(0xcbf2_9ce4_8422_2325), hash(0x8422_2325_cbf2_9ce4))
}

/// One entry of `GET /v1/nodes`.
pub(crate) fn node_stub(node: &ClientNode) -> Value {
    json!({
        "Address": "10.0.0.1",
        "ID": node.id,
        "Attributes": {"os.name": "ubuntu"},
        "Datacenter": node.datacenter,
        "Name": node.name,
        "NodeClass": node.node_class,
        "NodePool": node.node_pool,
        "Version": "1.10.3",
        "Drain": false,
        "SchedulingEligibility": "eligible",
        "Status": "ready",
        "StatusDescription": "",
        "Drivers": node
            .drivers
            .iter()
            .map(|d| (d.clone(), json!({"Detected": true, "Healthy": true})))
            .collect::<Map<_, _>>(),
        "CreateIndex": 1,
        "ModifyIndex": 1,
    })
}

/// `GET /v1/node/:id`.
pub(crate) fn node(node: &ClientNode) -> Value {
    let mut value = node_stub(node);
    if let Some(object) = value.as_object_mut() {
        object.insert("Attributes".into(), json!(node.attributes));
        object.insert("Meta".into(), json!(node.meta));
        object.insert(
            "NodeResources".into(),
            json!({"Cpu": {"CpuShares": node.cpu_mhz}, "Memory": {"MemoryMB": node.memory_mb}}),
        );
    }
    value
}
