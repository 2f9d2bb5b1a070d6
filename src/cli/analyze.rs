//! `nomad-spec analyze`: read a repository (a folder or a git URL) and print what it runs.
//!
//! Exit codes: 0 the analysis ran (whatever it found, with notes for what it could not
//! read); 2 usage error, unreadable path or failed clone.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::analyze::{self, report, Options};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for a person.
    Text,
    /// The documented JSON contract (see the README).
    Json,
}

/// Arguments of `nomad-spec analyze`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to analyze, or a git URL (https://, git@, file://, or a path ending in .git)
    /// to clone into a temporary folder first.
    #[arg(long, default_value = ".")]
    pub path: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `nomad-spec analyze`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let local = PathBuf::from(&args.path);
    // A local folder wins over the `.git` suffix rule only when it is a plain folder (a
    // bare repository is cloned so that its files are read from a checkout).
    let plain_folder = local.is_dir() && !local.join("HEAD").exists();
    let clone = crate::git::is_git_url(&args.path) && !plain_folder;
    let checkout = if clone { Some(crate::git::clone_to_temp(&args.path)?) } else { None };
    let root = match &checkout {
        Some(dir) => dir.path().to_path_buf(),
        None => local,
    };
    let meta =
        std::fs::metadata(&root).with_context(|| format!("cannot read {}", root.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a folder", root.display());
    }
    std::fs::read_dir(&root).with_context(|| format!("cannot read {}", root.display()))?;
    let options = Options {
        // A clone's temporary folder name means nothing; the URL names the repository.
        root_name: clone
            .then(|| crate::git::repository_name(crate::git::NameSource::CloneUrl(&args.path))),
        ..Options::default()
    };
    let analysis = analyze::analyze(&root, &options);
    let output = match args.format {
        Format::Json => serde_json::to_string_pretty(&analysis)? + "\n",
        Format::Text => report::text(&analysis),
    };
    print!("{output}");
    drop(checkout);
    Ok(ExitCode::SUCCESS)
}
