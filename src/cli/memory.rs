//! `nomad-spec memory`: see and edit what memory holds (the embedded store the settings
//! name): list the entries, show one, forget one, export the whole store and import one.
//!
//! This file owns the subcommands' arguments and output; the entries and their merging are
//! `memory`'s, the file `memory::store`'s. Unlike a run, which goes on without a memory it
//! cannot read, these commands exist to look at the store, so a store that cannot be read is
//! their error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::memory::store::{parse, read_file, to_json, write_file};
use crate::settings::Settings;

use super::deploy::ReportFormat;

/// Arguments of `nomad-spec memory`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The store is the file NOMAD_SPEC_MEMORY_PATH names (default: \
$XDG_DATA_HOME/nomad-spec/memory.json, else ~/.local/share/nomad-spec/memory.json). \
NOMAD_SPEC_MEMORY=off turns memory off for every command.")]
pub struct Args {
    #[command(subcommand)]
    pub command: MemoryCommand,
}

/// What to do with memory.
#[derive(Debug, clap::Subcommand)]
pub enum MemoryCommand {
    /// Every entry in a line: episodes, preferences, good jobs.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// One entry, whole, as JSON.
    Show {
        /// The entry's id, or the start of it.
        id: String,
    },
    /// Forget one entry.
    Forget {
        /// The entry's id, or the start of it.
        id: String,
    },
    /// Write the whole store as JSON (to stdout unless a file is given).
    Export {
        /// Where to write it.
        file: Option<PathBuf>,
    },
    /// Add a store exported elsewhere to this one (entries both hold stay once).
    Import {
        /// The exported store.
        file: PathBuf,
        /// Replace this store with the file instead of merging.
        #[arg(long)]
        replace: bool,
    },
}

/// Largest file `import` reads.
const MAX_IMPORT_BYTES: u64 = 1 << 30;

/// Runs `nomad-spec memory`.
pub fn run(args: Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let Some(memory_settings) = settings.memory()? else {
        anyhow::bail!("memory is turned off (NOMAD_SPEC_MEMORY); there is no store to look at");
    };
    if let Some(qdrant) = &memory_settings.qdrant {
        // Looking at the file while runs use Qdrant would show the wrong memory.
        anyhow::bail!(
            "memory lives in Qdrant at {} (QDRANT_URL); these commands read and edit the \
             embedded store only: unset QDRANT_URL to use them on the file",
            qdrant.url
        );
    }
    let path = memory_settings.path;
    let mut memory = read_file(&path)?;
    match args.command {
        MemoryCommand::List { format } => match format {
            ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&memory.list())?),
            ReportFormat::Text if memory.is_empty() => {
                eprintln!("memory ({}) is empty", path.display());
            }
            ReportFormat::Text => {
                for entry in memory.list() {
                    println!("{}  {:<10}  {}", entry.id, entry.kind, entry.summary);
                }
            }
        },
        MemoryCommand::Show { id } => {
            let entry = memory.show(&id).map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string_pretty(&entry)?);
        }
        MemoryCommand::Forget { id } => {
            let forgotten = memory.forget(&id).map_err(anyhow::Error::msg)?;
            write_file(&path, &memory)?;
            println!("forgot {} {}: {}", forgotten.kind, forgotten.id, forgotten.summary);
        }
        MemoryCommand::Export { file } => {
            let text = to_json(&memory)?;
            match file {
                None => print!("{text}"),
                Some(file) => std::fs::write(&file, text)
                    .with_context(|| format!("cannot write {}", file.display()))?,
            }
        }
        MemoryCommand::Import { file, replace } => {
            let text = crate::file::read_text(&file, MAX_IMPORT_BYTES)?;
            let imported = parse(&text)
                .with_context(|| format!("{} is not an exported memory", file.display()))?;
            let count = imported.list().len();
            if replace {
                memory = imported;
            } else {
                memory.merge(imported);
            }
            write_file(&path, &memory)?;
            println!(
                "imported {count} entries from {} into {} ({} entries now)",
                file.display(),
                path.display(),
                memory.list().len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
