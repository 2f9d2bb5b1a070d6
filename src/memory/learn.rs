//! What memory gives a run, and why: a fix that worked for similar evidence
//! ([`remembered_fix`]), the defaults of questions people answered before and the memory a
//! stack was taught by its failures ([`remembered_answers`]), and the preferences a run's
//! answers become ([`preferences_from`]).
//!
//! Every value memory gives carries its reason in words (the episode or the answers it comes
//! from), so that a decision can say it. A secret's value is never remembered and never given
//! a default ([`is_secret_answer`]); the person always wins: memory only answers what nobody
//! answered. What an LLM prompt is shown of memory is chosen here too: the failures most
//! similar to the one it is asked about ([`similar_recall`]) and the healthy jobs of the same
//! stacks ([`example_recall`]). Pure: values in, values out.

use std::collections::BTreeSet;

use super::embedding::{self, Vector};
use super::recall::{self, Condition, Field, Filter, Recall};
use super::{episode_text, Episode, Given, Kind, Lesson, Memory, Outcome, Preference};
use crate::analyze::source::{holds_secret, looks_secret};
use crate::analyze::{self, Analysis, Source};
use crate::jobspec::answers::{Answers, Question, ServiceAnswers};

/// How similar a failure's evidence must be to an episode's, for an episode on an unknown or
/// another stack to be trusted (on the same stack, the category is enough).
pub const SIMILAR_ENOUGH: f32 = 0.5;

/// The stack of a service as memory files it: `language/framework` when the analysis knows
/// them (`java/spring-boot`), the image's name for a published image (`postgres`), the
/// language alone, or nothing.
pub fn stack_of(service: &analyze::Service) -> Option<String> {
    match (&service.language, &service.framework, &service.source) {
        (Some(language), Some(framework), _) => {
            Some(format!("{}/{}", language.as_str(), framework))
        }
        (_, _, Source::Image) => service.image.as_deref().map(image_name),
        (None, Some(framework), Source::Build) => Some(framework.clone()),
        (Some(language), None, _) => Some(language.as_str().to_string()),
        (None, None, Source::Build) => None,
    }
}

/// `postgres` for `docker.io/library/postgres:16@sha256:...`.
fn image_name(image: &str) -> String {
    let without = analyze::published::without_tag(image);
    without.rsplit('/').next().unwrap_or(without).to_string()
}

/// Whether an answer is to a secret: `secret.VAR` (a Vault path for a secret), or an
/// `env.SERVICE.VAR` whose name or value looks secret. Such an answer is never remembered and
/// never given a default by memory.
pub fn is_secret_answer(key: &str, value: &str) -> bool {
    if key.starts_with("secret.") {
        return true;
    }
    match key.strip_prefix("env.").and_then(|rest| rest.split_once('.')) {
        Some((_, var)) => looks_secret(var) || holds_secret(var, value),
        None => key.starts_with("env."),
    }
}

/// A failure memory is asked about.
#[derive(Debug, Clone, Copy)]
pub struct FailureQuery<'a> {
    /// Its diagnosis category.
    pub category: &'a str,
    /// The failing service's stack, when known.
    pub stack: Option<&'a str>,
    /// The diagnosis in words.
    pub explanation: &'a str,
    /// The tail of its stderr (redacted or not: it is only compared, never kept).
    pub stderr: &'a [String],
}

/// What [`remembered_fix`] needs to see of memory for `failure`: episodes of the same
/// category that ended healthy after a fix that carries over, on the failure's stack or an
/// unknown one (any stack when the failure's is unknown), the most similar to `near` (the
/// failure's text as the store's embedding makes it) or, without a vector, the newest.
pub fn fix_recall(failure: FailureQuery<'_>, near: Option<Vector>) -> Recall {
    let carries_over = ["memory", "healthy-deadline", "check-path"].map(String::from).to_vec();
    let should = match failure.stack {
        Some(stack) => vec![Condition::is(Field::Stack, stack), Condition::Unknown(Field::Stack)],
        None => Vec::new(),
    };
    Recall {
        kind: Kind::Episode,
        filter: Filter {
            must: vec![
                Condition::is(Field::Category, failure.category),
                Condition::is(Field::Outcome, recall::outcome_name(Outcome::Healthy)),
                Condition::Is(Field::Lesson, carries_over),
            ],
            should,
            must_not: Vec::new(),
        },
        near,
        limit: RECALLED,
    }
}

