//! Where memory is kept and how text becomes vectors: the I/O side of `memory`.
//!
//! The stores are one closed enum, [`Store`]: a file of the embedded store (one JSON file,
//! searched exactly; the command line's, under the user's data folder), or that file kept on a
//! git ref of the repository itself ([`git_ref`]: in CI every run is a fresh container, so the
//! bot fetches the ref at start and pushes it at the end with compare-and-swap, merging a race
//! instead of losing it). Saving never overwrites blindly: what is stored now is read again
//! and merged with what this run learned ([`Memory::merge`]). With `QDRANT_URL` set, memory
//! lives in Qdrant instead ([`qdrant`]), shared by every repository that uses the server.
//!
//! A run asks every store the same questions ([`Opened::recall`] with a [`Recall`]): the
//! embedded store answers from the memory it loaded, Qdrant on the server with the filter in
//! the query; either way the run then decides with the same pure code (`memory::learn`).
//!
//! Memory never fails a run: a store that cannot be read or written is a note saying so, and
//! the run goes on without it ([`Opened::note`]); a store that cannot be read is then never
//! written either, so a person's file that nomad-spec cannot read is left as it is.
//!
//! Vectors come from an [`Embedder`]: the local embedding by default, or an OpenAI-compatible
//! `/v1/embeddings` endpoint when a model is configured. Turning a deploy into episodes (with
//! the same redaction as LLM requests) is [`record`]'s.

pub mod git_ref;
pub mod qdrant;
pub mod record;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::Deserialize;

use super::embedding::{self, Vector};
use super::recall::{Answer, Recall, Recaller};
use super::{Memory, FORMAT};
use crate::settings::{EmbeddingSettings, MemorySettings, QdrantSettings, Settings};

/// The largest store file read (about 100,000 entries with 256-dimension vectors).
const MAX_FILE_BYTES: u64 = 1 << 30;

/// Where a memory is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// One JSON file on this machine.
    File(PathBuf),
    /// That file on a git ref of the repository (the bot's in CI).
    GitRef(git_ref::OnRef),
    /// A Qdrant server.
    Qdrant(qdrant::QdrantStore),
}

/// A memory opened for a run, with where it goes back and what the person should know.
#[derive(Debug, Clone)]
pub struct Opened {
    /// What is remembered (empty when nothing could be read); with Qdrant, only what this
    /// run learned, the rest staying on the server until recalled.
    pub memory: Memory,
    /// Where it goes back; `None` when it must not be written (it could not be read).
    pub store: Option<Store>,
    /// The cluster entries are filed under.
    pub cluster: String,
    /// What happened, for the person: a store that could not be read, a skipped save.
    pub note: Option<String>,
    /// What makes the vectors of new entries.
    pub embedder: Embedder,
}

impl Opened {
    /// Opens the embedded store that `settings` name (`Ok(None)` when memory is off); a store
    /// that cannot be read is an empty memory with a note, never an error.
    pub fn from_settings(settings: &Settings) -> Option<Opened> {
        let memory_settings = match settings.memory() {
            Ok(Some(memory_settings)) => memory_settings,
            Ok(None) => return None,
            Err(err) => {
                return Some(Opened {
                    memory: Memory::new(),
                    store: None,
                    cluster: String::new(),
                    note: Some(format!("memory is not used: {err}")),
                    embedder: Embedder::Local,
                })
            }
        };
        if let Some(qdrant) = &memory_settings.qdrant {
            return Some(Opened::qdrant(&memory_settings, qdrant));
        }
        Some(Opened::file(&memory_settings))
    }

    /// Opens memory on the Qdrant server `qdrant` names (nothing is sent yet).
    pub fn qdrant(settings: &MemorySettings, qdrant: &QdrantSettings) -> Opened {
        let (embedder, embedder_note) = match Embedder::from_settings(settings.embeddings.as_ref())
        {
            Ok(embedder) => (embedder, None),
            Err(err) => (Embedder::Local, Some(format!("{err:#}; the local embedding is used"))),
        };
        let (store, note) = match qdrant::QdrantStore::new(qdrant) {
            Ok(store) => (Some(Store::Qdrant(store)), embedder_note),
            Err(err) => (None, Some(format!("memory is not used in this run: {err:#}"))),
        };
        Opened { memory: Memory::new(), store, cluster: settings.cluster.clone(), note, embedder }
    }

