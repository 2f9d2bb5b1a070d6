//! The committed scenario files and the `fakes` binary: every scenario parses and plays as
//! its comment says, bad files are refused with their name and line, and the binary serves
//! what the README says it does. These tests are synchronous on purpose: they show the fake
//! works without an async runtime in the test, through a plain HTTP/1.1 exchange.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fakes::nomad::{FakeNomad, Scenario};
use serde_json::{json, Value};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn scenario(name: &str) -> Scenario {
    let path = scenarios_dir().join(name);
    Scenario::from_file(&path).unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

/// One HTTP/1.1 exchange over a fresh connection: status and body.
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn job(id: &str, memory: u64, image: &str) -> Value {
    json!({"Job": {
        "ID": id,
        "Update": {"MaxParallel": 1},
        "TaskGroups": [{"Name": "web", "Count": 3, "Tasks": [{
            "Name": "app", "Driver": "docker", "Config": {"image": image},
            "Resources": {"CPU": 100, "MemoryMB": memory}
        }]}]
    }})
}

/// Registers a job on a manual-clock fake and lets it run to the end.
fn play(nomad: &FakeNomad, body: &Value) {
    let (status, text) = http(&nomad.addr().to_string(), "POST", "/v1/jobs", Some(body));
    assert_eq!(status, 200, "{text}");
    assert!(nomad.settle(), "the cluster settles");
}

#[test]
fn every_committed_scenario_parses() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(scenarios_dir()).expect("scenarios directory") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            Scenario::from_file(&path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            names.push(
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            );
        }
    }
    names.sort();
    for wanted in [
        "arm64-only.toml",
        "failing-check.toml",
        "healthy.toml",
        "missing-image.toml",
        "oom.toml",
        "port-collision.toml",
    ] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} is missing from {names:?}");
    }
}

