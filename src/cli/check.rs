//! `nomad-spec check`: placeholder until its issue lands.

use std::process::ExitCode;

/// Arguments of `nomad-spec check`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `nomad-spec check`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`nomad-spec check` is not available in this build yet")
}
