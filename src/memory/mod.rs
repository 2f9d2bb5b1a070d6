//! Memory: what earlier runs taught, so that every failure is fixed once and every answer asked
//! once (issue 14).
//!
//! Three kinds of entries: an [`Episode`] (a failure's redacted evidence, the fix applied and
//! how it ended), a [`Preference`] (an answer people gave, with how often and how recently),
//! and a [`GoodJob`] (a job that became healthy, with what its analysis said). [`Memory`] holds
//! them and merges two copies without losing either's entries, which is how a race between
//! two runs writing the same store ends. What the entries are used for is [`learn`]'s: a fix
//! that worked for similar evidence, the default of a question, the memory a stack needs.
//!
//! This module and its children are pure: values in, values out. Where memory is kept (one
//! file, a git ref, Qdrant), how an episode is read from a deploy, and how text is embedded by
//! a service are `memory::store`'s, the only I/O part. Nothing secret is kept: episodes hold
//! text already redacted by the recorder, answers to secrets (`secret.*`, a secret-looking
//! `env.*`) never become preferences, and [`learn`] never gives a secret a default.

pub mod embedding;
pub mod learn;
pub mod recall;
pub mod store;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use self::embedding::Vector;

/// The version of the memory's JSON; a file of another version is not read.
pub const FORMAT: u32 = 1;

/// Every entry kept, of every kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// [`FORMAT`].
    pub format: u32,
    /// Failures, their fixes and outcomes, oldest first.
    #[serde(default)]
    pub episodes: Vec<Episode>,
    /// Answers people gave, one entry per key, value and cluster.
    #[serde(default)]
    pub preferences: Vec<Preference>,
    /// Jobs that became healthy.
    #[serde(default)]
    pub good_jobs: Vec<GoodJob>,
}

/// A failure, the fix applied and how it ended, where it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Episode {
    /// A short digest of what it says; [`Memory::forget`] takes it (or a prefix).
    pub id: String,
    /// Where and when.
    pub context: Context,
    /// The failing service's stack (`java/spring-boot`, `postgres`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// The diagnosis category (`out-of-memory`).
    pub category: String,
    /// The diagnosis in words, redacted.
    pub explanation: String,
    /// The failing task's events, redacted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// The tail of the task's stderr, redacted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr: Vec<String>,
    /// The job's fields the failure concerns (`memory_mb` = `256`, `image`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub job: BTreeMap<String, String>,
    /// The fix applied after it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<Lesson>,
    /// How the run went on: the fix made it healthy, it failed again, or it was rolled back.
    pub outcome: Outcome,
    /// The embedding of [`Episode::text`].
    pub vector: Vector,
}

/// Where and when an entry was learned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// The repository (`acme/orders`, or a folder's name for the command line).
    pub repository: String,
    /// The cluster (the Nomad address, or the name memory's settings give it).
    pub cluster: String,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
}

/// A fix in terms that carry over to another job: what was set, not where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "set", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Lesson {
    /// The task's memory, in MB.
    Memory { memory_mb: i64 },
    /// The update's `healthy_deadline`, in seconds.
    HealthyDeadline { seconds: i64 },
    /// The HTTP check's path.
    CheckPath { path: String },
    /// A change that belongs to that job alone (a port, a constraint): kept for the record,
    /// never applied elsewhere.
    Other { summary: String },
}

impl fmt::Display for Lesson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lesson::Memory { memory_mb } => write!(f, "{memory_mb} MB"),
            Lesson::HealthyDeadline { seconds } => write!(f, "a healthy_deadline of {seconds} s"),
            Lesson::CheckPath { path } => write!(f, "the check path {path}"),
            Lesson::Other { summary } => f.write_str(summary),
        }
    }
}

/// How a run went on after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The fix made the job healthy.
    Healthy,
    /// The job failed again (after the fix, or with no fix).
    FailedAgain,
    /// The run gave up and the job was reverted or stopped.
    RolledBack,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Healthy => "healthy",
            Outcome::FailedAgain => "failed again",
            Outcome::RolledBack => "rolled back",
        })
    }
}

/// An answer people gave, with each time it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preference {
    /// A digest of key, value and cluster.
    pub id: String,
    /// What it answers, generalized: `image.*` (the registry), `hostname.*` (the domain),
    /// `datacenters`, `namespace`, `node_pool`, `memory@java/spring-boot`, `deploy@postgres`.
    pub key: String,
    /// The value, generalized the same way (`ghcr.io/acme` for `image.*`).
    pub value: String,
    /// The cluster it was given for.
    pub cluster: String,
    /// Each time it was given (repository and day), oldest first, the last
    /// [`Preference::KEPT`] of them.
    pub given: Vec<Given>,
}

