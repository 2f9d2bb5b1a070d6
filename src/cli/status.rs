//! `nomad-spec status`: placeholder until its issue lands.

use std::process::ExitCode;

/// Arguments of `nomad-spec status`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `nomad-spec status`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`nomad-spec status` is not available in this build yet")
}
