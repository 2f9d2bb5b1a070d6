//! The deploy loop end to end against the fake Nomad: the library (`nomad::deploy`) and the
//! real binary (`nomad-spec deploy`, `plan`, `status`) with `NOMAD_ADDR` pointing at it.
//! Each test starts its own fake with a scripted scenario. Most job files are JSON (exact
//! assertions on fields); the HCL cases check that fixes land in the user's file with its
//! comments and layout kept.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use fakes::nomad::{FakeNomad, Fault, JobRule, Node, Scenario, Token};
use nomad_spec::nomad::deploy::{deploy, DeployOptions, DeployReport, Outcome};
use nomad_spec::nomad::diagnose::Category;
use nomad_spec::nomad::fix::FixPolicy;
use nomad_spec::nomad::job_file::JobFile;
use nomad_spec::nomad::watch::{Verdict, WatchOptions};
use nomad_spec::nomad::{NomadClient, NomadConfig, NomadError};
use nomad_spec::settings::RetryPolicy;
use serde_json::{json, Value};

/// A service job with a deployment: one group, one docker task, an HTTP check.
fn web_job(memory: i64, check_path: &str) -> Value {
    json!({
        "ID": "web",
        "Name": "web",
        "Type": "service",
        "Datacenters": ["dc1"],
        "Update": {"MaxParallel": 1, "HealthCheck": "checks", "HealthyDeadline": 60_000_000_000i64,
                   "ProgressDeadline": 600_000_000_000i64},
        "TaskGroups": [{
            "Name": "app",
            "Count": 2,
            "Networks": [{"Mode": "bridge", "DynamicPorts": [{"Label": "http", "To": 8080}]}],
            "Services": [{"Name": "web", "PortLabel": "http", "Provider": "nomad",
                "Checks": [{"Name": "alive", "Type": "http", "Path": check_path,
                            "Interval": 10_000_000_000i64, "Timeout": 2_000_000_000i64}]}],
            "Tasks": [{
                "Name": "server",
                "Driver": "docker",
                "Config": {"image": "ghcr.io/acme/web:1.4", "ports": ["http"]},
                "Resources": {"CPU": 200, "MemoryMB": memory}
            }]
        }]
    })
}

