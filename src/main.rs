//! The `nomad-spec` command: parse the command line, run, print the error chain, exit.
//!
//! Exit codes (CI reads them): 0 success; 1 the command's own "negative" result (invalid
//! file, changes in a plan, files to format); 2 usage error or unreadable input; other codes
//! are documented per command in `--help`.

use std::process::ExitCode;

use clap::Parser;
use nomad_spec::cli::Cli;

fn main() -> ExitCode {
    nomad_spec::tls::install_crypto_provider();
    let cli = Cli::parse_from(nomad_spec::cli::nomad_style_args(std::env::args_os()));
    // The one reading of the environment; every command gets its settings from here.
    let settings = nomad_spec::settings::Settings::read();
    let print_trace = cli.trace;
    let traces =
        nomad_spec::cli::init_logging(cli.verbose, nomad_spec::cli::traced(&cli, &settings));
    if let (Some(traces), nomad_spec::cli::Command::Serve(_)) = (&traces, &cli.command) {
        nomad_spec::cli::flush_traces_periodically(traces.clone(), settings.clone());
    }
    let result = nomad_spec::cli::run(cli, &settings);
    if let Some(traces) = &traces {
        nomad_spec::cli::finish_traces(traces, print_trace, &settings);
    }
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(nomad_spec::cli::EXIT_USAGE)
        }
    }
}
