//! `POST /v1/job/:id/plan`: what Nomad would do with a job, without doing it.
//!
//! The diff follows Nomad's `JobDiff` shape (job, task groups, tasks; each with `Fields` and
//! nested `Objects`, typed `Added`/`Deleted`/`Edited`), computed field by field between the
//! registered version and the planned one. The annotations (`DesiredTGUpdates`) classify each
//! group's change as Nomad's scheduler does, coarsely: task config, resources, env, meta,
//! artifacts, templates and group networks or disks force a destructive update; other edits
//! are in place; count changes place or stop. `FailedTGAllocs` comes from a dry-run placement.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::cluster::{ApiError, Cluster};
use super::job::{self, str_field};
use super::placement;

/// Job fields Nomad sets or that are shown elsewhere in the diff.
const JOB_SKIP: &[&str] = &[
    "ID",
    "TaskGroups",
    "Status",
    "StatusDescription",
    "Version",
    "Stable",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "SubmitTime",
    "Namespace",
];
const GROUP_SKIP: &[&str] = &["Name", "Tasks"];
const TASK_SKIP: &[&str] = &["Name"];
/// Object-valued fields whose entries are shown as `Key[entry]` fields of the parent.
const FLATTENED_MAPS: &[&str] = &["Env", "Meta"];
/// Task fields whose change Nomad applies in place (no new allocation).
const TASK_IN_PLACE: &[&str] =
    &["Services", "KillTimeout", "ShutdownDelay", "Leader", "KillSignal"];
/// Group fields whose change forces new allocations.
const GROUP_DESTRUCTIVE: &[&str] = &["Networks", "EphemeralDisk", "Volumes", "Meta"];

/// The plan response for `job_value` in `namespace`.
pub(crate) fn plan(
    cluster: &Cluster,
    namespace: &str,
    mut job_value: Value,
    with_diff: bool,
) -> Result<Value, ApiError> {
    let errors = job::validation_errors(&job_value);
    if !errors.is_empty() {
        return Err(ApiError::new(500, job::multierror(&errors)));
    }
    job::canonicalize(&mut job_value, namespace, &cluster.scenario.region);
    let key = (namespace.to_string(), str_field(&job_value, "ID").to_string());
    let record = cluster.jobs.get(&key);
    let current = record.map(|r| job::spec_of(r.current()));
    let current_stopped =
        current.as_ref().is_some_and(|c| c.get("Stop").and_then(Value::as_bool).unwrap_or(false));
    let planned = job::spec_of(&job_value);

    let mut desired = Map::new();
    let mut group_diffs = Vec::new();
    let mut failed = Map::new();
    let mut usage = cluster.node_usage_without(&key);
    let old_groups: BTreeMap<String, &Value> = current
        .as_ref()
        .map(|c| job::groups(c).iter().map(|g| (str_field(g, "Name").to_string(), g)).collect())
        .unwrap_or_default();
    let new_groups: BTreeMap<String, &Value> =
        job::groups(&planned).iter().map(|g| (str_field(g, "Name").to_string(), g)).collect();
    let names: BTreeSet<&String> = old_groups.keys().chain(new_groups.keys()).collect();
    for name in names {
        let old_group = old_groups.get(name).copied();
        let new_group = new_groups.get(name).copied();
        let running = if current_stopped {
            0
        } else {
            cluster
                .allocs
                .iter()
                .filter(|a| {
                    a.namespace == key.0
                        && a.job_id == key.1
                        && &a.group == name
                        && !a.is_terminal()
                })
                .count() as u64
        };
        let change = classify(current.as_ref(), &planned, old_group, new_group);
        let system = matches!(job::job_type(&planned), "system" | "sysbatch");
        let wanted = new_group
            .map(|g| {
                if system {
                    placement::eligible_nodes(&cluster.nodes, &planned, g) as u64
                } else {
                    job::count(g) as u64
                }
            })
            .unwrap_or(0);
        let strategy = new_group.and_then(|g| job::update_strategy(&planned, g));
        let canary = strategy.as_ref().map(|s| s.canary).unwrap_or(0);
        let mut updates = Updates::default();
        let base = running.min(wanted);
        updates.place = wanted.saturating_sub(running);
        updates.stop = running.saturating_sub(wanted);
        match change {
            Change::Destructive if canary > 0 => {
                updates.canary = canary.min(wanted);
                updates.ignore = base;
            }
            // A rolling update replaces only its first batch now; the rest wait (ignore).
            Change::Destructive => {
                let batch = strategy.as_ref().map(|s| s.max_parallel).unwrap_or(base);
                updates.destructive = base.min(batch);
                updates.ignore = base - updates.destructive;
            }
            Change::InPlace => updates.in_place = base,
            Change::None => updates.ignore = base,
        }
        desired.insert(name.clone(), updates.annotation());
        if let Some(group) = new_group {
            let to_place = (updates.place + updates.destructive + updates.canary) as usize;
            let result =
                placement::place_group(&cluster.nodes, &mut usage, &planned, group, to_place);
            if let Some(metrics) = result.failure {
                failed.insert(name.clone(), metrics);
            }
        }
        if with_diff {
            if let Some(diff) = group_diff(name, old_group, new_group, &updates, change) {
                group_diffs.push(diff);
            }
        }
    }

    let diff = with_diff.then(|| assemble(&key.1, current.as_ref(), &planned, group_diffs));
    Ok(json!({
        "Annotations": {"DesiredTGUpdates": desired, "PreemptedAllocs": null},
        "FailedTGAllocs": if failed.is_empty() { Value::Null } else { Value::Object(failed) },
        "JobModifyIndex": record.map(|r| r.job_modify_index).unwrap_or(0),
        "CreatedEvals": null,
        "Diff": diff,
        "NextPeriodicLaunch": "0001-01-01T00:00:00Z",
        "Warnings": job::warnings(&job_value, cluster.scenario.memory_oversubscription),
        "Index": cluster.index,
    }))
}

