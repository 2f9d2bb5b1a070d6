//! A fake Nomad: a stateful HTTP server speaking Nomad's `/v1` API on loopback.
//!
//! `FakeNomad::start(scenario)` serves on a free port from its own thread and runtime, so it
//! works from plain `#[test]`s and from `#[tokio::test]`s alike, and stops when dropped. Jobs
//! registered with it get evaluations, deployments and allocations that move forward on a
//! timer (or on the test's manual clock) as the scenario scripts them; the handle exposes
//! that state for assertions.

mod cluster;
mod http;
mod job;
mod lifecycle;
mod placement;
mod plan;
/// Also dates the fake GitHub App's installation tokens.
pub(crate) mod render;
mod scenario;
mod variables;

use crate::server::LoopbackServer;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub use cluster::{RequestRecord, Revert, Stop};
pub use scenario::{Fault, JobRule, Node, Scenario, Timing, Token};

use cluster::{Cluster, JobKey};
use http::Shared;

/// Most steps `settle` takes before giving up (a deployment always ends well before).
const SETTLE_LIMIT: u64 = 10_000;

/// A running fake Nomad; dropping it stops the server.
pub struct FakeNomad {
    server: LoopbackServer,
    shared: Arc<Shared>,
}

impl FakeNomad {
    /// Starts a fake Nomad on a free loopback port.
    pub fn start(scenario: Scenario) -> anyhow::Result<FakeNomad> {
        FakeNomad::start_on("127.0.0.1:0", scenario)
    }

    /// Starts a fake Nomad on the given address (`127.0.0.1:4646`, or port 0 for a free one).
    pub fn start_on(listen: &str, scenario: Scenario) -> anyhow::Result<FakeNomad> {
        let step = Duration::from_millis(scenario.step_ms.max(1));
        let manual = scenario.manual_clock;
        let shared = Arc::new(Shared::new(Cluster::new(scenario)));
        let ticking = shared.clone();
        // The simulation clock: one step per tick, unless the test turns it by hand.
        let clock = (!manual).then_some(async move {
            let mut interval = tokio::time::interval(step);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                interval.tick().await;
                ticking.advance();
            }
        });
        let app = axum::Router::new().fallback(http::handle).with_state(shared.clone());
        let server = LoopbackServer::start_with(listen, app, "fake Nomad", clock)?;
        Ok(FakeNomad { server, shared })
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The URL to put in `NOMAD_ADDR`, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The fault switch in front of this fake: play a 500, a rate limit, silence, ...
    pub fn faults(&self) -> &crate::faults::FaultSwitch {
        self.server.faults()
    }

    /// Runs `steps` simulation steps now (the only way time passes with the manual clock).
    pub fn advance(&self, steps: u64) {
        for _ in 0..steps {
            self.shared.advance();
        }
    }

    /// Steps until nothing is left to happen (evaluations done, deployments concluded);
    /// returns false if the cluster had not settled after a very large number of steps.
    pub fn settle(&self) -> bool {
        for _ in 0..SETTLE_LIMIT {
            if self.shared.read(Cluster::is_settled) {
                return true;
            }
            self.shared.advance();
        }
        self.shared.read(Cluster::is_settled)
    }

    /// Waits (with the timer clock) until nothing is left to happen, at most `timeout`.
    pub fn wait_settled(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.shared.read(Cluster::is_settled) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.shared.read(Cluster::is_settled)
    }

    /// How many blocking queries are parked waiting for a change (or for their `wait`):
    /// lets a test advance the manual clock once a watcher is really waiting.
    pub fn waiting_queries(&self) -> usize {
        self.shared.parked()
    }

    /// The current raft-like index.
    pub fn index(&self) -> u64 {
        self.shared.read(|c| c.index)
    }

    /// The current version of a job in the `default` namespace, as `GET /v1/job/:id` shows it.
    pub fn job(&self, job_id: &str) -> Option<Value> {
        self.job_in("default", job_id)
    }

    /// The current version of a job in a namespace.
    pub fn job_in(&self, namespace: &str, job_id: &str) -> Option<Value> {
        let key = key(namespace, job_id);
        self.shared.read(|c| render::job(c, &key))
    }

    /// Every registered version of a job (`default` namespace), oldest first.
    pub fn job_versions(&self, job_id: &str) -> Vec<Value> {
        let key = key("default", job_id);
        self.shared.read(|c| c.jobs.get(&key).map(|r| r.versions.clone()).unwrap_or_default())
    }

