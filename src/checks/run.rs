//! Running the checks of one job file (I/O), as `nomad-spec check` prints them and the PR bot
//! posts them: `nomad-spec/validate` (the job spec rules), `nomad-spec/secrets` (Vault),
//! `nomad-spec/routes` (Fabio, with the hostname suffix from `.nomad-spec.toml` or Consul's
//! conventions) and `nomad-spec/plan` (Nomad). The checks themselves live in
//! `jobspec::validate`, `infra` and `nomad`; this file runs them over one file and one set of
//! settings and answers in the vocabulary of [`super`]. Vault, Consul and Fabio are optional:
//! they are asked together under one deadline (`NOMAD_SPEC_PROBE_DEADLINE`), and a check
//! whose service is not configured, not reachable or too slow is skipped and says why. Nomad
//! is the plan's: when `NOMAD_ADDR` is set, a plan that cannot be made fails
//! `nomad-spec/plan` with the reason, so a pull request's plan gate never passes silently; it
//! is skipped only when Nomad is not configured.

use super::{CheckResult, CheckStatus, FileChecks, PLAN, ROUTES, SECRETS, VALIDATE};
use crate::http::ProbeDeadline;
use crate::infra::consul::ConsulClient;
use crate::infra::fabio::{self, FabioClient};
use crate::jobspec::config::Config;
use crate::jobspec::parse::ParseOptions;
use crate::jobspec::validate::validate_source;
use crate::jobspec::{Diagnostic, Severity};
use crate::nomad::job_file::JobFile;
use crate::nomad::plan::{render_markdown, PlanReport};
use crate::nomad::NomadClient;
use crate::settings::Settings;
use crate::telemetry;
use tracing::Instrument as _;

/// Every check on one job file, in order: validate, secrets, routes, plan. The services are
/// asked at the same time; the optional ones within the probing deadline.
pub async fn check_file(
    file: &JobFile,
    options: &ParseOptions,
    settings: &Settings,
    config: &Config,
    strict_routes: bool,
) -> FileChecks {
    let name = file.path.display().to_string();
    let source = file.text.as_str();
    let validate = {
        let _span = telemetry::stage(VALIDATE).entered();
        traced(validate_check(source, &name))
    };
    let deadline = match settings.calls() {
        Ok(calls) => ProbeDeadline::after(calls.probe_deadline),
        Err(_) => ProbeDeadline::after(crate::settings::CallSettings::default().probe_deadline),
    };
    let secrets = async {
        let checked = deadline.run("Vault", secrets_check(source, &name, settings)).await;
        traced(checked.unwrap_or_else(|why| CheckResult::skipped(SECRETS, why)))
    }
    .instrument(telemetry::stage(SECRETS));
    let routes = async {
        let checked = deadline
            .run(
                "Consul and Fabio",
                routes_check(source, &name, options, settings, config, strict_routes),
            )
            .await;
        traced(checked.unwrap_or_else(|why| CheckResult::skipped(ROUTES, why)))
    }
    .instrument(telemetry::stage(ROUTES));
    let plan = async {
        let (result, plan) = plan_check(file, options, settings).await;
        (traced(result), plan)
    }
    .instrument(telemetry::stage(PLAN));
    let (secrets, routes, (plan_result, plan)) = tokio::join!(secrets, routes, plan);
    let results = vec![validate, secrets, routes, plan_result];
    FileChecks { results, plan: plan.as_ref().map(render_markdown) }
}

/// A check's result on its span: status and summary.
fn traced(result: CheckResult) -> CheckResult {
    telemetry::attribute("nomad_spec.check.status", format!("{:?}", result.status));
    telemetry::attribute("nomad_spec.check.summary", result.summary.as_str());
    if result.status == CheckStatus::Failure {
        telemetry::failed(&result.summary);
    }
    result
}

/// The routes check (Fabio), with the hostname suffix from the file or Consul's conventions.
async fn routes_check(
    source: &str,
    name: &str,
    options: &ParseOptions,
    settings: &Settings,
    config: &Config,
    strict_routes: bool,
) -> CheckResult {
    let (suffix, note) = hostname_suffix(settings, config).await;
    let fabio = settings.fabio().map_err(|err| err.to_string());
    let mut routes =
        match fabio.and_then(|typed| FabioClient::new(typed).map_err(|e| e.to_string())) {
            Ok(client) => {
                let prefix = config
                    .fabio
                    .as_ref()
                    .and_then(|f| f.tag_prefix.as_deref())
                    .unwrap_or(fabio::DEFAULT_TAG_PREFIX);
                fabio::check_routes(
                    source,
                    name,
                    options,
                    Some(&client),
                    prefix,
                    suffix.as_deref(),
                    strict_routes,
                )
                .await
            }
            Err(why) => CheckResult::skipped(ROUTES, why),
        };
    if let Some(note) = note {
        routes.summary.push_str(&format!(" (note: {note})"));
    }
    routes
}

