//! The scenario a fake Nomad plays: its nodes, ACL tokens, namespaces, timing, the scripted
//! fate of each job's tasks and the faults injected into its HTTP answers.
//!
//! The same types are read from a TOML file by the `fakes` binary and built in Rust by tests;
//! every field has a default, so `Scenario::default()` is a healthy three-node cluster.
//! This file owns only the description; `cluster` decides what happens from it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// Everything a fake Nomad is configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// The region the agent is in; a request for another region gets "No path to region".
    pub region: String,
    /// The Nomad version reported by `/v1/agent/self`.
    pub version: String,
    /// How long one simulation step lasts, in milliseconds (ignored with `manual_clock`).
    pub step_ms: u64,
    /// When set, nothing advances by itself: tests call `FakeNomad::advance` or `settle`.
    pub manual_clock: bool,
    /// The client nodes allocations are placed on.
    pub nodes: Vec<Node>,
    /// Namespaces that exist; a job in another namespace is refused like Nomad does.
    pub namespaces: Vec<String>,
    /// The scheduler's `MemoryOversubscriptionEnabled` (off by default, as in Nomad): when
    /// off, `memory_max` is ignored (with a warning) and `MemoryMB` is the OOM limit.
    pub memory_oversubscription: bool,
    /// ACL tokens; when the list is empty, ACLs are disabled.
    pub tokens: Vec<Token>,
    /// Scripted behaviour of tasks, per job.
    pub jobs: Vec<JobRule>,
    /// Faults injected into the next matching HTTP requests.
    pub faults: Vec<Fault>,
    /// How many steps the allocation health phases take.
    pub timing: Timing,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            region: "global".to_string(),
            version: "1.10.3".to_string(),
            step_ms: 20,
            manual_clock: false,
            nodes: default_nodes(),
            namespaces: vec!["default".to_string()],
            memory_oversubscription: false,
            tokens: Vec::new(),
            jobs: Vec::new(),
            faults: Vec::new(),
            timing: Timing::default(),
        }
    }
}

impl Scenario {
    /// Reads a scenario from a TOML file; errors name the file and the offending line.
    pub fn from_file(path: &Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario file {}", path.display()))?;
        Scenario::from_toml(&text).with_context(|| format!("in scenario file {}", path.display()))
    }

    /// Reads a scenario from TOML text.
    pub fn from_toml(text: &str) -> anyhow::Result<Scenario> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(scenario)
    }

    /// Adds a rule for one job (or `*`), for tests building scenarios in Rust.
    pub fn with_rule(mut self, rule: JobRule) -> Scenario {
        self.jobs.push(rule);
        self
    }

    /// Replaces the nodes.
    pub fn with_nodes(mut self, nodes: Vec<Node>) -> Scenario {
        self.nodes = nodes;
        self
    }

    /// Adds an injected fault.
    pub fn with_fault(mut self, fault: Fault) -> Scenario {
        self.faults.push(fault);
        self
    }

    /// Adds an ACL token (which turns ACLs on).
    pub fn with_token(mut self, token: Token) -> Scenario {
        self.tokens.push(token);
        self
    }

    /// Switches to the manual clock: steps happen only on `FakeNomad::advance`/`settle`.
    pub fn with_manual_clock(mut self) -> Scenario {
        self.manual_clock = true;
        self
    }

    /// The rules that apply to a job: those naming it and those for every job (`*`).
    pub(crate) fn rules_for<'a>(&'a self, job_id: &'a str) -> impl Iterator<Item = &'a JobRule> {
        self.jobs.iter().filter(move |rule| rule.job == "*" || rule.job == job_id)
    }
}

fn default_nodes() -> Vec<Node> {
    vec![Node { count: 3, ..Node::default() }]
}

