//! What a run asks memory, in one shape every store answers: a [`Recall`] names a kind of
//! entry, a [`Filter`] on its fields (cluster, repository, stack, category, ...), and either a
//! vector to rank by similarity or, without one, newest first; with a limit.
//!
//! The embedded store answers it here, in process, over the whole [`Memory`] it loaded
//! ([`Memory::recall`]); Qdrant answers the same question on the server, the filter sent with
//! the query (`memory::store::qdrant`). What a run does with the answer (`memory::learn`) is
//! the same whichever store gave it. The filter's grammar is Qdrant's (must, should,
//! must_not; a keyword matching any of some values, or no value at all), so that it maps one
//! to one. Pure: no I/O.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::embedding::{self, Vector};
use super::{Episode, GoodJob, Kind, Lesson, Memory, Preference, FORMAT};

/// A field entries are filtered on; each is a keyword (a text compared whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// The cluster it was learned on.
    Cluster,
    /// The repository (for a preference: each repository it was given in).
    Repository,
    /// The stack (`java/spring-boot`; a good job has one per service).
    Stack,
    /// An episode's diagnosis category (`out-of-memory`).
    Category,
    /// An episode's outcome (`healthy`, `failed-again`, `rolled-back`).
    Outcome,
    /// What an episode's fix set (`memory`, `healthy-deadline`, `check-path`, `other`).
    Lesson,
    /// A preference's key (`image.*`).
    Key,
    /// The embedding that made the entry's vector.
    Embedding,
}

impl Field {
    /// Every field, as Qdrant's payload indexes are made for them.
    pub const ALL: [Field; 8] = [
        Field::Cluster,
        Field::Repository,
        Field::Stack,
        Field::Category,
        Field::Outcome,
        Field::Lesson,
        Field::Key,
        Field::Embedding,
    ];

    /// Its name in a stored payload.
    pub fn name(self) -> &'static str {
        match self {
            Field::Cluster => "cluster",
            Field::Repository => "repository",
            Field::Stack => "stack",
            Field::Category => "category",
            Field::Outcome => "outcome",
            Field::Lesson => "lesson",
            Field::Key => "key",
            Field::Embedding => "embedding",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One condition on an entry's field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The field has one of these values (any of an entry's values, for a field it has
    /// several of).
    Is(Field, Vec<String>),
    /// The entry has no value for the field (an episode of an unknown stack).
    Unknown(Field),
}

impl Condition {
    /// The field equals `value`.
    pub fn is(field: Field, value: impl Into<String>) -> Condition {
        Condition::Is(field, vec![value.into()])
    }

    fn holds(&self, values: &[String]) -> bool {
        match self {
            Condition::Is(_, wanted) => values.iter().any(|v| wanted.contains(v)),
            Condition::Unknown(_) => values.is_empty(),
        }
    }

    fn field(&self) -> Field {
        match self {
            Condition::Is(field, _) | Condition::Unknown(field) => *field,
        }
    }
}

/// Which entries qualify: every `must` holds, at least one `should` holds (when there are
/// any), and no `must_not` holds. The empty filter lets everything through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub must: Vec<Condition>,
    pub should: Vec<Condition>,
    pub must_not: Vec<Condition>,
}

impl Filter {
    /// Whether an entry with these field values qualifies.
    pub fn admits(&self, entry: &dyn Fields) -> bool {
        let holds = |c: &Condition| c.holds(&entry.values(c.field()));
        self.must.iter().all(holds)
            && (self.should.is_empty() || self.should.iter().any(holds))
            && !self.must_not.iter().any(holds)
    }
}

/// A question to memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Recall {
    /// The kind of entries wanted.
    pub kind: Kind,
    /// Which entries qualify.
    pub filter: Filter,
    /// Rank by similarity to this vector (entries of another embedding never qualify);
    /// `None`: newest first.
    pub near: Option<Vector>,
    /// At most this many entries.
    pub limit: usize,
}

/// A future a [`Recaller`] answers with.
pub type Answer<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A store as a run asks it (`memory::store::Opened` is the one): the fix loop, on a lower floor
/// than the stores, holds one of these and asks whichever store it is the same way.
pub trait Recaller: fmt::Debug + Send + Sync {
    /// The vector of `text` as the store's embedding makes it, or why not.
    fn embed<'a>(&'a self, text: &'a str) -> Answer<'a, Result<Vector, String>>;
    /// The entries that answer `recalls`, in one memory, with a note when the store could not
    /// answer.
    fn recall<'a>(&'a self, recalls: &'a [Recall]) -> Answer<'a, (Memory, Option<String>)>;
}

