//! Following a registered job until a `Verdict`: healthy, failed (with evidence) or timed out.
//!
//! After a register, `watch` follows the evaluation (a blocked evaluation or `FailedTGAllocs`
//! is a placement failure), then the deployment and the allocations together, each with its
//! own blocking query, so a change is seen as soon as Nomad reports it; nothing sleeps and
//! polls. Jobs without a deployment (batch, system, no update block) are judged from their
//! allocations. Failures are gathered into `Evidence` (task events, exit codes, OOM kills,
//! the tail of stderr) and classified by `diagnose`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::api::{AllocationStub, Deployment, Evaluation, RegisterResponse, TaskEvent};
use super::client::{Blocking, Indexed, LogStream, NomadClient, NomadError};
use super::diagnose::{diagnose, Diagnosis, Evidence, GroupDemand};

/// How long to watch and how much evidence to keep.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Give up waiting after this long (default 5 minutes).
    pub deadline: Duration,
    /// How long one blocking query may wait for a change.
    pub wait: Duration,
    /// How many lines of stderr to keep as evidence.
    pub stderr_lines: usize,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            deadline: Duration::from_secs(300),
            wait: Duration::from_secs(30),
            stderr_lines: 20,
        }
    }
}

/// How a deployment ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Every allocation of the new version is healthy (or, for batch jobs, complete).
    Healthy { version: u64, allocations: usize },
    /// Something failed; the diagnosis says what and the evidence why.
    Failed(Box<Failure>),
    /// Neither healthy nor failed by the deadline.
    TimedOut { after_seconds: u64, state: String },
}

/// A failed deployment: what the evidence says and the evidence itself.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub diagnosis: Diagnosis,
    pub evidence: Evidence,
}

impl Failure {
    /// A failure built from evidence.
    pub fn from_evidence(evidence: Evidence) -> Failure {
        Failure { diagnosis: diagnose(&evidence), evidence }
    }
}

