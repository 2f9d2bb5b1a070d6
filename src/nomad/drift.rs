//! Drift: the repository's job files and the cluster, compared job by job.
//!
//! A job file in git is a promise; someone runs `nomad job run` by hand, scales a group or
//! stops a job, and the promise is broken without a sound. This file owns the `DriftReport`
//! (per job: in sync, differs, missing on the cluster, or on the cluster with no file any
//! more), the plan's field diff put in words from the cluster's side ("group app: count 3 → 1
//! on the cluster"), its text and Markdown renderings and exit codes, and `survey`, which
//! plans every file and lists the cluster's jobs to build the report. Jobs with no file are
//! found by the job meta `nomad_spec_repository` the generated files carry
//! ([`crate::jobspec::build::REPOSITORY_META`]). Everything but `survey` is pure.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;

use super::api::{FieldDiff, JobDiff, JobStub, ObjectDiff};
use super::job_file::JobFile;
use super::plan::PlanReport;
use super::NomadClient;
use crate::jobspec::build::REPOSITORY_META;
use crate::jobspec::parse::ParseOptions;
use crate::markdown::{code, escape};

/// `drift`'s exit code when every job is as its file says.
pub const EXIT_IN_SYNC: u8 = 0;
/// `drift`'s exit code when some job drifted.
pub const EXIT_DRIFT: u8 = 1;

/// The repository's jobs and the cluster, compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// The repositories whose jobs were looked for on the cluster (the `nomad_spec_repository`
    /// meta of the files, and any named on the command line).
    pub repositories: Vec<String>,
    /// One entry per job file, then the jobs on the cluster that no file describes.
    pub jobs: Vec<JobDrift>,
}

/// One job, compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobDrift {
    /// The job's ID.
    pub job: String,
    /// The namespace it was compared in.
    pub namespace: String,
    /// The job file, as it was named; `None` for a job no file describes any more.
    pub file: Option<String>,
    /// How the job and the cluster compare.
    #[serde(flatten)]
    pub state: DriftState,
}

/// How one job compares with the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DriftState {
    /// The cluster runs what the file says.
    InSync,
    /// The cluster runs something else; each change in words, from the cluster's side.
    Differs { changes: Vec<String> },
    /// The file's job is not registered on the cluster.
    Missing,
    /// The job is on the cluster and names this repository, but no file describes it.
    NoFile {
        /// The repository its `nomad_spec_repository` meta names.
        repository: String,
    },
}

impl DriftState {
    /// Whether this is drift at all.
    pub fn is_drift(&self) -> bool {
        !matches!(self, DriftState::InSync)
    }

    /// The state in a few words: "in sync", "differs from the cluster", ...
    pub fn words(&self) -> &'static str {
        match self {
            DriftState::InSync => "in sync",
            DriftState::Differs { .. } => "differs from the cluster",
            DriftState::Missing => "missing on the cluster",
            DriftState::NoFile { .. } => "on the cluster, no job file",
        }
    }
}

impl DriftReport {
    /// Whether any job drifted.
    pub fn has_drift(&self) -> bool {
        self.jobs.iter().any(|job| job.state.is_drift())
    }

    /// `drift`'s exit code: 0 in sync, 1 drift.
    pub fn exit_code(&self) -> u8 {
        if self.has_drift() {
            EXIT_DRIFT
        } else {
            EXIT_IN_SYNC
        }
    }

    /// "2 in sync, 1 differs, 1 missing on the cluster, 1 with no file".
    pub fn summary(&self) -> String {
        let count = |wanted: fn(&DriftState) -> bool| {
            self.jobs.iter().filter(|job| wanted(&job.state)).count()
        };
        let parts = [
            (count(|s| matches!(s, DriftState::InSync)), "in sync"),
            (count(|s| matches!(s, DriftState::Differs { .. })), "differs"),
            (count(|s| matches!(s, DriftState::Missing)), "missing on the cluster"),
            (count(|s| matches!(s, DriftState::NoFile { .. })), "with no file"),
        ];
        let shown: Vec<String> =
            parts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
        if shown.is_empty() {
            "no jobs".to_string()
        } else {
            shown.join(", ")
        }
    }
}