/// Writes a job into a temporary JSON file, in the `{"Job": ...}` envelope.
fn job_file(dir: &Path, job: &Value) -> PathBuf {
    let path = dir.join("web.nomad.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json!({"Job": job})).unwrap()).unwrap();
    path
}

fn read_job(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    document["Job"].clone()
}

fn client(fake: &FakeNomad, token: Option<&str>) -> NomadClient {
    NomadClient::new(NomadConfig {
        address: fake.url(),
        token: token.map(Into::into),
        // Retries wait milliseconds, not the default's seconds.
        retry: RetryPolicy {
            first_wait: Duration::from_millis(10),
            max_wait: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ..NomadConfig::default()
    })
    .unwrap()
}

fn options(fix: bool) -> DeployOptions {
    DeployOptions {
        fix,
        watch: WatchOptions { deadline: Duration::from_secs(60), ..WatchOptions::default() },
        ..DeployOptions::default()
    }
}

async fn run_deploy(
    fake: &FakeNomad,
    job: Value,
    file: Option<&mut JobFile>,
    options: &DeployOptions,
) -> Result<DeployReport, NomadError> {
    let mut lines = Vec::new();
    let result =
        deploy(&client(fake, None), job, file, options, &mut |l| lines.push(l.to_string())).await;
    eprintln!("progress:\n  {}", lines.join("\n  "));
    result
}

/// Runs the binary with `NOMAD_ADDR` (and `NOMAD_TOKEN`) set for the child only.
fn nomad_spec(fake_url: &str, token: Option<&str>, args: &[&str]) -> Output {
    binary(fake_url, token, args).output().unwrap()
}

/// Runs the binary as `nomad_spec` does, in `dir` (where it reads .nomad-spec.toml).
fn nomad_spec_in(dir: &Path, fake_url: &str, args: &[&str]) -> Output {
    binary(fake_url, None, args).current_dir(dir).output().unwrap()
}

fn binary(fake_url: &str, token: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nomad-spec"));
    command.args(args).env("NOMAD_ADDR", fake_url).env_remove("NOMAD_NAMESPACE");
    // The rules alone: an LLM configured on the developer's machine is not asked.
    for name in ["NOMAD_SPEC_LLM_BASE_URL", "OPENAI_BASE_URL"] {
        command.env_remove(name);
    }
    match token {
        Some(token) => command.env("NOMAD_TOKEN", token),
        None => command.env_remove("NOMAD_TOKEN"),
    };
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn failure_category(verdict: &Verdict) -> Option<Category> {
    match verdict {
        Verdict::Failed(failure) => Some(failure.diagnosis.category),
        _ => None,
    }
}

#[tokio::test]
async fn healthy_the_first_time() {
    let fake = FakeNomad::start(Scenario::default()).unwrap();
    let report = run_deploy(&fake, web_job(512, "/health"), None, &options(true)).await.unwrap();
    assert_eq!(report.outcome, Outcome::Healthy, "{report:#?}");
    assert_eq!(report.attempts.len(), 1);
    assert!(matches!(report.attempts[0].verdict, Verdict::Healthy { version: 0, allocations: 2 }));
    assert_eq!(fake.register_calls("web"), 1);
    assert!(report.rollback.is_none());
}

#[test]
fn binary_deploys_a_healthy_job() {
    let fake = FakeNomad::start(Scenario::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = job_file(dir.path(), &web_job(512, "/health"));
    let output = nomad_spec(&fake.url(), None, &["deploy", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}{}", text(&output.stdout), text(&output.stderr));
    assert!(text(&output.stdout).starts_with("job web: healthy\n"), "{}", text(&output.stdout));

    let status = nomad_spec(&fake.url(), None, &["status", "web"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    let shown = text(&status.stdout);
    assert!(shown.contains("Allocations: 2 running"), "{shown}");
    assert!(shown.contains("successful"), "{shown}");

    let missing = nomad_spec(&fake.url(), None, &["status", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(text(&missing.stderr), "error: job nope not found in namespace default\n");
}

#[test]
fn oom_is_fixed_in_one_iteration_and_written_into_the_file() {
    let fake =
        FakeNomad::start(Scenario::default().with_rule(JobRule::for_job("web").oom_below_mb(400)))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Both allocations in one batch: the fake's rolling update does not yet replace an old
    // version's failed allocation in a later batch (real Nomad does).
    let mut job = web_job(256, "/health");
    job["Update"]["MaxParallel"] = json!(2);
    let path = job_file(dir.path(), &job);
    let output = nomad_spec(&fake.url(), None, &["deploy", path.to_str().unwrap(), "--fix"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", text(&output.stderr));
    assert!(stdout.starts_with("job web: healthy after 1 fix(es)"), "{stdout}");
    assert!(stdout.contains("failed (out-of-memory)"), "{stdout}");
    assert!(stdout.contains("Raised memory to 512 MB"), "{stdout}");
    let job = read_job(&path);
    assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"], 512);
    // Everything the fix did not touch is as it was.
    assert_eq!(
        job["TaskGroups"][0]["Services"],
        web_job(256, "/health")["TaskGroups"][0]["Services"]
    );
    assert_eq!(job["Update"]["MaxParallel"], 2);
    assert_eq!(fake.register_calls("web"), 2);
}

#[test]
fn oom_fix_is_written_into_an_hcl_file_keeping_its_comments() {
    let fake =
        FakeNomad::start(Scenario::default().with_rule(JobRule::for_job("web").oom_below_mb(400)))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.nomad.hcl");
    let original = r#"# The web job, written by a person.
job "web" {
  datacenters = ["dc1"]

  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    update {
      max_parallel     = 2
      healthy_deadline = "1m"
    }

    task "server" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/web:1.4"
        ports = ["http"]
      }

      resources {
        cpu    = 200 # MHz
        memory = 256 # keep an eye on this
      }
    }
  }
}
"#;
    std::fs::write(&path, original).unwrap();
    let output = nomad_spec(&fake.url(), None, &["deploy", path.to_str().unwrap(), "--fix"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", text(&output.stderr));
    assert!(stdout.starts_with("job web: healthy after 1 fix(es)"), "{stdout}");
    let fixed = std::fs::read_to_string(&path).unwrap();
    assert_eq!(fixed, original.replace("memory = 256 #", "memory = 512 #"));
}

#[tokio::test]
async fn port_collision_is_fixed_with_a_dynamic_port() {
    let nodes = vec![Node { count: 3, used_ports: vec![80], ..Node::default() }];
    let fake = FakeNomad::start(Scenario::default().with_nodes(nodes)).unwrap();
    let mut job = web_job(512, "/health");
    job["TaskGroups"][0]["Networks"] =
        json!([{"Mode": "bridge", "ReservedPorts": [{"Label": "http", "Value": 80, "To": 8080}]}]);
    let dir = tempfile::tempdir().unwrap();
    let path = job_file(dir.path(), &job);
    let mut file = JobFile::read(&path).unwrap();
    let report = run_deploy(&fake, job, Some(&mut file), &options(true)).await.unwrap();
    assert_eq!(report.outcome, Outcome::Healthy, "{report:#?}");
    assert_eq!(failure_category(&report.attempts[0].verdict), Some(Category::PortCollision));
    assert_eq!(
        report.attempts[0].registered_version, None,
        "a plan that cannot place is not registered"
    );
    let written = read_job(&path);
    let network = &written["TaskGroups"][0]["Networks"][0];
    assert_eq!(network["ReservedPorts"], json!([]));
    assert_eq!(network["DynamicPorts"][0]["Label"], "http");
    assert_eq!(network["DynamicPorts"][0]["To"], 8080);
}

#[test]
fn missing_image_is_unfixable_and_not_retried() {
    let fake = FakeNomad::start(
        Scenario::default()
            .with_rule(JobRule::for_job("web").missing_image("ghcr.io/acme/web:1.4")),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = job_file(dir.path(), &web_job(512, "/health"));
    let before = std::fs::read_to_string(&path).unwrap();
    let output = nomad_spec(&fake.url(), None, &["deploy", path.to_str().unwrap(), "--fix"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("failed (image-not-found)"), "{stdout}");
    assert!(stdout.contains("ghcr.io/acme/web:1.4"), "{stdout}");
    assert!(stdout.contains("no automatic fix"), "{stdout}");
    assert!(stdout.contains("stopped job web: it never ran successfully"), "{stdout}");
    assert_eq!(fake.register_calls("web"), 1, "nothing retried");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before, "the file is untouched");
    assert_eq!(fake.stops().len(), 1);
}

#[tokio::test]
async fn failing_check_is_fixed_with_a_path_the_repository_shows() {
    let fake = FakeNomad::start(
        Scenario::default().with_rule(JobRule::for_job("web").failing_check("/health")),
    )
    .unwrap();
    let mut options = options(true);
    options.policy =
        FixPolicy { known_health_paths: vec!["/healthz".into()], ..FixPolicy::default() };
    let report = run_deploy(&fake, web_job(512, "/health"), None, &options).await.unwrap();
    assert_eq!(report.outcome, Outcome::Healthy, "{report:#?}");
    assert_eq!(failure_category(&report.attempts[0].verdict), Some(Category::HealthCheckFailing));
    assert!(report.attempts[0].fix.as_ref().unwrap().explanation.contains("/healthz"));
}

#[test]
fn binary_corrects_a_check_path_with_the_evidence_given() {
    let fake = FakeNomad::start(
        Scenario::default().with_rule(JobRule::for_job("web").failing_check("/health")),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = job_file(dir.path(), &web_job(512, "/health"));
    let file = path.to_str().unwrap();
    let output =
        nomad_spec(&fake.url(), None, &["deploy", file, "--fix", "--health-path", "/healthz"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    let checks = &read_job(&path)["TaskGroups"][0]["Services"][0]["Checks"];
    assert_eq!(checks[0]["Path"], "/healthz");
}

#[test]
fn failing_check_without_evidence_gives_up_with_a_revert() {
    let fake = FakeNomad::start(
        Scenario::default().with_rule(JobRule::for_job("web").failing_check("/broken")),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Version 0 is healthy and becomes stable.
    let path = job_file(dir.path(), &web_job(512, "/health"));
    let first = nomad_spec(&fake.url(), None, &["deploy", path.to_str().unwrap()]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stdout));
    // Version 1 points its check at a path that always fails.
    let path = job_file(dir.path(), &web_job(512, "/broken"));
    let output = nomad_spec(&fake.url(), None, &["deploy", path.to_str().unwrap(), "--fix"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("failed (health-check-failing)"), "{stdout}");
    assert!(stdout.contains("reverted job web to version 0"), "{stdout}");
    let reverts = fake.reverts();
    assert!(reverts.iter().any(|r| r.to_version == 0 && !r.automatic), "{reverts:?}");
}

#[test]
fn filtering_constraint_is_diagnosed_in_words() {
    let fake = FakeNomad::start(Scenario::default()).unwrap();
    let mut job = web_job(512, "/health");
    job["Constraints"] =
        json!([{"LTarget": "${attr.cpu.arch}", "RTarget": "arm64", "Operand": "="}]);
    let dir = tempfile::tempdir().unwrap();
    let path = job_file(dir.path(), &job);

    let plan = nomad_spec(&fake.url(), None, &["plan", path.to_str().unwrap()]);
    let shown = text(&plan.stdout);
    assert_eq!(plan.status.code(), Some(1), "{shown}{}", text(&plan.stderr));
    assert!(shown.contains("3 nodes filtered by constraint ${attr.cpu.arch} = arm64"), "{shown}");

    let output = nomad_spec(&fake.url(), None, &["deploy", path.to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("failed (constraint-filtered)"), "{stdout}");
    assert!(stdout.contains("no node satisfies the job's constraints"), "{stdout}");
    assert!(stdout.contains("nothing was registered"), "{stdout}");
    assert_eq!(fake.register_calls("web"), 0);

    let fixed = nomad_spec(&fake.url(), None, &["deploy", path.to_str().unwrap(), "--fix"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed.stdout));
    assert_eq!(read_job(&path)["Constraints"], json!([]));
}

/// Issue 13: `.nomad-spec.toml` pins the job to amd64 (its images are built for it) and the
/// cluster has only arm64 nodes. Removing the constraint would start the tasks where they
/// crash with exec format errors, so the fix loop keeps it and says what a person can do.
#[test]
fn a_constraint_the_conventions_set_is_kept_and_the_alternatives_are_said() {
    let arm = vec![Node { count: 3, cpu_arch: "arm64".into(), ..Node::default() }];
    let fake = FakeNomad::start(Scenario::default().with_nodes(arm)).unwrap();
    let repository = tempfile::tempdir().unwrap();
    std::fs::write(repository.path().join(".nomad-spec.toml"), "architecture = \"amd64\"\n")
        .unwrap();
    let mut job = web_job(512, "/health");
    job["Constraints"] =
        json!([{"LTarget": "${attr.cpu.arch}", "RTarget": "amd64", "Operand": "="}]);
    let path = job_file(repository.path(), &job);
    let before = std::fs::read_to_string(&path).unwrap();

    let output =
        nomad_spec_in(repository.path(), &fake.url(), &["deploy", "web.nomad.json", "--fix"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("failed (constraint-filtered)"), "{stdout}");
    assert!(
        stdout.contains(
            "  no fix: no node satisfies constraint `${attr.cpu.arch} = amd64`, and no fix \
             removes it: `architecture = \"amd64\"` in .nomad-spec.toml sets it on purpose"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("build the image for arm64 too"), "{stdout}");
    assert!(stdout.contains("pin the job to amd64 nodes"), "{stdout}");
    assert!(stdout.contains("then: nothing was registered"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before, "the file keeps its constraint");
    assert_eq!(fake.register_calls("web"), 0);
}

/// Issue 13: `--max-fix-iterations N` allows exactly N fixes; the attempt after the Nth
/// fix that still fails ends the loop with the give-up action. The task needs more memory
/// than any of these fixes gives it, so every attempt fails with a fix to try.
#[tokio::test]
async fn the_loop_makes_exactly_max_fix_iterations_fixes_then_gives_up() {
    for max in 0..=2u32 {
        let fake = FakeNomad::start(
            Scenario::default().with_rule(JobRule::for_job("web").oom_below_mb(3000)),
        )
        .unwrap();
        let mut job = web_job(256, "/health");
        job["Update"]["MaxParallel"] = json!(2);
        let mut options = options(true);
        options.max_fix_iterations = max;
        let report = run_deploy(&fake, job, None, &options).await.unwrap();
        assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
        assert_eq!(report.fixes().count(), max as usize, "{report:#?}");
        assert_eq!(report.attempts.len(), max as usize + 1, "{report:#?}");
        assert_eq!(fake.register_calls("web"), max as usize + 1);
        for attempt in &report.attempts {
            assert_eq!(failure_category(&attempt.verdict), Some(Category::OutOfMemory));
        }
        let gave_up = report.gave_up.as_deref().unwrap_or_default();
        assert!(gave_up.starts_with(&format!("still failing after {max} fix(es): ")), "{gave_up}");
        assert!(report.attempts.last().is_some_and(|a| a.fix.is_none() && a.no_fix.is_none()));
        assert_eq!(
            report.rollback.as_deref(),
            Some("stopped job web: it never ran successfully, so there is no version to revert to")
        );
        assert_eq!(fake.stops().len(), 1);
    }
}

/// The same cap through the binary's `--max-fix-iterations`, with the fixes in the file.
#[test]
fn binary_stops_fixing_after_max_fix_iterations() {
    let fake =
        FakeNomad::start(Scenario::default().with_rule(JobRule::for_job("web").oom_below_mb(3000)))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut job = web_job(256, "/health");
    job["Update"]["MaxParallel"] = json!(2);
    let path = job_file(dir.path(), &job);
    let file = path.to_str().unwrap();
    let output =
        nomad_spec(&fake.url(), None, &["deploy", file, "--fix", "--max-fix-iterations", "2"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("attempt 3: failed (out-of-memory)"), "{stdout}");
    assert!(!stdout.contains("attempt 4"), "{stdout}");
    assert_eq!(stdout.matches("  fix: ").count(), 2, "{stdout}");
    assert!(stdout.contains("gave up: still failing after 2 fix(es)"), "{stdout}");
    assert!(stdout.contains("then: stopped job web"), "{stdout}");
    assert_eq!(read_job(&path)["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"], 1024);
    assert_eq!(fake.register_calls("web"), 3);
}

#[test]
fn nomad_down_exits_4() {
    let nomad_down = fakes::faults::refused_url();
    let dir = tempfile::tempdir().unwrap();
    let path = job_file(dir.path(), &web_job(512, "/health"));
    let output = nomad_spec(&nomad_down, None, &["deploy", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("cannot reach Nomad at http://127.0.0.1:"));
    let plan = nomad_spec(&nomad_down, None, &["plan", path.to_str().unwrap()]);
    assert_eq!(plan.status.code(), Some(255));
}

#[test]
fn wrong_token_exits_5_without_showing_it() {
    let fake = FakeNomad::start(Scenario::default().with_token(Token::management("right-secret")))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = job_file(dir.path(), &web_job(512, "/health"));
    let output = nomad_spec(&fake.url(), Some("wrong-secret"), &["deploy", path.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains(
            "permission denied: the token in NOMAD_TOKEN cannot plan job web in namespace default"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-secret") && !text(&output.stdout).contains("wrong-secret"));
    assert_eq!(fake.register_calls("web"), 0);
    let ok = nomad_spec(&fake.url(), Some("right-secret"), &["deploy", path.to_str().unwrap()]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
}

#[tokio::test]
async fn concurrent_modification_is_refused() {
    let fake = FakeNomad::start(Scenario::default()).unwrap();
    let url = fake.url();
    let mut someone_else = Some(move || {
        // Another operator registers a version between nomad-spec's plan and its register.
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let other =
                    NomadClient::new(NomadConfig { address: url, ..NomadConfig::default() })
                        .unwrap();
                other.register(&web_job(1024, "/health"), None).await.unwrap();
            });
        })
        .join()
        .unwrap();
    });
    let mut progress = |line: &str| {
        if line.starts_with("plan:") {
            if let Some(register) = someone_else.take() {
                register();
            }
        }
    };
    let err =
        deploy(&client(&fake, None), web_job(512, "/health"), None, &options(true), &mut progress)
            .await
            .unwrap_err();
    assert!(matches!(err, NomadError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("nothing was registered"), "{err}");
    let job = fake.job("web").unwrap();
    assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"], 1024, "theirs stands");
}

#[test]
fn binary_exits_3_on_concurrent_modification() {
    // The binary's register waits 3 s at the fake; another register lands meanwhile.
    let fake = FakeNomad::start(Scenario::default().with_fault(Fault {
        method: Some("POST".into()),
        path: Some("/v1/jobs".into()),
        delay_ms: 3000,
        times: 1,
        ..Fault::default()
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = job_file(dir.path(), &web_job(512, "/health"));
    let child = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(["deploy", path.to_str().unwrap()])
        .env("NOMAD_ADDR", fake.url())
        .env_remove("NOMAD_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let planned = (0..3000).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        fake.requests().iter().any(|r| r.path == "/v1/job/web/plan")
    });
    assert!(planned, "the binary never planned");
    // PUT /v1/job/web is a register too, and the injected delay does not match it.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    nomad_spec::tls::install_crypto_provider();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let response = http
            .put(format!("{}/v1/job/web", fake.url()))
            .json(&json!({"Job": web_job(1024, "/health")}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    });
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}{}", text(&output.stdout));
    assert!(stderr.contains("was changed on Nomad since it was planned"), "{stderr}");
}

#[tokio::test]
async fn reads_recover_from_server_errors_and_a_failed_register_registers_nothing() {
    let fake = FakeNomad::start(
        Scenario::default().with_fault(Fault::server_error(2, Some("/v1/job/web/allocations"))),
    )
    .unwrap();
    let report = run_deploy(&fake, web_job(512, "/health"), None, &options(false)).await.unwrap();
    assert_eq!(report.outcome, Outcome::Healthy, "{report:#?}");

    // A register with EnforceIndex cannot register twice, so a 500 is tried again (issue 13)
    // until the tries run out.
    let fake = FakeNomad::start(Scenario::default().with_fault(Fault {
        method: Some("POST".into()),
        path: Some("/v1/jobs".into()),
        status: Some(500),
        times: 4,
        ..Fault::default()
    }))
    .unwrap();
    let err = run_deploy(&fake, web_job(512, "/health"), None, &options(false)).await.unwrap_err();
    assert!(matches!(err, NomadError::Server { status: 500, .. }), "{err:?}");
    assert!(err.to_string().contains("(4 tries in "), "{err}");
    assert!(fake.job("web").is_none(), "nothing half-registered");
}

#[tokio::test]
async fn crashes_that_recover_are_not_a_failure() {
    // The first two allocations crash; Nomad replaces them within the progress deadline.
    let fake = FakeNomad::start(
        Scenario::default()
            .with_rule(JobRule::for_job("web").crash_first_allocs(2, &["panic: cache not warm"])),
    )
    .unwrap();
    let report = run_deploy(&fake, web_job(512, "/health"), None, &options(true)).await.unwrap();
    assert_eq!(report.outcome, Outcome::Healthy, "{report:#?}");
    assert_eq!(report.attempts.len(), 1, "no fix was needed");
    let failed = fake.allocations("web").iter().filter(|a| a["ClientStatus"] == "failed").count();
    assert_eq!(failed, 2, "the crashes happened and were waited out");
}

#[tokio::test]
async fn crashes_that_never_recover_carry_exit_code_and_stderr() {
    let fake =
        FakeNomad::start(Scenario::default().with_rule(
            JobRule::for_job("web").crash_first_allocs(1000, &["panic: no DATABASE_URL"]),
        ))
        .unwrap();
    let report = run_deploy(&fake, web_job(512, "/health"), None, &options(true)).await.unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    let Verdict::Failed(failure) = &report.attempts[0].verdict else { panic!("{report:#?}") };
    assert_eq!(failure.diagnosis.category, Category::CrashOnStart);
    assert_eq!(failure.evidence.exit_code, Some(1));
    assert!(failure.evidence.stderr_tail.iter().any(|l| l.contains("no DATABASE_URL")));
    assert!(failure.diagnosis.explanation.contains("exited with code 1"));
    assert!(report.attempts[0].no_fix.is_some(), "a crash has no automatic fix");
    assert_eq!(fake.register_calls("web"), 1);
    // The JSON report carries the evidence: category, exit code, events, stderr.
    let json = serde_json::to_value(&report).unwrap();
    let verdict = &json["attempts"][0]["verdict"];
    assert_eq!(verdict["verdict"], "failed");
    assert_eq!(verdict["diagnosis"]["category"], "crash-on-start");
    assert_eq!(verdict["evidence"]["exit_code"], 1);
    let events = verdict["evidence"]["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e["Type"] == "Terminated" && e["ExitCode"] == 1));
}

#[tokio::test]
async fn jobs_without_a_deployment_are_judged_from_allocations() {
    let fake = FakeNomad::start(Scenario::default()).unwrap();
    let mut job = web_job(512, "/health");
    job.as_object_mut().unwrap().remove("Update");
    let report = run_deploy(&fake, job, None, &options(false)).await.unwrap();
    assert!(
        matches!(report.attempts[0].verdict, Verdict::Healthy { allocations: 2, .. }),
        "{report:#?}"
    );
    assert!(fake.deployments("web").is_empty());

    let mut batch = web_job(512, "/health");
    batch["ID"] = json!("report");
    batch["Name"] = json!("report");
    batch["Type"] = json!("batch");
    batch.as_object_mut().unwrap().remove("Update");
    let report = run_deploy(&fake, batch, None, &options(false)).await.unwrap();
    assert_eq!(report.outcome, Outcome::Healthy, "{report:#?}");
}

#[tokio::test]
async fn a_deadline_ends_the_watch_and_the_job_is_stopped() {
    // With the manual clock nothing ever happens: only the deadline can end the watch.
    let fake = FakeNomad::start(Scenario::default().with_manual_clock()).unwrap();
    let mut options = options(true);
    options.watch.deadline = Duration::from_millis(300);
    let report = run_deploy(&fake, web_job(512, "/health"), None, &options).await.unwrap();
    assert_eq!(report.outcome, Outcome::TimedOut, "{report:#?}");
    assert_eq!(report.attempts.len(), 1, "a timeout is not retried");
    assert!(report.rollback.as_deref().unwrap_or_default().starts_with("stopped job web"));
    assert_eq!(fake.stops().len(), 1);
}

#[tokio::test]
async fn without_stable_versions_the_version_that_ran_before_is_restored() {
    let fake = FakeNomad::start(
        Scenario::default().with_rule(JobRule::for_job("web").missing_image("ghcr.io/acme/web:9")),
    )
    .unwrap();
    // No update block: no deployments, so Nomad never marks a version stable.
    let mut job = web_job(512, "/health");
    job.as_object_mut().unwrap().remove("Update");
    let first = run_deploy(&fake, job.clone(), None, &options(false)).await.unwrap();
    assert_eq!(first.outcome, Outcome::Healthy, "{first:#?}");
    job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("ghcr.io/acme/web:9");
    let report = run_deploy(&fake, job, None, &options(true)).await.unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert_eq!(
        report.rollback.as_deref(),
        Some("reverted job web to version 0, the version that ran before this deploy")
    );
    assert!(fake.reverts().iter().any(|r| r.to_version == 0), "{:?}", fake.reverts());
    assert!(fake.stops().is_empty());
}

#[tokio::test]
async fn a_blocked_evaluation_is_a_placement_failure() {
    let fake = FakeNomad::start(Scenario::default()).unwrap();
    let client = client(&fake, None);
    let mut job = web_job(512, "/health");
    job["Constraints"] =
        json!([{"LTarget": "${attr.cpu.arch}", "RTarget": "arm64", "Operand": "="}]);
    // Registered without a plan, as another tool would: only the evaluation tells.
    let register = client.register(&job, None).await.unwrap();
    let version = client.job("web").await.unwrap().value.version;
    let options = WatchOptions { deadline: Duration::from_secs(30), ..WatchOptions::default() };
    let verdict =
        nomad_spec::nomad::watch::watch(&client, &job, version, &register, &options, &mut |_| {})
            .await
            .unwrap();
    let Verdict::Failed(failure) = verdict else { panic!("{verdict:?}") };
    assert_eq!(failure.diagnosis.category, Category::ConstraintFiltered);
    assert!(
        failure.diagnosis.explanation.contains("filtered by constraint ${attr.cpu.arch} = arm64"),
        "{}",
        failure.diagnosis.explanation
    );
}

#[tokio::test]
async fn a_job_goes_to_the_namespace_it_names() {
    let scenario =
        Scenario { namespaces: vec!["default".into(), "apps".into()], ..Scenario::default() };
    let fake = FakeNomad::start(scenario).unwrap();
    let mut job = web_job(512, "/health");
    job["Namespace"] = json!("apps");
    let report = run_deploy(&fake, job, None, &options(false)).await.unwrap();
    assert_eq!(report.outcome, Outcome::Healthy, "{report:#?}");
    assert!(fake.job_in("apps", "web").is_some());
    assert!(fake.job("web").is_none());
}

#[test]
fn binary_reports_json_and_exits_6_at_the_deadline() {
    let fake = FakeNomad::start(Scenario::default().with_manual_clock()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = job_file(dir.path(), &web_job(512, "/health"));
    let file = path.to_str().unwrap();
    let args = ["deploy", file, "--deadline", "300ms", "--on-give-up", "leave", "--format", "json"];
    let output = nomad_spec(&fake.url(), None, &args);
    assert_eq!(output.status.code(), Some(6), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"], "timed-out");
    assert_eq!(report["attempts"][0]["verdict"]["verdict"], "timed-out");
    assert_eq!(report["rollback"], "left job web as it is (--on-give-up leave)");
    assert!(fake.stops().is_empty());

    let usage = nomad_spec(&fake.url(), None, &["deploy", file, "--deadline", "5 minutes"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn binary_exits_7_when_nomad_answers_with_an_error() {
    let fake = FakeNomad::start(Scenario::default().with_fault(Fault {
        method: Some("POST".into()),
        path: Some("/v1/jobs".into()),
        status: Some(500),
        body: "rpc error: No cluster leader".into(),
        // Every try of the register (one 500 alone is tried again: issue 13).
        times: 4,
        ..Fault::default()
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = job_file(dir.path(), &web_job(512, "/health"));
    let output = binary(&fake.url(), None, &["deploy", path.to_str().unwrap()])
        .env("NOMAD_SPEC_RETRY_TIME", "2s")
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("Nomad answered 500 to register job web (4 tries in "), "{stderr}");
    assert!(stderr.contains("): rpc error: No cluster leader"), "{stderr}");
    assert!(fake.job("web").is_none());
}

#[tokio::test]
async fn an_unknown_datacenter_is_explained_and_not_fixed() {
    let fake = FakeNomad::start(Scenario::default()).unwrap();
    let mut job = web_job(512, "/health");
    job["Datacenters"] = json!(["dc9"]);
    let report = run_deploy(&fake, job, None, &options(true)).await.unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    let Verdict::Failed(failure) = &report.attempts[0].verdict else { panic!("{report:#?}") };
    assert_eq!(failure.diagnosis.category, Category::NoNodesAvailable, "{report:#?}");
    assert!(failure.diagnosis.explanation.contains("dc9"), "{}", failure.diagnosis.explanation);
    assert_eq!(report.rollback.as_deref(), Some("nothing was registered"));
}

#[tokio::test]
async fn a_periodic_job_is_done_once_registered() {
    let fake = FakeNomad::start(Scenario::default()).unwrap();
    let mut job = web_job(512, "/health");
    job["Type"] = json!("batch");
    job["Periodic"] = json!({"Enabled": true, "Spec": "0 3 * * *", "SpecType": "cron"});
    job.as_object_mut().unwrap().remove("Update");
    let report = run_deploy(&fake, job, None, &options(false)).await.unwrap();
    assert!(
        matches!(report.attempts[0].verdict, Verdict::Healthy { version: 0, allocations: 0 }),
        "{report:#?}"
    );
    assert!(fake.allocations("web").is_empty());
}

#[tokio::test]
async fn a_system_job_is_healthy_when_it_runs_on_every_node() {
    let fake = FakeNomad::start(Scenario::default()).unwrap();
    let mut job = web_job(512, "/health");
    job["Type"] = json!("system");
    job.as_object_mut().unwrap().remove("Update");
    let report = run_deploy(&fake, job, None, &options(false)).await.unwrap();
    assert!(
        matches!(report.attempts[0].verdict, Verdict::Healthy { allocations: 3, .. }),
        "{report:#?}"
    );
}