/// Follows version `version` of a job, registered by `register`, until a verdict. `job` is
/// the registered job's API JSON (for its ID, type and what its groups ask for); `progress`
/// receives one line per observed change.
pub async fn watch(
    client: &NomadClient,
    job: &Value,
    version: u64,
    register: &RegisterResponse,
    options: &WatchOptions,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Verdict, NomadError> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + options.deadline;
    let job_id = super::client::job_id(job)?.to_string();
    let job_type = job.get("Type").and_then(Value::as_str).unwrap_or("service").to_string();

    // Periodic and parameterized jobs only register a template: nothing runs until a launch
    // or a dispatch, so a successful register is all there is to watch.
    let template = ["Periodic", "ParameterizedJob"]
        .iter()
        .any(|key| job.get(*key).is_some_and(|value| !value.is_null()));
    if template && register.eval_id.is_empty() {
        progress("periodic or parameterized job: registered, nothing runs until it is launched");
        return Ok(Verdict::Healthy { version, allocations: 0 });
    }

    let mut deployment_id = String::new();
    if !register.eval_id.is_empty() {
        let evaluation =
            match follow_evaluation(client, &register.eval_id, options, deadline).await? {
                Some(evaluation) => evaluation,
                None => return Ok(timed_out(started, "the evaluation is still pending".into())),
            };
        progress(&format!("evaluation {} {}", short(&evaluation.id), evaluation.status));
        if let Some((group, metric)) = evaluation.failed_tg_allocs.iter().next() {
            let evidence = Evidence {
                group: group.clone(),
                placement: Some(metric.clone()),
                demand: GroupDemand::of(job, group),
                ..Default::default()
            };
            return Ok(Verdict::Failed(Box::new(Failure::from_evidence(evidence))));
        }
        if evaluation.status == "failed" || evaluation.status == "canceled" {
            let evidence = Evidence {
                deployment_description: format!(
                    "evaluation {}: {}",
                    evaluation.status, evaluation.status_description
                ),
                ..Default::default()
            };
            return Ok(Verdict::Failed(Box::new(Failure::from_evidence(evidence))));
        }
        deployment_id = evaluation.deployment_id.clone();
    }

    let expected = expected_allocations(job);
    let mut state = WatchState::new(job, &job_type, version, expected, deployment_id);
    let wait = options.wait;

    type Pending<T> = Pin<Box<dyn Future<Output = Result<Indexed<T>, NomadError>> + Send>>;
    let allocations = |index: u64| -> Pending<Vec<AllocationStub>> {
        let client = client.clone();
        let job_id = job_id.clone();
        Box::pin(async move { client.job_allocations(&job_id, Blocking::after(index, wait)).await })
    };
    let deployments = |index: u64| -> Pending<Option<Deployment>> {
        let client = client.clone();
        let job_id = job_id.clone();
        Box::pin(
            async move { client.latest_deployment(&job_id, Blocking::after(index, wait)).await },
        )
    };
    let mut allocs_query = allocations(0);
    let mut deployment_query = deployments(0);
    let mut allocs_index = 0;
    let mut deployment_index = 0;

    loop {
        tokio::select! {
            result = &mut allocs_query => {
                let Indexed { value, index } = result?;
                state.allocations = value;
                allocs_index = next_index(allocs_index, index).await;
                allocs_query = allocations(allocs_index);
            }
            result = &mut deployment_query => {
                let Indexed { value, index } = result?;
                state.deployment = value;
                deployment_index = next_index(deployment_index, index).await;
                deployment_query = deployments(deployment_index);
            }
            () = tokio::time::sleep_until(deadline) => {
                return Ok(timed_out(started, state.describe()));
            }
        }
        for line in state.progress_lines() {
            progress(&line);
        }
        match state.judge() {
            Judgement::Waiting => {}
            Judgement::Healthy(allocations) => {
                return Ok(Verdict::Healthy { version, allocations });
            }
            Judgement::DeploymentFailed => {
                // The deployment and allocation queries answer separately: read the
                // allocations as they are now, so the evidence matches the verdict.
                state.allocations = client.job_allocations(&job_id, Blocking::NOW).await?.value;
                let mut evidence = state.deployment_failure_evidence();
                if !evidence.alloc_id.is_empty() && !evidence.task.is_empty() {
                    evidence.stderr_tail =
                        stderr_tail(client, job, &evidence, options.stderr_lines).await;
                }
                return Ok(Verdict::Failed(Box::new(Failure::from_evidence(evidence))));
            }
            Judgement::Failed(mut evidence) => {
                if !evidence.alloc_id.is_empty() && !evidence.task.is_empty() {
                    evidence.stderr_tail =
                        stderr_tail(client, job, &evidence, options.stderr_lines).await;
                }
                return Ok(Verdict::Failed(Box::new(Failure::from_evidence(*evidence))));
            }
        }
    }
}

/// The index for the next blocking query. A server that sends no `X-Nomad-Index` cannot
/// block; pausing briefly keeps such a server from being queried in a tight loop.
async fn next_index(previous: u64, returned: u64) -> u64 {
    if returned == 0 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        return previous;
    }
    returned
}

