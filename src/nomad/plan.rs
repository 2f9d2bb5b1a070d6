//! What Nomad would do with a job: the `PlanReport` model and its two renderings.
//!
//! A report is built from Nomad's plan response (and the job, for what it asks of a node):
//! per task group the update counts, the field-level diff, warnings, and placement failures
//! in words. `render_text` is for a terminal, `render_markdown` for a PR comment; both show
//! the same data. Exit codes follow `nomad job plan`. No I/O here.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::api::{DesiredUpdates, FieldDiff, JobDiff, ObjectDiff, PlanResponse};
use super::diagnose::{explain_placement, GroupDemand};
use crate::markdown::{code, escape};

/// `nomad job plan`'s exit code when nothing would change.
pub const EXIT_NO_CHANGES: u8 = 0;
/// `nomad job plan`'s exit code when allocations would be created, destroyed or changed.
pub const EXIT_CHANGES: u8 = 1;
/// `nomad job plan`'s exit code on error.
pub const EXIT_ERROR: u8 = 255;

/// What Nomad would do with one job.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// The job's ID.
    pub job: String,
    /// The job's modify index at plan time: register with it to refuse concurrent changes.
    pub job_modify_index: u64,
    /// `Added`, `Edited`, `Deleted` or `None` (the job as a whole).
    pub change: String,
    /// Per task group, in the job's order.
    pub groups: Vec<GroupPlan>,
    /// The field-level diff, as Nomad computed it.
    #[serde(skip)]
    pub diff: Option<JobDiff>,
    /// Nomad's warnings about the job, one per line.
    pub warnings: Vec<String>,
    /// Task groups that could not be placed, explained.
    pub placement_failures: Vec<PlacementFailure>,
}

/// One task group's planned changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupPlan {
    pub name: String,
    pub create: u64,
    pub destroy: u64,
    pub in_place: u64,
    pub destructive: u64,
    pub canary: u64,
    pub migrate: u64,
    pub ignore: u64,
}

/// A task group that Nomad could not place, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlacementFailure {
    pub group: String,
    /// e.g. "no node has 2048 MB free: memory exhausted on 3 nodes; ...".
    pub explanation: String,
}

impl GroupPlan {
    /// Whether any allocation would be touched.
    pub fn changes_anything(&self) -> bool {
        self.create + self.destroy + self.in_place + self.destructive + self.canary + self.migrate
            > 0
    }

    /// "1 create, 2 in-place update", as `nomad job plan` prints it.
    pub fn summary(&self) -> String {
        let parts = [
            (self.create, "create"),
            (self.destroy, "destroy"),
            (self.in_place, "in-place update"),
            (self.destructive, "create/destroy update"),
            (self.canary, "canary"),
            (self.migrate, "migrate"),
            (self.ignore, "ignore"),
        ];
        let shown: Vec<String> = parts
            .iter()
            .filter(|(count, _)| *count > 0)
            .map(|(count, what)| format!("{count} {what}"))
            .collect();
        if shown.is_empty() {
            "no change".into()
        } else {
            shown.join(", ")
        }
    }
}

