//! The deploy loop asking the LLM about failures the rules have no fix for, against the fake
//! Nomad and the scripted fake LLM: a guarded fix deployed and written into the user's HCL
//! file with its comments kept; a change outside the allow-list, or beyond the fix policy,
//! refused with the loop giving up as it always did; no LLM, or an LLM that is down, leaving
//! the loop as it was with a note saying why. Every test that reaches the fake LLM checks
//! that no secret value was sent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use fakes::llm::{FakeLlm, Reply, Rule, Script};
use fakes::nomad::{FakeNomad, JobRule, Scenario};
use nomad_spec::jobspec::edit::Edit;
use nomad_spec::jobspec::parse::ParseOptions;
use nomad_spec::llm::Client;
use nomad_spec::nomad::api::TaskEvent;
use nomad_spec::nomad::deploy::{deploy, propose_next_fix, DeployOptions, DeployReport, Outcome};
use nomad_spec::nomad::diagnose::{Category, Evidence};
use nomad_spec::nomad::fix::{FixOrigin, FixPolicy};
use nomad_spec::nomad::job_file::JobFile;
use nomad_spec::nomad::watch::{Failure, Verdict, WatchOptions};
use nomad_spec::nomad::{NomadClient, NomadConfig};
use nomad_spec::settings::LlmSettings as Settings;
use serde_json::{json, Value};

const API_KEY: &str = "sk-test-never-sent-in-a-body";
/// A password in the job file and in the task's stderr: it must never reach the LLM.
const DB_SECRET: &str = "hunter2-super-secret";

/// The job file a person wrote: comments, aligned attributes, an env block with a secret a
/// careless edit left in it.
const JOB_FILE: &str = r#"# The web job, written by a person.
job "web" {
  datacenters = ["dc1"]

  group "app" {
    count = 1 # one is enough for now

    network {
      port "http" {
        to = 8080
      }
    }

    update {
      max_parallel     = 1
      healthy_deadline = "1m"
    }

    task "server" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/web:1.4" # pinned
        ports = ["http"]
      }

      env {
        LOG_LEVEL   = "info"
        DB_PASSWORD = "hunter2-super-secret"
      }

      resources {
        cpu    = 200 # MHz
        memory = 256
      }
    }
  }
}
"#;

/// What the fixed file must be: the one line the LLM's change adds, nothing else moved.
fn fixed_file() -> String {
    JOB_FILE.replace(
        "        DB_PASSWORD = \"hunter2-super-secret\"\n",
        "        DB_PASSWORD = \"hunter2-super-secret\"\n        APP_ENV     = \"production\"\n",
    )
}

/// The application needs APP_ENV=production; without it, it stops at boot and says so (with
/// its database URL, password included, on the line before).
fn scenario() -> Scenario {
    let mut rule = JobRule::for_job("web").require_env("APP_ENV=production");
    rule.crash_stderr = vec![
        format!("config: database postgres://app:{DB_SECRET}@db:5432/app"),
        "Error: APP_ENV must be one of production, staging (got \"\"); refusing to start"
            .to_string(),
    ];
    Scenario::default().with_rule(rule)
}

fn fake_llm(rules: Vec<Rule>) -> FakeLlm {
    FakeLlm::start(Script::new(rules)).unwrap_or_else(|e| panic!("fake LLM: {e:#}"))
}

fn llm_client(fake: &FakeLlm) -> Client {
    nomad_spec::tls::install_crypto_provider();
    Client::new(Settings {
        base_url: fake.url(),
        api_key: Some(API_KEY.into()),
        model: "fake".into(),
        timeout: Duration::from_millis(500),
        retry: nomad_spec::settings::RetryPolicy {
            attempts: 3,
            first_wait: Duration::from_millis(10),
            max_wait: Duration::from_millis(10),
            total: Duration::from_secs(5),
        },
        token_budget: 100_000,
    })
    .unwrap_or_else(|e| panic!("LLM client: {e:#}"))
}

fn nomad_client(fake: &FakeNomad) -> NomadClient {
    nomad_spec::tls::install_crypto_provider();
    NomadClient::new(NomadConfig { address: fake.url(), ..NomadConfig::default() }).unwrap()
}