/// The values an entry has for each field, as a filter sees them (and as Qdrant's payload
/// holds them).
pub trait Fields {
    /// The entry's values for `field` (none, one, or several).
    fn values(&self, field: Field) -> Vec<String>;
    /// The day it was learned (last given, for a preference), `YYYY-MM-DD`.
    fn date(&self) -> &str;
}

impl Fields for Episode {
    fn values(&self, field: Field) -> Vec<String> {
        let value = match field {
            Field::Cluster => Some(self.context.cluster.clone()),
            Field::Repository => Some(self.context.repository.clone()),
            Field::Stack => self.stack.clone(),
            Field::Category => Some(self.category.clone()),
            Field::Outcome => Some(outcome_name(self.outcome).to_string()),
            Field::Lesson => self.fix.as_ref().map(|l| lesson_name(l).to_string()),
            Field::Key => None,
            Field::Embedding => Some(self.vector.embedding.clone()),
        };
        value.into_iter().collect()
    }

    fn date(&self) -> &str {
        &self.context.date
    }
}

impl Fields for GoodJob {
    fn values(&self, field: Field) -> Vec<String> {
        match field {
            Field::Cluster => vec![self.context.cluster.clone()],
            Field::Repository => vec![self.context.repository.clone()],
            Field::Stack => self.stacks.clone(),
            Field::Embedding => vec![self.vector.embedding.clone()],
            Field::Category | Field::Outcome | Field::Lesson | Field::Key => Vec::new(),
        }
    }

    fn date(&self) -> &str {
        &self.context.date
    }
}

impl Fields for Preference {
    fn values(&self, field: Field) -> Vec<String> {
        match field {
            Field::Cluster => vec![self.cluster.clone()],
            Field::Repository => {
                let mut repositories: Vec<String> =
                    self.given.iter().map(|g| g.repository.clone()).collect();
                repositories.sort();
                repositories.dedup();
                repositories
            }
            Field::Key => vec![self.key.clone()],
            Field::Stack | Field::Category | Field::Outcome | Field::Lesson | Field::Embedding => {
                Vec::new()
            }
        }
    }

    fn date(&self) -> &str {
        self.last().map_or("", |g| g.date.as_str())
    }
}

/// An outcome as its payload keyword (its serialized name).
pub fn outcome_name(outcome: super::Outcome) -> &'static str {
    match outcome {
        super::Outcome::Healthy => "healthy",
        super::Outcome::FailedAgain => "failed-again",
        super::Outcome::RolledBack => "rolled-back",
    }
}

/// What a lesson sets, as its payload keyword (its serialized tag).
pub fn lesson_name(lesson: &Lesson) -> &'static str {
    match lesson {
        Lesson::Memory { .. } => "memory",
        Lesson::HealthyDeadline { .. } => "healthy-deadline",
        Lesson::CheckPath { .. } => "check-path",
        Lesson::Other { .. } => "other",
    }
}

impl Memory {
    /// The entries of this memory that answer `recall`, as a memory of their own (best or
    /// newest first): what the embedded store answers, and what any store's answer is ranked
    /// by at the end.
    pub fn recall(&self, recall: &Recall) -> Memory {
        let mut found = Memory { format: FORMAT, ..Memory::default() };
        match recall.kind {
            Kind::Episode => found.episodes = pick(&self.episodes, recall, |e| &e.vector),
            Kind::GoodJob => found.good_jobs = pick(&self.good_jobs, recall, |g| &g.vector),
            Kind::Preference => {
                // Preferences are matched by key, never by similarity.
                let mut preferences: Vec<&Preference> =
                    self.preferences.iter().filter(|p| recall.filter.admits(*p)).collect();
                newest_first(&mut preferences);
                found.preferences = preferences.into_iter().take(recall.limit).cloned().collect();
            }
        }
        found
    }
}

