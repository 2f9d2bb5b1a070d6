//! `nomad-spec check` with `NOMAD_ADDR` set: the plan is a named result; a group that cannot
//! be placed fails it with the group's line.

use std::process::Command;

use fakes::nomad::{FakeNomad, Scenario};

fn job(memory: u32) -> String {
    format!(
        r#"job "web" {{
  datacenters = ["dc1"]

  group "app" {{
    count = 2

    task "server" {{
      driver = "docker"

      config {{
        image = "nginx:1.27"
      }}

      resources {{
        cpu    = 200
        memory = {memory}
      }}
    }}
  }}
}}
"#
    )
}

fn check(fake: &FakeNomad, source: &str) -> (Option<i32>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("web.nomad.hcl"), source).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .current_dir(dir.path())
        .args(["check", "--format", "json", "web.nomad.hcl"])
        .env("NOMAD_ADDR", fake.url())
        .env_remove("NOMAD_TOKEN")
        .env_remove("NOMAD_NAMESPACE")
        .env_remove("CONSUL_HTTP_ADDR")
        .env_remove("FABIO_ADMIN_ADDR")
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    let results: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    let plan = results
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "nomad-spec/plan"))
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    (out.status.code(), plan)
}

#[test]
fn the_plan_is_a_named_result() {
    let fake =
        FakeNomad::start(Scenario::default().with_manual_clock()).unwrap_or_else(|e| panic!("{e}"));
    let (code, plan) = check(&fake, &job(256));
    assert_eq!(code, Some(0), "{plan}");
    assert_eq!(plan["status"], "success", "{plan}");
    assert_eq!(plan["summary"], "job `web` would change (app: 2 create)", "{plan}");
}

#[test]
fn a_group_that_cannot_be_placed_fails_with_its_line() {
    let fake =
        FakeNomad::start(Scenario::default().with_manual_clock()).unwrap_or_else(|e| panic!("{e}"));
    let (code, plan) = check(&fake, &job(6000));
    assert_eq!(code, Some(1), "{plan}");
    assert_eq!(plan["status"], "failure", "{plan}");
    let annotation = &plan["annotations"][0];
    assert_eq!(annotation["line"], 4, "{plan}");
    let message = annotation["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("group `app` cannot be placed: no node has 6000 MB"), "{message}");
}
