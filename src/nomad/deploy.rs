//! The deploy loop: plan → register → watch → diagnose → fix → again, a bounded number of
//! times, then roll back if it never became healthy.
//!
//! The next fix comes from memory first, when an earlier run fixed the same failure on similar
//! evidence and the job was healthy after it (its fix applied at once, said so in the fix's
//! explanation); then from [`propose_next_fix`] (both through [`next_fix`]): the rules first, then, for a failure they
//! have no fix for, the LLM when one is configured (its changes limited to the allow-list
//! and the policy's bounds, checked by the guardrails; its prompt shows the earlier failures
//! memory holds most like this one). The LLM only proposes edits; the loop's own limits decide
//! whether anything is deployed again.
//!
//! Every register carries the plan's `JobModifyIndex` with `EnforceIndex`, so a job changed
//! by someone else since the plan is never overwritten. A plan that cannot place a group is
//! a failure before anything is registered. When the loop gives up (an unfixable failure,
//! the iteration limit, the deadline), the job is reverted to its last stable version, or
//! stopped if it never ran successfully, or left as it is, as configured; the report says
//! which.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::api::PlanResponse;
use super::client::{job_id, NomadClient, NomadError};
use super::diagnose::{Evidence, GroupDemand, ASKED_OF_THE_LLM};
use super::fix::{advised_fix, propose_fix, remembered_fix, Fix, FixPolicy};
use super::job_file::JobFile;
use super::plan::PlanReport;
use super::watch::{watch, Failure, Verdict, WatchOptions};
use crate::jobspec::edit;
use crate::jobspec::JobSpec;
use crate::llm::{tasks, Client};
use crate::memory::embedding::Vector;
use crate::memory::learn::{self, FailureQuery};
use crate::memory::recall::Recaller;

/// What to do with the job when the loop gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum GiveUp {
    /// Revert to the last stable version (stop the job if it never had one).
    Revert,
    /// Stop the job.
    Stop,
    /// Leave the failing version registered.
    Leave,
}

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Try deterministic fixes after a fixable failure.
    pub fix: bool,
    /// At most this many fixes (default 3).
    pub max_fix_iterations: u32,
    /// Per attempt: the deadline and blocking-query wait.
    pub watch: WatchOptions,
    /// What to do when giving up.
    pub on_give_up: GiveUp,
    /// Bounds on fixes.
    pub policy: FixPolicy,
    /// The LLM asked about failures the rules have no fix for; `None`: the rules alone.
    pub llm: Option<Arc<Client>>,
    /// What earlier runs taught: a fix that made a job healthy after the same failure is tried
    /// before the rules' step, whichever store keeps memory; `None`: no memory.
    pub memory: Option<Arc<dyn Recaller>>,
    /// The stack of each task group (`java/spring-boot`), by group name, for memory.
    pub stacks: BTreeMap<String, String>,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            fix: false,
            max_fix_iterations: 3,
            watch: WatchOptions::default(),
            on_give_up: GiveUp::Revert,
            policy: FixPolicy::default(),
            llm: None,
            memory: None,
            stacks: BTreeMap::new(),
        }
    }
}

/// One pass through plan → register → watch.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub plan: PlanReport,
    /// The version registered, when the plan was registered.
    pub registered_version: Option<u64>,
    pub verdict: Verdict,
    /// The fix applied after this attempt, if any.
    pub fix: Option<Fix>,
    /// Why no fix was applied after a failure.
    pub no_fix: Option<String>,
    /// What the LLM did about this attempt's failure (asked or not, and why).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub llm_notes: Vec<String>,
}

/// How the whole loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Healthy,
    Failed,
    TimedOut,
}

/// Everything the loop did, for the terminal and the PR comment.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    pub job: String,
    pub outcome: Outcome,
    pub attempts: Vec<Attempt>,
    /// Why the loop stopped trying, when it did not end healthy.
    pub gave_up: Option<String>,
    /// What was done to the job after giving up.
    pub rollback: Option<String>,
    /// Fixes that could not be written into the file (the deployed job still has them).
    pub write_back_warnings: Vec<String>,
}

impl DeployReport {
    /// The fixes applied, in order.
    pub fn fixes(&self) -> impl Iterator<Item = &Fix> {
        self.attempts.iter().filter_map(|a| a.fix.as_ref())
    }
}