/// What a generation needs to see of memory for an analysis: every preference (they are
/// few), for each stack of its services the newest episodes whose memory fix made an
/// out-of-memory job healthy ([`remembered_answers`]'s), and the healthy jobs a review prompt
/// shows ([`example_recall`]).
pub fn answer_recalls(analysis: &Analysis) -> Vec<Recall> {
    let mut recalls = vec![Recall {
        kind: Kind::Preference,
        filter: Filter::default(),
        near: None,
        limit: usize::MAX,
    }];
    let stacks: BTreeSet<String> = analysis.services.iter().filter_map(stack_of).collect();
    for stack in stacks {
        recalls.push(Recall {
            kind: Kind::Episode,
            filter: Filter {
                must: vec![
                    Condition::is(Field::Category, "out-of-memory"),
                    Condition::is(Field::Outcome, recall::outcome_name(Outcome::Healthy)),
                    Condition::is(Field::Lesson, "memory"),
                    Condition::is(Field::Stack, stack),
                ],
                ..Filter::default()
            },
            near: None,
            limit: RECALLED,
        });
    }
    recalls.extend(example_recall(analysis));
    recalls
}

/// How many episodes one question to memory brings back at most: more than any one decision
/// weighs.
pub const RECALLED: usize = 50;

/// How many earlier failures a diagnosis prompt shows, and how many healthy jobs a review
/// prompt shows: enough to learn from, few enough to keep the prompt short.
pub const IN_A_PROMPT: (usize, usize) = (3, 2);

/// The earlier failures most similar to one being diagnosed (its text's vector `near`), of
/// any category, stack or outcome: an LLM learns from what failed again too.
pub fn similar_recall(near: Vector) -> Recall {
    Recall {
        kind: Kind::Episode,
        filter: Filter::default(),
        near: Some(near),
        limit: IN_A_PROMPT.0,
    }
}

/// The newest jobs that became healthy for services of `analysis`'s stacks (the stacks of the
/// services built from the repository, or every stack when none is built): the examples a
/// review prompt shows. `None` when no stack is known.
pub fn example_recall(analysis: &Analysis) -> Option<Recall> {
    let built: BTreeSet<String> = analysis
        .services
        .iter()
        .filter(|service| service.source == Source::Build)
        .filter_map(stack_of)
        .collect();
    let stacks = match built.is_empty() {
        false => built,
        true => analysis.services.iter().filter_map(stack_of).collect(),
    };
    if stacks.is_empty() {
        return None;
    }
    Some(Recall {
        kind: Kind::GoodJob,
        filter: Filter {
            must: vec![Condition::Is(Field::Stack, stacks.into_iter().collect())],
            ..Filter::default()
        },
        near: None,
        limit: IN_A_PROMPT.1,
    })
}

/// An episode whose fix is to be tried first, and how similar its evidence was.
#[derive(Debug, Clone, Copy)]
pub struct Recalled<'a> {
    pub episode: &'a Episode,
    pub similarity: f32,
}

impl Recalled<'_> {
    /// The sentence a fix's explanation starts with: "The same out-of-memory on a
    /// java/spring-boot service in acme/orders was fixed with 1024 MB on 2026-11-20".
    pub fn sentence(&self) -> String {
        let e = self.episode;
        let fix = e.fix.as_ref().map(ToString::to_string).unwrap_or_default();
        let on = match &e.stack {
            Some(stack) => format!(" on a {stack} service"),
            None => String::new(),
        };
        format!(
            "The same {}{on} in {} was fixed with {fix} on {} (memory episode {})",
            e.category, e.context.repository, e.context.date, e.id
        )
    }
}

/// The episode whose fix to try first for a failure: one of the same category whose fix made
/// the job healthy and carries over to another job, on the same stack or with evidence at
/// least [`SIMILAR_ENOUGH`] alike; the most similar, then the most recent. Similarity is the
/// local embedding's, computed here from the texts, so it holds whatever embedding the store
/// uses for search.
pub fn remembered_fix<'m>(memory: &'m Memory, failure: FailureQuery<'_>) -> Option<Recalled<'m>> {
    let query = embedding::local(&episode_text(
        failure.category,
        failure.stack,
        failure.explanation,
        failure.stderr,
    ));
    memory
        .episodes
        .iter()
        .filter(|e| e.category == failure.category && e.outcome == Outcome::Healthy)
        .filter(|e| matches!(e.fix, Some(ref lesson) if !matches!(lesson, Lesson::Other { .. })))
        .filter_map(|episode| {
            let similarity = query.similarity(&embedding::local(&episode.text()))?;
            let same_stack =
                matches!((failure.stack, &episode.stack), (Some(a), Some(b)) if a == b);
            let other_stack =
                matches!((failure.stack, &episode.stack), (Some(a), Some(b)) if a != b);
            let trusted = same_stack || (!other_stack && similarity >= SIMILAR_ENOUGH);
            trusted.then_some(Recalled { episode, similarity })
        })
        .max_by(|a, b| {
            a.similarity
                .total_cmp(&b.similarity)
                .then_with(|| a.episode.context.date.cmp(&b.episode.context.date))
        })
}

