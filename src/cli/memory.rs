//! `nomad-spec memory`: see and edit what memory holds (the embedded store the settings
//! name, or Qdrant when `QDRANT_URL` is set): list the entries, show one, forget one, export
//! the whole store and import one.
//!
//! This file owns the subcommands' arguments and output; the entries and their merging are
//! `memory`'s, the file and the server `memory::store`'s. Unlike a run, which goes on without a memory it
//! cannot read, these commands exist to look at the store, so a store that cannot be read is
//! their error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::memory::store::qdrant::QdrantStore;
use crate::memory::store::{parse, read_file, to_json, write_file};
use crate::memory::Memory;
use crate::settings::Settings;

use super::deploy::ReportFormat;

/// Arguments of `nomad-spec memory`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The store is the file NOMAD_SPEC_MEMORY_PATH names (default: \
$XDG_DATA_HOME/nomad-spec/memory.json, else ~/.local/share/nomad-spec/memory.json), or the \
Qdrant server QDRANT_URL names (with QDRANT_API_KEY) when it is set, as runs use it. \
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
        /// Replace this store with the file instead of merging (the file's entries are
        /// written first, then every other entry is deleted: a failed import loses nothing).
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
    let place = match &memory_settings.qdrant {
        Some(qdrant) => Place::Qdrant(Box::new(Server {
            store: QdrantStore::new(qdrant)?,
            runtime: super::runtime()?,
        })),
        None => Place::File(memory_settings.path),
    };
    let mut memory = place.read()?;
    match args.command {
        MemoryCommand::List { format } => match format {
            ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&memory.list())?),
            ReportFormat::Text if memory.is_empty() => {
                eprintln!("memory ({place}) is empty");
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
            let before = memory.clone();
            let forgotten = memory.forget(&id).map_err(anyhow::Error::msg)?;
            place.write(&memory, &before.without(&memory), None)?;
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
            // Replacing removes every entry held now (a preference's every time given too).
            let removed = if replace { memory.clone() } else { Memory::new() };
            if replace {
                memory = imported.clone();
            } else {
                memory.merge(imported.clone());
            }
            place.write(&memory, &removed, Some(&imported))?;
            println!(
                "imported {count} entries from {} into {place} ({} entries now)",
                file.display(),
                memory.list().len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the commands find memory.
enum Place {
    /// The embedded store's file.
    File(PathBuf),
    /// A Qdrant server, asked on the runtime.
    Qdrant(Box<Server>),
}

/// A Qdrant server and the runtime it is asked on.
struct Server {
    store: QdrantStore,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::File(path) => write!(f, "{}", path.display()),
            Place::Qdrant(qdrant) => write!(f, "Qdrant at {}", qdrant.store.url()),
        }
    }
}

impl Place {
    /// Everything it holds; an error when it cannot be read.
    fn read(&self) -> anyhow::Result<Memory> {
        match self {
            Place::File(path) => read_file(path),
            Place::Qdrant(qdrant) => qdrant.runtime.block_on(qdrant.store.read_all()),
        }
    }

    /// Makes it hold `after`, which is what it held with `removed` taken out and `added`
    /// put in: the file is written whole (a new file renamed over the old); on the server
    /// `added` is written first (an entry written again stays once) and only then is what
    /// `removed` holds beyond it deleted, so a write the server refuses half-way (vectors of
    /// another dimension, a server that goes away) leaves every entry it held.
    fn write(
        &self,
        after: &Memory,
        removed: &Memory,
        added: Option<&Memory>,
    ) -> anyhow::Result<()> {
        match self {
            Place::File(path) => write_file(path, after),
            Place::Qdrant(qdrant) => qdrant.runtime.block_on(async {
                let server = &qdrant.store;
                match added {
                    Some(added) => {
                        server.save(added).await?;
                        server.delete(&removed.without(added)).await
                    }
                    None => server.delete(removed).await,
                }
            }),
        }
    }
}
