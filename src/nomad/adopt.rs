//! Adopting a drifted job: the edits that write the cluster's version of a job into its file.
//!
//! `/nomad-spec adopt JOB` accepts what someone changed on the cluster by hand. The file is
//! not re-rendered: [`adoption`] compares the file's job with the cluster's (both in Nomad's
//! API JSON) and describes each difference it can write as an [`Edit`] (a group's count, a
//! task's image, memory, cpu, env values), which `jobspec::edit::hcl` applies in place, so the
//! file's comments and layout stay wherever the values did not change. A difference no edit
//! can express (a group or task only one side has, an env variable removed, a stopped job) is
//! named in words instead, so the change request says what it leaves out. A value that holds
//! a secret (by its name or its shape) is never written into a file: it is named as left out.
//! Pure.

use serde_json::Value;

use crate::analyze::source::holds_secret;
use crate::jobspec::edit::Edit;

/// What adopting the cluster's version into a file takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adoption {
    /// The edits to apply to the file, in the job's order.
    pub edits: Vec<Edit>,
    /// Differences no edit writes, in words.
    pub not_adopted: Vec<String>,
}

/// The edits that turn `file_job` into `cluster_job`, as far as edits can.
pub fn adoption(file_job: &Value, cluster_job: &Value) -> Adoption {
    let mut adoption = Adoption::default();
    if cluster_job.get("Stop").and_then(Value::as_bool) == Some(true) {
        adoption.not_adopted.push(
            "the job is stopped on the cluster; a file cannot say that: stop it with \
             `nomad job stop`, or deploy the file"
                .to_string(),
        );
    }
    let file_groups = named(file_job, "TaskGroups");
    let cluster_groups = named(cluster_job, "TaskGroups");
    for (name, _) in &file_groups {
        if !cluster_groups.iter().any(|(n, _)| n == name) {
            adoption.not_adopted.push(format!("group {name} is in the file, not on the cluster"));
        }
    }
    for (group, cluster_group) in &cluster_groups {
        let Some((_, file_group)) = file_groups.iter().find(|(n, _)| n == group) else {
            adoption.not_adopted.push(format!("group {group} is on the cluster, not in the file"));
            continue;
        };
        let count = |g: &Value| g.get("Count").and_then(Value::as_i64).unwrap_or(1);
        if count(file_group) != count(cluster_group) {
            adoption
                .edits
                .push(Edit::SetCount { group: group.clone(), count: count(cluster_group) });
        }
        task_edits(&mut adoption, group, file_group, cluster_group);
    }
    adoption
}

fn task_edits(adoption: &mut Adoption, group: &str, file_group: &Value, cluster_group: &Value) {
    let file_tasks = named(file_group, "Tasks");
    let cluster_tasks = named(cluster_group, "Tasks");
    for (name, _) in &file_tasks {
        if !cluster_tasks.iter().any(|(n, _)| n == name) {
            adoption.not_adopted.push(format!("task {group}/{name} is in the file only"));
        }
    }
    for (task, cluster_task) in &cluster_tasks {
        let Some((_, file_task)) = file_tasks.iter().find(|(n, _)| n == task) else {
            adoption.not_adopted.push(format!("task {group}/{task} is on the cluster only"));
            continue;
        };
        let (group, task) = (group.to_string(), task.clone());
        let image =
            |t: &Value| t.pointer("/Config/image").and_then(Value::as_str).map(str::to_string);
        if let Some(image) = image(cluster_task).filter(|i| image(file_task).as_ref() != Some(i)) {
            adoption.edits.push(Edit::SetImage { group: group.clone(), task: task.clone(), image });
        }
        let resource = |t: &Value, key: &str| {
            t.pointer(&format!("/Resources/{key}")).and_then(Value::as_i64).filter(|v| *v > 0)
        };
        let memory = resource(cluster_task, "MemoryMB");
        let memory_max = resource(cluster_task, "MemoryMaxMB");
        if let Some(memory_mb) = memory {
            if memory != resource(file_task, "MemoryMB")
                || memory_max != resource(file_task, "MemoryMaxMB")
            {
                adoption.edits.push(Edit::SetMemory {
                    group: group.clone(),
                    task: task.clone(),
                    memory_mb,
                    memory_max_mb: memory_max,
                });
            }
        }
        let cpu = resource(cluster_task, "CPU");
        if let Some(cpu_mhz) = cpu.filter(|_| cpu != resource(file_task, "CPU")) {
            adoption.edits.push(Edit::SetCpu { group: group.clone(), task: task.clone(), cpu_mhz });
        }
        env_edits(adoption, &group, &task, file_task, cluster_task);
    }
}