fn options(llm: Option<Client>) -> DeployOptions {
    DeployOptions {
        fix: true,
        watch: WatchOptions { deadline: Duration::from_secs(60), ..WatchOptions::default() },
        llm: llm.map(Arc::new),
        ..DeployOptions::default()
    }
}

/// The LLM's answer: the right diagnosis and a change.
fn diagnosis(changes: Value) -> Reply {
    Reply::Json(json!({
        "category": "missing-configuration",
        "explanation": "The task exits at boot: `Error: APP_ENV must be one of production, \
                        staging (got \"\")`. The job does not set APP_ENV.",
        "changes": changes
    }))
}

fn env_change(name: &str, value: &str) -> Value {
    json!({"field": "env", "group": "app", "task": "server", "name": name, "value": value,
           "reason": "stderr says APP_ENV must be production or staging"})
}

/// No secret value, and not the API key, in any request the fake LLM received.
fn assert_no_secret_sent(fake: &FakeLlm) {
    for request in fake.requests() {
        for secret in [DB_SECRET, API_KEY] {
            assert!(!request.body.contains(secret), "`{secret}` was sent: {}", request.body);
        }
    }
}

fn write_job_file(dir: &Path) -> PathBuf {
    let path = dir.join("web.nomad.hcl");
    std::fs::write(&path, JOB_FILE).unwrap();
    path
}

/// Reads the file as the CLI does and runs the loop; returns the report and the progress.
async fn deploy_file(
    fake: &FakeNomad,
    path: &Path,
    options: &DeployOptions,
) -> (DeployReport, Vec<String>) {
    let client = nomad_client(fake);
    let mut file = JobFile::read(path).unwrap();
    let (job, _) = file.to_job(Some(&client), &ParseOptions::default()).await.unwrap();
    let mut lines = Vec::new();
    let mut progress = |l: &str| lines.push(l.to_string());
    let running = deploy(&client, job, Some(&mut file), options, &mut progress);
    // The PR bot may run the loop on a spawned task: asking the LLM keeps it `Send`.
    assert_send(&running);
    let report = running.await.unwrap();
    eprintln!("progress:\n  {}", lines.join("\n  "));
    (report, lines)
}

fn assert_send<T: Send>(_: &T) {}

fn category_of(verdict: &Verdict) -> Option<Category> {
    match verdict {
        Verdict::Failed(failure) => Some(failure.diagnosis.category),
        _ => None,
    }
}

/// What the rules say about the crash, word for word, as the loop reported it before the LLM.
fn rules_reason(report: &DeployReport) -> String {
    match &report.attempts[0].verdict {
        Verdict::Failed(failure) => format!(
            "crash-on-start failures have no automatic fix: {}",
            failure.diagnosis.explanation
        ),
        other => panic!("not a failure: {other:?}"),
    }
}

#[tokio::test]
async fn a_failure_the_rules_cannot_fix_is_diagnosed_by_the_llm_and_fixed_in_the_file() {
    let nomad = FakeNomad::start(scenario()).unwrap();
    // The reply is scripted only for a request carrying the task's stderr.
    let llm = fake_llm(vec![Rule::task(
        "diagnose",
        diagnosis(json!([env_change("APP_ENV", "production")])),
    )
    .containing("APP_ENV must be one of production, staging")]);
    let dir = tempfile::tempdir().unwrap();
    let path = write_job_file(dir.path());

    let (report, progress) = deploy_file(&nomad, &path, &options(Some(llm_client(&llm)))).await;

    assert_eq!(report.outcome, Outcome::Healthy, "{report:#?}");
    assert_eq!(report.attempts.len(), 2);
    let first = &report.attempts[0];
    assert_eq!(category_of(&first.verdict), Some(Category::CrashOnStart));
    assert_eq!(
        first.llm_notes,
        vec!["LLM diagnosed `missing-configuration` and proposed 1 change(s)".to_string()]
    );
    assert!(progress.contains(&first.llm_notes[0]), "{progress:?}");
    let Some(fix) = &first.fix else { panic!("no fix: {first:#?}") };
    assert_eq!(fix.origin, FixOrigin::Llm { category: "missing-configuration".into() });
    assert_eq!(
        fix.edits,
        vec![Edit::SetEnv {
            group: "app".into(),
            task: "server".into(),
            name: "APP_ENV".into(),
            value: "production".into(),
        }]
    );
    assert!(
        fix.explanation.starts_with(
            "LLM diagnosis (`missing-configuration`): The task exits at boot: `Error: APP_ENV \
             must be one of production, staging (got \"\")`."
        ),
        "{}",
        fix.explanation
    );
    assert!(matches!(report.attempts[1].verdict, Verdict::Healthy { version: 1, .. }));
    assert!(report.write_back_warnings.is_empty(), "{:?}", report.write_back_warnings);

    // The file has the fix and nothing else changed: comments, alignment, blank lines.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), fixed_file());
    // Nomad runs the fixed job, the other variables kept.
    let env = nomad.job("web").map(|job| job["TaskGroups"][0]["Tasks"][0]["Env"].clone());
    assert_eq!(
        env,
        Some(json!({"LOG_LEVEL": "info", "DB_PASSWORD": DB_SECRET, "APP_ENV": "production"}))
    );
    assert_eq!(nomad.register_calls("web"), 2);

    // One question, with the rules' finding, the evidence and the variable names, redacted.
    let requests = llm.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0].body;
    assert!(sent.contains("The rules saw `crash-on-start`"), "{sent}");
    assert!(sent.contains("DB_PASSWORD"), "the variable's name is sent: {sent}");
    assert!(sent.contains("postgres://app:[redacted]@db"), "{sent}");
    assert_no_secret_sent(&llm);
}

