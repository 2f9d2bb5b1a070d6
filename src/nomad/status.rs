//! A job's state on Nomad in a few lines: status, version, latest deployment, allocations by
//! status, and recent failure events. Read by `nomad-spec status` and the `/nomad-spec
//! status` command; the reading is `JobStatus::read`, the rest is pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::api::{AllocationStub, Deployment, JobInfo, TaskEvent};
use super::client::{Blocking, NomadClient, NomadError};

/// How many failure events a summary shows.
const RECENT_FAILURES: usize = 5;

/// A summary of one job.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub job: String,
    pub r#type: String,
    pub status: String,
    pub version: u64,
    pub stable: bool,
    pub stopped: bool,
    pub deployment: Option<DeploymentSummary>,
    /// Client status → count, over allocations that should run or ran last.
    pub allocations: BTreeMap<String, usize>,
    /// Newest first.
    pub recent_failures: Vec<FailureEvent>,
}

/// The latest deployment in brief.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentSummary {
    pub id: String,
    pub version: u64,
    pub status: String,
    pub description: String,
    pub healthy: i64,
    pub desired: i64,
}

/// A task event that signals a failure.
#[derive(Debug, Clone, Serialize)]
pub struct FailureEvent {
    pub alloc: String,
    pub task: String,
    pub r#type: String,
    pub message: String,
    /// Unix nanoseconds.
    pub time: i64,
}

fn is_failure(event: &TaskEvent) -> bool {
    matches!(
        event.r#type.as_str(),
        "Driver Failure" | "Not Restarting" | "Alloc Unhealthy" | "Setup Failure" | "Killing"
    ) || (event.r#type == "Terminated" && event.exit_code != 0)
        || event.fails_task
}

impl JobStatus {
    /// Reads a job's summary from Nomad.
    pub async fn read(client: &NomadClient, job: &str) -> Result<JobStatus, NomadError> {
        let info = client.job(job).await?.value;
        let deployment = client.latest_deployment(job, Blocking::NOW).await?.value;
        let allocations = client.job_allocations(job, Blocking::NOW).await?.value;
        Ok(JobStatus::new(&info, deployment.as_ref(), &allocations))
    }

    /// Builds the summary from what Nomad returned.
    pub fn new(
        info: &JobInfo,
        deployment: Option<&Deployment>,
        allocations: &[AllocationStub],
    ) -> JobStatus {
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        for alloc in allocations.iter().filter(|a| a.desired_status == "run") {
            *by_status.entry(alloc.client_status.clone()).or_default() += 1;
        }
        let mut recent_failures: Vec<FailureEvent> = allocations
            .iter()
            .flat_map(|alloc| {
                alloc.task_states.iter().flat_map(move |(task, state)| {
                    state.events.iter().filter(|e| is_failure(e)).map(move |event| FailureEvent {
                        alloc: alloc.id.get(..8).unwrap_or(&alloc.id).to_string(),
                        task: task.clone(),
                        r#type: event.r#type.clone(),
                        message: event.text().to_string(),
                        time: event.time,
                    })
                })
            })
            .collect();
        recent_failures.sort_by_key(|e| std::cmp::Reverse(e.time));
        recent_failures.truncate(RECENT_FAILURES);
        JobStatus {
            job: info.id.clone(),
            r#type: info.r#type.clone(),
            status: info.status.clone(),
            version: info.version,
            stable: info.stable,
            stopped: info.stop,
            deployment: deployment.map(|d| DeploymentSummary {
                id: d.id.clone(),
                version: d.job_version,
                status: d.status.clone(),
                description: d.status_description.clone(),
                healthy: d.task_groups.values().map(|g| g.healthy_allocs).sum(),
                desired: d.task_groups.values().map(|g| g.desired_total).sum(),
            }),
            allocations: by_status,
            recent_failures,
        }
    }
}

/// The summary for a terminal.
pub fn render_status(status: &JobStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Job {:?} ({}): {}{}, version {}{}",
        status.job,
        if status.r#type.is_empty() { "service" } else { &status.r#type },
        status.status,
        if status.stopped { " (stopped)" } else { "" },
        status.version,
        if status.stable { " (stable)" } else { "" }
    );
    match &status.deployment {
        Some(d) => {
            let _ = write!(
                out,
                "Latest deployment {} (version {}): {}, {}/{} healthy",
                d.id.get(..8).unwrap_or(&d.id),
                d.version,
                d.status,
                d.healthy,
                d.desired
            );
            if !d.description.is_empty() {
                let _ = write!(out, " - {}", d.description);
            }
            out.push('\n');
        }
        None => out.push_str("Latest deployment: none\n"),
    }
    if status.allocations.is_empty() {
        out.push_str("Allocations: none\n");
    } else {
        let counts: Vec<String> =
            status.allocations.iter().map(|(s, n)| format!("{n} {s}")).collect();
        let _ = writeln!(out, "Allocations: {}", counts.join(", "));
    }
    if !status.recent_failures.is_empty() {
        out.push_str("Recent failure events:\n");
        for e in &status.recent_failures {
            let _ = writeln!(out, "  {} {}: {}: {}", e.alloc, e.task, e.r#type, e.message);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summary_of_a_failing_job() {
        let info: JobInfo = serde_json::from_value(json!({"ID": "web", "Type": "service",
            "Status": "running", "Version": 3, "Stable": false}))
        .unwrap();
        let deployment: Deployment = serde_json::from_value(json!({"ID": "0123456789ab",
            "JobVersion": 3, "Status": "failed",
            "StatusDescription": "Failed due to unhealthy allocations",
            "TaskGroups": {"app": {"DesiredTotal": 2, "HealthyAllocs": 1}}}))
        .unwrap();
        let allocations: Vec<AllocationStub> = serde_json::from_value(json!([
            {"ID": "aaaaaaaa-1", "DesiredStatus": "run", "ClientStatus": "running",
             "TaskStates": {"server": {"Events": [{"Type": "Started", "Time": 1}]}}},
            {"ID": "bbbbbbbb-2", "DesiredStatus": "run", "ClientStatus": "failed",
             "TaskStates": {"server": {"Events": [
                 {"Type": "Terminated", "Time": 5, "ExitCode": 137,
                  "DisplayMessage": "Exit Code: 137, Exit Message: \"OOM Killed\""},
                 {"Type": "Not Restarting", "Time": 6,
                  "DisplayMessage": "Exceeded allowed attempts 2 in interval 30m0s"}]}}},
            {"ID": "cccccccc-3", "DesiredStatus": "stop", "ClientStatus": "complete"}
        ]))
        .unwrap();
        let status = JobStatus::new(&info, Some(&deployment), &allocations);
        insta::assert_snapshot!(render_status(&status), @r#"
        Job "web" (service): running, version 3
        Latest deployment 01234567 (version 3): failed, 1/2 healthy - Failed due to unhealthy allocations
        Allocations: 1 failed, 1 running
        Recent failure events:
          bbbbbbbb server: Not Restarting: Exceeded allowed attempts 2 in interval 30m0s
          bbbbbbbb server: Terminated: Exit Code: 137, Exit Message: "OOM Killed"
        "#);
    }
}
