//! The bot's deploys: one attempt at a time, so that the conversation decides between
//! attempts (a fix commit, a redeploy, a rollback) and every step shows on the change request.
//!
//! Each attempt is the Nomad engine's plan → register (with `EnforceIndex`) → watch
//! (`nomad::deploy` with fixes off and nothing done on failure); the fix for a failure is
//! proposed the way `nomad-spec deploy --fix` proposes it (the rules, then the LLM when one is
//! configured), and the conversation commits it.
//! Rolling back reverts the job to its last stable version (or stops a job that never ran
//! healthy), with `EnforcePriorVersion` so a newer deploy is never reverted by mistake.

use std::path::Path;

use serde_json::Value;

use super::remembering::PrMemory;
use super::Runner;
use crate::analyze::Analysis;
use crate::jobspec::parse::ParseOptions;
use crate::nomad::deploy::{deploy, next_fix, DeployOptions, GiveUp, Outcome};
use crate::nomad::fix::{Fix, FixOrigin, FixPolicy};
use crate::nomad::job_file::JobFile;
use crate::nomad::watch::Verdict;
use crate::nomad::NomadClient;
use crate::settings::Settings;
use tracing::Instrument as _;

/// How one attempt ended.
#[derive(Debug)]
pub enum DeployAttempt {
    /// The job (this id) runs healthy.
    Healthy { job: String },
    /// It failed; `fix` is what the rules would change, when they know.
    Failed { job: Option<String>, diagnosis: String, fix: Option<Box<Fix>> },
}

fn client(settings: &Settings) -> Result<NomadClient, String> {
    match NomadClient::configured(settings) {
        Ok(Some(client)) => Ok(client),
        Ok(None) => {
            Err("Nomad is not configured: set NOMAD_ADDR (and NOMAD_TOKEN) to deploy".into())
        }
        Err(err) => Err(err.to_string()),
    }
}

/// Deploys the job file at `path` once and waits for the verdict; a fix for a failure stays
/// within `policy`.
pub async fn attempt(
    path: &Path,
    settings: &Settings,
    runner: &Runner,
    policy: &FixPolicy,
    memory: Option<(&mut PrMemory, &Analysis)>,
) -> DeployAttempt {
    let span = crate::telemetry::stage("deploy");
    async {
        let attempt = attempt_untraced(path, settings, runner, policy, memory).await;
        trace_attempt(&attempt);
        attempt
    }
    .instrument(span)
    .await
}

/// The attempt's outcome on its span: the job, healthy or the diagnosis, and the fix.
fn trace_attempt(attempt: &DeployAttempt) {
    use crate::telemetry::{attribute, failed};
    match attempt {
        DeployAttempt::Healthy { job } => {
            attribute("nomad_spec.job", job.as_str());
            attribute("nomad_spec.deploy.outcome", "healthy");
        }
        DeployAttempt::Failed { job, diagnosis, fix } => {
            if let Some(job) = job {
                attribute("nomad_spec.job", job.as_str());
            }
            attribute("nomad_spec.deploy.outcome", "failed");
            attribute("nomad_spec.deploy.diagnosis", diagnosis.as_str());
            if let Some(fix) = fix {
                attribute("nomad_spec.deploy.fix", fix.explanation.as_str());
            }
            failed(diagnosis);
        }
    }
}

async fn attempt_untraced(
    path: &Path,
    settings: &Settings,
    runner: &Runner,
    policy: &FixPolicy,
    mut memory: Option<(&mut PrMemory, &Analysis)>,
) -> DeployAttempt {
    let failed = |job: Option<String>, diagnosis: String| DeployAttempt::Failed {
        job,
        diagnosis,
        fix: None,
    };
    let client = match client(settings) {
        Ok(client) => client,
        Err(why) => return failed(None, why),
    };
    let file = match JobFile::read(path) {
        Ok(file) => file,
        Err(err) => return failed(None, format!("{err:#}")),
    };
    let job = match file.to_job(Some(&client), &ParseOptions::default()).await {
        Ok((job, _)) => job,
        Err(err) => return failed(None, format!("{err:#}")),
    };
    let id = job.get("ID").and_then(Value::as_str).map(str::to_string);
    let options = DeployOptions {
        fix: false,
        on_give_up: GiveUp::Leave,
        policy: policy.clone(),
        memory: memory.as_ref().map(|(memory, _)| memory.recaller()),
        stacks: memory
            .as_ref()
            .map(|(_, analysis)| PrMemory::stacks_of(analysis, &job))
            .unwrap_or_default(),
        ..Default::default()
    };
    let mut progress = |line: &str| runner.log(line);
    let report = match deploy(&client, job.clone(), None, &options, &mut progress).await {
        Ok(report) => report,
        Err(err) => return failed(id, err.to_string()),
    };
    if report.outcome == Outcome::Healthy {
        if let Some((memory, analysis)) = memory.as_mut() {
            memory.record(&report, &job, None, analysis, runner).await;
        }
        return DeployAttempt::Healthy { job: report.job };
    }
    let last = report.attempts.last().map(|a| &a.verdict);
    let (diagnosis, fix) = match last {
        Some(Verdict::Failed(failure)) => {
            // The rules first, then the LLM when one is configured (it only advises: its fix
            // passes the guardrails and the fix policy, and is committed for people to see).
            // A fix that worked for the same failure before comes first (and says so).
            let llm = super::llm_client(settings, runner);
            let next = next_fix(failure, &job, &options, llm.as_ref(), &mut progress).await;
            for note in &next.llm_notes {
                runner.log(&format!("llm: {note}"));
            }
            if let Ok(fix @ Fix { origin: FixOrigin::Memory { .. }, .. }) = &next.fix {
                runner.log(&format!("memory: {}", fix.explanation));
            }
            (failure.diagnosis.explanation.clone(), next.fix.ok().map(Box::new))
        }
        Some(Verdict::TimedOut { state, .. }) => {
            (format!("not healthy by the deadline: {state}"), None)
        }
        _ => (report.gave_up.clone().unwrap_or_else(|| "the deploy failed".into()), None),
    };
    if let Some((memory, analysis)) = memory.as_mut() {
        memory.record(&report, &job, fix.as_deref(), analysis, runner).await;
    }
    DeployAttempt::Failed { job: Some(report.job), diagnosis, fix }
}

/// Reverts `job` to its last stable version, or stops it when it never had one; says what
/// was done.
pub async fn rollback(settings: &Settings, job: &str) -> String {
    let client = match client(settings) {
        Ok(client) => client,
        Err(why) => return format!("cannot roll back: {why}"),
    };
    let versions = match client.job_versions(job).await {
        Ok(versions) => versions.versions,
        Err(err) => return format!("cannot roll back job {job}: {err}"),
    };
    let Some(current) = versions.iter().map(|v| v.version).max() else {
        return format!("job {job} has no versions; nothing to roll back");
    };
    let stable =
        versions.iter().filter(|v| v.stable && v.version < current).map(|v| v.version).max();
    match stable {
        Some(version) => match client.revert(job, version, Some(current)).await {
            Ok(_) => format!("reverted job {job} to version {version}, its last stable one"),
            Err(err) => format!("could not revert job {job} to version {version}: {err}"),
        },
        None => match client.stop(job).await {
            Ok(_) => format!("stopped job {job}: no version of it ever ran healthy"),
            Err(err) => format!("could not stop job {job}: {err}"),
        },
    }
}
