//! What a run teaches memory: each failure of a deploy becomes an [`Episode`] (its evidence
//! redacted as LLM requests are, the fix applied as a [`Lesson`], how the run went on), a job
//! that ended healthy becomes a [`GoodJob`], and a person's answers become preferences.
//!
//! Redaction is `llm::guard`'s, the same as for anything sent to the LLM: stderr, events and
//! explanations lose secret-looking values and every environment value of the job; a good
//! job's environment values and templates are replaced. This file reads the deploy loop's
//! report; deciding what to do with memory is `memory::learn`'s.

use std::collections::BTreeMap;

use super::Embedder;
use crate::analyze::Analysis;
use crate::jobspec::answers::Answers;
use crate::jobspec::edit::Edit;
use crate::jobspec::{JobSpec, SECOND};
use crate::llm::guard::{redact_spec, redact_text, secret_values};
use crate::memory::learn::{preferences_from, stack_of};
use crate::memory::{digest, Context, Episode, Given, GoodJob, Lesson, Memory, Outcome};
use crate::nomad::deploy::{DeployReport, Outcome as DeployOutcome};
use crate::nomad::watch::Verdict;

/// Where a run happened and what it deployed, as memory files it.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Repository, cluster and day.
    pub context: Context,
    /// The run (`acme/orders#12`, `deploy web.nomad.hcl`), so one run's answers count once.
    pub run: String,
    /// The stack of each task group, by group name.
    pub stacks: BTreeMap<String, String>,
}

impl Run {
    /// The stacks of a job's groups, from the analysis that made it: a group named after a
    /// service (as the builder names them: lower case, other characters as `-`) gets its
    /// stack; a job of one group from a repository of one application service gets that one's.
    pub fn stacks_of(analysis: &Analysis, groups: &[String]) -> BTreeMap<String, String> {
        let mut stacks = BTreeMap::new();
        for group in groups {
            let named = analysis.services.iter().find(|s| nomad_like(&s.name) == *group);
            if let Some(stack) = named.and_then(stack_of) {
                stacks.insert(group.clone(), stack);
            }
        }
        let apps: Vec<_> = analysis.services.iter().filter(|s| !s.role.is_backing()).collect();
        if let ([group], [app]) = (groups, apps.as_slice()) {
            if let Some(stack) = stack_of(app) {
                stacks.entry(group.clone()).or_insert(stack);
            }
        }
        stacks
    }
}

