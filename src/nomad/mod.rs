//! The Nomad engine: HTTP API client, plan, deploy, watch, diagnose, fix and roll back.
//!
//! `client` talks to Nomad (`api` holds the response types); `plan` shows what Nomad would
//! do; `watch` follows a registered job to a verdict; `diagnose` and `fix` are pure; `deploy`
//! wires them into the bounded loop; `job_file` reads job files and writes fixes back;
//! `drift` compares a repository's job files with the cluster and `adopt` writes the cluster's
//! version of a drifted job back into its file.

pub mod adopt;
pub mod api;
pub mod client;
pub mod deploy;
pub mod diagnose;
pub mod drift;
pub mod fix;
pub mod job_file;
pub mod plan;
pub mod status;
pub mod watch;

pub use client::{
    Blocking, Indexed, LogStream, NomadClient, NomadConfig, NomadError, VariableLock,
};