/// How the job of `file` compares with the cluster, from its plan.
pub fn job_drift(file: &str, namespace: &str, plan: &PlanReport) -> JobDrift {
    let state = match plan.diff.as_ref().map(|diff| diff.r#type.as_str()) {
        Some("Added") => DriftState::Missing,
        Some("Edited" | "Deleted") => {
            let diff = plan.diff.as_ref().map(changes_in_words).unwrap_or_default();
            let changes = if diff.is_empty() {
                vec!["the job differs in a way Nomad's diff does not name".to_string()]
            } else {
                diff
            };
            DriftState::Differs { changes }
        }
        _ => DriftState::InSync,
    };
    JobDrift {
        job: plan.job.clone(),
        namespace: namespace.to_string(),
        file: Some(file.to_string()),
        state,
    }
}

/// The plan's diff in words, from the cluster's side: the plan's `Old` is the cluster's
/// value and `New` the file's, so "count 3 → 1 on the cluster" reads file → cluster.
pub fn changes_in_words(diff: &JobDiff) -> Vec<String> {
    let mut words = Vec::new();
    for field in diff.fields.iter().filter(|f| f.r#type != "None") {
        if field.name == "Stop" && field.old == "true" {
            words.push("stopped on the cluster".to_string());
            continue;
        }
        words.push(field_words("", &[], field));
    }
    objects_in_words(&mut words, "", &mut Vec::new(), &diff.objects);
    for group in diff.task_groups.iter().filter(|g| g.r#type != "None") {
        if let Some(whole) = whole_block_words("group", &group.name, &group.r#type) {
            words.push(whole);
            continue;
        }
        let place = format!("group {}: ", group.name);
        for field in group.fields.iter().filter(|f| f.r#type != "None") {
            words.push(field_words(&place, &[], field));
        }
        objects_in_words(&mut words, &place, &mut Vec::new(), &group.objects);
        for task in group.tasks.iter().filter(|t| t.r#type != "None") {
            let task_name = format!("{}/{}", group.name, task.name);
            if let Some(whole) = whole_block_words("task", &task_name, &task.r#type) {
                words.push(whole);
                continue;
            }
            let place = format!("task {task_name}: ");
            for field in task.fields.iter().filter(|f| f.r#type != "None") {
                words.push(field_words(&place, &[], field));
            }
            objects_in_words(&mut words, &place, &mut Vec::new(), &task.objects);
        }
    }
    words
}

/// A group or task only one side has, in words; `None` when both have it.
fn whole_block_words(kind: &str, name: &str, diff_type: &str) -> Option<String> {
    match diff_type {
        "Added" => Some(format!("{kind} {name} is in the file, not on the cluster")),
        "Deleted" => Some(format!("{kind} {name} is on the cluster, not in the file")),
        _ => None,
    }
}

fn objects_in_words<'d>(
    words: &mut Vec<String>,
    place: &str,
    path: &mut Vec<&'d str>,
    objects: &'d [ObjectDiff],
) {
    for object in objects.iter().filter(|o| o.r#type != "None") {
        path.push(&object.name);
        for field in object.fields.iter().filter(|f| f.r#type != "None") {
            words.push(field_words(place, path, field));
        }
        objects_in_words(words, place, path, &object.objects);
        path.pop();
    }
}

/// One changed field in words: `place` says where ("group app: "), `path` the blocks it is in.
fn field_words(place: &str, path: &[&str], field: &FieldDiff) -> String {
    let what = field_name(path, &field.name);
    let value = |v: &str| if v.is_empty() { "(empty)".to_string() } else { v.to_string() };
    match field.r#type.as_str() {
        "Added" => format!("{place}{what} {} in the file, unset on the cluster", value(&field.new)),
        "Deleted" => format!("{place}{what} {} on the cluster, not in the file", value(&field.old)),
        _ => format!("{place}{what} {} → {} on the cluster", value(&field.new), value(&field.old)),
    }
}

