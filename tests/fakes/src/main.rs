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
use fakes::llm::{FakeLlm, Reply, Rule, Script};
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
    /// Serve a fake OpenAI-compatible LLM that answers every request with one JSON reply.
    Llm {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8000")]
        listen: String,
        /// File holding the JSON object every chat completion answers with.
        #[arg(long)]
        reply: PathBuf,
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
        Fake::Llm { listen, reply } => {
            let text = std::fs::read_to_string(&reply)
                .with_context(|| format!("cannot read {}", reply.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", reply.display()))?;
            let script = Script::new(vec![Rule::any(Reply::Json(value))]);
            let llm = FakeLlm::start_on(&listen, script)?;
            let mut stdout = std::io::stdout();
            let _ = writeln!(stdout, "fake LLM listening on {}", llm.url());
            let _ = writeln!(stdout, "export NOMAD_SPEC_LLM_BASE_URL={}", llm.url());
            let _ = stdout.flush();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot build a runtime to wait for Ctrl-C")?;
            runtime.block_on(tokio::signal::ctrl_c()).context("cannot wait for Ctrl-C")?;
            drop(llm);
            Ok(())
        }
    }
}
