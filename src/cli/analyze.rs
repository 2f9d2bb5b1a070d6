//! `nomad-spec analyze`: read a repository (a folder or a git URL) and print what it runs.
//!
//! Exit codes: 0 the analysis ran (whatever it found, with notes for what it could not
//! read); 2 usage error, unreadable path or failed clone.

use std::path::{Path, PathBuf};
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

/// The repository a `--path` names (`analyze`, `generate`): a local folder, or a clone of a
/// git URL in a temporary folder that is removed when this is dropped.
pub struct PathRepository {
    root: PathBuf,
    /// The repository's name as the URL gives it (`…/shop.git` → `shop`); `None` for a folder.
    cloned_from: Option<String>,
    /// The clone's folder, kept for as long as the files are read.
    clone: Option<tempfile::TempDir>,
}

impl PathRepository {
    /// Opens `path`: clones it first when it is a git URL, then checks that the folder can be
    /// read.
    pub fn open(path: &str) -> anyhow::Result<PathRepository> {
        let local = PathBuf::from(path);
        // A local folder wins over the `.git` suffix rule only when it is a plain folder (a
        // bare repository is cloned so that its files are read from a checkout).
        let plain_folder = local.is_dir() && !local.join("HEAD").exists();
        let clone = crate::git::is_git_url(path) && !plain_folder;
        let checkout = if clone { Some(crate::git::clone_to_temp(path)?) } else { None };
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
        let cloned_from = checkout
            .as_ref()
            .map(|_| crate::git::repository_name(crate::git::NameSource::CloneUrl(path)));
        Ok(PathRepository { root, cloned_from, clone: checkout })
    }

    /// The folder to read (the clone's, for a URL).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the files are a temporary clone, gone when the command ends.
    pub fn is_clone(&self) -> bool {
        self.clone.is_some()
    }

    /// How the analysis names the repository: a clone's temporary folder name means nothing,
    /// the URL names it.
    pub fn options(&self) -> Options {
        Options { root_name: self.cloned_from.clone(), ..Options::default() }
    }

    /// The repository's name when a URL gives it.
    pub fn name_from_url(&self) -> Option<&str> {
        self.cloned_from.as_deref()
    }
}

/// Runs `nomad-spec analyze`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let repository = PathRepository::open(&args.path)?;
    let analysis = analyze::analyze(repository.root(), &repository.options());
    let output = match args.format {
        Format::Json => serde_json::to_string_pretty(&analysis)? + "\n",
        Format::Text => report::text(&analysis),
    };
    print!("{output}");
    Ok(ExitCode::SUCCESS)
}