    /// The entries that answer `recalls`, in one memory (each recall's best or newest first);
    /// with a note when the store could not answer (the run goes on with what this run
    /// learned).
    pub async fn recall(&self, recalls: &[Recall]) -> (Memory, Option<String>) {
        let mut found = Memory::new();
        let mut notes = Vec::new();
        for recall in recalls {
            let answer = match &self.store {
                Some(Store::Qdrant(server)) => {
                    let mut answer = server.recall(recall).await.unwrap_or_else(|err| {
                        notes.push(format!("memory was not consulted: {err:#}"));
                        Memory::new()
                    });
                    // What this run learned and has not saved yet counts too, ranked with
                    // the server's answer the same way.
                    answer.merge(self.memory.recall(recall));
                    answer.recall(recall)
                }
                Some(Store::File(_) | Store::GitRef(_)) | None => self.memory.recall(recall),
            };
            found.merge(answer);
        }
        notes.dedup();
        (found, (!notes.is_empty()).then(|| notes.join("; ")))
    }

    /// Opens the file `settings` name.
    pub fn file(settings: &MemorySettings) -> Opened {
        let path = settings.path.clone();
        let read = read_file(&path).map(|memory| (memory, Store::File(path)));
        Opened::from_read(settings, read, "; fix or remove the file")
    }

    /// A memory opened from what reading its store gave: the store it goes back to, or an
    /// empty memory with a note (ended by `advice`) that is never written.
    pub(crate) fn from_read(
        settings: &MemorySettings,
        read: anyhow::Result<(Memory, Store)>,
        advice: &str,
    ) -> Opened {
        let (embedder, embedder_note) = match Embedder::from_settings(settings.embeddings.as_ref())
        {
            Ok(embedder) => (embedder, None),
            Err(err) => (Embedder::Local, Some(format!("{err:#}; the local embedding is used"))),
        };
        match read {
            Ok((memory, store)) => Opened {
                memory,
                store: Some(store),
                cluster: settings.cluster.clone(),
                note: embedder_note,
                embedder,
            },
            Err(err) => Opened {
                memory: Memory::new(),
                store: None,
                cluster: settings.cluster.clone(),
                note: Some(format!(
                    "memory is not used and not written in this run: {err:#}{advice}"
                )),
                embedder,
            },
        }
    }

    /// Writes the memory back, merged with what the store holds now; a note when it could not
    /// be.
    pub async fn save(&self) -> Option<String> {
        match &self.store {
            None => None,
            Some(Store::File(path)) => save_file(path, &self.memory)
                .err()
                .map(|err| format!("memory was not saved: {err:#}")),
            // git2 blocks: the push runs off the runtime's threads.
            Some(Store::GitRef(on_ref)) => {
                let (on_ref, memory) = (on_ref.clone(), self.memory.clone());
                match tokio::task::spawn_blocking(move || git_ref::save(&on_ref, &memory)).await {
                    Ok(saved) => saved.err().map(|err| format!("memory was not saved: {err:#}")),
                    Err(err) => Some(format!("memory was not saved: {err}")),
                }
            }
            Some(Store::Qdrant(_)) if self.memory.is_empty() => None,
            Some(Store::Qdrant(server)) => server
                .save(&self.memory)
                .await
                .err()
                .map(|err| format!("memory was not saved: {err:#}")),
        }
    }
}

impl Recaller for Opened {
    fn embed<'a>(&'a self, text: &'a str) -> Answer<'a, Result<Vector, String>> {
        Box::pin(async move { self.embedder.embed(text).await.map_err(|err| format!("{err:#}")) })
    }

    fn recall<'a>(&'a self, recalls: &'a [Recall]) -> Answer<'a, (Memory, Option<String>)> {
        Box::pin(Opened::recall(self, recalls))
    }
}