/// An answer memory gives where nobody answered, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The `KEY` of `KEY=VALUE`.
    pub key: String,
    /// The value.
    pub value: String,
    /// Why, citing the answers or the episode it comes from.
    pub reason: String,
}

/// The answers memory gives a build: for each question in `questions` nobody answered in
/// `given` (never a secret's), the value people gave most often to the same kind of question
/// (the same cluster's first); and for each service whose stack was taught a memory size, by
/// people's answers or by an out-of-memory fix that made a job healthy, that size.
pub fn remembered_answers(
    memory: &Memory,
    analysis: &Analysis,
    questions: &[Question],
    given: &Answers,
    cluster: &str,
) -> Vec<Remembered> {
    let mut remembered = Vec::new();
    let mut seen = BTreeSet::new();
    for question in questions {
        if !seen.insert(question.key.clone())
            || is_secret_answer(&question.key, &question.default)
            || is_answered(given, &question.key)
        {
            continue;
        }
        if let Some(found) = for_question(memory, analysis, question, cluster) {
            remembered.push(found);
        }
    }
    for service in &analysis.services {
        let key = format!("memory.{}", service.name);
        // Asked or not (the builder asks when the analysis guessed), a stack's memory is
        // given here.
        let answered = given.for_service(&service.name).is_some_and(|s| s.memory.is_some());
        if answered {
            continue;
        }
        let Some(stack) = stack_of(service) else { continue };
        // What the job would get without memory: the question's default when it is asked
        // (a service class of the conventions may set less than the analysis suggests).
        let proposed = questions
            .iter()
            .find(|q| q.key == key)
            .and_then(|q| q.default.trim().parse::<u32>().ok())
            .unwrap_or(service.resources.memory);
        let found = preferred(memory, &format!("memory@{stack}"), cluster)
            .map(|(preference, reason)| (preference.value.clone(), reason))
            .or_else(|| taught_memory(memory, &stack, proposed));
        if let Some((value, reason)) = found {
            remembered.push(Remembered { key, value, reason });
        }
    }
    remembered
}

/// Whether a person answered `key` already (keys memory gives no default for count as
/// answered).
fn is_answered(given: &Answers, key: &str) -> bool {
    let (kind, rest) = key.split_once('.').unwrap_or((key, ""));
    let service = given.for_service(rest.split('.').next().unwrap_or_default());
    let has = |field: fn(&ServiceAnswers) -> bool| service.is_some_and(field);
    match kind {
        "datacenters" => given.datacenters.is_some(),
        "namespace" => given.namespace.is_some(),
        "node_pool" => given.node_pool.is_some(),
        "image" => has(|s| s.image.is_some()),
        "hostname" => has(|s| s.hostname.is_some()),
        "memory" => has(|s| s.memory.is_some()),
        "deploy" => has(|s| s.deploy.is_some()),
        _ => true,
    }
}

/// Memory's default for one question, when it has one.
fn for_question(
    memory: &Memory,
    analysis: &Analysis,
    question: &Question,
    cluster: &str,
) -> Option<Remembered> {
    let (kind, service_name) = question.key.split_once('.').unwrap_or((&question.key, ""));
    let service = analysis.services.iter().find(|s| s.name == service_name);
    let (value, reason) = match kind {
        "datacenters" | "namespace" | "node_pool" => {
            let (preference, reason) = preferred(memory, kind, cluster)?;
            (preference.value.clone(), reason)
        }
        "image" if service.is_some_and(|s| s.source == Source::Build) => {
            let (preference, reason) = preferred(memory, "image.*", cluster)?;
            // The name and tag the builder would use, under the registry people use.
            let default_name = question.default.rsplit('/').next().unwrap_or(&question.default);
            (format!("{}/{default_name}", preference.value), reason)
        }
        "hostname" => {
            let (preference, reason) = preferred(memory, "hostname.*", cluster)?;
            (format!("{service_name}.{}", preference.value), reason)
        }
        "deploy" => {
            let stack = stack_of(service?)?;
            let (preference, reason) = preferred(memory, &format!("deploy@{stack}"), cluster)?;
            (preference.value.clone(), reason)
        }
        _ => return None,
    };
    (value != question.default).then(|| Remembered { key: question.key.clone(), value, reason })
}

