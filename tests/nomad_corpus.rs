//! Every sample response in the corpus's `nomad-api/` folder deserializes into the type the
//! client reads it as; files of endpoints nomad-spec never calls are listed as raw JSON, so
//! a new sample without a decision fails the test.

mod common;

use nomad_spec::nomad::api::{
    AgentSelf, Allocation, AllocationStub, Deployment, Evaluation, JobInfo, JobListStub,
    JobSummary, JobVersions, PlanResponse, RegisterResponse, ValidateResponse,
};
use serde::de::DeserializeOwned;

fn read_as<T: DeserializeOwned>(text: &str) -> Result<(), String> {
    serde_json::from_str::<T>(text).map(|_| ()).map_err(|err| err.to_string())
}

/// File name → the type the client reads that response as.
/// Reads a sample's text as one type.
type Reader = fn(&str) -> Result<(), String>;

fn reader(file: &str) -> Option<Reader> {
    let read: Reader = match file {
        "agent--query-self.json" => read_as::<AgentSelf>,
        "allocations--list-allocations.json"
        | "deployments--list-allocations-for-deployment.json"
        | "evaluations--list-allocations-for-evaluation.json"
        | "jobs--list-job-allocations.json" => read_as::<Vec<AllocationStub>>,
        "allocations--read-allocation.json" => read_as::<Allocation>,
        "deployments--list-deployments.json" | "jobs--list-job-deployments.json" => {
            read_as::<Vec<Deployment>>
        }
        "deployments--read-deployment.json" | "jobs--read-job-s-most-recent-deployment.json" => {
            read_as::<Option<Deployment>>
        }
        "evaluations--list-evaluations.json" | "jobs--list-job-evaluations.json" => {
            read_as::<Vec<Evaluation>>
        }
        "evaluations--read-evaluation.json" => read_as::<Evaluation>,
        "jobs--create-job-plan.json" => read_as::<PlanResponse>,
        "jobs--create-job.json"
        | "jobs--update-existing-job.json"
        | "jobs--revert-to-older-job-version.json"
        | "jobs--stop-a-job.json"
        | "jobs--create-job-evaluation.json" => read_as::<RegisterResponse>,
        "jobs--list-job-versions.json" => read_as::<JobVersions>,
        "jobs--list-jobs.json" => read_as::<Vec<JobListStub>>,
        "jobs--read-job-summary.json" => read_as::<JobSummary>,
        "jobs--read-job.json" | "jobs--parse-job.json" => read_as::<JobInfo>,
        "validate--validate-job.json" => read_as::<ValidateResponse>,
        // Endpoints nomad-spec does not call: they only need to be JSON.
        "agent--fetch-all-scheduler-worker-s-status.json"
        | "agent--health.json"
        | "agent--host.json"
        | "agent--join-agent.json"
        | "agent--list-members.json"
        | "agent--list-servers.json"
        | "agent--read-scheduler-worker-configuration.json"
        | "agent--update-scheduler-worker-configuration.json"
        | "allocations--allocation-checks.json"
        | "allocations--allocation-services.json"
        | "allocations--override-pause-schedule-state.json"
        | "allocations--read-pause-schedule-state.json"
        | "allocations--restart-allocation.json"
        | "allocations--signal-allocation.json"
        | "allocations--stop-allocation.json"
        | "client--list-files.json"
        | "client--read-a-node-s-identity-claims.json"
        | "client--read-allocation-statistics.json"
        | "client--read-dynamic-node-metadata.json"
        | "client--read-stats.json"
        | "client--renew-a-node-s-identity.json"
        | "client--stat-file.json"
        | "client--update-dynamic-node-metadata.json"
        | "deployments--fail-deployment.json"
        | "deployments--pause-deployment.json"
        | "deployments--promote-deployment.json"
        | "deployments--set-allocation-health-in-deployment.json"
        | "deployments--unblock-deployment.json"
        | "jobs--create-job-version-tag.json"
        | "jobs--delete-job-version-tag.json"
        | "jobs--dispatch-job-with-raw-payload-body.json"
        | "jobs--dispatch-job.json"
        | "jobs--force-new-periodic-instance.json"
        | "jobs--job-services.json"
        | "jobs--read-job-scale-status.json"
        | "jobs--read-job-submission.json"
        | "jobs--scale-task-group.json"
        | "jobs--set-job-stability.json" => read_as::<serde_json::Value>,
        _ => return None,
    };
    Some(read)
}

#[test]
fn every_corpus_response_deserializes() {
    let Some(corpus) = common::corpus_dir() else { return };
    let dir = corpus.join("nomad-api");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    let mut failures = Vec::new();
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".json") {
            continue;
        }
        count += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        match reader(&name) {
            None => failures.push(format!("{name}: no type chosen for this sample")),
            Some(read) => {
                if let Err(err) = read(&text) {
                    failures.push(format!("{name}: {err}"));
                }
            }
        }
    }
    assert!(count >= 60, "only {count} samples found in {}", dir.display());
    assert!(failures.is_empty(), "samples that did not deserialize:\n{}", failures.join("\n"));
}

#[test]
fn typed_samples_carry_what_the_engine_reads() {
    let Some(corpus) = common::corpus_dir() else { return };
    let dir = corpus.join("nomad-api");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let plan: PlanResponse = serde_json::from_str(&read("jobs--create-job-plan.json")).unwrap();
    assert_eq!(plan.failed_tg_allocs["cache"].dimension_exhausted["cpu"], 1);
    assert_eq!(plan.annotations.unwrap().desired_tg_updates["cache"].place, 11);
    let alloc: Allocation =
        serde_json::from_str(&read("allocations--read-allocation.json")).unwrap();
    assert_eq!(alloc.stub.task_states["redis"].events.len(), 3);
    assert_eq!(alloc.stub.client_status, "running");
    let eval: Evaluation =
        serde_json::from_str(&read("evaluations--read-evaluation.json")).unwrap();
    assert_eq!(eval.status, "blocked");
    let versions: JobVersions =
        serde_json::from_str(&read("jobs--list-job-versions.json")).unwrap();
    assert!(versions.versions.iter().any(|version| version.stable));
}
