//! `fakes`: start one of the fakes by hand.
//!
//! `fakes nomad --listen 127.0.0.1:4646 --scenario scenarios/oom.toml` serves a fake Nomad
//! until Ctrl-C; it prints the URL to put in `NOMAD_ADDR`. Exit codes: 0 after Ctrl-C, 1 when
//! the scenario cannot be read or the address cannot be bound.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fakes::nomad::{FakeNomad, Scenario};

/// Stateful fakes of the services nomad-spec talks to.
#[derive(Parser)]
#[command(name = "fakes", version)]
struct Cli {
    #[command(subcommand)]
    fake: Fake,
}

#[derive(Subcommand)]
enum Fake {
    /// Serve a fake Nomad HTTP API.
    Nomad {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4646")]
        listen: String,
        /// Scenario file (TOML); without it, a healthy cluster of three linux/amd64 nodes.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Serve a fake Vault HTTP API (metadata, listings, tokens; secret reads are recorded).
    Vault {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8200")]
        listen: String,
        /// State file (TOML, `fakes::vault::VaultState`); without it, an empty Vault.
        #[arg(long)]
        state: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fakes: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.fake {
        Fake::Nomad { listen, scenario } => {
            let scenario = match scenario {
                Some(path) => Scenario::from_file(&path)?,
                None => Scenario::default(),
            };
            let nomad = FakeNomad::start_on(&listen, scenario)?;
            // Whoever started us may stop reading stdout; that must not stop the server.
            let mut stdout = std::io::stdout();
            let _ = writeln!(stdout, "fake Nomad listening on {}", nomad.url());
            let _ = writeln!(stdout, "export NOMAD_ADDR={}", nomad.url());
            let _ = stdout.flush();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot build a runtime to wait for Ctrl-C")?;
            runtime.block_on(tokio::signal::ctrl_c()).context("cannot wait for Ctrl-C")?;
            drop(nomad);
            Ok(())
        }
        Fake::Vault { listen, state } => {
            let state = match state {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    toml::from_str(&text)
                        .with_context(|| format!("{} is not a Vault state", path.display()))?
                }
                None => fakes::vault::VaultState::default(),
            };
            let vault = fakes::vault::FakeVault::start_on(&listen, state)?;
            let mut stdout = std::io::stdout();
            let _ = writeln!(stdout, "fake Vault listening on {}", vault.url());
            let _ = writeln!(stdout, "export VAULT_ADDR={}", vault.url());
            let _ = stdout.flush();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot build a runtime to wait for Ctrl-C")?;
            runtime.block_on(tokio::signal::ctrl_c()).context("cannot wait for Ctrl-C")?;
            drop(vault);
            Ok(())
        }
    }
}
