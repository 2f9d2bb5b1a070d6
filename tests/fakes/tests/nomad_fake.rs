//! The fake Nomad driven over HTTP as a real client would: register, follow the evaluation
//! with blocking queries, watch the deployment and the allocations, read task events and
//! logs; plus ACLs, enforce-index conflicts, placement failures, faults and plans.

use std::time::Duration;

use fakes::nomad::{FakeNomad, Fault, JobRule, Node, Scenario, Token};
use serde_json::{json, Value};

mod common;

use common::{call, deploy, get, post, register, wait_deployment, wait_eval, web_job};

fn events_of(alloc: &Value, task: &str) -> Vec<Value> {
    alloc["TaskStates"][task]["Events"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_healthy_job_is_evaluated_deployed_and_marked_stable() {
    let nomad = FakeNomad::start(Scenario::default()).expect("fake starts");
    let base = nomad.url();
    let registered = register(&base, web_job("web", 256, "nginx:1.27")).await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    for key in ["EvalID", "EvalCreateIndex", "JobModifyIndex", "Warnings", "Index"] {
        assert!(registered.body.get(key).is_some(), "register answer lacks {key}");
    }
    let eval = wait_eval(&base, registered.body["EvalID"].as_str().unwrap_or_default()).await;
    assert_eq!(eval["Status"], "complete");
    assert_eq!(eval["TriggeredBy"], "job-register");
    assert_eq!(eval["FailedTGAllocs"], Value::Null);

    let deployment =
        wait_deployment(&base, eval["DeploymentID"].as_str().unwrap_or_default()).await;
    assert_eq!(deployment["Status"], "successful");
    assert_eq!(deployment["StatusDescription"], "Deployment completed successfully");
    assert_eq!(deployment["TaskGroups"]["web"]["DesiredTotal"], 2);
    assert_eq!(deployment["TaskGroups"]["web"]["HealthyAllocs"], 2);

    let allocs = get(&format!("{base}/v1/job/web/allocations")).await.body;
    let allocs = allocs.as_array().cloned().unwrap_or_default();
    assert_eq!(allocs.len(), 2);
    for alloc in &allocs {
        assert_eq!(alloc["ClientStatus"], "running");
        assert_eq!(alloc["DesiredStatus"], "run");
        assert_eq!(alloc["DeploymentStatus"]["Healthy"], true);
        let kinds: Vec<Value> = events_of(alloc, "app").iter().map(|e| e["Type"].clone()).collect();
        assert_eq!(
            kinds,
            vec![json!("Received"), json!("Task Setup"), json!("Driver"), json!("Started")]
        );
    }
    let job = get(&format!("{base}/v1/job/web")).await.body;
    assert_eq!(job["Status"], "running");
    assert_eq!(job["Stable"], true);
    assert_eq!(job["Version"], 0);
    assert_eq!(nomad.register_calls("web"), 1);
    assert_eq!(nomad.job_versions("web").len(), 1);
}

#[tokio::test]
async fn too_little_memory_gets_oom_killed_and_more_memory_fixes_it() {
    let scenario = Scenario::default().with_rule(JobRule::for_job("web").oom_below_mb(300));
    let nomad = FakeNomad::start(scenario).expect("fake starts");
    let base = nomad.url();
    let (_, deployment) = deploy(&base, web_job("web", 128, "nginx:1.27")).await;
    assert_eq!(deployment["Status"], "failed");
    // With the default progress deadline Nomad replaces failed allocations until the deadline
    // passes; only then does the deployment fail (no stable version: nothing to revert to).
    assert_eq!(
        deployment["StatusDescription"],
        "Failed due to progress deadline - no stable job version to auto revert to"
    );
    let allocs = nomad.allocations("web");
    assert!(allocs.len() > 2, "failed allocations were replaced: {}", allocs.len());
    let first = &allocs[0];
    assert!(first["NextAllocation"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(first["FollowupEvalID"].as_str().is_some_and(|id| !id.is_empty()));
    let replacement = allocs
        .iter()
        .find(|a| a["PreviousAllocation"] == first["ID"])
        .expect("a replacement of the first allocation");
    assert_eq!(replacement["RescheduleTracker"]["Events"][0]["PrevAllocID"], first["ID"]);
    assert!(nomad.evaluations("web").iter().any(|e| e["TriggeredBy"] == "alloc-failure"));
    let alloc_id = first["ID"].as_str().unwrap_or_default().to_string();
    let alloc = get(&format!("{base}/v1/allocation/{alloc_id}")).await.body;
    assert_eq!(alloc["ClientStatus"], "failed");
    assert_eq!(alloc["DeploymentStatus"]["Healthy"], false);
    let events = events_of(&alloc, "app");
    let oom = events.iter().find(|e| e["Type"] == "Terminated").expect("a Terminated event");
    assert_eq!(oom["Details"]["oom_killed"], "true");
    assert_eq!(oom["ExitCode"], 137);
    assert!(oom["DisplayMessage"].as_str().unwrap_or("").contains("OOM Killed"));
    assert_eq!(events.last().map(|e| e["Type"].clone()), Some(json!("Not Restarting")));
    assert_eq!(alloc["TaskStates"]["app"]["Failed"], true);

    let (_, deployment) = deploy(&base, web_job("web", 512, "nginx:1.27")).await;
    assert_eq!(deployment["Status"], "successful", "{deployment}");
    assert_eq!(deployment["JobVersion"], 1);
}

#[tokio::test]
async fn blocking_queries_return_on_change_and_on_wait_timeout() {
    let nomad = FakeNomad::start(Scenario::default().with_manual_clock()).expect("fake starts");
    let base = nomad.url();
    let registered = register(&base, web_job("web", 256, "nginx:1.27")).await;
    let eval_id = registered.body["EvalID"].as_str().unwrap_or_default().to_string();
    let first = get(&format!("{base}/v1/evaluation/{eval_id}")).await;
    assert_eq!(first.body["Status"], "pending");

    // Nothing moves with the manual clock, so the query returns only when `wait` elapses,
    // with the same index.
    let timed_out =
        get(&format!("{base}/v1/evaluation/{eval_id}?index={}&wait=50ms", first.index)).await;
    assert_eq!(timed_out.status, 200);
    assert_eq!(timed_out.index, first.index);
    assert_eq!(timed_out.body["Status"], "pending");

    let url = format!("{base}/v1/evaluation/{eval_id}?index={}&wait=30s", first.index);
    let waiting = tokio::spawn(async move { get(&url).await });
    // Once the query is parked, one step (the scheduler) wakes it.
    while nomad.waiting_queries() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nomad.advance(1);
    let changed = waiting.await.expect("the waiting query finishes");
    assert!(changed.index > first.index, "{} > {}", changed.index, first.index);
    assert_eq!(nomad.waiting_queries(), 0);
    assert_eq!(changed.body["Status"], "complete");
}

#[tokio::test]
async fn a_stale_enforce_index_is_refused_with_nomads_words() {
    let nomad = FakeNomad::start(Scenario::default()).expect("fake starts");
    let base = nomad.url();
    let first = register(&base, web_job("web", 256, "nginx:1")).await;
    let index = first.body["JobModifyIndex"].as_u64().unwrap_or_default();
    let second = register(&base, web_job("web", 300, "nginx:1")).await;
    assert_eq!(second.status, 200);

    let stale = post(
        &format!("{base}/v1/job/web"),
        json!({
            "Job": web_job("web", 400, "nginx:1"), "EnforceIndex": true, "JobModifyIndex": index,
        }),
    )
    .await;
    assert_eq!(stale.status, 500);
    let current = second.body["JobModifyIndex"].as_u64().unwrap_or_default();
    assert_eq!(
        stale.text,
        format!(
            "Enforcing job modify index {index}: job exists with conflicting job modify index: \
             {current}"
        )
    );
    assert_eq!(nomad.job_versions("web").len(), 2, "nothing registered by the refused call");

    let fresh = post(
        &format!("{base}/v1/job/web"),
        json!({
            "Job": web_job("web", 400, "nginx:1"), "EnforceIndex": true, "JobModifyIndex": current,
        }),
    )
    .await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    let create_only = post(
        &format!("{base}/v1/jobs"),
        json!({"Job": web_job("web", 500, "nginx:1"), "EnforceIndex": true, "JobModifyIndex": 0}),
    )
    .await;
    assert_eq!(create_only.text, "Enforcing job modify index 0: job already exists");
    assert_eq!(nomad.register_calls("web"), 5);
}

#[tokio::test]
async fn acl_tokens_and_namespaces_are_enforced() {
    let mut scenario = Scenario::default()
        .with_token(Token::management("root-secret"))
        .with_token(Token::for_namespaces("apps-secret", &["apps"]));
    scenario.namespaces = vec!["default".to_string(), "apps".to_string()];
    let nomad = FakeNomad::start(scenario).expect("fake starts");
    let base = nomad.url();
    let jobs = format!("{base}/v1/jobs");
    let missing = call(reqwest::Method::GET, &jobs, None, None).await;
    assert_eq!((missing.status, missing.text.as_str()), (403, "Permission denied"));
    let wrong = call(reqwest::Method::GET, &jobs, Some("nope"), None).await;
    assert_eq!((wrong.status, wrong.text.as_str()), (403, "ACL token not found"));
    let other_namespace = call(reqwest::Method::GET, &jobs, Some("apps-secret"), None).await;
    assert_eq!((other_namespace.status, other_namespace.text.as_str()), (403, "Permission denied"));

    let mut job = web_job("web", 256, "nginx:1");
    job["Namespace"] = json!("apps");
    let registered =
        call(reqwest::Method::POST, &jobs, Some("apps-secret"), Some(json!({"Job": job}))).await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    let listed =
        call(reqwest::Method::GET, &format!("{jobs}?namespace=apps"), Some("apps-secret"), None)
            .await;
    assert_eq!(listed.body[0]["ID"], "web");
    assert_eq!(listed.body[0]["Namespace"], "apps");
    let in_default =
        call(reqwest::Method::GET, &format!("{base}/v1/job/web"), Some("root-secret"), None).await;
    assert_eq!((in_default.status, in_default.text.as_str()), (404, "job not found"));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bearer = reqwest::Client::new()
        .get(format!("{base}/v1/job/web?namespace=apps"))
        .header("Authorization", "Bearer root-secret")
        .send()
        .await
        .expect("answer");
    assert_eq!(bearer.status().as_u16(), 200);
    assert!(nomad.job_in("apps", "web").is_some());
    let leader = get(&format!("{base}/v1/status/leader")).await;
    assert_eq!(leader.status, 200, "the leader endpoint needs no token");
}

#[tokio::test]
async fn unknown_objects_are_404_with_nomads_text() {
    let nomad = FakeNomad::start(Scenario::default()).expect("fake starts");
    let base = nomad.url();
    let cases = [
        ("/v1/job/ghost", "job not found"),
        ("/v1/job/ghost/versions", "job versions not found"),
        ("/v1/evaluation/00000000-0000-0000-0000-000000000000", "eval not found"),
        ("/v1/allocation/00000000-0000-0000-0000-000000000000", "alloc not found"),
        ("/v1/deployment/00000000-0000-0000-0000-000000000000", "deployment not found"),
    ];
    for (path, text) in cases {
        let answer = get(&format!("{base}{path}")).await;
        assert_eq!((answer.status, answer.text.as_str()), (404, text), "{path}");
    }
    let stop = call(reqwest::Method::DELETE, &format!("{base}/v1/job/ghost"), None, None).await;
    assert_eq!(stop.status, 404);
    let wrong_method = call(reqwest::Method::DELETE, &format!("{base}/v1/jobs"), None, None).await;
    assert_eq!((wrong_method.status, wrong_method.text.as_str()), (405, "Invalid method"));
    let unknown = get(&format!("{base}/v1/volumes")).await;
    assert_eq!(unknown.status, 404);
    let region = get(&format!("{base}/v1/jobs?region=mars")).await;
    assert_eq!((region.status, region.text.as_str()), (500, "No path to region"));
}

async fn blocked_placement(scenario: Scenario, job: Value) -> Value {
    let nomad = FakeNomad::start(scenario).expect("fake starts");
    let base = nomad.url();
    let registered = register(&base, job).await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    let eval = wait_eval(&base, registered.body["EvalID"].as_str().unwrap_or_default()).await;
    assert_eq!(eval["Status"], "complete");
    let blocked_id = eval["BlockedEval"].as_str().unwrap_or_default().to_string();
    assert!(!blocked_id.is_empty(), "a placement failure leaves a blocked evaluation: {eval}");
    let blocked = get(&format!("{base}/v1/evaluation/{blocked_id}")).await.body;
    assert_eq!(blocked["Status"], "blocked");
    assert_eq!(blocked["StatusDescription"], "created to place remaining allocations");
    assert_eq!(blocked["FailedTGAllocs"], eval["FailedTGAllocs"]);
    let summary =
        get(&format!("{base}/v1/job/{}/summary", eval["JobID"].as_str().unwrap_or(""))).await.body;
    assert_eq!(summary["Summary"]["web"]["Queued"], 2);
    eval["FailedTGAllocs"]["web"].clone()
}

#[tokio::test]
async fn a_taken_static_port_blocks_placement_and_a_dynamic_port_fixes_it() {
    let nodes = vec![Node { count: 3, used_ports: vec![80], ..Node::default() }];
    let scenario = Scenario::default().with_nodes(nodes);
    let mut job = web_job("web", 256, "nginx:1");
    job["TaskGroups"][0]["Networks"] = json!([{"ReservedPorts": [{"Label": "http", "Value": 80}]}]);
    let failure = blocked_placement(scenario.clone(), job.clone()).await;
    assert_eq!(failure["NodesEvaluated"], 3);
    assert_eq!(failure["NodesExhausted"], 3);
    assert_eq!(
        failure["DimensionExhausted"],
        json!({"network: reserved port collision http=80": 3})
    );
    assert_eq!(failure["CoalescedFailures"], 1);

    let nomad = FakeNomad::start(scenario).expect("fake starts");
    let (_, deployment) = deploy(&nomad.url(), web_job("web", 256, "nginx:1")).await;
    assert_eq!(deployment["Status"], "successful");
}

#[tokio::test]
async fn constraints_filter_nodes_and_memory_exhausts_them() {
    let mut job = web_job("web", 256, "nginx:1");
    job["Constraints"] =
        json!([{"LTarget": "${attr.cpu.arch}", "RTarget": "arm64", "Operand": "="}]);
    let failure = blocked_placement(Scenario::default(), job).await;
    assert_eq!(failure["NodesFiltered"], 3);
    assert_eq!(failure["ConstraintFiltered"], json!({"${attr.cpu.arch} = arm64": 3}));
    assert_eq!(failure["NodesAvailable"], json!({"dc1": 3}));

    let failure = blocked_placement(Scenario::default(), web_job("web", 8192, "nginx:1")).await;
    assert_eq!(failure["DimensionExhausted"], json!({"memory": 3}));
    assert_eq!(failure["NodesExhausted"], 3);
}

#[tokio::test]
async fn a_missing_image_fails_the_pull_with_dockers_words() {
    let scenario =
        Scenario::default().with_rule(JobRule::for_job("*").missing_image("acme/web:nope"));
    let nomad = FakeNomad::start(scenario).expect("fake starts");
    let base = nomad.url();
    let (_, deployment) = deploy(&base, web_job("web", 256, "acme/web:nope")).await;
    assert_eq!(deployment["Status"], "failed");
    let alloc = &nomad.allocations("web")[0];
    let failure = events_of(alloc, "app")
        .into_iter()
        .find(|e| e["Type"] == "Driver Failure")
        .expect("a Driver Failure");
    assert_eq!(
        failure["DriverError"],
        "Failed to pull `acme/web:nope`: Error response from daemon: manifest for acme/web:nope \
         not found: manifest unknown: manifest unknown"
    );
    assert_eq!(failure["DisplayMessage"], failure["DriverError"]);
    assert_eq!(alloc["TaskStates"]["app"]["Restarts"], 0, "pull failures are not retried");
}

#[tokio::test]
async fn a_failing_check_fails_the_deployment_and_auto_reverts_to_the_stable_version() {
    let scenario = Scenario::default().with_rule(JobRule::for_job("web").failing_check("/broken"));
    let nomad = FakeNomad::start(scenario).expect("fake starts");
    let base = nomad.url();
    let (_, first) = deploy(&base, web_job("web", 256, "nginx:1")).await;
    assert_eq!(first["Status"], "successful");

    let mut broken = web_job("web", 256, "nginx:2");
    broken["TaskGroups"][0]["Services"][0]["Checks"][0]["Path"] = json!("/broken");
    // Without a progress deadline the first unhealthy allocation fails the deployment.
    broken["Update"]["ProgressDeadline"] = json!(0);
    let (_, second) = deploy(&base, broken).await;
    assert_eq!(second["Status"], "failed");
    assert_eq!(
        second["StatusDescription"],
        "Failed due to unhealthy allocations - rolling back to job version 0"
    );
    assert!(nomad.wait_settled(Duration::from_secs(10)));
    let unhealthy = nomad
        .allocations("web")
        .into_iter()
        .find(|a| a["DeploymentStatus"]["Healthy"] == false)
        .expect("an unhealthy allocation");
    let kinds: Vec<Value> =
        events_of(&unhealthy, "app").iter().map(|e| e["Type"].clone()).collect();
    assert!(kinds.contains(&json!("Alloc Unhealthy")), "{kinds:?}");
    assert!(
        !kinds.contains(&json!("Terminated")),
        "the task ran; only its check failed: {kinds:?}"
    );
    assert_eq!(unhealthy["DesiredStatus"], "stop", "the revert replaced it");

    let reverts = nomad.reverts();
    assert_eq!(reverts.len(), 1);
    assert!(reverts[0].automatic);
    assert_eq!(reverts[0].to_version, 0);
    let versions = get(&format!("{base}/v1/job/web/versions")).await.body;
    assert_eq!(versions["Versions"][0]["Version"], 2, "newest first");
    assert_eq!(versions["Versions"][0]["TaskGroups"][0]["Tasks"][0]["Config"]["image"], "nginx:1");
    let latest = get(&format!("{base}/v1/job/web/deployment")).await.body;
    assert_eq!(latest["JobVersion"], 2);
    assert_eq!(latest["Status"], "successful");
}

#[tokio::test]
async fn crashing_allocations_leave_stderr_in_the_logs_and_their_replacements_recover() {
    let rule = JobRule::for_job("web").crash_first_allocs(2, &["panic: DATABASE_URL is not set"]);
    let nomad = FakeNomad::start(Scenario::default().with_rule(rule)).expect("fake starts");
    let base = nomad.url();
    let (_, deployment) = deploy(&base, web_job("web", 256, "nginx:1")).await;
    assert_eq!(deployment["Status"], "successful", "{deployment}");
    assert_eq!(deployment["TaskGroups"]["web"]["PlacedAllocs"], 4);
    let allocs = nomad.allocations("web");
    let statuses: Vec<Value> = allocs.iter().map(|a| a["ClientStatus"].clone()).collect();
    assert_eq!(
        statuses,
        vec![json!("failed"), json!("failed"), json!("running"), json!("running")]
    );
    let alloc = &allocs[0];
    let terminated = events_of(alloc, "app")
        .into_iter()
        .find(|e| e["Type"] == "Terminated")
        .expect("Terminated");
    assert_eq!(terminated["ExitCode"], 1);
    let id = alloc["ID"].as_str().unwrap_or_default();
    let logs = get(&format!(
        "{base}/v1/client/fs/logs/{id}?task=app&type=stderr&origin=end&offset=50000&plain=true"
    ))
    .await;
    assert_eq!(logs.status, 200);
    assert!(logs.text.contains("panic: DATABASE_URL is not set"), "{}", logs.text);
    let framed =
        get(&format!("{base}/v1/client/fs/logs/{id}?task=app&type=stderr&origin=start&offset=0"))
            .await;
    assert!(framed.body["Data"].as_str().is_some_and(|d| !d.is_empty()));
}

#[tokio::test]
async fn injected_server_errors_hit_the_next_requests_only() {
    let scenario = Scenario::default().with_fault(Fault::server_error(2, Some("/v1/jobs")));
    let nomad = FakeNomad::start(scenario).expect("fake starts");
    let base = nomad.url();
    for _ in 0..2 {
        let failed = get(&format!("{base}/v1/jobs")).await;
        assert_eq!((failed.status, failed.text.as_str()), (500, "No cluster leader"));
    }
    assert_eq!(get(&format!("{base}/v1/jobs")).await.status, 200);
    nomad.inject_fault(Fault::slow(1, 20, Some("/v1/agent/self")));
    let slow = get(&format!("{base}/v1/agent/self")).await;
    assert_eq!(slow.status, 200, "a slow fault answers normally in the end");
    assert_eq!(slow.body["config"]["Version"]["Version"], "1.10.3");
    let statuses: Vec<u16> = nomad.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![500, 500, 200, 200]);
}

#[tokio::test]
async fn stopping_and_purging_a_job() {
    let nomad = FakeNomad::start(Scenario::default()).expect("fake starts");
    let base = nomad.url();
    deploy(&base, web_job("web", 256, "nginx:1")).await;
    let stopped = call(reqwest::Method::DELETE, &format!("{base}/v1/job/web"), None, None).await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    wait_eval(&base, stopped.body["EvalID"].as_str().unwrap_or_default()).await;
    let job = get(&format!("{base}/v1/job/web")).await.body;
    assert_eq!(job["Stop"], true);
    assert_eq!(job["Status"], "dead");
    assert!(nomad.allocations("web").iter().all(|a| a["DesiredStatus"] == "stop"));
    let purged =
        call(reqwest::Method::DELETE, &format!("{base}/v1/job/web?purge=true"), None, None).await;
    assert_eq!(purged.status, 200);
    assert_eq!(get(&format!("{base}/v1/job/web")).await.status, 404);
    let stops = nomad.stops();
    assert_eq!(stops.len(), 2);
    assert!(!stops[0].purge && stops[1].purge);
}

#[tokio::test]
async fn revert_honours_enforce_prior_version() {
    let nomad = FakeNomad::start(Scenario::default()).expect("fake starts");
    let base = nomad.url();
    deploy(&base, web_job("web", 256, "nginx:1")).await;
    deploy(&base, web_job("web", 256, "nginx:2")).await;
    let versions = get(&format!("{base}/v1/job/web/versions?diffs=true")).await.body;
    let diff = &versions["Diffs"][0];
    assert_eq!(diff["Type"], "Edited");
    let config = &diff["TaskGroups"][0]["Tasks"][0]["Objects"][0];
    assert_eq!(config["Name"], "Config");
    assert_eq!(
        (config["Fields"][0]["Old"].clone(), config["Fields"][0]["New"].clone()),
        (json!("nginx:1"), json!("nginx:2"))
    );
    let url = format!("{base}/v1/job/web/revert");
    let refused =
        post(&url, json!({"JobID": "web", "JobVersion": 0, "EnforcePriorVersion": 5})).await;
    assert_eq!(
        (refused.status, refused.text.as_str()),
        (500, "Current job has version 1; enforcing version 5")
    );
    let reverted =
        post(&url, json!({"JobID": "web", "JobVersion": 0, "EnforcePriorVersion": 1})).await;
    assert_eq!(reverted.status, 200, "{}", reverted.text);
    assert!(reverted.body["EvalID"].as_str().is_some_and(|id| !id.is_empty()));
    let job = nomad.job("web").expect("job exists");
    assert_eq!(job["Version"], 2);
    assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Config"]["image"], "nginx:1");
    assert!(!nomad.reverts()[0].automatic);
}

#[tokio::test]
async fn validate_and_parse_answer_like_nomad() {
    let nomad = FakeNomad::start(Scenario::default()).expect("fake starts");
    let base = nomad.url();
    let ok =
        post(&format!("{base}/v1/validate/job"), json!({"Job": web_job("web", 256, "nginx:1")}))
            .await;
    assert_eq!(ok.body["ValidationErrors"], Value::Null);
    assert_eq!(ok.body["Error"], "");
    let bad =
        post(&format!("{base}/v1/validate/job"), json!({"Job": web_job("web", 5, "nginx:1")}))
            .await;
    assert!(bad.body["Error"]
        .as_str()
        .unwrap_or("")
        .contains("minimum MemoryMB value is 10; got 5"));
    let refused = register(&base, web_job("web", 5, "nginx:1")).await;
    assert_eq!(refused.status, 500);
    let parse = post(
        &format!("{base}/v1/jobs/parse"),
        json!({"JobHCL": "job \"x\" {}", "Canonicalize": true}),
    )
    .await;
    assert_eq!(parse.status, 501);
}

#[tokio::test]
async fn plans_show_group_updates_field_diffs_and_placement_failures() {
    let nomad = FakeNomad::start(Scenario::default()).expect("fake starts");
    let base = nomad.url();
    let plan_url = format!("{base}/v1/job/web/plan");
    let created =
        post(&plan_url, json!({"Job": web_job("web", 256, "nginx:1"), "Diff": true})).await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.body["Diff"]["Type"], "Added");
    assert_eq!(created.body["Annotations"]["DesiredTGUpdates"]["web"]["Place"], 2);
    assert_eq!(created.body["Diff"]["TaskGroups"][0]["Updates"], json!({"create": 2}));
    assert_eq!(
        created.body["Diff"]["TaskGroups"][0]["Tasks"][0]["Annotations"],
        json!(["forces create"])
    );
    assert_eq!(created.body["JobModifyIndex"], 0);
    assert!(nomad.job("web").is_none(), "a plan registers nothing");

    deploy(&base, web_job("web", 256, "nginx:1")).await;
    let destructive =
        post(&plan_url, json!({"Job": web_job("web", 512, "nginx:2"), "Diff": true})).await.body;
    assert_eq!(destructive["Diff"]["Type"], "Edited");
    // MaxParallel = 1: the first batch is replaced, the other allocation waits its turn.
    assert_eq!(destructive["Annotations"]["DesiredTGUpdates"]["web"]["DestructiveUpdate"], 1);
    assert_eq!(destructive["Annotations"]["DesiredTGUpdates"]["web"]["Ignore"], 1);
    assert_eq!(
        destructive["Diff"]["TaskGroups"][0]["Updates"],
        json!({"ignore": 1, "create/destroy update": 1})
    );
    let task = &destructive["Diff"]["TaskGroups"][0]["Tasks"][0];
    assert_eq!(task["Annotations"], json!(["forces create/destroy update"]));
    let objects = task["Objects"].as_array().cloned().unwrap_or_default();
    let config = objects.iter().find(|o| o["Name"] == "Config").expect("a Config object");
    assert_eq!(
        config["Fields"],
        json!([{
            "Type": "Edited", "Name": "image", "Old": "nginx:1", "New": "nginx:2",
            "Annotations": null,
        }])
    );
    let resources = objects.iter().find(|o| o["Name"] == "Resources").expect("a Resources object");
    assert_eq!(resources["Fields"][0]["Name"], "MemoryMB");
    assert_eq!(
        (resources["Fields"][0]["Old"].clone(), resources["Fields"][0]["New"].clone()),
        (json!("256"), json!("512"))
    );
    assert!(destructive["JobModifyIndex"].as_u64().unwrap_or(0) > 0);

    let mut in_place = web_job("web", 256, "nginx:1");
    in_place["TaskGroups"][0]["Tasks"][0]["KillTimeout"] = json!(10_000_000_000u64);
    let in_place = post(&plan_url, json!({"Job": in_place, "Diff": true})).await.body;
    assert_eq!(in_place["Annotations"]["DesiredTGUpdates"]["web"]["InPlaceUpdate"], 2);

    let unchanged =
        post(&plan_url, json!({"Job": web_job("web", 256, "nginx:1"), "Diff": true})).await.body;
    assert_eq!(unchanged["Diff"]["Type"], "None");
    assert_eq!(unchanged["Annotations"]["DesiredTGUpdates"]["web"]["Ignore"], 2);

    let huge =
        post(&plan_url, json!({"Job": web_job("web", 8192, "nginx:1"), "Diff": true})).await.body;
    assert_eq!(huge["FailedTGAllocs"]["web"]["DimensionExhausted"], json!({"memory": 3}));
}

#[tokio::test]
async fn nodes_namespaces_and_cluster_wide_lists() {
    let nomad = FakeNomad::start(Scenario::default()).expect("fake starts");
    let base = nomad.url();
    let nodes = get(&format!("{base}/v1/nodes")).await.body;
    assert_eq!(nodes.as_array().map(Vec::len), Some(3));
    let node_id = nodes[0]["ID"].as_str().unwrap_or_default();
    let node = get(&format!("{base}/v1/node/{node_id}")).await.body;
    assert_eq!(node["Attributes"]["cpu.arch"], "amd64");
    assert_eq!(node["Attributes"]["driver.docker"], "1");
    assert_eq!(get(&format!("{base}/v1/namespaces")).await.body[0]["Name"], "default");
    deploy(&base, web_job("web", 256, "nginx:1")).await;
    let evals = get(&format!("{base}/v1/evaluations")).await.body;
    assert_eq!(evals[0]["JobID"], "web");
    assert_eq!(get(&format!("{base}/v1/deployments")).await.body[0]["Status"], "successful");
    assert_eq!(
        get(&format!("{base}/v1/allocations?namespace=*")).await.body.as_array().map(Vec::len),
        Some(2)
    );
    let alloc_id = nomad.allocations("web")[0]["ID"].as_str().unwrap_or_default().to_string();
    let checks = get(&format!("{base}/v1/allocation/{alloc_id}/checks")).await.body;
    let check = checks.as_object().and_then(|c| c.values().next()).cloned().expect("one check");
    assert_eq!(
        (check["Status"].clone(), check["Service"].clone()),
        (json!("success"), json!("web"))
    );
}

#[tokio::test]
async fn registering_an_unchanged_job_keeps_its_version_and_its_deployment() {
    let nomad = FakeNomad::start(Scenario::default().with_manual_clock()).expect("fake starts");
    let base = nomad.url();
    let first = register(&base, web_job("web", 256, "nginx:1")).await;
    nomad.advance(1);
    assert_eq!(nomad.deployments("web")[0]["Status"], "running");
    let again = register(&base, web_job("web", 256, "nginx:1")).await;
    assert_eq!(again.body["JobModifyIndex"], first.body["JobModifyIndex"]);
    assert!(nomad.settle());
    let deployments = nomad.deployments("web");
    assert_eq!(deployments.len(), 1, "{deployments:#?}");
    assert_eq!(deployments[0]["Status"], "successful");
    assert_eq!(nomad.job_versions("web").len(), 1);
    assert_eq!(nomad.allocations("web").len(), 2);
    assert_eq!(nomad.register_calls("web"), 2);
}