fn env_edits(adoption: &mut Adoption, group: &str, task: &str, file: &Value, cluster: &Value) {
    let env = |t: &Value| t.get("Env").and_then(Value::as_object).cloned().unwrap_or_default();
    let (file_env, cluster_env) = (env(file), env(cluster));
    for (name, value) in &cluster_env {
        let Some(value) = value.as_str() else { continue };
        if file_env.get(name).and_then(Value::as_str) != Some(value) {
            if holds_secret(name, value) {
                // A job file is in git: a secret set by hand on the cluster goes to Vault.
                adoption.not_adopted.push(format!(
                    "task {group}/{task}: env {name} holds a secret on the cluster; a job file \
                     never does: put it in Vault and read it with a template"
                ));
                continue;
            }
            adoption.edits.push(Edit::SetEnv {
                group: group.to_string(),
                task: task.to_string(),
                name: name.clone(),
                value: value.to_string(),
            });
        }
    }
    for name in file_env.keys().filter(|name| !cluster_env.contains_key(*name)) {
        adoption.not_adopted.push(format!("task {group}/{task}: env {name} is in the file only"));
    }
}

/// An edit of an adoption in words, for the change request and its commit: "group app:
/// count 1", "task app/server: image web:1". Env values are named, never shown: the change
/// request's diff has them.
pub fn edit_in_words(edit: &Edit) -> String {
    match edit {
        Edit::SetCount { group, count } => format!("group {group}: count {count}"),
        Edit::SetImage { group, task, image } => format!("task {group}/{task}: image {image}"),
        Edit::SetMemory { group, task, memory_mb, memory_max_mb } => match memory_max_mb {
            Some(max) => format!("task {group}/{task}: memory {memory_mb} MB (at most {max} MB)"),
            None => format!("task {group}/{task}: memory {memory_mb} MB"),
        },
        Edit::SetCpu { group, task, cpu_mhz } => format!("task {group}/{task}: cpu {cpu_mhz} MHz"),
        Edit::SetEnv { group, task, name, .. } => format!("task {group}/{task}: env {name}"),
        Edit::PortToDynamic { group, label, to } => {
            format!("group {group}: port {label} dynamic, to {to}")
        }
        Edit::SetPortTo { group, label, to } => format!("group {group}: port {label} to {to}"),
        Edit::RemoveConstraint { group, constraint, .. } => {
            format!("group {group}: without constraint {}", constraint.nomad_key())
        }
        Edit::AddConstraint { group, constraint } => {
            format!("group {group}: constraint {}", constraint.nomad_key())
        }
        Edit::SetHealthyDeadline { group, .. } => format!("group {group}: healthy deadline"),
        Edit::SetCheckPath { group, new_path, .. } => {
            format!("group {group}: check path {new_path}")
        }
    }
}