/// A field's name as a person says it: `count`, `image`, `memory (MB)`, `env PORT`; other
/// fields keep Nomad's names, after the blocks they are in (`Service Tags`).
fn field_name(path: &[&str], name: &str) -> String {
    let last_block = path.last().copied().unwrap_or_default();
    let keyed = |prefix: &str| {
        name.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(']')).map(str::to_string)
    };
    if let Some(key) = keyed("Config[") {
        return key;
    }
    if let Some(key) = keyed("Env[") {
        return format!("env {key}");
    }
    if let Some(key) = keyed("Meta[") {
        return format!("meta {key}");
    }
    match (last_block, name) {
        ("", "Count") => return "count".to_string(),
        ("Config", key) => return key.to_string(),
        ("Env", key) => return format!("env {key}"),
        ("Meta", key) => return format!("meta {key}"),
        ("Resources", "MemoryMB") => return "memory (MB)".to_string(),
        ("Resources", "MemoryMaxMB") => return "memory max (MB)".to_string(),
        ("Resources", "CPU") => return "cpu (MHz)".to_string(),
        _ => {}
    }
    let mut words: Vec<&str> = path.to_vec();
    words.push(name);
    words.join(" ")
}

/// The jobs on the cluster that name one of `repositories` in their meta but that no file
/// describes (`described` holds namespace and ID of every file's job).
pub fn jobs_without_file(
    stubs: &[JobStub],
    repositories: &BTreeSet<String>,
    described: &BTreeSet<(String, String)>,
) -> Vec<JobDrift> {
    let mut found: Vec<JobDrift> = stubs
        .iter()
        .filter(|stub| !stub.stop)
        .filter_map(|stub| {
            let repository = stub.meta.get(REPOSITORY_META)?;
            if !repositories.contains(repository) {
                return None;
            }
            if described.contains(&(stub.namespace.clone(), stub.id.clone())) {
                return None;
            }
            Some(JobDrift {
                job: stub.id.clone(),
                namespace: stub.namespace.clone(),
                file: None,
                state: DriftState::NoFile { repository: repository.clone() },
            })
        })
        .collect();
    found.sort_by(|a, b| (&a.namespace, &a.job).cmp(&(&b.namespace, &b.job)));
    found.dedup_by(|a, b| a.namespace == b.namespace && a.job == b.job);
    found
}

/// Plans every job file against the cluster and lists the cluster's jobs, into a report.
/// `files` are named as the report should show them; `repositories` adds repositories to
/// those the files' meta names. A file that cannot be read or planned is an error naming it.
pub async fn survey(
    client: &NomadClient,
    files: &[(String, JobFile)],
    options: &ParseOptions,
    repositories: &[String],
) -> anyhow::Result<DriftReport> {
    let mut jobs = Vec::new();
    let mut described = BTreeSet::new();
    let mut wanted: BTreeSet<String> = repositories.iter().cloned().collect();
    let mut namespaces = BTreeSet::from([client.namespace().to_string()]);
    for (name, file) in files {
        let (job, _parsed_by) = file.to_job(Some(client), options).await?;
        let job_client = client.for_job(&job);
        let namespace = job_client.namespace().to_string();
        let response =
            job_client.plan(&job).await.with_context(|| format!("cannot plan {name}"))?;
        let plan = PlanReport::new(&job, &response);
        if let Some(repository) = repository_of(&job) {
            wanted.insert(repository);
        }
        described.insert((namespace.clone(), plan.job.clone()));
        namespaces.insert(namespace.clone());
        jobs.push(job_drift(name, &namespace, &plan));
    }
    let mut stubs = Vec::new();
    for namespace in &namespaces {
        let listed = client
            .in_namespace(namespace)
            .jobs_with_meta()
            .await
            .with_context(|| format!("cannot list the jobs in namespace {namespace}"))?;
        stubs.extend(listed.into_iter().map(|mut stub| {
            if stub.namespace.is_empty() {
                stub.namespace = namespace.clone();
            }
            stub
        }));
    }
    jobs.extend(jobs_without_file(&stubs, &wanted, &described));
    Ok(DriftReport { repositories: wanted.into_iter().collect(), jobs })
}