fn timed_out(started: Instant, state: String) -> Verdict {
    Verdict::TimedOut { after_seconds: started.elapsed().as_secs(), state }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Waits for the evaluation to leave `pending`; `None` when the deadline passes first.
async fn follow_evaluation(
    client: &NomadClient,
    id: &str,
    options: &WatchOptions,
    deadline: tokio::time::Instant,
) -> Result<Option<Evaluation>, NomadError> {
    let mut index = 0;
    loop {
        let query = client.evaluation(id, Blocking::after(index, options.wait));
        let Indexed { value, index: returned } = tokio::select! {
            result = query => result?,
            () = tokio::time::sleep_until(deadline) => return Ok(None),
        };
        if value.status != "pending" {
            return Ok(Some(value));
        }
        index = next_index(index, returned).await;
    }
}

/// The number of allocations a job asks for (the sum of its groups' counts).
fn expected_allocations(job: &Value) -> u64 {
    job.get("TaskGroups")
        .and_then(Value::as_array)
        .map(|groups| {
            groups.iter().map(|g| g.get("Count").and_then(Value::as_u64).unwrap_or(1)).sum()
        })
        .unwrap_or(0)
}

enum Judgement {
    Waiting,
    Healthy(usize),
    Failed(Box<Evidence>),
    /// The deployment failed; the evidence is read from fresh allocations.
    DeploymentFailed,
}

/// What `watch` knows so far.
struct WatchState<'a> {
    job: &'a Value,
    job_type: String,
    version: u64,
    expected: u64,
    deployment_id: String,
    deployment: Option<Deployment>,
    allocations: Vec<AllocationStub>,
    reported: BTreeMap<String, String>,
}

impl<'a> WatchState<'a> {
    fn new(
        job: &'a Value,
        job_type: &str,
        version: u64,
        expected: u64,
        deployment_id: String,
    ) -> Self {
        WatchState {
            job,
            job_type: job_type.to_string(),
            version,
            expected,
            deployment_id,
            deployment: None,
            allocations: Vec::new(),
            reported: BTreeMap::new(),
        }
    }

    /// The deployment of the version being watched, if Nomad made one.
    fn our_deployment(&self) -> Option<&Deployment> {
        self.deployment.as_ref().filter(|d| {
            (!self.deployment_id.is_empty() && d.id == self.deployment_id)
                || d.job_version == self.version
        })
    }

    fn our_allocations(&self) -> impl Iterator<Item = &AllocationStub> {
        self.allocations
            .iter()
            .filter(move |a| a.job_version == self.version && a.desired_status == "run")
    }

    fn judge(&self) -> Judgement {
        // A decisive failure in any allocation ends the watch at once, deployment or not.
        for alloc in self.our_allocations() {
            if let Some(evidence) = self.failure_in(alloc) {
                return Judgement::Failed(Box::new(evidence));
            }
        }
        if let Some(deployment) = self.our_deployment() {
            match deployment.status.as_str() {
                "successful" => {
                    // The allocation query may not have caught up with the deployment yet.
                    let healthy: i64 =
                        deployment.task_groups.values().map(|g| g.healthy_allocs).sum();
                    let seen = self.our_allocations().count();
                    return Judgement::Healthy(seen.max(usize::try_from(healthy).unwrap_or(0)));
                }
                "failed" | "cancelled" => return Judgement::DeploymentFailed,
                _ => return Judgement::Waiting,
            }
        }
        if !self.deployment_id.is_empty() {
            // The evaluation made a deployment that has not been read yet.
            return Judgement::Waiting;
        }
        self.judge_without_deployment()
    }

    /// Evidence for a failed deployment, from the allocations of the watched version (those
    /// Nomad already stopped included): the most telling one first.
    fn deployment_failure_evidence(&self) -> Evidence {
        let version = self.version;
        let ours = || self.allocations.iter().filter(move |a| a.job_version == version);
        let unhealthy = |a: &&AllocationStub| {
            a.deployment_status.as_ref().and_then(|s| s.healthy) == Some(false)
        };
        let telling = |a: &&AllocationStub| {
            a.task_states.values().flat_map(|t| &t.events).any(decisive_event)
        };
        let not_healthy = |a: &&AllocationStub| {
            a.deployment_status.as_ref().and_then(|s| s.healthy) != Some(true)
        };
        let chosen = ours()
            .find(telling)
            .or_else(|| ours().find(unhealthy))
            .or_else(|| ours().find(|a| a.client_status == "failed"))
            .or_else(|| ours().find(not_healthy))
            .or_else(|| ours().next());
        let mut evidence = chosen.map(|alloc| self.evidence_of(alloc)).unwrap_or_default();
        // Unhealthy, or never healthy in time; a healthy allocation explains nothing.
        evidence.unhealthy = chosen.is_none_or(|alloc| not_healthy(&alloc));
        if let Some(deployment) = self.our_deployment() {
            evidence.deployment_description = deployment.status_description.clone();
        }
        evidence
    }