/// The job-level diff around the group diffs.
fn assemble(id: &str, current: Option<&Value>, planned: &Value, group_diffs: Vec<Value>) -> Value {
    let (fields, objects) = diff_body(current, Some(planned), JOB_SKIP);
    let kind = if current.is_none() {
        "Added"
    } else if fields.is_empty()
        && objects.is_empty()
        && group_diffs.iter().all(|g| g["Type"] == "None")
    {
        "None"
    } else {
        "Edited"
    };
    json!({
        "Type": kind,
        "ID": id,
        "Fields": null_if_empty(fields),
        "Objects": null_if_empty(objects),
        "TaskGroups": null_if_empty(group_diffs),
    })
}

/// The diff between two versions of a job (`/v1/job/:id/versions?diffs=true`), without the
/// per-group update counts a plan adds.
pub(crate) fn version_diff(older: &Value, newer: &Value) -> Value {
    let older = job::spec_of(older);
    let newer = job::spec_of(newer);
    let old_groups: BTreeMap<String, &Value> =
        job::groups(&older).iter().map(|g| (str_field(g, "Name").to_string(), g)).collect();
    let new_groups: BTreeMap<String, &Value> =
        job::groups(&newer).iter().map(|g| (str_field(g, "Name").to_string(), g)).collect();
    let names: BTreeSet<&String> = old_groups.keys().chain(new_groups.keys()).collect();
    let mut group_diffs = Vec::new();
    for name in names {
        let (old_group, new_group) = (old_groups.get(name).copied(), new_groups.get(name).copied());
        let change = classify(Some(&older), &newer, old_group, new_group);
        if let Some(diff) = group_diff(name, old_group, new_group, &Updates::default(), change) {
            if diff["Type"] != "None" {
                group_diffs.push(diff);
            }
        }
    }
    assemble(str_field(&newer, "ID"), Some(&older), &newer, group_diffs)
}

/// How a group's existing allocations are affected.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    None,
    InPlace,
    Destructive,
}