/// Runs the loop for `job` (Nomad API JSON). With `file`, fixes are also written into it.
pub async fn deploy(
    client: &NomadClient,
    mut job: Value,
    mut file: Option<&mut JobFile>,
    options: &DeployOptions,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<DeployReport, NomadError> {
    let id = job_id(&job)?.to_string();
    let job_client = client.for_job(&job);
    let client = &job_client;
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut write_back_warnings = Vec::new();
    // The version running before this deploy (`None` for a new or stopped job), read once.
    let mut before: Option<Option<u64>> = None;
    let mut registered_any = false;
    let mut last_version: Option<u64> = None;

    let gave_up = loop {
        let response: PlanResponse = client.plan(&job).await?;
        let plan = PlanReport::new(&job, &response);
        if before.is_none() {
            let running = if plan.job_modify_index > 0 {
                let current = client.job(&id).await?.value;
                (!current.stop).then_some(current.version)
            } else {
                None
            };
            before = Some(running);
        }
        progress(&format!(
            "plan: {}",
            plan.groups
                .iter()
                .map(|g| format!("{} ({})", g.name, g.summary()))
                .collect::<Vec<_>>()
                .join(", ")
        ));

        let (registered_version, verdict) = if let Some((group, metric)) =
            response.failed_tg_allocs.iter().next()
        {
            // Registering would only leave a blocked evaluation behind.
            let evidence = Evidence {
                group: group.clone(),
                placement: Some(metric.clone()),
                demand: GroupDemand::of(&job, group),
                ..Default::default()
            };
            (None, Verdict::Failed(Box::new(Failure::from_evidence(evidence))))
        } else {
            let register = client.register(&job, Some(plan.job_modify_index)).await?;
            registered_any = true;
            let version = client.job(&id).await?.value.version;
            last_version = Some(version);
            progress(&format!(
                "registered job {id} version {version} (evaluation {})",
                register.eval_id.get(..8).unwrap_or(&register.eval_id)
            ));
            let verdict = watch(client, &job, version, &register, &options.watch, progress).await?;
            (Some(version), verdict)
        };
        progress(&verdict_line(&verdict));

        let mut attempt = Attempt {
            plan,
            registered_version,
            verdict,
            fix: None,
            no_fix: None,
            llm_notes: Vec::new(),
        };
        let stop = match &attempt.verdict {
            Verdict::Healthy { .. } => {
                attempts.push(attempt);
                break None;
            }
            Verdict::TimedOut { state, .. } => {
                Some(format!("not healthy by the deadline: {state}"))
            }
            Verdict::Failed(failure) => {
                let fixes_so_far = attempts.iter().filter(|a| a.fix.is_some()).count() as u32;
                if !options.fix {
                    Some(format!("{} (run with --fix to try a fix)", failure.diagnosis.explanation))
                } else if fixes_so_far >= options.max_fix_iterations {
                    Some(format!(
                        "still failing after {fixes_so_far} fix(es): {}",
                        failure.diagnosis.explanation
                    ))
                } else {
                    let llm = options.llm.as_deref();
                    let next = next_fix(failure, &job, options, llm, progress).await;
                    for note in &next.llm_notes {
                        progress(note);
                    }
                    attempt.llm_notes = next.llm_notes;
                    match next.fix {
                        Err(reason) => {
                            progress(&format!("no fix: {reason}"));
                            attempt.no_fix = Some(reason.clone());
                            Some(reason)
                        }
                        Ok(fix) => {
                            let unchanged = job.clone();
                            for edit in &fix.edits {
                                edit::json::apply(&mut job, edit);
                            }
                            if job == unchanged {
                                // Deploying the same job again would only fail again.
                                let reason = format!(
                                    "the fix found nothing to change in the job: {}",
                                    fix.explanation
                                );
                                attempt.no_fix = Some(reason.clone());
                                attempts.push(attempt);
                                break Some(reason);
                            }
                            progress(&format!("fix: {}", fix.explanation));
                            if let Some(file) = file.as_deref_mut() {
                                match file.write_edits(&fix.edits) {
                                    Ok(()) => progress(&format!(
                                        "wrote the fix into {}",
                                        file.path.display()
                                    )),
                                    Err(err) => {
                                        progress(&format!("could not write the fix: {err:#}"));
                                        write_back_warnings.push(format!("{err:#}"));
                                    }
                                }
                            }
                            attempt.fix = Some(fix);
                            None
                        }
                    }
                }
            }
        };
        attempts.push(attempt);
        if let Some(reason) = stop {
            break Some(reason);
        }
    };

    let outcome = match attempts.last().map(|a| &a.verdict) {
        Some(Verdict::Healthy { .. }) => Outcome::Healthy,
        Some(Verdict::TimedOut { .. }) => Outcome::TimedOut,
        _ => Outcome::Failed,
    };
    let rollback = match &gave_up {
        None => None,
        Some(_) if !registered_any => Some("nothing was registered".to_string()),
        Some(_) => {
            Some(give_up(client, &id, options.on_give_up, before.flatten(), last_version).await?)
        }
    };
    if let Some(action) = &rollback {
        progress(action);
    }
    Ok(DeployReport { job: id, outcome, attempts, gave_up, rollback, write_back_warnings })
}

/// The next fix for a failure, or why there is none, and what the LLM did on the way.
#[derive(Debug, Clone)]
pub struct NextFix {
    /// The fix to apply (its `origin` says whether the rules or the LLM proposed it), or the
    /// reason there is none.
    pub fix: Result<Fix, String>,
    /// The LLM's notes ("LLM diagnosed `bad-command` and proposed 1 change(s)", "LLM
    /// skipped: not configured", a rejected answer); empty when the rules had a fix and the
    /// LLM was not consulted.
    pub llm_notes: Vec<String>,
}

/// Proposes the fix for a failed deploy of `job` (Nomad API JSON): the rules' fix when they
/// have one; otherwise, for a failure the LLM may be asked about, the LLM's fix when its
/// answer passes the guardrails and `policy`. Without a fix, the reason is the rules' own,
/// followed by what the LLM said when one is configured. The LLM's prompt shows the earlier
/// failures `memory` holds most like this one (its vector given). Nothing is deployed or
/// written here: the deploy loop and the PR bot apply the `Fix` (`edit::json::apply`,
/// `JobFile::write_edits`) under their own limits.
pub async fn propose_next_fix(
    failure: &Failure,
    job: &Value,
    policy: &FixPolicy,
    llm: Option<&Client>,
    memory: Option<(&dyn Recaller, &Vector)>,
) -> NextFix {
    let spec: JobSpec = match serde_json::from_value(job.clone()) {
        Ok(spec) => spec,
        Err(err) => {
            return NextFix {
                fix: Err(format!("the job does not fit nomad-spec's job model ({err}); no fix")),
                llm_notes: Vec::new(),
            }
        }
    };
    let rules_reason = match propose_fix(&failure.diagnosis, &spec, policy) {
        Ok(fix) => return NextFix { fix: Ok(fix), llm_notes: Vec::new() },
        Err(not_fixable) => not_fixable.0,
    };
    let mut llm_notes = Vec::new();
    let similar = match (llm, memory) {
        (Some(_), Some((memory, near)))
            if ASKED_OF_THE_LLM.contains(&failure.diagnosis.category) =>
        {
            let (found, note) = memory.recall(&[learn::similar_recall(near.clone())]).await;
            llm_notes.extend(note);
            found.episodes
        }
        _ => Vec::new(),
    };
    let told = failure.diagnosis.told(&failure.evidence);
    let advice = tasks::diagnose(llm, &told, &spec, &similar).await;
    llm_notes.extend(advice.notes);
    if let Some(advised) = advice.value {
        match &advised.fix {
            // A diagnosis without a change still helps the person who takes over.
            None => llm_notes.push(format!("LLM's explanation: {}", advised.explanation.trim())),
            Some(patched) => match advised_fix(
                &advised.category,
                &advised.explanation,
                &patched.edits,
                &patched.applied,
                &spec,
                policy,
            ) {
                Ok(fix) => return NextFix { fix: Ok(fix), llm_notes },
                Err(why) => llm_notes.push(format!("LLM fix not used: {why}")),
            },
        }
    }
    let reason = match llm {
        // Without an LLM the reason reads as it always did.
        None => rules_reason,
        Some(_) => format!("{rules_reason} ({})", llm_notes.join("; ")),
    };
    NextFix { fix: Err(reason), llm_notes }
}

/// The next fix for a failed deploy of `job`: the one memory remembers for this failure
/// ([`remembered_next_fix`]), else [`propose_next_fix`]'s, the LLM's prompt showing the
/// earlier failures memory holds most like this one. The deploy loop and the PR bot both ask
/// here.
pub async fn next_fix(
    failure: &Failure,
    job: &Value,
    options: &DeployOptions,
    llm: Option<&Client>,
    progress: &mut (dyn FnMut(&str) + Send),
) -> NextFix {
    let (remembered, near) = remembered_next_fix(failure, job, options, progress).await;
    if let Some(fix) = remembered {
        return NextFix { fix: Ok(fix), llm_notes: Vec::new() };
    }
    let memory = options.memory.as_deref().zip(near.as_ref());
    propose_next_fix(failure, job, &options.policy, llm, memory).await
}

/// The fix memory remembers for this failure, when an episode's fix carries over to this job
/// (`fix::remembered_fix`); `None` otherwise, and the rules decide. With it, the failure's
/// vector, for asking memory more. Memory that cannot be asked (an embeddings endpoint or a
/// Qdrant server down) is a progress note, never an error.
async fn remembered_next_fix(
    failure: &Failure,
    job: &Value,
    options: &DeployOptions,
    progress: &mut (dyn FnMut(&str) + Send),
) -> (Option<Fix>, Option<Vector>) {
    let Some(opened) = options.memory.as_deref() else { return (None, None) };
    let diagnosis = &failure.diagnosis;
    let query = FailureQuery {
        category: diagnosis.category.name(),
        stack: options.stacks.get(&diagnosis.group).map(String::as_str),
        explanation: &diagnosis.explanation,
        stderr: &failure.evidence.stderr_tail,
    };
    let text =
        crate::memory::episode_text(query.category, query.stack, query.explanation, query.stderr);
    let near = match opened.embed(&text).await {
        Ok(vector) => Some(vector),
        Err(err) => {
            progress(&format!("memory searched without similarity: {err}"));
            None
        }
    };
    let (memory, note) = opened.recall(&[learn::fix_recall(query, near.clone())]).await;
    if let Some(note) = note {
        progress(&note);
    }
    let fix = learn::remembered_fix(&memory, query).and_then(|recalled| {
        let spec: JobSpec = serde_json::from_value(job.clone()).ok()?;
        remembered_fix(diagnosis, &spec, &options.policy, &recalled).ok()
    });
    (fix, near)
}

/// One line for a verdict.
pub fn verdict_line(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Healthy { version, allocations } => {
            format!("healthy: version {version}, {allocations} allocation(s) running")
        }
        Verdict::Failed(failure) => {
            format!("failed ({}): {}", failure.diagnosis.category, failure.diagnosis.explanation)
        }
        Verdict::TimedOut { after_seconds, state } => {
            format!("timed out after {after_seconds} s: {state}")
        }
    }
}

