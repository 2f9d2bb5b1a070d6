//! `nomad-spec generate`: placeholder until its issue lands.

use std::process::ExitCode;

/// Arguments of `nomad-spec generate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `nomad-spec generate`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`nomad-spec generate` is not available in this build yet")
}
