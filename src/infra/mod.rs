//! Cluster context: Vault secrets, Consul conventions and services, Fabio routes, the
//! cluster's Nomad version.
//!
//! Every service here is optional (DESIGN.md decision 4): when it is not configured or not
//! reachable, its check says so and is skipped, and the run goes on. The `nomad-spec/secrets`
//! and `nomad-spec/routes` checks answer in the checks' vocabulary (`crate::checks`), which
//! the `check` command prints and the PR bot posts.

pub mod consul;
pub mod fabio;
pub mod nomad_version;
pub mod vault;