/// A client node (or `count` identical ones).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Node {
    /// Name prefix; nodes get `NAME-1`, `NAME-2`, ...
    pub name: String,
    /// How many identical nodes this entry stands for.
    pub count: usize,
    /// `${node.datacenter}`, matched against the job's `Datacenters` (globs allowed).
    pub datacenter: String,
    /// `${node.pool}`, matched against the job's `NodePool` (`all` matches every pool).
    pub node_pool: String,
    /// `${node.class}`.
    pub node_class: String,
    /// `${attr.cpu.arch}`: `amd64`, `arm64`, ...
    pub cpu_arch: String,
    /// `${attr.kernel.name}`.
    pub kernel: String,
    /// Memory free for allocations, in MB.
    pub memory_mb: u64,
    /// CPU free for allocations, in MHz.
    pub cpu_mhz: u64,
    /// Static ports already taken on the node (by something outside this fake's jobs).
    pub used_ports: Vec<u16>,
    /// Task drivers the node has (`docker`, `exec`, ...).
    pub drivers: Vec<String>,
    /// Extra `${attr.*}` attributes.
    pub attributes: BTreeMap<String, String>,
    /// `${meta.*}` values.
    pub meta: BTreeMap<String, String>,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            name: "client".to_string(),
            count: 1,
            datacenter: "dc1".to_string(),
            node_pool: "default".to_string(),
            node_class: String::new(),
            cpu_arch: "amd64".to_string(),
            kernel: "linux".to_string(),
            memory_mb: 4096,
            cpu_mhz: 4000,
            used_ports: Vec::new(),
            drivers: vec!["docker".to_string(), "exec".to_string(), "raw_exec".to_string()],
            attributes: BTreeMap::new(),
            meta: BTreeMap::new(),
        }
    }
}

/// An ACL token.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Token {
    /// The secret sent in `X-Nomad-Token` or `Authorization: Bearer`.
    pub secret: String,
    /// Namespaces the token may use; `*` for all.
    pub namespaces: Vec<String>,
}

impl Token {
    /// A token for every namespace.
    pub fn management(secret: &str) -> Token {
        Token { secret: secret.to_string(), namespaces: vec!["*".to_string()] }
    }

    /// A token limited to some namespaces.
    pub fn for_namespaces(secret: &str, namespaces: &[&str]) -> Token {
        Token {
            secret: secret.to_string(),
            namespaces: namespaces.iter().map(|ns| ns.to_string()).collect(),
        }
    }

    pub(crate) fn allows(&self, namespace: &str) -> bool {
        self.namespaces.iter().any(|ns| ns == "*" || ns == namespace)
    }
}

/// What happens to the tasks of one job (or of every job, with `job = "*"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobRule {
    /// The job ID the rule is for, or `*`.
    pub job: String,
    /// A task whose memory limit (`MemoryMB`, or `MemoryMaxMB` when higher) is below this
    /// (MB) is OOM-killed shortly after starting.
    pub oom_below_mb: Option<u64>,
    /// Images whose pull fails with "manifest unknown".
    pub missing_images: Vec<String>,
    /// Images whose pull fails with "pull access denied".
    pub unauthorized_images: Vec<String>,
    /// Health check paths that never pass (`*` for every check).
    pub failing_check_paths: Vec<String>,
    /// Vault secret paths (e.g. `secret/data/app`) that do not exist: a task whose template
    /// reads one stays blocked on "Missing: vault.read(...)" and never starts.
    pub missing_secrets: Vec<String>,
    /// Nomad variable paths (e.g. `nomad/jobs/web`) that do not exist, likewise.
    pub missing_variables: Vec<String>,
    /// The first N allocations of the job crash on every start; later ones run.
    pub crash_first_allocs: usize,
    /// The exit code of a crash.
    pub crash_exit_code: i64,
    /// Lines a crashing task writes to stderr before exiting.
    pub crash_stderr: Vec<String>,
    /// Environment variables a task needs, as `NAME` (set to anything) or `NAME=VALUE`: a
    /// task whose `Env` lacks one exits with `crash_exit_code` on every start, writing
    /// `crash_stderr` (or, when that is empty, a line naming the variable), as an
    /// application that checks its configuration at boot does.
    pub required_env: Vec<String>,
    /// Lines every started task writes to stdout.
    pub stdout: Vec<String>,
}

impl Default for JobRule {
    fn default() -> Self {
        JobRule {
            job: "*".to_string(),
            oom_below_mb: None,
            missing_images: Vec::new(),
            unauthorized_images: Vec::new(),
            failing_check_paths: Vec::new(),
            missing_secrets: Vec::new(),
            missing_variables: Vec::new(),
            crash_first_allocs: 0,
            crash_exit_code: 1,
            crash_stderr: Vec::new(),
            required_env: Vec::new(),
            stdout: Vec::new(),
        }
    }
}

