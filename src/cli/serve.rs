//! `nomad-spec serve`: the bot as a webhook server for many repositories (a GitHub App, a
//! GitLab group webhook). This file owns the command's arguments and exit codes; the server is
//! `crate::serve`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use crate::settings::Settings;

/// Arguments of `nomad-spec serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Routes: POST /webhooks/github, POST /webhooks/gitlab, GET /healthz, GET /readyz, GET /metrics.

GitHub (served when NOMAD_SPEC_GITHUB_WEBHOOK_SECRET is set):
    as an App   NOMAD_SPEC_GITHUB_APP_ID and NOMAD_SPEC_GITHUB_APP_PRIVATE_KEY_FILE (or
                NOMAD_SPEC_GITHUB_APP_PRIVATE_KEY, the PEM itself)
    as a user   GITHUB_TOKEN and NOMAD_SPEC_BOT_LOGIN
    GITHUB_API_URL, GITHUB_SERVER_URL for GitHub Enterprise Server
GitLab (served when NOMAD_SPEC_GITLAB_WEBHOOK_TOKEN is set): NOMAD_SPEC_GITLAB_URL and
    NOMAD_SPEC_GITLAB_TOKEN (a group access token)
With NOMAD_ADDR set the work queue and its locks live in Nomad Variables
(nomad-spec/serve/...), so several replicas share the work; without it the queue is the
process's own. Every setting of `nomad-spec ci` applies to the runs.

Exit codes:
    0  stopped by SIGTERM or Ctrl-C after finishing the runs in progress
    1  the server could not start or stopped on an error
    2  usage error")]
pub struct Args {
    /// The address to listen on (port 0: one the system picks, printed on stdout).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Change requests worked on at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
    /// The oldest event (in seconds) a GitHub delivery may describe; older is stale.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub max_age: u64,
    /// How often (in milliseconds) the shared queue is looked at for work another replica
    /// left behind.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub poll_ms: u64,
    /// The TTL (in seconds, 10 to 86400) of the locks in Nomad Variables.
    #[arg(long, value_name = "SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(10..=86400))]
    pub lock_ttl: u64,
    /// How often (in milliseconds) a held lock is renewed; at most a third of the TTL.
    #[arg(long, value_name = "MS")]
    pub lock_renew_ms: Option<u64>,
}

/// Runs `nomad-spec serve`.
pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let lock_ttl = Duration::from_secs(args.lock_ttl);
    let lock_renew = match args.lock_renew_ms {
        Some(ms) if ms == 0 || Duration::from_millis(ms) > lock_ttl / 3 => {
            eprintln!(
                "error: --lock-renew-ms {ms} must be above 0 and at most a third of --lock-ttl \
                 ({} ms)",
                (lock_ttl / 3).as_millis()
            );
            return Ok(ExitCode::from(super::EXIT_USAGE));
        }
        Some(ms) => Duration::from_millis(ms),
        None => lock_ttl / 3,
    };
    let options = crate::serve::Options {
        listen: args.listen,
        workers: usize::from(args.workers),
        max_age: Duration::from_secs(args.max_age),
        poll: Duration::from_millis(args.poll_ms.max(10)),
        lock_ttl,
        lock_renew,
    };
    if let Err(err) = settings.serve() {
        eprintln!("error: {err}");
        return Ok(ExitCode::from(super::EXIT_USAGE));
    }
    match super::runtime()?.block_on(crate::serve::serve(settings.clone(), options)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            eprintln!("error: {err:#}");
            Ok(ExitCode::from(1))
        }
    }
}
