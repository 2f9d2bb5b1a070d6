//! Regression tests of issue 13's flaky-cluster cases, each against the real binary and the
//! fakes' fault switch: one `500 No cluster leader` does not abort a deploy, a rate-limited
//! `/v1/jobs/parse` is waited out and never blamed on the job file, `check` fails the plan
//! gate when Nomad is configured but cannot plan, silent optional services cost the probing
//! deadline once, and neither the password of `NOMAD_ADDR` nor a token a proxy echoes is
//! ever printed.
//!
//! Every run sets short limits (`NOMAD_SPEC_RETRY_TIME`, `NOMAD_SPEC_REQUEST_TIMEOUT`,
//! `NOMAD_SPEC_PROBE_DEADLINE`), so the tests' design bounds their time.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use fakes::faults::{refused_url, Fault};
use fakes::nomad::{FakeNomad, Scenario};
use serde_json::{json, Value};

/// A service job the fake Nomad places and finds healthy (its check passes on `/health`).
fn web_job() -> Value {
    json!({
        "ID": "web",
        "Name": "web",
        "Type": "service",
        "Datacenters": ["dc1"],
        "Update": {"MaxParallel": 1, "HealthCheck": "checks", "HealthyDeadline": 60_000_000_000i64,
                   "ProgressDeadline": 600_000_000_000i64},
        "TaskGroups": [{
            "Name": "app",
            "Count": 1,
            "Networks": [{"Mode": "bridge", "DynamicPorts": [{"Label": "http", "To": 8080}]}],
            "Services": [{"Name": "web", "PortLabel": "http", "Provider": "nomad",
                "Checks": [{"Name": "alive", "Type": "http", "Path": "/health",
                            "Interval": 10_000_000_000i64, "Timeout": 2_000_000_000i64}]}],
            "Tasks": [{
                "Name": "server",
                "Driver": "docker",
                "Config": {"image": "ghcr.io/acme/web:1.4", "ports": ["http"]},
                "Resources": {"CPU": 200, "MemoryMB": 512}
            }]
        }]
    })
}

const WEB_HCL: &str = r#"job "web" {
  datacenters = ["dc1"]

  group "app" {
    task "server" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/web:1.4"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    path
}

/// Short limits: three tries within 4 s, the optional services waited for 1 s.
const LIMITS: [(&str, &str); 4] = [
    ("NOMAD_SPEC_RETRY_ATTEMPTS", "3"),
    ("NOMAD_SPEC_RETRY_TIME", "4s"),
    ("NOMAD_SPEC_REQUEST_TIMEOUT", "3s"),
    ("NOMAD_SPEC_PROBE_DEADLINE", "1s"),
];

/// The binary in `dir` with only `vars` (and the short limits) in its environment.
fn nomad_spec(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    common::run_isolated(dir, args, &LIMITS, vars.iter().copied())
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The `nomad-spec/plan` result of `check --format json`.
fn plan_result(output: &Output) -> Value {
    let results: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    results
        .as_array()
        .and_then(|all| all.iter().find(|r| r["name"] == "nomad-spec/plan"))
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn one_no_cluster_leader_does_not_abort_a_deploy() {
    let nomad = FakeNomad::start(Scenario::default()).unwrap_or_else(|e| panic!("{e}"));
    nomad.faults().play(Fault::status(500, "No cluster leader").on("POST", "/v1/jobs").times(1));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let job = serde_json::to_string(&json!({ "Job": web_job() })).unwrap_or_default();
    write(dir.path(), "web.nomad.json", &job);
    let out =
        nomad_spec(dir.path(), &["deploy", "web.nomad.json"], &[("NOMAD_ADDR", &nomad.url())]);
    // Before the fix: exit 7, "Nomad answered 500 to register job web: No cluster leader".
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(nomad.faults().answered(), ["POST /v1/jobs"]);
    assert_eq!(nomad.register_calls("web"), 1, "registered once, by the second try");
}

#[test]
fn a_rate_limited_parse_is_waited_out_and_never_blames_the_file() {
    let nomad = FakeNomad::start(Scenario::default()).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "web.nomad.hcl", WEB_HCL);
    let vars = [("NOMAD_ADDR", nomad.url())];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Once: waited out (Retry-After: 1), then Nomad's own answer (the fake has no parser)
    // and the plan.
    nomad.faults().play(Fault::rate_limited(1).on("POST", "/v1/jobs/parse").times(1));
    let out = nomad_spec(dir.path(), &["check", "--format", "json", "web.nomad.hcl"], &vars);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(plan_result(&out)["status"], "success", "{}", text(&out));
    assert_eq!(nomad.faults().answered(), ["POST /v1/jobs/parse"]);

    // Every time: Nomad's refusal is told as Nomad's, with the tries; the file is not blamed.
    // Before the fix: exit 2 and "web.nomad.hcl: Nomad cannot parse it".
    nomad.faults().play(Fault::rate_limited(1).on("POST", "/v1/jobs/parse"));
    let out = nomad_spec(dir.path(), &["deploy", "web.nomad.hcl"], &vars);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(7), "{said}");
    assert!(said.contains("Nomad answered 429 to parse job files (3 tries in"), "{said}");
    assert!(!said.contains("cannot parse it"), "{said}");
}

