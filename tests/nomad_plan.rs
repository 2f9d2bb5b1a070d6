//! `plan` renderings of real plan responses from the fake Nomad: a create, an in-place
//! update, a destructive update and a placement failure, in text and Markdown, plus the
//! binary's exit codes (those of `nomad job plan`).

use std::process::Command;

use fakes::nomad::{FakeNomad, Scenario};
use nomad_spec::nomad::plan::{render_markdown, render_text, PlanReport};
use nomad_spec::nomad::{NomadClient, NomadConfig};
use serde_json::{json, Value};

fn job(image: &str, tag: &str) -> Value {
    json!({
        "ID": "web", "Name": "web", "Type": "service", "Datacenters": ["dc1"],
        "Update": {"MaxParallel": 1},
        "TaskGroups": [{"Name": "app", "Count": 2,
            "Services": [{"Name": "web", "Provider": "nomad", "Tags": [tag]}],
            "Tasks": [{"Name": "server", "Driver": "docker", "Config": {"image": image},
                "Resources": {"CPU": 200, "MemoryMB": 256}}]}]
    })
}

fn client(fake: &FakeNomad) -> NomadClient {
    NomadClient::new(NomadConfig { address: fake.url(), ..NomadConfig::default() }).unwrap()
}

async fn plan(client: &NomadClient, job: &Value) -> PlanReport {
    PlanReport::new(job, &client.plan(job).await.unwrap())
}

/// A fake with version 0 of `web` registered and healthy.
async fn with_web_running() -> (FakeNomad, NomadClient) {
    let fake = FakeNomad::start(Scenario::default().with_manual_clock()).unwrap();
    let client = client(&fake);
    client.register(&job("web:1", "v1"), None).await.unwrap();
    assert!(fake.settle());
    (fake, client)
}

#[tokio::test]
async fn create() {
    let fake = FakeNomad::start(Scenario::default()).unwrap();
    let report = plan(&client(&fake), &job("web:1", "v1")).await;
    assert_eq!(report.exit_code(), 1);
    insta::assert_snapshot!(render_text(&report), @r#"
    + Job: "web"
      + AllAtOnce: "false"
      + Name: "web"
      + NodePool: "default"
      + Priority: "50"
      + Region: "global"
      + Stop: "false"
      + Type: "service"
      + Datacenters {
        + Datacenters: "dc1"
      }
      + Update {
        + MaxParallel: "1"
      }
    + Task Group: "app" (2 create)
      + Count: "2"
      + Service {
        + Name: "web"
        + Provider: "nomad"
        + Tags {
          + Tags: "v1"
        }
      }
      + Task: "server" (forces create)
        + Driver: "docker"
        + Config {
          + image: "web:1"
        }
        + Resources {
          + CPU: "200"
          + MemoryMB: "256"
        }

    Scheduler dry-run:
    - All tasks successfully allocated.
    - Task group "app": 2 create

    Job Modify Index: 0 (nomad-spec deploy registers only if it is still current)
    "#);
}

#[tokio::test]
async fn in_place_update() {
    let (_fake, client) = with_web_running().await;
    let report = plan(&client, &job("web:1", "v2")).await;
    insta::assert_snapshot!(render_text(&report), @r#"
    ~ Job: "web"
    ~ Task Group: "app" (2 in-place update)
      ~ Service {
        ~ Tags {
          + Tags: "v2"
          - Tags: "v1"
        }
      }

    Scheduler dry-run:
    - All tasks successfully allocated.
    - Task group "app": 2 in-place update

    Job Modify Index: 2 (nomad-spec deploy registers only if it is still current)
    "#);
    insta::assert_snapshot!(render_markdown(&report), @r#"
    ### Nomad plan for <code>web</code>: changes

    | task group | create | destroy | in-place | destructive | canary | ignore |
    |---|---:|---:|---:|---:|---:|---:|
    | <code>app</code> | 0 | 0 | 2 | 0 | 0 | 0 |

    <details><summary>Diff</summary>

    ```diff
    ~ Job: "web"
    ~ Task Group: "app" (2 in-place update)
      ~ Service {
        ~ Tags {
          + Tags: "v2"
          - Tags: "v1"
        }
      }
    ```

    </details>

    <sub>Job modify index 2</sub>
    "#);
}

#[tokio::test]
async fn destructive_update() {
    let (_fake, client) = with_web_running().await;
    let report = plan(&client, &job("web:2", "v1")).await;
    insta::assert_snapshot!(render_text(&report), @r#"
    ~ Job: "web"
    ~ Task Group: "app" (1 create/destroy update, 1 ignore)
      ~ Task: "server" (forces create/destroy update)
        ~ Config {
          ~ image: "web:1" => "web:2"
        }

    Scheduler dry-run:
    - All tasks successfully allocated.
    - Task group "app": 1 create/destroy update, 1 ignore

    Job Modify Index: 2 (nomad-spec deploy registers only if it is still current)
    "#);
    insta::assert_snapshot!(render_markdown(&report), @r#"
    ### Nomad plan for <code>web</code>: changes

    | task group | create | destroy | in-place | destructive | canary | ignore |
    |---|---:|---:|---:|---:|---:|---:|
    | <code>app</code> | 0 | 0 | 0 | 1 | 0 | 1 |

    <details><summary>Diff</summary>

    ```diff
    ~ Job: "web"
    ~ Task Group: "app" (1 create/destroy update, 1 ignore)
      ~ Task: "server" (forces create/destroy update)
        ~ Config {
          ~ image: "web:1" => "web:2"
        }
    ```

    </details>

    <sub>Job modify index 2</sub>
    "#);
}

#[tokio::test]
async fn placement_failure() {
    let (_fake, client) = with_web_running().await;
    let mut bigger = job("web:1", "v1");
    bigger["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = json!(6000);
    let report = plan(&client, &bigger).await;
    let text = render_text(&report);
    let dry_run = text.split("Scheduler dry-run:\n").nth(1).unwrap();
    insta::assert_snapshot!(dry_run, @r#"
    - WARNING: Failed to place all allocations of task group "app": no node has 6000 MB of memory free: memory exhausted on 3 nodes (3 nodes evaluated, 1 allocation unplaced)
    - Task group "app": 1 create/destroy update, 1 ignore

    Job Modify Index: 2 (nomad-spec deploy registers only if it is still current)
    "#);
    let markdown = render_markdown(&report);
    assert!(
        markdown.starts_with("### Nomad plan for <code>web</code>: cannot be fully placed\n"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- <code>app</code>: no node has 6000 MB of memory free"),
        "{markdown}"
    );
}

#[test]
fn binary_exit_codes_follow_nomad_job_plan() {
    let fake = FakeNomad::start(Scenario::default().with_manual_clock()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.json");
    std::fs::write(&path, job("web:1", "v1").to_string()).unwrap();
    let run = |format: &str| {
        Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
            .args(["plan", path.to_str().unwrap(), "--format", format])
            .env("NOMAD_ADDR", fake.url())
            .env_remove("NOMAD_TOKEN")
            .env_remove("NOMAD_NAMESPACE")
            .output()
            .unwrap()
    };
    let changes = run("text");
    assert_eq!(changes.status.code(), Some(1), "{}", String::from_utf8_lossy(&changes.stderr));
    let json_out = run("json");
    let report: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(report["groups"][0]["create"], 2);

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(client(&fake).register(&job("web:1", "v1"), None)).unwrap();
    assert!(fake.settle());
    let unchanged = run("text");
    assert_eq!(unchanged.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&unchanged.stdout).starts_with("Job \"web\": no changes"));
}
