//! Edits applied to a job in Nomad's API JSON: the job the deploy loop registers again after
//! a fix, and JSON job files (with or without the `{"Job": ...}` envelope). Only the fields
//! an edit names change; every field the typed model does not know is kept.

use serde_json::{json, Value};

use super::{ConstraintText, Edit, WriteBackError};

/// Applies an edit to a job in Nomad's API JSON (the `Job` object), keeping every field the
/// typed model does not know.
pub fn apply(job: &mut Value, edit: &Edit) {
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

/// Applies edits to a JSON job file's text (with or without the `{"Job": ...}` envelope).
pub fn apply_to_file(source: &str, file: &str, edits: &[Edit]) -> Result<String, WriteBackError> {
    let fail = |message: String| WriteBackError { file: file.to_string(), message };
    let mut document: Value =
        serde_json::from_str(source).map_err(|err| fail(format!("is not JSON: {err}")))?;
    let job = if document.get("Job").is_some_and(Value::is_object) {
        &mut document["Job"]
    } else {
        &mut document
    };
    for edit in edits {
        apply(job, edit);
    }
    let mut text = serde_json::to_string_pretty(&document)
        .map_err(|err| fail(format!("cannot be written back: {err}")))?;
    text.push('\n');
    Ok(text)
}

/// The items of a JSON list (task groups, tasks) whose `Name` is `name`.
fn named_mut<'a>(
    list: Option<&'a mut Value>,
    name: &'a str,
) -> impl Iterator<Item = &'a mut Value> {
    list.and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(move |item| item.get("Name").and_then(Value::as_str) == Some(name))
}

/// Whether a constraint of the API JSON is `wanted` (no `Operand` means `=`, as in Nomad).
fn constraint_matches(value: &Value, wanted: &ConstraintText) -> bool {
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let operand = Some(text("Operand")).filter(|o| !o.is_empty()).unwrap_or_else(|| "=".into());
    text("LTarget") == wanted.attribute
        && operand == wanted.operator
        && text("RTarget") == wanted.value
}
