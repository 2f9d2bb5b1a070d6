//! `nomad-spec validate`: placeholder until its issue lands.

use std::process::ExitCode;

/// Arguments of `nomad-spec validate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `nomad-spec validate`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`nomad-spec validate` is not available in this build yet")
}