/// The memory in the file at `path`: empty when there is no file; an error naming the file
/// when it cannot be read or is not a memory of this format.
pub fn read_file(path: &Path) -> anyhow::Result<Memory> {
    if !path.exists() {
        return Ok(Memory::new());
    }
    let text = crate::file::read_text(path, MAX_FILE_BYTES)?;
    parse(&text).with_context(|| format!("{} is not nomad-spec's memory", path.display()))
}

/// A memory from its JSON, of this [`FORMAT`] only.
pub fn parse(text: &str) -> anyhow::Result<Memory> {
    #[derive(Deserialize)]
    struct Header {
        format: u32,
    }
    let header: Header = serde_json::from_str(text).context("no `format` number")?;
    if header.format != FORMAT {
        bail!("format {} (this nomad-spec reads format {FORMAT})", header.format);
    }
    let deserializer = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer)
        .map_err(|err| anyhow::anyhow!("at `{}`: {}", err.path(), err.inner()))
}

/// The memory as the file holds it.
pub fn to_json(memory: &Memory) -> anyhow::Result<String> {
    let mut text = serde_json::to_string(memory).context("cannot write the memory as JSON")?;
    text.push('\n');
    Ok(text)
}

/// Writes `memory` to `path`, merged with what the file holds now (another run may have
/// written it since this one read it), through a temporary file renamed over it, so that a
/// crash never leaves half a file.
pub fn save_file(path: &Path, memory: &Memory) -> anyhow::Result<()> {
    let mut merged = read_file(path)?;
    merged.merge(memory.clone());
    write_file(path, &merged)
}

/// Writes `memory` to `path` as it is (forget and import use this: a merge would bring a
/// forgotten entry back).
pub fn write_file(path: &Path, memory: &Memory) -> anyhow::Result<()> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(folder)
        .with_context(|| format!("cannot write in {}", folder.display()))?;
    std::io::Write::write_all(&mut file, to_json(memory)?.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path)
        .map_err(|err| anyhow::anyhow!("cannot write {}: {}", path.display(), err))?;
    Ok(())
}

/// Today, `YYYY-MM-DD` (UTC), as entries are dated.
pub fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// What turns text into vectors.
#[derive(Debug, Clone)]
pub enum Embedder {
    /// The deterministic local embedding (`memory::embedding::local`).
    Local,
    /// An OpenAI-compatible `/v1/embeddings` endpoint.
    Endpoint { settings: EmbeddingSettings, client: reqwest::Client },
}

impl Embedder {
    /// The embedder memory's settings configure.
    pub fn from_settings(settings: Option<&EmbeddingSettings>) -> anyhow::Result<Embedder> {
        let Some(settings) = settings else { return Ok(Embedder::Local) };
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(concat!("nomad-spec/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("cannot build the embeddings client")?;
        Ok(Embedder::Endpoint { settings: settings.clone(), client })
    }

    /// The vector of `text`; the local embedding's never fails, an endpoint's may (said in
    /// the error, and the caller goes on without memory for that entry).
    pub async fn embed(&self, text: &str) -> anyhow::Result<Vector> {
        let (settings, client) = match self {
            Embedder::Local => return Ok(embedding::local(text)),
            Embedder::Endpoint { settings, client } => (settings, client),
        };
        #[derive(Deserialize)]
        struct Answer {
            data: Vec<Item>,
        }
        #[derive(Deserialize)]
        struct Item {
            embedding: Vec<f32>,
        }
        let url = format!("{}/embeddings", settings.base_url);
        let mut request =
            client.post(&url).json(&serde_json::json!({"model": settings.model, "input": text}));
        if let Some(key) = &settings.api_key {
            request = request.bearer_auth(key.as_str());
        }
        let response = request.send().await.with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        if !status.is_success() {
            bail!("{url} answered {status}");
        }
        let answer: Answer =
            response.json().await.with_context(|| format!("{url} did not answer embeddings"))?;
        let values = answer.data.into_iter().next().map(|item| item.embedding).unwrap_or_default();
        Vector::normalized(&format!("openai:{}", settings.model), values)
            .with_context(|| format!("{url} answered an empty or invalid embedding"))
    }
}