/// The preference for `key` people gave most: the same cluster's first, then the most often,
/// then the most recently given; with the reason in words.
fn preferred<'m>(memory: &'m Memory, key: &str, cluster: &str) -> Option<(&'m Preference, String)> {
    let best = memory.preferences.iter().filter(|p| p.key == key).max_by(|a, b| {
        (a.cluster == cluster)
            .cmp(&(b.cluster == cluster))
            .then(a.given.len().cmp(&b.given.len()))
            .then_with(|| a.last().cmp(&b.last()))
    })?;
    let last = best
        .last()
        .map(|g| format!(", last in {} on {}", g.repository, g.date))
        .unwrap_or_default();
    let on = if best.cluster == cluster {
        "on this cluster".to_string()
    } else {
        format!("on cluster {}", best.cluster)
    };
    let reason = format!(
        "remembered: `{key}` was answered `{}` {} time(s) {on}{last} (memory preference {})",
        best.value,
        best.given.len(),
        best.id
    );
    Some((best, reason))
}

/// The memory an out-of-memory fix taught `stack`: the most recent episode on that stack whose
/// memory fix made the job healthy, when it gives more than `suggested`.
fn taught_memory(memory: &Memory, stack: &str, suggested: u32) -> Option<(String, String)> {
    let episode = memory
        .episodes
        .iter()
        .filter(|e| e.category == "out-of-memory" && e.outcome == Outcome::Healthy)
        .filter(|e| e.stack.as_deref() == Some(stack))
        .filter(|e| matches!(e.fix, Some(Lesson::Memory { memory_mb }) if memory_mb > i64::from(suggested)))
        .max_by(|a, b| a.context.date.cmp(&b.context.date))?;
    let Some(Lesson::Memory { memory_mb }) = episode.fix else { return None };
    let reason = format!(
        "remembered: an out-of-memory on a {stack} service in {} was fixed with {memory_mb} MB on \
         {} and then healthy (memory episode {}); {suggested} MB was proposed",
        episode.context.repository, episode.context.date, episode.id
    );
    Some((memory_mb.to_string(), reason))
}

/// The preferences a run's answers teach: the registry of built images (`image.*`), the domain
/// of hostnames (`hostname.*`), datacenters, namespace and node pool, the memory given to a
/// stack (`memory@STACK`) and whether a backing service of a stack is deployed
/// (`deploy@STACK`). Never an answer to a secret, never an environment value.
pub fn preferences_from(
    answers: &Answers,
    analysis: &Analysis,
    cluster: &str,
    given: &Given,
) -> Vec<Preference> {
    let mut learned = Vec::new();
    let mut add = |key: &str, value: String| {
        if !value.trim().is_empty() && !is_secret_answer(key, &value) {
            learned.push(Preference::new(key, &value, cluster, given.clone()));
        }
    };
    if let Some(datacenters) = &answers.datacenters {
        add("datacenters", datacenters.join(","));
    }
    if let Some(namespace) = &answers.namespace {
        add("namespace", namespace.clone());
    }
    if let Some(pool) = &answers.node_pool {
        add("node_pool", pool.clone());
    }
    for (name, service_answers) in &answers.services {
        let service = analysis.services.iter().find(|s| &s.name == name);
        let built = service.is_some_and(|s| s.source == Source::Build);
        if let (Some(image), true) = (&service_answers.image, built) {
            let without = analyze::published::without_tag(image);
            if let Some((registry, _)) = without.rsplit_once('/') {
                add("image.*", registry.to_string());
            }
        }
        if let Some((_, domain)) = service_answers
            .hostname
            .as_deref()
            .map(|h| h.split('/').next().unwrap_or(h))
            .and_then(|host| host.split_once('.'))
        {
            if domain.contains('.') {
                add("hostname.*", domain.to_string());
            }
        }
        let Some(stack) = service.and_then(stack_of) else { continue };
        if let Some(memory) = service_answers.memory {
            add(&format!("memory@{stack}"), memory.to_string());
        }
        if let Some(deploy) = service_answers.deploy {
            add(&format!("deploy@{stack}"), deploy.to_string());
        }
    }
    learned
}

/// The remembered answers written into `answers` (which had none for their keys); an answer
/// the grammar refuses is left out and said in the returned notes.
pub fn apply(remembered: &[Remembered], answers: &mut Answers) -> Vec<String> {
    let mut notes = Vec::new();
    for item in remembered {
        if let Err(err) = answers.set(&format!("{}={}", item.key, item.value)) {
            notes.push(format!("memory's answer for {} was not used: {err}", item.key));
        }
    }
    notes
}