#[derive(Debug, Default)]
struct Updates {
    place: u64,
    stop: u64,
    ignore: u64,
    in_place: u64,
    destructive: u64,
    canary: u64,
}

impl Updates {
    fn annotation(&self) -> Value {
        json!({
            "Ignore": self.ignore,
            "Place": self.place,
            "Migrate": 0,
            "Stop": self.stop,
            "InPlaceUpdate": self.in_place,
            "DestructiveUpdate": self.destructive,
            "Canary": self.canary,
            "Preemptions": 0,
        })
    }

    /// The `Updates` map of a task group diff, Nomad's words for the counts.
    fn words(&self) -> Value {
        let mut map = Map::new();
        for (word, n) in [
            ("create", self.place),
            ("destroy", self.stop),
            ("ignore", self.ignore),
            ("in-place update", self.in_place),
            ("create/destroy update", self.destructive),
            ("canary", self.canary),
        ] {
            if n > 0 {
                map.insert(word.to_string(), json!(n));
            }
        }
        if map.is_empty() {
            Value::Null
        } else {
            Value::Object(map)
        }
    }
}

fn classify(
    old_job: Option<&Value>,
    new_job: &Value,
    old: Option<&Value>,
    new: Option<&Value>,
) -> Change {
    let (Some(old), Some(new)) = (old, new) else { return Change::None };
    let mut change = Change::None;
    let raise = |change: &mut Change, to: Change| {
        if to == Change::Destructive || (*change == Change::None && to == Change::InPlace) {
            *change = to;
        }
    };
    if let Some(old_job) = old_job {
        if old_job.get("Meta") != new_job.get("Meta") {
            raise(&mut change, Change::Destructive);
        }
        let (fields, objects) = diff_body(Some(old_job), Some(new_job), JOB_SKIP);
        if !fields.is_empty() || !objects.is_empty() {
            raise(&mut change, Change::InPlace);
        }
    }
    for key in keys(old).union(&keys(new)) {
        if GROUP_SKIP.contains(&key.as_str()) || key == "Count" {
            continue;
        }
        if present(old.get(key)) != present(new.get(key)) {
            let to = if GROUP_DESTRUCTIVE.contains(&key.as_str()) {
                Change::Destructive
            } else {
                Change::InPlace
            };
            raise(&mut change, to);
        }
    }
    let old_tasks: BTreeMap<&str, &Value> =
        job::tasks(old).iter().map(|t| (str_field(t, "Name"), t)).collect();
    let new_tasks: BTreeMap<&str, &Value> =
        job::tasks(new).iter().map(|t| (str_field(t, "Name"), t)).collect();
    if old_tasks.keys().collect::<Vec<_>>() != new_tasks.keys().collect::<Vec<_>>() {
        raise(&mut change, Change::Destructive);
    }
    for (name, old_task) in &old_tasks {
        let Some(new_task) = new_tasks.get(name) else { continue };
        for key in keys(old_task).union(&keys(new_task)) {
            if present(old_task.get(key)) != present(new_task.get(key)) {
                let to = if TASK_IN_PLACE.contains(&key.as_str()) {
                    Change::InPlace
                } else {
                    Change::Destructive
                };
                raise(&mut change, to);
            }
        }
    }
    change
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// A value, with `null`, empty strings, empty lists and empty objects counted as absent.
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    })
}

