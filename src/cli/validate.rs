//! `nomad-spec validate`: syntax and Nomad's semantic rules for job files, as text for people
//! or JSON for machines.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use crate::jobspec::features::NomadFeatures;
use crate::jobspec::parse::source_text;
use crate::jobspec::validate::{is_valid, validate_source, validate_source_for};
use crate::jobspec::{Diagnostic, Severity};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `file:line:column: severity: message` lines and a summary line.
    Text,
    /// One JSON object (see below).
    Json,
}

/// Arguments of `nomad-spec validate`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Variables take their defaults; a variable without a default makes the values that use it \
unknown, and unknown values are not checked (a warning says so).

JSON output: {\"files\": [{\"file\": \"job.nomad.hcl\", \"valid\": false, \"diagnostics\": \
[{\"file\": ..., \"line\": 12, \"column\": 7, \"severity\": \"error\", \"message\": ...}]}], \
\"errors\": 1, \"warnings\": 0}. Line and column are 1-based; 0 means the whole file.

Exit codes: 0 every file is valid (warnings allowed); 1 a file is invalid; 2 usage error or \
unreadable file.")]
pub struct Args {
    /// Job files to check (`-` reads stdin).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also report features the files use that this Nomad version lacks (`1.6`, `1.9.3`).
    #[arg(long, value_name = "X.Y")]
    pub nomad_version: Option<String>,
}

/// One file's result in the JSON output.
#[derive(Debug, Serialize)]
struct FileReport {
    file: String,
    valid: bool,
    diagnostics: Vec<Diagnostic>,
}

/// The JSON output.
#[derive(Debug, Serialize)]
struct Report {
    files: Vec<FileReport>,
    errors: usize,
    warnings: usize,
}

/// Runs `nomad-spec validate`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let features = match args.nomad_version.as_deref().map(NomadFeatures::parse) {
        Some(Err(err)) => {
            eprintln!("error: --nomad-version: {err}");
            return Ok(ExitCode::from(crate::cli::EXIT_USAGE));
        }
        Some(Ok(features)) => Some(features),
        None => None,
    };
    let mut reports = Vec::with_capacity(args.files.len());
    let mut unreadable = false;
    for path in &args.files {
        let file = path.display().to_string();
        let diagnostics = match super::parse::read_input(&file) {
            Ok(bytes) => match source_text(&bytes, &file) {
                Ok(source) => match &features {
                    Some(features) => validate_source_for(source, &file, features),
                    None => validate_source(source, &file),
                },
                Err(diagnostic) => vec![diagnostic],
            },
            Err(err) => {
                eprintln!("error: {err}");
                unreadable = true;
                continue;
            }
        };
        reports.push(FileReport { valid: is_valid(&diagnostics), file, diagnostics });
    }
    let count = |severity| {
        reports.iter().flat_map(|r| &r.diagnostics).filter(|d| d.severity == severity).count()
    };
    let report = Report {
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        files: reports,
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => {
            for diagnostic in report.files.iter().flat_map(|r| &r.diagnostics) {
                println!("{diagnostic}");
            }
            let invalid = report.files.iter().filter(|r| !r.valid).count();
            println!(
                "{} checked: {} valid, {invalid} invalid ({} {}, {} {})",
                plural(report.files.len(), "file"),
                report.files.len() - invalid,
                report.errors,
                if report.errors == 1 { "error" } else { "errors" },
                report.warnings,
                if report.warnings == 1 { "warning" } else { "warnings" },
            );
        }
    }
    let code = if unreadable {
        crate::cli::EXIT_USAGE
    } else if report.files.iter().all(|r| r.valid) {
        0
    } else {
        1
    };
    Ok(ExitCode::from(code))
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