/// Reverts, stops or leaves the job; says what it did. `before` is the version that ran
/// before this deploy, if any.
async fn give_up(
    client: &NomadClient,
    id: &str,
    action: GiveUp,
    before: Option<u64>,
    current_version: Option<u64>,
) -> Result<String, NomadError> {
    match action {
        GiveUp::Leave => Ok(format!("left job {id} as it is (--on-give-up leave)")),
        GiveUp::Stop => {
            client.stop(id).await?;
            Ok(format!("stopped job {id}"))
        }
        GiveUp::Revert => {
            let Some(before) = before else {
                client.stop(id).await?;
                return Ok(format!(
                    "stopped job {id}: it never ran successfully, so there is no version to \
                     revert to"
                ));
            };
            let versions = client.job_versions(id).await?;
            let current = current_version
                .or_else(|| versions.versions.iter().map(|v| v.version).max())
                .unwrap_or(0);
            let stable = versions
                .versions
                .iter()
                .filter(|v| v.stable && v.version < current)
                .map(|v| v.version)
                .max();
            // Nomad marks versions stable only through deployments; a job without an
            // update block has none, and the version that ran before is the one to restore.
            let (target, why) = match stable {
                Some(version) => (version, "its last stable version"),
                None => (before, "the version that ran before this deploy"),
            };
            if target >= current {
                return Ok(format!(
                    "left job {id} at version {current}: no earlier version to revert to"
                ));
            }
            client.revert(id, target, Some(current)).await?;
            Ok(format!("reverted job {id} to version {target}, {why}"))
        }
    }
}