/// The validate check: the job spec rules.
fn validate_check(source: &str, file: &str) -> CheckResult {
    let annotations = validate_source(source, file);
    let errors = annotations.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = annotations.len() - errors;
    let (status, summary) = match (errors, warnings) {
        (0, 0) => (CheckStatus::Success, "the job file is valid".to_string()),
        (0, _) => (CheckStatus::Success, format!("valid, with {warnings} warning(s)")),
        _ => (CheckStatus::Failure, format!("{errors} error(s), {warnings} warning(s)")),
    };
    CheckResult { name: VALIDATE.into(), status, summary, annotations }
}

/// The secrets check (Vault), skipped with the reason when Vault is not configured or its
/// settings cannot be used.
async fn secrets_check(source: &str, file: &str, settings: &Settings) -> CheckResult {
    match crate::infra::vault::VaultClient::configured(settings) {
        Ok(client) => crate::infra::vault::check_secrets(source, file, client.as_ref()).await,
        Err(err) => {
            CheckResult::skipped(SECRETS, format!("the Vault settings cannot be used: {err}"))
        }
    }
}

/// The hostname suffix for suggestions: `.nomad-spec.toml` first, then Consul's conventions;
/// and a note when the conventions could not be read.
async fn hostname_suffix(settings: &Settings, config: &Config) -> (Option<String>, Option<String>) {
    if let Some(suffix) = config.fabio.as_ref().and_then(|f| f.hostname_suffix.clone()) {
        return (Some(suffix), None);
    }
    let client = match ConsulClient::configured(settings) {
        Ok(Some(client)) => client,
        Ok(None) => return (None, None),
        Err(err) => return (None, Some(format!("Consul conventions skipped: {err}"))),
    };
    match client.conventions(client.conventions_key()).await {
        Ok(conventions) => {
            (conventions.and_then(|c| c.fabio).and_then(|f| f.hostname_suffix), None)
        }
        Err(err) => (None, Some(format!("Consul conventions skipped: {err:#}"))),
    }
}

/// The plan check: what Nomad would do, when `NOMAD_ADDR` is set. Nomad configured but unable
/// to plan (unreachable, refusing, answering garbage, a bad `NOMAD_*` setting, a job it cannot
/// read) fails the check with the reason: only an unconfigured Nomad skips it.
async fn plan_check(
    file: &JobFile,
    options: &ParseOptions,
    settings: &Settings,
) -> (CheckResult, Option<PlanReport>) {
    let cannot_plan = |why: String| CheckResult {
        name: PLAN.into(),
        status: CheckStatus::Failure,
        summary: format!("Nomad is configured (NOMAD_ADDR) but could not plan the job: {why}"),
        annotations: Vec::new(),
    };
    let client = match NomadClient::configured(settings) {
        Ok(Some(client)) => client,
        Ok(None) => {
            let why = "Nomad is not configured (NOMAD_ADDR is not set)";
            return (CheckResult::skipped(PLAN, why), None);
        }
        Err(err) => return (cannot_plan(err.to_string()), None),
    };
    let planned = async {
        let (job, _) = file.to_job(Some(&client), options).await?;
        let response = client.for_job(&job).plan(&job).await?;
        anyhow::Ok(PlanReport::new(&job, &response))
    };
    match planned.await {
        Ok(report) => {
            (plan_result(&report, &file.text, &file.path.display().to_string()), Some(report))
        }
        Err(err) => (cannot_plan(format!("{err:#}")), None),
    }
}

/// A plan as a check: placement failures fail it (the job could not run), warnings are
/// reported, changes are the summary.
fn plan_result(report: &PlanReport, source: &str, file: &str) -> CheckResult {
    let groups: Vec<String> =
        report.groups.iter().map(|g| format!("{}: {}", g.name, g.summary())).collect();
    let mut summary = if report.has_changes() {
        format!("job `{}` would change ({})", report.job, groups.join("; "))
    } else {
        format!("job `{}`: no changes", report.job)
    };
    let mut annotations: Vec<Diagnostic> =
        report.warnings.iter().map(|w| Diagnostic::warning(file, 0, 0, w.clone())).collect();
    for failure in &report.placement_failures {
        let header = format!("group \"{}\"", failure.group);
        let line = source
            .lines()
            .position(|l| l.trim_start().starts_with(&header))
            .map_or(0, |i| u32::try_from(i + 1).unwrap_or(0));
        annotations.push(Diagnostic::error(
            file,
            line,
            u32::from(line > 0),
            format!("group `{}` cannot be placed: {}", failure.group, failure.explanation),
        ));
    }
    let status = if report.placement_failures.is_empty() {
        CheckStatus::Success
    } else {
        summary.push_str("; some groups cannot be placed");
        CheckStatus::Failure
    };
    CheckResult { name: PLAN.into(), status, summary, annotations }
}