/// One time a preference was given.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Given {
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// The repository.
    pub repository: String,
    /// The run it was given in (a pull request, a command), so that one answer read by two
    /// runs that race counts once.
    pub run: String,
}

impl Preference {
    /// How many times each preference remembers it was given, at most.
    pub const KEPT: usize = 50;

    /// A preference given once.
    pub fn new(key: &str, value: &str, cluster: &str, given: Given) -> Preference {
        Preference {
            id: digest(&[key, value, cluster]),
            key: key.to_string(),
            value: value.to_string(),
            cluster: cluster.to_string(),
            given: vec![given],
        }
    }

    /// The last time it was given.
    pub fn last(&self) -> Option<&Given> {
        self.given.last()
    }
}

/// A job that became healthy, with what its analysis said: a demo for a few-shot prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoodJob {
    /// A digest of the job and where it ran.
    pub id: String,
    /// Where and when.
    pub context: Context,
    /// The stacks of its services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stacks: Vec<String>,
    /// What the analysis found, in a few lines.
    pub analysis: String,
    /// The job as Nomad's API JSON, secrets redacted.
    pub job: serde_json::Value,
    /// The embedding of [`GoodJob::text`].
    pub vector: Vector,
}

impl Episode {
    /// The text an episode is embedded from and searched by: its category, stack and
    /// evidence.
    pub fn text(&self) -> String {
        episode_text(&self.category, self.stack.as_deref(), &self.explanation, &self.stderr)
    }

    /// The episode in one line, for `memory list` and decisions.
    pub fn summary(&self) -> String {
        let fix = match &self.fix {
            Some(lesson) => format!("fixed with {lesson}"),
            None => "no fix".to_string(),
        };
        format!(
            "{} on {} in {} ({}, {}): {fix}, {}",
            self.category,
            self.stack.as_deref().unwrap_or("a service"),
            self.context.repository,
            self.context.cluster,
            self.context.date,
            self.outcome
        )
    }
}

impl GoodJob {
    /// The text a good job is embedded from: its stacks and analysis.
    pub fn text(&self) -> String {
        format!("{} {}", self.stacks.join(" "), self.analysis)
    }
}

/// The text of a failure as episodes are embedded from it, for a failure being searched for
/// and an episode being kept alike.
pub fn episode_text(
    category: &str,
    stack: Option<&str>,
    explanation: &str,
    stderr: &[String],
) -> String {
    format!("{category} {} {explanation} {}", stack.unwrap_or_default(), stderr.join(" "))
}

/// The kinds of entries, as `memory list` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Episode,
    Preference,
    GoodJob,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Episode => "episode",
            Kind::Preference => "preference",
            Kind::GoodJob => "good-job",
        })
    }
}

/// One entry of any kind in a line: what `memory list` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub id: String,
    pub kind: Kind,
    pub summary: String,
}

impl Memory {
    /// An empty memory of the current format.
    pub fn new() -> Memory {
        Memory { format: FORMAT, ..Memory::default() }
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.episodes.is_empty() && self.preferences.is_empty() && self.good_jobs.is_empty()
    }

    /// Every entry in a line, episodes first.
    pub fn list(&self) -> Vec<Listed> {
        let episodes = self.episodes.iter().map(|e| Listed {
            id: e.id.clone(),
            kind: Kind::Episode,
            summary: e.summary(),
        });
        let preferences = self.preferences.iter().map(|p| {
            let last = p
                .last()
                .map(|g| format!(", last in {} on {}", g.repository, g.date))
                .unwrap_or_default();
            Listed {
                id: p.id.clone(),
                kind: Kind::Preference,
                summary: format!(
                    "{} = {} on {} (given {} time(s){last})",
                    p.key,
                    p.value,
                    p.cluster,
                    p.given.len()
                ),
            }
        });
        let good_jobs = self.good_jobs.iter().map(|g| Listed {
            id: g.id.clone(),
            kind: Kind::GoodJob,
            summary: format!(
                "healthy job of {} on {} ({}): {}",
                g.context.repository,
                g.context.cluster,
                g.context.date,
                if g.stacks.is_empty() {
                    "no known stack".to_string()
                } else {
                    g.stacks.join(", ")
                }
            ),
        });
        episodes.chain(preferences).chain(good_jobs).collect()
    }

    /// The entry whose id starts with `prefix`, as JSON; an error when none or several do.
    pub fn show(&self, prefix: &str) -> Result<serde_json::Value, String> {
        let id = self.only_id(prefix)?;
        let found = self
            .episodes
            .iter()
            .find(|e| e.id == id)
            .map(serde_json::to_value)
            .or_else(|| self.preferences.iter().find(|p| p.id == id).map(serde_json::to_value))
            .or_else(|| self.good_jobs.iter().find(|g| g.id == id).map(serde_json::to_value));
        match found {
            Some(Ok(value)) => Ok(value),
            Some(Err(err)) => Err(format!("entry {id} cannot be shown: {err}")),
            None => Err(format!("no entry {id}")),
        }
    }

