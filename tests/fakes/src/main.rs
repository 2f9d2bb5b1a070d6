//! `fakes`: start one of the fakes by hand.
//!
//! `fakes nomad --listen 127.0.0.1:4646 --scenario scenarios/oom.toml` serves a fake Nomad
//! until Ctrl-C; it prints the URL to put in `NOMAD_ADDR`. Exit codes: 0 after Ctrl-C, 1 when
//! the scenario cannot be read or the address cannot be bound. `--fault KIND...` (any fake,
//! repeatable) plays a fault of `fakes::faults` on it: `--fault 'status:500@POST /v1/jobs*1'`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fakes::faults::{Fault, FaultSwitch};
use fakes::llm::{FakeLlm, Reply, Rule, Script};
use fakes::nomad::{FakeNomad, Scenario};

/// Stateful fakes of the services nomad-spec talks to.
#[derive(Parser)]
#[command(name = "fakes", version)]
struct Cli {
    /// A fault to play: `status:CODE`, `rate-limited:SECONDS`, `silent`, `slow:MS`,
    /// `malformed-json`, `broken` or `echo-headers:CODE`, optionally `@[METHOD ]PATH` and
    /// `*TIMES`; repeatable.
    #[arg(long = "fault", global = true, value_name = "FAULT", value_parser = Fault::parse)]
    faults: Vec<Fault>,
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
    /// Serve a fake Consul (KV, catalog services, health).
    Consul {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8500")]
        listen: String,
        /// KV entry KEY=FILE (the file's bytes are the value); repeatable.
        #[arg(long = "kv", value_name = "KEY=FILE")]
        kv: Vec<String>,
        /// Service instance NAME:PORT[:STATUS] (status passing, warning or critical); repeatable.
        #[arg(long = "service", value_name = "NAME:PORT[:STATUS]")]
        services: Vec<String>,
        /// Require this ACL token.
        #[arg(long)]
        token: Option<String>,
    },
    /// Serve a fake Fabio admin API (`/api/routes`).
    Fabio {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9998")]
        listen: String,
        /// Route SERVICE=SRC (`shop=shop.example.com/`); repeatable.
        #[arg(long = "route", value_name = "SERVICE=SRC")]
        routes: Vec<String>,
        /// Answer with the text table instead of JSON.
        #[arg(long)]
        text_table: bool,
    },
    /// Serve a fake GitLab (REST API v4 and git over HTTP) with one project.
    Gitlab(fakes::gitlab::ServeArgs),
    /// Serve a fake GitHub (REST API and git over HTTP) for one repository.
    Github {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
        /// The repository, `owner/name`.
        #[arg(long, default_value = "acme/shop")]
        repository: String,
        /// Folder whose files become the first commit of the default branch.
        #[arg(long)]
        seed: Option<PathBuf>,
        /// The token the fake accepts (`GITHUB_TOKEN`).
        #[arg(long, default_value = fakes::github::DEFAULT_TOKEN)]
        token: String,
        /// The default branch.
        #[arg(long, default_value = "main")]
        default_branch: String,
        /// Folder whose files are committed to a `feature` branch and opened as pull request
        /// #1 by `octocat` (needs `--seed`).
        #[arg(long, requires = "seed")]
        pull: Option<PathBuf>,
    },
    /// Serve a fake Qdrant gRPC API (collections and points), empty.
    Qdrant {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:6334")]
        listen: String,
        /// Require this API key (`QDRANT_API_KEY`).
        #[arg(long)]
        api_key: Option<String>,
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
    let faults = cli.faults;
    let play = |switch: &FaultSwitch| faults.iter().for_each(|fault| switch.play(fault.clone()));
    match cli.fake {
        Fake::Nomad { listen, scenario } => {
            let scenario = match scenario {
                Some(path) => Scenario::from_file(&path)?,
                None => Scenario::default(),
            };
            let nomad = FakeNomad::start_on(&listen, scenario)?;
            play(nomad.faults());
            announce(&format!(
                "fake Nomad listening on {}\nexport NOMAD_ADDR={}",
                nomad.url(),
                nomad.url()
            ));
            wait_for_ctrl_c()?;
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
            play(llm.faults());
            announce(&format!(
                "fake LLM listening on {}\nexport NOMAD_SPEC_LLM_BASE_URL={}",
                llm.url(),
                llm.url()
            ));
            wait_for_ctrl_c()?;
            drop(llm);
            Ok(())
        }
        Fake::Consul { listen, kv, services, token } => {
            let mut state = fakes::consul::ConsulState { token, ..Default::default() };
            for entry in &kv {
                let (key, file) = entry
                    .split_once('=')
                    .with_context(|| format!("--kv {entry:?} is not KEY=FILE"))?;
                let value = std::fs::read(file).with_context(|| format!("cannot read {file}"))?;
                state = state.put(key, &value);
            }
            for service in &services {
                let mut parts = service.split(':');
                let (Some(name), Some(port)) = (parts.next(), parts.next()) else {
                    anyhow::bail!("--service {service:?} is not NAME:PORT[:STATUS]");
                };
                let port: u16 =
                    port.parse().with_context(|| format!("--service {service:?}: bad port"))?;
                state = state.service(name, port, parts.next().unwrap_or("passing"));
            }
            let consul = fakes::consul::FakeConsul::start_on(&listen, state)?;
            play(consul.faults());
            announce(&format!(
                "fake Consul listening on {}\nexport CONSUL_HTTP_ADDR={}",
                consul.url(),
                consul.http_addr()
            ));
            wait_for_ctrl_c()?;
            drop(consul);
            Ok(())
        }
        Fake::Fabio { listen, routes, text_table } => {
            let mut state = fakes::fabio::FabioState { text_table, ..Default::default() };
            for route in &routes {
                let (service, src) = route
                    .split_once('=')
                    .with_context(|| format!("--route {route:?} is not SERVICE=SRC"))?;
                state = state.route(service, src);
            }
            let fabio = fakes::fabio::FakeFabio::start_on(&listen, state)?;
            play(fabio.faults());
            announce(&format!(
                "fake Fabio listening on {}\nexport FABIO_ADMIN_ADDR={}",
                fabio.url(),
                fabio.url()
            ));
            wait_for_ctrl_c()?;
            drop(fabio);
            Ok(())
        }
        Fake::Qdrant { listen, api_key } => {
            if !faults.is_empty() {
                anyhow::bail!("the fake Qdrant speaks gRPC: it plays no --fault");
            }
            let state = fakes::qdrant::QdrantState { api_key, ..Default::default() };
            let qdrant = fakes::qdrant::FakeQdrant::start_on(&listen, state)?;
            announce(&format!(
                "fake Qdrant (gRPC) listening on {}\nexport QDRANT_URL={}",
                qdrant.url(),
                qdrant.url()
            ));
            wait_for_ctrl_c()?;
            drop(qdrant);
            Ok(())
        }
        Fake::Gitlab(args) => {
            let (gitlab, text) = args.start()?;
            play(gitlab.faults());
            announce(&text);
            wait_for_ctrl_c()?;
            drop(gitlab);
            Ok(())
        }
        Fake::Github { listen, repository, seed, token, default_branch, pull } => {
            let settings =
                fakes::github::Settings { repository, token, default_branch, ..Default::default() };
            let github = fakes::github::FakeGitHub::start_on(&listen, settings)?;
            play(github.faults());
            if let Some(seed) = seed {
                let branch = github.default_branch();
                github.commit_tree(&branch, &seed, "Initial commit", "octocat")?;
            }
            let mut text = format!("fake GitHub listening on {}", github.url());
            if let Some(pull) = pull {
                github.commit_tree("feature", &pull, "Add the feature", "octocat")?;
                let number = github.open_pull_request("feature", "Add the feature", "octocat")?;
                text.push_str(&format!("\npull request #{number} from `feature`"));
            }
            let vars = github.vars();
            for (name, value) in &vars {
                text.push_str(&format!("\nexport {name}={value}"));
            }
            announce(&text);
            wait_for_ctrl_c()?;
            drop(github);
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
            play(vault.faults());
            announce(&format!(
                "fake Vault listening on {}\nexport VAULT_ADDR={}",
                vault.url(),
                vault.url()
            ));
            wait_for_ctrl_c()?;
            drop(vault);
            Ok(())
        }
    }
}

/// Prints where a fake listens; a closed stdout must not stop the server.
fn announce(text: &str) {
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

fn wait_for_ctrl_c() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot build a runtime to wait for Ctrl-C")?;
    runtime.block_on(tokio::signal::ctrl_c()).context("cannot wait for Ctrl-C")
}
