//! The state of the fake cluster (jobs and their versions, evaluations, deployments,
//! allocations, task logs) and the simulation that moves it forward one step at a time.
//!
//! Everything that changes bumps a raft-like index, so blocking queries can wait for it.
//! The HTTP layer (`http`) only reads this state and calls the operations here; the timer
//! or the test's manual clock calls `advance`. What happens inside one allocation is in
//! `lifecycle`; where allocations land is in `placement`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::job::{self, str_field};
use super::lifecycle::{alloc_can_change, step_alloc, stop_alloc, Fate, Phase, TaskRun};
use super::placement::{self, ClientNode, NodeUsage};
use super::scenario::{Fault, Scenario};

/// A job is identified by namespace and ID.
pub(crate) type JobKey = (String, String);

/// An error answered to an HTTP client: status and plain-text body, as Nomad does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub text: String,
}

impl ApiError {
    pub fn new(status: u16, text: impl Into<String>) -> ApiError {
        ApiError { status, text: text.into() }
    }
}

/// The last index at which each kind of object changed, like Nomad's table indexes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tables {
    pub jobs: u64,
    pub evals: u64,
    pub allocs: u64,
    pub deployments: u64,
}

/// A registered job: its versions (the last is current) and indexes.
#[derive(Debug, Clone)]
pub(crate) struct JobRecord {
    pub versions: Vec<Value>,
    pub create_index: u64,
    pub modify_index: u64,
    pub job_modify_index: u64,
}

impl JobRecord {
    pub fn current(&self) -> &Value {
        // A record is only created with one version and versions are never removed.
        &self.versions[self.versions.len() - 1]
    }

    pub fn version(&self) -> u64 {
        self.current().get("Version").and_then(Value::as_u64).unwrap_or(0)
    }
}

/// An evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Eval {
    pub id: String,
    pub namespace: String,
    pub job_id: String,
    pub job_type: String,
    pub priority: u64,
    pub triggered_by: String,
    pub job_modify_index: u64,
    pub status: String,
    pub status_description: String,
    pub deployment_id: String,
    pub previous_eval: String,
    pub blocked_eval: String,
    pub failed_tg_allocs: Option<Map<String, Value>>,
    pub queued: BTreeMap<String, u64>,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: u128,
    pub modify_time: u128,
    /// When a delayed evaluation (a reschedule) may run, in nanoseconds.
    pub wait_until: Option<u128>,
}

/// One task group's progress in a deployment.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeploymentGroup {
    pub auto_revert: bool,
    pub progress_based: bool,
    pub desired_canaries: u64,
    pub desired_total: u64,
    pub placed: u64,
    pub healthy: u64,
    pub unhealthy: u64,
}

/// A deployment.
#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    pub id: String,
    pub namespace: String,
    pub job_id: String,
    pub job_version: u64,
    pub job_modify_index: u64,
    pub job_create_index: u64,
    pub groups: BTreeMap<String, DeploymentGroup>,
    pub status: String,
    pub status_description: String,
    pub last_progress_step: u64,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: u128,
    pub modify_time: u128,
}

/// Where an allocation is in being replaced after a failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Reschedule {
    /// Not asked for (healthy, or not eligible).
    No,
    /// A follow-up evaluation will replace it.
    Requested,
    /// A replacement was placed.
    Done,
}

/// An allocation.
#[derive(Debug, Clone)]
pub(crate) struct Alloc {
    pub id: String,
    pub eval_id: String,
    pub name: String,
    pub namespace: String,
    pub job_id: String,
    pub job: Value,
    pub group: String,
    pub node: usize,
    pub ports: Vec<(String, u16, bool)>,
    pub metrics: Value,
    pub deployment_id: String,
    pub desired_status: String,
    pub desired_description: String,
    pub client_status: String,
    pub client_description: String,
    pub reschedule: Reschedule,
    pub reschedule_events: Vec<Value>,
    pub followup_eval_id: String,
    pub healthy: Option<bool>,
    pub health_time: Option<u128>,
    pub tasks: Vec<TaskRun>,
    pub previous_allocation: String,
    pub create_index: u64,
    pub modify_index: u64,
    pub alloc_modify_index: u64,
    pub create_time: u128,
    pub modify_time: u128,
}

impl Alloc {
    pub fn is_terminal(&self) -> bool {
        matches!(self.client_status.as_str(), "complete" | "failed" | "lost")
            || self.desired_status != "run"
    }

    pub fn job_version(&self) -> u64 {
        self.job.get("Version").and_then(Value::as_u64).unwrap_or(0)
    }
}

/// A revert the fake performed, by request or by `auto_revert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revert {
    /// Namespace of the job.
    pub namespace: String,
    /// Job ID.
    pub job_id: String,
    /// The version whose spec was registered again.
    pub to_version: u64,
    /// True when a failed deployment triggered it (`auto_revert`).
    pub automatic: bool,
}

/// A stop (deregister) the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// Namespace of the job.
    pub namespace: String,
    /// Job ID.
    pub job_id: String,
    /// Whether `purge=true` was given.
    pub purge: bool,
}

/// One HTTP request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// The status the fake answered.
    pub status: u16,
}

/// A scheduled piece of work.
#[derive(Debug, Clone)]
enum Work {
    Evaluate(String),
}

/// The whole fake cluster.
pub(crate) struct Cluster {
    pub scenario: Scenario,
    pub nodes: Vec<ClientNode>,
    pub index: u64,
    pub step: u64,
    pub tables: Tables,
    pub jobs: BTreeMap<JobKey, JobRecord>,
    pub evals: Vec<Eval>,
    pub deployments: Vec<Deployment>,
    pub allocs: Vec<Alloc>,
    queue: Vec<(u64, Work)>,
    next_id: u64,
    allocs_per_job: BTreeMap<JobKey, usize>,
    pub faults: Vec<Fault>,
    /// Register requests received over HTTP (refused ones included), per job.
    pub register_calls: BTreeMap<JobKey, usize>,
    pub reverts: Vec<Revert>,
    pub stops: Vec<Stop>,
    pub requests: Vec<RequestRecord>,
    /// Nomad Variables and their locks.
    pub variables: super::variables::Variables,
}

