//! Memory kept on a git ref of the repository itself (`refs/nomad-spec/memory`), for the bot in
//! CI, where every run is a fresh container and no file survives it.
//!
//! The ref points at a commit whose tree holds the store's file (`memory.json`, the embedded
//! store's format). A run fetches it at start (no ref: an empty memory) and pushes at the end
//! a commit whose parent is the version fetched, never forced: if another run pushed meanwhile
//! the push is refused (`git::FileOnRef`'s compare-and-swap), and this run fetches the newer
//! version, merges its own entries into it ([`Memory::merge`]) and tries again, a few times.
//! A race is merged, never lost. A ref that cannot be fetched or read is a note and an empty
//! memory that is never pushed, so a store nomad-spec cannot read is left as it is.

use std::sync::Arc;

use anyhow::{anyhow, Context as _};

use super::{parse, to_json, Opened, Store};
use crate::git::{FileOnRef, GitRemote, Identity, PushOutcome};
use crate::memory::{digest, Memory};
use crate::settings::MemorySettings;

/// The file's name in the ref's tree.
pub const FILE: &str = "memory.json";

/// How many times a save fetches, merges and pushes again after losing a race.
const ATTEMPTS: usize = 4;

/// The ref a memory goes back to, with the version it was read from.
#[derive(Clone)]
pub struct OnRef {
    file: Arc<FileOnRef>,
    /// The commit the memory was read from; `None` when the ref did not exist.
    fetched: Option<String>,
    /// The digest of the memory as read, so that a run that learned nothing pushes nothing.
    read: String,
    /// Who commits the new versions.
    identity: Identity,
    /// The ref and remote, for notes (`refs/nomad-spec/memory of https://…`).
    label: String,
}

impl std::fmt::Debug for OnRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnRef").field("ref", &self.label).field("fetched", &self.fetched).finish()
    }
}

impl PartialEq for OnRef {
    fn eq(&self, other: &OnRef) -> bool {
        self.label == other.label && self.fetched == other.fetched
    }
}

impl Eq for OnRef {}

/// The memory on `settings.git_ref` of `remote`, fetched now; a ref that cannot be fetched or
/// read is an empty memory with a note, never written. Blocks on the network.
pub fn open(settings: &MemorySettings, remote: &GitRemote, identity: &Identity) -> Opened {
    let label = format!("{} of {}", settings.git_ref, remote.url);
    let read = FileOnRef::new(remote, &settings.git_ref, FILE).and_then(|file| {
        let (memory, fetched) = fetch(&file, &label)?;
        let on_ref = OnRef {
            file: Arc::new(file),
            fetched,
            read: digest(&[&to_json(&memory)?]),
            identity: identity.clone(),
            label: label.clone(),
        };
        Ok((memory, Store::GitRef(on_ref)))
    });
    Opened::from_read(settings, read, "")
}

/// The memory the ref holds now and the commit it was read from (empty and `None` without the
/// ref).
fn fetch(file: &FileOnRef, label: &str) -> anyhow::Result<(Memory, Option<String>)> {
    let Some(version) = file.fetch()? else { return Ok((Memory::new(), None)) };
    let memory = match &version.content {
        None => Memory::new(),
        Some(bytes) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| anyhow!("{FILE} on {label} is not UTF-8 text"))?;
            parse(text).with_context(|| format!("{FILE} on {label} is not nomad-spec's memory"))?
        }
    };
    Ok((memory, Some(version.commit)))
}