/// The named objects of a list field (`TaskGroups`, `Tasks`), in order.
fn named<'a>(parent: &'a Value, field: &str) -> Vec<(String, &'a Value)> {
    parent
        .get(field)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    item.get("Name").and_then(Value::as_str).map(|n| (n.to_string(), item))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobspec::edit;
    use crate::jobspec::parse::{parse_job, ParseOptions};
    use serde_json::json;

    const FILE: &str = r#"# The shop's web job.
job "web" {
  datacenters = ["dc1"]

  group "app" {
    count = 3 # three for the sales

    task "server" {
      driver = "docker"

      config {
        image = "web:2" # pinned
      }

      env {
        MODE = "fast"
        DEBUG = "0"
      }

      resources {
        cpu    = 100
        memory = 128 # measured
      }
    }
  }

  group "cron" {
    task "tick" {
      driver = "docker"

      config {
        image = "tick:1"
      }
    }
  }
}
"#;

    fn file_job() -> Value {
        parse_job(FILE, "web.nomad.hcl", &ParseOptions::default()).unwrap()
    }

    #[test]
    fn the_clusters_values_are_written_in_place_and_the_comments_stay() {
        let mut cluster = file_job();
        cluster["TaskGroups"][0]["Count"] = json!(1);
        let server = &mut cluster["TaskGroups"][0]["Tasks"][0];
        server["Config"]["image"] = json!("web:1");
        server["Resources"]["MemoryMB"] = json!(256);
        server["Env"]["MODE"] = json!("slow");
        let adoption = adoption(&file_job(), &cluster);
        assert_eq!(adoption.not_adopted, Vec::<String>::new());
        assert_eq!(adoption.edits.len(), 4, "{:?}", adoption.edits);
        let written = edit::hcl::apply(FILE, "web.nomad.hcl", &adoption.edits).unwrap();
        let expected = FILE
            .replace("count = 3 #", "count = 1 #")
            .replace("\"web:2\" # pinned", "\"web:1\" # pinned")
            .replace("memory = 128 #", "memory = 256 #")
            .replace("MODE = \"fast\"", "MODE = \"slow\"");
        assert_eq!(written, expected);
        // Read back, the file is the cluster's job as far as these fields go.
        let reread = parse_job(&written, "web.nomad.hcl", &ParseOptions::default()).unwrap();
        assert!(super::adoption(&reread, &cluster).edits.is_empty());
    }

    #[test]
    fn what_no_edit_can_write_is_named() {
        let mut cluster = file_job();
        cluster["Stop"] = json!(true);
        cluster["TaskGroups"].as_array_mut().unwrap().remove(1);
        let server = &mut cluster["TaskGroups"][0]["Tasks"][0];
        server["Env"].as_object_mut().unwrap().remove("DEBUG");
        cluster["TaskGroups"].as_array_mut().unwrap().push(json!({"Name": "extra", "Count": 1}));
        let adoption = adoption(&file_job(), &cluster);
        assert_eq!(adoption.edits, Vec::<Edit>::new());
        assert_eq!(
            adoption.not_adopted,
            [
                "the job is stopped on the cluster; a file cannot say that: stop it with \
                 `nomad job stop`, or deploy the file",
                "group cron is in the file, not on the cluster",
                "task app/server: env DEBUG is in the file only",
                "group extra is on the cluster, not in the file",
            ]
        );
    }

    #[test]
    fn a_secret_set_by_hand_is_never_adopted() {
        let mut cluster = file_job();
        let server = &mut cluster["TaskGroups"][0]["Tasks"][0];
        server["Env"]["API_TOKEN"] = json!("s3cr3t-v4lue-from-the-cluster");
        server["Env"]["MODE"] = json!("postgres://app:hunter2hunter2@db:5432/app");
        let adoption = adoption(&file_job(), &cluster);
        assert_eq!(adoption.edits, Vec::<Edit>::new());
        assert_eq!(adoption.not_adopted.len(), 2, "{:?}", adoption.not_adopted);
        let words = format!("{adoption:?}");
        assert!(!words.contains("s3cr3t") && !words.contains("hunter2"), "{words}");
    }

    #[test]
    fn edits_in_words_name_what_changes() {
        let mut cluster = file_job();
        cluster["TaskGroups"][0]["Count"] = json!(1);
        cluster["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("web:1");
        cluster["TaskGroups"][0]["Tasks"][0]["Env"]["MODE"] = json!("slow");
        let words: Vec<String> =
            adoption(&file_job(), &cluster).edits.iter().map(edit_in_words).collect();
        assert_eq!(
            words,
            ["group app: count 1", "task app/server: image web:1", "task app/server: env MODE"]
        );
    }

    #[test]
    fn the_same_job_needs_nothing() {
        assert_eq!(adoption(&file_job(), &file_job()), Adoption::default());
    }
}