/// Nanoseconds since the Unix epoch, Nomad's timestamp unit.
pub(crate) fn now_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// What a register call returns.
#[derive(Debug, Clone)]
pub(crate) struct WriteOutcome {
    pub eval_id: String,
    pub warnings: String,
    pub eval_create_index: u64,
    pub job_modify_index: u64,
    pub index: u64,
}

impl Cluster {
    pub fn new(scenario: Scenario) -> Cluster {
        let nodes = ClientNode::expand(&scenario.nodes);
        let faults = scenario.faults.clone();
        Cluster {
            scenario,
            nodes,
            index: 1,
            step: 0,
            tables: Tables::default(),
            jobs: BTreeMap::new(),
            evals: Vec::new(),
            deployments: Vec::new(),
            allocs: Vec::new(),
            queue: Vec::new(),
            next_id: 0,
            allocs_per_job: BTreeMap::new(),
            faults,
            register_calls: BTreeMap::new(),
            reverts: Vec::new(),
            stops: Vec::new(),
            requests: Vec::new(),
            variables: Default::default(),
        }
    }

    /// A new UUID-shaped identifier; deterministic so test failures are reproducible.
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        let n = self.next_id;
        let mix = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (mix >> 32) as u32,
            (mix >> 16) as u16,
            (n >> 4) & 0xfff,
            n & 0xfff,
            mix & 0xffff_ffff_ffff
        )
    }

    fn bump(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// True when nothing is scheduled and every allocation and deployment is settled.
    /// Replacements of failed allocations outside a deployment do not count: a job that
    /// keeps failing is rescheduled forever, as in Nomad.
    pub fn is_settled(&self) -> bool {
        let waiting = self.queue.iter().any(|(_, Work::Evaluate(id))| {
            self.evals.iter().any(|e| &e.id == id && e.triggered_by != "alloc-failure")
        });
        !waiting
            && !self.deployments.iter().any(|d| d.status == "running")
            && !self.allocs.iter().any(|a| !a.is_terminal() && alloc_can_change(a))
    }

    /// Registers a job version (or re-registers an unchanged one) and creates its evaluation.
    pub fn register(
        &mut self,
        namespace: &str,
        mut job_value: Value,
        enforce_index: Option<u64>,
        triggered_by: &str,
    ) -> Result<WriteOutcome, ApiError> {
        let errors = job::validation_errors(&job_value);
        if !errors.is_empty() {
            return Err(ApiError::new(500, job::multierror(&errors)));
        }
        let id = str_field(&job_value, "ID").to_string();
        if !self.scenario.namespaces.iter().any(|ns| ns == namespace) {
            return Err(ApiError::new(
                500,
                format!("job \"{id}\" is in nonexistent namespace \"{namespace}\""),
            ));
        }
        let key = (namespace.to_string(), id.clone());
        if let Some(wanted) = enforce_index {
            let existing = self.jobs.get(&key).map(|record| record.job_modify_index);
            match (wanted, existing) {
                (0, Some(_)) => {
                    return Err(ApiError::new(
                        500,
                        "Enforcing job modify index 0: job already exists",
                    ))
                }
                (n, None) if n != 0 => {
                    return Err(ApiError::new(
                        500,
                        format!("Enforcing job modify index {n}: job does not exist"),
                    ))
                }
                (n, Some(current)) if n != current => {
                    return Err(ApiError::new(
                        500,
                        format!(
                            "Enforcing job modify index {n}: job exists with conflicting job \
                             modify index: {current}"
                        ),
                    ))
                }
                _ => {}
            }
        }
        job::canonicalize(&mut job_value, namespace, &self.scenario.region);
        let warnings = job::warnings(&job_value, self.scenario.memory_oversubscription);
        let index = self.bump();
        let now = now_nanos();
        let changed = match self.jobs.get(&key) {
            Some(record) => job::spec_of(record.current()) != job::spec_of(&job_value),
            None => true,
        };
        let job_modify_index = if changed {
            let (version, create_index) = match self.jobs.get(&key) {
                Some(record) => (record.version() + 1, record.create_index),
                None => (0, index),
            };
            if let Some(object) = job_value.as_object_mut() {
                object.insert("Version".into(), json!(version));
                object.insert("Stable".into(), json!(false));
                object.insert("Status".into(), json!("pending"));
                object.insert("StatusDescription".into(), json!(""));
                object.insert("SubmitTime".into(), json!(now as u64));
                object.insert("CreateIndex".into(), json!(create_index));
                object.insert("ModifyIndex".into(), json!(index));
                object.insert("JobModifyIndex".into(), json!(index));
            }
            let record = self.jobs.entry(key.clone()).or_insert_with(|| JobRecord {
                versions: Vec::new(),
                create_index,
                modify_index: index,
                job_modify_index: index,
            });
            record.versions.push(job_value);
            record.modify_index = index;
            record.job_modify_index = index;
            index
        } else {
            let record =
                self.jobs.get_mut(&key).ok_or_else(|| ApiError::new(500, "job vanished"))?;
            record.modify_index = index;
            record.job_modify_index
        };
        self.tables.jobs = index;
        // Periodic and parameterized jobs are templates: Nomad launches children later and
        // creates no evaluation for the parent.
        let template = self.jobs.get(&key).is_some_and(|r| job::is_template(r.current()));
        if template {
            return Ok(WriteOutcome {
                eval_id: String::new(),
                warnings,
                eval_create_index: 0,
                job_modify_index,
                index,
            });
        }
        let eval_id = self.create_eval(&key, triggered_by, job_modify_index, index, 1);
        Ok(WriteOutcome { eval_id, warnings, eval_create_index: index, job_modify_index, index })
    }

    fn create_eval(
        &mut self,
        key: &JobKey,
        triggered_by: &str,
        job_modify_index: u64,
        index: u64,
        delay_steps: u64,
    ) -> String {
        // A newer evaluation supersedes the job's blocked ones, as Nomad cancels them.
        for eval in self.evals.iter_mut() {
            if eval.namespace == key.0 && eval.job_id == key.1 && eval.status == "blocked" {
                eval.status = "canceled".to_string();
                eval.status_description = "evaluation superseded by a newer evaluation".to_string();
                eval.modify_index = index;
            }
        }
        let (job_type, priority) = match self.jobs.get(key) {
            Some(record) => (
                job::job_type(record.current()).to_string(),
                record.current().get("Priority").and_then(Value::as_u64).unwrap_or(50),
            ),
            None => ("service".to_string(), 50),
        };
        let id = self.new_id();
        let now = now_nanos();
        self.evals.push(Eval {
            id: id.clone(),
            namespace: key.0.clone(),
            job_id: key.1.clone(),
            job_type,
            priority,
            triggered_by: triggered_by.to_string(),
            job_modify_index,
            status: "pending".to_string(),
            status_description: String::new(),
            deployment_id: String::new(),
            previous_eval: String::new(),
            blocked_eval: String::new(),
            failed_tg_allocs: None,
            queued: BTreeMap::new(),
            create_index: index,
            modify_index: index,
            create_time: now,
            modify_time: now,
            wait_until: (delay_steps > 1).then(|| {
                now + u128::from(delay_steps) * u128::from(self.scenario.step_ms) * 1_000_000
            }),
        });
        self.tables.evals = index;
        self.queue.push((self.step.saturating_add(delay_steps), Work::Evaluate(id.clone())));
        id
    }

    /// Stops a job (a new version with `Stop = true`), or removes it with `purge`.
    pub fn stop(
        &mut self,
        namespace: &str,
        job_id: &str,
        purge: bool,
    ) -> Result<WriteOutcome, ApiError> {
        let key = (namespace.to_string(), job_id.to_string());
        if !self.jobs.contains_key(&key) {
            return Err(ApiError::new(404, "job not found"));
        }
        self.stops.push(Stop {
            namespace: namespace.to_string(),
            job_id: job_id.to_string(),
            purge,
        });
        let index = self.bump();
        let record = self.jobs.get_mut(&key).ok_or_else(|| ApiError::new(404, "job not found"))?;
        let mut stopped = record.current().clone();
        let already_stopped = stopped.get("Stop").and_then(Value::as_bool).unwrap_or(false);
        if !already_stopped {
            let version = record.version() + 1;
            if let Some(object) = stopped.as_object_mut() {
                object.insert("Stop".into(), json!(true));
                object.insert("Version".into(), json!(version));
                object.insert("Stable".into(), json!(false));
                object.insert("ModifyIndex".into(), json!(index));
                object.insert("JobModifyIndex".into(), json!(index));
                object.insert("SubmitTime".into(), json!(now_nanos() as u64));
            }
            record.versions.push(stopped);
            record.job_modify_index = index;
        }
        record.modify_index = index;
        let job_modify_index = record.job_modify_index;
        let eval_id = self.create_eval(&key, "job-deregister", job_modify_index, index, 1);
        if purge {
            self.jobs.remove(&key);
        }
        self.tables.jobs = index;
        Ok(WriteOutcome {
            eval_id,
            warnings: String::new(),
            eval_create_index: index,
            job_modify_index,
            index,
        })
    }

    /// Registers an older version's spec again as a new version.
    pub fn revert(
        &mut self,
        namespace: &str,
        job_id: &str,
        to_version: u64,
        enforce_prior: Option<u64>,
        automatic: bool,
    ) -> Result<WriteOutcome, ApiError> {
        let key = (namespace.to_string(), job_id.to_string());
        let record = self.jobs.get(&key).ok_or_else(|| ApiError::new(404, "job not found"))?;
        let current = record.version();
        if let Some(prior) = enforce_prior {
            if prior != current {
                return Err(ApiError::new(
                    500,
                    format!("Current job has version {current}; enforcing version {prior}"),
                ));
            }
        }
        if to_version == current {
            return Err(ApiError::new(500, "can't revert to current version"));
        }
        let old = record
            .versions
            .iter()
            .find(|v| v.get("Version").and_then(Value::as_u64) == Some(to_version))
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    500,
                    format!(
                        "job {job_id:?} in namespace {namespace:?} at version {to_version} \
                         not found"
                    ),
                )
            })?;
        self.reverts.push(Revert {
            namespace: namespace.to_string(),
            job_id: job_id.to_string(),
            to_version,
            automatic,
        });
        let trigger = if automatic { "deployment-watcher" } else { "job-register" };
        self.register(namespace, job::spec_of(&old), None, trigger)
    }

    /// Advances the simulation by one step; returns whether anything changed.
    pub fn advance(&mut self) -> bool {
        self.step += 1;
        let index = self.index + 1;
        let mut changed = false;
        let due: Vec<Work> = {
            let step = self.step;
            let (now, later): (Vec<_>, Vec<_>) =
                self.queue.drain(..).partition(|(at, _)| *at <= step);
            self.queue = later;
            now.into_iter().map(|(_, work)| work).collect()
        };
        for work in due {
            match work {
                Work::Evaluate(eval_id) => {
                    self.evaluate(&eval_id, index);
                    changed = true;
                }
            }
        }
        let timing = self.scenario.timing.clone();
        let now = now_nanos();
        let mut allocs_changed = false;
        for alloc in self.allocs.iter_mut() {
            if alloc.create_index == index || alloc.is_terminal() {
                continue;
            }
            if step_alloc(alloc, &timing, now) {
                alloc.modify_index = index;
                alloc.modify_time = now;
                allocs_changed = true;
            }
        }
        if allocs_changed {
            self.tables.allocs = index;
            changed = true;
        }
        if self.watch_deployments(index) {
            changed = true;
        }
        if self.request_reschedules(index) {
            changed = true;
        }
        if changed {
            self.index = self.index.max(index);
        }
        changed
    }

    /// Places (or stops) the job's allocations for an evaluation, like a scheduler worker.
    fn evaluate(&mut self, eval_id: &str, index: u64) {
        let Some(eval_pos) = self.evals.iter().position(|e| e.id == eval_id) else { return };
        if self.evals[eval_pos].status != "pending" {
            return;
        }
        let key = (self.evals[eval_pos].namespace.clone(), self.evals[eval_pos].job_id.clone());
        let now = now_nanos();
        let job_value = self.jobs.get(&key).map(|r| r.current().clone());
        let stopping = job_value
            .as_ref()
            .map(|j| j.get("Stop").and_then(Value::as_bool).unwrap_or(false))
            .unwrap_or(true);
        let version = job_value.as_ref().and_then(|j| j.get("Version")).and_then(Value::as_u64);

        // Allocations of the current version keep their slot (even finished or failed ones,
        // unless a replacement was asked for); all others make way.
        let active_deployments: BTreeSet<String> = self
            .deployments
            .iter()
            .filter(|d| d.status == "running")
            .map(|d| d.id.clone())
            .collect();
        let mut kept: BTreeMap<String, usize> = BTreeMap::new();
        // Allocations of older versions, replaced in batches of `max_parallel` when the
        // group has an update strategy (a rolling update), all at once otherwise.
        let mut older: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (position, alloc) in self.allocs.iter_mut().enumerate() {
            if alloc.namespace != key.0 || alloc.job_id != key.1 || alloc.desired_status != "run" {
                continue;
            }
            let same_version = !stopping && Some(alloc.job_version()) == version;
            if same_version {
                if alloc.reschedule == Reschedule::Requested {
                    // Allocations of a deployment that already failed are not replaced.
                    let allowed = alloc.deployment_id.is_empty()
                        || active_deployments.contains(&alloc.deployment_id);
                    if allowed {
                        alloc.reschedule = Reschedule::Done;
                        if !alloc.is_terminal() {
                            stop_alloc(
                                alloc,
                                "alloc was rescheduled because it failed",
                                "complete",
                                now,
                            );
                        }
                        alloc.modify_index = index;
                        alloc.modify_time = now;
                        self.tables.allocs = index;
                        continue;
                    }
                    alloc.reschedule = Reschedule::No;
                }
                if alloc.reschedule != Reschedule::Done {
                    *kept.entry(alloc.group.clone()).or_default() += 1;
                }
                continue;
            }
            if alloc.is_terminal() {
                continue;
            }
            if !stopping {
                older.entry(alloc.group.clone()).or_default().push(position);
                continue;
            }
            stop_alloc(alloc, "alloc not needed due to job update", "complete", now);
            alloc.modify_index = index;
            alloc.modify_time = now;
            self.tables.allocs = index;
        }
        for deployment in self.deployments.iter_mut() {
            // Re-registering an unchanged job leaves its deployment alone, as Nomad does.
            let superseded = stopping || Some(deployment.job_version) != version;
            if deployment.namespace == key.0
                && deployment.job_id == key.1
                && deployment.status == "running"
                && superseded
            {
                deployment.status = "cancelled".to_string();
                deployment.status_description = if stopping {
                    "Cancelled because job is stopped".to_string()
                } else {
                    "Cancelled due to newer version of job".to_string()
                };
                deployment.modify_index = index;
                deployment.modify_time = now;
                self.tables.deployments = index;
            }
        }

        let mut failed: Map<String, Value> = Map::new();
        let mut queued: BTreeMap<String, u64> = BTreeMap::new();
        let mut deployment_id = String::new();
        if let (false, Some(job_value)) = (stopping, job_value) {
            // Older allocations make way for their replacements, so they hold nothing here.
            let mut usage = self.node_usage(&key, version);
            let job_type = job::job_type(&job_value).to_string();
            let mut placements = Vec::new();
            let mut to_stop: Vec<usize> = Vec::new();
            for group in job::groups(&job_value) {
                let name = str_field(group, "Name").to_string();
                let wanted = if job_type == "system" || job_type == "sysbatch" {
                    placement::eligible_nodes(&self.nodes, &job_value, group)
                } else {
                    job::count(group)
                };
                let have = kept.get(&name).copied().unwrap_or(0);
                let mut missing = wanted.saturating_sub(have);
                let old = older.remove(&name).unwrap_or_default();
                match job::update_strategy(&job_value, group) {
                    Some(strategy) if !old.is_empty() => {
                        // New allocations not yet healthy hold a slot of `max_parallel`.
                        let in_flight = self
                            .allocs
                            .iter()
                            .filter(|a| {
                                a.namespace == key.0
                                    && a.job_id == key.1
                                    && a.group == name
                                    && Some(a.job_version()) == version
                                    && !a.deployment_id.is_empty()
                                    && !a.is_terminal()
                                    && a.healthy != Some(true)
                            })
                            .count() as u64;
                        let batch = strategy.max_parallel.saturating_sub(in_flight) as usize;
                        missing = missing.min(batch);
                        let replaced =
                            if missing == 0 && in_flight == 0 { old.len() } else { missing };
                        to_stop.extend(old.into_iter().take(replaced));
                    }
                    _ => to_stop.extend(old),
                }
                let result =
                    placement::place_group(&self.nodes, &mut usage, &job_value, group, missing);
                queued.insert(name.clone(), result.unplaced as u64);
                if let Some(metrics) = result.failure.clone() {
                    failed.insert(name.clone(), metrics);
                }
                placements.push((group.clone(), name, wanted, result));
            }
            for position in to_stop {
                let alloc = &mut self.allocs[position];
                stop_alloc(alloc, "alloc is being updated due to job update", "complete", now);
                alloc.modify_index = index;
                alloc.modify_time = now;
                self.tables.allocs = index;
            }
            let needs_deployment = placements.iter().any(|(group, _, _, result)| {
                (!result.placed.is_empty() || result.unplaced > 0)
                    && job::update_strategy(&job_value, group).is_some()
            });
            let record = self.jobs.get(&key);
            let create_index = record.map(|r| r.create_index).unwrap_or(0);
            let existing = self
                .deployments
                .iter()
                .rev()
                .find(|d| {
                    d.namespace == key.0
                        && d.job_id == key.1
                        && Some(d.job_version) == version
                        && d.job_create_index == create_index
                })
                .map(|d| (d.id.clone(), d.status == "running"));
            if let Some((id, running)) = existing {
                // Replacements join the version's running deployment; after it concluded,
                // they are placed outside any deployment.
                if running {
                    deployment_id = id;
                }
            } else if needs_deployment {
                deployment_id = self.new_id();
                let record = self.jobs.get(&key);
                let mut groups = BTreeMap::new();
                for (group, name, wanted, _) in &placements {
                    if let Some(strategy) = job::update_strategy(&job_value, group) {
                        groups.insert(
                            name.clone(),
                            DeploymentGroup {
                                auto_revert: strategy.auto_revert,
                                progress_based: strategy.progress_based,
                                desired_canaries: strategy.canary,
                                desired_total: *wanted as u64,
                                ..DeploymentGroup::default()
                            },
                        );
                    }
                }
                self.deployments.push(Deployment {
                    id: deployment_id.clone(),
                    namespace: key.0.clone(),
                    job_id: key.1.clone(),
                    job_version: version.unwrap_or(0),
                    job_modify_index: record.map(|r| r.job_modify_index).unwrap_or(0),
                    job_create_index: record.map(|r| r.create_index).unwrap_or(0),
                    groups,
                    status: "running".to_string(),
                    status_description: "Deployment is running".to_string(),
                    last_progress_step: self.step,
                    create_index: index,
                    modify_index: index,
                    create_time: now,
                    modify_time: now,
                });
                self.tables.deployments = index;
            }
            for (group, name, _, result) in placements {
                let in_deployment = job::update_strategy(&job_value, &group).is_some();
                let mut slot = 0usize;
                for placed in result.placed {
                    // A slot is taken by a live allocation, or by a finished one of this
                    // version that is not being replaced.
                    while self.allocs.iter().any(|a| {
                        a.namespace == key.0
                            && a.job_id == key.1
                            && a.name == format!("{}.{}[{}]", key.1, name, slot)
                            && (!a.is_terminal()
                                || (a.desired_status == "run"
                                    && a.reschedule == Reschedule::No
                                    && Some(a.job_version()) == version))
                    }) {
                        slot += 1;
                    }
                    let alloc_name = format!("{}.{}[{}]", key.1, name, slot);
                    slot += 1;
                    let alloc = self.new_alloc(
                        &key,
                        eval_id,
                        &job_value,
                        &group,
                        alloc_name,
                        placed,
                        if in_deployment { deployment_id.clone() } else { String::new() },
                        index,
                        now,
                    );
                    self.allocs.push(alloc);
                    self.tables.allocs = index;
                }
            }
        }

        let blocked_id = if failed.is_empty() { String::new() } else { self.new_id() };
        let eval = &mut self.evals[eval_pos];
        eval.status = "complete".to_string();
        eval.deployment_id = deployment_id.clone();
        eval.queued = queued.clone();
        eval.failed_tg_allocs = if failed.is_empty() { None } else { Some(failed.clone()) };
        eval.blocked_eval = blocked_id.clone();
        eval.modify_index = index;
        eval.modify_time = now;
        let blocked = (!blocked_id.is_empty()).then(|| Eval {
            id: blocked_id,
            triggered_by: "queued-allocs".to_string(),
            status: "blocked".to_string(),
            status_description: "created to place remaining allocations".to_string(),
            previous_eval: eval.id.clone(),
            blocked_eval: String::new(),
            deployment_id,
            failed_tg_allocs: Some(failed),
            queued,
            create_index: index,
            modify_index: index,
            create_time: now,
            modify_time: now,
            wait_until: None,
            ..eval.clone()
        });
        if let Some(blocked) = blocked {
            self.evals.push(blocked);
        }
        self.tables.evals = index;
        if let Some(record) = self.jobs.get_mut(&key) {
            record.modify_index = index;
            self.tables.jobs = index;
        }
    }

    /// Resources used on each node by the allocations that keep running: other jobs', and
    /// this job's current version.
    fn node_usage(&self, key: &JobKey, version: Option<u64>) -> Vec<NodeUsage> {
        let mut usage = vec![NodeUsage::default(); self.nodes.len()];
        for alloc in &self.allocs {
            let same_job = alloc.namespace == key.0 && alloc.job_id == key.1;
            if alloc.is_terminal() || alloc.node >= usage.len() {
                continue;
            }
            if same_job && Some(alloc.job_version()) != version {
                continue;
            }
            add_usage(&mut usage[alloc.node], alloc);
        }
        usage
    }

    /// Resources used on each node by every other job's running allocations (for plans,
    /// which assume the job's own allocations are replaced).
    pub fn node_usage_without(&self, key: &JobKey) -> Vec<NodeUsage> {
        let mut usage = vec![NodeUsage::default(); self.nodes.len()];
        for alloc in &self.allocs {
            if alloc.is_terminal() || alloc.node >= usage.len() {
                continue;
            }
            if alloc.namespace == key.0 && alloc.job_id == key.1 {
                continue;
            }
            add_usage(&mut usage[alloc.node], alloc);
        }
        usage
    }

    #[allow(clippy::too_many_arguments)]
    fn new_alloc(
        &mut self,
        key: &JobKey,
        eval_id: &str,
        job_value: &Value,
        group: &Value,
        name: String,
        placed: placement::Placement,
        deployment_id: String,
        index: u64,
        now: u128,
    ) -> Alloc {
        let id = self.new_id();
        let serial = {
            let n = self.allocs_per_job.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        let previous = self
            .allocs
            .iter()
            .rev()
            .find(|a| a.namespace == key.0 && a.job_id == key.1 && a.name == name);
        let previous_allocation = previous.map(|a| a.id.clone()).unwrap_or_default();
        let mut reschedule_events = Vec::new();
        if let Some(previous) = previous.filter(|a| a.reschedule == Reschedule::Done) {
            let delay_steps = self.reschedule_delay(previous.reschedule_events.len());
            let delay_nanos =
                delay_steps.saturating_mul(self.scenario.step_ms).saturating_mul(1_000_000);
            reschedule_events = previous.reschedule_events.clone();
            reschedule_events.push(json!({
                "PrevAllocID": previous.id,
                "PrevNodeID": self.nodes.get(previous.node).map(|n| n.id.as_str()).unwrap_or(""),
                "RescheduleTime": now as u64,
                "Delay": delay_nanos,
            }));
        }
        let (attempts, give_up_reason) = job::restart_policy(job_value, group);
        let tasks = job::tasks(group)
            .iter()
            .map(|task| {
                let (fate, stdout_lines) = self.fate_of(&key.1, group, task, serial);
                TaskRun {
                    name: str_field(task, "Name").to_string(),
                    fate,
                    image: job::image(task).map(str::to_string),
                    stdout_lines,
                    attempts_left: attempts,
                    give_up_reason: give_up_reason.clone(),
                    phase: Phase::Received,
                    state: "pending".to_string(),
                    failed: false,
                    restarts: 0,
                    started_at: None,
                    finished_at: None,
                    last_restart: None,
                    events: Vec::new(),
                    stdout: String::new(),
                    stderr: String::new(),
                }
            })
            .collect();
        Alloc {
            id,
            eval_id: eval_id.to_string(),
            name,
            namespace: key.0.clone(),
            job_id: key.1.clone(),
            job: job_value.clone(),
            group: str_field(group, "Name").to_string(),
            node: placed.node,
            ports: placed.ports,
            metrics: placed.metrics,
            deployment_id,
            desired_status: "run".to_string(),
            desired_description: String::new(),
            client_status: "pending".to_string(),
            client_description: String::new(),
            reschedule: Reschedule::No,
            reschedule_events,
            followup_eval_id: String::new(),
            healthy: None,
            health_time: None,
            tasks,
            previous_allocation,
            create_index: index,
            modify_index: index,
            alloc_modify_index: index,
            create_time: now,
            modify_time: now,
        }
    }

    /// The scripted fate of one task, from the scenario's rules, and its stdout lines.
    fn fate_of(
        &self,
        job_id: &str,
        group: &Value,
        task: &Value,
        serial: usize,
    ) -> (Fate, Vec<String>) {
        let image = job::image(task).unwrap_or("");
        let memory = job::memory_limit(task, self.scenario.memory_oversubscription);
        let checks = job::check_paths(group, task);
        let templates = job::template_text(task);
        let mut stdout = Vec::new();
        let mut fate = Fate::Runs;
        for rule in self.scenario.rules_for(job_id) {
            stdout.extend(rule.stdout.iter().cloned());
            if fate != Fate::Runs {
                continue;
            }
            if !image.is_empty() && rule.missing_images.iter().any(|i| i == image) {
                fate = Fate::PullFails {
                    message: format!(
                        "Failed to pull `{image}`: Error response from daemon: manifest for \
                         {image} not found: manifest unknown: manifest unknown"
                    ),
                };
            } else if !image.is_empty() && rule.unauthorized_images.iter().any(|i| i == image) {
                let repository = image.split(':').next().unwrap_or(image);
                fate = Fate::PullFails {
                    message: format!(
                        "Failed to pull `{image}`: Error response from daemon: pull access denied \
                         for {repository}, repository does not exist or may require 'docker \
                         login': denied: requested access to the resource is denied"
                    ),
                };
            } else if let Some(path) =
                rule.missing_secrets.iter().find(|p| templates.contains(p.as_str()))
            {
                fate = Fate::TemplateBlocked { missing: format!("vault.read({path})") };
            } else if let Some(path) =
                rule.missing_variables.iter().find(|p| templates.contains(p.as_str()))
            {
                fate = Fate::TemplateBlocked {
                    missing: format!(
                        "nomad.var.block({path}@{}.{})",
                        "default", self.scenario.region
                    ),
                };
            } else if rule.oom_below_mb.is_some_and(|limit| memory < limit) {
                fate = Fate::OomKilled;
            } else if serial <= rule.crash_first_allocs {
                fate = Fate::Crashes {
                    exit_code: rule.crash_exit_code,
                    stderr: rule.crash_stderr.clone(),
                };
            } else if let Some(missing) =
                rule.required_env.iter().find(|wanted| !job::has_env(task, wanted))
            {
                let name = missing.split('=').next().unwrap_or(missing);
                let stderr = if rule.crash_stderr.is_empty() {
                    vec![format!("error: required environment variable {name} is not set")]
                } else {
                    rule.crash_stderr.clone()
                };
                fate = Fate::Crashes { exit_code: rule.crash_exit_code, stderr };
            } else if let Some(check) = checks.iter().find(|path| {
                rule.failing_check_paths.iter().any(|failing| failing == "*" || failing == *path)
            }) {
                fate = Fate::ChecksFail { check: check.clone() };
            }
        }
        (fate, stdout)
    }

    /// Steps before the `n`th replacement (0-based) of an allocation.
    fn reschedule_delay(&self, n: usize) -> u64 {
        let base = self.scenario.timing.reschedule_delay_steps.max(1);
        base.saturating_mul(1 << n.min(5))
    }

    /// Asks for the replacement of failed allocations, and of unhealthy ones in a deployment
    /// with a progress deadline, as the group's reschedule policy allows.
    fn request_reschedules(&mut self, index: u64) -> bool {
        let running: BTreeMap<String, BTreeMap<String, bool>> = self
            .deployments
            .iter()
            .filter(|d| d.status == "running")
            .map(|d| {
                (
                    d.id.clone(),
                    d.groups.iter().map(|(g, s)| (g.clone(), s.progress_based)).collect(),
                )
            })
            .collect();
        let mut wanted = Vec::new();
        for (i, alloc) in self.allocs.iter().enumerate() {
            if alloc.reschedule != Reschedule::No || alloc.desired_status != "run" {
                continue;
            }
            let in_deployment = !alloc.deployment_id.is_empty();
            let deployment = running.get(&alloc.deployment_id);
            if in_deployment && deployment.is_none() {
                continue;
            }
            let progress_based =
                deployment.and_then(|groups| groups.get(&alloc.group)).copied().unwrap_or(false);
            let failed = alloc.client_status == "failed";
            let unhealthy = alloc.healthy == Some(false) && progress_based;
            if !(failed && (!in_deployment || progress_based) || unhealthy) {
                continue;
            }
            let Some(group) =
                job::groups(&alloc.job).iter().find(|g| str_field(g, "Name") == alloc.group)
            else {
                continue;
            };
            let (attempts, unlimited) = job::reschedule_policy(&alloc.job, group);
            if !unlimited && alloc.reschedule_events.len() as u64 >= attempts {
                continue;
            }
            wanted.push((i, self.reschedule_delay(alloc.reschedule_events.len())));
        }
        let changed = !wanted.is_empty();
        for (i, delay) in wanted {
            let key = (self.allocs[i].namespace.clone(), self.allocs[i].job_id.clone());
            let job_modify_index = self.jobs.get(&key).map(|r| r.job_modify_index).unwrap_or(0);
            let eval_id = self.create_eval(&key, "alloc-failure", job_modify_index, index, delay);
            let alloc = &mut self.allocs[i];
            alloc.reschedule = Reschedule::Requested;
            alloc.followup_eval_id = eval_id;
            alloc.modify_index = index;
            self.tables.allocs = index;
        }
        changed
    }

    /// Recounts deployments from their allocations and decides their outcome.
    fn watch_deployments(&mut self, index: u64) -> bool {
        let mut changed = false;
        let now = now_nanos();
        let progress_deadline = self.scenario.timing.progress_deadline_steps;
        let mut outcomes = Vec::new();
        let mut continue_rollout: Vec<JobKey> = Vec::new();
        for deployment in self.deployments.iter_mut().filter(|d| d.status == "running") {
            let mut counts_changed = false;
            let mut progressed = false;
            for (name, group) in deployment.groups.iter_mut() {
                let allocs = self
                    .allocs
                    .iter()
                    .filter(|a| a.deployment_id == deployment.id && &a.group == name);
                let (mut placed, mut healthy, mut unhealthy) = (0, 0, 0);
                for alloc in allocs {
                    placed += 1;
                    match alloc.healthy {
                        Some(true) => healthy += 1,
                        Some(false) => unhealthy += 1,
                        None => {}
                    }
                }
                if (placed, healthy, unhealthy) != (group.placed, group.healthy, group.unhealthy) {
                    progressed |= healthy > group.healthy;
                    group.placed = placed;
                    group.healthy = healthy;
                    group.unhealthy = unhealthy;
                    counts_changed = true;
                }
            }
            if progressed {
                deployment.last_progress_step = self.step;
                // A healthy replacement lets the rolling update take its next batch.
                let older_left = self.allocs.iter().any(|a| {
                    a.namespace == deployment.namespace
                        && a.job_id == deployment.job_id
                        && a.job_version() != deployment.job_version
                        && !a.is_terminal()
                });
                if older_left {
                    continue_rollout
                        .push((deployment.namespace.clone(), deployment.job_id.clone()));
                }
            }
            let has_deadline = deployment.groups.values().any(|g| g.progress_based);
            let failure =
                if deployment.groups.values().any(|g| !g.progress_based && g.unhealthy > 0) {
                    Some("Failed due to unhealthy allocations")
                } else if has_deadline
                    && self.step.saturating_sub(deployment.last_progress_step) > progress_deadline
                {
                    Some("Failed due to progress deadline")
                } else {
                    None
                };
            if let Some(reason) = failure {
                deployment.status = "failed".to_string();
                deployment.status_description = reason.to_string();
                outcomes.push((deployment.id.clone(), false));
                counts_changed = true;
            } else if deployment.groups.values().all(|g| g.healthy >= g.desired_total) {
                deployment.status = "successful".to_string();
                deployment.status_description = "Deployment completed successfully".to_string();
                outcomes.push((deployment.id.clone(), true));
                counts_changed = true;
            }
            if counts_changed {
                deployment.modify_index = index;
                deployment.modify_time = now;
                self.tables.deployments = index;
                changed = true;
            }
        }
        for (deployment_id, success) in outcomes {
            self.conclude_deployment(&deployment_id, success, index);
        }
        for key in continue_rollout {
            let job_modify_index = self.jobs.get(&key).map(|r| r.job_modify_index).unwrap_or(0);
            self.create_eval(&key, "deployment-watcher", job_modify_index, index, 1);
            changed = true;
        }
        changed
    }

    /// Marks the version stable after success; auto-reverts after a failure when asked to.
    fn conclude_deployment(&mut self, deployment_id: &str, success: bool, index: u64) {
        let Some(deployment) = self.deployments.iter().find(|d| d.id == deployment_id).cloned()
        else {
            return;
        };
        let key = (deployment.namespace.clone(), deployment.job_id.clone());
        let Some(record) = self.jobs.get_mut(&key) else { return };
        if success {
            for version in record.versions.iter_mut() {
                if version.get("Version").and_then(Value::as_u64) == Some(deployment.job_version) {
                    if let Some(object) = version.as_object_mut() {
                        object.insert("Stable".into(), json!(true));
                    }
                }
            }
            record.modify_index = index;
            self.tables.jobs = index;
            return;
        }
        if !deployment.groups.values().any(|g| g.auto_revert) {
            return;
        }
        let stable = record
            .versions
            .iter()
            .rev()
            .filter(|v| v.get("Stable").and_then(Value::as_bool).unwrap_or(false))
            .filter_map(|v| v.get("Version").and_then(Value::as_u64))
            .find(|v| *v < deployment.job_version);
        let suffix = match stable {
            Some(version) => format!(" - rolling back to job version {version}"),
            None => " - no stable job version to auto revert to".to_string(),
        };
        if let Some(d) = self.deployments.iter_mut().find(|d| d.id == deployment_id) {
            d.status_description.push_str(&suffix);
        }
        if let Some(version) = stable {
            // The revert is the fake's own write; an error here only means the job vanished.
            let _ = self.revert(&key.0, &key.1, version, None, true);
        }
    }

    /// The status Nomad would show for a job, from its allocations and evaluations.
    pub fn job_status(&self, key: &JobKey) -> &'static str {
        let Some(record) = self.jobs.get(key) else { return "dead" };
        if record.current().get("Stop").and_then(Value::as_bool).unwrap_or(false) {
            return "dead";
        }
        if job::is_template(record.current()) {
            return "running";
        }
        let allocs: Vec<&Alloc> =
            self.allocs.iter().filter(|a| a.namespace == key.0 && a.job_id == key.1).collect();
        if allocs.iter().any(|a| !a.is_terminal()) {
            return "running";
        }
        let waiting = self.evals.iter().any(|e| {
            e.namespace == key.0
                && e.job_id == key.1
                && matches!(e.status.as_str(), "pending" | "blocked")
        });
        if waiting || allocs.is_empty() {
            "pending"
        } else {
            "dead"
        }
    }

    /// Fails a running deployment by request (`POST /v1/deployment/fail/:id`), rolling back
    /// like an automatic failure would; returns the evaluation, the index and the version
    /// reverted to, if any.
    pub fn fail_deployment(
        &mut self,
        deployment_id: &str,
    ) -> Result<(String, u64, Option<u64>), ApiError> {
        let deployment = self
            .deployments
            .iter()
            .find(|d| d.id == deployment_id)
            .ok_or_else(|| ApiError::new(404, "deployment not found"))?;
        if deployment.status != "running" {
            return Err(ApiError::new(500, "can't fail terminal deployment"));
        }
        let key = (deployment.namespace.clone(), deployment.job_id.clone());
        let index = self.bump();
        let now = now_nanos();
        if let Some(d) = self.deployments.iter_mut().find(|d| d.id == deployment_id) {
            d.status = "failed".to_string();
            d.status_description = "Deployment marked as failed".to_string();
            d.modify_index = index;
            d.modify_time = now;
        }
        self.tables.deployments = index;
        let reverts_before = self.reverts.len();
        self.conclude_deployment(deployment_id, false, index);
        let reverted = self.reverts.get(reverts_before).map(|r| r.to_version);
        let job_modify_index = self.jobs.get(&key).map(|r| r.job_modify_index).unwrap_or(0);
        let eval_id = self.create_eval(&key, "deployment-watcher", job_modify_index, index, 1);
        Ok((eval_id, index, reverted))
    }

    /// Adds nodes and retries the blocked evaluations on the new capacity.
    pub fn add_nodes(&mut self, nodes: &[super::scenario::Node]) {
        let mut all = self.scenario.nodes.clone();
        all.extend(nodes.iter().cloned());
        let expanded = ClientNode::expand(&all);
        // Existing nodes keep their IDs (expansion is deterministic); only new ones are added.
        self.nodes.extend(expanded.into_iter().skip(self.nodes.len()));
        self.scenario.nodes = all;
        let index = self.bump();
        for eval in self.evals.iter_mut().filter(|e| e.status == "blocked") {
            eval.status = "pending".to_string();
            eval.status_description = String::new();
            eval.modify_index = index;
            self.queue.push((self.step + 1, Work::Evaluate(eval.id.clone())));
        }
        self.tables.evals = index;
    }

    /// Takes the next matching injected fault, if any.
    pub fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let position = self.faults.iter().position(|fault| {
            fault.times > 0
                && fault.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
                && fault.path.as_deref().is_none_or(|p| path.starts_with(p))
        })?;
        let fault = &mut self.faults[position];
        fault.times -= 1;
        Some(fault.clone())
    }
}

/// Adds what an allocation holds on its node.
fn add_usage(node: &mut NodeUsage, alloc: &Alloc) {
    for task in job::groups(&alloc.job)
        .iter()
        .filter(|g| str_field(g, "Name") == alloc.group)
        .flat_map(job::tasks)
    {
        let (cpu, memory) = job::task_resources(task);
        node.cpu += cpu;
        node.memory += memory;
    }
    for (_, port, _) in &alloc.ports {
        node.ports.insert(*port);
    }
}

/// The names of a job's task groups, for summaries of groups without allocations.
pub(crate) fn group_names(job_value: &Value) -> BTreeSet<String> {
    job::groups(job_value).iter().map(|g| str_field(g, "Name").to_string()).collect()
}