    /// Batch, system and update-less jobs: healthy when every allocation runs (or, for
    /// batch jobs, completed) and as many as asked for were placed.
    fn judge_without_deployment(&self) -> Judgement {
        let ours: Vec<&AllocationStub> = self.our_allocations().collect();
        if ours.is_empty() {
            return Judgement::Waiting;
        }
        let batch = matches!(self.job_type.as_str(), "batch" | "sysbatch");
        let done = |a: &&AllocationStub| {
            if batch {
                a.client_status == "complete"
            } else {
                a.client_status == "running"
                    && a.task_states.values().all(|t| t.state == "running" || t.state == "dead")
            }
        };
        let system = matches!(self.job_type.as_str(), "system" | "sysbatch");
        let enough = system || ours.len() as u64 >= self.expected;
        if enough && ours.iter().all(done) {
            Judgement::Healthy(ours.len())
        } else {
            Judgement::Waiting
        }
    }

    /// Evidence when an allocation shows a failure that will not heal by itself. Under a
    /// deployment, a failed allocation may still be replaced (Nomad reschedules within the
    /// progress deadline), so only deterministic failures (an OOM kill, an image that
    /// cannot be pulled) end the watch early; the deployment's own verdict decides the rest.
    fn failure_in(&self, alloc: &AllocationStub) -> Option<Evidence> {
        let under_deployment = !self.deployment_id.is_empty() || self.our_deployment().is_some();
        let failed = !under_deployment
            && (alloc.client_status == "failed"
                || alloc
                    .task_states
                    .values()
                    .any(|t| t.events.iter().any(|e| e.r#type == "Not Restarting")));
        let decisive = alloc.task_states.values().flat_map(|t| &t.events).any(decisive_event);
        (failed || decisive).then(|| self.evidence_of(alloc))
    }

    fn evidence_of(&self, alloc: &AllocationStub) -> Evidence {
        // The task that failed, else the one with a decisive event, else any.
        let task = alloc
            .task_states
            .iter()
            .find(|(_, t)| t.failed)
            .or_else(|| alloc.task_states.iter().find(|(_, t)| t.events.iter().any(decisive_event)))
            .or_else(|| alloc.task_states.iter().next());
        let (task, events) = match task {
            Some((name, state)) => (name.clone(), state.events.clone()),
            None => (String::new(), Vec::new()),
        };
        let exit_code = events
            .iter()
            .rev()
            .find(|e| e.r#type == "Terminated" && e.exit_code != 0)
            .map(|e| e.exit_code);
        let oom_killed = events.iter().any(|e| e.detail("oom_killed").as_deref() == Some("true"));
        Evidence {
            group: alloc.task_group.clone(),
            task,
            alloc_id: alloc.id.clone(),
            events,
            exit_code,
            oom_killed,
            demand: GroupDemand::of(self.job, &alloc.task_group),
            unhealthy: alloc.deployment_status.as_ref().and_then(|s| s.healthy) == Some(false),
            ..Default::default()
        }
    }

    /// One line per allocation or deployment change not yet reported.
    fn progress_lines(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(deployment) = self.our_deployment() {
            let healthy: i64 = deployment.task_groups.values().map(|g| g.healthy_allocs).sum();
            let desired: i64 = deployment.task_groups.values().map(|g| g.desired_total).sum();
            let line = format!(
                "deployment {} {}: {healthy}/{desired} healthy",
                short(&deployment.id),
                deployment.status
            );
            lines.push(("deployment".to_string(), line));
        }
        for alloc in self.our_allocations() {
            let last = alloc
                .task_states
                .iter()
                .filter_map(|(task, state)| state.events.last().map(|e| (task, e)))
                .max_by_key(|(_, e)| e.time)
                .map(|(task, e)| format!(", {task}: {}", event_words(e)))
                .unwrap_or_default();
            let line = format!("allocation {} {}{last}", short(&alloc.id), alloc.client_status);
            lines.push((alloc.id.clone(), line));
        }
        let mut fresh = Vec::new();
        for (key, line) in lines {
            if self.reported.get(&key) != Some(&line) {
                self.reported.insert(key, line.clone());
                fresh.push(line);
            }
        }
        fresh
    }

    /// The current state in one line, for timeouts.
    fn describe(&self) -> String {
        let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
        for alloc in self.our_allocations() {
            *by_status.entry(alloc.client_status.as_str()).or_default() += 1;
        }
        let allocs: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
        let deployment =
            self.our_deployment().map(|d| format!("deployment {}; ", d.status)).unwrap_or_default();
        format!(
            "{deployment}allocations of version {}: {}",
            self.version,
            if allocs.is_empty() { "none yet".into() } else { allocs.join(", ") }
        )
    }
}

fn event_words(event: &TaskEvent) -> String {
    let text = event.text();
    if text.is_empty() || text == event.r#type {
        event.r#type.clone()
    } else {
        format!("{} ({text})", event.r#type)
    }
}

/// Events after which waiting longer would only repeat the failure.
fn decisive_event(event: &TaskEvent) -> bool {
    let oom = event.detail("oom_killed").as_deref() == Some("true");
    let pull = event.r#type == "Driver Failure"
        && (event.fails_task || event.text().to_lowercase().contains("pull"));
    oom || pull
}

/// The last lines of the task's stderr; empty when the logs cannot be read (the node may be
/// gone, or the token may lack `read-logs`): the rest of the evidence still stands.
///
/// The lines go into diagnoses that reach terminals, pull-request comments and the LLM, so
/// secrets are redacted here, once: the job's own env values, `KEY=value` pairs whose name
/// looks secret (and the job's values under such names), bearer tokens and passwords in URLs.
async fn stderr_tail(
    client: &NomadClient,
    job: &Value,
    evidence: &Evidence,
    lines: usize,
) -> Vec<String> {
    match client.task_log_tail(&evidence.alloc_id, &evidence.task, LogStream::Stderr, 4096).await {
        Ok(text) => {
            let known = secret_env_values(job);
            let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            all[all.len().saturating_sub(lines)..]
                .iter()
                .map(|l| crate::llm::guard::redact_text(l, &known))
                .collect()
        }
        Err(err) => {
            tracing::debug!("cannot read stderr of {}: {err}", evidence.alloc_id);
            Vec::new()
        }
    }
}

/// The values of the job's env variables whose names look secret (Nomad API JSON).
fn secret_env_values(job: &Value) -> Vec<String> {
    let groups = job.get("TaskGroups").and_then(Value::as_array).into_iter().flatten();
    groups
        .flat_map(|g| g.get("Tasks").and_then(Value::as_array).into_iter().flatten())
        .flat_map(|t| t.get("Env").and_then(Value::as_object).into_iter().flatten())
        .filter(|(name, _)| crate::analyze::source::looks_secret(name))
        .filter_map(|(_, v)| v.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nomad::diagnose::Category;
    use serde_json::json;

    fn job() -> Value {
        json!({"ID": "web", "Type": "service", "TaskGroups": [{"Name": "app", "Count": 2,
            "Tasks": [{"Name": "server", "Resources": {"MemoryMB": 128}}]}]})
    }

    fn alloc(value: Value) -> AllocationStub {
        serde_json::from_value(value).unwrap()
    }

    fn running(id: &str) -> AllocationStub {
        alloc(json!({"ID": id, "JobVersion": 1, "TaskGroup": "app", "DesiredStatus": "run",
            "ClientStatus": "running",
            "TaskStates": {"server": {"State": "running", "Events": [{"Type": "Started", "Time": 2}]}}}))
    }

    #[tokio::test]
    async fn a_periodic_job_is_done_once_registered() {
        // Nothing is asked of Nomad: the client points nowhere.
        let client = NomadClient::new(crate::nomad::NomadConfig {
            address: "http://127.0.0.1:9".into(),
            retry: crate::settings::RetryPolicy { attempts: 1, ..Default::default() },
            ..Default::default()
        })
        .unwrap();
        let mut job = job();
        job["Periodic"] = json!({"Enabled": true, "Spec": "0 3 * * *"});
        let register = RegisterResponse::default();
        let verdict = watch(&client, &job, 4, &register, &WatchOptions::default(), &mut |_| {})
            .await
            .unwrap();
        assert!(matches!(verdict, Verdict::Healthy { version: 4, allocations: 0 }), "{verdict:?}");
    }

    #[test]
    fn without_deployment_healthy_when_all_run() {
        let job = job();
        let mut state = WatchState::new(&job, "service", 1, 2, String::new());
        state.allocations = vec![running("a1")];
        assert!(matches!(state.judge(), Judgement::Waiting));
        state.allocations.push(running("a2"));
        assert!(matches!(state.judge(), Judgement::Healthy(2)));
    }

    #[test]
    fn oom_is_decisive_before_the_deployment_fails() {
        let job = job();
        let mut state = WatchState::new(&job, "service", 1, 2, "d1".into());
        state.deployment = Some(
            serde_json::from_value(json!({"ID": "d1", "JobVersion": 1, "Status": "running"}))
                .unwrap(),
        );
        state.allocations = vec![alloc(json!({"ID": "a1", "JobVersion": 1, "TaskGroup": "app",
            "DesiredStatus": "run", "ClientStatus": "pending",
            "TaskStates": {"server": {"State": "pending", "Restarts": 1, "Events": [
                {"Type": "Started", "Time": 1},
                {"Type": "Terminated", "Time": 2, "ExitCode": 137,
                 "Details": {"oom_killed": "true", "exit_code": "137"}},
                {"Type": "Restarting", "Time": 3}]}}}))];
        let Judgement::Failed(evidence) = state.judge() else { panic!("expected a failure") };
        assert!(evidence.oom_killed);
        assert_eq!(evidence.exit_code, Some(137));
        assert_eq!(diagnose(&evidence).category, Category::OutOfMemory);
    }

    #[test]
    fn failed_deployment_carries_its_description() {
        let job = job();
        let mut state = WatchState::new(&job, "service", 1, 2, "d1".into());
        state.deployment = Some(
            serde_json::from_value(json!({"ID": "d1", "JobVersion": 1,
            "Status": "failed", "StatusDescription": "Failed due to progress deadline"}))
            .unwrap(),
        );
        state.allocations = vec![running("a1")];
        assert!(matches!(state.judge(), Judgement::DeploymentFailed));
        let evidence = state.deployment_failure_evidence();
        assert_eq!(evidence.deployment_description, "Failed due to progress deadline");
        assert!(evidence.unhealthy);
    }

    #[test]
    fn old_versions_are_ignored_and_progress_reports_changes_once() {
        let job = job();
        let mut state = WatchState::new(&job, "service", 1, 1, String::new());
        let mut old = running("a0");
        old.job_version = 0;
        old.client_status = "failed".into();
        state.allocations = vec![old, running("a1")];
        assert!(matches!(state.judge(), Judgement::Healthy(1)));
        assert_eq!(state.progress_lines(), vec!["allocation a1 running, server: Started"]);
        assert!(state.progress_lines().is_empty());
    }
}
