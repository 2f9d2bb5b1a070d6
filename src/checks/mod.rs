//! The checks' vocabulary (pure): the four named checks of a job file and what each found.
//!
//! `nomad-spec check` prints these results and the PR bot posts them, as check runs or commit
//! statuses and in its status comment, and keeps them in its checkpoint. They live here, with
//! no client beside them, so that the conversation (pure) can read them without importing the
//! Vault or Nomad clients that produce them. The checks themselves are run by [`run`] (I/O:
//! Vault, Consul, Fabio, Nomad); `jobspec::validate`, `infra` and `nomad` produce the results.

pub mod run;

use serde::{Deserialize, Serialize};

use crate::jobspec::Diagnostic;

/// The job spec rules (syntax and Nomad semantics).
pub const VALIDATE: &str = "nomad-spec/validate";
/// The Vault paths the job reads exist and are readable.
pub const SECRETS: &str = "nomad-spec/secrets";
/// The job's Fabio routes clash with no other service's.
pub const ROUTES: &str = "nomad-spec/routes";
/// What Nomad would do with the job.
pub const PLAN: &str = "nomad-spec/plan";

/// How a named check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Everything checked is fine.
    Success,
    /// Something is wrong; annotations say what and where.
    Failure,
    /// Could not be run (service not configured or not reachable); the summary says why.
    Skipped,
}

/// One named check (`nomad-spec/secrets`, `nomad-spec/routes`, ...) with its findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `nomad-spec/<what>`.
    pub name: String,
    pub status: CheckStatus,
    /// One or two sentences a person reads first.
    pub summary: String,
    /// Findings with file, line and column in the job file.
    pub annotations: Vec<Diagnostic>,
}

impl CheckResult {
    /// A check that could not run, and why.
    pub fn skipped(name: impl Into<String>, why: impl Into<String>) -> Self {
        CheckResult {
            name: name.into(),
            status: CheckStatus::Skipped,
            summary: why.into(),
            annotations: Vec::new(),
        }
    }
}

/// What the checks of one job file found.
#[derive(Debug, Clone)]
pub struct FileChecks {
    /// validate, secrets, routes, plan, in that order.
    pub results: Vec<CheckResult>,
    /// The Nomad plan as Markdown, when one was made (the PR bot shows it).
    pub plan: Option<String>,
}