#[tokio::test]
async fn a_change_outside_the_allow_list_is_refused_and_the_loop_gives_up_as_before() {
    let outside = json!({"field": "datacenters", "group": "app", "task": "", "name": "",
                         "value": "prod", "reason": "prod has APP_ENV set"});
    let cases = [
        // Refused by the answer's schema (the allow-list is its `enum`), even after the
        // repair attempt.
        (outside, "LLM skipped: ", "\"datacenters\" is not one of \"image\", \"port\", \"env\""),
        // Refused by the guardrails: a secret-looking variable is never the LLM's to set.
        (
            env_change("DB_PASSWORD", "guessed"),
            "LLM answer rejected: ",
            "`DB_PASSWORD` looks secret: secrets come from Vault answers, never from the LLM",
        ),
    ];
    for (change, prefix, expected) in cases {
        let nomad = FakeNomad::start(scenario()).unwrap();
        let llm = fake_llm(vec![Rule::task("diagnose", diagnosis(json!([change])))]);
        let dir = tempfile::tempdir().unwrap();
        let path = write_job_file(dir.path());

        let (report, _) = deploy_file(&nomad, &path, &options(Some(llm_client(&llm)))).await;

        assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
        assert_eq!(report.attempts.len(), 1);
        let attempt = &report.attempts[0];
        assert!(attempt.fix.is_none());
        assert_eq!(attempt.llm_notes.len(), 1, "{:?}", attempt.llm_notes);
        let note = &attempt.llm_notes[0];
        assert!(note.starts_with(prefix), "{note}");
        assert!(note.contains(expected), "{note}");
        assert!(note.ends_with("the rules' result stands"), "{note}");
        // The reason is the rules' own, with what the LLM said after it.
        let reason = format!("{} ({note})", rules_reason(&report));
        assert_eq!(attempt.no_fix.as_ref(), Some(&reason));
        assert_eq!(report.gave_up.as_ref(), Some(&reason));
        assert_eq!(
            report.rollback.as_deref(),
            Some("stopped job web: it never ran successfully, so there is no version to revert to")
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), JOB_FILE);
        assert_eq!(nomad.register_calls("web"), 1);
        assert_no_secret_sent(&llm);
    }
}

