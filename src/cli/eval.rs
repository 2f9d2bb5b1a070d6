//! `nomad-spec eval`: placeholder until its issue lands.

use std::process::ExitCode;

/// Arguments of `nomad-spec eval`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `nomad-spec eval`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`nomad-spec eval` is not available in this build yet")
}
