//! `nomad-spec plan`: placeholder until its issue lands.

use std::process::ExitCode;

/// Arguments of `nomad-spec plan`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `nomad-spec plan`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`nomad-spec plan` is not available in this build yet")
}