/// A service name as a group name: lower case, anything else than letters and digits a `-`.
fn nomad_like(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

/// The group names of a job (Nomad API JSON).
pub fn groups_of(job: &serde_json::Value) -> Vec<String> {
    job.get("TaskGroups")
        .and_then(serde_json::Value::as_array)
        .map(|groups| {
            groups
                .iter()
                .filter_map(|g| g.get("Name").and_then(serde_json::Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Adds what a deploy taught to `memory`: an episode per failed attempt and, when it ended
/// healthy, the job as a good job. `job` is the job as last deployed (Nomad API JSON). Says
/// what it kept, or why an entry was not kept (an embeddings endpoint that failed).
pub async fn learn_from_deploy(
    memory: &mut Memory,
    report: &DeployReport,
    job: &serde_json::Value,
    run: &Run,
    embedder: &Embedder,
) -> Vec<String> {
    let mut notes = Vec::new();
    let spec: Option<JobSpec> = serde_json::from_value(job.clone()).ok();
    let known: Vec<String> = spec.as_ref().map(secret_values).unwrap_or_default();
    let redact = |text: &str| redact_text(text, &known);
    for (index, attempt) in report.attempts.iter().enumerate() {
        let Verdict::Failed(failure) = &attempt.verdict else { continue };
        let next = report.attempts.get(index + 1).map(|a| &a.verdict);
        let outcome = match (next, &report.outcome) {
            (Some(Verdict::Healthy { .. }), _) => Outcome::Healthy,
            (Some(_), _) => Outcome::FailedAgain,
            (None, DeployOutcome::Healthy) => Outcome::Healthy,
            (None, _) if report.rollback.is_some() => Outcome::RolledBack,
            (None, _) => Outcome::FailedAgain,
        };
        let diagnosis = &failure.diagnosis;
        let stack = run.stacks.get(&diagnosis.group).cloned();
        let stderr: Vec<String> = failure.evidence.stderr_tail.iter().map(|l| redact(l)).collect();
        let events: Vec<String> = failure
            .evidence
            .events
            .iter()
            .map(|e| redact(&format!("{}: {}", e.r#type, e.display_message)))
            .collect();
        let mut fields = BTreeMap::new();
        if let Some(memory_mb) = failure.evidence.demand.memory_mb {
            fields.insert("memory_mb".to_string(), memory_mb.to_string());
        }
        let fix = attempt.fix.as_ref().map(|fix| lesson_of(&fix.edits, &redact(&fix.explanation)));
        let explanation = redact(&diagnosis.explanation);
        let text = crate::memory::episode_text(
            diagnosis.category.name(),
            stack.as_deref(),
            &explanation,
            &stderr,
        );
        let vector = match embedder.embed(&text).await {
            Ok(vector) => vector,
            Err(err) => {
                notes.push(format!("an episode was not remembered: {err:#}"));
                continue;
            }
        };
        let fix_text = fix.as_ref().map(ToString::to_string).unwrap_or_default();
        let id = digest(&[
            &run.context.repository,
            &run.run,
            &run.context.date,
            &index.to_string(),
            &text,
            &fix_text,
        ]);
        notes.push(format!("remembered episode {id}: {}", diagnosis.category));
        memory.add_episode(Episode {
            id,
            context: run.context.clone(),
            stack,
            category: diagnosis.category.name().to_string(),
            explanation,
            events,
            stderr,
            job: fields,
            fix,
            outcome,
            vector,
        });
    }
    if let (DeployOutcome::Healthy, Some(spec)) = (&report.outcome, &spec) {
        let mut stacks: Vec<String> = run.stacks.values().cloned().collect();
        stacks.sort();
        stacks.dedup();
        let analysis = format!(
            "job {} with group(s) {}",
            report.job,
            groups_of(job)
                .iter()
                .map(|g| match run.stacks.get(g) {
                    Some(stack) => format!("{g} ({stack})"),
                    None => g.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        let redacted = redact_spec(spec);
        let text = format!("{} {analysis}", stacks.join(" "));
        match embedder.embed(&text).await {
            Ok(vector) => {
                let id =
                    digest(&[&run.context.repository, &run.context.cluster, &redacted.to_string()]);
                memory.add_good_job(GoodJob {
                    id,
                    context: run.context.clone(),
                    stacks,
                    analysis,
                    job: redacted,
                    vector,
                });
            }
            Err(err) => notes.push(format!("the healthy job was not remembered: {err:#}")),
        }
    }
    notes
}

/// Keeps the preferences a run's answers teach (never a secret's).
pub fn learn_answers(memory: &mut Memory, answers: &Answers, analysis: &Analysis, run: &Run) {
    let given = Given {
        date: run.context.date.clone(),
        repository: run.context.repository.clone(),
        run: run.run.clone(),
    };
    for preference in preferences_from(answers, analysis, &run.context.cluster, &given) {
        memory.remember(preference);
    }
}

/// A fix's edits as what carries over to another job.
fn lesson_of(edits: &[Edit], explanation: &str) -> Lesson {
    match edits {
        [Edit::SetMemory { memory_mb, .. }] => Lesson::Memory { memory_mb: *memory_mb },
        [Edit::SetHealthyDeadline { healthy_deadline, .. }] => {
            Lesson::HealthyDeadline { seconds: healthy_deadline / SECOND }
        }
        [Edit::SetCheckPath { new_path, .. }] => Lesson::CheckPath { path: new_path.clone() },
        _ => Lesson::Other {
            summary: explanation.split(". ").next().unwrap_or(explanation).to_string(),
        },
    }
}