    /// Forgets the entry whose id starts with `prefix`; says what it was, or why nothing was
    /// forgotten (no entry, or a prefix several entries share).
    pub fn forget(&mut self, prefix: &str) -> Result<Listed, String> {
        let id = self.only_id(prefix)?;
        let listed =
            self.list().into_iter().find(|l| l.id == id).ok_or_else(|| format!("no entry {id}"))?;
        self.episodes.retain(|e| e.id != id);
        self.preferences.retain(|p| p.id != id);
        self.good_jobs.retain(|g| g.id != id);
        Ok(listed)
    }

    /// The one full id starting with `prefix`.
    fn only_id(&self, prefix: &str) -> Result<String, String> {
        let prefix = prefix.trim();
        if prefix.is_empty() {
            return Err("an entry id (or the start of one) is needed".to_string());
        }
        let ids: Vec<String> =
            self.list().into_iter().map(|l| l.id).filter(|id| id.starts_with(prefix)).collect();
        match ids.as_slice() {
            [] => Err(format!("no entry's id starts with `{prefix}` (see `memory list`)")),
            [id] => Ok(id.clone()),
            _ => Err(format!(
                "{} entries' ids start with `{prefix}`: {}; give more of the id",
                ids.len(),
                ids.join(", ")
            )),
        }
    }

    /// The entries this memory holds that `other` does not (by id): what an edit of it
    /// removed, when `other` is the memory after the edit.
    pub fn without(&self, other: &Memory) -> Memory {
        let kept: std::collections::BTreeSet<String> =
            other.list().into_iter().map(|l| l.id).collect();
        Memory {
            format: self.format,
            episodes: self.episodes.iter().filter(|e| !kept.contains(&e.id)).cloned().collect(),
            preferences: self
                .preferences
                .iter()
                .filter(|p| !kept.contains(&p.id))
                .cloned()
                .collect(),
            good_jobs: self.good_jobs.iter().filter(|g| !kept.contains(&g.id)).cloned().collect(),
        }
    }

    /// Keeps an episode, once: the same episode recorded twice is one.
    pub fn add_episode(&mut self, episode: Episode) {
        if !self.episodes.iter().any(|e| e.id == episode.id) {
            self.episodes.push(episode);
        }
    }

    /// Keeps a good job, once.
    pub fn add_good_job(&mut self, job: GoodJob) {
        if !self.good_jobs.iter().any(|g| g.id == job.id) {
            self.good_jobs.push(job);
        }
    }

    /// Counts a preference given again, or keeps a new one.
    pub fn remember(&mut self, preference: Preference) {
        match self.preferences.iter_mut().find(|p| p.id == preference.id) {
            Some(kept) => {
                for given in preference.given {
                    if !kept.given.contains(&given) {
                        kept.given.push(given);
                    }
                }
                kept.given.sort();
                let extra = kept.given.len().saturating_sub(Preference::KEPT);
                kept.given.drain(..extra);
            }
            None => self.preferences.push(preference),
        }
    }

    /// Everything `other` holds added to this memory: what both hold stays once, and nothing
    /// either holds is lost. Two runs that wrote the same store at once end with this.
    pub fn merge(&mut self, other: Memory) {
        for episode in other.episodes {
            self.add_episode(episode);
        }
        for preference in other.preferences {
            self.remember(preference);
        }
        for job in other.good_jobs {
            self.add_good_job(job);
        }
    }

    /// The episodes most similar to `query`, best first, with their similarity (vectors of
    /// another embedding are skipped).
    pub fn similar_episodes(&self, query: &Vector, k: usize) -> Vec<(f32, &Episode)> {
        embedding::top_k(query, self.episodes.iter().map(|e| (&e.vector, e)), k)
    }

    /// The good jobs most similar to `query`, best first.
    pub fn similar_good_jobs(&self, query: &Vector, k: usize) -> Vec<(f32, &GoodJob)> {
        embedding::top_k(query, self.good_jobs.iter().map(|g| (&g.vector, g)), k)
    }

    /// The embeddings that made the vectors kept, each once: a store whose vectors came from
    /// another embedding than the one configured is searched by neither.
    pub fn embeddings(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .episodes
            .iter()
            .map(|e| e.vector.embedding.clone())
            .chain(self.good_jobs.iter().map(|g| g.vector.embedding.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// A short, stable digest of some parts: the id of an entry made of them.
pub fn digest(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