    /// How many register requests (`POST /v1/jobs` or `/v1/job/:id`) named this job over
    /// HTTP, refused ones included (reverts and `register_job` are not counted).
    pub fn register_calls(&self, job_id: &str) -> usize {
        self.shared.read(|c| {
            c.register_calls.iter().filter(|((_, id), _)| id == job_id).map(|(_, n)| *n).sum()
        })
    }

    /// The job's allocations (`default` namespace) in Nomad's full JSON, oldest first.
    pub fn allocations(&self, job_id: &str) -> Vec<Value> {
        self.shared.read(|c| {
            c.allocs
                .iter()
                .filter(|a| a.namespace == "default" && a.job_id == job_id)
                .map(|a| render::alloc_full(c, a))
                .collect()
        })
    }

    /// The job's evaluations (`default` namespace), oldest first.
    pub fn evaluations(&self, job_id: &str) -> Vec<Value> {
        self.shared.read(|c| {
            c.evals
                .iter()
                .filter(|e| e.namespace == "default" && e.job_id == job_id)
                .map(|e| render::eval(c, e, false))
                .collect()
        })
    }

    /// The job's deployments (`default` namespace), oldest first.
    pub fn deployments(&self, job_id: &str) -> Vec<Value> {
        self.shared.read(|c| {
            c.deployments
                .iter()
                .filter(|d| d.namespace == "default" && d.job_id == job_id)
                .map(render::deployment)
                .collect()
        })
    }

    /// Reverts performed so far, requested or automatic.
    pub fn reverts(&self) -> Vec<Revert> {
        self.shared.read(|c| c.reverts.clone())
    }

    /// Stops (deregistrations) received so far.
    pub fn stops(&self) -> Vec<Stop> {
        self.shared.read(|c| c.stops.clone())
    }

    /// Every HTTP request answered so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.read(|c| c.requests.clone())
    }

    /// Registers a job as someone else would (e.g. a colleague changing it between a plan
    /// and a deploy); returns its `JobModifyIndex`. Not counted in `register_calls`.
    pub fn register_job(&self, job: Value) -> anyhow::Result<u64> {
        let namespace = match job.get("Namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() => ns.to_string(),
            _ => "default".to_string(),
        };
        let outcome = self
            .shared
            .write(|c| c.register(&namespace, job, None, "job-register"))
            .map_err(|e| anyhow::anyhow!("the fake Nomad refused the job: {}", e.text))?;
        Ok(outcome.job_modify_index)
    }

    /// Changes a registered job (`default` namespace) as someone running `nomad job run` by
    /// hand would: `change` edits the current version, which is registered as a new one;
    /// returns its `JobModifyIndex`. Fails if there is no such job.
    pub fn change_job_by_hand(
        &self,
        job_id: &str,
        change: impl FnOnce(&mut Value),
    ) -> anyhow::Result<u64> {
        let mut job = self
            .job(job_id)
            .ok_or_else(|| anyhow::anyhow!("the fake Nomad has no job {job_id} to change"))?;
        change(&mut job);
        self.register_job(job)
    }

    /// Adds client nodes while running; blocked evaluations are retried, as Nomad retries
    /// them when capacity appears.
    pub fn add_nodes(&self, nodes: Vec<Node>) {
        self.shared.write(|c| c.add_nodes(&nodes));
    }

    /// The variable at `path` in the default namespace, as a management token reads it
    /// (`Items` and `Lock`), or `None`.
    pub fn variable(&self, path: &str) -> Option<Value> {
        self.shared.read(|c| c.variables.get("default", path, true).ok())
    }

    /// The metadata (with `Lock`) of every variable under `prefix`, in any namespace.
    pub fn variables(&self, prefix: &str) -> Vec<Value> {
        self.shared.read(|c| c.variables.list(None, prefix, true))
    }

    /// Adds a fault while running (e.g. "the next two registers fail").
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.write(|c| c.faults.push(fault));
    }
}

impl std::fmt::Debug for FakeNomad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeNomad").field("url", &self.url()).field("index", &self.index()).finish()
    }
}

fn key(namespace: &str, job_id: &str) -> JobKey {
    (namespace.to_string(), job_id.to_string())
}
