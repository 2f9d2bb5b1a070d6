//! Memory in a pull-request run: the store on the repository's memory ref
//! (`memory::store::git_ref`), opened when the run starts and pushed when it ends, or Qdrant
//! when `QDRANT_URL` is set (shared by every repository that uses the server), and what
//! the run teaches it: the answers people gave (preferences), each deploy's failures with the
//! fix that followed and how it ended (episodes), a job that became healthy (a good job).
//!
//! The same functions as the command line's: answers memory gives go through
//! `generation::Prepared::with_memory`, a remembered fix through `nomad::deploy`'s, episodes
//! through `memory::store::record`. Memory that is off (`NOMAD_SPEC_MEMORY=off`) is `None`;
//! memory that cannot be read or pushed is one note (in the log and on the status comment) and
//! the run goes on without it.
//!
//! A run pushes only what it learned: a run that deployed nothing and took no new answer (a
//! command with nothing to do, a refused commenter, a replay) pushes no commit, and a fork's
//! run, whose token may not push, only reads. A failure whose fix went to a pull request of
//! its own is not deployed in this run, so its episode is dropped rather than kept with an
//! outcome nobody saw.

use std::sync::Arc;

use serde_json::Value;

use super::Runner;
use crate::analyze::Analysis;
use crate::git::{GitRemote, Identity};
use crate::jobspec::answers::Answers;
use crate::memory::store::record::{groups_of, learn_answers, learn_from_deploy, Run};
use crate::memory::store::{git_ref, today, Opened};
use crate::memory::{learn, Context, Memory};
use crate::nomad::deploy::DeployReport;
use crate::nomad::fix::Fix;
use crate::settings::Settings;

/// The memory of one pull-request run.
pub struct PrMemory {
    opened: Opened,
    run: Run,
    /// A failed attempt whose fix is being tried: its episode is kept once the next attempt
    /// says how the fix ended.
    pending: Option<DeployReport>,
    /// What the person should know about memory itself (it could not be read), for the status
    /// comment.
    note: Option<String>,
    /// Whether this run may push (not a fork's).
    writes: bool,
}

/// Opens the memory ref of `remote` for change request `number` of `full_name`; `None` when
/// memory is off. What went wrong reading it is logged, never an error. `writes` is false for
/// a run that must never push (a fork's).
pub async fn open(
    settings: &Settings,
    remote: &GitRemote,
    identity: &Identity,
    (full_name, number): (&str, u64),
    writes: bool,
    runner: &Runner,
) -> Option<PrMemory> {
    let memory_settings = match settings.memory() {
        Ok(Some(memory_settings)) => memory_settings,
        Ok(None) => return None,
        Err(err) => {
            runner.log(&format!("note: memory is not used: {err}"));
            return None;
        }
    };
    let opened = match &memory_settings.qdrant {
        // Nothing to fetch: the run asks the server what it needs ([`PrMemory::recalled`]).
        Some(qdrant) => Opened::qdrant(&memory_settings, qdrant),
        None => {
            let (remote, identity) = (remote.clone(), identity.clone());
            let fetch = move || git_ref::open(&memory_settings, &remote, &identity);
            match tokio::task::spawn_blocking(fetch).await {
                Ok(opened) => opened,
                Err(err) => {
                    runner.log(&format!("note: memory is not used: reading it stopped ({err})"));
                    return None;
                }
            }
        }
    };
    let note = opened.note.clone();
    if let Some(note) = &note {
        runner.log(&format!("note: {note}"));
    }
    let run = Run {
        context: Context {
            repository: full_name.to_string(),
            cluster: opened.cluster.clone(),
            date: today(),
        },
        run: format!("{full_name}#{number}"),
        stacks: Default::default(),
    };
    Some(PrMemory { opened, run, pending: None, note, writes })
}

impl PrMemory {
    /// What memory answers for the build of `analysis`: every preference, and what failures
    /// taught its stacks (`memory::learn::answer_recalls`), from the ref's memory or asked of
    /// Qdrant. A store that could not answer is a note (in the log, and on the status comment
    /// when it is the run's first about memory) and an empty answer.
    pub async fn recalled(&mut self, analysis: &Analysis, runner: &Runner) -> Arc<Memory> {
        let (recalled, note) = self.opened.recall(&learn::answer_recalls(analysis)).await;
        if let Some(note) = note {
            runner.log(&format!("note: {note}"));
            self.note.get_or_insert(note);
        }
        Arc::new(recalled)
    }

    /// The memory as the deploy loop asks it (what the ref held and this run learned).
    pub fn recaller(&self) -> Arc<dyn crate::memory::recall::Recaller> {
        Arc::new(self.opened.clone())
    }

    /// The cluster entries are filed under.
    pub fn cluster(&self) -> &str {
        &self.opened.cluster
    }

    /// The stack of each of `job`'s groups, as `analysis` knows them.
    pub fn stacks_of(
        analysis: &Analysis,
        job: &Value,
    ) -> std::collections::BTreeMap<String, String> {
        Run::stacks_of(analysis, &groups_of(job))
    }

    /// Keeps what one deploy attempt of `job` taught: with `fix` (proposed for its failure and
    /// about to be tried) the episode waits for the next attempt's verdict; otherwise the
    /// attempts so far become episodes (and a healthy job a good job). Notes in the log.
    pub async fn record(
        &mut self,
        report: &DeployReport,
        job: &Value,
        fix: Option<&Fix>,
        analysis: &Analysis,
        runner: &Runner,
    ) {
        let mut attempts = match self.pending.take() {
            Some(mut earlier) => {
                earlier.attempts.extend(report.attempts.iter().cloned());
                DeployReport { attempts: earlier.attempts, ..report.clone() }
            }
            None => report.clone(),
        };
        if let Some(fix) = fix {
            if let Some(last) = attempts.attempts.last_mut() {
                last.fix = Some(fix.clone());
            }
            self.pending = Some(attempts);
            return;
        }
        self.run.stacks = Self::stacks_of(analysis, job);
        let embedder = self.opened.embedder.clone();
        let notes =
            learn_from_deploy(&mut self.opened.memory, &attempts, job, &self.run, &embedder).await;
        for note in notes {
            runner.log(&format!("note: {note}"));
        }
        attempts.attempts.clear();
    }

    /// Keeps the answers people gave in this run (`None` when it took no new answer) and
    /// pushes the memory to its ref (merged with any run that pushed meanwhile); a run that
    /// learned nothing pushes nothing. Returns the one note about memory for the status
    /// comment: it could not be read, or not be pushed.
    pub async fn finish(
        mut self,
        answers: Option<&Answers>,
        analysis: &Analysis,
        runner: &Runner,
    ) -> Option<String> {
        if let Some(dropped) = self.pending.take() {
            let failures = dropped.attempts.len();
            runner.log(&format!(
                "memory: {failures} failed attempt(s) of job {} not remembered: its fix was not \
                 deployed in this run (it went to a pull request, or the loop stopped)",
                dropped.job
            ));
        }
        if let Some(answers) = answers {
            learn_answers(&mut self.opened.memory, answers, analysis, &self.run);
        }
        if !self.writes {
            return self.note;
        }
        let saved = self.opened.save().await;
        if let Some(note) = &saved {
            runner.log(&format!("note: {note}"));
        }
        self.note.or(saved)
    }
}