fn group_diff(
    name: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    updates: &Updates,
    change: Change,
) -> Option<Value> {
    let (fields, objects) = diff_body(old, new, GROUP_SKIP);
    let old_tasks: BTreeMap<&str, &Value> = old
        .map(|g| job::tasks(g).iter().map(|t| (str_field(t, "Name"), t)).collect())
        .unwrap_or_default();
    let new_tasks: BTreeMap<&str, &Value> = new
        .map(|g| job::tasks(g).iter().map(|t| (str_field(t, "Name"), t)).collect())
        .unwrap_or_default();
    let task_names: BTreeSet<&&str> = old_tasks.keys().chain(new_tasks.keys()).collect();
    let mut tasks = Vec::new();
    for task_name in task_names {
        let old_task = old_tasks.get(*task_name).copied();
        let new_task = new_tasks.get(*task_name).copied();
        let (task_fields, task_objects) = diff_body(old_task, new_task, TASK_SKIP);
        let kind = diff_type(
            old_task.is_some(),
            new_task.is_some(),
            task_fields.is_empty() && task_objects.is_empty(),
        );
        let annotation = match kind {
            "Added" => Some("forces create"),
            "Deleted" => Some("forces destroy"),
            "Edited" if change == Change::Destructive => Some("forces create/destroy update"),
            "Edited" if change == Change::InPlace => Some("forces in-place update"),
            _ => None,
        };
        tasks.push(json!({
            "Type": kind,
            "Name": task_name,
            "Fields": null_if_empty(task_fields),
            "Objects": null_if_empty(task_objects),
            "Annotations": annotation.map(|a| json!([a])).unwrap_or(Value::Null),
        }));
    }
    let unchanged =
        fields.is_empty() && objects.is_empty() && tasks.iter().all(|t| t["Type"] == "None");
    let kind = diff_type(old.is_some(), new.is_some(), unchanged);
    let fields = if let (Some(old), Some(new)) = (old, new) {
        // The count is shown as a field of the group, as `nomad job plan` prints it.
        let mut fields = fields;
        fields.retain(|f| f["Name"] != "Count");
        let (old_count, new_count) = (job::count(old), job::count(new));
        if old_count != new_count {
            fields.insert(0, field("Edited", "Count", &json!(old_count), &json!(new_count)));
        }
        fields
    } else {
        fields
    };
    let kind = if kind == "None" && !fields.is_empty() { "Edited" } else { kind };
    Some(json!({
        "Type": kind,
        "Name": name,
        "Fields": null_if_empty(fields),
        "Objects": null_if_empty(objects),
        "Tasks": null_if_empty(tasks),
        "Updates": updates.words(),
    }))
}

fn diff_type(old: bool, new: bool, unchanged: bool) -> &'static str {
    match (old, new) {
        (false, true) => "Added",
        (true, false) => "Deleted",
        _ if unchanged => "None",
        _ => "Edited",
    }
}

fn null_if_empty(items: Vec<Value>) -> Value {
    if items.is_empty() {
        Value::Null
    } else {
        Value::Array(items)
    }
}

/// A scalar as Nomad's diff prints it.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

fn field(kind: &str, name: &str, old: &Value, new: &Value) -> Value {
    json!({
        "Type": kind, "Name": name, "Old": scalar_text(old), "New": scalar_text(new),
        "Annotations": null,
    })
}

/// The fields and nested objects that differ between two objects, skipping `skip` keys.
fn diff_body(old: Option<&Value>, new: Option<&Value>, skip: &[&str]) -> (Vec<Value>, Vec<Value>) {
    let empty = Map::new();
    let old_map = old.and_then(Value::as_object).unwrap_or(&empty);
    let new_map = new.and_then(Value::as_object).unwrap_or(&empty);
    let keys: BTreeSet<&String> = old_map.keys().chain(new_map.keys()).collect();
    let mut fields = Vec::new();
    let mut objects = Vec::new();
    for key in keys {
        if skip.contains(&key.as_str()) {
            continue;
        }
        let o = present(old_map.get(key));
        let n = present(new_map.get(key));
        let sample = n.or(o);
        let Some(sample) = sample else { continue };
        if is_scalar(sample) {
            let kind = match (o, n) {
                (None, Some(_)) => "Added",
                (Some(_), None) => "Deleted",
                (Some(a), Some(b)) if scalar_text(a) != scalar_text(b) => "Edited",
                _ => continue,
            };
            fields.push(field(kind, key, o.unwrap_or(&Value::Null), n.unwrap_or(&Value::Null)));
        } else if FLATTENED_MAPS.contains(&key.as_str()) {
            fields.extend(flat_fields(key, o, n));
        } else if key == "Config" {
            let inner = flat_fields("", o, n);
            if !inner.is_empty() {
                objects.push(object("Config", o.is_some(), n.is_some(), inner, Vec::new()));
            }
        } else if let Value::Object(_) = sample {
            let (inner_fields, inner_objects) = diff_body(o, n, &[]);
            if !inner_fields.is_empty() || !inner_objects.is_empty() {
                objects.push(object(key, o.is_some(), n.is_some(), inner_fields, inner_objects));
            }
        } else if let Value::Array(items) = sample {
            if items.iter().all(is_scalar) {
                let old_items = scalar_set(o);
                let new_items = scalar_set(n);
                let mut inner = Vec::new();
                for item in new_items.difference(&old_items) {
                    inner.push(field("Added", key, &Value::Null, &json!(item)));
                }
                for item in old_items.difference(&new_items) {
                    inner.push(field("Deleted", key, &json!(item), &Value::Null));
                }
                if !inner.is_empty() {
                    objects.push(object(key, o.is_some(), n.is_some(), inner, Vec::new()));
                }
            } else {
                objects.extend(list_objects(key, o, n));
            }
        }
    }
    (fields, objects)
}

