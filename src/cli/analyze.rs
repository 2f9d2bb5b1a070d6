//! `nomad-spec analyze`: placeholder until its issue lands.

use std::process::ExitCode;

/// Arguments of `nomad-spec analyze`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `nomad-spec analyze`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`nomad-spec analyze` is not available in this build yet")
}