#[tokio::test]
async fn a_guarded_change_beyond_the_fix_policy_is_not_applied() {
    let nomad = FakeNomad::start(scenario()).unwrap();
    let memory = json!({"field": "memory", "group": "app", "task": "server", "name": "",
                        "value": "4096", "reason": "more memory"});
    let llm = fake_llm(vec![Rule::task("diagnose", diagnosis(json!([memory])))]);
    let dir = tempfile::tempdir().unwrap();
    let path = write_job_file(dir.path());
    let mut options = options(Some(llm_client(&llm)));
    options.policy = FixPolicy { max_memory_mb: 1024, ..FixPolicy::default() };

    let (report, _) = deploy_file(&nomad, &path, &options).await;

    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert_eq!(
        report.attempts[0].llm_notes,
        vec![
            "LLM diagnosed `missing-configuration` and proposed 1 change(s)".to_string(),
            "LLM fix not used: the LLM would give task \"server\" 4096 MB, more than the 1024 \
             MB nomad-spec ever gives automatically"
                .to_string(),
        ]
    );
    assert!(report.attempts[0].fix.is_none());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), JOB_FILE);
    assert_eq!(nomad.register_calls("web"), 1);
    assert_no_secret_sent(&llm);
}

#[tokio::test]
async fn without_an_llm_or_with_one_down_the_loop_is_unchanged_and_says_why() {
    // Not configured: the reason is exactly the rules' own.
    let nomad = FakeNomad::start(scenario()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_job_file(dir.path());
    let (report, progress) = deploy_file(&nomad, &path, &options(None)).await;
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert_eq!(report.attempts.len(), 1);
    assert_eq!(report.attempts[0].no_fix, Some(rules_reason(&report)));
    assert_eq!(report.gave_up, Some(rules_reason(&report)));
    assert_eq!(report.attempts[0].llm_notes, vec!["LLM skipped: not configured".to_string()]);
    assert!(progress.iter().any(|l| l == "LLM skipped: not configured"), "{progress:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), JOB_FILE);
    // The stderr the diagnosis quotes reaches terminals and pull requests: its password is
    // redacted where the logs are read, and the rest of the line stays.
    let reason = report.gave_up.clone().unwrap_or_default();
    assert!(!reason.contains(DB_SECRET), "{reason}");
    assert!(reason.contains("postgres://app:") && reason.contains("APP_ENV must be"), "{reason}");
    assert!(progress.iter().all(|l| !l.contains(DB_SECRET)), "{progress:?}");

    // Down (every call answers 503): the rules' reason, and the note.
    let nomad = FakeNomad::start(scenario()).unwrap();
    let llm = fake_llm(vec![Rule::any(Reply::Status { status: 503, retry_after: None })]);
    let path = write_job_file(dir.path());
    let (report, _) = deploy_file(&nomad, &path, &options(Some(llm_client(&llm)))).await;
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    let notes = &report.attempts[0].llm_notes;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("LLM skipped: HTTP 503 after 3 attempts"), "{notes:?}");
    assert!(notes[0].ends_with("the rules' result stands"), "{notes:?}");
    assert_eq!(report.gave_up, Some(format!("{} ({})", rules_reason(&report), notes[0])));
    assert_eq!(llm.requests().len(), 3, "one call and two retries");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), JOB_FILE);
    assert_no_secret_sent(&llm);
}

fn failure(events: Vec<Value>, stderr: &[&str], oom_killed: bool) -> Failure {
    let events: Vec<TaskEvent> =
        events.into_iter().map(|e| serde_json::from_value(e).unwrap()).collect();
    Failure::from_evidence(Evidence {
        group: "app".into(),
        task: "server".into(),
        events,
        oom_killed,
        stderr_tail: stderr.iter().map(|l| l.to_string()).collect(),
        ..Evidence::default()
    })
}

/// The job of `JOB_FILE` as Nomad's API JSON.
fn api_job() -> Value {
    nomad_spec::jobspec::parse::parse_job(JOB_FILE, "web.nomad.hcl", &ParseOptions::default())
        .unwrap_or_else(|d| panic!("{d:?}"))
}