/// Pushes `memory` to the ref as a commit on the version it was read from; when another run
/// pushed first, fetches its version, merges `memory` into it and tries again. Nothing is
/// pushed when the ref already holds everything `memory` does. Blocks on the network.
pub fn save(on_ref: &OnRef, memory: &Memory) -> anyhow::Result<()> {
    if digest(&[&to_json(memory)?]) == on_ref.read {
        return Ok(());
    }
    let mut parent = on_ref.fetched.clone();
    let mut merged = memory.clone();
    for _ in 0..ATTEMPTS {
        let text = to_json(&merged)?;
        let message = format!(
            "nomad-spec: memory, {} episode(s), {} preference(s), {} good job(s)",
            merged.episodes.len(),
            merged.preferences.len(),
            merged.good_jobs.len()
        );
        match on_ref.file.push(parent.as_deref(), text.as_bytes(), &message, &on_ref.identity)? {
            PushOutcome::Pushed { .. } => return Ok(()),
            PushOutcome::Rejected { message, .. } => {
                return Err(anyhow!("{} refused the push: {message}", on_ref.label))
            }
            PushOutcome::NonFastForward => {
                let (mut theirs, fetched) = fetch(&on_ref.file, &on_ref.label)?;
                let before = theirs.clone();
                theirs.merge(memory.clone());
                if theirs == before {
                    return Ok(());
                }
                merged = theirs;
                parent = fetched;
            }
        }
    }
    Err(anyhow!("{} kept moving: {ATTEMPTS} pushes lost the race to other runs", on_ref.label))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Given, Preference};

    fn settings(git_ref: &str) -> MemorySettings {
        MemorySettings {
            path: "unused.json".into(),
            git_ref: git_ref.to_string(),
            cluster: "prod".to_string(),
            embeddings: None,
            qdrant: None,
        }
    }

    fn remote(bare: &std::path::Path) -> GitRemote {
        GitRemote {
            url: format!("file://{}", bare.display()),
            username: "x-access-token".to_string(),
            token: "t0ken".into(),
            push_options: Vec::new(),
            ca_file: None,
        }
    }

    fn bot() -> Identity {
        Identity { name: "nomad-spec".to_string(), email: "bot@example.com".to_string() }
    }

    fn answer(value: &str, run: &str) -> Preference {
        let given = Given {
            date: "2026-12-01".to_string(),
            repository: "acme/shop".to_string(),
            run: run.to_string(),
        };
        Preference::new("image.*", value, "prod", given)
    }

    fn head_of(bare: &std::path::Path, git_ref: &str) -> git2::Oid {
        git2::Repository::open_bare(bare).unwrap().refname_to_id(git_ref).unwrap()
    }

    #[tokio::test]
    async fn memory_survives_between_runs_on_its_ref_and_a_race_is_merged() {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("shop.git");
        git2::Repository::init_bare(&bare).unwrap();
        let git_ref = "refs/nomad-spec/memory";

        // No ref yet: an empty memory, and a run that learned nothing pushes nothing.
        let first = open(&settings(git_ref), &remote(&bare), &bot());
        assert_eq!((first.memory.clone(), first.note.clone()), (Memory::new(), None));
        assert_eq!(first.save().await, None);
        assert!(git2::Repository::open_bare(&bare).unwrap().refname_to_id(git_ref).is_err());
        let mut first = first;
        first.memory.remember(answer("ghcr.io/acme", "acme/shop#1"));
        assert_eq!(first.save().await, None);
        let one = head_of(&bare, git_ref);

        // Two runs read that version; both push, the second after the first moved the ref.
        let mut a = open(&settings(git_ref), &remote(&bare), &bot());
        let mut b = open(&settings(git_ref), &remote(&bare), &bot());
        assert_eq!(a.memory.preferences.len(), 1);
        a.memory.remember(answer("ghcr.io/acme", "acme/shop#2"));
        b.memory.remember(answer("quay.io/acme", "acme/shop#3"));
        assert_eq!(b.save().await, None);
        let after_b = head_of(&bare, git_ref);
        assert_eq!(a.save().await, None);
        let after_a = head_of(&bare, git_ref);

        let repo = git2::Repository::open_bare(&bare).unwrap();
        let a_commit = repo.find_commit(after_a).unwrap();
        assert_eq!(a_commit.parent_ids().collect::<Vec<_>>(), vec![after_b], "merged on b's");
        assert_eq!(repo.find_commit(after_b).unwrap().parent_ids().collect::<Vec<_>>(), vec![one]);
        let last = open(&settings(git_ref), &remote(&bare), &bot());
        let mut kept: Vec<(String, usize)> =
            last.memory.preferences.iter().map(|p| (p.value.clone(), p.given.len())).collect();
        kept.sort();
        assert_eq!(kept, vec![("ghcr.io/acme".to_string(), 2), ("quay.io/acme".to_string(), 1)]);
    }

    #[tokio::test]
    async fn a_ref_that_is_no_memory_is_a_note_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("shop.git");
        git2::Repository::init_bare(&bare).unwrap();
        let git_ref = "refs/nomad-spec/memory";
        let file = FileOnRef::new(&remote(&bare), git_ref, FILE).unwrap();
        let pushed = file.push(None, b"{\"format\": 99}", "someone else's", &bot()).unwrap();
        let PushOutcome::Pushed { commit } = pushed else { panic!("{pushed:?}") };

        let mut opened = open(&settings(git_ref), &remote(&bare), &bot());
        let note = opened.note.clone().unwrap_or_default();
        assert!(note.contains("memory.json on refs/nomad-spec/memory of file://"), "{note}");
        assert!(note.contains("format 99"), "{note}");
        assert!(opened.memory.is_empty());
        opened.memory.remember(answer("ghcr.io/acme", "acme/shop#1"));
        assert_eq!(opened.save().await, None);
        assert_eq!(head_of(&bare, git_ref).to_string(), commit);

        let missing = remote(&dir.path().join("missing.git"));
        let down = open(&settings(git_ref), &missing, &bot());
        let note = down.note.unwrap_or_default();
        assert!(note.starts_with("memory is not used and not written in this run: "), "{note}");
        assert!(!note.contains("t0ken"), "{note}");
    }
}