fn scalar_set(value: Option<&Value>) -> BTreeSet<String> {
    value.and_then(Value::as_array).map(|a| a.iter().map(scalar_text).collect()).unwrap_or_default()
}

fn object(name: &str, old: bool, new: bool, fields: Vec<Value>, objects: Vec<Value>) -> Value {
    json!({
        "Type": diff_type(old, new, false),
        "Name": name,
        "Fields": null_if_empty(fields),
        "Objects": null_if_empty(objects),
    })
}

/// The name Nomad gives one element of a list field.
fn element_name(key: &str) -> String {
    match key {
        "Constraints" => "Constraint".to_string(),
        "Affinities" => "Affinity".to_string(),
        "Services" => "Service".to_string(),
        "Checks" => "Check".to_string(),
        "Networks" => "Network".to_string(),
        "ReservedPorts" => "Static Port".to_string(),
        "DynamicPorts" => "Dynamic Port".to_string(),
        "Templates" => "Template".to_string(),
        "Artifacts" => "Artifact".to_string(),
        other => other.strip_suffix('s').unwrap_or(other).to_string(),
    }
}

/// Diffs of a list of objects: matched by `Name` or `Label` when they have one, else by value.
fn list_objects(key: &str, old: Option<&Value>, new: Option<&Value>) -> Vec<Value> {
    let name = element_name(key);
    let old_items: &[Value] = old.and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let new_items: &[Value] = new.and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let identity = |v: &Value| -> Option<String> {
        ["Name", "Label"].iter().find_map(|k| v.get(*k).and_then(Value::as_str)).map(str::to_string)
    };
    let keyed =
        old_items.iter().chain(new_items).all(|v| identity(v).is_some()) && key != "Networks";
    let mut out = Vec::new();
    if keyed {
        let olds: BTreeMap<String, &Value> =
            old_items.iter().filter_map(|v| identity(v).map(|id| (id, v))).collect();
        let news: BTreeMap<String, &Value> =
            new_items.iter().filter_map(|v| identity(v).map(|id| (id, v))).collect();
        let ids: BTreeSet<&String> = olds.keys().chain(news.keys()).collect();
        for id in ids {
            let (o, n) = (olds.get(id).copied(), news.get(id).copied());
            let (fields, objects) = diff_body(o, n, &[]);
            if !fields.is_empty() || !objects.is_empty() {
                out.push(object(&name, o.is_some(), n.is_some(), fields, objects));
            }
        }
    } else if key == "Networks" {
        for i in 0..old_items.len().max(new_items.len()) {
            let (o, n) = (old_items.get(i), new_items.get(i));
            let (fields, objects) = diff_body(o, n, &[]);
            if !fields.is_empty() || !objects.is_empty() {
                out.push(object(&name, o.is_some(), n.is_some(), fields, objects));
            }
        }
    } else {
        for item in new_items.iter().filter(|v| !old_items.contains(v)) {
            let (fields, objects) = diff_body(None, Some(item), &[]);
            out.push(object(&name, false, true, fields, objects));
        }
        for item in old_items.iter().filter(|v| !new_items.contains(v)) {
            let (fields, objects) = diff_body(Some(item), None, &[]);
            out.push(object(&name, true, false, fields, objects));
        }
    }
    out
}