#[tokio::test]
async fn an_unknown_failure_gets_the_llm_fix_and_a_known_one_the_rules_fix() {
    // A task that exits 0 at once (a container whose entrypoint needs a mode): nothing the
    // rules know.
    let unknown = failure(
        vec![
            json!({"Type": "Terminated", "ExitCode": 0, "DisplayMessage": "Exit Code: 0"}),
            json!({"Type": "Not Restarting", "DisplayMessage":
                "Exceeded allowed attempts 2 in interval 30m0s and mode is \"fail\""}),
        ],
        &["usage: web (set APP_MODE=serve or APP_MODE=migrate); nothing to do, exiting"],
        false,
    );
    assert_eq!(unknown.diagnosis.category, Category::Unknown);
    let llm = fake_llm(vec![Rule::task(
        "diagnose",
        Reply::Json(json!({
            "category": "bad-command",
            "explanation": "The entrypoint prints its usage and exits 0: `nothing to do`.",
            "changes": [env_change("APP_MODE", "serve")]
        })),
    )]);
    let client = llm_client(&llm);
    let next =
        propose_next_fix(&unknown, &api_job(), &FixPolicy::default(), Some(&client), None).await;
    assert_eq!(
        next.llm_notes,
        vec!["LLM diagnosed `bad-command` and proposed 1 change(s)".to_string()]
    );
    let fix = next.fix.unwrap_or_else(|why| panic!("no fix: {why}"));
    assert_eq!(fix.origin, FixOrigin::Llm { category: "bad-command".into() });
    let env = fix.spec.groups()[0].tasks[0].env.clone().unwrap_or_default();
    assert_eq!(env.get("APP_MODE").map(String::as_str), Some("serve"));
    let sent = &llm.requests()[0].body;
    assert!(sent.contains("The rules did not recognise the failure."), "{sent}");
    assert!(sent.contains("nothing to do, exiting"), "{sent}");
    assert_no_secret_sent(&llm);

    // Out of memory: the rules have a fix, and the LLM is not asked.
    let oom = failure(
        vec![json!({"Type": "Terminated", "ExitCode": 137, "DisplayMessage": "OOM Killed",
                    "Details": {"oom_killed": "true"}})],
        &[],
        true,
    );
    let next = propose_next_fix(&oom, &api_job(), &FixPolicy::default(), Some(&client), None).await;
    let fix = next.fix.unwrap_or_else(|why| panic!("no fix: {why}"));
    assert_eq!(fix.origin, FixOrigin::Rules);
    assert!(next.llm_notes.is_empty());
    assert_eq!(llm.requests().len(), 1, "the LLM was asked about a failure the rules fix");

    // A missing image: no rule fixes it and it is not the LLM's to guess either.
    let missing = failure(
        vec![json!({"Type": "Driver Failure", "DisplayMessage":
            "Failed to pull `ghcr.io/acme/web:1.4`: manifest unknown",
            "DriverError": "Failed to pull `ghcr.io/acme/web:1.4`: manifest unknown"})],
        &[],
        false,
    );
    assert_eq!(missing.diagnosis.category, Category::ImageNotFound);
    let next =
        propose_next_fix(&missing, &api_job(), &FixPolicy::default(), Some(&client), None).await;
    assert!(next.fix.is_err());
    assert_eq!(
        next.llm_notes,
        vec!["LLM not asked: the rules recognised the failure (image-not-found)".to_string()]
    );
    assert_eq!(llm.requests().len(), 1);

    // A diagnosis without a change: no fix, and the explanation is passed on.
    let llm = fake_llm(vec![Rule::task(
        "diagnose",
        Reply::Json(json!({
            "category": "dependency-unavailable",
            "explanation": "The database at db:5432 refuses connections.",
            "changes": []
        })),
    )]);
    let next = propose_next_fix(
        &unknown,
        &api_job(),
        &FixPolicy::default(),
        Some(&llm_client(&llm)),
        None,
    )
    .await;
    let reason = next.fix.expect_err("no change, no fix");
    assert_eq!(
        next.llm_notes,
        vec![
            "LLM diagnosed `dependency-unavailable` without a fix".to_string(),
            "LLM's explanation: The database at db:5432 refuses connections.".to_string(),
        ]
    );
    assert!(reason.ends_with(&format!("({})", next.llm_notes.join("; "))), "{reason}");
}