/// The repository a job's `nomad_spec_repository` meta names.
fn repository_of(job: &Value) -> Option<String> {
    job.get("Meta")
        .and_then(|meta| meta.get(REPOSITORY_META))
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
}

/// The report for a terminal.
pub fn render_text(report: &DriftReport) -> String {
    let mut out = String::new();
    for job in &report.jobs {
        let place = match &job.file {
            Some(file) => format!(" ({file})"),
            None => String::new(),
        };
        let _ = writeln!(out, "{}{place}: {}", job.job, job.state.words());
        match &job.state {
            DriftState::Differs { changes } => {
                for change in changes {
                    let _ = writeln!(out, "  - {change}");
                }
            }
            DriftState::NoFile { repository } => {
                let _ = writeln!(out, "  - its meta {REPOSITORY_META} names {repository}");
            }
            DriftState::InSync | DriftState::Missing => {}
        }
    }
    if !report.jobs.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{}", report.summary());
    out
}

/// The report for an issue or a comment; names and values are escaped, since a job file's
/// author and whoever changed the cluster chose them.
pub fn render_markdown(report: &DriftReport) -> String {
    let mut out = String::new();
    let verdict = if report.has_drift() { "drift" } else { "in sync" };
    let _ = writeln!(out, "### Nomad drift: {verdict}\n");
    let _ = writeln!(out, "{}\n", report.summary());
    if report.jobs.is_empty() {
        return out;
    }
    let _ = writeln!(out, "| job | file | state |");
    let _ = writeln!(out, "|---|---|---|");
    for job in &report.jobs {
        let file = job.file.as_deref().map_or_else(|| "none".to_string(), code);
        let _ = writeln!(out, "| {} | {file} | {} |", code(&job.job), job.state.words());
    }
    out.push('\n');
    for job in &report.jobs {
        if let DriftState::Differs { changes } = &job.state {
            let _ = writeln!(out, "**{}** differs:\n", code(&job.job));
            for change in changes {
                let _ = writeln!(out, "- {}", escape(change));
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nomad::api::PlanResponse;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn plan(diff: Value) -> PlanReport {
        let response: PlanResponse =
            serde_json::from_value(json!({"JobModifyIndex": 7, "Diff": diff})).unwrap();
        PlanReport::new(&json!({"ID": "web"}), &response)
    }

    fn stub(id: &str, namespace: &str, repository: Option<&str>, stop: bool) -> JobStub {
        JobStub {
            id: id.into(),
            namespace: namespace.into(),
            status: "running".into(),
            stop,
            meta: repository
                .map(|r| BTreeMap::from([(REPOSITORY_META.to_string(), r.to_string())]))
                .unwrap_or_default(),
        }
    }

    #[test]
    fn an_added_job_is_missing_and_an_unchanged_one_in_sync() {
        let missing = job_drift("web.nomad.hcl", "default", &plan(json!({"Type": "Added"})));
        assert_eq!(missing.state, DriftState::Missing);
        let same = job_drift("web.nomad.hcl", "default", &plan(json!({"Type": "None"})));
        assert_eq!(same.state, DriftState::InSync);
        assert_eq!(same.file.as_deref(), Some("web.nomad.hcl"));
    }

    #[test]
    fn the_diff_is_read_from_the_cluster_side() {
        let report = plan(json!({"Type": "Edited", "ID": "web",
            "Fields": [{"Type": "Edited", "Name": "Stop", "Old": "true", "New": "false"},
                       {"Type": "Edited", "Name": "Priority", "Old": "70", "New": "50"}],
            "TaskGroups": [
                {"Type": "Edited", "Name": "app",
                 "Fields": [{"Type": "Edited", "Name": "Count", "Old": "1", "New": "3"}],
                 "Tasks": [{"Type": "Edited", "Name": "server",
                    "Fields": [{"Type": "Edited", "Name": "Config[image]", "Old": "web:1", "New": "web:2"},
                               {"Type": "Added", "Name": "Env[MODE]", "Old": "", "New": "fast"}],
                    "Objects": [
                        {"Type": "Edited", "Name": "Resources", "Fields": [
                            {"Type": "Edited", "Name": "MemoryMB", "Old": "512", "New": "256"},
                            {"Type": "None", "Name": "CPU", "Old": "100", "New": "100"}]},
                        {"Type": "Edited", "Name": "Config", "Fields": [
                            {"Type": "Deleted", "Name": "command", "Old": "/bin/sh", "New": ""}]},
                        {"Type": "Edited", "Name": "Service", "Fields": [
                            {"Type": "Edited", "Name": "Tags", "Old": "", "New": "v2"}]}]}]},
                {"Type": "Added", "Name": "cache"},
                {"Type": "Deleted", "Name": "debug"}]}));
        let drift = job_drift("web.nomad.hcl", "default", &report);
        let DriftState::Differs { changes } = drift.state else { panic!("{drift:?}") };
        assert_eq!(
            changes,
            [
                "stopped on the cluster",
                "Priority 50 → 70 on the cluster",
                "group app: count 3 → 1 on the cluster",
                "task app/server: image web:2 → web:1 on the cluster",
                "task app/server: env MODE fast in the file, unset on the cluster",
                "task app/server: memory (MB) 256 → 512 on the cluster",
                "task app/server: command /bin/sh on the cluster, not in the file",
                "task app/server: Service Tags v2 → (empty) on the cluster",
                "group cache is in the file, not on the cluster",
                "group debug is on the cluster, not in the file",
            ]
        );
    }

    #[test]
    fn an_edit_nomad_does_not_name_still_differs() {
        let drift = job_drift("web.nomad.hcl", "default", &plan(json!({"Type": "Edited"})));
        assert!(matches!(drift.state, DriftState::Differs { ref changes } if changes.len() == 1));
    }

    #[test]
    fn jobs_without_file_name_the_repository_and_are_running() {
        let stubs = [
            stub("web", "default", Some("shop"), false),
            stub("old-api", "default", Some("shop"), false),
            stub("old-api", "staging", Some("shop"), false),
            stub("stopped", "default", Some("shop"), true),
            stub("billing", "default", Some("billing"), false),
            stub("by-hand", "default", None, false),
        ];
        let repositories = BTreeSet::from(["shop".to_string()]);
        let described = BTreeSet::from([("default".to_string(), "web".to_string())]);
        let found: Vec<(String, String)> = jobs_without_file(&stubs, &repositories, &described)
            .into_iter()
            .map(|job| (job.namespace, job.job))
            .collect();
        assert_eq!(
            found,
            [("default".into(), "old-api".into()), ("staging".into(), "old-api".into())]
        );
    }

    #[test]
    fn exit_codes_and_summary() {
        let mut report = DriftReport { repositories: vec![], jobs: vec![] };
        assert_eq!(report.exit_code(), EXIT_IN_SYNC);
        assert_eq!(render_text(&report), "no jobs\n");
        report.jobs.push(job_drift("a.nomad", "default", &plan(json!({"Type": "None"}))));
        assert_eq!(report.exit_code(), EXIT_IN_SYNC);
        report.jobs.push(job_drift("b.nomad", "default", &plan(json!({"Type": "Added"}))));
        assert_eq!(report.exit_code(), EXIT_DRIFT);
        assert_eq!(report.summary(), "1 in sync, 1 missing on the cluster");
    }

    #[test]
    fn markdown_escapes_what_the_cluster_says() {
        let report = DriftReport {
            repositories: vec!["shop".into()],
            jobs: vec![JobDrift {
                job: "web".into(),
                namespace: "default".into(),
                file: Some("deploy/web.nomad.hcl".into()),
                state: DriftState::Differs {
                    changes: vec!["task app/server: image <b>x</b> → y on the cluster".into()],
                },
            }],
        };
        insta::assert_snapshot!(render_markdown(&report), @r"
        ### Nomad drift: drift

        1 differs

        | job | file | state |
        |---|---|---|
        | <code>web</code> | <code>deploy/web\.nomad\.hcl</code> | differs from the cluster |

        **<code>web</code>** differs:

        - task app/server: image &lt;b&gt;x&lt;/b&gt; → y on the cluster
        ");
    }
}