#[test]
fn a_bad_scenario_names_the_file_and_the_line() {
    let dir = std::env::temp_dir().join(format!("fakes-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("typo.toml");
    std::fs::write(&path, "step_ms = 20\n\n[[jobs]]\noom_below = 300\n").expect("write");
    let error =
        format!("{:#}", Scenario::from_file(&path).expect_err("an unknown field is refused"));
    assert!(error.contains("typo.toml"), "{error}");
    assert!(error.contains("line 4"), "{error}");
    assert!(error.contains("oom_below"), "{error}");
    let missing =
        format!("{:#}", Scenario::from_file(&dir.join("absent.toml")).expect_err("missing file"));
    assert!(missing.contains("cannot read scenario file"), "{missing}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_oom_scenario_kills_small_tasks_only() {
    let nomad = FakeNomad::start(scenario("oom.toml").with_manual_clock()).expect("fake starts");
    play(&nomad, &job("small", 128, "nginx:1"));
    play(&nomad, &job("big", 512, "nginx:1"));
    assert_eq!(nomad.deployments("small")[0]["Status"], "failed");
    assert_eq!(nomad.deployments("big")[0]["Status"], "successful");
    let events = nomad.allocations("small")[0]["TaskStates"]["app"]["Events"].clone();
    assert!(events
        .as_array()
        .is_some_and(|e| e.iter().any(|e| e["Details"]["oom_killed"] == "true")));
}

#[test]
fn the_port_collision_scenario_blocks_static_port_80() {
    let nomad =
        FakeNomad::start(scenario("port-collision.toml").with_manual_clock()).expect("fake starts");
    let mut body = job("web", 256, "nginx:1");
    body["Job"]["TaskGroups"][0]["Networks"] =
        json!([{"ReservedPorts": [{"Label": "http", "Value": 80}]}]);
    play(&nomad, &body);
    let evals = nomad.evaluations("web");
    let blocked = evals.iter().find(|e| e["Status"] == "blocked").expect("a blocked evaluation");
    assert_eq!(
        blocked["FailedTGAllocs"]["web"]["DimensionExhausted"],
        json!({"network: reserved port collision http=80": 3})
    );
    assert_eq!(nomad.deployments("web")[0]["StatusDescription"], "Failed due to progress deadline");
}

#[test]
fn the_arm64_scenario_filters_amd64_jobs() {
    let nomad =
        FakeNomad::start(scenario("arm64-only.toml").with_manual_clock()).expect("fake starts");
    let mut body = job("web", 256, "nginx:1");
    body["Job"]["Constraints"] =
        json!([{"LTarget": "${attr.cpu.arch}", "RTarget": "amd64", "Operand": "="}]);
    play(&nomad, &body);
    let failed = nomad.evaluations("web")[0]["FailedTGAllocs"]["web"].clone();
    assert_eq!(failed["ConstraintFiltered"], json!({"${attr.cpu.arch} = amd64": 3}));
    play(&nomad, &job("web", 256, "nginx:1"));
    assert_eq!(
        nomad.deployments("web").last().map(|d| d["Status"].clone()),
        Some(json!("successful"))
    );
}

#[test]
fn the_missing_image_and_failing_check_scenarios_fail_their_deployments() {
    let nomad =
        FakeNomad::start(scenario("missing-image.toml").with_manual_clock()).expect("fake starts");
    play(&nomad, &job("private", 256, "ghcr.io/acme/private:1.0"));
    let events = nomad.allocations("private")[0]["TaskStates"]["app"]["Events"].clone();
    let failure =
        events.as_array().and_then(|e| e.iter().find(|e| e["Type"] == "Driver Failure").cloned());
    let message =
        failure.map(|f| f["DriverError"].as_str().unwrap_or("").to_string()).unwrap_or_default();
    assert!(message.contains("pull access denied for ghcr.io/acme/private"), "{message}");

    let nomad =
        FakeNomad::start(scenario("failing-check.toml").with_manual_clock()).expect("fake starts");
    let mut body = job("web", 256, "nginx:1");
    body["Job"]["TaskGroups"][0]["Services"] =
        json!([{"Name": "web", "Checks": [{"Name": "http", "Type": "http", "Path": "/health"}]}]);
    // No progress deadline: the first unhealthy allocation fails the deployment and stays.
    body["Job"]["Update"]["ProgressDeadline"] = json!(0);
    play(&nomad, &body);
    assert_eq!(
        nomad.deployments("web")[0]["StatusDescription"],
        "Failed due to unhealthy allocations"
    );
    let alloc_id = nomad.allocations("web")[0]["ID"].as_str().unwrap_or_default().to_string();
    let (status, body) =
        http(&nomad.addr().to_string(), "GET", &format!("/v1/allocation/{alloc_id}/checks"), None);
    assert_eq!(status, 200, "{body}");
    let checks = json_of(&body);
    let check = checks.as_object().and_then(|c| c.values().next()).cloned().expect("one check");
    assert_eq!(
        (check["Check"].clone(), check["Status"].clone()),
        (json!("http"), json!("failure"))
    );
    assert_eq!(check["StatusCode"], 503);
}

#[test]
fn the_missing_env_scenario_crashes_until_the_variable_is_set() {
    let nomad =
        FakeNomad::start(scenario("missing-env.toml").with_manual_clock()).expect("fake starts");
    play(&nomad, &job("web", 256, "nginx:1"));
    assert_eq!(nomad.deployments("web")[0]["Status"], "failed");
    let alloc = nomad.allocations("web")[0].clone();
    let terminated = alloc["TaskStates"]["app"]["Events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["Type"] == "Terminated").cloned())
        .expect("a Terminated event");
    assert_eq!(terminated["ExitCode"], 1);
    let alloc_id = alloc["ID"].as_str().unwrap_or_default().to_string();
    let path = format!("/v1/client/fs/logs/{alloc_id}?task=app&type=stderr&plain=true");
    let (status, stderr) = http(&nomad.addr().to_string(), "GET", &path, None);
    assert_eq!(status, 200, "{stderr}");
    assert!(stderr.contains("APP_ENV must be one of production, staging"), "{stderr}");

    // The wrong value is no better; the right one runs.
    let mut body = job("web", 256, "nginx:1");
    body["Job"]["TaskGroups"][0]["Tasks"][0]["Env"] = json!({"APP_ENV": "staging"});
    play(&nomad, &body);
    assert_eq!(nomad.deployments("web").last().map(|d| d["Status"].clone()), Some(json!("failed")));
    body["Job"]["TaskGroups"][0]["Tasks"][0]["Env"] = json!({"APP_ENV": "production"});
    play(&nomad, &body);
    assert_eq!(
        nomad.deployments("web").last().map(|d| d["Status"].clone()),
        Some(json!("successful"))
    );
}

#[test]
fn the_binary_serves_a_scenario_until_it_is_stopped() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fakes"))
        .args(["nomad", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(scenarios_dir().join("acl.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).expect("a first line");
    let url = first.trim().rsplit(' ').next().unwrap_or_default().to_string();
    let addr = url.trim_start_matches("http://").to_string();
    assert!(first.starts_with("fake Nomad listening on http://127.0.0.1:"), "{first}");

    let (status, body) = http(&addr, "GET", "/v1/jobs", None);
    assert_eq!((status, body.as_str()), (403, "Permission denied"));
    let (status, body) = http(&addr, "GET", "/v1/status/leader", None);
    assert_eq!(status, 200);
    assert_eq!(json_of(&body), json!("127.0.0.1:4647"));
    child.kill().expect("the child is ours to stop");
    child.wait().expect("the child exits");
}

#[test]
fn the_binary_refuses_a_bad_scenario_with_exit_code_1() {
    let output = Command::new(env!("CARGO_BIN_EXE_fakes"))
        .args(["nomad", "--listen", "127.0.0.1:0", "--scenario", "/nonexistent/scenario.toml"])
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/scenario.toml"), "{stderr}");
}

#[test]
fn memory_max_raises_the_oom_limit_only_with_oversubscription() {
    let mut body = job("web", 128, "nginx:1");
    body["Job"]["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMaxMB"] = json!(512);

    let nomad = FakeNomad::start(scenario("oom.toml").with_manual_clock()).expect("fake starts");
    let addr = nomad.addr().to_string();
    let (_, config) = http(&addr, "GET", "/v1/operator/scheduler/configuration", None);
    assert_eq!(json_of(&config)["SchedulerConfig"]["MemoryOversubscriptionEnabled"], false);
    let (status, text) = http(&addr, "POST", "/v1/jobs", Some(&body));
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        json_of(&text)["Warnings"],
        "1 warning(s):\n\n* Memory oversubscription is not enabled; Task \"web.app\" memory_max \
         value will be ignored. Update the Scheduler Configuration to allow oversubscription."
    );
    assert!(nomad.settle());
    assert_eq!(nomad.deployments("web")[0]["Status"], "failed", "memory_max was ignored");

    let mut oversubscribed = scenario("oom.toml").with_manual_clock();
    oversubscribed.memory_oversubscription = true;
    let nomad = FakeNomad::start(oversubscribed).expect("fake starts");
    play(&nomad, &body);
    assert_eq!(nomad.deployments("web")[0]["Status"], "successful");
}

#[test]
fn a_template_reading_a_missing_secret_blocks_the_task() {
    let rule = fakes::nomad::JobRule::for_job("*").missing_secret("secret/data/app");
    let nomad = FakeNomad::start(Scenario::default().with_rule(rule).with_manual_clock())
        .expect("fake starts");
    let mut body = job("web", 256, "nginx:1");
    body["Job"]["TaskGroups"][0]["Tasks"][0]["Templates"] = json!([{
        "EmbeddedTmpl": "{{ with secret \"secret/data/app\" }}DB={{ .Data.data.db }}{{ end }}",
        "DestPath": "secrets/app.env",
        "Envvars": true
    }]);
    play(&nomad, &body);
    let deployment = &nomad.deployments("web")[0];
    assert_eq!(deployment["StatusDescription"], "Failed due to progress deadline");
    let allocs = nomad.allocations("web");
    let last = allocs.last().expect("allocations");
    assert_eq!(last["ClientStatus"], "pending", "still waiting for its template");
    let alloc = &allocs[0];
    assert_eq!(alloc["DesiredDescription"], "alloc was rescheduled because it failed");
    let events: Vec<(Value, Value)> = alloc["TaskStates"]["app"]["Events"]
        .as_array()
        .map(|e| e.iter().map(|e| (e["Type"].clone(), e["DisplayMessage"].clone())).collect())
        .unwrap_or_default();
    assert!(
        events.contains(&(json!("Template"), json!("Missing: vault.read(secret/data/app)"))),
        "{events:?}"
    );
    assert!(
        events.contains(&(
            json!("Alloc Unhealthy"),
            json!("Task not running by healthy_deadline of 5m0s")
        )),
        "{events:?}"
    );
}

#[test]
fn new_capacity_unblocks_a_blocked_evaluation() {
    let nomad = FakeNomad::start(Scenario::default().with_manual_clock()).expect("fake starts");
    let mut body = job("big", 8192, "nginx:1");
    body["Job"]["TaskGroups"][0]["Count"] = json!(2);
    let (status, text) = http(&nomad.addr().to_string(), "POST", "/v1/jobs", Some(&body));
    assert_eq!(status, 200, "{text}");
    nomad.advance(1);
    let evals = nomad.evaluations("big");
    assert_eq!(evals[1]["Status"], "blocked");
    let blocked_id = evals[1]["ID"].clone();

    nomad.add_nodes(vec![fakes::nomad::Node {
        name: "large".to_string(),
        memory_mb: 32768,
        ..fakes::nomad::Node::default()
    }]);
    assert!(nomad.settle());
    let retried = nomad.evaluations("big").into_iter().find(|e| e["ID"] == blocked_id);
    assert_eq!(retried.map(|e| e["Status"].clone()), Some(json!("complete")));
    let allocs = nomad.allocations("big");
    assert_eq!(allocs.len(), 2);
    assert!(allocs.iter().all(|a| a["ClientStatus"] == "running"), "{allocs:#?}");
    assert_eq!(nomad.deployments("big")[0]["Status"], "successful");
}

#[test]
fn someone_else_registering_in_between_makes_an_enforced_register_fail() {
    let nomad = FakeNomad::start(Scenario::default().with_manual_clock()).expect("fake starts");
    let addr = nomad.addr().to_string();
    play(&nomad, &job("web", 256, "nginx:1"));
    let (_, plan) = http(&addr, "POST", "/v1/job/web/plan", Some(&job("web", 512, "nginx:1")));
    let planned_index = json_of(&plan)["JobModifyIndex"].as_u64().unwrap_or_default();
    let theirs = job("web", 384, "nginx:1")["Job"].clone();
    let their_index = nomad.register_job(theirs).expect("the side register works");
    assert!(their_index > planned_index);
    let mut ours = job("web", 512, "nginx:1");
    ours["EnforceIndex"] = json!(true);
    ours["JobModifyIndex"] = json!(planned_index);
    let (status, text) = http(&addr, "POST", "/v1/job/web", Some(&ours));
    assert_eq!(status, 500);
    assert_eq!(
        text,
        format!(
            "Enforcing job modify index {planned_index}: job exists with conflicting job modify \
             index: {their_index}"
        )
    );
    assert_eq!(nomad.register_calls("web"), 2, "ours twice over HTTP; theirs is not counted");
    let current = nomad.job("web").expect("the job");
    assert_eq!(current["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"], 384);
}

fn running_versions(nomad: &FakeNomad, job_id: &str) -> Vec<u64> {
    nomad
        .allocations(job_id)
        .iter()
        .filter(|a| a["ClientStatus"] == "running" && a["DesiredStatus"] == "run")
        .map(|a| a["Job"]["Version"].as_u64().unwrap_or(u64::MAX))
        .collect()
}

#[test]
fn an_update_rolls_one_allocation_at_a_time() {
    let nomad = FakeNomad::start(Scenario::default().with_manual_clock()).expect("fake starts");
    play(&nomad, &job("web", 256, "nginx:1"));
    assert_eq!(running_versions(&nomad, "web"), vec![0, 0, 0]);

    let addr = nomad.addr().to_string();
    let (status, text) = http(&addr, "POST", "/v1/jobs", Some(&job("web", 256, "nginx:2")));
    assert_eq!(status, 200, "{text}");
    nomad.advance(1);
    let allocs = nomad.allocations("web");
    assert_eq!(allocs.len(), 4, "max_parallel = 1: one replacement at a time");
    assert_eq!(allocs.iter().filter(|a| a["DesiredStatus"] == "stop").count(), 1);
    assert!(nomad.settle());
    assert_eq!(running_versions(&nomad, "web"), vec![1, 1, 1]);
    assert_eq!(nomad.allocations("web").len(), 6);
    assert_eq!(nomad.deployments("web")[1]["Status"], "successful");
    let triggers: Vec<Value> =
        nomad.evaluations("web").iter().map(|e| e["TriggeredBy"].clone()).collect();
    assert!(triggers.contains(&json!("deployment-watcher")), "{triggers:?}");
}

#[test]
fn a_failed_rolling_update_leaves_the_old_allocations_running() {
    let nomad = FakeNomad::start(scenario("oom.toml").with_manual_clock()).expect("fake starts");
    play(&nomad, &job("web", 512, "nginx:1"));
    let mut update = job("web", 128, "nginx:1");
    update["Job"]["Update"]["ProgressDeadline"] = json!(0);
    play(&nomad, &update);
    assert_eq!(
        nomad.deployments("web")[1]["StatusDescription"],
        "Failed due to unhealthy allocations"
    );
    assert_eq!(running_versions(&nomad, "web"), vec![0, 0], "two of three old ones still serve");
}

#[test]
fn placement_failures_name_what_filtered_or_exhausted_the_nodes() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "driver",
            json!({"/TaskGroups/0/Tasks/0/Driver": "podman"}),
            json!({
                "NodesEvaluated": 3, "NodesFiltered": 3,
                "ConstraintFiltered": {"missing drivers": 3},
            }),
        ),
        (
            "datacenter",
            json!({"/Datacenters": ["eu-west-1"]}),
            json!({"NodesEvaluated": 0, "NodesAvailable": {"eu-west-1": 0}, "NodesInPool": 3}),
        ),
        ("node pool", json!({"/NodePool": "gpu"}), json!({"NodesEvaluated": 0, "NodesInPool": 0})),
        (
            "cpu",
            json!({"/TaskGroups/0/Tasks/0/Resources/CPU": 5000}),
            json!({"NodesExhausted": 3, "DimensionExhausted": {"cpu": 3}}),
        ),
        (
            "kernel",
            json!({"/Constraints": [
                {"LTarget": "${attr.kernel.name}", "RTarget": "windows", "Operand": "="}
            ]}),
            json!({"ConstraintFiltered": {"${attr.kernel.name} = windows": 3}}),
        ),
    ];
    for (name, changes, expected) in cases {
        let nomad = FakeNomad::start(Scenario::default().with_manual_clock()).expect("fake starts");
        let mut body = job("web", 256, "nginx:1");
        for (pointer, value) in changes.as_object().into_iter().flatten() {
            let (parent, field) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            let parent =
                body["Job"].pointer_mut(parent).unwrap_or_else(|| panic!("{name}: {pointer}"));
            parent[field] = value.clone();
        }
        let (status, text) = http(&nomad.addr().to_string(), "POST", "/v1/jobs", Some(&body));
        assert_eq!(status, 200, "{name}: {text}");
        nomad.advance(1);
        let metrics = nomad.evaluations("web")[0]["FailedTGAllocs"]["web"].clone();
        for (key, want) in expected.as_object().into_iter().flatten() {
            assert_eq!(&metrics[key], want, "{name}: {key} in {metrics:#}");
        }
    }
}

#[test]
fn the_readme_scenario_example_parses_with_the_documented_defaults() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + readme[start..].find("```").expect("the block ends");
    let example = Scenario::from_toml(&readme[start..end]).unwrap_or_else(|e| panic!("{e:#}"));
    let defaults = Scenario::default();
    assert_eq!(example.step_ms, defaults.step_ms);
    assert_eq!(example.region, defaults.region);
    assert_eq!(example.timing.progress_deadline_steps, defaults.timing.progress_deadline_steps);
    assert_eq!(example.timing.reschedule_delay_steps, defaults.timing.reschedule_delay_steps);
    assert_eq!(example.nodes[0].memory_mb, defaults.nodes[0].memory_mb);
    assert_eq!(example.nodes[0].drivers, defaults.nodes[0].drivers);
    assert_eq!(example.faults[0].body, "No cluster leader");
}

#[test]
fn failing_a_deployment_by_hand_rolls_back_with_auto_revert() {
    let nomad = FakeNomad::start(Scenario::default().with_manual_clock()).expect("fake starts");
    let addr = nomad.addr().to_string();
    let mut first = job("web", 256, "nginx:1");
    first["Job"]["Update"]["AutoRevert"] = json!(true);
    play(&nomad, &first);
    let mut second = first.clone();
    second["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2");
    let (status, _) = http(&addr, "POST", "/v1/jobs", Some(&second));
    assert_eq!(status, 200);
    nomad.advance(1);
    let deployment_id = nomad.deployments("web")[1]["ID"].as_str().unwrap_or_default().to_string();
    let path = format!("/v1/deployment/fail/{deployment_id}");
    let (status, text) = http(&addr, "POST", &path, None);
    assert_eq!(status, 200, "{text}");
    let answer = json_of(&text);
    let keys: Vec<&String> = answer.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(
        keys,
        ["EvalID", "EvalCreateIndex", "DeploymentModifyIndex", "RevertedJobVersion", "Index"]
    );
    assert_eq!(answer["RevertedJobVersion"], 0);
    assert_eq!(
        nomad.deployments("web")[1]["StatusDescription"],
        "Deployment marked as failed - rolling back to job version 0"
    );
    let (status, text) = http(&addr, "POST", &path, None);
    assert_eq!((status, text.as_str()), (500, "can't fail terminal deployment"));
    assert!(nomad.settle());
    assert_eq!(nomad.job("web").expect("job")["Version"], 2);
    assert_eq!(running_versions(&nomad, "web"), vec![2, 2, 2]);
}

#[test]
fn a_system_job_runs_once_on_every_eligible_node() {
    let nodes = vec![
        fakes::nomad::Node {
            name: "arm".to_string(),
            cpu_arch: "arm64".to_string(),
            ..Default::default()
        },
        fakes::nomad::Node { name: "amd".to_string(), count: 2, ..Default::default() },
    ];
    let nomad = FakeNomad::start(Scenario::default().with_nodes(nodes).with_manual_clock())
        .expect("fake starts");
    let mut body = job("agent", 128, "grafana/alloy:1");
    body["Job"]["Type"] = json!("system");
    body["Job"]["Constraints"] =
        json!([{"LTarget": "${attr.cpu.arch}", "RTarget": "amd64", "Operand": "="}]);
    let (_, plan) = http(&nomad.addr().to_string(), "POST", "/v1/job/agent/plan", Some(&body));
    assert_eq!(json_of(&plan)["Annotations"]["DesiredTGUpdates"]["web"]["Place"], 2);
    play(&nomad, &body);
    let allocs = nomad.allocations("agent");
    let mut node_ids: Vec<Value> = allocs.iter().map(|a| a["NodeID"].clone()).collect();
    node_ids.dedup();
    assert_eq!(node_ids.len(), 2, "one allocation on each amd64 node");
    assert_eq!(nomad.evaluations("agent")[0]["FailedTGAllocs"], Value::Null);
    assert!(allocs.iter().all(|a| a["ClientStatus"] == "running"));
}