#[test]
fn the_binary_uses_the_llm_from_the_environment() {
    let nomad = FakeNomad::start(scenario()).unwrap();
    let llm = fake_llm(vec![Rule::task(
        "diagnose",
        diagnosis(json!([env_change("APP_ENV", "production")])),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let path = write_job_file(dir.path());
    let output = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(["deploy", path.to_str().unwrap(), "--fix"])
        .env("NOMAD_ADDR", nomad.url())
        .env_remove("NOMAD_TOKEN")
        .env_remove("NOMAD_NAMESPACE")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env("NOMAD_SPEC_LLM_BASE_URL", llm.url())
        .env("NOMAD_SPEC_LLM_API_KEY", API_KEY)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("job web: healthy after 1 fix(es)\n"), "{stdout}");
    assert!(stdout.contains("  fix: LLM diagnosis (`missing-configuration`): "), "{stdout}");
    assert!(
        stdout.contains("  llm: LLM diagnosed `missing-configuration` and proposed 1 change(s)\n"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), fixed_file());
    for text in [&stdout, &stderr] {
        assert!(!text.contains(API_KEY), "the API key was printed");
    }
    assert_no_secret_sent(&llm);
}

/// An episode memory keeps: a `category` failure of `stack` in `repository` with `stderr`,
/// fixed (or not) with `fix`.
fn episode(
    repository: &str,
    category: &str,
    stack: &str,
    stderr: &str,
    fix: &str,
) -> nomad_spec::memory::Episode {
    use nomad_spec::memory::{embedding, episode_text, Context, Episode, Lesson, Outcome};
    let stderr = vec![stderr.to_string()];
    let explanation = format!("{category} of the {stack} service");
    Episode {
        id: format!("{repository}-{category}"),
        context: Context {
            repository: repository.into(),
            cluster: "prod".into(),
            date: "2026-11-20".into(),
        },
        stack: Some(stack.into()),
        category: category.into(),
        vector: embedding::local(&episode_text(category, Some(stack), &explanation, &stderr)),
        explanation,
        events: Vec::new(),
        stderr,
        job: Default::default(),
        fix: Some(Lesson::Other { summary: fix.into() }),
        outcome: Outcome::Healthy,
    }
}

#[tokio::test]
async fn the_llm_is_shown_the_earlier_failures_memory_holds_most_like_this_one() {
    use nomad_spec::memory::store::{Embedder, Opened};
    let mut memory = nomad_spec::memory::Memory::new();
    for (repository, category, stack, stderr, fix) in [
        ("acme/billing", "out-of-memory", "java/spring-boot", "java.lang.OutOfMemoryError", "1 GB"),
        ("acme/site", "health-check-failing", "node/express", "GET /health 404", "path /ping"),
        (
            "acme/api",
            "crash-on-start",
            "node/express",
            "Error: APP_ENV must be one of production, staging (got \"\"); refusing to start",
            "set APP_ENV=production",
        ),
        ("acme/jobs", "image-not-found", "python/flask", "manifest unknown", "a tag"),
    ] {
        memory.add_episode(episode(repository, category, stack, stderr, fix));
    }
    let opened = Opened {
        memory,
        store: None,
        cluster: "prod".into(),
        note: None,
        embedder: Embedder::Local,
    };
    let nomad = FakeNomad::start(scenario()).unwrap();
    // The diagnosis that fixes it is scripted only for a prompt showing the earlier failure.
    let llm = fake_llm(vec![Rule::task(
        "diagnose",
        diagnosis(json!([env_change("APP_ENV", "production")])),
    )
    .containing("set APP_ENV=production")]);
    let dir = tempfile::tempdir().unwrap();
    let path = write_job_file(dir.path());
    let options =
        DeployOptions { memory: Some(Arc::new(opened)), ..options(Some(llm_client(&llm))) };

    let (report, _) = deploy_file(&nomad, &path, &options).await;

    assert_eq!(report.outcome, Outcome::Healthy, "{report:#?}");
    let body: Value = serde_json::from_str(&llm.requests()[0].body).unwrap();
    let sent = body["messages"].as_array().unwrap().iter().filter_map(|m| m["content"].as_str());
    let sent: String = sent.collect::<Vec<_>>().join("\n");
    let shown = sent.split("<untrusted source=\"earlier failures from memory\">").nth(1);
    let shown = shown.and_then(|s| s.split("</untrusted>").next()).expect(&sent);
    let summaries: Vec<&str> = shown.lines().filter(|l| l.starts_with("- ")).collect();
    assert_eq!(summaries.len(), 3, "the three most similar: {shown}");
    assert_eq!(
        summaries[0],
        "- crash-on-start on node/express in acme/api (prod, 2026-11-20): fixed with set \
         APP_ENV=production, healthy"
    );
    assert_no_secret_sent(&llm);
}
