//! Cluster context: Vault secrets, Consul conventions and services, Fabio routes.
//!
//! Every service here is optional (DESIGN.md decision 4): when it is not configured or not
//! reachable, its check says so and is skipped, and the run goes on. This module owns the
//! shared result shape, [`CheckResult`], that the `check` command prints and the PR bot posts
//! as the `nomad-spec/secrets` and `nomad-spec/routes` checks.

pub mod consul;
pub mod fabio;
pub mod nomad_version;
pub mod vault;

use serde::{Deserialize, Serialize};

use crate::jobspec::Diagnostic;

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
