//! `nomad-spec deploy`: placeholder until its issue lands.

use std::process::ExitCode;

/// Arguments of `nomad-spec deploy`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `nomad-spec deploy`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`nomad-spec deploy` is not available in this build yet")
}
