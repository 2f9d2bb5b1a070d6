//! `nomad-spec parse`: a job file → `{"Job": {...}}` on stdout, as `nomad job run -output`
//! prints it. Problems go to stderr as `file:line:column: error: message`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::file::FileError;
use crate::jobspec::parse::{parse_job, source_text, ParseOptions, MAX_SOURCE_BYTES};

/// Arguments of `nomad-spec parse`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Variables: `-var NAME=VALUE` and `-var-file FILE` work as in `nomad job run` when written \
after FILE; `--var` and `--var-file` work anywhere. Var files are HCL (`name = value`), or \
JSON when their name ends in .json. -var wins over var files, which win over defaults.

Exit codes: 0 parsed; 1 the job file is invalid; 2 usage error or unreadable file.")]
pub struct Args {
    /// Set a variable: NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from an HCL or JSON file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// The job file (`-` reads stdin), optionally followed by `-var NAME=VALUE` and
    /// `-var-file FILE`.
    #[arg(
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "FILE"
    )]
    pub file_and_vars: Vec<String>,
}

/// Runs `nomad-spec parse`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (file, options) = options(args)?;
    for var_file in &options.var_files {
        std::fs::metadata(var_file)
            .with_context(|| format!("cannot read the var file {}", var_file.display()))?;
    }
    let bytes = read_input(&file)?;
    let source = match source_text(&bytes, &file) {
        Ok(source) => source,
        Err(diagnostic) => {
            eprintln!("{diagnostic}");
            return Ok(ExitCode::from(1));
        }
    };
    match parse_job(source, &file, &options) {
        Ok(job) => {
            let envelope = serde_json::json!({ "Job": job });
            println!("{}", serde_json::to_string_pretty(&envelope)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                eprintln!("{diagnostic}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// The bytes of a job file, or of stdin for `-`: a regular file, at most
/// [`MAX_SOURCE_BYTES`].
pub(crate) fn read_input(file: &str) -> Result<Vec<u8>, FileError> {
    let limit = MAX_SOURCE_BYTES as u64;
    if file == "-" {
        return crate::file::read_stdin(limit);
    }
    crate::file::read(Path::new(file), limit)
}

/// Splits the positional words into the file and Nomad-style `-var`/`-var-file` options.
fn options(args: Args) -> anyhow::Result<(String, ParseOptions)> {
    let mut words = args.file_and_vars.into_iter();
    let Some(file) = words.next() else { bail!("give the job file to parse") };
    if file.starts_with('-') && file != "-" {
        bail!("unknown option {file:?}; write -var and -var-file after the job file, or use --var");
    }
    let mut vars = args.vars;
    let mut var_files = args.var_files;
    while let Some(word) = words.next() {
        let flag = word.trim_start_matches('-');
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) if name == "var-file" => (name, Some(value.to_owned())),
            Some(("var", value)) => ("var", Some(value.to_owned())),
            _ => (flag, None),
        };
        if !word.starts_with('-') || !matches!(name, "var" | "var-file") {
            bail!(
                "unexpected argument {word:?}; parse takes one FILE, then -var NAME=VALUE or \
                 -var-file FILE"
            );
        }
        let value = match inline {
            Some(value) => value,
            None => words.next().with_context(|| format!("{word} needs a value"))?,
        };
        if name == "var" {
            vars.push(value);
        } else {
            var_files.push(PathBuf::from(value));
        }
    }
    let mut pairs = Vec::with_capacity(vars.len());
    for var in vars {
        let Some((name, value)) = var.split_once('=') else {
            bail!("-var {var:?} is not NAME=VALUE");
        };
        pairs.push((name.trim().to_owned(), value.to_owned()));
    }
    Ok((file, ParseOptions { vars: pairs, var_files }))
}