impl JobRule {
    /// A rule for one job ID (or `*`) that does nothing yet.
    pub fn for_job(job: &str) -> JobRule {
        JobRule { job: job.to_string(), ..JobRule::default() }
    }

    /// Tasks with less memory than `mb` get OOM-killed.
    pub fn oom_below_mb(mut self, mb: u64) -> JobRule {
        self.oom_below_mb = Some(mb);
        self
    }

    /// Pulling `image` fails with "manifest unknown".
    pub fn missing_image(mut self, image: &str) -> JobRule {
        self.missing_images.push(image.to_string());
        self
    }

    /// Pulling `image` fails with "pull access denied".
    pub fn unauthorized_image(mut self, image: &str) -> JobRule {
        self.unauthorized_images.push(image.to_string());
        self
    }

    /// Checks on `path` (or every check, with `*`) never pass.
    pub fn failing_check(mut self, path: &str) -> JobRule {
        self.failing_check_paths.push(path.to_string());
        self
    }

    /// Templates reading the Vault secret `path` block their task.
    pub fn missing_secret(mut self, path: &str) -> JobRule {
        self.missing_secrets.push(path.to_string());
        self
    }

    /// Tasks without environment variable `NAME` (or `NAME=VALUE`) crash on every start.
    pub fn require_env(mut self, variable: &str) -> JobRule {
        self.required_env.push(variable.to_string());
        self
    }

    /// The first `n` allocations crash with `stderr` lines, later ones run.
    pub fn crash_first_allocs(mut self, n: usize, stderr: &[&str]) -> JobRule {
        self.crash_first_allocs = n;
        self.crash_stderr = stderr.iter().map(|line| line.to_string()).collect();
        self
    }
}

/// A fault injected into the next `times` requests matching `method` and `path`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fault {
    /// HTTP method to match (any when absent).
    pub method: Option<String>,
    /// Path prefix to match, e.g. `/v1/jobs` (any when absent).
    pub path: Option<String>,
    /// Status to answer with; absent means "answer normally after the delay".
    pub status: Option<u16>,
    /// Body of the injected error.
    pub body: String,
    /// Delay before answering, in milliseconds.
    pub delay_ms: u64,
    /// How many matching requests are affected.
    pub times: usize,
}

impl Default for Fault {
    fn default() -> Self {
        Fault {
            method: None,
            path: None,
            status: None,
            body: "No cluster leader".to_string(),
            delay_ms: 0,
            times: 1,
        }
    }
}

impl Fault {
    /// The next `times` requests (matching the path prefix, if given) get a 500.
    pub fn server_error(times: usize, path: Option<&str>) -> Fault {
        Fault { status: Some(500), times, path: path.map(str::to_string), ..Fault::default() }
    }

    /// The next `times` requests (matching the path prefix, if given) wait `delay_ms` first.
    pub fn slow(times: usize, delay_ms: u64, path: Option<&str>) -> Fault {
        Fault { delay_ms, times, path: path.map(str::to_string), ..Fault::default() }
    }
}

/// How many simulation steps the health phases of an allocation take.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timing {
    /// Steps a task must run before its allocation counts as healthy (`min_healthy_time`).
    pub min_healthy_steps: u64,
    /// Steps after which a running allocation with failing checks is unhealthy.
    pub healthy_deadline_steps: u64,
    /// Steps without progress after which a deployment fails (`progress_deadline`).
    pub progress_deadline_steps: u64,
    /// Steps before a failed allocation is replaced (doubling with each replacement, as
    /// Nomad's exponential reschedule delay does, up to 32 times this).
    pub reschedule_delay_steps: u64,
    /// How long one second of a variable lock's TTL and lock delay lasts, in milliseconds of
    /// wall time (1000: real time). Locks keep Nomad's own bounds (10 s to 24 h), so a test
    /// shortens them here rather than in what the client sends.
    pub lock_second_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            min_healthy_steps: 2,
            healthy_deadline_steps: 6,
            progress_deadline_steps: 40,
            reschedule_delay_steps: 3,
            lock_second_ms: 1000,
        }
    }
}