/// The entries `recall` admits: the `limit` most similar to its vector (exact search, vectors
/// of another embedding skipped), or the `limit` newest.
fn pick<T: Fields + Clone>(entries: &[T], recall: &Recall, vector: fn(&T) -> &Vector) -> Vec<T> {
    let admitted = entries.iter().filter(|e| recall.filter.admits(*e));
    match &recall.near {
        Some(near) => embedding::top_k(near, admitted.map(|e| (vector(e), e)), recall.limit)
            .into_iter()
            .map(|(_, e)| e.clone())
            .collect(),
        None => {
            let mut admitted: Vec<&T> = admitted.collect();
            newest_first(&mut admitted);
            admitted.into_iter().take(recall.limit).cloned().collect()
        }
    }
}

/// Newest first; the same day keeps the entries' order.
fn newest_first<T: Fields>(entries: &mut [&T]) {
    entries.sort_by(|a, b| b.date().cmp(a.date()));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::memory::embedding::local;
    use crate::memory::{Context, Given, Outcome};

    fn episode(id: &str, stack: Option<&str>, category: &str, date: &str) -> Episode {
        let text = format!("{category} {}", stack.unwrap_or_default());
        Episode {
            id: id.into(),
            context: Context {
                repository: format!("acme/{id}"),
                cluster: "prod".into(),
                date: date.into(),
            },
            stack: stack.map(Into::into),
            category: category.into(),
            explanation: String::new(),
            events: Vec::new(),
            stderr: Vec::new(),
            job: BTreeMap::new(),
            fix: Some(Lesson::Memory { memory_mb: 1024 }),
            outcome: Outcome::Healthy,
            vector: local(&text),
        }
    }

    fn memory() -> Memory {
        let mut memory = Memory::new();
        memory.add_episode(episode("a", Some("java/spring-boot"), "out-of-memory", "2026-11-01"));
        memory.add_episode(episode("b", Some("node/express"), "out-of-memory", "2026-11-03"));
        memory.add_episode(episode("c", None, "out-of-memory", "2026-11-02"));
        memory.add_episode(episode("d", Some("java/spring-boot"), "port-collision", "2026-11-04"));
        memory.remember(Preference::new(
            "image.*",
            "ghcr.io/acme",
            "prod",
            Given { date: "2026-11-05".into(), repository: "acme/a".into(), run: "1".into() },
        ));
        memory
    }

    fn ids(memory: &Memory) -> Vec<&str> {
        memory.episodes.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn a_filter_keeps_the_same_stack_or_an_unknown_one_and_must_not_excludes() {
        let recall = Recall {
            kind: Kind::Episode,
            filter: Filter {
                must: vec![Condition::is(Field::Category, "out-of-memory")],
                should: vec![
                    Condition::is(Field::Stack, "java/spring-boot"),
                    Condition::Unknown(Field::Stack),
                ],
                must_not: vec![Condition::is(Field::Repository, "acme/c")],
            },
            near: None,
            limit: 10,
        };
        assert_eq!(ids(&memory().recall(&recall)), vec!["a"]);
        let without_must_not =
            Recall { filter: Filter { must_not: vec![], ..recall.filter }, ..recall };
        // Newest first.
        assert_eq!(ids(&memory().recall(&without_must_not)), vec!["c", "a"]);
    }

    #[test]
    fn a_vector_ranks_by_similarity_and_the_limit_cuts() {
        let recall = Recall {
            kind: Kind::Episode,
            filter: Filter::default(),
            near: Some(local("out-of-memory node/express")),
            limit: 2,
        };
        let found = memory().recall(&recall);
        assert_eq!(ids(&found)[0], "b");
        assert_eq!(found.episodes.len(), 2);
        assert!(found.preferences.is_empty() && found.good_jobs.is_empty());
        let other = Recall {
            near: Vector::normalized("openai:m", local("out-of-memory").values),
            ..recall
        };
        assert!(memory().recall(&other).episodes.is_empty(), "another embedding never qualifies");
    }

    #[test]
    fn preferences_are_found_by_key_and_repository() {
        let recall = |filter| Recall { kind: Kind::Preference, filter, near: None, limit: 10 };
        let by_key =
            Filter { must: vec![Condition::is(Field::Key, "image.*")], ..Filter::default() };
        assert_eq!(memory().recall(&recall(by_key)).preferences.len(), 1);
        let other =
            Filter { must: vec![Condition::is(Field::Repository, "acme/z")], ..Filter::default() };
        assert!(memory().recall(&recall(other)).preferences.is_empty());
        assert!(memory().recall(&recall(Filter::default())).episodes.is_empty());
    }
}