impl PlanReport {
    /// Builds the report from Nomad's plan response and the job that was planned.
    pub fn new(job: &Value, response: &PlanResponse) -> PlanReport {
        let job_id = job
            .get("ID")
            .and_then(Value::as_str)
            .or_else(|| response.diff.as_ref().map(|diff| diff.id.as_str()))
            .unwrap_or_default()
            .to_string();
        let desired = response.annotations.as_ref().map(|a| &a.desired_tg_updates);
        let mut names: Vec<String> = group_names(job);
        if let Some(diff) = &response.diff {
            for group in &diff.task_groups {
                if !names.contains(&group.name) {
                    names.push(group.name.clone());
                }
            }
        }
        if let Some(desired) = desired {
            for name in desired.keys() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        let groups = names
            .into_iter()
            .map(|name| {
                let from_scheduler = desired.and_then(|d| d.get(&name));
                let from_diff = response
                    .diff
                    .as_ref()
                    .and_then(|diff| diff.task_groups.iter().find(|g| g.name == name))
                    .map(|g| &g.updates);
                group_plan(name, from_scheduler, from_diff)
            })
            .collect();
        let placement_failures = response
            .failed_tg_allocs
            .iter()
            .map(|(group, metric)| PlacementFailure {
                group: group.clone(),
                explanation: explain_placement(metric, &GroupDemand::of(job, group)),
            })
            .collect();
        PlanReport {
            job: job_id,
            job_modify_index: response.job_modify_index,
            change: response.diff.as_ref().map(|d| d.r#type.clone()).unwrap_or_default(),
            groups,
            diff: response.diff.clone(),
            warnings: response
                .warnings
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(|line| line.trim_start_matches("* ").to_string())
                .filter(|line| !line.ends_with("warning(s):"))
                .collect(),
            placement_failures,
        }
    }

    /// Whether the job or any allocation would change.
    pub fn has_changes(&self) -> bool {
        !matches!(self.change.as_str(), "" | "None")
            || self.groups.iter().any(GroupPlan::changes_anything)
    }

    /// The exit code `nomad job plan` would give.
    pub fn exit_code(&self) -> u8 {
        if self.has_changes() {
            EXIT_CHANGES
        } else {
            EXIT_NO_CHANGES
        }
    }
}

fn group_names(job: &Value) -> Vec<String> {
    job.get("TaskGroups")
        .and_then(Value::as_array)
        .map(|groups| {
            groups
                .iter()
                .filter_map(|g| g.get("Name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn group_plan(
    name: String,
    scheduler: Option<&DesiredUpdates>,
    diff: Option<&std::collections::BTreeMap<String, u64>>,
) -> GroupPlan {
    if let Some(d) = scheduler {
        return GroupPlan {
            name,
            create: d.place,
            destroy: d.stop,
            in_place: d.in_place_update,
            destructive: d.destructive_update,
            canary: d.canary,
            migrate: d.migrate,
            ignore: d.ignore,
        };
    }
    let count = |key: &str| diff.and_then(|u| u.get(key)).copied().unwrap_or(0);
    GroupPlan {
        name,
        create: count("create"),
        destroy: count("destroy"),
        in_place: count("in-place update"),
        destructive: count("create/destroy update"),
        canary: count("canary"),
        migrate: count("migrate"),
        ignore: count("ignore"),
    }
}

/// The `+`/`-`/`~` marker of a diff type.
fn marker(diff_type: &str) -> &'static str {
    match diff_type {
        "Added" => "+",
        "Deleted" => "-",
        "Edited" => "~",
        _ => " ",
    }
}

fn field_line(field: &FieldDiff) -> String {
    let mut line = match field.r#type.as_str() {
        "Added" => format!("+ {}: {:?}", field.name, field.new),
        "Deleted" => format!("- {}: {:?}", field.name, field.old),
        _ => format!("~ {}: {:?} => {:?}", field.name, field.old, field.new),
    };
    if !field.annotations.is_empty() {
        let _ = write!(line, " ({})", field.annotations.join(", "));
    }
    line
}

/// The diff as indented lines, like `nomad job plan` (unchanged fields left out).
fn diff_lines(report: &PlanReport) -> Vec<String> {
    let mut lines = Vec::new();
    let Some(diff) = &report.diff else { return lines };
    if matches!(diff.r#type.as_str(), "" | "None") {
        return lines;
    }
    lines.push(format!("{} Job: {:?}", marker(&diff.r#type), report.job));
    push_fields_and_objects(&mut lines, 1, &diff.fields, &diff.objects);
    for group in &diff.task_groups {
        if group.r#type == "None" && group.tasks.iter().all(|t| t.r#type == "None") {
            continue;
        }
        let counts = report
            .groups
            .iter()
            .find(|g| g.name == group.name)
            .map(GroupPlan::summary)
            .unwrap_or_default();
        lines.push(format!("{} Task Group: {:?} ({counts})", marker(&group.r#type), group.name));
        push_fields_and_objects(&mut lines, 1, &group.fields, &group.objects);
        for task in &group.tasks {
            if task.r#type == "None" {
                continue;
            }
            let mut line = format!("  {} Task: {:?}", marker(&task.r#type), task.name);
            if !task.annotations.is_empty() {
                let _ = write!(line, " ({})", task.annotations.join(", "));
            }
            lines.push(line);
            push_fields_and_objects(&mut lines, 2, &task.fields, &task.objects);
        }
    }
    lines
}

fn push_fields_and_objects(
    lines: &mut Vec<String>,
    depth: usize,
    fields: &[FieldDiff],
    objects: &[ObjectDiff],
) {
    let indent = "  ".repeat(depth);
    for field in fields.iter().filter(|f| f.r#type != "None") {
        lines.push(format!("{indent}{}", field_line(field)));
    }
    for object in objects.iter().filter(|o| o.r#type != "None") {
        lines.push(format!("{indent}{} {} {{", marker(&object.r#type), object.name));
        push_fields_and_objects(lines, depth + 1, &object.fields, &object.objects);
        lines.push(format!("{indent}}}"));
    }
}

/// The report for a terminal.
pub fn render_text(report: &PlanReport) -> String {
    let mut out = String::new();
    let diff = diff_lines(report);
    if diff.is_empty() {
        let _ = writeln!(out, "Job {:?}: no changes", report.job);
    } else {
        for line in &diff {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = writeln!(out, "\nScheduler dry-run:");
    if report.placement_failures.is_empty() {
        let _ = writeln!(out, "- All tasks successfully allocated.");
    }
    for failure in &report.placement_failures {
        let _ = writeln!(
            out,
            "- WARNING: Failed to place all allocations of task group {:?}: {}",
            failure.group, failure.explanation
        );
    }
    for group in &report.groups {
        let _ = writeln!(out, "- Task group {:?}: {}", group.name, group.summary());
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:");
        for warning in &report.warnings {
            let _ = writeln!(out, "- {warning}");
        }
    }
    let _ = writeln!(
        out,
        "\nJob Modify Index: {} (nomad-spec deploy registers only if it is still current)",
        report.job_modify_index
    );
    out
}

/// Escapes text for a Markdown table cell.
/// The report for a pull-request comment; names and Nomad's words are escaped, since a job
/// file's author chooses the names.
pub fn render_markdown(report: &PlanReport) -> String {
    let mut out = String::new();
    let verdict = if !report.placement_failures.is_empty() {
        "cannot be fully placed"
    } else if report.has_changes() {
        "changes"
    } else {
        "no changes"
    };
    let _ = writeln!(out, "### Nomad plan for {}: {verdict}\n", code(&report.job));
    if !report.groups.is_empty() {
        let _ = writeln!(
            out,
            "| task group | create | destroy | in-place | destructive | canary | ignore |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
        for g in &report.groups {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                code(&g.name),
                g.create,
                g.destroy,
                g.in_place,
                g.destructive,
                g.canary,
                g.ignore
            );
        }
        out.push('\n');
    }
    if !report.placement_failures.is_empty() {
        let _ = writeln!(out, "**Placement failures**\n");
        for failure in &report.placement_failures {
            let _ = writeln!(out, "- {}: {}", code(&failure.group), escape(&failure.explanation));
        }
        out.push('\n');
    }
    let diff = diff_lines(report);
    if !diff.is_empty() {
        // A `diff` fence colours `+` and `-` lines on GitHub and GitLab; `~` stays neutral.
        let _ = writeln!(out, "<details><summary>Diff</summary>\n\n```diff");
        for line in &diff {
            let _ = writeln!(out, "{}", line.replace("```", "`\u{200b}``"));
        }
        let _ = writeln!(out, "```\n\n</details>\n");
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "**Warnings**\n");
        for warning in &report.warnings {
            let _ = writeln!(out, "- {}", escape(warning));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "<sub>Job modify index {}</sub>", report.job_modify_index);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job() -> Value {
        json!({
            "ID": "web",
            "TaskGroups": [{
                "Name": "app",
                "Count": 2,
                "Tasks": [{"Name": "server", "Driver": "docker",
                           "Resources": {"CPU": 500, "MemoryMB": 2048}}]
            }]
        })
    }

    fn report(response: Value) -> PlanReport {
        let response: PlanResponse = serde_json::from_value(response).unwrap();
        PlanReport::new(&job(), &response)
    }

    fn create() -> PlanReport {
        report(json!({
            "JobModifyIndex": 0,
            "Diff": {"Type": "Added", "ID": "web",
                "Fields": [{"Type": "Added", "Name": "Type", "Old": "", "New": "service", "Annotations": null}],
                "Objects": [{"Type": "Added", "Name": "Datacenters", "Fields": [
                    {"Type": "Added", "Name": "Datacenters", "Old": "", "New": "dc1"}], "Objects": null}],
                "TaskGroups": [{"Type": "Added", "Name": "app", "Updates": {"create": 2},
                    "Fields": [{"Type": "Added", "Name": "Count", "Old": "", "New": "2"}],
                    "Tasks": [{"Type": "Added", "Name": "server", "Annotations": ["forces create"],
                        "Fields": [{"Type": "Added", "Name": "Driver", "Old": "", "New": "docker"}],
                        "Objects": [{"Type": "Added", "Name": "Resources", "Fields": [
                            {"Type": "Added", "Name": "MemoryMB", "Old": "", "New": "2048"}]}]}]}]},
            "Annotations": {"DesiredTGUpdates": {"app": {"Place": 2}}},
            "FailedTGAllocs": null,
            "Warnings": ""
        }))
    }

    fn in_place() -> PlanReport {
        report(json!({
            "JobModifyIndex": 42,
            "Diff": {"Type": "Edited", "ID": "web", "Fields": null, "Objects": null,
                "TaskGroups": [{"Type": "Edited", "Name": "app", "Updates": {"in-place update": 2},
                    "Tasks": [{"Type": "Edited", "Name": "server",
                        "Annotations": ["forces in-place update"],
                        "Objects": [{"Type": "Edited", "Name": "Service", "Fields": [
                            {"Type": "Edited", "Name": "Tags", "Old": "v1", "New": "v2"}]}]}]}]},
            "Annotations": {"DesiredTGUpdates": {"app": {"InPlaceUpdate": 2}}},
            "Warnings": ""
        }))
    }

    fn destructive() -> PlanReport {
        report(json!({
            "JobModifyIndex": 57,
            "Diff": {"Type": "Edited", "ID": "web",
                "TaskGroups": [{"Type": "Edited", "Name": "app",
                    "Updates": {"create/destroy update": 2},
                    "Tasks": [{"Type": "Edited", "Name": "server",
                        "Annotations": ["forces create/destroy update"],
                        "Fields": [{"Type": "Edited", "Name": "Config[image]", "Old": "web:1",
                            "New": "web:2", "Annotations": null}],
                        "Objects": [{"Type": "Edited", "Name": "Resources", "Fields": [
                            {"Type": "Edited", "Name": "MemoryMB", "Old": "256", "New": "512"},
                            {"Type": "None", "Name": "CPU", "Old": "500", "New": "500"}]}]}]}]},
            "Annotations": {"DesiredTGUpdates": {"app": {"DestructiveUpdate": 1, "Canary": 1}}},
            "Warnings": "1 warning(s):\n\n* Group \"app\" has warnings: update max parallel is greater than count"
        }))
    }

    fn placement_failure() -> PlanReport {
        report(json!({
            "JobModifyIndex": 0,
            "Diff": {"Type": "Added", "ID": "web",
                "TaskGroups": [{"Type": "Added", "Name": "app", "Updates": {"create": 2}}]},
            "Annotations": {"DesiredTGUpdates": {"app": {"Place": 2}}},
            "FailedTGAllocs": {"app": {
                "NodesEvaluated": 5, "NodesFiltered": 2, "NodesExhausted": 3,
                "NodesAvailable": {"dc1": 5},
                "ConstraintFiltered": {"${attr.cpu.arch} = arm64": 2},
                "DimensionExhausted": {"memory": 3},
                "CoalescedFailures": 1}},
            "Warnings": ""
        }))
    }

    #[test]
    fn create_text() {
        insta::assert_snapshot!(render_text(&create()), @r#"
        + Job: "web"
          + Type: "service"
          + Datacenters {
            + Datacenters: "dc1"
          }
        + Task Group: "app" (2 create)
          + Count: "2"
          + Task: "server" (forces create)
            + Driver: "docker"
            + Resources {
              + MemoryMB: "2048"
            }

        Scheduler dry-run:
        - All tasks successfully allocated.
        - Task group "app": 2 create

        Job Modify Index: 0 (nomad-spec deploy registers only if it is still current)
        "#);
    }

    #[test]
    fn create_markdown() {
        insta::assert_snapshot!(render_markdown(&create()), @r#"
        ### Nomad plan for <code>web</code>: changes

        | task group | create | destroy | in-place | destructive | canary | ignore |
        |---|---:|---:|---:|---:|---:|---:|
        | <code>app</code> | 2 | 0 | 0 | 0 | 0 | 0 |

        <details><summary>Diff</summary>

        ```diff
        + Job: "web"
          + Type: "service"
          + Datacenters {
            + Datacenters: "dc1"
          }
        + Task Group: "app" (2 create)
          + Count: "2"
          + Task: "server" (forces create)
            + Driver: "docker"
            + Resources {
              + MemoryMB: "2048"
            }
        ```

        </details>

        <sub>Job modify index 0</sub>
        "#);
    }

    #[test]
    fn in_place_text() {
        insta::assert_snapshot!(render_text(&in_place()), @r#"
        ~ Job: "web"
        ~ Task Group: "app" (2 in-place update)
          ~ Task: "server" (forces in-place update)
            ~ Service {
              ~ Tags: "v1" => "v2"
            }

        Scheduler dry-run:
        - All tasks successfully allocated.
        - Task group "app": 2 in-place update

        Job Modify Index: 42 (nomad-spec deploy registers only if it is still current)
        "#);
    }

    #[test]
    fn in_place_markdown() {
        insta::assert_snapshot!(render_markdown(&in_place()), @r#"
        ### Nomad plan for <code>web</code>: changes

        | task group | create | destroy | in-place | destructive | canary | ignore |
        |---|---:|---:|---:|---:|---:|---:|
        | <code>app</code> | 0 | 0 | 2 | 0 | 0 | 0 |

        <details><summary>Diff</summary>

        ```diff
        ~ Job: "web"
        ~ Task Group: "app" (2 in-place update)
          ~ Task: "server" (forces in-place update)
            ~ Service {
              ~ Tags: "v1" => "v2"
            }
        ```

        </details>

        <sub>Job modify index 42</sub>
        "#);
    }

    #[test]
    fn destructive_text() {
        insta::assert_snapshot!(render_text(&destructive()), @r#"
        ~ Job: "web"
        ~ Task Group: "app" (1 create/destroy update, 1 canary)
          ~ Task: "server" (forces create/destroy update)
            ~ Config[image]: "web:1" => "web:2"
            ~ Resources {
              ~ MemoryMB: "256" => "512"
            }

        Scheduler dry-run:
        - All tasks successfully allocated.
        - Task group "app": 1 create/destroy update, 1 canary

        Warnings:
        - Group "app" has warnings: update max parallel is greater than count

        Job Modify Index: 57 (nomad-spec deploy registers only if it is still current)
        "#);
    }

    #[test]
    fn destructive_markdown() {
        insta::assert_snapshot!(render_markdown(&destructive()), @r#"
        ### Nomad plan for <code>web</code>: changes

        | task group | create | destroy | in-place | destructive | canary | ignore |
        |---|---:|---:|---:|---:|---:|---:|
        | <code>app</code> | 0 | 0 | 0 | 1 | 1 | 0 |

        <details><summary>Diff</summary>

        ```diff
        ~ Job: "web"
        ~ Task Group: "app" (1 create/destroy update, 1 canary)
          ~ Task: "server" (forces create/destroy update)
            ~ Config[image]: "web:1" => "web:2"
            ~ Resources {
              ~ MemoryMB: "256" => "512"
            }
        ```

        </details>

        **Warnings**

        - Group &quot;app&quot; has warnings: update max parallel is greater than count

        <sub>Job modify index 57</sub>
        "#);
    }

    #[test]
    fn placement_failure_text() {
        insta::assert_snapshot!(render_text(&placement_failure()), @r#"
        + Job: "web"
        + Task Group: "app" (2 create)

        Scheduler dry-run:
        - WARNING: Failed to place all allocations of task group "app": no node has 2048 MB of memory free: memory exhausted on 3 nodes; 2 nodes filtered by constraint ${attr.cpu.arch} = arm64 (5 nodes evaluated, 2 allocations unplaced)
        - Task group "app": 2 create

        Job Modify Index: 0 (nomad-spec deploy registers only if it is still current)
        "#);
    }

    #[test]
    fn placement_failure_markdown() {
        insta::assert_snapshot!(render_markdown(&placement_failure()), @r#"
        ### Nomad plan for <code>web</code>: cannot be fully placed

        | task group | create | destroy | in-place | destructive | canary | ignore |
        |---|---:|---:|---:|---:|---:|---:|
        | <code>app</code> | 2 | 0 | 0 | 0 | 0 | 0 |

        **Placement failures**

        - <code>app</code>: no node has 2048 MB of memory free: memory exhausted on 3 nodes; 2 nodes filtered by constraint \$\{attr\.cpu\.arch\} = arm64 \(5 nodes evaluated, 2 allocations unplaced\)

        <details><summary>Diff</summary>

        ```diff
        + Job: "web"
        + Task Group: "app" (2 create)
        ```

        </details>

        <sub>Job modify index 0</sub>
        "#);
    }

    #[test]
    fn exit_codes_follow_nomad_job_plan() {
        assert_eq!(create().exit_code(), EXIT_CHANGES);
        let unchanged = report(json!({
            "JobModifyIndex": 9,
            "Diff": {"Type": "None", "ID": "web",
                "TaskGroups": [{"Type": "None", "Name": "app", "Updates": {"ignore": 2}}]},
            "Annotations": {"DesiredTGUpdates": {"app": {"Ignore": 2}}}
        }));
        assert_eq!(unchanged.exit_code(), EXIT_NO_CHANGES);
        assert!(render_text(&unchanged).starts_with("Job \"web\": no changes"));
    }
}
