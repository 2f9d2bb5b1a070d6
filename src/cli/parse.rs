//! `nomad-spec parse`: placeholder until its issue lands.

use std::process::ExitCode;

/// Arguments of `nomad-spec parse`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `nomad-spec parse`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`nomad-spec parse` is not available in this build yet")
}
