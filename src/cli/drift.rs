//! `nomad-spec drift`: the repository's job files and the cluster, compared.
//!
//! This file owns the command's arguments, which files it reads and its exit codes; the
//! comparison and its renderings are `nomad::drift`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::jobspec::parse::ParseOptions;
use crate::nomad::drift::{render_markdown, render_text, survey};
use crate::nomad::job_file::{find_job_files, JobFile};
use crate::nomad::NomadClient;
use crate::settings::Settings;

use super::plan::PlanFormat;
use super::{runtime, EXIT_USAGE};

/// `drift`'s exit code on error (Nomad unreachable, a file that does not parse, ...).
pub const EXIT_ERROR: u8 = 255;

/// Arguments of `nomad-spec drift`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Every job file (*.nomad.hcl, *.nomad, *.nomad.json) under the paths is planned against the
cluster. Jobs on the cluster whose meta nomad_spec_repository names a repository the files
name (or one given with --repository) but that no file describes are reported too.

Nomad is configured as for the nomad command (NOMAD_ADDR, NOMAD_TOKEN, NOMAD_NAMESPACE, ...).

Exit codes:
    0  in sync (or no job files)
    1  drift: a job differs, is missing on the cluster, or has no file any more
    2  usage: bad arguments, a path that does not exist
  255  error (Nomad unreachable, permission denied, a job file that does not parse, ...)")]
pub struct Args {
    /// Job files or folders to search for them (default: the current folder).
    pub paths: Vec<PathBuf>,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Also look on the cluster for jobs whose meta names this repository; repeatable.
    #[arg(long = "repository", value_name = "NAME")]
    pub repositories: Vec<String>,
}

/// Runs `nomad-spec drift`.
pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let files = match job_files(&args.paths) {
        Ok(files) => files,
        Err(err) => {
            eprintln!("error: {err:#}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    if files.is_empty() {
        eprintln!("no job files found: nothing to compare");
        return Ok(ExitCode::SUCCESS);
    }
    match drift(&args, settings, &files) {
        Ok(code) => Ok(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            Ok(ExitCode::from(EXIT_ERROR))
        }
    }
}

fn drift(
    args: &Args,
    settings: &Settings,
    files: &[(String, JobFile)],
) -> anyhow::Result<ExitCode> {
    let client = NomadClient::from_settings(settings)?;
    let options = ParseOptions::default();
    let report = runtime()?.block_on(survey(&client, files, &options, &args.repositories))?;
    match args.format {
        PlanFormat::Text => print!("{}", render_text(&report)),
        PlanFormat::Markdown => print!("{}", render_markdown(&report)),
        PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(ExitCode::from(report.exit_code()))
}

/// Whether a file name is a Nomad job file's.
fn is_job_file(name: &str) -> bool {
    name.ends_with(".nomad.hcl") || name.ends_with(".nomad") || name.ends_with(".nomad.json")
}

/// The job files the paths name, read, each with the name the report shows; a path that does
/// not exist or a folder that cannot be listed is a usage error. A file found in a folder that
/// is another of Nomad's specifications (a volume, an ACL policy ...) is skipped with a note.
fn job_files(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, JobFile)>> {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() { &default[..] } else { paths };
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", path.display()))?;
        if meta.is_dir() {
            let (found, unreadable) = find_job_files(path, is_job_file);
            if let Some(problem) = unreadable.first() {
                anyhow::bail!("{problem}");
            }
            for found in found {
                let file = JobFile::read(&found)?;
                let name = shown_name(path, &found);
                match file.not_a_job() {
                    Some(kind) => eprintln!("note: {name} skipped: it is {kind}, not a job file"),
                    None => files.push((name, file)),
                }
            }
        } else {
            files.push((path.display().to_string(), JobFile::read(path)?));
        }
    }
    Ok(files)
}

/// A found file's name as the report shows it: relative to the folder searched, unless the
/// folder was named explicitly (then with it).
fn shown_name(dir: &Path, found: &Path) -> String {
    if dir == Path::new(".") {
        found.strip_prefix(dir).unwrap_or(found).display().to_string()
    } else {
        found.display().to_string()
    }
}