/// Flattens nested values to `prefix[key]` / `prefix[0]` fields, like Nomad's `flatmap`.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}[{k}]") };
                flatten(&name, v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        scalar => {
            out.insert(prefix.to_string(), scalar_text(scalar));
        }
    }
}

fn flat_fields(prefix: &str, old: Option<&Value>, new: Option<&Value>) -> Vec<Value> {
    let mut old_flat = BTreeMap::new();
    let mut new_flat = BTreeMap::new();
    if let Some(o) = old {
        flatten(prefix, o, &mut old_flat);
    }
    if let Some(n) = new {
        flatten(prefix, n, &mut new_flat);
    }
    let names: BTreeSet<&String> = old_flat.keys().chain(new_flat.keys()).collect();
    let mut fields = Vec::new();
    for name in names {
        let (o, n) = (old_flat.get(name), new_flat.get(name));
        let kind = match (o, n) {
            (None, Some(_)) => "Added",
            (Some(_), None) => "Deleted",
            (Some(a), Some(b)) if a != b => "Edited",
            _ => continue,
        };
        fields.push(json!({
            "Type": kind,
            "Name": name,
            "Old": o.cloned().unwrap_or_default(),
            "New": n.cloned().unwrap_or_default(),
            "Annotations": null,
        }));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(memory: u64, image: &str) -> Value {
        json!({"ID": "web", "Datacenters": ["dc1"],
            "TaskGroups": [{"Name": "web", "Count": 2, "Tasks": [{
            "Name": "app", "Driver": "docker", "Config": {"image": image, "ports": ["http"]},
            "Env": {"LOG": "info"}, "Resources": {"CPU": 100, "MemoryMB": memory}
        }]}]})
    }

    #[test]
    fn memory_and_image_changes_are_field_level_and_destructive() {
        let old = web(128, "nginx:1");
        let new = web(256, "nginx:2");
        let (_, objects) = diff_body(
            Some(&job::groups(&old)[0]["Tasks"][0]),
            Some(&job::groups(&new)[0]["Tasks"][0]),
            TASK_SKIP,
        );
        let text = serde_json::to_string(&objects).unwrap_or_default();
        assert!(text.contains(r#""Name":"Config""#), "{text}");
        assert!(
            text.contains(r#""Name":"image","New":"nginx:2","Old":"nginx:1""#)
                || text.contains(r#""New":"nginx:2""#),
            "{text}"
        );
        assert!(text.contains(r#""Name":"MemoryMB""#), "{text}");
        let change =
            classify(Some(&old), &new, Some(&job::groups(&old)[0]), Some(&job::groups(&new)[0]));
        assert_eq!(change, Change::Destructive);
    }

    #[test]
    fn service_changes_are_in_place_and_env_is_flattened() {
        let old = web(128, "nginx:1");
        let mut new = old.clone();
        new["TaskGroups"][0]["Tasks"][0]["Services"] =
            json!([{"Name": "web", "PortLabel": "http"}]);
        let change =
            classify(Some(&old), &new, Some(&job::groups(&old)[0]), Some(&job::groups(&new)[0]));
        assert_eq!(change, Change::InPlace);
        let mut env = old.clone();
        env["TaskGroups"][0]["Tasks"][0]["Env"]["LOG"] = json!("debug");
        let (fields, _) = diff_body(
            Some(&old["TaskGroups"][0]["Tasks"][0]),
            Some(&env["TaskGroups"][0]["Tasks"][0]),
            TASK_SKIP,
        );
        assert_eq!(fields, vec![field("Edited", "Env[LOG]", &json!("info"), &json!("debug"))]);
    }
}
