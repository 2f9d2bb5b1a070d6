//! `nomad-spec fmt`: placeholder until its issue lands.

use std::process::ExitCode;

/// Arguments of `nomad-spec fmt`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `nomad-spec fmt`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`nomad-spec fmt` is not available in this build yet")
}