#[test]
fn check_fails_the_plan_when_nomad_is_configured_but_cannot_plan() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "web.nomad.hcl", WEB_HCL);
    let check = |address: &str| {
        let args = ["check", "--format", "json", "web.nomad.hcl"];
        nomad_spec(dir.path(), &args, &[("NOMAD_ADDR", address)])
    };

    // Before the fix: `skipped` and exit 0, so a pull request's plan gate passed silently.
    let out = check(&refused_url());
    let plan = plan_result(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(plan["status"], "failure", "{plan}");
    let summary = plan["summary"].as_str().unwrap_or_default();
    assert!(summary.starts_with("Nomad is configured (NOMAD_ADDR) but could not plan"), "{plan}");
    assert!(summary.contains("cannot reach Nomad at http://127.0.0.1:"), "{plan}");

    let nomad = FakeNomad::start(Scenario::default()).unwrap_or_else(|e| panic!("{e}"));
    nomad.faults().play(Fault::status(500, "No cluster leader").under("/v1/job/"));
    let out = check(&nomad.url());
    let plan = plan_result(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let summary = plan["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("Nomad answered 500 to plan job web (3 tries in"), "{plan}");
    assert!(summary.ends_with("No cluster leader"), "{plan}");

    // Only an unconfigured Nomad skips the plan.
    let out = nomad_spec(dir.path(), &["check", "--format", "json", "web.nomad.hcl"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(plan_result(&out)["status"], "skipped");
}

#[test]
fn silent_optional_services_cost_the_probing_deadline_once() {
    use fakes::consul::{ConsulState, FakeConsul};
    use fakes::vault::{FakeVault, VaultState};
    let consul = FakeConsul::start(ConsulState::default()).unwrap_or_else(|e| panic!("{e}"));
    let vault = FakeVault::start(VaultState::default()).unwrap_or_else(|e| panic!("{e}"));
    let nomad = FakeNomad::start(Scenario::default()).unwrap_or_else(|e| panic!("{e}"));
    consul.faults().play(Fault::silent());
    vault.faults().play(Fault::silent());
    nomad.faults().play(Fault::silent());
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/repos/flask-postgres");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = nomad_spec(
        dir.path(),
        &["generate", "--path", repo, "--no-questions", "-o", "-"],
        &[
            ("CONSUL_HTTP_ADDR", &consul.url()),
            ("VAULT_ADDR", &vault.url()),
            ("VAULT_TOKEN", "s.ci"),
            ("NOMAD_ADDR", &nomad.url()),
            // Longer than any test would wait: only the probing deadline ends the probes.
            ("NOMAD_SPEC_REQUEST_TIMEOUT", "10m"),
            ("NOMAD_SPEC_RETRY_TIME", "10m"),
        ],
    );
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    // Before the fix each service was asked after the one before, with its own 30 s.
    for service in ["Consul", "Nomad", "Vault"] {
        let note = format!("{service} did not answer within 1 s (NOMAD_SPEC_PROBE_DEADLINE)");
        assert!(said.contains(&note), "{note}\n{said}");
    }
    assert!(said.contains("job \"flask-postgres\""), "the job is still written: {said}");
}

#[test]
fn the_password_of_nomad_addr_is_never_shown() {
    let refused = refused_url();
    let address = refused.replace("http://", "http://deployer:SECRET-PW@");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "web.nomad.hcl", WEB_HCL);
    let out = nomad_spec(dir.path(), &["deploy", "web.nomad.hcl"], &[("NOMAD_ADDR", &address)]);
    let said = text(&out);
    // Before the fix: "cannot reach Nomad at http://deployer:SECRET-PW@127.0.0.1:...".
    assert_eq!(out.status.code(), Some(4), "{said}");
    let shown = refused.replace("http://", "http://deployer:***@");
    assert!(said.contains(&format!("cannot reach Nomad at {shown}")), "{said}");
    assert!(!said.contains("SECRET-PW"), "{said}");
}

#[test]
fn a_token_a_proxy_echoes_is_cut_out_of_the_answer() {
    let nomad = FakeNomad::start(Scenario::default()).unwrap_or_else(|e| panic!("{e}"));
    nomad.faults().play(Fault::echo_headers(502));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let job = serde_json::to_string(&json!({ "Job": web_job() })).unwrap_or_default();
    write(dir.path(), "web.nomad.json", &job);
    let out = nomad_spec(
        dir.path(),
        &["deploy", "web.nomad.json"],
        &[("NOMAD_ADDR", &nomad.url()), ("NOMAD_TOKEN", "0b5e55ed-token-never-shown")],
    );
    let said = text(&out);
    // Before the fix the body was printed as the proxy sent it, token included.
    assert_eq!(out.status.code(), Some(7), "{said}");
    assert!(said.contains("x-nomad-token: ***"), "{said}");
    assert!(!said.contains("0b5e55ed-token-never-shown"), "{said}");
}
